"""The fast path (BSON bytes -> columns with numpy) against the reference (every document
decoded by pymongo): the same events, rejects and issues for every shape the data can
take, mixed in one batch as a real day mixes them; and the byte walker itself against
pymongo's decoder."""

from __future__ import annotations

import io
import random
from datetime import UTC, date, datetime

import bson
import numpy as np
import polars as pl
import pytest
from bson import Decimal128, Int64, ObjectId
from polars.testing import assert_frame_equal

from demo import glamira
from formats.bson_columns import Buffer, DocumentRun, Keys, scan, texts
from tasks.glamira.event_columns import stage_columns
from tasks.glamira.events import (
    OPTION_FIELDS,
    SCALAR_FIELDS,
    TEXT_FIELDS,
    day_bounds,
    normalise_batch,
    normalise_for_landing,
)

DAY = date(2026, 11, 20)
START, END = day_bounds(DAY)

# values a scalar field may hold in the wild, the usual ones most often
SCALARS = [
    lambda r: r.choice(["", "x", "Zürich", "東京", "a" * 12, "b" * 13, "emoji 💍 ring", " 12 "]),
    lambda r: r.choice(["", "x", "Zürich", "東京", "a" * 12, "b" * 13, "emoji 💍 ring", " 12 "]),
    lambda r: r.randint(-(2**31), 2**31 - 1),
    lambda r: Int64(r.randint(-(2**62), 2**62)),
    lambda r: r.choice([True, False]),
    lambda r: None,
    lambda r: r.choice([1.5, 2.0, -0.0, 1e20]),
    lambda r: ObjectId(),
    lambda r: datetime(2026, 11, 20, 1, 2, 3, tzinfo=UTC),
    lambda r: {"nested": "object"},
    lambda r: ["a", 1],
    lambda r: Decimal128("1.10"),
]
OPTION_VALUES = [
    lambda r: [{"option_label": "alloy", "option_id": "1", "value_id": r.randint(0, 9)}],
    lambda r: [{"option_label": "diamond", "price": "12,00"}, {"option_id": 7, "extra": "ignored"}],
    lambda r: [],
    lambda r: {"option_label": "single", "value_label": r.choice(["", "x"])},
    lambda r: "plain text",
    lambda r: "   ",
    lambda r: '[{"option_label": "json"}]',
    lambda r: "{not json",
    lambda r: None,
    lambda r: [{"option_label": "a"}, "not an object"],
    lambda r: [{"option_label": {"deep": 1}}],
    lambda r: [{"option_label": 1.5}],
    lambda r: 42,
]
CARTS = [
    lambda r: None,
    lambda r: [{"product_id": "1", "price": "1.725,00", "currency": "EUR", "amount": 2}],
    lambda r: [{"product_id": 2, "amount": "3", "option": [{"option_id": 1}]}, "junk"],
    lambda r: "not a list",
]


def random_event(r: random.Random) -> dict:
    doc: dict = {"_id": ObjectId() if r.random() < 0.97 else r.choice(["text-id", 7, None])}
    doc["time_stamp"] = r.choice(
        [START + r.randint(0, 86_399)] * 8 + [str(START + 5), float(START + 1), START - 1, None]
    )
    for name in r.sample(
        [*TEXT_FIELDS, "recommendation_product_position", "recommendation_clicked_position"], 14
    ):
        usual = r.random() < 0.97  # strings, integers, booleans, null; rarely anything else
        doc[name] = r.choice(SCALARS[:6] if usual else SCALARS[6:])(r)
    if r.random() < 0.9:
        doc["collection"] = r.choice(["view_product_detail", "checkout_success", ""])
    if r.random() < 0.6:
        doc["option"] = r.choice(OPTION_VALUES[:6] if r.random() < 0.8 else OPTION_VALUES[6:])(r)
    if r.random() < 0.1:
        doc["cart_products"] = r.choice(CARTS)(r)
    if r.random() < 0.05:
        doc["an_unexpected_field_with_a_key_longer_than_32_bytes"] = "kept out"
    if r.random() < 0.3:  # the key order varies between producers
        items = list(doc.items())
        r.shuffle(items)
        doc = dict(items)
    return doc


def both(raw) -> tuple:
    return normalise_batch(raw, DAY), normalise_batch(raw, DAY, fast=False)


def assert_same(raw) -> None:
    fast, reference = both(raw)
    assert_frame_equal(fast.events, reference.events)
    assert_frame_equal(fast.rejects, reference.rejects)
    assert fast.raw_documents == reference.raw_documents


@pytest.mark.parametrize("seed", range(6))
def test_every_shape_mixed_in_a_batch_normalises_as_pymongo_reads_it(seed):
    r = random.Random(seed)
    raw = [bson.encode(random_event(r)) for _ in range(600)]
    fast, _ = both(raw)
    assert fast.events.height > 300 and fast.rejects.height > 0
    # the batch really mixes both paths
    buffer = Buffer(b"".join(raw))
    starts, sizes = DocumentRun.of(raw).starts_and_sizes()
    _, _, slow = stage_columns(buffer, starts, sizes, SCALAR_FIELDS, OPTION_FIELDS)
    assert 100 < len(slow) < 500, len(slow)
    assert_same(raw)
    assert_same(b"".join(raw))  # one run of documents, as a dump or a raw cursor batch gives


def test_the_generated_day_takes_the_fast_path_and_matches(tmp_path):
    dump = glamira.write_dump(tmp_path / "dump", [DAY], 3_000, seed=3)
    raw = dump.read_bytes()
    fast, reference = both(raw)
    assert fast.events.height == 3_000
    assert_frame_equal(fast.events, reference.events)


def _raw_document(*elements: bytes) -> bytes:
    body = b"".join(elements) + b"\x00"
    return (len(body) + 4).to_bytes(4, "little") + body


def _string(key: str, value: bytes) -> bytes:
    return b"\x02" + key.encode() + b"\x00" + (len(value) + 1).to_bytes(4, "little") + value + b"\x00"


def _id() -> bytes:
    return b"\x07_id\x00" + ObjectId().binary


def _stamp() -> bytes:
    return b"\x10time_stamp\x00" + (START + 60).to_bytes(4, "little")


def test_documents_pymongo_refuses_or_reads_differently_are_the_same_both_ways():
    good = _raw_document(_id(), _stamp(), _string("collection", b"view_listing_page"))
    odd = [
        _raw_document(
            _id(), _stamp(), _string("collection", b"a"), _string("collection", b"b")
        ),  # repeated key
        _raw_document(_id(), _stamp(), _string("collection", b"\xff\xfe not utf-8")),
        _raw_document(_id(), _stamp(), _string("collection", b"x"), b"\x08recommendation\x00\x02"),  # bool 2
        _raw_document(_id(), _stamp(), b"\x0bregex\x00ab\x00i\x00", _string("collection", b"x")),
        _raw_document(_id(), _stamp(), b"\x63unknown_type\x00\x01"),
        good[:-3],  # cut short
        good[:4] + b"\x00" * 20,
        b"\x05\x00\x00\x00\x01",
        _raw_document(_id(), _stamp(), _string("collection", b"x"), _string("ip", b"with\x00nul")),
    ]
    for document in odd:
        assert_same([good, document, good])
    assert_same(good + b"\x07\x00\x00")  # a run with a torn tail
    fast, _ = both(good + b"\x07\x00\x00")
    assert fast.events.height == 1 and fast.rejects.height == 1


def test_an_empty_batch():
    fast, reference = both([])
    assert fast.events.height == 0 and fast.rejects.height == 0
    assert fast.events.schema == reference.events.schema


# -- the byte walker ---------------------------------------------------------------------------


def test_a_document_with_a_key_that_is_not_plain_ascii_is_left_to_pymongo():
    raw = [bson.encode({"a": 1}), bson.encode({"é": 1}), bson.encode({"a": 1, "k" * 40 + "é": 2})]
    run = DocumentRun.of(raw)

    starts, sizes = run.starts_and_sizes()
    elements = scan(Buffer(run.data), starts, Keys(("a",)), sizes)

    assert elements.bad.tolist() == [False, True, True]


def test_the_walker_finds_every_element_pymongo_decodes():
    r = random.Random(11)
    docs = []
    for _ in range(400):
        doc = {}
        for _ in range(r.randint(0, 12)):
            key = r.choice(["a", "ip", "user_agent", "k" * 31, "k" * 32, "long_" * 9, "x" * 8, "x" * 16])
            doc[key] = r.choice(SCALARS)(r)
        docs.append(doc)
    raw = b"".join(bson.encode(d) for d in docs)
    buffer = Buffer(raw)
    starts, sizes = DocumentRun.of(raw).starts_and_sizes()
    assert len(starts) == len(docs) and int(sizes.sum()) == len(raw)
    keys = Keys(("a", "ip", "user_agent", "k" * 31, "x" * 8, "x" * 16))
    elements = scan(buffer, starts, keys, sizes)
    assert not elements.bad.any()
    assert len(elements.doc) == sum(len(d) for d in docs)
    for i, doc in enumerate(docs):
        mine = elements.doc == i
        found = [
            keys.names[k] if k >= 0 else None for k in elements.key[mine][np.argsort(elements.position[mine])]
        ]
        assert found == [k if k in keys.names else None for k in doc]
    for index, name in enumerate(keys.names):
        column, others = texts(buffer, len(docs), elements, np.flatnonzero(elements.key == index))
        for i, doc in enumerate(docs):
            value = doc.get(name)
            if i in others:
                assert not isinstance(value, str | bool | int) or value is None
            elif isinstance(value, bool):
                assert column[i] == ("true" if value else "false")
            elif isinstance(value, int):
                assert column[i] == str(value)
            else:
                assert column[i] == value


@pytest.mark.parametrize("offset", range(9))
def test_integers_read_at_any_alignment(offset):
    data = bytes(offset) + (2**63 + 12345).to_bytes(8, "little") + (-7).to_bytes(4, "little", signed=True)
    buffer = Buffer(data)
    assert buffer.u64(np.array([offset]))[0] == 2**63 + 12345
    assert buffer.i32(np.array([offset + 8]))[0] == -7


def test_long_strings_stay_views_into_the_batch():
    raw = bson.encode({"ip": "x" * 5000, "user_agent": ""})
    buffer = Buffer(raw)
    starts, sizes = DocumentRun.of(raw).starts_and_sizes()
    elements = scan(buffer, starts, Keys(("ip", "user_agent")), sizes)
    column, _ = texts(buffer, 1, elements, np.flatnonzero(elements.key == 0))
    assert column.to_list() == ["x" * 5000]
    empty, _ = texts(buffer, 1, elements, np.flatnonzero(elements.key == 1))
    assert empty.to_list() == [""]
    assert isinstance(column, pl.Series)


def test_option_fields_are_the_walkers_wanted_keys():
    Keys(OPTION_FIELDS)  # raises if any were too long or hashed alike


def test_a_run_with_its_sizes_gives_the_same_batch_and_refuses_sizes_that_do_not_add_up():
    raw = [bson.encode(random_event(random.Random(4))) for _ in range(50)]
    run = DocumentRun(b"".join(raw), np.array([len(r) for r in raw]))
    assert len(run) == 50
    assert_frame_equal(normalise_batch(run, DAY).events, normalise_batch(raw, DAY).events)
    with pytest.raises(ValueError, match="add up"):
        normalise_batch(DocumentRun(b"".join(raw), np.array([len(r) for r in raw[:-1]])), DAY)


def test_a_landable_batch_carries_a_parquet_part_and_counts_issues_by_kind():
    docs = [
        {"_id": ObjectId(), "time_stamp": START + 1, "collection": "view_product_detail", "price": "12,00"},
        {"_id": ObjectId(), "time_stamp": START + 2, "collection": "view_product_detail", "price": "n/a"},
        {
            "_id": ObjectId(),
            "time_stamp": START + 3,
            "collection": "view_product_detail",
            "price": "??",
            "option": "x",
        },
        {"_id": ObjectId(), "time_stamp": START - 9, "collection": "view_product_detail"},
    ]
    landable = normalise_for_landing([bson.encode(d) for d in docs], DAY)
    part = pl.read_parquet(io.BytesIO(landable.events.content))
    assert landable.events.rows == part.height == 3 and landable.raw_documents == 4
    assert landable.rejects.height == 1
    assert landable.issues == {"unsupported price": 2, "option was a string": 1}
    assert part.equals(normalise_batch([bson.encode(d) for d in docs], DAY).events)

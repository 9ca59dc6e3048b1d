"""The compiled walk over BSON bytes (`formats.bson_walk`) answers exactly as numpy's
lockstep walk (`formats.bson_columns.scan_numpy`), the reference: the same elements in the
same order and the same documents marked bad, on the hostile corpus, on documents cut or
corrupted at every byte, and on the dump's document boundaries."""

from __future__ import annotations

import random
import struct
from datetime import date

import bson
import numpy as np
import pytest

from formats.bson_columns import Buffer, DocumentRun, Keys, scan, scan_numpy, strings, whole_documents
from formats.bson_walk import string_views
from tasks.glamira.events import OPTION_FIELDS, SCALAR_FIELDS
from tests.support.hostile import bahela_corpus, glamira_corpus, good_events

DAY = date(2026, 11, 20)
TOP = Keys(("_id", *SCALAR_FIELDS, "option", "cart_products"))
FIELDS = ("doc", "position", "key", "type", "value", "size", "bad")


def assert_same_walk(raw: list[bytes], keys: Keys = TOP, sizes: bool = True) -> None:
    """Both walks, and the compiled one asked for the wanted keys' elements only."""
    run = DocumentRun.of(raw)
    buffer = Buffer(run.data)
    starts, lengths = run.starts_and_sizes()
    given = lengths if sizes else None
    reference = scan_numpy(buffer, starts, keys, given)
    wanted = reference.key >= 0
    for compiled, kept in (
        (scan(buffer, starts, keys, given), slice(None)),
        (scan(buffer, starts, keys, given, wanted_only=True), wanted),
    ):
        for field in FIELDS:
            ours, theirs = getattr(compiled, field), getattr(reference, field)
            theirs = theirs if field == "bad" else theirs[kept]
            assert ours.dtype == theirs.dtype, field
            np.testing.assert_array_equal(ours, theirs, err_msg=field)


def test_the_walks_agree_on_every_document_of_the_hostile_corpora():
    # given good events around every hostile document of both businesses
    good = [bson.encode(e) for e in good_events(DAY, 20)]
    hostile = [h.raw for h in [*glamira_corpus(DAY), *bahela_corpus(DAY)]]
    # when both walks read them, with sizes known and without
    # then their elements and bad documents are the same
    assert_same_walk([*good[:10], *hostile, *good[10:]])
    assert_same_walk([*good[:10], *hostile, *good[10:]], sizes=False)


def test_the_walks_agree_on_documents_cut_or_corrupted_at_every_byte():
    # given a good event cut short at every length, and with every byte overwritten
    document = bson.encode(good_events(DAY, 1)[0])
    rng = random.Random(11)
    cut = [document[:keep] for keep in range(1, len(document))]
    corrupted = [
        document[:at]
        + bytes([rng.choice((0, 1, 2, 3, 4, 8, 0x0B, 0x13, 0x7F, 0x80, 0xFF))])
        + document[at + 1 :]
        for at in range(len(document))
    ]
    # when both walks read them one by one (sizes known) and back to back (sizes found)
    # then they agree on every one
    for batch in (cut, corrupted):
        assert_same_walk(batch)
        assert_same_walk(batch, sizes=False)


def test_the_walks_agree_on_nested_objects_and_long_or_odd_keys():
    # given option lists, a key longer than any wanted one, a non-ASCII key and an empty key
    documents = [
        {"option": [{"option_label": "alloy", "value_id": 3}, {"price": "1,00"}], "ip": "1.2.3.4"},
        {"k" * 40: 1, "ip": "5.6.7.8"},
        {"clé": "x", "ip": "9.9.9.9"},
        {"": None, "ip": None},
    ]
    raw = [bson.encode(d) for d in documents]
    assert_same_walk(raw)
    # and the objects of the option list, walked by the option fields' keys
    run = DocumentRun.of(raw[:1])
    buffer = Buffer(run.data)
    top = scan(buffer, *run.starts_and_sizes()[:1], TOP)
    option = top.value[top.key == TOP.names.index("option")]
    items = scan(buffer, option, Keys(()))
    for keys, starts in ((Keys(()), option), (Keys(OPTION_FIELDS), items.value)):
        compiled, reference = scan(buffer, starts, keys), scan_numpy(buffer, starts, keys)
        for field in FIELDS:
            np.testing.assert_array_equal(getattr(compiled, field), getattr(reference, field), err_msg=field)


def _whole_documents_reference(data: bytes, position: int, end: int) -> tuple[list[int], int]:
    sizes = []
    while position + 4 <= end:
        length = struct.unpack_from("<i", data, position)[0]
        if length < 5 or position + length > end:
            break
        sizes.append(length)
        position += length
    return sizes, position


@pytest.mark.parametrize(
    "tail", [b"", b"\x05\x00", b"\x00\x00\x00\x00", b"\xff\xff\xff\x7f\x00", b"\x40\x00\x00\x00"]
)
def test_document_boundaries_are_found_as_the_spec_reads_them(tail):
    # given a dump's bytes: whole documents, then a torn or corrupt tail
    data = b"".join(bson.encode(e) for e in good_events(DAY, 25)) + tail
    # when the boundaries are found from the start, from a later document, and up to a cut
    # then they are the documents' own lengths, and the stop is where the reference stops
    starts = [0, len(bson.encode(good_events(DAY, 1)[0]))]
    for position in starts:
        for end in (len(data), len(data) - 3, position + 2, position):
            assert whole_documents(data, position, end) == _whole_documents_reference(data, position, end)


def test_elements_are_grouped_by_key_as_a_stable_sort_groups_them():
    # given the elements of good events and of the hostile corpus
    raw = [bson.encode(e) for e in good_events(DAY, 20)] + [h.raw for h in glamira_corpus(DAY)]
    run = DocumentRun.of(raw)
    elements = scan(Buffer(run.data), *run.starts_and_sizes()[:1], TOP)
    # when they are grouped by key
    grouped = elements.by_key()
    # then each wanted key holds its elements in walking order, as a stable argsort gives them
    order = np.argsort(elements.key, kind="stable")
    assert sorted(grouped) == list(range(int(elements.key.max()) + 1))
    for key, chosen in grouped.items():
        np.testing.assert_array_equal(chosen, order[elements.key[order] == key])


def _numpy_views(buffer: Buffer, n: int, rows: np.ndarray, value: np.ndarray, size: np.ndarray) -> np.ndarray:
    """Arrow binary views built by numpy gathers: the reference for the compiled ones."""
    masks = np.array([(1 << (8 * k)) - 1 for k in range(8)] + [(1 << 64) - 1], dtype=np.uint64)
    length, data = size - 5, value + 4
    first = buffer.u64(data) & masks[np.clip(length, 0, 4)]
    rest = buffer.u64(data + 4) & masks[np.clip(length - 4, 0, 8)]
    views = np.zeros((n, 2), dtype="<u8")
    views[rows, 0] = length.astype(np.uint64) | (first << np.uint64(32))
    views[rows, 1] = np.where(length <= 12, rest, data.astype(np.uint64) << np.uint64(32))
    return views


def test_string_columns_are_the_arrow_views_numpy_would_build_and_read_back_as_written():
    # given strings of every length around the 12 inline bytes, not UTF-8 ones, and the
    # text fields of the hostile corpus, one document each, some documents without
    texts = ["", "a", "é", *("x" * k for k in range(2, 30)), "日本語のテキスト", "ends with NUL?"]
    raw = [bson.encode({"ip": t}) for t in texts] + [bson.encode({"other": 1})]
    raw += [h.raw for h in glamira_corpus(DAY)]
    run = DocumentRun.of(raw)
    buffer = Buffer(run.data)
    elements = scan(buffer, *run.starts_and_sizes()[:1], TOP)
    chosen = elements.by_key()[TOP.names.index("ip")]
    chosen = chosen[elements.type[chosen] == 0x02]
    rows, value, size = elements.doc[chosen], elements.value[chosen], elements.size[chosen]
    # when the column is built
    column = strings(buffer, len(raw), rows, value, size)
    # then its views are numpy's, byte for byte, and its values the documents' own bytes
    views, present = string_views(buffer.u8, len(raw), rows, value, size)
    np.testing.assert_array_equal(views.view("<u8"), _numpy_views(buffer, len(raw), rows, value, size))
    assert present.sum() == len(set(rows.tolist()))
    assert column.to_list()[: len(texts)] == [t.encode() for t in texts]
    assert column[len(texts)] is None


_STATS = """
import json, sys
from datetime import date
import bson
from formats import bson_walk
from formats.bson_columns import compile_walk
from tasks.glamira.events import normalise_batch
from tests.support.hostile import good_events

if sys.argv[1] == "build":
    compile_walk()
else:
    # back to back, as in a dump: the boundaries are found too
    normalise_batch(b"".join(bson.encode(e) for e in good_events(date(2026, 11, 20), 5)), date(2026, 11, 20))
kernels = ("walk", "document_sizes", "string_views", "grouped_by_key")
print(json.dumps({k: [sum(getattr(bson_walk, k).stats.cache_hits.values()),
                      sum(getattr(bson_walk, k).stats.cache_misses.values())] for k in kernels}))
"""


def test_the_walk_is_compiled_once_and_later_processes_load_it(tmp_path):
    # given an empty numba cache, as in a fresh container (a real child process: the
    # compile and the cache are per process)
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba")}
    root = Path(__file__).resolve().parents[2]

    def run(stage: str) -> dict:
        done = subprocess.run(
            [sys.executable, "-c", _STATS, stage],
            env=env,
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        )
        return json.loads(done.stdout.strip().splitlines()[-1])

    # when an image build compiles the walk, then a run normalises a batch
    built, later = run("build"), run("normalise")
    # then the build compiled every kernel (cache misses), and the run loaded them all
    # (hits, no miss): the compile is paid once, not by every process
    assert all(misses > 0 for _, misses in built.values()), built
    assert all(hits > 0 and misses == 0 for hits, misses in later.values()), later

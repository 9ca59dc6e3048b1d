"""No single document, whatever its bytes, can fail a day, and none is lost.

The corpus (tests/support/hostile.py) holds well over a hundred faulty documents. Each is
normalised in a batch of good ones, on both Glamira paths (the walk over the BSON bytes
and pymongo's decoder), and each query a day's read sends is evaluated on it the way
MongoDB would, so that every document is read by exactly one day (or, if nothing can
place it, by every day)."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

import bson
import numpy as np
import polars as pl
import pytest
from bson import Decimal128, ObjectId
from polars.testing import assert_frame_equal

from formats.bson_columns import Buffer, DocumentRun
from formats.bson_query import decode, matches_document, matching
from tasks.bahela.daily import sessions_query
from tasks.bahela.images import RAW_IMAGES_SCHEMA
from tasks.bahela.sessions import normalise_sessions, sessions_frame
from tasks.bahela.transform import transform_day
from tasks.fields import as_text
from tasks.glamira.events import PLAUSIBLE_SECONDS, day_bounds, day_query, normalise_batch
from tests.support.hostile import Hostile, bahela_corpus, glamira_corpus, good_events, torn
from tests.unit.bahela_factories import DAY as BAHELA_DAY
from tests.unit.bahela_factories import SITE, session_doc

DAY = date(2026, 11, 20)
GLAMIRA = glamira_corpus(DAY)
BAHELA = bahela_corpus(BAHELA_DAY)
GOOD = [bson.encode(e) for e in good_events(DAY, 30)]


def ids_of(hostile: Hostile) -> str | None:
    """The `event_id` / `record_id` the pipeline gives it: an ObjectId's hex, else its text."""
    return None if hostile.id is None else as_text(hostile.id)


# -- Glamira: normalising ---------------------------------------------------------------


@pytest.mark.parametrize("hostile", GLAMIRA, ids=lambda h: h.label)
def test_a_hostile_event_is_landed_or_rejected_and_its_batch_goes_on(hostile):
    batch = [*GOOD[:15], hostile.raw, *GOOD[15:]]

    fast = normalise_batch(batch, DAY)
    slow = normalise_batch(batch, DAY, fast=False)

    assert fast.events.height + fast.rejects.height == len(batch)
    assert set(fast.events["event_id"]) >= {str(bson.decode(g)["_id"]) for g in GOOD}
    start, end = day_bounds(DAY)
    assert fast.events["time_stamp"].is_between(start, end - 1).fill_null(False).all()  # kept: of the day
    identity = ids_of(hostile)
    if identity is not None:
        assert identity in set(fast.events["event_id"]) | set(fast.rejects["record_id"])
    assert fast.rejects["reason"].str.len_chars().min() or fast.rejects.height == 0
    assert_frame_equal(fast.events, slow.events)
    assert_frame_equal(fast.rejects, slow.rejects)


def test_a_batch_of_the_whole_corpus_normalises_alike_on_both_paths():
    batch = [h.raw for h in GLAMIRA] + GOOD

    fast, slow = normalise_batch(batch, DAY), normalise_batch(batch, DAY, fast=False)

    assert fast.events.height + fast.rejects.height == len(batch)
    assert_frame_equal(fast.events, slow.events)
    assert_frame_equal(fast.rejects, slow.rejects)


@pytest.mark.parametrize("keep", [3, 4, 5, 17, 60])
def test_a_torn_last_document_is_rejected_not_lost(keep):
    run = DocumentRun.of(b"".join(GOOD) + torn(GOOD[0], keep).raw)

    batch = normalise_batch(run, DAY)

    assert (batch.events.height, batch.rejects.height) == (len(GOOD), 1)
    assert batch.rejects["reason"][0].startswith("not a valid BSON document")


def test_values_out_of_range_are_left_out_and_named_not_cast():
    batch = normalise_batch([h.raw for h in GLAMIRA if h.label.startswith(("cart amount", "price"))], DAY)

    issues = batch.events["issues"].drop_nulls().to_list()
    assert sum("cart line amount not a whole number of at most 2^31" in i for i in issues) >= 6
    amounts = batch.events["cart_products"].explode().struct.field("amount").drop_nulls()
    assert amounts.max() < 2**31
    assert batch.events["price_amount"].drop_nulls().is_finite().all()


def test_text_that_is_not_utf8_is_kept_with_an_issue():
    hostile = next(h for h in GLAMIRA if h.label == "user_agent: not UTF-8")

    batch = normalise_batch([hostile.raw, *GOOD], DAY)

    row = batch.events.filter(pl.col("event_id") == str(hostile.id)).row(0, named=True)
    assert "not UTF-8" in row["issues"] and "\ufffd" in row["user_agent"]


# -- Glamira: which day reads a document --------------------------------------------------

DAYS = [DAY + timedelta(days=n) for n in range(-7, 8)]


def _usable(value) -> list[float]:
    """The time stamps MongoDB would compare (an array's elements), as numbers in range."""
    values = value if isinstance(value, list) else [value]
    found = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int | float | Decimal128):
            continue
        number = float(v.to_decimal()) if isinstance(v, Decimal128) else float(v)
        if math.isfinite(number) and PLAUSIBLE_SECONDS[0] <= number < PLAUSIBLE_SECONDS[1]:
            found.append(number)
    return found


def expected_days(document: dict | None) -> set[date] | None:
    """The days whose read must include the document; None: every day's."""
    if document is None:
        return None
    usable = _usable(document.get("time_stamp"))
    if usable:
        return {datetime.fromtimestamp(n, UTC).date() for n in usable}
    if isinstance(document.get("_id"), ObjectId):
        return {document["_id"].generation_time.date()}
    return None


@pytest.mark.parametrize("hostile", GLAMIRA, ids=lambda h: h.label)
def test_each_event_is_read_by_the_day_it_belongs_to_and_by_no_other(hostile):
    expected = expected_days(hostile.document)
    run = DocumentRun.of([hostile.raw])
    starts, sizes = run.starts_and_sizes()

    read_by = {day for day in DAYS if matching(Buffer(run.data), starts, sizes, day_query(day))[0]}

    assert read_by == (set(DAYS) if expected is None else expected & set(DAYS))


def test_the_walk_and_the_decoder_answer_every_query_alike():
    documents = [h.raw for h in GLAMIRA if h.document is not None] + GOOD
    run = DocumentRun.of(documents)
    starts, sizes = run.starts_and_sizes()
    queries = [day_query(day) for day in DAYS] + [sessions_query_for(DAY)]

    for query in queries:
        walked = matching(Buffer(run.data), starts, sizes, query)
        decoded = np.array([matches_document(decode(d), query) for d in documents])
        assert (walked == decoded).all(), [
            h.label for h, w in zip(GLAMIRA, walked != decoded, strict=False) if w
        ]


def sessions_query_for(day: date) -> dict:
    from pipelines.calendar import DayWindow
    from pipelines.settings import JAKARTA

    return sessions_query(DayWindow.of(day, JAKARTA))


# -- Bahela ---------------------------------------------------------------------------


@pytest.mark.parametrize("hostile", BAHELA, ids=lambda h: h.label)
def test_a_hostile_session_is_kept_rejected_or_another_days_and_its_day_goes_on(hostile):
    good = [session_doc(f"good{n:02d}") for n in range(5)]
    raw = sessions_frame([(SITE, g) for g in good] + [(SITE, hostile.raw)])

    result = normalise_sessions(raw, BAHELA_DAY)

    accounted = result.sessions.height + result.rejects.height + sum(result.other_days.values())
    assert accounted == result.read == 6
    assert set(result.sessions["session_code"]) >= {f"good{n:02d}" for n in range(5)}


def test_a_day_of_the_whole_bahela_corpus_builds_its_summary():
    good = [session_doc(f"good{n:02d}") for n in range(5)]
    raw = sessions_frame([(SITE, g) for g in good] + [(SITE, h.raw) for h in BAHELA])
    images = pl.DataFrame({"raw": ["not json", "[1]", '{"public_id": null}']}, schema=RAW_IMAGES_SCHEMA)

    tables = transform_day(raw, images, [SITE], BAHELA_DAY, sessions_in_source=raw.height)

    assert tables.counts.sessions.ok and tables.counts.images.ok
    summary = tables.summary.row(0, named=True)
    assert summary["revenue_idr"] == 35_000 * (tables.sessions.filter(pl.col("status") == "completed").height)
    assert tables.sessions.filter(pl.col("issues").is_not_null()).height >= 10

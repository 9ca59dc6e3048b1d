"""normalise_sessions: raw booth documents -> one clean row per session of the day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import polars as pl
import pytest
from bson.decimal128 import Decimal128
from bson.int64 import Int64

from tasks.bahela.sessions import REJECTS_SCHEMA, SESSIONS_SCHEMA, normalise_sessions, sessions_frame
from tasks.fields import as_text
from tests.unit.bahela_factories import (
    DAY,
    MISSING,
    SITE,
    iso_ms,
    jakarta,
    paid_unfinished_doc,
    raw_sessions,
    relaxed_json,
    session_doc,
    unpaid_doc,
)


def only_row(frame: pl.DataFrame) -> dict:
    assert frame.height == 1, frame
    return frame.row(0, named=True)


def only_reason(result) -> str:
    assert result.sessions.height == 0
    return only_row(result.rejects)["reason"]


# -- classification -------------------------------------------------------------------


def test_a_paid_session_on_the_result_page_is_completed():
    raw = raw_sessions(session_doc("abc123"))

    result = normalise_sessions(raw, DAY)

    row = only_row(result.sessions)
    assert (row["status"], row["paid"], row["session_code"], row["site"]) == (
        "completed",
        True,
        "abc123",
        SITE,
    )


def test_a_paid_session_that_never_reached_the_result_page_is_paid_unfinished():
    raw = raw_sessions(paid_unfinished_doc("unf001"))

    result = normalise_sessions(raw, DAY)

    row = only_row(result.sessions)
    assert (row["status"], row["paid"], row["duration_seconds"]) == ("paid_unfinished", True, None)


def test_a_session_that_was_never_paid_is_unpaid():
    raw = raw_sessions(unpaid_doc("unp001"))

    result = normalise_sessions(raw, DAY)

    row = only_row(result.sessions)
    assert (row["status"], row["paid"]) == ("unpaid", False)


def test_an_unpaid_session_on_the_result_page_is_still_unpaid():
    raw = raw_sessions(session_doc("abc123", **{"payment.paid": False}))

    result = normalise_sessions(raw, DAY)

    assert only_row(result.sessions)["status"] == "unpaid"


def test_kept_sessions_have_the_documented_schema():
    raw = raw_sessions(session_doc("abc123"), unpaid_doc("unp001"))

    result = normalise_sessions(raw, DAY)

    assert result.sessions.schema == pl.Schema(SESSIONS_SCHEMA)
    assert result.rejects.schema == pl.Schema(REJECTS_SCHEMA)


def test_fields_of_a_completed_session_are_read_from_the_document():
    doc = session_doc(
        "abc123",
        **{
            "payment.amount": 50_000,
            "payment.discount": 10_000,
            "options.copies": 4,
            "options.useRetryMode": True,
            "options.retryCount": 2,
            "options.filterFn": "vintage",
            "__v": 2,
        },
    )

    row = only_row(normalise_sessions(raw_sessions(doc), DAY).sessions)

    assert {k: row[k] for k in ("amount_idr", "discount_idr", "copies", "retry_mode", "retry_count")} == {
        "amount_idr": 50_000,
        "discount_idr": 10_000,
        "copies": 4,
        "retry_mode": True,
        "retry_count": 2,
    }
    assert (row["filter"], row["doc_version"], row["captured_images"], row["uploaded_images"]) == (
        "vintage",
        2,
        4,
        4,
    )
    assert row["mongo_id"] == str(doc["_id"])


def test_duration_is_end_minus_start_in_seconds():
    raw = raw_sessions(session_doc("abc123", seconds=394.25))

    row = only_row(normalise_sessions(raw, DAY).sessions)

    assert row["duration_seconds"] == pytest.approx(394.25)


# -- coercion of mistyped but unambiguous values ----------------------------------------


def test_a_numeric_string_amount_and_a_string_paid_flag_are_coerced_and_kept():
    raw = raw_sessions(session_doc("abc123", **{"payment.amount": "35000", "payment.paid": "true"}))

    result = normalise_sessions(raw, DAY)

    row = only_row(result.sessions)
    assert (row["amount_idr"], row["paid"], row["status"]) == (35_000, True, "completed")
    assert result.rejects.height == 0


def test_extended_json_dates_and_decimal_amounts_are_parsed():
    opened = datetime(2026, 11, 21, 7, 0, tzinfo=UTC)
    doc = session_doc(
        "abc123",
        **{
            "progress.appStartTime": opened,
            "progress.startTime": opened + timedelta(minutes=2),
            "progress.endTime": opened + timedelta(minutes=8, seconds=30, milliseconds=500),
            "payment.amount": Decimal128(Decimal("55000")),
            "payment.discount": Decimal128(Decimal("5000.00")),
        },
    )
    assert '"$date"' in relaxed_json(doc) and '"$numberDecimal"' in relaxed_json(doc)

    row = only_row(normalise_sessions(raw_sessions(doc), DAY).sessions)

    assert row["started_at"] == opened + timedelta(minutes=2)
    assert row["duration_seconds"] == pytest.approx(390.5)
    assert (row["amount_idr"], row["discount_idr"]) == (55_000, 5_000)


def test_a_timestamp_with_a_utc_offset_is_converted_to_utc():
    doc = session_doc("abc123", **{"progress.startTime": "2026-11-21T14:02:00+07:00"})

    row = only_row(normalise_sessions(raw_sessions(doc), DAY).sessions)

    assert row["started_at"] == datetime(2026, 11, 21, 7, 2, tzinfo=UTC)


# -- rejects --------------------------------------------------------------------------


def only_issues(result) -> list[str]:
    return only_row(result.sessions)["issues"].split("; ")


RUPIAH = "whole rupiah up to 10 billion (digits only when written as text)"


def test_an_amount_that_is_not_a_number_rejects_the_session_naming_the_field():
    raw = raw_sessions(session_doc("abc123", **{"payment.amount": "35.000,-"}))

    reason = only_reason(normalise_sessions(raw, DAY))

    assert reason == f"payment.amount is not {RUPIAH}: '35.000,-'"


@pytest.mark.parametrize("written", ["35.000", "35,000", "35 000", "35000.00", "Rp35000", "3.5e4"])
def test_an_amount_written_as_text_with_separators_is_rejected_never_guessed(written):
    raw = raw_sessions(session_doc("abc123", **{"payment.amount": written}))

    reason = only_reason(normalise_sessions(raw, DAY))

    assert reason == f"payment.amount is not {RUPIAH}: '{written}'"


@pytest.mark.parametrize(
    "amount",
    [2**63 - 1, -(2**63), 1e20, float("inf"), float("nan"), 35_000.5, 10_000_000_001, True],
    ids=["int64-max", "int64-min", "1e20", "inf", "nan", "fraction", "ten-billion-and-one", "boolean"],
)
def test_an_amount_out_of_range_or_not_whole_rejects_the_session_and_the_day_goes_on(amount):
    raw = raw_sessions(session_doc("abc123", **{"payment.amount": amount}), session_doc("def456"))

    result = normalise_sessions(raw, DAY)

    assert result.sessions["session_code"].to_list() == ["def456"]
    assert only_row(result.rejects)["reason"].startswith(
        ("payment.amount is not", "payment.amount is negative")
    )


@pytest.mark.parametrize("amount", [35_000, 35_000.0, "35000", " 35000 ", Decimal128("35000"), Int64(35_000)])
def test_a_whole_amount_of_any_numeric_type_or_digits_is_kept(amount):
    raw = raw_sessions(session_doc("abc123", **{"payment.amount": amount}))

    assert only_row(normalise_sessions(raw, DAY).sessions)["amount_idr"] == 35_000


@pytest.mark.parametrize(
    ("field", "value"), [("options.copies", 2**40), ("options.retryCount", -(2**33)), ("__v", 1e300)]
)
def test_an_optional_count_out_of_range_is_left_out_and_named(field, value):
    raw = raw_sessions(session_doc("abc123", **{field: value}))

    result = normalise_sessions(raw, DAY)

    assert only_issues(result) == [f"{field} is not a whole number of at most 2^31: '{as_text(value)}'"]
    assert result.rejects.height == 0


def test_an_invalid_start_time_keeps_the_transaction_with_its_duration_unknown():
    raw = raw_sessions(session_doc("abc123", **{"progress.startTime": "Invalid Date"}))

    result = normalise_sessions(raw, DAY)

    row = only_row(result.sessions)
    assert (row["status"], row["amount_idr"], row["duration_seconds"], row["day"]) == (
        "completed",
        35_000,
        None,
        DAY,
    )
    assert row["issues"].split("; ") == [
        "progress.startTime is not a timestamp: 'Invalid Date'",
        "duration unknown: no readable progress.startTime",
    ]


def test_a_session_ending_before_it_started_is_a_transaction_of_unknown_duration():
    raw = raw_sessions(session_doc("abc123", seconds=-90))

    result = normalise_sessions(raw, DAY)

    assert only_issues(result) == ["duration unknown: progress.endTime is before progress.startTime"]
    assert only_row(result.sessions)["duration_seconds"] is None


def test_a_session_without_its_code_is_rejected():
    raw = raw_sessions(session_doc("abc123", id=MISSING))

    reason = only_reason(normalise_sessions(raw, DAY))

    assert reason == "missing session code (id)"


@pytest.mark.parametrize("code", ["abc12", "abc1234", "abc-12", "abc 12"])
def test_a_malformed_session_code_rejects_the_session(code):
    raw = raw_sessions(session_doc(code))

    reason = only_reason(normalise_sessions(raw, DAY))

    assert reason == f"session code is not 6 letters or digits: '{code}'"


def test_a_negative_amount_rejects_the_session():
    raw = raw_sessions(session_doc("abc123", **{"payment.amount": -35_000}))

    reason = only_reason(normalise_sessions(raw, DAY))

    assert reason == "payment.amount is negative"


def test_a_completed_session_without_an_end_time_keeps_its_revenue():
    raw = raw_sessions(session_doc("abc123", **{"progress.endTime": MISSING}))

    result = normalise_sessions(raw, DAY)

    row = only_row(result.sessions)
    assert (row["status"], row["amount_idr"], row["duration_seconds"]) == ("completed", 35_000, None)
    assert row["issues"] == "duration unknown: no readable progress.endTime"


def test_a_session_longer_than_three_hours_keeps_its_revenue_with_its_duration_unknown():
    raw = raw_sessions(session_doc("abc123", seconds=3 * 3600 + 1))

    result = normalise_sessions(raw, DAY)

    assert only_issues(result) == ["duration unknown: session longer than 3 hours"]
    assert only_row(result.sessions)["amount_idr"] == 35_000


def test_a_reject_keeps_the_raw_document_and_its_identity():
    doc = session_doc("abc123", **{"payment.amount": "35.000,-"})
    raw = raw_sessions(doc)

    reject = only_row(normalise_sessions(raw, DAY).rejects)

    assert reject["raw"] == relaxed_json(doc)
    assert (reject["record_id"], reject["dataset"], reject["site"], reject["day"]) == (
        str(doc["_id"]),
        "sessions",
        SITE,
        DAY,
    )


def test_every_problem_of_a_document_is_listed_and_its_issues_do_not_reject_it():
    doc = session_doc(
        "abc123",
        **{"payment.amount": "35.000,-", "payment.paid": "yes", "options.copies": "two"},
    )

    reason = only_reason(normalise_sessions(raw_sessions(doc), DAY))

    assert reason.split("; ") == [
        "payment.paid is not true or false: 'yes'",
        f"payment.amount is not {RUPIAH}: '35.000,-'",
    ]


def test_every_issue_of_a_kept_session_is_listed():
    doc = session_doc("abc123", **{"options.copies": "two", "options.useRetryMode": "maybe"})

    assert only_issues(normalise_sessions(raw_sessions(doc), DAY)) == [
        "options.copies is not a whole number of at most 2^31: 'two'",
        "options.useRetryMode is not true or false: 'maybe'",
    ]


# -- duplicates -----------------------------------------------------------------------


def test_of_two_documents_of_one_session_the_highest_version_is_kept():
    older = session_doc("abc123", __v=1, **{"options.retryCount": 1})
    newer = session_doc("abc123", opened=jakarta(14, 0, 2), __v=2, **{"options.retryCount": 2})
    raw = raw_sessions(newer, older)

    result = normalise_sessions(raw, DAY)

    assert only_row(result.sessions)["mongo_id"] == str(newer["_id"])
    assert result.duplicates == 1


def test_the_document_not_kept_is_rejected_as_a_duplicate():
    older = session_doc("abc123", __v=0)
    newer = session_doc("abc123", opened=jakarta(14, 0, 2), __v=1)
    raw = raw_sessions(older, newer)

    reject = only_row(normalise_sessions(raw, DAY).rejects)

    assert reject["record_id"] == str(older["_id"])
    assert reject["reason"] == f"duplicate session: abc123 (document {newer['_id']} kept)"


def test_the_same_code_at_two_booths_is_two_sessions():
    raw = pl.concat([raw_sessions(session_doc("abc123"), site="kemang"), raw_sessions(session_doc("abc123"))])

    result = normalise_sessions(raw, DAY)

    assert sorted(result.sessions["site"]) == ["kemang", SITE]
    assert result.duplicates == 0


# -- which day a session belongs to ------------------------------------------------------


def test_a_session_starting_at_2330_jakarta_belongs_to_that_day():
    late = session_doc("late01", opened=jakarta(23, 25), started=jakarta(23, 30))
    raw = raw_sessions(late)

    result = normalise_sessions(raw, DAY)

    assert only_row(result.sessions)["day"] == DAY


def test_a_session_starting_at_0030_jakarta_belongs_to_the_next_day():
    next_day = DAY + timedelta(days=1)
    early = session_doc("early1", opened=jakarta(0, 25, day=next_day), started=jakarta(0, 30, day=next_day))
    raw = raw_sessions(early)

    on_day, on_next_day = normalise_sessions(raw, DAY), normalise_sessions(raw, next_day)

    assert on_day.sessions.height == 0
    assert only_row(on_next_day.sessions)["day"] == next_day


def test_a_morning_session_belongs_to_its_jakarta_day_not_the_utc_one():
    morning = session_doc("early1", opened=jakarta(6, 25), started=jakarta(6, 30))
    assert morning["_id"].generation_time.date() == DAY - timedelta(days=1)

    row = only_row(normalise_sessions(raw_sessions(morning), DAY).sessions)

    assert row["day"] == DAY


def test_a_session_opened_before_midnight_belongs_to_the_day_it_started():
    next_day = DAY + timedelta(days=1)
    doc = session_doc("mid001", opened=jakarta(23, 58), started=jakarta(0, 1, day=next_day))

    row = only_row(normalise_sessions(raw_sessions(doc), next_day).sessions)

    assert row["day"] == next_day


def test_an_unpaid_session_belongs_to_the_day_the_app_was_opened():
    doc = unpaid_doc("unp001", opened=jakarta(23, 50))

    row = only_row(normalise_sessions(raw_sessions(doc), DAY).sessions)

    assert row["day"] == DAY


def test_documents_of_other_days_are_read_and_counted_by_their_day():
    previous_day, next_day = DAY - timedelta(days=1), DAY + timedelta(days=1)
    raw = raw_sessions(
        session_doc("prev01", opened=jakarta(22, 0, day=previous_day)),
        session_doc("today1", opened=jakarta(12, 0)),
        session_doc("next01", opened=jakarta(1, 0, day=next_day)),
    )

    result = normalise_sessions(raw, DAY)

    assert result.read == 3
    assert result.other_days == {previous_day.isoformat(): 1, next_day.isoformat(): 1}
    assert result.sessions["session_code"].to_list() == ["today1"]


# -- a clock that cannot be believed -------------------------------------------------------

STORED = jakarta(14, 0)


@pytest.mark.parametrize(
    "start",
    [
        "1970-01-01T00:00:03.000Z",
        "2099-12-31T23:59:59.000Z",
        iso_ms(STORED + timedelta(days=7)),
        iso_ms(STORED - timedelta(hours=6, minutes=1)),
        str(int((STORED - timedelta(days=3)).timestamp() * 1000)),
    ],
    ids=[
        "reset-to-1970",
        "year-2099",
        "a-week-ahead",
        "six-hours-one-minute-behind",
        "epoch-ms-of-another-day",
    ],
)
def test_a_session_whose_clock_is_off_is_placed_by_its_stored_time_and_keeps_its_revenue(start):
    doc = session_doc(
        "abc123", opened=STORED, **{"progress.startTime": start, "progress.appStartTime": start}
    )

    result = normalise_sessions(raw_sessions(doc), DAY)

    row = only_row(result.sessions)
    assert (row["day"], row["status"], row["amount_idr"]) == (DAY, "completed", 35_000)
    assert (row["started_at"], row["ended_at"], row["duration_seconds"]) == (None, None, None)
    assert row["issues"].startswith(f"the booth's clock was off: start time '{start}'")
    assert result.other_days == {}


def test_a_session_whose_clock_is_off_is_counted_by_other_days_as_theirs_not():
    doc = session_doc("abc123", opened=STORED, **{"progress.startTime": "2099-12-31T23:59:59.000Z"})

    result = normalise_sessions(raw_sessions(doc), DAY + timedelta(days=1))

    assert result.sessions.height == 0 and result.rejects.height == 0
    assert result.other_days == {DAY.isoformat(): 1}


@pytest.mark.parametrize("identity", ["abc123-session", 42, MISSING], ids=["string-id", "int-id", "no-id"])
def test_a_document_without_an_object_id_is_placed_by_its_own_start_time(identity):
    doc = session_doc("abc123", _id=identity)

    assert only_row(normalise_sessions(raw_sessions(doc), DAY).sessions)["day"] == DAY
    assert normalise_sessions(raw_sessions(doc), DAY + timedelta(days=1)).other_days == {DAY.isoformat(): 1}


def test_a_document_with_neither_an_object_id_nor_a_readable_time_is_rejected_by_every_day():
    doc = unpaid_doc("abc123", _id="abc123-session", **{"progress.appStartTime": "garbage"})

    for day in (DAY, DAY + timedelta(days=1)):
        reason = only_reason(normalise_sessions(raw_sessions(doc), day))
        assert "cannot be placed on a day" in reason


def test_seen_lists_every_code_of_the_extract_whatever_its_day():
    previous_day = DAY - timedelta(days=1)
    raw = raw_sessions(
        session_doc("prev01", opened=jakarta(22, 0, day=previous_day)),
        session_doc("bad001", **{"payment.amount": "35.000,-"}),
    )

    seen = normalise_sessions(raw, DAY).seen

    assert sorted(seen.select("session_code", "day", "kept").rows()) == [
        ("bad001", DAY, False),
        ("prev01", previous_day, True),
    ]


def test_every_document_read_is_kept_rejected_a_duplicate_or_another_days():
    raw = raw_sessions(
        session_doc("abc123"),
        session_doc("abc123", opened=jakarta(14, 0, 2), __v=1),
        session_doc("def456", **{"payment.amount": "35.000,-"}),
        session_doc("ghi789", id=MISSING),
        unpaid_doc("unp001"),
        paid_unfinished_doc("unf001"),
        session_doc("prev01", opened=jakarta(20, 0, day=DAY - timedelta(days=1))),
    )

    result = normalise_sessions(raw, DAY)

    assert (result.read, result.sessions.height, result.rejected, result.duplicates) == (7, 3, 2, 1)
    assert result.read == result.sessions.height + result.rejects.height + sum(result.other_days.values())


def test_no_documents_give_empty_tables():
    raw = raw_sessions()

    result = normalise_sessions(raw, DAY)

    assert (result.sessions.height, result.rejects.height, result.read, result.duplicates) == (0, 0, 0, 0)
    assert result.other_days == {}


def test_a_corrupt_document_is_rejected_not_lost():
    raw = raw_sessions(session_doc("abc123")).vstack(sessions_frame([(SITE, b"\x05\x00\x00\x00\x01")]))

    result = normalise_sessions(raw, DAY)

    assert (result.read, result.sessions.height, result.rejects.height) == (2, 1, 1)
    assert result.rejects["reason"][0].startswith("not a valid BSON document")

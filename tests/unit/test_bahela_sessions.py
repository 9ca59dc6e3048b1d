"""normalise_sessions: raw booth documents -> one clean row per session of the day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import polars as pl
import pytest
from bson.decimal128 import Decimal128

from tasks.bahela.sessions import REJECTS_SCHEMA, SESSIONS_SCHEMA, normalise_sessions, sessions_frame
from tests.unit.bahela_factories import (
    DAY,
    MISSING,
    SITE,
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


def test_an_amount_that_is_not_a_number_rejects_the_session_naming_the_field():
    raw = raw_sessions(session_doc("abc123", **{"payment.amount": "35.000,-"}))

    reason = only_reason(normalise_sessions(raw, DAY))

    assert reason == "payment.amount is not a whole number: '35.000,-'"


def test_an_invalid_start_time_rejects_the_session_naming_the_field():
    raw = raw_sessions(session_doc("abc123", **{"progress.startTime": "Invalid Date"}))

    reason = only_reason(normalise_sessions(raw, DAY))

    assert reason == "progress.startTime is not a timestamp: 'Invalid Date'"


def test_a_session_ending_before_it_started_is_rejected():
    raw = raw_sessions(session_doc("abc123", seconds=-90))

    reason = only_reason(normalise_sessions(raw, DAY))

    assert reason == "progress.endTime is before progress.startTime"


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


def test_a_completed_session_without_an_end_time_is_rejected():
    raw = raw_sessions(session_doc("abc123", **{"progress.endTime": MISSING}))

    reason = only_reason(normalise_sessions(raw, DAY))

    assert reason == "finished session without progress.endTime"


def test_a_session_longer_than_three_hours_is_rejected():
    raw = raw_sessions(session_doc("abc123", seconds=3 * 3600 + 1))

    reason = only_reason(normalise_sessions(raw, DAY))

    assert reason == "session longer than 3 hours"


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


def test_every_problem_of_a_document_is_listed():
    doc = session_doc(
        "abc123",
        **{"payment.amount": "35.000,-", "progress.startTime": "Invalid Date", "options.copies": "two"},
    )

    reason = only_reason(normalise_sessions(raw_sessions(doc), DAY))

    assert reason.split("; ") == [
        "progress.startTime is not a timestamp: 'Invalid Date'",
        "options.copies is not a whole number: 'two'",
        "payment.amount is not a whole number: '35.000,-'",
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


def test_documents_of_other_days_are_not_counted_as_read():
    previous_day, next_day = DAY - timedelta(days=1), DAY + timedelta(days=1)
    raw = raw_sessions(
        session_doc("prev01", opened=jakarta(22, 0, day=previous_day)),
        session_doc("today1", opened=jakarta(12, 0)),
        session_doc("next01", opened=jakarta(1, 0, day=next_day)),
    )

    result = normalise_sessions(raw, DAY)

    assert result.read == 1
    assert result.sessions["session_code"].to_list() == ["today1"]


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


def test_every_document_of_the_day_is_either_kept_or_rejected():
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

    assert (result.read, result.sessions.height, result.rejects.height) == (6, 3, 3)
    assert result.read == result.sessions.height + result.rejects.height


def test_no_documents_give_empty_tables():
    raw = raw_sessions()

    result = normalise_sessions(raw, DAY)

    assert (result.sessions.height, result.rejects.height, result.read, result.duplicates) == (0, 0, 0, 0)


def test_a_corrupt_document_is_rejected_not_lost():
    raw = raw_sessions(session_doc("abc123")).vstack(sessions_frame([(SITE, b"\x05\x00\x00\x00\x01")]))

    result = normalise_sessions(raw, DAY)

    assert (result.read, result.sessions.height, result.rejects.height) == (2, 1, 1)
    assert result.rejects["reason"][0].startswith("not a valid BSON document")

"""daily_summary, totals_by_day and compare: per-booth sums and their comparisons."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import pytest

from tasks.bahela.summary import DETAIL, HEADLINE, SUMMARY_SCHEMA, compare, daily_summary, totals_by_day

DAY = date(2026, 11, 21)
METRICS = (*HEADLINE, *DETAIL)

SESSION_COLUMNS = {
    "site": pl.String,
    "status": pl.String,
    "amount_idr": pl.Int64,
    "discount_idr": pl.Int64,
    "duration_seconds": pl.Float64,
    "copies": pl.Int32,
    "retry_count": pl.Int32,
    "image_count": pl.Int32,
    "image_bytes": pl.Int64,
    "image_pixels": pl.Int64,
}


def session(site="senopati", status="completed", amount=35_000, discount=0, duration=360.0, copies=2, **more):
    """One normalised session with its image totals (the columns daily_summary reads)."""
    completed = status == "completed"
    row = {
        "site": site,
        "status": status,
        "amount_idr": amount,
        "discount_idr": discount,
        "duration_seconds": duration if completed else None,
        "copies": copies,
        "retry_count": 0,
        "image_count": 4 if completed else 0,
        "image_bytes": 4_000_000 if completed else 0,
        "image_pixels": 8_640_000 if completed else 0,
    }
    return {**row, **more}


def sessions(*rows: dict) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema=SESSION_COLUMNS)


def summary_row(day=DAY, site="senopati", transactions=0, revenue=0, total_duration=0.0, **more) -> dict:
    """One stored summary row; every count not given is zero."""
    row = {name: 0 for name in SUMMARY_SCHEMA} | {
        "day": day,
        "site": site,
        "transactions": transactions,
        "timed_transactions": transactions,
        "sessions": transactions,
        "revenue_idr": revenue,
        "total_duration_seconds": float(total_duration),
        "avg_duration_seconds": total_duration / transactions if transactions else None,
    }
    return row | more


def summary(*rows: dict) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema=SUMMARY_SCHEMA)


def one(frame: pl.DataFrame, site: str = "senopati") -> dict:
    rows = frame.filter(pl.col("site") == site).to_dicts()
    assert len(rows) == 1, frame
    return rows[0]


# -- daily_summary ------------------------------------------------------------------


def test_revenue_counts_only_completed_sessions():
    day_sessions = sessions(
        session(amount=35_000),
        session(amount=50_000, discount=10_000),
        session(status="unpaid", amount=35_000),
        session(status="paid_unfinished", amount=60_000),
    )

    row = one(daily_summary(day_sessions, ["senopati"], DAY))

    assert row["revenue_idr"] == 85_000


def test_discounts_are_summed_over_completed_sessions():
    day_sessions = sessions(
        session(amount=50_000, discount=10_000),
        session(amount=30_000, discount=5_000),
        session(amount=35_000),
        session(status="paid_unfinished", amount=55_000, discount=5_000),
    )

    row = one(daily_summary(day_sessions, ["senopati"], DAY))

    assert (row["discount_idr"], row["discounted_transactions"]) == (15_000, 2)


def test_sessions_are_counted_by_status():
    day_sessions = sessions(
        session(),
        session(),
        session(status="unpaid"),
        session(status="unpaid"),
        session(status="unpaid"),
        session(status="paid_unfinished"),
    )

    row = one(daily_summary(day_sessions, ["senopati"], DAY))

    assert (
        row["sessions"],
        row["transactions"],
        row["unpaid_sessions"],
        row["paid_unfinished_sessions"],
    ) == (
        6,
        2,
        3,
        1,
    )


def test_copies_and_retries_count_only_completed_sessions():
    day_sessions = sessions(
        session(copies=2, retry_count=1),
        session(copies=4, retry_count=2),
        session(status="unpaid", copies=4, retry_count=3),
    )

    row = one(daily_summary(day_sessions, ["senopati"], DAY))

    assert (row["copies"], row["retries"]) == (6, 3)


def test_average_duration_is_the_total_over_completed_sessions_divided_by_transactions():
    day_sessions = sessions(
        session(duration=300.0), session(duration=420.0), session(status="paid_unfinished")
    )

    row = one(daily_summary(day_sessions, ["senopati"], DAY))

    assert (row["total_duration_seconds"], row["avg_duration_seconds"]) == (720.0, 360.0)


def test_image_totals_and_transactions_without_images_are_summed():
    day_sessions = sessions(
        session(image_count=5, image_bytes=500, image_pixels=5_000),
        session(image_count=0, image_bytes=0, image_pixels=0),
        session(image_count=3, image_bytes=300, image_pixels=3_000),
        session(status="unpaid"),
    )

    row = one(daily_summary(day_sessions, ["senopati"], DAY))

    assert (row["images"], row["image_bytes"], row["image_pixels"], row["transactions_without_images"]) == (
        8,
        800,
        8_000,
        1,
    )


def test_each_booth_is_summed_separately():
    day_sessions = sessions(session("kemang", amount=60_000), session("senopati"), session("senopati"))

    result = daily_summary(day_sessions, ["kemang", "senopati"], DAY)

    assert result.select("site", "transactions", "revenue_idr").rows() == [
        ("kemang", 1, 60_000),
        ("senopati", 2, 70_000),
    ]


def test_a_booth_without_sessions_gets_a_row_of_zeros():
    day_sessions = sessions(session("senopati"))

    row = one(daily_summary(day_sessions, ["braga", "senopati"], DAY), "braga")

    sums = {k: v for k, v in row.items() if k not in ("day", "site", "avg_duration_seconds")}
    assert set(sums.values()) == {0}
    assert (row["day"], row["avg_duration_seconds"]) == (DAY, None)


def test_a_day_without_any_session_gives_every_booth_a_zero_row():
    result = daily_summary(sessions(), ["braga", "kemang"], DAY)

    assert result.select("day", "site", "sessions", "revenue_idr").rows() == [
        (DAY, "braga", 0, 0),
        (DAY, "kemang", 0, 0),
    ]
    assert result.schema == pl.Schema(SUMMARY_SCHEMA)


def test_a_booth_with_sessions_but_not_configured_is_still_summarised():
    result = daily_summary(sessions(session("new-booth")), ["senopati"], DAY)

    assert result["site"].to_list() == ["new-booth", "senopati"]


# -- totals_by_day ------------------------------------------------------------------


def test_totals_over_booths_weigh_average_duration_by_transactions():
    booths = summary(
        summary_row(site="kemang", transactions=1, revenue=35_000, total_duration=600),
        summary_row(site="senopati", transactions=3, revenue=105_000, total_duration=600),
    )

    total = totals_by_day(booths).row(0, named=True)

    assert (total["site"], total["transactions"], total["revenue_idr"]) == ("all booths", 4, 140_000)
    assert total["avg_duration_seconds"] == 300.0


# -- compare --------------------------------------------------------------------------


def test_the_change_against_the_previous_day_is_in_percent():
    today = summary(summary_row(revenue=110_000, transactions=3))
    history = summary(summary_row(DAY - timedelta(days=1), revenue=100_000, transactions=4))

    revenue = compare(today, history, DAY, METRICS)["senopati"]["revenue_idr"]

    assert (revenue.value, revenue.previous_day) == (110_000, 100_000)
    assert revenue.vs_previous_day == pytest.approx(10.0)


def test_the_trailing_average_covers_only_the_seven_days_before():
    today = summary(summary_row(revenue=100))
    history = summary(
        *(summary_row(DAY - timedelta(days=n), revenue=10 * n) for n in range(1, 8)),
        summary_row(DAY - timedelta(days=8), revenue=1_000_000),
        summary_row(DAY, revenue=999_999),
    )

    revenue = compare(today, history, DAY, METRICS)["senopati"]["revenue_idr"]

    assert (revenue.trailing_average, revenue.trailing_days) == (40.0, 7)


def test_days_missing_from_history_are_not_counted_as_zero():
    today = summary(summary_row(revenue=100))
    history = summary(
        summary_row(DAY - timedelta(days=1), revenue=60),
        summary_row(DAY - timedelta(days=5), revenue=80),
    )

    revenue = compare(today, history, DAY, METRICS)["senopati"]["revenue_idr"]

    assert (revenue.trailing_average, revenue.trailing_days) == (70.0, 2)


def test_a_missing_previous_day_gives_no_previous_day_comparison():
    today = summary(summary_row(revenue=100))
    history = summary(summary_row(DAY - timedelta(days=2), revenue=50))

    revenue = compare(today, history, DAY, METRICS)["senopati"]["revenue_idr"]

    assert (revenue.previous_day, revenue.vs_previous_day, revenue.trailing_average) == (None, None, 50.0)


def test_all_booths_compares_the_day_totals():
    today = summary(
        summary_row(site="kemang", revenue=60_000, transactions=1),
        summary_row(site="senopati", revenue=90_000, transactions=2),
    )
    yesterday = DAY - timedelta(days=1)
    history = summary(
        summary_row(yesterday, site="kemang", revenue=40_000, transactions=1),
        summary_row(yesterday, site="senopati", revenue=60_000, transactions=2),
    )

    revenue = compare(today, history, DAY, METRICS)["all booths"]["revenue_idr"]

    assert (revenue.value, revenue.previous_day, revenue.vs_previous_day) == (150_000, 100_000, 50.0)


def test_todays_average_duration_over_all_booths_is_weighted_by_transactions():
    today = summary(
        summary_row(site="kemang", transactions=1, total_duration=600),
        summary_row(site="senopati", transactions=3, total_duration=600),
    )

    duration = compare(today, None, DAY, METRICS)["all booths"]["avg_duration_seconds"]

    assert duration.value == 300.0


def test_the_trailing_average_duration_is_weighted_by_transactions():
    today = summary(summary_row(transactions=1, total_duration=360))
    history = summary(
        summary_row(DAY - timedelta(days=1), transactions=1, total_duration=600),
        summary_row(DAY - timedelta(days=2), transactions=3, total_duration=600),
    )

    duration = compare(today, history, DAY, METRICS)["senopati"]["avg_duration_seconds"]

    assert duration.trailing_average == 300.0


def test_the_trailing_average_duration_over_all_booths_is_weighted_by_transactions():
    today = summary(summary_row(site="kemang"), summary_row(site="senopati"))
    yesterday = DAY - timedelta(days=1)
    history = summary(
        summary_row(yesterday, site="kemang", transactions=1, total_duration=900),
        summary_row(yesterday, site="senopati", transactions=5, total_duration=900),
    )

    duration = compare(today, history, DAY, METRICS)["all booths"]["avg_duration_seconds"]

    assert (duration.previous_day, duration.trailing_average) == (300.0, 300.0)


def test_without_history_every_comparison_is_empty():
    today = summary(summary_row(revenue=100, transactions=1, total_duration=300))

    result = compare(today, None, DAY, METRICS)

    for site in ("all booths", "senopati"):
        for metric in METRICS:
            c = result[site][metric.key]
            assert (c.previous_day, c.trailing_average, c.trailing_days) == (None, None, 0), (site, metric)
            assert (c.vs_previous_day, c.vs_trailing_average) == (None, None), (site, metric)


def test_an_empty_history_frame_is_the_same_as_no_history():
    today = summary(summary_row(revenue=100))

    revenue = compare(today, summary(), DAY, METRICS)["senopati"]["revenue_idr"]

    assert (revenue.value, revenue.previous_day, revenue.trailing_average) == (100, None, None)


def test_a_comparison_reports_its_changes_rounded_for_the_json():
    today = summary(summary_row(revenue=100))
    history = summary(
        summary_row(DAY - timedelta(days=1), revenue=30), summary_row(DAY - timedelta(days=2), revenue=60)
    )

    as_dict = compare(today, history, DAY, METRICS)["senopati"]["revenue_idr"].as_dict()

    assert as_dict == {
        "value": 100,
        "previous_day": 30,
        "change_vs_previous_day_pct": 233.3,
        "trailing_average": 45.0,
        "trailing_average_days": 2,
        "change_vs_trailing_average_pct": 122.2,
    }


def test_a_zero_previous_day_gives_no_percent_change():
    today = summary(summary_row(revenue=100))
    history = summary(summary_row(DAY - timedelta(days=1), revenue=0))

    revenue = compare(today, history, DAY, METRICS)["senopati"]["revenue_idr"]

    assert (revenue.previous_day, revenue.vs_previous_day) == (0, None)

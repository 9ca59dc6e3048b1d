"""Bahela detection on small frames: each likely cause is found and named, a normal day
and a day without enough history stay quiet, a forecast replaces the baseline where it
covers the day, and hostile values (nulls, NaN, zero baselines) never crash or flag."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import duckdb
import polars as pl
import pytest

from pipelines.settings import JAKARTA
from tasks.anomalies import ANOMALY_SCHEMA
from tasks.bahela.anomalies import (
    HEALTH_SCHEMA,
    by_cause,
    day_health,
    detect,
    figures,
    last_sessions_sql,
    reference_day,
    reject_counts_sql,
    stored_health,
)
from tasks.bahela.summary import SUMMARY_SCHEMA

DAY = date(2026, 11, 20)  # a Friday
SITES = ("kemang", "senopati")


def summary_row(day: date, site: str, wobble: int = 0, **figures_) -> dict:
    """A booth's day: 80 sessions, 60 paid at Rp 40,000, 6 photos each, 6 minutes."""
    sessions = figures_.pop("sessions", 80 + wobble)
    transactions = figures_.pop("transactions", 60 + wobble)
    row = {
        "day": day,
        "site": site,
        "sessions": sessions,
        "transactions": transactions,
        "unpaid_sessions": figures_.pop("unpaid_sessions", sessions - transactions),
        "paid_unfinished_sessions": 0,
        "revenue_idr": figures_.pop("revenue_idr", 40_000 * transactions),
        "discount_idr": 0,
        "discounted_transactions": 0,
        "total_duration_seconds": 360.0 * transactions,
        "timed_transactions": transactions,
        "avg_duration_seconds": 360.0 if transactions else None,
        "copies": 2 * transactions,
        "retries": 0,
        "images": figures_.pop("images", 6 * transactions),
        "image_bytes": 0,
        "image_pixels": 0,
        "transactions_without_images": figures_.pop("transactions_without_images", 1),
    }
    assert not figures_, figures_
    return row


def health_row(day: date, site: str, last: str | None = "22:40", rejects: int = 1, orphans: int = 0) -> dict:
    started = None
    if last is not None:
        hour, minute = map(int, last.split(":"))
        started = datetime(day.year, day.month, day.day, hour, minute, tzinfo=JAKARTA).astimezone(UTC)
    return {
        "day": day,
        "site": site,
        "session_rejects": rejects,
        "orphan_photos": orphans,
        "last_started_at": started,
    }


def past_weeks(weeks: int = 6) -> tuple[list[dict], list[dict]]:
    """The same weekday in each of `weeks` weeks before DAY, a little different each week."""
    summary, health = [], []
    for w in range(1, weeks + 1):
        d = DAY - timedelta(weeks=w)
        for site in SITES:
            summary.append(summary_row(d, site, wobble=(w % 3) - 1))
            health.append(health_row(d, site, last=f"22:{30 + w}"))
    return summary, health


def run(today_summary: list[dict], today_health: list[dict], weeks: int = 6, forecasts=None) -> pl.DataFrame:
    summary, health = past_weeks(weeks)
    past = figures(pl.DataFrame(summary, schema=SUMMARY_SCHEMA), pl.DataFrame(health, schema=HEALTH_SCHEMA))
    today = figures(
        pl.DataFrame(today_summary, schema=SUMMARY_SCHEMA), pl.DataFrame(today_health, schema=HEALTH_SCHEMA)
    )
    return detect(today, past, DAY, forecasts)


def normal(site: str) -> tuple[dict, dict]:
    return summary_row(DAY, site), health_row(DAY, site)


def causes(found: pl.DataFrame, entity: str) -> set[str | None]:
    return set(found.filter(pl.col("entity") == entity)["cause"].to_list())


def test_a_normal_day_flags_nothing():
    rows = [normal(s) for s in SITES]

    found = run([r[0] for r in rows], [r[1] for r in rows])

    assert found.height == 0
    assert found.schema == pl.Schema(ANOMALY_SCHEMA)


def test_a_booth_whose_sessions_stop_mid_day_is_offline_since_its_last_session_and_severe():
    # given: kemang's last session started at 14:10, a third of its usual day
    today = [
        summary_row(DAY, "kemang", sessions=28, transactions=20),
        summary_row(DAY, "senopati"),
    ]
    health = [health_row(DAY, "kemang", last="14:10"), health_row(DAY, "senopati")]

    found = run(today, health)

    kemang = found.filter(pl.col("entity") == "kemang")
    assert set(kemang["cause"]) == {"booth offline since 14:10"}
    assert set(kemang["severity"]) == {"severe"}
    assert {"quiet_hours", "revenue_idr", "transactions", "sessions"} <= set(kemang["metric"])
    quiet = kemang.filter(pl.col("metric") == "quiet_hours").row(0, named=True)
    assert "started after 14:10" in quiet["detail"] and "around 22:3" in quiet["detail"]
    assert causes(found, "senopati") == set()
    # the total dropped because of kemang, and says so
    assert causes(found, "all") <= {"kemang: booth offline since 14:10"}
    assert [u["headline"] for u in by_cause(found)][0] == "kemang: booth offline since 14:10"


def test_a_booth_with_no_session_all_day_is_offline_all_day():
    today = [summary_row(DAY, "kemang", sessions=0, transactions=0, images=0, transactions_without_images=0)]
    today.append(summary_row(DAY, "senopati"))
    health = [health_row(DAY, "kemang", last=None, rejects=0), health_row(DAY, "senopati")]

    found = run(today, health)

    kemang = found.filter(pl.col("entity") == "kemang")
    assert set(kemang["cause"]) == {"booth offline all day"}
    assert set(kemang["severity"]) == {"severe"}


def test_most_sessions_left_unpaid_means_payments_are_failing():
    today = [summary_row(DAY, "kemang", sessions=80, transactions=8), summary_row(DAY, "senopati")]

    found = run(today, [health_row(DAY, s) for s in SITES])

    kemang = found.filter(pl.col("entity") == "kemang")
    assert set(kemang["cause"]) == {"payments failing"}
    share = kemang.filter(pl.col("metric") == "unpaid_share").row(0, named=True)
    assert share["actual"] == pytest.approx(0.9) and share["score"] >= 4
    assert "90% of sessions at booth kemang were left before paying" in share["detail"]


def test_transactions_without_photos_mean_uploads_are_broken():
    today = [
        summary_row(DAY, "kemang", images=90, transactions_without_images=45),
        summary_row(DAY, "senopati"),
    ]

    found = run(today, [health_row(DAY, s) for s in SITES])

    assert causes(found, "kemang") == {"uploads broken"}
    assert "no_photo_share" in found.filter(pl.col("entity") == "kemang")["metric"].to_list()


def test_photos_without_a_session_mean_uploads_are_broken():
    today = [summary_row(DAY, s) for s in SITES]
    health = [health_row(DAY, "kemang", orphans=60), health_row(DAY, "senopati")]

    found = run(today, health)

    assert causes(found, "kemang") == {"uploads broken"}
    orphans = found.filter((pl.col("entity") == "kemang") & (pl.col("metric") == "orphan_photos"))
    assert orphans["actual"].to_list() == [60.0]


def test_fewer_rejects_or_an_earlier_last_session_by_minutes_is_not_news():
    today = [summary_row(DAY, s) for s in SITES]
    health = [health_row(DAY, "kemang", last="22:05", rejects=0), health_row(DAY, "senopati", rejects=0)]

    assert run(today, health).height == 0


def test_with_too_little_history_there_is_no_baseline_and_no_flag():
    # given: two earlier Fridays only (three are needed), and a day with no session at all
    today = [summary_row(DAY, s, sessions=0, transactions=0, images=0) for s in SITES]
    health = [health_row(DAY, s, last=None) for s in SITES]

    assert run(today, health, weeks=2).height == 0


def test_a_forecast_for_the_day_replaces_the_baseline():
    # given: a normal day by the baseline, but the weekly model expected twice the revenue
    rows = [normal(s) for s in SITES]
    revenue = sum(r[0]["revenue_idr"] for r in rows)
    forecasts = pl.DataFrame(
        {
            "week_ending": [DAY - timedelta(days=5)] * 2,
            "target": ["revenue_idr", "transactions"],
            "day": [DAY, DAY],
            "prediction": [2.0 * revenue, 120.0],
            "lower": [1.9 * revenue, 110.0],
            "upper": [2.1 * revenue, 130.0],
        }
    )

    found = run([r[0] for r in rows], [r[1] for r in rows], forecasts=forecasts)

    # then: revenue is flagged against the forecast; transactions (120 as forecast) are not
    assert found.select("entity", "metric", "basis").rows() == [("all", "revenue_idr", "forecast")]
    row = found.row(0, named=True)
    assert row["expected"] == 2.0 * revenue and (row["lower"], row["upper"]) == (1.9 * revenue, 2.1 * revenue)
    assert "expected from the forecast" in row["detail"]


def test_a_forecast_of_another_day_is_not_used():
    rows = [normal(s) for s in SITES]
    forecasts = pl.DataFrame(
        {
            "target": ["revenue_idr"],
            "day": [DAY + timedelta(days=1)],
            "prediction": [1.0],
            "lower": [0.5],
            "upper": [2.0],
        }
    )

    assert run([r[0] for r in rows], [r[1] for r in rows], forecasts=forecasts).height == 0


def test_nulls_nans_and_zero_baselines_never_crash_or_flag():
    # given: history whose figures are zero, null or NaN, and a day that is zero too
    past = pl.DataFrame(
        [
            summary_row(DAY - timedelta(weeks=w), "kemang", sessions=0, transactions=0, images=0)
            for w in range(1, 7)
        ],
        schema=SUMMARY_SCHEMA,
    ).with_columns(total_duration_seconds=pl.lit(float("nan")), avg_duration_seconds=pl.lit(None))
    health = pl.DataFrame(
        [health_row(DAY - timedelta(weeks=w), "kemang", last=None, rejects=0) for w in range(1, 7)],
        schema=HEALTH_SCHEMA,
    )
    today = pl.DataFrame(
        [summary_row(DAY, "kemang", sessions=0, transactions=0, images=0, transactions_without_images=0)],
        schema=SUMMARY_SCHEMA,
    )
    nan_forecast = pl.DataFrame(
        {"target": ["revenue_idr"], "day": [DAY], "prediction": [0.0], "lower": [0.0], "upper": [0.0]}
    )

    found = detect(
        figures(today, pl.DataFrame([health_row(DAY, "kemang", last=None)], schema=HEALTH_SCHEMA)),
        figures(past, health),
        DAY,
        nan_forecast,
    )

    assert found.height == 0
    # and: no summary at all, no history at all
    nothing = figures(pl.DataFrame(schema=SUMMARY_SCHEMA), pl.DataFrame(schema=HEALTH_SCHEMA))
    assert detect(nothing, nothing, DAY).height == 0


def test_the_warehouse_queries_count_as_the_days_own_tables_do():
    # given: a day's sessions and rejects, as the flow lands them, in DuckDB
    sessions = pl.DataFrame(
        {
            "day": [DAY] * 3,
            "site": ["kemang", "kemang", "senopati"],
            "app_started_at": [
                datetime(2026, 11, 20, 5, 0, tzinfo=UTC),
                datetime(2026, 11, 20, 14, 30, tzinfo=UTC),
                datetime(2026, 11, 20, 9, 0, tzinfo=UTC),
            ],
        }
    )
    rejects = pl.DataFrame(
        {
            "day": [DAY] * 4,
            "dataset": ["sessions", "images", "images", "images"],
            "site": ["kemang", "kemang", "kemang", None],
            "record_id": ["a", "b", "c", "d"],
            "reason": ["missing id", "unknown session: x1", "missing asset_id", "unknown session: x2"],
            "raw": ["{}"] * 4,
        }
    )
    con = duckdb.connect()
    con.register("sessions_src", sessions.to_arrow())
    con.register("rejects_src", rejects.to_arrow())
    con.execute("create table sessions as select * from sessions_src")
    con.execute("create table rejects as select * from rejects_src")

    # when: the flow's SQL runs on it
    stored = stored_health(
        pl.from_arrow(con.sql(last_sessions_sql("sessions", DAY, DAY)).to_arrow_table()),
        pl.from_arrow(con.sql(reject_counts_sql("rejects", DAY, DAY)).to_arrow_table()),
    )

    # then: the same health rows as from the day's own tables
    own = day_health(sessions, rejects, DAY)
    order = ["day", "site"]
    assert stored.sort(order, nulls_last=True).equals(own.sort(order, nulls_last=True))
    kemang = stored.filter(pl.col("site") == "kemang").row(0, named=True)
    assert (kemang["session_rejects"], kemang["orphan_photos"]) == (1, 1)


def test_a_booth_silent_all_day_is_flagged_even_after_irregular_weeks():
    # given: kemang's recent Fridays were irregular (closed once, half a day once), so
    # zero sessions lies within the spread of its figures
    summary, health = past_weeks()
    summary = [
        summary_row(r["day"], "kemang", sessions=s, transactions=s) if r["site"] == "kemang" else r
        for r, s in zip(summary, [80, 80, 0, 0, 30, 30, 80, 80, 60, 60, 45, 45], strict=True)
    ]
    past = figures(pl.DataFrame(summary, schema=SUMMARY_SCHEMA), pl.DataFrame(health, schema=HEALTH_SCHEMA))
    today = figures(
        pl.DataFrame(
            [summary_row(DAY, "kemang", sessions=0, transactions=0, images=0), summary_row(DAY, "senopati")],
            schema=SUMMARY_SCHEMA,
        ),
        pl.DataFrame(
            [health_row(DAY, "kemang", last=None), health_row(DAY, "senopati")], schema=HEALTH_SCHEMA
        ),
    )

    found = detect(today, past, DAY)

    sessions = found.filter((pl.col("entity") == "kemang") & (pl.col("metric") == "sessions")).row(
        0, named=True
    )
    assert abs(sessions["score"]) < 4  # not unusual by its score alone
    assert (sessions["cause"], sessions["severity"]) == ("booth offline all day", "severe")


def test_a_public_holiday_on_a_weekday_is_compared_with_saturdays():
    independence_day = date(2026, 8, 17)  # a Monday
    assert reference_day(independence_day) == date(2026, 8, 22)
    assert reference_day(DAY) == DAY
    # given: quiet Mondays and busy Saturdays before it, and a Saturday-like holiday
    rows, health = [], []
    for w in range(1, 7):
        for d, busy in (
            (independence_day - timedelta(weeks=w), 50),
            (date(2026, 8, 22) - timedelta(weeks=w), 100),
        ):
            rows.append(summary_row(d, "kemang", sessions=busy + 20, transactions=busy))
            health.append(health_row(d, "kemang"))
    past = figures(pl.DataFrame(rows, schema=SUMMARY_SCHEMA), pl.DataFrame(health, schema=HEALTH_SCHEMA))
    today = figures(
        pl.DataFrame(
            [summary_row(independence_day, "kemang", sessions=120, transactions=100)], schema=SUMMARY_SCHEMA
        ),
        pl.DataFrame([health_row(independence_day, "kemang")], schema=HEALTH_SCHEMA),
    )

    assert detect(today, past, independence_day).height == 0


def test_a_razor_thin_forecast_interval_does_not_flag_a_small_miss():
    # given: the forecast's interval is ±0.1% wide, and the day is 5% above it
    rows = [normal(s) for s in SITES]
    revenue = sum(r[0]["revenue_idr"] for r in rows)
    forecasts = pl.DataFrame(
        {
            "target": ["revenue_idr"],
            "day": [DAY],
            "prediction": [revenue / 1.05],
            "lower": [revenue / 1.05 * 0.999],
            "upper": [revenue / 1.05 * 1.001],
        }
    )

    assert run([r[0] for r in rows], [r[1] for r in rows], forecasts=forecasts).height == 0

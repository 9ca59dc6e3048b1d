"""The shared core of anomaly detection: a same-weekday baseline that a past incident
does not move, floors that keep a flat history from flagging noise, and scores against
a baseline or a forecast on one scale."""

from __future__ import annotations

import math
from datetime import date, timedelta

import polars as pl
import pytest

from tasks.anomalies import (
    ANOMALY_SCHEMA,
    Rules,
    conform,
    describe,
    flagged,
    score_against_baseline,
    score_against_forecast,
    weekday_baseline,
)

DAY = date(2026, 11, 24)  # a Tuesday


def history(
    values_by_weeks_ago: dict[int, float], entity: str = "b1", metric: str = "revenue"
) -> pl.DataFrame:
    rows = [
        {"day": DAY - timedelta(weeks=w), "site": entity, metric: v} for w, v in values_by_weeks_ago.items()
    ]
    # other weekdays, wildly different, must not count
    rows += [{"day": DAY - timedelta(days=d), "site": entity, metric: 1e9} for d in (1, 2, 3, 8, 9)]
    return pl.DataFrame(rows)


def test_the_baseline_is_the_median_of_the_same_weekday_and_one_past_incident_does_not_move_it():
    h = history({1: 100.0, 2: 0.0, 3: 104.0, 4: 96.0, 5: 100.0, 6: 102.0})

    [row] = weekday_baseline(h, DAY, ["site"], ["revenue"]).to_dicts()

    assert row["expected"] == 100.0 and row["weeks"] == 6
    assert row["spread"] == pytest.approx(10.0), "MAD 2 × 1.4826 < the 10% floor of the median"


def test_too_few_same_weekdays_give_no_baseline():
    assert weekday_baseline(history({1: 5.0, 2: 6.0}), DAY, ["site"], ["revenue"]).height == 0


def test_counts_are_floored_by_poisson_noise_and_nulls_do_not_count():
    h = history({1: 400.0, 2: 400.0, 3: 400.0, 4: None}, metric="photos")

    [row] = weekday_baseline(
        h, DAY, ["site"], ["photos"], counts=["photos"], rules=Rules(relative_floor=0)
    ).to_dicts()

    assert row["weeks"] == 3 and row["spread"] == pytest.approx(20.0)


def test_a_day_far_below_its_baseline_is_flagged_and_a_normal_one_is_not():
    baseline = weekday_baseline(history({1: 100.0, 2: 104.0, 3: 96.0, 4: 100.0}), DAY, ["site"], ["revenue"])
    actual = pl.DataFrame({"site": ["b1", "b2"], "revenue": [5.0, 1.0]})

    scored = score_against_baseline(actual, baseline, ["site"])
    [row] = flagged(scored).to_dicts()

    assert scored.height == 1, "b2 has no baseline: no verdict"
    assert row["score"] == pytest.approx(-9.5) and row["severity"] == "severe"
    assert row["lower"] == pytest.approx(60.0) and row["basis"] == "baseline"
    assert flagged(scored.with_columns(score=pl.lit(-2.0))).height == 0


def test_a_forecast_score_is_in_spreads_read_from_its_80_percent_interval_on_the_figures_side():
    assert score_against_forecast(100, 100, 80, 120) == 0
    assert score_against_forecast(120, 100, 80, 120) == pytest.approx(1.2816)
    assert score_against_forecast(100, 100, 90, 140) == 0
    assert score_against_forecast(60, 100, 90, 140) == pytest.approx(-4 * 1.2816)
    assert math.isnan(score_against_forecast(5, 10, 10, 20)), "no room below: no measure"


def test_non_finite_scores_are_never_flagged():
    scored = pl.DataFrame({"score": [math.nan, math.inf, None, -5.0]}, schema={"score": pl.Float64})

    assert flagged(scored)["score"].to_list() == [-5.0]


def test_conform_and_describe():
    row = {"entity": "b1", "metric": "revenue", "actual": 13.0, "expected": 100.0, "basis": "baseline"}

    frame = conform(pl.DataFrame([row]))

    assert frame.schema == pl.Schema(ANOMALY_SCHEMA) and frame["business"].is_null().all()
    assert describe(row, "Revenue", "booth b1") == (
        "Revenue at booth b1 was 13 against 100 expected from the same weekday in recent weeks: 87% below."
    )


def test_an_absolute_floor_keeps_a_zero_median_from_flagging_a_handful():
    # given: a rare count, zero on most weeks, so its median and MAD are zero
    h = history({1: 0.0, 2: 0.0, 3: 1.0, 4: 0.0, 5: 0.0, 6: 2.0}, metric="orphans")
    actual = pl.DataFrame({"site": ["b1"], "orphans": [3.0]})

    bare = weekday_baseline(h, DAY, ["site"], ["orphans"], counts=["orphans"])
    floored = weekday_baseline(h, DAY, ["site"], ["orphans"], counts=["orphans"], floors={"orphans": 2.0})

    assert flagged(score_against_baseline(actual, bare, ["site"])).height == 1
    assert floored["spread"].to_list() == [2.0]
    assert flagged(score_against_baseline(actual, floored, ["site"])).height == 0

"""The weekly forecasts on data with a known weekly pattern: accuracy against the naive
seasonal baseline, the recursive forecast feeding its own predictions back, intervals,
the rolling-origin backtest's MASE and coverage (checked by hand on tiny series), the
switch to seasonal naive where it wins, and the short-history paths."""

from __future__ import annotations

import random
from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest

from tasks.bahela.forecast import (
    HORIZON,
    MIN_HISTORY_DAYS,
    Origin,
    backtest,
    forecast_paths,
    forecast_target,
    mase_scale,
    origins,
    panel,
    score,
    series_total,
    train,
)
from tasks.bahela.summary import from_storage
from tasks.bahela.weekly import forecasts_frame, weekly_inputs

MONDAY = date(2026, 9, 7)
PROFILE = (0.8, 0.75, 0.8, 0.9, 1.1, 1.5, 1.35)  # Monday .. Sunday
BOOTHS = {"a": 1.0, "b": 2.0, "c": 0.6}


def synthetic(weeks: int, noise: float = 0.0, seed: int = 1, scale_from: dict | None = None) -> pl.DataFrame:
    """Daily summary rows of booths that follow PROFILE exactly (times noise).
    `scale_from={"day": d, "factor": f}` multiplies every booth from that day on."""
    rng = random.Random(seed)
    rows = []
    for n in range(weeks * 7):
        day = MONDAY + timedelta(days=n)
        for site, scale in BOOTHS.items():
            factor = scale_from["factor"] if scale_from and day >= scale_from["day"] else 1.0
            tx = max(0, round(60 * scale * factor * PROFILE[day.weekday()] * (1 + noise * rng.gauss(0, 1))))
            rows.append(
                {
                    "day": day,
                    "site": site,
                    "sessions": round(tx * 1.3),
                    "transactions": tx,
                    "unpaid_sessions": round(tx * 0.3),
                    "paid_unfinished_sessions": 0,
                    "revenue_idr": tx * 42_000,
                    "discount_idr": tx * 1_000,
                    "discounted_transactions": tx // 10,
                    "total_duration_seconds": tx * 360.0,
                    "avg_duration_seconds": 360.0 if tx else None,
                    "copies": tx * 2,
                    "retries": tx // 4,
                    "images": tx * 5,
                    "image_bytes": tx * 5_000_000,
                    "image_pixels": tx * 10_000_000,
                    "transactions_without_images": 0,
                }
            )
    return from_storage(pl.DataFrame(rows))  # as stored before durations could be unknown


def truth(day: date, factor: float = 1.0) -> float:
    return sum(60 * scale * factor * PROFILE[day.weekday()] for scale in BOOTHS.values()) * 42_000


def with_trend(summary: pl.DataFrame, per_day: float) -> pl.DataFrame:
    """Revenue growing by `per_day` of its first level every day: last week is always too low."""
    growth = 1 + (pl.col("day") - pl.lit(MONDAY)).dt.total_days() * per_day
    return summary.with_columns((pl.col("revenue_idr") * growth).cast(pl.Int64))


def test_on_a_clean_weekly_pattern_seasonal_naive_is_exact_and_is_published():
    summary = synthetic(weeks=6)

    result = forecast_target(summary, "revenue_idr")

    last_week = summary.filter(pl.col("day") > summary["day"].max() - timedelta(days=7))
    np.testing.assert_allclose(
        result.prediction, last_week.group_by("day").agg(pl.sum("revenue_idr")).sort("day")["revenue_idr"]
    )
    expected = np.array([truth(d) for d in result.days])
    np.testing.assert_allclose(result.prediction, expected, rtol=0.005)  # booths' transactions are whole
    assert result.backtest.scored and result.backtest.naive_mae == 0
    assert result.method == "seasonal_naive"
    assert result.backtest.model_mase is None, "a zero in-sample naive error leaves MASE undefined"


def test_on_a_noisy_weekly_pattern_the_model_beats_the_naive_baseline():
    summary = synthetic(weeks=10, noise=0.12, seed=4)

    replay = backtest(panel(summary, "revenue_idr"), "revenue_idr")

    assert replay is not None and len(replay.weeks) == 8 and replay.days == 56
    assert replay.model_mase < replay.naive_mase, replay.as_dict()
    assert replay.model_wins and replay.method == "random_forest"


def test_the_backtest_replays_every_whole_week_after_the_first_two():
    assert origins(56) == [14, 21, 28, 35, 42, 49]
    assert origins(45) == [17, 24, 31, 38], "weeks end on the last day"
    assert origins(35) == [14, 21, 28]
    assert origins(56, weeks=2) == [42, 49]
    assert origins(20) == []


def test_mase_scale_is_the_in_sample_error_of_same_weekday_last_week():
    # lag-7 differences: |2-1| |2-2| |5-3| |4-4| |5-5| |8-6| |nan-7| -> 1, 0, 2, 0, 0, 2 (nan skipped)
    series = np.array([1, 2, 3, 4, 5, 6, 7, 2, 2, 5, 4, 5, 8, np.nan], dtype=float)

    assert mase_scale(series) == pytest.approx(5 / 6)
    assert mase_scale(np.array([1.0, 2, 3, 4, 5, 6, 7] * 2)) is None, "exactly weekly: no scale"
    assert mase_scale(np.arange(5.0)) is None


def hand_origins() -> list[Origin]:
    """Two replayed weeks, actual 100 every day. Week A: forest errors 0,0,0,0,20,20,30,
    trees ±5, naive off by 10 on the last day, scale 10. Week B: forest 10 too high every
    day, trees ±5, naive exact, scale 5."""
    actual = np.full(HORIZON, 100.0)
    a_model = np.array([100, 100, 100, 100, 120, 120, 130], dtype=float)
    b_model = np.full(HORIZON, 110.0)
    return [
        Origin(
            start=MONDAY,
            actual=actual,
            model=a_model,
            tree_lower=a_model - 5,
            tree_upper=a_model + 5,
            naive=np.array([100, 100, 100, 100, 100, 100, 90], dtype=float),
            scale=10.0,
            in_sample_naive_errors=(5.0,) * 5,
        ),
        Origin(
            start=MONDAY + timedelta(days=7),
            actual=actual,
            model=b_model,
            tree_lower=b_model - 5,
            tree_upper=b_model + 5,
            naive=actual.copy(),
            scale=5.0,
        ),
    ]


def test_mase_scales_each_weeks_errors_by_its_own_training_history():
    result = score("revenue_idr", hand_origins())

    # forest: week A (0+0+0+0+20+20+30)/10 = 7, week B 7 x 10/5 = 14 -> 21 over 14 days
    assert result.model_mase == pytest.approx(21 / 14)
    # naive: week A 10/10 = 1, week B 0 -> 1 over 14 days
    assert result.naive_mase == pytest.approx(1 / 14)
    assert result.model_mae == pytest.approx(10.0) and result.naive_mae == pytest.approx(10 / 14)


def test_coverage_widens_each_week_only_with_earlier_weeks_errors():
    result = score("revenue_idr", hand_origins())

    # trees alone: week A days 1-4 inside (±5), week B none (110 ± 5)
    assert result.tree_coverage == pytest.approx(4 / 14)
    # forest as published: week A has no earlier errors, so its trees' interval (4 of 7;
    # its own 80th-percentile error, 20, would have covered all 7); week B is widened
    # by week A's 80th-percentile error, 20: 110 ± 20 holds 100 every day
    assert result.model_coverage == pytest.approx(11 / 14)
    # naive: week A ± its in-sample error 5 (90 ± 5 misses 100 once), week B ± week A's 0
    assert result.naive_coverage == pytest.approx(13 / 14)


def test_fewer_than_four_replayed_weeks_give_no_score_and_keep_the_forest():
    result = score("images", hand_origins())  # naive far better, but two weeks prove nothing

    assert not result.scored and result.method == "random_forest"
    scores = result.as_dict()
    assert scores["model_mase"] is None and scores["interval_coverage_pct"] is None
    assert scores["verdict"].startswith("not enough history for a 4-week backtest (2 weeks)")


def test_on_a_weekly_pattern_with_little_noise_naive_wins_and_its_forecast_is_published():
    p_summary = synthetic(weeks=8, noise=0.01, seed=3)

    result = forecast_target(p_summary, "revenue_idr")

    b = result.backtest
    assert b.scored and b.naive_mase < b.model_mase, b.as_dict()
    assert result.method == "seasonal_naive" and result.mase == b.naive_mase
    p = panel(p_summary, "revenue_idr")
    np.testing.assert_allclose(result.prediction, series_total(p, "revenue_idr")[-HORIZON:])
    np.testing.assert_allclose(result.by_booth["b"], p.values[p.booths.index("b"), -HORIZON:])
    error = np.percentile(b.naive_errors, 80)
    np.testing.assert_allclose(result.upper - result.prediction, error)
    assert b.verdict.startswith(
        f"Seasonal naive beat the Random Forest on Revenue (MASE {b.naive_mase:.2f} vs {b.model_mase:.2f}): "
        "next week's Revenue forecast is last week's values"
    )
    assert result.as_dict()["method"] == "seasonal_naive"


def test_with_a_trend_the_forest_beats_naive_and_its_forecast_is_published():
    summary = with_trend(synthetic(weeks=8, noise=0.05, seed=3), per_day=0.02)

    result = forecast_target(summary, "revenue_idr")

    b = result.backtest
    assert b.scored and b.model_mase < b.naive_mase, b.as_dict()
    assert b.naive_mase > 1, "last week is always too low on a growing series"
    assert result.method == "random_forest"
    last_week = series_total(panel(summary, "revenue_idr"), "revenue_idr")[-HORIZON:]
    assert result.prediction.sum() > last_week.sum(), "the forest follows the growth"


def test_each_forecast_day_uses_the_previous_days_predictions_as_its_lags():
    p = panel(synthetic(weeks=5, noise=0.05), "transactions")
    model = train(p, trees=20)

    paths = forecast_paths(model, p)

    first_tree = paths.values[0]  # booths x horizon
    for h in range(1, HORIZON):
        rows = paths.feature_rows[h]
        level = rows[:, 3]  # mean_7, the booth's level
        yesterday = rows[:, 0] * level  # lag_1 is relative to the level
        np.testing.assert_allclose(yesterday, first_tree[:, h - 1], rtol=1e-9)
        window = np.concatenate([p.values[:, p.length - 7 + h :], first_tree[:, :h]], axis=1)
        np.testing.assert_allclose(level, window.mean(axis=1), rtol=1e-9)
        assert np.all(level > 0), "rolling features are never zeroed at prediction time"


def test_after_a_level_shift_the_recursive_forecast_follows_the_new_level():
    shift = MONDAY + timedelta(days=35)
    summary = synthetic(weeks=8, scale_from={"day": shift, "factor": 1.6})

    result = forecast_target(summary, "revenue_idr")

    expected = np.array([truth(d, factor=1.6) for d in result.days])
    assert np.max(np.abs(result.prediction - expected) / expected) < 0.10


def test_the_interval_holds_the_forecast_and_is_not_negative():
    result = forecast_target(synthetic(weeks=6, noise=0.1), "images")

    assert np.all(result.lower <= result.prediction) and np.all(result.prediction <= result.upper)
    assert np.all(result.lower >= 0) and np.any(result.upper > result.lower)


def test_average_duration_is_forecast_as_a_weighted_average_of_the_booths():
    result = forecast_target(synthetic(weeks=6), "avg_duration_seconds")

    np.testing.assert_allclose(result.prediction, 360.0, rtol=0.02)


def test_feature_importance_folds_the_booths_into_one_entry():
    result = forecast_target(synthetic(weeks=6, noise=0.05), "transactions")
    names = [name for name, _ in result.importance]

    assert "booth" in names and not any(n.startswith("booth=") for n in names)
    assert sum(share for _, share in result.importance) == pytest.approx(1.0)


def test_weekly_inputs_forecast_every_target_for_the_seven_days_after_the_week():
    summary = synthetic(weeks=6, noise=0.05)
    week_ending = MONDAY + timedelta(days=6 * 7 - 1)

    inputs = weekly_inputs(summary, week_ending)

    assert set(inputs.forecasts) == {"revenue_idr", "transactions", "avg_duration_seconds", "images"}
    for forecast in inputs.forecasts.values():
        assert forecast.days == [week_ending + timedelta(days=n) for n in range(1, 8)]
    frame = forecasts_frame(inputs)
    assert frame.height == 28 and frame["week_ending"].unique().to_list() == [week_ending]
    methods = dict(frame.select("target", "method").unique().iter_rows())
    assert methods == {t: f.method for t, f in inputs.forecasts.items()}
    revenue = frame.filter(pl.col("target") == "revenue_idr").row(0, named=True)
    assert revenue["backtest_weeks"] == 4
    assert revenue["backtest_model_mase"] == inputs.forecasts["revenue_idr"].backtest.model_mase
    assert 0 <= revenue["backtest_interval_coverage"] <= 1


def test_short_history_gives_trends_without_a_forecast():
    summary = synthetic(weeks=2).filter(pl.col("day") >= MONDAY + timedelta(days=4))  # 10 days
    week_ending = MONDAY + timedelta(days=13)

    inputs = weekly_inputs(summary, week_ending)

    assert inputs.history_days == 10 < MIN_HISTORY_DAYS
    assert inputs.forecasts is None
    last_week = summary.filter(pl.col("day") > week_ending - timedelta(days=7))
    assert inputs.trends["revenue_idr"].last_week == last_week["revenue_idr"].sum()
    assert forecasts_frame(inputs).height == 0

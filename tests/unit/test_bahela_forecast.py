"""The weekly forecasts on data with a known weekly pattern: accuracy against the naive
seasonal baseline, the recursive forecast feeding its own predictions back, intervals,
and the short-history path."""

from __future__ import annotations

import random
from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest

from tasks.bahela.forecast import (
    HORIZON,
    MIN_HISTORY_DAYS,
    backtest,
    forecast_paths,
    forecast_target,
    panel,
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


def test_on_a_clean_weekly_pattern_the_forecast_is_right_and_matches_the_naive_baseline():
    summary = synthetic(weeks=6)

    result = forecast_target(summary, "revenue_idr")

    expected = np.array([truth(d) for d in result.days])
    assert np.max(np.abs(result.prediction - expected) / expected) < 0.03
    assert result.backtest is not None
    assert result.backtest.model_mae <= result.backtest.naive_mae + 0.01 * expected.mean()


def test_on_a_noisy_weekly_pattern_the_model_beats_the_naive_baseline():
    summary = synthetic(weeks=10, noise=0.12, seed=4)

    replay = backtest(panel(summary, "revenue_idr"), "revenue_idr", weeks=3)

    assert replay is not None and replay.days == 21
    assert replay.model_mae < replay.naive_mae, replay.as_dict()
    assert replay.model_wins


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


def test_short_history_gives_trends_without_a_forecast():
    summary = synthetic(weeks=2).filter(pl.col("day") >= MONDAY + timedelta(days=4))  # 10 days
    week_ending = MONDAY + timedelta(days=13)

    inputs = weekly_inputs(summary, week_ending)

    assert inputs.history_days == 10 < MIN_HISTORY_DAYS
    assert inputs.forecasts is None
    last_week = summary.filter(pl.col("day") > week_ending - timedelta(days=7))
    assert inputs.trends["revenue_idr"].last_week == last_week["revenue_idr"].sum()
    assert forecasts_frame(inputs).height == 0

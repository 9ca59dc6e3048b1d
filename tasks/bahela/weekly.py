"""The Bahela weekly flow's tasks: thin Prefect wrappers around metrics, forecasts and the report."""

from __future__ import annotations

import logging
from datetime import date, timedelta

import polars as pl
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from tasks.bahela.charts import forecast_chart
from tasks.bahela.forecast import MIN_HISTORY_DAYS, TARGETS, forecast_target, history_days
from tasks.bahela.metrics import booth_week, complete_days, daily_totals, trends, week_table
from tasks.bahela.summary import SUMMARY_SCHEMA, from_storage
from tasks.bahela.weekly_report import WeeklyInputs, WeeklyReport, build_weekly_report

FORECASTS_SCHEMA = {
    "week_ending": pl.Date(),
    "target": pl.String(),
    "day": pl.Date(),
    "prediction": pl.Float64(),
    "lower": pl.Float64(),
    "upper": pl.Float64(),
    "backtest_model_mae": pl.Float64(),
    "backtest_naive_mae": pl.Float64(),
    # which method the published prediction comes from, and the backtest's scores (null
    # with fewer than four replayed weeks)
    "method": pl.String(),
    "backtest_weeks": pl.Int64(),
    "backtest_model_mase": pl.Float64(),
    "backtest_naive_mase": pl.Float64(),
    "backtest_interval_coverage": pl.Float64(),
}


@task(name="analyse-history", cache_policy=NO_CACHE, task_run_name="analyse history to {week_ending}")
def analyse(
    summary: pl.DataFrame | None, week_ending: date, backtest_weeks: int | None = None
) -> WeeklyInputs:
    return weekly_inputs(summary, week_ending, backtest_weeks, get_run_logger())


def weekly_inputs(
    summary: pl.DataFrame | None, week_ending: date, backtest_weeks: int | None = None, logger=None
) -> WeeklyInputs:
    """Metrics, trends, forecasts (with enough history) and the chart for the report."""
    logger = logger or logging.getLogger("pipelines.bahela.weekly")
    summary = from_storage(summary if summary is not None else pl.DataFrame(schema=SUMMARY_SCHEMA))
    summary = summary.filter(pl.col("day") <= week_ending)
    days = history_days(summary)
    first = summary["day"].min() if days else None
    filled = complete_days(summary, first, week_ending) if days else summary
    if days >= MIN_HISTORY_DAYS:
        forecasts = {}
        for target in TARGETS:
            forecasts[target] = forecast_target(filled, target, backtest_weeks)
            b = forecasts[target].backtest
            logger.info(
                "%s: %d training rows, published by %s; %s",
                target,
                forecasts[target].training_rows,
                forecasts[target].method,
                b.verdict if b else "no backtest (history too short)",
            )
    else:
        forecasts = None
        logger.warning(
            "only %d days of history (%d needed): trends without a forecast", days, MIN_HISTORY_DAYS
        )
    totals = daily_totals(filled) if days else pl.DataFrame()
    chart = forecast_chart(totals, week_ending, forecasts) if days else b""
    return WeeklyInputs(
        week_ending=week_ending,
        history_days=days,
        first_day=first,
        week=week_table(filled, week_ending) if days else pl.DataFrame(),
        booths=booth_week(filled, week_ending) if days else pl.DataFrame(),
        trends=trends(filled, week_ending),
        forecasts=forecasts,
        chart_png=chart,
    )


@task(name="build-weekly-report", cache_policy=NO_CACHE)
def build_report(inputs: WeeklyInputs) -> WeeklyReport:
    return build_weekly_report(inputs)


def forecasts_frame(inputs: WeeklyInputs) -> pl.DataFrame:
    rows = []
    for target, f in (inputs.forecasts or {}).items():
        b = f.backtest if f.scored else None
        for day, p, lo, hi in zip(f.days, f.prediction, f.lower, f.upper, strict=True):
            rows.append(
                {
                    "week_ending": inputs.week_ending,
                    "target": target,
                    "day": day,
                    "prediction": float(p),
                    "lower": float(lo),
                    "upper": float(hi),
                    "backtest_model_mae": b.model_mae if b else None,
                    "backtest_naive_mae": b.naive_mae if b else None,
                    "method": f.method,
                    "backtest_weeks": len(f.backtest.weeks) if f.backtest else 0,
                    "backtest_model_mase": b.model_mase if b else None,
                    "backtest_naive_mase": b.naive_mase if b else None,
                    "backtest_interval_coverage": b.coverage if b else None,
                }
            )
    return pl.DataFrame(rows, schema=FORECASTS_SCHEMA)


def missing_days(summary: pl.DataFrame | None, first: date, last: date) -> list[date]:
    present = set() if summary is None or summary.height == 0 else set(summary["day"].to_list())
    return [
        first + timedelta(days=n)
        for n in range((last - first).days + 1)
        if first + timedelta(days=n) not in present
    ]

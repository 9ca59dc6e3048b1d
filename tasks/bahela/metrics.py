"""Bahela daily metrics over history: totals per day, rolling averages, week-over-week
change and the direction each metric is heading.

Input is the stored daily summary (`SUMMARY_SCHEMA`, one row per day and booth); every
ratio (average duration, average transaction) is recomputed from sums, never averaged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import polars as pl

from tasks.bahela.summary import SUMMARY_SCHEMA, SUMS, from_storage

# The metrics of the weekly report, in the order people read them, with how they read.
METRICS: dict[str, tuple[str, str]] = {
    "revenue_idr": ("Revenue", "money"),
    "transactions": ("Transactions", "count"),
    "sessions": ("Sessions started", "count"),
    "avg_duration_seconds": ("Avg. session", "duration"),
    "total_duration_seconds": ("Time in sessions", "duration"),
    "avg_transaction_idr": ("Avg. transaction", "money"),
    "copies": ("Prints", "count"),
    "images": ("Photos", "count"),
    "image_bytes": ("Photo storage", "bytes"),
    "discount_idr": ("Discounts given", "money"),
}
RATIOS = {"avg_duration_seconds", "avg_transaction_idr"}

FLAT_BAND = 0.03  # a trend within ±3% per week of the metric's level reads as flat


def complete_days(summary: pl.DataFrame, first: date, last: date) -> pl.DataFrame:
    """Every (day, booth) in range: a booth missing on a day (offline, not yet installed
    there) counts as a day without sessions only between its first and last appearance."""
    summary = from_storage(summary).filter(pl.col("day").is_between(first, last))
    if summary.height == 0:
        return summary
    span = summary.group_by("site").agg(start=pl.col("day").min(), stop=pl.col("day").max())
    grid = span.with_columns(day=pl.date_ranges("start", "stop", "1d")).explode("day").select("day", "site")
    return (
        grid.join(summary, on=["day", "site"], how="left")
        .with_columns(pl.col(SUMS).fill_null(0))
        .select(list(SUMMARY_SCHEMA))
        .cast(SUMMARY_SCHEMA)
        .sort("site", "day")
    )


def with_ratios(frame: pl.DataFrame) -> pl.DataFrame:
    tx = pl.col("transactions")
    return frame.with_columns(
        avg_duration_seconds=pl.when(pl.col("timed_transactions") > 0).then(
            pl.col("total_duration_seconds") / pl.col("timed_transactions")
        ),
        avg_transaction_idr=pl.when(tx > 0).then(pl.col("revenue_idr") / tx),
    )


def daily_totals(summary: pl.DataFrame) -> pl.DataFrame:
    """All booths together, one row per day, with the metrics and their 3- and 7-day
    rolling averages (over the days up to and including each day)."""
    totals = with_ratios(summary.group_by("day").agg(pl.col(SUMS).sum()).sort("day"))
    rolling = []
    for metric in METRICS:
        rolling += [
            pl.col(metric).rolling_mean(3, min_samples=1).alias(f"{metric}_avg3"),
            pl.col(metric).rolling_mean(7, min_samples=1).alias(f"{metric}_avg7"),
        ]
    return totals.select("day", *METRICS).with_columns(rolling)


@dataclass(frozen=True)
class Trend:
    metric: str
    last_week: float | None  # total (or average, for ratios) of the report's week
    previous_week: float | None
    week_over_week_pct: float | None
    slope_per_week_pct: float | None  # fitted slope of the weekly values, per week, relative to their mean
    direction: str  # up | down | flat | unknown

    def as_dict(self) -> dict:
        return {
            "last_week": _round(self.last_week),
            "previous_week": _round(self.previous_week),
            "week_over_week_pct": _round(self.week_over_week_pct),
            "slope_per_week_pct": _round(self.slope_per_week_pct),
            "direction": self.direction,
        }


def trends(summary: pl.DataFrame, week_ending: date, weeks: int = 4) -> dict[str, Trend]:
    """Week over week, and the direction over the last `weeks` whole weeks: the
    least-squares slope of the weekly values, so the weekday pattern cannot pass for a
    trend."""
    week = (week_ending - timedelta(days=6), week_ending)
    previous = (week[0] - timedelta(days=7), week[0] - timedelta(days=1))
    blocks = [
        (week_ending - timedelta(days=7 * k + 6), week_ending - timedelta(days=7 * k)) for k in range(weeks)
    ]
    whole = [bounds for bounds in reversed(blocks) if _has_whole_week(summary, *bounds)]
    result = {}
    for metric in METRICS:
        last_value, previous_value = (_week_value(summary, metric, *bounds) for bounds in (week, previous))
        weekly = [_week_value(summary, metric, *bounds) for bounds in whole]
        slope = _relative_slope([v for v in weekly if v is not None])
        result[metric] = Trend(
            metric=metric,
            last_week=last_value,
            previous_week=previous_value,
            week_over_week_pct=_pct(last_value, previous_value),
            slope_per_week_pct=slope,
            direction=_direction(slope),
        )
    return result


def week_table(summary: pl.DataFrame, week_ending: date) -> pl.DataFrame:
    """The report's week, one row per day (all booths)."""
    totals = daily_totals(summary)
    return totals.filter(pl.col("day").is_between(week_ending - timedelta(days=6), week_ending)).select(
        "day", *METRICS
    )


def booth_week(summary: pl.DataFrame, week_ending: date) -> pl.DataFrame:
    """The report's week per booth: sums, ratios and the change on the week before."""

    def per_booth(first: date, last: date) -> pl.DataFrame:
        return with_ratios(
            summary.filter(pl.col("day").is_between(first, last)).group_by("site").agg(pl.col(SUMS).sum())
        )

    start = week_ending - timedelta(days=6)
    this = per_booth(start, week_ending)
    before = per_booth(start - timedelta(days=7), start - timedelta(days=1)).select(
        "site", previous_revenue_idr="revenue_idr"
    )
    return (
        this.join(before, on="site", how="left")
        .with_columns(
            revenue_wow_pct=pl.when(pl.col("previous_revenue_idr") > 0).then(
                (pl.col("revenue_idr") / pl.col("previous_revenue_idr") - 1) * 100
            )
        )
        .sort("revenue_idr", descending=True)
    )


def _week_value(summary: pl.DataFrame, metric: str, first: date, last: date) -> float | None:
    days = summary.filter(pl.col("day").is_between(first, last))
    if days.height == 0:
        return None
    sums = days.select(pl.col(SUMS).sum()).row(0, named=True)
    if metric == "avg_duration_seconds":
        timed = sums["timed_transactions"]
        return sums["total_duration_seconds"] / timed if timed else None
    if metric == "avg_transaction_idr":
        return sums["revenue_idr"] / sums["transactions"] if sums["transactions"] else None
    return float(sums[metric])


def _has_whole_week(summary: pl.DataFrame, first: date, last: date) -> bool:
    return summary.filter(pl.col("day").is_between(first, last))["day"].n_unique() == 7


def _relative_slope(values: list[float]) -> float | None:
    """Slope per step of a least-squares line, relative to the values' mean, in percent."""
    if len(values) < 2:
        return None
    y = np.array(values, dtype=float)
    mean = y.mean()
    if not mean:
        return None
    x = np.arange(len(y), dtype=float)
    slope = ((x - x.mean()) * (y - mean)).sum() / ((x - x.mean()) ** 2).sum()
    return float(slope / abs(mean) * 100)


def _direction(slope_pct: float | None) -> str:
    if slope_pct is None:
        return "unknown"
    if slope_pct > FLAT_BAND * 100:
        return "up"
    if slope_pct < -FLAT_BAND * 100:
        return "down"
    return "flat"


def _pct(value: float | None, reference: float | None) -> float | None:
    if value is None or not reference:
        return None
    return (value - reference) / abs(reference) * 100


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)

"""Unusual days: each day's figures against what was expected of that day, for each entity
(a booth, a store, or all of them together), in one long table both businesses share.

"Expected" comes from one of two places:
- a forecast with its interval (Bahela's weekly model), where one covers the day;
- otherwise a robust baseline: the same weekday in recent weeks, their median, and their
  spread as the scaled median absolute deviation. Weekdays, because a Saturday is not a
  Tuesday; median and MAD, because last month's incident must not become this month's
  normal.

A spread measured on a handful of weeks can come out near zero (four identical Tuesdays),
and then any wobble would look extreme. So the spread has floors: a share of the median
(`relative_floor`), and for counts the Poisson noise of the median (its square root),
which is what a count of independent events varies by on its own.

A figure is flagged when it lies `threshold` spreads or more from expected (a
forecast's spread is read from its 80% interval), and severe from `severe` spreads. The callers add the likely cause, which only they can
read from their data.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import polars as pl

ANOMALY_SCHEMA: dict[str, pl.DataType] = {
    "business": pl.String(),  # bahela | glamira
    "day": pl.Date(),
    "entity": pl.String(),  # a booth's site, a store's store_key, or ALL
    "metric": pl.String(),
    "actual": pl.Float64(),
    "expected": pl.Float64(),
    "lower": pl.Float64(),  # the band of normal: expected ± threshold spreads, or the forecast's interval
    "upper": pl.Float64(),
    "score": pl.Float64(),  # signed distance from expected, in spreads: beyond ±threshold is unusual
    "basis": pl.String(),  # forecast | baseline
    "severity": pl.String(),  # warning | severe
    "cause": pl.String(),  # the likely cause where the data shows one, else null
    "detail": pl.String(),  # one sentence for a person
}
ALL = "all"
BASELINE_WEEKS = 6
MIN_WEEKS = 3  # fewer same weekdays than this: no baseline, so no verdict
THRESHOLD = 4.0
SEVERE = 8.0
Z80 = 1.2816  # the normal quantile of an 80% interval's upper edge
MAD_SCALE = 1.4826  # the MAD of a normal distribution times this is its standard deviation


@dataclass(frozen=True)
class Rules:
    threshold: float = THRESHOLD
    severe: float = SEVERE
    weeks: int = BASELINE_WEEKS
    min_weeks: int = MIN_WEEKS
    relative_floor: float = 0.1  # the spread is at least this share of the median


def weekday_baseline(
    history: pl.DataFrame,
    day: date,
    keys: Sequence[str],
    metrics: Sequence[str],
    counts: Sequence[str] = (),
    rules: Rules = Rules(),
    floors: Mapping[str, float] | None = None,
) -> pl.DataFrame:
    """Per `keys` and metric: the median (`expected`) and floored spread of the metric on
    the same weekday as `day` in the `rules.weeks` weeks before it, and how many such days
    there were (`weeks`). `history` has a `day` column, the keys and the metrics; days
    where a metric is null do not count. `counts` are the metrics floored by Poisson noise.
    Keys with fewer than `rules.min_weeks` such days are left out. `floors`: an absolute
    least spread per metric, for figures whose median can be zero (a count of rare
    events) or whose noise no share of the median describes (a time of day, a share)."""
    same_weekday = [day - timedelta(weeks=n) for n in range(1, rules.weeks + 1)]
    long = (
        history.filter(pl.col("day").is_in(same_weekday))
        .unpivot(index=["day", *keys], on=list(metrics), variable_name="metric", value_name="value")
        .with_columns(pl.col("value").cast(pl.Float64))
        .drop_nulls("value")
        .filter(pl.col("value").is_finite())
    )
    stats = long.group_by([*keys, "metric"]).agg(
        expected=pl.col("value").median(),
        mad=(pl.col("value") - pl.col("value").median()).abs().median(),
        weeks=pl.len(),
    )
    poisson = (
        pl.when(pl.col("metric").is_in(list(counts))).then(pl.col("expected").abs().sqrt()).otherwise(0.0)
    )
    absolute = pl.col("metric").replace_strict(dict(floors or {}), default=0.0, return_dtype=pl.Float64)
    spread = pl.max_horizontal(
        pl.col("mad") * MAD_SCALE,
        pl.col("expected").abs() * rules.relative_floor,
        poisson,
        absolute,
        pl.lit(1e-9),
    )
    return (
        stats.filter(pl.col("weeks") >= rules.min_weeks)
        .with_columns(spread=spread)
        .select(*keys, "metric", "expected", "spread", pl.col("weeks").cast(pl.Int64))
    )


def score_against_baseline(
    actual: pl.DataFrame, baseline: pl.DataFrame, keys: Sequence[str], rules: Rules = Rules()
) -> pl.DataFrame:
    """`actual` (keys and one column per metric, one row per key) joined to
    `weekday_baseline`'s rows: keys, metric, actual, expected, lower, upper, score,
    basis. Metrics with no baseline are left out."""
    metrics = [m for m in baseline["metric"].unique().to_list() if m in actual.columns]
    long = actual.unpivot(
        index=list(keys), on=metrics, variable_name="metric", value_name="actual"
    ).with_columns(pl.col("actual").cast(pl.Float64))
    return (
        long.join(baseline, on=[*keys, "metric"], how="inner")
        .with_columns(
            lower=pl.col("expected") - rules.threshold * pl.col("spread"),
            upper=pl.col("expected") + rules.threshold * pl.col("spread"),
            score=(pl.col("actual") - pl.col("expected")) / pl.col("spread"),
            basis=pl.lit("baseline"),
        )
        .select(*keys, "metric", "actual", "expected", "lower", "upper", "score", "basis")
    )


def score_against_forecast(actual: float, prediction: float, lower: float, upper: float) -> float:
    """A figure's distance from a forecast in spreads, like a baseline's score: the spread
    is the interval's half-width on the figure's side over Z80, as an 80% interval of a
    normal error spans ± Z80 of them. A zero-width side gives no measure (NaN)."""
    half = (upper - prediction) if actual >= prediction else (prediction - lower)
    if not half > 0:
        return 0.0 if actual == prediction else math.nan
    return (actual - prediction) / (half / Z80)


def flagged(scored: pl.DataFrame, rules: Rules = Rules()) -> pl.DataFrame:
    """The rows of a scored table that are unusual, with their severity; null, NaN and
    infinite scores are never flagged (no verdict without a measure)."""
    size = pl.col("score").abs()
    return scored.filter(pl.col("score").is_finite() & (size >= rules.threshold)).with_columns(
        severity=pl.when(size >= rules.severe).then(pl.lit("severe")).otherwise(pl.lit("warning"))
    )


def conform(frame: pl.DataFrame) -> pl.DataFrame:
    """Any anomaly rows in ANOMALY_SCHEMA's columns and order (missing ones null)."""
    return frame.select(
        [
            (pl.col(c) if c in frame.columns else pl.lit(None)).cast(t).alias(c)
            for c, t in ANOMALY_SCHEMA.items()
        ]
    )


def empty() -> pl.DataFrame:
    return pl.DataFrame(schema=ANOMALY_SCHEMA)


def describe(row: dict, label: str, where: str, unit: str = "") -> str:
    """One sentence, e.g. 'Revenue at booth jkt-1 was 120,000 against 900,000 expected from
    the same weekday in recent weeks: 87% below.'"""
    actual, expected = row["actual"], row["expected"]
    if expected:
        change = (actual - expected) / abs(expected) * 100
        how = f"{abs(change):.0f}% {'above' if change > 0 else 'below'}"
    else:
        how = "above" if actual > expected else "below"
    basis = "the forecast" if row["basis"] == "forecast" else "the same weekday in recent weeks"
    return f"{label} at {where} was {actual:,.0f}{unit} against {expected:,.0f}{unit} expected from {basis}: {how}."

"""The Bahela daily summary: per booth and in total, compared with the day before and
with the trailing seven days.

The stored summary (`SUMMARY_SCHEMA`) holds sums and counts only, so totals over booths
and averages over days are always recomputed from sums, never averaged twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import polars as pl

from pipelines.formatting import percent_change

SUMMARY_SCHEMA: dict[str, pl.DataType] = {
    "day": pl.Date(),
    "site": pl.String(),
    "sessions": pl.Int64(),
    "transactions": pl.Int64(),
    "unpaid_sessions": pl.Int64(),
    "paid_unfinished_sessions": pl.Int64(),
    "revenue_idr": pl.Int64(),
    "discount_idr": pl.Int64(),
    "discounted_transactions": pl.Int64(),
    "total_duration_seconds": pl.Float64(),
    "timed_transactions": pl.Int64(),  # transactions whose duration is known: the average's count
    "avg_duration_seconds": pl.Float64(),
    "copies": pl.Int64(),
    "retries": pl.Int64(),
    "images": pl.Int64(),
    "image_bytes": pl.Int64(),
    "image_pixels": pl.Int64(),
    "transactions_without_images": pl.Int64(),
}

# The summable columns: a total over booths or days is their sum.
SUMS = [c for c in SUMMARY_SCHEMA if c not in ("day", "site", "avg_duration_seconds")]

TRAILING_DAYS = 7


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    kind: str  # money | count | duration | bytes | pixels


# The figures a stakeholder reads first, in order.
HEADLINE = (
    Metric("revenue_idr", "Revenue", "money"),
    Metric("transactions", "Transactions", "count"),
    Metric("avg_duration_seconds", "Avg. session", "duration"),
    Metric("images", "Photos", "count"),
)
DETAIL = (
    Metric("sessions", "Sessions started", "count"),
    Metric("unpaid_sessions", "Left before paying", "count"),
    Metric("paid_unfinished_sessions", "Paid, not finished", "count"),
    Metric("discount_idr", "Discounts given", "money"),
    Metric("copies", "Prints", "count"),
    Metric("retries", "Retakes", "count"),
    Metric("image_bytes", "Photo storage", "bytes"),
    Metric("image_pixels", "Photo pixels", "pixels"),
)


def daily_summary(sessions: pl.DataFrame, sites: list[str], day: date) -> pl.DataFrame:
    """One row per booth for `day`; booths without a session get a row of zeros."""
    done = pl.col("status") == "completed"
    per_site = sessions.group_by("site").agg(
        sessions=pl.len(),
        transactions=done.sum(),
        unpaid_sessions=(pl.col("status") == "unpaid").sum(),
        paid_unfinished_sessions=(pl.col("status") == "paid_unfinished").sum(),
        revenue_idr=pl.col("amount_idr").filter(done).sum(),
        discount_idr=pl.col("discount_idr").filter(done).sum(),
        discounted_transactions=(done & (pl.col("discount_idr") > 0)).sum(),
        total_duration_seconds=pl.col("duration_seconds").filter(done).sum(),
        timed_transactions=(done & pl.col("duration_seconds").is_not_null()).sum(),
        copies=pl.col("copies").filter(done).sum(),
        retries=pl.col("retry_count").filter(done).sum(),
        images=pl.col("image_count").sum(),
        image_bytes=pl.col("image_bytes").sum(),
        image_pixels=pl.col("image_pixels").sum(),
        transactions_without_images=(done & (pl.col("image_count") == 0)).sum(),
    )
    all_sites = pl.DataFrame({"site": sorted(set(sites) | set(sessions["site"].to_list()))})
    return (
        all_sites.join(per_site, on="site", how="left")
        .with_columns(pl.col(SUMS).fill_null(0), day=pl.lit(day))
        .with_columns(_avg_duration())
        .select(list(SUMMARY_SCHEMA))
        .cast(SUMMARY_SCHEMA)
        .sort("site")
    )


def totals_by_day(summary: pl.DataFrame) -> pl.DataFrame:
    """All booths together, one row per day."""
    return (
        summary.group_by("day")
        .agg(pl.col(SUMS).sum())
        .with_columns(_avg_duration(), site=pl.lit("all booths"))
        .select(list(SUMMARY_SCHEMA))
        .cast(SUMMARY_SCHEMA)
        .sort("day")
    )


def _avg_duration() -> pl.Expr:
    timed = pl.col("timed_transactions")
    return pl.when(timed > 0).then(pl.col("total_duration_seconds") / timed).alias("avg_duration_seconds")


def from_storage(summary: pl.DataFrame) -> pl.DataFrame:
    """Stored summary rows in today's schema. Rows written before durations could be
    unknown have no `timed_transactions`: then every transaction had one."""
    if "timed_transactions" not in summary.columns:
        summary = summary.with_columns(timed_transactions=pl.col("transactions"))
    return summary.with_columns(pl.col("timed_transactions").fill_null(pl.col("transactions"))).cast(
        SUMMARY_SCHEMA
    )


@dataclass(frozen=True)
class Comparison:
    """One metric of one booth (or all booths) on the day, and what it compares with."""

    value: float | int | None
    previous_day: float | int | None
    trailing_average: float | None
    trailing_days: int = 0  # days of history the average is taken over (at most TRAILING_DAYS)

    @property
    def vs_previous_day(self) -> float | None:
        return percent_change(self.value, self.previous_day)

    @property
    def vs_trailing_average(self) -> float | None:
        return percent_change(self.value, self.trailing_average)

    def as_dict(self) -> dict:
        return {
            "value": self.value,
            "previous_day": self.previous_day,
            "change_vs_previous_day_pct": _round(self.vs_previous_day),
            "trailing_average": _round(self.trailing_average),
            "trailing_average_days": self.trailing_days,
            "change_vs_trailing_average_pct": _round(self.vs_trailing_average),
        }


def compare(today: pl.DataFrame, history: pl.DataFrame | None, day: date, metrics) -> dict:
    """`{site: {metric: Comparison}}` for every booth in `today` and for "all booths".

    `history` holds earlier summary rows (any days; only the seven before `day` count).
    A day with no row in history is missing (booth not yet installed, pipeline not yet
    run), not zero, so it does not drag the trailing average down.
    """
    window_start = day - timedelta(days=TRAILING_DAYS)
    past = from_storage(
        history.filter(pl.col("day").is_between(window_start, day - timedelta(days=1)))
        if history is not None and history.height
        else pl.DataFrame(schema=SUMMARY_SCHEMA)
    )
    frames = {
        "all booths": (totals_by_day(today), totals_by_day(past)),
        **{
            site: (today.filter(pl.col("site") == site), past.filter(pl.col("site") == site))
            for site in today["site"]
        },
    }
    result: dict[str, dict[str, Comparison]] = {}
    for site, (now, before) in frames.items():
        previous = before.filter(pl.col("day") == day - timedelta(days=1))
        result[site] = {
            m.key: Comparison(
                value=_value(now, m.key),
                previous_day=_value(previous, m.key),
                trailing_average=_trailing(before, m.key),
                trailing_days=before["day"].n_unique(),
            )
            for m in metrics
        }
    return result


def _value(frame: pl.DataFrame, key: str) -> float | int | None:
    if frame.height == 0:
        return None
    return frame[key][0]


def _trailing(frame: pl.DataFrame, key: str) -> float | None:
    if frame.height == 0:
        return None
    if key == "avg_duration_seconds":  # a mean of means would weigh quiet days like busy ones
        timed = frame["timed_transactions"].sum()
        return float(frame["total_duration_seconds"].sum() / timed) if timed else None
    mean = frame[key].mean()
    return None if mean is None else float(mean)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)

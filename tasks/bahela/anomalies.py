"""Bahela's unusual days: each booth's figures, and all booths' together, against what was
expected of the day, and the likely cause where the day's data shows one.

The figures are the business's (revenue, transactions, sessions started, average session
duration, photos) and the pipeline's own health: the share of session documents set
aside, photos without a session, completed sessions without photos, sessions left
before paying, and when the booth's last session started. The last three are there for
the causes: a booth whose sessions stop hours before it usually closes is offline;
most sessions left unpaid means payments are failing; sessions without photos, or photos
without sessions, mean uploads are broken.

Every figure of a past day is recomputed from what the warehouse stores (`daily_summary`,
and counts over `rejects` and `sessions`) by the same functions as today's, so the
baseline and the day are measured alike.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache

import polars as pl

from pipelines import formatting as fmt
from pipelines.settings import JAKARTA
from tasks.anomalies import (
    ALL,
    Rules,
    conform,
    empty,
    flagged,
    score_against_baseline,
    score_against_forecast,
    weekday_baseline,
)
from tasks.bahela.summary import SUMMARY_SCHEMA, SUMS, from_storage

BUSINESS = "bahela"

# A day's health figures per booth, as today's tables and the warehouse both give them.
HEALTH_SCHEMA: dict[str, pl.DataType] = {
    "day": pl.Date(),
    "site": pl.String(),
    "session_rejects": pl.Int64(),  # session documents set aside (rejected or duplicate)
    "orphan_photos": pl.Int64(),  # photos whose session code no document of the day has
    "last_started_at": pl.Datetime("us", "UTC"),  # the day's last session's start
}


@dataclass(frozen=True)
class Figure:
    label: str
    kind: str  # money | count | duration | share | time
    direction: str = "both"  # both | high | low: which way is unusual


FIGURES: dict[str, Figure] = {
    "revenue_idr": Figure("Revenue", "money"),
    "transactions": Figure("Transactions", "count"),
    "sessions": Figure("Sessions started", "count"),
    "avg_duration_seconds": Figure("Avg. session", "duration"),
    "images": Figure("Photos", "count"),
    # health: only the bad direction is news (fewer rejects than usual is not)
    "rejected_share": Figure("Share of session documents set aside", "share", "high"),
    "orphan_photos": Figure("Photos without a session", "count", "high"),
    "no_photo_share": Figure("Share of transactions without photos", "share", "high"),
    "unpaid_share": Figure("Share of sessions left before paying", "share", "high"),
    # hours from the last session's start to midnight, rather than its time of day: a
    # share of the median is no floor for a clock time (10% of 23:00 is 2.3 hours)
    "quiet_hours": Figure("Hours after the last session", "hours", "high"),
}
COUNTS = ("transactions", "sessions", "images", "orphan_photos")

OFFLINE = "booth offline"
PAYMENTS = "payments failing"
UPLOADS = "uploads broken"


@dataclass(frozen=True)
class BahelaRules:
    """Tuned on bench/anomalies.py (4 months, 5 booths, seed 7: every incident found, well
    under one false alarm per booth per month); see the bench's printout in the README."""

    # Threshold 4 spreads. Measured on the bench (seed 7), false alarms per booth per
    # month at 3: 1.7, at 3.5: 0.85, at 4: 0.25, at 5: 0.05, every incident found at
    # each. The injected incidents score 11 spreads and more; 4 rather than 5 keeps
    # room for milder real ones (a booth offline from late evening, a partial outage).
    rules: Rules = Rules(threshold=4.0, severe=8.0, weeks=6, min_weeks=3, relative_floor=0.1)
    # Least spreads, in each figure's unit. A quiet booth's counts: three sessions or
    # transactions, ten photos; revenue Rp 100,000 (about three sessions); half a minute
    # of average duration. Shares: five points, about the binomial noise of a share
    # near 25% over 60 sessions; set-aside share three points (normally ~1%, and one
    # or two documents of a quiet day already make 3-9%: at two points it flagged one
    # booth-day in the bench's four months). Photos without a session come in lumps: a few staff
    # test shots, or all 3-8 photos of one session whose document was set aside; with
    # a floor of two, 1 false alarm per booth per month came from these alone, so a
    # spread of six (one lost session's photos): flagged from about 24 above usual.
    # The last session's time: half an hour, so with the threshold of 4 a booth whose
    # sessions stop two hours or more before its usual last one is flagged.
    floors: Mapping[str, float] = field(
        default_factory=lambda: {
            "revenue_idr": 100_000.0,
            "transactions": 3.0,
            "sessions": 3.0,
            "images": 10.0,
            "avg_duration_seconds": 30.0,
            "rejected_share": 0.03,
            "orphan_photos": 6.0,
            "no_photo_share": 0.05,
            "unpaid_share": 0.05,
            "quiet_hours": 0.5,
        }
    )
    # A booth with no session all day is offline only where it usually has this many.
    min_sessions_for_offline: float = 5.0


RULES = BahelaRules()


# -- the day's figures ---------------------------------------------------------------------


def day_health(sessions: pl.DataFrame, rejects: pl.DataFrame, day: date) -> pl.DataFrame:
    """HEALTH_SCHEMA rows for one day from its tables (SESSIONS_SCHEMA, REJECTS_SCHEMA)."""
    last = sessions.group_by("site").agg(last_started_at=pl.col("app_started_at").max())
    counted = reject_counts(rejects).drop("day")
    return (
        last.join(counted, on="site", how="full", coalesce=True, nulls_equal=True)
        .with_columns(day=pl.lit(day))
        .pipe(_as_health)
    )


def reject_counts(rejects: pl.DataFrame) -> pl.DataFrame:
    """Per day and booth: session documents set aside and photos without a session."""
    return rejects.group_by("day", "site").agg(
        session_rejects=(pl.col("dataset") == "sessions").sum(),
        orphan_photos=(
            (pl.col("dataset") == "images") & pl.col("reason").str.contains("unknown session")
        ).sum(),
    )


# The warehouse's counterparts of `day_health`, aggregated where the data is: the same SQL
# on DuckDB and BigQuery (date literals, CASE rather than FILTER or COUNTIF).
def last_sessions_sql(table: str, first: date, last: date) -> str:
    return (
        f"select day, site, max(app_started_at) as last_started_at from {table} "
        f"where day between date '{first.isoformat()}' and date '{last.isoformat()}' group by day, site"
    )


def reject_counts_sql(table: str, first: date, last: date) -> str:
    return (
        "select day, site, "
        "sum(case when dataset = 'sessions' then 1 else 0 end) as session_rejects, "
        "sum(case when dataset = 'images' and reason like '%unknown session%' then 1 else 0 end) "
        "as orphan_photos "
        f"from {table} where day between date '{first.isoformat()}' and date '{last.isoformat()}' "
        "group by day, site"
    )


def stored_health(last_sessions: pl.DataFrame | None, rejects: pl.DataFrame | None) -> pl.DataFrame:
    """HEALTH_SCHEMA rows from the two queries' results (either may be missing)."""
    frames = []
    if last_sessions is not None and last_sessions.height:
        frames.append(last_sessions.select("day", "site", _utc(pl.col("last_started_at"), last_sessions)))
    if rejects is not None and rejects.height:
        frames.append(rejects.select("day", "site", "session_rejects", "orphan_photos"))
    if not frames:
        return pl.DataFrame(schema=HEALTH_SCHEMA)
    frames = [f.with_columns(pl.col("day").cast(pl.Date)) for f in frames]
    joined = frames[0]
    for other in frames[1:]:
        joined = joined.join(other, on=["day", "site"], how="full", coalesce=True, nulls_equal=True)
    return _as_health(joined)


def _utc(column: pl.Expr, frame: pl.DataFrame) -> pl.Expr:
    dtype = frame.schema["last_started_at"]
    if isinstance(dtype, pl.Datetime) and dtype.time_zone is None:  # stored naive, in UTC
        column = column.dt.replace_time_zone("UTC")
    return column.cast(pl.Datetime("us", "UTC")).alias("last_started_at")


def _as_health(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.select(
        [
            (pl.col(c) if c in frame.columns else pl.lit(None)).cast(t).alias(c)
            for c, t in HEALTH_SCHEMA.items()
        ]
    )


def figures(summary: pl.DataFrame, health: pl.DataFrame) -> pl.DataFrame:
    """One row per day and entity (each booth, and ALL): `day`, `entity` and a column per
    FIGURES key. Days are those of `summary` (a day the pipeline ran); a booth's health
    figures are zero where nothing was counted, and the last session null without one."""
    summary = from_storage(summary) if summary.height else pl.DataFrame(schema=SUMMARY_SCHEMA)
    health = health.filter(pl.col("day").is_in(summary["day"].unique().implode()))
    per_site = summary.join(health.filter(pl.col("site").is_not_null()), on=["day", "site"], how="left")
    # rows of no booth (a photo with no folder) count in the total only
    unplaced = (
        health.filter(pl.col("site").is_null())
        .group_by("day")
        .agg(pl.col("session_rejects", "orphan_photos").sum())
    )
    totals = (
        per_site.group_by("day")
        .agg(
            pl.col(SUMS).sum(),
            pl.col("session_rejects", "orphan_photos").sum(),
            pl.col("last_started_at").max(),
        )
        .join(unplaced, on="day", how="left", suffix="_unplaced")
        .with_columns(
            session_rejects=pl.col("session_rejects") + pl.col("session_rejects_unplaced").fill_null(0),
            orphan_photos=pl.col("orphan_photos") + pl.col("orphan_photos_unplaced").fill_null(0),
            site=pl.lit(ALL),
        )
    )
    both = pl.concat([per_site.select(_COLUMNS), totals.select(_COLUMNS)])
    rejected = pl.col("session_rejects").fill_null(0)
    return both.select(
        "day",
        entity="site",
        revenue_idr=pl.col("revenue_idr").cast(pl.Float64),
        transactions=pl.col("transactions").cast(pl.Float64),
        sessions=pl.col("sessions").cast(pl.Float64),
        avg_duration_seconds=_ratio(pl.col("total_duration_seconds"), pl.col("timed_transactions")),
        images=pl.col("images").cast(pl.Float64),
        rejected_share=_ratio(rejected, pl.col("sessions") + rejected),
        orphan_photos=pl.col("orphan_photos").fill_null(0).cast(pl.Float64),
        no_photo_share=_ratio(pl.col("transactions_without_images"), pl.col("transactions")),
        unpaid_share=_ratio(pl.col("unpaid_sessions"), pl.col("sessions")),
        quiet_hours=24 - _hours_into_day(),
    ).sort("day", "entity")


_COLUMNS = [*SUMS, "day", "site", "session_rejects", "orphan_photos", "last_started_at"]


def _ratio(part: pl.Expr, whole: pl.Expr) -> pl.Expr:
    return pl.when(whole > 0).then(part.cast(pl.Float64) / whole.cast(pl.Float64))


def _hours_into_day() -> pl.Expr:
    """The last session's start in hours after the day's local midnight (14:10 -> 14.17)."""
    midnight = (
        pl.col("day").cast(pl.Datetime("us")).dt.replace_time_zone(JAKARTA.key).dt.convert_time_zone("UTC")
    )
    return (pl.col("last_started_at") - midnight).dt.total_seconds() / 3600


# -- the verdict ---------------------------------------------------------------------------


def detect(
    today: pl.DataFrame,
    history: pl.DataFrame,
    day: date,
    forecasts: pl.DataFrame | None = None,
    rules: BahelaRules = RULES,
) -> pl.DataFrame:
    """The day's anomalies (ANOMALY_SCHEMA), most severe first. `today` and `history` are
    `figures` frames; `forecasts` has `target`, `day`, `prediction`, `lower`, `upper`
    (the weekly flow's table) and, where forecasts are per booth, `site` (null: all)."""
    today = today.filter(pl.col("day") == day)
    if today.height == 0:
        return empty()
    metrics = list(FIGURES)
    baseline = weekday_baseline(
        history.filter(pl.col("day") < day),
        reference_day(day),
        ["entity"],
        metrics,
        counts=COUNTS,
        rules=rules.rules,
        floors=rules.floors,
    )
    scored = score_against_baseline(today.select("entity", *metrics), baseline, ["entity"], rules.rules)
    scored = _with_forecasts(scored, today, forecasts, day, rules)
    unusual = flagged(scored, rules.rules).filter(_in_bad_direction())
    # A booth with no session at all where it usually has some is news, even when recent
    # weeks were so irregular (a closed day, an incident) that zero is within the spread.
    silent = scored.filter(
        (pl.col("metric") == "sessions")
        & (pl.col("actual") == 0)
        & (pl.col("expected") >= rules.min_sessions_for_offline)
    ).join(unusual, on=["entity", "metric"], how="anti")
    unusual = pl.concat([unusual, silent.with_columns(severity=pl.lit("severe"))])
    # a booth closed all day has no last session to compare: its empty day speaks
    unusual = unusual.join(
        baseline.filter(pl.col("metric") == "sessions").select("entity", usual_sessions="expected"),
        on="entity",
        how="left",
    )
    causes = _causes(unusual, today, rules)
    rows = (
        unusual.join(causes, on="entity", how="left")
        .with_columns(
            severity=pl.when(pl.col("cause").str.starts_with(OFFLINE))
            .then(pl.lit("severe"))
            .otherwise(pl.col("severity")),
        )
        .with_columns(business=pl.lit(BUSINESS), day=pl.lit(day))
    )
    rows = _explain_totals(rows)
    rows = rows.with_columns(
        detail=pl.Series([_sentence(r) for r in rows.iter_rows(named=True)], dtype=pl.String)
    )
    return conform(
        rows.sort(
            pl.col("severity") == "severe",
            pl.col("entity") == ALL,
            pl.col("score").abs(),
            descending=True,
        )
    )


def reference_day(day: date) -> date:
    """The day whose weekday `day` is compared with: itself, but a public holiday on a
    weekday fills the cafés like a Saturday, so it is compared with Saturdays (that
    week's: every one of the baseline's weeks back from it is still before `day`)."""
    if day.weekday() < 5 and day in _holidays(day.year):
        return day + timedelta(days=5 - day.weekday())
    return day


@lru_cache(maxsize=8)
def _holidays(year: int) -> frozenset[date]:
    import holidays

    return frozenset(holidays.Indonesia(years=year))


def _in_bad_direction() -> pl.Expr:
    high = [k for k, f in FIGURES.items() if f.direction == "high"]
    low = [k for k, f in FIGURES.items() if f.direction == "low"]
    return (
        pl.when(pl.col("metric").is_in(high))
        .then(pl.col("score") > 0)
        .when(pl.col("metric").is_in(low))
        .then(pl.col("score") < 0)
        .otherwise(True)
    )


def _with_forecasts(
    scored: pl.DataFrame,
    today: pl.DataFrame,
    forecasts: pl.DataFrame | None,
    day: date,
    rules: BahelaRules = RULES,
) -> pl.DataFrame:
    """Baseline rows replaced, where the weekly model forecast the day, by the forecast:
    its prediction, its 80% interval as the band, its score. The spread read from the
    interval has the baseline's floors: a forest's trees can agree far more closely
    than a day's figures ever do, and a razor-thin interval must not flag noise."""
    if forecasts is None or forecasts.height == 0:
        return scored
    of_day = forecasts.filter(pl.col("day").cast(pl.Date) == day)
    if "week_ending" in of_day.columns:  # a re-forecast week: the newest word on the day
        of_day = of_day.sort("week_ending", descending=True).unique(
            [c for c in ("site", "target") if c in of_day.columns], keep="first"
        )
    site = pl.col("site") if "site" in of_day.columns else pl.lit(None, pl.String)
    rows = []
    actuals = {r["entity"]: r for r in today.iter_rows(named=True)}
    for f in of_day.with_columns(entity=pl.coalesce(site, pl.lit(ALL))).iter_rows(named=True):
        actual = actuals.get(f["entity"], {}).get(f["target"])
        values = (actual, f["prediction"], f["lower"], f["upper"])
        if f["target"] not in FIGURES or any(v is None for v in values):
            continue
        score = score_against_forecast(*(float(v) for v in values))
        miss = float(actual) - float(f["prediction"])
        if math.isfinite(score) and score != 0:
            floor = max(
                rules.floors.get(f["target"], 0.0),
                rules.rules.relative_floor * abs(float(f["prediction"])),
                math.sqrt(abs(float(f["prediction"]))) if f["target"] in COUNTS else 0.0,
            )
            score = miss / max(miss / score, floor)
        rows.append(
            {
                "entity": f["entity"],
                "metric": f["target"],
                "actual": float(actual),
                "expected": float(f["prediction"]),
                "lower": float(f["lower"]),
                "upper": float(f["upper"]),
                "score": score,
                "basis": "forecast",
            }
        )
    if not rows:
        return scored
    by_forecast = pl.DataFrame(rows, schema=scored.schema)
    return pl.concat([scored.join(by_forecast, on=["entity", "metric"], how="anti"), by_forecast])


def _causes(unusual: pl.DataFrame, today: pl.DataFrame, rules: BahelaRules) -> pl.DataFrame:
    """Per entity with an unusual figure: the likely cause and its sentence, where the
    figures show one; the first that applies of offline, payments, uploads."""
    found = []
    for entity in unusual["entity"].unique().to_list():
        rows = {r["metric"]: r for r in unusual.filter(pl.col("entity") == entity).iter_rows(named=True)}
        day = today.filter(pl.col("entity") == entity).row(0, named=True)
        where = _where(entity)
        sessions = day["sessions"] or 0
        usual = next(iter(rows.values()))["usual_sessions"]
        if "quiet_hours" in rows:
            row = rows["quiet_hours"]
            since = _clock(24 - row["actual"])
            found.append(
                (
                    entity,
                    f"{OFFLINE} since {since}",
                    f"Probably offline since {since}: no session at {where} started after {since}, "
                    f"when its last one usually starts around {_clock(24 - row['expected'])}.",
                )
            )
        elif sessions == 0 and usual is not None and usual >= rules.min_sessions_for_offline:
            found.append(
                (
                    entity,
                    f"{OFFLINE} all day",
                    f"Probably offline all day: no session at {where}, where about {usual:,.0f} is usual.",
                )
            )
        elif "unpaid_share" in rows:
            share = rows["unpaid_share"]
            found.append(
                (
                    entity,
                    PAYMENTS,
                    f"Payments are probably failing: {share['actual']:.0%} of sessions at {where} were "
                    f"left before paying, against {share['expected']:.0%} usually.",
                )
            )
        elif "no_photo_share" in rows or "orphan_photos" in rows:
            parts = []
            if "no_photo_share" in rows:
                parts.append(f"{rows['no_photo_share']['actual']:.0%} of transactions have no photo")
            if "orphan_photos" in rows:
                parts.append(f"{rows['orphan_photos']['actual']:,.0f} photos belong to no session")
            found.append(
                (entity, UPLOADS, f"Photo uploads are probably broken at {where}: {' and '.join(parts)}.")
            )
    return pl.DataFrame(
        found, schema={"entity": pl.String, "cause": pl.String, "why": pl.String}, orient="row"
    )


def _explain_totals(rows: pl.DataFrame) -> pl.DataFrame:
    """All booths' unusual figures without a cause of their own take their booths' causes:
    one booth offline is why the total dropped."""
    booths = rows.filter((pl.col("entity") != ALL) & pl.col("cause").is_not_null())
    if booths.height == 0:
        return rows
    pairs = booths.select("entity", "cause").unique().sort("entity")
    cause = "; ".join(f"{e}: {c}" for e, c in pairs.iter_rows())
    why = " ".join(booths.unique("entity", keep="first").sort("entity")["why"].to_list())
    own = pl.col("cause").is_null() & (pl.col("entity") == ALL)
    return rows.with_columns(
        cause=pl.when(own).then(pl.lit(cause)).otherwise(pl.col("cause")),
        why=pl.when(own).then(pl.lit(why)).otherwise(pl.col("why")),
    )


def _where(entity: str) -> str:
    return "all booths" if entity == ALL else f"booth {entity}"


def _clock(hours: float | None) -> str:
    if hours is None:
        return "–"
    minutes = round(hours * 60)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def display(metric: str, value: float | None) -> str:
    """A figure as a person reads it: Rp 1.234.000, 56, 6m 10s, 85%, 9.8 h."""
    if value is None:
        return "–"
    kind = FIGURES[metric].kind if metric in FIGURES else "count"
    if kind == "money":
        return fmt.rupiah(value)
    if kind == "duration":
        return fmt.duration(value)
    if kind == "share":
        return f"{value:.0%}"
    if kind == "hours":
        return f"{value:.1f} h"
    return fmt.count(round(value))


def _sentence(row: dict) -> str:
    """'Revenue at booth kemang was Rp 120.000 against Rp 2.100.000 expected from the same
    weekday in recent weeks (4.1 spreads below).' and the likely cause's sentence."""
    metric, actual, expected = row["metric"], row["actual"], row["expected"]
    label = FIGURES[metric].label if metric in FIGURES else metric
    basis = "the forecast" if row["basis"] == "forecast" else "the same weekday in recent weeks"
    how = "above" if actual > expected else "below"
    text = (
        f"{label} at {_where(row['entity'])} was {display(metric, actual)} against "
        f"{display(metric, expected)} expected from {basis} ({abs(row['score']):.1f} spreads {how})."
    )
    return f"{text} {row['why']}" if row.get("why") else text


def by_cause(anomalies: pl.DataFrame) -> list[dict]:
    """One entry per entity and cause, for the mail, Slack and the run's result: the
    cause (or the figure) and the metrics it moved, most severe first."""
    out = []
    for (entity, cause), group in anomalies.group_by(["entity", "cause"], maintain_order=True):
        if entity == ALL and cause and ": " in cause:  # its booths' causes, listed on their own
            continue
        first = group.row(0, named=True)
        out.append(
            {
                "entity": entity,
                "severity": "severe" if (group["severity"] == "severe").any() else "warning",
                "cause": cause,
                "metrics": group["metric"].to_list(),
                "headline": headline(first),
                "detail": first["detail"],
            }
        )
    return out


def headline(row: dict) -> str:
    """A few words: 'senopati: booth offline since 14:10' or 'all booths: Revenue 45% below
    expected'."""
    where = "all booths" if row["entity"] == ALL else row["entity"]
    if row["cause"]:
        return f"{where}: {row['cause']}"
    label = FIGURES[row["metric"]].label if row["metric"] in FIGURES else row["metric"]
    if row["expected"]:
        change = (row["actual"] - row["expected"]) / abs(row["expected"]) * 100
        return f"{where}: {label} {abs(change):.0f}% {'above' if change > 0 else 'below'} expected"
    return f"{where}: {label} {display(row['metric'], row['actual'])} (expected {display(row['metric'], 0)})"

"""The Bahela weekly report's interactive copy: one self-contained HTML file (Vega-Lite
through Altair, Vega's JavaScript inlined) that opens from `file://` with no network. The
mail keeps its static chart (mail clients run no scripts); this is the browser's copy.

    html = render_weekly_interactive(summary, week_ending, forecasts, anomalies)

For each forecast target (revenue, transactions, average session duration, photos): the
daily history, next week's forecast with its 80% interval band beside it, the days flagged
as unusual (red rules, the detail in the tooltip), and a table under the chart. Filters:
the date range and the booth. The page carries the stored summary's sums per day and booth
and recomputes every figure from them for the filters (the average duration as total
duration over timed transactions, never an average of averages).

The forecast of all booths has its interval; a single booth's forecast (`by_booth`) has
none, so with a booth picked the band is absent and the page says so.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta

import altair as alt
import polars as pl

from pipelines.interactive_page import (
    ALL,
    Column,
    Control,
    Page,
    Panel,
    anomaly_layer,
    anomaly_rows,
    epoch_ms,
    records,
    render_page,
)
from tasks.anomalies import ALL as ALL_ENTITIES
from tasks.bahela.forecast import TARGETS
from tasks.bahela.metrics import complete_days
from tasks.bahela.summary import SUMMARY_SCHEMA, from_storage

FILTERS = ("from_day", "to_day", "booth")
HISTORY_COLUMNS = ("revenue_idr", "transactions", "images", "total_duration_seconds", "timed_transactions")
FORMATS = {"revenue_idr": "idr", "transactions": "int", "avg_duration_seconds": "duration", "images": "int"}
TIP_FORMATS = {"revenue_idr": ",.0f", "transactions": ",d", "avg_duration_seconds": ",.1f", "images": ",d"}
UNITS = {
    "revenue_idr": "Rupiah",
    "transactions": "Transactions",
    "avg_duration_seconds": "Seconds",
    "images": "Photos",
}
HISTORY = "#374151"
FORECAST = "#d97706"
WIDTH = 860


def history_records(summary: pl.DataFrame, week_ending: date) -> list[dict]:
    """The summary's sums per day and booth up to `week_ending` (every day between a booth's
    first and last, as the weekly metrics count them)."""
    summary = from_storage(summary).filter(pl.col("day") <= week_ending)
    if summary.height == 0:
        return []
    filled = complete_days(summary, summary["day"].min(), week_ending)
    frame = filled.select(
        "day",
        pl.col("site").alias("booth"),
        *[pl.col(c).cast(pl.Float64 if "duration" in c else pl.Int64) for c in HISTORY_COLUMNS],
    ).with_columns(t=epoch_ms("day"), day=pl.col("day").cast(pl.String))
    return records(frame.sort("day", "booth"))


def forecast_records(forecasts: dict | None) -> list[dict]:
    """Next week per target: all booths with the 80% interval (`booth` = ALL), and each
    booth's own prediction (no interval). Reads only `days`, `prediction`, `lower`, `upper`
    and `by_booth` of each `TargetForecast`."""
    rows = []
    for target, f in (forecasts or {}).items():
        for i, day in enumerate(f.days):
            base = {"target": target, "day": day.isoformat(), "t": _ms(day)}
            rows.append(
                {
                    **base,
                    "booth": ALL,
                    "prediction": _num(f.prediction[i]),
                    "lower": _num(f.lower[i]),
                    "upper": _num(f.upper[i]),
                }
            )
            for booth, values in (f.by_booth or {}).items():
                rows.append(
                    {**base, "booth": booth, "prediction": _num(values[i]), "lower": None, "upper": None}
                )
    return rows


def anomaly_records(anomalies: pl.DataFrame | None) -> list[dict]:
    """Flagged days (tasks/anomalies.py ANOMALY_SCHEMA), Bahela's only, each with the
    `booth` the filter compares (ALL for all booths together)."""
    if anomalies is None or anomalies.height == 0:
        return []
    if "business" in anomalies.columns:
        anomalies = anomalies.filter(pl.col("business").is_null() | (pl.col("business") == "bahela"))
    return anomaly_rows(anomalies, lambda entity: ALL if entity in (None, ALL_ENTITIES) else entity, "booth")


def _in_range() -> str:
    return "datum.day >= from_day && datum.day <= to_day"


def _x() -> alt.X:
    return alt.X(
        "t:T",
        title=None,
        timeUnit="utcyearmonthdate",
        scale=alt.Scale(type="utc"),
        axis=alt.Axis(format="%d %b"),
    )


def target_panel(target: str, label: str, defaults: dict[str, str]) -> Panel:
    params = [alt.param(name=name, value=defaults[name]) for name in FILTERS]
    value_format = TIP_FORMATS[target]
    # a forecast of a count is a fraction: show it, not a rounded count
    predicted_format = ",.1f" if value_format == ",d" else value_format
    sums = [alt.AggregatedFieldDef(op="sum", field=c, **{"as": c}) for c in HISTORY_COLUMNS]
    actual = (
        alt.Chart(alt.NamedData("history"))
        .transform_filter(f"{_in_range()} && (booth == '{ALL}' || datum.booth == booth)")
        .transform_aggregate(sums, groupby=["day", "t"])
        .transform_calculate(
            avg_duration_seconds="datum.timed_transactions > 0 ? datum.total_duration_seconds / datum.timed_transactions : null",
            actual="datum.avg_duration_seconds" if target == "avg_duration_seconds" else f"datum.{target}",
        )
        .mark_line(color=HISTORY, strokeWidth=1.5, point=alt.OverlayMarkDef(color=HISTORY, size=18))
        .encode(
            x=_x(),
            y=alt.Y("actual:Q", title=UNITS[target], scale=alt.Scale(zero=False)),
            tooltip=[
                alt.Tooltip("day:N", title="Day"),
                alt.Tooltip("actual:Q", title=label, format=value_format),
            ],
        )
        .properties(name=f"{target}_actual")
    )
    forecast = alt.Chart(alt.NamedData("forecasts")).transform_filter(
        f"datum.target == '{target}' && datum.booth == booth"
    )
    tips = [
        alt.Tooltip("day:N", title="Day"),
        alt.Tooltip("prediction:Q", title="Forecast", format=predicted_format),
        alt.Tooltip("lower:Q", title="80% interval, low", format=predicted_format),
        alt.Tooltip("upper:Q", title="80% interval, high", format=predicted_format),
    ]
    band = (
        forecast.transform_filter("isValid(datum.lower) && isValid(datum.upper)")
        .mark_area(color=FORECAST, opacity=0.2)
        .encode(x=_x(), y="lower:Q", y2="upper:Q", tooltip=tips)
        .properties(name=f"{target}_band")
    )
    predicted = (
        forecast.mark_line(
            color=FORECAST, strokeDash=[6, 3], strokeWidth=2, point=alt.OverlayMarkDef(color=FORECAST)
        )
        .encode(x=_x(), y="prediction:Q", tooltip=tips)
        .properties(name=f"{target}_forecast")
    )
    # a flag on another metric (a booth offline, failing uploads) concerns every chart
    others = " && ".join(f"datum.metric != '{t}'" for t in TARGETS)
    flagged = anomaly_layer(
        f"{_in_range()} && (booth == '{ALL}' || datum.booth == booth) && (datum.metric == '{target}' || ({others}))",
        entity_title="Booth",
        entity_field="booth",
        name=f"{target}_anomalies",
    )
    chart = (
        alt.layer(band, actual, predicted, *flagged).add_params(*params).properties(width=WIDTH, height=220)
    )
    fmt = FORMATS[target]
    predicted_fmt = "number" if fmt == "int" else fmt
    return Panel(
        target,
        label,
        "Daily history (grey), next week's forecast (amber, dashed) with its 80% interval (band; "
        "all booths only), days flagged as unusual as red rules: hover for the numbers.",
        chart,
        (f"{target}_actual", f"{target}_forecast", f"{target}_band"),
        (
            Column("day", "Day", "day"),
            Column("actual", "Actual", fmt),
            Column("prediction", "Forecast", predicted_fmt),
            Column("lower", "80% low", predicted_fmt),
            Column("upper", "80% high", predicted_fmt),
        ),
        sort="day",
        descending=True,
    )


def render_weekly_interactive(
    summary: pl.DataFrame | None,
    week_ending: date,
    forecasts: dict | None = None,
    anomalies: pl.DataFrame | None = None,
    generated_at: datetime | None = None,
) -> str:
    """The page. `summary`: the stored daily summary (SUMMARY_SCHEMA, one row per day and
    booth); `forecasts`: the weekly run's {target: TargetForecast}, or None; `anomalies`:
    rows in ANOMALY_SCHEMA, or None."""
    generated_at = generated_at or datetime.now().astimezone()
    summary = summary if summary is not None else pl.DataFrame(schema=SUMMARY_SCHEMA)
    history = history_records(summary, week_ending)
    days = sorted({row["day"] for row in history})
    first, last = (days[0], days[-1]) if days else ("", "")
    booths = sorted({row["booth"] for row in history})
    week_start = (week_ending - timedelta(days=6)).isoformat()
    # the report's week and the three before it: enough to read the forecast against
    default_from = max(first, (week_ending - timedelta(days=27)).isoformat()) if first else ""
    defaults = {"from_day": default_from, "to_day": last, "booth": ALL}
    controls = (
        Control("from_day", "From", "date", default_from, bounds=(first, last)),
        Control("to_day", "To", "date", last, bounds=(first, last)),
        Control("booth", "Booth", "select", ALL, ((ALL, "All booths"), *((b, b) for b in booths))),
    )
    flagged = anomaly_records(anomalies)
    notes = [
        "Pick a date range or a booth: every chart and table follows. The forecast's 80% interval "
        "is for all booths together; a single booth's forecast has none. This file opens offline.",
        f"The report's week: {week_start} to {week_ending.isoformat()}." if days else "No history yet.",
        f"{len(flagged)} unusual days flagged (red rules)." if flagged else "",
        "" if forecasts else "No forecast this week: the history is too short.",
    ]
    page = Page(
        title=f"Bahela weekly report, week ending {week_ending:%-d %b %Y}, interactive",
        subtitle=f"History {first} to {last}; generated {generated_at:%-d %b %Y %H:%M %Z}."
        if days
        else f"Generated {generated_at:%-d %b %Y %H:%M %Z}.",
        notes=tuple(n for n in notes if n),
        controls=controls,
        panels=tuple(target_panel(target, label, defaults) for target, label in TARGETS.items()),
        datasets={"history": history, "forecasts": forecast_records(forecasts), "anomalies": flagged},
    )
    return render_page(page)


async def weekly_interactive_html(
    summary: pl.DataFrame | None, week_ending: date, forecasts: dict | None, anomalies: pl.DataFrame | None
) -> str:
    return await asyncio.to_thread(render_weekly_interactive, summary, week_ending, forecasts, anomalies)


def _ms(day: date) -> int:
    return (day - date(1970, 1, 1)).days * 86_400_000  # the day's UTC midnight


def _num(value) -> float | None:
    if value is None:
        return None
    value = float(value)
    return None if value != value else round(value, 4)


def interactive_name(week_ending: date) -> str:
    """The file's name in reports/, beside the static `bahela-weekly-<week>.html`."""
    return f"bahela-weekly-{week_ending.isoformat()}-interactive.html"

"""The Glamira dashboard as one interactive, self-contained HTML file: Vega-Lite charts
(built with Altair, Vega's JavaScript inlined from vl-convert) that open from `file://`
with no network, beside the static page of `tasks/glamira/dashboard.py`, which mails and
artifacts keep (mail clients run no scripts).

    cube = await cube_data(warehouse)                 # one query on the marts
    html = render_interactive(cube, anomalies, generated_at=now)

The page carries one fine-grained data set, the cube: date_day × store × buyer's country
× device type → orders, priced orders, lines, units, revenue_usd, and the events of the
funnel's steps. Every chart filters that cube by the page's controls (date range, store,
country, device) and aggregates it again (`transform_filter` + `transform_aggregate`),
so a filter changes every chart's numbers. Definitions are the static dashboard's
(revenue is `sum(line_total_usd)`, unsupported prices left out; country is the buyer's,
"Unknown" when the IP has no location), with two things to know:

- orders are summed over the cube's cells: an order is one checkout, so its lines share
  one day, store, location and device, and the sum equals `count(distinct order_key)`;
- `fct_daily_events` has no country: event rows carry none, and the country filter does
  not apply to events (the page says so on the charts that show them).

Size: the cube's rows are the combinations that occur, at most days × stores × countries
× devices. Countries beyond the `TOP_COUNTRIES` largest by revenue are summed as "Other"
(the page says so), fewer when the cube would still exceed `MAX_ROWS` rows; the cube
travels column by column with its text dictionary-encoded (a row costs ~60 bytes), and
the page's script expands it.

Tables under the charts are HTML, filled by a small inline script from the items the
chart drew (the marks' data in Vega's scenegraph), so a table always shows the chart's
numbers. The script exposes `window.dashboard` (the Vega views, the current filters, and
`pending`, a promise of the last update) for tests and debugging.

The page's machinery (controls, panels, tables, the script) is pipelines/interactive_page.py,
shared with the Bahela weekly report's interactive copy (tasks/bahela/interactive.py).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime

import altair as alt
import polars as pl

from pipelines.interactive_page import (
    ALL,
    WIDTH,
    Column,
    Control,
    Page,
    Panel,
    anomaly_layer,
    anomaly_rows,
    day_x,
    epoch_ms,
    render_page,
)
from tasks.anomalies import ALL as ALL_ENTITIES
from tasks.glamira.dashboard import FUNNEL, SCHEMA, UNKNOWN

OTHER = "Other"
TOP_COUNTRIES = 12
MAX_ROWS = 200_000  # ~12 MB of page; beyond it, fewer countries are kept apart from "Other"
NO_COUNTRY = None  # event rows: fct_daily_events has no country

CUBE_SCHEMA = {
    "date_day": pl.Date(),
    "store": pl.String(),  # the store's domain
    "store_id": pl.String(),
    "store_key": pl.String(),  # the anomalies name a store by its key (or id)
    "country": pl.String(),  # null on event rows
    "device_type": pl.String(),
    "orders": pl.Int64(),
    "priced_orders": pl.Int64(),
    "lines": pl.Int64(),
    "units": pl.Int64(),
    "revenue_usd": pl.Float64(),
    "events": pl.Int64(),
    **{column: pl.Int64() for column, _, _ in FUNNEL},
}
_MEASURES = [
    name
    for name in CUBE_SCHEMA
    if name not in ("date_day", "store", "store_id", "store_key", "country", "device_type")
]
_SALES = ("orders", "priced_orders", "lines", "units", "revenue_usd")
_EVENTS = ("events", *(column for column, _, _ in FUNNEL))

REVENUE = "#1d4ed8"
COUNT = "#d97706"
BAND = "#f59e0b"


def cube_query(warehouse) -> str:
    """The cube in standard SQL, for DuckDB and BigQuery alike: the sales lines per day,
    store, buyer's country and device, and the events per day, store and device (no
    country), one `union all`."""
    t = {
        name: warehouse.table_ref(SCHEMA, name)
        for name in ("fct_sales_order_line", "fct_daily_events", "dim_store", "dim_location", "dim_device")
    }
    located = (
        "(l.ip_kind is null or l.ip_kind = 'public') and length(l.country_code) = 2 "
        "and nullif(trim(l.country_name), '') is not null"
    )
    no_events = ",\n  ".join(f"0 as {column}" for column in _EVENTS)
    no_sales = "0 as orders, 0 as priced_orders, 0 as lines, 0 as units, 0.0 as revenue_usd"
    steps = ",\n  ".join(
        f"coalesce(sum(case when v.collection = '{collection}' then v.events end), 0) as {column}"
        for column, collection, _ in FUNNEL
    )
    return f"""
select
  c.date_day, c.store, c.store_id, c.store_key, c.country, c.device_type,
  count(distinct c.order_key) as orders,
  count(distinct case when c.line_total_usd is not null then c.order_key end) as priced_orders,
  count(*) as lines,
  coalesce(sum(c.quantity), 0) as units,
  coalesce(sum(c.line_total_usd), 0) as revenue_usd,
  {no_events}
from (
  select
    f.date_day,
    coalesce(s.domain, '{UNKNOWN}') as store,
    s.store_id,
    f.store_key,
    case when {located} then l.country_name else '{UNKNOWN}' end as country,
    coalesce(d.device_type, 'unknown') as device_type,
    f.order_key,
    f.quantity,
    f.line_total_usd
  from {t["fct_sales_order_line"]} as f
  left join {t["dim_store"]} as s on s.store_key = f.store_key
  left join {t["dim_location"]} as l on l.location_key = f.location_key
  left join {t["dim_device"]} as d on d.device_key = f.device_key
) as c
group by c.date_day, c.store, c.store_id, c.store_key, c.country, c.device_type
union all
select
  v.date_day, v.store, v.store_id, v.store_key, cast(null as string) as country, v.device_type,
  {no_sales},
  coalesce(sum(v.events), 0) as events,
  {steps}
from (
  select
    e.date_day,
    coalesce(s.domain, '{UNKNOWN}') as store,
    s.store_id,
    e.store_key,
    coalesce(e.device_type, 'unknown') as device_type,
    e.collection,
    e.events
  from {t["fct_daily_events"]} as e
  left join {t["dim_store"]} as s on s.store_key = e.store_key
) as v
group by v.date_day, v.store, v.store_id, v.store_key, v.device_type"""


async def cube_data(warehouse, top_countries: int = TOP_COUNTRIES, max_rows: int = MAX_ROWS) -> pl.DataFrame:
    """The cube (`CUBE_SCHEMA`), countries beyond the `top_countries` largest by revenue
    summed as "Other"."""
    return fit_cube(conform_cube(await warehouse.query(cube_query(warehouse))), top_countries, max_rows)


def fit_cube(
    cube: pl.DataFrame, top_countries: int = TOP_COUNTRIES, max_rows: int = MAX_ROWS
) -> pl.DataFrame:
    """`cap_countries`, halving the countries kept until the cube has at most `max_rows`
    rows or none is kept (days × stores × devices is then what it is)."""
    capped = cap_countries(cube, top_countries)
    while capped.height > max_rows and top_countries > 0:
        top_countries //= 2
        capped = cap_countries(cube, top_countries)
    return capped


def kept_countries(cube: pl.DataFrame) -> int | None:
    """How many countries the cube keeps apart from "Other", or None when none was summed."""
    countries = set(cube["country"].drop_nulls().to_list())
    return len(countries - {OTHER, UNKNOWN}) if OTHER in countries else None


def conform_cube(frame: pl.DataFrame) -> pl.DataFrame:
    """The query's answer in `CUBE_SCHEMA`, whatever types the engine returned (DuckDB sums
    integers to 128-bit decimals, BigQuery to INT64)."""
    if frame.height == 0:
        return pl.DataFrame(schema=CUBE_SCHEMA)
    return frame.select([pl.col(name).cast(dtype) for name, dtype in CUBE_SCHEMA.items()])


def cap_countries(cube: pl.DataFrame, top: int = TOP_COUNTRIES) -> pl.DataFrame:
    """Countries beyond the `top` largest by revenue become "Other" (Unknown stays itself:
    it says something different), and the cells are summed again."""
    ranked = (
        cube.filter(pl.col("country").is_not_null() & (pl.col("country") != UNKNOWN))
        .group_by("country")
        .agg(pl.col("revenue_usd").sum(), pl.col("orders").sum())
        .sort(["revenue_usd", "orders", "country"], descending=[True, True, False])
    )
    if ranked.height <= top:
        return cube.sort("date_day", "store", "country", "device_type", nulls_last=True)
    kept = [*ranked["country"].head(top).to_list(), UNKNOWN]
    country = (
        pl.when(pl.col("country").is_null() | pl.col("country").is_in(kept))
        .then(pl.col("country"))
        .otherwise(pl.lit(OTHER))
    )
    keys = ["date_day", "store", "store_id", "store_key", "country", "device_type"]
    return (
        cube.with_columns(country=country)
        .group_by(keys)
        .agg(pl.col(_MEASURES).sum())
        .select(list(CUBE_SCHEMA))
        .cast(CUBE_SCHEMA)
        .sort("date_day", "store", "country", "device_type", nulls_last=True)
    )


def cube_frame(cube: pl.DataFrame) -> pl.DataFrame:
    """The cube as the page holds it: `day` an ISO date (the filters compare it as text),
    `t` its UTC midnight in milliseconds (the time axes)."""
    return cube.rename({"date_day": "day"}).with_columns(t=epoch_ms("day"), day=pl.col("day").cast(pl.String))


def anomaly_records(
    anomalies: pl.DataFrame | None, cube: pl.DataFrame, business: str = "glamira"
) -> list[dict]:
    """Flagged days (tasks/anomalies.py ANOMALY_SCHEMA) as the page's rows, each with the
    `store` the filter compares (the domain for a store's key or id, `ALL` for all stores)."""
    if anomalies is None or anomalies.height == 0:
        return []
    if "business" in anomalies.columns:
        anomalies = anomalies.filter(pl.col("business").is_null() | (pl.col("business") == business))
    domains = {
        name: domain
        for column in ("store_id", "store_key")
        for name, domain in cube.select(column, "store").unique().drop_nulls(column).iter_rows()
    }
    return anomaly_rows(
        anomalies,
        lambda entity: ALL if entity in (None, ALL_ENTITIES) else domains.get(entity, entity),
        "store",
    )


# -- the charts -------------------------------------------------------------------------

GLAMIRA_FILTERS = ("from_day", "to_day", "store", "country", "device")


def _glamira_filter(events: bool = False) -> str:
    """One Vega expression over the page's filters; event rows have no country, so the
    country filter keeps them."""
    country = "datum.country == country" + (" || datum.country === null" if events else "")
    return (
        "datum.day >= from_day && datum.day <= to_day"
        f" && (store == '{ALL}' || datum.store == store)"
        f" && (country == '{ALL}' || {country})"
        f" && (device == '{ALL}' || datum.device_type == device)"
    )


def _sales_only() -> str:
    return "datum.country !== null"


def _params(names: Sequence[str], defaults: dict[str, str]) -> list[alt.Parameter]:
    return [alt.param(name=name, value=defaults[name]) for name in names]


def _usd_tip(name: str, title: str) -> alt.Tooltip:
    return alt.Tooltip(f"{name}:Q", title=title, format="$,.2f")


def _int_tip(name: str, title: str) -> alt.Tooltip:
    return alt.Tooltip(f"{name}:Q", title=title, format=",d")


def glamira_panels(defaults: dict[str, str], kept: int | None = None) -> list[Panel]:
    """The page's charts; `kept`: how many countries the cube keeps apart from "Other"."""
    params = _params(GLAMIRA_FILTERS, defaults)
    cube = alt.NamedData("cube")
    sales = _glamira_filter() + " && " + _sales_only()
    sums = [alt.AggregatedFieldDef(op="sum", field=m, **{"as": m}) for m in _SALES]
    daily = alt.Chart(cube).transform_filter(sales).transform_aggregate(sums, groupby=["day", "t"])
    tips = [
        alt.Tooltip("day:N", title="Day"),
        _usd_tip("revenue_usd", "Revenue"),
        _int_tip("orders", "Orders"),
        _int_tip("units", "Units"),
        _int_tip("lines", "Lines"),
    ]
    bars = (
        daily.mark_bar(color=REVENUE, opacity=0.85)
        .encode(
            x=day_x(),
            y=alt.Y("revenue_usd:Q", title="Revenue (USD)", axis=alt.Axis(format="$,.0f")),
            tooltip=tips,
        )
        .properties(name="daily")
    )
    line = (
        daily.mark_line(color=COUNT, point=False, strokeWidth=2)
        .encode(x=day_x(), y=alt.Y("orders:Q", title="Orders"), tooltip=tips)
        .properties(name="daily_orders")
    )
    flagged = anomaly_layer(
        "datum.day >= from_day && datum.day <= to_day"
        f" && (store == '{ALL}' || datum.store == store || datum.store == '{ALL}')",
        entity_title="Store",
        entity_field="store",
    )
    daily_chart = (
        alt.layer(bars, line, *flagged)
        .resolve_scale(y="independent")
        .add_params(*params)
        .properties(width=WIDTH, height=260)
    )

    def by(
        dimension: str, title: str, name: str, measure: str = "revenue_usd", events: bool = False
    ) -> alt.Chart:
        fields = [*_SALES, *(_EVENTS if events else ())]
        chart = (
            alt.Chart(cube)
            .transform_filter(_glamira_filter(events=events) + ("" if events else " && " + _sales_only()))
            .transform_aggregate(
                [alt.AggregatedFieldDef(op="sum", field=m, **{"as": m}) for m in fields], groupby=[dimension]
            )
            .mark_bar(color=REVENUE)
            .encode(
                y=alt.Y(f"{dimension}:N", title=title, sort="-x"),
                x=alt.X(f"{measure}:Q", title="Revenue (USD)", axis=alt.Axis(format="$,.0f")),
                tooltip=[
                    alt.Tooltip(f"{dimension}:N", title=title),
                    _usd_tip("revenue_usd", "Revenue"),
                    _int_tip("orders", "Orders"),
                    _int_tip("units", "Units"),
                    *([_int_tip("events", "Events")] if events else []),
                ],
            )
            .properties(name=name, width=WIDTH - 160)
            .add_params(*params)
        )
        return chart

    steps = [column for column, _, _ in FUNNEL]
    labels = {column: f"{i}. {label}" for i, (column, _, label) in enumerate(FUNNEL, start=1)}
    funnel = (
        alt.Chart(cube)
        .transform_filter(_glamira_filter(events=True) + " && datum.country === null")
        .transform_aggregate([alt.AggregatedFieldDef(op="sum", field=c, **{"as": c}) for c in steps])
        .transform_fold(steps, as_=["collection", "events"])
        .transform_calculate(step=f"{json.dumps(labels)}[datum.collection]")
        .mark_bar(color=REVENUE)
        .encode(
            y=alt.Y("step:N", title=None, sort=[labels[c] for c in steps]),
            x=alt.X("events:Q", title="Events", axis=alt.Axis(format="~s")),
            tooltip=[alt.Tooltip("step:N", title="Step"), _int_tip("events", "Events")],
        )
        .properties(name="funnel", width=WIDTH - 160)
        .add_params(*params)
    )
    usd, integer = "usd", "int"

    def sales_columns(first: Column) -> tuple[Column, ...]:
        """A sales table's columns: its dimension, then what was sold."""
        return (
            first,
            Column("revenue_usd", "Revenue", usd),
            Column("orders", "Orders", integer),
            Column("units", "Units", integer),
            Column("lines", "Lines", integer),
        )

    return [
        Panel(
            "daily",
            "Revenue and orders by day",
            "Revenue in USD (bars, left axis), orders (line, right axis); days flagged as unusual are "
            "red rules (hover for the detail).",
            daily_chart,
            ("daily", "daily_orders"),
            sales_columns(Column("day", "Day", "day")),
            sort="day",
            descending=True,
        ),
        Panel(
            "stores",
            "Revenue by store",
            "Each store is a domain with its own currency; revenue converted to USD.",
            by("store", "Store", "stores"),
            ("stores",),
            sales_columns(Column("store", "Store", "text")),
            sort="revenue_usd",
            descending=True,
        ),
        Panel(
            "countries",
            "Revenue by the buyer's country",
            f"From the checkout's IP address (private or unlisted addresses are {UNKNOWN})."
            + (
                f" Countries beyond the {kept} largest by revenue are summed as {OTHER}."
                if kept is not None
                else ""
            ),
            by("country", "Country", "countries"),
            ("countries",),
            sales_columns(Column("country", "Country", "text")),
            sort="revenue_usd",
            descending=True,
        ),
        Panel(
            "devices",
            "Device mix",
            "Revenue by device type (from the user agent), with orders and all tracked events. "
            "Events carry no country: the country filter does not apply to them.",
            by("device_type", "Device type", "devices", events=True),
            ("devices",),
            (
                Column("device_type", "Device type", "text"),
                Column("revenue_usd", "Revenue", usd),
                Column("orders", "Orders", integer),
                Column("events", "Events", integer),
            ),
            sort="revenue_usd",
            descending=True,
        ),
        Panel(
            "funnel",
            "Purchase funnel",
            "Events at each step (events, not people: a step can exceed the one before). "
            "Events carry no country: the country filter does not apply to them.",
            funnel,
            ("funnel",),
            (Column("step", "Step", "text"), Column("events", "Events", integer)),
            sort="step",
            descending=False,
        ),
    ]


# -- Glamira's page ---------------------------------------------------------------------


def render_interactive(
    cube: pl.DataFrame, anomalies: pl.DataFrame | None = None, generated_at: datetime | None = None
) -> str:
    """The page for a cube (`CUBE_SCHEMA`, as `cube_data` returns it)."""
    generated_at = generated_at or datetime.now().astimezone()
    first, last = cube["date_day"].min(), cube["date_day"].max()
    first_text = first.isoformat() if isinstance(first, date) else ""
    last_text = last.isoformat() if isinstance(last, date) else ""
    sales = cube.filter(pl.col("country").is_not_null())
    stores = _by_revenue(sales, "store") or sorted(set(cube["store"].drop_nulls().to_list()))
    countries = _by_revenue(sales, "country")
    devices = sorted(set(cube["device_type"].drop_nulls().to_list()))
    defaults = {"from_day": first_text, "to_day": last_text, "store": ALL, "country": ALL, "device": ALL}
    controls = (
        Control("from_day", "From", "date", first_text, bounds=(first_text, last_text)),
        Control("to_day", "To", "date", last_text, bounds=(first_text, last_text)),
        Control("store", "Store", "select", ALL, ((ALL, "All stores"), *((s, s) for s in stores))),
        Control("country", "Country", "select", ALL, ((ALL, "All countries"), *((c, c) for c in countries))),
        Control("device", "Device", "select", ALL, ((ALL, "All devices"), *((d, d) for d in devices))),
    )
    flagged = anomaly_records(anomalies, cube)
    kept = kept_countries(cube)
    span = f"{first:%-d %b %Y} to {last:%-d %b %Y}" if first_text else "no orders yet"
    notes = [
        "Pick a date range, store, country or device: every chart and table below follows. "
        "Hover a bar, line or red marker for exact numbers. This file opens offline.",
        f"Countries beyond the {kept} largest by revenue are summed as {OTHER}, to keep the file small."
        if kept is not None
        else "",
        f"{len(flagged)} unusual store-days flagged (red rules on the daily chart)." if flagged else "",
    ]
    page = Page(
        title="Glamira sales, interactive",
        subtitle=f"From the warehouse's marts, {span}; generated {generated_at:%-d %b %Y %H:%M %Z}.",
        notes=tuple(n for n in notes if n),
        controls=controls,
        panels=tuple(glamira_panels(defaults, kept)),
        datasets={"cube": cube_frame(cube), "anomalies": flagged},
    )
    return render_page(page)


async def interactive_html(warehouse, anomalies: pl.DataFrame | None = None) -> str:
    """Queries the marts and renders the interactive page."""
    import asyncio

    cube = await cube_data(warehouse)
    return await asyncio.to_thread(render_interactive, cube, anomalies, datetime.now().astimezone())


def _by_revenue(frame: pl.DataFrame, column: str) -> list[str]:
    if frame.height == 0:
        return []
    ranked = (
        frame.group_by(column)
        .agg(pl.col("revenue_usd").sum())
        .sort(["revenue_usd", column], descending=[True, False])
    )
    return [v for v in ranked[column].to_list() if v is not None]


__all__ = ["CUBE_SCHEMA", "cube_data", "cube_query", "interactive_html", "render_interactive"]

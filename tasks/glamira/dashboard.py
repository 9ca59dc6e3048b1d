"""The Glamira sales dashboard as one self-contained HTML file, built from the warehouse's
marts: it opens in any browser with no network and no account (the charts are matplotlib
PNGs embedded as data URIs, the styles inline, one tiny inline script and nothing else).

    data = await dashboard_data(warehouse)           # the answers, as Polars frames
    html = render_dashboard(data, generated_at=now)  # the page
    await build_dashboard(warehouse, Path("reports/glamira-dashboard.html"))

The queries are plain standard SQL (joins, `group by`, `sum`, `count(distinct)`,
`coalesce`, `case`) on `warehouse.table_ref("marts", ...)`, so they run unchanged on the
embedded DuckDB and on BigQuery; `dashboard_queries(warehouse)` returns them, e.g. to
paste into a BigQuery custom query. Every number is over the whole history in the marts.

Definitions (the same everywhere on the page):

- revenue: `sum(line_total_usd)` of `marts.fct_sales_order_line`. A line whose price
  could not be parsed or converted (`price_is_supported` false, `line_total_usd` null) is
  left out of revenue and counted under "unsupported prices";
- orders: `count(distinct order_key)`; lines: `count(*)`; units: `sum(quantity)`;
- average order value: revenue / orders that have at least one line priced in USD
  (`count(distinct case when line_total_usd is not null then order_key end)`);
- country: the buyer's, from `dim_location` (not the store's). Orders whose address was
  private, reserved, invalid or not in the IP database (no two-letter `country_code`), or
  that have no location, are grouped as "Unknown";
- funnel: `sum(events)` of `marts.fct_daily_events` for the collections
  view_product_detail -> select_product_option -> add_to_cart_action -> checkout ->
  checkout_success; each step's rate is its events over the previous step's (events,
  not people: a step can exceed 100%). `checkout_success` events count every success
  page view, so they can exceed the orders of `fct_sales_order_line`, which holds
  deduplicated checkouts.

Rebuilding it in Looker Studio (BigQuery connector, one data source per mart; a blend is
a left outer join with `fct_sales_order_line` on the left). Metrics: Revenue =
`SUM(line_total_usd)`, Orders = `COUNT_DISTINCT(order_key)`, Lines = `COUNT(order_line_key)`,
Units = `SUM(quantity)`, AOV = `SUM(line_total_usd) / COUNT_DISTINCT(CASE WHEN
line_total_usd IS NOT NULL THEN order_key END)`.

- Headline scorecards: `marts.fct_sales_order_line` alone (Revenue, Orders, AOV, Lines,
  Units; Unsupported prices = `SUM(CASE WHEN price_is_supported THEN 0 ELSE 1 END)`), and
  `marts.fct_daily_events` for product views.
- Revenue and orders by day: `marts.fct_sales_order_line`, dimension `date_day`
  (combo chart: Revenue as bars, Orders as a line on the right axis). Blend
  `marts.dim_date` on `date_day` to split by `day_name` or `is_weekend`.
- Revenue by country: blend `marts.fct_sales_order_line` with `marts.dim_location` on
  `location_key`; dimension a calculated field `CASE WHEN LENGTH(country_code) = 2 THEN
  country_name ELSE "Unknown" END`; bar chart sorted by Revenue, plus a table.
- Revenue by store: blend `marts.fct_sales_order_line` with `marts.dim_store` on
  `store_key`; dimension `domain` (add `currency`, `country_code` to the table).
- Top 10 products: blend `marts.fct_sales_order_line` with `marts.dim_product` on
  `product_key`; dimensions `product_id` and `IFNULL(product_name, CONCAT("(unnamed
  product ", product_id, ")"))`; sort by Revenue, 10 rows.
- Device mix: orders from `marts.fct_sales_order_line` blended with `marts.dim_device` on
  `device_key` (dimension `device_type`, Orders); events from `marts.fct_daily_events`
  (dimension `device_type`, `SUM(events)`); blend the two on `device_type`, as 100% bars.
- Funnel in total: `marts.fct_daily_events` filtered to the five collections above;
  dimension `collection`, metric `SUM(events)` (a funnel chart, or bars in step order).
- Funnel per day: `marts.fct_daily_events`, dimension `date_day`, one metric per step
  `SUM(CASE WHEN collection = "add_to_cart_action" THEN events ELSE 0 END)` etc., and the
  rates as ratios of those metrics (a time series).

Empty marts are not an error: the page says "No orders yet" and leaves out the charts
that have nothing to show.
"""

from __future__ import annotations

import asyncio
import base64
import io
import os
import tempfile
from dataclasses import dataclass
from datetime import date, datetime
from html import escape
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.dates as mdates
import polars as pl
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, PercentFormatter

from pipelines import htmlmail as h

SCHEMA = "marts"
MARTS = (
    "fct_sales_order_line",
    "fct_daily_events",
    "dim_store",
    "dim_product",
    "dim_location",
    "dim_device",
)

# (column, collection, label) in funnel order
FUNNEL = (
    ("product_views", "view_product_detail", "Product views"),
    ("option_selections", "select_product_option", "Option selections"),
    ("add_to_cart", "add_to_cart_action", "Add to cart"),
    ("checkouts", "checkout", "Checkout"),
    ("checkout_successes", "checkout_success", "Checkout success"),
)
# step-to-step rates of the daily funnel: (column, numerator, denominator, label)
FUNNEL_RATES = (
    ("view_to_option", "option_selections", "product_views", "view → option"),
    ("option_to_cart", "add_to_cart", "option_selections", "option → cart"),
    ("cart_to_checkout", "checkouts", "add_to_cart", "cart → checkout"),
    ("checkout_to_success", "checkout_successes", "checkouts", "checkout → success"),
    ("view_to_success", "checkout_successes", "product_views", "view → success (overall)"),
)
DEVICE_ORDER = ("desktop", "mobile", "tablet", "bot", "unknown")
DEVICE_RANK = {device_type: rank for rank, device_type in enumerate(DEVICE_ORDER)}
UNKNOWN = "Unknown"
TOP_PRODUCTS = 10
CHART_BARS = 10  # bars in the country and store charts; the rest are summed in the tables
TABLE_ROWS = 12
RECENT_DAYS = 14

# colours: the house's greys, one blue for revenue, the weekly report's amber for counts
INK = "#111827"
MUTED = h.MUTED
GRID = "#e5e7eb"
REVENUE = "#1d4ed8"
COUNT = "#d97706"
OTHER = "#9ca3af"
STEPS = ("#1e3a8a", "#1d4ed8", "#3b82f6", "#60a5fa", "#047857")  # the funnel's bars
RATES = ("#1d4ed8", "#d97706", "#7c3aed", "#0891b2", "#047857")  # the daily rates' lines

_INT = pl.Int64()
_USD = pl.Float64()
_RATE = pl.Float64()

HEADLINE_SCHEMA = {
    "revenue_usd": _USD,
    "orders": _INT,
    "priced_orders": _INT,
    "lines": _INT,
    "units": _INT,
    "unsupported_price_lines": _INT,
    "avg_order_value_usd": _USD,
    "first_day": pl.Date(),
    "last_day": pl.Date(),
}
DAILY_SCHEMA = {
    "date_day": pl.Date(),
    "orders": _INT,
    "priced_orders": _INT,
    "lines": _INT,
    "units": _INT,
    "revenue_usd": _USD,
    "avg_order_value_usd": _USD,
}
COUNTRIES_SCHEMA = {
    "country_code": pl.String(),  # null for "Unknown"
    "country": pl.String(),
    "orders": _INT,
    "lines": _INT,
    "revenue_usd": _USD,
    "revenue_share": _RATE,
}
STORES_SCHEMA = {
    "store_key": pl.String(),
    "store_id": pl.String(),
    "domain": pl.String(),
    "country_code": pl.String(),
    "currency": pl.String(),
    "orders": _INT,
    "lines": _INT,
    "revenue_usd": _USD,
    "revenue_share": _RATE,
}
PRODUCTS_SCHEMA = {
    "rank": _INT,
    "product_key": pl.String(),
    "product_id": pl.String(),
    "product_name": pl.String(),  # never null: "(unnamed product <id>)"
    "orders": _INT,
    "units": _INT,
    "revenue_usd": _USD,
    "revenue_share": _RATE,
}
DEVICES_SCHEMA = {
    "device_type": pl.String(),
    "orders": _INT,
    "revenue_usd": _USD,
    "events": _INT,
    "order_share": _RATE,
    "event_share": _RATE,
}
FUNNEL_DAILY_SCHEMA = {
    "date_day": pl.Date(),
    **{column: _INT for column, _, _ in FUNNEL},
    **{column: _RATE for column, _, _, _ in FUNNEL_RATES},
}
FUNNEL_SCHEMA = {
    "step": _INT,
    "label": pl.String(),
    "collection": pl.String(),
    "events": _INT,
    "rate_from_previous": _RATE,  # null for the first step
    "rate_from_first": _RATE,
}


@dataclass(frozen=True)
class DashboardData:
    """The dashboard's answers; each frame's columns are the `*_SCHEMA` of the same name."""

    headline: pl.DataFrame  # one row
    daily: pl.DataFrame  # one row per day with orders
    countries: pl.DataFrame  # by revenue, "Unknown" included
    stores: pl.DataFrame  # by revenue
    top_products: pl.DataFrame  # at most 10, by revenue
    devices: pl.DataFrame  # desktop, mobile, tablet, bot, unknown (those present)
    funnel_daily: pl.DataFrame  # one row per day with events
    funnel: pl.DataFrame  # the five steps, summed over all days

    @property
    def totals(self) -> dict[str, Any]:
        return self.headline.row(0, named=True)

    @property
    def has_orders(self) -> bool:
        return bool(self.totals["orders"])

    @property
    def has_events(self) -> bool:
        return bool(self.funnel["events"].sum())


def dashboard_queries(warehouse) -> dict[str, str]:
    """The SQL behind each frame (before the shares and rates, which are computed on the
    results): standard SQL for DuckDB and BigQuery alike."""
    t = {name: warehouse.table_ref(SCHEMA, name) for name in MARTS}
    lines = t["fct_sales_order_line"]
    priced_orders = "count(distinct case when f.line_total_usd is not null then f.order_key end)"
    located = (
        "(l.ip_kind is null or l.ip_kind = 'public') and length(l.country_code) = 2 "
        "and nullif(trim(l.country_name), '') is not null"
    )
    steps = ", ".join(f"'{collection}'" for _, collection, _ in FUNNEL)
    step_sums = ",\n  ".join(
        f"coalesce(sum(case when e.collection = '{collection}' then e.events end), 0) as {column}"
        for column, collection, _ in FUNNEL
    )
    return {
        "headline": f"""
select
  coalesce(sum(f.line_total_usd), 0) as revenue_usd,
  count(distinct f.order_key) as orders,
  {priced_orders} as priced_orders,
  count(*) as lines,
  coalesce(sum(f.quantity), 0) as units,
  coalesce(sum(case when f.price_is_supported and f.line_total_usd is not null then 0 else 1 end), 0)
    as unsupported_price_lines,
  min(f.date_day) as first_day,
  max(f.date_day) as last_day
from {lines} as f""",
        "daily": f"""
select
  f.date_day,
  count(distinct f.order_key) as orders,
  {priced_orders} as priced_orders,
  count(*) as lines,
  coalesce(sum(f.quantity), 0) as units,
  coalesce(sum(f.line_total_usd), 0) as revenue_usd
from {lines} as f
group by f.date_day
order by f.date_day""",
        "countries": f"""
select
  c.country_code,
  c.country,
  count(distinct c.order_key) as orders,
  count(*) as lines,
  coalesce(sum(c.line_total_usd), 0) as revenue_usd
from (
  select
    f.order_key,
    f.line_total_usd,
    case when {located} then l.country_code end as country_code,
    case when {located} then l.country_name else '{UNKNOWN}' end as country
  from {lines} as f
  left join {t["dim_location"]} as l on l.location_key = f.location_key
) as c
group by c.country_code, c.country
order by revenue_usd desc, orders desc, c.country""",
        "stores": f"""
select
  x.store_key,
  s.store_id,
  coalesce(s.domain, '{UNKNOWN}') as domain,
  s.country_code,
  s.currency,
  x.orders,
  x.lines,
  x.revenue_usd
from (
  select
    f.store_key,
    count(distinct f.order_key) as orders,
    count(*) as lines,
    coalesce(sum(f.line_total_usd), 0) as revenue_usd
  from {lines} as f
  group by f.store_key
) as x
left join {t["dim_store"]} as s on s.store_key = x.store_key
order by x.revenue_usd desc, x.orders desc, x.store_key""",
        "top_products": f"""
select
  x.product_key,
  p.product_id,
  coalesce(
    nullif(trim(p.product_name), ''),
    concat('(unnamed product ', coalesce(cast(p.product_id as string), cast(x.product_key as string)), ')')
  ) as product_name,
  x.orders,
  x.units,
  x.revenue_usd
from (
  select
    f.product_key,
    count(distinct f.order_key) as orders,
    coalesce(sum(f.quantity), 0) as units,
    coalesce(sum(f.line_total_usd), 0) as revenue_usd
  from {lines} as f
  group by f.product_key
) as x
left join {t["dim_product"]} as p on p.product_key = x.product_key
order by x.revenue_usd desc, x.orders desc, x.product_key
limit {TOP_PRODUCTS}""",
        "devices": f"""
select
  coalesce(o.device_type, e.device_type) as device_type,
  coalesce(o.orders, 0) as orders,
  coalesce(o.revenue_usd, 0) as revenue_usd,
  coalesce(e.events, 0) as events
from (
  select d.device_type, count(distinct d.order_key) as orders, coalesce(sum(d.line_total_usd), 0) as revenue_usd
  from (
    select coalesce(dd.device_type, 'unknown') as device_type, f.order_key, f.line_total_usd
    from {lines} as f
    left join {t["dim_device"]} as dd on dd.device_key = f.device_key
  ) as d
  group by d.device_type
) as o
full outer join (
  select v.device_type, sum(v.events) as events
  from (
    select coalesce(ev.device_type, 'unknown') as device_type, ev.events
    from {t["fct_daily_events"]} as ev
  ) as v
  group by v.device_type
) as e on e.device_type = o.device_type""",
        "funnel_daily": f"""
select
  e.date_day,
  {step_sums}
from {t["fct_daily_events"]} as e
where e.collection in ({steps})
group by e.date_day
order by e.date_day""",
    }


async def dashboard_data(warehouse) -> DashboardData:
    """Runs the dashboard's queries (concurrently) and shapes their answers."""
    queries = dashboard_queries(warehouse)
    results = await asyncio.gather(*(warehouse.query(sql) for sql in queries.values()))
    raw = dict(zip(queries, results, strict=True))

    headline = _conform(raw["headline"], HEADLINE_SCHEMA, avg_order_value_usd=_aov())
    revenue = float(headline["revenue_usd"][0] or 0)
    orders = int(headline["orders"][0] or 0)
    share = _share(revenue)

    funnel_daily = _conform(
        raw["funnel_daily"],
        FUNNEL_DAILY_SCHEMA,
        **{column: _rate(num, den) for column, num, den, _ in FUNNEL_RATES},
    ).sort("date_day")
    devices = _conform(
        raw["devices"],
        DEVICES_SCHEMA,
        order_share=_share(orders, "orders"),
        event_share=_share_of_column("events"),
    ).sort(pl.col("device_type").replace_strict(DEVICE_RANK, default=len(DEVICE_RANK)), "device_type")

    return DashboardData(
        headline=headline,
        daily=_conform(raw["daily"], DAILY_SCHEMA, avg_order_value_usd=_aov()).sort("date_day"),
        countries=_conform(raw["countries"], COUNTRIES_SCHEMA, revenue_share=share),
        stores=_conform(raw["stores"], STORES_SCHEMA, revenue_share=share),
        top_products=_conform(
            raw["top_products"],
            PRODUCTS_SCHEMA,
            rank=pl.int_range(1, pl.len() + 1, dtype=pl.Int64),
            revenue_share=share,
        ),
        devices=devices,
        funnel_daily=funnel_daily,
        funnel=_funnel_total(funnel_daily),
    )


def _conform(frame: pl.DataFrame, schema: dict[str, pl.DataType], **computed: pl.Expr) -> pl.DataFrame:
    """The query's answer in the written-down schema, whatever types the engine returned
    (DuckDB sums integers to 128-bit decimals, BigQuery to INT64), plus computed columns."""
    frame = frame.with_columns(
        [pl.col(name).cast(dtype) for name, dtype in schema.items() if name in frame.columns]
    )
    if computed:
        frame = frame.with_columns(**computed)
    return frame.select([pl.col(name).cast(dtype) for name, dtype in schema.items()])


def _aov() -> pl.Expr:
    return _rate("revenue_usd", "priced_orders")


def _rate(numerator: str, denominator: str) -> pl.Expr:
    den = pl.col(denominator).cast(pl.Float64)
    return pl.when(den > 0).then(pl.col(numerator).cast(pl.Float64) / den).otherwise(None)


def _share(total: float, column: str = "revenue_usd") -> pl.Expr:
    if not total:
        return pl.lit(None, dtype=pl.Float64)
    return pl.col(column).cast(pl.Float64) / float(total)


def _share_of_column(column: str) -> pl.Expr:
    total = pl.col(column).cast(pl.Float64).sum()
    return pl.when(total > 0).then(pl.col(column).cast(pl.Float64) / total).otherwise(None)


def _funnel_total(daily: pl.DataFrame) -> pl.DataFrame:
    events = [int(daily[column].sum() or 0) for column, _, _ in FUNNEL]
    first = events[0]
    rows = []
    for i, ((_, collection, label), n) in enumerate(zip(FUNNEL, events, strict=True)):
        previous = events[i - 1] if i else None
        rows.append(
            {
                "step": i + 1,
                "label": label,
                "collection": collection,
                "events": n,
                "rate_from_previous": n / previous if previous else None,
                "rate_from_first": n / first if first else None,
            }
        )
    return pl.DataFrame(rows, schema=FUNNEL_SCHEMA)


# -- the page ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Chart:
    title: str
    caption: str
    png: bytes
    alt: str
    table: str


def render_dashboard(
    data: DashboardData, generated_at: datetime, title: str = "Glamira sales dashboard"
) -> str:
    """The whole page: headline cards, then each chart with a caption and a small table.
    The body's `data-charts` is the number of chart images; once the page has loaded, an
    inline script sets `data-charts-rendered` to the number that decoded."""
    totals = data.totals
    charts = _charts(data)
    parts = [h.heading(title, _subtitle(totals, generated_at)), _cards(data)]
    if not data.has_orders:
        parts.append(_notice(data))
    for chart in charts:
        parts.append(h.section(chart.title))
        parts.append(h.paragraph(chart.caption, muted=True))
        uri = "data:image/png;base64," + base64.b64encode(chart.png).decode("ascii")
        parts.append(
            f"<img class='chart' src='{uri}' alt='{escape(chart.alt)}' "
            "style='display:block;width:100%;height:auto;margin:8px 0 12px'>"
        )
        parts.append(chart.table)
    parts.append(
        h.paragraph(
            "Built from the warehouse's marts (schema marts). Revenue is in US dollars; lines "
            "whose price could not be converted are left out of revenue and counted as unsupported "
            "prices. The funnel counts events, not people.",
            muted=True,
        )
    )
    return _page(title, "".join(parts), len(charts))


_SCRIPT = (
    "<script>addEventListener('load',function(){var n=0;"
    "document.querySelectorAll('img.chart').forEach(function(i){if(i.complete&&i.naturalWidth>0)n++;});"
    "document.body.dataset.chartsRendered=String(n);});</script>"
)


def _page(title: str, body: str, charts: int) -> str:
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"<title>{escape(title)}</title></head>"
        f"<body data-charts='{charts}' style='margin:0;background:#f3f4f6;{h.FONT};color:{INK}'>"
        "<div style='max-width:960px;margin:24px auto;background:#ffffff;border-radius:8px;"
        f"padding:28px 32px'>{body}</div>{_SCRIPT}</body></html>"
    )


def _subtitle(totals: dict, generated_at: datetime) -> str:
    stamp = generated_at.strftime("%Y-%m-%d %H:%M") + (
        f" {generated_at.tzname()}" if generated_at.tzinfo else ""
    )
    if totals["first_day"] is None:
        return f"No orders in the marts yet · generated {stamp}"
    return f"Orders from {_day(totals['first_day'])} to {_day(totals['last_day'])} · generated {stamp}"


def _cards(data: DashboardData) -> str:
    t = data.totals
    muted = f"<span style='color:{MUTED}'>{{}}</span>"
    views = int(data.funnel["events"][0])
    successes = int(data.funnel["events"][-1])
    first = [
        ("Revenue (USD)", _usd(t["revenue_usd"]), muted.format(f"{_int(t['units'])} units sold")),
        ("Orders", _int(t["orders"]), muted.format(f"{_int(t['lines'])} order lines")),
        (
            "Average order value",
            _usd(t["avg_order_value_usd"], cents=True),
            muted.format(f"over {_int(t['priced_orders'])} priced orders"),
        ),
        (
            "Unsupported prices",
            _int(t["unsupported_price_lines"]),
            muted.format("lines left out of revenue"),
        ),
    ]
    second = [
        ("Order lines", _int(t["lines"]), muted.format(f"{_ratio(t['lines'], t['orders'])} per order")),
        ("Product views", _int(views), muted.format("view_product_detail events")),
        ("Checkout successes", _int(successes), muted.format("checkout_success events")),
        ("View → success", _pct(successes / views if views else None), muted.format("events, all days")),
    ]
    return h.cards(first) + h.cards(second)


def _notice(data: DashboardData) -> str:
    detail = (
        "The funnel and device charts below show the events recorded so far."
        if data.has_events
        else "The daily events are empty too: the charts appear once the marts have data."
    )
    return (
        "<div style='margin:20px 0 4px;padding:16px 18px;border:1px solid #fde68a;background:#fffbeb;"
        "border-radius:6px'><div style='font-size:16px;font-weight:600'>No orders yet</div>"
        "<div style='font-size:14px;line-height:1.5;margin-top:4px'>"
        f"marts.fct_sales_order_line has no rows. {escape(detail)}</div></div>"
    )


def _charts(data: DashboardData) -> list[_Chart]:
    with matplotlib.rc_context(_RC):
        return _build_charts(data)


def _build_charts(data: DashboardData) -> list[_Chart]:
    charts = []
    if data.has_orders:
        charts += [_daily_chart(data), _country_chart(data), _store_chart(data), _product_chart(data)]
    if data.devices.height and (data.has_orders or data.has_events):
        charts.append(_device_chart(data))
    if data.has_events:
        charts += [_funnel_chart(data), _funnel_daily_chart(data)]
    return charts


def _day_axis(ax) -> None:
    """Whole days on the x axis (the automatic locator puts noon ticks on a short span)."""
    first, last = ax.get_xlim()
    if last - first <= 12:
        locator = mdates.DayLocator()
        formatter = mdates.DateFormatter("%d %b")
    else:
        locator = mdates.AutoDateLocator(minticks=3, maxticks=10)
        formatter = mdates.ConciseDateFormatter(locator)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(formatter)


def _daily_chart(data: DashboardData) -> _Chart:
    daily = data.daily
    days = list(daily["date_day"])
    fig, ax = _figure(3.6)
    ax.bar(days, daily["revenue_usd"], width=0.8, color=REVENUE, alpha=0.85, label="revenue (USD)")
    ax.set_ylim(0, max(1.0, float(daily["revenue_usd"].max() or 0)) * 1.12)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: _usd_short(v)))
    ax.set_ylabel("revenue", color=REVENUE, fontsize=9)
    right = ax.twinx()
    right.plot(days, daily["orders"], color=COUNT, linewidth=1.8, marker="o", markersize=3, label="orders")
    right.set_ylim(0, max(1, int(daily["orders"].max() or 0)) * 1.12)
    right.set_ylabel("orders", color=COUNT, fontsize=9)
    right.spines[["top"]].set_visible(False)
    _day_axis(ax)
    handles = ax.get_legend_handles_labels()
    more = right.get_legend_handles_labels()
    ax.legend(handles[0] + more[0], handles[1] + more[1], **_LEGEND_ABOVE)
    recent = daily.sort("date_day", descending=True).head(RECENT_DAYS)
    rows = [
        [
            _day(r["date_day"], weekday=True),
            _usd(r["revenue_usd"]),
            _int(r["orders"]),
            _int(r["lines"]),
            _usd(r["avg_order_value_usd"], cents=True),
        ]
        for r in recent.iter_rows(named=True)
    ]
    note = f"The last {RECENT_DAYS} of {daily.height} days." if daily.height > RECENT_DAYS else ""
    return _Chart(
        "Revenue and orders by day",
        f"Revenue in USD (bars, left axis) and orders (line, right axis) per day. {note}".strip(),
        _png(fig),
        "Bar chart of revenue per day with a line of orders per day",
        h.table(["Day", "Revenue", "Orders", "Lines", "Avg. order"], rows),
    )


def _country_chart(data: DashboardData) -> _Chart:
    countries = data.countries
    fig = _hbars(
        [c if c else UNKNOWN for c in countries["country"].head(CHART_BARS)],
        list(countries["revenue_usd"].head(CHART_BARS)),
        [
            _usd(v) + _share_text(s)
            for v, s in zip(countries["revenue_usd"], countries["revenue_share"], strict=True)
        ][:CHART_BARS],
        [OTHER if c == UNKNOWN else REVENUE for c in countries["country"].head(CHART_BARS)],
    )
    rows = _rows_with_rest(
        countries,
        lambda r: [
            r["country"] + (f" ({r['country_code']})" if r["country_code"] else ""),
            _usd(r["revenue_usd"]),
            _pct(r["revenue_share"]),
            _int(r["orders"]),
            _int(r["lines"]),
        ],
        "countries",
        data.totals["revenue_usd"],
    )
    shown = (
        f"The {CHART_BARS} largest of {countries.height} countries. " if countries.height > CHART_BARS else ""
    )
    return _Chart(
        "Revenue by country",
        f"{shown}The buyer's country from the IP address of the checkout; private, reserved or "
        "unlisted addresses are grouped as Unknown.",
        _png(fig),
        "Horizontal bar chart of revenue by the buyer's country",
        h.table(["Country", "Revenue", "Share", "Orders", "Lines"], rows),
    )


def _store_chart(data: DashboardData) -> _Chart:
    stores = data.stores
    top = stores.head(CHART_BARS)
    fig = _hbars(
        list(top["domain"]),
        list(top["revenue_usd"]),
        [_usd(v) + _share_text(s) for v, s in zip(top["revenue_usd"], top["revenue_share"], strict=True)],
        [OTHER if d == UNKNOWN else REVENUE for d in top["domain"]],
    )
    rows = _rows_with_rest(
        stores,
        lambda r: [
            r["domain"],
            r["currency"] or "–",
            _usd(r["revenue_usd"]),
            _pct(r["revenue_share"]),
            _int(r["orders"]),
            _int(r["lines"]),
        ],
        "stores",
        data.totals["revenue_usd"],
        label_columns=2,
    )
    shown = f"The {CHART_BARS} largest of {stores.height} stores. " if stores.height > CHART_BARS else ""
    return _Chart(
        "Revenue by store",
        f"{shown}Each Glamira store is a domain with its own currency; revenue is converted to USD.",
        _png(fig),
        "Horizontal bar chart of revenue by store domain",
        h.table(["Store", "Currency", "Revenue", "Share", "Orders", "Lines"], rows),
    )


def _product_chart(data: DashboardData) -> _Chart:
    top = data.top_products
    fig = _hbars(
        [_short(n, 42) for n in top["product_name"]],
        list(top["revenue_usd"]),
        [_usd(v) + _share_text(s) for v, s in zip(top["revenue_usd"], top["revenue_share"], strict=True)],
        [REVENUE] * top.height,
    )
    rows = [
        [
            f"{r['rank']}. {r['product_name']}",
            r["product_id"] or "–",
            _usd(r["revenue_usd"]),
            _pct(r["revenue_share"]),
            _int(r["orders"]),
            _int(r["units"]),
        ]
        for r in top.iter_rows(named=True)
    ]
    return _Chart(
        f"Top {TOP_PRODUCTS} products by revenue",
        "Products by revenue in USD over all orders; names come from the product-page crawl "
        "(products never crawled show their id).",
        _png(fig),
        "Horizontal bar chart of the ten products with the most revenue",
        h.table(["Product", "Product id", "Revenue", "Share", "Orders", "Units"], rows),
    )


def _device_chart(data: DashboardData) -> _Chart:
    devices = data.devices
    labels = list(devices["device_type"])
    order_share = [s or 0.0 for s in devices["order_share"]]
    event_share = [s or 0.0 for s in devices["event_share"]]
    fig, ax = _figure(0.9 + 0.55 * len(labels))
    y = range(len(labels))
    height = 0.38
    ax.barh([i - height / 2 for i in y], order_share, height=height, color=REVENUE, label="share of orders")
    ax.barh([i + height / 2 for i in y], event_share, height=height, color=COUNT, label="share of events")
    for i, (o, e) in enumerate(zip(order_share, event_share, strict=True)):
        ax.text(o, i - height / 2, f" {o:.0%}", va="center", fontsize=8, color=INK)
        ax.text(e, i + height / 2, f" {e:.0%}", va="center", fontsize=8, color=INK)
    ax.set_yticks(list(y), labels, fontsize=9)
    ax.invert_yaxis()
    ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_xlim(0, max([*order_share, *event_share, 0.01]) * 1.18)
    ax.grid(axis="x", color=GRID, linewidth=0.8)
    ax.grid(axis="y", visible=False)
    ax.legend(**_LEGEND_ABOVE)
    rows = [
        [
            r["device_type"],
            _int(r["orders"]),
            _pct(r["order_share"]),
            _usd(r["revenue_usd"]),
            _int(r["events"]),
            _pct(r["event_share"]),
        ]
        for r in devices.iter_rows(named=True)
    ]
    return _Chart(
        "Device mix",
        "Share of orders and of all tracked events by device type (from the user agent); a device "
        "type with many more events than orders browses more than it buys.",
        _png(fig),
        "Grouped bar chart of the share of orders and of events by device type",
        h.table(["Device type", "Orders", "Share", "Revenue", "Events", "Share"], rows),
    )


def _funnel_chart(data: DashboardData) -> _Chart:
    funnel = data.funnel
    labels = list(funnel["label"])
    events = [int(v) for v in funnel["events"]]
    fig, ax = _figure(0.9 + 0.5 * len(labels))
    ax.barh(range(len(labels)), events, color=list(STEPS), height=0.65)
    for i, r in enumerate(funnel.iter_rows(named=True)):
        rate = f" · {_pct(r['rate_from_previous'])} of previous" if i else ""
        ax.text(r["events"], i, f" {_int(r['events'])}{rate}", va="center", fontsize=8, color=INK)
    ax.set_yticks(range(len(labels)), labels, fontsize=9)
    ax.invert_yaxis()
    ax.set_xlim(0, max([*events, 1]) * 1.45)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: _int_short(v)))
    ax.grid(axis="x", color=GRID, linewidth=0.8)
    rows = [
        [
            f"{r['step']}. {r['label']}",
            r["collection"],
            _int(r["events"]),
            _pct(r["rate_from_previous"]),
            _pct(r["rate_from_first"]),
        ]
        for r in funnel.iter_rows(named=True)
    ]
    return _Chart(
        "Purchase funnel",
        "Events at each step over all days, with each step's conversion from the previous one and "
        "from product views. Events, not people: a step can be larger than the one before it.",
        _png(fig),
        "Funnel bar chart from product views to checkout success",
        h.table(["Step", "Collection", "Events", "From previous", "From views"], rows),
    )


def _funnel_daily_chart(data: DashboardData) -> _Chart:
    daily = data.funnel_daily
    days = list(daily["date_day"])
    fig, ax = _figure(3.4)
    styles = ("-", "-", "-", "-", "--")
    for (column, _, _, label), colour, style in zip(FUNNEL_RATES, RATES, styles, strict=True):
        values = [None if v is None else float(v) for v in daily[column]]
        ax.plot(
            days,
            [float("nan") if v is None else v for v in values],
            label=label,
            color=colour,
            linestyle=style,
            linewidth=1.6,
            marker="o",
            markersize=2.5,
        )
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_ylim(bottom=0)
    _day_axis(ax)
    ax.legend(**_LEGEND_ABOVE)
    recent = daily.sort("date_day", descending=True).head(RECENT_DAYS)
    rows = [
        [_day(r["date_day"], weekday=True)]
        + [_int(r[column]) for column, _, _ in FUNNEL]
        + [_pct(r["view_to_success"])]
        for r in recent.iter_rows(named=True)
    ]
    note = (
        f" The table shows the last {RECENT_DAYS} of {daily.height} days."
        if daily.height > RECENT_DAYS
        else ""
    )
    return _Chart(
        "Funnel by day",
        "Step-to-step conversion per day (events at a step over events at the step before it), "
        f"and product views to checkout success overall (dashed).{note}",
        _png(fig),
        "Line chart of the funnel's step-to-step conversion rates per day",
        h.table(["Day", "Views", "Options", "Cart", "Checkout", "Success", "View → success"], rows),
    )


def _rows_with_rest(
    frame: pl.DataFrame, row, noun: str, total_revenue: float, label_columns: int = 1
) -> list[list[str]]:
    """The first `TABLE_ROWS` rows, and the others summed in one line."""
    rows = [row(r) for r in frame.head(TABLE_ROWS).iter_rows(named=True)]
    rest = frame.slice(TABLE_ROWS)
    if rest.height:
        revenue = float(rest["revenue_usd"].sum())
        rows.append(
            [f"{rest.height} more {noun}"]
            + [""] * (label_columns - 1)
            + [
                _usd(revenue),
                _pct(revenue / total_revenue if total_revenue else None),
                _int(rest["orders"].sum()),
                _int(rest["lines"].sum()),
            ]
        )
    return rows


# -- matplotlib -------------------------------------------------------------------------

# every chart is drawn inside this context (see `_charts`)
_RC = {
    "text.parse_math": False,  # product names and labels may hold "$"
    "font.size": 9,
    "axes.edgecolor": "#9ca3af",
    "axes.labelcolor": INK,
    "xtick.color": MUTED,
    "ytick.color": INK,
    "axes.spines.top": False,
    "axes.spines.right": False,
}


_LEGEND_ABOVE = {"loc": "lower left", "bbox_to_anchor": (0, 1.01), "ncol": 5, "fontsize": 8, "frameon": False}


def _figure(height_in: float, width_px: int = 960):
    fig = Figure(figsize=(width_px / 100, height_in), dpi=100)
    ax = fig.add_subplot()
    ax.grid(axis="y", color=GRID, linewidth=0.8)
    ax.set_axisbelow(True)
    return fig, ax


def _hbars(labels: list[str], values: list[float], texts: list[str], colours: list[str]) -> Figure:
    fig, ax = _figure(0.7 + 0.36 * max(len(labels), 2))
    ax.barh(range(len(labels)), values, color=colours, height=0.65)
    for i, (value, text) in enumerate(zip(values, texts, strict=True)):
        ax.text(value, i, f" {text}", va="center", fontsize=8, color=INK)
    ax.set_yticks(range(len(labels)), labels, fontsize=9)
    ax.invert_yaxis()
    ax.set_xlim(0, max([*values, 1.0]) * 1.3)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: _usd_short(v)))
    ax.grid(axis="y", visible=False)
    ax.grid(axis="x", color=GRID, linewidth=0.8)
    return fig


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.tight_layout()
    # twice the pixels of the layout: sharp on high-density screens
    fig.savefig(buffer, format="png", dpi=200, metadata={"Software": None})
    return buffer.getvalue()


# -- formatting -------------------------------------------------------------------------


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def _usd(value, cents: bool = False) -> str:
    if _missing(value):
        return "–"
    return f"${value:,.2f}" if cents else f"${value:,.0f}"


def _usd_short(value: float) -> str:
    for size, unit in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"${value / size:.1f}{unit}".replace(".0" + unit, unit)
    return f"${value:,.0f}"


def _int(value) -> str:
    return "–" if _missing(value) else f"{round(value):,}"


def _int_short(value: float) -> str:
    for size, unit in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:.1f}{unit}".replace(".0" + unit, unit)
    return f"{value:,.0f}"


def _pct(value) -> str:
    return "–" if _missing(value) else f"{value * 100:.1f}%"


def _share_text(share) -> str:
    return "" if _missing(share) else f" · {share * 100:.1f}%"


def _ratio(numerator, denominator) -> str:
    return f"{numerator / denominator:.2f}" if denominator else "–"


def _day(day: date, weekday: bool = False) -> str:
    return f"{day:%a %-d %b %Y}" if weekday else f"{day:%-d %b %Y}"


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


# -- the file ---------------------------------------------------------------------------


async def dashboard_html(warehouse) -> str:
    """Queries the marts and renders the page."""
    data = await dashboard_data(warehouse)
    return await asyncio.to_thread(render_dashboard, data, datetime.now().astimezone())


async def build_dashboard(warehouse, path: Path) -> Path:
    """The page written to `path` (write-then-rename: a browser or a copy never finds
    half a file). Returns the path."""
    html = await dashboard_html(warehouse)
    target = Path(path).expanduser()
    await asyncio.to_thread(_write_atomically, target, html.encode("utf-8"))
    return target


def _write_atomically(target: Path, content: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(content)
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide the page from a web server
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

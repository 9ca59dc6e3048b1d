"""Glamira's unusual days: per store (and all stores together, entity "all"), each day's
events, orders and revenue against the same weekday in recent weeks (tasks/anomalies.py),
with the likely cause where the data shows one:

- **tracking down**: a store's events far below normal (and its orders with them, since
  an order is a `checkout_success` event): the site's tracking stopped sending;
- **flood of <collection> events**: one collection of a store far above its usual count
  while its other collections are normal (a tag firing in a loop, a bot);
- **prices changed**: the same products (product, alloy, stone) sold at other local
  prices than in recent weeks, or the average unit price far from normal while the orders
  are normal.

    check = await glamira_check(warehouse, days)      # anomalies + why a day had no verdict
    frame = await glamira_anomalies(warehouse, days)  # ANOMALY_SCHEMA rows only

Definitions follow the marts (tasks/glamira/dashboard.py): orders are
`count(distinct order_key)` of `marts.fct_sales_order_line` (deduplicated successful
checkouts), revenue `sum(line_total_usd)` (lines with a supported price), events
`sum(events)` of `marts.fct_daily_events`, per `collection`.

Why a price index and not only revenue per order: a store sells a handful of orders a day
at the demo's volume, and one ring costs ten earrings, so revenue per order swings far
more than a 50% price rise. The same product with the same options costs the same from
one week to the next, so their price ratio is 1 on a normal day whatever was bought.

The detection is pure (`detect` on frames); `anomaly_queries` is the SQL, plain standard
SQL that runs on DuckDB and BigQuery alike; the bench (bench/anomalies_glamira.py) feeds
`detect` the same frames from generated data, day by day.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

import polars as pl

from tasks.anomalies import (
    ALL,
    Rules,
    conform,
    describe,
    empty,
    flagged,
    score_against_baseline,
    weekday_baseline,
)

BUSINESS = "glamira"
SCHEMA = "marts"
MARTS = ("fct_daily_events", "fct_sales_order_line")
ARTIFACT = "glamira-anomalies"
# Tuned on bench/anomalies_glamira.py: a store's events come in visits of a dozen events,
# so they vary more than Poisson noise; the floor of 15% of the median covers it.
RULES = Rules(threshold=5.0, severe=10.0, weeks=8, min_weeks=3, relative_floor=0.15)
MIN_ORDERS = 8.0  # fewer orders expected than this: orders and revenue are too few to judge
MIN_PRICED_ORDERS = 3  # the average unit price of fewer orders than this says nothing
MIN_SPREAD = 1.0  # a count's spread is at least one (a median of zero would make any event extreme)
DOWN_SHARE = 0.5  # events below this share of expected: tracking down, a severe anomaly
# A store's events vary by a fifth from week to week (visits of a dozen events), so half
# of them gone is only 3 spreads away; below DOWN_SHARE that is enough to call it.
DOWN_THRESHOLD = 3.0
# Below a quarter of the usual events is no day's noise at any store of the bench (their
# lowest normal day is a third), however wide a few weeks' spread came out: tracking down.
GONE_SHARE = 0.25
GONE_MIN_EVENTS = 50.0  # ...of a store that usually has at least this many
# more events than usual: at the demo's volume a small store's traffic doubles on its own
# now and then (bench), so a surge with no flooding collection to explain it needs more
SURGE_RATIO = 2.5
FLOOD_RATIO = 4.0  # a flood is at least this many times the collection's usual count
PRICE_SPREAD = 0.05  # a price index's spread: prices of the same product barely move
PRICES_CHANGED = "prices changed"
TRACKING_DOWN = "tracking down"

FIGURES = ("events", "orders", "revenue_usd", "avg_unit_price_usd")
COUNTS = ("events", "orders")
LABELS = {
    "events": ("Events", ""),
    "orders": ("Orders", ""),
    "revenue_usd": ("Revenue", " USD"),
    "avg_unit_price_usd": ("Average unit price", " USD"),
}
EVENTS_SCHEMA = {
    "date_day": pl.Date(),
    "store_key": pl.String(),
    "collection": pl.String(),
    "events": pl.Int64(),
}
LINES_SCHEMA = {
    "date_day": pl.Date(),
    "store_key": pl.String(),
    "order_key": pl.String(),
    "product_key": pl.String(),
    "option_alloy": pl.String(),
    "option_stone": pl.String(),
    "quantity": pl.Int64(),
    "unit_price_local": pl.Float64(),
    "line_total_usd": pl.Float64(),
}
_SAME_PRODUCT = ["store_key", "product_key", "option_alloy", "option_stone"]


def anomaly_queries(warehouse, first_day: date, last_day: date, rules: Rules = RULES) -> dict[str, str]:
    """The SQL behind `detect`'s frames for checking `first_day`..`last_day`: the events per
    store and collection and the order lines of those days and the `rules.weeks` weeks
    before, and the days the marts hold. Standard SQL for DuckDB and BigQuery alike."""
    events = warehouse.table_ref(SCHEMA, "fct_daily_events")
    lines = warehouse.table_ref(SCHEMA, "fct_sales_order_line")
    window = (
        f"date_day between date '{(first_day - timedelta(weeks=rules.weeks)).isoformat()}' "
        f"and date '{last_day.isoformat()}'"
    )
    return {
        "events": f"""
select e.date_day, e.store_key, e.collection, sum(e.events) as events
from {events} as e
where e.{window}
group by e.date_day, e.store_key, e.collection""",
        "lines": f"""
select
  f.date_day, f.store_key, f.order_key, f.product_key, f.option_alloy, f.option_stone,
  f.quantity, f.unit_price_local, f.line_total_usd
from {lines} as f
where f.{window}""",
    }


def calendar_query(warehouse) -> str:
    """The days the marts hold events for (few rows: one per day)."""
    events = warehouse.table_ref(SCHEMA, "fct_daily_events")
    return f"select e.date_day from {events} as e group by e.date_day order by e.date_day"


@dataclass(frozen=True)
class Check:
    """What checking some days found: the anomalies, and which days had no baseline."""

    days: list[date]
    anomalies: pl.DataFrame  # ANOMALY_SCHEMA
    history_days: int  # days in the marts up to the last day checked
    unjudged: list[date] = field(default_factory=list)  # days without enough history

    @property
    def note(self) -> str:
        """One line for the artifact: what was checked and found, or why nothing could be."""
        if not self.days:
            return "No Glamira day to check: the marts hold no events."
        span = _span(self.days)
        if self.unjudged and len(self.unjudged) == len(self.days):
            return (
                f"{span}: not enough history for a baseline ({self.history_days} days; "
                f"{RULES.min_weeks} weeks of the same weekday needed)."
            )
        found = self.anomalies.height
        severe = self.anomalies.filter(pl.col("severity") == "severe").height
        line = f"{span}: {found} unusual figure{'s' if found != 1 else ''} ({severe} severe)."
        if self.unjudged:
            line += f" Not enough history for {', '.join(d.isoformat() for d in self.unjudged)}."
        return line


async def glamira_check(warehouse, days: Sequence[date] | None = None, rules: Rules = RULES) -> Check:
    """Checks `days` (default: the latest day in the marts) against the marts."""
    calendar = await warehouse.query(calendar_query(warehouse))
    held = (
        sorted(d for d in calendar["date_day"].cast(pl.Date).to_list() if d is not None)
        if calendar.height
        else []
    )
    wanted = sorted(set(days)) if days else held[-1:]
    if not wanted:
        return Check([], empty(), 0)
    queries = anomaly_queries(warehouse, wanted[0], wanted[-1], rules)
    events = await warehouse.query(queries["events"])
    lines = await warehouse.query(queries["lines"])
    anomalies, unjudged = detect_days(events, lines, wanted, rules)
    history = sum(1 for d in held if d <= wanted[-1])
    return Check(wanted, anomalies, history, unjudged)


async def glamira_anomalies(warehouse, days: Sequence[date] | None = None) -> pl.DataFrame:
    """The anomalies of `days` (default: the latest day in the marts), ANOMALY_SCHEMA."""
    return (await glamira_check(warehouse, days)).anomalies


def detect_days(
    events: pl.DataFrame, lines: pl.DataFrame, days: Iterable[date], rules: Rules = RULES
) -> tuple[pl.DataFrame, list[date]]:
    """`detect` for each day, and the days that had no baseline at all."""
    events, lines = _typed(events, EVENTS_SCHEMA), _typed(lines, LINES_SCHEMA)
    found, unjudged = [], []
    for day in sorted(set(days)):
        frame, judged = detect(events, lines, day, rules)
        found.append(frame)
        if not judged:
            unjudged.append(day)
    return pl.concat(found) if found else empty(), unjudged


def detect(
    events: pl.DataFrame, lines: pl.DataFrame, day: date, rules: Rules = RULES
) -> tuple[pl.DataFrame, bool]:
    """The anomalies of `day` (ANOMALY_SCHEMA, most severe first), and whether any figure
    had a baseline. `events` and `lines` are the frames of `anomaly_queries` (EVENTS_SCHEMA,
    LINES_SCHEMA) covering `day` and the weeks before it; later days are ignored."""
    events = _typed(events, EVENTS_SCHEMA).filter(pl.col("date_day") <= day)
    lines = _typed(lines, LINES_SCHEMA).filter(pl.col("date_day") <= day)
    figures = daily_figures(events, lines)
    collections = collection_counts(events)

    scored = _score_figures(figures, day, rules)
    floods = _score_collections(collections, day, rules)
    prices = _score_prices(price_index(lines, day, rules.weeks), rules)
    judged = scored.height + floods.height > 0
    is_events = pl.col("metric") == "events"
    down = (
        is_events
        & (pl.col("actual") < DOWN_SHARE * pl.col("expected"))
        & (pl.col("score") <= -DOWN_THRESHOLD)
    )
    gone = (
        is_events
        & (pl.col("actual") < GONE_SHARE * pl.col("expected"))
        & (pl.col("expected") >= GONE_MIN_EVENTS)
    )
    surge = is_events & (pl.col("score") > 0) & (pl.col("actual") < SURGE_RATIO * pl.col("expected"))
    flags = [
        flagged(scored.filter(~down & ~surge & ~gone), rules),
        flagged(scored.filter(down & ~gone), Rules(threshold=DOWN_THRESHOLD, severe=rules.severe)),
        flagged(scored.filter(gone), Rules(threshold=0.0, severe=rules.severe)),
        flagged(floods, rules).filter((pl.col("score") > 0) & (pl.col("ratio") >= FLOOD_RATIO)),
        flagged(prices, rules),
    ]
    rows = [row for frame in flags for row in frame.to_dicts()]
    if not rows:
        return empty(), judged
    return _explain(rows, day), judged


def daily_figures(events: pl.DataFrame, lines: pl.DataFrame) -> pl.DataFrame:
    """Per day and entity (each store, and ALL): events, orders, revenue_usd,
    avg_unit_price_usd (revenue over the units of lines priced in USD)."""
    per_store = (
        events.group_by("date_day", "store_key")
        .agg(events=pl.col("events").sum())
        .join(
            lines.group_by("date_day", "store_key").agg(
                orders=pl.col("order_key").n_unique(),
                revenue_usd=pl.col("line_total_usd").sum(),
                priced_units=pl.col("quantity").filter(pl.col("line_total_usd").is_not_null()).sum(),
                priced_orders=pl.col("order_key").filter(pl.col("line_total_usd").is_not_null()).n_unique(),
            ),
            on=["date_day", "store_key"],
            how="full",
            coalesce=True,
        )
    )
    together = per_store.group_by("date_day").agg(
        pl.lit(ALL).alias("store_key"),
        *(pl.col(c).sum() for c in ("events", "orders", "revenue_usd", "priced_units", "priced_orders")),
    )
    both = pl.concat([per_store, together.select(per_store.columns)])
    return both.select(
        pl.col("date_day").alias("day"),
        pl.col("store_key").alias("entity"),
        pl.col("events").fill_null(0).cast(pl.Float64),
        pl.col("orders").fill_null(0).cast(pl.Float64),
        pl.col("revenue_usd").fill_null(0.0),
        pl.when(pl.col("priced_orders") >= MIN_PRICED_ORDERS)
        .then(pl.col("revenue_usd") / pl.col("priced_units"))
        .alias("avg_unit_price_usd"),
    )


def collection_counts(events: pl.DataFrame) -> pl.DataFrame:
    """Per day, entity (each store and ALL) and collection: the events."""
    per_store = events.group_by("date_day", "store_key", "collection").agg(pl.col("events").sum())
    together = per_store.group_by("date_day", "collection").agg(
        pl.lit(ALL).alias("store_key"), pl.col("events").sum()
    )
    return pl.concat([per_store, together.select(per_store.columns)]).select(
        pl.col("date_day").alias("day"),
        pl.col("store_key").alias("entity"),
        "collection",
        pl.col("events").cast(pl.Float64),
    )


def price_index(lines: pl.DataFrame, day: date, weeks: int) -> pl.DataFrame:
    """Per entity (each store and ALL): the median over `day`'s lines of the local unit
    price over the same product's (same options, same store) median in the `weeks` weeks
    before, and how many lines had such a reference (`compared`)."""
    priced = lines.filter(pl.col("unit_price_local").is_not_null() & (pl.col("unit_price_local") > 0))
    reference = (
        priced.filter(pl.col("date_day").is_between(day - timedelta(weeks=weeks), day - timedelta(days=1)))
        .group_by(_SAME_PRODUCT)
        .agg(reference=pl.col("unit_price_local").median())
    )
    ratios = (
        priced.filter(pl.col("date_day") == day)
        .join(reference, on=_SAME_PRODUCT, how="inner", nulls_equal=True)
        .select("store_key", ratio=pl.col("unit_price_local") / pl.col("reference"))
    )
    per_store = ratios.group_by("store_key").agg(index=pl.col("ratio").median(), compared=pl.len())
    together = ratios.select(
        pl.lit(ALL).alias("store_key"), index=pl.col("ratio").median(), compared=pl.len()
    ).filter(pl.col("compared") > 0)
    return pl.concat([per_store, together]).rename({"store_key": "entity"})


def _score_figures(figures: pl.DataFrame, day: date, rules: Rules) -> pl.DataFrame:
    baseline = _floored(weekday_baseline(figures, day, ["entity"], FIGURES, COUNTS, rules))
    # orders and money say something only where there are enough orders to judge
    orders = baseline.filter((pl.col("metric") == "orders") & (pl.col("expected") >= MIN_ORDERS)).select(
        "entity", expected_orders="expected"
    )
    money = baseline.join(orders, on="entity", how="inner").filter(pl.col("metric") != "events")
    # Revenue is a Poisson number of orders whose values vary about as much as their mean,
    # so its variance is about 2 × orders × the mean squared: a few weeks' MAD of it can
    # come out far narrower than that, and a pricey day would look like an incident.
    sampling = pl.col("expected") * (
        pl.when(pl.col("metric") == "revenue_usd")
        .then((2.0 / pl.col("expected_orders")).sqrt())
        .when(pl.col("metric") == "avg_unit_price_usd")
        .then((1.0 / pl.col("expected_orders")).sqrt())
        .otherwise(0.0)
    )
    money = money.with_columns(spread=pl.max_horizontal("spread", sampling)).drop("expected_orders")
    baseline = pl.concat([baseline.filter(pl.col("metric") == "events"), money])
    # an entity with a baseline but no row today had nothing: zero events, zero orders
    entities = baseline.select("entity").unique()
    today = entities.join(figures.filter(pl.col("day") == day), on="entity", how="left").with_columns(
        pl.col("events", "orders", "revenue_usd").fill_null(0.0)
    )
    return score_against_baseline(today.drop("day"), baseline, ["entity"], rules)


def _score_collections(collections: pl.DataFrame, day: date, rules: Rules) -> pl.DataFrame:
    """Each collection's events against what its usual share of the store's events makes
    of the store's other events today. A share, because a store's traffic swings from day
    to day and every collection with it; the others, so that a flood does not raise its
    own expectation. The spread is the share's (floored by Poisson noise of the count)."""
    totals = collections.group_by("day", "entity").agg(total=pl.col("events").sum())
    shares = collections.join(totals, on=["day", "entity"]).with_columns(
        share=pl.col("events") / pl.col("total")
    )
    baseline = weekday_baseline(shares, day, ["entity", "collection"], ["share"], (), rules)
    keys = baseline.select("entity", "collection").unique()
    today = (
        keys.join(totals.filter(pl.col("day") == day).drop("day"), on="entity", how="inner")
        .join(collections.filter(pl.col("day") == day).drop("day"), on=["entity", "collection"], how="left")
        .with_columns(pl.col("events").fill_null(0.0))
        .join(baseline.drop("metric"), on=["entity", "collection"], how="inner")
    )
    others = (pl.col("total") - pl.col("events")) / (1.0 - pl.col("expected")).clip(lower_bound=0.05)
    expected = pl.col("expected") * others
    spread = pl.max_horizontal(
        pl.col("spread") * others, expected.sqrt(), expected * rules.relative_floor, pl.lit(MIN_SPREAD)
    )
    return today.select(
        "entity",
        "collection",
        pl.format("events:{}", pl.col("collection")).alias("metric"),
        pl.col("events").alias("actual"),
        expected.alias("expected"),
        (expected - rules.threshold * spread).alias("lower"),
        (expected + rules.threshold * spread).alias("upper"),
        ((pl.col("events") - expected) / spread).alias("score"),
        pl.lit("baseline").alias("basis"),
        (pl.col("events") / pl.max_horizontal(expected, pl.lit(1.0))).alias("ratio"),
    )


def _score_prices(index: pl.DataFrame, rules: Rules) -> pl.DataFrame:
    return index.select(
        "entity",
        pl.lit("price_index").alias("metric"),
        pl.col("index").alias("actual"),
        pl.lit(1.0).alias("expected"),
        pl.lit(1.0 - rules.threshold * PRICE_SPREAD).alias("lower"),
        pl.lit(1.0 + rules.threshold * PRICE_SPREAD).alias("upper"),
        ((pl.col("index") - 1.0) / PRICE_SPREAD).alias("score"),
        pl.lit("baseline").alias("basis"),
        "compared",
    )


def _floored(baseline: pl.DataFrame) -> pl.DataFrame:
    counts = pl.col("metric").is_in([*COUNTS, "count"])
    return baseline.with_columns(
        spread=pl.when(counts).then(pl.max_horizontal("spread", pl.lit(MIN_SPREAD))).otherwise("spread")
    )


def _explain(rows: list[dict], day: date) -> pl.DataFrame:
    """Adds the likely cause, the severity it implies and a sentence to each flagged row."""
    down = {
        r["entity"]
        for r in rows
        if r["metric"] == "events" and r["actual"] < DOWN_SHARE * r["expected"] and r["score"] < 0
    }
    flooded: dict[str, list[str]] = {}
    for r in rows:
        if r["metric"].startswith("events:"):
            flooded.setdefault(r["entity"], []).append(r["collection"])
    orders_flagged = {r["entity"] for r in rows if r["metric"] == "orders"}
    out = []
    for r in rows:
        entity, metric = r["entity"], r["metric"]
        where = "all stores" if entity == ALL else f"store {entity}"
        cause, severity = None, r["severity"]
        if entity in down and metric in ("events", "orders", "revenue_usd") and r["score"] < 0:
            cause, severity = TRACKING_DOWN, "severe"
        elif metric == "events" and len(flooded.get(entity, [])) == 1 and r["score"] > 0:
            cause = f"flood of {flooded[entity][0]} events"
        elif metric.startswith("events:") and len(flooded[entity]) == 1:
            cause = f"flood of {r['collection']} events"
        elif metric in ("price_index", "avg_unit_price_usd") and entity not in orders_flagged:
            cause = PRICES_CHANGED
        if metric == "price_index":
            change = (r["actual"] - 1.0) * 100
            detail = (
                f"Prices at {where} were {abs(change):.0f}% {'above' if change > 0 else 'below'} the same "
                f"products' prices in recent weeks ({r['compared']} order lines compared)."
            )
        elif metric.startswith("events:"):
            detail = describe(r, f"{r['collection']} events", where)
        else:
            label, unit = LABELS[metric]
            detail = describe(r, label, where, unit)
        if cause:
            detail += f" Likely cause: {cause}."
        out.append(
            {**r, "business": BUSINESS, "day": day, "cause": cause, "severity": severity, "detail": detail}
        )
    return (
        conform(pl.DataFrame(out, infer_schema_length=None))
        .with_columns(_rank=pl.col("severity").replace_strict({"severe": 0, "warning": 1}, default=2))
        .sort("_rank", pl.col("score").abs(), descending=[False, True])
        .drop("_rank")
    )


def _typed(frame: pl.DataFrame, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """The warehouse's answer in `schema` (DuckDB sums to 128-bit decimals, BigQuery to INT64);
    a store the marts could not name counts under "unknown"."""
    if frame.is_empty() and not frame.columns:
        return pl.DataFrame(schema=schema)
    return frame.select([pl.col(c).cast(t) for c, t in schema.items()]).with_columns(
        pl.col("store_key").fill_null("unknown")
    )


def _span(days: list[date]) -> str:
    return days[0].isoformat() if len(days) == 1 else f"{days[0].isoformat()} … {days[-1].isoformat()}"


# -- for the artifact, the alert and the run's result ---------------------------------------


def by_cause(anomalies: pl.DataFrame) -> list[dict]:
    """One entry per day, store and cause (or figure), most severe first: `headline`,
    `detail`, `severity`, as the anomaly alert (pipelines/alerts.py AnomalyAlert) takes them."""
    out = []
    keys = ["day", "entity", pl.coalesce("cause", "metric").alias("what")]
    for _, group in anomalies.group_by(keys, maintain_order=True):
        first = group.row(0, named=True)
        where = "all stores" if first["entity"] == ALL else f"store {first['entity']}"
        what = first["cause"] or first["detail"].split(" at ")[0]
        out.append(
            {
                "day": first["day"].isoformat(),
                "entity": first["entity"],
                "severity": "severe" if (group["severity"] == "severe").any() else "warning",
                "cause": first["cause"],
                "metrics": group["metric"].to_list(),
                "headline": f"{first['day'].isoformat()} {where}: {what}",
                "detail": first["detail"],
            }
        )
    return sorted(out, key=lambda e: e["severity"] != "severe")


def markdown_section(check: Check) -> str:
    """The marts artifact's "Unusual days" section: the note, then one row per figure."""
    lines = ["## Unusual days (Glamira)", "", check.note]
    if check.anomalies.height:
        lines += [
            "",
            "| Day | Store | Figure | Actual | Expected | Score | Severity | Likely cause |",
            "|---|---|---|---:|---:|---:|---|---|",
        ]
        for r in check.anomalies.iter_rows(named=True):
            lines.append(
                f"| {r['day']} | {r['entity']} | {r['metric']} | {_number(r['actual'])} | "
                f"{_number(r['expected'])} | {r['score']:+.1f} | {r['severity']} | {r['cause'] or ''} |"
            )
    return "\n".join(lines)


def table_rows(anomalies: pl.DataFrame) -> list[dict]:
    """The anomalies as a table artifact's rows (JSON-friendly)."""
    return [
        {**r, "day": r["day"].isoformat(), "actual": _number(r["actual"]), "expected": _number(r["expected"])}
        for r in anomalies.select(
            "day", "entity", "metric", "actual", "expected", "score", "severity", "cause", "detail"
        )
        .with_columns(pl.col("score").round(1))
        .iter_rows(named=True)
    ]


def _number(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:,.2f}" if abs(value) < 10 else f"{value:,.0f}"

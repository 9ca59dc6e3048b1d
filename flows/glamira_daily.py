"""glamira-daily: one UTC day of Glamira's website events into the lake, with the IPs
geolocated and the products named.

    glamira-events     MongoDB `summary` --batches--> normalise --> lake events/dt=DAY
    glamira-locations  the day's new IPs --> classify, IP2Location --> MongoDB `locations` + lake
    glamira-products   the day's new products --> Scrapy (own process) --> lake products/dt=DAY + CSV

Each step is a flow of its own that reads its input from the lake, so any one can be
re-run alone for a day; glamira-daily runs the three and reports.
"""

from __future__ import annotations

from datetime import UTC, date

from prefect import flow, get_run_logger
from prefect.artifacts import acreate_markdown_artifact
from prefect.runtime import flow_run

from flows.glamira_load import LOADS, glamira_load
from flows.glamira_load import ROLES as LOAD_ROLES
from flows.resources import resources, scratch
from flows.roles import GlamiraBlocks
from pipelines import htmlmail as h
from pipelines.alerts import alert_on_crash, alert_on_failure
from pipelines.calendar import yesterday
from pipelines.concurrency import one_run_per_day
from pipelines.errors import gather_all
from tasks.glamira.ingest import (
    DATABASE,
    crawl_product_names,
    geolocate_new_ips,
    land_events,
    parse_new_user_agents,
)
from tasks.glamira.locations import locations_store

SOURCE = "glamira"
EVENTS_ROLES = ("mongodb", "lake")
LOCATIONS_ROLES = ("mongodb", "lake", "ip2location")
PRODUCTS_ROLES = ("lake", "crawl")


def _day(day: date | None) -> date:
    return day or yesterday(UTC)


def _named(prefix: str):
    def name() -> str:
        return f"{prefix}-{flow_run.parameters.get('day') or 'yesterday'}"

    return name


@flow(
    name="glamira-events",
    flow_run_name=_named("glamira-events"),
    on_failure=[alert_on_failure],
    on_crashed=[alert_on_crash],
)
async def glamira_events(
    day: date | None = None,
    batch_size: int = 50_000,
    workers: int | None = None,
    blocks: GlamiraBlocks = GlamiraBlocks(),
) -> dict:
    """Stream the day's events from MongoDB (`glamira.summary`, by `time_stamp`),
    normalise them on `workers` processes (default: one per core, or PIPELINES_WORKERS)
    and land them as `glamira/events/dt=DAY` (rejects beside them)."""
    day = _day(day)
    used = await resources(blocks, SOURCE, *EVENTS_ROLES)
    used.log(get_run_logger(), *EVENTS_ROLES)
    landed = (await land_events(used.mongodb, used.lake, day, batch_size, workers)).as_dict()
    landed["user_agents"] = await parse_new_user_agents(used.lake, day)
    return landed


@flow(
    name="glamira-locations",
    flow_run_name=_named("glamira-locations"),
    on_failure=[alert_on_failure],
    on_crashed=[alert_on_crash],
)
async def glamira_locations(day: date | None = None, blocks: GlamiraBlocks = GlamiraBlocks()) -> dict:
    """Geolocate the IPs of the day's landed events that no earlier day located; upsert
    them into MongoDB's `locations` (production) and land `glamira/locations/dt=DAY`."""
    day = _day(day)
    used = await resources(blocks, SOURCE, *LOCATIONS_ROLES)
    used.log(get_run_logger(), *LOCATIONS_ROLES)
    store = locations_store(used.mongodb, used.lake, DATABASE)
    get_run_logger().info("locations  %s", store.describe())
    path = str(used.ip2location.checked_path())
    return (await geolocate_new_ips(used.lake, store, path, day)).as_dict()


@flow(
    name="glamira-products",
    flow_run_name=_named("glamira-products"),
    on_failure=[alert_on_failure],
    on_crashed=[alert_on_crash],
)
async def glamira_products(day: date | None = None, blocks: GlamiraBlocks = GlamiraBlocks()) -> dict:
    """Crawl the names of the day's products not yet named (Scrapy, in its own process);
    land `glamira/products/dt=DAY` and its `products.csv`."""
    day = _day(day)
    used = await resources(blocks, SOURCE, *PRODUCTS_ROLES)
    used.log(get_run_logger(), *PRODUCTS_ROLES)
    with scratch(
        f"glamira-crawl/{day.isoformat()}"
    ) as workdir:  # locally resumable: a re-run skips what is done
        return (await crawl_product_names(used.lake, used.crawl, str(workdir), day)).as_dict()


@flow(
    name="glamira-daily",
    flow_run_name=_named("glamira-daily"),
    description="Glamira events of one UTC day into the lake, with new IPs geolocated and new products named.",
    timeout_seconds=6 * 3600,
    on_failure=[alert_on_failure],
    on_crashed=[alert_on_crash],
)
async def glamira_daily(
    day: date | None = None,
    batch_size: int = 50_000,
    workers: int | None = None,
    geolocate: bool = True,
    crawl: bool = True,
    load_warehouse: bool = True,
    blocks: GlamiraBlocks = GlamiraBlocks(),
) -> dict:
    """Process one UTC day (default: yesterday).

    Args:
        day: the UTC day of the events' `time_stamp`.
        batch_size: events per batch (and per parquet part).
        workers: processes normalising batches (default: one per core, or the
            PIPELINES_WORKERS environment variable).
        geolocate: run glamira-locations after the events have landed.
        crawl: run glamira-products after the events have landed.
        load_warehouse: load what landed into the warehouse right away (glamira-load).
            Off where a deployment trigger loads on the landing events instead.
        blocks: names of the saved blocks to use.
    """
    day = _day(day)
    roles = {*EVENTS_ROLES, *(LOCATIONS_ROLES if geolocate else ()), *(PRODUCTS_ROLES if crawl else ())}
    roles |= set(LOAD_ROLES if load_warehouse else ())
    used = await resources(blocks, SOURCE, *sorted(roles))  # every step's roles, before any work
    async with one_run_per_day(used.lake, "glamira-daily", day):
        events = await glamira_events(day=day, batch_size=batch_size, workers=workers, blocks=blocks)
        steps = []
        if geolocate:
            steps.append(glamira_locations(day=day, blocks=blocks))
        if crawl:
            steps.append(glamira_products(day=day, blocks=blocks))
        results = await gather_all(*steps)  # both read the landed events: they run side by side
        locations = results.pop(0) if geolocate else None
        products = results.pop(0) if crawl else None
        summary = {"day": day.isoformat(), "events": events, "locations": locations, "products": products}
        if load_warehouse:
            summary["loaded"] = {
                dataset: (await glamira_load(dataset=dataset, day=day, blocks=blocks)).get("rows")
                for dataset in LOADS
                if (dataset != "locations" or geolocate) and (dataset != "products" or crawl)
            }
        await acreate_markdown_artifact(
            key="glamira-daily-summary", markdown=_markdown(summary), description=f"Glamira ingest of {day}"
        )
        return summary


def _markdown(summary: dict) -> str:
    e, loc, p = summary["events"], summary["locations"], summary["products"]
    rows = [
        [
            "events",
            f"{e['read']:,} read, {e['landed']:,} landed in {e['parts']} parts, {e['rejected']:,} set aside",
            f"{e['seconds']}s",
        ],
    ]
    if loc:
        kinds = ", ".join(f"{k} {v:,}" for k, v in loc["by_kind"].items())
        rows.append(
            [
                "IPs",
                f"{loc['distinct_ips']:,} distinct, {loc['known']:,} known, {loc['new']:,} new ({kinds}); "
                f"{loc['looked_up']:,} looked up at {loc['lookups_per_second']:,.0f}/s",
                f"{loc['seconds']}s",
            ]
        )
    if p:
        failures = ", ".join(f"{k} {v}" for k, v in p["failures"].items()) or "none"
        rows.append(
            [
                "products",
                f"{p['seen']:,} seen, {p['known']:,} already named, {p['to_crawl']:,} crawled: "
                f"{p['ok']:,} named, {p['failed']:,} failed ({failures})",
                f"{p['seconds']}s",
            ]
        )
    issues = ", ".join(f"{k}: {v:,}" for k, v in list(e["issues"].items())[:8]) or "none"
    r = e["reconciliation"]
    return "\n".join(
        [
            f"# Glamira ingest of {summary['day']}",
            "",
            h.markdown_table(["Step", "Counts", "Time"], rows),
            "",
            f"Every document accounted for: {r['source']:,} in the source = {r['landed']:,} landed + "
            f"{r['set_aside']:,} set aside (under glamira/_rejects/events/dt={summary['day']}).",
            "",
            f"Drift handled in the events: {issues}.",
        ]
    )

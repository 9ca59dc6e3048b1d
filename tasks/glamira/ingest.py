"""The Glamira daily ingest's tasks: thin Prefect wrappers that stream, normalise, land,
geolocate and crawl."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

import polars as pl
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from blocks.crawl import ProductCrawl
from blocks.lake import Lake, partition_prefix, rejects_prefix
from blocks.mongodb import MongoDB, MongoDump
from tasks.glamira.events import EVENTS_SCHEMA, REJECTS_SCHEMA, day_query, normalise_for_landing
from tasks.parallel import ordered_map
from tasks.reconcile import Reconciliation

SOURCE = "glamira"
DATABASE = "glamira"
EVENTS_COLLECTION = "summary"
PRODUCT_COLLECTIONS = (
    "view_product_detail",
    "select_product_option",
    "select_product_option_quality",
    "product_detail_recommendation_visible",
    "product_detail_recommendation_noticed",
    "back_to_product",
)


@dataclass
class EventsLanded:
    day: str
    read: int = 0
    landed: int = 0
    rejected: int = 0
    parts: int = 0
    seconds: float = 0.0
    issues: dict[str, int] = field(default_factory=dict)
    uris: list[str] = field(default_factory=list)
    reject_uris: list[str] = field(default_factory=list)
    reconciliation: Reconciliation | None = None

    def as_dict(self) -> dict:
        values = asdict(self)
        values["reconciliation"] = self.reconciliation.as_dict() if self.reconciliation else None
        return values


@task(name="land-events", cache_policy=NO_CACHE, task_run_name="land events {day}")
async def land_events(
    source: MongoDB | MongoDump, lake: Lake, day: date, batch_size: int = 50_000, workers: int | None = None
) -> EventsLanded:
    """Stream the day's events in batches, normalise each (on `workers` processes, default
    one per core, see `tasks.parallel`) and land it as a parquet part in the order read:
    the whole day is never in memory. The source then counts the day's documents by
    itself; only when read = landed + rejected = that count does the new generation
    replace the day's partitions (events and rejects)."""
    logger = get_run_logger()
    started = time.perf_counter()
    result = EventsLanded(day=day.isoformat())
    issues: Counter = Counter()
    query = day_query(day)
    metadata = {"dataset": "events", "day": day.isoformat()}

    async with (
        lake.replacing(partition_prefix(SOURCE, "events", day), metadata) as events,
        lake.replacing(rejects_prefix(SOURCE, "events", day), metadata) as rejects,
    ):
        async for normalised in ordered_map(
            normalise_for_landing,
            source.find(DATABASE, EVENTS_COLLECTION, query, batch_size),
            day,
            workers=workers,
            full_batch=batch_size,
        ):
            result.read += normalised.raw_documents
            result.landed += normalised.events.rows
            result.rejected += normalised.rejects.height
            await events.write(normalised.events)
            if normalised.rejects.height:
                await rejects.write(normalised.rejects)
            issues.update(normalised.issues)
            logger.info("batch of %d: %d events landed so far", normalised.raw_documents, result.landed)
        if not events.keys:  # an empty day still gets its (empty) partition with the schema
            await events.write(pl.DataFrame(schema=EVENTS_SCHEMA))
        if not rejects.keys:
            await rejects.write(pl.DataFrame(schema=REJECTS_SCHEMA))
        counted = await source.count(DATABASE, EVENTS_COLLECTION, query)
        result.reconciliation = Reconciliation(counted, result.read, result.landed, result.rejected).check(
            f"glamira events of {day}"
        )
    landed, landed_rejects = events.landed, rejects.landed
    assert landed is not None and landed_rejects is not None
    result.parts = len(landed.uris)
    result.uris, result.reject_uris = landed.uris, landed_rejects.uris
    result.issues = dict(issues.most_common())
    result.seconds = round(time.perf_counter() - started, 2)
    logger.info(
        "%s: %d events read, %d landed in %d parts, %d rejected, in %.1fs (%.0f events/s); %s",
        day,
        result.read,
        result.landed,
        result.parts,
        result.rejected,
        result.seconds,
        result.read / result.seconds if result.seconds else 0,
        result.reconciliation.line(),
    )
    return result


async def day_column(lake: Lake, day: date, columns: list[str]) -> pl.DataFrame:
    """Columns of the day's landed events (empty when the day was never landed)."""
    frame = await lake.read_columns(partition_prefix(SOURCE, "events", day), columns)
    return frame if frame is not None else pl.DataFrame(schema={c: EVENTS_SCHEMA[c] for c in columns})


def product_urls(events: pl.DataFrame) -> pl.DataFrame:
    """One URL per product seen on a product page: the most frequent one, then the
    shortest (fewest option parameters)."""
    return (
        events.filter(
            pl.col("collection").is_in(PRODUCT_COLLECTIONS),
            pl.col("product_id").is_not_null(),
            pl.col("current_url").str.starts_with("http"),
        )
        .group_by("product_id", "current_url")
        .len()
        .sort(["product_id", "len", pl.col("current_url").str.len_chars()], descending=[False, True, False])
        .unique("product_id", keep="first", maintain_order=True)
        .select("product_id", url="current_url")
    )


# -- geolocation --------------------------------------------------------------------------


@dataclass
class LocationsLanded:
    day: str
    distinct_ips: int = 0
    known: int = 0
    new: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    looked_up: int = 0
    lookups_per_second: float = 0.0
    upserted: int = 0
    seconds: float = 0.0
    uris: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


@task(name="geolocate-new-ips", cache_policy=NO_CACHE, task_run_name="geolocate {day}")
async def geolocate_new_ips(lake: Lake, store, bin_path: str, day: date) -> LocationsLanded:
    """The day's distinct IPs not located on an earlier day: classified, the public ones
    looked up in the BIN, stored, and landed as the day's `locations` partition."""
    from tasks.glamira.geo import BinDatabase, geolocate

    logger = get_run_logger()
    started = time.perf_counter()
    result = LocationsLanded(day=day.isoformat())
    ips = (await day_column(lake, day, ["ip"]))["ip"].drop_nulls().unique().sort()
    known = await store.known(ips, day)
    new = ips.filter(~ips.is_in(known.implode()))
    result.distinct_ips, result.known, result.new = ips.len(), known.len(), new.len()
    database = await asyncio.to_thread(BinDatabase.open, bin_path)
    lookup_started = time.perf_counter()
    located = geolocate(new, database).with_columns(first_seen=pl.lit(day))
    lookup_seconds = time.perf_counter() - lookup_started
    result.by_kind = dict(located.group_by("kind").len().sort("kind").iter_rows())
    result.looked_up = result.by_kind.get("public", 0)
    result.lookups_per_second = round(new.len() / lookup_seconds) if lookup_seconds else 0.0
    result.upserted = await store.upsert(located, day)
    landed = await lake.replace_partition(partition_prefix(SOURCE, "locations", day), [located])
    result.uris = landed.uris
    result.seconds = round(time.perf_counter() - started, 2)
    logger.info(
        "%s: %d distinct IPs, %d known, %d new (%s); %d looked up at %.0f IPs/s; store: %s",
        day,
        result.distinct_ips,
        result.known,
        result.new,
        result.by_kind,
        result.looked_up,
        result.lookups_per_second,
        store.describe(),
    )
    return result


# -- product names ------------------------------------------------------------------------

PRODUCTS_SCHEMA: dict[str, pl.DataType] = {
    "day": pl.Date(),
    "product_id": pl.String(),
    "url": pl.String(),
    "fetched_url": pl.String(),
    "status": pl.Int32(),
    "outcome": pl.String(),
    "name": pl.String(),
    "price": pl.Float64(),
    "currency": pl.String(),
    "source": pl.String(),
    "reason": pl.String(),
    "transient": pl.Boolean(),
    "crawled_at": pl.String(),
}
RETRY_PERMANENT_FAILURES_AFTER_DAYS = 7


@dataclass
class ProductsLanded:
    day: str
    seen: int = 0
    known: int = 0
    to_crawl: int = 0
    crawled: int = 0
    ok: int = 0
    failed: int = 0
    failures: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    uris: list[str] = field(default_factory=list)
    csv: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


async def known_products(lake: Lake, day: date) -> pl.Series:
    """Products named on an earlier day, or failed for good within the last week (a
    404 is not asked again every day, but is after a week: pages come back)."""
    ids = []
    for past in await lake.list_partitions(SOURCE, "products"):
        if past >= day:
            continue
        frame = await lake.read_columns(
            partition_prefix(SOURCE, "products", past), ["product_id", "outcome", "transient"]
        )
        if frame is None:
            continue
        recent = (day - past).days <= RETRY_PERMANENT_FAILURES_AFTER_DAYS
        keep = (pl.col("outcome") == "ok") | (pl.lit(recent) & ~pl.col("transient").fill_null(True))
        ids.append(frame.filter(keep)["product_id"])
    return pl.concat(ids).unique() if ids else pl.Series("product_id", [], dtype=pl.String)


@task(name="crawl-product-names", cache_policy=NO_CACHE, task_run_name="crawl products {day}")
async def crawl_product_names(lake: Lake, settings: ProductCrawl, workdir: str, day: date) -> ProductsLanded:
    """Crawl the pages of products seen today and not yet named; land the results (and
    the seed's CSV) as the day's `products` partition."""
    from tasks.glamira.crawl.runner import CrawlSettings, crawl

    logger = get_run_logger()
    started = time.perf_counter()
    result = ProductsLanded(day=day.isoformat())
    seen = product_urls(await day_column(lake, day, ["collection", "product_id", "current_url"]))
    known = await known_products(lake, day)
    todo = seen.filter(~pl.col("product_id").is_in(known.implode())).head(settings.max_products_per_run)
    result.seen, result.known, result.to_crawl = seen.height, seen.height - todo.height, todo.height
    crawl_settings = CrawlSettings(
        user_agent=settings.user_agent,
        concurrent_requests_per_domain=settings.concurrent_requests_per_domain,
        download_delay=settings.download_delay,
        autothrottle=settings.autothrottle,
        retry_times=settings.retry_times,
        download_timeout=settings.download_timeout,
        obey_robots=settings.obey_robots,
        rewrite_to=settings.rewrite_to,
    )
    requests = list(todo.iter_rows())
    folder = Path(workdir)
    if requests:
        outcome = await asyncio.to_thread(crawl, requests, folder, crawl_settings, settings.timeout_seconds)
        result.crawled, result.failures = outcome.crawled, outcome.failures
        logger.info(
            "crawled %d pages in %.1fs (%d skipped from an earlier attempt)",
            outcome.crawled,
            outcome.seconds,
            outcome.skipped,
        )
    frame = _products_frame(folder / "results.jsonl", {pid for pid, _ in requests}, day)
    result.ok = frame.filter(pl.col("outcome") == "ok").height
    result.failed = frame.height - result.ok
    result.failures = dict(
        frame.filter(pl.col("outcome") != "ok")
        .group_by("reason")
        .len()
        .sort("len", descending=True)
        .iter_rows()
    )
    csv = frame.drop("day", "fetched_url", "source", "transient").select(
        "product_id", "name", "price", "currency", "url", "status", "outcome", "reason", "crawled_at"
    )
    metadata = {"dataset": "products", "day": day.isoformat()}
    async with lake.replacing(partition_prefix(SOURCE, "products", day), metadata) as products:
        await products.write(frame)
        result.csv = await products.attach("products.csv", csv.write_csv().encode())
    assert products.landed is not None
    result.uris = products.landed.uris
    result.seconds = round(time.perf_counter() - started, 2)
    logger.info(
        "%s: %d products seen, %d already named, %d crawled: %d named, %d failed %s",
        day,
        result.seen,
        result.known,
        result.to_crawl,
        result.ok,
        result.failed,
        result.failures,
    )
    return result


def _products_frame(results: Path, wanted: set[str], day: date) -> pl.DataFrame:
    from tasks.glamira.crawl.workdir import latest_results

    latest = latest_results(results) if results.exists() else {}
    rows = [
        {k: row.get(k) for k in PRODUCTS_SCHEMA if k != "day"} for pid, row in latest.items() if pid in wanted
    ]
    frame = pl.DataFrame(rows, schema={k: v for k, v in PRODUCTS_SCHEMA.items() if k != "day"}, strict=False)
    return frame.with_columns(day=pl.lit(day)).select(list(PRODUCTS_SCHEMA)).sort("product_id")


# -- user agents --------------------------------------------------------------------------


@task(name="parse-new-user-agents", cache_policy=NO_CACHE, task_run_name="user agents {day}")
async def parse_new_user_agents(lake: Lake, day: date) -> dict:
    """The day's user agents no earlier day parsed, read with ua-parser; landed as
    `glamira/user_agents/dt=DAY` (the warehouse's `dim_device` reads them)."""
    from tasks.glamira.user_agents import parse_user_agents

    agents = (await day_column(lake, day, ["user_agent"]))["user_agent"].drop_nulls().unique()
    known = []
    for past in await lake.list_partitions(SOURCE, "user_agents"):
        if past < day:
            frame = await lake.read_columns(partition_prefix(SOURCE, "user_agents", past), ["user_agent"])
            if frame is not None:
                known.append(frame["user_agent"])
    new = agents.filter(~agents.is_in(pl.concat(known).implode())) if known else agents
    parsed = parse_user_agents(new, day)
    landed = await lake.replace_partition(partition_prefix(SOURCE, "user_agents", day), [parsed])
    get_run_logger().info(
        "%s: %d user agents, %d new, parsed %s",
        day,
        agents.len(),
        new.len(),
        dict(parsed.group_by("device_type").len().iter_rows()),
    )
    return {"user_agents": agents.len(), "new": new.len(), "uris": landed.uris}

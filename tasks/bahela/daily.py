"""The Bahela daily flow's tasks: thin Prefect wrappers around the plain functions."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import polars as pl
from bson import ObjectId
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from blocks.cloudinary import Cloudinary, CloudinaryExport
from blocks.mongodb import MongoDB, MongoDump
from pipelines.calendar import DayWindow
from pipelines.errors import ConfigurationError
from pipelines.sample_data.bahela import SITE_DATABASE_PREFIX
from tasks.bahela.images import RAW_IMAGES_SCHEMA
from tasks.bahela.report import DailyReport, build_daily_report
from tasks.bahela.sessions import sessions_frame
from tasks.bahela.summary import DETAIL, HEADLINE, TRAILING_DAYS, compare
from tasks.bahela.transform import DayTables, transform_day

SESSIONS_COLLECTION = "sessions"
# A late session's documents and photos spill past midnight: read a wider window and
# let the transform decide which day each record belongs to.
EXTRACT_MARGIN = timedelta(hours=6)


@task(name="extract-sessions", cache_policy=NO_CACHE, task_run_name="extract sessions {window.day}")
async def extract_sessions(
    source: MongoDB | MongoDump, window: DayWindow, sites: list[str] | None = None
) -> tuple[pl.DataFrame, list[str]]:
    """Session documents around the day from every booth's database, as raw JSON rows."""
    logger = get_run_logger()
    if sites:
        databases = [f"{SITE_DATABASE_PREFIX}{site}" for site in sites]
    else:
        databases = await source.list_databases(SITE_DATABASE_PREFIX)
        if not databases:
            raise ConfigurationError(
                f"{source.describe()} has no booth databases ({SITE_DATABASE_PREFIX}*). "
                "Check the MongoDB block or pass the flow's `sites` parameter."
            )
    lower, upper = window.widened(EXTRACT_MARGIN)
    # `_id` carries the creation time and is always indexed: a range on it is cheap and
    # still finds documents whose own timestamps are missing or mistyped.
    bounds = ObjectId.from_datetime(lower), ObjectId.from_datetime(upper)

    async def one(database: str) -> list[tuple[str, bytes]]:
        site = database.removeprefix(SITE_DATABASE_PREFIX)
        rows = []
        async for batch in source.find_between(database, SESSIONS_COLLECTION, "_id", *bounds):
            rows.extend((site, doc.raw) for doc in batch)
        return rows

    per_database = await asyncio.gather(*(one(db) for db in databases))
    frame = sessions_frame(row for rows in per_database for row in rows)
    logger.info(
        "read %d session documents from %d booth databases (%s)",
        frame.height,
        len(databases),
        source.describe(),
    )
    return frame, [db.removeprefix(SITE_DATABASE_PREFIX) for db in databases]


@task(name="extract-images", cache_policy=NO_CACHE, task_run_name="extract images {window.day}")
async def extract_images(source: Cloudinary | CloudinaryExport, window: DayWindow) -> pl.DataFrame:
    """Image resources created around the day, as raw JSON rows."""
    logger = get_run_logger()
    lower, upper = window.widened(EXTRACT_MARGIN)
    rows: list[str] = []
    pages = 0
    async for page in source.resources_created_between(lower, upper):
        pages += 1
        rows.extend(json.dumps(resource) for resource in page)
    logger.info("read %d image resources in %d pages (%s)", len(rows), pages, source.describe())
    return pl.DataFrame({"raw": rows}, schema=RAW_IMAGES_SCHEMA)


@task(name="transform-day", cache_policy=NO_CACHE, task_run_name="transform {day}")
def transform(raw_sessions: pl.DataFrame, raw_images: pl.DataFrame, sites: list[str], day) -> DayTables:
    tables = transform_day(raw_sessions, raw_images, sites, day)
    c = tables.counts
    get_run_logger().info(
        "sessions: %d read, %d kept, %d rejected, %d duplicates; images: %d read, %d kept, %d set aside",
        c.sessions_read,
        c.sessions_kept,
        c.sessions_rejected,
        c.sessions_duplicate,
        c.images_read,
        c.images_kept,
        c.images_rejected,
    )
    return tables


@task(name="build-report", cache_policy=NO_CACHE)
def build_report(tables: DayTables, history: pl.DataFrame | None) -> DailyReport:
    comparisons = compare(tables.summary, history, tables.day, (*HEADLINE, *DETAIL))
    if history is None or history.height == 0:
        get_run_logger().info("no summary history before %s: comparisons left empty", tables.day)
    return build_daily_report(tables, comparisons)


__all__ = ["TRAILING_DAYS", "build_report", "extract_images", "extract_sessions", "transform"]

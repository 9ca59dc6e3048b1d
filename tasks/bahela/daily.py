"""The Bahela daily flow's tasks: thin Prefect wrappers around the plain functions."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import date

import polars as pl
from bson import ObjectId
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from blocks.cloudinary import Cloudinary, CloudinaryExport
from blocks.mongodb import MongoDB, MongoDump
from blocks.warehouse import BigQueryWarehouse, DuckDBWarehouse
from pipelines.calendar import DayWindow
from pipelines.errors import ConfigurationError
from tasks.bahela import anomalies as detection
from tasks.bahela.images import RAW_IMAGES_SCHEMA
from tasks.bahela.report import DailyReport, build_daily_report
from tasks.bahela.sessions import CLOCK_TOLERANCE, SITE_DATABASE_PREFIX, sessions_frame
from tasks.bahela.summary import DETAIL, HEADLINE, SUMMARY_SCHEMA, TRAILING_DAYS, compare
from tasks.bahela.transform import DayTables, transform_day

SESSIONS_COLLECTION = "sessions"
# A late session's documents and photos spill past midnight: read a wider window and
# let the transform decide which day each record belongs to. As wide as a session's own
# clock may stand from its stored time, so every believed session lies in its day's read.
EXTRACT_MARGIN = CLOCK_TOLERANCE


@dataclass(frozen=True)
class SessionsExtract:
    raw: pl.DataFrame  # RAW_SESSIONS_SCHEMA: every document the query matched
    sites: list[str]
    in_source: int  # the same query counted by the source itself


def sessions_query(window: DayWindow) -> dict:
    """The day's documents and those around it (`EXTRACT_MARGIN`), by when MongoDB stored
    them: `_id` carries that time and is always indexed, so the range is cheap and still
    finds documents whose own timestamps are missing, mistyped or wrong. Documents whose
    `_id` is not an ObjectId carry no stored time: every day reads them and the
    transform places them by their own start time."""
    lower, upper = window.widened(EXTRACT_MARGIN)
    return {
        "$or": [
            {"_id": {"$gte": ObjectId.from_datetime(lower), "$lt": ObjectId.from_datetime(upper)}},
            {"_id": {"$not": {"$type": "objectId"}}},
        ]
    }


@task(name="extract-sessions", cache_policy=NO_CACHE, task_run_name="extract sessions {window.day}")
async def extract_sessions(
    source: MongoDB | MongoDump, window: DayWindow, sites: list[str] | None = None
) -> SessionsExtract:
    """Session documents around the day from every booth's database, as raw BSON rows,
    and how many the source counts for the same query."""
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
    query = sessions_query(window)

    async def one(database: str) -> tuple[list[tuple[str, bytes]], int]:
        site = database.removeprefix(SITE_DATABASE_PREFIX)
        rows = []
        async for run in source.find(database, SESSIONS_COLLECTION, query):
            starts, sizes = run.starts_and_sizes()
            rows.extend(
                (site, run.data[s : s + n]) for s, n in zip(starts.tolist(), sizes.tolist(), strict=True)
            )
        return rows, await source.count(database, SESSIONS_COLLECTION, query)

    per_database = await asyncio.gather(*(one(db) for db in databases))
    frame = sessions_frame(row for rows, _ in per_database for row in rows)
    counted = sum(n for _, n in per_database)
    logger.info(
        "read %d session documents from %d booth databases (%s); the source counts %d",
        frame.height,
        len(databases),
        source.describe(),
        counted,
    )
    return SessionsExtract(frame, [db.removeprefix(SITE_DATABASE_PREFIX) for db in databases], counted)


@task(name="extract-images", cache_policy=NO_CACHE, task_run_name="extract images {window.day}")
async def extract_images(
    source: Cloudinary | CloudinaryExport, window: DayWindow, deadline: float | None = None
) -> pl.DataFrame:
    """Image resources created around the day, as raw JSON rows. `deadline`
    (`time.monotonic()`): waits for Cloudinary's rate limit end before it, or the
    extract fails saying when a re-run will succeed."""
    logger = get_run_logger()
    lower, upper = window.widened(EXTRACT_MARGIN)
    rows: list[str] = []
    pages = 0
    async for page in source.resources_created_between(lower, upper, deadline=deadline):
        pages += 1
        rows.extend(json.dumps(resource) for resource in page)
    logger.info("read %d image resources in %d pages (%s)", len(rows), pages, source.describe())
    return pl.DataFrame({"raw": rows}, schema=RAW_IMAGES_SCHEMA)


@task(name="transform-day", cache_policy=NO_CACHE, task_run_name="transform {day}")
def transform(sessions: SessionsExtract, raw_images: pl.DataFrame, day) -> DayTables:
    """The day's tables; fails (nothing landed) unless every document is accounted for."""
    tables = transform_day(sessions.raw, raw_images, sessions.sites, day, sessions.in_source)
    c = tables.counts
    get_run_logger().info("sessions: %s; images: %s", c.sessions.line(), c.images.line())
    return tables


@task(name="build-report", cache_policy=NO_CACHE)
def build_report(
    tables: DayTables, history: pl.DataFrame | None, anomalies: pl.DataFrame | None = None
) -> DailyReport:
    comparisons = compare(tables.summary, history, tables.day, (*HEADLINE, *DETAIL))
    if history is None or history.height == 0:
        get_run_logger().info("no summary history before %s: comparisons left empty", tables.day)
    return build_daily_report(tables, comparisons, anomalies)


@task(name="read-health-history", cache_policy=NO_CACHE, task_run_name="read health {first}..{last}")
async def read_health_history(
    warehouse: DuckDBWarehouse | BigQueryWarehouse, schema: str, first: date, last: date
) -> pl.DataFrame:
    """Past days' health figures (HEALTH_SCHEMA), counted in the warehouse: each booth's
    last session and its set-aside documents. Missing tables (the first runs) give none;
    a failing query is logged and gives none too: the figures are still compared, only
    the offline and upload causes lose their baseline."""
    logger = get_run_logger()

    async def read(table: str, sql) -> pl.DataFrame | None:
        try:
            return await warehouse.query(sql(warehouse.table_ref(schema, table), first, last))
        except Exception as exc:
            logger.warning(
                "no %s.%s history for anomaly detection (%s): %s",
                schema,
                table,
                warehouse.describe(),
                " ".join(str(exc).split())[:300],
            )
            return None

    last_sessions, rejects = await asyncio.gather(
        read("sessions", detection.last_sessions_sql), read("rejects", detection.reject_counts_sql)
    )
    return detection.stored_health(last_sessions, rejects)


@task(name="read-forecasts", cache_policy=NO_CACHE, task_run_name="read forecasts of {day}")
async def read_forecasts(
    warehouse: DuckDBWarehouse | BigQueryWarehouse, schema: str, day: date
) -> pl.DataFrame | None:
    """The weekly model's forecasts of `day`, if a weekly run made any."""
    return await warehouse.read_days(schema, "forecasts", day, day)


@task(name="detect-anomalies", cache_policy=NO_CACHE, task_run_name="detect anomalies {tables.day}")
def detect_anomalies(
    tables: DayTables,
    history: pl.DataFrame | None,
    health_history: pl.DataFrame,
    forecasts: pl.DataFrame | None,
) -> pl.DataFrame:
    """The day's anomalies (ANOMALY_SCHEMA): figures of the day against the forecast or
    the same weekday of recent weeks."""
    today = detection.figures(
        tables.summary, detection.day_health(tables.sessions, tables.rejects, tables.day)
    )
    past = detection.figures(
        history if history is not None else pl.DataFrame(schema=SUMMARY_SCHEMA), health_history
    )
    found = detection.detect(today, past, tables.day, forecasts)
    logger = get_run_logger()
    logger.info(
        "%d unusual figures (%d severe) against %d earlier days",
        found.height,
        (found["severity"] == "severe").sum(),
        past["day"].n_unique(),
    )
    return found


__all__ = [
    "TRAILING_DAYS",
    "build_report",
    "detect_anomalies",
    "extract_images",
    "extract_sessions",
    "read_forecasts",
    "read_health_history",
    "transform",
]

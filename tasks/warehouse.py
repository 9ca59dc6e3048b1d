"""Prefect tasks that load lake partitions into the warehouse and read history back."""

from __future__ import annotations

from datetime import date

import polars as pl
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from blocks.lake import LandedPartition
from blocks.warehouse import BigQueryWarehouse, DuckDBWarehouse

Warehouse = DuckDBWarehouse | BigQueryWarehouse


@task(
    name="load-day",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=[10, 60],
    task_run_name="load {schema}.{table} {day}",
)
async def load_day(
    warehouse: Warehouse,
    schema: str,
    table: str,
    day: date,
    partitions: list[LandedPartition],
    day_column: str = "day",
    job_key: str | None = None,
) -> int:
    """Replace the day in `schema.table` with the rows of the landed partitions."""
    uris = [uri for p in partitions for uri in p.uris]
    rows = await warehouse.replace_day(schema, table, day, uris, day_column, job_key)
    if rows < 0:
        get_run_logger().info(
            "%s.%s %s: already loaded from these objects, nothing to do", schema, table, day
        )
    else:
        get_run_logger().info("%s.%s %s: %d rows (day replaced)", schema, table, day, rows)
    return rows


@task(name="read-history", cache_policy=NO_CACHE, task_run_name="read {schema}.{table} {first}..{last}")
async def read_history(
    warehouse: Warehouse, schema: str, table: str, first: date, last: date
) -> pl.DataFrame | None:
    return await warehouse.read_days(schema, table, first, last)

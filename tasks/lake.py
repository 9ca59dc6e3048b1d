"""Prefect tasks that land frames in the lake."""

from __future__ import annotations

from datetime import date

import polars as pl
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from blocks.lake import Lake, LandedPartition, partition_prefix, rejects_prefix


@task(name="land-partition", cache_policy=NO_CACHE, task_run_name="land {source}/{dataset} {day}")
async def land_partition(
    lake: Lake, source: str, dataset: str, day: date, frame: pl.DataFrame, rejects: bool = False
) -> LandedPartition:
    """Replace the day's partition of `source/dataset` (or of its rejects) with `frame`."""
    prefix = rejects_prefix(source, dataset, day) if rejects else partition_prefix(source, dataset, day)
    landed = await lake.replace_partition(
        prefix, [frame], metadata={"dataset": dataset, "day": day.isoformat()}
    )
    get_run_logger().info("landed %d rows at %s", landed.rows, prefix)
    return landed

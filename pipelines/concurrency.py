"""One run per business day at a time.

Runs of *different* days may go in parallel (a backfill fans out over the work pool's
workers), but two runs of the same day must not interleave their writes. Each day gets a
global concurrency limit of one slot, created on first use, held for the whole run.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from datetime import date

from prefect import get_run_logger
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
from prefect.concurrency.asyncio import concurrency
from prefect.exceptions import ObjectAlreadyExists


def limit_name(flow_name: str, day: date) -> str:
    return f"{flow_name}:{day.isoformat()}"


@asynccontextmanager
async def one_run_per_day(flow_name: str, day: date) -> AsyncIterator[None]:
    name = limit_name(flow_name, day)
    async with get_client() as client:
        with suppress(ObjectAlreadyExists):  # an earlier run of the day created it
            await client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=name, limit=1))
    get_run_logger().info("holding the '%s' slot: another run of this day waits until this one ends", name)
    async with concurrency(name, occupy=1, strict=True):
        yield

"""One run per business day at a time.

Runs of *different* days may go in parallel (a backfill fans out over the work pool's
workers), but two runs of the same day must not interleave their writes. Each run holds a
lease named after its flow and day in the lake it writes to (`blocks.lake_lease`): a run
that dies releases it (at once on a local lake, within the lease's time to live on GCS),
a waiting run says whom it waits for, and gives up after a bounded time naming the holder.

(Prefect's global concurrency limits were the first choice, but a killed run's slot
stayed taken on the temporary local API, whose leases live in the memory of a server that
died with the run; a lease in the lake holds up the same on every Prefect API.)
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date

from prefect import get_run_logger
from prefect.runtime import flow_run

from blocks.lake import Lake
from blocks.lake_lease import Holder, hold


def lease_name(flow_name: str, day: date) -> str:
    return f"{flow_name}/{day.isoformat()}"


def _this_run() -> str:
    name, run_id = flow_run.get_name(), flow_run.get_id()
    return f"flow run '{name}' ({run_id})" if run_id else "a run outside Prefect"


@asynccontextmanager
async def one_run_per_day(lake: Lake, flow_name: str, day: date) -> AsyncIterator[None]:
    async with hold(lake, lease_name(flow_name, day), Holder.this_process(_this_run()), get_run_logger()):
        yield

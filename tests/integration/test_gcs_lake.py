"""The lake on GCS: prefect-gcp's GcsBucket against fake-gcs-server."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from blocks.lake import Lake, partition_prefix
from blocks.lake_lease import Holder, LeaseTimeout, hold

pytestmark = [pytest.mark.integration, pytest.mark.anyio]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def gcs_lake(gcs_url, gcp_credentials):
    from prefect_gcp.cloud_storage import GcsBucket

    bucket = f"lake-{uuid.uuid4().hex[:8]}"
    gcp_credentials.get_cloud_storage_client().create_bucket(bucket)
    return Lake(
        GcsBucket(bucket=bucket, bucket_folder="prod", gcp_credentials=gcp_credentials), announce=False
    )


async def test_partition_round_trips_through_gcs(gcs_lake):
    frame = pl.DataFrame({"day": [date(2026, 11, 20)] * 3, "site": ["a", "b", "c"], "n": [1, 2, 3]})
    prefix = partition_prefix("bahela", "sessions", date(2026, 11, 20))

    landed = await gcs_lake.replace_partition(prefix, [frame])

    assert landed.rows == 3
    assert landed.uris == [
        f"gs://{gcs_lake.storage.bucket}/prod/{prefix}/part-{landed.generation}-0000.parquet"
    ]
    read_back = await gcs_lake.read_partition(prefix)
    assert read_back.equals(frame)


async def test_rewrite_with_fewer_parts_deletes_the_stale_ones(gcs_lake):
    prefix = partition_prefix("glamira", "events", date(2026, 11, 20))
    parts = [pl.DataFrame({"day": [date(2026, 11, 20)], "n": [i]}) for i in range(3)]
    await gcs_lake.replace_partition(prefix, parts)

    landed = await gcs_lake.replace_partition(prefix, parts[:1])

    blobs = sorted(b.name for b in await gcs_lake.storage.alist_blobs(prefix))
    assert blobs == [f"prod/{prefix}/_manifest.json", f"prod/{prefix}/part-{landed.generation}-0000.parquet"]
    assert landed.rows == 1
    assert (await gcs_lake.read_partition(prefix))["n"].to_list() == [0]


async def test_missing_partition_reads_as_none(gcs_lake):
    assert await gcs_lake.read_partition(partition_prefix("bahela", "sessions", date(2020, 1, 1))) is None


async def test_listing_partitions_finds_each_day_once(gcs_lake):
    for day in (date(2026, 11, 19), date(2026, 11, 20)):
        await gcs_lake.replace_partition(
            partition_prefix("bahela", "images", day), [pl.DataFrame({"n": [1]})]
        )

    assert await gcs_lake.list_partitions("bahela", "images") == [date(2026, 11, 19), date(2026, 11, 20)]


async def test_a_generation_that_fails_leaves_the_previous_one_on_gcs(gcs_lake):
    prefix = partition_prefix("glamira", "events", date(2026, 11, 20))
    landed = await gcs_lake.replace_partition(prefix, [pl.DataFrame({"n": [1]})])

    with pytest.raises(RuntimeError, match="stop"):
        async with gcs_lake.replacing(prefix) as writer:
            await writer.write(pl.DataFrame({"n": [2]}))
            raise RuntimeError("stop")

    blobs = sorted(b.name for b in await gcs_lake.storage.alist_blobs(prefix))
    assert blobs == [f"prod/{prefix}/_manifest.json", f"prod/{prefix}/part-{landed.generation}-0000.parquet"]


# -- the day lease on GCS: generation preconditions against fake-gcs-server ----------------

LOG = logging.getLogger("test")


async def test_a_gcs_lease_has_one_holder_and_names_it_to_the_next(gcs_lake):
    async with hold(gcs_lake, "bahela-daily/2026-11-20", Holder.this_process("first"), LOG, wait_seconds=0):
        with pytest.raises(LeaseTimeout, match="held by first"):
            async with hold(
                gcs_lake, "bahela-daily/2026-11-20", Holder.this_process("second"), LOG, wait_seconds=0
            ):
                pytest.fail("two holders at once")

    async with hold(gcs_lake, "bahela-daily/2026-11-20", Holder.this_process("second"), LOG, wait_seconds=0):
        pass  # released by the first: taken at once


_GCS_HOLDER = textwrap.dedent(
    """
    import asyncio, json, logging, os, sys, time
    from prefect_gcp import GcpCredentials
    from prefect_gcp.cloud_storage import GcsBucket
    from blocks.lake import Lake
    from blocks.lake_lease import Holder, LeaseLost, hold

    async def main():
        credentials = GcpCredentials(**json.loads(os.environ["TEST_GCP_CREDENTIALS"]))
        lake = Lake(GcsBucket(bucket=sys.argv[1], bucket_folder="prod", gcp_credentials=credentials))
        try:
            async with hold(lake, sys.argv[2], Holder.this_process("held elsewhere"), logging.getLogger(),
                            wait_seconds=0, ttl_seconds=float(sys.argv[3])):
                print("holding", flush=True)
                await asyncio.sleep(60)
        except LeaseLost as lost:
            print(f"lost: {lost}", flush=True)

    asyncio.run(main())
    """
)


def _gcs_holder(gcs_lake, gcp_credentials, name: str, ttl: float) -> subprocess.Popen:
    env = {
        **os.environ,
        "TEST_GCP_CREDENTIALS": json.dumps(
            {
                "service_account_info": gcp_credentials.service_account_info.get_secret_value(),
                "project": gcp_credentials.project,
            }
        ),
    }
    holder = subprocess.Popen(
        [sys.executable, "-c", _GCS_HOLDER, gcs_lake.storage.bucket, name, str(ttl)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "holding"
    return holder


async def test_a_killed_holders_gcs_lease_is_taken_over_after_its_ttl(gcs_lake, gcp_credentials):
    name = "glamira-daily/2026-11-20"
    holder = _gcs_holder(gcs_lake, gcp_credentials, name, ttl=3)
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    started = time.monotonic()

    async with hold(gcs_lake, name, Holder.this_process("next"), LOG, wait_seconds=30):
        waited = time.monotonic() - started

    assert waited < 3 + 5 + 2  # the ttl, one poll, and slack for a slow machine


async def test_a_holder_that_stalls_past_its_ttl_finds_the_lease_taken_and_stops(gcs_lake, gcp_credentials):
    name = "glamira-daily/2026-11-18"
    holder = _gcs_holder(gcs_lake, gcp_credentials, name, ttl=3)
    holder.send_signal(signal.SIGSTOP)  # frozen: no renewal while its lease runs out
    try:
        async with hold(gcs_lake, name, Holder.this_process("next"), LOG, wait_seconds=30):
            holder.send_signal(signal.SIGCONT)
            said = holder.stdout.readline()
    finally:
        holder.send_signal(signal.SIGCONT)
        holder.wait(timeout=30)

    assert said.startswith("lost: ") and "another run took it over" in said


async def test_a_gcs_lease_renewed_by_its_holder_outlives_its_ttl(gcs_lake):
    name = "bahela-daily/2026-11-19"
    async with hold(gcs_lake, name, Holder.this_process("patient"), LOG, wait_seconds=0, ttl_seconds=1.5):
        await asyncio.sleep(4)  # more than twice the ttl, with the loop free to renew
        with pytest.raises(LeaseTimeout, match="held by patient"):
            async with hold(gcs_lake, name, Holder.this_process("next"), LOG, wait_seconds=0):
                pytest.fail("took a lease that was being renewed")

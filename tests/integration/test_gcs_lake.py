"""The lake on GCS: prefect-gcp's GcsBucket against fake-gcs-server."""

from __future__ import annotations

import uuid
from datetime import date

import polars as pl
import pytest

from blocks.lake import Lake, partition_prefix

pytestmark = [pytest.mark.integration, pytest.mark.anyio]


@pytest.fixture
def gcs_lake(gcs_url, gcp_credentials):
    from prefect_gcp.cloud_storage import GcsBucket

    bucket = f"lake-{uuid.uuid4().hex[:8]}"
    gcp_credentials.get_cloud_storage_client().create_bucket(bucket)
    return Lake(GcsBucket(bucket=bucket, bucket_folder="prod", gcp_credentials=gcp_credentials))


async def test_partition_round_trips_through_gcs(gcs_lake):
    frame = pl.DataFrame({"day": [date(2026, 11, 20)] * 3, "site": ["a", "b", "c"], "n": [1, 2, 3]})
    prefix = partition_prefix("bahela", "sessions", date(2026, 11, 20))

    landed = await gcs_lake.replace_partition(prefix, [frame])

    assert landed.rows == 3
    assert landed.uris == [f"gs://{gcs_lake.storage.bucket}/prod/{prefix}/part-0000.parquet"]
    read_back = await gcs_lake.read_partition(prefix)
    assert read_back.equals(frame)


async def test_rewrite_with_fewer_parts_deletes_the_stale_ones(gcs_lake):
    prefix = partition_prefix("glamira", "events", date(2026, 11, 20))
    parts = [pl.DataFrame({"day": [date(2026, 11, 20)], "n": [i]}) for i in range(3)]
    await gcs_lake.replace_partition(prefix, parts)

    landed = await gcs_lake.replace_partition(prefix, parts[:1])

    blobs = sorted(b.name for b in await gcs_lake.storage.alist_blobs(prefix))
    assert blobs == [f"prod/{prefix}/_manifest.json", f"prod/{prefix}/part-0000.parquet"]
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

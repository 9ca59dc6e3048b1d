"""The BigQuery warehouse block against the local-bigquery emulator, loading from the
lake on fake-gcs-server (gs:// URIs) and from local parquet files."""

from __future__ import annotations

import uuid
from datetime import date

import polars as pl
import pytest

from blocks.lake import Lake, partition_prefix
from tests.support import gcp

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

DAY = date(2026, 11, 20)


@pytest.fixture
def warehouse(bigquery_url, gcp_credentials):
    return gcp.emulator_warehouse(gcp_credentials, bigquery_url)


@pytest.fixture
async def gcs_lake(gcs_url, gcp_credentials):
    from prefect_gcp.cloud_storage import GcsBucket

    bucket = f"lake-{uuid.uuid4().hex[:8]}"
    gcp_credentials.get_cloud_storage_client().create_bucket(bucket)
    return Lake(GcsBucket(bucket=bucket, gcp_credentials=gcp_credentials))


def sessions(day: date, n: int) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "day": [day] * n,
            "site": ["senopati"] * n,
            "session_code": [f"s{i:05d}" for i in range(n)],
            "amount_idr": [35_000] * n,
        }
    )


async def test_reloading_a_day_from_gcs_replaces_it(warehouse, gcs_lake):
    for day, n in ((date(2026, 11, 19), 2), (DAY, 5)):
        landed = await gcs_lake.replace_partition(
            partition_prefix("bahela", "sessions", day), [sessions(day, n)]
        )
        await warehouse.replace_day("raw_bahela", "sessions", day, landed.uris)
    landed = await gcs_lake.replace_partition(partition_prefix("bahela", "sessions", DAY), [sessions(DAY, 3)])

    loaded = await warehouse.replace_day("raw_bahela", "sessions", DAY, landed.uris)

    counts = await warehouse.query(
        f"select day, count(*) as n from {warehouse.table_ref('raw_bahela', 'sessions')} group by day order by day"
    )
    assert loaded == 3
    assert counts.rows() == [(date(2026, 11, 19), 2), (DAY, 3)]


async def test_loads_local_parquet_and_reads_days_back(warehouse, tmp_path):
    path = tmp_path / "part-0000.parquet"
    sessions(DAY, 4).write_parquet(path)

    await warehouse.replace_day("raw_bahela", "sessions", DAY, [str(path)])

    back = await warehouse.read_days("raw_bahela", "sessions", DAY, DAY)
    assert sorted(back["session_code"].to_list()) == [f"s{i:05d}" for i in range(4)]


async def test_a_table_never_loaded_reads_as_none(warehouse):
    assert await warehouse.read_days("raw_bahela", "nothing_here", DAY, DAY) is None


async def test_rows_of_another_day_are_refused(warehouse, tmp_path):
    path = tmp_path / "wrong.parquet"
    sessions(date(2026, 11, 21), 1).write_parquet(path)

    with pytest.raises(ValueError, match="not of 2026-11-20"):
        await warehouse.replace_day("raw_bahela", "sessions", DAY, [str(path)])


async def test_the_table_is_partitioned_by_day(warehouse, tmp_path):
    path = tmp_path / "part.parquet"
    sessions(DAY, 1).write_parquet(path)
    await warehouse.replace_day("raw_bahela", "sessions", DAY, [str(path)])

    table = warehouse._client().get_table(
        f"{warehouse._project()}.{warehouse.dataset_prefix}raw_bahela.sessions"
    )

    assert table.time_partitioning.field == "day"

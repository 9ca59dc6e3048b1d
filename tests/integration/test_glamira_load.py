"""glamira-load: a landed partition into the warehouse, on DuckDB and on the BigQuery
emulator reading gs:// objects from fake-gcs-server; a retried trigger for the same
manifest generation loads nothing twice."""

from __future__ import annotations

import uuid
from datetime import date

import bson
import polars as pl
import pytest
from prefect.filesystems import LocalFileSystem
from prefect_gcp.cloud_storage import GcsBucket

from blocks import DuckDBWarehouse
from blocks.lake import Lake, partition_prefix
from demo import glamira
from flows.glamira_daily import GlamiraBlocks
from flows.glamira_load import glamira_load
from tasks.glamira.events import normalise_batch
from tests.support import gcp

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

DAY = date(2026, 11, 20)


def events(count: int, seed: int = 3) -> list[pl.DataFrame]:
    docs = [bson.encode(d) for d in glamira.iter_events(DAY, count, seed=seed, products=40)]
    return [normalise_batch(docs[i : i + 400], DAY).events for i in range(0, len(docs), 400)]


def blocks() -> GlamiraBlocks:
    tag = uuid.uuid4().hex[:8]
    return GlamiraBlocks(**{role: f"{tag}-{role}" for role in GlamiraBlocks.model_fields})


async def test_duckdb_loads_the_landed_partition_and_a_reload_replaces_it(prefect_api, tmp_path, monkeypatch):
    monkeypatch.setenv("PIPELINES_HOME", str(tmp_path))
    lake = Lake(LocalFileSystem(basepath=str(tmp_path / "lake")))
    await lake.replace_partition(partition_prefix("glamira", "events", DAY), events(1_000))
    b = blocks()

    first = await glamira_load(dataset="events", day=DAY, blocks=b)
    await lake.replace_partition(partition_prefix("glamira", "events", DAY), events(600, seed=4))
    second = await glamira_load(dataset="events", day=DAY, blocks=b)

    warehouse = DuckDBWarehouse(path=str(tmp_path / "warehouse.duckdb"))
    counts = await warehouse.query(
        "select day, count(*) as n, count(distinct event_id) as ids from raw_glamira.events group by day"
    )
    assert (first["rows"], first["parts"], second["rows"]) == (1_000, 3, 600)
    assert counts.rows() == [(DAY, 600, 600)]


async def test_datasets_without_a_table_are_acknowledged_not_failed(prefect_api):
    result = await glamira_load(dataset="something_else", day=DAY, blocks=blocks())

    assert result["skipped"] == "not a loaded dataset"


@pytest.fixture
async def gcs_and_bigquery(prefect_api, gcs_url, bigquery_url, gcp_credentials):
    b = blocks()
    bucket = f"glamira-lake-{uuid.uuid4().hex[:6]}"
    gcp_credentials.get_cloud_storage_client().create_bucket(bucket)
    storage = GcsBucket(bucket=bucket, bucket_folder="lake", gcp_credentials=gcp_credentials)
    await storage.save(b.lake)
    warehouse = gcp.emulator_warehouse(gcp_credentials, bigquery_url)
    await warehouse.save(b.warehouse)
    return b, Lake(storage), warehouse


async def test_bigquery_loads_gs_objects_once_per_manifest_generation(gcs_and_bigquery):
    b, lake, warehouse = gcs_and_bigquery
    landed = await lake.replace_partition(partition_prefix("glamira", "events", DAY), events(800))
    manifest = landed.objects[-1]
    trigger = {"manifest": manifest.name, "generation": manifest.generation, "bucket": manifest.bucket}

    first = await glamira_load(dataset="events", day=DAY, blocks=b, **trigger)
    again = await glamira_load(dataset="events", day=DAY, blocks=b, **trigger)

    table = warehouse.table_ref("raw_glamira", "events")
    counts = await warehouse.query(f"select count(*) as n, count(distinct event_id) as ids from {table}")
    assert manifest.uri.startswith("gs://") and first["rows"] == 800
    assert again["rows"] == -1, "the same manifest generation is not loaded twice"
    assert counts.row(0) == (800, 800)


async def test_bigquery_keeps_options_and_cart_lines_as_repeated_records(gcs_and_bigquery):
    b, lake, warehouse = gcs_and_bigquery
    await lake.replace_partition(partition_prefix("glamira", "events", DAY), events(1_200))

    await glamira_load(dataset="events", day=DAY, blocks=b)

    schema = {
        f.name: f
        for f in warehouse._client().get_table(warehouse.table_ref("raw_glamira", "events").strip("`")).schema
    }
    assert (schema["option"].mode, schema["option"].field_type) == ("REPEATED", "RECORD")
    assert (schema["cart_products"].mode, schema["cart_products"].field_type) == ("REPEATED", "RECORD")
    lines = await warehouse.query(
        f"select count(*) as n from {warehouse.table_ref('raw_glamira', 'events')}, unnest(cart_products) as line"
    )
    expected = sum(frame["cart_products"].list.len().sum() for frame in events(1_200))
    assert lines.item() == expected > 0

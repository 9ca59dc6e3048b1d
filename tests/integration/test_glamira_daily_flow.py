"""glamira-daily end to end: on the embedded default (mongodump, local lake, sample
catalog on 127.0.0.1, demo BIN) run twice with equal results, and the production path
of events and locations through a MongoDB wire-protocol server."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import polars as pl
import pytest
from prefect.filesystems import LocalFileSystem
from pydantic import SecretStr
from pymongo import AsyncMongoClient

from blocks import MongoDB, ProductCrawl
from blocks.lake import Lake, partition_prefix
from blocks.resolve import DEMO_BIN, local_default
from demo import glamira
from demo.catalog_server import CatalogServer
from demo.ip2location_bin import build_demo_bin
from flows.glamira_daily import GlamiraBlocks, glamira_daily, glamira_events, glamira_locations
from tasks.glamira.events import EVENTS_SCHEMA

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

DAY = date(2026, 11, 20)
EVENTS = 3_000
PRODUCTS = 60


def blocks(**named) -> GlamiraBlocks:
    tag = uuid.uuid4().hex[:8]
    return GlamiraBlocks(**{role: named.get(role, f"{tag}-{role}") for role in GlamiraBlocks.model_fields})


@pytest.fixture
def home(tmp_path, monkeypatch):
    """The embedded default as `pipelines` sets it up: sample dump, demo BIN, and the
    stand-in shops served on 127.0.0.1 as the crawl's local default."""
    monkeypatch.setenv("PIPELINES_HOME", str(tmp_path))
    folders = glamira.GlamiraSampleFolders(tmp_path / "samples" / "glamira")
    glamira.write_dump(folders.mongodump, [DAY - timedelta(days=1), DAY], EVENTS, seed=5, products=PRODUCTS)
    glamira.write_catalog(folders.catalog, products=PRODUCTS, seed=5)
    build_demo_bin(tmp_path / "samples" / "glamira" / "ip2location" / DEMO_BIN)
    with CatalogServer(folders.catalog) as shops, local_default("crawl", ProductCrawl.local_copy(shops.url)):
        yield tmp_path


async def partition(home, dataset: str, day: date = DAY) -> pl.DataFrame:
    lake = Lake(LocalFileSystem(basepath=str(home / "lake")))
    return await lake.read_partition(partition_prefix("glamira", dataset, day))


async def test_a_day_lands_events_locations_and_products_and_a_rerun_changes_nothing(prefect_api, home):
    b = blocks()
    first = await glamira_daily(day=DAY, blocks=b)
    landed = {name: await partition(home, name) for name in ("events", "locations", "products")}

    second = await glamira_daily(day=DAY, blocks=b)

    for name, frame in landed.items():
        again = await partition(home, name)
        key = {"events": "event_id", "locations": "ip", "products": "product_id"}[name]
        assert again.sort(key).equals(frame.sort(key)), name
    assert first["events"]["landed"] == second["events"]["landed"] == EVENTS
    assert dict(landed["events"].schema) == EVENTS_SCHEMA
    assert landed["events"]["day"].unique().to_list() == [DAY]
    locations = landed["locations"]
    assert set(locations["kind"]) >= {"public", "private", "invalid"}
    assert locations.filter(pl.col("kind") == "public")["country_code"].null_count() == 0
    assert (
        locations.filter(pl.col("kind") != "public")["country_code"].null_count()
        == locations.filter(pl.col("kind") != "public").height
    )
    products = landed["products"]
    assert products.height == first["products"]["to_crawl"] > 0
    truth = {p.product_id: p.crawl_name for p in glamira.products(PRODUCTS, seed=5)}
    named = products.filter(pl.col("outcome") == "ok")
    assert named.height > 0 and all(
        truth[pid] == name for pid, name in named.select("product_id", "name").iter_rows()
    )
    assert set(products.filter(pl.col("outcome") == "failed")["reason"]) <= {
        "HTTP 403",
        "HTTP 404",
        "no product name on page",
        "timeout",
        "disallowed by robots.txt",
    }
    csv = pl.read_csv(home / "lake" / "glamira" / "products" / f"dt={DAY}" / "products.csv")
    assert csv.height == products.height and csv.columns[:2] == ["product_id", "name"]


async def test_the_next_day_geolocates_only_ips_it_has_not_seen(prefect_api, home):
    b = blocks()
    for day in (DAY - timedelta(days=1), DAY):
        await glamira_events(day=day, blocks=b)
    earlier = await glamira_locations(day=DAY - timedelta(days=1), blocks=b)

    later = await glamira_locations(day=DAY, blocks=b)

    assert earlier["known"] == 0 and later["known"] > 0
    assert later["new"] + later["known"] == later["distinct_ips"]
    previous = set((await partition(home, "locations", DAY - timedelta(days=1)))["ip"])
    assert previous.isdisjoint((await partition(home, "locations"))["ip"])


@pytest.fixture
async def glamira_mongo(mongo_url):
    """The sample day in a MongoDB wire-protocol server, under a database of its own."""
    database = f"glamira_{uuid.uuid4().hex[:6]}"
    client = AsyncMongoClient(mongo_url)
    docs = list(glamira.iter_events(DAY, 1_500, seed=11, products=PRODUCTS))
    await client[database]["summary"].insert_many(docs)
    yield database, docs
    await client.drop_database(database)
    await client.close()


async def test_production_path_streams_from_mongodb_and_upserts_locations_idempotently(
    prefect_api, home, mongo_url, glamira_mongo, monkeypatch
):
    database, docs = glamira_mongo
    monkeypatch.setattr("tasks.glamira.ingest.DATABASE", database)
    monkeypatch.setattr("flows.glamira_daily.DATABASE", database)
    b = blocks()
    await MongoDB(connection_string=SecretStr(mongo_url)).save(b.mongodb)

    events = await glamira_events(day=DAY, batch_size=400, blocks=b)
    first = await glamira_locations(day=DAY, blocks=b)
    client = AsyncMongoClient(mongo_url)
    stored = {d["_id"]: d async for d in client[database]["locations"].find({})}
    second = await glamira_locations(day=DAY, blocks=b)
    again = {d["_id"]: d async for d in client[database]["locations"].find({})}
    await client.close()

    assert events["read"] == events["landed"] + events["rejected"] == len(docs)
    assert events["parts"] == 4  # 1,500 events in batches of 400
    assert len(stored) == first["new"] > 0 and first["upserted"] == first["new"]
    assert again == stored, "a re-run changes no location"
    assert second["new"] == first["new"], "same-day IPs are new again: the partition is rebuilt alike"
    sample = next(d for d in stored.values() if d["kind"] == "public")
    assert sample["first_seen"] == DAY.isoformat() and sample["country_code"]

"""The hostile corpus through the real readers and flows: a mongodump and a MongoDB
wire-protocol server (mongoeco, through pymongo's AsyncMongoClient) answer the day's
queries with the same documents and counts, and a day holding every faulty document
lands, sets aside each one it cannot keep, and reconciles with the source."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from pathlib import Path

import bson
import polars as pl
import pytest
from bson.raw_bson import RawBSONDocument
from prefect.filesystems import LocalFileSystem
from pydantic import SecretStr
from pymongo import AsyncMongoClient

from blocks import MongoDB
from blocks.lake import Lake, partition_prefix, rejects_prefix
from blocks.mongodb import MongoDump
from demo import bahela
from flows.bahela_daily import BahelaBlocks, bahela_daily
from flows.glamira_daily import GlamiraBlocks, glamira_events
from pipelines.calendar import DayWindow
from pipelines.settings import JAKARTA
from tasks.bahela.daily import sessions_query
from tasks.fields import as_text
from tasks.glamira.events import day_query
from tasks.glamira.ingest import land_events
from tasks.reconcile import ReconciliationError
from tests.support.hostile import bahela_corpus, glamira_corpus, good_events, torn
from tests.unit.test_hostile_corpus import expected_days

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

DAY = date(2026, 11, 20)
DAYS = (DAY - timedelta(days=1), DAY, DAY + timedelta(days=1))
CORPUS = glamira_corpus(DAY)
GOOD = [bson.encode(e) for day in DAYS for e in good_events(day, 60, seed=day.day)]


def glamira_blocks() -> GlamiraBlocks:
    tag = uuid.uuid4().hex[:8]
    return GlamiraBlocks(**{role: f"{tag}-{role}" for role in GlamiraBlocks.model_fields})


def write_dump(folder, documents: list[bytes]) -> None:
    (folder / "glamira").mkdir(parents=True, exist_ok=True)
    (folder / "glamira" / "summary.bson").write_bytes(b"".join(documents))


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("PIPELINES_HOME", str(tmp_path))
    # every faulty document, good days around them, and a last document cut short
    write_dump(
        tmp_path / "samples" / "glamira" / "mongodump",
        [h.raw for h in CORPUS] + GOOD + [torn(GOOD[0], 40).raw],
    )
    return tmp_path


@pytest.fixture
async def hostile_mongo(mongo_url):
    """What a MongoDB server can hold of the corpus, with the good days, as raw BSON."""
    database = f"glamira_{uuid.uuid4().hex[:6]}"
    client = AsyncMongoClient(mongo_url)
    raw = [h.raw for h in CORPUS if h.wire] + GOOD
    for start in range(0, len(raw), 50):
        await client[database]["summary"].insert_many([RawBSONDocument(r) for r in raw[start : start + 50]])
    yield database, raw
    await client.drop_database(database)
    await client.close()


async def ids(runs) -> list[str]:
    return sorted([as_text(bson.decode(d)["_id"]) async for run in runs for d in _split(run)])


def _split(run):
    starts, sizes = run.starts_and_sizes()
    for s, n in zip(starts.tolist(), sizes.tolist(), strict=True):
        yield run.data[s : s + n]


async def test_mongodb_and_the_dump_read_and_count_the_same_documents_for_each_day(
    hostile_mongo, mongo_url, tmp_path
):
    database, raw = hostile_mongo
    write_dump(tmp_path / "dump", raw)
    (tmp_path / "dump" / database).symlink_to(tmp_path / "dump" / "glamira")
    live, dump = MongoDB(connection_string=SecretStr(mongo_url)), MongoDump(path=str(tmp_path / "dump"))

    for day in (DAY - timedelta(days=5), *DAYS, DAY + timedelta(days=3)):
        query = day_query(day)
        from_server = await ids(live.find(database, "summary", query, batch_size=40))
        from_dump = await ids(dump.find(database, "summary", query, batch_size=40))
        assert from_server == from_dump, day
        assert await live.count(database, "summary", query) == await dump.count(database, "summary", query)
        assert await live.count(database, "summary", query) == len(from_server)


async def test_a_day_of_every_faulty_event_lands_what_it_can_and_sets_aside_the_rest(prefect_api, home):
    result = await glamira_events(day=DAY, batch_size=70, blocks=glamira_blocks())

    reconciliation = result["reconciliation"]
    assert reconciliation["ok"]
    assert reconciliation["source"] == result["read"] == result["landed"] + result["rejected"]
    lake = Lake(LocalFileSystem(basepath=str(home / "lake")), announce=False)
    events = await lake.read_partition(partition_prefix("glamira", "events", DAY))
    rejects = await lake.read_partition(rejects_prefix("glamira", "events", DAY))
    accounted = set(events["event_id"]) | set(rejects["record_id"])
    for hostile in CORPUS:
        days = expected_days(hostile.document)
        if hostile.id is not None and (days is None or DAY in days):
            assert as_text(hostile.id) in accounted, hostile.label
    assert rejects["reason"].str.contains("not a valid BSON document").sum() >= 1  # the torn tail
    assert events["day"].unique().to_list() == [DAY]
    assert events["price_amount"].drop_nulls().is_finite().all()


async def test_a_document_no_day_can_place_is_set_aside_by_every_day(prefect_api, home):
    blocks = glamira_blocks()
    unplaceable = {as_text(h.id) for h in CORPUS if expected_days(h.document) is None and h.id is not None}
    assert unplaceable, "the corpus holds documents no day can place"

    for day in DAYS:
        await glamira_events(day=day, batch_size=500, blocks=blocks)
        lake = Lake(LocalFileSystem(basepath=str(home / "lake")), announce=False)
        rejects = await lake.read_partition(rejects_prefix("glamira", "events", day))
        assert unplaceable <= set(rejects["record_id"]), day


async def test_the_same_day_through_mongodb_reconciles_with_its_count(
    prefect_api, home, mongo_url, hostile_mongo, monkeypatch
):
    database, raw = hostile_mongo
    monkeypatch.setattr("tasks.glamira.ingest.DATABASE", database)
    blocks = glamira_blocks()
    await MongoDB(connection_string=SecretStr(mongo_url)).save(blocks.mongodb)

    result = await glamira_events(day=DAY, batch_size=70, blocks=blocks)

    expected = sum(1 for r in raw if (days := expected_days(bson.decode(r))) is None or DAY in days)
    assert result["reconciliation"]["source"] == expected == result["landed"] + result["rejected"]


# -- Bahela ---------------------------------------------------------------------------------

BAHELA_DAY = date(2026, 11, 21)


@pytest.fixture
def bahela_home(tmp_path, monkeypatch):
    monkeypatch.setenv("PIPELINES_HOME", str(tmp_path))
    sample = bahela.generate(BAHELA_DAY - timedelta(days=1), BAHELA_DAY, seed=3, booths=bahela.BOOTHS[:1])
    folders = bahela.SampleFolders(tmp_path / "samples" / "bahela")
    bahela.write(sample, folders)
    booth = next(iter(sample.sessions))
    dump = folders.mongodump / booth / "sessions.bson"
    dump.write_bytes(dump.read_bytes() + b"".join(h.raw for h in bahela_corpus(BAHELA_DAY)))
    return tmp_path, booth, sample


async def test_a_bahela_day_of_every_faulty_session_reconciles_and_mails_the_accounting(
    prefect_api, bahela_home
):
    home, _, _ = bahela_home
    tag = uuid.uuid4().hex[:8]
    blocks = BahelaBlocks(**{role: f"{tag}-{role}" for role in BahelaBlocks.model_fields})

    result = await bahela_daily(day=BAHELA_DAY, blocks=blocks)

    sessions = result["rows"]["sessions"]
    assert sessions["ok"] and sessions["source"] == sessions["read"]
    assert sessions["read"] == sessions["landed"] + sessions["set_aside"] + sum(
        sessions["other_days"].values()
    )
    lake = Lake(LocalFileSystem(basepath=str(home / "lake")), announce=False)
    kept = await lake.read_partition(partition_prefix("bahela", "sessions", BAHELA_DAY))
    assert kept.filter(pl.col("issues").str.contains("clock was off")).height >= 6
    assert kept["amount_idr"].max() <= 10_000_000_000
    mail = (home / "outbox" / f"bahela-daily-{BAHELA_DAY}.eml").read_text()
    assert "Every document accounted for" in mail


async def test_bahela_sessions_through_mongodb_match_the_dump(mongo_url, tmp_path):
    wire = [h.raw for h in bahela_corpus(BAHELA_DAY) if h.wire]
    database = f"booth_{uuid.uuid4().hex[:6]}"
    client = AsyncMongoClient(mongo_url)
    await client[database]["sessions"].insert_many([RawBSONDocument(r) for r in wire])
    (tmp_path / database).mkdir()
    (tmp_path / database / "sessions.bson").write_bytes(b"".join(wire))
    live, dump = MongoDB(connection_string=SecretStr(mongo_url)), MongoDump(path=str(tmp_path))
    try:
        for day in (BAHELA_DAY - timedelta(days=1), BAHELA_DAY, BAHELA_DAY + timedelta(days=2)):
            query = sessions_query(DayWindow.of(day, JAKARTA))
            from_server = await ids(live.find(database, "sessions", query))
            assert from_server == await ids(dump.find(database, "sessions", query)), day
            assert await live.count(database, "sessions", query) == await dump.count(
                database, "sessions", query
            )
    finally:  # the wire server cannot size a Decimal128 when it lists databases: leave none behind
        await client.drop_database(database)
        await client.close()


class LateArrivals(MongoDump):
    """The embedded default's dump, to which more events of the day are appended while the
    run reads it: the file really changes between the run's read and its count."""

    async def count(self, database: str, collection: str, query: dict) -> int:
        dump = Path(self.path) / database / f"{collection}.bson"
        late = b"".join(bson.encode(e) for e in good_events(DAY, 5, seed=77))
        dump.write_bytes(dump.read_bytes() + late)
        return await super().count(database, collection, query)


async def test_a_source_that_changes_while_the_run_reads_it_fails_the_run_and_replaces_nothing(
    prefect_api, home
):
    lake = Lake(LocalFileSystem(basepath=str(home / "lake")), announce=False)
    prefix = partition_prefix("glamira", "events", DAY)
    await lake.replace_partition(prefix, [pl.DataFrame({"event_id": ["earlier"], "day": [DAY]})])
    before = sorted(p.name for p in (home / "lake" / prefix).iterdir())
    source = LateArrivals(path=str(home / "samples" / "glamira" / "mongodump"))

    with pytest.raises(ReconciliationError, match="counted .* but the run read .*Nothing was replaced"):
        await land_events(source, lake, DAY, batch_size=70, workers=1)

    assert sorted(p.name for p in (home / "lake" / prefix).iterdir()) == before
    assert (await lake.read_partition(prefix))["event_id"].to_list() == ["earlier"]

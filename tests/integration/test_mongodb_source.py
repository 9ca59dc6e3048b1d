"""The MongoDB block (pymongo's AsyncMongoClient) against a wire-protocol server, and
the mongodump block over the same documents: both must hand over the same day."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import bson
import pytest
from pydantic import SecretStr
from pymongo import AsyncMongoClient

from blocks.mongodb import MongoDB, MongoDump, documents_to_json_lines
from demo import bahela
from pipelines.calendar import DayWindow
from pipelines.errors import SourceUnavailable
from pipelines.settings import JAKARTA
from tasks.bahela.daily import EXTRACT_MARGIN, sessions_query

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

DAY = date(2026, 11, 20)


@pytest.fixture(scope="module")
def sample():
    return bahela.generate(
        DAY - timedelta(days=1), DAY + timedelta(days=1), seed=11, booths=bahela.BOOTHS[:2]
    )


@pytest.fixture
async def loaded(mongo_url, sample):
    """The sample's booth databases, under a fresh prefix so tests never share state."""
    prefix = f"t{uuid.uuid4().hex[:6]}_"
    client = AsyncMongoClient(mongo_url)
    for database, docs in sample.sessions.items():
        await client[f"{prefix}{database}"]["sessions"].insert_many(docs)
    await client.close()
    return prefix


WINDOW = DayWindow.of(DAY, JAKARTA)


async def ids(runs) -> list:
    return [d["_id"] async for run in runs for d in bson.decode_all(run.data)]


async def test_live_and_dump_sources_return_and_count_the_same_documents(mongo_url, loaded, sample, tmp_path):
    live = MongoDB(connection_string=SecretStr(mongo_url))
    dump = MongoDump(path=str(tmp_path))
    for database, docs in sample.sessions.items():
        (tmp_path / database).mkdir()
        with (tmp_path / database / "sessions.bson").open("wb") as out:
            out.writelines(bson.encode(d) for d in docs)
    query = sessions_query(WINDOW)

    for database in sample.sessions:
        from_server = await ids(live.find(f"{loaded}{database}", "sessions", query, batch_size=50))
        from_dump = await ids(dump.find(database, "sessions", query))
        assert from_server, "the day holds documents"
        assert sorted(from_server) == sorted(from_dump)
        assert await live.count(f"{loaded}{database}", "sessions", query) == len(from_server)
        assert await dump.count(database, "sessions", query) == len(from_dump)


async def test_runs_hold_about_a_batch_of_documents(mongo_url, loaded, sample):
    live = MongoDB(connection_string=SecretStr(mongo_url))
    database = f"{loaded}{bahela.BOOTHS[0].database}"

    sizes = [len(run) async for run in live.find(database, "sessions", sessions_query(WINDOW), batch_size=25)]

    assert len(sizes) > 1 and all(size >= 25 for size in sizes[:-1]) and max(sizes) < 50


async def test_booth_databases_are_discovered_by_prefix(mongo_url, loaded):
    live = MongoDB(connection_string=SecretStr(mongo_url))

    found = await live.list_databases(f"{loaded}booth_")

    assert found == sorted(f"{loaded}{b.database}" for b in bahela.BOOTHS[:2])


async def test_mongoexport_json_reads_like_the_dump(tmp_path, sample):
    database, docs = next(iter(sample.sessions.items()))
    (tmp_path / database).mkdir()
    (tmp_path / database / "sessions.json").write_text(documents_to_json_lines(docs))

    got = await ids(MongoDump(path=str(tmp_path)).find(database, "sessions", sessions_query(WINDOW)))

    low, high = WINDOW.widened(EXTRACT_MARGIN)
    assert got == [d["_id"] for d in docs if low <= d["_id"].generation_time < high]


async def test_unreachable_server_names_the_source_and_setting_without_the_password():
    dead = MongoDB(
        connection_string=SecretStr("mongodb://reader:s3cret-pw@127.0.0.1:1/?directConnection=true"),
        server_selection_timeout_ms=300,
    )

    with pytest.raises(SourceUnavailable) as failure:
        await dead.list_databases()

    message = str(failure.value)
    assert "127.0.0.1:1" in message and "connection_string" in message
    assert "s3cret-pw" not in message


async def test_missing_dump_folder_says_how_to_get_one(tmp_path):
    with pytest.raises(SourceUnavailable, match="pipelines sample-data"):
        await MongoDump(path=str(tmp_path / "nope")).list_databases()

"""The MongoDB block (pymongo's AsyncMongoClient) against a wire-protocol server, and
the mongodump block over the same documents: both must hand over the same day."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import bson
import pytest
from bson import ObjectId
from pydantic import SecretStr
from pymongo import AsyncMongoClient

from blocks.mongodb import MongoDB, MongoDump, documents_to_json_lines
from pipelines.errors import SourceUnavailable
from pipelines.sample_data import bahela

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


def day_bounds():
    start = datetime(2026, 11, 19, 17, tzinfo=UTC)
    return ObjectId.from_datetime(start), ObjectId.from_datetime(start + timedelta(days=1))


async def test_live_and_dump_sources_return_the_same_documents(mongo_url, loaded, sample, tmp_path):
    live = MongoDB(connection_string=SecretStr(mongo_url))
    dump = MongoDump(path=str(tmp_path))
    for database, docs in sample.sessions.items():
        (tmp_path / database).mkdir()
        with (tmp_path / database / "sessions.bson").open("wb") as out:
            out.writelines(bson.encode(d) for d in docs)

    for database in sample.sessions:
        from_server = [
            d["_id"]
            async for batch in live.find_between(
                f"{loaded}{database}", "sessions", "_id", *day_bounds(), batch_size=50
            )
            for d in batch
        ]
        from_dump = [
            d["_id"]
            async for batch in dump.find_between(database, "sessions", "_id", *day_bounds())
            for d in batch
        ]
        assert from_server, "the day holds documents"
        assert sorted(from_server) == sorted(from_dump)


async def test_batches_are_bounded(mongo_url, loaded, sample):
    live = MongoDB(connection_string=SecretStr(mongo_url))
    database = f"{loaded}{bahela.BOOTHS[0].database}"

    sizes = [
        len(b) async for b in live.find_between(database, "sessions", "_id", *day_bounds(), batch_size=25)
    ]

    assert max(sizes) <= 25 and len(sizes) > 1


async def test_booth_databases_are_discovered_by_prefix(mongo_url, loaded):
    live = MongoDB(connection_string=SecretStr(mongo_url))

    found = await live.list_databases(f"{loaded}booth_")

    assert found == sorted(f"{loaded}{b.database}" for b in bahela.BOOTHS[:2])


async def test_mongoexport_json_reads_like_the_dump(tmp_path, sample):
    database, docs = next(iter(sample.sessions.items()))
    (tmp_path / database).mkdir()
    (tmp_path / database / "sessions.json").write_text(documents_to_json_lines(docs))

    got = [
        d["_id"]
        async for b in MongoDump(path=str(tmp_path)).find_between(database, "sessions", "_id", *day_bounds())
        for d in b
    ]

    low, high = day_bounds()
    assert got == [d["_id"] for d in docs if low <= d["_id"] < high]


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

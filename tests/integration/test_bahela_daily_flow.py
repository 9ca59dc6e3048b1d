"""The whole bahela-daily flow: on the embedded default, and on the production adapters
(MongoDB wire protocol, Cloudinary Search API, GCS, BigQuery, SendGrid, Slack) served on
127.0.0.1. Both must give the same day."""

from __future__ import annotations

import base64
import email
import json
import re
import uuid
from datetime import date, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest
from prefect_gcp.cloud_storage import GcsBucket
from prefect_slack import SlackWebhook
from pydantic import SecretStr
from pymongo import AsyncMongoClient

from blocks import BigQueryWarehouse, Cloudinary, MongoDB, SendGrid
from demo import bahela
from flows.bahela_daily import BahelaBlocks, bahela_daily
from pipelines.errors import SourceUnavailable
from tests.support.http_servers import FakeCloudinary, RecordingServer, Reply

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

DAY = date(2026, 11, 20)
BOOTHS = bahela.BOOTHS[:3]


@pytest.fixture(scope="module")
def sample():
    return bahela.generate(DAY - timedelta(days=2), DAY, seed=3, booths=BOOTHS)


@pytest.fixture
def home(tmp_path, monkeypatch, sample) -> Path:
    monkeypatch.setenv("PIPELINES_HOME", str(tmp_path))
    bahela.write(sample, bahela.SampleFolders(tmp_path / "samples" / "bahela"))
    return tmp_path


def unique_blocks() -> BahelaBlocks:
    """Block names no saved block has: every role falls back to the embedded default."""
    tag = uuid.uuid4().hex[:8]
    return BahelaBlocks(**{role: f"{tag}-{role}" for role in BahelaBlocks.model_fields})


def warehouse_rows(path: Path, table: str, day: date) -> pl.DataFrame:
    with duckdb.connect(str(path), read_only=True) as con:
        return pl.from_arrow(
            con.sql(f"select * from raw_bahela.{table} where day = ?", params=[day]).to_arrow_table()
        )


def attachment(eml: Path) -> dict:
    message = email.message_from_bytes(eml.read_bytes())
    part = next(p for p in message.walk() if p.get_content_type() == "application/json")
    payload = json.loads(part.get_payload(decode=True))
    payload.pop("generated_at")
    return payload


async def test_rerun_of_the_same_day_changes_nothing(prefect_api, home):
    blocks = unique_blocks()
    await bahela_daily(day=DAY - timedelta(days=1), blocks=blocks)
    first = await bahela_daily(day=DAY, blocks=blocks)
    tables = ("sessions", "images", "daily_summary", "rejects")
    before = {t: warehouse_rows(home / "warehouse.duckdb", t, DAY) for t in tables}
    mail_before = attachment(home / "outbox" / f"bahela-daily-{DAY}.eml")

    second = await bahela_daily(day=DAY, blocks=blocks)

    after = {t: warehouse_rows(home / "warehouse.duckdb", t, DAY) for t in tables}
    for table in tables:
        assert after[table].sort(after[table].columns).equals(before[table].sort(before[table].columns)), (
            table
        )
    sessions = after["sessions"]
    assert sessions.height == sessions.select("site", "session_code").n_unique() > 100
    assert attachment(home / "outbox" / f"bahela-daily-{DAY}.eml") == mail_before
    assert first["rows"] == second["rows"]
    folder = home / "lake" / "bahela" / "sessions" / f"dt={DAY}"
    manifest = json.loads((folder / "_manifest.json").read_text())
    assert len(manifest["parts"]) == 1  # the second generation, and nothing of the first
    assert sorted(p.name for p in folder.iterdir()) == ["_manifest.json", *manifest["parts"]]


async def test_summary_mail_compares_with_the_previous_day(prefect_api, home):
    blocks = unique_blocks()
    await bahela_daily(day=DAY - timedelta(days=1), blocks=blocks)
    result = await bahela_daily(day=DAY, blocks=blocks)

    payload = attachment(home / "outbox" / f"bahela-daily-{DAY}.eml")
    summary = warehouse_rows(home / "warehouse.duckdb", "daily_summary", DAY)
    yesterday = warehouse_rows(home / "warehouse.duckdb", "daily_summary", DAY - timedelta(days=1))
    revenue = payload["totals"]["revenue_idr"]
    assert revenue["value"] == summary["revenue_idr"].sum() == result["revenue_idr"]
    assert revenue["previous_day"] == yesterday["revenue_idr"].sum()
    assert revenue["trailing_average_days"] == 1
    assert [b["site"] for b in payload["booths"]] == sorted(b.site for b in BOOTHS)
    assert (home / "reports" / f"bahela-daily-{DAY}.html").read_text().count("Rp ") > 5


async def test_a_day_without_sessions_sends_a_no_sessions_summary(prefect_api, home):
    quiet_day = DAY + timedelta(days=5)  # after the generated range: nothing happened

    result = await bahela_daily(day=quiet_day, blocks=unique_blocks())

    payload = attachment(home / "outbox" / f"bahela-daily-{quiet_day}.eml")
    assert result["status"] == payload["status"] == "no_sessions"
    assert payload["totals"]["transactions"]["value"] == 0
    summary = warehouse_rows(home / "warehouse.duckdb", "daily_summary", quiet_day)
    assert summary["site"].sort().to_list() == sorted(b.site for b in BOOTHS)
    assert summary["transactions"].sum() == 0


async def test_unreachable_mongodb_fails_the_run_naming_source_and_setting(prefect_api, home):
    blocks = unique_blocks()
    await MongoDB(
        connection_string=SecretStr("mongodb://reader:hunter2@127.0.0.1:1/?directConnection=true"),
        server_selection_timeout_ms=500,
    ).save(blocks.mongodb)

    with pytest.raises(SourceUnavailable) as failure:
        await bahela_daily(day=DAY, blocks=blocks)

    assert "MongoDB at 127.0.0.1:1" in str(failure.value) and "connection_string" in str(failure.value)
    assert "hunter2" not in str(failure.value)


@pytest.fixture
async def booth_databases(mongo_url, sample):
    client = AsyncMongoClient(mongo_url)
    for database, docs in sample.sessions.items():
        await client.drop_database(database)
        await client[database]["sessions"].insert_many(docs)
    yield
    for database in sample.sessions:
        await client.drop_database(database)
    await client.close()


async def test_production_adapters_give_the_same_day_as_the_embedded_default(
    prefect_api, home, sample, mongo_url, booth_databases, gcp_credentials, bigquery_url
):
    # given: every role saved as a production block, served on 127.0.0.1
    embedded = await bahela_daily(day=DAY, blocks=unique_blocks(), notify=False)
    blocks = unique_blocks()
    bucket = f"lake-{uuid.uuid4().hex[:8]}"
    gcp_credentials.get_cloud_storage_client().create_bucket(bucket)
    dataset_prefix = f"t{uuid.uuid4().hex[:6]}_"
    with (
        FakeCloudinary("bahela", "key-1", "cloud-secret", sample.images) as cloudinary_api,
        RecordingServer(Reply(202, b"", {"X-Message-Id": "m-1"})) as sendgrid_api,
        RecordingServer(Reply(200, "ok")) as slack_hook,
    ):
        cloudinary_api.faults.append(cloudinary_api.rate_limit(reset_in_seconds=1))
        await MongoDB(connection_string=SecretStr(mongo_url)).save(blocks.mongodb)
        await Cloudinary(
            cloud_name="bahela",
            api_key="key-1",
            api_secret=SecretStr("cloud-secret"),
            api_base_url=cloudinary_api.url,
        ).save(blocks.cloudinary)
        await GcsBucket(bucket=bucket, bucket_folder="lake", gcp_credentials=gcp_credentials).save(
            blocks.lake
        )
        await BigQueryWarehouse(
            gcp_credentials=gcp_credentials,
            location="US",
            api_endpoint=bigquery_url,
            dataset_prefix=dataset_prefix,
        ).save(blocks.warehouse)
        await SendGrid(
            api_key=SecretStr("SG.local"),
            sender="Reports <r@bahela.test>",
            recipients=["owner@bahela.test"],
            api_host=sendgrid_api.url,
        ).save(blocks.mailer)
        await SlackWebhook(url=SecretStr(f"{slack_hook.url}/services/T/B/X")).save(blocks.slack)

        # when: the day runs twice
        await bahela_daily(day=DAY, blocks=blocks)
        production = await bahela_daily(day=DAY, blocks=blocks)

        # then: the same rows as the embedded default, once each, in BigQuery and GCS
        assert production["rows"] == embedded["rows"]
        assert production["revenue_idr"] == embedded["revenue_idr"]
        warehouse = await BigQueryWarehouse.aload(blocks.warehouse)
        counts = await warehouse.query(
            f"select count(*) as n, count(distinct session_code) as codes "
            f"from {warehouse.table_ref('raw_bahela', 'sessions')} where day = @day",
            {"day": DAY},
        )
        assert counts.row(0) == (embedded["rows"]["sessions"]["landed"],) * 2
        blobs = {b.name for b in gcp_credentials.get_cloud_storage_client().list_blobs(bucket)}
        for prefix in (f"lake/bahela/sessions/dt={DAY}", f"lake/bahela/_rejects/sessions/dt={DAY}"):
            parts = sorted(b.removeprefix(f"{prefix}/") for b in blobs if b.startswith(f"{prefix}/"))
            assert parts[0] == "_manifest.json" and re.fullmatch(r"part-[0-9a-f]+-0000\.parquet", parts[1])
        sent = sendgrid_api.requests[-1].json()
        summary = json.loads(base64.b64decode(sent["attachments"][0]["content"]))
        assert summary["totals"]["revenue_idr"]["value"] == embedded["revenue_idr"]
        assert "Rp " in slack_hook.requests[-1].json()["text"]
        assert not cloudinary_api.faults, "the run went through Cloudinary's rate limit"

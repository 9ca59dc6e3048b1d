"""A failing flow run alerts through the saved alert blocks: SendGrid (and Slack) here,
SMTP in test_deployments; without them the alert lands in the outbox."""

from __future__ import annotations

import email
import uuid
from datetime import date

import pytest
from prefect_slack import SlackWebhook
from pydantic import SecretStr

from blocks import MongoDB, SendGrid
from demo import bahela
from flows.bahela_daily import BahelaBlocks, bahela_daily
from pipelines.alerts import ALERT_MAILER, ALERT_SLACK
from pipelines.errors import SourceUnavailable
from tests.support import saved_blocks
from tests.support.http_servers import RecordingServer, Reply

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

DAY = date(2026, 11, 20)


@pytest.fixture
async def broken_run_blocks(prefect_api) -> BahelaBlocks:
    tag = uuid.uuid4().hex[:8]
    blocks = BahelaBlocks(**{role: f"{tag}-{role}" for role in BahelaBlocks.model_fields})
    await MongoDB(
        connection_string=SecretStr("mongodb://127.0.0.1:1/?directConnection=true"),
        server_selection_timeout_ms=300,
    ).save(blocks.mongodb)
    return blocks


async def test_a_failed_run_mails_the_alert_through_sendgrid_and_posts_to_slack(
    prefect_api, broken_run_blocks, tmp_path, monkeypatch
):
    monkeypatch.setenv("PIPELINES_HOME", str(tmp_path))
    bahela.write(
        bahela.generate(DAY, DAY, booths=bahela.BOOTHS[:1]),
        bahela.SampleFolders(tmp_path / "samples" / "bahela"),
    )
    with RecordingServer(Reply(202, b"")) as sendgrid, RecordingServer(Reply(200, "ok")) as slack:
        await SendGrid(
            api_key=SecretStr("SG.alerts"),
            sender="alerts@pipelines.test",
            recipients=["oncall@pipelines.test"],
            api_host=sendgrid.url,
        ).save(ALERT_MAILER, overwrite=True)
        await SlackWebhook(url=SecretStr(f"{slack.url}/services/alerts")).save(ALERT_SLACK, overwrite=True)
        try:
            with pytest.raises(SourceUnavailable):
                await bahela_daily(day=DAY, blocks=broken_run_blocks)
        finally:
            saved_blocks.delete(prefect_api, [ALERT_MAILER, ALERT_SLACK])

    sent = sendgrid.requests[-1].json()
    assert sent["subject"] == f"[pipelines] Failed: bahela-daily / bahela-daily-{DAY}"
    assert sent["personalizations"][0]["to"] == [{"email": "oncall@pipelines.test"}]
    body = next(c["value"] for c in sent["content"] if c["type"] == "text/plain")
    assert f"Failing task extract sessions {DAY}" in body and "MongoDB at 127.0.0.1:1 is unreachable" in body
    assert f"bahela-daily-{DAY}" in slack.requests[-1].json()["text"]


async def test_when_both_sources_fail_the_alert_names_both(
    prefect_api, broken_run_blocks, tmp_path, monkeypatch
):
    monkeypatch.setenv("PIPELINES_HOME", str(tmp_path / "empty"))  # no saved Cloudinary pages either

    with pytest.raises(SourceUnavailable, match="2 sources failed") as failure:
        await bahela_daily(day=DAY, blocks=broken_run_blocks)

    assert "MongoDB at 127.0.0.1:1" in str(failure.value) and "Cloudinary pages" in str(failure.value)


async def test_without_alert_blocks_the_alert_is_written_to_the_outbox(
    prefect_api, broken_run_blocks, tmp_path, monkeypatch
):
    monkeypatch.setenv("PIPELINES_HOME", str(tmp_path))

    with pytest.raises(SourceUnavailable):
        await bahela_daily(day=DAY, blocks=broken_run_blocks)

    [alert] = list((tmp_path / "outbox").glob("alert-bahela-daily-*.eml"))
    message = email.message_from_bytes(alert.read_bytes())
    assert message["Subject"] == f"[pipelines] Failed: bahela-daily / bahela-daily-{DAY}"

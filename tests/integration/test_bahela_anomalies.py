"""bahela-daily on the embedded default over five Fridays, the last with a booth going
offline mid-day (a labelled incident of the sample data): the mail and the Slack line
lead with it, it lands in the lake and the warehouse, the artifact lists it, and it
alerts through the alert blocks (Slack and a real SMTP server on 127.0.0.1); the normal
Friday before it flags nothing and alerts no one."""

from __future__ import annotations

import email
import json
import uuid
from datetime import date, timedelta
from email import policy
from pathlib import Path

import duckdb
import polars as pl
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
from prefect.client.schemas.sorting import ArtifactSort
from prefect_slack import SlackWebhook
from pydantic import SecretStr

from blocks import SmtpMailer
from demo import bahela
from flows.bahela_daily import ANOMALIES_ARTIFACT, BahelaBlocks, bahela_daily
from pipelines.alerts import ALERT_MAILER, ALERT_SLACK, AnomalyAlert, send_anomaly_alert
from tasks.anomalies import ANOMALY_SCHEMA
from tests.support import saved_blocks
from tests.support.http_servers import RecordingServer, Reply
from tests.support.smtp_server import SmtpServer

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

DAY = date(2026, 11, 20)  # a Friday
NORMAL_DAY = DAY - timedelta(weeks=1)
BOOTHS = bahela.BOOTHS[:3]
INCIDENT = bahela.Incident(DAY, "senopati", bahela.OFFLINE)
# the same weekday only: the baseline needs three of them, the normal day has them
HISTORY = [DAY - timedelta(weeks=w) for w in (4, 3, 2)]


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("PIPELINES_HOME", str(tmp_path))
    sample = bahela.generate(HISTORY[0] - timedelta(days=1), DAY, seed=3, booths=BOOTHS, incidents=[INCIDENT])
    assert sample.incidents == [INCIDENT]
    bahela.write(sample, bahela.SampleFolders(tmp_path / "samples" / "bahela"))
    return tmp_path


def warehouse_rows(path: Path, table: str, day: date) -> pl.DataFrame:
    with duckdb.connect(str(path), read_only=True) as con:
        return pl.from_arrow(
            con.sql(f"select * from raw_bahela.{table} where day = ?", params=[day]).to_arrow_table()
        )


def mail_of(home: Path, day: date) -> email.message.EmailMessage:
    return email.message_from_bytes(
        (home / "outbox" / f"bahela-daily-{day}.eml").read_bytes(), policy=policy.default
    )


async def latest_artifact(key: str) -> list[dict]:
    async with get_client() as client:
        [artifact] = await client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])),
            sort=ArtifactSort.CREATED_DESC,
            limit=1,
        )
    data = artifact.data
    return json.loads(data) if isinstance(data, str) else data


async def test_a_booth_offline_mid_day_leads_the_mail_lands_everywhere_and_alerts(prefect_api, home):
    tag = uuid.uuid4().hex[:8]
    blocks = BahelaBlocks(**{role: f"{tag}-{role}" for role in BahelaBlocks.model_fields})
    with RecordingServer(Reply(200, "ok")) as slack, SmtpServer() as smtp:
        await SlackWebhook(url=SecretStr(f"{slack.url}/services/daily")).save(blocks.slack)
        await SlackWebhook(url=SecretStr(f"{slack.url}/services/alerts")).save(ALERT_SLACK, overwrite=True)
        await SmtpMailer(
            credentials=smtp.credentials(),
            sender="alerts@pipelines.test",
            recipients=["oncall@pipelines.test"],
        ).save(ALERT_MAILER, overwrite=True)
        try:
            # given: three earlier Fridays in the warehouse
            for day in HISTORY:
                await bahela_daily(day=day, blocks=blocks, notify=False)

            # when: a normal Friday, then the Friday senopati goes offline at ~14:10
            normal = await bahela_daily(day=NORMAL_DAY, blocks=blocks)
            normal_posts = [r.json()["text"] for r in slack.requests]
            normal_alerts = len(smtp.inbox.messages)
            normal_artifact = await latest_artifact(ANOMALIES_ARTIFACT)
            result = await bahela_daily(day=DAY, blocks=blocks)
        finally:
            saved_blocks.delete(prefect_api, [ALERT_MAILER, ALERT_SLACK])

    # then, the normal day: nothing flagged, said so, nobody alerted
    assert normal["anomalies"] == {"count": 0, "severe": []}
    assert "Nothing unusual" in mail_of(home, NORMAL_DAY).get_body(("plain",)).get_content()
    assert normal_alerts == 0 and all("Unusual" not in text for text in normal_posts)
    assert normal_artifact == []
    assert warehouse_rows(home / "warehouse.duckdb", "anomalies", NORMAL_DAY).height == 0

    # the incident day: the run names the booth and the time its sessions stopped
    [severe] = result["anomalies"]["severe"]
    assert severe.startswith("senopati: booth offline since 1")
    since = severe.removeprefix("senopati: booth offline since ")
    assert "12:00" <= since <= "14:10"

    # the mail's first block (before the headline cards) names it, and its JSON carries it
    message = mail_of(home, DAY)
    html = message.get_body(("html",)).get_content()
    assert html.index("Unusual today") < html.index(severe) < html.index("By booth")
    text = message.get_body(("plain",)).get_content().splitlines()
    assert text[2] == "Unusual today:" and severe in text[3]
    attached = next(p for p in message.walk() if p.get_content_type() == "application/json")
    payload = json.loads(attached.get_content())
    assert {(a["entity"], a["cause"]) for a in payload["anomalies"]} >= {
        ("senopati", f"booth offline since {since}")
    }

    # the Slack line leads with it
    [daily_post] = [r.json()["text"] for r in slack.requests if r.path == "/services/daily"][-1:]
    assert daily_post.startswith(f":rotating_light: *Unusual:* {severe}")

    # the lake partition and the warehouse table hold it, in ANOMALY_SCHEMA
    folder = home / "lake" / "bahela" / "anomalies" / f"dt={DAY}"
    manifest = json.loads((folder / "_manifest.json").read_text())
    landed = pl.concat([pl.read_parquet(folder / part) for part in manifest["parts"]])
    stored = warehouse_rows(home / "warehouse.duckdb", "anomalies", DAY)
    assert stored.columns == list(ANOMALY_SCHEMA) == landed.columns
    assert stored.height == landed.height == result["anomalies"]["count"]
    offline = stored.filter(pl.col("entity") == "senopati")
    assert set(offline["cause"]) == {f"booth offline since {since}"} and set(offline["severity"]) == {
        "severe"
    }
    assert {"quiet_hours", "sessions"} <= set(offline["metric"])
    assert stored.filter(pl.col("entity").is_in(["kemang", "menteng"])).height == 0

    # the artifact lists it
    listed = await latest_artifact(ANOMALIES_ARTIFACT)
    assert {(row["entity"], row["severity"]) for row in listed} >= {("senopati", "severe")}

    # and it went out as an alert, by mail (SMTP) and to the alert channel
    [alert] = smtp.inbox.messages
    assert alert["Subject"] == f"[pipelines] Unusual day: bahela-daily {DAY}"
    assert severe in alert.get_body(("plain",)).get_content()
    [alert_post] = [r.json()["text"] for r in slack.requests if r.path == "/services/alerts"]
    assert severe in alert_post


async def test_a_broken_alert_channel_is_logged_and_the_other_channel_still_gets_the_alert(
    prefect_api, tmp_path, monkeypatch, caplog
):
    monkeypatch.setenv("PIPELINES_HOME", str(tmp_path))
    severe = [{"headline": "senopati: booth offline since 14:07", "detail": "No session after 14:07."}]
    with SmtpServer() as smtp:
        # given: the Slack alert block points at a port where nothing listens
        await SlackWebhook(url=SecretStr("http://127.0.0.1:1/services/alerts")).save(
            ALERT_SLACK, overwrite=True
        )
        await SmtpMailer(
            credentials=smtp.credentials(),
            sender="alerts@pipelines.test",
            recipients=["oncall@pipelines.test"],
        ).save(ALERT_MAILER, overwrite=True)
        try:
            # when
            sent = await send_anomaly_alert(
                AnomalyAlert("bahela-daily", str(DAY), severe, ANOMALIES_ARTIFACT)
            )
        finally:
            saved_blocks.delete(prefect_api, [ALERT_MAILER, ALERT_SLACK])

    # then: no exception reaches the run; the failure is logged; the mail went out
    assert sent is False
    assert "could not send the anomaly alert for bahela-daily" in caplog.text
    [alert] = smtp.inbox.messages
    assert "senopati: booth offline since 14:07" in alert.get_body(("plain",)).get_content()

"""SendGrid and Slack deliveries against local HTTP servers speaking their APIs."""

from __future__ import annotations

import base64
import json

import pytest
from prefect_slack import SlackWebhook
from pydantic import SecretStr

from blocks.mail import Attachment, Email, SendGrid
from pipelines.errors import SourceUnavailable
from tasks.notify import post_to_slack
from tests.support.http_servers import RecordingServer, Reply

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

EMAIL = Email(
    subject="Bahela daily summary 2026-11-20",
    html="<p>Rp 12.645.000</p>",
    text="Rp 12.645.000",
    attachments=(Attachment("bahela-summary-2026-11-20.json", b'{"day": "2026-11-20"}', "application/json"),),
)


@pytest.fixture
def sendgrid_api():
    with RecordingServer(Reply(202, b"", {"X-Message-Id": "msg-42"})) as server:
        yield server


@pytest.fixture
def slack_hook():
    with RecordingServer(Reply(200, "ok")) as server:
        yield server


def sendgrid(server) -> SendGrid:
    return SendGrid(
        api_key=SecretStr("SG.local-test-key"),
        sender="Bahela Reports <reports@bahela.test>",
        recipients=["owner@bahela.test", "ops@bahela.test"],
        api_host=server.url,
    )


async def test_sendgrid_receives_the_message_with_its_attachment(sendgrid_api):
    outcome = await sendgrid(sendgrid_api).send(EMAIL, "bahela-daily-2026-11-20")

    request = sendgrid_api.requests[-1]
    body = request.json()
    assert outcome == "SendGrid accepted (HTTP 202) msg-42"
    assert request.path == "/v3/mail/send"
    assert request.headers["Authorization"] == "Bearer SG.local-test-key"
    assert body["from"] == {"email": "reports@bahela.test", "name": "Bahela Reports"}
    assert [r["email"] for r in body["personalizations"][0]["to"]] == ["owner@bahela.test", "ops@bahela.test"]
    assert {c["type"] for c in body["content"]} == {"text/plain", "text/html"}
    attachment = body["attachments"][0]
    assert attachment["filename"] == "bahela-summary-2026-11-20.json"
    assert json.loads(base64.b64decode(attachment["content"])) == {"day": "2026-11-20"}


async def test_sendgrid_rejection_is_reported_without_the_key(sendgrid_api):
    sendgrid_api.replies.append(
        Reply(401, {"errors": [{"message": "The provided authorization grant is invalid"}]})
    )

    with pytest.raises(SourceUnavailable) as failure:
        await sendgrid(sendgrid_api).send(EMAIL, "x")

    assert "HTTP 401" in str(failure.value) and "api_key" in str(failure.value)
    assert "SG.local-test-key" not in str(failure.value)


async def test_slack_webhook_gets_the_text(prefect_api, slack_hook):
    hook = SlackWebhook(url=SecretStr(f"{slack_hook.url}/services/T000/B000/XXXX"))

    outcome = await post_to_slack(hook, "*Bahela*: Rp 12.645.000")

    assert outcome == "posted (HTTP 200)"
    assert slack_hook.requests[-1].path == "/services/T000/B000/XXXX"
    assert slack_hook.requests[-1].json()["text"] == "*Bahela*: Rp 12.645.000"


async def test_slack_refusal_fails_the_task_without_leaking_the_url(prefect_api, slack_hook):
    slack_hook.replies.extend([Reply(404, "no_team")] * 3)
    hook = SlackWebhook(url=SecretStr(f"{slack_hook.url}/services/SECRET/PATH"))

    with pytest.raises(SourceUnavailable) as failure:
        await post_to_slack.with_options(retries=0)(hook, "hello")

    assert "HTTP 404" in str(failure.value) and "SECRET" not in str(failure.value)


async def test_without_a_webhook_the_message_is_only_logged(prefect_api):
    assert await post_to_slack(None, "hello") == "not configured"

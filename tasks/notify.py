"""Prefect tasks that deliver reports: mail (SendGrid or outbox) and Slack."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect_slack import SlackWebhook

from blocks.mail import Email, Outbox, SendGrid, SmtpMailer
from pipelines.errors import SourceUnavailable


@task(name="send-email", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[15, 60])
async def send_email(mailer: SendGrid | SmtpMailer | Outbox, email: Email, name: str) -> str:
    outcome = await mailer.send(email, name)
    get_run_logger().info("mail '%s' -> %s", email.subject, outcome)
    return outcome


@task(name="post-to-slack", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[15, 60])
async def post_to_slack(webhook: SlackWebhook | None, text: str) -> str:
    logger = get_run_logger()
    if webhook is None:
        logger.info("Slack is not configured (no Slack webhook block); the message would be:\n%s", text)
        return "not configured"
    response = await webhook.get_client().send(text=text)
    if response.status_code >= 400:
        # the webhook URL is the secret: report the status, never the URL
        raise SourceUnavailable(
            f"Slack refused the message (HTTP {response.status_code}: {response.body[:200]})"
        )
    logger.info("posted to Slack (HTTP %d)", response.status_code)
    return f"posted (HTTP {response.status_code})"

"""The roles the flows fill with saved blocks, in one place: which block types can fill
each, the block name each business uses by default, and what `pipelines setup` reads to
create it.

The flows, `pipelines setup`, `pipelines check` and the production preflight all read
this table, so a new role is added here once.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Role:
    block: str  # the default block name, e.g. "bahela-mongodb"
    kind: str  # "mongodb", "cloudinary", "lake", "warehouse", "mailer", "slack", "ip2location", "crawl"
    what: str  # what it is for, for people
    variables: str  # what `pipelines setup` reads to create it
    optional: bool = False  # may be absent in production too (a chat channel)


ROLES: tuple[Role, ...] = (
    Role("bahela-mongodb", "mongodb", "Bahela's booth sessions (MongoDB)", "BAHELA_MONGODB_URI"),
    Role(
        "bahela-cloudinary",
        "cloudinary",
        "Bahela's photo metadata (Cloudinary)",
        "BAHELA_CLOUDINARY_URL (or CLOUDINARY_URL)",
    ),
    Role("bahela-lake", "lake", "Bahela's lake (GCS)", "BAHELA_LAKE_BUCKET with GCP_SERVICE_ACCOUNT_JSON"),
    Role(
        "bahela-warehouse",
        "warehouse",
        "Bahela's raw tables (BigQuery)",
        "BIGQUERY_PROJECT with GCP_SERVICE_ACCOUNT_JSON",
    ),
    Role(
        "bahela-mailer",
        "mailer",
        "Bahela's summary mails (SendGrid)",
        "SENDGRID_API_KEY, BAHELA_MAIL_FROM and BAHELA_MAIL_TO",
    ),
    Role("bahela-slack", "slack", "Bahela's Slack channel", "BAHELA_SLACK_WEBHOOK_URL", optional=True),
    Role("glamira-mongodb", "mongodb", "Glamira's website events (MongoDB)", "GLAMIRA_MONGODB_URI"),
    Role(
        "glamira-ip2location",
        "ip2location",
        "Glamira's IP2Location BIN",
        "GLAMIRA_IP2LOCATION_BIN (its path on the workers)",
    ),
    Role(
        "glamira-crawl",
        "crawl",
        "Glamira's product-name crawl settings",
        "nothing: created with polite defaults (GLAMIRA_CRAWL_USER_AGENT to name yourself)",
    ),
    Role("glamira-lake", "lake", "Glamira's lake (GCS)", "GLAMIRA_LAKE_BUCKET with GCP_SERVICE_ACCOUNT_JSON"),
    Role(
        "glamira-warehouse",
        "warehouse",
        "Glamira's raw tables (BigQuery)",
        "BIGQUERY_PROJECT with GCP_SERVICE_ACCOUNT_JSON",
    ),
    Role(
        "marts-warehouse",
        "warehouse",
        "the warehouse dbt builds the marts in (BigQuery, both businesses' raw tables)",
        "BIGQUERY_PROJECT with GCP_SERVICE_ACCOUNT_JSON",
    ),
    Role(
        "pipelines-alerts-slack",
        "slack",
        "the alerts' Slack channel",
        "ALERTS_SLACK_WEBHOOK_URL",
        optional=True,
    ),
    Role(
        "pipelines-alerts-mailer",
        "mailer",
        "the alerts' mail",
        "ALERTS_MAIL_FROM and ALERTS_MAIL_TO with SMTP_HOST or SENDGRID_API_KEY",
        optional=True,
    ),
)

BY_BLOCK = {role.block: role for role in ROLES}

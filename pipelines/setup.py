"""`pipelines setup`: register the block types and create the production blocks from
environment variables.

Secrets go from the environment straight into Prefect blocks (stored by the server,
`SecretStr` fields never shown); nothing is written to disk and no value is printed.
A block whose variables are not set is skipped, so its role stays on the embedded
default: move one part to production at a time.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from prefect.blocks.core import Block
from pydantic import SecretStr


@dataclass(frozen=True)
class Planned:
    name: str
    needs: tuple[str, ...]  # the environment variables that must be set
    build: Callable[[Mapping[str, str], dict[str, Block]], Block]
    optional: tuple[str, ...] = ()

    def ready(self, env: Mapping[str, str]) -> bool:
        return all(env.get(v) for v in self.needs)


def block_types() -> list[type[Block]]:
    """Every block type the flows can use: ours and the Prefect integrations'."""
    from prefect.filesystems import LocalFileSystem
    from prefect_email import EmailServerCredentials
    from prefect_gcp import GcpCredentials, GcsBucket
    from prefect_slack import SlackWebhook

    import blocks

    ours = [getattr(blocks, name) for name in blocks.__all__]
    return [*ours, GcpCredentials, GcsBucket, LocalFileSystem, SlackWebhook, EmailServerCredentials]


def _gcp(env, made):
    from prefect_gcp import GcpCredentials

    if env.get("GCP_SERVICE_ACCOUNT_JSON"):
        info = json.loads(env["GCP_SERVICE_ACCOUNT_JSON"])
    else:  # read the key file once; the block, not a path on this machine, holds it
        info = json.loads(Path(env["GOOGLE_APPLICATION_CREDENTIALS"]).read_text())
    return GcpCredentials(service_account_info=info, project=env.get("GCP_PROJECT") or info.get("project_id"))


def _cloudinary(env, made):
    from blocks import Cloudinary

    url = urlparse(
        env["BAHELA_CLOUDINARY_URL"]
    )  # cloudinary://<key>:<secret>@<cloud>, Cloudinary's own format
    if url.scheme != "cloudinary" or not (url.username and url.password and url.hostname):
        raise ValueError(
            "BAHELA_CLOUDINARY_URL must look like cloudinary://<api_key>:<api_secret>@<cloud_name>"
        )
    options = {k: v[0] for k, v in parse_qs(url.query).items()}
    return Cloudinary(
        cloud_name=url.hostname,
        api_key=url.username,
        api_secret=SecretStr(url.password),
        expression=env.get("BAHELA_CLOUDINARY_EXPRESSION", "resource_type:image"),
        **({"api_base_url": options["upload_prefix"]} if "upload_prefix" in options else {}),
    )


def _recipients(value: str) -> list[str]:
    return [r.strip() for r in value.split(",") if r.strip()]


def _smtp(env, sender_var, to_var):
    from prefect_email import EmailServerCredentials

    from blocks import SmtpMailer

    credentials = EmailServerCredentials(
        smtp_server=env["SMTP_HOST"],
        smtp_port=int(env["SMTP_PORT"]) if env.get("SMTP_PORT") else None,
        smtp_type=env.get("SMTP_TYPE", "STARTTLS"),
        username=env.get("SMTP_USER") or None,
        password=SecretStr(env.get("SMTP_PASSWORD", "")),
    )
    return SmtpMailer(credentials=credentials, sender=env[sender_var], recipients=_recipients(env[to_var]))


def plan() -> list[Planned]:
    from prefect_gcp import GcsBucket
    from prefect_slack import SlackWebhook

    from blocks import BigQueryWarehouse, IP2LocationDatabase, MongoDB, SendGrid

    def sendgrid(sender_var: str, to_var: str):
        return lambda env, made: SendGrid(
            api_key=SecretStr(env["SENDGRID_API_KEY"]),
            sender=env[sender_var],
            recipients=_recipients(env[to_var]),
        )

    return [
        Planned("gcp", ("GCP_SERVICE_ACCOUNT_JSON",), _gcp, ("GCP_PROJECT",)),
        Planned("gcp", ("GOOGLE_APPLICATION_CREDENTIALS",), _gcp, ("GCP_PROJECT",)),
        Planned(
            "bahela-mongodb",
            ("BAHELA_MONGODB_URI",),
            lambda env, made: MongoDB(connection_string=SecretStr(env["BAHELA_MONGODB_URI"])),
        ),
        Planned(
            "bahela-cloudinary", ("BAHELA_CLOUDINARY_URL",), _cloudinary, ("BAHELA_CLOUDINARY_EXPRESSION",)
        ),
        Planned(
            "bahela-lake",
            ("BAHELA_LAKE_BUCKET",),
            lambda env, made: GcsBucket(
                bucket=env["BAHELA_LAKE_BUCKET"],
                bucket_folder=env.get("BAHELA_LAKE_FOLDER", ""),
                gcp_credentials=made["gcp"],
            ),
            ("BAHELA_LAKE_FOLDER",),
        ),
        Planned(
            "bahela-warehouse",
            ("BIGQUERY_PROJECT",),
            lambda env, made: BigQueryWarehouse(
                gcp_credentials=made["gcp"],
                project=env["BIGQUERY_PROJECT"],
                location=env.get("BIGQUERY_LOCATION", "asia-southeast2"),
            ),
            ("BIGQUERY_LOCATION",),
        ),
        Planned(
            "bahela-mailer",
            ("SENDGRID_API_KEY", "BAHELA_MAIL_FROM", "BAHELA_MAIL_TO"),
            sendgrid("BAHELA_MAIL_FROM", "BAHELA_MAIL_TO"),
        ),
        Planned(
            "bahela-slack",
            ("BAHELA_SLACK_WEBHOOK_URL",),
            lambda env, made: SlackWebhook(url=SecretStr(env["BAHELA_SLACK_WEBHOOK_URL"])),
        ),
        Planned(
            "glamira-mongodb",
            ("GLAMIRA_MONGODB_URI",),
            lambda env, made: MongoDB(connection_string=SecretStr(env["GLAMIRA_MONGODB_URI"])),
        ),
        Planned(
            "glamira-ip2location",
            ("GLAMIRA_IP2LOCATION_BIN",),
            lambda env, made: IP2LocationDatabase(path=env["GLAMIRA_IP2LOCATION_BIN"]),
        ),
        Planned(
            "glamira-lake",
            ("GLAMIRA_LAKE_BUCKET",),
            lambda env, made: GcsBucket(
                bucket=env["GLAMIRA_LAKE_BUCKET"],
                bucket_folder=env.get("GLAMIRA_LAKE_FOLDER", ""),
                gcp_credentials=made["gcp"],
            ),
            ("GLAMIRA_LAKE_FOLDER",),
        ),
        Planned(
            "pipelines-alerts-slack",
            ("ALERTS_SLACK_WEBHOOK_URL",),
            lambda env, made: SlackWebhook(url=SecretStr(env["ALERTS_SLACK_WEBHOOK_URL"])),
        ),
        Planned(
            "pipelines-alerts-mailer",
            ("SMTP_HOST", "ALERTS_MAIL_FROM", "ALERTS_MAIL_TO"),
            lambda env, made: _smtp(env, "ALERTS_MAIL_FROM", "ALERTS_MAIL_TO"),
            ("SMTP_PORT", "SMTP_TYPE", "SMTP_USER", "SMTP_PASSWORD"),
        ),
        Planned(
            "pipelines-alerts-mailer",
            ("SENDGRID_API_KEY", "ALERTS_MAIL_FROM", "ALERTS_MAIL_TO"),
            sendgrid("ALERTS_MAIL_FROM", "ALERTS_MAIL_TO"),
        ),
    ]


@dataclass(frozen=True)
class Outcome:
    name: str
    block_type: str
    status: str  # saved | skipped
    detail: str


def blocks_from_env(env: Mapping[str, str]) -> tuple[list[tuple[str, Block]], list[Outcome]]:
    """The blocks the environment describes (first complete recipe per name wins), and
    what was skipped for want of which variables."""
    made: dict[str, Block] = {}
    skipped: dict[str, Outcome] = {}
    for item in plan():
        if item.name in made:
            continue
        if not item.ready(env):
            missing = ", ".join(v for v in item.needs if not env.get(v))
            skipped.setdefault(item.name, Outcome(item.name, "", "skipped", f"set {missing}"))
            continue
        if any(dep not in made for dep in _dependencies(item.name)):
            skipped[item.name] = Outcome(
                item.name, "", "skipped", "needs the gcp credentials block: set GCP_SERVICE_ACCOUNT_JSON"
            )
            continue
        made[item.name] = item.build(env, made)
        skipped.pop(item.name, None)
    return list(made.items()), list(skipped.values())


def _dependencies(name: str) -> tuple[str, ...]:
    return ("gcp",) if name in ("bahela-lake", "bahela-warehouse", "glamira-lake") else ()


async def register_block_types() -> list[str]:
    names = []
    for block_type in block_types():
        await block_type.register_type_and_schema()
        names.append(block_type.get_block_type_slug())
    return names


async def save_from_env(env: Mapping[str, str]) -> list[Outcome]:
    made, skipped = blocks_from_env(env)
    outcomes = []
    for name, block in made:
        await block.save(name, overwrite=True)
        outcomes.append(Outcome(name, block.get_block_type_slug(), "saved", "from the environment"))
    return outcomes + skipped

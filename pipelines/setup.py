"""`pipelines setup`: register the block types and create every role's block (the table
in `blocks/roles.py`) from environment variables.

Secrets go from the environment straight into Prefect blocks (stored by the server,
`SecretStr` fields never shown); nothing is written to disk and no value is printed.
A role whose variables are not set is skipped and reported with the variables to set.

The same variables point the blocks at local stand-ins for a rehearsal:
`BIGQUERY_API_ENDPOINT`, `SENDGRID_API_HOST`, a `CLOUDINARY_URL` with `upload_prefix`.
GCS has no such block setting: google-cloud-storage reads `STORAGE_EMULATOR_HOST` from
the environment of the process that uses the bucket, so a rehearsal's workers (and
`pipelines check`) need it there; it is not stored.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from prefect.blocks.core import Block
from pydantic import SecretStr, ValidationError

from blocks.roles import ROLES
from pipelines.errors import ConfigurationError

GCP = "gcp"  # the credentials block the lakes and BigQuery warehouses nest
GCP_VARIABLES = "GCP_SERVICE_ACCOUNT_JSON (or GOOGLE_APPLICATION_CREDENTIALS, a key file's path)"


@dataclass(frozen=True)
class Recipe:
    """How one block is made from the environment. A block may have several recipes
    (alternative variables); the first whose `needs` are all set is used."""

    name: str
    needs: tuple[str, ...]  # must all be set
    build: Callable[[Mapping[str, str], dict[str, Block]], Block]
    optional: tuple[str, ...] = ()  # read when set
    after: tuple[str, ...] = ()  # blocks it nests, made by their own recipes first

    def ready(self, env: Mapping[str, str]) -> bool:
        return all(env.get(v) for v in self.needs)

    def reads(self) -> tuple[str, ...]:
        return (*self.needs, *self.optional)


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
    if not isinstance(info, dict):
        raise ValueError("the service account key is not a JSON object")
    return GcpCredentials(service_account_info=info, project=env.get("GCP_PROJECT") or info.get("project_id"))


def _recipients(value: str) -> list[str]:
    return [r.strip() for r in value.split(",") if r.strip()]


def _mongodb(name: str, uri_var: str) -> Recipe:
    from blocks import MongoDB

    return Recipe(name, (uri_var,), lambda env, made: MongoDB(connection_string=SecretStr(env[uri_var])))


def _cloudinary(url_var: str) -> Recipe:
    from blocks import Cloudinary

    def build(env, made):
        expression = env.get("BAHELA_CLOUDINARY_EXPRESSION") or "resource_type:image"
        return Cloudinary.from_url(env[url_var], expression=expression)

    return Recipe("bahela-cloudinary", (url_var,), build, ("BAHELA_CLOUDINARY_EXPRESSION",))


def _lake(name: str, bucket_var: str, folder_var: str) -> Recipe:
    from prefect_gcp import GcsBucket

    return Recipe(
        name,
        (bucket_var,),
        lambda env, made: GcsBucket(
            bucket=env[bucket_var], bucket_folder=env.get(folder_var, ""), gcp_credentials=made[GCP]
        ),
        (folder_var,),
        after=(GCP,),
    )


def _warehouse(name: str) -> Recipe:
    from blocks import BigQueryWarehouse

    def build(env, made):
        endpoint = {"api_endpoint": env["BIGQUERY_API_ENDPOINT"]} if env.get("BIGQUERY_API_ENDPOINT") else {}
        return BigQueryWarehouse(
            gcp_credentials=made[GCP],
            project=env["BIGQUERY_PROJECT"],
            location=env.get("BIGQUERY_LOCATION") or "asia-southeast2",
            **endpoint,
        )

    return Recipe(
        name, ("BIGQUERY_PROJECT",), build, ("BIGQUERY_LOCATION", "BIGQUERY_API_ENDPOINT"), after=(GCP,)
    )


def _sendgrid(name: str, sender_var: str, to_var: str) -> Recipe:
    from blocks import SendGrid

    def build(env, made):
        host = {"api_host": env["SENDGRID_API_HOST"]} if env.get("SENDGRID_API_HOST") else {}
        return SendGrid(
            api_key=SecretStr(env["SENDGRID_API_KEY"]),
            sender=env[sender_var],
            recipients=_recipients(env[to_var]),
            **host,
        )

    return Recipe(name, ("SENDGRID_API_KEY", sender_var, to_var), build, ("SENDGRID_API_HOST",))


def _smtp(name: str, sender_var: str, to_var: str) -> Recipe:
    from prefect_email import EmailServerCredentials

    from blocks import SmtpMailer

    def build(env, made):
        credentials = EmailServerCredentials(
            smtp_server=env["SMTP_HOST"],
            smtp_port=int(env["SMTP_PORT"]) if env.get("SMTP_PORT") else None,
            smtp_type=env.get("SMTP_TYPE") or "STARTTLS",
            username=env.get("SMTP_USER") or None,
            password=SecretStr(env.get("SMTP_PASSWORD", "")),
        )
        return SmtpMailer(
            credentials=credentials, sender=env[sender_var], recipients=_recipients(env[to_var])
        )

    return Recipe(
        name,
        ("SMTP_HOST", sender_var, to_var),
        build,
        ("SMTP_PORT", "SMTP_TYPE", "SMTP_USER", "SMTP_PASSWORD"),
    )


def _slack(name: str, url_var: str) -> Recipe:
    from prefect_slack import SlackWebhook

    return Recipe(name, (url_var,), lambda env, made: SlackWebhook(url=SecretStr(env[url_var])))


def _crawl(env, made):
    from blocks import ProductCrawl

    agent = env.get("GLAMIRA_CRAWL_USER_AGENT")
    return ProductCrawl(**({"user_agent": agent} if agent else {}))


def recipes() -> list[Recipe]:
    """Every block `pipelines setup` can make, in the order they are made (the nested
    credentials first). The roles' variables in `blocks/roles.py` say the same."""
    from blocks import IP2LocationDatabase

    return [
        Recipe(GCP, ("GCP_SERVICE_ACCOUNT_JSON",), _gcp, ("GCP_PROJECT",)),
        Recipe(GCP, ("GOOGLE_APPLICATION_CREDENTIALS",), _gcp, ("GCP_PROJECT",)),
        _mongodb("bahela-mongodb", "BAHELA_MONGODB_URI"),
        _cloudinary("BAHELA_CLOUDINARY_URL"),
        _cloudinary("CLOUDINARY_URL"),  # the variable Cloudinary's own tools read
        _lake("bahela-lake", "BAHELA_LAKE_BUCKET", "BAHELA_LAKE_FOLDER"),
        _warehouse("bahela-warehouse"),
        _sendgrid("bahela-mailer", "BAHELA_MAIL_FROM", "BAHELA_MAIL_TO"),
        _slack("bahela-slack", "BAHELA_SLACK_WEBHOOK_URL"),
        _mongodb("glamira-mongodb", "GLAMIRA_MONGODB_URI"),
        Recipe(
            "glamira-ip2location",
            ("GLAMIRA_IP2LOCATION_BIN",),
            lambda env, made: IP2LocationDatabase(path=env["GLAMIRA_IP2LOCATION_BIN"]),
        ),
        Recipe("glamira-crawl", (), _crawl, ("GLAMIRA_CRAWL_USER_AGENT",)),
        _lake("glamira-lake", "GLAMIRA_LAKE_BUCKET", "GLAMIRA_LAKE_FOLDER"),
        _warehouse("glamira-warehouse"),
        _warehouse("marts-warehouse"),
        _slack("pipelines-alerts-slack", "ALERTS_SLACK_WEBHOOK_URL"),
        _smtp("pipelines-alerts-mailer", "ALERTS_MAIL_FROM", "ALERTS_MAIL_TO"),
        _sendgrid("pipelines-alerts-mailer", "ALERTS_MAIL_FROM", "ALERTS_MAIL_TO"),
    ]


@dataclass(frozen=True)
class Outcome:
    name: str
    status: str  # saved | skipped | invalid
    detail: str  # the variables used, or those to set; never a value
    block: Block | None = None

    @property
    def block_type(self) -> str:
        return self.block.get_block_type_slug() if self.block else ""


def blocks_from_env(env: Mapping[str, str]) -> list[Outcome]:
    """What the environment makes of each block: the gcp credentials, then every role
    in the table's order."""
    all_recipes = recipes()
    made: dict[str, Block] = {}
    settled: dict[str, Outcome] = {}
    for recipe in all_recipes:
        if recipe.name in settled or not recipe.ready(env):
            continue
        if any(dependency not in made for dependency in recipe.after):
            settled[recipe.name] = Outcome(recipe.name, "skipped", f"also set {GCP_VARIABLES}")
            continue
        try:
            block = recipe.build(env, made)
        except (ValueError, OSError, ConfigurationError) as exc:  # an unparsable value or key file
            settled[recipe.name] = Outcome(recipe.name, "invalid", _redacted(_reason(exc), recipe, env))
            continue
        made[recipe.name] = block
        used = [v for v in recipe.reads() if env.get(v)]
        detail = f"from {', '.join(used)}" if used else "defaults (no variable set)"
        settled[recipe.name] = Outcome(recipe.name, "saved", detail, block)
    return [
        settled.get(name) or Outcome(name, "skipped", _to_set(name, env, all_recipes))
        for name in (GCP, *(role.block for role in ROLES))
    ]


def _to_set(name: str, env: Mapping[str, str], all_recipes: list[Recipe]) -> str:
    variables = GCP_VARIABLES if name == GCP else next(r.variables for r in ROLES if r.block == name)
    closest = min(
        (r for r in all_recipes if r.name == name), key=lambda r: sum(not env.get(v) for v in r.needs)
    )
    partly = [v for v in closest.needs if env.get(v)]
    missing = [v for v in closest.needs if not env.get(v)]
    if partly:
        return f"set {', '.join(missing)} too (needs {variables})"
    return f"set {variables}"


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):  # its default text quotes the input, secrets included
        return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'value'}: {e['msg']}" for e in exc.errors())
    return f"{type(exc).__name__}: {exc}"


def _redacted(text: str, recipe: Recipe, env: Mapping[str, str]) -> str:
    """The message with the values of the variables the recipe read blanked out: a
    parser's error may quote the value it choked on."""
    for variable in (*recipe.reads(), *(v for r in recipes() if r.name in recipe.after for v in r.reads())):
        value = env.get(variable) or ""
        if len(value) >= 4:
            text = text.replace(value, f"<{variable}>")
    return f"{text} (check {', '.join(recipe.needs)})"


async def register_block_types() -> list[str]:
    names = []
    for block_type in block_types():
        await block_type.register_type_and_schema()
        names.append(block_type.get_block_type_slug())
    return names


async def save_from_env(env: Mapping[str, str]) -> list[Outcome]:
    outcomes = blocks_from_env(env)
    for outcome in outcomes:
        if outcome.block is not None:
            await outcome.block.save(outcome.name, overwrite=True)
    return outcomes


def render(outcomes: list[Outcome]) -> str:
    """One line per block: saved / skipped / invalid, its type, and the variables used or
    to set (names only)."""
    width = max(len(o.name) for o in outcomes)
    return "\n".join(
        f"  {o.status:<8} {o.name:<{width}}  {o.block_type or '-':<30} {o.detail}" for o in outcomes
    )

"""`pipelines setup`'s recipes agree with the table of roles (`blocks/roles.py`), and an
environment makes the blocks it describes. No server: the blocks are built, not saved."""

from __future__ import annotations

import json
import re

import pytest

from blocks.resolve import KINDS
from blocks.roles import ROLES, Role
from pipelines.setup import GCP, blocks_from_env, recipes, render
from tests.support import gcp

VARIABLE = re.compile(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b")

SECRETS = {
    "BAHELA_MONGODB_URI": "mongodb://reader:mongo-pw-123@db.bahela.test/?replicaSet=rs0",
    "GLAMIRA_MONGODB_URI": "mongodb+srv://etl:glamira-pw-456@cluster0.glamira.test",
    "SENDGRID_API_KEY": "SG.sendgrid-key-789",
    "BAHELA_SLACK_WEBHOOK_URL": "https://hooks.slack.test/services/T1/B1/slack-secret-012",
    "ALERTS_SLACK_WEBHOOK_URL": "https://hooks.slack.test/services/T1/B2/slack-secret-345",
    "SMTP_PASSWORD": "smtp-secret-678",
}
CLOUDINARY_SECRET = "cloud-secret-901"


def full_environment() -> dict[str, str]:
    return {
        **SECRETS,
        "GCP_SERVICE_ACCOUNT_JSON": json.dumps(gcp.service_account_info("http://127.0.0.1:9/token")),
        "BAHELA_CLOUDINARY_URL": f"cloudinary://key-42:{CLOUDINARY_SECRET}@bahela?upload_prefix=http://127.0.0.1:8001",
        "BAHELA_LAKE_BUCKET": "bahela-lake",
        "GLAMIRA_LAKE_BUCKET": "glamira-lake",
        "BIGQUERY_PROJECT": "pipelines-prod",
        "BIGQUERY_LOCATION": "US",
        "BIGQUERY_API_ENDPOINT": "http://127.0.0.1:8002",
        "SENDGRID_API_HOST": "http://127.0.0.1:8003",
        "BAHELA_MAIL_FROM": "Bahela Reports <reports@bahela.test>",
        "BAHELA_MAIL_TO": "owner@bahela.test",
        "GLAMIRA_IP2LOCATION_BIN": "/data/IP2LOCATION-LITE-DB11.IPV6.BIN",
        "GLAMIRA_CRAWL_USER_AGENT": "GlamiraCatalogBot/2.0 (+https://glamira.test/bot)",
        "ALERTS_MAIL_FROM": "alerts@pipelines.test",
        "ALERTS_MAIL_TO": "oncall@pipelines.test",
        "SMTP_HOST": "smtp.pipelines.test",
        "SMTP_PORT": "2525",
        "SMTP_TYPE": "INSECURE",
        "SMTP_USER": "pipelines",
    }


def named_in_table(role: Role) -> set[str]:
    return set(VARIABLE.findall(role.variables))


def by_name(outcomes):
    return {o.name: o for o in outcomes}


def test_every_role_has_a_recipe_and_every_recipe_fills_a_role_or_the_credentials():
    assert {r.name for r in recipes()} == {role.block for role in ROLES} | {GCP}


@pytest.mark.parametrize("role", ROLES, ids=lambda role: role.block)
def test_a_roles_recipes_read_the_variables_the_table_names(role):
    own = [r for r in recipes() if r.name == role.block]
    credentials = next(r for r in recipes() if r.name == GCP)
    required = {v for r in own for v in r.needs} | {v for r in own if r.after for v in credentials.needs}
    read = {v for r in own for v in r.reads()} | required

    assert required <= named_in_table(role), "setup needs a variable the table does not tell people to set"
    assert named_in_table(role) <= read, "the table names a variable setup never reads"


def test_a_full_environment_makes_every_roles_block_of_a_type_that_fills_the_role():
    outcomes = by_name(blocks_from_env(full_environment()))

    for role in ROLES:
        outcome = outcomes[role.block]
        assert outcome.status == "saved", (role.block, outcome.detail)
        assert isinstance(outcome.block, KINDS[role.kind]), role.block


def test_the_stand_in_endpoints_reach_the_blocks():
    outcomes = by_name(blocks_from_env(full_environment()))

    for name in ("bahela-warehouse", "glamira-warehouse", "marts-warehouse"):
        assert outcomes[name].block.api_endpoint == "http://127.0.0.1:8002"
        assert outcomes[name].block.project == "pipelines-prod"
    assert outcomes["bahela-mailer"].block.api_host == "http://127.0.0.1:8003"
    assert outcomes["bahela-cloudinary"].block.api_base_url == "http://127.0.0.1:8001"
    assert outcomes["glamira-crawl"].block.user_agent.startswith("GlamiraCatalogBot/2.0")
    # SMTP comes first for the alerts: both are set, and the first complete recipe wins
    assert type(outcomes["pipelines-alerts-mailer"].block).__name__ == "SmtpMailer"


def test_an_empty_environment_saves_only_the_crawl_settings_and_says_what_to_set():
    outcomes = by_name(blocks_from_env({}))

    assert [name for name, o in outcomes.items() if o.status == "saved"] == ["glamira-crawl"]
    assert outcomes["glamira-crawl"].block.download_delay > 0, "the polite defaults"
    for role in ROLES:
        if role.block != "glamira-crawl":
            assert outcomes[role.block].detail == f"set {role.variables}"


def test_cloudinarys_own_variable_is_accepted_and_the_bahela_one_wins_when_both_are_set():
    alone = by_name(blocks_from_env({"CLOUDINARY_URL": "cloudinary://key-7:s3cret-7@shared"}))
    both = by_name(
        blocks_from_env(
            {
                "CLOUDINARY_URL": "cloudinary://key-7:s3cret-7@shared",
                "BAHELA_CLOUDINARY_URL": "cloudinary://key-8:s3cret-8@bahela",
            }
        )
    )

    assert (alone["bahela-cloudinary"].block.cloud_name, alone["bahela-cloudinary"].detail) == (
        "shared",
        "from CLOUDINARY_URL",
    )
    assert both["bahela-cloudinary"].block.cloud_name == "bahela"


def test_a_url_that_is_not_cloudinarys_is_reported_without_its_secret():
    outcome = by_name(blocks_from_env({"BAHELA_CLOUDINARY_URL": "https://key-9:leaked-secret@bahela"}))[
        "bahela-cloudinary"
    ]

    assert outcome.status == "invalid" and outcome.block is None
    assert "cloudinary://" in outcome.detail and "BAHELA_CLOUDINARY_URL" in outcome.detail
    assert "leaked-secret" not in outcome.detail


def test_a_bucket_without_credentials_is_skipped_naming_the_credentials_variable():
    outcome = by_name(blocks_from_env({"BAHELA_LAKE_BUCKET": "bahela-lake"}))["bahela-lake"]

    assert outcome.status == "skipped" and "GCP_SERVICE_ACCOUNT_JSON" in outcome.detail


def test_a_half_configured_mailer_names_the_variable_still_missing():
    outcome = by_name(blocks_from_env({"SENDGRID_API_KEY": "SG.x", "BAHELA_MAIL_FROM": "a@b.test"}))[
        "bahela-mailer"
    ]

    assert outcome.status == "skipped" and outcome.detail.startswith("set BAHELA_MAIL_TO too")


def test_the_printed_outcomes_hold_no_secret():
    printed = render(blocks_from_env(full_environment()))

    for secret in [*SECRETS.values(), CLOUDINARY_SECRET, "PRIVATE KEY"]:
        assert secret not in printed
    assert "saved    bahela-mongodb" in printed

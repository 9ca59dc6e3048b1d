"""`pipelines setup` against a real Prefect server, from the variables a rehearsal exports:
every role's block saved and pointing at the local stand-ins, no secret printed, block
types registered, work pools created.

The `rehearsal` and `setup_run` fixtures are shared with test_check.py, which proves the
saved blocks reach their stand-ins."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from dataclasses import dataclass

import httpx
import pytest

from blocks.resolve import KINDS
from blocks.roles import ROLES
from tests.support import gcp
from tests.support.http_servers import FakeCloudinary, RecordingServer, Reply
from tests.support.processes import ROOT
from tests.support.smtp_server import PASSWORD, USER, SmtpServer

pytestmark = pytest.mark.integration

SECRETS = {
    "cloudinary": "cloud-secret-456",
    "sendgrid": "SG.local-key-789",
    "bahela-slack": "slack-secret-012",
    "alerts-slack": "slack-secret-345",
    "smtp": PASSWORD,
}


@dataclass
class Rehearsal:
    """The environment `pipelines setup` reads, and the stand-ins it points at."""

    env: dict[str, str]
    cloudinary: FakeCloudinary
    sendgrid: RecordingServer
    smtp: SmtpServer


@pytest.fixture(scope="module")
def rehearsal(
    prefect_server, mongo_url, gcs_url, bigquery_url, google_token_uri, gcp_credentials, tmp_path_factory
):
    """Every role's variables, each pointing at a local stand-in. STORAGE_EMULATOR_HOST is
    already in this process's environment (the gcs_url fixture), as a rehearsal's workers
    would have it."""
    from demo.ip2location_bin import build_demo_bin

    suffix = uuid.uuid4().hex[:6]
    lakes = {"BAHELA_LAKE_BUCKET": f"bahela-lake-{suffix}", "GLAMIRA_LAKE_BUCKET": f"glamira-lake-{suffix}"}
    storage = gcp_credentials.get_cloud_storage_client()
    for bucket in lakes.values():
        storage.create_bucket(bucket)
    ip2location_bin = build_demo_bin(tmp_path_factory.mktemp("ip2location") / "IP2LOCATION-DEMO-DB11.BIN")
    scopes = Reply(200, {"scopes": ["mail.send", "user.profile.read"]})
    with (
        FakeCloudinary("bahela", "key-42", SECRETS["cloudinary"], []) as cloudinary,
        RecordingServer(scopes) as sendgrid,
        SmtpServer() as smtp,
    ):
        env = {
            **os.environ,
            **lakes,
            "PREFECT_API_URL": prefect_server,
            "GCP_SERVICE_ACCOUNT_JSON": json.dumps(gcp.service_account_info(google_token_uri)),
            "BAHELA_MONGODB_URI": mongo_url,
            "GLAMIRA_MONGODB_URI": mongo_url,
            "CLOUDINARY_URL": f"cloudinary://key-42:{SECRETS['cloudinary']}@bahela?upload_prefix={cloudinary.url}",
            "BIGQUERY_PROJECT": gcp.PROJECT,
            "BIGQUERY_LOCATION": "US",
            "BIGQUERY_API_ENDPOINT": bigquery_url,
            "SENDGRID_API_KEY": SECRETS["sendgrid"],
            "SENDGRID_API_HOST": sendgrid.url,
            "BAHELA_MAIL_FROM": "Bahela Reports <reports@bahela.test>",
            "BAHELA_MAIL_TO": "owner@bahela.test, ops@bahela.test",
            # never requested: the check looks at the URL's form only
            "BAHELA_SLACK_WEBHOOK_URL": f"https://hooks.slack.test/services/T1/B1/{SECRETS['bahela-slack']}",
            "ALERTS_SLACK_WEBHOOK_URL": f"https://hooks.slack.test/services/T1/B2/{SECRETS['alerts-slack']}",
            "GLAMIRA_IP2LOCATION_BIN": str(ip2location_bin),
            "GLAMIRA_CRAWL_USER_AGENT": "GlamiraCatalogBot/2.0 (+https://glamira.test/bot)",
            "ALERTS_MAIL_FROM": "alerts@pipelines.test",
            "ALERTS_MAIL_TO": "oncall@pipelines.test",
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(smtp.port),
            "SMTP_TYPE": "INSECURE",
            "SMTP_USER": USER,
            "SMTP_PASSWORD": SECRETS["smtp"],
        }
        env.pop("BAHELA_CLOUDINARY_URL", None)
        yield Rehearsal(env, cloudinary, sendgrid, smtp)


@pytest.fixture(scope="module")
def setup_run(rehearsal, prefect_server):
    done = subprocess.run(
        [str(ROOT / ".venv/bin/pipelines"), "setup", "--work-pools"],
        env=rehearsal.env,
        capture_output=True,
        text=True,
        timeout=180,
        cwd=ROOT,
    )
    yield done
    names = {"gcp", *(role.block for role in ROLES)}
    documents = httpx.post(f"{prefect_server}/block_documents/filter", json={}, timeout=30).json()
    for document in documents:  # leave the shared server as the other tests expect it
        if document["name"] in names:
            httpx.delete(f"{prefect_server}/block_documents/{document['id']}", timeout=30)


def saved_documents(prefect_server) -> dict[str, dict]:
    found = httpx.post(f"{prefect_server}/block_documents/filter", json={"include_secrets": True}, timeout=30)
    return {d["name"]: d for d in found.json()}


def test_setup_saves_a_block_of_a_fitting_type_for_every_role(setup_run, prefect_server):
    assert setup_run.returncode == 0, setup_run.stderr
    documents = saved_documents(prefect_server)

    for role in ROLES:
        fitting = {block_type.get_block_type_slug() for block_type in KINDS[role.kind]}
        assert documents[role.block]["block_type"]["slug"] in fitting, role.block


def test_the_saved_blocks_point_at_the_stand_ins(setup_run, rehearsal, prefect_server):
    data = {name: document["data"] for name, document in saved_documents(prefect_server).items()}
    env = rehearsal.env

    assert data["bahela-mongodb"]["connection_string"] == env["BAHELA_MONGODB_URI"]
    cloudinary = data["bahela-cloudinary"]
    assert (cloudinary["cloud_name"], cloudinary["api_key"], cloudinary["api_secret"]) == (
        "bahela",
        "key-42",
        SECRETS["cloudinary"],
    )
    assert cloudinary["api_base_url"] == rehearsal.cloudinary.url
    assert data["bahela-lake"]["bucket"] == env["BAHELA_LAKE_BUCKET"]
    assert data["glamira-lake"]["bucket"] == env["GLAMIRA_LAKE_BUCKET"]
    for name in ("bahela-warehouse", "glamira-warehouse", "marts-warehouse"):
        assert data[name]["api_endpoint"] == env["BIGQUERY_API_ENDPOINT"], name
        assert data[name]["project"] == gcp.PROJECT, name
    assert data["bahela-mailer"]["api_host"] == rehearsal.sendgrid.url
    assert data["bahela-mailer"]["recipients"] == ["owner@bahela.test", "ops@bahela.test"]
    assert data["glamira-crawl"]["user_agent"] == env["GLAMIRA_CRAWL_USER_AGENT"]
    assert data["glamira-ip2location"]["path"] == env["GLAMIRA_IP2LOCATION_BIN"]
    assert data["pipelines-alerts-mailer"]["recipients"] == ["oncall@pipelines.test"]


def test_setup_prints_every_role_as_saved_and_no_secret(setup_run):
    printed = setup_run.stdout + setup_run.stderr

    for role in ROLES:
        assert f"saved    {role.block} " in setup_run.stdout, role.block
    for secret in [*SECRETS.values(), "PRIVATE KEY"]:
        assert secret not in printed


def test_setup_registers_block_types_and_creates_the_work_pools(setup_run, prefect_server):
    slugs = {
        t["slug"] for t in httpx.post(f"{prefect_server}/block_types/filter", json={}, timeout=30).json()
    }
    pools = {
        p["name"]: p["type"]
        for p in httpx.post(f"{prefect_server}/work_pools/filter", json={}, timeout=30).json()
    }

    assert {
        "pipelines-mongodb",
        "pipelines-cloudinary",
        "pipelines-bigquery-warehouse",
        "pipelines-sendgrid",
        "pipelines-smtp-mailer",
        "pipelines-outbox",
        "pipelines-product-crawl",
        "gcs-bucket",
        "slack-incoming-webhook",
    } <= slugs
    assert pools["pipelines-process"] == "process" and pools["pipelines-docker"] == "docker"

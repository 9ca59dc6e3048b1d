"""`pipelines setup` against a real Prefect server: block types registered, production
blocks created from environment variables, no secret printed, work pools created."""

from __future__ import annotations

import json
import os
import subprocess

import httpx
import pytest

from tests.support import gcp
from tests.support.processes import ROOT

pytestmark = pytest.mark.integration

SECRETS = {
    "BAHELA_MONGODB_URI": "mongodb://reader:mongo-pw-123@127.0.0.1:27017/?directConnection=true",
    "BAHELA_CLOUDINARY_URL": "cloudinary://key-42:cloud-secret-456@bahela",
    "SENDGRID_API_KEY": "SG.local-key-789",
    "BAHELA_SLACK_WEBHOOK_URL": "http://127.0.0.1:9/services/T/B/slack-secret-012",
}


@pytest.fixture(scope="module")
def setup_run(prefect_server, google_token_uri):
    env = {
        **os.environ,
        **SECRETS,
        "PREFECT_API_URL": prefect_server,
        "GCP_SERVICE_ACCOUNT_JSON": json.dumps(gcp.service_account_info(google_token_uri)),
        "BAHELA_LAKE_BUCKET": "bahela-lake",
        "BIGQUERY_PROJECT": "bahela-prod",
        "BAHELA_MAIL_FROM": "Bahela Reports <reports@bahela.test>",
        "BAHELA_MAIL_TO": "owner@bahela.test, ops@bahela.test",
    }
    for var in ("ALERTS_SLACK_WEBHOOK_URL", "SMTP_HOST", "ALERTS_MAIL_FROM", "ALERTS_MAIL_TO"):
        env.pop(var, None)
    done = subprocess.run(
        [str(ROOT / ".venv/bin/pipelines"), "setup", "--work-pools"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        cwd=ROOT,
    )
    yield done
    names = [
        "gcp",
        "bahela-mongodb",
        "bahela-cloudinary",
        "bahela-lake",
        "bahela-warehouse",
        "bahela-mailer",
        "bahela-slack",
    ]
    documents = httpx.post(f"{prefect_server}/block_documents/filter", json={}, timeout=30).json()
    for document in documents:  # leave the shared server as the other tests expect it
        if document["name"] in names:
            httpx.delete(f"{prefect_server}/block_documents/{document['id']}", timeout=30)


def test_setup_saves_the_blocks_the_environment_describes(setup_run, prefect_server):
    assert setup_run.returncode == 0, setup_run.stderr
    documents = {
        d["name"]: d
        for d in httpx.post(
            f"{prefect_server}/block_documents/filter", json={"include_secrets": True}, timeout=30
        ).json()
    }
    assert documents["bahela-mongodb"]["block_type"]["slug"] == "pipelines-mongodb"
    assert documents["bahela-mongodb"]["data"]["connection_string"] == SECRETS["BAHELA_MONGODB_URI"]
    cloudinary = documents["bahela-cloudinary"]["data"]
    assert (cloudinary["cloud_name"], cloudinary["api_key"], cloudinary["api_secret"]) == (
        "bahela",
        "key-42",
        "cloud-secret-456",
    )
    assert documents["bahela-mailer"]["data"]["recipients"] == ["owner@bahela.test", "ops@bahela.test"]
    assert documents["bahela-lake"]["block_type"]["slug"] == "gcs-bucket"
    assert documents["bahela-warehouse"]["data"]["project"] == "bahela-prod"
    assert "skipped  pipelines-alerts-slack" in setup_run.stdout


def test_setup_prints_no_secret(setup_run):
    printed = setup_run.stdout + setup_run.stderr
    for secret in ("mongo-pw-123", "cloud-secret-456", "SG.local-key-789", "slack-secret-012", "PRIVATE KEY"):
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
        "gcs-bucket",
        "slack-incoming-webhook",
    } <= slugs
    assert pools["pipelines-process"] == "process" and pools["pipelines-docker"] == "docker"

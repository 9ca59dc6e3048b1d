"""`pipelines check`, the real CLI in a subprocess, against the blocks `pipelines setup`
saved from a rehearsal's variables (test_setup.py's fixtures): every role reachable, no
secret printed, and a non-zero exit naming the role when a block is missing or what it
points at does not answer. Then the per-block checks that need no Prefect server."""

from __future__ import annotations

import socket
import subprocess

import httpx
import pytest
from prefect.filesystems import LocalFileSystem
from prefect_slack import SlackWebhook
from pydantic import SecretStr

from blocks import CloudinaryExport, DuckDBWarehouse, IP2LocationDatabase, MongoDB, MongoDump, Outbox
from blocks.roles import BY_BLOCK, ROLES
from pipelines.check import check_block, examine, redact
from pipelines.errors import SourceUnavailable
from tests.integration import test_setup
from tests.integration.test_setup import SECRETS
from tests.support.processes import ROOT, free_port

pytestmark = pytest.mark.integration

CLOSED_PORT_PASSWORD = "mongo-pw-closed-321"

# the rehearsal's stand-ins and `pipelines setup` run, made again for this module
rehearsal = test_setup.rehearsal
setup_run = test_setup.setup_run


def run_check(rehearsal) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(ROOT / ".venv/bin/pipelines"), "check", "--timeout", "20"],
        env=rehearsal.env,
        capture_output=True,
        text=True,
        timeout=180,
        cwd=ROOT,
    )


def line_of(output: str, role: str) -> str:
    return next(line for line in output.splitlines() if line.startswith(f"{role} "))


@pytest.fixture(scope="module")
def passing_check(setup_run, rehearsal):
    assert setup_run.returncode == 0, setup_run.stderr
    return run_check(rehearsal)


def block_document(prefect_server, name: str) -> dict:
    found = httpx.post(
        f"{prefect_server}/block_documents/filter",
        json={"block_documents": {"name": {"any_": [name]}}, "include_secrets": True},
        timeout=30,
    ).json()
    return found[0]


@pytest.fixture(scope="module")
def failing_check(passing_check, rehearsal, prefect_server):
    """One run with two faults: glamira-ip2location deleted, and bahela-mongodb pointed at a
    closed port (with a password in its URI, and a short server selection timeout). Left
    so: the in-process tests below need no server."""
    removed = block_document(prefect_server, "glamira-ip2location")
    mongodb = block_document(prefect_server, "bahela-mongodb")
    httpx.delete(f"{prefect_server}/block_documents/{removed['id']}", timeout=30).raise_for_status()
    closed = f"mongodb://reader:{CLOSED_PORT_PASSWORD}@127.0.0.1:{free_port()}/?directConnection=true"
    broken = {**mongodb["data"], "connection_string": closed, "server_selection_timeout_ms": 300}
    httpx.patch(
        f"{prefect_server}/block_documents/{mongodb['id']}", json={"data": broken}, timeout=30
    ).raise_for_status()
    return run_check(rehearsal)  # setup_run's teardown removes every role's block afterwards


def test_check_passes_with_every_role_reachable(passing_check):
    assert passing_check.returncode == 0, passing_check.stdout + passing_check.stderr
    for role in ROLES:
        line = line_of(passing_check.stdout, role.block)
        assert "  yes: " in line, line
    assert f"All {len(ROLES)} roles are ready." in passing_check.stdout
    assert "BigQuery project test-proj (US)" in line_of(passing_check.stdout, "marts-warehouse")


def test_check_prints_no_secret(passing_check, failing_check):
    printed = "".join(run.stdout + run.stderr for run in (passing_check, failing_check))

    for secret in [*SECRETS.values(), CLOSED_PORT_PASSWORD, "/services/T1/", "PRIVATE KEY"]:
        assert secret not in printed


def test_check_asks_the_stand_ins_without_sending_anything(passing_check, rehearsal):
    searches = [r for r in rehearsal.cloudinary.requests if r.path.endswith("/resources/search")]
    scopes = [r for r in rehearsal.sendgrid.requests if r.path == "/v3/scopes"]

    assert searches and all(r.json()["max_results"] == 1 for r in searches)
    assert scopes and scopes[0].headers["Authorization"] == f"Bearer {SECRETS['sendgrid']}"
    assert all(r.method == "GET" for r in rehearsal.sendgrid.requests), "no mail was sent"
    assert rehearsal.smtp.inbox.messages == []


def test_check_fails_naming_a_role_without_a_saved_block(failing_check):
    assert failing_check.returncode == 1
    line = line_of(failing_check.stdout, "glamira-ip2location")
    assert "missing" in line
    assert "glamira-ip2location (Glamira's IP2Location BIN): missing: set GLAMIRA_IP2LOCATION_BIN" in (
        failing_check.stdout
    )


def test_check_fails_naming_a_role_whose_service_does_not_answer(failing_check):
    assert failing_check.returncode == 1
    assert "  NO" in line_of(failing_check.stdout, "bahela-mongodb")
    assert (
        "bahela-mongodb (Bahela's booth sessions (MongoDB)): NO: MongoDB at 127.0.0.1:"
        in failing_check.stdout
    )
    assert "is unreachable" in failing_check.stdout and "connection_string" in failing_check.stdout
    assert "roles are not ready: bahela-mongodb, glamira-ip2location" in failing_check.stdout


# -- the checks of single blocks, in this process ----------------------------------------


@pytest.mark.anyio
async def test_a_service_that_never_answers_is_reported_at_the_timeout():
    # given: a port that accepts connections and never speaks MongoDB, and a patient block
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        block = MongoDB(
            connection_string=SecretStr(f"mongodb://127.0.0.1:{port}/?directConnection=true"),
            server_selection_timeout_ms=60_000,
        )

        result = await examine(BY_BLOCK["glamira-mongodb"], block, timeout=1)

    assert result.failed and result.detail == f"MongoDB at 127.0.0.1:{port} gave no answer within 1 s"


@pytest.mark.anyio
async def test_a_slack_url_is_judged_by_its_form_alone():
    good = SlackWebhook(url=SecretStr("https://hooks.slack.com/services/T1/B1/hook-secret"))
    plain_http = SlackWebhook(url=SecretStr("http://hooks.slack.com/services/T1/B1/hook-secret"))

    said = await check_block(good)
    with pytest.raises(SourceUnavailable, match="url of the Slack webhook block") as refused:
        await check_block(plain_http)

    assert "hooks.slack.com" in said and "hook-secret" not in said + str(refused.value)


def test_a_message_quoting_a_blocks_secret_is_blanked_out():
    block = SlackWebhook(url=SecretStr("https://hooks.slack.com/services/T1/B1/hook-secret"))

    shown = redact(
        "posting to https://hooks.slack.com/services/T1/B1/hook-secret failed; path /services/T1/B1/hook-secret",
        block,
    )

    assert "hook-secret" not in shown and "<secret>" in shown


def test_a_service_accounts_key_is_blanked_out_and_its_project_left_to_read(gcp_credentials):
    key = gcp_credentials.service_account_info.get_secret_value()["private_key"]

    shown = redact(f"project test-proj refused key {key}", gcp_credentials)

    assert shown == "project test-proj refused key <secret>"


@pytest.mark.anyio
async def test_the_embedded_defaults_check_their_folders_and_files(tmp_path):
    (tmp_path / "mongodump" / "booth_senopati").mkdir(parents=True)
    (tmp_path / "cloudinary").mkdir()
    (tmp_path / "cloudinary" / "search-0001.json").write_text('{"total_count": 0, "resources": []}')

    assert "1 databases (booth_senopati)" in await check_block(MongoDump(path=str(tmp_path / "mongodump")))
    assert "1 saved pages" in await check_block(CloudinaryExport(path=str(tmp_path / "cloudinary")))
    assert "does not exist yet" in await check_block(DuckDBWarehouse(path=str(tmp_path / "w.duckdb")))
    assert "does not exist yet" in await check_block(Outbox(path=str(tmp_path / "outbox")))
    assert "does not exist yet" in await check_block(LocalFileSystem(basepath=str(tmp_path / "lake")))


@pytest.mark.anyio
async def test_embedded_defaults_that_cannot_work_name_the_setting_to_fix(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "not.duckdb").write_text("not a database " * 100)
    (tmp_path / "not.BIN").write_text("not a BIN " * 10)
    broken = [
        (MongoDump(path=str(tmp_path / "empty")), "path"),
        (DuckDBWarehouse(path=str(tmp_path / "not.duckdb")), "path of the DuckDB warehouse block"),
        (IP2LocationDatabase(path=str(tmp_path / "not.BIN")), "path of the IP2Location block"),
        (Outbox(path=str(tmp_path / "not.duckdb")), "path of the Outbox block"),
    ]

    for block, setting in broken:
        with pytest.raises(SourceUnavailable, match=setting):
            await check_block(block)

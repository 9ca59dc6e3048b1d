"""A production rehearsal: the whole system configured exactly as the README tells a user
(`pipelines setup --work-pools` from environment variables, `pipelines check`,
`prefect deploy`, a worker), pointed at local stand-ins instead of the cloud:

- MongoDB: a mongoeco wire-protocol server (booth databases, `glamira.summary`, and the
  `glamira.locations` the run upserts);
- GCS: fake-gcs-server (both lakes); BigQuery: the local-bigquery emulator;
- Cloudinary, SendGrid, Slack: HTTP servers speaking their APIs;
- the Glamira shops: an HTTP server serving the sample catalog, where the events' product
  URLs point, so the crawl fetches real URLs with no rewriting.

Then bahela-daily, bahela-weekly, glamira-daily (whose landing events trigger
glamira-load into the emulator) and warehouse-marts run through their deployments, in
the production profile, and everything they should produce is found where it should be,
and nothing under PIPELINES_HOME.

Which pool runs what: glamira-load runs through the docker pool, each triggered load in a
container of the image `prefect deploy` built on the real engine (podman,
tests/support/containers.py; the registry push is the one stand-in). The other four run
through the process pool: the engine could run them too, but each container run costs a
container start on this 2-core machine, and the suite has a time budget; the image, the
pool and the production profile they would use are the ones glamira-load proves.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
from datetime import date, timedelta

import httpx
import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery, storage
from pymongo import MongoClient

from demo import bahela, glamira
from demo.catalog_server import CatalogServer
from demo.ip2location_bin import build_demo_bin
from tests.support import containers, gcp, saved_blocks
from tests.support.docker_engine import PushStandIn
from tests.support.http_servers import FakeCloudinary, FakeSendGrid, RecordingServer, Reply
from tests.support.processes import ROOT, SERVICES_PYTHON, free_port, http_ready, start, tcp_ready

pytestmark = pytest.mark.integration

DAY = date(2026, 11, 22)  # a Sunday: the weekly report's week ends on it
# the last days of the week: enough for the weekly report's trends (the forecast needs
# weeks of history, which test_bahela_weekly_flow.py covers), and each day loaded into
# the emulator costs seconds
WEEK = [DAY - timedelta(days=n) for n in range(2, -1, -1)]
PIPELINES = str(ROOT / ".venv" / "bin" / "pipelines")
PREFECT = str(ROOT / ".venv" / "bin" / "prefect")
GLAMIRA_EVENTS = 1_500
PRODUCTS = 40
CLOUD, API_KEY, API_SECRET = "bahela-rehearsal", "rehearsal-key", "rehearsal-secret-value"
SENDGRID_KEY = "SG.rehearsal-secret-key"
SLACK_PATH = "/services/T000/B000/rehearsal-secret-path"
DEPLOYMENTS = [
    "bahela-daily/local",
    "bahela-weekly/local",
    "glamira-daily/local",
    "glamira-load/docker",
    "warehouse-marts/local",
]
IMAGE = f"{containers.TEST_REGISTRY}/pipelines/pipelines"  # PIPELINES_IMAGE of the deploy


def run(args: list[str], env: dict, timeout: float = 300, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(args, env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    if check and done.returncode != 0:
        raise AssertionError(
            f"{' '.join(args)} failed ({done.returncode}):\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
        )
    return done


def shop_url(url: str, shops: str) -> str:
    """A product URL of the sample events, at the stand-in shops instead of the real host."""
    if not url.startswith("https://"):
        return url
    return f"{shops}/{url.removeprefix('https://')}"


@pytest.fixture(scope="module")
def stand_ins(tmp_path_factory, service_logs, gcs_url, bigquery_url, google_token_uri):
    """Every service production talks to, on 127.0.0.1, holding the rehearsal's data."""
    root = tmp_path_factory.mktemp("rehearsal")
    # MongoDB: a wire server of the rehearsal's own (its databases are the system's)
    port = free_port()
    mongo = start(
        "rehearsal-mongo",
        [str(SERVICES_PYTHON), str(ROOT / "tests/services/mongo_server.py"), str(port)],
        tcp_ready(port),
        service_logs,
    )
    mongo_url = f"mongodb://127.0.0.1:{port}/?directConnection=true"
    sample = bahela.generate(WEEK[0], DAY, seed=13, booths=bahela.BOOTHS[:1])
    catalog = root / "catalog"
    glamira.write_catalog(catalog, products=PRODUCTS, seed=5)
    shops = CatalogServer(catalog).start()
    events = list(glamira.iter_events(DAY, GLAMIRA_EVENTS, seed=5, products=PRODUCTS))
    for event in events:
        event["current_url"] = shop_url(event.get("current_url") or "", shops.url)
    with MongoClient(mongo_url) as client:
        for database, docs in sample.sessions.items():
            client[database]["sessions"].insert_many(docs)
        for start_at in range(0, len(events), 500):
            client["glamira"]["summary"].insert_many(events[start_at : start_at + 500])
    cloudinary = FakeCloudinary(CLOUD, API_KEY, API_SECRET, sample.images).__enter__()
    sendgrid = FakeSendGrid().__enter__()
    slack = RecordingServer(Reply(200, "ok")).__enter__()
    ip2location = build_demo_bin(root / "IP2LOCATION-DEMO-DB11.BIN")
    gcs = storage.Client(
        project=gcp.PROJECT, credentials=AnonymousCredentials(), client_options={"api_endpoint": gcs_url}
    )
    for bucket in ("bahela-lake", "glamira-lake"):
        gcs.create_bucket(bucket)
    home = root / "pipelines-home"  # must stay empty: production writes nothing under it
    home.mkdir()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")},
        "PREFECT_HOME": str(root / "prefect-home"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PIPELINES_HOME": str(home),
        "GCP_SERVICE_ACCOUNT_JSON": json.dumps(gcp.service_account_info(google_token_uri)),
        "GCP_PROJECT": gcp.PROJECT,
        "STORAGE_EMULATOR_HOST": gcs_url,  # the workers' google-cloud-storage reads it
        "BAHELA_MONGODB_URI": mongo_url,
        "GLAMIRA_MONGODB_URI": mongo_url,
        "CLOUDINARY_URL": f"cloudinary://{API_KEY}:{API_SECRET}@{CLOUD}?upload_prefix={cloudinary.url}",
        "BAHELA_LAKE_BUCKET": "bahela-lake",
        "GLAMIRA_LAKE_BUCKET": "glamira-lake",
        "BIGQUERY_PROJECT": gcp.PROJECT,
        "BIGQUERY_LOCATION": "US",
        "BIGQUERY_API_ENDPOINT": bigquery_url,
        "SENDGRID_API_KEY": SENDGRID_KEY,
        "SENDGRID_API_HOST": sendgrid.url,
        "BAHELA_MAIL_FROM": "reports@bahela.test",
        "BAHELA_MAIL_TO": "owner@bahela.test",
        "BAHELA_SLACK_WEBHOOK_URL": f"{slack.url}{SLACK_PATH}",
        "GLAMIRA_IP2LOCATION_BIN": str(ip2location),
    }
    try:
        yield {
            "env": env,
            "home": home,
            "mongo_url": mongo_url,
            "bahela_sample": sample,
            "events": events,
            "shops": shops,
            "sendgrid": sendgrid,
            "slack": slack,
            "gcs": gcs,
            "bigquery_url": bigquery_url,
        }
    finally:
        for server in (cloudinary, sendgrid, slack):
            server.__exit__(None, None, None)
        shops.stop()
        mongo.stop()


@pytest.fixture(scope="module")
def system(stand_ins, service_logs, tmp_path_factory, docker_host, pipelines_image):
    """A Prefect server of the rehearsal's own, configured by `pipelines setup
    --work-pools`, proven by `pipelines check`, deployed from prefect.yaml (its build step
    on the engine, with only the local base image swapped in), a process worker and a
    docker worker."""
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    server = start(
        "rehearsal-prefect",
        [
            PREFECT,
            "server",
            "start",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-ui",
            "--analytics-off",
        ],
        http_ready(f"{api}/health"),
        service_logs,
        env={
            "PREFECT_HOME": str(tmp_path_factory.mktemp("rehearsal-server")),
            "PREFECT_SERVER_LOGGING_LEVEL": "WARNING",
        },
        timeout=240,
    )
    env = {
        **stand_ins["env"],
        "PREFECT_API_URL": api,
        "PREFECT_WORKER_QUERY_SECONDS": "1",
        "PIPELINES_IMAGE": IMAGE,
    }
    # the containers' google-cloud-storage finds fake-gcs-server the way the workers' does
    prefect_yaml = containers.local_prefect_yaml(
        tmp_path_factory.mktemp("deploy") / "prefect.yaml",
        env={"STORAGE_EMULATOR_HOST": env["STORAGE_EMULATOR_HOST"]},
    )
    workers = []
    try:
        setup = run([PIPELINES, "setup", "--work-pools"], env)
        check = run([PIPELINES, "check"], env, check=False)
        with PushStandIn(docker_host) as registry:
            deploy = run(
                [
                    PREFECT,
                    "--no-prompt",
                    "deploy",
                    "--prefect-file",
                    str(prefect_yaml),
                    *(a for d in DEPLOYMENTS for a in ("--name", d)),
                ],
                {**env, "DOCKER_HOST": registry.docker_host},
                timeout=900,
            )
        for name, pool in (
            ("rehearsal-worker", "pipelines-process"),
            ("rehearsal-docker-worker", "pipelines-docker"),
        ):
            workers.append(
                start(
                    name,
                    [PREFECT, "worker", "start", "--pool", pool, "--limit", "2"],
                    lambda name=name: "started" in (service_logs / f"{name}.log").read_text(errors="replace"),
                    service_logs,
                    env={**env, "DOCKER_HOST": docker_host},
                    timeout=120,
                )
            )
        yield {
            **stand_ins,
            "env": env,
            "api": api,
            "setup": setup,
            "check": check,
            "deploy": deploy,
            "engine": docker_host,
        }
    finally:
        for worker in workers:
            worker.stop()  # before the server: a worker may ignore SIGTERM once its server is gone
        with contextlib.closing(containers.client(docker_host)) as engine:
            for container in engine.containers.list(all=True, filters={"label": "io.prefect.flow-run-id"}):
                container.remove(force=True)
        server.stop()


def deployment_run(system, name: str, **parameters) -> str:
    args = [PREFECT, "deployment", "run", name, "--watch", "--watch-timeout", "600"]
    for key, value in parameters.items():
        args += ["--param", f"{key}={value}"]
    done = run(args, system["env"], timeout=660, check=False)
    assert "Flow run finished successfully in 'Completed'" in done.stdout, (
        done.stdout[-4000:] + done.stderr[-2000:]
    )
    return done.stdout


def flow_runs(system, flow_name: str) -> list[dict]:
    with httpx.Client(base_url=system["api"], timeout=30) as client:
        flows = {f["name"]: f["id"] for f in client.post("/flows/filter", json={}).json()}
        if flow_name not in flows:
            return []
        return client.post("/flow_runs/filter", json={"flows": {"id": {"any_": [flows[flow_name]]}}}).json()


def test_setup_saves_every_block_and_check_finds_them_all_reachable(system):
    assert system["check"].returncode == 0, system["check"].stdout + system["check"].stderr
    output = system["setup"].stdout + system["check"].stdout + system["check"].stderr
    for secret in (API_SECRET, SENDGRID_KEY, SLACK_PATH, "-----BEGIN PRIVATE KEY-----"):
        assert secret not in output, "no secret printed"
    assert "pipelines-process" in system["setup"].stdout and "pipelines-docker" in system["setup"].stdout


@pytest.mark.timeout(900)
def test_the_deployed_system_runs_a_week_of_both_businesses_in_production(system):
    env, bq = system["env"], _bigquery(system)

    # the week through the deployment, two days at a time on the worker, as the README's backfill does
    backfill = [PIPELINES, "backfill", "bahela-daily", "--start", str(WEEK[0]), "--end", str(DAY)]
    run([*backfill, "--deployment", "local", "--notify"], env, timeout=600)
    deployment_run(system, "bahela-weekly/local", week_ending=DAY.isoformat(), history_days=len(WEEK))
    deployment_run(system, "glamira-daily/local", day=DAY.isoformat(), load_warehouse="false")
    loads = _wait_for_loads(system, at_least=5)
    # the emulator runs seeds, views and their tests; a table's CTAS it reports wrongly (see
    # test_dbt_project.py), so the marts (tables) are left out here
    views = "path:seeds path:models/staging path:models/intermediate"
    deployment_run(system, "warehouse-marts/local", select=f'"{views}"', dashboard="false")

    # the lakes on GCS
    blobs = {b.name for b in system["gcs"].list_blobs("bahela-lake")}
    assert f"bahela/sessions/dt={DAY}/_manifest.json" in blobs
    assert f"reports/bahela-daily-{DAY}.html" in blobs and f"reports/bahela-weekly-{DAY}.html" in blobs
    assert f"bahela/forecasts/dt={DAY}/_manifest.json" in blobs
    glamira_blobs = {b.name for b in system["gcs"].list_blobs("glamira-lake")}
    for dataset in ("events", "locations", "products", "user_agents"):
        assert f"glamira/{dataset}/dt={DAY}/_manifest.json" in glamira_blobs, dataset
    # the warehouse in the BigQuery emulator, Glamira's loaded by the triggered runs
    daily = bq.query(f"select count(*) as n from `{gcp.PROJECT}.raw_bahela.daily_summary`").result()
    assert next(iter(daily))["n"] == len(WEEK), "one booth, a row a day"
    events = bq.query(
        f"select count(*) as n from `{gcp.PROJECT}.raw_glamira.events` where day = '{DAY}'"
    ).result()
    assert next(iter(events))["n"] > 0 and all(run["state_type"] == "COMPLETED" for run in loads)
    # each load in a container of the deployed image, on the docker pool, exited cleanly
    with contextlib.closing(containers.client(system["engine"])) as engine:
        image = engine.images.get(_deployed_image(system)).id
        for load in loads:
            [container] = engine.containers.list(
                all=True, filters={"label": f"io.prefect.flow-run-id={load['id']}"}
            )
            assert (container.image.id, container.attrs["State"]["ExitCode"]) == (image, 0), load["name"]
            assert container.attrs["Config"]["User"] == "10001:10001"
    staged = {t.table_id for t in bq.list_tables(f"{gcp.PROJECT}.staging")}
    assert "stg_glamira__events" in staged and "stg_bahela__sessions" in staged
    # the locations upserted in MongoDB, the product names crawled from the shops
    with MongoClient(system["mongo_url"]) as client:
        assert client["glamira"]["locations"].count_documents({}) > 0
    assert any(r.path.endswith(".html") for r in system["shops"].requests)
    # the mails at SendGrid, the Slack lines at Slack, the artifacts on the server
    subjects = [r.json()["subject"] for r in system["sendgrid"].mails]
    assert any(s.startswith(f"Bahela daily summary {DAY}") for s in subjects), subjects
    assert any("weekly" in s.lower() for s in subjects), subjects
    assert len(system["slack"].requests) >= 2
    wanted = ["bahela-daily-summary", "bahela-weekly-report", "glamira-daily-summary", "warehouse-marts"]
    with httpx.Client(base_url=system["api"], timeout=30) as client:
        found = client.post("/artifacts/filter", json={"artifacts": {"key": {"any_": wanted}}}).json()
    assert {a["key"] for a in found} == set(wanted)
    # and nothing under PIPELINES_HOME
    assert not any(system["home"].iterdir()), sorted(p.name for p in system["home"].rglob("*"))[:20]
    assert env["PIPELINES_HOME"] == str(system["home"])


def test_a_deployment_whose_block_is_gone_fails_before_any_work_naming_it(system):
    saved_blocks.delete(system["api"], ["bahela-mailer"])
    before = {b.name for b in system["gcs"].list_blobs("bahela-lake")}
    day = DAY - timedelta(days=1)

    done = run(
        [
            PREFECT,
            "deployment",
            "run",
            "bahela-daily/local",
            "--param",
            f"day={day}",
            "--watch",
            "--watch-timeout",
            "300",
        ],
        system["env"],
        timeout=360,
        check=False,
    )

    assert "Failed" in done.stdout
    [failed] = [r for r in flow_runs(system, "bahela-daily") if r["state_type"] == "FAILED"]
    message = failed["state"]["message"]
    assert "bahela-mailer" in message and "SENDGRID_API_KEY" in message and "pipelines setup" in message
    assert {b.name for b in system["gcs"].list_blobs("bahela-lake")} == before, "no work done"


def _bigquery(system) -> bigquery.Client:
    return bigquery.Client(
        project=gcp.PROJECT,
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": system["bigquery_url"]},
    )


def _deployed_image(system) -> str:
    with httpx.Client(base_url=system["api"], timeout=30) as client:
        deployment = client.get("/deployments/name/glamira-load/docker").json()
    return deployment["job_variables"]["image"]


def _wait_for_loads(system, at_least: int, timeout: float = 180) -> list[dict]:
    """The glamira-load runs the landing events triggered, once they have all ended."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = flow_runs(system, "glamira-load")
        if len(runs) >= at_least and all(r["state_type"] in ("COMPLETED", "FAILED", "CRASHED") for r in runs):
            return runs
        time.sleep(2)
    raise AssertionError(
        f"glamira-load runs: {[(r['name'], r['state_type']) for r in flow_runs(system, 'glamira-load')]}"
    )

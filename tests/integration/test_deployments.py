"""prefect.yaml end to end: a real `prefect server`, the work pools, `prefect deploy --all`,
a process worker, `prefect deployment run`, and the alerts of a failing run delivered to
local Slack and SMTP servers.

The docker deployments' build step (prefect-docker, through the docker SDK) builds the
image on a real container engine (podman, tests/support/containers.py) from prefect.yaml
with only the local base image added (no registry can be reached for the official one).
The push step's registry is the one stand-in: none can run here, so pushes are answered
by a proxy in front of the engine (tests/support/docker_engine.py).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import httpx
import polars as pl
import psutil
import pytest
import yaml
from prefect.settings import PREFECT_API_URL, temporary_settings
from prefect_slack import SlackWebhook
from pydantic import SecretStr

from blocks import MongoDB, SmtpMailer
from demo import bahela, glamira
from pipelines.alerts import ALERT_MAILER, ALERT_SLACK
from tests.support import containers, saved_blocks
from tests.support.docker_engine import PushStandIn
from tests.support.http_servers import RecordingServer, Reply
from tests.support.processes import ROOT, start
from tests.support.smtp_server import SmtpServer

pytestmark = pytest.mark.integration

DAY = date(2026, 11, 20)
PREFECT = str(ROOT / ".venv" / "bin" / "prefect")
IMAGE = f"{containers.TEST_REGISTRY}/pipelines/pipelines"
LAKE_BUCKET = "glamira-lake"  # GLAMIRA_LAKE_BUCKET of the deploy: the load triggers match it


def cli(args: list[str], env: dict, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
    done = subprocess.run(args, env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    if check and done.returncode != 0:
        raise AssertionError(
            f"{' '.join(args)} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        )
    return done


@pytest.fixture(scope="module")
def deployed(prefect_server, service_logs, tmp_path_factory, docker_host, pipelines_image):
    """prefect.yaml deployed on a real server, and a process worker. The deployments run
    in the production profile, so every role is a saved block: here the embedded
    default's parts, saved under the default names and pointing at `home`, while the
    worker's PIPELINES_HOME is another folder that must stay empty."""
    home = tmp_path_factory.mktemp("worker-data")
    unused_home = tmp_path_factory.mktemp("worker-home")
    sample = bahela.generate(DAY - timedelta(days=1), DAY, seed=3, booths=bahela.BOOTHS[:2])
    bahela.write(sample, bahela.SampleFolders(home / "samples" / "bahela"))
    blocks = saved_blocks.local_blocks(home)
    with temporary_settings({PREFECT_API_URL: prefect_server}):
        saved_blocks.save(blocks)
    prefect_yaml = containers.local_prefect_yaml(tmp_path_factory.mktemp("deploy") / "prefect.yaml")
    with PushStandIn(docker_host) as docker:
        env = {
            **os.environ,
            "PREFECT_API_URL": prefect_server,
            "PIPELINES_HOME": str(unused_home),
            "PIPELINES_IMAGE": IMAGE,
            "GLAMIRA_LAKE_BUCKET": LAKE_BUCKET,
            "DOCKER_HOST": docker.docker_host,
            "PREFECT_WORKER_QUERY_SECONDS": "1",
        }
        cli([PREFECT, "work-pool", "create", "pipelines-process", "--type", "process", "--overwrite"], env)
        cli([PREFECT, "work-pool", "create", "pipelines-docker", "--type", "docker", "--overwrite"], env)
        deploy = cli(
            [PREFECT, "--no-prompt", "deploy", "--prefect-file", str(prefect_yaml), "--all"], env, timeout=600
        )
        worker = start(
            "prefect-worker",
            [PREFECT, "worker", "start", "--pool", "pipelines-process", "--limit", "2"],
            lambda: "started" in (service_logs / "prefect-worker.log").read_text(errors="replace"),
            service_logs,
            env=env,
        )
        try:
            yield {
                "env": env,
                "docker": docker,
                "engine": docker_host,
                "image": pipelines_image,
                "home": home,
                "deploy": deploy,
                "api": prefect_server,
            }
        finally:
            worker.stop()  # before the server: a worker may ignore SIGTERM once its server is gone
            saved_blocks.delete(prefect_server, list(blocks))
    assert not any(unused_home.iterdir()), "the production profile wrote under PIPELINES_HOME"


def api(deployed, method: str, path: str, json: dict | None = None):
    response = httpx.request(method, f"{deployed['api']}{path}", json=json, timeout=30)
    response.raise_for_status()
    return response.json()


def test_deploy_all_accepts_every_deployment_in_prefect_yaml(deployed):
    declared = yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]
    deployments = api(deployed, "POST", "/deployments/filter", {})
    flows = {f["id"]: f["name"] for f in api(deployed, "POST", "/flows/filter", {})}
    by_name = {f"{flows[d['flow_id']]}/{d['name']}": d for d in deployments}

    for item in declared:
        flow_name = item["entrypoint"].split(":")[1].replace("_", "-")
        deployment = by_name[f"{flow_name}/{item['name']}"]
        assert deployment["work_pool_name"] == item["work_pool"]["name"]
        assert [s["schedule"]["timezone"] for s in deployment["schedules"]] == [
            s["timezone"] for s in item.get("schedules", [])
        ]
    docker_run = by_name["bahela-daily/docker"]
    commit = subprocess.run(
        ["git", "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True, cwd=ROOT
    )
    assert docker_run["job_variables"]["image"] == f"{IMAGE}:{commit.stdout.strip()}"
    assert [s["active"] for s in docker_run["schedules"]] == [True]
    assert [s["active"] for s in by_name["bahela-daily/local"]["schedules"]] == [False]
    assert by_name["bahela-daily/docker"]["pull_steps"][0][
        "prefect.deployments.steps.set_working_directory"
    ] == {"directory": "/opt/pipelines"}


def test_docker_deployments_build_docker_dockerfile_on_the_engine_and_push_the_image(deployed):
    commit = subprocess.run(
        ["git", "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True, cwd=ROOT, check=True
    ).stdout.strip()
    image = f"{IMAGE}:{commit}"

    with contextlib.closing(containers.client(deployed["engine"])) as engine:
        assert engine.images.get(image).id == deployed["image"], "the session's build of docker/Dockerfile"
    # one build and one push for the five docker deployments: prefect-docker reuses the
    # output of an identical step within one `prefect deploy`
    assert deployed["deploy"].stdout.count("Successfully built") == 1
    assert deployed["docker"].pushes == [image]


def test_an_on_demand_run_completes_on_the_process_worker(deployed):
    done = cli(
        [
            PREFECT,
            "deployment",
            "run",
            "bahela-daily/local",
            "--param",
            f"day={DAY}",
            "--watch",
            "--watch-timeout",
            "120",
        ],
        deployed["env"],
        timeout=180,
    )

    assert "Completed" in done.stdout
    home: Path = deployed["home"]
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        sessions = con.execute("select count(*) from raw_bahela.sessions where day = ?", [DAY]).fetchall()[0][
            0
        ]
    assert sessions > 50
    assert (home / "outbox" / f"bahela-daily-{DAY}.eml").exists()
    assert list((home / "lake" / "bahela" / "sessions" / f"dt={DAY}").glob("part-*-0000.parquet"))


def test_a_failing_run_alerts_slack_and_mail_with_flow_run_task_error_and_link(deployed, prefect_api):
    with RecordingServer(Reply(200, "ok")) as slack, SmtpServer() as smtp:
        SlackWebhook(url=SecretStr(f"{slack.url}/services/T/B/alerts")).save(ALERT_SLACK, overwrite=True)
        SmtpMailer(
            credentials=smtp.credentials(),
            sender="alerts@pipelines.test",
            recipients=["oncall@pipelines.test"],
        ).save(ALERT_MAILER, overwrite=True)
        MongoDB(
            connection_string=SecretStr("mongodb://reader:pw@127.0.0.1:1/?directConnection=true"),
            server_selection_timeout_ms=500,
        ).save("broken-mongodb", overwrite=True)
        try:
            done = cli(
                [
                    PREFECT,
                    "deployment",
                    "run",
                    "bahela-daily/local",
                    "--param",
                    f"day={DAY}",
                    "--param",
                    'blocks={"mongodb": "broken-mongodb"}',
                    "--watch",
                    "--watch-timeout",
                    "120",
                ],
                deployed["env"],
                check=False,
                timeout=180,
            )
            deadline = time.monotonic() + 30
            while (not slack.requests or not smtp.inbox.messages) and time.monotonic() < deadline:
                time.sleep(0.5)
        finally:
            # retried until gone: a block left behind (a 503 from the server's busy SQLite)
            # sends later tests' alerts to this test's closed SMTP server
            saved_blocks.delete(deployed["api"], [ALERT_SLACK, ALERT_MAILER, "broken-mongodb"])

    assert done.returncode != 0 and "Failed" in done.stdout
    text = slack.requests[-1].json()["text"]
    assert "bahela-daily" in text and f"bahela-daily-{DAY}" in text
    assert f"extract sessions {DAY}" in text, "names the failing task"
    assert "MongoDB at 127.0.0.1:1 is unreachable" in text and "pw@" not in text
    assert "/runs/flow-run/" in text, "links to the run in the UI"
    mail = smtp.inbox.messages[-1]
    assert mail["Subject"] == f"[pipelines] Failed: bahela-daily / bahela-daily-{DAY}"
    assert smtp.inbox.envelopes[-1][1] == ["oncall@pipelines.test"]
    assert "MongoDB at 127.0.0.1:1 is unreachable" in mail.get_body(("plain",)).get_content()


def test_backfill_runs_each_day_through_the_deployment(deployed):
    first = DAY - timedelta(days=1)

    done = cli(
        [
            str(ROOT / ".venv/bin/pipelines"),
            "backfill",
            "bahela-daily",
            "--start",
            str(first),
            "--end",
            str(DAY),
            "--deployment",
            "local",
        ],
        deployed["env"],
        timeout=240,
    )

    assert "Submitted 2 runs of bahela-daily/local" in done.stdout
    assert "All 2 days completed." in done.stdout
    with duckdb.connect(str(deployed["home"] / "warehouse.duckdb"), read_only=True) as con:
        days = con.execute("select distinct day from raw_bahela.daily_summary order by day").fetchall()
    assert [d for (d,) in days if d >= first] == [first, DAY]


def test_a_landed_manifest_event_starts_the_load_deployment(deployed):
    flows = {f["name"]: f["id"] for f in api(deployed, "POST", "/flows/filter", {})}
    load = next(
        d
        for d in api(deployed, "POST", "/deployments/filter", {})
        if d["flow_id"] == flows["glamira-load"] and d["name"] == "docker"
    )
    generation = str(time.time_ns())
    event = {
        "id": str(uuid.uuid4()),
        "occurred": datetime.now(UTC).isoformat(),
        "event": "lake.object.finalized",
        "resource": {
            "prefect.resource.id": "gs://glamira-lake/glamira/events/dt=2026-11-20/_manifest.json",
            "lake.bucket": "glamira-lake",
            "lake.object": "glamira/events/dt=2026-11-20/_manifest.json",
            "lake.generation": generation,
            "lake.source": "glamira",
            "lake.dataset": "events",
            "lake.day": "2026-11-20",
            "lake.file": "_manifest.json",
        },
        "payload": {},
    }
    part = {**event, "id": str(uuid.uuid4())}
    part["resource"] = {
        **event["resource"],
        "lake.file": "part-0000.parquet",
        "lake.object": "glamira/events/dt=2026-11-20/part-0000.parquet",
    }
    foreign = {**event, "id": str(uuid.uuid4())}
    foreign["resource"] = {
        **event["resource"],
        "prefect.resource.id": "gs://someone-elses-bucket/glamira/events/dt=2026-11-20/_manifest.json",
        "lake.bucket": "someone-elses-bucket",
    }

    # the others first: a run they started would be there by the time the manifest's is
    httpx.post(f"{deployed['api']}/events", json=[foreign, part, event], timeout=30).raise_for_status()

    deadline = time.monotonic() + 60
    runs = []
    while time.monotonic() < deadline and not runs:
        runs = api(deployed, "POST", "/flow_runs/filter", {"deployments": {"id": {"any_": [load["id"]]}}})
        time.sleep(1)
    assert len(runs) == 1, "one run for the lake's manifest, none for the part or another bucket's manifest"
    assert runs[0]["parameters"] == {
        "dataset": "events",
        "day": "2026-11-20",
        "manifest": "glamira/events/dt=2026-11-20/_manifest.json",
        "generation": generation,
        "bucket": "glamira-lake",
    }


def _load_trigger_match(deployed, deployment_name: str) -> dict:
    flows = {f["name"]: f["id"] for f in api(deployed, "POST", "/flows/filter", {})}
    deployment = next(
        d
        for d in api(deployed, "POST", "/deployments/filter", {})
        if d["flow_id"] == flows["glamira-load"] and d["name"] == deployment_name
    )
    [automation] = api(deployed, "GET", f"/automations/related-to/prefect.deployment.{deployment['id']}")
    return automation["trigger"]["match"]


def test_the_load_trigger_matches_the_lake_bucket_the_deploy_was_given(deployed):
    assert _load_trigger_match(deployed, "docker")["lake.bucket"] == LAKE_BUCKET


def test_deployed_without_a_lake_bucket_the_load_trigger_matches_the_local_lake(deployed):
    # given a deploy from an environment without GLAMIRA_LAKE_BUCKET (the embedded default)
    env = {k: v for k, v in deployed["env"].items() if k != "GLAMIRA_LAKE_BUCKET"}

    cli([PREFECT, "--no-prompt", "deploy", "--name", "glamira-load/local"], env, timeout=300)

    # then it matches what a local lake announces: `lake.bucket: ""`
    assert _load_trigger_match(deployed, "local")["lake.bucket"] == ""


GLAMIRA_EVENTS = 120_000  # three batches: the run's normalise workers start, landing lasts seconds


def flow_run_process(flow_run_id: str) -> psutil.Process | None:
    """The process the worker started for a flow run (its environment names the run)."""
    for process in psutil.process_iter():
        try:
            if process.environ().get("PREFECT__FLOW_RUN_ID") == flow_run_id:
                return process
        except psutil.Error:
            continue
    return None


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_a_run_killed_on_the_worker_while_it_lands_frees_its_day_at_once(deployed, signum):
    # given a day of Glamira events for the process worker's deployment
    home: Path = deployed["home"]
    mongodump = home / "samples" / "glamira" / "mongodump"
    if not (mongodump / "glamira" / "summary.bson").exists():
        glamira.write_dump(mongodump, [DAY], GLAMIRA_EVENTS, seed=5)
    events = home / "lake" / "glamira" / "events" / f"dt={DAY}"
    before = set(json.loads((events / "_manifest.json").read_text())["parts"]) if events.exists() else set()
    params = ["--param", f"day={DAY}", "--param", "geolocate=false", "--param", "crawl=false"]
    started = cli([PREFECT, "deployment", "run", "glamira-daily/local", *params], deployed["env"])
    flow_run_id = re.search(r"UUID: ([0-9a-f-]{36})", started.stdout).group(1)

    # when its flow-run process is killed once a part of the new generation is written
    deadline = time.monotonic() + 300
    while not any(p.name not in before for p in events.glob("part-*.parquet")):
        assert time.monotonic() < deadline, "no part of the new generation was written"
        time.sleep(0.05)
    process = flow_run_process(flow_run_id)
    assert process is not None
    ours = [process, *process.children(recursive=True)]
    assert any("multiprocessing" in " ".join(p.cmdline()) for p in ours[1:]), "its normalise workers run"
    process.send_signal(signum)

    # then no process of the run survives (checked by PID and start time)
    gone, alive = psutil.wait_procs(ours, timeout=15)
    assert not alive, [" ".join(p.cmdline()) for p in alive]
    # and the day lands at once when run again: the dead run's lease is free
    done = cli(
        [
            PREFECT,
            "deployment",
            "run",
            "glamira-daily/local",
            *params,
            "--job-variable",
            'env={"PIPELINES_PROFILE": "production", "PIPELINES_DAY_LOCK_WAIT_SECONDS": "0"}',
            "--watch",
            "--watch-timeout",
            "300",
        ],
        deployed["env"],
        check=False,
        timeout=360,
    )
    rerun_id = re.search(r"UUID: ([0-9a-f-]{36})", done.stdout).group(1)
    logs = cli([PREFECT, "flow-run", "logs", rerun_id], deployed["env"], check=False).stdout
    assert "Completed" in done.stdout, logs[-4000:]
    manifest = json.loads((events / "_manifest.json").read_text())
    assert sorted(p.name for p in events.iterdir()) == sorted(["_manifest.json", *manifest["parts"]])
    landed = pl.concat([pl.read_parquet(events / part) for part in manifest["parts"]])
    rejected = json.loads(
        (events.parents[1] / "_rejects" / "events" / f"dt={DAY}" / "_manifest.json").read_text()
    )
    assert landed["event_id"].is_unique().all()
    assert landed.height == manifest["rows"] and manifest["rows"] + rejected["rows"] == GLAMIRA_EVENTS

"""The work pool image and the docker work pool, on a real container engine: podman behind
the Docker Engine API (tests/support/containers.py; `make services` installs it).

The image is built from docker/Dockerfile as it is but for its base image: a local Debian
image, because no registry can be reached here. `prefect deploy` builds it through
prefect.yaml's build step, and a `docker` work pool worker runs glamira-load in a
container of it, started by a landed manifest's event, against fake-gcs-server and the
BigQuery emulator on 127.0.0.1. The one stand-in is the registry of the push step: none
can run here (tests/support/docker_engine.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import time
import uuid
from datetime import date

import bson
import httpx
import prefect
import pytest
import yaml
from prefect.events.worker import EventsWorker
from prefect_gcp.cloud_storage import GcsBucket

from blocks.lake import Lake, partition_prefix
from demo import glamira
from tasks.glamira.events import normalise_batch
from tests.support import containers, gcp, saved_blocks
from tests.support.docker_engine import PushStandIn
from tests.support.processes import ROOT, start

pytestmark = pytest.mark.integration

PREFECT = str(ROOT / ".venv" / "bin" / "prefect")
POOL = "pipelines-docker"
IMAGE = f"{containers.TEST_REGISTRY}/pipelines/pipelines"  # PIPELINES_IMAGE of the deploy
DAY = date(2026, 11, 20)
EVENTS = 900
TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


def cli(args: list[str], env: dict, timeout: float = 120) -> subprocess.CompletedProcess:
    done = subprocess.run(args, env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise AssertionError(
            f"{' '.join(args)} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        )
    return done


def run_in_image(docker_host: str, image: str, command: list[str]) -> str:
    with contextlib.closing(containers.client(docker_host)) as engine:
        return engine.containers.run(image, command, remove=True, stdout=True, stderr=True).decode()


def test_the_image_builds_from_the_dockerfile_with_only_its_base_image_swapped(docker_host, pipelines_image):
    # (test_docker_image.py reads the Dockerfile: only its BASE_IMAGE argument differs here)
    with contextlib.closing(containers.client(docker_host)) as engine:
        image = engine.images.get(pipelines_image)
        base = engine.images.get(containers.BASE_IMAGE)

    assert image.attrs["RootFS"]["Layers"][0] == base.attrs["RootFS"]["Layers"][0], "built on the local base"
    config = image.attrs["Config"]
    assert (config["User"], config["WorkingDir"], config["Cmd"]) == (
        "10001:10001",
        "/opt/pipelines",
        ["pipelines", "--help"],
    )
    assert image.labels["io.prefect.version"] == prefect.__version__, "built by prefect-docker's build step"


def test_pipelines_help_runs_in_the_image_as_its_unprivileged_user(docker_host, pipelines_image):
    output = run_in_image(docker_host, pipelines_image, ["sh", "-c", "id -u && exec pipelines --help"])

    uid, _, usage = output.partition("\n")
    assert uid == "10001"
    assert "Usage: pipelines" in usage and "run" in usage


def test_the_image_holds_the_production_install_and_not_the_tests_the_demo_or_dev_tools(
    docker_host, pipelines_image
):
    probe = (
        "import flows.bahela_daily, flows.glamira_load, blocks, dbt.adapters.bigquery, prefect_docker; "
        "import importlib.util as u, os; "
        "print(sorted(m for m in ('pytest', 'ruff', 'demo', 'tests') if u.find_spec(m)), "
        "sorted(os.listdir('/opt/pipelines')))"
    )

    output = run_in_image(docker_host, pipelines_image, ["python", "-c", probe])

    missing, _, listing = output.strip().partition(" ")
    assert missing == "[]", "no dev tool, test or demo module is importable in the image"
    for absent in ("tests", "demo", ".git", ".venv-services", "docs"):
        assert f"'{absent}'" not in listing, absent
    for present in ("flows", "dbt", ".venv", "uv.lock"):
        assert f"'{present}'" in listing, present


@pytest.fixture(scope="module")
def docker_deployment(prefect_server, docker_host, pipelines_image, gcs_url, tmp_path_factory):
    """glamira-load/docker deployed with `prefect deploy` from prefect.yaml: the build step
    builds the image on the engine, the push step pushes to the stand-in registry. The
    deployment's trigger matches a fresh bucket, and its containers get the address of
    fake-gcs-server (STORAGE_EMULATOR_HOST) beside the pool's own environment."""
    bucket = f"glamira-lake-{uuid.uuid4().hex[:8]}"
    prefect_yaml = containers.local_prefect_yaml(
        tmp_path_factory.mktemp("deploy") / "prefect.yaml", env={"STORAGE_EMULATOR_HOST": gcs_url}
    )
    with PushStandIn(docker_host) as registry:
        env = {
            **os.environ,
            "PREFECT_API_URL": prefect_server,
            "PIPELINES_IMAGE": IMAGE,
            "GLAMIRA_LAKE_BUCKET": bucket,
            "DOCKER_HOST": registry.docker_host,
        }
        cli([PREFECT, "work-pool", "create", POOL, "--type", "docker", "--overwrite"], env)
        cli(
            [
                PREFECT,
                "--no-prompt",
                "deploy",
                "--prefect-file",
                str(prefect_yaml),
                "--name",
                "glamira-load/docker",
            ],
            env,
            timeout=900,
        )
    deployment = httpx.get(f"{prefect_server}/deployments/name/glamira-load/docker", timeout=30).json()
    yield {
        "deployment": deployment,
        "pushes": registry.pushes,
        "bucket": bucket,
        "env": env,
    }
    # the server is the session's: leave no run, trigger or deployment for the next module
    for run in _runs(prefect_server, deployment["id"]):
        httpx.delete(f"{prefect_server}/flow_runs/{run['id']}", timeout=30)
    owner = f"prefect.deployment.{deployment['id']}"
    httpx.delete(f"{prefect_server}/automations/owned-by/{owner}", timeout=30).raise_for_status()
    httpx.delete(f"{prefect_server}/deployments/{deployment['id']}", timeout=30).raise_for_status()


def test_prefect_deploy_builds_the_image_on_the_engine_and_pushes_it(
    docker_deployment, docker_host, pipelines_image
):
    commit = subprocess.run(
        ["git", "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True, cwd=ROOT, check=True
    ).stdout.strip()
    deployed = f"{IMAGE}:{commit}"

    assert docker_deployment["deployment"]["job_variables"]["image"] == deployed
    with contextlib.closing(containers.client(docker_host)) as engine:
        assert engine.images.get(deployed).id == pipelines_image, "the session's build of docker/Dockerfile"
    assert docker_deployment["pushes"] == [deployed]
    declared = yaml.safe_load((ROOT / "prefect.yaml").read_text())["definitions"]["work_pools"]["docker"]
    assert docker_deployment["deployment"]["job_variables"]["env"] == {
        **declared["job_variables"]["env"],
        "STORAGE_EMULATOR_HOST": os.environ["STORAGE_EMULATOR_HOST"],
    }


def _events(count: int) -> list:
    docs = [bson.encode(d) for d in glamira.iter_events(DAY, count, seed=11, products=40)]
    return [normalise_batch(docs[i : i + 300], DAY).events for i in range(0, len(docs), 300)]


def _runs(api: str, deployment_id: str) -> list[dict]:
    body = {"deployments": {"id": {"any_": [deployment_id]}}}
    return httpx.post(f"{api}/flow_runs/filter", json=body, timeout=30).json()


def _forget_other_runs_of_the_pool(api: str) -> None:
    """Runs other modules left scheduled on this pool (the server is the session's) are not
    this worker's to run."""
    body = {
        "work_pools": {"name": {"any_": [POOL]}},
        "flow_runs": {"state": {"type": {"any_": ["SCHEDULED", "PENDING"]}}},
    }
    for run in httpx.post(f"{api}/flow_runs/filter", json=body, timeout=30).json():
        httpx.delete(f"{api}/flow_runs/{run['id']}", timeout=30)


def test_a_docker_worker_runs_the_triggered_load_in_a_container_of_the_deployed_image(
    docker_deployment, docker_host, prefect_api, gcp_credentials, bigquery_url, service_logs
):
    # given the production profile's two blocks of glamira-load, saved under their default
    # names: a GCS lake on fake-gcs-server and a warehouse on the BigQuery emulator
    bucket = docker_deployment["bucket"]
    gcp_credentials.get_cloud_storage_client().create_bucket(bucket)
    storage = GcsBucket(bucket=bucket, bucket_folder="lake", gcp_credentials=gcp_credentials)
    warehouse = gcp.emulator_warehouse(gcp_credentials, bigquery_url)
    blocks = {"glamira-lake": storage, "glamira-warehouse": warehouse}
    saved_blocks.save(blocks)
    deployment = docker_deployment["deployment"]
    _forget_other_runs_of_the_pool(prefect_api)
    # and a docker pool worker on the engine
    env = {**docker_deployment["env"], "DOCKER_HOST": docker_host, "PREFECT_WORKER_QUERY_SECONDS": "1"}
    worker = start(
        "prefect-docker-worker",
        [PREFECT, "worker", "start", "--pool", POOL, "--type", "docker"],
        lambda: "started" in (service_logs / "prefect-docker-worker.log").read_text(errors="replace"),
        service_logs,
        env=env,
        timeout=120,
    )
    engine = containers.client(docker_host)
    run: dict = {}
    try:
        # when a day of Glamira events lands in the lake (its manifest's event triggers the load)
        started = time.monotonic()
        landed = asyncio.run(
            Lake(storage).replace_partition(partition_prefix("glamira", "events", DAY), _events(EVENTS))
        )
        EventsWorker.drain_all(timeout=30)

        # then the run completes
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            runs = _runs(prefect_api, deployment["id"])
            if runs and runs[0]["state_type"] in TERMINAL:
                run = runs[0]
                break
            time.sleep(1)
        seconds = time.monotonic() - started
        logs = subprocess.run(
            [PREFECT, "flow-run", "logs", run.get("id", "-")], env=env, capture_output=True, text=True
        ).stdout
        assert run.get("state_type") == "COMPLETED", (
            f"{run.get('state_type')} after {seconds:.0f}s\n{logs[-3000:]}\n{worker.log_tail(40)}"
        )
        assert run["parameters"]["bucket"] == bucket and run["parameters"]["day"] == str(DAY)
        # in a container of the deployed image, as its unprivileged user, that exited cleanly
        [container] = engine.containers.list(
            all=True, filters={"label": f"io.prefect.flow-run-id={run['id']}"}
        )
        assert container.image.id == engine.images.get(deployment["job_variables"]["image"]).id
        assert container.attrs["Config"]["User"] == "10001:10001"
        assert container.attrs["State"]["ExitCode"] == 0
        # and the day is in the warehouse
        table = warehouse.table_ref("raw_glamira", "events")
        count = asyncio.run(warehouse.query(f"select count(*) as n from {table} where day = '{DAY}'"))
        assert count.item() == landed.rows == EVENTS
    finally:
        worker.stop()  # before the server: a worker may ignore SIGTERM once its server is gone
        for container in engine.containers.list(all=True, filters={"label": "io.prefect.flow-run-id"}):
            container.remove(force=True)
        engine.close()
        saved_blocks.delete(prefect_api, list(blocks))

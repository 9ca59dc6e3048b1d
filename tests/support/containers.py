"""The container engine of the tests: Debian's podman serving the Docker Engine API, so
docker-py, prefect-docker's build step and the `docker` work pool's worker run against
it unchanged, and the work pool image built on it from docker/Dockerfile.

`make services` installs podman and builds the local base image
(tests/services/install-podman.sh): no registry can be reached here, Docker Hub included,
so the image is built `FROM` a Debian image made from this machine's apt mirror (the
Dockerfile's BASE_IMAGE argument) instead of python:3.11.7-slim-bookworm.
"""

from __future__ import annotations

import contextlib
import copy
import os
import shutil
import subprocess
import warnings
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from tests.support.processes import ROOT, Service, start

CONTAINERS_CONF = ROOT / "tests" / "services" / "containers.conf"
BASE_IMAGE = "localhost/pipelines-base:bookworm"  # what install-podman.sh builds
IMAGE = "localhost/pipelines:test"  # the session's build; its layers are the next session's cache
# The Dockerfile's build stage, tagged so that pruning keeps it: untagged, its last layer is
# dangling, and the next build would install every dependency again.
BUILD_STAGE = "localhost/pipelines-build:test"
# the registry the tests deploy to (PIPELINES_IMAGE); nothing is ever pushed there
TEST_REGISTRY = "registry.test"
BUILD_STEP = "prefect_docker.deployments.steps.build_docker_image"
# What the tests change in prefect.yaml's build step, nothing else: the local base image;
# no pull of it first (prefect-docker asks the engine to pull, and there is no registry);
# and the build's intermediate containers removed (docker-py asks to keep them, and
# podman does: a storage container per step and build, tens of GB after a few sessions).
LOCAL_BUILD = {"buildargs": {"BASE_IMAGE": BASE_IMAGE}, "pull": False, "rm": True, "forcerm": True}


def engine_env() -> dict[str, str]:
    return {**os.environ, "CONTAINERS_CONF": str(CONTAINERS_CONF)}


def require_engine() -> None:
    """Fail, never skip: a missing engine is an install step that did not run."""
    if shutil.which("podman") is None:
        pytest.fail("podman is not installed: run `make services` (make test does it)")
    found = subprocess.run(["podman", "image", "exists", BASE_IMAGE], env=engine_env(), capture_output=True)
    if found.returncode != 0:
        pytest.fail(f"the local base image {BASE_IMAGE} is missing: run `make services` (make test does it)")


def _answers(socket: Path):
    def check() -> bool:
        try:
            transport = httpx.HTTPTransport(uds=str(socket))
            with httpx.Client(transport=transport, timeout=2) as client:
                return client.get("http://engine/_ping").status_code == 200
        except httpx.HTTPError:
            return False

    return check


def start_engine(folder: Path, log_dir: Path) -> tuple[Service, str]:
    """`podman system service` on a unix socket in `folder`; the service and its DOCKER_HOST."""
    socket = folder / "podman.sock"
    service = start(
        "podman",
        ["podman", "system", "service", "--time=0", f"unix://{socket}"],
        _answers(socket),
        log_dir,
        env={"CONTAINERS_CONF": str(CONTAINERS_CONF)},
        timeout=60,
    )
    return service, f"unix://{socket}"


def client(docker_host: str):
    import docker

    return docker.DockerClient(base_url=docker_host, timeout=120)


def build_step(config: dict) -> dict:
    """The settings of prefect.yaml's docker build step."""
    for step in config["definitions"]["actions"]["docker_build"]:
        if BUILD_STEP in step:
            return step[BUILD_STEP]
    raise AssertionError(f"prefect.yaml's docker_build action has no {BUILD_STEP} step")


def local_prefect_yaml(dest: Path, env: dict[str, str] | None = None) -> Path:
    """prefect.yaml with LOCAL_BUILD in its build step and, if given, `env` added to the
    docker pool's job variables (the stand-ins' addresses a container needs). Anchors
    load as shared objects, so every docker deployment gets both."""
    config = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    build_step(config).update(copy.deepcopy(LOCAL_BUILD))
    if env:
        config["definitions"]["work_pools"]["docker"]["job_variables"]["env"].update(env)
    dest.write_text(yaml.safe_dump(config, sort_keys=False))
    return dest


@contextlib.contextmanager
def _docker_host(docker_host: str) -> Iterator[None]:
    previous = os.environ.get("DOCKER_HOST")
    os.environ["DOCKER_HOST"] = docker_host
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("DOCKER_HOST", None)
        else:
            os.environ["DOCKER_HOST"] = previous


def build_image(docker_host: str) -> str:
    """IMAGE built through prefect-docker's build step with prefect.yaml's settings and
    LOCAL_BUILD: the request `prefect deploy` sends, so a deploy later in the session finds
    every layer built. BUILD_STAGE first, from the same layers. Returns IMAGE's id."""
    from prefect_docker.deployments.steps import build_docker_image

    settings = {
        k: v
        for k, v in build_step(yaml.safe_load((ROOT / "prefect.yaml").read_text())).items()
        if k not in ("id", "requires", "image_name", "tag")
    }
    cwd = Path.cwd()
    os.chdir(ROOT)  # the step builds the current directory, as `prefect deploy` from the root does
    try:
        with _docker_host(docker_host):
            for image, extra in ((BUILD_STAGE, {"target": "build"}), (IMAGE, {})):
                name, tag = image.rsplit(":", 1)
                built = build_docker_image(
                    image_name=name, tag=tag, ignore_cache=True, **settings, **LOCAL_BUILD, **extra
                )
    finally:
        os.chdir(cwd)
    return built["image_id"]


def clean_up(docker_host: str) -> None:
    """Remove the test registry's tags (a new one per commit would keep every old image)
    and the layers nothing uses any more. IMAGE, BUILD_STAGE and their layers stay: the
    next session's build starts from them."""
    with contextlib.closing(client(docker_host)) as engine:
        tags = [t for image in engine.images.list() for t in image.tags if t.startswith(f"{TEST_REGISTRY}/")]
    for tag in tags:
        # untag, not remove: the Docker API refuses to remove an image another one builds on
        subprocess.run(["podman", "untag", tag, tag], env=engine_env(), capture_output=True, check=True)
    # best effort: another session's build or container on the same storage can hold a
    # layer this one would prune, and the next session prunes it instead
    pruned = subprocess.run(
        ["podman", "image", "prune", "--force"], env=engine_env(), capture_output=True, text=True
    )
    if pruned.returncode != 0:
        warnings.warn(
            f"podman image prune failed, left for the next session: {pruned.stderr.strip()}", stacklevel=1
        )

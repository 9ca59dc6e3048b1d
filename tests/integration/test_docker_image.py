"""The work pool image's Dockerfile, read rather than built: it passes hadolint and holds
the structure prefect.yaml relies on. The image itself is built and run on a real
container engine in test_containers.py."""

from __future__ import annotations

import re
import shlex
import subprocess

import yaml

from tests.support.processes import ROOT

DOCKERFILE = ROOT / "docker" / "Dockerfile"


def copy_sources(dockerfile: str) -> list[list[str]]:
    """Sources of each COPY/ADD that reads from the build context (not `--from=`)."""
    joined = re.sub(r"\\\n", " ", dockerfile)
    result = []
    for line in joined.splitlines():
        words = shlex.split(line, comments=True) if line.strip() else []
        if not words or words[0].upper() not in ("COPY", "ADD"):
            continue
        if any(w.startswith("--from") for w in words[1:]):
            continue
        result.append([w for w in words[1:] if not w.startswith("--")][:-1])
    return result


def test_hadolint_finds_nothing():
    done = subprocess.run([str(ROOT / ".venv/bin/hadolint"), str(DOCKERFILE)], capture_output=True, text=True)

    assert done.returncode == 0, done.stdout + done.stderr


def test_the_image_holds_the_code_where_the_docker_pull_step_expects_it():
    text = DOCKERFILE.read_text()
    pull = yaml.safe_load((ROOT / "prefect.yaml").read_text())["definitions"]["actions"]["docker_pull"]
    directory = pull[0]["prefect.deployments.steps.set_working_directory"]["directory"]
    final_stage = text.split("\nFROM ")[-1]

    assert f"WORKDIR {directory}" in final_stage
    for package in ("flows", "tasks", "formats", "blocks", "pipelines", "dbt"):
        assert re.search(rf"^COPY {package} \./{package}$", text, re.M), package


def test_the_image_installs_the_lock_file_with_production_extras_and_without_dev_tools():
    syncs = re.findall(r"^RUN uv sync (.*)$", DOCKERFILE.read_text(), re.M)

    assert syncs and all({"--frozen", "--no-dev", "--extra", "production"} <= set(s.split()) for s in syncs)


def test_the_image_runs_as_an_unprivileged_user():
    final_stage = DOCKERFILE.read_text().split("\nFROM ")[-1]
    user = re.findall(r"^USER (\S+)", final_stage, re.M)

    assert user and user[-1].split(":")[0] not in ("0", "root")


def test_every_copy_source_survives_dockerignore():
    ignored = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for sources in copy_sources(DOCKERFILE.read_text()):
        for source in sources:
            assert (ROOT / source).exists(), source
            assert source not in ignored, f"{source} is excluded from the build context"


def test_both_stages_build_on_the_base_image_argument_which_defaults_to_the_official_python_image():
    text = DOCKERFILE.read_text()

    # the tests build on a local base image through the argument; production on the default
    assert re.search(r"^ARG BASE_IMAGE=python:3\.11\.7-slim-bookworm$", text.split("\nFROM ")[0], re.M)
    assert re.findall(r"^FROM (\S+)", text, re.M) == ["${BASE_IMAGE}", "${BASE_IMAGE}"]

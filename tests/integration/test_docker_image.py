"""The work pool image, without a Docker engine: the Dockerfile passes hadolint and
holds the structure prefect.yaml relies on, and the exact install set it runs (locked,
production extras, no dev tools) installs into a fresh environment and runs the flows."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest
import yaml

from tests.support.docker_engine import _copy_sources
from tests.support.processes import ROOT

DOCKERFILE = ROOT / "docker" / "Dockerfile"


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
    for sources in _copy_sources(DOCKERFILE.read_text()):
        for source in sources:
            assert (ROOT / source).exists(), source
            assert source not in ignored, f"{source} is excluded from the build context"


@pytest.mark.integration
def test_the_image_install_set_works_in_a_fresh_environment(tmp_path):
    uv = shutil.which("uv", path=str(ROOT / ".tools/bin")) or shutil.which("uv")
    assert uv, "uv is installed by `make install`"
    venv = tmp_path / "image-venv"
    env = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(venv), "UV_PYTHON_DOWNLOADS": "never"}

    subprocess.run(
        [uv, "sync", "--frozen", "--no-dev", "--extra", "production", "--no-editable", "--quiet"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=600,
    )

    python = venv / "bin" / "python"
    probe = subprocess.run(
        [
            str(python),
            "-c",
            "import flows.bahela_daily, blocks, dbt.adapters.bigquery, prefect_docker; "
            "import importlib.util as u; print([m for m in ('pytest', 'ruff') if u.find_spec(m)])",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.strip() == "[]", "dev tools are not in the image"
    help_text = subprocess.run(
        [str(venv / "bin" / "pipelines"), "--help"], capture_output=True, text=True, timeout=60
    )
    assert "demo" in help_text.stdout

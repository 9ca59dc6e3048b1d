"""The work pool image on a real container engine: podman behind the Docker Engine API
(tests/support/containers.py; `make services` installs it).

The image is built from docker/Dockerfile as it is but for its base image: a local Debian
image, because no registry can be reached here. Where else the engine works:
`prefect deploy` builds this image through prefect.yaml's build step in
test_deployments.py, and a `pipelines-docker` worker runs the triggered glamira-load runs
in containers of it in the production rehearsal (test_production_rehearsal.py).
"""

from __future__ import annotations

import contextlib

import prefect
import pytest

from tests.support import containers

pytestmark = pytest.mark.integration


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
        # the BSON walk's numba kernels compile (and cache) as the image's unprivileged user
        "from formats.bson_columns import compile_walk; compile_walk(); "
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


KERNEL_CACHE_PROBE = (
    "import numba, formats.bson_walk as w; "
    "from formats.bson_columns import compile_walk; compile_walk(); "
    "ks = [k for k in vars(w).values() if isinstance(k, numba.core.registry.CPUDispatcher)]; "
    "print(w.__file__, sorted(k.__name__ for k in ks if sum(k.stats.cache_hits.values())), "
    "sum(sum(k.stats.cache_misses.values()) for k in ks))"
)


@pytest.mark.parametrize(
    ("workdir", "copy"),
    [
        ("/opt/pipelines", "/opt/pipelines/formats/"),
        ("/", "/opt/pipelines/.venv/lib/python3.11/site-packages/formats/"),
    ],
    ids=["flows' working directory", "installed"],
)
def test_a_fresh_container_loads_the_bson_walk_compiled_at_build_time(
    docker_host, pipelines_image, workdir, copy
):
    # every process of a new container would otherwise compile the kernels (2-5 s each)
    output = run_in_image(
        docker_host, pipelines_image, ["sh", "-c", f"cd {workdir} && python -c '{KERNEL_CACHE_PROBE}'"]
    )

    module, _, rest = output.strip().partition(" ")
    loaded, _, misses = rest.rpartition(" ")
    assert module == copy + "bson_walk.py"
    assert loaded == "['document_sizes', 'grouped_by_key', 'string_views', 'walk']", output
    assert misses == "0", f"kernels compiled in the container: {output}"

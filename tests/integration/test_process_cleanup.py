"""A run of `pipelines` that is killed or stopped leaves no process behind: not its
normalise workers, not multiprocessing's resource tracker, not Prefect's temporary API
server. Real processes throughout, checked by PID."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.process_tree import ProcessTree
from tests.support.processes import ROOT, free_port, tcp_ready

pytestmark = pytest.mark.integration

PIPELINES = ROOT / ".venv" / "bin" / "pipelines"
DAY = "2026-11-20"
# Several batches (of up to 50,000): the first fills one, so the worker pool starts, and
# the later ones keep the workers busy while the test signals the run.
EVENTS = 210_000
# Workers and the server check for their parent every half second; a stopped run first
# waits for its next await point to unwind (seconds, on a busy machine).
GONE_WITHIN = 10

WORKER = "multiprocessing.spawn"
WORKER_SETTLE_SECONDS = 2
RESOURCE_TRACKER = "multiprocessing.resource_tracker"
TEMPORARY_API = "pipelines.temporary_api"


def child_env(home: Path, prefect_home: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("PREFECT_")}
    return env | {
        "PIPELINES_HOME": str(home),
        "PIPELINES_WORKERS": "2",
        "PREFECT_HOME": str(prefect_home),
        "PREFECT_PROFILES_PATH": str(prefect_home / "profiles.toml"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
    }


@pytest.fixture(scope="module")
def samples(tmp_path_factory) -> Path:
    """Sample data for DAY, written once by the CLI itself."""
    home = tmp_path_factory.mktemp("cleanup-samples")
    subprocess.run(
        [str(PIPELINES), "sample-data", "--days", "1", "--glamira-days", "1"]
        + ["--glamira-events", str(EVENTS), "--last-day", DAY],
        env=child_env(home, home / "prefect"),
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=300,
    )
    return home / "samples"


@pytest.fixture
def run_env(tmp_path, samples) -> dict[str, str]:
    """A fresh PIPELINES_HOME sharing the samples, and a Prefect home of its own."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "samples").symlink_to(samples, target_is_directory=True)
    return child_env(home, tmp_path / "prefect")


@pytest.fixture
def trees():
    started: list[ProcessTree] = []
    yield started
    for tree in started:  # a failed test must not leave its processes to the next
        tree.kill_all()


def workers_running(tree: ProcessTree) -> bool:
    """Both workers past their start-up (a worker killed while starting ends on its own, so
    the test would prove nothing) and the rest of the run there too."""
    return (
        len([worker for worker in tree.matching(WORKER) if worker.age() > WORKER_SETTLE_SECONDS]) >= 2
        and len(tree.matching(RESOURCE_TRACKER)) == 1
        and len(tree.matching(TEMPORARY_API)) == 1
    )


def glamira_run_with_workers(run_env: dict[str, str], log: Path, trees: list[ProcessTree]) -> ProcessTree:
    tree = ProcessTree.start([str(PIPELINES), "run", "glamira-events", "--day", DAY], run_env, log)
    trees.append(tree)
    tree.wait_for(workers_running, timeout=240, what="normalise workers, resource tracker and temporary API")
    return tree


# SIGKILL and SIGTERM of a run while it lands: tests/integration/test_kill_while_landing.py
def test_an_interrupted_glamira_run_exits_through_its_clean_up_and_leaves_no_process_behind(
    run_env, tmp_path, trees
):
    signum = signal.SIGINT
    # given a glamira-events run whose normalise workers and temporary API are running
    tree = glamira_run_with_workers(run_env, tmp_path / "run.log", trees)

    # when the CLI alone gets the signal (`kill PID`, not a terminal's Ctrl-C to the group)
    tree.send(signum)

    # then every process of the run ends, the CLI through `_exit` (which runs the atexit
    # handlers) with the status a shell gives a process the signal ended
    tree.assert_all_gone(within=GONE_WITHIN)
    assert tree.process.returncode == 128 + signum, tree.log_tail()


def test_the_temporary_api_ends_when_its_parent_is_killed(tmp_path, trees):
    # given a parent that started a server through the wrapper, as Prefect does once patched
    port = free_port()
    uvicorn_args = [
        "--factory",
        "starlette.applications:Starlette",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    parent = (
        "import os, subprocess, time\n"
        "from pipelines import temporary_api\n"
        f"subprocess.Popen(temporary_api.command(os.getpid(), {uvicorn_args!r}))\n"
        "time.sleep(600)\n"
    )
    tree = ProcessTree.start([sys.executable, "-c", parent], dict(os.environ), tmp_path / "parent.log")
    trees.append(tree)
    listening = tcp_ready(port)
    tree.wait_for(lambda t: len(t.matching(TEMPORARY_API)) == 1 and listening(), timeout=60, what="server")

    # when the parent is killed outright
    tree.send(signal.SIGKILL)

    # then the server stops too
    tree.assert_all_gone(within=GONE_WITHIN)

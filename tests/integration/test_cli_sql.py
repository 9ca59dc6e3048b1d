"""`pipelines sql` while another process (a flow run) has the warehouse file open: the
real CLI in a subprocess, the real DuckDB lock held by a second process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pytest

from tests.support.processes import ROOT

pytestmark = pytest.mark.integration

PIPELINES = str(ROOT / ".venv" / "bin" / "pipelines")


@pytest.fixture
def home(tmp_path) -> Path:
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as con:
        con.execute("create schema raw_bahela")
        con.execute("create table raw_bahela.daily_summary as select 'kemang' as site, 35000 as revenue_idr")
    return tmp_path


@contextmanager
def held(path: Path) -> Iterator[subprocess.Popen]:
    """A second process with the file open for writing, as a flow run's load has it,
    until a line arrives on its stdin (so the test decides when it lets go)."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('open', flush=True); "
            "sys.stdin.readline(); c.close(); print('closed', flush=True)",
            str(path),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "open"
        yield holder
    finally:
        if holder.poll() is None:
            holder.kill()
        holder.wait(timeout=30)


def release(holder: subprocess.Popen) -> None:
    holder.stdin.write("go\n")
    holder.stdin.flush()
    assert holder.stdout.readline().strip() == "closed"


def pipelines_sql(home: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [PIPELINES, "sql", *args],
        env={**os.environ, "PIPELINES_HOME": str(home)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )


def test_a_query_on_a_free_warehouse_answers_without_waiting(home):
    done = pipelines_sql(home, "select site, revenue_idr from raw_bahela.daily_summary")
    out, err = done.communicate(timeout=60)

    assert done.returncode == 0, err
    assert "kemang" in out and "35000" in out
    assert "in use" not in err


def test_a_query_waits_for_the_flow_holding_the_warehouse_then_answers(home):
    with held(home / "warehouse.duckdb") as holder:
        query = pipelines_sql(home, "select site from raw_bahela.daily_summary", "--wait", "120")
        # the CLI says it is waiting before the holder lets go: the wait is real, not a race
        waiting = query.stderr.readline()
        release(holder)
        out, rest = query.communicate(timeout=60)

    assert query.returncode == 0, waiting + rest
    assert "kemang" in out
    assert "is in use by another process" in waiting and f"PID {holder.pid}" in waiting
    assert "waiting up to 120s" in waiting
    assert rest == "", "one line about the wait, nothing more"


def test_a_query_gives_up_after_the_wait_with_one_line_and_no_traceback(home):
    with held(home / "warehouse.duckdb") as holder:
        started = time.monotonic()
        query = pipelines_sql(home, "select 1", "--wait", "1.5")
        out, err = query.communicate(timeout=60)
        elapsed = time.monotonic() - started

    lines = err.strip().splitlines()
    assert query.returncode == 1
    assert out == ""
    assert len(lines) == 2, err  # "waiting up to 1.5s", then the verdict
    assert "waiting up to 1.5s" in lines[0]
    assert "still in use by another process" in lines[1] and f"PID {holder.pid}" in lines[1]
    assert "after 1.5s" in lines[1] and "--wait SECONDS" in lines[1]
    assert "Traceback" not in err and "IOException" not in err
    assert elapsed >= 1.5


def test_without_a_wait_a_held_warehouse_fails_at_once(home):
    with held(home / "warehouse.duckdb"):
        query = pipelines_sql(home, "select 1", "--wait", "0")
        _, err = query.communicate(timeout=60)

    assert query.returncode == 1
    assert err.strip().splitlines() == [err.strip()], "a single line: nothing to wait for"
    assert "is in use by another process" in err and "--wait SECONDS" in err

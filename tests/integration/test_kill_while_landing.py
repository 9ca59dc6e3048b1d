"""A run killed while it lands a day: nothing of it survives, the day's partition stays the
last complete one, and a re-run starts at once and gives what a clean run gives.

The source changes between the first run and the killed one (late events arrived), as
in the review that found a killed re-run leaving new parts under the old manifest: 1,000
duplicate event ids in the lake. Real processes throughout: the `pipelines` command on
the embedded default (its temporary Prefect API, its normalise workers), killed with
SIGKILL and SIGTERM, checked by PID."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal
from prefect.filesystems import LocalFileSystem
from prefect.settings import PREFECT_API_URL, temporary_settings

from blocks.lake import Lake, partition_prefix, rejects_prefix
from demo import glamira
from flows.glamira_daily import glamira_daily
from formats.bson_columns import DocumentRun
from tasks.glamira.events import normalise_batch
from tests.integration.test_process_cleanup import (
    GONE_WITHIN,
    PIPELINES,
    RESOURCE_TRACKER,
    TEMPORARY_API,
    WORKER,
    child_env,
)
from tests.support.process_tree import ProcessTree
from tests.support.processes import ROOT

pytestmark = pytest.mark.integration

DAY = date(2026, 11, 20)
EVENTS = 120_000
# a dozen batches: the pool starts, and landing with workers lasts seconds (in three batches
# of 50,000 it lasted 1.4 s, and once the reader got faster one run ended before the test
# could see it)
BATCH_SIZE = 10_000
LATE_EVENTS = 1_000
RUN = [
    "run",
    "glamira-daily",
    "--day",
    DAY.isoformat(),
    "--param",
    "geolocate=false",
    "--param",
    "crawl=false",
    "--param",
    f"batch_size={BATCH_SIZE}",
]


def write_source(mongodump: Path, late: bool) -> None:
    glamira.write_dump(mongodump, [DAY], EVENTS, seed=5)
    if late:  # the same day with late events appended, as a source changes between runs
        extra = mongodump.parent / "late"
        glamira.write_dump(extra, [DAY], LATE_EVENTS, seed=99)
        dump = mongodump / "glamira" / "summary.bson"
        dump.write_bytes(dump.read_bytes() + (extra / "glamira" / "summary.bson").read_bytes())
        shutil.rmtree(extra)


def events_folder(home: Path) -> Path:
    return home / "lake" / "glamira" / "events" / f"dt={DAY}"


def manifest(home: Path) -> dict:
    return json.loads((events_folder(home) / "_manifest.json").read_text())


def landed(home: Path) -> pl.DataFrame:
    folder = events_folder(home)
    parts = [pl.read_parquet(folder / name) for name in manifest(home)["parts"]]
    return pl.concat(parts).sort("event_id")


def warehouse_events(home: Path) -> pl.DataFrame:
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        sql = "select * from raw_glamira.events where day = ? order by event_id"
        return pl.from_arrow(con.sql(sql, params=[DAY]).to_arrow_table())


def run_to_end(home: Path, tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [str(PIPELINES), *RUN],
        env=child_env(home, tmp_path / "prefect") | env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


@pytest.fixture(scope="module")
def clean(tmp_path_factory, prefect_server) -> Path:
    """The changed source landed by one clean run (in this process: the same flow as the
    CLI runs, without its start-up): what every re-run must give."""
    home = tmp_path_factory.mktemp("clean")
    write_source(home / "samples" / "glamira" / "mongodump", late=True)
    saved = {name: os.environ.get(name) for name in ("PIPELINES_HOME", "PIPELINES_WORKERS")}
    os.environ.update(PIPELINES_HOME=str(home), PIPELINES_WORKERS="2")
    try:
        with temporary_settings({PREFECT_API_URL: prefect_server}):
            asyncio.run(glamira_daily(day=DAY, geolocate=False, crawl=False))
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return home


def land_first_generation(home: Path, mongodump: Path) -> None:
    """The day as an earlier run landed it (written here, in this process: cheaper than a
    run, and all the killed run must leave alone)."""
    raw = (mongodump / "glamira" / "summary.bson").read_bytes()
    batch = normalise_batch(DocumentRun.of(raw), DAY)
    lake = Lake(LocalFileSystem(basepath=str(home / "lake")), announce=False)
    asyncio.run(lake.replace_partition(partition_prefix("glamira", "events", DAY), [batch.events]))
    asyncio.run(lake.replace_partition(rejects_prefix("glamira", "events", DAY), [batch.rejects]))


def landing_with_workers(tree: ProcessTree, home: Path, first: dict) -> bool:
    """A part of the new generation is written while the normalise workers run."""
    new_part = any(p.name not in first["parts"] for p in events_folder(home).glob("part-*.parquet"))
    return (
        new_part
        and len(tree.matching(WORKER)) >= 2
        and len(tree.matching(RESOURCE_TRACKER)) == 1
        and len(tree.matching(TEMPORARY_API)) == 1
    )


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_a_run_killed_while_landing_leaves_the_last_day_whole_and_a_rerun_gives_the_clean_result(
    clean, tmp_path, signum
):
    # given a day landed once, then late events in the source
    home = tmp_path / "home"
    mongodump = home / "samples" / "glamira" / "mongodump"
    write_source(mongodump, late=False)
    land_first_generation(home, mongodump)
    first = manifest(home)
    before = landed(home)
    write_source(mongodump, late=True)

    # when the re-run is signalled once its workers run and it has written a new part
    tree = ProcessTree.start(
        [str(PIPELINES), *RUN], child_env(home, tmp_path / "prefect"), tmp_path / "killed.log"
    )
    try:
        tree.wait_for(
            lambda t: landing_with_workers(t, home, first), timeout=300, what="landing with workers"
        )
        tree.send(signum)

        # then no process of the killed run survives: CLI, workers, resource tracker, temporary API
        tree.assert_all_gone(within=GONE_WITHIN)
    finally:
        tree.kill_all()
    if signum == signal.SIGTERM:  # stopped through its clean-up, with a shell's status for it
        assert tree.process.returncode == 128 + signum, tree.log_tail()
    # and the day is still the first generation, whole: no new part under the old manifest
    assert manifest(home) == first
    assert_frame_equal(landed(home), before)
    assert landed(home)["event_id"].is_unique().all()

    # when the day is run again, allowed no wait for the day's lease
    run_to_end(home, tmp_path, PIPELINES_DAY_LOCK_WAIT_SECONDS="0")

    # then it lands what a clean run lands, in the lake and the warehouse, and nothing else
    assert_frame_equal(landed(home), landed(clean))
    rejects = home / "lake" / "glamira" / "_rejects" / "events" / f"dt={DAY}" / "_manifest.json"
    assert manifest(home)["rows"] + json.loads(rejects.read_text())["rows"] == EVENTS + LATE_EVENTS
    assert_frame_equal(warehouse_events(home), warehouse_events(clean))
    names = sorted(p.name for p in events_folder(home).iterdir())
    assert names == sorted(["_manifest.json", *manifest(home)["parts"]]), "no stray file in the partition"

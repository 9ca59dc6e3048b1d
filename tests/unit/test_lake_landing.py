"""The lake's landing contract on a local lake: a new generation replaces the old one only
when it is complete, a write that dies leaves the old one readable, and the next write
clears what a dead one left. And the day lease: one holder, freed when its process dies."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from prefect.filesystems import LocalFileSystem

from blocks.lake import Lake, partition_prefix
from blocks.lake_lease import Holder, LeaseTimeout, hold

pytestmark = pytest.mark.anyio

DAY = date(2026, 11, 21)
PREFIX = partition_prefix("glamira", "events", DAY)
ROOT = Path(__file__).resolve().parents[2]
LOG = logging.getLogger("test")


@pytest.fixture
def lake(tmp_path) -> Lake:
    return Lake(LocalFileSystem(basepath=str(tmp_path / "lake")), announce=False)


def frame(*values: int) -> pl.DataFrame:
    return pl.DataFrame({"day": [DAY] * len(values), "n": list(values)})


def names(lake: Lake) -> list[str]:
    folder = lake.root() / PREFIX
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


async def test_a_write_that_fails_leaves_the_previous_generation_and_removes_its_own_parts(lake):
    await lake.replace_partition(PREFIX, [frame(1, 2)])
    before = names(lake)

    with pytest.raises(RuntimeError, match="counts do not add up"):
        async with lake.replacing(PREFIX) as writer:
            await writer.write(frame(7))
            await writer.write(frame(8))
            raise RuntimeError("counts do not add up")

    assert names(lake) == before
    assert (await lake.read_partition(PREFIX))["n"].to_list() == [1, 2]


async def test_the_next_write_clears_parts_and_temporary_files_a_dead_write_left(lake):
    await lake.replace_partition(PREFIX, [frame(1)])
    folder = lake.root() / PREFIX
    (folder / "part-20260101000000dead00-0000.parquet").write_bytes(b"parquet of a run that died")
    (folder / ".part-20260101000000dead00-0001.parquet.x1y2z3").write_bytes(b"half written")

    assert (await lake.read_partition(PREFIX))["n"].to_list() == [1]  # readers go by the manifest
    landed = await lake.replace_partition(PREFIX, [frame(2)])

    assert names(lake) == ["_manifest.json", f"part-{landed.generation}-0000.parquet"]


async def test_a_partition_whose_first_write_died_is_not_listed_or_read(lake):
    folder = lake.root() / PREFIX
    folder.mkdir(parents=True)
    (folder / "part-20260101000000dead00-0000.parquet").write_bytes(b"never finished")

    assert await lake.list_partitions("glamira", "events") == []
    assert await lake.read_partition(PREFIX) is None


async def test_files_attached_to_a_generation_live_and_go_with_it(lake):
    async with lake.replacing(PREFIX) as writer:
        await writer.write(frame(1))
        await writer.attach("products.csv", b"product_id\n1\n")
    assert "products.csv" in names(lake)

    await lake.replace_partition(PREFIX, [frame(2)])

    assert "products.csv" not in names(lake)


_KILLED_WRITER = textwrap.dedent(
    """
    import asyncio, sys, time
    from datetime import date
    import polars as pl
    from prefect.filesystems import LocalFileSystem
    from blocks.lake import Lake, partition_prefix

    async def main():
        lake = Lake(LocalFileSystem(basepath=sys.argv[1]), announce=False)
        prefix = partition_prefix("glamira", "events", date(2026, 11, 21))
        async with lake.replacing(prefix) as writer:
            for n in range(3):
                await writer.write(pl.DataFrame({"day": [date(2026, 11, 21)], "n": [100 + n]}))
            print("parts written", flush=True)
            time.sleep(60)  # killed here, before the manifest switch

    asyncio.run(main())
    """
)


async def test_a_writer_killed_before_the_switch_leaves_the_old_generation_in_force(lake):
    await lake.replace_partition(PREFIX, [frame(1, 2)])
    writer = subprocess.Popen(
        [sys.executable, "-c", _KILLED_WRITER, str(lake.root())],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert writer.stdout.readline().strip() == "parts written"

    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=30)

    assert len([n for n in names(lake) if n.startswith("part-")]) == 4  # its three parts stay behind
    assert (await lake.read_partition(PREFIX))["n"].to_list() == [1, 2]
    landed = await lake.replace_partition(PREFIX, [frame(3)])
    assert names(lake) == ["_manifest.json", f"part-{landed.generation}-0000.parquet"]


# -- the day lease ------------------------------------------------------------------------


async def test_a_second_holder_waits_then_gives_up_naming_the_first(lake):
    first = Holder.this_process("flow run 'bahela-daily-2026-11-21' (first)")
    async with hold(lake, "bahela-daily/2026-11-21", first, LOG, wait_seconds=5):
        started = time.monotonic()
        with pytest.raises(LeaseTimeout, match=r"bahela-daily-2026-11-21' \(first\).*gave up after 1s"):
            async with hold(
                lake, "bahela-daily/2026-11-21", Holder.this_process("second"), LOG, wait_seconds=1
            ):
                pytest.fail("two holders at once")
        assert 0.9 <= time.monotonic() - started < 5


async def test_a_released_lease_is_taken_by_the_waiting_run(lake):
    order: list[str] = []

    async def run(name: str, seconds: float) -> None:
        async with hold(lake, "glamira-daily/2026-11-21", Holder.this_process(name), LOG, wait_seconds=10):
            order.append(f"{name} in")
            await asyncio.sleep(seconds)
            order.append(f"{name} out")

    await asyncio.gather(run("first", 0.5), run("second", 0))

    assert order in (
        ["first in", "first out", "second in", "second out"],
        ["second in", "second out", "first in", "first out"],
    )


async def test_leases_of_different_days_or_lakes_do_not_meet(lake, tmp_path):
    other_lake = Lake(LocalFileSystem(basepath=str(tmp_path / "another-home" / "lake")), announce=False)
    holder = Holder.this_process("first")
    async with (
        hold(lake, "bahela-daily/2026-11-21", holder, LOG, wait_seconds=0),
        hold(lake, "bahela-daily/2026-11-22", holder, LOG, wait_seconds=0),
        hold(other_lake, "bahela-daily/2026-11-21", holder, LOG, wait_seconds=0),
    ):
        pass  # none of them waited


_KILLED_HOLDER = textwrap.dedent(
    """
    import asyncio, logging, sys, time
    from prefect.filesystems import LocalFileSystem
    from blocks.lake import Lake
    from blocks.lake_lease import Holder, hold

    async def main():
        lake = Lake(LocalFileSystem(basepath=sys.argv[1]), announce=False)
        async with hold(lake, "bahela-daily/2026-11-21", Holder.this_process("doomed"), logging.getLogger()):
            print("holding", flush=True)
            time.sleep(60)

    asyncio.run(main())
    """
)


async def test_a_killed_holders_lease_is_free_at_once(lake):
    holder = subprocess.Popen(
        [sys.executable, "-c", _KILLED_HOLDER, str(lake.root())], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline().strip() == "holding"
    with pytest.raises(LeaseTimeout, match=f"doomed \\(pid {holder.pid} on "):
        async with hold(lake, "bahela-daily/2026-11-21", Holder.this_process("next"), LOG, wait_seconds=0.3):
            pass

    os.kill(holder.pid, signal.SIGKILL)
    holder.wait(timeout=30)

    started = time.monotonic()
    async with hold(lake, "bahela-daily/2026-11-21", Holder.this_process("next"), LOG, wait_seconds=5):
        assert time.monotonic() - started < 1.5


def test_a_holder_is_read_back_from_what_it_wrote():
    holder = Holder.this_process("flow run 'x' (1)")

    assert Holder.from_json(holder.to_json()) == holder
    assert Holder.from_json(b'{"half": ') is None
    assert json.loads(holder.to_json())["pid"] == os.getpid()

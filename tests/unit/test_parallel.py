"""tasks.parallel.ordered_map: batches normalised on worker processes come back in order,
with the same results as in-process, a one-batch day starts no processes, and workers
do not outlive the process that started them."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from datetime import date
from pathlib import Path

import pytest

from demo import glamira
from tasks import parallel
from tasks.glamira.events import normalise_batch
from tests.support.process_tree import ProcessTree

DAY = date(2026, 11, 20)


def square_with_pid(batch: list[int], offset: int) -> tuple[list[int], int]:
    return [x * x + offset for x in batch], os.getpid()


def fail_on_three(batch: list[int]) -> list[int]:
    if 3 in batch:
        raise ValueError("batch with a 3")
    return batch


async def batches(items: list, size: int):
    for start in range(0, len(items), size):
        await asyncio.sleep(0)
        yield items[start : start + size]


async def collect(fn, source, *args, workers):
    return [result async for result in parallel.ordered_map(fn, source, *args, workers=workers)]


def test_results_come_back_in_order_from_other_processes():
    results = asyncio.run(collect(square_with_pid, batches(list(range(40)), 3), 1, workers=2))

    assert [x for values, _ in results for x in values] == [x * x + 1 for x in range(40)]
    pids = {pid for _, pid in results}
    assert os.getpid() in pids and len(pids - {os.getpid()}) >= 1  # the first here, the rest there


def test_one_batch_runs_here_without_a_pool():
    results = asyncio.run(collect(square_with_pid, batches([1, 2], 5), 0, workers=4))

    assert results == [([1, 4], os.getpid())]


def test_a_failing_batch_raises_here():
    with pytest.raises(ValueError, match="batch with a 3"):
        asyncio.run(collect(fail_on_three, batches(list(range(10)), 2), workers=2))


def test_normalised_batches_equal_the_in_process_ones():
    raw = list(glamira.iter_encoded_events(DAY, 6_000, seed=3))
    chunks = [raw[i : i + 1_000] for i in range(0, len(raw), 1_000)]

    async def source():
        for chunk in chunks:
            yield chunk

    parallel_results = asyncio.run(collect(normalise_batch, source(), DAY, workers=2))
    here = [normalise_batch(chunk, DAY) for chunk in chunks]

    assert len(parallel_results) == len(here) == 6
    for got, expected in zip(parallel_results, here, strict=True):
        assert got.events.equals(expected.events) and got.rejects.equals(expected.rejects)


def test_workers_default_to_the_environment_then_the_cores(monkeypatch):
    monkeypatch.setenv(parallel.WORKERS_ENV, "3")
    assert parallel.default_workers() == 3
    monkeypatch.delenv(parallel.WORKERS_ENV)
    assert parallel.default_workers() == min(8, parallel.available_cores())


def test_a_normalised_batch_survives_pickling_whole():
    import pickle

    raw = list(glamira.iter_encoded_events(DAY, 2_000, seed=5))
    raw.append(b"\x05\x00\x00\x00\x01")  # a broken document: one reject
    batch = normalise_batch(raw, DAY)

    copy = pickle.loads(pickle.dumps(batch))

    assert copy.raw_documents == batch.raw_documents == 2_001 and copy.rejects.height == 1
    assert copy.events.equals(batch.events) and copy.events.schema == batch.events.schema
    assert copy.rejects.equals(batch.rejects)


def sleep_through(batch: list[float]) -> None:
    time.sleep(batch[0])


def test_a_cancelled_map_ends_its_workers_without_waiting_for_their_batches():
    # given workers each handed a minute-long batch (the first, instant one runs here)
    async def cancelled_after(seconds: float) -> None:
        async def minutes():
            for duration in (0, 60, 60, 60):
                yield [duration]

        with pytest.raises(TimeoutError):
            async with asyncio.timeout(seconds):
                async for _ in parallel.ordered_map(sleep_through, minutes(), workers=2):
                    pass

    # when the map is cancelled (a SIGINT'd run is cancelled the same way)
    started = time.monotonic()
    asyncio.run(cancelled_after(3))

    # then it returns long before those batches could have finished
    assert time.monotonic() - started < 30


def mark_then_sleep(batch: tuple[str, float]) -> None:
    marker, seconds = batch
    Path(marker).touch()
    time.sleep(seconds)


# A parent whose two workers each sleep through a minute-long batch, as busy as workers
# normalising a batch; the first batch (no sleep) runs in the parent itself.
BUSY_PARENT = """
import asyncio, sys
from tasks.parallel import ordered_map
from tests.unit.test_parallel import mark_then_sleep

async def batches():
    yield (sys.argv[1] + "/0", 0)
    for n in (1, 2, 3):
        yield (sys.argv[1] + f"/{n}", 60)

async def main():
    async for _ in ordered_map(mark_then_sleep, batches(), workers=2):
        pass

asyncio.run(main())
"""


def test_workers_and_resource_tracker_exit_when_the_parent_is_killed(tmp_path):
    # given a parent process whose two workers are each busy with a batch
    markers = tmp_path / "started"
    markers.mkdir()
    command = [sys.executable, "-c", BUSY_PARENT, str(markers)]
    tree = ProcessTree.start(command, dict(os.environ), tmp_path / "parent.log")
    try:
        tree.wait_for(
            lambda t: (markers / "1").exists() and (markers / "2").exists(),
            timeout=60,
            what="two batches started on the workers",
        )
        assert len(tree.matching("multiprocessing.spawn")) == 2
        assert len(tree.matching("multiprocessing.resource_tracker")) == 1

        # when the parent is killed outright: no clean-up of its own runs
        tree.send(signal.SIGKILL)

        # then the workers notice and exit, and the tracker, its pipe closed, follows
        tree.assert_all_gone(within=5)
    finally:
        tree.kill_all()

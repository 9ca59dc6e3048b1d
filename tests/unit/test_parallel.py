"""tasks.parallel.ordered_map: batches normalised on worker processes come back in order,
with the same results as in-process, and a one-batch day starts no processes."""

from __future__ import annotations

import asyncio
import os
from datetime import date

import pytest

from pipelines.sample_data import glamira
from tasks import parallel
from tasks.glamira.events import normalise_batch

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

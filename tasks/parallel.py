"""CPU-bound batch work spread over this machine's cores, in order, with bounded memory.

Decoding and normalising a batch of BSON is pure CPU in one Python thread; on a machine
with several cores a day of millions of events goes as fast as there are processes. The
reader (MongoDB, asynchronous) stays in the flow's process and hands raw batches to
worker processes; results come back in the order the batches were read, and at most
`workers + 1` batches are in flight, so memory does not grow with the day.

The pool starts only when a second batch arrives: a small day (one batch) never pays
for starting processes.

Workers end themselves when the process that started them dies, however it died (even
`kill -9`): a worker blocked on its call queue would otherwise live on, holding its
memory, long after the run it served.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from typing import Any

WORKERS_ENV = "PIPELINES_WORKERS"
# How often a worker checks that its parent is alive: the delay before an orphan exits.
PARENT_CHECK_SECONDS = 0.5


def available_cores() -> int:
    """Cores this process may run on (a container's CPU set, not the host's)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def default_workers() -> int:
    """`PIPELINES_WORKERS` if set, else one process per available core (at most 8)."""
    if value := os.environ.get(WORKERS_ENV, "").strip():
        return max(1, int(value))
    return max(1, min(8, available_cores()))


def _import(module: str) -> None:
    importlib.import_module(module)


def _exit_with_parent(parent_pid: int) -> None:
    """Pool initializer: end this worker soon after `parent_pid` dies.

    A dead parent's children are adopted by another process, so `getppid()` changes;
    polling it works whatever thread started the worker. (Linux's PR_SET_PDEATHSIG
    would fire when the *thread* that started the worker ends, which in an event loop
    run from a thread pool can be long before the parent process does.)"""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(PARENT_CHECK_SECONDS)
        os._exit(1)  # the batch in hand has no one left to return it to

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _start_pool(fn: Callable[..., Any], workers: int) -> ProcessPoolExecutor:
    # spawn, not fork: the flow's process has threads (Prefect's, the event loop's)
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=get_context("spawn"),
        initializer=_exit_with_parent,
        initargs=(os.getpid(),),
    )
    for _ in range(workers):  # start every worker now and import fn's module there
        pool.submit(_import, fn.__module__)
    return pool


def _terminate_workers(pool: ProcessPoolExecutor) -> None:
    """End the workers now rather than after their current batch (several seconds each).
    Python 3.14 has `ProcessPoolExecutor.terminate_workers()`; before it, the executor's
    own table of its processes is the only handle on them."""
    processes = getattr(pool, "_processes", None) or {}
    for process in list(processes.values()):
        process.terminate()


async def ordered_map(
    fn: Callable[..., Any],
    batches: AsyncIterator[Any],
    *args: Any,
    workers: int | None = None,
    full_batch: int | None = None,
) -> AsyncIterator[Any]:
    """`fn(batch, *args)` for each batch, yielded in order. `fn` must be a module-level
    function (it is pickled to the workers), as must its arguments and result.

    The first batch is done here. When it has `full_batch` items (more are likely to
    follow) the workers start meanwhile: starting them takes seconds (imports)."""
    workers = default_workers() if workers is None else max(1, workers)
    loop = asyncio.get_running_loop()
    pool: ProcessPoolExecutor | None = None
    pending: deque[asyncio.Future] = deque()
    first = True
    finished = False
    try:
        async for batch in batches:
            if workers == 1 or first:
                first = False
                if workers > 1 and full_batch and len(batch) >= full_batch:
                    pool = _start_pool(fn, workers)
                yield fn(batch, *args)  # a one-batch day starts no pool
                continue
            if pool is None:
                pool = _start_pool(fn, workers)
            pending.append(loop.run_in_executor(pool, fn, batch, *args))
            del batch
            while len(pending) > workers:
                yield await pending.popleft()
        while pending:
            yield await pending.popleft()
        finished = True
    finally:
        for future in pending:
            future.cancel()
        if pool is not None:
            if not finished:  # failed, cancelled or abandoned: no one waits for the batches in hand
                _terminate_workers(pool)
            pool.shutdown(wait=True, cancel_futures=True)

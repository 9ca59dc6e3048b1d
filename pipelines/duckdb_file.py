"""Opening the embedded warehouse's DuckDB file while other processes may hold it.

DuckDB lets one process at a time open a file for writing, and none read-only while a
writer holds it. Flow runs (`DuckDBWarehouse`) and `pipelines sql` share this one way of
waiting their turn. It lives outside `blocks/` so the CLI can open the file without
importing Prefect and the GCP libraries (seconds, for a one-line query).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import duckdb


def connect_when_free(
    path: str | Path,
    timeout_seconds: float,
    read_only: bool = False,
    on_wait: Callable[[duckdb.IOException], None] | None = None,
) -> duckdb.DuckDBPyConnection:
    """A connection to `path` once no other process holds it, trying again with backoff
    for up to `timeout_seconds`. `on_wait` is called once, with DuckDB's lock error, when
    the file turns out to be held; past the timeout that error is raised."""
    deadline = time.monotonic() + timeout_seconds
    pause = 0.1
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as exc:
            remaining = deadline - time.monotonic()
            if not is_lock_conflict(exc) or remaining <= 0:
                raise
            if on_wait is not None:
                on_wait(exc)
                on_wait = None
            time.sleep(min(pause, remaining))
            pause = min(pause * 2, 2.0)


def is_lock_conflict(exc: duckdb.IOException) -> bool:
    """DuckDB's "Could not set lock on file ...": another process has the file open."""
    return "lock" in str(exc)


def lock_holder_pid(exc: duckdb.IOException) -> int | None:
    """The process holding the file, when DuckDB names it ("... is held in ... (PID 123)")."""
    found = re.search(r"\(PID (\d+)\)", str(exc))
    return int(found.group(1)) if found else None

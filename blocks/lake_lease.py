"""A lease on a name, kept in the lake: one holder at a time, released when the holder
dies.

Two runs of the same business day must not interleave their writes. The lease lives where
those writes go, so runs that share a lake share the lease and runs of different lakes
(another PIPELINES_HOME, another bucket) never do, whichever Prefect API orchestrates them.

- Local lake: an exclusive `flock` on `_leases/<name>.lock`. The kernel drops it the
  moment the holding process dies, however it dies.
- GCS lake: an object `_leases/<name>.json` created only if absent (generation
  precondition 0) and renewed by its holder every `ttl/3` seconds under a precondition on
  its own generation. A holder that dies stops renewing; `ttl` seconds later the lease
  is expired and the next run takes it over, again under a precondition, so two waiters
  can never both win. A holder that finds its lease taken (it stalled past `ttl`) stops
  its own run rather than write beside the new holder.

A waiting run logs whom it waits for and gives up after `wait_seconds` with an error that
names the holder.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from prefect_gcp.cloud_storage import GcsBucket

if TYPE_CHECKING:
    from blocks.lake import Lake

FOLDER = "_leases"
WAIT_ENV = "PIPELINES_DAY_LOCK_WAIT_SECONDS"
DEFAULT_WAIT_SECONDS = 900.0


class LeaseTimeout(RuntimeError):
    """Another run held the lease for longer than this run was willing to wait."""


class LeaseLost(RuntimeError):
    """This run's lease expired and another run took it over."""


@dataclass(frozen=True)
class Holder:
    """Who holds a lease, as a waiting run reports it."""

    run: str  # the flow run's name and id, or the command
    host: str
    pid: int
    since: str  # ISO 8601, UTC
    expires_at: float = 0.0  # epoch seconds (GCS leases only)

    @classmethod
    def this_process(cls, run: str) -> Holder:
        return cls(run, socket.gethostname(), os.getpid(), datetime.now(UTC).isoformat(timespec="seconds"))

    def describe(self) -> str:
        return f"{self.run} (pid {self.pid} on {self.host}, since {self.since})"

    def to_json(self) -> bytes:
        return json.dumps(asdict(self)).encode()

    @classmethod
    def from_json(cls, content: bytes) -> Holder | None:
        try:
            return cls(**json.loads(content))
        except (ValueError, TypeError):  # written half-way, or by something else
            return None


def wait_seconds_from_env() -> float:
    value = os.environ.get(WAIT_ENV, "").strip()
    return float(value) if value else DEFAULT_WAIT_SECONDS


@contextlib.asynccontextmanager
async def hold(
    lake: Lake,
    name: str,
    holder: Holder,
    logger: logging.Logger | logging.LoggerAdapter,
    wait_seconds: float | None = None,
    ttl_seconds: float = 120.0,
) -> AsyncIterator[Holder]:
    """Hold the lease `name` on `lake` for the duration of the block."""
    wait = wait_seconds_from_env() if wait_seconds is None else wait_seconds
    lease = (
        _GcsLease(lake.storage, name, ttl_seconds)
        if isinstance(lake.storage, GcsBucket)
        else _LocalLease(lake.root(), name)
    )
    deadline = time.monotonic() + wait
    announced = 0.0
    while not await lease.try_acquire(holder):
        other = await lease.holder()
        who = other.describe() if other else "a run that has not said who it is"
        now = time.monotonic()
        if now >= deadline:
            raise LeaseTimeout(
                f"the lease '{name}' on {lake.describe()} is held by {who}; gave up after {wait:.0f}s. "
                "If that run is still working, let it finish; if it is stuck, cancel it in Prefect "
                f"(a dead run's lease frees itself{_expiry_note(lease)}). {WAIT_ENV} sets the wait."
            )
        if now - announced >= 60:  # say so at once, then once a minute
            logger.info("waiting for the lease '%s' held by %s (up to %.0fs more)", name, who, deadline - now)
            announced = now
        await asyncio.sleep(min(lease.poll_seconds, max(0.05, deadline - now)))
    logger.info(
        "holding the lease '%s' on %s: other runs of it wait until this one ends", name, lake.describe()
    )
    try:
        async with lease.kept():
            yield holder
    finally:
        await lease.release()


def _expiry_note(lease) -> str:
    return f" within {lease.ttl:.0f}s" if isinstance(lease, _GcsLease) else " at once"


class _LocalLease:
    poll_seconds = 0.5

    def __init__(self, root: Path, name: str):
        self.path = root / FOLDER / f"{name}.lock"
        self.fd: int | None = None

    async def try_acquire(self, holder: Holder) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # the file is never deleted: a waiter holding an unlinked file could lock it
        # while a newcomer locks a fresh one under the same name
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.pwrite(fd, holder.to_json(), 0)
        self.fd = fd
        return True

    async def holder(self) -> Holder | None:
        try:
            return Holder.from_json(self.path.read_bytes())
        except FileNotFoundError:
            return None

    @contextlib.asynccontextmanager
    async def kept(self) -> AsyncIterator[None]:
        yield  # the kernel keeps it for as long as this process lives

    async def release(self) -> None:
        if self.fd is not None:
            os.ftruncate(self.fd, 0)
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


class _GcsLease:
    poll_seconds = 5.0

    def __init__(self, storage: GcsBucket, name: str, ttl: float):
        self.storage, self.ttl = storage, ttl
        self.object_name = f"{storage.bucket_folder}{FOLDER}/{name}.json"
        self.generation: int | None = None
        self.body: Holder | None = None

    async def _blob(self, generation: int | None = None):
        bucket = await self.storage.aget_bucket()
        return bucket.blob(self.object_name, generation=generation)

    async def _put(self, holder: Holder, if_generation_match: int) -> bool:
        from google.api_core.exceptions import NotFound, PreconditionFailed

        body = Holder(holder.run, holder.host, holder.pid, holder.since, time.time() + self.ttl)
        blob = await self._blob()
        try:
            await asyncio.to_thread(
                blob.upload_from_string,
                body.to_json(),
                content_type="application/json",
                if_generation_match=if_generation_match,
            )
        except (PreconditionFailed, NotFound):
            return False
        self.generation, self.body = blob.generation, body
        return True

    async def _current(self) -> tuple[int, Holder | None] | None:
        from google.api_core.exceptions import NotFound

        bucket = await self.storage.aget_bucket()
        blob = await asyncio.to_thread(bucket.get_blob, self.object_name)
        if blob is None:
            return None
        try:
            content = await asyncio.to_thread(blob.download_as_bytes, if_generation_match=blob.generation)
        except NotFound:
            return None
        return blob.generation, Holder.from_json(content)

    async def try_acquire(self, holder: Holder) -> bool:
        if await self._put(holder, if_generation_match=0):
            return True
        current = await self._current()
        if current is None:
            return False  # released meanwhile: the next poll creates it
        generation, other = current
        expired = other is None or other.expires_at < time.time()
        return expired and await self._put(holder, if_generation_match=generation)

    async def holder(self) -> Holder | None:
        current = await self._current()
        return current[1] if current else None

    @contextlib.asynccontextmanager
    async def kept(self) -> AsyncIterator[None]:
        owner = asyncio.current_task()
        lost: list[str] = []

        async def renew() -> None:
            while True:
                await asyncio.sleep(self.ttl / 3)
                assert self.body is not None and self.generation is not None
                if not await self._put(self.body, if_generation_match=self.generation):
                    lost.append(self.object_name)
                    if owner is not None:
                        owner.cancel()
                    return

        renewer = asyncio.create_task(renew())
        try:
            yield
        except asyncio.CancelledError:
            if lost:
                raise LeaseLost(
                    f"the lease gs://{self.storage.bucket}/{self.object_name} expired while this run held "
                    "it (it did not renew for longer than the lease lasts) and another run took it over; "
                    "this run stopped so that the two do not write the same day. Re-run the day."
                ) from None
            raise
        finally:
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer

    async def release(self) -> None:
        from google.api_core.exceptions import NotFound, PreconditionFailed

        if self.generation is None:
            return
        blob = await self._blob()
        with contextlib.suppress(NotFound, PreconditionFailed):  # taken over, or gone
            await asyncio.to_thread(blob.delete, if_generation_match=self.generation)
        self.generation = None

"""The lake: parquet partitions by day, through a Prefect storage block.

`LocalFileSystem` is the embedded default and prefect-gcp's `GcsBucket` the production
lake. Layout: `{source}/{dataset}/dt=YYYY-MM-DD/part-<generation>-NNNN.parquet` plus
`_manifest.json` (rejects under `{source}/_rejects/{dataset}/dt=...`).

Landing is one contract, used by every flow (`Lake.replacing`):
1. the new generation's parts are written under names no earlier write used;
2. the manifest is switched last, in one atomic write: it lists exactly the new parts;
3. whatever else lies under the partition (an earlier generation, the parts or temporary
   files of a write that died) is deleted;
4. the landing is announced (`lake.object.finalized` events, parts first, manifest last).

A run that dies at any instruction leaves the last complete generation in force: every
reader (`read_partition`, `read_columns`, `manifest_parts`, the warehouse loads) reads
only what the manifest lists, and the next write of the partition removes the leftovers.
"""

from __future__ import annotations

import io
import json
import os
import re
import secrets
import tempfile
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path, PurePosixPath

import polars as pl
from prefect.filesystems import LocalFileSystem
from prefect_gcp.cloud_storage import GcsBucket

from formats.parquet_parts import EncodedPart
from pipelines.errors import ConfigurationError

MANIFEST = "_manifest.json"
LAKE_EVENT = "lake.object.finalized"
LakeStorage = LocalFileSystem | GcsBucket
_PARTITION = re.compile(r"^(?P<source>[^/]+)/(?P<dataset>(?:_rejects/)?[^/]+)/dt=(?P<day>\d{4}-\d{2}-\d{2})$")


@dataclass(frozen=True)
class LakeObject:
    """One object of the lake as a notification would describe it."""

    key: str  # relative to the lake's root
    uri: str  # gs://bucket/folder/key or an absolute local path
    bucket: str  # "" for a local lake
    name: str  # the object's name in its bucket (folder included) or its local path
    generation: str  # GCS generation; the file's modification time in ns locally
    size: int = 0


@dataclass(frozen=True)
class LandedPartition:
    """What one write put in the lake: where, how many rows, and the objects' URIs."""

    prefix: str
    rows: int
    uris: list[str] = field(default_factory=list)
    objects: list[LakeObject] = field(default_factory=list)  # the parts, then the manifest
    generation: str = ""


def partition_prefix(source: str, dataset: str, day: date) -> str:
    return f"{source}/{dataset}/dt={day.isoformat()}"


def rejects_prefix(source: str, dataset: str, day: date) -> str:
    return f"{source}/_rejects/{dataset}/dt={day.isoformat()}"


def new_generation() -> str:
    """A name for one write's parts: sortable by time, unique across processes."""
    return f"{datetime.now(UTC):%Y%m%d%H%M%S}{secrets.token_hex(3)}"


class PartitionWriter:
    """The parts of one generation of a partition, as they are written."""

    def __init__(self, lake: Lake, prefix: str, generation: str):
        self.lake, self.prefix, self.generation = lake, prefix, generation
        self.keys: list[str] = []
        self.files: list[str] = []
        self.rows = 0
        self.landed: LandedPartition | None = None

    async def write(self, frame: pl.DataFrame | EncodedPart) -> None:
        """One part; a part may come already encoded (made on a worker process)."""
        part = frame if isinstance(frame, EncodedPart) else EncodedPart.of(frame)
        if part.rows == 0 and self.keys:
            return  # an empty batch after the first adds nothing but a file
        key = f"{self.prefix}/part-{self.generation}-{len(self.keys):04d}.parquet"
        await self.lake._write(key, part.content)
        self.keys.append(key)
        self.rows += part.rows

    async def attach(self, name: str, content: bytes) -> str:
        """A file beside the parts (e.g. a CSV export), kept as long as this generation is."""
        key = f"{self.prefix}/{name}"
        await self.lake._write(key, content)
        self.files.append(name)
        return self.lake.uri(key)


class Lake:
    """Partition-level reads and writes over a `LocalFileSystem` or `GcsBucket` block.

    `announce=False` lands without emitting events (tests of the lake alone)."""

    def __init__(self, storage: LakeStorage, announce: bool = True):
        if not isinstance(storage, LocalFileSystem | GcsBucket):
            raise ConfigurationError(
                f"a lake block must be LocalFileSystem or GcsBucket, not {type(storage).__name__}"
            )
        self.storage = storage
        self.announce = announce

    def describe(self) -> str:
        if isinstance(self.storage, GcsBucket):
            return f"GCS lake gs://{self.storage.bucket}/{self.storage.bucket_folder}"
        return f"local lake {self.storage.basepath}"

    def uri(self, key: str) -> str:
        """A URI a warehouse can load from: `gs://bucket/...` or an absolute local path."""
        if isinstance(self.storage, GcsBucket):
            folder = self.storage.bucket_folder.strip("/")
            return f"gs://{self.storage.bucket}/{PurePosixPath(folder, key) if folder else key}"
        return str(self.root() / key)

    def root(self) -> Path:
        """The local lake's folder (a local lake only)."""
        return Path(self.storage.basepath).expanduser().resolve()

    # -- landing ------------------------------------------------------------------------

    @asynccontextmanager
    async def replacing(self, prefix: str, metadata: dict | None = None) -> AsyncIterator[PartitionWriter]:
        """Write a new generation of the partition inside the block; it replaces the old
        one when the block ends without an error (see the module's contract). An error,
        a reconciliation that does not add up for instance, leaves the old generation in
        force and removes the new parts. `writer.landed` holds the result."""
        writer = PartitionWriter(self, prefix, new_generation())
        try:
            yield writer
        except BaseException:
            await self._delete([*writer.keys, *(f"{prefix}/{name}" for name in writer.files)])
            raise
        writer.landed = await self._commit(writer, metadata or {})

    async def replace_partition(
        self, prefix: str, frames: Iterable[pl.DataFrame | EncodedPart], metadata: dict | None = None
    ) -> LandedPartition:
        """The partition made of `frames`, as one new generation."""
        async with self.replacing(prefix, metadata) as writer:
            for frame in frames:
                await writer.write(frame)
        assert writer.landed is not None
        return writer.landed

    async def replace_partition_stream(
        self, prefix: str, frames: AsyncIterable[pl.DataFrame | EncodedPart], metadata: dict | None = None
    ) -> LandedPartition:
        """The same, for frames that arrive one at a time: each is written as it comes, so
        a day larger than memory lands in bounded memory."""
        async with self.replacing(prefix, metadata) as writer:
            async for frame in frames:
                await writer.write(frame)
        assert writer.landed is not None
        return writer.landed

    async def _commit(self, writer: PartitionWriter, metadata: dict) -> LandedPartition:
        prefix = writer.prefix
        if not writer.keys:  # nothing written: still one (empty) part, so readers find a schema
            await writer.write(pl.DataFrame())
        manifest = {
            "generation": writer.generation,
            "parts": [PurePosixPath(k).name for k in writer.keys],
            "files": writer.files,
            "rows": writer.rows,
            "written_at": datetime.now(UTC).isoformat(timespec="seconds"),
            **metadata,
        }
        await self._write(f"{prefix}/{MANIFEST}", json.dumps(manifest, indent=1).encode())
        keep = {*writer.keys, *(f"{prefix}/{name}" for name in writer.files), f"{prefix}/{MANIFEST}"}
        await self._delete([k for k in await self._list(prefix, hidden=True) if k not in keep])
        objects = [await self.object(k) for k in [*writer.keys, f"{prefix}/{MANIFEST}"]]
        landed = LandedPartition(
            prefix, writer.rows, [self.uri(k) for k in writer.keys], objects, writer.generation
        )
        if self.announce:
            announce(landed)
        return landed

    async def put(self, key: str, content: bytes) -> str:
        """A file outside the partitions (a report for people); its URI."""
        if _PARTITION.match(key.rsplit("/", 1)[0]):
            raise ValueError(f"{key} is inside a partition: land it with `replacing`")
        await self._write(key, content)
        return self.uri(key)

    # -- reading ------------------------------------------------------------------------

    async def object(self, key: str) -> LakeObject:
        if isinstance(self.storage, GcsBucket):
            bucket = await self.storage.aget_bucket()
            name = f"{self.storage.bucket_folder}{key}"
            blob = bucket.get_blob(name)
            return LakeObject(
                key,
                self.uri(key),
                self.storage.bucket,
                name,
                str(blob.generation if blob else ""),
                int(blob.size or 0) if blob else 0,
            )
        path = self._local(key)
        stat = path.stat()
        return LakeObject(key, self.uri(key), "", str(path), str(stat.st_mtime_ns), stat.st_size)

    async def manifest(self, prefix: str) -> dict | None:
        """The partition's manifest (None: never landed)."""
        try:
            return json.loads(await self._read(f"{prefix}/{MANIFEST}"))
        except FileNotFoundError:
            return None

    async def manifest_parts(self, prefix: str) -> list[str] | None:
        """URIs of the parts the partition's manifest lists (None: never landed)."""
        manifest = await self.manifest(prefix)
        if manifest is None:
            return None
        return [self.uri(f"{prefix}/{part}") for part in manifest["parts"]]

    async def read_partition(self, prefix: str) -> pl.DataFrame | None:
        """The partition as one frame (parts in order), or None if it was never written."""
        manifest = await self.manifest(prefix)
        if manifest is None:
            return None
        frames = [
            pl.read_parquet(io.BytesIO(await self._read(f"{prefix}/{part}"))) for part in manifest["parts"]
        ]
        return pl.concat(frames, how="vertical_relaxed") if frames else pl.DataFrame()

    async def read_columns(self, prefix: str, columns: list[str]) -> pl.DataFrame | None:
        """Some columns of the partition, read part by part (the rest never loaded)."""
        manifest = await self.manifest(prefix)
        if manifest is None:
            return None
        frames = [
            pl.read_parquet(io.BytesIO(await self._read(f"{prefix}/{part}")), columns=columns)
            for part in manifest["parts"]
        ]
        return pl.concat(frames, how="vertical_relaxed") if frames else None

    async def list_partitions(self, source: str, dataset: str) -> list[date]:
        """The days of `source/dataset` that have a manifest (a write that died before its
        first manifest left no partition)."""
        days = set()
        for key in await self._list(f"{source}/{dataset}"):
            path = PurePosixPath(key)
            if path.name == MANIFEST and path.parent.name.startswith("dt="):
                days.add(date.fromisoformat(path.parent.name[3:]))
        return sorted(days)

    # -- storage primitives -------------------------------------------------------------

    async def _write(self, key: str, content: bytes) -> None:
        if isinstance(self.storage, GcsBucket):
            await self.storage.awrite_path(key, content)  # a GCS upload is atomic per object
            return
        target = self._local(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        # write-then-rename: a crash never leaves a half-written file under a real name
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(content)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    async def _read(self, key: str) -> bytes:
        if isinstance(self.storage, GcsBucket):
            from google.api_core.exceptions import NotFound

            try:
                return await self.storage.aread_path(key)
            except NotFound as exc:
                raise FileNotFoundError(key) from exc
        return self._local(key).read_bytes()

    async def _list(self, prefix: str, hidden: bool = False) -> list[str]:
        """Keys under `prefix`; `hidden` includes the temporary files of local writes."""
        if isinstance(self.storage, GcsBucket):
            folder = self.storage.bucket_folder
            blobs = await self.storage.alist_blobs(prefix)
            return sorted(b.name[len(folder) :] if folder else b.name for b in blobs)
        root = self._local("")
        base = self._local(prefix)
        if not base.exists():
            return []
        return sorted(
            p.relative_to(root).as_posix()
            for p in base.rglob("*")
            if p.is_file() and (hidden or not p.name.startswith("."))
        )

    async def _delete(self, keys: list[str]) -> None:
        if not keys:
            return
        if isinstance(self.storage, GcsBucket):
            from google.api_core.exceptions import NotFound

            bucket = await self.storage.aget_bucket()
            folder = self.storage.bucket_folder
            for key in keys:
                with suppress(NotFound):  # removed meanwhile (a retried cleanup)
                    bucket.blob(f"{folder}{key}").delete()
            return
        for key in keys:
            self._local(key).unlink(missing_ok=True)

    def _local(self, key: str) -> Path:
        return self.root() / key


def partition_labels(prefix: str) -> dict[str, str]:
    """`lake.source`, `lake.dataset` and `lake.day` of a partition's prefix."""
    match = _PARTITION.match(prefix)
    if not match:
        raise ValueError(f"{prefix!r} is not a partition of the lake's layout")
    return {f"lake.{name}": value for name, value in match.groupdict().items()}


def announce(landed: LandedPartition) -> None:
    """One `lake.object.finalized` event per landed object, the parts first and the
    manifest last, exactly as the GCS notification function would send them: a
    deployment trigger on manifests loads the partition into the warehouse."""
    from uuid import NAMESPACE_URL, uuid5

    from prefect.events import emit_event

    labels = partition_labels(landed.prefix)
    for item in landed.objects:
        emit_event(
            event=LAKE_EVENT,
            resource={
                "prefect.resource.id": item.uri if item.bucket else f"file://{item.name}",
                "prefect.resource.name": item.name,
                "lake.bucket": item.bucket,
                "lake.object": item.name,
                "lake.generation": item.generation,
                **labels,
                "lake.file": item.key.rsplit("/", 1)[-1],
            },
            # the payload a GCS notification carries (functions/gcs_to_prefect sends the same)
            payload={
                "bucket": item.bucket,
                "name": item.name,
                "generation": item.generation,
                "size": item.size,
            },
            id=uuid5(NAMESPACE_URL, f"{item.bucket}/{item.name}/{item.generation}"),
        )

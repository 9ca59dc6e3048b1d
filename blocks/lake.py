"""The lake: parquet partitions by day, through a Prefect storage block.

`LocalFileSystem` is the embedded default and prefect-gcp's `GcsBucket` the production
lake. Layout: `{source}/{dataset}/dt=YYYY-MM-DD/part-NNNN.parquet` plus `_manifest.json`.
A partition is replaced as a whole: parts have deterministic names, the manifest lists
exactly the parts of the last write, and parts left over from an earlier, larger write
are deleted, so a re-run never duplicates rows.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from collections.abc import AsyncIterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path, PurePosixPath

import polars as pl
from prefect.filesystems import LocalFileSystem
from prefect_gcp.cloud_storage import GcsBucket

from pipelines.errors import ConfigurationError
from tasks.parquet_parts import EncodedPart

MANIFEST = "_manifest.json"
LakeStorage = LocalFileSystem | GcsBucket


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


def partition_prefix(source: str, dataset: str, day: date) -> str:
    return f"{source}/{dataset}/dt={day.isoformat()}"


def rejects_prefix(source: str, dataset: str, day: date) -> str:
    return f"{source}/_rejects/{dataset}/dt={day.isoformat()}"


class Lake:
    """Partition-level reads and writes over a `LocalFileSystem` or `GcsBucket` block."""

    def __init__(self, storage: LakeStorage):
        if not isinstance(storage, LocalFileSystem | GcsBucket):
            raise ConfigurationError(
                f"a lake block must be LocalFileSystem or GcsBucket, not {type(storage).__name__}"
            )
        self.storage = storage

    def describe(self) -> str:
        if isinstance(self.storage, GcsBucket):
            return f"GCS lake gs://{self.storage.bucket}/{self.storage.bucket_folder}"
        return f"local lake {self.storage.basepath}"

    def uri(self, key: str) -> str:
        """A URI a warehouse can load from: `gs://bucket/...` or an absolute local path."""
        if isinstance(self.storage, GcsBucket):
            folder = self.storage.bucket_folder.strip("/")
            return f"gs://{self.storage.bucket}/{PurePosixPath(folder, key) if folder else key}"
        return str(Path(self.storage.basepath).expanduser().resolve() / key)

    async def replace_partition(
        self, prefix: str, frames: list[pl.DataFrame], metadata: dict | None = None
    ) -> LandedPartition:
        """Write `frames` as the partition's parts, then drop any part of an earlier write."""
        return await self.replace_partition_stream(prefix, _aiter(frames or []), metadata)

    async def replace_partition_stream(
        self, prefix: str, frames: AsyncIterable[pl.DataFrame | EncodedPart], metadata: dict | None = None
    ) -> LandedPartition:
        """The same, for frames that arrive one at a time: each is written as it comes, so
        a day larger than memory lands in bounded memory. A part may come already encoded
        (`EncodedPart`, made where the frame was, e.g. on a worker process)."""
        keys: list[str] = []
        rows = 0
        n = 0
        async for frame in frames:
            part = frame if isinstance(frame, EncodedPart) else EncodedPart.of(frame)
            if part.rows == 0 and keys:
                continue  # an empty batch after the first adds nothing but a file
            key = f"{prefix}/part-{n:04d}.parquet"
            await self._write(key, part.content)
            keys.append(key)
            rows += part.rows
            n += 1
        manifest = {
            "parts": [PurePosixPath(k).name for k in keys],
            "rows": rows,
            "written_at": datetime.now(UTC).isoformat(timespec="seconds"),
            **(metadata or {}),
        }
        await self._write(f"{prefix}/{MANIFEST}", json.dumps(manifest, indent=1).encode())
        stale = [k for k in await self._list(prefix) if k.endswith(".parquet") and k not in keys]
        await self._delete(stale)
        objects = [await self.object(k) for k in [*keys, f"{prefix}/{MANIFEST}"]]
        return LandedPartition(prefix, rows, [self.uri(k) for k in keys], objects)

    async def object(self, key: str) -> LakeObject:
        if isinstance(self.storage, GcsBucket):
            bucket = await self.storage.aget_bucket()
            name = f"{self.storage.bucket_folder}{key}"
            blob = bucket.get_blob(name)
            return LakeObject(
                key, self.uri(key), self.storage.bucket, name, str(blob.generation if blob else "")
            )
        path = self._local(key)
        return LakeObject(key, self.uri(key), "", str(path), str(path.stat().st_mtime_ns))

    async def manifest_parts(self, prefix: str) -> list[str] | None:
        """URIs of the parts the partition's manifest lists (None: never landed)."""
        try:
            manifest = json.loads(await self._read(f"{prefix}/{MANIFEST}"))
        except FileNotFoundError:
            return None
        return [self.uri(f"{prefix}/{part}") for part in manifest["parts"]]

    async def write_file(self, key: str, content: bytes) -> str:
        """A file beside a partition's parts (e.g. a CSV export); its URI."""
        await self._write(key, content)
        return self.uri(key)

    async def read_partition(self, prefix: str) -> pl.DataFrame | None:
        """The partition as one frame (parts in order), or None if it was never written."""
        try:
            manifest = json.loads(await self._read(f"{prefix}/{MANIFEST}"))
        except FileNotFoundError:
            return None
        frames = [
            pl.read_parquet(io.BytesIO(await self._read(f"{prefix}/{part}"))) for part in manifest["parts"]
        ]
        return pl.concat(frames, how="vertical_relaxed") if frames else pl.DataFrame()

    async def read_columns(self, prefix: str, columns: list[str]) -> pl.DataFrame | None:
        """Some columns of the partition, read part by part (the rest never loaded)."""
        try:
            manifest = json.loads(await self._read(f"{prefix}/{MANIFEST}"))
        except FileNotFoundError:
            return None
        frames = [
            pl.read_parquet(io.BytesIO(await self._read(f"{prefix}/{part}")), columns=columns)
            for part in manifest["parts"]
        ]
        return pl.concat(frames, how="vertical_relaxed") if frames else None

    async def list_partitions(self, source: str, dataset: str) -> list[date]:
        days = set()
        for key in await self._list(f"{source}/{dataset}"):
            part = PurePosixPath(key).parent.name
            if part.startswith("dt="):
                days.add(date.fromisoformat(part[3:]))
        return sorted(days)

    # -- storage primitives -------------------------------------------------------------

    async def _write(self, key: str, content: bytes) -> None:
        if isinstance(self.storage, GcsBucket):
            await self.storage.awrite_path(key, content)  # a GCS upload is atomic per object
            return
        target = self._local(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        # write-then-rename: a crash never leaves a half-written part for a reader to find
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        with os.fdopen(fd, "wb") as out:
            out.write(content)
        os.replace(tmp, target)

    async def _read(self, key: str) -> bytes:
        if isinstance(self.storage, GcsBucket):
            from google.api_core.exceptions import NotFound

            try:
                return await self.storage.aread_path(key)
            except NotFound as exc:
                raise FileNotFoundError(key) from exc
        return self._local(key).read_bytes()

    async def _list(self, prefix: str) -> list[str]:
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
            if p.is_file() and not p.name.startswith(".")
        )

    async def _delete(self, keys: list[str]) -> None:
        if not keys:
            return
        if isinstance(self.storage, GcsBucket):
            bucket = await self.storage.aget_bucket()
            folder = self.storage.bucket_folder
            for key in keys:
                bucket.blob(f"{folder}{key}").delete()
            return
        for key in keys:
            self._local(key).unlink(missing_ok=True)

    def _local(self, key: str) -> Path:
        return Path(self.storage.basepath).expanduser().resolve() / key


async def _aiter(items):
    for item in items:
        yield item

"""MongoDB as a source: a live deployment (PyMongo's async client) or a mongodump folder.

Both answer the same MongoDB query document (`find`, `count`) and hand out the matching
documents as runs of raw BSON bytes (`DocumentRun`; a dump's as where they lie in its
file, `DumpSlice`, read where they are used), so a reader decodes only what it needs and
the embedded default exercises the same code path as production.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import bson
import numpy as np
from bson import json_util
from bson.errors import InvalidBSON
from prefect.blocks.core import Block
from pydantic import Field, PrivateAttr, SecretStr
from pymongo import AsyncMongoClient
from pymongo.errors import ConnectionFailure, OperationFailure, ServerSelectionTimeoutError
from pymongo.uri_parser import parse_uri

from formats.bson_columns import (
    READ_BLOCK,
    Buffer,
    DocumentRun,
    DumpSlice,
    file_stamp,
    length_at,
    whole_documents,
)
from formats.bson_query import matching
from pipelines.errors import SourceUnavailable

logger = logging.getLogger("pipelines.mongodb")


class MongoDB(Block):
    """A MongoDB deployment, read with `pymongo.AsyncMongoClient`.

    Reads go to a secondary when there is one (`secondaryPreferred`), so a day's extract
    never competes with the application for the primary.

    Example:
        ```python
        from pydantic import SecretStr
        from blocks import MongoDB
        MongoDB(connection_string=SecretStr("mongodb+srv://reader:...@cluster0.example.net"))\\
            .save("bahela-mongodb")
        ```
    """

    _block_type_name = "MongoDB Connection"
    _block_type_slug = "pipelines-mongodb"
    _description = "A MongoDB deployment that the pipelines read from (and write `locations` to)."

    connection_string: SecretStr = Field(
        description="mongodb:// or mongodb+srv:// URI, credentials included. Kept secret."
    )
    read_preference: str = Field(default="secondaryPreferred")
    server_selection_timeout_ms: int = Field(default=15_000, ge=100)
    app_name: str = Field(default="bahela-glamira-pipelines")

    def describe(self) -> str:
        """Where it points, without credentials: safe for logs and error messages."""
        try:
            hosts = ",".join(
                f"{h}:{p}"
                for h, p in parse_uri(self.connection_string.get_secret_value(), validate=False, warn=True)[
                    "nodelist"
                ]
            )
        except Exception:  # an unparsable URI must still not leak into a message
            hosts = "<unparsable connection string>"
        return f"MongoDB at {hosts}"

    @asynccontextmanager
    async def client(self, **options: Any) -> AsyncIterator[AsyncMongoClient]:
        client: AsyncMongoClient = AsyncMongoClient(
            self.connection_string.get_secret_value(),
            readPreference=self.read_preference,
            serverSelectionTimeoutMS=self.server_selection_timeout_ms,
            appname=self.app_name,
            **options,
        )
        try:
            yield client
        except (ServerSelectionTimeoutError, ConnectionFailure) as exc:
            raise SourceUnavailable(
                f"{self.describe()} is unreachable: {type(exc).__name__}. Check the "
                "connection_string of the MongoDB block and that this worker can reach it."
            ) from None
        except OperationFailure as exc:
            raise SourceUnavailable(
                f"{self.describe()} refused the operation (code {exc.code}): "
                f"{(exc.details or {}).get('errmsg')}. "
                "Check the user's roles in the connection_string of the MongoDB block."
            ) from None
        finally:
            await client.close()

    async def check(self, timeout: float = 20.0) -> str:
        """A `ping`: the deployment answers and the connection string's user logs in.
        (server_selection_timeout_ms bounds the wait; the caller cancels past `timeout`.)"""
        async with self.client() as client:
            await client.admin.command("ping")
        return "ping answered"

    async def list_databases(self, prefix: str = "") -> list[str]:
        async with self.client() as client:
            names = await client.list_database_names()
        return sorted(n for n in names if n.startswith(prefix))

    async def find(
        self, database: str, collection: str, query: Mapping, batch_size: int = 2_000
    ) -> AsyncIterator[DocumentRun]:
        """The documents matching `query`, as runs of about `batch_size` raw documents:
        the server's batches as they come, never one Python object per document."""
        async with self.client() as client:
            coll = client.get_database(database)[collection]
            batches = Rebatcher(batch_size)
            async for raw in coll.find_raw_batches(query, batch_size=batch_size):
                for run in batches.add(DocumentRun.of(raw)):
                    yield run
            if run := batches.rest():
                yield run

    async def count(self, database: str, collection: str, query: Mapping) -> int:
        """How many documents match `query`, counted by the server."""
        async with self.client() as client:
            return await client.get_database(database)[collection].count_documents(query)


class MongoDump(Block):
    """The embedded default: a mongodump folder (`<db>/<collection>.bson`) or
    mongoexport files (`<db>/<collection>.json`, one Extended JSON document per line).

    Queries follow MongoDB's rules (`formats.bson_query`): the same query document gives
    the same documents as a live MongoDB holding the dump, odd values included.
    """

    _block_type_name = "MongoDB Dump Folder"
    _block_type_slug = "pipelines-mongodump"
    _description = "A mongodump or mongoexport folder read in place of a live MongoDB."

    path: str = Field(description="Folder holding one sub-folder per database.")
    # (database, collection, query) -> (the file's stamp, documents matched) of complete finds
    _tallies: dict[tuple[str, str, bytes], tuple[tuple[int, ...], int]] = PrivateAttr(default_factory=dict)

    def describe(self) -> str:
        return f"mongodump folder {self.path}"

    async def check(self, timeout: float = 20.0) -> str:
        """The folder exists and holds database folders."""
        databases = await self.list_databases()
        if not databases:
            raise SourceUnavailable(
                f"{self.describe()} holds no database folders. Point the MongoDump block's path at "
                "a mongodump output folder (one sub-folder per database)."
            )
        shown = ", ".join(databases[:5]) + (", ..." if len(databases) > 5 else "")
        return f"{len(databases)} databases ({shown})"

    async def list_databases(self, prefix: str = "") -> list[str]:
        root = Path(self.path)
        if not root.is_dir():
            raise SourceUnavailable(
                f"{self.describe()} does not exist. Run `pipelines sample-data` or point "
                "the MongoDump block's path at a mongodump output folder."
            )
        return sorted(p.name for p in root.iterdir() if p.is_dir() and p.name.startswith(prefix))

    async def find(
        self, database: str, collection: str, query: Mapping, batch_size: int = 2_000
    ) -> AsyncIterator[DocumentRun | DumpSlice]:
        """The documents matching `query`. A find read to its end over a file that did not
        change meanwhile leaves its tally of matches for `count` (see there)."""
        batches = Rebatcher(batch_size)
        before, tally = self._stamp(database, collection), 0
        dump = Path(self.path) / database / f"{collection}.bson"
        for offset, run in self._located_runs(database, collection):
            starts, sizes = run.starts_and_sizes()
            matched = matching(Buffer(run.data), starts, sizes, query)
            tally += int(matched.sum())
            # a dump's documents travel as where they lie in it (`DumpSlice`), not as bytes
            picked = (
                run.select(matched)
                if offset is None
                else DumpSlice.of(str(dump), before, offset, run, matched)
            )
            for batch in batches.add(picked):
                yield batch
        if rest := batches.rest():
            yield rest
        if before is not None and self._stamp(database, collection) == before:
            self._tallies[(database, collection, bson.encode(query))] = (before, tally)

    async def count(self, database: str, collection: str, query: Mapping) -> int:
        """How many documents of the dump match `query`. After a complete `find` of the same
        query over the same unchanged file (size, modification and change times, inode),
        the matches that find counted as it read, before any regrouping and hand-off: a
        second pass would run the same code over the same bytes, and cost the flow as
        much as its read. Otherwise a pass of its own over the file."""
        known = self._tallies.get((database, collection, bson.encode(query)))
        if known is not None and known[0] == self._stamp(database, collection):
            return known[1]
        total = 0
        for run in self._runs(database, collection):
            starts, sizes = run.starts_and_sizes()
            total += int(matching(Buffer(run.data), starts, sizes, query).sum())
        return total

    def _stamp(self, database: str, collection: str) -> tuple[int, ...] | None:
        """What changes when the collection's file does (None: there is no file)."""
        folder = Path(self.path) / database
        for path in (folder / f"{collection}.bson", folder / f"{collection}.json"):
            try:
                return file_stamp(path.stat())
            except FileNotFoundError:
                continue
        return None

    def _runs(self, database: str, collection: str) -> Iterator[DocumentRun]:
        for _, run in self._located_runs(database, collection):
            yield run

    def _located_runs(self, database: str, collection: str) -> Iterator[tuple[int | None, DocumentRun]]:
        """The runs with where each starts in the dump file (None: an export's, made here)."""
        folder = Path(self.path) / database
        dump, export = folder / f"{collection}.bson", folder / f"{collection}.json"
        if dump.exists():
            yield from located_dump_runs(dump)
        elif export.exists():
            for run in export_runs(export):
                yield None, run
        else:
            raise SourceUnavailable(f"{self.describe()} has no {database}/{collection}.bson or .json.")


# MongoDB refuses documents over 16 MiB; a length beyond that in a dump is corruption
LARGEST_DOCUMENT = 16 * 1024 * 1024 + 16 * 1024
BROKEN_TAIL_KEPT = 64 * 1024


def dump_runs(path: Path, block: int = READ_BLOCK) -> Iterator[DocumentRun]:
    """A `.bson` dump as runs of whole documents, read a block at a time. Bytes that are
    not documents (a torn tail, a corrupt length) become one last broken document (its
    first `BROKEN_TAIL_KEPT` bytes), which readers reject with its reason: the rest of the
    file is never silently dropped."""
    for _, run in located_dump_runs(path, block):
        yield run


def located_dump_runs(path: Path, block: int = READ_BLOCK) -> Iterator[tuple[int, DocumentRun]]:
    """`dump_runs`, each run with the offset in the file where it starts (its bytes,
    a broken tail's kept part included, lie there back to back)."""
    size = path.stat().st_size
    with path.open("rb") as stream:
        carry, offset = b"", 0  # offset: where `carry` starts in the file
        while True:
            chunk = stream.read(block)
            data = carry + chunk
            if not data:
                return
            sizes, stop = whole_documents(data, 0, len(data))
            rest = len(data) - stop
            continues = rest and chunk and (rest < 4 or 5 <= length_at(data, stop) <= LARGEST_DOCUMENT)
            if rest and not continues:
                logger.warning(
                    "%s: bytes %d to %d are not whole BSON documents (a torn or corrupt dump); "
                    "they are handed on as one broken document and rejected",
                    path,
                    offset + stop,
                    size,
                )
                tail = data[stop : stop + BROKEN_TAIL_KEPT]
                yield offset, DocumentRun(data[:stop] + tail, np.array([*sizes, len(tail)], dtype=np.int64))
                return
            if sizes:
                yield offset, DocumentRun(data[:stop], np.array(sizes, dtype=np.int64))
            if not chunk:
                return
            carry, offset = data[stop:], offset + stop


def export_runs(path: Path, lines_per_run: int = 10_000) -> Iterator[DocumentRun]:
    """mongoexport's Extended JSON lines as runs of BSON documents; a line that is not a
    JSON document is handed on as its own bytes (a broken document, rejected downstream)."""
    raw: list[bytes] = []
    with path.open("rb") as lines:
        for line in lines:
            if not line.strip():
                continue
            try:
                raw.append(bson.encode(json_util.loads(line)))
            except (ValueError, TypeError, InvalidBSON, OverflowError):
                raw.append(line.rstrip(b"\r\n"))
            if len(raw) >= lines_per_run:
                yield DocumentRun.of(raw)
                raw = []
    if raw:
        yield DocumentRun.of(raw)


class Rebatcher:
    """Runs of documents regrouped into runs of at least `size` documents (the last may
    be smaller), in order."""

    def __init__(self, size: int):
        self.size = size
        self.pending: list[DocumentRun] = []
        self.count = 0

    def add(self, run: DocumentRun | DumpSlice) -> Iterator[DocumentRun | DumpSlice]:
        if len(run):
            self.pending.append(run)
            self.count += len(run)
        if self.count >= self.size:
            yield self._take()

    def rest(self) -> DocumentRun | DumpSlice | None:
        return self._take() if self.count else None

    def _take(self) -> DocumentRun | DumpSlice:
        runs, self.pending, self.count = self.pending, [], 0
        if len(runs) == 1:
            return runs[0]
        if all(isinstance(r, DumpSlice) for r in runs):
            return DumpSlice.joined(runs)
        return DocumentRun(b"".join(r.data for r in runs), np.concatenate([r.sizes for r in runs]))


def documents_to_json_lines(docs: list[dict]) -> str:
    """mongoexport's format: one relaxed Extended JSON document per line."""
    return "".join(json_util.dumps(d, json_options=json_util.RELAXED_JSON_OPTIONS) + "\n" for d in docs)

"""MongoDB as a source: a live deployment (PyMongo's async client) or a mongodump folder.

Both hand out documents as `RawBSONDocument` batches, so a reader decodes only what it
needs and the embedded default exercises the same code path as production.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import bson
from bson import json_util
from bson.codec_options import CodecOptions
from bson.raw_bson import RawBSONDocument
from prefect.blocks.core import Block
from pydantic import Field, SecretStr
from pymongo import AsyncMongoClient
from pymongo.errors import ConnectionFailure, OperationFailure, ServerSelectionTimeoutError
from pymongo.uri_parser import parse_uri

from pipelines.errors import SourceUnavailable

RAW = CodecOptions(document_class=RawBSONDocument)


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

    async def list_databases(self, prefix: str = "") -> list[str]:
        async with self.client() as client:
            names = await client.list_database_names()
        return sorted(n for n in names if n.startswith(prefix))

    async def find_between(
        self,
        database: str,
        collection: str,
        field: str,
        lower: Any,
        upper: Any,
        batch_size: int = 2_000,
    ) -> AsyncIterator[list[RawBSONDocument]]:
        """Documents with `lower <= field < upper`, in batches, never the whole range at once."""
        async with self.client() as client:
            coll = client.get_database(database, codec_options=RAW)[collection]
            cursor = coll.find({field: {"$gte": lower, "$lt": upper}}, batch_size=batch_size)
            batch: list[RawBSONDocument] = []
            async for doc in cursor:
                batch.append(doc)
                if len(batch) >= batch_size:
                    yield batch
                    batch = []
            if batch:
                yield batch


class MongoDump(Block):
    """The embedded default: a mongodump folder (`<db>/<collection>.bson`) or
    mongoexport files (`<db>/<collection>.json`, one Extended JSON document per line).

    Range filters follow MongoDB's rules: a value of another type than the bounds never
    matches, as with a real `$gte`/`$lt` query.
    """

    _block_type_name = "MongoDB Dump Folder"
    _block_type_slug = "pipelines-mongodump"
    _description = "A mongodump or mongoexport folder read in place of a live MongoDB."

    path: str = Field(description="Folder holding one sub-folder per database.")

    def describe(self) -> str:
        return f"mongodump folder {self.path}"

    async def list_databases(self, prefix: str = "") -> list[str]:
        root = Path(self.path)
        if not root.is_dir():
            raise SourceUnavailable(
                f"{self.describe()} does not exist. Run `pipelines sample-data` or point "
                "the MongoDump block's path at a mongodump output folder."
            )
        return sorted(p.name for p in root.iterdir() if p.is_dir() and p.name.startswith(prefix))

    async def find_between(
        self,
        database: str,
        collection: str,
        field: str,
        lower: Any,
        upper: Any,
        batch_size: int = 2_000,
    ) -> AsyncIterator[list[RawBSONDocument]]:
        batch: list[RawBSONDocument] = []
        for doc in self._documents(database, collection):
            if _in_range(doc, field, lower, upper):
                batch.append(doc)
                if len(batch) >= batch_size:
                    yield batch
                    batch = []
        if batch:
            yield batch

    def _documents(self, database: str, collection: str) -> Iterator[RawBSONDocument]:
        folder = Path(self.path) / database
        dump, export = folder / f"{collection}.bson", folder / f"{collection}.json"
        if dump.exists():
            with dump.open("rb") as stream:
                yield from bson.decode_file_iter(stream, codec_options=RAW)
        elif export.exists():
            with export.open() as lines:
                for line in lines:
                    if line.strip():
                        doc = json_util.loads(line)
                        yield RawBSONDocument(bson.encode(doc))
        else:
            raise SourceUnavailable(f"{self.describe()} has no {database}/{collection}.bson or .json.")


def _in_range(doc: RawBSONDocument, field: str, lower: Any, upper: Any) -> bool:
    try:
        value = doc[field]
        return lower <= value < upper
    except (KeyError, TypeError):
        return False


def documents_to_json_lines(docs: list[dict]) -> str:
    """mongoexport's format: one relaxed Extended JSON document per line."""
    return "".join(json_util.dumps(d, json_options=json_util.RELAXED_JSON_OPTIONS) + "\n" for d in docs)

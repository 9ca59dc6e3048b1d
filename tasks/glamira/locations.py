"""Where geolocated IPs are kept: MongoDB's `locations` collection in production, the
lake on the embedded default. Both answer "which of these IPs were located on an
earlier day?" and take the day's new locations.

An IP's `first_seen` is the first day it was located; a re-run of a day sees the same
IPs as new again (only earlier days count as known), so its lake partition comes out the
same, and the MongoDB upsert is idempotent (`$min` keeps the earliest day).
"""

from __future__ import annotations

from datetime import date

import polars as pl
from pymongo import UpdateOne

from blocks.lake import Lake, partition_prefix
from blocks.mongodb import MongoDB

SOURCE = "glamira"
DATASET = "locations"
CHUNK = 10_000
WRITE_BATCH = 1_000


class LakeLocations:
    """Known IPs are those in the lake's `locations` partitions of earlier days."""

    def __init__(self, lake: Lake):
        self.lake = lake

    def describe(self) -> str:
        return f"locations in the {self.lake.describe()}"

    async def known(self, ips: pl.Series, day: date) -> pl.Series:
        earlier = [d for d in await self.lake.list_partitions(SOURCE, DATASET) if d < day]
        seen = []
        for past in earlier:
            frame = await self.lake.read_columns(partition_prefix(SOURCE, DATASET, past), ["ip"])
            if frame is not None:
                seen.append(frame["ip"])
        if not seen:
            return pl.Series("ip", [], dtype=pl.String)
        everything = pl.concat(seen).unique()
        return ips.filter(ips.is_in(everything.implode()))

    async def upsert(self, located: pl.DataFrame, day: date) -> int:
        return 0  # the day's partition, landed by the flow, is the store


class MongoLocations:
    """The `locations` collection: one document per IP, `_id` the IP string."""

    def __init__(self, mongodb: MongoDB, database: str, collection: str = "locations"):
        self.mongodb, self.database, self.collection = mongodb, database, collection

    def describe(self) -> str:
        return f"{self.mongodb.describe()} {self.database}.{self.collection}"

    async def known(self, ips: pl.Series, day: date) -> pl.Series:
        values = ips.drop_nulls().unique().to_list()
        found: list[str] = []
        async with self.mongodb.client() as client:
            coll = client[self.database][self.collection]
            for start in range(0, len(values), CHUNK):
                chunk = values[start : start + CHUNK]
                query = {"_id": {"$in": chunk}, "first_seen": {"$lt": day.isoformat()}}
                found += [doc["_id"] async for doc in coll.find(query, {"_id": 1})]
        return pl.Series("ip", found, dtype=pl.String)

    async def upsert(self, located: pl.DataFrame, day: date) -> int:
        """Bulk, unordered upserts: a re-run or a concurrent day changes nothing twice."""
        written = 0
        async with self.mongodb.client() as client:
            coll = client[self.database][self.collection]
            rows = located.drop_nulls("ip").to_dicts()
            for start in range(0, len(rows), WRITE_BATCH):
                operations = [
                    UpdateOne(
                        {"_id": row["ip"]},
                        {
                            "$set": {k: v for k, v in row.items() if k not in ("ip", "first_seen")},
                            "$min": {"first_seen": day.isoformat()},
                        },
                        upsert=True,
                    )
                    for row in rows[start : start + WRITE_BATCH]
                ]
                if operations:
                    result = await coll.bulk_write(operations, ordered=False)
                    written += result.upserted_count + result.modified_count
        return written


def locations_store(source, lake: Lake, database: str) -> MongoLocations | LakeLocations:
    """Where the day's locations go: the source's `locations` collection when the source
    is a live MongoDB, else (a mongodump, read-only) the lake alone."""
    return MongoLocations(source, database) if isinstance(source, MongoDB) else LakeLocations(lake)

"""The embedded default's parts saved as blocks under the default names, for runs in the
production profile on this machine (a process worker's deployment runs): every role is a
saved block, as production requires, and the blocks point at a folder of the test's."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
from prefect.filesystems import LocalFileSystem

from blocks import CloudinaryExport, DuckDBWarehouse, IP2LocationDatabase, MongoDump, Outbox, ProductCrawl
from blocks.resolve import DEMO_BIN


def local_blocks(data: Path) -> dict[str, object]:
    """Block name -> block, for every non-optional role of blocks/roles.py."""
    samples = data / "samples"
    return {
        "bahela-mongodb": MongoDump(path=str(samples / "bahela" / "mongodump")),
        "bahela-cloudinary": CloudinaryExport(path=str(samples / "bahela" / "cloudinary")),
        "bahela-lake": LocalFileSystem(basepath=str(data / "lake")),
        "bahela-warehouse": DuckDBWarehouse(path=str(data / "warehouse.duckdb")),
        "bahela-mailer": Outbox(path=str(data / "outbox")),
        "glamira-mongodb": MongoDump(path=str(samples / "glamira" / "mongodump")),
        "glamira-ip2location": IP2LocationDatabase(path=str(samples / "glamira" / "ip2location" / DEMO_BIN)),
        "glamira-crawl": ProductCrawl(),
        "glamira-lake": LocalFileSystem(basepath=str(data / "lake")),
        "glamira-warehouse": DuckDBWarehouse(path=str(data / "warehouse.duckdb")),
        "marts-warehouse": DuckDBWarehouse(path=str(data / "warehouse.duckdb")),
    }


def save(blocks: dict[str, object]) -> None:
    for name, block in blocks.items():
        block.save(name, overwrite=True)


def delete(api: str, names: list[str]) -> None:
    """Remove the blocks again: other tests share the server and its default names."""
    body = {"block_documents": {"name": {"any_": names}}}
    with httpx.Client(base_url=api, timeout=30) as client:
        left: list[dict] = []
        for _ in range(20):  # the server answers 503 while its SQLite database is busy
            found = client.post("/block_documents/filter", json=body)
            if found.status_code == 503:
                time.sleep(0.5)
                continue
            left = found.raise_for_status().json()
            if not left:
                return
            for document in left:
                client.delete(f"/block_documents/{document['id']}")
            time.sleep(0.2)
    raise AssertionError(f"blocks still saved: {[d['name'] for d in left]}")

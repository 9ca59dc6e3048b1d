"""Saved blocks decide production; their absence means the embedded default.

Each role (lake, warehouse, mailer, ...) is looked up by block document name among the
block types that can fill it. No saved block under that name: the embedded default under
`PIPELINES_HOME` is used, and the run's log says which one was chosen.
"""

from __future__ import annotations

import logging
from pathlib import Path

from prefect.blocks.core import Block
from prefect.filesystems import LocalFileSystem
from prefect_gcp.cloud_storage import GcsBucket
from prefect_slack import SlackWebhook

from blocks.cloudinary import Cloudinary, CloudinaryExport
from blocks.crawl import ProductCrawl
from blocks.ip2location import IP2LocationDatabase
from blocks.lake import Lake
from blocks.mail import Outbox, SendGrid, SmtpMailer
from blocks.mongodb import MongoDB, MongoDump
from blocks.warehouse import BigQueryWarehouse, DuckDBWarehouse
from pipelines.settings import Home


async def saved_block(name: str, *types: type[Block]) -> Block | None:
    """The block saved as `name` under the first of `types` that has one, else None."""
    for block_type in types:
        try:
            return await block_type.aload(name)
        except ValueError:  # no block document of that type and name
            continue
    return None


async def mongodb(name: str, default_dump: Path) -> MongoDB | MongoDump:
    return await saved_block(name, MongoDB, MongoDump) or MongoDump(path=str(default_dump))


async def cloudinary(name: str, default_pages: Path) -> Cloudinary | CloudinaryExport:
    return await saved_block(name, Cloudinary, CloudinaryExport) or CloudinaryExport(path=str(default_pages))


async def lake(name: str, home: Home) -> Lake:
    storage = await saved_block(name, GcsBucket, LocalFileSystem) or LocalFileSystem(basepath=str(home.lake))
    return Lake(storage)


async def warehouse(name: str, home: Home) -> DuckDBWarehouse | BigQueryWarehouse:
    return await saved_block(name, BigQueryWarehouse, DuckDBWarehouse) or DuckDBWarehouse(
        path=str(home.warehouse)
    )


async def mailer(name: str, home: Home) -> SendGrid | SmtpMailer | Outbox:
    return await saved_block(name, SendGrid, SmtpMailer, Outbox) or Outbox(path=str(home.outbox))


async def ip2location(name: str, demo_bin: Path) -> IP2LocationDatabase:
    saved = await saved_block(name, IP2LocationDatabase)
    if saved is not None:
        return saved
    if not demo_bin.exists():  # the embedded default's demo database, built offline on first use
        from pipelines.sample_data.ip2location_bin import build_demo_bin

        demo_bin.parent.mkdir(parents=True, exist_ok=True)
        build_demo_bin(demo_bin)
    return IP2LocationDatabase(path=str(demo_bin))


async def crawl(name: str, sample_catalog: Path) -> ProductCrawl:
    return await saved_block(name, ProductCrawl) or ProductCrawl.sample_catalog(str(sample_catalog))


async def slack(name: str) -> SlackWebhook | None:
    return await saved_block(name, SlackWebhook)


def describe(resource: object) -> str:
    if resource is None:
        return "not configured"
    describe_fn = getattr(resource, "describe", None)
    if describe_fn:
        return describe_fn()
    if isinstance(resource, SlackWebhook):
        return "Slack incoming webhook"  # the URL is the secret: never logged
    return type(resource).__name__


def log_choices(logger: logging.Logger | logging.LoggerAdapter, **resources: object) -> None:
    for role, resource in resources.items():
        logger.info("%-10s %s", role, describe(resource))

"""What a run works with, resolved once at its start: the blocks of its roles, and where
its report copies and scratch files go.

Every field of a business's block-names model (`flows/roles.py`) is a role whose kind is
its name (`lake`, `warehouse`, ...). `resources(names, business, *roles)` looks them all
up together; in the production profile a missing one fails the run here, before any work
(`blocks.resolve.MissingBlocks` lists them all).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path

from prefect_slack import SlackWebhook
from pydantic import BaseModel

from blocks.cloudinary import Cloudinary, CloudinaryExport
from blocks.crawl import ProductCrawl
from blocks.ip2location import IP2LocationDatabase
from blocks.lake import Lake
from blocks.mail import Outbox, SendGrid, SmtpMailer
from blocks.mongodb import MongoDB, MongoDump
from blocks.resolve import Need, log_choices, resolve
from blocks.warehouse import BigQueryWarehouse, DuckDBWarehouse
from pipelines.settings import Home, Profile


@dataclass(frozen=True)
class Resources:
    """The roles a run asked for (the others are None)."""

    mongodb: MongoDB | MongoDump | None = None
    cloudinary: Cloudinary | CloudinaryExport | None = None
    lake: Lake | None = None
    warehouse: BigQueryWarehouse | DuckDBWarehouse | None = None
    mailer: SendGrid | SmtpMailer | Outbox | None = None
    slack: SlackWebhook | None = None
    ip2location: IP2LocationDatabase | None = None
    crawl: ProductCrawl | None = None

    def log(self, logger: logging.Logger | logging.LoggerAdapter, *roles: str) -> None:
        log_choices(logger, **{role: getattr(self, role) for role in roles})


async def resources(names: BaseModel, business: str, *roles: str) -> Resources:
    """The blocks named in `names` for `roles`, all looked up at once."""
    known = {f.name for f in fields(Resources)}
    if unknown := set(roles) - known:
        raise ValueError(f"no such roles: {sorted(unknown)}")
    needs = {role: Need(role, getattr(names, role)) for role in roles}
    return Resources(**await resolve(needs, business))


async def save_report(lake: Lake, name: str, html: str) -> str:
    """A copy of a report for people: under PIPELINES_HOME/reports locally, in the lake
    (`reports/<name>`) in production, where nothing is written under PIPELINES_HOME."""
    if Profile.from_env() is Profile.PRODUCTION:
        return await lake.put(f"reports/{name}", html.encode("utf-8"))
    folder = Home.from_env().reports
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    # write-then-rename: a browser or a copy never finds half a page
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(html)
    os.replace(tmp, target)
    return str(target)


@contextmanager
def scratch(name: str) -> Iterator[Path]:
    """A folder for a run's working files: kept under PIPELINES_HOME/work locally (a
    re-run resumes from it), a temporary folder in production, removed afterwards."""
    if Profile.from_env() is Profile.LOCAL:
        folder = Home.from_env().root / "work" / name
        folder.mkdir(parents=True, exist_ok=True)
        yield folder
        return
    folder = Path(tempfile.mkdtemp(prefix=f"pipelines-{name.replace('/', '-')}-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)

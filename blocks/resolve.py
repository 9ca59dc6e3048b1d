"""Saved blocks fill the roles a run needs; in the local profile the embedded default
fills the rest.

A run asks for all its roles at once (`resolve`), before any work. In the `production`
profile a role without a saved block is an error, and all the missing ones are listed
together with the `pipelines setup` variables that create them (`MissingBlocks`). In the
`local` profile the role falls back to the embedded default under `PIPELINES_HOME`, and
the run's log says which one it got.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

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
from blocks.roles import BY_BLOCK
from blocks.warehouse import BigQueryWarehouse, DuckDBWarehouse
from pipelines.errors import ConfigurationError
from pipelines.settings import Home, Profile

# which saved block types can fill each kind of role, in the order they are looked up
KINDS: dict[str, tuple[type[Block], ...]] = {
    "mongodb": (MongoDB, MongoDump),
    "cloudinary": (Cloudinary, CloudinaryExport),
    "lake": (GcsBucket, LocalFileSystem),
    "warehouse": (BigQueryWarehouse, DuckDBWarehouse),
    "mailer": (SendGrid, SmtpMailer, Outbox),
    "slack": (SlackWebhook,),
    "ip2location": (IP2LocationDatabase,),
    "crawl": (ProductCrawl,),
}
# a chat channel may be absent in production too: the message is logged instead
OPTIONAL_KINDS = {"slack"}
DEMO_BIN = "IP2LOCATION-DEMO-DB11.BIN"


@dataclass(frozen=True)
class Need:
    """One role a run needs: its kind and the block name it is looked up by."""

    kind: str
    name: str

    def describe(self) -> str:
        role = BY_BLOCK.get(self.name)
        types = " or ".join(t.get_block_type_name() for t in KINDS[self.kind])
        what = f"{role.what}: " if role else ""
        setup = (
            f"set {role.variables}"
            if role
            else f"save a {types} block named {self.name!r} (or create the default one with `pipelines setup`)"
        )
        return f"{self.name} ({what}{types}): {setup}"


class MissingBlocks(ConfigurationError):
    """The production profile found roles without a saved block."""

    def __init__(self, missing: list[Need]):
        self.missing = missing
        lines = "\n".join(f"  - {need.describe()}" for need in missing)
        super().__init__(
            f"the production profile needs a saved block for every role; {len(missing)} missing:\n{lines}\n"
            "Export those variables and run `pipelines setup` against this Prefect API (PREFECT_API_URL), "
            "then `pipelines check`. Nothing was done."
        )


async def saved_block(name: str, *types: type[Block]) -> Block | None:
    """The block saved as `name` under the first of `types` that has one, else None."""
    for block_type in types:
        try:
            return await block_type.aload(name)
        except ValueError:  # no block document of that type and name
            continue
    return None


_LOCAL_OVERRIDES: dict[str, object] = {}


@contextmanager
def local_default(kind: str, block: object) -> Iterator[None]:
    """Use `block` as the embedded default of `kind` while inside (the demo layer serves
    the sample catalog this way; the runtime never starts demo code itself)."""
    previous = _LOCAL_OVERRIDES.get(kind)
    _LOCAL_OVERRIDES[kind] = block
    try:
        yield
    finally:
        if previous is None:
            _LOCAL_OVERRIDES.pop(kind, None)
        else:
            _LOCAL_OVERRIDES[kind] = previous


def embedded_default(kind: str, business: str, home: Home) -> object | None:
    """What the local profile uses when no block is saved for a role."""
    if kind in _LOCAL_OVERRIDES:
        return _LOCAL_OVERRIDES[kind]
    samples = home.samples / business
    return {
        "mongodb": lambda: MongoDump(path=str(samples / "mongodump")),
        "cloudinary": lambda: CloudinaryExport(path=str(samples / "cloudinary")),
        "lake": lambda: LocalFileSystem(basepath=str(home.lake)),
        "warehouse": lambda: DuckDBWarehouse(path=str(home.warehouse)),
        "mailer": lambda: Outbox(path=str(home.outbox)),
        "slack": lambda: None,
        "ip2location": lambda: IP2LocationDatabase(path=str(samples / "ip2location" / DEMO_BIN)),
        # the live shops: the demo layer serves the sample catalog instead (local_default)
        "crawl": lambda: ProductCrawl(),
    }[kind]()


async def resolve(
    needs: Mapping[str, Need], business: str, profile: Profile | None = None, home: Home | None = None
) -> dict[str, object]:
    """`{role: resource}` for every need, looked up together. A lake comes wrapped in a
    `Lake`. Raises `MissingBlocks` in production when any non-optional role has no saved
    block."""
    profile = profile or Profile.from_env()
    found = await asyncio.gather(*(saved_block(need.name, *KINDS[need.kind]) for need in needs.values()))
    resources = dict(zip(needs, found, strict=True))
    missing = [needs[role] for role, block in resources.items() if block is None]
    if profile is Profile.PRODUCTION:
        if fatal := [need for need in missing if need.kind not in OPTIONAL_KINDS]:
            raise MissingBlocks(fatal)
    else:
        home = home or Home.from_env()
        for role in (role for role, block in resources.items() if block is None):
            resources[role] = embedded_default(needs[role].kind, business, home)
    return {
        role: Lake(block) if needs[role].kind == "lake" and block is not None else block
        for role, block in resources.items()
    }


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

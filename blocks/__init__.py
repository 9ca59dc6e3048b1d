"""Prefect blocks of the pipelines: connections and sinks, each with an embedded default.

Register them with `prefect block register -m blocks` (or `pipelines setup`).
"""

from blocks.cloudinary import Cloudinary, CloudinaryExport
from blocks.crawl import ProductCrawl
from blocks.ip2location import IP2LocationDatabase
from blocks.mail import Outbox, SendGrid, SmtpMailer
from blocks.mongodb import MongoDB, MongoDump
from blocks.warehouse import BigQueryWarehouse, DuckDBWarehouse

__all__ = [
    "BigQueryWarehouse",
    "Cloudinary",
    "CloudinaryExport",
    "DuckDBWarehouse",
    "IP2LocationDatabase",
    "MongoDB",
    "MongoDump",
    "Outbox",
    "ProductCrawl",
    "SendGrid",
    "SmtpMailer",
]

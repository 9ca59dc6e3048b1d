"""The names of the saved blocks each business's flows use, one model per business.

They live apart from the flows because a deployment loads its entrypoint file by path:
a model defined there would be a different class from the one another flow imports, and
passing it on (glamira-daily runs glamira-load) would fail validation.
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class BahelaBlocks(BaseModel):
    """Names of the saved blocks the Bahela flows use. A name with no saved block falls
    back to the embedded default under PIPELINES_HOME."""

    mongodb: str = Field(default="bahela-mongodb", description="MongoDB or MongoDump block")
    cloudinary: str = Field(default="bahela-cloudinary", description="Cloudinary or CloudinaryExport block")
    lake: str = Field(default="bahela-lake", description="GcsBucket or LocalFileSystem block")
    warehouse: str = Field(default="bahela-warehouse", description="BigQuery or DuckDB warehouse block")
    mailer: str = Field(default="bahela-mailer", description="SendGrid or Outbox block")
    slack: str = Field(default="bahela-slack", description="Slack incoming webhook block")


class GlamiraBlocks(BaseModel):
    """Names of the saved blocks the Glamira flows use; a name with no saved block falls
    back to the embedded default under PIPELINES_HOME."""

    mongodb: str = Field(default="glamira-mongodb", description="MongoDB or MongoDump block")
    ip2location: str = Field(default="glamira-ip2location", description="IP2Location database block")
    crawl: str = Field(default="glamira-crawl", description="Product crawl settings block")
    lake: str = Field(default="glamira-lake", description="GcsBucket or LocalFileSystem block")
    warehouse: str = Field(default="glamira-warehouse", description="BigQuery or DuckDB warehouse block")


class MartsBlocks(BaseModel):
    """Names of the saved blocks warehouse-marts uses: the warehouse dbt builds in (it
    holds both businesses' raw tables) and the lake the dashboard lands in."""

    warehouse: str = Field(default="marts-warehouse", description="BigQuery or DuckDB warehouse block")
    lake: str = Field(default="glamira-lake", description="GcsBucket or LocalFileSystem block")

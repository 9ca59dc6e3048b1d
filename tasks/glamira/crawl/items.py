"""The crawl's item: one attempt at one product page. Plain data, no Scrapy, so the
runner and readers of results.jsonl use it without starting a crawler."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal


@dataclass
class ProductItem:
    """One crawl attempt of one product: what `results.jsonl` holds, a line each."""

    product_id: str
    url: str  # as requested (from the event's current_url)
    fetched_url: str | None  # the final URL after redirects, in the original's form
    status: int | None  # HTTP status of the last response; None when there was none
    outcome: Literal["ok", "failed"]
    name: str | None = None
    price: float | None = None
    currency: str | None = None
    source: Literal["json-ld", "datalayer", "title"] | None = None
    reason: str | None = None  # why it failed: "HTTP 404", "timeout", ...
    transient: bool = False  # a failure worth retrying on the next run
    crawled_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="milliseconds"))

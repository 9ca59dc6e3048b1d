"""Cloudinary as a source of image metadata: the Search API over httpx, or saved pages.

The Search API is part of the Admin API and is rate-limited per hour. A 420/429 answer
carries `X-FeatureRateLimit-Reset`; we sleep until then (bounded) instead of hammering
it, and back off exponentially on 5xx and network errors.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

import httpx
from prefect.blocks.core import Block
from pydantic import Field, SecretStr

from pipelines.errors import SourceUnavailable

logger = logging.getLogger("pipelines.cloudinary")

RATE_LIMITED = {420, 429}


class Cloudinary(Block):
    """A Cloudinary product environment, searched with the Admin Search API.

    Example:
        ```python
        from pydantic import SecretStr
        from blocks import Cloudinary
        Cloudinary(cloud_name="bahela", api_key="1234", api_secret=SecretStr("..."),
                   expression='resource_type:image AND asset_folder="bahela/*"').save("bahela-cloudinary")
        ```
    """

    _block_type_name = "Cloudinary Account"
    _block_type_slug = "pipelines-cloudinary"
    _description = "Cloudinary Admin/Search API credentials and search settings."

    cloud_name: str
    api_key: str
    api_secret: SecretStr
    api_base_url: str = Field(default="https://api.cloudinary.com")
    expression: str = Field(
        default="resource_type:image",
        description="Search expression ANDed with the day's created_at range.",
    )
    max_results: int = Field(default=500, ge=1, le=500)
    max_attempts: int = Field(default=6, ge=1, description="Tries per page before giving up.")
    max_wait_seconds: float = Field(default=900, description="Longest single wait for a rate-limit reset.")
    timeout_seconds: float = Field(default=60)

    def describe(self) -> str:
        return f"Cloudinary cloud '{self.cloud_name}' at {self.api_base_url}"

    async def resources_created_between(self, start: datetime, end: datetime) -> AsyncIterator[list[dict]]:
        """Pages of resources with `start <= created_at < end`, following `next_cursor`."""
        body: dict = {
            "expression": f"({self.expression}) AND {created_at_range(start, end)}",
            "max_results": self.max_results,
            "sort_by": [{"created_at": "asc"}, {"public_id": "asc"}],
        }
        url = f"{self.api_base_url.rstrip('/')}/v1_1/{self.cloud_name}/resources/search"
        auth = (self.api_key, self.api_secret.get_secret_value())
        async with httpx.AsyncClient(auth=auth, timeout=self.timeout_seconds) as client:
            while True:
                page = await self._post(client, url, body)
                yield page.get("resources", [])
                cursor = page.get("next_cursor")
                if not cursor:
                    return
                body["next_cursor"] = cursor

    async def _post(self, client: httpx.AsyncClient, url: str, body: dict) -> dict:
        for attempt in range(1, self.max_attempts + 1):
            try:
                response = await client.post(url, json=body)
            except httpx.TransportError as exc:
                problem = f"network error {type(exc).__name__}"
                wait = backoff(attempt)
            else:
                if response.status_code == 200:
                    return response.json()
                problem = f"HTTP {response.status_code} {_error_message(response)}"
                if response.status_code in (401, 403):
                    raise SourceUnavailable(
                        f"{self.describe()} refused the credentials ({problem}). "
                        "Check api_key and api_secret of the Cloudinary block."
                    )
                if response.status_code in RATE_LIMITED:
                    wait = min(rate_limit_wait(response.headers, attempt), self.max_wait_seconds)
                elif response.status_code >= 500:
                    wait = backoff(attempt)
                else:
                    raise SourceUnavailable(
                        f"{self.describe()} rejected the search ({problem}). "
                        "Check the expression of the Cloudinary block."
                    )
            if attempt == self.max_attempts:
                break
            logger.warning(
                "%s: %s, attempt %d of %d; retrying in %.1fs",
                self.describe(),
                problem,
                attempt,
                self.max_attempts,
                wait,
            )
            await asyncio.sleep(wait)
        raise SourceUnavailable(
            f"{self.describe()} failed {self.max_attempts} times, last with {problem}. "
            "Check Cloudinary's status and the block's api_base_url; the day can be re-run."
        )


class CloudinaryExport(Block):
    """The embedded default: Search API response pages saved as `search-*.json`.

    Filters by `created_at` the way the API does, so the same day window gives the same
    resources as a live search.
    """

    _block_type_name = "Cloudinary Saved Pages"
    _block_type_slug = "pipelines-cloudinary-export"
    _description = "Saved Cloudinary Search API pages read in place of the live API."

    path: str

    def describe(self) -> str:
        return f"saved Cloudinary pages in {self.path}"

    async def resources_created_between(self, start: datetime, end: datetime) -> AsyncIterator[list[dict]]:
        pages = sorted(Path(self.path).glob("search-*.json"))
        if not pages:
            raise SourceUnavailable(
                f"{self.describe()}: no search-*.json pages. Run `pipelines sample-data` "
                "or point the CloudinaryExport block's path at saved Search API pages."
            )
        for page in pages:
            resources = json.loads(page.read_text()).get("resources", [])
            selected = [r for r in resources if _created_within(r, start, end)]
            if selected:
                yield selected


def created_at_range(start: datetime, end: datetime) -> str:
    """Cloudinary's range syntax is inclusive on both ends; the reader drops `end` itself."""
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    return f'created_at:["{start.astimezone(UTC):{fmt}}" TO "{end.astimezone(UTC):{fmt}}"]'


def rate_limit_wait(headers: httpx.Headers, attempt: int, now: datetime | None = None) -> float:
    """Seconds until the rate limit resets, from `X-FeatureRateLimit-Reset` (an HTTP date,
    epoch seconds or a delay) or `Retry-After`; exponential backoff when neither is given."""
    now = now or datetime.now(UTC)
    for name in ("x-featureratelimit-reset", "retry-after"):
        value = headers.get(name)
        if not value:
            continue
        value = value.strip()
        try:
            number = float(value)
        except ValueError:
            try:
                reset = parsedate_to_datetime(value)
            except (TypeError, ValueError):
                continue
            return max(0.0, (reset - now).total_seconds()) + 0.5
        if number > 1e9:  # epoch seconds
            return max(0.0, number - now.timestamp()) + 0.5
        return max(0.0, number)
    return backoff(attempt)


def backoff(attempt: int, base: float = 1.0, cap: float = 60.0) -> float:
    """Exponential backoff with full jitter."""
    return random.uniform(0, min(cap, base * 2 ** (attempt - 1))) + 0.1


def _error_message(response: httpx.Response) -> str:
    try:
        return str(response.json().get("error", {}).get("message", ""))[:200]
    except (ValueError, AttributeError):
        return response.text[:200]


def _created_within(resource: dict, start: datetime, end: datetime) -> bool:
    try:
        created = datetime.fromisoformat(str(resource["created_at"]).replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return True  # malformed: let the normaliser reject it with a reason, never drop it here
    return start <= created < end

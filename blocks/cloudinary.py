"""Cloudinary as a source of image metadata: the Search API over httpx, or saved pages.

The Search API is part of the Admin API and is rate-limited per hour. A 420/429 answer
carries `X-FeatureRateLimit-Reset`; we sleep until then (bounded) instead of hammering
it, and back off exponentially on 5xx, network errors and malformed pages.

No answer may wedge a run: a wait that would outlast the run's deadline fails at once,
saying when a re-run will succeed, and paging stops when a cursor comes back or the pages
outgrow the `total_count` Cloudinary reported.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import random
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from prefect.blocks.core import Block
from pydantic import Field, SecretStr

from pipelines.errors import SourceUnavailable

if TYPE_CHECKING:
    import cloudinary

logger = logging.getLogger("pipelines.cloudinary")

RATE_LIMITED = {420, 429}
# Pages allowed beyond ceil(total_count / max_results): images added while we page can
# shift resources onto a later page, so a search may honestly run a page or two longer.
PAGE_SLACK = 2


class Cloudinary(Block):
    """A Cloudinary product environment, searched with the Admin Search API.

    Example:
        ```python
        import os
        from pydantic import SecretStr
        from blocks import Cloudinary
        Cloudinary(cloud_name="bahela", api_key="1234", api_secret=SecretStr("..."),
                   expression='resource_type:image AND asset_folder="bahela/*"').save("bahela-cloudinary")
        # or from the URL Cloudinary's console gives (cloudinary://KEY:SECRET@CLOUD)
        Cloudinary.from_url(os.environ["CLOUDINARY_URL"]).save("bahela-cloudinary")
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
    max_wait_seconds: float = Field(
        default=900, gt=0, description="Longest single wait for a rate-limit reset."
    )
    backoff_seconds: float = Field(
        default=1.0,
        gt=0,
        description="Longest first wait after a 5xx, network error or malformed page; "
        "doubles with each attempt, up to a minute.",
    )
    timeout_seconds: float = Field(default=60)

    @classmethod
    def from_url(cls, url: str, **settings: Any) -> Cloudinary:
        """The account of a `CLOUDINARY_URL`, read by the cloudinary SDK's own parser:
        `cloudinary://<api_key>:<api_secret>@<cloud_name>`, with `?upload_prefix=<URL>`
        for another API host (a regional one, or a local stand-in). `settings` sets the
        block's other fields (`expression`, ...)."""
        return cls.from_sdk_config(_sdk_config_of(url), **settings)

    @classmethod
    def from_sdk_config(cls, config: cloudinary.Config, **settings: Any) -> Cloudinary:
        """The account a cloudinary SDK configuration holds: `cloudinary.config()` is the
        one the SDK reads from this process's environment (`CLOUDINARY_URL`, or
        `CLOUDINARY_CLOUD_NAME`, `CLOUDINARY_API_KEY` and `CLOUDINARY_API_SECRET`)."""
        missing = [name for name in ("cloud_name", "api_key", "api_secret") if not getattr(config, name)]
        if missing:
            raise ValueError(
                f"the Cloudinary configuration has no {' or '.join(missing)}: CLOUDINARY_URL must look like "
                "cloudinary://<api_key>:<api_secret>@<cloud_name>[?upload_prefix=<API URL>]"
            )
        if config.upload_prefix:
            settings.setdefault("api_base_url", str(config.upload_prefix))
        return cls(
            cloud_name=str(config.cloud_name),
            api_key=str(config.api_key),
            api_secret=SecretStr(str(config.api_secret)),
            **settings,
        )

    def describe(self) -> str:
        return f"Cloudinary cloud '{self.cloud_name}' at {self.api_base_url}"

    async def check(self, timeout: float = 20.0) -> str:
        """One authenticated search for a single resource: the credentials, the API's
        address and the expression, with no retry and no waiting for a rate limit."""
        body = {"expression": self.expression, "max_results": 1}
        auth = (self.api_key, self.api_secret.get_secret_value())
        try:
            async with httpx.AsyncClient(auth=auth, timeout=timeout) as client:
                response = await client.post(self._search_url(), json=body)
        except httpx.RequestError as exc:
            raise SourceUnavailable(
                f"{self.describe()} is unreachable ({type(exc).__name__}). "
                "Check api_base_url of the Cloudinary block and that this worker can reach it."
            ) from None
        answer = self._judge(response, attempt=1)  # raises on refused credentials or expression
        if isinstance(answer, SearchPage):
            found = "" if answer.total_count is None else f": {answer.total_count} resources match"
            return f"an authenticated search answered{found}"
        if answer.reset_in is not None:  # the credentials passed: only the hourly allowance is spent
            return f"credentials accepted, but the Search API is rate-limited until {_utc_after(answer.reset_in)}"
        raise SourceUnavailable(
            f"{self.describe()} answered the search with {answer.problem}.{answer.hint} "
            "Check Cloudinary's status and api_base_url of the Cloudinary block."
        )

    def _search_url(self) -> str:
        return f"{self.api_base_url.rstrip('/')}/v1_1/{self.cloud_name}/resources/search"

    async def resources_created_between(
        self, start: datetime, end: datetime, *, deadline: float | None = None
    ) -> AsyncIterator[list]:
        """Pages of resources with `start <= created_at < end`, following `next_cursor`.

        `deadline` is a `time.monotonic()` value, the end of the run reading this: a wait
        that would end after it fails at once instead of outliving the run. Resources that
        are not JSON objects are passed on for the normaliser to reject with a reason.
        """
        body: dict = {
            "expression": f"({self.expression}) AND {created_at_range(start, end)}",
            "max_results": self.max_results,
            "sort_by": [{"created_at": "asc"}, {"public_id": "asc"}],
        }
        url = self._search_url()
        auth = (self.api_key, self.api_secret.get_secret_value())
        paging = Paging(self.max_results)
        async with httpx.AsyncClient(auth=auth, timeout=self.timeout_seconds) as client:
            while True:
                page = await self._fetch(client, url, body, deadline)
                endless = paging.follow(page)
                if endless:
                    raise SourceUnavailable(
                        f"{self.describe()} {endless}, so its paging would never end; the search "
                        "stopped instead of reading forever. Re-run the day; if it happens again, "
                        "check Cloudinary's status and what answers at the block's api_base_url."
                    )
                yield page.resources
                if page.next_cursor is None:
                    return
                body["next_cursor"] = page.next_cursor

    async def _fetch(
        self, client: httpx.AsyncClient, url: str, body: dict, deadline: float | None
    ) -> SearchPage:
        for attempt in range(1, self.max_attempts + 1):
            try:
                response = await client.post(url, json=body, timeout=self._request_timeout(deadline))
            except httpx.RequestError as exc:  # refused, timed out, or a body that cannot be decoded
                kind = "network error" if isinstance(exc, httpx.TransportError) else "unreadable answer"
                detail = f": {exc}" if str(exc) else ""
                retry = Retry(f"{kind} {type(exc).__name__}{detail}"[:200], self._backoff(attempt))
            else:
                answer = self._judge(response, attempt)
                if isinstance(answer, SearchPage):
                    return answer
                retry = answer
            if attempt == self.max_attempts:
                break
            # A rate limit is over only at its reset, however short the wait we would take.
            ends_in = max(retry.wait, retry.reset_in or 0.0)
            if deadline is not None and time.monotonic() + ends_in > deadline:
                raise self._out_of_time(retry, attempt, deadline)
            logger.warning(
                "%s: %s, attempt %d of %d; retrying in %.1fs",
                self.describe(),
                retry.problem,
                attempt,
                self.max_attempts,
                retry.wait,
            )
            await asyncio.sleep(retry.wait)
        raise SourceUnavailable(
            f"{self.describe()} failed {self.max_attempts} times, last with {retry.problem}. "
            f"Check Cloudinary's status and the block's api_base_url; the day can be re-run.{retry.hint}"
        )

    def _judge(self, response: httpx.Response, attempt: int) -> SearchPage | Retry:
        """The page in an answer, or how long to wait before asking again; raises when
        asking again cannot help."""
        if response.status_code == 200:
            try:
                return decode_page(response)
            except MalformedPage as exc:
                return Retry(
                    f"a malformed page (HTTP 200, {exc})",
                    self._backoff(attempt),
                    hint=" An answer that is not a Search API page often means api_base_url "
                    "points at a proxy or web page rather than Cloudinary's API.",
                )
        problem = f"HTTP {response.status_code} {_error_message(response)}"
        if response.status_code in (401, 403):
            raise SourceUnavailable(
                f"{self.describe()} refused the credentials ({problem}). "
                "Check api_key and api_secret of the Cloudinary block."
            )
        if response.status_code in RATE_LIMITED:
            reset_in = rate_limit_reset(response.headers)
            if reset_in is None:
                return Retry(problem, min(self._backoff(attempt), self.max_wait_seconds))
            return Retry(
                problem,
                min(reset_in, self.max_wait_seconds),
                reset_in,
                hint=f" The rate limit resets at {_utc_after(reset_in)}; a re-run after then will succeed.",
            )
        if response.status_code >= 500:
            return Retry(problem, self._backoff(attempt))
        raise SourceUnavailable(
            f"{self.describe()} rejected the search ({problem}). "
            "Check the expression of the Cloudinary block."
        )

    def _backoff(self, attempt: int) -> float:
        return backoff(attempt, base=self.backoff_seconds)

    def _request_timeout(self, deadline: float | None) -> float:
        """The block's timeout, shortened so that a hanging request ends with the run."""
        if deadline is None:
            return self.timeout_seconds
        left = deadline - time.monotonic()
        if left <= 0:
            raise SourceUnavailable(
                f"{self.describe()}: the run reached its deadline before the search ended. "
                "Re-run the day; if it keeps happening, raise the flow's timeout."
            )
        return min(self.timeout_seconds, left)

    def _out_of_time(self, retry: Retry, attempt: int, deadline: float) -> SourceUnavailable:
        left = max(0.0, deadline - time.monotonic())
        if retry.reset_in is not None:
            reset = _utc_after(retry.reset_in)
            return SourceUnavailable(
                f"{self.describe()} is rate-limited ({retry.problem}) until {reset} "
                f"(in {_duration(retry.reset_in)}), and the run has {left:.0f} s left, so it stops "
                f"now instead of waiting past its end. A re-run of the day after {reset} will "
                "succeed; a larger max_results on the block spends fewer of the Search API's "
                "hourly calls."
            )
        return SourceUnavailable(
            f"{self.describe()} failed with {retry.problem} (attempt {attempt} of {self.max_attempts}); "
            f"the next try would be in {retry.wait:.1f} s but the run has {left:.0f} s left. Check "
            "Cloudinary's status and the block's api_base_url; the day can be re-run."
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

    async def check(self, timeout: float = 20.0) -> str:
        """The folder holds saved pages, and the first one reads as a Search API page."""
        pages = sorted(Path(self.path).glob("search-*.json"))
        if not pages:
            raise SourceUnavailable(
                f"{self.describe()}: no search-*.json pages. Run `pipelines sample-data` "
                "or point the CloudinaryExport block's path at saved Search API pages."
            )
        return (
            f"{len(pages)} saved pages; {pages[0].name} holds {len(self._read(pages[0]).resources)} resources"
        )

    async def resources_created_between(
        self, start: datetime, end: datetime, *, deadline: float | None = None
    ) -> AsyncIterator[list]:
        """Like `Cloudinary.resources_created_between`; reading files never waits, so
        `deadline` is accepted only to keep the two blocks interchangeable."""
        pages = sorted(Path(self.path).glob("search-*.json"))
        if not pages:
            raise SourceUnavailable(
                f"{self.describe()}: no search-*.json pages. Run `pipelines sample-data` "
                "or point the CloudinaryExport block's path at saved Search API pages."
            )
        for page in pages:
            selected = [r for r in self._read(page).resources if _created_within(r, start, end)]
            if selected:
                yield selected

    def _read(self, page: Path) -> SearchPage:
        try:
            return search_page(json.loads(page.read_bytes()))
        except ValueError as exc:  # not JSON, not UTF-8, or not a page (MalformedPage)
            raise SourceUnavailable(
                f"{self.describe()}: {page.name} is not a saved Search API page ({exc}). "
                "Replace or remove that file, or point the CloudinaryExport block's path at "
                "saved Search API pages (`pipelines sample-data` writes a fresh set)."
            ) from exc


def _sdk_config_of(url: str) -> cloudinary.Config:
    """The cloudinary SDK's configuration of `url` alone. `cloudinary.Config` reads its URL
    from the process environment, and leaves where the URL comes from to its subclasses
    (`_load_config_from_env`; the SDK's own `AccountConfig` is one): this one hands it
    `url`, so the SDK parses it without this process's environment being touched."""
    import cloudinary

    class UrlConfig(cloudinary.Config):
        def _load_config_from_env(self) -> None:
            self._load_from_url(url)

    return UrlConfig()


@dataclass(frozen=True)
class Retry:
    """Why a page must be asked for again, and how long to wait first."""

    problem: str
    wait: float
    reset_in: float | None = None  # seconds until the rate limit resets, when Cloudinary said
    hint: str = ""  # what to check, should this be the last attempt


class MalformedPage(ValueError):
    """A page that is not a Search API response; the message says how."""


@dataclass(frozen=True)
class SearchPage:
    """One Search API response, checked: the parts paging relies on have the right types."""

    resources: list  # as sent: an item that is not an object is the normaliser's to reject
    next_cursor: str | None = None
    total_count: int | None = None


def search_page(payload: object) -> SearchPage:
    """A decoded Search API response as a `SearchPage`, or `MalformedPage` saying what is off."""
    if not isinstance(payload, dict):
        raise MalformedPage(f"{_a_json(payload)} instead of an object")
    if "resources" not in payload:
        raise MalformedPage("no `resources`")
    resources = payload["resources"]
    if not isinstance(resources, list):
        raise MalformedPage(f"`resources` is {_a_json(resources)}, not a list")
    cursor = payload.get("next_cursor")
    if cursor is not None and not isinstance(cursor, str):
        raise MalformedPage(f"`next_cursor` is {_a_json(cursor)}, not a string")
    total = payload.get("total_count")
    if total is not None and (isinstance(total, bool) or not isinstance(total, int) or total < 0):
        raise MalformedPage(f"`total_count` is {_a_json(total)}, not a count")
    return SearchPage(resources, cursor or None, total)


def decode_page(response: httpx.Response) -> SearchPage:
    try:
        payload = response.json()
    except ValueError:  # JSONDecodeError or UnicodeDecodeError: an HTML error page, a cut body
        content_type = response.headers.get("content-type", "no content type").split(";")[0]
        raise MalformedPage(f"not JSON but {content_type}") from None
    return search_page(payload)


@dataclass
class Paging:
    """One search's progress through its pages, to tell an ending search from an endless one."""

    max_results: int
    pages: int = 0
    total_count: int | None = None  # the largest reported: it grows while images are added
    cursors: set[str] = field(default_factory=set)

    def follow(self, page: SearchPage) -> str | None:
        """Count `page`; say why following its `next_cursor` would never end, or None."""
        self.pages += 1
        if page.total_count is not None:
            self.total_count = max(self.total_count or 0, page.total_count)
        cursor = page.next_cursor
        if cursor is None:
            return None
        if cursor in self.cursors:
            return f"gave next_cursor {cursor[:40]!r} a second time, on page {self.pages}"
        self.cursors.add(cursor)
        limit = self.limit()
        if limit is not None and self.pages >= limit:
            return (
                f"offered page {self.pages + 1} when total_count {self.total_count} "
                f"at max_results {self.max_results} fills at most {limit}"
            )
        return None

    def limit(self) -> int | None:
        if self.total_count is None:
            return None
        return math.ceil(self.total_count / self.max_results) + PAGE_SLACK


def created_at_range(start: datetime, end: datetime) -> str:
    """Cloudinary's range syntax is inclusive on both ends; the reader drops `end` itself."""
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    return f'created_at:["{start.astimezone(UTC):{fmt}}" TO "{end.astimezone(UTC):{fmt}}"]'


def rate_limit_reset(headers: httpx.Headers, now: datetime | None = None) -> float | None:
    """Seconds until the rate limit resets, from `X-FeatureRateLimit-Reset` (an HTTP date,
    epoch seconds or a delay) or `Retry-After`; None when neither says."""
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
            return max(0.0, (reset - now).total_seconds()) + 0.5  # the date has whole seconds
        if not math.isfinite(number):
            continue
        if number > 1e9:  # epoch seconds
            return max(0.0, number - now.timestamp()) + 0.5
        return max(0.0, number)
    return None


def backoff(attempt: int, base: float = 1.0, cap: float = 60.0) -> float:
    """Exponential backoff with full jitter."""
    return random.uniform(0, min(cap, base * 2 ** (attempt - 1))) + 0.1


def _utc_after(seconds: float) -> str:
    return f"{datetime.now(UTC) + timedelta(seconds=seconds):%Y-%m-%d %H:%M:%S} UTC"


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{round(seconds / 60)} min"


def _a_json(value: object) -> str:
    """What a decoded JSON value is, for a message: "null", "a list", "an object"..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "a list" if isinstance(value, list) else "an object"


def _error_message(response: httpx.Response) -> str:
    try:
        return str(response.json().get("error", {}).get("message", ""))[:200]
    except (ValueError, AttributeError):
        return response.text[:200]


def _created_within(resource: object, start: datetime, end: datetime) -> bool:
    # malformed resources are kept: the normaliser rejects them with a reason, never drop one here
    if not isinstance(resource, dict):
        return True
    try:
        created = datetime.fromisoformat(str(resource["created_at"]).replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return True
    return start <= created < end

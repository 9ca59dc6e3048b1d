"""Scrapy components of the product crawl: robots.txt for every request (also those that
wait for it together), retries with exponential backoff, and the pipeline that appends
every item to `results.jsonl` as soon as it is scraped."""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import asdict
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.http import Request, Response
from scrapy.robotstxt import RobotParser
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.defer import Deferred

from tasks.glamira.crawl.workdir import open_for_append

logger = logging.getLogger(__name__)


class SharedRobotsTxtMiddleware(RobotsTxtMiddleware):
    """Scrapy's RobotsTxtMiddleware, fixed for requests that wait for robots.txt together.

    In Scrapy 2.19 the requests that arrive while a domain's robots.txt is downloading
    await the same Deferred through `maybe_deferred_to_future`, whose callback consumes
    the result: the first waiter gets the parser, every later one gets None and is let
    through unchecked (seen here: a disallowed page fetched when a crawl starts with more
    than a few products). Each waiter here gets its own Deferred, fed by a callback that
    passes the parser on.
    """

    async def robot_parser(self, request: Request) -> RobotParser | None:
        pending = self._parsers.get(urlparse_cached(request).netloc)
        if not isinstance(pending, Deferred):
            return await super().robot_parser(request)
        waiter: Deferred[RobotParser | None] = Deferred()

        def relay(parser: RobotParser | None) -> RobotParser | None:
            waiter.callback(parser)
            return parser  # for the next waiter

        pending.addCallback(relay)
        return await maybe_deferred_to_future(waiter)


class BackoffRetryMiddleware(RetryMiddleware):
    """Scrapy's RetryMiddleware (RETRY_TIMES, RETRY_HTTP_CODES, RETRY_EXCEPTIONS) that
    waits before each retry: `RETRY_BACKOFF_BASE * 2 ** (attempt - 1)` seconds, or the
    server's `Retry-After`, at most `RETRY_BACKOFF_MAX`. The wait holds only the retried
    request; other downloads go on."""

    def __init__(self, settings) -> None:
        super().__init__(settings)
        self.backoff_base = settings.getfloat("RETRY_BACKOFF_BASE", 1.0)
        self.backoff_max = settings.getfloat("RETRY_BACKOFF_MAX", 60.0)

    @classmethod
    def from_crawler(cls, crawler: Crawler):
        middleware = cls(crawler.settings)
        middleware.crawler = crawler
        return middleware

    async def process_response(self, request: Request, response: Response) -> Request | Response:
        result = super().process_response(request, response)
        if isinstance(result, Request):
            await self._wait(result, retry_after(response))
        return result

    async def process_exception(self, request: Request, exception: Exception) -> Request | Response | None:
        result = super().process_exception(request, exception)
        if isinstance(result, Request):
            await self._wait(result, None)
        return result

    async def _wait(self, retry: Request, server_asks: float | None) -> None:
        attempt = retry.meta.get("retry_times", 1)
        delay = server_asks if server_asks is not None else self.backoff_base * 2 ** (attempt - 1)
        delay = max(0.0, min(delay, self.backoff_max))
        logger.debug("backing off %.2fs before retry %d of %s", delay, attempt, retry.url)
        if delay:
            await asyncio.sleep(delay)


def retry_after(response: Response) -> float | None:
    """Seconds a `Retry-After` header asks for (delta-seconds or an HTTP date)."""
    value = response.headers.get(b"Retry-After")
    if not value:
        return None
    text = value.decode("latin-1").strip()
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return (parsedate_to_datetime(text) - datetime.now(UTC)).total_seconds()
    except (TypeError, ValueError):
        return None


class ResultsFilePipeline:
    """Appends each item as one JSON line to `RESULTS_FILE`, flushed at once, so an
    interrupted crawl keeps every result it got."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file = None

    @classmethod
    def from_crawler(cls, crawler: Crawler):
        return cls(Path(crawler.settings["RESULTS_FILE"]))

    def open_spider(self) -> None:
        self._file = open_for_append(self.path)

    def process_item(self, item):
        self._file.write(json.dumps(asdict(item), ensure_ascii=False) + "\n")
        self._file.flush()
        return item

    def close_spider(self) -> None:
        if self._file is not None:
            self._file.close()

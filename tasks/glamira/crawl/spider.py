"""The product-page spider: it only parses. Politeness, retries and output live in the
crawler's settings, middlewares and pipeline (`runner.py`).

Every requested product ends as exactly one `ProductItem`: a success from `parse`, or a
failure from `parse` (a page without a product name) or from the errback (HTTP errors
after retries, timeouts, connection errors, redirect loops, robots.txt). Nothing is
swallowed: a failure the errback cannot classify is recorded with its exception.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from urllib.parse import urlsplit

import scrapy
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
    IgnoreRequest,
    ResponseDataLossError,
)
from scrapy.http import Response, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet import error as twisted_errors
from twisted.python.failure import Failure

from tasks.glamira.crawl.items import ProductItem
from tasks.glamira.crawl.parsing import extract_product, parse_price

__all__ = ["ProductItem", "ProductSpider", "extract_product", "fetch_url", "original_url", "parse_price"]

NO_NAME = "no product name on page"
ROBOTS = "disallowed by robots.txt"
TIMEOUT = "timeout"
CONNECTION = "DNS/connection error"
REDIRECT_LOOP = "redirect loop"
TOO_MANY_REDIRECTS = "too many redirects"

# statuses worth another try on a later run; other 4xx (403, 404, 410...) are final
TRANSIENT_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504, 520, 521, 522, 523, 524})

_TIMEOUTS = (DownloadTimeoutError, twisted_errors.TimeoutError, twisted_errors.TCPTimedOutError)
_CONNECTION_ERRORS = (
    CannotResolveHostError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    ResponseDataLossError,
    twisted_errors.DNSLookupError,
    twisted_errors.ConnectError,
    twisted_errors.ConnectionLost,
    twisted_errors.ConnectionDone,
    ConnectionError,
)


def fetch_url(url: str, rewrite_to: str | None) -> str:
    """The URL to download: `url` itself, or `{rewrite_to}/{host}/{path}?{query}`."""
    if not rewrite_to:
        return url
    parts = urlsplit(url)
    query = f"?{parts.query}" if parts.query else ""
    return f"{rewrite_to.rstrip('/')}/{parts.netloc}{parts.path or '/'}{query}"


def original_url(fetched: str, rewrite_to: str | None, scheme: str = "https") -> str:
    """Undo `fetch_url`: `{rewrite_to}/{host}/{path}` back to `{scheme}://{host}/{path}`."""
    prefix = f"{rewrite_to.rstrip('/')}/" if rewrite_to else None
    if not prefix or not fetched.startswith(prefix):
        return fetched
    return f"{scheme}://{fetched.removeprefix(prefix)}"


class ProductSpider(scrapy.Spider):
    """Fetches each product's page once (redirects followed, retries by the middleware)
    and yields one `ProductItem` per product.

    `products`: `(product_id, url)` pairs; `rewrite_to`: see `fetch_url`.
    """

    name = "glamira_products"

    def __init__(
        self, products: Iterable[tuple[str, str]] = (), rewrite_to: str | None = None, **kwargs
    ) -> None:
        super().__init__(**kwargs)
        self.products = [(str(product_id), url) for product_id, url in products]
        self.rewrite_to = rewrite_to

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for product_id, url in self.products:
            yield scrapy.Request(
                fetch_url(url, self.rewrite_to),
                callback=self.parse,
                errback=self.failed,
                # products are deduplicated before the crawl; without this a redirect
                # back to a page already seen would be dropped silently
                dont_filter=True,
                meta={"product_id": product_id, "original_url": url},
            )

    def parse(self, response: Response, **kwargs) -> Iterable[ProductItem]:
        if not isinstance(response, TextResponse):
            yield self._item(response.request, response, outcome="failed", reason="not an HTML page")
            return
        try:
            found = extract_product(response.text, response.meta["product_id"])
        except Exception as error:  # a parser bug must not lose the product: record it, retry next run
            self.logger.exception("could not parse %s", response.url)
            yield self._item(
                response.request, response, outcome="failed", reason=f"parse error: {error!r}", transient=True
            )
            return
        if found is None:
            yield self._item(response.request, response, outcome="failed", reason=NO_NAME)
        else:
            yield self._item(response.request, response, outcome="ok", **found)

    def failed(self, failure: Failure) -> Iterable[ProductItem]:
        request = failure.request
        response = getattr(failure.value, "response", None)
        reason, transient = describe_failure(failure)
        self.logger.info("failed %s (%s): %s", request.meta["product_id"], request.url, reason)
        yield self._item(request, response, outcome="failed", reason=reason, transient=transient)

    def _item(self, request: scrapy.Request, response: Response | None, **values) -> ProductItem:
        url = request.meta["original_url"]
        scheme = urlsplit(url).scheme or "https"
        final = response.url if response is not None else request.url
        return ProductItem(
            product_id=request.meta["product_id"],
            url=url,
            fetched_url=original_url(final, self.rewrite_to, scheme),
            status=response.status if response is not None else None,
            **values,
        )


def describe_failure(failure: Failure) -> tuple[str, bool]:
    """`(reason, transient)` of a failed request."""
    error = failure.value
    if isinstance(error, HttpError):
        status = error.response.status
        return f"HTTP {status}", status in TRANSIENT_STATUSES or status >= 500
    if isinstance(error, IgnoreRequest):
        message = str(error)
        if "robots.txt" in message:
            return ROBOTS, False
        if "redirections" in message:
            request = failure.request
            seen = [*request.meta.get("redirect_urls", []), request.url]
            return (REDIRECT_LOOP if len(set(seen)) < len(seen) else TOO_MANY_REDIRECTS), False
        return f"ignored: {message}", False
    if isinstance(error, _TIMEOUTS):
        return TIMEOUT, True
    if isinstance(error, _CONNECTION_ERRORS):
        return CONNECTION, True
    return f"{type(error).__name__}: {error}", True

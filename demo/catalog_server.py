"""A local stand-in for the Glamira shops: a threaded HTTP server on 127.0.0.1 serving a
generated catalog, with the failures real product pages have (403, 404, redirects,
slow answers, 503s), so the crawler runs end to end without the internet.

Catalog layout (`folder`):

    robots.txt                          served at /robots.txt; rules use the rewritten
                                        paths, e.g. `Disallow: /www.glamira.de/private/`
    <host>/<path>                       served at GET /<host>/<path> (the query string is
                                        ignored): www.glamira.de/glamira-ring-saphira.html
    routes.json                         optional, overrides by path (no query):
        {"/www.glamira.de/x.html": {"status": 403},
         "/www.glamira.de/gone.html": {"status": 404},
         "/www.glamira.de/old.html": {"status": 301, "location": "https://www.glamira.com/new.html"},
         "/www.glamira.de/slow.html": {"delay_seconds": 3.0},
         "/www.glamira.de/busy.html": {"status": 503, "times": 1, "headers": {"Retry-After": "1"}}}

A redirect's `location` may be a product URL (`https://www.glamira.com/new.html`) or a
path here (`/www.glamira.com/new.html`); it is sent as the path. A route may combine
`delay_seconds` (sleep, then answer) with a `status` (and `location` for redirects,
`headers`, `body`); without a status the file is served after the delay. `times: n`
applies the route to the first n requests of that path only, then the file is served.
Unknown paths answer 404. Every request is recorded in `.requests`.

The crawler reaches it through `CrawlSettings(rewrite_to=server.url)`: the product URL
`https://www.glamira.de/glamira-ring-saphira.html?alloy=white-375` is fetched as
`{server.url}/www.glamira.de/glamira-ring-saphira.html?alloy=white-375`.

    with CatalogServer(folder) as server:
        crawl(requests, workdir, CrawlSettings(rewrite_to=server.url))
"""

from __future__ import annotations

import html
import json
import mimetypes
import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit


@dataclass(frozen=True)
class CatalogRequest:
    """One request the server received."""

    method: str
    path: str  # as sent, with its query string
    headers: dict[str, str]
    received_at: float  # time.monotonic()

    @property
    def route(self) -> str:
        """The path without its query string."""
        return urlsplit(self.path).path

    @property
    def user_agent(self) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == "user-agent"), None)


class CatalogServer:
    """Serves `folder` (layout in the module's docstring) on 127.0.0.1, on a free port
    unless `port` is given. Use as a context manager; `.url` is its base URL.

    `routes` is loaded from `routes.json` when the server is created; tests may change
    the dict while it runs."""

    def __init__(self, folder: Path, port: int = 0) -> None:
        self.folder = Path(folder).resolve()
        routes_file = self.folder / "routes.json"
        self.routes: dict[str, dict] = json.loads(routes_file.read_text()) if routes_file.exists() else {}
        self.requests: list[CatalogRequest] = []
        self._served: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="catalog-server", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> CatalogServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wake delayed answers
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> CatalogServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def requested_routes(self, since: int = 0) -> list[str]:
        """Paths (without query) of the requests received, from the `since`-th on."""
        return [r.route for r in self.requests[since:]]

    # --- answering ----------------------------------------------------------------

    def answer(self, method: str, path: str) -> tuple[int, dict[str, str], bytes]:
        """`(status, headers, body)` for a request of `path`."""
        route = unquote(urlsplit(path).path)
        with self._lock:
            self._served[route] += 1
            served = self._served[route]
        override = self.routes.get(route)
        if override and "times" in override and served > int(override["times"]):
            override = None
        if override:
            delay = float(override.get("delay_seconds", 0))
            if delay and self._stopping.wait(delay):
                return 503, {}, b""
            if "status" in override:
                status = int(override["status"])
                headers = dict(override.get("headers", {}))
                if "location" in override:
                    headers["Location"] = _local(override["location"])
                body = override.get("body", f"<html><body><h1>{status}</h1></body></html>")
                return status, {"Content-Type": "text/html; charset=utf-8", **headers}, body.encode()
        file = self._file(route)
        if file is None:
            return (
                404,
                {"Content-Type": "text/html; charset=utf-8"},
                b"<html><body><h1>404</h1></body></html>",
            )
        content_type = mimetypes.guess_type(file.name)[0] or "text/html"
        if content_type.startswith("text/"):
            content_type += "; charset=utf-8"
        headers = {"Content-Type": content_type, **(override or {}).get("headers", {})}
        return 200, headers, file.read_bytes()

    def _file(self, route: str) -> Path | None:
        file = (self.folder / route.lstrip("/")).resolve()
        if not file.is_relative_to(self.folder) or not file.is_file() or file.name == "routes.json":
            return None
        return file

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            server_version = "GlamiraCatalog/1.0"

            def do_GET(self) -> None:
                self._serve(with_body=True)

            def do_HEAD(self) -> None:
                self._serve(with_body=False)

            def _serve(self, with_body: bool) -> None:
                server.requests.append(
                    CatalogRequest(self.command, self.path, dict(self.headers.items()), time.monotonic())
                )
                status, headers, body = server.answer(self.command, self.path)
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    if with_body:
                        self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout)
                    self.close_connection = True

            def log_message(self, *args) -> None:
                pass

        return Handler


def _local(location: str) -> str:
    """A redirect target on this server: `https://host/path?q` becomes `/host/path?q`."""
    parts = urlsplit(location)
    if not parts.netloc:
        return location
    return f"/{parts.netloc}{parts.path or '/'}" + (f"?{parts.query}" if parts.query else "")


def product_page(
    name: str,
    *,
    product_id: str,
    price: float | None = None,
    currency: str | None = None,
    markup: str = "json-ld",
) -> str:
    """A product page as the shops write them, with the name where `markup` says:
    "json-ld" (a schema.org Product), "datalayer" (a GA ecommerce dataLayer push) or
    "title" (`h1.page-title span.base` and `<title>` only). For sample catalogs."""
    escaped = html.escape(name)
    price_text = None if price is None else f"{price:.2f}"
    if markup == "json-ld":
        product = {"@context": "https://schema.org", "@type": "Product", "name": name, "sku": product_id}
        if price_text is not None:
            product["offers"] = {"@type": "Offer", "price": price_text, "priceCurrency": currency}
        structured = f'<script type="application/ld+json">{json.dumps(product)}</script>'
    elif markup == "datalayer":
        item = {"id": product_id, "name": name, "price": price_text}
        push = {"ecommerce": {"currencyCode": currency, "detail": {"products": [item]}}}
        structured = (
            f"<script>window.dataLayer = window.dataLayer || [];dataLayer.push({json.dumps(push)});</script>"
        )
    elif markup == "title":
        structured = ""
    else:
        raise ValueError(f"unknown markup {markup!r}: json-ld, datalayer or title")
    return (
        '<!doctype html>\n<html lang="de"><head><meta charset="utf-8">'
        f"<title>{escaped} | GLAMIRA.de</title>{structured}</head>"
        f'<body><h1 class="page-title"><span class="base">{escaped}</span></h1></body></html>\n'
    )

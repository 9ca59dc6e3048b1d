"""Real HTTP servers on 127.0.0.1 that stand in for SendGrid, Slack, Cloudinary's Search
API and Google's OAuth token endpoint. The production clients talk to them over sockets;
nothing is patched."""

from __future__ import annotations

import base64
import json
import re
import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)


@dataclass
class Reply:
    status: int = 200
    body: bytes | str | dict | list = b""
    headers: dict[str, str] = field(default_factory=dict)
    chunks: list[bytes] | None = None  # sent with Transfer-Encoding: chunked (streams)


class LocalHTTPServer:
    """A threaded HTTP server; subclasses answer in `handle`. Every request is recorded."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive and chunked streams, as real APIs

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                request = Request(
                    self.command, self.path, dict(self.headers.items()), self.rfile.read(length)
                )
                outer.requests.append(request)
                reply = outer.handle(request)
                body = reply.body
                if isinstance(body, dict | list):
                    body = json.dumps(body).encode()
                    reply.headers.setdefault("Content-Type", "application/json")
                elif isinstance(body, str):
                    body = body.encode()
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                if reply.chunks is not None:
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    for chunk in [*reply.chunks, b""]:
                        self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                    return
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

            def log_message(self, *args) -> None:  # keep test output clean
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def handle(self, request: Request) -> Reply:
        raise NotImplementedError

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()


class RecordingServer(LocalHTTPServer):
    """Answers with queued replies (then `default`) and records what it was sent:
    SendGrid (202) and Slack incoming webhooks (200 "ok")."""

    def __init__(self, default: Reply) -> None:
        super().__init__()
        self.default = default
        self.replies: deque[Reply] = deque()

    def handle(self, request: Request) -> Reply:
        return self.replies.popleft() if self.replies else self.default


class FakeSendGrid(RecordingServer):
    """SendGrid's API as the mailer uses it: `GET /v3/scopes` (what `pipelines check`
    asks) lists the key's scopes, `POST /v3/mail/send` answers 202."""

    def __init__(self) -> None:
        super().__init__(Reply(202, b""))

    def handle(self, request: Request) -> Reply:
        if request.method == "GET" and request.path == "/v3/scopes":
            return Reply(200, {"scopes": ["mail.send"]})
        return super().handle(request)

    @property
    def mails(self) -> list[Request]:
        return [r for r in self.requests if r.method == "POST" and r.path == "/v3/mail/send"]


class GoogleTokenServer(LocalHTTPServer):
    """OAuth 2.0 token endpoint for service-account JWT grants: any assertion gets a token."""

    def handle(self, request: Request) -> Reply:
        return Reply(200, {"access_token": "local-test-token", "expires_in": 3600, "token_type": "Bearer"})


_RANGE = re.compile(r'created_at:\["([^"]+)" TO "([^"]+)"\]')


class FakeCloudinary(LocalHTTPServer):
    """Cloudinary's Search API over a list of resources: Basic auth, the created_at range
    of the expression (all resources when it has none), `max_results` pages with
    `next_cursor`, and injectable faults (rate limits with a reset header, server errors,
    malformed pages) served before the real answers. `paging_fault` makes the real answers page wrongly: "repeat" gives the
    first page's `next_cursor` on every page, "endless" offers a new cursor past the end."""

    def __init__(self, cloud: str, api_key: str, api_secret: str, resources: list[dict]) -> None:
        super().__init__()
        self.cloud = cloud
        self.credentials = base64.b64encode(f"{api_key}:{api_secret}".encode()).decode()
        self.resources = sorted(resources, key=lambda r: (r["created_at"], r["public_id"]))
        self.faults: deque[Reply] = deque()
        self.paging_fault: str | None = None

    def rate_limit(self, reset_in_seconds: float, status: int = 420) -> Reply:
        reset = datetime.fromtimestamp(datetime.now(UTC).timestamp() + reset_in_seconds, UTC)
        return Reply(
            status,
            {"error": {"message": "Rate Limit Exceeded"}},
            {
                "X-FeatureRateLimit-Limit": "500",
                "X-FeatureRateLimit-Remaining": "0",
                "X-FeatureRateLimit-Reset": format_datetime(reset, usegmt=True),
            },
        )

    def handle(self, request: Request) -> Reply:
        if request.path != f"/v1_1/{self.cloud}/resources/search" or request.method != "POST":
            return Reply(404, {"error": {"message": f"no route {request.method} {request.path}"}})
        if request.headers.get("Authorization") != f"Basic {self.credentials}":
            return Reply(401, {"error": {"message": "Invalid credentials"}})
        if self.faults:
            return self.faults.popleft()
        query = request.json()
        match = _RANGE.search(query.get("expression", ""))
        selected = self.resources  # an expression without a range (a check) matches them all
        if match:
            low, high = (datetime.fromisoformat(v.replace("Z", "+00:00")) for v in match.groups())
            selected = [
                r
                for r in self.resources
                if low <= datetime.fromisoformat(r["created_at"].replace("Z", "+00:00")) <= high
            ]
        size = min(int(query.get("max_results", 50)), 500)
        start = int(query.get("next_cursor") or 0)
        page = {"total_count": len(selected), "time": 12, "resources": selected[start : start + size]}
        if start + size < len(selected) or self.paging_fault == "endless":
            page["next_cursor"] = str(start + size)
        if self.paging_fault == "repeat":
            page["next_cursor"] = str(size)
        return Reply(200, page)

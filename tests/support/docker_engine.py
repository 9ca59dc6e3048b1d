"""The real engine's Docker API with one call stood in: image pushes.

`prefect deploy` of a docker deployment builds the image and pushes it, both through the
Docker Engine API (DOCKER_HOST). The build runs on the real engine (podman, see
tests/support/containers.py). A push needs a registry, and none can run or be reached
here, so this proxy answers `POST /images/{name}/push` itself: it checks, on the real
engine, that the tag being pushed exists (the error Docker gives otherwise) and records
the push. Every other call (build, tag, inspect, ...) goes to the engine unchanged and
its answer is streamed back as it comes: a build streams its log for minutes.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, urlparse

_PUSH = re.compile(r"(?:/v[\d.]+)?/images/(.+)/push")
_HOP_BY_HOP = {"connection", "content-length", "transfer-encoding", "keep-alive", "host"}


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float | None = None):
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self._path)


class PushStandIn:
    """A Docker Engine API on 127.0.0.1 in front of the engine at `engine` (a
    `unix://` DOCKER_HOST); `pushes` lists the `name:tag` references pushed."""

    def __init__(self, engine: str) -> None:
        if not engine.startswith("unix://"):
            raise ValueError(f"the engine is reached on a unix socket, not {engine}")
        self.engine_socket = engine.removeprefix("unix://")
        self.pushes: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # docker-py keeps connections alive and reads streams

            def _serve(self) -> None:
                body = self._body()
                url = urlparse(self.path)
                push = _PUSH.fullmatch(url.path)
                if push and self.command == "POST":
                    query = {k: v[0] for k, v in parse_qs(url.query).items()}
                    self._stream(200, outer._push(push.group(1), query.get("tag") or "latest"))
                else:
                    self._forward(body)

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    data = b""
                    while size := int(self.rfile.readline().split(b";")[0], 16):
                        data += self.rfile.read(size)
                        self.rfile.readline()
                    self.rfile.readline()
                    return data
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _forward(self, body: bytes) -> None:
                upstream = _UnixConnection(outer.engine_socket, timeout=None)
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                    upstream.request(self.command, self.path, body=body or None, headers=headers)
                    response = upstream.getresponse()
                    self.send_response(response.status, response.reason)
                    for name, value in response.getheaders():
                        if name.lower() not in _HOP_BY_HOP:
                            self.send_header(name, value)
                    if self.command == "HEAD" or response.status in (204, 304):
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    while chunk := response.read1(65536):
                        self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                        self.wfile.flush()
                    self.wfile.write(b"0\r\n\r\n")
                finally:
                    upstream.close()

            def _stream(self, status: int, events: list[dict]) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for event in events:
                    chunk = (json.dumps(event) + "\r\n").encode()
                    self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                self.wfile.write(b"0\r\n\r\n")

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _serve

            def log_message(self, *args) -> None:  # keep test output clean
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def docker_host(self) -> str:
        host, port = self._server.server_address[:2]
        return f"tcp://{host}:{port}"

    def _push(self, name: str, tag: str) -> list[dict]:
        reference = f"{name}:{tag}"
        engine = _UnixConnection(self.engine_socket, timeout=30)
        try:
            engine.request("GET", f"/images/{quote(reference, safe='')}/json")
            response = engine.getresponse()
            found = response.status == 200
            image = json.loads(response.read() or b"{}") if found else {}
        finally:
            engine.close()
        if not found:
            return [{"error": f"An image does not exist locally with the tag: {name}"}]
        self.pushes.append(reference)
        # a registry's manifest digest cannot be had without a registry: one derived from the image
        digest = "sha256:" + hashlib.sha256(image["Id"].encode()).hexdigest()
        return [
            {"status": f"The push refers to repository [{name}]"},
            {"status": f"{tag}: digest: {digest} size: {image.get('Size', 0)}"},
            {"aux": {"Tag": tag, "Digest": digest, "Size": image.get("Size", 0)}},
        ]

    def __enter__(self) -> PushStandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

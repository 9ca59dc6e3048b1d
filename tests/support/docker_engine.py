"""A stand-in for the Docker Engine API, for `prefect deploy` of the docker deployments.

No Docker engine can run on this machine, so this is a fake, and the tests that use it
say so. It answers the calls prefect-docker's build and push steps make through the
docker SDK (`/version`, `/build`, `/images/{id}/json`, `/images/{id}/tag`,
`/images/{name}/push`) and, instead of building, checks the build context the way a
build would first fail: the Dockerfile is in the context, and every `COPY` source
exists in it after `.dockerignore`. It records what was built and pushed.
"""

from __future__ import annotations

import hashlib
import io
import re
import shlex
import tarfile
from dataclasses import dataclass
from urllib.parse import parse_qs, urlparse

from tests.support.http_servers import LocalHTTPServer, Reply, Request

API_VERSION = "1.45"


@dataclass
class Build:
    dockerfile: str
    tags: list[str]
    files: set[str]
    image_id: str


class FakeDockerEngine(LocalHTTPServer):
    def __init__(self) -> None:
        super().__init__()
        self.builds: list[Build] = []
        self.pushes: list[str] = []
        self.tags: dict[str, list[str]] = {}

    @property
    def docker_host(self) -> str:
        return self.url.replace("http://", "tcp://")

    def handle(self, request: Request) -> Reply:
        url = urlparse(request.path)
        path = re.sub(r"^/v\d+\.\d+", "", url.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if path == "/_ping":
            return Reply(200, "OK", {"Api-Version": API_VERSION, "Content-Type": "text/plain"})
        if path == "/version":
            return Reply(
                200, {"ApiVersion": API_VERSION, "Version": "28.2.2", "MinAPIVersion": "1.24", "Os": "linux"}
            )
        if path == "/build" and request.method == "POST":
            return self._build(request.body, query)
        if match := re.fullmatch(r"/images/(.+)/json", path):
            image = match.group(1)
            return Reply(200, {"Id": image, "RepoTags": self.tags.get(image, [])})
        if match := re.fullmatch(r"/images/(.+)/tag", path):
            self.tags.setdefault(match.group(1), []).append(f"{query['repo']}:{query.get('tag', 'latest')}")
            return Reply(201, b"")
        if match := re.fullmatch(r"/images/(.+)/push", path):
            name = f"{match.group(1)}:{query.get('tag', 'latest')}"
            if not any(name in tags for tags in self.tags.values()):
                return self._stream([{"error": f"An image does not exist locally with the tag: {name}"}])
            self.pushes.append(name)
            digest = "sha256:" + hashlib.sha256(name.encode()).hexdigest()
            return self._stream(
                [
                    {"status": f"The push refers to repository [{match.group(1)}]"},
                    {"status": "Pushed"},
                    {"aux": {"Tag": query.get("tag"), "Digest": digest, "Size": 1}},
                ]
            )
        return Reply(404, {"message": f"page not found: {request.method} {path}"})

    def _build(self, body: bytes, query: dict) -> Reply:
        dockerfile = query.get("dockerfile", "Dockerfile")
        with tarfile.open(fileobj=io.BytesIO(body)) as context:
            files = {m.name.removeprefix("./") for m in context.getmembers()}
            if dockerfile not in files:
                return self._stream([{"error": f"Cannot locate specified Dockerfile: {dockerfile}"}])
            text = context.extractfile(dockerfile).read().decode()
        for sources in _copy_sources(text):
            for source in sources:
                if not any(f == source or f.startswith(source.rstrip("/") + "/") for f in files):
                    return self._stream(
                        [{"error": f"COPY failed: file not found in build context: {source}"}]
                    )
        image_id = "sha256:" + hashlib.sha256(body).hexdigest()
        self.builds.append(Build(dockerfile, [query.get("t", "")], files, image_id))
        return self._stream(
            [
                {"stream": f"Step 1/1 : checked {dockerfile} against {len(files)} files\n"},
                {"aux": {"ID": image_id}},
            ]
        )

    @staticmethod
    def _stream(events: list[dict]) -> Reply:
        import json

        return Reply(
            200,
            headers={"Content-Type": "application/json"},
            chunks=[(json.dumps(e) + "\r\n").encode() for e in events],
        )


def _copy_sources(dockerfile: str) -> list[list[str]]:
    """Sources of each COPY/ADD that reads from the build context (not `--from=`)."""
    joined = re.sub(r"\\\n", " ", dockerfile)
    result = []
    for line in joined.splitlines():
        words = shlex.split(line, comments=True) if line.strip() else []
        if not words or words[0].upper() not in ("COPY", "ADD"):
            continue
        args = [w for w in words[1:] if not w.startswith("--")]
        if any(w.startswith("--from") for w in words[1:]):
            continue
        result.append(args[:-1])
    return result

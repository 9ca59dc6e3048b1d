"""Start a local server as a subprocess, wait until it answers, stop it by PID."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
SERVICES_PYTHON = ROOT / ".venv-services" / "bin" / "python"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tcp_ready(port: int) -> Callable[[], bool]:
    def check() -> bool:
        with socket.socket() as s:
            s.settimeout(0.5)
            return s.connect_ex(("127.0.0.1", port)) == 0

    return check


def http_ready(url: str) -> Callable[[], bool]:
    def check() -> bool:
        try:
            return httpx.get(url, timeout=1).status_code < 500
        except httpx.HTTPError:
            return False

    return check


@dataclass
class Service:
    name: str
    process: subprocess.Popen
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def start(
    name: str,
    command: list[str],
    ready: Callable[[], bool],
    log_dir: Path,
    env: dict[str, str] | None = None,
    timeout: float = 60,
) -> Service:
    """Start `command` (its own process group, output to a log file) and wait for `ready`."""
    log = log_dir / f"{name}.log"
    # the server's output goes to a file, never to an unread pipe that could fill and hang it
    out = log.open("wb")
    process = subprocess.Popen(
        command,
        stdout=out,
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
        cwd=ROOT,
        start_new_session=True,
    )
    service = Service(name, process, log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}:\n{service.log_tail()}")
        if ready():
            return service
        time.sleep(0.2)
    service.stop()
    raise RuntimeError(f"{name} did not become ready in {timeout}s:\n{service.log_tail()}")

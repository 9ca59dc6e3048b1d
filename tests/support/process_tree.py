"""Start a command in its own process group and follow every process it starts, by PID,
so a test can signal it and check that nothing it started outlives it.

The tree is sampled while it runs: a child that outlives its parent is adopted by
another process and no longer shows as a descendant, so every PID seen is remembered
(with its start time, so a reused PID is never mistaken for a survivor).

    tree = ProcessTree.start([...], env=..., log=tmp_path / "run.log")
    try:
        tree.wait_for(lambda t: len(t.matching("spawn_main")) >= 2, timeout=120, what="workers")
        tree.send(signal.SIGKILL)
        tree.assert_all_gone(within=10)
    finally:
        tree.kill_all()
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil

from tests.support.processes import ROOT


@dataclass(frozen=True)
class Seen:
    """One process of the tree as it was when first seen."""

    pid: int
    ppid: int
    created: float
    command: str

    def alive(self) -> bool:
        """Still running: the same process (not a new one with a reused PID), not a zombie
        (a zombie has released everything and only waits for its parent to read its status)."""
        try:
            process = psutil.Process(self.pid)
            return process.create_time() == self.created and process.status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False

    def age(self) -> float:
        """Seconds since the process started."""
        return time.time() - self.created

    def __str__(self) -> str:
        return f"PID {self.pid} (parent {self.ppid}): {self.command}"


class ProcessTree:
    def __init__(self, process: subprocess.Popen, log: Path) -> None:
        self.process = process
        self.log = log
        self.seen: dict[int, Seen] = {}
        self.refresh()

    @classmethod
    def start(cls, command: list[str], env: dict[str, str], log: Path, cwd: Path = ROOT) -> ProcessTree:
        """Start `command` with exactly `env`, in a new session (so a signal sent to it
        reaches it alone, never this test), output to the file `log`."""
        with log.open("wb") as out:
            process = subprocess.Popen(
                command, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        return cls(process, log)

    @property
    def pid(self) -> int:
        return self.process.pid

    def refresh(self) -> list[Seen]:
        """Record the descendants of every process seen so far that still runs (the root's
        and also those of adopted orphans); return the ones alive now."""
        self.process.poll()  # reap the root once it has ended, so it stops counting as alive
        children: dict[int, list[psutil.Process]] = {}
        for process in psutil.process_iter(["ppid"]):
            children.setdefault(process.info["ppid"], []).append(process)
        ours = [self.pid] + [seen.pid for seen in self.seen.values() if seen.alive()]
        while ours:
            for child in children.get(ours.pop(), []):
                if child.pid not in self.seen:
                    try:
                        with child.oneshot():
                            command = " ".join(child.cmdline())
                            self.seen[child.pid] = Seen(child.pid, child.ppid(), child.create_time(), command)
                    except psutil.Error:
                        continue  # ended between the listing and the look
                    ours.append(child.pid)
        self._record_root()
        return self.alive()

    def _record_root(self) -> None:
        if self.pid not in self.seen:
            try:
                root = psutil.Process(self.pid)
                self.seen[self.pid] = Seen(
                    self.pid, root.ppid(), root.create_time(), " ".join(root.cmdline())
                )
            except psutil.Error:
                pass

    def alive(self) -> list[Seen]:
        self.process.poll()
        return [seen for seen in self.seen.values() if seen.alive()]

    def matching(self, text: str) -> list[Seen]:
        """Processes alive now whose command line contains `text`."""
        return [seen for seen in self.alive() if text in seen.command]

    def wait_for(self, condition: Callable[[ProcessTree], bool], timeout: float, what: str) -> None:
        """Sample the tree until `condition(self)` holds; fail (naming `what`, with the log's
        end) if it does not within `timeout` seconds or the root exits first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.refresh()
            if condition(self):
                return
            if self.process.poll() is not None:
                raise AssertionError(
                    f"the process exited with {self.process.returncode} before {what}:\n{self.log_tail()}"
                )
            time.sleep(0.1)
        raise AssertionError(f"no {what} within {timeout:.0f}s:\n{self.describe()}\n{self.log_tail()}")

    def send(self, signum: int) -> None:
        """Send `signum` to the root process only, as `kill` does (not to its group, as a
        terminal's Ctrl-C would): the children are left to the root's own clean-up."""
        self.refresh()
        os.kill(self.pid, signum)

    def assert_all_gone(self, within: float) -> None:
        """Every process ever seen in the tree ends within `within` seconds."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if not self.refresh():
                return
            time.sleep(0.1)
        survivors = "\n".join(f"  {seen}" for seen in self.refresh())
        if survivors:
            raise AssertionError(
                f"still running {within:.0f}s after the signal:\n{survivors}\n{self.log_tail()}"
            )

    def kill_all(self) -> None:
        """Test teardown: SIGKILL whatever of the tree still runs, by PID, and reap the root."""
        for seen in self.refresh():
            try:
                process = psutil.Process(seen.pid)
                if process.create_time() == seen.created:
                    process.kill()
            except psutil.Error:
                pass
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)

    def describe(self) -> str:
        return "\n".join(f"  {seen}" for seen in self.alive()) or "  (nothing running)"

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            return ""
        return "--- last lines of the output ---\n" + "\n".join(text)

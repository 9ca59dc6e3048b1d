"""Prefect's temporary local API, made to end with the `pipelines` process that started it.

Without PREFECT_API_URL, Prefect starts a local API server in a subprocess (about 600 MB)
and stops it only from an `atexit` handler, which neither SIGKILL nor an unhandled
signal ever runs: the server then lives on, orphaned. `use_for_prefect()` makes Prefect
start that same server through this module instead:

    python -m pipelines.temporary_api --parent-pid PID <Prefect's uvicorn arguments>

which watches PID from a thread and, once it has died, stops the server as SIGTERM would
(uvicorn shuts down gracefully), or ends it outright if that takes too long. The server
is this very process: Prefect's own stop (SIGTERM on a normal exit) and its checks of the
exit status reach uvicorn unchanged.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from typing import Any

MODULE = "pipelines.temporary_api"  # not __name__: that is "__main__" in the server
PARENT_CHECK_SECONDS = 0.5
# uvicorn's graceful shutdown of Prefect's API normally takes well under a second
SHUTDOWN_GRACE_SECONDS = 5.0
# the Prefect whose `_run_uvicorn_command` use_for_prefect() copies (pyproject.toml pins it)
PREFECT_VERSION = "3.9.1"


def command(parent_pid: int, uvicorn_args: list[str]) -> list[str]:
    """The server's command line: uvicorn run through this module."""
    return [sys.executable, "-m", MODULE, "--parent-pid", str(parent_pid), *uvicorn_args]


def use_for_prefect() -> None:
    """Have Prefect start its temporary API through `command()`, watching this process.

    Prefect offers no setting or hook for the server's command line, so this replaces
    the one method that builds it (`SubprocessASGIServer._run_uvicorn_command`; the body
    below is Prefect's, with our wrapper in front of uvicorn). The server is a
    process-wide singleton: whichever thread starts it, every later run reuses it."""
    import prefect
    from prefect.server.api.server import SubprocessASGIServer
    from prefect.settings import get_current_settings

    if prefect.__version__ != PREFECT_VERSION:
        raise RuntimeError(
            f"pipelines/temporary_api.py copies a method of Prefect {PREFECT_VERSION}, but Prefect "
            f"{prefect.__version__} is installed: compare `SubprocessASGIServer._run_uvicorn_command` "
            "in prefect/server/api/server.py with the copy, then update PREFECT_VERSION."
        )

    def _run_uvicorn_command(self: SubprocessASGIServer) -> subprocess.Popen[Any]:
        server_env = {  # as Prefect's: no UI, and the server knows it is the temporary one
            "PREFECT_UI_ENABLED": "0",
            "PREFECT__SERVER_EPHEMERAL": "1",
            "PREFECT__SERVER_FINAL": "1",
        }
        uvicorn_args = [
            "--app-dir",
            str(prefect.__module_path__.parent),
            "--factory",
            "prefect.server.api.server:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--log-level",
            "error",
            "--lifespan",
            "on",
        ]
        return subprocess.Popen(
            args=command(os.getpid(), uvicorn_args),
            env={
                **os.environ,
                **server_env,
                **get_current_settings().to_environment_variables(exclude_unset=True),
            },
        )

    SubprocessASGIServer._run_uvicorn_command = _run_uvicorn_command


def stop_when_orphaned(parent_pid: int) -> None:
    """Watch `parent_pid` from a daemon thread; once it has died (our parent changes: we
    were adopted), SIGTERM this process, and end it after the grace period regardless."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(PARENT_CHECK_SECONDS)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(SHUTDOWN_GRACE_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="stop-when-orphaned", daemon=True).start()


def main(argv: list[str]) -> None:
    if len(argv) < 2 or argv[0] != "--parent-pid":
        sys.exit(f"usage: python -m {MODULE} --parent-pid PID <uvicorn arguments>")
    stop_when_orphaned(int(argv[1]))
    from uvicorn.main import main as uvicorn

    # uvicorn in this process, in the main thread, where it installs its signal handlers
    uvicorn(args=argv[2:], prog_name="uvicorn")


if __name__ == "__main__":
    main(sys.argv[1:])

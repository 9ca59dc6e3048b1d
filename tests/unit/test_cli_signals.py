"""The CLI's exit status after SIGTERM: the shell's 143, even when the signal's exception
was swallowed on its way up. Each case runs `pipelines.cli.main` in a child process of its
own (a real signal, a real exit), with the Typer app swapped for a few lines that stand
for a run at the moment the signal lands."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from tests.support.processes import ROOT

PRELUDE = """
import os, signal, sys, time
from pipelines import cli

def terminated():
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(5)
    raise AssertionError("SIGTERM was not delivered")
"""


def exit_status(app_body: str) -> subprocess.CompletedProcess:
    script = PRELUDE + textwrap.dedent(app_body) + "\ncli.app = app\ncli.main()\n"
    return subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60
    )


def test_sigterm_during_a_run_exits_with_the_shells_status_for_it():
    done = exit_status(
        """
        def app():
            terminated()
        """
    )
    assert done.returncode == 143, done.stderr


def test_sigterm_whose_exception_compiled_code_turned_into_another_error_still_exits_143():
    # numba's dispatcher hands an exception raised by a signal handler back as
    # "SystemError: ... returned a result with an exception set", which fails the flow
    # and leaves `asyncio.run` as an error of its own (seen in the kill-while-landing test)
    done = exit_status(
        """
        def app():
            try:
                terminated()
            except SystemExit as signalled:
                raise SystemError("walk returned a result with an exception set") from signalled
        """
    )
    assert done.returncode == 143, done.stderr
    assert "SystemError: walk returned a result with an exception set" in done.stderr


def test_sigterm_whose_exception_became_a_failed_runs_status_still_exits_143():
    done = exit_status(
        """
        def app():
            try:
                terminated()
            except SystemExit:
                sys.exit(1)
        """
    )
    assert done.returncode == 143, done.stderr


def test_a_failed_run_without_a_signal_keeps_its_own_status():
    done = exit_status(
        """
        def app():
            sys.exit(1)
        """
    )
    assert done.returncode == 1, done.stderr


def test_an_error_without_a_signal_still_fails_with_its_traceback():
    done = exit_status(
        """
        def app():
            raise RuntimeError("the run broke")
        """
    )
    assert done.returncode == 1
    assert "RuntimeError: the run broke" in done.stderr


def test_a_termination_prefect_took_whose_exception_became_another_error_exits_143():
    # during a flow run Prefect's handler takes SIGTERM and raises TerminationSignal; from
    # inside compiled code it surfaces as a SystemError and Prefect never hands it on
    done = exit_status(
        """
        from prefect.exceptions import TerminationSignal

        def app():
            try:
                raise TerminationSignal(signal.SIGTERM)
            except TerminationSignal as taken:
                raise SystemError("walk returned a result with an exception set") from taken
        """
    )
    assert done.returncode == 143, done.stderr

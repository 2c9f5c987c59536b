"""Helpers for the tests that run ``optref`` in a child process (tests/test_conform_cli.py and
theory_checks/test_runner_cli.py): starting a child that a real Ctrl-C reaches, and pressing it."""

from __future__ import annotations

import contextlib
import signal
import subprocess
from collections.abc import Callable, Iterator


@contextlib.contextmanager
def shell_sigint() -> Iterator[None]:
    """Start a child with SIGINT as a user's shell leaves it: this process's handler is Python's
    default for the moment of the spawn (a handler becomes SIG_DFL across exec; an ignored SIGINT
    would stay ignored) and SIGINT is not blocked (the mask is inherited); both are restored after.
    A library may leave the test process in either state for a moment."""
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    mask = signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        signal.signal(signal.SIGINT, old)


@contextlib.contextmanager
def ctrl_c_session(
    child: subprocess.Popen[str], timeout: float = 60
) -> Iterator[Callable[[], tuple[str, str]]]:
    """Yields ``press()``: SIGINT to ``child`` (a user's Ctrl-C), then its (stdout, stderr) once it
    has ended (``timeout`` seconds at most). On leaving, a child still running (an assertion failed
    before the press, or it ignored it) is killed and reaped: no test leaves a process behind."""

    def press() -> tuple[str, str]:
        child.send_signal(signal.SIGINT)
        return child.communicate(timeout=timeout)

    try:
        yield press
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()

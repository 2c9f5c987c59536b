"""The figure process: draws the checks' figures while the runner goes on with the next checks.

``runner.FigureWorker`` starts ``python -m theory_checks._figures`` and writes it pickled jobs
``(key, module, result, path)`` on standard input; this process imports ``module`` (a check),
calls its ``plot(result, path)`` and answers ``(key, error)`` on standard output, ``error`` None
or ``"Type: message"`` (the text of the runner's failed "figure" row). It ends at the end of its
input. Ctrl-C is the runner's business: this process runs in its own session and ignores SIGINT;
the runner kills it when it stops early.

Why a process: drawing 24 figures is as long as running the checks themselves (matplotlib is
Python, so a thread would share the interpreter lock), and on two cores the two overlap.
"""

from __future__ import annotations

import importlib
import os
import pickle
import signal
import sys


def draw_job(module: str, result: object, path: str) -> str | None:
    """Draw one figure; None, or the error as ``"Type: message"``."""
    try:
        importlib.import_module(module).plot(result, path)
    except Exception as exc:  # noqa: BLE001 - a broken figure is a failed row, not a dead process
        return f"{type(exc).__name__}: {exc}"
    return None


def main() -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    inp, out = sys.stdin.buffer, sys.stdout.buffer
    while True:
        try:
            key, module, result, path = pickle.load(inp)
        except EOFError:
            return 0
        pickle.dump((key, draw_job(module, result, path)), out)
        out.flush()


if __name__ == "__main__":
    os.environ.setdefault("MPLBACKEND", "Agg")
    raise SystemExit(main())

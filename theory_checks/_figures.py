"""The second process of ``optref check``: runs a share of the checks and draws figures.

``runner`` starts ``python -m theory_checks._figures`` and writes it pickled jobs on standard
input, one answer per job on standard output:

* ``("draw", key, module, result, path)``: import ``module`` (a check), call its
  ``plot(result, path)``; answer ``(key, error)``, ``error`` None or ``"Type: message"`` (the text
  of the runner's failed "figure" row). ``runner.FigureWorker`` sends these when the checks'
  trials go through joblib or Dask (``--jobs N``, ``--scheduler``).
* ``("run", key, module, tier, seed, sabotage, path)``: run the check under
  ``Context(tier, seed, serial map, sabotage)`` exactly as the runner does (``runner.run_and_draw``:
  the figure too when ``path`` is not None); answer ``(key, result)``. ``runner.Helper`` sends
  these in the default serial mode, where the runner and this process share the checks.

It ends at the end of its input. Ctrl-C is the runner's business: this process runs in its own
session and ignores SIGINT; the runner kills it when it stops early. Its BLAS library runs one
thread (set by the runner's environment before numpy loads), as the runner's does while the two
share the checks, so a check's numbers do not depend on which process ran it.

Why a process: matplotlib and the checks are Python, so a thread would share the interpreter
lock; on two cores the two processes run side by side.
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


def run_job(module: str, tier: str, seed: int, sabotage: str | None, path: str | None) -> object:
    """Run one check (and draw its figure when ``path`` is given) as the runner would."""
    from . import runner
    from ._base import Context, serial_map

    ctx = Context(tier=tier, seed=seed, map=serial_map, sabotage=sabotage)  # type: ignore[arg-type]
    return runner.run_and_draw(importlib.import_module(module), ctx, path)


def main() -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    inp, out = sys.stdin.buffer, sys.stdout.buffer
    while True:
        try:
            job = pickle.load(inp)
        except EOFError:
            return 0
        if job[0] == "run":
            _, key, module, tier, seed, sabotage, path = job
            pickle.dump((key, run_job(module, tier, seed, sabotage, path)), out)
        else:
            _, key, module, result, path = job
            pickle.dump((key, draw_job(module, result, path)), out)
        out.flush()


if __name__ == "__main__":
    os.environ.setdefault("MPLBACKEND", "Agg")
    raise SystemExit(main())

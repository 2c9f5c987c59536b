"""Run theory checks inside a scratch copy of the repository (started by ``tools/mutate.py``).

``tools/mutate.py`` copies this file to the scratch root as ``_mutant_worker.py`` and runs it with
the scratch root as working directory and first on ``sys.path``, so ``reference`` and
``theory_checks`` are imported from the scratch copy (the JSON output records their files, and the
caller refuses a run that imported anything else).

    python _mutant_worker.py --checks a,b --out result.json [--profile]

Runs each check once at the quick tier, seed 0, plots off, and writes per check: holds, the
failing rows, the error of a run that raised, the seconds. With ``--profile`` it also records
which functions of ``reference/`` each check called (file, first line, last line), the map
``tools/mutate.py`` uses to know which checks exercise a mutated line.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import sys
import time
import warnings
from types import CodeType, FrameType
from typing import Any

Span = tuple[str, int, int]


def code_span(code: CodeType) -> tuple[int, int]:
    """First and last source line of a code object (its own lines, not nested ones)."""
    lines = [ln for _, _, ln in code.co_lines() if ln is not None]
    return code.co_firstlineno, max([code.co_firstlineno, *lines])


class CallRecorder:
    """A ``sys.setprofile`` hook collecting the functions (not module or class bodies) of files
    under ``root`` that are called."""

    def __init__(self, root: str, base: str) -> None:
        self.root = os.path.abspath(root) + os.sep
        self.base = os.path.abspath(base)
        self.spans: set[Span] = set()
        self._seen: dict[CodeType, Span | None] = {}

    def __call__(self, frame: FrameType, event: str, arg: Any) -> None:
        if event != "call":
            return
        code = frame.f_code
        span = self._seen.get(code, False)
        if span is False:
            span = None
            if code.co_filename.startswith(self.root) and code.co_flags & inspect.CO_NEWLOCALS:
                first, last = code_span(code)
                span = (os.path.relpath(code.co_filename, self.base).replace(os.sep, "/"), first, last)
            self._seen[code] = span
        if span is not None:
            self.spans.add(span)  # type: ignore[arg-type]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="_mutant_worker.py")
    p.add_argument("--checks", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--profile", action="store_true")
    args = p.parse_args(argv)
    here = os.path.dirname(os.path.abspath(__file__))
    import reference
    import theory_checks
    from theory_checks._base import Context
    from theory_checks.runner import load, run_one

    names = [n for n in args.checks.split(",") if n]
    modules = {n: load(n) for n in names}  # imported before any profiling
    results: dict[str, Any] = {}
    for name in names:
        rec = CallRecorder(os.path.join(here, "reference"), here) if args.profile else None
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if rec is not None:
                sys.setprofile(rec)
            try:
                result = run_one(modules[name], Context(tier="quick", seed=0))
            finally:
                sys.setprofile(None)
        failing = [
            f"{r.quantity}: predicted {r.predicted}, measured {r.measured} ({r.tolerance})"
            for r in result.rows
            if r.holds is False
        ]
        results[name] = {
            "holds": bool(result.holds),
            "failing": failing[:4],
            "error": result.rows[0].measured if "error" in result.figure and result.rows else None,
            "seconds": round(time.perf_counter() - t0, 3),
            "spans": sorted(rec.spans) if rec is not None else None,
        }
    doc = {
        "reference_file": os.path.abspath(reference.__file__ or ""),
        "theory_checks_file": os.path.abspath(theory_checks.__file__ or ""),
        "results": results,
    }
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(doc, f)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

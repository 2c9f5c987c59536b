"""The suites' times as a user meets them: wall-clock and CPU (the process and its children).

    python benchmarks/bench_suites.py                      # quick, full, peaks, two conform pairs
    python benchmarks/bench_suites.py --only quick,conform-torch --runs 3
    python benchmarks/bench_suites.py --only conform-torch,conform-torch-plot --floor

Each command runs ``--runs`` times (default 3) in a fresh ``python -m reference`` process (imports
included, as a user pays them) and the median is printed with CPU time (user + system of the
process and everything it waited for: the helper process, joblib workers) beside wall time. On a
loaded machine the wall time is an upper bound and the CPU time is the figure to compare; on an
idle machine with two cores, wall < CPU means the two processes shared the checks. The
targets (issue 13): quick <= 15 s, full <= 60 s, peaks <= 300 s, one conformance pair <= 1 s.
``--floor`` adds the imports alone and a peer's first step (python + numpy + reference; torch,
and torch with one Adam step, whose first call imports torch._dynamo; jax and optax, with one
step), the part of a conformance pair no change to optim-reference can remove.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

#: name -> (command line after ``python -m reference``, target seconds)
SUITES: dict[str, tuple[list[str], float]] = {
    "quick": (["check", "--no-progress"], 15.0),
    "full": (["check", "--full", "--no-progress"], 60.0),
    "peaks": (["peaks"], 300.0),
    "conform-torch": (["conform", "torch.optim.Adam", "--plot", ""], 1.0),
    "conform-optax": (["conform", "optax.adam", "--hp", "learning_rate=1e-3", "--plot", ""], 1.0),
    # at its true defaults a pair also writes optref-conform.png (matplotlib import and one figure)
    "conform-torch-plot": (["conform", "torch.optim.Adam"], 1.0),
}

FLOORS: dict[str, str] = {
    "import reference": "import reference",
    "import torch": "import numpy, torch",
    # torch.optim's first step imports torch._dynamo (its step is wrapped by torch._disable_dynamo)
    "torch + 1 step": "import torch; p = torch.zeros(3, requires_grad=True); p.grad = torch.ones(3); "
    "torch.optim.Adam([p]).step()",
    "import jax, optax": "import numpy, jax, optax",
    "optax + 1 step": "import jax.numpy as jnp, optax; o = optax.adam(1e-3); p = jnp.zeros(3); "
    "o.update(jnp.ones(3), o.init(p), p)",
}


def timed(cmd: list[str], cwd: str) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds of the child and its descendants, exit status) of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc.returncode


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", default=",".join(SUITES), help=f"comma list of {', '.join(SUITES)}")
    p.add_argument("--runs", type=int, default=3, help="runs per command (median), default 3")
    p.add_argument("--floor", action="store_true", help="also time the imports alone")
    args = p.parse_args(argv)
    names = [n for n in args.only.split(",") if n]
    unknown = [n for n in names if n not in SUITES]
    if unknown:
        p.error(f"--only: unknown {', '.join(unknown)}; known: {', '.join(SUITES)}")
    status = 0
    print(f"{'command':<16} {'wall s (median)':>16} {'CPU s (median)':>15}  {'target s':>8}  runs (wall/CPU)")
    rows = [(n, [sys.executable, "-m", "reference", *SUITES[n][0]], SUITES[n][1]) for n in names]
    if args.floor:
        rows += [(n, [sys.executable, "-c", code], float("nan")) for n, code in FLOORS.items()]
    for name, cmd, target in rows:
        with tempfile.TemporaryDirectory() as cwd:  # report folders and plots land here
            runs = [timed(cmd, cwd) for _ in range(args.runs)]
        walls, cpus = [r[0] for r in runs], [r[1] for r in runs]
        bad = [r[2] for r in runs if r[2] != 0]
        status |= 1 if bad else 0
        shown = "  ".join(f"{w:.1f}/{c:.1f}" for w, c, _ in runs)
        tgt = f"{target:8.0f}" if target == target else f"{'-':>8}"
        print(
            f"{name:<16} {statistics.median(walls):16.2f} {statistics.median(cpus):15.2f}  {tgt}  {shown}"
            + (f"  exit {bad}" if bad else ""),
            flush=True,
        )
    print(f"\n{os.cpu_count()} cores; load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    return status


if __name__ == "__main__":
    sys.exit(main())

"""Where SGD's and momentum's time goes, beside torch.optim: pure, donated, donated without the
finiteness check, and the check alone.

    python benchmarks/bench_step_gap.py                      # sgd and momentum at p = 1e6, 1e7
    python benchmarks/bench_step_gap.py --sizes 1e5,1e6 --algos sgd --reps 15

One process, one BLAS thread, float64, repetitions interleaved (CPU clock: the process's CPU time,
not inflated by waiting for a core), medians. Columns, each also as a ratio to torch:

* ``pure``: ``opt.step(state, g)``, the default (a fresh output array, the gradient checked);
* ``donated``: ``opt.step(state, g, donate=True)`` (the new state written into the old one's memory);
* ``donated unchecked``: the same with ``allow_nonfinite=True`` (no finiteness check: what
  torch.optim and optax compute);
* ``check``: the finiteness check's own pass over g (``np.sum``, as ``check_grad`` does);
* ``torch``: torch.optim's same step, in place.

At p = 10^7 the steps are memory-bound: the check is one more read of g; donation removes the
read-for-ownership of a fresh output; what remains is theta - eta u as two numpy passes per block
(torch makes one fused pass). See specs/notation.md 'Speed'.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from _bench import one_thread

one_thread()

import numpy as np  # noqa: E402

try:
    import torch  # noqa: E402
except ImportError:  # pragma: no cover - a peer extra
    sys.exit("bench_step_gap: needs torch (pip install -e '.[peers]')")

import reference as ref  # noqa: E402

torch.set_num_threads(1)

#: name -> (ref hyperparameters, torch optimizer factory): the same step
STEPS: dict[str, tuple[dict[str, Any], Callable[[list[torch.Tensor]], torch.optim.Optimizer]]] = {
    "sgd": (dict(lr=1e-2), lambda ps: torch.optim.SGD(ps, lr=1e-2)),
    "momentum": (
        dict(lr=1e-2, beta=0.9, first_step="grad"),
        lambda ps: torch.optim.SGD(ps, lr=1e-2, momentum=0.9),
    ),
}
COLUMNS = ("pure", "donated", "donated unchecked", "check", "torch")


def measure(name: str, p: int, reps: int) -> dict[str, float]:
    """Median seconds per call of each column, repetitions interleaved."""
    hp, make_torch = STEPS[name]
    rng = np.random.default_rng(0)
    x0, g = rng.standard_normal(p), rng.standard_normal(p)
    opt = ref.make(name, **hp)
    unchecked = dataclasses.replace(opt, allow_nonfinite=True)
    box = {"pure": opt.init(x0), "donated": opt.init(x0), "unchecked": opt.init(x0)}

    def pure() -> None:
        box["pure"] = opt.step(box["pure"], g)

    def donated() -> None:
        box["donated"] = opt.step(box["donated"], g, donate=True)

    def donated_unchecked() -> None:
        box["unchecked"] = unchecked.step(box["unchecked"], g, donate=True)

    def check() -> None:
        np.sum(g)

    w = torch.tensor(x0, requires_grad=True)
    w.grad = torch.tensor(g)
    topt = make_torch([w])

    def torch_step() -> None:
        topt.step()

    fns: dict[str, Callable[[], None]] = dict(
        zip(COLUMNS, (pure, donated, donated_unchecked, check, torch_step))
    )
    inner = max(1, 3 * 10**7 // (10 * p))
    times: dict[str, list[float]] = {k: [] for k in fns}
    for f in fns.values():
        f()
    for _ in range(reps):
        for k, f in fns.items():
            t0 = time.process_time()
            for _ in range(inner):
                f()
            times[k].append((time.process_time() - t0) / inner)
    return {k: statistics.median(v) for k, v in times.items()}


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(float(s)) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--sizes must be comma-separated numbers, got {text!r}") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"--sizes must be >= 1, got {text!r}")
    return sizes


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--sizes", type=_sizes, default=[10**6, 10**7], help="comma-separated p (default 1e6,1e7)"
    )
    ap.add_argument("--algos", default="sgd,momentum", help="comma-separated, of: " + ", ".join(STEPS))
    ap.add_argument("--reps", type=int, default=9, help="interleaved repetitions (default 9)")
    args = ap.parse_args(argv)
    algos = [a.strip() for a in args.algos.split(",") if a.strip()]
    unknown = [a for a in algos if a not in STEPS]
    if unknown or args.reps < 1:
        ap.error(f"--algos must be of {', '.join(STEPS)} and --reps >= 1, got {args.algos!r}, {args.reps}")
    print(
        f"numpy {np.__version__}, torch {torch.__version__}; one thread, float64, CPU clock, "
        f"median of {args.reps}; load average {os.getloadavg()[0]:.2f}"
    )
    head = ["step", "p", *(f"{c} ms" for c in COLUMNS), *(f"{c}/torch" for c in COLUMNS[:-1])]
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join("---" for _ in head) + "|")
    for name in algos:
        for p in args.sizes:
            med = measure(name, p, args.reps)
            cells = [name, f"{p:.0e}", *(f"{med[c] * 1e3:.4g}" for c in COLUMNS)]
            cells += [f"{med[c] / med['torch']:.2f}" for c in COLUMNS[:-1]]
            print("| " + " | ".join(cells) + " |", flush=True)
    print(f"load average at the end {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

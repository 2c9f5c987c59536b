r"""``optref peaks``: the seeds' running example, Peaks classification, reproduced.

Seed 000 trains a 2-32-5 ReLU MLP (p = 261) on 1000 points of U([-3, 3]^2) labelled by 5 level
sets of the peaks function (800 train / 200 test) with Gauss-Newton and SGD, and SGD again in the
lazy regime at width 8192; seed 001 compares SGD, SGD+momentum, SGD+Nesterov, Adam, AdamW and Lion
at both widths. This module trains the same methods (plus L-BFGS and K-FAC, beyond the seeds) on
``reference.problems.peaks`` and prints our numbers beside the seeds'.

Protocol (the seeds give no seeds, epochs or batch sizes, so these are ours):
    * data: ``peaks(width=w, seed=0)`` (one fixed data set); trial k uses
      ``SeedSequence(seed).spawn(n_seeds)[k]`` for the He initialisation and the minibatch order.
    * first-order methods: minibatch b = 32 with replacement, ``epochs`` passes (25 steps each),
      constant learning rate from ``TUNED``; momentum/Nesterov beta = 0.9; AdamW weight decay
      1e-2 (torch's default); Lion beta = (0.9, 0.99).
    * Gauss-Newton: full batch, damping 1e-3, Armijo line search, ``gn_steps`` steps (seed 000).
    * L-BFGS: full batch, history 10, strong Wolfe, ``lbfgs_steps`` steps.
    * K-FAC (if registered): minibatch like the first-order methods.
    * Hyperparameter search (``--search``): for each method and width, the learning rates in
      ``GRID`` are tried on a 640/160 split of the training set with one seed and the same
      budget; the lr with the lowest validation loss wins. Budget: len(GRID[m]) runs per method
      and width. ``TUNED`` holds the result of that search as run for the release (see
      ``SEARCH_RECORD``); ``--search`` reruns it and uses its winners.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .. import _registry
from ..problems import peaks
from ..problems.peaks import Peaks

# Seed 000: (train acc %, test acc %). Seed 001: (train loss, test loss, train acc %, test acc %).
SEED_000: dict[tuple[str, int], tuple[float, float]] = {
    ("gauss_newton", 32): (93.87, 91.50),
    ("sgd", 32): (79.75, 81.50),
    ("sgd", 8192): (98.87, 92.00),
}
SEED_001: dict[tuple[str, int], tuple[float, float, float, float]] = {
    ("sgd", 32): (0.51, 0.50, 82.9, 82.5),
    ("momentum", 32): (0.41, 0.48, 85.6, 79.5),
    ("nesterov", 32): (0.89, 1.04, 68.3, 63.5),
    ("adam", 32): (0.21, 0.44, 92.9, 90.0),
    ("adamw", 32): (0.13, 0.29, 95.0, 92.0),
    ("lion", 32): (0.41, 0.70, 85.6, 81.5),
    ("sgd", 8192): (0.24, 0.42, 91.6, 86.0),
    ("momentum", 8192): (0.58, 0.84, 83.6, 85.5),
    ("nesterov", 8192): (0.24, 0.29, 90.9, 89.5),
    ("adam", 8192): (0.08, 0.29, 97.2, 91.5),
    ("adamw", 8192): (0.24, 0.36, 90.2, 86.5),
    ("lion", 8192): (0.34, 0.41, 91.4, 85.0),
}

FIRST_ORDER = ("sgd", "momentum", "nesterov", "adam", "adamw", "lion")
EXTRA_HP: dict[str, dict[str, Any]] = {
    "momentum": {"beta": 0.9},
    "nesterov": {"beta": 0.9, "form": "torch"},
    "adamw": {"weight_decay": 1e-2},
}
#: Learning rates tried by ``--search`` (log-spaced, around each method's usual range).
GRID: dict[str, tuple[float, ...]] = {
    "sgd": (0.03, 0.1, 0.3, 1.0),
    "momentum": (0.003, 0.01, 0.03, 0.1),
    "nesterov": (0.003, 0.01, 0.03, 0.1),
    "adam": (1e-3, 3e-3, 1e-2, 3e-2),
    "adamw": (1e-3, 3e-3, 1e-2, 3e-2),
    "lion": (1e-4, 3e-4, 1e-3, 3e-3),
    "kfac": (0.01, 0.03, 0.1, 0.3),
}
#: Winners of the search (width -> method -> lr); see SEARCH_RECORD for how they were found.
TUNED: dict[int, dict[str, float]] = {
    32: {"sgd": 0.3, "momentum": 0.03, "nesterov": 0.03, "adam": 1e-2, "adamw": 1e-2, "lion": 1e-3, "kfac": 0.1},
    8192: {"sgd": 0.1, "momentum": 0.01, "nesterov": 0.01, "adam": 1e-3, "adamw": 1e-3, "lion": 1e-4, "kfac": 0.03},
}
SEARCH_RECORD = "not yet run"


@dataclass(frozen=True)
class RunResult:
    """One trained model."""

    method: str
    width: int
    trial: int
    lr: float
    train_loss: float
    test_loss: float
    train_acc: float
    test_acc: float
    curve: tuple[float, ...]  # train loss after each epoch (or each full-batch step)
    seconds: float
    params: np.ndarray = field(repr=False)


def _first_order(name: str, lr: float) -> Any:
    return _registry.make(name, lr=lr, **EXTRA_HP.get(name, {}))


def train(
    method: str,
    problem: Peaks,
    rng_seed: np.random.SeedSequence,
    *,
    lr: float,
    epochs: int,
    batch_size: int = 32,
    gn_steps: int = 30,
    lbfgs_steps: int = 300,
) -> tuple[np.ndarray, list[float]]:
    """Train ``method`` on ``problem``; return the final params and the loss curve."""
    init_rng, batch_rng = (np.random.default_rng(s) for s in rng_seed.spawn(2))
    theta0 = problem.init_params(init_rng)
    curve: list[float] = []
    if method in FIRST_ORDER or method == "kfac":
        opt = _first_order(method, lr) if method in FIRST_ORDER else _registry.make("kfac", lr=lr)
        state = opt.init(theta0)
        per_epoch = max(1, problem.n_samples // batch_size)
        for _ in range(epochs):
            for _ in range(per_epoch):
                q = opt.query(state)
                if method == "kfac":
                    state = opt.step(state, (problem, problem.batch_indices(batch_rng, batch_size)))
                else:
                    state = opt.step(state, problem.minibatch_grad(q, batch_rng, batch_size))
            curve.append(float(problem.loss(state.params)))
        return np.asarray(state.params), curve
    if method == "gauss_newton":
        opt = _registry.make("gauss_newton", damping=1e-3, line_search=True, activation="relu")
        state = opt.init(theta0)
        for _ in range(gn_steps):
            state = opt.step(state, problem)
            curve.append(float(problem.loss(state.params)))
        return np.asarray(state.params), curve
    if method == "lbfgs":
        from ..oracle import FunctionOracle

        opt = _registry.make("lbfgs", m=10)
        oracle = FunctionOracle.from_problem(problem)
        state = opt.init(theta0)
        for _ in range(lbfgs_steps):
            state = opt.step(state, oracle)
            curve.append(float(problem.loss(state.params)))
        return np.asarray(state.params), curve
    raise ValueError(f"peaks: unknown method {method!r}")


def evaluate(method: str, problem: Peaks, trial: int, seq: np.random.SeedSequence, lr: float, epochs: int) -> RunResult:
    t0 = time.perf_counter()
    theta, curve = train(method, problem, seq, lr=lr, epochs=epochs)
    return RunResult(
        method=method, width=problem.width, trial=trial, lr=lr,
        train_loss=float(problem.loss(theta)), test_loss=float(problem.test_loss(theta)),
        train_acc=100 * problem.train_accuracy(theta), test_acc=100 * problem.test_accuracy(theta),
        curve=tuple(curve), seconds=time.perf_counter() - t0, params=theta,
    )  # fmt: skip


def search(method: str, width: int, epochs: int, seed: int) -> tuple[float, dict[float, float]]:
    """Pick the lr of GRID[method] with the lowest validation loss on a 640/160 split."""
    full = peaks(width=width, seed=0)
    sub = peaks(width=width, seed=0, n_samples=800, n_train=640)  # same first 800 points
    assert np.array_equal(sub.X, full.X[:640])
    scores: dict[float, float] = {}
    for lr in GRID[method]:
        theta, _ = train(method, sub, np.random.SeedSequence(seed), lr=lr, epochs=epochs)
        val = float(sub.test_loss(theta))
        scores[lr] = val if math.isfinite(val) else math.inf
    return min(scores, key=lambda k: scores[k]), scores


def _available(methods: Sequence[str]) -> list[str]:
    return [m for m in methods if m in _registry.ALGORITHMS]


def _fmt(vals: Sequence[float], digits: int) -> str:
    a = np.asarray(vals, dtype=float)
    if a.size == 1:
        return f"{a[0]:.{digits}f}"
    return f"{a.mean():.{digits}f}±{a.std(ddof=1):.{digits}f}"


def table(results: list[RunResult]) -> str:
    """Our mean ± std over trials beside the seeds' figures."""
    lines = []
    head = (f"{'width':>5} {'method':<13} {'train loss':>11} {'test loss':>11} {'train acc %':>12} "
            f"{'test acc %':>12}   {'seed 001 (loss tr/te, acc tr/te)':<34} {'seed 000 (acc tr/te)':<20}")  # fmt: skip
    lines += [head, "-" * len(head)]
    keys = sorted({(r.width, r.method) for r in results}, key=lambda k: (k[0], _order(k[1])))
    for w, m in keys:
        rs = [r for r in results if r.width == w and r.method == m]
        s1 = SEED_001.get((m, w))
        s0 = SEED_000.get((m, w))
        s1s = f"{s1[0]:.2f}/{s1[1]:.2f}, {s1[2]:.1f}/{s1[3]:.1f}" if s1 else "—"
        s0s = f"{s0[0]:.2f}/{s0[1]:.2f}" if s0 else "—"
        lines.append(
            f"{w:>5} {m:<13} {_fmt([r.train_loss for r in rs], 2):>11} {_fmt([r.test_loss for r in rs], 2):>11} "
            f"{_fmt([r.train_acc for r in rs], 1):>12} {_fmt([r.test_acc for r in rs], 1):>12}   {s1s:<34} {s0s:<20}"
        )  # fmt: skip
    return "\n".join(lines)


def _order(m: str) -> int:
    order = ("gauss_newton", *FIRST_ORDER, "kfac", "lbfgs")
    return order.index(m) if m in order else len(order)


def plot(results: list[RunResult], problems: dict[int, Peaks], out: Path) -> list[Path]:
    """Decision boundaries (trial 0) and mean training-loss curves, one PNG each per width."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    for w, prob in problems.items():
        rs = [r for r in results if r.width == w and r.trial == 0]
        rs.sort(key=lambda r: _order(r.method))
        if not rs:
            continue
        cols = min(4, len(rs))
        rows = math.ceil(len(rs) / cols)
        fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.2 * rows), squeeze=False)
        g = np.linspace(-3, 3, 161)
        G = np.stack(np.meshgrid(g, g), -1).reshape(-1, 2)
        for ax, r in zip(axes.flat, rs):
            cls = np.argmax(np.asarray(prob.predict(r.params, G)), axis=1).reshape(161, 161)
            ax.contourf(g, g, cls, levels=np.arange(-0.5, 5), cmap="viridis", alpha=0.6)
            ax.scatter(prob.X[:, 0], prob.X[:, 1], c=prob.y, s=3, cmap="viridis", edgecolors="none")
            ax.set_title(f"{r.method}: test {r.test_acc:.1f}%", fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])
        for ax in list(axes.flat)[len(rs):]:
            ax.axis("off")
        fig.suptitle(f"Peaks decision boundaries, width {w}")
        fig.tight_layout()
        path = out / f"peaks_boundaries_w{w}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)

        fig, ax = plt.subplots(figsize=(6, 4))
        for m in sorted({r.method for r in results if r.width == w}, key=_order):
            curves = [r.curve for r in results if r.width == w and r.method == m]
            n = min(len(c) for c in curves)
            mean = np.mean([c[:n] for c in curves], axis=0)
            x = np.arange(1, n + 1)
            ax.semilogy(x, mean, label=m)
        ax.set_xlabel("epoch (first-order, K-FAC) / iteration (Gauss-Newton, L-BFGS)")
        ax.set_ylabel("training loss (mean over trials)")
        ax.set_title(f"Peaks convergence, width {w}")
        ax.legend(fontsize=8)
        fig.tight_layout()
        path = out / f"peaks_convergence_w{w}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="optref peaks", description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--widths", default="32,8192", help="comma list of hidden widths (default 32,8192)")
    parser.add_argument("--methods", default="all", help="comma list, or 'all' (default)")
    parser.add_argument("--seeds", type=int, default=3, help="trials per method and width (default 3)")
    parser.add_argument("--seed", type=int, default=0, help="root seed (default 0)")
    parser.add_argument("--epochs", type=int, default=100, help="epochs at width <= 1024 (default 100)")
    parser.add_argument("--wide-epochs", type=int, default=30, help="epochs at width > 1024 (default 30)")
    parser.add_argument("--search", action="store_true", help="rerun the learning-rate search first")
    parser.add_argument("--quick", action="store_true", help="smoke run: width 32, 1 trial, 10 epochs")
    parser.add_argument("--out", default="peaks-report", help="folder for the PNGs (default ./peaks-report)")
    args = parser.parse_args(list(argv))
    if args.quick:
        args.widths, args.seeds, args.epochs, args.wide_epochs = "32", 1, 10, 3
    try:
        widths = [int(w) for w in str(args.widths).split(",") if w]
    except ValueError:
        parser.error(f"--widths must be a comma list of integers, got {args.widths!r}")
    if not widths or min(widths) < 1 or args.seeds < 1 or args.epochs < 1 or args.wide_epochs < 1:
        parser.error("--widths, --seeds, --epochs and --wide-epochs must be positive")
    wanted = ["gauss_newton", *FIRST_ORDER, "kfac", "lbfgs"] if args.methods == "all" else args.methods.split(",")
    unknown = [m for m in wanted if m not in ("gauss_newton", *FIRST_ORDER, "kfac", "lbfgs")]
    if unknown:
        parser.error(f"unknown methods {unknown}")
    methods = _available(wanted)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results: list[RunResult] = []
    problems: dict[int, Peaks] = {}
    for w in widths:
        prob = peaks(width=w, seed=0)
        problems[w] = prob
        epochs = args.epochs if w <= 1024 else args.wide_epochs
        ms = [m for m in methods if not (m == "gauss_newton" and prob.dim > 5000)]
        if len(ms) < len(methods):
            print(f"width {w}: Gauss-Newton skipped (p = {prob.dim}: G would be p x p)", file=sys.stderr)
        tuned = dict(TUNED.get(w, TUNED[32]))
        if args.search:
            for m in ms:
                if m in GRID:
                    best, scores = search(m, w, epochs, args.seed)
                    tuned[m] = best
                    print(f"search width {w} {m}: " + ", ".join(f"lr={k:g}: val {v:.3f}" for k, v in scores.items())
                          + f" -> {best:g}", file=sys.stderr)  # fmt: skip
        seqs = np.random.SeedSequence(args.seed).spawn(args.seeds)
        for m in ms:
            for k, seq in enumerate(seqs):
                r = evaluate(m, prob, k, seq, tuned.get(m, math.nan), epochs)
                results.append(r)
                print(f"width {w} {m:<13} trial {k}: train {r.train_acc:5.1f}% test {r.test_acc:5.1f}% "
                      f"({r.seconds:.1f} s)", file=sys.stderr)  # fmt: skip
    print(table(results))
    for p in plot(results, problems, out):
        print(f"wrote {p}")
    return 0

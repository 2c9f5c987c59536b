"""The notes' cost tables, measured: time per iteration against d, and SGD against Hessian-free.

    python benchmarks/bench_costs.py                       # ladder 64..2048, race on Peaks
    python benchmarks/bench_costs.py --reps 7 --dims 64,128,256,512,1024,2048,4096

1. Per-iteration cost (note 003, "Newton's Method and Approximations": GD O(d), BFGS O(d^2),
   Newton O(d^3)). The objective is separable and strictly convex,
   f(x) = sum_i softplus(x_i - c_i) + (mu/2) ||x||^2 with c ~ N(0, 1) (seed 0), so that a gradient
   costs O(d) and the method's own work is what grows: an iteration of ``ref.gd`` is one gradient
   and the update; of ``ref.bfgs`` and ``ref.newton`` one ``step(state, oracle)``, each timed again
   and again from one state (steps are pure): BFGS's after 3 warm-up steps (its strong-Wolfe search
   then accepts alpha = 1: one value and gradient), Newton's from x0 (it converges in a few steps;
   the step asks for f and grad f at x0 and at the accepted point, and one Hessian). The run prints
   what each timed step asked of the oracle and the alpha it accepted.
   Parts are timed beside the whole step: Newton's Hessian (autograd: d reverse passes, O(d^2)
   here) and its Cholesky and two solves (O(d^3)); BFGS's update (B5) in the spec's product form,
   (I - rho s y^T) H (I - rho y s^T) + rho s s^T (two d x d matrix products: O(d^3)), and the
   same H multiplied out as reference/curvature/bfgs.py computes it,
   H - rho (s u^T + u s^T) + (rho^2 y^T u + rho) s s^T with u = H y (O(d^2), checked equal to the
   product form in the run); and an L-BFGS step with m = 10 stored pairs
   (s_i random, y_i = H(x0) s_i: the two-loop's full work, O(m d)).
   The slope of log time against log d is fitted by least squares over the ladder's upper half
   (the d where the leading term should dominate) and printed beside the predicted 1, 2, 3, with
   the local slope between neighbouring d. At small d a step costs a fixed Python and autograd
   overhead (tens of microseconds per call), so slopes there are near 0.
2. Wall-clock race (note 000, "Computational Limitations: Memory and Storage Options": each CG
   iteration costs about two SGD epochs, so SGD wins in wall-clock time). On Peaks (width 32,
   n = 800, p = 261): SGD (lr 0.3, batch 32, the tuned values of reference/experiments/peaks.py)
   by epochs of 25 steps against ``ref.hessian_free`` (truncated CG on Gauss-Newton products),
   from the same He initial point, run in alternating rounds (one HF step, then 5 SGD epochs at
   the defaults) so that the machine's load falls on both alike, each on its own clock (the
   training loss is evaluated off the clock); the time and the work to reach each target loss.
   Work is counted as SGD epochs (25 minibatch gradients of 32: one pass over the 800 points) and,
   for HF, steps (each one record: loss, output Hessians, full gradient; and one trial loss) and
   Gauss-Newton products G v (a forward JVP and a reverse VJP through the network over all 800
   points): cg_iters + 2 a step (the CG's initial residual, one per iteration, one for the
   predicted decrease). The time of one G v product and of one full gradient are also timed alone,
   interleaved with SGD epochs, and printed in epochs beside the note's "about 2", as is HF's time
   per G v product within the race (a step's whole work shared out over its products).

BLAS is pinned to one thread (the machine may be shared); every figure is a median over
``--reps`` interleaved repetitions, and every ratio is taken within one repetition.
"""

from __future__ import annotations

from _bench import one_thread, time_per_call  # benchmarks/_bench.py

one_thread()

import argparse  # noqa: E402
import math  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from dataclasses import replace  # noqa: E402
from functools import partial  # noqa: E402
from typing import Any  # noqa: E402

import autograd.numpy as anp  # noqa: E402
import numpy as np  # noqa: E402

import reference as ref  # noqa: E402
from reference.curvature.model_oracle import evaluate, gn_vector_product  # noqa: E402
from reference.oracle import FunctionOracle  # noqa: E402
from reference.problems.peaks import peaks  # noqa: E402

MU = 1.0  # the ridge term of the separable objective (its Hessian is >= MU I)
PREDICTED = {"gd": 1, "bfgs": 2, "newton": 3}
CALLS: dict[str, dict[int, str]] = {}  # method -> d -> the timed step's accepted alpha and oracle calls


def separable(d: int) -> FunctionOracle:
    """The oracle of f(x) = sum softplus(x - c) + (MU/2)||x||^2, c ~ N(0, 1) from seed 0."""
    c = np.random.default_rng(0).standard_normal(d)

    def f(x: Any) -> Any:
        return anp.sum(anp.logaddexp(0.0, x - c)) + 0.5 * MU * anp.dot(x, x)

    return FunctionOracle(f, dim=d)


def bfgs_update_product(h: np.ndarray, s: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(B5) in the product form of specs/bfgs.md: two d x d matrix products."""
    rho = 1.0 / float(y @ s)
    left = np.eye(len(s)) - rho * np.outer(s, y)
    return left @ h @ left.T + rho * np.outer(s, s)  # type: ignore[no-any-return]


def bfgs_update_rank2(h: np.ndarray, s: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The same H expanded: H - rho (s u^T + u s^T) + (rho^2 y^T u + rho) s s^T, u = H y."""
    rho = 1.0 / float(y @ s)
    u = h @ y
    return h - rho * (np.outer(s, u) + np.outer(u, s)) + (rho * rho * float(y @ u) + rho) * np.outer(s, s)


def warm(opt: Any, oracle: FunctionOracle, x0: np.ndarray, steps: int = 3) -> Any:
    state = opt.init(x0)
    for _ in range(steps):
        state = opt.step(state, oracle)
    return state


def slope(ds: Sequence[int], ts: Sequence[float]) -> float:
    """Least-squares slope of log t against log d."""
    x, y = np.log(np.asarray(ds, float)), np.log(np.asarray(ts, float))
    return float(np.polyfit(x, y, 1)[0])


def ladder_rows(d: int) -> dict[str, Callable[[], Any]]:
    """The timed calls at dimension d: whole iterations and their parts."""
    oracle = separable(d)
    x0 = np.random.default_rng(1).standard_normal(d)
    gd = ref.gd(lr=0.5)
    gd_state = gd.init(x0)
    bfgs = ref.bfgs()
    b_state = warm(bfgs, oracle, x0)
    newton = ref.newton()
    n_state = newton.init(x0)  # Newton converges in a few steps: time it from x0 (line search alpha=1)
    lbfgs = ref.lbfgs(m=10)
    # ten stored pairs, s_i random and y_i = H(x0) s_i (H is diagonal): the two-loop's full work
    sig = 1.0 / (1.0 + np.exp(-(x0 - np.random.default_rng(0).standard_normal(d))))
    curv = sig * (1.0 - sig) + MU
    pairs_s = tuple(0.1 * np.random.default_rng(2 + i).standard_normal(d) for i in range(10))
    pairs_y = tuple(curv * ps for ps in pairs_s)
    l_state = replace(lbfgs.init(x0), s_hist=pairs_s, y_hist=pairs_y)
    h = b_state.hinv
    s, y = b_state.s, b_state.y
    assert h is not None and s is not None and y is not None
    h_prev = bfgs_update_product(h, s, y)  # any symmetric positive definite H will do for timing
    gap = np.max(np.abs(bfgs_update_product(h_prev, s, y) - bfgs_update_rank2(h_prev, s, y)))
    if gap > 1e-10 * np.max(np.abs(h_prev)):
        raise SystemExit(
            f"bench_costs: the expanded (B5) differs from the product form by {gap:.3g} at d={d}"
        )
    hess = oracle.hessian(x0)
    g0 = oracle.grad(x0)

    def newton_linalg() -> Any:
        chol = np.linalg.cholesky(hess)
        return -np.linalg.solve(chol.T, np.linalg.solve(chol, g0))  # as (N2) in newton.py

    timed: tuple[tuple[str, Any, Any], ...] = (
        ("bfgs", bfgs, b_state),
        ("newton", newton, n_state),
        ("lbfgs", lbfgs, l_state),
    )
    for name, opt, st in timed:
        fresh = oracle.fresh()
        after = opt.step(st, fresh)
        if after.stalled:
            raise SystemExit(f"bench_costs: the timed {name} step stalls at d={d}")
        calls = ", ".join(f"{k} {v}" for k, v in fresh.counts.as_dict().items() if v)
        CALLS.setdefault(name, {})[d] = f"alpha {after.alpha:.3g}; {calls}"
    return {
        "gd": lambda: gd.step(gd_state, oracle.grad(gd_state.params)),
        "  gradient alone": lambda: oracle.grad(x0),
        "bfgs": lambda: bfgs.step(b_state, oracle),
        "  (B5) product form": lambda: bfgs_update_product(h_prev, s, y),
        "  (B5) multiplied out": lambda: bfgs_update_rank2(h_prev, s, y),
        "  lbfgs m=10 step": lambda: lbfgs.step(l_state, oracle),
        "newton": lambda: newton.step(n_state, oracle),
        "  Hessian (autograd)": lambda: oracle.hessian(x0),
        "  Cholesky + solves": newton_linalg,
    }


def per_iteration(dims: Sequence[int], reps: int) -> None:
    print("1. Time per iteration against d (separable objective, gradient O(d)); median ms over reps")
    names = list(ladder_rows(dims[0]).keys())
    table: dict[str, list[float]] = {n: [] for n in names}
    ratios: dict[str, list[float]] = {"bfgs/gd": [], "newton/gd": [], "newton/bfgs": []}
    for d in dims:
        rows = ladder_rows(d)
        for fn in rows.values():
            fn()  # warm-up
        samples: dict[str, list[float]] = {n: [] for n in names}
        rs: dict[str, list[float]] = {k: [] for k in ratios}
        for _ in range(reps):  # interleaved: each repetition times every row once
            t = {n: time_per_call(fn) for n, fn in rows.items()}
            for n in names:
                samples[n].append(t[n])
            rs["bfgs/gd"].append(t["bfgs"] / t["gd"])
            rs["newton/gd"].append(t["newton"] / t["gd"])
            rs["newton/bfgs"].append(t["newton"] / t["bfgs"])
        for n in names:
            table[n].append(statistics.median(samples[n]))
        for k in ratios:
            ratios[k].append(statistics.median(rs[k]))
        print(f"   d = {d} done", flush=True)
    upper = dims[len(dims) // 2 :]
    head = "".join(f"{d:>10d}" for d in dims)
    print(f"\n   {'row (ms)':<22s}{head}   slope(upper half)  predicted  local slopes")
    for n in names:
        ts = table[n]
        s_up = slope(upper, ts[len(dims) // 2 :])
        local = " ".join(
            f"{math.log(ts[i + 1] / ts[i]) / math.log(dims[i + 1] / dims[i]):.2f}"
            for i in range(len(dims) - 1)
        )
        pred = PREDICTED.get(n.strip(), "")
        cells = "".join(f"{t * 1e3:10.3f}" for t in ts)
        print(f"   {n:<22s}{cells}   {s_up:8.2f}          {pred!s:>5s}      {local}")
    print(f"\n   {'ratio (median)':<22s}{head}")
    for k, v in ratios.items():
        print(f"   {k:<22s}" + "".join(f"{r:10.1f}" for r in v))
    print("\n   the timed step's accepted alpha and oracle calls (the same at every d unless shown):")
    for name, by_d in CALLS.items():
        kinds = sorted(set(by_d.values()))
        print(
            f"   {name:<8s}"
            + " | ".join(f"{k} (d = {','.join(str(d) for d in by_d if by_d[d] == k)})" for k in kinds)
            if len(kinds) > 1
            else f"   {name:<8s}{kinds[0]}"
        )


def _gd_iteration(gd: Any, state: Any, oracle: FunctionOracle) -> Any:
    return gd.step(state, oracle.grad(state.params))


def gd_long_ladder(dims: Sequence[int], reps: int) -> None:
    print("\n   GD alone on a longer ladder (where O(d) shows): median ms per iteration")
    ts = []
    for d in dims:
        oracle = separable(d)
        gd = ref.gd(lr=0.5)
        st = gd.init(np.random.default_rng(1).standard_normal(d))
        fn = partial(_gd_iteration, gd, st, oracle)
        fn()
        ts.append(statistics.median(time_per_call(fn) for _ in range(reps)))
    upper = dims[len(dims) // 2 :]
    print("   " + "".join(f"{d:>11d}" for d in dims))
    print("   " + "".join(f"{t * 1e3:11.3f}" for t in ts))
    print(f"   slope over d >= {upper[0]}: {slope(upper, ts[len(dims) // 2 :]):.2f} (predicted 1)")


def race(targets: Sequence[float], epochs: int, hf_steps: int, reps: int) -> None:
    print("\n2. Peaks (width 32, n = 800, p = 261): SGD epochs against Hessian-free, to a training loss")
    prob = peaks(width=32)
    theta0 = prob.init_params(np.random.default_rng(0))
    n, b = prob.n_samples, 32
    per_epoch = n // b

    # -- the cost of one G v product against one SGD epoch, timed alone and interleaved --------
    rec = evaluate(prob, theta0, jacobians=False)
    v = np.random.default_rng(1).standard_normal(prob.dim)
    sgd = ref.sgd(lr=0.3)
    rng = np.random.default_rng(0)

    def sgd_epoch() -> Any:
        st = sgd.init(theta0)
        for _ in range(per_epoch):
            st = sgd.step(st, prob.minibatch_grad(st.params, rng, b))
        return st

    def gv() -> Any:
        return gn_vector_product(prob, rec, v)

    def fg() -> Any:
        return prob.grad(theta0)

    sgd_epoch()
    gv()
    fg()
    r_gv, r_fg, t_ep = [], [], []
    for _ in range(reps):
        te, tv, tg = time_per_call(sgd_epoch), time_per_call(gv), time_per_call(fg)
        r_gv.append(tv / te)
        r_fg.append(tg / te)
        t_ep.append(te)
    print(
        f"   one SGD epoch (25 steps of 32) {statistics.median(t_ep) * 1e3:.2f} ms; "
        f"one G v product = {statistics.median(r_gv):.2f} epochs; one full gradient = "
        f"{statistics.median(r_fg):.2f} epochs (median ratios over {reps} interleaved reps)"
    )

    # -- SGD: time to each target (the loss is evaluated outside the clock) ---------------------
    def first_hits(curve: list[tuple[float, float, float]]) -> list[tuple[float, float] | None]:
        out: list[tuple[float, float] | None] = []
        for target in targets:
            hit = next(((tt, w) for tt, w, loss in curve if loss <= target), None)
            out.append(hit)
        return out

    # -- the race: rounds of one HF step and ceil(epochs / hf_steps) SGD epochs, so that load
    # from other processes falls on both alike; each has its own clock, losses are outside it --
    sgd_curve: list[tuple[float, float, float]] = []  # (seconds, epochs, loss)
    hf_curve: list[tuple[float, float, float]] = []  # (seconds, G v products, loss)
    st, rng = sgd.init(theta0), np.random.default_rng(0)
    hf = ref.hessian_free(damping=1.0)
    hs = hf.init(theta0)
    sgd_clock, hf_clock, products, cg_total = 0.0, 0.0, 0.0, 0
    per_round = -(-epochs // hf_steps)
    for _ in range(max(hf_steps, 1)):
        if len(hf_curve) < hf_steps:
            t0 = time.perf_counter()
            hs = hf.step(hs, prob)
            hf_clock += time.perf_counter() - t0
            cg_total += hs.cg_iters
            products += (
                hs.cg_iters + 2
            )  # the CG's initial residual, one per iteration, the predicted decrease
            hf_curve.append((hf_clock, products, float(hs.loss)))
        for _ in range(min(per_round, epochs - len(sgd_curve))):
            t0 = time.perf_counter()
            for _ in range(per_epoch):
                st = sgd.step(st, prob.minibatch_grad(st.params, rng, b))
            sgd_clock += time.perf_counter() - t0
            sgd_curve.append((sgd_clock, float(len(sgd_curve) + 1), float(prob.loss(st.params))))

    print(
        f"   SGD: {epochs} epochs in {sgd_curve[-1][0]:.2f} s, final loss {sgd_curve[-1][2]:.4f}; "
        f"HF: {hf_steps} steps ({cg_total} CG iterations) in {hf_curve[-1][0]:.2f} s, final loss "
        f"{hf_curve[-1][2]:.4f}"
    )
    per_product = hf_clock / products / (sgd_clock / len(sgd_curve))
    print(
        f"   in the race, HF's time per G v product (all of a step's work shared out) = {per_product:.2f} SGD epochs"
    )
    print(
        "   to each target: seconds and SGD epochs; seconds, steps (= full gradients) and G v products of HF"
    )
    print(
        f"   {'target loss':>12s}  {'SGD s':>8s} {'epochs':>7s}   {'HF s':>8s} {'steps':>6s} {'G v':>6s}   faster"
    )
    hf_steps_at = {c[0]: i + 1 for i, c in enumerate(hf_curve)}
    for target, sh, hh in zip(targets, first_hits(sgd_curve), first_hits(hf_curve)):
        scell = f"{sh[0]:8.2f} {sh[1]:7.0f}" if sh else f"{'-':>8s} {'-':>7s}"
        hcell = (
            f"{hh[0]:8.2f} {hf_steps_at[hh[0]]:6d} {hh[1]:6.0f}" if hh else f"{'-':>8s} {'-':>6s} {'-':>6s}"
        )
        winner = "-" if not (sh or hh) else ("SGD" if hh is None or (sh and sh[0] < hh[0]) else "HF")
        print(f"   {target:12.3f}  {scell}   {hcell}   {winner}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=5, help="repetitions (median taken), default 5")
    ap.add_argument("--dims", default="64,128,256,512,1024,2048", help="the ladder of d")
    ap.add_argument("--gd-dims", default="1024,8192,65536,262144,1048576", help="GD's longer ladder")
    ap.add_argument("--targets", default="1.0,0.7,0.5,0.4,0.3,0.2,0.15,0.1", help="target training losses")
    ap.add_argument("--epochs", type=int, default=300, help="SGD epochs of the race")
    ap.add_argument("--hf-steps", type=int, default=60, help="Hessian-free steps of the race")
    ap.add_argument("--skip", choices=("ladder", "race"), help="leave one part out")
    args = ap.parse_args()
    dims = [int(x) for x in args.dims.split(",")]
    if args.skip != "ladder":
        per_iteration(dims, args.reps)
        gd_long_ladder([int(x) for x in args.gd_dims.split(",")], args.reps)
    if args.skip != "race":
        race([float(x) for x in args.targets.split(",")], args.epochs, args.hf_steps, args.reps)


if __name__ == "__main__":
    main()

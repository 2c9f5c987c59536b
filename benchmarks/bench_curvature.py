"""Cost of one curvature step as a ratio to one plain gradient evaluation of the same problem.

    python benchmarks/bench_curvature.py            # GN at width 32; K-FAC at widths 32 and 1024
    python benchmarks/bench_curvature.py --reps 21

1. One Gauss-Newton step on Peaks (note 000: n = 800 training points, MLP 2-32-5 ReLU, p = 261)
   in its two forms: the generic one (``activation=None``: per-sample Jacobians J (800, 5, 261)
   through ``predict_rowwise``, G = (1/n) sum J_i^T H_i J_i as one product J^T (H J)) and the
   dense-MLP one (``activation="relu"``: G from J's Kronecker factors, the per-sample deltas and
   layer inputs, J never formed; ``dense_gn_matrix``), then the dense solve. The parts (J, G, the
   record, solve) are also timed on their own, and G by both routes.
2. One K-FAC step (``targets="sampled"``, inverses refreshed at this step) on Peaks at widths 32
   and 1024 (p = 261 and 8197).
3. One Hessian-free G v product (forward JVP, m x m products, reverse VJP) at width 32, for scale.

The unit is one ``problem.grad`` (autograd reverse mode on the full training loss) of the same
problem, timed in the same run: repetitions alternate (gradient, method, gradient, method, ...)
so that load from other processes hits both alike, and each ratio is the median over repetitions
of time(method) / time(gradient of the same repetition). BLAS is pinned to one thread.
"""

from __future__ import annotations

from _bench import one_thread, time_per_call  # benchmarks/_bench.py

one_thread()

import argparse  # noqa: E402
import statistics  # noqa: E402
from collections.abc import Callable  # noqa: E402
from functools import partial  # noqa: E402
from typing import Any

import numpy as np  # noqa: E402

import reference as ref  # noqa: E402
from reference.curvature.model_oracle import (  # noqa: E402
    dense_gn_matrix,
    dense_jacobians,
    evaluate,
    gn_matrix,
    gn_vector_product,
    per_sample_jacobians,
)
from reference.problems.peaks import peaks  # noqa: E402


def ratio(name: str, fn: Callable[[], Any], grad: Callable[[], Any], reps: int) -> tuple[float, float]:
    fn(), grad()  # warm-up
    rs, ts = [], []
    for _ in range(reps):
        tg = time_per_call(grad)
        tm = time_per_call(fn)
        rs.append(tm / tg)
        ts.append(tm)
    r = statistics.median(rs)
    t = statistics.median(ts)
    print(f"  {name:<52s} {t * 1e3:9.2f} ms   {r:8.1f} gradient evaluations")
    return r, t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=11, help="repetitions (median taken), default 11")
    args = ap.parse_args()
    reps = args.reps

    prob = peaks(width=32)
    theta = prob.init_params(np.random.default_rng(0))
    grad = lambda: prob.grad(theta)  # noqa: E731
    tg = statistics.median(time_per_call(grad) for _ in range(reps))
    print(f"Peaks width 32 (n = {prob.n_samples}, p = {prob.dim}); one gradient = {tg * 1e3:.3f} ms (median)")
    print("Gauss-Newton step (J, G, solve):")
    for act in (None, "relu"):
        gn = ref.gauss_newton(damping=1e-3, activation=act)
        gs0 = gn.init(theta)
        ratio(f"gauss_newton step, activation={act!r}", partial(gn.step, gs0, prob), grad, reps)
    print("  parts:")
    ratio(
        "per-sample Jacobians, replicated params (generic)",
        lambda: per_sample_jacobians(prob, theta),
        grad,
        reps,
    )
    ratio(
        "per-sample Jacobians, layer-wise (dense, relu)",
        lambda: dense_jacobians(prob, theta, "relu"),
        grad,
        reps,
    )
    rec = evaluate(prob, theta, activation="relu")
    ratio("record without J (outputs, H_i, grad)", lambda: evaluate(prob, theta, jacobians=False), grad, reps)
    ratio("G = (1/n) sum J_i^T H_i J_i", lambda: gn_matrix(rec), grad, reps)
    rec0 = evaluate(prob, theta, jacobians=False)
    ratio(
        "G from Kronecker factors (deltas, layer inputs; no J)",
        lambda: dense_gn_matrix(prob, rec0, "relu"),
        grad,
        reps,
    )
    ratio(
        "record with J (relu) + G = J^T (H J)  [before]",
        lambda: gn_matrix(evaluate(prob, theta, activation="relu")),
        grad,
        reps,
    )
    ratio(
        "record without J + G from factors      [the relu step]",
        lambda: dense_gn_matrix(prob, evaluate(prob, theta, jacobians=False), "relu"),
        grad,
        reps,
    )
    G = gn_matrix(rec) + 1e-3 * np.eye(prob.dim)
    ratio("solve (G + lambda I) delta = -g", lambda: np.linalg.solve(G, -rec.grad), grad, reps)
    v = np.random.default_rng(1).standard_normal(prob.dim)
    ratio("Hessian-free G v product (JVP, H, VJP)", lambda: gn_vector_product(prob, rec, v), grad, reps)

    for width in (32, 1024):
        pw = peaks(width=width)
        th = pw.init_params(np.random.default_rng(0))
        g = lambda pw=pw, th=th: pw.grad(th)  # noqa: E731
        kf = ref.kfac(lr=0.1, damping=1e-3, activation="relu")
        ks0 = kf.init(th)
        print(f"K-FAC step, Peaks width {width} (p = {pw.dim}):")
        ratio(
            f"kfac step (sampled targets, inverses refreshed), w={width}", partial(kf.step, ks0, pw), g, reps
        )


if __name__ == "__main__":
    main()

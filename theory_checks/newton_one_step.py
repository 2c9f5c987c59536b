r"""Newton's method solves a linear least-squares problem in one step.

Claim:
    L(w) = ||X w - y||^2 is quadratic with Hessian H = 2 X^T X and gradient g = 2 X^T (X w - y),
    so the Newton step w_1 = w_0 - H^{-1} g(w_0) lands on the minimiser w* = (X^T X)^{-1} X^T y
    from any w_0 (seeds 003/004: Newton uses the exact quadratic model, which here is L itself).

Setup:
    ``reference.problems.least_squares(X, y)`` (reduction "sum"), X (n = 50, d = 6) = U diag(s) V^T
    with random orthogonal U, V and singular values log-spaced from 1 to 1/sqrt(kappa), so that
    cond(X^T X) = kappa in {1e2, 1e4, 1e6}; y = X w_true + noise (a residual remains); w_0 a random
    normal vector. One step of ``ref.newton(line_search="none")`` (unit step, mu = 0) with the
    problem's loss in a FunctionOracle (Hessian by autograd). w* by numpy.linalg.lstsq.
    Quick: 3 data sets per kappa; full: 10.

Measured:
    ||w_1 - w*|| / ||w*|| for each kappa (max over data sets); and, as a contrast that the check
    can tell one step from several, the same for one gradient-descent step at the optimal rate.

Tolerance:
    A float64 rounding bound, not slack: the autograd Hessian and gradient carry relative errors
    of about n u, the Cholesky solve is backward stable, so the forward error of w_1 is at most
    c kappa (n + d) u with c = 10 (u = 2^-53), plus the same bound for lstsq's w*.

References:
    Seed 003, "Newton's Method and Approximations"; seed 004, "Newton's Method" (the quadratic
    approximation and its optimal step); Nocedal & Wright (2006), section 3.3.

Sabotage:
    "damped": the Newton step is damped (mu = lambda_max(H), a Levenberg-style shift), so one
        step no longer reaches w*.
    "wrong-prediction": predicts that one step leaves half the initial error.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

import reference as ref
from reference.oracle import FunctionOracle
from reference.problems.linear import least_squares

from ._base import CheckResult, Context, Row
from ._stats import fmt, trial_seeds

NAME = "newton_one_step"
CLAIM = "one Newton step w_1 = w_0 - H^{-1} grad L(w_0) solves least squares: w_1 = w*"
SOURCE = "seed 003, 'Newton's Method and Approximations'; seed 004, 'Newton's Method'"
SABOTAGE: tuple[str, ...] = ("damped", "wrong-prediction")

KAPPAS = (1e2, 1e4, 1e6)
N, D = 50, 6
U = 2.0**-53


def _trial(args: tuple[np.random.SeedSequence, float, str | None]) -> dict[str, float]:
    seed, kappa, sabotage = args
    rng = np.random.default_rng(seed)
    u_mat, _ = np.linalg.qr(rng.standard_normal((N, D)))
    v_mat, _ = np.linalg.qr(rng.standard_normal((D, D)))
    s = np.geomspace(1.0, 1.0 / np.sqrt(kappa), D)
    X = (u_mat * s) @ v_mat.T
    y = X @ rng.standard_normal(D) + 0.1 * rng.standard_normal(N)
    problem = least_squares(X, y)
    w_star = np.linalg.lstsq(X, y, rcond=None)[0]
    w0 = rng.standard_normal(D)
    oracle = FunctionOracle.from_problem(problem)
    mu = 2.0 * float(s.max() ** 2) if sabotage == "damped" else 0.0
    opt = ref.newton(line_search="none", damping=mu)
    w1 = opt.step(opt.init(w0), oracle).params
    h_eig = 2.0 * s**2
    gd = ref.gd(2.0 / float(h_eig.max() + h_eig.min()))
    w1_gd = gd.step(gd.init(w0), problem.grad(w0)).params
    scale = float(np.linalg.norm(w_star))
    return {
        "err": float(np.linalg.norm(w1 - w_star)) / scale,
        "err0": float(np.linalg.norm(w0 - w_star)) / scale,
        "err_gd": float(np.linalg.norm(w1_gd - w_star)) / scale,
    }


def run(ctx: Context) -> CheckResult:
    if ctx.sabotage not in (None, *SABOTAGE):
        raise ValueError(f"{NAME}: sabotage must be one of {SABOTAGE}, got {ctx.sabotage!r}")
    t0 = time.perf_counter()
    k = 3 if ctx.tier == "quick" else 10
    jobs = [(s, kappa, ctx.sabotage) for i, kappa in enumerate(KAPPAS) for s in trial_seeds(ctx, k, stream=i)]
    out = ctx.map(_trial, jobs)
    rows: list[Row] = []
    figure: dict[str, Any] = {"kappa": list(KAPPAS), "err": [], "err_gd": []}
    for i, kappa in enumerate(KAPPAS):
        res = out[i * k : (i + 1) * k]
        err = max(r["err"] for r in res)
        err_gd = min(r["err_gd"] / r["err0"] for r in res)
        bound = 10.0 * kappa * (N + D) * U
        if ctx.sabotage == "wrong-prediction":
            pred = 0.5
            holds = all(abs(r["err"] / r["err0"] - pred) <= bound for r in res)
            rows.append(Row(f"kappa = {fmt(kappa)}: ||w_1 - w*|| / ||w_0 - w*||", "0.5", fmt(max(r["err"] / r["err0"] for r in res)),
                            f"within {fmt(bound)} (rounding bound)", holds))  # fmt: skip
        else:
            rows.append(Row(f"kappa = {fmt(kappa)}: ||w_1 - w*|| / ||w*|| (max over {k})", "0", fmt(err),
                            f"<= 10 kappa (n + d) u = {fmt(bound)}", err <= bound))  # fmt: skip
        rows.append(Row(f"kappa = {fmt(kappa)}: contrast, one optimal GD step ||w_1 - w*|| / ||w_0 - w*|| (min)",
                        "> 0 (at most (kappa-1)/(kappa+1))", fmt(err_gd), "> 1e3 x the Newton bound", err_gd > 1e3 * bound))  # fmt: skip
        figure["err"].append([r["err"] for r in res])
        figure["err_gd"].append([r["err_gd"] for r in res])
    return CheckResult(
        name=NAME, claim=CLAIM, source=SOURCE, rows=tuple(rows),
        justification="float64 forward-error bound of a backward-stable solve: 10 kappa (n + d) u",
        figure=figure, seconds=time.perf_counter() - t0,
    )  # fmt: skip


def plot(result: CheckResult, path: str) -> None:
    from ._plot import save, subplots

    fig, (ax,) = subplots()
    kap = np.array(result.figure["kappa"])
    for j, errs in enumerate(result.figure["err"]):
        ax.loglog([kap[j]] * len(errs), np.maximum(errs, 1e-17), "o", color="C0", label="Newton, 1 step" if j == 0 else None)
    for j, errs in enumerate(result.figure["err_gd"]):
        ax.loglog([kap[j]] * len(errs), errs, "s", color="C1", label="GD, 1 step" if j == 0 else None)
    ax.loglog(kap, 10 * kap * (N + D) * U, "k--", label="rounding bound")
    ax.set_xlabel("cond(X^T X)")
    ax.set_ylabel("||w_1 - w*|| / ||w*||")
    ax.legend()
    save(fig, path, result.claim)

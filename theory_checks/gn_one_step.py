r"""Gauss-Newton solves a linear least-squares problem in one step.

Claim:
    For L(w) = ||X w - y||^2 the model is linear, so the Gauss-Newton matrix is the exact Hessian
    G = 2 X^T X and one undamped step w_1 = w_0 - G^{-1} grad L(w_0) lands on the least-squares
    solution w* = argmin ||X w - y||, from any w_0 (seed 000, "The Appeal of Gauss-Newton Methods":
    "best-case: single step for quadratic problems").

Setup:
    ``ref.gauss_newton(damping=0)`` for one step on ``reference.problems.least_squares`` with
    X in R^{60 x 8} of prescribed singular values (condition number kappa(X) = 100), y ~ N(0, I)
    (a non-zero residual), w_0 ~ N(0, 25 I); quick: 5 seeds, full: 25 seeds
    (SeedSequence(ctx.seed).spawn(k)). The reference solution w* comes from numpy's SVD-based
    ``lstsq`` (not the normal equations). Contrast: one gradient-descent step with the best fixed
    step size 1/L_max (L_max = 2 sigma_max(X)^2) from the same w_0.

Measured:
    max over seeds of ||w_1 - w*|| / ||w*|| for Gauss-Newton (predicted 0, up to rounding) and
    min over seeds of the same error after the GD step (predicted far from 0).

Tolerance:
    Rounding bound of the normal equations (Higham 2002, ch. 20): forming 2 X^T X and solving
    it has relative forward error <= c d kappa(X)^2 u with u = 2^-53; c = 10 covers the
    Cholesky/LU constant and the residual of the starting point, so the bound is
    10 * 8 * 100^2 * u ~ 8.9e-11. GD must stay above 1e-2 (a single GD step contracts the error in
    the smallest singular direction by 1 - (sigma_min/sigma_max)^2 = 1 - 1e-4 only).

References:
    Seed 000, "Gauss-Newton Derivation" (H = I for least squares) and "The Appeal of Gauss-Newton
    Methods"; Nocedal & Wright (2006), section 10.3; Higham (2002), Accuracy and Stability of
    Numerical Algorithms, 2nd ed., ch. 20 (least squares, the normal equations).

Sabotage:
    "broken-optimizer": the step uses only the diagonal of G (a Jacobi preconditioner), which is not
    the Hessian; the one-step row must then fail.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from ._base import CheckResult, Context, Row
from ._stats import bound_row, fmt, trial_seeds

NAME = "gn_one_step"
CLAIM = "one undamped Gauss-Newton step solves linear least squares: w_1 = w*"
SOURCE = "seed 000, 'The Appeal of Gauss-Newton Methods' (single step for quadratic problems)"
SABOTAGE: tuple[str, ...] = ("broken-optimizer",)

_N, _D, _KAPPA = 60, 8, 100.0
_U = 2.0**-53


def _trial(args: tuple[np.random.SeedSequence, bool]) -> tuple[float, float]:
    seed, broken = args
    import reference as ref
    from reference.model_oracle import evaluate, gn_matrix
    from reference.problems.linear import least_squares

    rng = np.random.default_rng(seed)
    U = np.linalg.qr(rng.standard_normal((_N, _D)))[0]
    V = np.linalg.qr(rng.standard_normal((_D, _D)))[0]
    sv = np.logspace(0.0, -np.log10(_KAPPA), _D)
    X = (U * sv) @ V.T
    y = rng.standard_normal(_N)
    prob = least_squares(X, y)
    w_star = np.linalg.lstsq(X, y, rcond=None)[0]
    w0 = 5.0 * rng.standard_normal(_D)
    if broken:
        rec = evaluate(prob, w0)
        w1 = w0 - prob.grad(w0) / np.diag(gn_matrix(rec))
    else:
        opt = ref.gauss_newton(damping=0.0)
        w1 = opt.step(opt.init(w0), prob).params
    lmax = 2.0 * sv[0] ** 2
    w_gd = w0 - prob.grad(w0) / lmax
    nrm = float(np.linalg.norm(w_star))
    return float(np.linalg.norm(w1 - w_star)) / nrm, float(np.linalg.norm(w_gd - w_star)) / nrm


def run(ctx: Context) -> CheckResult:
    if ctx.sabotage not in (None, *SABOTAGE):
        raise ValueError(f"{NAME}: sabotage must be one of {SABOTAGE}, got {ctx.sabotage!r}")
    t0 = time.perf_counter()
    k = 5 if ctx.tier == "quick" else 25
    broken = ctx.sabotage == "broken-optimizer"
    out = np.array(ctx.map(_trial, [(s, broken) for s in trial_seeds(ctx, k)]))
    gn_err, gd_err = out[:, 0], out[:, 1]
    bound = 10 * _D * _KAPPA**2 * _U
    rows: tuple[Row, ...] = (
        bound_row(
            "max ||w_1 - w*|| / ||w*||, Gauss-Newton", "0", float(gn_err.max()), bound,
            why="normal-equations rounding 10 d kappa(X)^2 u",
        ),
        Row(
            quantity="min ||w_1 - w*|| / ||w*||, one GD step (contrast)",
            predicted="> the rounding bound (not solved)",
            measured=fmt(float(gd_err.min())),
            tolerance=f"> {fmt(bound)} (the Gauss-Newton row's bound: not explained by rounding)",
            holds=bool(gd_err.min() > bound),
        ),
    )  # fmt: skip
    return CheckResult(
        name=NAME,
        claim=CLAIM,
        source=SOURCE,
        rows=rows,
        justification="rounding bound of the normal equations, c d kappa(X)^2 u (Higham 2002 ch. 20)",
        figure={"gn_error": gn_err.tolist(), "gd_error": gd_err.tolist(), "bound": bound},
        seconds=time.perf_counter() - t0,
    )


def plot(result: CheckResult, path: str) -> None:
    from ._plot import save, subplots

    fig, (ax,) = subplots()
    f: dict[str, Any] = result.figure
    k = len(f["gn_error"])
    ax.semilogy(range(k), np.maximum(f["gn_error"], 1e-300), "o", label="Gauss-Newton, 1 step")
    ax.semilogy(range(k), f["gd_error"], "s", label="GD, 1 step (1/L)")
    ax.axhline(f["bound"], color="k", ls="--", label="rounding bound")
    ax.set_xlabel("seed")
    ax.set_ylabel("||w_1 - w*|| / ||w*||")
    ax.legend()
    save(fig, path, result.claim)

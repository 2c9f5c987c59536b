r"""Gauss-Newton solves a linear least-squares problem in one step.

Claim:
    For L(w) = (1/n) ||X w - y||^2 the model is linear, so the Gauss-Newton matrix is the exact Hessian
    G = (2/n) X^T X and one undamped step w_1 = w_0 - G^{-1} grad L(w_0) lands on the least-squares
    solution w* = argmin ||X w - y||, from any w_0 (note 000, "The Appeal of Gauss-Newton Methods":
    "best-case: single step for quadratic problems").

Setup:
    ``ref.gauss_newton(damping=0)`` for one step on ``reference.problems.least_squares`` (reduction
    "mean", so the 1/n scale of G and of the gradient is exercised) with X in R^{60 x 8} of prescribed singular values log-spaced from 1 to 1/100
    (cond(G) = 1e4, so one gradient step leaves >= 1 - 2/(1e4 + 1) of the error: built so that only
    a curvature step can solve it), y ~ N(0, I) (a non-zero residual), w_0 ~ N(0, 25 I).
    Quick: 3 data sets; full: 12 (``trial_seeds``).

Measured:
    The worst over data sets of ||w_1 - w*|| / bound, with ||w_1 - w*|| evaluated exactly: w* is the
    exact minimiser of the float64 data in rational arithmetic (``theory_checks._lsq``), not a
    reference routine.

Tolerance:
    The derived float64 bound of ``theory_checks._lsq`` (solver "lu"): G and the gradient formed to
    gamma_{n+2d+2} and gamma_{n+3d+2} (counted operations; J and H_i = 2 of a linear model with
    squared loss), the backward error of ``numpy.linalg.solve`` (LU with partial pivoting, Higham
    Thm 9.4 with Wilkinson's growth bound 2^(d-1)), the perturbation bound of the solve and the
    update's rounding. Deterministic ("bound" row). A 2 % step error leaves 0.02 ||w* - w_0||,
    >= 1e3 x the bound.

References:
    Note 000, "Gauss-Newton Derivation" (H = I for least squares) and "The Appeal of Gauss-Newton
    Methods"; Nocedal & Wright (2006), section 10.3; Higham (2002), Accuracy and Stability of
    Numerical Algorithms, 2nd ed., chs. 3, 7, 9.

Sabotage:
    "wrong-prediction": predicts w_1 = w_0 + 0.98 (w* - w_0) (a 2 % error in the predicted step).
    "broken-optimizer": the step uses only the diagonal of G (a Jacobi preconditioner).
    "sum-scale": G is summed (scale 1) while the gradient keeps the mean's 1/n: the step is n times
        too short.
    "damped": ``ref.gauss_newton()`` with its default damping lambda = 1e-3 left on.
    Planted in a copy of reference/ (``tools.mutate`` ids): caught gn-step-2pct, gn-matrix-no-scale,
    model-grad-no-scale. Not caught by design: G without its symmetrisation 0.5 (G + G^T) (a
    rounding-level change).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

import reference as ref
from reference.curvature.model_oracle import evaluate, gn_matrix
from reference.problems.linear import LeastSquares, least_squares

from ._base import CheckResult, Context, Outcome, Row
from ._lsq import designed_matrix, exact_step, one_step_row
from ._stats import trial_seeds

NAME = "gn_one_step"
CLAIM = "one undamped Gauss-Newton step solves linear least squares: w_1 = w*"
SOURCE = "note 000, 'The Appeal of Gauss-Newton Methods' (single step for quadratic problems)"
SABOTAGE: tuple[str, ...] = ("wrong-prediction", "broken-optimizer", "sum-scale", "damped")
JUSTIFICATION = "derived float64 bound of the formed G, g, the LU solve and the update (Higham 2002)"
STAT_ROWS = 0

_N, _D, _COND_X = 60, 8, 100.0


@dataclass(frozen=True)
class Trial:
    error: float  # ||w_1 - w_pred||, evaluated exactly
    bound: float  # derived float64 bound for it
    initial: float  # ||w_0 - w*||


def _gauss_newton_step(prob: LeastSquares, w0: np.ndarray, sabotage: str | None) -> np.ndarray:
    """One Gauss-Newton step as the check runs it (bugs planted here for the sabotage words)."""
    if sabotage in ("broken-optimizer", "sum-scale"):
        rec = evaluate(prob, w0)
        if sabotage == "broken-optimizer":
            return np.asarray(w0 - rec.grad / np.diag(gn_matrix(rec)))
        G = gn_matrix(replace(rec, scale=1.0))
        return np.asarray(w0 + np.linalg.solve(G, -rec.grad))
    opt = ref.gauss_newton() if sabotage == "damped" else ref.gauss_newton(damping=0.0)
    return np.asarray(opt.step(opt.init(w0), prob).params)


def _trial(args: tuple[np.random.SeedSequence, str | None]) -> Trial:
    seed, sabotage = args
    rng = np.random.default_rng(seed)
    X = designed_matrix(rng, _N, _D, _COND_X)
    y = rng.standard_normal(_N)
    w0 = 5.0 * rng.standard_normal(_D)
    w1 = _gauss_newton_step(least_squares(X, y, reduction="mean"), w0, sabotage)
    eta = 0.98 if sabotage == "wrong-prediction" else 1.0
    step = exact_step(X, y, w0, eta=eta, s=1.0 / _N, solver="lu")
    return Trial(step.error(w1), step.bound, step.step_norm / eta)


def row_one_step(trials: list[Trial]) -> Row:
    """One Gauss-Newton step against the exact minimiser (worst data set)."""
    return one_step_row(f"||w_1 - w*|| / bound, Gauss-Newton (worst of {len(trials)})", trials, "LU solve")


def run(ctx: Context) -> Outcome:
    k = 3 if ctx.tier == "quick" else 12
    trials: list[Trial] = ctx.map(_trial, [(s, ctx.sabotage) for s in trial_seeds(ctx, k)])
    return Outcome(
        rows=(row_one_step(trials),),
        figure={
            "gn_error": [t.error for t in trials],
            "bound": [t.bound for t in trials],
            "initial": [t.initial for t in trials],
        },
    )


def plot(result: CheckResult, path: str) -> None:
    from ._plot import save, subplots

    fig, (ax,) = subplots()
    f = result.figure
    k = len(f["gn_error"])
    ax.semilogy(range(k), np.maximum(f["gn_error"], 1e-300), "o", label="Gauss-Newton, 1 step")
    ax.semilogy(range(k), f["bound"], "k_", ms=20, label="derived rounding bound")
    ax.semilogy(range(k), f["initial"], "s", color="C1", label="||w_0 - w*||")
    ax.set_xlabel("data set")
    ax.set_ylabel("||w_1 - w*||")
    ax.legend()
    save(fig, path, result.claim)

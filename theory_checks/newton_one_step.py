r"""Newton's method solves a linear least-squares problem in one step.

Claim:
    L(w) = ||X w - y||^2 is quadratic with Hessian H = 2 X^T X and gradient g = 2 X^T (X w - y),
    so the Newton step w_1 = w_0 - H^{-1} g(w_0) lands on the minimiser w* = (X^T X)^{-1} X^T y
    from any w_0 (notes 003/004: Newton uses the exact quadratic model, which here is L itself).

Setup:
    ``reference.problems.least_squares(X, y)`` (reduction "sum"), X (n = 50, d = 6) = U diag(s) V^T
    with random orthogonal U, V and singular values log-spaced from 1 to 1/sqrt(kappa), so that
    cond(X^T X) = kappa in {1e2, 1e4, 1e6} (built to be ill-conditioned: one gradient step leaves
    a factor >= 1 - 2/(kappa + 1) of the error); y = X w_true + 0.1 noise (a residual remains);
    w_0 ~ N(0, I). One step of ``ref.newton(line_search="none")`` (unit step, mu = 0) on the
    problem's loss in a FunctionOracle (Hessian by autograd, Cholesky solve).
    Quick: 2 data sets per kappa; full: 8 (``trial_seeds``, one stream per kappa).

Measured:
    Per kappa, the worst over data sets of ||w_1 - w*|| / bound, where the check evaluates
    ||w_1 - w*|| exactly: w* is the exact minimiser of the float64 data, computed in exact
    rational arithmetic by ``theory_checks._lsq`` (no reference code).

Tolerance:
    The derived float64 bound of ``theory_checks._lsq`` (solver "cholesky"): forming H to
    gamma_{n+2d+2} and g to gamma_{n+3d+2} (counted operations), the Cholesky backward error
    (Higham Thm 10.3) and two triangular solves by LU with partial pivoting (Thm 9.4, growth
    <= 2^(d-1)), propagated through the perturbation bound ||H^{-1}|| (beta + alpha ||w* - w_0||)
    / (1 - ||H^{-1}|| alpha), plus the update's rounding. Deterministic: a "bound" row, no share of
    the false-alarm budget. A 2 % step-size error leaves 0.02 ||w* - w_0||, >= 1e3 x the bound.

References:
    Note 003, "Newton's Method and Approximations"; note 004, "Newton's Method" (the quadratic
    approximation and its optimal step); Nocedal & Wright (2006), section 3.3; Higham (2002),
    Accuracy and Stability of Numerical Algorithms, chs. 7, 9, 10.

Sabotage:
    "wrong-prediction": predicts that one step leaves half the initial error (w_0 + (w* - w_0)/2).
    "damped": a Levenberg shift mu = 1e-6 lambda_max(H) left on in the step.
    "short-step": the fixed step is lr = 0.98 instead of 1 (a 2 % step-size error).
    "half-hessian": the oracle's Hessian lacks the factor 2 of the squared loss (H = X^T X), so
        the step is twice too long.
    Planted in a copy of reference/ (``tools.mutate`` ids): caught newton-cholesky-order and a
    shift of 1e-8 added to the Hessian; not caught, outside this claim: newton-damping-sign (the
    claim is mu = 0) and lsq-hessian-factor (``LeastSquares.hessian()``; Newton uses autograd).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

import reference as ref
from reference.oracle import FunctionOracle
from reference.problems.linear import least_squares

from ._base import CheckResult, Context, Outcome, Row
from ._lsq import designed_matrix, exact_step, one_step_row
from ._stats import fmt, trial_seeds

NAME = "newton_one_step"
CLAIM = "one Newton step w_1 = w_0 - H^{-1} grad L(w_0) solves least squares: w_1 = w*"
SOURCE = "note 003, 'Newton's Method and Approximations'; note 004, 'Newton's Method'"
SABOTAGE: tuple[str, ...] = ("wrong-prediction", "damped", "short-step", "half-hessian")
JUSTIFICATION = "derived float64 bound of the formed H, g, the Cholesky solve and the update (Higham 2002)"
STAT_ROWS = 0

KAPPAS = (1e2, 1e4, 1e6)
N, D = 50, 6


@dataclass(frozen=True, eq=False)
class _HalfHessian(FunctionOracle):
    """Planted bug: the Hessian without the factor 2 of the squared loss."""

    def hessian(self, x: Any) -> Any:
        return 0.5 * FunctionOracle.hessian(self, x)


@dataclass(frozen=True)
class Trial:
    kappa: float
    error: float  # ||w_1 - w_pred|| (exact evaluation)
    bound: float  # derived float64 bound for it
    initial: float  # ||w_0 - w*||


def _trial(args: tuple[np.random.SeedSequence, float, str | None]) -> Trial:
    seed, kappa, sabotage = args
    rng = np.random.default_rng(seed)
    X = designed_matrix(rng, N, D, np.sqrt(kappa))
    y = X @ rng.standard_normal(D) + 0.1 * rng.standard_normal(N)
    w0 = rng.standard_normal(D)
    problem = least_squares(X, y)
    oracle_cls = _HalfHessian if sabotage == "half-hessian" else FunctionOracle
    oracle = oracle_cls(problem.loss)
    mu = 1e-6 * 2.0 * float(np.linalg.norm(X, 2) ** 2) if sabotage == "damped" else 0.0
    opt = ref.newton(line_search="none", damping=mu, lr=0.98 if sabotage == "short-step" else 1.0)
    w1 = opt.step(opt.init(w0), oracle).params
    eta = 0.5 if sabotage == "wrong-prediction" else 1.0
    step = exact_step(X, y, w0, eta=eta, solver="cholesky")
    return Trial(kappa, step.error(w1), step.bound, step.step_norm / eta)


def row_kappa(kappa: float, trials: list[Trial]) -> Row:
    """One Newton step against the exact minimiser, worst data set at this condition number."""
    return one_step_row(
        f"kappa = {fmt(kappa)}: ||w_1 - w*|| / bound (worst of {len(trials)})", trials, "Cholesky"
    )


def run(ctx: Context) -> Outcome:
    k = 2 if ctx.tier == "quick" else 8
    jobs = [(s, kap, ctx.sabotage) for i, kap in enumerate(KAPPAS) for s in trial_seeds(ctx, k, stream=i)]
    trials: list[Trial] = ctx.map(_trial, jobs)
    by_kappa = [[t for t in trials if t.kappa == kap] for kap in KAPPAS]
    return Outcome(
        rows=tuple(row_kappa(kap, ts) for kap, ts in zip(KAPPAS, by_kappa)),
        figure={
            "kappa": list(KAPPAS),
            "err": [[t.error for t in ts] for ts in by_kappa],
            "bound": [[t.bound for t in ts] for ts in by_kappa],
        },
    )


def plot(result: CheckResult, path: str) -> None:
    from ._plot import save, subplots

    fig, (ax,) = subplots()
    f = result.figure
    for j, kap in enumerate(f["kappa"]):
        errs, bounds = f["err"][j], f["bound"][j]
        ax.loglog(
            [kap] * len(errs),
            np.maximum(errs, 1e-300),
            "o",
            color="C0",
            label="Newton, 1 step" if j == 0 else None,
        )
        ax.loglog(
            [kap] * len(bounds), bounds, "_", ms=20, color="k", label="derived bound" if j == 0 else None
        )
    ax.set_xlabel("cond(X^T X)")
    ax.set_ylabel("||w_1 - w*||")
    ax.legend()
    save(fig, path, result.claim)

r"""Natural gradient is invariant under a linear reparametrisation; gradient descent is not.

Claim:
    With theta = B phi (B invertible) the Fisher and the gradient transform as F_phi = B^T F_theta B
    and grad_phi = B^T grad_theta, so the undamped natural-gradient step satisfies
    B delta_phi = -eta B (B^T F B)^{-1} B^T g = -eta F^{-1} g = delta_theta: the step in phi is the
    step in theta mapped back, phi_{t+1} = B^{-1} Phi_theta(B phi_t), and the iterates map to each
    other, B phi_t = theta_t (note 001, "Natural Gradient Descent": "Parameterization-invariant:
    reparameterizing doesn't change trajectory"). Gradient descent's step B (-eta B^T g) is not
    -eta g unless B B^T = I.

Setup:
    Least squares with the Gaussian likelihood (``reference.problems.least_squares``, reduction
    "mean", n = 30, d = 5, X with singular values log-spaced in [0.1, 1], y = X w + 0.1 noise), whose
    Fisher is F_theta = (2/n) X^T X: the natural-gradient map is then known exactly,
    Phi_theta(theta) = theta + eta (theta* - theta), and in phi the invariance predicts
    phi_{t+1} = B^{-1} Phi_theta(B phi_t) = phi_t + eta (B^{-1} theta* - phi_t).
    B = Q diag(s) R with random orthogonal Q, R and s log-spaced in [1, 10] (kappa(B) = 10, far from
    orthogonal, so gradient descent is not invariant). ``ref.natural_gradient(lr=0.5, damping=0,
    likelihood="gaussian")`` runs T = 3 steps on the problem in theta and on the reparametrised
    problem in phi (predict(phi) = predict(B phi); its Fisher is formed by the reference from the
    phi-model's own Jacobians), from theta_0 ~ N(0, 4 I), phi_0 = B^{-1} theta_0.
    Quick: 2 data sets; full: 8. Instance limits: on least squares the Fisher does not depend on
    theta, so this tests the transformation law and the step exactly but not a theta-dependent
    Fisher (logistic regression would need a rounding model of the sigmoid; not done).

Measured:
    For every step t of each run, the reference's iterate against the prediction made from its own
    previous iterate: theta_{t+1} vs Phi_theta(theta_t) (the natural-gradient step's level: a 2 %
    step-size error fails) and phi_{t+1} vs B^{-1} Phi_theta(B phi_t) (the invariance), both
    evaluated in exact rational arithmetic (``theory_checks._lsq``: theta* and B^{-1} theta* exact).
    Report: gradient descent's non-invariance at theta_0, ||(I - B B^T) g|| / ||g|| (algebra on
    the instance in float64, not a verdict).

Tolerance:
    The derived float64 bound of one step (``theory_checks._lsq``, solver "lu"): F and g formed to
    gamma_{n+2d+2} and gamma_{n+3d+2} relative to |X| |B| (counted operations, including the d-term
    products X B of the reparametrised model), the backward error of ``numpy.linalg.solve`` (Higham
    Thm 9.4, growth <= 2^(d-1)), the perturbation bound of the solve and the update's rounding.
    Each step is predicted from the iterate the reference actually holds, so no error propagates
    between steps. Deterministic ("bound" rows).

References:
    Note 001, "Natural Gradient Descent"; Amari (1998), Neural Computation 10(2); Martens (2020),
    JMLR 21(146) (invariance to affine reparametrisations; exact only without damping); Higham
    (2002), Accuracy and Stability of Numerical Algorithms, chs. 3, 7, 9.

Sabotage:
    "wrong-prediction": predicts that phi follows the theta-map unmapped (phi* = theta*).
    "damped": the reference's default damping lambda = 1e-4 left on; lambda I does not transform as
        B^T (.) B, so both rows fail.
    "short-step": lr = 0.49 instead of 0.5 in the optimizer (a 2 % step-size error).
    "empirical-fisher": the optimizer uses the empirical Fisher sum_i g_i g_i^T in place of the
        true one.
    Planted in a copy of reference/ (``tools.mutate`` ids): caught ng-fisher-swapped,
    ng-fisher-no-scale, model-grad-no-scale. Not caught: the learning rate read at t + 1 instead
    of t (no effect with the constant lr of the claim).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import autograd.numpy as anp
import numpy as np

import reference as ref
from reference.problems.linear import least_squares

from ._base import CheckResult, Context, Outcome, Row, report_row
from ._lsq import ExactLSQ, designed_matrix
from ._stats import fmt, trial_seeds

NAME = "natural_gradient_invariance"
CLAIM = (
    "natural gradient with theta = B phi: phi_{t+1} = B^{-1} Phi_theta(B phi_t), B phi_t = theta_t (GD: not)"
)
SOURCE = "note 001, 'Natural Gradient Descent' (parameterization-invariant)"
SABOTAGE: tuple[str, ...] = ("wrong-prediction", "damped", "short-step", "empirical-fisher")
JUSTIFICATION = (
    "derived float64 bound of one natural-gradient step (formed F, g, LU solve, update; Higham 2002)"
)
STAT_ROWS = 0

_T, _LR, _N, _D = 3, 0.5, 30, 5


@dataclass(frozen=True, eq=False)
class Reparametrised:
    """The problem in phi, theta = B phi: every model + loss attribute of ``base``, with predict
    (and the replicated-parameters predict) composed with B."""

    base: Any
    B: Any

    def __getattr__(self, name: str) -> Any:
        return getattr(self.base, name)

    def predict(self, phi: Any, X: Any) -> Any:
        return self.base.predict(anp.dot(self.B, phi), X)

    def predict_rowwise(self, phis: Any, X: Any) -> Any:
        return self.base.predict_rowwise(anp.dot(phis, self.B.T), X)

    def loss(self, phi: Any) -> Any:
        return self.base.loss(anp.dot(self.B, phi))


@dataclass(frozen=True)
class Trial:
    theta_ratio: float  # max_t error / bound, theta-run
    phi_ratio: float  # max_t error / bound, phi-run (the invariance)
    theta_error: float  # the worst error in theta
    phi_error: float  # and in phi
    gd_gap: float  # ||(I - B B^T) g(theta_0)|| / ||g(theta_0)||


def _optimizer(sabotage: str | None) -> Any:
    if sabotage == "damped":
        return ref.natural_gradient(lr=_LR, likelihood="gaussian")  # default damping 1e-4
    if sabotage == "empirical-fisher":
        return ref.natural_gradient(lr=_LR, damping=0.0, fisher="empirical", likelihood="gaussian")
    lr = 0.49 if sabotage == "short-step" else _LR
    return ref.natural_gradient(lr=lr, damping=0.0, likelihood="gaussian")


def _worst(opt: Any, problem: Any, start: Any, exact: ExactLSQ) -> tuple[float, float]:
    """Run T steps; each iterate against the exact step from the reference's previous iterate."""
    state = opt.init(start)
    ratio, err = 0.0, 0.0
    for _ in range(_T):
        prev = np.asarray(state.params)
        state = opt.step(state, problem)
        pred = exact.step(prev, eta=_LR)
        e = pred.error(state.params)
        ratio, err = max(ratio, e / pred.bound), max(err, e)
    return ratio, err


def _trial(args: tuple[np.random.SeedSequence, str | None]) -> Trial:
    seed, sabotage = args
    rng = np.random.default_rng(seed)
    X = designed_matrix(rng, _N, _D, 10.0)
    y = X @ rng.standard_normal(_D) + 0.1 * rng.standard_normal(_N)
    Q = np.linalg.qr(rng.standard_normal((_D, _D)))[0]
    R = np.linalg.qr(rng.standard_normal((_D, _D)))[0]
    B = (Q * np.logspace(0, 1, _D)) @ R
    theta0 = 2.0 * rng.standard_normal(_D)
    phi0 = np.linalg.solve(B, theta0)
    prob = least_squares(X, y, reduction="mean")
    opt = _optimizer(sabotage)
    th_ratio, th_err = _worst(opt, prob, theta0, ExactLSQ(X, y, s=1.0 / _N))
    # phi's prediction: phi_t + eta (B^{-1} theta* - phi_t), theta* of the theta problem mapped back
    # (ExactLSQ with B: argmin ||X B phi - y|| = B^{-1} theta* exactly); the sabotage drops the map.
    phi_exact = (
        ExactLSQ(X, y, s=1.0 / _N) if sabotage == "wrong-prediction" else ExactLSQ(X, y, B, s=1.0 / _N)
    )
    ph_ratio, ph_err = _worst(opt, Reparametrised(prob, B), phi0, phi_exact)
    g = 2.0 / _N * X.T @ (X @ theta0 - y)
    gd_gap = float(np.linalg.norm(g - B @ (B.T @ g)) / np.linalg.norm(g))
    return Trial(th_ratio, ph_ratio, th_err, ph_err, gd_gap)


def _worst_row(
    ratios: list[float], errors: list[float], quantity: str, predicted: str, tolerance: str
) -> Row:
    """The worst trial's error / bound (holds iff every trial's is <= 1) and its error."""
    i = max(range(len(ratios)), key=ratios.__getitem__)
    return Row(
        quantity=quantity,
        predicted=predicted,
        measured=f"{fmt(ratios[i])} (error {fmt(errors[i])})",
        tolerance=tolerance,
        holds=all(r <= 1.0 for r in ratios),
    )


def row_step(trials: list[Trial]) -> Row:
    """theta-run: every natural-gradient step against the exact map (the level of the step)."""
    return _worst_row(
        [t.theta_ratio for t in trials],
        [t.theta_error for t in trials],
        f"theta_(t+1) vs Phi_theta(theta_t) = theta_t + eta (theta* - theta_t), max over t <= {_T}, error / bound",
        "0 (exact rational theta*)",
        "<= 1 (derived float64 bound of one step, per step)",
    )


def row_invariance(trials: list[Trial]) -> Row:
    """phi-run: every step against the theta-map transported by B (the invariance)."""
    return _worst_row(
        [t.phi_ratio for t in trials],
        [t.phi_error for t in trials],
        f"phi_(t+1) vs B^-1 Phi_theta(B phi_t), max over t <= {_T}, error / bound",
        "0 (invariance; exact rational B^-1 theta*)",
        "<= 1 (derived float64 bound of one step in phi, per step)",
    )


def run(ctx: Context) -> Outcome:
    k = 2 if ctx.tier == "quick" else 8
    trials: list[Trial] = ctx.map(_trial, [(s, ctx.sabotage) for s in trial_seeds(ctx, k)])
    gd = min(t.gd_gap for t in trials)
    return Outcome(
        rows=(
            row_step(trials),
            row_invariance(trials),
            report_row(
                "gradient descent at theta_0: ||B delta_phi - delta_theta|| / ||delta_theta|| (min)",
                fmt(gd),
                note="algebra on the instance (float64): GD is not invariant (B B^T != I)",
            ),
        ),
        figure={
            "theta": [t.theta_ratio for t in trials],
            "phi": [t.phi_ratio for t in trials],
            "gd_gap": [t.gd_gap for t in trials],
        },
    )


def plot(result: CheckResult, path: str) -> None:
    from ._plot import save, subplots

    fig, (ax,) = subplots()
    f: dict[str, Any] = result.figure
    k = len(f["theta"])
    ax.semilogy(range(k), np.maximum(f["theta"], 1e-300), "o", label="NG in theta: error / bound")
    ax.semilogy(range(k), np.maximum(f["phi"], 1e-300), "s", label="NG in phi: error / bound")
    ax.semilogy(range(k), f["gd_gap"], "^", label="GD: relative non-invariance")
    ax.axhline(1.0, color="k", ls="--", label="bound")
    ax.set_xlabel("data set")
    ax.set_ylabel("ratio")
    ax.legend()
    save(fig, path, result.claim)

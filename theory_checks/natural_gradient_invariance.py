r"""Natural gradient is invariant under a linear reparametrisation; gradient descent is not.

Claim:
    With theta = B phi (B invertible) the Fisher and the gradient transform as F_phi = B^T F_theta B
    and grad_phi = B^T grad_theta, so the undamped natural-gradient step satisfies
    B delta_phi = -eta B (B^T F B)^{-1} B^T g = -eta F^{-1} g = delta_theta: the iterates map to each
    other, B phi_t = theta_t for every t (seed 001, "Natural Gradient Descent":
    "Parameterization-invariant: reparameterizing doesn't change trajectory"). Gradient descent's
    step B (-eta B^T g) is not -eta g unless B is orthogonal.

Setup:
    Binary logistic regression (``reference.problems.logistic_regression``, n = 200, d = 5 with an
    intercept column, data from ``make_logistic_data``), B = Q diag(s) R with random orthogonal
    Q, R and s log-spaced in [1, 10] (kappa(B) = 10); ``ref.natural_gradient(lr=0.5, damping=0,
    fisher="true")`` run T = 5 steps on the problem in theta and on the reparametrised problem in
    phi (predict(phi) = predict(B phi)); gradient descent with lr = 0.5 on both as the contrast.
    Quick: 3 seeds, full: 12 seeds.

Measured:
    max over seeds and steps of ||B phi_t - theta_t|| / ||theta_t|| for natural gradient and the
    min over seeds of the same quantity after T steps of gradient descent.

Tolerance:
    Rounding bound: each step solves with F_theta and with F_phi, whose relative solve errors are
    <= c p kappa(F) u (Higham 2002, ch. 7) with kappa(F_phi) <= kappa(B)^2 kappa(F_theta);
    the errors add over T steps (the map theta -> theta - eta F^{-1} g is a contraction near the
    optimum, so earlier errors do not grow), giving T * 10 p (kappa(F_theta) + kappa(F_phi)) u with
    the condition numbers measured at the start. GD must differ by more than 1e-3.

References:
    Seed 001, "Natural Gradient Descent"; Amari (1998), Neural Computation 10(2); Martens (2020),
    JMLR 21(146) (invariance to affine reparametrisations; exact only without damping).

Sabotage:
    "damped": the natural-gradient steps use damping lambda = 1e-1; lambda I does not transform as
    B^T (.) B, so the iterates no longer map to each other and the invariance row must fail.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import autograd.numpy as anp
import numpy as np

from ._base import CheckResult, Context, Row
from ._stats import bound_row, fmt, trial_seeds

NAME = "natural_gradient_invariance"
CLAIM = "natural gradient with theta = B phi: B phi_t = theta_t (GD: not)"
SOURCE = "seed 001, 'Natural Gradient Descent' (parameterization-invariant)"
SABOTAGE: tuple[str, ...] = ("damped",)

_T, _LR, _D = 5, 0.5, 5
_U = 2.0**-53


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


def _trial(args: tuple[np.random.SeedSequence, float]) -> tuple[float, float, float]:
    seed, damping = args
    import reference as ref
    from reference.model_oracle import evaluate
    from reference.natural_gradient import fisher_matrix
    from reference.problems.linear import logistic_regression, make_logistic_data

    rng = np.random.default_rng(seed)
    X, y, _ = make_logistic_data(rng, 200, _D - 1)
    prob = logistic_regression(X, y)
    Q = np.linalg.qr(rng.standard_normal((_D, _D)))[0]
    R = np.linalg.qr(rng.standard_normal((_D, _D)))[0]
    B = (Q * np.logspace(0, 1, _D)) @ R
    rp = Reparametrised(prob, B)
    # Start near the usual zero initialisation, where the Fisher is well conditioned (p(1-p) ~ 1/4):
    # from a saturated start the undamped natural gradient (= Newton for logistic regression) can
    # diverge, which says nothing about invariance (seen on 2 of 12 full-tier seeds from N(0, I)).
    theta0 = 0.1 * rng.standard_normal(_D)
    phi0 = np.linalg.solve(B, theta0)
    opt = ref.natural_gradient(lr=_LR, damping=damping)
    sa, sb = opt.init(theta0), opt.init(phi0)
    worst = 0.0
    for _ in range(_T):
        sa, sb = opt.step(sa, prob), opt.step(sb, rp)
        worst = max(worst, float(np.linalg.norm(B @ sb.params - sa.params) / np.linalg.norm(sa.params)))
    ga, gb = theta0.copy(), phi0.copy()
    for _ in range(_T):
        ga = ga - _LR * prob.grad(ga)
        gb = gb - _LR * B.T @ prob.grad(B @ gb)
    gd_gap = float(np.linalg.norm(B @ gb - ga) / np.linalg.norm(ga))
    F = np.asarray(fisher_matrix(prob, evaluate(prob, theta0), fisher="true", likelihood="categorical"))
    kappa = float(np.linalg.cond(F) + np.linalg.cond(B.T @ F @ B))
    return worst, gd_gap, kappa


def run(ctx: Context) -> CheckResult:
    if ctx.sabotage not in (None, *SABOTAGE):
        raise ValueError(f"{NAME}: sabotage must be one of {SABOTAGE}, got {ctx.sabotage!r}")
    t0 = time.perf_counter()
    k = 3 if ctx.tier == "quick" else 12
    damping = 1e-1 if ctx.sabotage == "damped" else 0.0
    out = np.array(ctx.map(_trial, [(s, damping) for s in trial_seeds(ctx, k)]))
    ng, gd, kap = out[:, 0], out[:, 1], out[:, 2]
    bounds = _T * 10 * _D * kap * _U
    ratio = ng / bounds
    i = int(np.argmax(ratio))
    rows: tuple[Row, ...] = (
        bound_row(
            "max_t ||B phi_t - theta_t|| / ||theta_t||, natural gradient (worst seed vs its bound)",
            "0", float(ng[i]), float(bounds[i]),
            why="T 10 p (kappa(F_theta) + kappa(F_phi)) u",
        ),
        Row(
            quantity="min over seeds ||B phi_T - theta_T|| / ||theta_T||, gradient descent (contrast)",
            predicted="> the rounding bound (not invariant)",
            measured=fmt(float(gd.min())),
            tolerance=f"> {fmt(float(bounds.max()))} (the largest natural-gradient bound: not explained by rounding)",
            holds=bool(gd.min() > bounds.max()),
        ),
    )  # fmt: skip
    return CheckResult(
        name=NAME,
        claim=CLAIM,
        source=SOURCE,
        rows=rows,
        justification="solve rounding c p kappa(F) u per step, summed over T steps (Higham 2002 ch. 7)",
        figure={"ng_gap": ng.tolist(), "gd_gap": gd.tolist(), "bounds": bounds.tolist()},
        seconds=time.perf_counter() - t0,
    )


def plot(result: CheckResult, path: str) -> None:
    from ._plot import save, subplots

    fig, (ax,) = subplots()
    f: dict[str, Any] = result.figure
    k = len(f["ng_gap"])
    ax.semilogy(range(k), np.maximum(f["ng_gap"], 1e-300), "o", label="natural gradient")
    ax.semilogy(range(k), f["gd_gap"], "s", label="gradient descent")
    ax.semilogy(range(k), f["bounds"], "k_", ms=20, label="rounding bound")
    ax.set_xlabel("seed")
    ax.set_ylabel("||B phi_T - theta_T|| / ||theta_T||")
    ax.legend()
    save(fig, path, result.claim)

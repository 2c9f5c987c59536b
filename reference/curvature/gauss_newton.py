r"""Gauss-Newton with damping and an optional Armijo line search. Spec: specs/gauss_newton.md,
eqs. (GN1)-(GN5).

    o_i = F(theta; x_i),  J_i = d o_i / d theta,  H_i = d^2 l(o_i, y_i) / d o_i^2,  g = grad L   (GN1)
    G = s sum_i J_i^T H_i J_i + l2 I          (s = 1/N for "mean", 1 for "sum")               (GN2)
    (G + lambda I) delta = -g                                                                 (GN3)
    alpha = 1, or the first beta^j with L(theta + beta^j delta) <= L(theta) + c beta^j g^T delta  (GN4)
    theta_t = theta_{t-1} + alpha delta                                                       (GN5)

H_i = I (times 2 for the loss r^2) for least squares and H_i = diag(p_i) - p_i p_i^T for softmax
cross-entropy; the module never assumes either: H_i is autograd's Hessian of the problem's
per-sample loss in the outputs, and J_i comes from m vectorized backward passes
(reference/curvature/model_oracle.py); with ``activation`` (a dense MLP) G is formed from J's
Kronecker factors (per-sample deltas x layer inputs) without forming J (``dense_gn_matrix``).

Input of ``step``: the problem itself (an ``OutputModel``, e.g. any ``reference.problems``
finite-sum problem); the method evaluates J, H and g at ``state.params`` and, with the line
search, L at the trial points.

Conventions:
    * lambda is an absolute damping added to G (note 000 "(G + lambda I) delta = -grad L");
      lambda = 0 needs G nonsingular (numpy's LinAlgError otherwise).
    * The line search (GN4) is ``linesearch.armijo`` (method "backtrack", first trial 1, rho = beta,
      max_iter = max_backtracks) on the loss ``loss_at``; if no trial in ``max_backtracks``
      contractions satisfies Armijo, or delta is not a descent direction (g^T delta >= 0, possible
      only by rounding when G + lambda I is nearly singular), the step is rejected (alpha = 0,
      params unchanged) and ``state.step_size`` records 0. delta = 0 (g = 0) is the full step.
    * Differentiable by autograd (with respect to theta_0, lambda and beta): the Armijo tests are
      decided on unboxed values, alpha = beta^j is then fixed by j, and the step is traced.

References:
    Note 000, "Gauss-Newton Derivation for General Convex Loss", "Gauss-Newton as dense linear
    algebra", "The Appeal of Gauss-Newton Methods"; note 001 "Preconditioning".
    Nocedal, J. and Wright, S. J. (2006). Numerical Optimization, 2nd ed., sections 10.3 and 3.1.
    Schraudolph, N. N. (2002). Fast curvature matrix-vector products for second-order gradient
    descent. Neural Computation 14(7) (the generalized Gauss-Newton matrix J^T H J).
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from functools import partial
from typing import Any, ClassVar

import autograd.numpy as anp
import numpy as np
from autograd.tracer import getval

from .._core import method
from .._hyper import FLAG, NONNEGATIVE, OPEN_UNIT, Hyperparams, Integer, OneOf, hp
from .._types import Array
from ..oracle import FunctionOracle
from .linesearch import armijo
from .model_oracle import ACTIVATIONS, OutputModel, dense_gn_matrix, evaluate, gn_matrix, loss_at


@dataclass(frozen=True, eq=False)
class GaussNewtonHyperparams(Hyperparams):
    """Gauss-Newton's hyperparameters (defaults: a small absolute damping, the full step)."""

    ALGORITHM: ClassVar[str] = "gauss_newton"
    damping: float = hp(1e-3, NONNEGATIVE, "lambda of (GN3), added to G (0 needs G nonsingular)")
    _: KW_ONLY
    line_search: bool = hp(False, FLAG, "Armijo backtracking along delta, (GN4); otherwise alpha = 1")
    c: float = hp(1e-4, OPEN_UNIT, "Armijo constant c of (GN4), (LS2)")
    beta: float = hp(0.5, OPEN_UNIT, "backtracking factor beta of (GN4), (LS4)")
    max_backtracks: int = hp(30, Integer(ge=0), "contractions tried in (GN4) before the step is rejected")
    activation: str | None = hp(
        None,
        OneOf((None, *ACTIVATIONS)),
        "None (generic per-sample Jacobians via "
        "predict_rowwise) or the hidden activation of a dense-MLP problem (the "
        "layer-wise Kronecker factors of J, G formed without J, checked against predict at every step)",
    )


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class GaussNewtonState:
    """Gauss-Newton's state after ``t`` steps."""

    params: Array  # theta_t
    loss: Any  # L(theta_{t-1}), the loss where the last step was computed (nan before any step)
    step_size: float  # alpha of the last step (1 without line search; 0 if rejected)
    t: int  # completed steps


def init(params: Array) -> GaussNewtonState:
    """theta_0 = params, t = 0."""
    return GaussNewtonState(params=params, loss=float("nan"), step_size=0.0, t=0)


def step(
    state: GaussNewtonState,
    model: OutputModel,
    *,
    damping: float,
    line_search: bool = False,
    c: float = 1e-4,
    beta: float = 0.5,
    max_backtracks: int = 30,
    activation: str | None = None,
) -> GaussNewtonState:
    """One Gauss-Newton step, eqs. (GN1)-(GN5) of specs/gauss_newton.md."""
    theta = state.params
    if activation is None:  # generic: per-sample Jacobians J_i, then G = s J^T (H J)
        rec = evaluate(model, theta, jacobians=True, who="gauss_newton")  # (GN1)
        G = gn_matrix(rec)  # (GN2)
    else:  # dense MLP: G from J's Kronecker factors (deltas x layer inputs), J never formed
        rec = evaluate(model, theta, jacobians=False, who="gauss_newton")  # (GN1)
        G = dense_gn_matrix(model, rec, activation, who="gauss_newton")  # (GN2)
    p = anp.shape(theta)[0]
    delta = anp.linalg.solve(G + damping * anp.eye(p), -rec.grad)  # (GN3)
    alpha: Any = 1.0
    if line_search and np.any(getval(delta)):
        if getval(anp.dot(rec.grad, delta)) < 0:  # a descent direction: backtrack from alpha = 1
            res = armijo(  # (GN4)
                FunctionOracle(partial(loss_at, model)),
                theta,
                delta,
                f0=rec.loss,
                g0=rec.grad,
                alpha0=1.0,
                c1=c,
                rho=beta,
                max_iter=max_backtracks,
            )
            alpha = res.alpha  # 0.0 if no trial was accepted
        else:
            alpha = 0.0  # g^T delta >= 0 (rounding): no decrease along delta, the step is rejected
    theta = theta + alpha * delta  # (GN5)
    return GaussNewtonState(params=theta, loss=rec.loss, step_size=alpha, t=state.t + 1)


gauss_newton = method(
    GaussNewtonHyperparams,
    init,
    step,
    "Gauss-Newton with damping and an optional Armijo line search; step(state, problem). "
    "See specs/gauss_newton.md.",
)

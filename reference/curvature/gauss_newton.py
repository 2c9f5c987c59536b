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
(reference/curvature/model_oracle.py).

Input of ``step``: the problem itself (an ``OutputModel``, e.g. any ``reference.problems``
finite-sum problem); the method evaluates J, H and g at ``state.params`` and, with the line
search, L at the trial points.

Conventions:
    * lambda is an absolute damping added to G (seed 000 "(G + lambda I) delta = -grad L");
      lambda = 0 needs G nonsingular (numpy's LinAlgError otherwise).
    * With the line search, if no trial in ``max_backtracks`` halvings satisfies Armijo the step
      is rejected (alpha = 0, params unchanged) and ``state.step_size`` records 0.
    * Differentiable by autograd (with respect to theta_0, lambda and beta): the Armijo tests are
      decided on unboxed values, alpha = beta^j is then fixed by j, and the step is traced.

References:
    Seed 000, "Gauss-Newton Derivation for General Convex Loss", "Gauss-Newton as dense linear
    algebra", "The Appeal of Gauss-Newton Methods"; seed 001 "Preconditioning".
    Nocedal, J. and Wright, S. J. (2006). Numerical Optimization, 2nd ed., sections 10.3 and 3.1.
    Schraudolph, N. N. (2002). Fast curvature matrix-vector products for second-order gradient
    descent. Neural Computation 14(7) (the generalized Gauss-Newton matrix J^T H J).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

import autograd.numpy as anp
from autograd.tracer import getval

from .._core import Method, check_choice, check_count, check_nonnegative, check_positive, check_unit_interval
from .._types import Array
from .model_oracle import ACTIVATIONS, OutputModel, evaluate, gn_matrix, loss_at


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


def armijo(
    model: OutputModel, theta: Any, loss0: Any, slope: Any, delta: Any, *,
    c: float, beta: float, max_backtracks: int,
) -> float:
    """The first alpha = beta^j (j = 0, 1, ...) with L(theta + alpha delta) <= L0 + c alpha slope."""  # fmt: skip
    alpha = 1.0
    for _ in range(max_backtracks + 1):
        if getval(loss_at(model, theta + alpha * delta)) <= getval(loss0 + c * alpha * slope):
            return alpha
        alpha *= beta
    return 0.0


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
    rec = evaluate(model, theta, jacobians=True, activation=activation, who="gauss_newton")  # (GN1)
    G = gn_matrix(rec)  # (GN2)
    p = anp.shape(theta)[0]
    delta = anp.linalg.solve(G + damping * anp.eye(p), -rec.grad)  # (GN3)
    alpha = 1.0
    if line_search:
        slope = anp.dot(rec.grad, delta)
        alpha = armijo(model, theta, rec.loss, slope, delta, c=c, beta=beta, max_backtracks=max_backtracks)  # (GN4)
    theta = theta + alpha * delta  # (GN5)
    return GaussNewtonState(params=theta, loss=rec.loss, step_size=alpha, t=state.t + 1)


def gauss_newton(
    damping: float = 1e-3,
    *,
    line_search: bool = False,
    c: float = 1e-4,
    beta: float = 0.5,
    max_backtracks: int = 30,
    activation: str | None = None,
) -> Method[GaussNewtonState, OutputModel]:
    """Gauss-Newton with hyperparameters bound; ``opt.step(state, problem)``.

    Args:
        damping: lambda >= 0 added to G in (GN3).
        line_search: Armijo backtracking along delta (GN4); otherwise the full step alpha = 1.
        c: Armijo constant in (0, 1).
        beta: backtracking factor in (0, 1).
        max_backtracks: integer >= 0, halvings tried before the step is rejected.
        activation: None (generic per-sample Jacobians through ``predict_rowwise``) or the hidden
            activation of a dense-MLP problem ("relu" for Peaks, "tanh", "identity"): the faster
            layer-wise Jacobian formula, checked against the problem's ``predict`` at every step.
    """
    name = "gauss_newton"
    check_nonnegative(name, "damping", damping)
    check_positive(name, "c", c)
    check_unit_interval(name, "c", c)
    check_positive(name, "beta", beta)
    check_unit_interval(name, "beta", beta)
    check_count(name, "max_backtracks", max_backtracks, minimum=0)
    check_choice(name, "activation", activation, (None, *ACTIVATIONS))
    if not isinstance(line_search, bool):
        raise TypeError(f"{name}: line_search must be a bool, got {line_search!r}")
    step_fn = partial(
        step, damping=damping, line_search=line_search, c=c, beta=beta,
        max_backtracks=max_backtracks, activation=activation,
    )  # fmt: skip
    return Method(name=name, hyperparams=dict(step_fn.keywords), init_fn=init, step_fn=step_fn)


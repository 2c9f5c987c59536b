r"""Jacobi-preconditioned gradient descent. Spec: specs/jacobi_gd.md, eqs. (JP1)-(JP4).

Input of each step: a ``FunctionOracle`` (reference/oracle.py) for f; the step asks it for grad f
at the iterate and, when the preconditioner is refreshed, for p Hessian-vector products.

    g_t = grad f(theta_{t-1})                                                     (JP1)
    h_t = diag(grad^2 f(theta_{s}))_i = e_i^T grad^2 f(theta_s) e_i, i = 1..p,
          s = t - 1 if (t - 1) mod k == 0 (refresh), else h_t = h_{t-1}           (JP2)
    M_t = max(|h_t|, lambda) ("abs"), max(h_t, lambda) ("clip") or |h_t| + lambda ("add")   (JP3)
    theta_t = theta_{t-1} - eta_t g_t / M_t        (element-wise; M = diag(M_t))   (JP4)

This is the notes' preconditioned step theta - eta M^{-1} grad L with the diagonal choice
M = diag(grad^2 L) (note 001, "Classical Preconditioning Perspective"). On a quadratic with a
diagonal Hessian and eta = 1 it is Newton's step (one step to the minimiser); on any quadratic
0.5 theta^T H theta its iteration matrix I - eta D^{-1} H is similar to
I - eta D^{-1/2} H D^{-1/2}, so its rate is set by kappa(D^{-1/2} H D^{-1/2}), not kappa(H)
(theory check ``diagonal_preconditioning``).

Conventions:
    * The diagonal is exact: one Hessian-vector product with each unit vector e_i (autograd,
      reverse over reverse), keeping entry i. That is p products, the cost of the full Hessian:
      "cheap" in the notes refers to the O(p) memory and the O(p) solve, not to computing the
      diagonal (an unbiased cheap estimate, Hutchinson's, is not this method).
    * Damping (JP3): the default rule "abs" keeps a diagonal entry unchanged when |h_ii| >=
      lambda, flips the sign of negative curvature (a descent direction, as saddle-free Newton's
      |H|), and floors it at lambda > 0 (no division by zero). "clip" floors h_ii itself (negative
      curvature then gives the large step eta/lambda); "add" shifts every |h_ii| by lambda
      (Levenberg-style, never exact on a quadratic).
    * Refresh: the diagonal is computed at steps 1, 1 + k, 1 + 2k, ... (k = ``refresh``) at the
      current iterate and reused in between; the state keeps the damped M in use.
    * Invariance: for theta = S phi with S diagonal and no entry floored by lambda, the iterates
      in phi map exactly to those in theta (diag of S H S is S^2 diag H).
    * eta_t is ``lr`` or ``lr(t - 1)`` for a schedule. Differentiable by autograd with respect to
      theta_0 and lr (the refresh decision depends only on t; "abs" and "clip" select on unboxed
      comparisons through ``maximum``).

References:
    Note 001, "Classical Preconditioning Perspective" (M = diag(grad^2 L): "cheap but limited").
    Saad, Y. (2003). Iterative Methods for Sparse Linear Systems, 2nd ed., section 4.1 (Jacobi),
        section 10.2 (Jacobi preconditioning).
    Nocedal, J. and Wright, S. J. (2006). Numerical Optimization, 2nd ed., section 3.3.
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from typing import ClassVar, Literal

import autograd.numpy as anp
import numpy as np

from .._core import lr_at, method
from .._hyper import LR, POSITIVE, Hyperparams, Integer, OneOf, hp
from .._types import Array, LearningRate
from ..oracle import FunctionOracle, as_flat

DampingRule = Literal["abs", "clip", "add"]
DAMPING_RULES: tuple[DampingRule, ...] = ("abs", "clip", "add")


@dataclass(frozen=True, eq=False)
class JacobiGDHyperparams(Hyperparams):
    """Jacobi-preconditioned GD's hyperparameters (defaults: the unit step, a fresh diagonal every step)."""

    ALGORITHM: ClassVar[str] = "jacobi_gd"
    lr: LearningRate = hp(1.0, LR, "step size eta of (JP4), or a schedule t -> eta_t")
    _: KW_ONLY
    damping: float = hp(
        1e-8, POSITIVE, "lambda of (JP3): the floor of |h_ii| or h_ii, or the shift (rule 'add')"
    )
    damping_rule: DampingRule = hp(
        "abs",
        OneOf(DAMPING_RULES),
        '(JP3): "abs" max(|h_ii|, lambda), "clip" max(h_ii, lambda), "add" |h_ii| + lambda',
    )
    refresh: int = hp(1, Integer(ge=1), "k of (JP2): recompute the diagonal at steps 1, 1 + k, 1 + 2k, ...")


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class JacobiGDState:
    """Jacobi-preconditioned GD's state after ``t`` steps."""

    params: Array  # theta_t
    precond: Array | None  # M_t of (JP3), the damped diagonal in use; None before the first step
    t: int  # completed steps


def init(params: Array) -> JacobiGDState:
    """theta_0 = params (a flat vector), no diagonal yet, t = 0."""
    return JacobiGDState(params=as_flat(params), precond=None, t=0)


def step(
    state: JacobiGDState,
    oracle: FunctionOracle,
    *,
    lr: LearningRate = 1.0,
    damping: float = 1e-8,
    damping_rule: DampingRule = "abs",
    refresh: int = 1,
) -> JacobiGDState:
    """One Jacobi-preconditioned step, eqs. (JP1)-(JP4) of specs/jacobi_gd.md."""
    if not isinstance(oracle, FunctionOracle):
        raise TypeError(f"jacobi_gd: step needs a FunctionOracle, got {type(oracle).__name__}")
    theta = state.params
    g = oracle.grad(theta)  # (JP1)
    if state.precond is None or state.t % refresh == 0:
        h = hessian_diagonal(oracle, theta)  # (JP2)
        m = damped_diagonal(h, damping=damping, damping_rule=damping_rule)  # (JP3)
    else:
        m = state.precond
    eta = lr_at(lr, state.t)
    theta_new = theta - eta * (g / m)  # (JP4)
    return JacobiGDState(params=theta_new, precond=m, t=state.t + 1)


def hessian_diagonal(oracle: FunctionOracle, x: Array) -> Array:
    """diag(grad^2 f(x)): entry i of the Hessian-vector product with the unit vector e_i (p products)."""
    p = anp.shape(x)[0]
    eye = np.eye(p)
    out: Array = anp.array([oracle.hvp(x, eye[i])[i] for i in range(p)])
    return out


def damped_diagonal(h: Array, *, damping: float, damping_rule: DampingRule) -> Array:
    """M of (JP3) from the raw diagonal ``h``: every entry >= ``damping`` > 0."""
    if damping_rule == "abs":
        out: Array = anp.maximum(anp.abs(h), damping)
    elif damping_rule == "clip":
        out = anp.maximum(h, damping)
    else:
        out = anp.abs(h) + damping
    return out


jacobi_gd = method(
    JacobiGDHyperparams,
    init,
    step,
    "Jacobi-preconditioned GD, M = diag(Hessian); step(state, oracle). See specs/jacobi_gd.md.",
)

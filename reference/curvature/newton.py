r"""Damped Newton's method with a line search. Spec: specs/newton.md, eqs. (N1)-(N4).

Input of each step: a ``FunctionOracle`` (reference/oracle.py) for f; the step asks it for
f and grad f at the iterate, the full Hessian (autograd) and the values (and, for the strong-Wolfe
search, gradients) of its line search.

    g_t = grad f(theta_{t-1}),  H_t = grad^2 f(theta_{t-1})                      (N1)
    (H_t + (mu + tau_t) I) d_t = -g_t,  tau_t = 0 if H_t + mu I is positive definite,
        else the first of tau0, 2 tau0, 4 tau0, ... that makes it so (Cholesky)  (N2)
    alpha_t: Armijo backtracking (default), strong Wolfe, or the fixed lr        (N3)
    theta_t = theta_{t-1} + alpha_t d_t                                           (N4)

With mu = 0 and alpha_t = 1, (N2)-(N4) is the pure Newton step theta - H^{-1} g of notes 003 and
004, which minimises a strictly convex quadratic in one step; near a minimiser with positive
definite Hessian the line search accepts alpha = 1 and convergence is quadratic.

Conventions:
    * tau0 = max(beta - min_i H_ii, beta) with beta = 1e-3 (N&W Alg. 3.3, "Cholesky with added
      multiple of the identity"): an indefinite Hessian still gives a descent direction.
    * A zero gradient, or a line search that finds no step, leaves theta unchanged and sets
      ``stalled``; later steps are then no-ops (the caller's loop may stop on it).
    * Differentiable by autograd (with respect to theta_0, mu and lr) for fixed decisions: which
      tau of the sequence makes the Cholesky succeed, which diagonal entry is the smallest, and
      the line search's tests are decided on unboxed values; tau = 2^k (beta - min_i H_ii) is
      then a smooth function of H, and the step of the branch taken is differentiated.

References:
    Nocedal, J. and Wright, S. J. (2006). Numerical Optimization, 2nd ed., section 3.3 (Newton
        with a line search), Alg. 3.3 (added multiple of the identity), Theorem 3.5.
    Note 003 ("Newton's Method and Approximations"), note 004 ("Newton's Method").
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from typing import ClassVar, Literal

import autograd.numpy as anp
import numpy as np
from autograd.tracer import getval

from .._core import method
from .._hyper import NONNEGATIVE, OPEN_UNIT, POSITIVE, Hyperparams, OneOf, hp
from .._types import Array
from ..oracle import FunctionOracle, as_flat
from .linesearch import armijo, strong_wolfe, wolfe_order

LineSearch = Literal["armijo", "wolfe", "none"]
LINE_SEARCHES: tuple[LineSearch, ...] = ("armijo", "wolfe", "none")


@dataclass(frozen=True, eq=False)
class NewtonHyperparams(Hyperparams):
    """Damped Newton's hyperparameters (defaults: the pure Newton step, Armijo backtracking)."""

    ALGORITHM: ClassVar[str] = "newton"
    _: KW_ONLY
    damping: float = hp(0.0, NONNEGATIVE, "mu of (N2), added to the Hessian's diagonal (Levenberg-style)")
    line_search: LineSearch = hp(
        "armijo",
        OneOf(LINE_SEARCHES),
        'alpha of (N3): "armijo" (backtracking), "wolfe" (strong Wolfe) or "none" (the fixed step lr)',
    )
    lr: float = hp(1.0, POSITIVE, "the line search's first trial step, or the fixed step of (N3)")
    c1: float = hp(1e-4, OPEN_UNIT, "sufficient-decrease constant of the line search, (LS2)")
    c2: float = hp(0.9, OPEN_UNIT, 'curvature constant of line_search="wolfe", (LS3); c1 < c2')
    shift_min: float = hp(1e-3, POSITIVE, "beta of (N2) (N&W Alg. 3.3), the smallest identity shift tried")

    def validate(self) -> None:
        wolfe_order(self.ALGORITHM, self.c1, self.c2)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class NewtonState:
    """Newton's state after ``t`` steps."""

    params: Array  # theta_t
    value: float | None  # f(theta_t), None until the first step has evaluated it
    grad: Array | None  # grad f(theta_t), None until the first step has evaluated it
    alpha: float  # the last accepted step length alpha_t (0.0 before the first step)
    shift: float  # the last added multiple tau_t of the identity
    stalled: bool  # zero gradient or failed line search: further steps are no-ops
    t: int  # completed steps


def init(params: Array) -> NewtonState:
    """theta_0 = params (a flat vector), t = 0."""
    return NewtonState(
        params=as_flat(params), value=None, grad=None, alpha=0.0, shift=0.0, stalled=False, t=0
    )


def _shifted_cholesky(h: Array, mu: float, beta: float) -> tuple[Array, float]:
    """Cholesky factor of h + (mu + tau) I with the smallest tau of N&W Alg. 3.3's sequence."""
    p = anp.shape(h)[0]
    a = h + mu * anp.eye(p)
    dmin = anp.min(anp.diag(a))
    tau = 0.0 if getval(dmin) > 0 else beta - dmin
    for _ in range(200):
        try:  # a LinAlgError is raised on the unboxed values, so tracing takes the same branch
            chol: Array = anp.linalg.cholesky(a + tau * anp.eye(p)).astype(np.float64)
            return chol, tau
        except np.linalg.LinAlgError:
            tau = beta if beta > getval(2.0 * tau) else 2.0 * tau  # max(2 tau, beta)
    raise ValueError("newton: could not make the Hessian positive definite (non-finite entries?)")


def step(
    state: NewtonState,
    oracle: FunctionOracle,
    *,
    damping: float = 0.0,
    line_search: LineSearch = "armijo",
    lr: float = 1.0,
    c1: float = 1e-4,
    c2: float = 0.9,
    shift_min: float = 1e-3,
) -> NewtonState:
    """One damped Newton step, eqs. (N1)-(N4) of specs/newton.md."""
    if not isinstance(oracle, FunctionOracle):
        raise TypeError(f"newton: step needs a FunctionOracle, got {type(oracle).__name__}")
    theta = state.params
    if state.stalled:
        return NewtonState(
            params=theta,
            value=state.value,
            grad=state.grad,
            alpha=0.0,
            shift=state.shift,
            stalled=True,
            t=state.t + 1,
        )
    if state.grad is None or state.value is None:
        f, g = oracle.value_and_grad(theta)  # (N1)
    else:
        f, g = state.value, state.grad
    if not np.any(getval(g)):
        return NewtonState(params=theta, value=f, grad=g, alpha=0.0, shift=0.0, stalled=True, t=state.t + 1)
    h = oracle.hessian(theta)  # (N1)
    chol, tau = _shifted_cholesky(h, damping, shift_min)
    d = -anp.linalg.solve(anp.transpose(chol), anp.linalg.solve(chol, g))  # (N2)
    if line_search == "none":
        alpha = lr  # (N3)
        theta_new = theta + alpha * d  # (N4)
        f_new, g_new = oracle.value_and_grad(theta_new)
    else:
        if line_search == "armijo":
            res = armijo(oracle, theta, d, f0=f, g0=g, alpha0=lr, c1=c1)  # (N3)
        else:
            res = strong_wolfe(oracle, theta, d, f0=f, g0=g, alpha0=lr, c1=c1, c2=c2)  # (N3)
        if not res.converged:
            return NewtonState(
                params=theta, value=f, grad=g, alpha=0.0, shift=tau, stalled=True, t=state.t + 1
            )
        alpha = res.alpha
        theta_new = theta + alpha * d  # (N4)
        f_new = res.value
        g_new = res.grad if res.grad is not None else oracle.grad(theta_new)
    return NewtonState(
        params=theta_new, value=f_new, grad=g_new, alpha=alpha, shift=tau, stalled=False, t=state.t + 1
    )


newton = method(
    NewtonHyperparams,
    init,
    step,
    "Damped Newton with a line search; step(state, oracle). See specs/newton.md.",
)

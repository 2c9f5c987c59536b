r"""Steepest descent with a line search: gradient descent whose step eta_t minimises f along -g_t.
Spec: specs/steepest_descent.md, eqs. (SD1)-(SD5).

Input of each step: a ``FunctionOracle`` (reference/oracle.py) for f; the step asks it for f and
grad f at the iterate and for the slopes (and curvatures) of its line search.

    g_t = grad f(theta_{t-1})                                                         (SD1)
    phi(eta) = f(theta_{t-1} - eta g_t),  phi'(eta) = -grad f(theta_{t-1} - eta g_t) . g_t   (SD2)
    bracket: a = 0, b = lr; while phi'(b) < 0: a, b = b, 2 b                            (SD3)
    eta_t = the root of phi' in [a, b] (safeguarded Newton on phi', phi'' = g^T H g by
        Hessian-vector products), or Armijo / strong Wolfe (linesearch.py), or lr        (SD4)
    theta_t = theta_{t-1} - eta_t g_t                                                   (SD5)

"exact" is note 004's eta_t = argmin_eta L(theta_t - eta grad L(theta_t)) ("Step Size Selection",
option 2) for a phi that is convex along the ray (a quadratic, any convex f): phi' is increasing,
so its root is the minimiser. For a non-convex phi it is a stationary point of phi in the first
bracket [a, b] where phi' changes sign, which is a local minimiser along the ray. On a quadratic
f = 1/2 x^T A x - b^T x, phi' is affine and one Newton step from a gives eta = g^T g / g^T A g.

Conventions:
    * stopping rule of "exact": |phi'(eta)| <= tol |phi'(0)| (tol = 1e-12 by default: consecutive
      gradients are then orthogonal to 1e-12 relative, g_{t+1}^T g_t = -phi'(eta_t)), or the
      bracket has shrunk to a few ulps of eta, or ``max_iter`` iterations.
    * A zero gradient, a ray along which phi' < 0 up to lr 2^60 (f unbounded below along -g), or a
      failed Armijo/Wolfe search leaves theta unchanged and sets ``stalled``.
    * Not differentiable through the "exact" search (its iterations decide on values); the fixed
      step ("none") is.

References:
    Cauchy, A. (1847). Methode generale pour la resolution des systemes d'equations simultanees.
    Nocedal, J. and Wright, S. J. (2006). Numerical Optimization, 2nd ed., section 3.3 (steepest
        descent with exact line searches on quadratics: Theorem 3.3, the Kantorovich rate).
    Note 004, "Step Size Selection" (option 2: line search).
"""

from __future__ import annotations

import math
from dataclasses import KW_ONLY, dataclass
from typing import ClassVar, Literal

import numpy as np

from .._core import method
from .._hyper import OPEN_UNIT, POSITIVE, Hyperparams, Integer, OneOf, hp
from .._types import Array
from ..curvature.linesearch import armijo, strong_wolfe, wolfe_order
from ..oracle import FunctionOracle, as_flat

LineSearch = Literal["exact", "armijo", "wolfe", "none"]
LINE_SEARCHES: tuple[LineSearch, ...] = ("exact", "armijo", "wolfe", "none")
_MAX_DOUBLINGS = 60


@dataclass(frozen=True, eq=False)
class SteepestDescentHyperparams(Hyperparams):
    """Steepest descent's hyperparameters (default: the exact line search of note 004)."""

    ALGORITHM: ClassVar[str] = "steepest_descent"
    _: KW_ONLY
    line_search: LineSearch = hp(
        "exact",
        OneOf(LINE_SEARCHES),
        'eta of (SD4): "exact" (argmin along the ray), "armijo", "wolfe" (strong Wolfe) or "none" (lr)',
    )
    lr: float = hp(1.0, POSITIVE, "the first bracket end b of (SD3), the first trial step, or the fixed step")
    tol: float = hp(1e-12, OPEN_UNIT, "stopping rule of \"exact\": |phi'(eta)| <= tol |phi'(0)|")
    max_iter: int = hp(100, Integer(ge=1), 'iterations of the "exact" root search (SD4)')
    c1: float = hp(1e-4, OPEN_UNIT, "sufficient-decrease constant of Armijo / Wolfe, (LS2)")
    c2: float = hp(0.9, OPEN_UNIT, 'curvature constant of line_search="wolfe", (LS3); c1 < c2')

    def validate(self) -> None:
        wolfe_order(self.ALGORITHM, self.c1, self.c2)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class SteepestDescentState:
    """Steepest descent's state after ``t`` steps."""

    params: Array  # theta_t
    value: float | None  # f(theta_t), None until the first step has evaluated it
    grad: Array | None  # grad f(theta_t), None until the first step has evaluated it
    eta: float  # the last step eta_t (0.0 before the first step or after a stall)
    stalled: bool  # zero gradient, unbounded ray or failed search: further steps are no-ops
    t: int  # completed steps


def init(params: Array) -> SteepestDescentState:
    """theta_0 = params (a flat vector), t = 0."""
    return SteepestDescentState(params=as_flat(params), value=None, grad=None, eta=0.0, stalled=False, t=0)


def step(
    state: SteepestDescentState,
    oracle: FunctionOracle,
    *,
    line_search: LineSearch = "exact",
    lr: float = 1.0,
    tol: float = 1e-12,
    max_iter: int = 100,
    c1: float = 1e-4,
    c2: float = 0.9,
) -> SteepestDescentState:
    """One steepest-descent step, eqs. (SD1)-(SD5) of specs/steepest_descent.md."""
    if not isinstance(oracle, FunctionOracle):
        raise TypeError(f"steepest_descent: step needs a FunctionOracle, got {type(oracle).__name__}")
    theta = state.params

    def stalled(f: float | None, g: Array | None) -> SteepestDescentState:
        return SteepestDescentState(params=theta, value=f, grad=g, eta=0.0, stalled=True, t=state.t + 1)

    if state.stalled:
        return stalled(state.value, state.grad)
    if state.grad is None or state.value is None:
        f, g = oracle.value_and_grad(theta)  # (SD1)
    else:
        f, g = state.value, state.grad
    if not np.any(g):
        return stalled(f, g)
    d = -g  # (SD2): phi(eta) = f(theta - eta g), searched along d = -g
    if line_search == "exact":
        eta = exact_step(oracle, theta, g, lr=lr, tol=tol, max_iter=max_iter)  # (SD3)-(SD4)
        if eta is None:
            return stalled(f, g)
    elif line_search == "none":
        eta = lr  # (SD4)
    else:
        if line_search == "armijo":
            res = armijo(oracle, theta, d, f0=f, g0=g, alpha0=lr, c1=c1)  # (SD4)
        else:
            res = strong_wolfe(oracle, theta, d, f0=f, g0=g, alpha0=lr, c1=c1, c2=c2)  # (SD4)
        if not res.converged:
            return stalled(f, g)
        eta = res.alpha
    theta_new = theta - eta * g  # (SD5)
    f_new, g_new = oracle.value_and_grad(theta_new)
    return SteepestDescentState(
        params=theta_new, value=f_new, grad=g_new, eta=eta, stalled=False, t=state.t + 1
    )


def exact_step(
    oracle: FunctionOracle, theta: Array, g: Array, *, lr: float, tol: float, max_iter: int
) -> float | None:
    """eta of (SD3)-(SD4) "exact": the root of phi'(eta) = -grad f(theta - eta g) . g, or None when
    phi' < 0 up to lr 2^60 (f decreases without bound along -g, as far as the search looks)."""

    def slope(eta: float) -> float:
        return -float(np.dot(oracle.grad(theta - eta * g), g))  # (SD2)

    def curvature(eta: float) -> float:
        return float(np.dot(g, oracle.hvp(theta - eta * g, g)))  # phi''(eta) = g^T H g

    d0 = slope(0.0)  # = -||g||^2 < 0
    a, b = 0.0, lr
    for _ in range(_MAX_DOUBLINGS):  # (SD3)
        if slope(b) >= 0.0:
            break
        a, b = b, 2.0 * b
    else:
        return None
    eta, d_eta = a, slope(a)
    for _ in range(max_iter):  # (SD4): Newton on phi' from the left end, bisection as a safeguard
        if abs(d_eta) <= tol * abs(d0) or b - a <= 4.0 * math.ulp(b):
            break
        h = curvature(eta)
        trial = eta - d_eta / h if h > 0.0 else math.nan
        eta = trial if a < trial < b else 0.5 * (a + b)
        d_eta = slope(eta)
        if d_eta < 0.0:
            a = eta
        else:
            b = eta
    return eta


steepest_descent = method(
    SteepestDescentHyperparams,
    init,
    step,
    "Steepest descent with an exact (or Armijo / Wolfe) line search; step(state, oracle). See specs/steepest_descent.md.",
)

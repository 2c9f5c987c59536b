r"""BFGS quasi-Newton method (N&W Alg. 6.1). Spec: specs/bfgs.md, eqs. (B1)-(B5).

Input of each step: a ``FunctionOracle`` (reference/oracle.py) for f; the step asks it for f and
grad f at the iterate (first step only; later they come from the line search) and at the line
search's trial points. H is the inverse-Hessian approximation, H_0 = I.

    d_t     = -H_{t-1} g_{t-1}                                                   (B1)
    alpha_t : strong Wolfe line search along d_t, first trial alpha0             (B2)
    s_t     = alpha_t d_t,  theta_t = theta_{t-1} + s_t                          (B3)
    y_t     = g_t - g_{t-1}                                                      (B4)
    H_t     = (I - rho s y^T) H_{t-1} (I - rho y s^T) + rho s s^T,  rho = 1/(y^T s)   (B5)
            = H_{t-1} - rho (s u^T + u s^T) + (rho^2 y^T u + rho) s s^T,  u = H_{t-1} y   (the form computed)

The strong Wolfe conditions imply y^T s >= (c2 - 1) alpha g^T d > 0, so H stays positive definite
and every direction is a descent direction. A pair with y^T s <= 0 (possible only when the line
search fails) is skipped. With ``scale_first=True``, H_0 = (y^T s / y^T y) I is set just before
the first update (N&W eq. 6.20).

Conventions:
    * ``initial_step="unit"``: alpha0 = 1 (N&W p. 142). ``"interpolate"``: alpha0 = min(1, 1.01 *
      2 (f_{t-1} - f_{t-2}) / (g^T d)) (N&W eq. 3.60 with their 1.01 factor), and before the first
      step f_{-1} = f_0 + ||g_0|| / 2, scipy's choice (a first step of length about 1); a
      non-positive value falls back to 1. This is what scipy.optimize.minimize(method="BFGS")
      feeds its line search.
    * A zero gradient or a failed line search sets ``stalled`` and leaves theta unchanged.
    * Differentiable by autograd (with respect to theta_0) for fixed decisions: the line search's
      tests, the sign of y^T s and the clipping of alpha0 are decided on unboxed values; alpha,
      s, y and H of the branch taken are smooth functions of theta_0 and are differentiated.

References:
    Nocedal, J. and Wright, S. J. (2006). Numerical Optimization, 2nd ed., Alg. 6.1, eqs. 6.17,
        6.20; section 3.5 (initial step, eq. 3.60).
    Broyden, Fletcher, Goldfarb, Shanno (1970).
    Note 003 ("Quasi-Newton Methods (BFGS, L-BFGS)"), note 004 ("Quasi-Newton Methods (BFGS)").
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass, replace
from typing import ClassVar, Literal

import autograd.numpy as anp
import numpy as np
from autograd.tracer import getval

from .._core import method
from .._hyper import FLAG, OPEN_UNIT, Hyperparams, OneOf, hp
from .._types import Array
from ..oracle import FunctionOracle, as_flat
from .linesearch import strong_wolfe, wolfe_order

InitialStep = Literal["unit", "interpolate"]
INITIAL_STEPS: tuple[InitialStep, ...] = ("unit", "interpolate")


@dataclass(frozen=True, eq=False)
class BFGSHyperparams(Hyperparams):
    """BFGS's hyperparameters (defaults: N&W Alg. 6.1 with H_0 = I and the unit first trial)."""

    ALGORITHM: ClassVar[str] = "bfgs"
    _: KW_ONLY
    c1: float = hp(1e-4, OPEN_UNIT, "sufficient-decrease constant of the strong-Wolfe search (B2), (LS2)")
    c2: float = hp(0.9, OPEN_UNIT, "curvature constant of the strong-Wolfe search (B2), (LS3); c1 < c2")
    initial_step: InitialStep = hp(
        "unit",
        OneOf(INITIAL_STEPS),
        'first trial alpha0 of (B2): "unit" (1) or "interpolate" (N&W eq. 3.60, scipy\'s)',
    )
    scale_first: bool = hp(False, FLAG, "H_0 = (y^T s / y^T y) I just before the first update (N&W eq. 6.20)")

    def validate(self) -> None:
        wolfe_order(self.ALGORITHM, self.c1, self.c2)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class BFGSState:
    """BFGS's state after ``t`` steps."""

    params: Array  # theta_t
    value: float | None  # f(theta_t) (None before the first step)
    grad: Array | None  # g_t = grad f(theta_t) (None before the first step)
    hinv: Array | None  # H_t, the inverse-Hessian approximation (None: the identity, H_0)
    s: Array | None  # the last curvature pair s_t (None before the first step)
    y: Array | None  # and y_t
    prev_value: float | None  # f(theta_{t-1}) for initial_step="interpolate"
    alpha: float  # the last accepted step alpha_t
    stalled: bool  # zero gradient or failed line search: further steps are no-ops
    t: int  # completed steps


def init(params: Array) -> BFGSState:
    """theta_0 = params (a flat vector), H_0 = I, t = 0."""
    return BFGSState(
        params=as_flat(params),
        value=None,
        grad=None,
        hinv=None,
        s=None,
        y=None,
        prev_value=None,
        alpha=0.0,
        stalled=False,
        t=0,
    )


def initial_trial(method: InitialStep, f: float, f_prev: float | None, g: Array, d: Array) -> float:
    """alpha0 of the line search (see the module docstring)."""
    if method == "unit":
        return 1.0
    if f_prev is None:
        f_prev = f + anp.sqrt(anp.dot(g, g)) / 2.0  # f + ||g|| / 2
    slope = anp.dot(g, d)
    if getval(slope) == 0:
        return 1.0
    a0: float = 1.01 * 2.0 * (f - f_prev) / slope
    return a0 if 0 < getval(a0) < 1.0 else 1.0  # min(1, a0), and 1 for a0 <= 0


def step(
    state: BFGSState,
    oracle: FunctionOracle,
    *,
    c1: float = 1e-4,
    c2: float = 0.9,
    initial_step: InitialStep = "unit",
    scale_first: bool = False,
) -> BFGSState:
    """One BFGS step, eqs. (B1)-(B5) of specs/bfgs.md."""
    if not isinstance(oracle, FunctionOracle):
        raise TypeError(f"bfgs: step needs a FunctionOracle, got {type(oracle).__name__}")
    theta = state.params
    f, g = (state.value, state.grad)
    if f is None or g is None:
        f, g = oracle.value_and_grad(theta)
    if state.stalled or not np.any(getval(g)):
        return replace(state, value=f, grad=g, alpha=0.0, stalled=True, t=state.t + 1)
    p = anp.shape(theta)[0]
    hinv = np.eye(p) if state.hinv is None else state.hinv
    d = -anp.dot(hinv, g)  # (B1)
    alpha0 = initial_trial(initial_step, f, state.prev_value, g, d)
    res = strong_wolfe(oracle, theta, d, f0=f, g0=g, alpha0=alpha0, c1=c1, c2=c2)  # (B2)
    if not res.converged or res.grad is None:
        return replace(state, value=f, grad=g, hinv=hinv, alpha=0.0, stalled=True, t=state.t + 1)
    s = res.alpha * d  # (B3)
    theta_new = theta + s
    y = res.grad - g  # (B4)
    ys = anp.dot(y, s)
    if getval(ys) > 0:
        if scale_first and state.hinv is None:
            hinv = (ys / anp.dot(y, y)) * np.eye(p)
        rho = 1.0 / ys
        u = anp.dot(hinv, y)  # H_{t-1} y_t: (B5) multiplied out, O(p^2) instead of two p x p products
        hinv = (
            hinv
            - rho * (anp.outer(s, u) + anp.outer(u, s))
            + (rho * rho * anp.dot(y, u) + rho) * anp.outer(s, s)
        )  # (B5)
    return BFGSState(
        params=theta_new,
        value=res.value,
        grad=res.grad,
        hinv=hinv,
        s=s,
        y=y,
        prev_value=f,
        alpha=res.alpha,
        stalled=False,
        t=state.t + 1,
    )


bfgs = method(
    BFGSHyperparams,
    init,
    step,
    "BFGS with a strong-Wolfe line search; step(state, oracle). See specs/bfgs.md.",
)

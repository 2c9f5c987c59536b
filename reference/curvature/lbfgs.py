r"""Limited-memory BFGS, two-loop recursion (N&W Alg. 7.4, 7.5). Spec: specs/lbfgs.md, (LB1)-(LB6).

Input of each step: a ``FunctionOracle`` (reference/oracle.py), as for ``bfgs``. The state keeps
the last m curvature pairs (s_i, y_i), rho_i = 1/(y_i^T s_i), oldest first.

    q = g;  for i = newest .. oldest:  a_i = rho_i s_i^T q,  q = q - a_i y_i        (LB1)
    r = gamma q,  gamma = s^T y / y^T y of the newest pair (1 with no pair
        or scaling="identity")                                                        (LB2)
    for i = oldest .. newest:  b = rho_i y_i^T r,  r = r + (a_i - b) s_i              (LB3)
    d_t = -r   (= -H_t g, H_t the BFGS update of gamma I by the stored pairs)         (LB4)
    alpha_t by strong Wolfe;  s_t = alpha_t d_t,  theta_t = theta_{t-1} + s_t         (LB5)
    y_t = g_t - g_{t-1};  keep (s_t, y_t) if y_t^T s_t > 0, dropping the oldest
        beyond m                                                                      (LB6)

With m >= the number of steps and scaling="identity" the direction is exactly BFGS's with H_0 = I
(tests/test_lbfgs.py checks the iterates agree).

Conventions:
    * m = 10 (N&W: 3 to 20; optax memory_size=10, scipy maxcor=10; torch history_size=100).
    * gamma scaling (N&W eq. 7.20) is the default, as in torch, optax and scipy's L-BFGS-B.
    * ``initial_step`` as in ``bfgs``.
    * Differentiable by autograd (with respect to theta_0) for fixed decisions (the line search's
      tests, which pairs are kept), as ``bfgs``.

References:
    Nocedal, J. (1980). Updating quasi-Newton matrices with limited storage. Math. Comp. 35.
    Liu, D. C. and Nocedal, J. (1989). On the limited memory BFGS method. Math. Prog. 45.
    Nocedal and Wright (2006), Alg. 7.4 and 7.5, eq. 7.20.
    Note 003 ("L-BFGS"), note 004 ("L-BFGS: Limited memory version").
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass, replace
from typing import ClassVar, Literal

import autograd.numpy as anp
import numpy as np
from autograd.tracer import getval

from .._core import method
from .._hyper import OPEN_UNIT, Hyperparams, Integer, OneOf, hp
from .._types import Array
from ..oracle import FunctionOracle, as_flat
from .bfgs import INITIAL_STEPS, InitialStep, initial_trial
from .linesearch import optax_zoom, strong_wolfe, wolfe_order

Scaling = Literal["gamma", "identity"]
SCALINGS: tuple[Scaling, ...] = ("gamma", "identity")
LineSearch = Literal["strong_wolfe", "optax_zoom"]
FirstScaling = Literal["one", "inverse_norm"]
StorePairs = Literal["positive", "always"]


@dataclass(frozen=True, eq=False)
class LBFGSHyperparams(Hyperparams):
    """L-BFGS's hyperparameters (defaults: N&W Alg. 7.5 with m = 10 and gamma scaling)."""

    ALGORITHM: ClassVar[str] = "lbfgs"
    _: KW_ONLY
    m: int = hp(10, Integer(ge=1), "number of curvature pairs kept, (LB6)")
    c1: float = hp(1e-4, OPEN_UNIT, "sufficient-decrease constant of the strong-Wolfe search (LB5), (LS2)")
    c2: float = hp(0.9, OPEN_UNIT, "curvature constant of the strong-Wolfe search (LB5), (LS3); c1 < c2")
    scaling: Scaling = hp(
        "gamma", OneOf(SCALINGS), 'H_0 of (LB2): "gamma" (s^T y / y^T y) I, N&W eq. 7.20, or "identity"'
    )
    initial_step: InitialStep = hp(
        "unit",
        OneOf(INITIAL_STEPS),
        'first trial of the search: "unit" (1) or "interpolate" (N&W eq. 3.60), as in bfgs',
    )
    line_search: LineSearch = hp(
        "strong_wolfe",
        OneOf(("strong_wolfe", "optax_zoom")),
        'search of (LB5): "strong_wolfe" (N&W Alg. 3.5-3.6) or "optax_zoom" (optax\'s zoom, always moves)',
    )
    first_scaling: FirstScaling = hp(
        "one", OneOf(("one", "inverse_norm")), "gamma with no pair, (LB2): 1 or min(1, 1/||g||_2) (optax)"
    )
    store_pairs: StorePairs = hp(
        "positive", OneOf(("positive", "always")), "(LB6): keep a pair if y^T s > 0, or always (optax)"
    )

    def validate(self) -> None:
        wolfe_order(self.ALGORITHM, self.c1, self.c2)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class LBFGSState:
    """L-BFGS's state after ``t`` steps: at most m curvature pairs, oldest first."""

    params: Array  # theta_t
    value: float | None  # f(theta_t) (None before the first step)
    grad: Array | None  # g_t (None before the first step)
    s_hist: tuple[Array, ...]  # s_i, oldest first
    y_hist: tuple[Array, ...]  # y_i, oldest first
    prev_value: float | None  # f(theta_{t-1}) for initial_step="interpolate"
    alpha: float  # the last accepted step
    stalled: bool  # zero gradient or failed line search: further steps are no-ops
    t: int  # completed steps


def init(params: Array) -> LBFGSState:
    """theta_0 = params (a flat vector), no pairs, t = 0."""
    return LBFGSState(
        params=as_flat(params),
        value=None,
        grad=None,
        s_hist=(),
        y_hist=(),
        prev_value=None,
        alpha=0.0,
        stalled=False,
        t=0,
    )


def two_loop(
    g: Array,
    s_hist: tuple[Array, ...],
    y_hist: tuple[Array, ...],
    scaling: Scaling = "gamma",
    gamma0: float = 1.0,
) -> Array:
    """H g for the L-BFGS matrix H of the stored pairs (oldest first), N&W Alg. 7.4.

    ``gamma0`` is gamma with no pair. A pair with y^T s = 0 (only ``store_pairs="always"`` keeps
    one) has rho = 0, and gamma = 1 if y = 0 (optax's guards)."""
    rhos = [_inverse(anp.dot(y, s)) for s, y in zip(s_hist, y_hist)]
    q = g
    alphas: list[float] = []
    for s, y, rho in zip(reversed(s_hist), reversed(y_hist), reversed(rhos)):
        a = rho * anp.dot(s, q)  # (LB1)
        q = q - a * y
        alphas.append(a)
    gamma = gamma0 if scaling == "gamma" else 1.0
    if scaling == "gamma" and s_hist:
        yy = anp.dot(y_hist[-1], y_hist[-1])
        gamma = anp.dot(s_hist[-1], y_hist[-1]) / yy if getval(yy) != 0.0 else 1.0
    r = gamma * q  # (LB2)
    for s, y, rho, a in zip(s_hist, y_hist, rhos, reversed(alphas)):
        b = rho * anp.dot(y, r)  # (LB3)
        r = r + (a - b) * s
    return r


def _inverse(x: float) -> float:
    """1 / x, and 0 for x = 0 (optax's weight of a pair with y^T s = 0)."""
    return 1.0 / x if getval(x) != 0.0 else 0.0


def step(
    state: LBFGSState,
    oracle: FunctionOracle,
    *,
    m: int = 10,
    c1: float = 1e-4,
    c2: float = 0.9,
    scaling: Scaling = "gamma",
    initial_step: InitialStep = "unit",
    line_search: LineSearch = "strong_wolfe",
    first_scaling: FirstScaling = "one",
    store_pairs: StorePairs = "positive",
) -> LBFGSState:
    """One L-BFGS step, eqs. (LB1)-(LB6) of specs/lbfgs.md."""
    if not isinstance(oracle, FunctionOracle):
        raise TypeError(f"lbfgs: step needs a FunctionOracle, got {type(oracle).__name__}")
    theta = state.params
    f, g = state.value, state.grad
    if f is None or g is None:
        f, g = oracle.value_and_grad(theta)
    if state.stalled or not np.any(getval(g)):
        return replace(state, value=f, grad=g, alpha=0.0, stalled=True, t=state.t + 1)
    gamma0 = 1.0
    if first_scaling == "inverse_norm" and not state.s_hist:
        gamma0 = anp.minimum(1.0, 1.0 / anp.sqrt(anp.dot(g, g)))
    d = -two_loop(g, state.s_hist, state.y_hist, scaling, gamma0)  # (LB4)
    alpha0 = initial_trial(initial_step, f, state.prev_value, g, d)
    if line_search == "optax_zoom":
        res = optax_zoom(oracle, theta, d, f0=f, g0=g, alpha0=alpha0, c1=c1, c2=c2)
    else:
        res = strong_wolfe(oracle, theta, d, f0=f, g0=g, alpha0=alpha0, c1=c1, c2=c2)
        if not res.converged or res.grad is None:
            return replace(state, value=f, grad=g, alpha=0.0, stalled=True, t=state.t + 1)
    new = theta + res.alpha * d  # (LB5)
    s = res.alpha * d if line_search == "strong_wolfe" else new - theta
    y = (g if res.grad is None else res.grad) - g  # (LB6)
    s_hist, y_hist = state.s_hist, state.y_hist
    if store_pairs == "always" or getval(anp.dot(y, s)) > 0:
        s_hist, y_hist = (s_hist + (s,))[-m:], (y_hist + (y,))[-m:]
    return LBFGSState(
        params=new,
        value=res.value,
        grad=res.grad,
        s_hist=s_hist,
        y_hist=y_hist,
        prev_value=f,
        alpha=res.alpha,
        stalled=False,
        t=state.t + 1,
    )


lbfgs = method(
    LBFGSHyperparams,
    init,
    step,
    "L-BFGS with a strong-Wolfe line search; step(state, oracle). See specs/lbfgs.md.",
)

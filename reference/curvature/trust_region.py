r"""Trust-region Newton with the Steihaug-CG subproblem solver. Spec: specs/trust_region.md, (TR1)-(TR6).

Input of each step: a ``FunctionOracle`` (reference/oracle.py); the step asks it for f and grad f
at the iterate and the proposal, and for Hessian-vector products B v = grad^2 f(theta) v
(autograd), never the Hessian itself.

    m(p) = f + g^T p + 1/2 p^T B p,  B = grad^2 f(theta_{t-1})                       (TR1)
    Steihaug-CG on B p = -g from z = 0, r = g, d = -g (N&W Alg. 7.2): if d^T B d <= 0,
        return the boundary point z + tau d (||.|| = Delta) with the lower m           (TR2)
    alpha = r^T r / d^T B d, z+ = z + alpha d; if ||z+|| >= Delta return z + tau d,
        tau >= 0, ||z + tau d|| = Delta; r+ = r + alpha B d; stop if ||r+|| < eps_t =
        min(1/2, sqrt||g||) ||g||; d = -r+ + (r+^T r+ / r^T r) d                      (TR3)
    rho_t = (f(theta_{t-1}) - f(theta_{t-1} + p)) / (m(0) - m(p))                    (TR4)
    Delta_t = Delta/4 if rho_t < 1/4; min(2 Delta, Delta_max) if rho_t > 3/4 and
        ||p|| = Delta; else Delta                                                      (TR5)
    theta_t = theta_{t-1} + p if rho_t > eta, else theta_{t-1}                       (TR6)

Conventions:
    * Delta_0 = 1, Delta_max = 1000, eta = 0.15: scipy.optimize.minimize(method="trust-ncg")'s
      defaults (N&W Alg. 4.1 leaves them free, eta in [0, 1/4)); with them the iterates are
      scipy's to rounding (tests/test_trust_region.py).
    * The forcing term eps_t = min(1/2, sqrt||g||)||g|| (N&W eq. 7.3 with superlinear rate) is
      scipy's too.
    * A zero gradient or a non-positive predicted reduction sets ``stalled`` (scipy stops there).
    * Differentiable by autograd (with respect to theta_0 and Delta_0) for fixed decisions: the
      CG stopping tests, the boundary and negative-curvature exits, the acceptance (TR6) and the
      radius update (TR5) are decided on unboxed values (``getval``); the step p of the branch
      taken (a CG iterate, or a boundary point whose tau solves ||z + tau d|| = Delta) and the
      radius are smooth functions of theta_0 and Delta_0 and are differentiated.

References:
    Nocedal, J. and Wright, S. J. (2006). Numerical Optimization, 2nd ed., Alg. 4.1 (trust region),
        Alg. 7.2 (CG-Steihaug), eq. 7.3.
    Steihaug, T. (1983). The conjugate gradient method and trust regions in large scale
        optimization. SIAM J. Numer. Anal. 20.
"""

from __future__ import annotations

import math
from dataclasses import KW_ONLY, dataclass, replace
from typing import ClassVar

import autograd.numpy as anp
import numpy as np
from autograd.tracer import getval

from .._core import method
from .._hyper import POSITIVE, Hyperparams, Real, hp
from .._types import Array
from ..oracle import FunctionOracle, as_flat


@dataclass(frozen=True, eq=False)
class TrustRegionHyperparams(Hyperparams):
    """The trust-region method's hyperparameters (defaults: scipy's ``trust-ncg``)."""

    ALGORITHM: ClassVar[str] = "trust_region"
    _: KW_ONLY
    radius: float = hp(1.0, POSITIVE, "Delta_0, the initial trust radius of (TR2)-(TR3); <= max_radius")
    max_radius: float = hp(1000.0, POSITIVE, "Delta_max, the cap of the radius update (TR5)")
    eta: float = hp(0.15, Real(ge=0.0, lt=0.25), "acceptance threshold of (TR6): theta moves if rho_t > eta")

    def validate(self) -> None:
        if not getval(self.radius) <= getval(self.max_radius):
            raise ValueError(
                f"{self.ALGORITHM}: radius must be <= max_radius, "
                f"got radius={self.radius!r} > max_radius={self.max_radius!r}"
            )


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class TrustRegionState:
    """The trust-region method's state after ``t`` steps."""

    params: Array  # theta_t
    value: float | None  # f(theta_t) (None before the first step)
    grad: Array | None  # grad f(theta_t) (None before the first step)
    radius: float  # Delta_t
    rho: float  # the last ratio of actual to predicted reduction (nan before the first step)
    cg_iters: int  # CG iterations of the last subproblem
    stalled: bool  # zero gradient or no predicted decrease: further steps are no-ops
    t: int  # completed steps


def init(params: Array, *, radius: float = 1.0) -> TrustRegionState:
    """theta_0 = params (a flat vector), Delta_0 = radius, t = 0."""
    return TrustRegionState(
        params=as_flat(params),
        value=None,
        grad=None,
        radius=radius,
        rho=math.nan,
        cg_iters=0,
        stalled=False,
        t=0,
    )


def _to_boundary(z: Array, d: Array, radius: float) -> tuple[float, float]:
    """The two roots tau_a <= tau_b of ||z + tau d|| = radius."""
    a, b, c = anp.dot(d, d), 2.0 * anp.dot(z, d), anp.dot(z, z) - radius * radius
    sq = anp.sqrt(b * b - 4.0 * a * c)
    aux = b + math.copysign(1.0, getval(b)) * sq  # the stable form of the quadratic formula
    ta, tb = -aux / (2.0 * a), -2.0 * c / aux
    return (ta, tb) if getval(ta) <= getval(tb) else (tb, ta)


def steihaug_cg(
    oracle: FunctionOracle, theta: Array, g: Array, f: float, radius: float, max_iter: int | None = None
) -> tuple[Array, bool, int]:
    """Approximate minimiser p of (TR1) with ||p|| <= radius; (p, hits_boundary, iterations)."""

    def model(p: Array) -> float:
        m: float = f + anp.dot(g, p) + 0.5 * anp.dot(p, oracle.hvp(theta, p))  # (TR1)
        return m

    gnorm = float(np.linalg.norm(getval(g)))
    tol = min(0.5, math.sqrt(gnorm)) * gnorm  # a stopping threshold: a decision, not traced
    z, r, d = anp.zeros(anp.shape(g)), g, -g
    limit = max_iter if max_iter is not None else 10 * anp.size(g) + 10
    for it in range(1, limit + 1):
        bd = oracle.hvp(theta, d)
        dbd = anp.dot(d, bd)
        if getval(dbd) <= 0:  # negative curvature: go to the boundary along d
            ta, tb = _to_boundary(z, d, radius)
            pa, pb = z + ta * d, z + tb * d
            return (pa if getval(model(pa)) < getval(model(pb)) else pb), True, it  # (TR2)
        rr = anp.dot(r, r)
        alpha = rr / dbd
        z_next = z + alpha * d  # (TR3)
        if float(np.linalg.norm(getval(z_next))) >= getval(radius):
            _, tb = _to_boundary(z, d, radius)
            return z + tb * d, True, it
        r_next = r + alpha * bd
        rr_next = anp.dot(r_next, r_next)
        if math.sqrt(getval(rr_next)) < tol:
            return z_next, False, it
        d = -r_next + (rr_next / rr) * d
        z, r = z_next, r_next
    return z, False, limit


def step(
    state: TrustRegionState,
    oracle: FunctionOracle,
    *,
    max_radius: float = 1000.0,
    eta: float = 0.15,
) -> TrustRegionState:
    """One trust-region step, eqs. (TR1)-(TR6) of specs/trust_region.md."""
    if not isinstance(oracle, FunctionOracle):
        raise TypeError(f"trust_region: step needs a FunctionOracle, got {type(oracle).__name__}")
    theta, radius = state.params, state.radius
    f, g = state.value, state.grad
    if f is None or g is None:
        f, g = oracle.value_and_grad(theta)
    if state.stalled or not np.any(getval(g)):
        return replace(state, value=f, grad=g, radius=radius, cg_iters=0, stalled=True, t=state.t + 1)
    p, boundary, iters = steihaug_cg(oracle, theta, g, f, radius)
    predicted = -(anp.dot(g, p) + 0.5 * anp.dot(p, oracle.hvp(theta, p)))  # m(0) - m(p)
    if not getval(predicted) > 0:
        return replace(
            state, value=f, grad=g, radius=radius, rho=math.nan, cg_iters=iters, stalled=True, t=state.t + 1
        )
    f_new, g_new = oracle.value_and_grad(theta + p)
    rho = (f - f_new) / predicted  # (TR4)
    if getval(rho) < 0.25:
        radius = 0.25 * radius  # (TR5)
    elif getval(rho) > 0.75 and boundary:
        radius = max_radius if max_radius < getval(2.0 * radius) else 2.0 * radius  # min(2 Delta, Delta_max)
    if getval(rho) > eta:
        theta, f, g = theta + p, f_new, g_new  # (TR6)
    return TrustRegionState(
        params=theta, value=f, grad=g, radius=radius, rho=rho, cg_iters=iters, stalled=False, t=state.t + 1
    )


trust_region = method(
    TrustRegionHyperparams,
    init,
    step,
    "Trust-region Newton-CG (Steihaug); step(state, oracle). See specs/trust_region.md.",
)

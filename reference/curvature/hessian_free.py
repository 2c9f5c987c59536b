r"""Hessian-free optimization (Martens 2010): truncated CG on matrix-free damped Gauss-Newton
products, with the Levenberg-Marquardt damping heuristic. Spec: specs/hessian_free.md,
eqs. (HF1)-(HF5).

    g = grad L(theta),  B v = G v + lambda v,  G v = s J^T (H (J v)) + l2 v   (never forming G)   (HF1)
    delta = CG on B delta = -g from delta_0 = zeta delta_prev, stopped at the first of: max_cg
            iterations; ||r_i|| <= cg_tol ||g||; Martens' progress test  i > k, phi_i < 0 and
            (phi_i - phi_{i-k}) / phi_i < k eps_cg,  k = max(10, 0.1 i),
            phi(delta) = (1/2) delta^T B delta + g^T delta                                         (HF2)
    rho = (L(theta) - L(theta + delta)) / (-(g^T delta + (1/2) delta^T G delta))
          (rho = 0 when the denominator is <= 0: the model predicts no decrease)                 (HF3)
    theta_t = theta + delta if rho > 0, else theta                                              (HF4)
    lambda <- min((3/2) lambda, max_damping) if rho < 1/4;
    lambda <- max((2/3) lambda, min_damping) if rho > 3/4                                        (HF5)
    delta_prev <- delta, accepted or not (the next CG run starts from zeta delta)               (HF6)

Each G v costs one forward-mode JVP through the model, n small m x m products and one reverse
VJP (reference/curvature/model_oracle.py ``gn_vector_product``); the output Hessians H_i are computed once
per step. Input of ``step``: the problem (``OutputModel``).

Conventions (simplifications of Martens 2010, stated):
    * no CG-iterate backtracking and no line search: the last CG iterate is the trial step and is
      accepted when it decreases L (rho > 0), as in Levenberg-Marquardt;
    * the full data set gives both gradient and curvature (Martens uses minibatches for G);
    * rho uses the undamped GN model, as Martens' reduction ratio does.
    * The warm start is the last CG solution whether or not its step was accepted (Martens'
      Algorithm 1 keeps the previous solution; his method never rejects). After a rejection theta
      is unchanged and only lambda grew by 3/2, so the rejected delta nearly solves the new system:
      for an exact solve, phi_new(zeta delta) = (zeta^2/2 - zeta) delta^T B delta
      + (zeta^2/4) lambda ||delta||^2 < 0 = phi_new(0) (as delta^T B delta >= lambda ||delta||^2).
    * lambda is kept in [min_damping, max_damping]: at a minimum reached to rounding every step is
      rejected (rho = 0) and (3/2)^k would overflow after ~1750 steps.
    * Differentiable by autograd (with respect to theta_0 and lambda_0) for fixed decisions: the
      CG stopping tests, the acceptance rho > 0 and the thresholds of (HF5) are decided on
      unboxed values; the CG iterate, the step and lambda of the branch taken are traced.

References:
    Martens, J. (2010). Deep learning via Hessian-free optimization. ICML. Sections 4.1 (damping:
    rho < 1/4 -> lambda 3/2, rho > 3/4 -> lambda 2/3), 4.4 (CG termination, k = max(10, 0.1 i),
    eps = 5e-4), 4.5 (CG initialised at zeta times the previous solution, zeta = 0.95).
    Schraudolph, N. N. (2002). Fast curvature matrix-vector products. Neural Computation 14(7).
    Note 000, "Computational Limitations: Memory and Storage Options" (3. matrix-free approach).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass
from typing import Any, ClassVar

import autograd.numpy as anp
from autograd.tracer import getval

from .._core import method
from .._hyper import NONNEGATIVE, POSITIVE, UNIT, Hyperparams, Integer, hp
from .._types import Array
from .model_oracle import (
    OutputModel,
    evaluate,
    gn_vector_product,
    loss_at,
    quadratic_model_decrease,
)


@dataclass(frozen=True, eq=False)
class HessianFreeHyperparams(Hyperparams):
    """Hessian-free's hyperparameters (Martens 2010's constants where he gives them)."""

    ALGORITHM: ClassVar[str] = "hessian_free"
    damping: float = hp(1.0, POSITIVE, "initial damping lambda_0 of (HF1), adapted by (HF5)")
    _: KW_ONLY
    zeta: float = hp(0.95, UNIT, "CG warm-start decay zeta of (HF2): CG starts at zeta delta_prev")
    max_cg: int = hp(250, Integer(ge=1), "CG iteration cap of (HF2)")
    cg_tol: float = hp(1e-10, NONNEGATIVE, "CG stops at ||r|| <= cg_tol ||g||, (HF2)")
    progress_eps: float = hp(5e-4, POSITIVE, "eps of Martens' relative-progress test, (HF2)")
    min_damping: float = hp(0.0, NONNEGATIVE, "lambda is never lowered below this, (HF5)")
    max_damping: float = hp(1e32, POSITIVE, "lambda is never raised above this, (HF5)")

    def validate(self) -> None:
        if not getval(self.min_damping) <= getval(self.damping) <= getval(self.max_damping):
            raise ValueError(
                f"{self.ALGORITHM}: damping must lie in [min_damping, max_damping] = "
                f"[{self.min_damping!r}, {self.max_damping!r}], got {self.damping!r}"
            )


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class HessianFreeState:
    """Hessian-free's state after ``t`` steps."""

    params: Array  # theta_t
    damping: Any  # lambda for the next step
    delta: Array  # last CG solution, accepted or not (warm start of the next CG run, times zeta)
    rho: float  # reduction ratio of the last step (nan before any)
    cg_iters: int  # CG iterations of the last step
    loss: Any  # L(theta_t) when known (nan before the first step)
    t: int  # completed steps


def init(params: Array, *, damping: float) -> HessianFreeState:
    """theta_0 = params, lambda_0 = ``damping``, delta_0 = 0."""
    nan = float("nan")
    return HessianFreeState(
        params=params,
        damping=damping,
        delta=anp.zeros_like(params),
        rho=nan,
        cg_iters=0,
        loss=nan,
        t=0,
    )


def truncated_cg(
    matvec: Callable[[Any], Any], b: Any, x0: Any, *, max_iter: int, tol: float, progress_eps: float
) -> tuple[Any, int]:
    """Approximately solve B x = b (B symmetric positive definite) by conjugate gradients.

    Minimises phi(x) = (1/2) x^T B x - b^T x from x0; stops after ``max_iter`` iterations, when
    ||r|| <= tol ||b||, or on Martens' relative-progress test (see the module docstring).
    Returns (x, iterations).
    """
    x = x0
    Bx = matvec(x)
    r = b - Bx
    d = r
    rr = anp.dot(r, r)
    b_norm = math.sqrt(float(getval(anp.dot(b, b))))
    phis = [float(getval(0.5 * anp.dot(x, Bx) - anp.dot(b, x)))]
    i = 0
    while i < max_iter:
        if math.sqrt(float(getval(rr))) <= tol * b_norm:
            break
        Bd = matvec(d)
        dBd = anp.dot(d, Bd)
        if float(getval(dBd)) <= 0:  # B not positive definite along d: stop with the current x
            break
        a = rr / dBd
        x = x + a * d
        Bx = Bx + a * Bd
        r = r - a * Bd
        rr_new = anp.dot(r, r)
        d = r + (rr_new / rr) * d
        rr = rr_new
        i += 1
        phi = float(getval(0.5 * anp.dot(x, Bx) - anp.dot(b, x)))
        phis.append(phi)
        k = max(10, int(0.1 * i))
        if i > k and phi < 0 and (phi - phis[i - k]) / phi < k * progress_eps:
            break
    return x, i


def step(
    state: HessianFreeState,
    model: OutputModel,
    *,
    zeta: float = 0.95,
    max_cg: int = 250,
    cg_tol: float = 1e-10,
    progress_eps: float = 5e-4,
    min_damping: float = 0.0,
    max_damping: float = 1e32,
) -> HessianFreeState:
    """One Hessian-free step, eqs. (HF1)-(HF6) of specs/hessian_free.md."""
    theta, lam = state.params, state.damping
    rec = evaluate(model, theta, jacobians=False, who="hessian_free")

    def B(v: Any) -> Any:
        return gn_vector_product(model, rec, v) + lam * v  # (HF1)

    delta, iters = truncated_cg(  # (HF2)
        B, -rec.grad, zeta * state.delta, max_iter=max_cg, tol=cg_tol, progress_eps=progress_eps
    )
    trial_loss = loss_at(model, theta + delta)
    predicted = quadratic_model_decrease(rec, gn_vector_product(model, rec, delta), delta)
    rho = (rec.loss - trial_loss) / predicted if getval(predicted) > 0 else 0.0  # (HF3)
    r = float(getval(rho))
    accepted = r > 0
    theta_new = theta + delta if accepted else theta  # (HF4)
    if r < 0.25:
        grown = 1.5 * lam
        lam = max_damping if getval(grown) > max_damping else grown  # (HF5)  min((3/2) lambda, max_damping)
    elif r > 0.75:
        shrunk = lam * (2.0 / 3.0)
        lam = min_damping if min_damping > getval(shrunk) else shrunk  # max((2/3) lambda, min_damping)
    return HessianFreeState(
        params=theta_new,
        damping=lam,
        delta=delta,  # (HF6)  the warm start, accepted or not
        rho=r,
        cg_iters=iters,
        loss=trial_loss if accepted else rec.loss,
        t=state.t + 1,
    )


hessian_free = method(
    HessianFreeHyperparams,
    init,
    step,
    "Hessian-free (truncated CG on damped GN products); ``opt.step(state, problem)``; "
    "see the module docstring and specs/hessian_free.md.",
)

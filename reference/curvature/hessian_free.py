r"""Hessian-free optimization (Martens 2010): truncated CG on matrix-free damped Gauss-Newton
products, with the Levenberg-Marquardt damping heuristic. Spec: specs/hessian_free.md,
eqs. (HF1)-(HF5).

    g = grad L(theta),  B v = G v + lambda v,  G v = s J^T (H (J v)) + l2 v   (never forming G)   (HF1)
    delta = CG on B delta = -g from delta_0 = zeta delta_prev, stopped at the first of: max_cg
            iterations; ||r_i|| <= cg_tol ||g||; Martens' progress test  i > k, phi_i < 0 and
            (phi_i - phi_{i-k}) / phi_i < k eps_cg,  k = max(10, 0.1 i),
            phi(delta) = (1/2) delta^T B delta + g^T delta                                         (HF2)
    rho = (L(theta) - L(theta + delta)) / (-(g^T delta + (1/2) delta^T G delta))                 (HF3)
    theta_t = theta + delta if rho > 0, else theta                                              (HF4)
    lambda <- (3/2) lambda if rho < 1/4;  lambda <- (2/3) lambda if rho > 3/4                     (HF5)

Each G v costs one forward-mode JVP through the model, n small m x m products and one reverse
VJP (reference/curvature/model_oracle.py ``gn_vector_product``); the output Hessians H_i are computed once
per step. Input of ``step``: the problem (``OutputModel``).

Conventions (simplifications of Martens 2010, stated):
    * no CG-iterate backtracking and no line search: the last CG iterate is the trial step and is
      accepted when it decreases L (rho > 0), as in Levenberg-Marquardt;
    * the full data set gives both gradient and curvature (Martens uses minibatches for G);
    * rho uses the undamped GN model, as Martens' reduction ratio does.
    * Differentiable by autograd (with respect to theta_0 and lambda_0) for fixed decisions: the
      CG stopping tests, the acceptance rho > 0 and the thresholds of (HF5) are decided on
      unboxed values; the CG iterate, the step and lambda of the branch taken are traced.

References:
    Martens, J. (2010). Deep learning via Hessian-free optimization. ICML. Sections 4.1 (damping:
    rho < 1/4 -> lambda 3/2, rho > 3/4 -> lambda 2/3), 4.4 (CG termination, k = max(10, 0.1 i),
    eps = 5e-4), 4.5 (CG initialised at zeta times the previous solution, zeta = 0.95).
    Schraudolph, N. N. (2002). Fast curvature matrix-vector products. Neural Computation 14(7).
    Seed 000, "Computational Limitations: Memory and Storage Options" (3. matrix-free approach).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial
from typing import Any, Callable

import autograd.numpy as anp
from autograd.tracer import getval

from .._core import Method, check_count, check_nonnegative, check_positive, check_unit_interval
from .._types import Array
from .model_oracle import (
    OutputModel,
    evaluate,
    gn_vector_product,
    loss_at,
    quadratic_model_decrease,
)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class HessianFreeState:
    """Hessian-free's state after ``t`` steps."""

    params: Array  # theta_t
    damping: Any  # lambda for the next step
    delta: Array  # last CG solution (warm start of the next CG run, times zeta)
    rho: float  # reduction ratio of the last step (nan before any)
    cg_iters: int  # CG iterations of the last step
    loss: Any  # L(theta_t) when known (nan before the first step)
    t: int  # completed steps


def init(params: Array, *, damping: float) -> HessianFreeState:
    """theta_0 = params, lambda_0 = ``damping``, delta_0 = 0."""
    nan = float("nan")
    return HessianFreeState(
        params=params, damping=damping, delta=anp.zeros_like(params), rho=nan, cg_iters=0,
        loss=nan, t=0,
    )  # fmt: skip


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
) -> HessianFreeState:
    """One Hessian-free step, eqs. (HF1)-(HF5) of specs/hessian_free.md."""
    theta, lam = state.params, state.damping
    rec = evaluate(model, theta, jacobians=False, who="hessian_free")

    def B(v: Any) -> Any:
        return gn_vector_product(model, rec, v) + lam * v  # (HF1)

    delta, iters = truncated_cg(
        B, -rec.grad, zeta * state.delta, max_iter=max_cg, tol=cg_tol, progress_eps=progress_eps
    )  # (HF2)
    trial_loss = loss_at(model, theta + delta)
    Gd = gn_vector_product(model, rec, delta)
    rho = (rec.loss - trial_loss) / quadratic_model_decrease(rec, Gd, delta)  # (HF3)
    r = float(getval(rho))
    accepted = r > 0
    theta_new = theta + delta if accepted else theta  # (HF4)
    if r < 0.25:
        lam = 1.5 * lam  # (HF5)
    elif r > 0.75:
        shrunk = lam * (2.0 / 3.0)
        lam = min_damping if min_damping > getval(shrunk) else shrunk  # max((2/3) lambda, min_damping)
    return HessianFreeState(
        params=theta_new, damping=lam, delta=delta if accepted else anp.zeros_like(delta),
        rho=r, cg_iters=iters, loss=trial_loss if accepted else rec.loss, t=state.t + 1,
    )  # fmt: skip


def hessian_free(
    damping: float = 1.0,
    *,
    zeta: float = 0.95,
    max_cg: int = 250,
    cg_tol: float = 1e-10,
    progress_eps: float = 5e-4,
    min_damping: float = 0.0,
) -> Method[HessianFreeState, OutputModel]:
    """Hessian-free (truncated CG on damped GN products) with hyperparameters bound.

    Args:
        damping: lambda_0 > 0 (problem-dependent; 1 here).
        zeta: CG warm-start decay in [0, 1) (Martens: 0.95).
        max_cg: integer >= 1, the CG iteration cap (ours; the progress test usually stops earlier).
        cg_tol: residual tolerance ||r|| <= cg_tol ||g||, >= 0.
        progress_eps: Martens' relative-progress constant eps > 0 (5e-4).
        min_damping: lambda is never lowered below this value (>= 0).
    """
    name = "hessian_free"
    check_positive(name, "damping", damping)
    check_unit_interval(name, "zeta", zeta)
    check_count(name, "max_cg", max_cg, minimum=1)
    check_nonnegative(name, "cg_tol", cg_tol)
    check_positive(name, "progress_eps", progress_eps)
    check_nonnegative(name, "min_damping", min_damping)
    step_fn = partial(
        step, zeta=zeta, max_cg=max_cg, cg_tol=cg_tol, progress_eps=progress_eps,
        min_damping=min_damping,
    )  # fmt: skip
    return Method(
        name=name,
        hyperparams={"damping": damping, **step_fn.keywords},
        init_fn=partial(init, damping=damping),
        step_fn=step_fn,
    )

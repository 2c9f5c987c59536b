r"""Adamax: Adam with the infinity norm (Kingma & Ba 2015, section 7.1). Spec: specs/adamax.md,
eqs. (AX1)-(AX4).

Update rule, for t = 1, 2, ... (t counts completed steps after this one), g_t the gradient:

    g_t <- g_t + lambda theta_{t-1}                     (AX1)  weight_decay, coupled (torch)
    theta_{t-1} <- (1 - eta_t lambda) theta_{t-1}               decoupled_weight_decay=True (optax.adamaxw)
    m_t = beta1 m_{t-1} + (1 - beta1) g_t                (AX2)
    u_t = max(beta2 u_{t-1}, |g_t| + eps)                (AX3)  eps_placement="max" (torch, optax)
    u_t = max(beta2 u_{t-1}, |g_t|)                             eps_placement="denominator" (Keras)
    theta_t = theta_{t-1} - (eta_t / (1 - beta1^t)) m_t / u_t          (AX4)  "max"
    theta_t = theta_{t-1} - (eta_t / (1 - beta1^t)) m_t / (u_t + eps)         "denominator"

Conventions:
    * Only the first moment is bias-corrected: u_t, a decayed maximum, has no bias towards 0.
    * With eps = 0 (the paper) the two placements agree, and a coordinate whose gradients have
      all been zero gives 0/0.
    * eta_t is ``lr`` or ``lr(t - 1)`` for a schedule.

References:
    Kingma, D. P. and Ba, J. (2015). Adam: A Method for Stochastic Optimization. ICLR, Alg. 2.
    Note 001, "Adam: Complete Algorithm" (the Adam this modifies).
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from typing import ClassVar, Literal

import autograd.numpy as anp

from .._core import lr_at, optimizer
from .._hyper import FLAG, LR, NONNEGATIVE, UNIT, Hyperparams, OneOf, hp
from .._types import Array, LearningRate
from ._fused import ema

EpsPlacement = Literal["max", "denominator"]


@dataclass(frozen=True, eq=False)
class AdamaxHyperparams(Hyperparams):
    """Adamax's hyperparameters (the paper's and torch.optim.Adamax's defaults)."""

    ALGORITHM: ClassVar[str] = "adamax"
    lr: LearningRate = hp(2e-3, LR, "step size eta of (AX4), or a schedule t -> eta_t")
    _: KW_ONLY
    beta1: float = hp(0.9, UNIT, "EMA coefficient of the first moment, (AX2)")
    beta2: float = hp(0.999, UNIT, "decay of the infinity norm, (AX3)")
    eps: float = hp(1e-8, NONNEGATIVE, "added to |g_t| in (AX3) or to u_t in (AX4), see eps_placement")
    eps_placement: EpsPlacement = hp(
        "max",
        OneOf(("max", "denominator")),
        '"max": u_t = max(beta2 u, |g| + eps) (torch, optax); "denominator": m_t / (u_t + eps) (Keras)',
    )
    weight_decay: float = hp(0.0, NONNEGATIVE, "decay coefficient lambda of (AX1)")
    decoupled_weight_decay: bool = hp(
        False,
        FLAG,
        "True: theta <- (1 - eta lambda) theta before the step "
        "(optax.adamaxw); False: g += lambda theta (torch)",
    )


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class AdamaxState:
    """Adamax's state after ``t`` steps."""

    params: Array  # theta_t
    m: Array  # first-moment EMA m_t
    u: Array  # exponentially weighted infinity norm u_t
    t: int  # completed steps


def init(params: Array) -> AdamaxState:
    """m_0 = u_0 = 0, t = 0."""
    zeros = anp.zeros_like(params)
    return AdamaxState(params=params, m=zeros, u=zeros, t=0)


def step(
    state: AdamaxState,
    grad: Array,
    *,
    lr: LearningRate,
    beta1: float,
    beta2: float,
    eps: float,
    eps_placement: EpsPlacement = "max",
    weight_decay: float = 0.0,
    decoupled_weight_decay: bool = False,
) -> AdamaxState:
    """One Adamax step, eqs. (AX1)-(AX4) of specs/adamax.md."""
    theta, t = state.params, state.t + 1
    eta = lr_at(lr, state.t)
    g = grad
    if weight_decay and decoupled_weight_decay:
        theta = theta * (1 - eta * weight_decay)  # (AX1)  torch-style param.mul_(1 - lr wd)
    elif weight_decay:
        g = grad + weight_decay * theta  # (AX1)
    m = ema(state.m, g, beta1)  # (AX2)  beta1 m + (1 - beta1) g
    if eps_placement == "max":
        u = anp.maximum(beta2 * state.u, anp.abs(g) + eps)  # (AX3)
        theta = theta + (-eta / (1 - beta1**t)) * (m / u)  # (AX4)  torch's addcdiv(m, u, -clr)
    else:
        u = anp.maximum(beta2 * state.u, anp.abs(g))  # (AX3)
        theta = theta + (-eta / (1 - beta1**t)) * (m / (u + eps))  # (AX4)
    return AdamaxState(params=theta, m=m, u=u, t=t)


adamax = optimizer(AdamaxHyperparams, init, step, "Adamax; see the module docstring and specs/adamax.md.")

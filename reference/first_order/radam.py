r"""RAdam: Rectified Adam (Liu et al. 2020). Spec: specs/radam.md, eqs. (RA1)-(RA7).

Update rule, for t = 1, 2, ... (t counts completed steps after this one), g_t the gradient:

    g_t <- g_t + lambda theta_{t-1}                     (RA1)  weight_decay, coupled (torch's default)
    theta_{t-1} <- (1 - eta_t lambda) theta_{t-1}               decoupled_weight_decay=True
    m_t = beta1 m_{t-1} + (1 - beta1) g_t                (RA2)
    v_t = beta2 v_{t-1} + (1 - beta2) g_t^2              (RA3)
    mhat_t = m_t / (1 - beta1^t)                          (RA4)
    rho_inf = 2/(1 - beta2) - 1,  rho_t = rho_inf - 2 t beta2^t / (1 - beta2^t)      (RA5)
    if rho_t > threshold (>= with threshold_strict=False):
        r_t = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
        theta_t = theta_{t-1} - eta_t r_t mhat_t / (sqrt(vhat_t + eps_root) + eps')           (RA6)
        with vhat_t = v_t/(1 - beta2^t) and eps' = eps/sqrt(1 - beta2^t) (epsilon_hat, torch)
        or eps' = eps (optax)
    else:
        theta_t = theta_{t-1} - eta_t mhat_t                                                 (RA7)

Conventions:
    * torch.optim.RAdam rectifies when rho_t > 5 and adds eps to sqrt(v_t) before the factor
      sqrt(1 - beta2^t) (``epsilon_hat=True``, the defaults); optax.radam when rho_t >= threshold,
      with eps added to sqrt(vhat_t) (``threshold_strict=False, epsilon_hat=False``).
    * threshold >= 4 keeps r_t real: rho_t > 4 implies rho_inf > rho_t > 4.
    * eta_t is ``lr`` or ``lr(t - 1)`` for a schedule.

References:
    Liu, L., Jiang, H., He, P., Chen, W., Liu, X., Gao, J. and Han, J. (2020). On the Variance of
    the Adaptive Learning Rate and Beyond. ICLR, Algorithm 2.
    Note 001, "Adam: Complete Algorithm" (the Adam this rectifies).
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from typing import Any, ClassVar

import autograd.numpy as anp
from autograd.tracer import getval

from .._core import lr_at, optimizer
from .._hyper import FLAG, LR, NONNEGATIVE, UNIT, Hyperparams, Real, hp
from .._types import Array, LearningRate
from ._fused import ema, ema_sq


@dataclass(frozen=True, eq=False)
class RAdamHyperparams(Hyperparams):
    """RAdam's hyperparameters (torch.optim.RAdam's defaults)."""

    ALGORITHM: ClassVar[str] = "radam"
    lr: LearningRate = hp(1e-3, LR, "step size eta of (RA6)-(RA7), or a schedule t -> eta_t")
    _: KW_ONLY
    beta1: float = hp(0.9, UNIT, "EMA coefficient of the first moment, (RA2)")
    beta2: float = hp(0.999, UNIT, "EMA coefficient of the second moment, (RA3)")
    eps: float = hp(1e-8, NONNEGATIVE, "added to the square root in (RA6)")
    eps_root: float = hp(0.0, NONNEGATIVE, "added inside the square root of (RA6) (optax)")
    weight_decay: float = hp(0.0, NONNEGATIVE, "decay coefficient lambda of (RA1)")
    decoupled_weight_decay: bool = hp(
        False,
        FLAG,
        "True: theta <- (1 - eta lambda) theta before the step "
        "(torch's decoupled_weight_decay); False: g += lambda theta",
    )
    threshold: float = hp(5.0, Real(ge=4.0), "rectify when rho_t exceeds it, (RA6); below, (RA7)")
    threshold_strict: bool = hp(
        True, FLAG, "True: rho_t > threshold (torch); False: rho_t >= threshold (optax)"
    )
    epsilon_hat: bool = hp(
        True,
        FLAG,
        "True: eps meets sqrt(v_t) before the factor sqrt(1 - beta2^t) (torch); "
        "False: eps meets sqrt(vhat_t) (optax)",
    )


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class RAdamState:
    """RAdam's state after ``t`` steps."""

    params: Array  # theta_t
    m: Array  # first-moment EMA m_t
    v: Array  # second-moment EMA v_t
    t: int  # completed steps


def init(params: Array) -> RAdamState:
    """m_0 = v_0 = 0, t = 0."""
    zeros = anp.zeros_like(params)
    return RAdamState(params=params, m=zeros, v=zeros, t=0)


def rho(t: int, beta2: Any) -> tuple[Any, Any]:
    """(rho_inf, rho_t) of (RA5), the length of the approximated simple moving average."""
    rho_inf = 2 / (1 - beta2) - 1
    b2t = beta2**t
    return rho_inf, rho_inf - 2 * t * b2t / (1 - b2t)


def rectified(t: int, beta2: Any, threshold: float, strict: bool) -> bool:
    """Whether step t takes the rectified step (RA6) rather than (RA7)."""
    _, rho_t = rho(t, getval(beta2))
    return bool(rho_t > threshold) if strict else bool(rho_t >= threshold)


def step(
    state: RAdamState,
    grad: Array,
    *,
    lr: LearningRate,
    beta1: float,
    beta2: float,
    eps: float,
    eps_root: float = 0.0,
    weight_decay: float = 0.0,
    decoupled_weight_decay: bool = False,
    threshold: float = 5.0,
    threshold_strict: bool = True,
    epsilon_hat: bool = True,
) -> RAdamState:
    """One RAdam step, eqs. (RA1)-(RA7) of specs/radam.md."""
    theta, t = state.params, state.t + 1
    eta = lr_at(lr, state.t)
    g = grad
    if weight_decay and decoupled_weight_decay:
        theta = theta * (1 - eta * weight_decay)  # (RA1)  torch's param.mul_(1 - lr wd)
    elif weight_decay:
        g = grad + weight_decay * theta  # (RA1)
    m = ema(state.m, g, beta1)  # (RA2)  beta1 m + (1 - beta1) g
    v = ema_sq(state.v, g, beta2)  # (RA3)  beta2 v + (1 - beta2) g g
    mhat = m / (1 - beta1**t)  # (RA4)
    rho_inf, rho_t = rho(t, beta2)  # (RA5)
    if rectified(t, beta2, threshold, threshold_strict):
        r = anp.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
        bc2 = 1 - beta2**t
        if epsilon_hat:  # torch's order: sqrt(bc2) / (sqrt(v_t) + eps) = 1 / (sqrt(vhat_t) + eps / sqrt(bc2))
            root = anp.sqrt(v + bc2 * eps_root) if eps_root else anp.sqrt(v)
            theta = theta - mhat * eta * (bc2**0.5 / (root + eps)) * r  # (RA6)
        else:
            root = anp.sqrt(v / bc2 + eps_root) if eps_root else anp.sqrt(v / bc2)
            theta = theta - eta * (r * mhat / (root + eps))  # (RA6)
    else:
        theta = theta - eta * mhat  # (RA7)
    return RAdamState(params=theta, m=m, v=v, t=t)


radam = optimizer(RAdamHyperparams, init, step, "RAdam; see the module docstring and specs/radam.md.")

r"""AdaBelief (Zhuang, Tang, Ding, Tatikonda, Dvornek, Papademetris & Duncan 2020, Algorithm 2).
Spec: specs/adabelief.md, eqs. (AB1)-(AB4).

Adam whose second moment is the EMA of the squared prediction error (g_t - m_t)^2, the "belief" in
the gradient: a step is large where the gradient agrees with its running mean. For t = 1, 2, ...:

    m_t     = beta1 m_{t-1} + (1 - beta1) g_t                              (AB1)
    s_t     = beta2 s_{t-1} + (1 - beta2) (g_t - m_t)^2 + eps_root          (AB2)
    mhat_t  = m_t / (1 - beta1^t),  shat_t = s_t / (1 - beta2^t)            (AB3)
    mhat_t  = beta1 m_t / (1 - beta1^(t+1)) + (1 - beta1) g_t / (1 - beta1^t)     nesterov (optax)
    theta_t = theta_{t-1} - eta_t mhat_t / (sqrt(shat_t) + eps)             (AB4)

Conventions:
    * eps_root is added to s_t itself and so is kept in the state (the paper's "+ eps" in s_t, the
      authors' code and optax alike); eps is added after the square root.
    * eta_t is ``lr`` or ``lr(t - 1)`` for a schedule.

References:
    Zhuang, J., Tang, T., Ding, Y., Tatikonda, S., Dvornek, N., Papademetris, X. and Duncan, J. S.
    (2020). AdaBelief Optimizer: Adapting Stepsizes by the Belief in Observed Gradients. NeurIPS.
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from typing import ClassVar

import autograd.numpy as anp

from .._core import lr_at, optimizer
from .._hyper import FLAG, LR, NONNEGATIVE, UNIT, Hyperparams, hp
from .._types import Array, LearningRate


@dataclass(frozen=True, eq=False)
class AdabeliefHyperparams(Hyperparams):
    """AdaBelief's hyperparameters (the authors' code and optax.adabelief's defaults)."""

    ALGORITHM: ClassVar[str] = "adabelief"
    lr: LearningRate = hp(1e-3, LR, "step size eta of (AB4), or a schedule t -> eta_t")
    _: KW_ONLY
    beta1: float = hp(0.9, UNIT, "EMA coefficient of the first moment, (AB1)")
    beta2: float = hp(0.999, UNIT, "EMA coefficient of the belief s_t, (AB2)")
    eps: float = hp(1e-16, NONNEGATIVE, "added to sqrt(shat_t) in (AB4)")
    eps_root: float = hp(1e-16, NONNEGATIVE, "added to s_t in (AB2), and kept in the state")
    nesterov: bool = hp(False, FLAG, "Nesterov form of mhat_t, (AB3) (optax)")


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class AdabeliefState:
    """AdaBelief's state after ``t`` steps."""

    params: Array  # theta_t
    m: Array  # first-moment EMA m_t
    s: Array  # belief s_t, EMA of (g - m)^2 plus eps_root
    t: int  # completed steps


def init(params: Array) -> AdabeliefState:
    """m_0 = s_0 = 0, t = 0."""
    zeros = anp.zeros_like(params)
    return AdabeliefState(params=params, m=zeros, s=zeros, t=0)


def step(
    state: AdabeliefState,
    grad: Array,
    *,
    lr: LearningRate,
    beta1: float,
    beta2: float,
    eps: float,
    eps_root: float,
    nesterov: bool = False,
) -> AdabeliefState:
    """One AdaBelief step, eqs. (AB1)-(AB4) of specs/adabelief.md."""
    t = state.t + 1
    eta = lr_at(lr, state.t)
    m = beta1 * state.m + (1 - beta1) * grad  # (AB1)
    r = grad - m
    s = beta2 * state.s + (1 - beta2) * (r * r) + eps_root  # (AB2)
    if nesterov:
        mhat = beta1 * m / (1 - beta1 ** (t + 1)) + (1 - beta1) * grad / (1 - beta1**t)  # (AB3)
    else:
        mhat = m / (1 - beta1**t)  # (AB3)
    shat = s / (1 - beta2**t)
    theta = state.params + (-eta) * mhat / (anp.sqrt(shat) + eps)  # (AB4)
    return AdabeliefState(params=theta, m=m, s=s, t=t)


adabelief = optimizer(
    AdabeliefHyperparams, init, step, "AdaBelief; see the module docstring and specs/adabelief.md."
)

r"""Optimistic Adam (Daskalakis, Ilyas, Syrgkanis & Zeng 2018). Spec: specs/optimistic_adam.md,
eqs. (OA1)-(OA7).

Update rule, for t = 1, 2, ... (t counts completed steps after this one), g_t the gradient:

    m_t     = beta1 m_{t-1} + (1 - beta1) g_t                              (OA1)
    v_t     = beta2 v_{t-1} + (1 - beta2) g_t^2                            (OA2)
    mhat_t  = m_t / (1 - beta1^t)                                          (OA3)  nesterov=False
            = beta1 m_t / (1 - beta1^(t+1)) + (1 - beta1) g_t / (1 - beta1^t)     nesterov=True (optax)
    vhat_t  = v_t / (1 - beta2^t)                                          (OA4)
    r_t     = mhat_t / (sqrt(vhat_t + eps_root) + eps)                     (OA5)
    u_t     = (alpha + beta) r_t - beta r_{t-1}                            (OA6)
              r_0 := 0 (first_step="zeros": the paper's m_0 = 0) or r_0 := r_1 ("repeat": optax)
    theta_t = theta_{t-1} - eta_t u_t                                      (OA7)

alpha = beta = 1 is the paper's theta_t = theta_{t-1} - 2 eta r_t + eta r_{t-1}.

Conventions:
    * optax.optimistic_adam_v2(learning_rate, alpha, beta, ...) is this rule with nesterov=True
      and first_step="repeat"; the deprecated optax.optimistic_adam(learning_rate=a, optimism=o)
      is the same chain with the scalars moved: lr = 1, alpha = a, beta = o (o defaults to a).
    * eta_t is ``lr`` or ``lr(t - 1)`` for a schedule.
    * Optimism is not discussed in the lecture notes; the Adam it modifies is note 001,
      "Adam: Complete Algorithm".

References:
    Daskalakis, C., Ilyas, A., Syrgkanis, V. and Zeng, H. (2018). Training GANs with Optimism. ICLR.
    Kingma, D. P. and Ba, J. (2015). Adam: A Method for Stochastic Optimization. ICLR.
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from typing import ClassVar, Literal

import autograd.numpy as anp

from .._core import lr_at, optimizer
from .._hyper import FLAG, LR, NONNEGATIVE, UNIT, Hyperparams, hp, required
from .._types import Array, LearningRate
from .optimistic_gd import FIRST_STEP, REAL

FirstStep = Literal["repeat", "zeros"]


@dataclass(frozen=True, eq=False)
class OptimisticAdamHyperparams(Hyperparams):
    """Optimistic Adam's hyperparameters (the paper's form; optax's in the Variants of the spec)."""

    ALGORITHM: ClassVar[str] = "optimistic_adam"
    lr: LearningRate = required(LR, "step size eta of (OA7), or a schedule t -> eta_t")
    _: KW_ONLY
    alpha: float = hp(1.0, REAL, "weight of the current ratio r_t in (OA6)")
    beta: float = hp(1.0, REAL, "optimism: weight of r_t - r_{t-1} in (OA6)")
    beta1: float = hp(0.9, UNIT, "EMA coefficient of the first moment, (OA1)")
    beta2: float = hp(0.999, UNIT, "EMA coefficient of the second moment, (OA2)")
    eps: float = hp(1e-8, NONNEGATIVE, "added to the square root in (OA5)")
    eps_root: float = hp(0.0, NONNEGATIVE, "added inside the square root of (OA5) (optax)")
    nesterov: bool = hp(False, FLAG, "Nesterov's mhat_t of (OA3) (optax's default; the paper: False)")
    first_step: FirstStep = hp(
        "zeros", FIRST_STEP, 'r_0 of (OA6): "zeros" r_0 = 0 (the paper), "repeat" r_0 = r_1 (optax)'
    )


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class OptimisticAdamState:
    """Optimistic Adam's state after ``t`` steps."""

    params: Array  # theta_t
    m: Array  # first-moment EMA m_t
    v: Array  # second-moment EMA v_t
    r_prev: Array  # r_t, the ratio of the last step (0 before the first)
    t: int  # completed steps


def init(params: Array) -> OptimisticAdamState:
    """m_0 = v_0 = r_0 = 0, t = 0."""
    zeros = anp.zeros_like(params)
    return OptimisticAdamState(params=params, m=zeros, v=zeros, r_prev=zeros, t=0)


def step(
    state: OptimisticAdamState,
    grad: Array,
    *,
    lr: LearningRate,
    alpha: float,
    beta: float,
    beta1: float,
    beta2: float,
    eps: float,
    eps_root: float = 0.0,
    nesterov: bool = False,
    first_step: FirstStep = "zeros",
) -> OptimisticAdamState:
    """One optimistic Adam step, eqs. (OA1)-(OA7) of specs/optimistic_adam.md."""
    t = state.t + 1
    eta = lr_at(lr, state.t)
    m = (1 - beta1) * grad + beta1 * state.m  # (OA1)  optax's update_moment order
    v = (1 - beta2) * grad**2 + beta2 * state.v  # (OA2)
    if nesterov:
        mhat = beta1 * (m / (1 - beta1 ** (t + 1))) + (1 - beta1) * (grad / (1 - beta1**t))  # (OA3)
    else:
        mhat = m / (1 - beta1**t)  # (OA3)
    vhat = v / (1 - beta2**t)  # (OA4)
    r = mhat / (anp.sqrt(vhat + eps_root) + eps)  # (OA5)
    r_prev = r if state.t == 0 and first_step == "repeat" else state.r_prev
    u = (alpha + beta) * r - beta * r_prev  # (OA6)
    theta = state.params + (-eta) * u  # (OA7)
    return OptimisticAdamState(params=theta, m=m, v=v, r_prev=r, t=t)


optimistic_adam = optimizer(
    OptimisticAdamHyperparams, init, step, "Optimistic Adam; see specs/optimistic_adam.md."
)

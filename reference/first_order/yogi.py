r"""Yogi (Zaheer, Reddi, Sachan, Kale & Kumar 2018, Algorithm 2). Spec: specs/yogi.md, eqs. (Y1)-(Y4).

Adam with an additive second moment: v moves towards g^2 by (1 - beta2) g^2, in the direction of
the sign of g^2 - v, so it grows no faster than Adam's EMA and can shrink. For t = 1, 2, ...:

    m_t     = beta1 m_{t-1} + (1 - beta1) g_t                              (Y1)
    v_t     = v_{t-1} - (1 - beta2) sign(v_{t-1} - g_t^2) g_t^2            (Y2)
    mhat_t  = m_t / (1 - beta1^t),  vhat_t = v_t / (1 - beta2^t)           (Y3)  if bias_correction
    theta_t = theta_{t-1} - eta_t mhat_t / (sqrt(vhat_t + eps_root) + eps) (Y4)

Conventions:
    * The paper: m_0 = v_0 = 0 and no bias correction (the defaults). optax.yogi starts both m_0 and
      v_0 at ``initial_accumulator_value`` = 1e-6 and bias-corrects both, as Adam does.
    * v_t >= 0 whenever v_0 >= 0: it moves by at most (1 - beta2) g^2 towards g^2.
    * eta_t is ``lr`` or ``lr(t - 1)`` for a schedule.

References:
    Zaheer, M., Reddi, S. J., Sachan, D., Kale, S. and Kumar, S. (2018). Adaptive Methods for
    Nonconvex Optimization. NeurIPS.
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from typing import ClassVar

import autograd.numpy as anp

from .._core import lr_at, optimizer
from .._hyper import FLAG, LR, NONNEGATIVE, UNIT, Hyperparams, hp
from .._types import Array, LearningRate


@dataclass(frozen=True, eq=False)
class YogiHyperparams(Hyperparams):
    """Yogi's hyperparameters (the paper's; optax.yogi differs in the last two)."""

    ALGORITHM: ClassVar[str] = "yogi"
    lr: LearningRate = hp(1e-2, LR, "step size eta of (Y4), or a schedule t -> eta_t")
    _: KW_ONLY
    beta1: float = hp(0.9, UNIT, "EMA coefficient of the first moment, (Y1)")
    beta2: float = hp(0.999, UNIT, "rate 1 - beta2 of the additive second moment, (Y2)")
    eps: float = hp(1e-3, NONNEGATIVE, "added to sqrt(vhat_t) in (Y4)")
    eps_root: float = hp(0.0, NONNEGATIVE, "added inside the square root of (Y4) (optax's scale_by_yogi)")
    initial_accumulator_value: float = hp(0.0, NONNEGATIVE, "m_0 and v_0 (paper: 0; optax: 1e-6 for both)")
    bias_correction: bool = hp(False, FLAG, "divide m_t, v_t by 1 - beta^t, (Y3) (optax; not the paper)")


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class YogiState:
    """Yogi's state after ``t`` steps."""

    params: Array  # theta_t
    m: Array  # first moment m_t
    v: Array  # additive second moment v_t
    t: int  # completed steps


def init(params: Array, *, initial_accumulator_value: float = 0.0) -> YogiState:
    """m_0 = v_0 = initial_accumulator_value, t = 0."""
    start = anp.zeros_like(params) + initial_accumulator_value
    return YogiState(params=params, m=start, v=start, t=0)


def step(
    state: YogiState,
    grad: Array,
    *,
    lr: LearningRate,
    beta1: float,
    beta2: float,
    eps: float,
    eps_root: float = 0.0,
    bias_correction: bool = False,
) -> YogiState:
    """One Yogi step, eqs. (Y1)-(Y4) of specs/yogi.md."""
    t = state.t + 1
    eta = lr_at(lr, state.t)
    m = beta1 * state.m + (1 - beta1) * grad  # (Y1)
    g2 = grad * grad
    v = state.v - (1 - beta2) * anp.sign(state.v - g2) * g2  # (Y2)
    mhat, vhat = (m / (1 - beta1**t), v / (1 - beta2**t)) if bias_correction else (m, v)  # (Y3)
    root = anp.sqrt(vhat + eps_root) if eps_root else anp.sqrt(vhat)
    theta = state.params + (-eta) * mhat / (root + eps)  # (Y4)
    return YogiState(params=theta, m=m, v=v, t=t)


yogi = optimizer(YogiHyperparams, init, step, "Yogi; see the module docstring and specs/yogi.md.")

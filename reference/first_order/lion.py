r"""Lion, EvoLved Sign Momentum (Chen et al. 2023). Spec: specs/lion.md, eqs. (L1)-(L3).

Update rule, for t = 1, 2, ... (t counts completed steps after this one), m_0 = 0:

    c_t     = beta1 m_{t-1} + (1 - beta1) g_t                              (L1)  interpolate
    theta_t = theta_{t-1} - eta_t (sign(c_t) + lambda' theta_{t-1})        (L2)  sign step + decay
    m_t     = beta2 m_{t-1} + (1 - beta2) g_t                              (L3)  momentum for next step

with the decoupled weight decay lambda' = lambda (decay_scaling="lr": the decay is eta_t lambda
theta, as in optax, google/automl and lucidrains' default) or lambda' = lambda / eta_0
(decay_scaling="schedule": the decay is (eta_t / eta_0) lambda theta, Loshchilov & Hutter's
schedule multiplier, lucidrains' ``decoupled_weight_decay=True``).

Conventions:
    * The decay is decoupled: it never enters c_t or m_t, and it acts on theta_{t-1}, the same
      point as the sign step. (L2) is written as optax computes it, u = sign(c) + lambda theta,
      theta - eta u; google/automl's theta (1 - eta lambda) - eta sign(c) is the same number up to
      rounding.
    * With weight_decay = 0 every coordinate with c_t != 0 moves by exactly eta_t, and the
      iterates are invariant to any positive rescaling of the gradient stream. sign(0) = 0.
    * Only m is stored (memory p): c_t is formed and discarded within the step.
    * eta_t is ``lr`` or ``lr(t - 1)`` for a schedule; eta_0 is ``lr`` or ``lr(0)``.

References:
    Chen, X., Liang, C., Huang, D., Real, E., Wang, K., Pham, H., Dong, X., Luong, T., Hsieh,
        C.-J., Lu, Y. and Le, Q. V. (2023). Symbolic Discovery of Optimization Algorithms.
        NeurIPS.
    Loshchilov, I. and Hutter, F. (2019). Decoupled Weight Decay Regularization. ICLR.
    Note 001 ("Lion: Evolutionary Discovered Optimizer").
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from typing import ClassVar, Literal

import autograd.numpy as anp

from .._core import lr_at, optimizer
from .._hyper import LR, NONNEGATIVE, POSITIVE, UNIT, Hyperparams, OneOf, hp
from .._types import Array, LearningRate

DecayScaling = Literal["lr", "schedule"]


@dataclass(frozen=True, eq=False)
class LionHyperparams(Hyperparams):
    """Lion's hyperparameters (the paper's and note 001's; weight decay off as in google/automl)."""

    ALGORITHM: ClassVar[str] = "lion"
    lr: LearningRate = hp(
        1e-4,
        LR,
        "step size eta of (L2), or a schedule t -> eta_t (note 001: about ten times smaller than Adam's)",
    )
    _: KW_ONLY
    beta1: float = hp(0.9, UNIT, "interpolation coefficient of c_t, (L1)")
    beta2: float = hp(0.99, UNIT, "momentum coefficient of m_t, (L3)")
    weight_decay: float = hp(0.0, NONNEGATIVE, "decoupled decay coefficient lambda of (L2)")
    decay_scaling: DecayScaling = hp(
        "lr",
        OneOf(("lr", "schedule")),
        '"lr": decay eta_t lambda theta (optax, google/automl); "schedule": '
        "(eta_t / eta_0) lambda theta (Loshchilov & Hutter, lucidrains)",
    )

    def validate(self) -> None:
        if self.decay_scaling == "schedule" and self.weight_decay and callable(self.lr):
            POSITIVE.check(
                self.ALGORITHM, "lr(0) (eta_0, the divisor of decay_scaling='schedule')", self.lr(0)
            )


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class LionState:
    """Lion's state after ``t`` steps."""

    params: Array  # theta_t
    m: Array  # momentum m_t
    t: int  # completed steps


def init(params: Array) -> LionState:
    """m_0 = 0, t = 0."""
    return LionState(params=params, m=anp.zeros_like(params), t=0)


def step(
    state: LionState,
    grad: Array,
    *,
    lr: LearningRate,
    beta1: float,
    beta2: float,
    weight_decay: float = 0.0,
    decay_scaling: DecayScaling = "lr",
) -> LionState:
    """One Lion step, eqs. (L1)-(L3) of specs/lion.md."""
    theta, m = state.params, state.m
    eta = lr_at(lr, state.t)
    c = beta1 * m + (1 - beta1) * grad  # (L1)
    u = anp.sign(c)
    if weight_decay:
        lam = weight_decay if decay_scaling == "lr" else weight_decay / lr_at(lr, 0)
        u = u + lam * theta
    theta = theta - eta * u  # (L2)
    m = beta2 * m + (1 - beta2) * grad  # (L3)
    return LionState(params=theta, m=m, t=state.t + 1)


lion = optimizer(LionHyperparams, init, step, "Lion; see the module docstring and specs/lion.md.")

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
    Seed 001 ("Lion: Evolutionary Discovered Optimizer").
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Literal

import autograd.numpy as anp

from .._core import (
    Optimizer,
    check_choice,
    check_lr,
    check_nonnegative,
    check_unit_interval,
    lr_at,
)
from .._types import Array, LearningRate

DecayScaling = Literal["lr", "schedule"]


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


def lion(
    lr: LearningRate = 1e-4,
    *,
    beta1: float = 0.9,
    beta2: float = 0.99,
    weight_decay: float = 0.0,
    decay_scaling: DecayScaling = "lr",
) -> Optimizer[LionState]:
    """Lion with hyperparameters bound; see the module docstring and specs/lion.md.

    Args:
        lr: eta, a float > 0 or a schedule t -> eta_t (seed 001: typically 1e-4, about ten
            times smaller than Adam's).
        beta1: interpolation coefficient of c_t (L1), in [0, 1).
        beta2: momentum coefficient of m_t (L3), in [0, 1).
        weight_decay: decoupled decay coefficient lambda, >= 0.
        decay_scaling: "lr" (decay eta_t lambda theta: optax, google/automl) or "schedule"
            (decay (eta_t / eta_0) lambda theta: Loshchilov & Hutter, lucidrains' decoupled
            option; a schedule must then have eta_0 = lr(0) > 0).
    """
    name = "lion"
    check_lr(name, lr)
    check_unit_interval(name, "beta1", beta1)
    check_unit_interval(name, "beta2", beta2)
    check_nonnegative(name, "weight_decay", weight_decay)
    check_choice(name, "decay_scaling", decay_scaling, ("lr", "schedule"))
    if decay_scaling == "schedule" and weight_decay and callable(lr):
        check_lr(name, lr_at(lr, 0), name="lr(0)")  # eta_0 divides lambda
    step_fn = partial(
        step, lr=lr, beta1=beta1, beta2=beta2, weight_decay=weight_decay,
        decay_scaling=decay_scaling,
    )  # fmt: skip
    return Optimizer(name=name, hyperparams=dict(step_fn.keywords), init_fn=init, step_fn=step_fn)

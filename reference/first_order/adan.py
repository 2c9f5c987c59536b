r"""Adan: adaptive Nesterov momentum (Xie et al. 2022). Spec: specs/adan.md, eqs. (AD1)-(AD7).

beta1, beta2, beta3 are the EMA decay rates (0.98, 0.92, 0.99) of the official code and optax;
the paper writes 1 - beta for them (0.02, 0.08, 0.01). For t = 1, 2, ...:

    d_t = g_t - g_{t-1},  d_1 = 0 (g_0 := g_1)                              (AD1)
    m_t = beta1 m_{t-1} + (1 - beta1) g_t                                   (AD2)
    v_t = beta2 v_{t-1} + (1 - beta2) d_t                                   (AD3)
    n_t = beta3 n_{t-1} + (1 - beta3) (g_t + c d_t)^2                       (AD4)
    mhat = m_t/(1 - beta1^t), vhat = v_t/(1 - beta2^t), nhat = n_t/(1 - beta3^t)   (AD5)
    u_t = (mhat + c vhat) / (sqrt(nhat + eps_root) + eps)                  (AD6)
    theta_t = (theta_{t-1} - eta_t u_t) / (1 + eta_t lambda)               (AD7)  proximal
    theta_t = theta_{t-1} - eta_t (u_t + lambda theta_{t-1})                      decoupled

with c = beta2 (``diff_weight="beta2"``: the paper's 1 - beta2 and the official code) or
c = 1 - beta2 (``diff_weight="one_minus_beta2"``: optax 0.2.8).

Conventions:
    * The difference of the first step is 0 (optax, the official code), not g_1 - g_0 of a
      gradient at the point before theta_0.
    * Bias corrections as the official code and optax (the paper's Algorithm 1 has none; it starts
      m and n from the first gradient instead).
    * eta_t is ``lr`` or ``lr(t - 1)`` for a schedule.

References:
    Xie, X., Zhou, P., Li, H., Lin, Z. and Yan, S. (2022). Adan: Adaptive Nesterov Momentum
    Algorithm for Faster Optimizing Deep Models. arXiv:2208.06677, Algorithm 1.
    Note 001, "Adam: Complete Algorithm" (the Adam this extends).
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from typing import ClassVar, Literal

import autograd.numpy as anp

from .._core import lr_at, optimizer
from .._hyper import LR, NONNEGATIVE, UNIT, Hyperparams, OneOf, hp
from .._types import Array, LearningRate

DiffWeight = Literal["beta2", "one_minus_beta2"]
WeightDecayForm = Literal["proximal", "decoupled"]


@dataclass(frozen=True, eq=False)
class AdanHyperparams(Hyperparams):
    """Adan's hyperparameters (the official code's defaults; optax.adan's eps_root is 1e-8)."""

    ALGORITHM: ClassVar[str] = "adan"
    lr: LearningRate = hp(1e-3, LR, "step size eta of (AD7), or a schedule t -> eta_t")
    _: KW_ONLY
    beta1: float = hp(0.98, UNIT, "EMA decay of the gradient, (AD2) (the paper's 1 - beta1)")
    beta2: float = hp(0.92, UNIT, "EMA decay of the gradient difference, (AD3) (the paper's 1 - beta2)")
    beta3: float = hp(0.99, UNIT, "EMA decay of the squared term, (AD4) (the paper's 1 - beta3)")
    eps: float = hp(1e-8, NONNEGATIVE, "added to the square root in (AD6)")
    eps_root: float = hp(0.0, NONNEGATIVE, "added inside the square root of (AD6) (optax.adan: 1e-8)")
    weight_decay: float = hp(0.0, NONNEGATIVE, "decay coefficient lambda of (AD7)")
    weight_decay_form: WeightDecayForm = hp(
        "proximal",
        OneOf(("proximal", "decoupled")),
        '"proximal": divide by 1 + eta lambda (paper, official code); "decoupled": '
        "subtract eta lambda theta (optax, the official no_prox=True), (AD7)",
    )
    diff_weight: DiffWeight = hp(
        "beta2",
        OneOf(("beta2", "one_minus_beta2")),
        'weight c of the difference in (AD4), (AD6): "beta2" (paper, official code) or '
        '"one_minus_beta2" (optax 0.2.8)',
    )


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class AdanState:
    """Adan's state after ``t`` steps."""

    params: Array  # theta_t
    m: Array  # EMA of the gradient
    v: Array  # EMA of the gradient difference
    n: Array  # EMA of the squared Nesterov term
    g_prev: Array  # g_t, the previous gradient of the next step's difference
    t: int  # completed steps


def init(params: Array) -> AdanState:
    """m_0 = v_0 = n_0 = 0, t = 0 (g_prev is unused until the second step)."""
    zeros = anp.zeros_like(params)
    return AdanState(params=params, m=zeros, v=zeros, n=zeros, g_prev=zeros, t=0)


def step(
    state: AdanState,
    grad: Array,
    *,
    lr: LearningRate,
    beta1: float,
    beta2: float,
    beta3: float,
    eps: float,
    eps_root: float = 0.0,
    weight_decay: float = 0.0,
    weight_decay_form: WeightDecayForm = "proximal",
    diff_weight: DiffWeight = "beta2",
) -> AdanState:
    """One Adan step, eqs. (AD1)-(AD7) of specs/adan.md, in optax's order of operations."""
    theta, t = state.params, state.t + 1
    eta = lr_at(lr, state.t)
    c = beta2 if diff_weight == "beta2" else 1 - beta2
    d = grad - state.g_prev if state.t > 0 else anp.zeros_like(grad)  # (AD1)
    m = (1 - beta1) * grad + beta1 * state.m  # (AD2)
    v = (1 - beta2) * d + beta2 * state.v  # (AD3)
    s = grad + c * d
    n = (1 - beta3) * (s * s) + beta3 * state.n  # (AD4)
    mhat, vhat, nhat = m / (1 - beta1**t), v / (1 - beta2**t), n / (1 - beta3**t)  # (AD5)
    u = (mhat + c * vhat) / (anp.sqrt(nhat + eps_root) + eps)  # (AD6)
    if weight_decay_form == "decoupled":
        theta = theta + (-eta) * (u + weight_decay * theta)  # (AD7)  optax: add_decayed_weights, -lr
    else:
        theta = (theta + (-eta) * u) / (1 + eta * weight_decay)  # (AD7)
    return AdanState(params=theta, m=m, v=v, n=n, g_prev=grad, t=t)


adan = optimizer(AdanHyperparams, init, step, "Adan; see the module docstring and specs/adan.md.")

r"""Optimistic gradient descent (generalised OGD). Spec: specs/optimistic_gd.md, eqs. (OG1)-(OG2).

Update rule, for t = 1, 2, ... (t counts completed steps after this one), g_t the gradient:

    u_t     = (alpha + beta) g_t - beta g_{t-1}          (OG1)
              g_0 := g_1 (first_step="repeat": optax; a start x_{-1} = x_0)
              g_0 := 0   (first_step="zeros": optax before its issue 1082 was fixed)
    theta_t = theta_{t-1} - eta_t u_t                    (OG2)

alpha = beta = 1 is optimistic gradient descent(-ascent), theta_t = theta_{t-1} - 2 eta g_t +
eta g_{t-1}; beta = 0 is gradient descent with step alpha eta.

Conventions:
    * With "repeat" the first step is theta_0 - eta alpha g_1, computed as (alpha + beta) g_1 -
      beta g_1 (optax's expression; it equals alpha g_1 up to rounding).
    * eta_t is ``lr`` or ``lr(t - 1)`` for a schedule.
    * Extragradient and optimism are not discussed in the lecture notes.

References:
    Mokhtari, A., Ozdaglar, A. and Pattathil, S. (2020). A Unified Analysis of Extra-gradient and
    Optimistic Gradient Methods for Saddle Point Problems: Proximal Point Approach. AISTATS.
    Daskalakis, C., Ilyas, A., Syrgkanis, V. and Zeng, H. (2018). Training GANs with Optimism. ICLR.
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from typing import ClassVar, Literal

import autograd.numpy as anp

from .._core import lr_at, optimizer
from .._hyper import LR, Hyperparams, OneOf, Real, hp, required
from .._types import Array, LearningRate

FirstStep = Literal["repeat", "zeros"]
FIRST_STEP = OneOf(("repeat", "zeros"))
REAL = Real()  # any finite number: optax does not restrict alpha and beta


@dataclass(frozen=True, eq=False)
class OptimisticGDHyperparams(Hyperparams):
    """Optimistic gradient descent's hyperparameters (optax.optimistic_gradient_descent's defaults)."""

    ALGORITHM: ClassVar[str] = "optimistic_gd"
    lr: LearningRate = required(LR, "step size eta of (OG2), or a schedule t -> eta_t")
    _: KW_ONLY
    alpha: float = hp(1.0, REAL, "weight of the current gradient in (OG1) (the step is alpha eta)")
    beta: float = hp(1.0, REAL, "optimism: weight of the gradient difference g_t - g_{t-1}, (OG1)")
    first_step: FirstStep = hp(
        "repeat",
        FIRST_STEP,
        'g_0 of (OG1): "repeat" g_0 = g_1 (optax), "zeros" g_0 = 0 (optax before 2024-10)',
    )


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class OptimisticGDState:
    """Optimistic gradient descent's state after ``t`` steps."""

    params: Array  # theta_t
    g_prev: Array  # g_t, the gradient of the last step (0 before the first)
    t: int  # completed steps


def init(params: Array) -> OptimisticGDState:
    """theta_0 = params, g_prev = 0, t = 0."""
    return OptimisticGDState(params=params, g_prev=anp.zeros_like(params), t=0)


def step(
    state: OptimisticGDState,
    grad: Array,
    *,
    lr: LearningRate,
    alpha: float,
    beta: float,
    first_step: FirstStep = "repeat",
) -> OptimisticGDState:
    """One optimistic step, eqs. (OG1)-(OG2) of specs/optimistic_gd.md."""
    eta = lr_at(lr, state.t)
    prev = grad if state.t == 0 and first_step == "repeat" else state.g_prev
    u = (alpha + beta) * grad - beta * prev  # (OG1)  optax's expression
    theta = state.params + (-eta) * u  # (OG2)  optax: params + (-lr) u
    return OptimisticGDState(params=theta, g_prev=grad, t=state.t + 1)


optimistic_gd = optimizer(
    OptimisticGDHyperparams, init, step, "Optimistic gradient descent; see specs/optimistic_gd.md."
)

r"""AdaDelta (Zeiler 2012, Algorithm 1). Spec: specs/adadelta.md, eqs. (AD1)-(AD5).

Update rule, for t = 1, 2, ... (t counts completed steps after this one):

    g_t      = g_t + lambda theta_{t-1}                              (AD1)  coupled L2, if weight_decay > 0
    v_t      = rho v_{t-1} + (1 - rho) g_t^2                         (AD2)  E[g^2]_t
    delta_t  = sqrt(u_{t-1} + eps) / sqrt(v_t + eps) g_t             (AD3)  the unit-corrected step
    u_t      = rho u_{t-1} + (1 - rho) delta_t^2                     (AD4)  E[dx^2]_t, of the unscaled step
    theta_t  = theta_{t-1} - eta_t delta_t                           (AD5)

Conventions:
    * eta = 1 is Zeiler's method, which has no learning rate; torch added ``lr`` (default 1.0) and
      so does this module. u accumulates the step before the lr scaling (torch and optax).
    * Defaults are torch's: rho = 0.9, eps = 1e-6 inside both square roots. optax.adadelta has the
      same rule but ``learning_rate=None`` by default, which skips the sign flip: it ascends.
    * eta_t is ``lr`` or ``lr(t - 1)`` for a schedule.

References:
    Zeiler, M. D. (2012). ADADELTA: An Adaptive Learning Rate Method. arXiv:1212.5701, Alg. 1.
    Note 004 ("AdaDelta").
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from typing import ClassVar

import autograd.numpy as anp

from .._core import lr_at, optimizer
from .._hyper import LR, NONNEGATIVE, POSITIVE, UNIT, Hyperparams, hp
from .._types import Array, LearningRate


@dataclass(frozen=True, eq=False)
class AdadeltaHyperparams(Hyperparams):
    """AdaDelta's hyperparameters (torch's defaults; lr = 1 is Zeiler's method, which has none)."""

    ALGORITHM: ClassVar[str] = "adadelta"
    lr: LearningRate = hp(1.0, LR, "step size eta of (AD5), or a schedule t -> eta_t; 1.0 is Zeiler's method")
    _: KW_ONLY
    rho: float = hp(0.9, UNIT, "EMA coefficient of (AD2) and (AD4)")
    eps: float = hp(
        1e-6,
        POSITIVE,
        "added inside both square roots of (AD3); > 0 because with eps = 0 "
        "u stays 0 and every step is 0: eps is what starts AdaDelta",
    )
    weight_decay: float = hp(0.0, NONNEGATIVE, "coupled L2 coefficient lambda of (AD1)")


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class AdadeltaState:
    """AdaDelta's state after ``t`` steps."""

    params: Array  # theta_t
    v: Array  # EMA of squared gradients E[g^2]_t
    u: Array  # EMA of squared steps E[dx^2]_t
    t: int  # completed steps


def init(params: Array) -> AdadeltaState:
    """v_0 = u_0 = 0, t = 0."""
    zeros = anp.zeros_like(params)
    return AdadeltaState(params=params, v=zeros, u=zeros, t=0)


def step(
    state: AdadeltaState,
    grad: Array,
    *,
    lr: LearningRate,
    rho: float,
    eps: float,
    weight_decay: float = 0.0,
) -> AdadeltaState:
    """One AdaDelta step, eqs. (AD1)-(AD5) of specs/adadelta.md."""
    theta = state.params
    eta = lr_at(lr, state.t)
    g = grad + weight_decay * theta if weight_decay else grad  # (AD1)
    v = rho * state.v + (1 - rho) * g * g  # (AD2)
    delta = anp.sqrt(state.u + eps) / anp.sqrt(v + eps) * g  # (AD3)
    u = rho * state.u + (1 - rho) * delta * delta  # (AD4)
    theta = theta - eta * delta  # (AD5)
    return AdadeltaState(params=theta, v=v, u=u, t=state.t + 1)


adadelta = optimizer(
    AdadeltaHyperparams, init, step, "AdaDelta; see the module docstring and specs/adadelta.md."
)

r"""signSGD and Signum (Bernstein et al. 2018). Spec: specs/signsgd.md, eqs. (SG1)-(SG3).

Update rule, for t = 1, 2, ... (t counts completed steps after this one), m_0 = 0:

    g_t     = g_t + lambda theta_{t-1}                (SG1)  coupled L2, if weight_decay > 0
    m_t     = beta m_{t-1} + (1 - beta) g_t           (SG2)  Signum, if momentum beta > 0
    theta_t = theta_{t-1} - eta_t sign(m_t)           (SG3)  (m_t = g_t when beta = 0: signSGD)

Every coordinate whose m_t is non-zero moves by exactly eta_t, whatever the size of the gradient:
the step is invariant to any positive rescaling of the gradient stream (note 002 section 3.2.2:
"normalizes magnitude but causes chattering"). sign(0) = 0, so a coordinate with m_t = 0 stays.

Conventions:
    * Signum's EMA is not bias-corrected (the sign of m_t / (1 - beta^t) is the sign of m_t).
    * Weight decay is coupled: it enters the sign (optax's add_decayed_weights before the sign).
    * sign has derivative 0 almost everywhere; autograd differentiates through the steps (with
      respect to lr and theta_0) treating the signs as constants.
    * eta_t is ``lr`` or ``lr(t - 1)`` for a schedule (t - 1 completed steps before this one).

References:
    Bernstein, J., Wang, Y.-X., Azizzadenesheli, K. and Anandkumar, A. (2018). signSGD:
        Compressed Optimisation for Non-Convex Problems. ICML.
    Note 002 section 3.2.2, eq. (12).
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from typing import ClassVar

import autograd.numpy as anp

from .._core import lr_at, optimizer
from .._hyper import LR, NONNEGATIVE, UNIT, Hyperparams, hp, required
from .._types import Array, LearningRate


@dataclass(frozen=True, eq=False)
class SignSGDHyperparams(Hyperparams):
    """signSGD's hyperparameters (momentum = 0, note 002 eq. (12)); momentum > 0 is Signum."""

    ALGORITHM: ClassVar[str] = "signsgd"
    lr: LearningRate = required(
        LR, "step size eta of (SG3), or a schedule t -> eta_t; every coordinate moves by exactly eta_t"
    )
    _: KW_ONLY
    momentum: float = hp(0.0, UNIT, "Signum's EMA coefficient beta of (SG2); 0 is signSGD")
    weight_decay: float = hp(0.0, NONNEGATIVE, "coupled L2 coefficient lambda of (SG1); it enters the sign")


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class SignSGDState:
    """signSGD's state after ``t`` steps."""

    params: Array  # theta_t
    m: Array | None  # Signum's EMA m_t (None for signSGD, momentum = 0)
    t: int  # completed steps


def init(params: Array, *, momentum: float = 0.0) -> SignSGDState:
    """m_0 = 0 (only with momentum > 0), t = 0."""
    return SignSGDState(params=params, m=anp.zeros_like(params) if momentum else None, t=0)


def step(
    state: SignSGDState,
    grad: Array,
    *,
    lr: LearningRate,
    momentum: float = 0.0,
    weight_decay: float = 0.0,
) -> SignSGDState:
    """One signSGD / Signum step, eqs. (SG1)-(SG3) of specs/signsgd.md."""
    theta = state.params
    eta = lr_at(lr, state.t)
    g = grad + weight_decay * theta if weight_decay else grad  # (SG1)
    m = state.m
    if momentum:
        if m is None:
            raise ValueError(
                "signsgd: momentum > 0 needs a state from init(params, momentum=...) with the same "
                "momentum; this state has no m (it was made with momentum = 0)"
            )
        m = momentum * m + (1 - momentum) * g  # (SG2)
        direction = m
    else:
        direction = g
    theta = theta - eta * anp.sign(direction)  # (SG3)
    return SignSGDState(params=theta, m=m, t=state.t + 1)


signsgd = optimizer(
    SignSGDHyperparams,
    init,
    step,
    "signSGD (momentum = 0) or Signum (momentum > 0); see the module docstring and specs/signsgd.md.",
)

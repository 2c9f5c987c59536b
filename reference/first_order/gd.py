r"""Gradient descent (Cauchy 1847). Spec: specs/gd.md, eqs. (GD1)-(GD2).

    g_t     = g_t + lambda theta_{t-1}          (GD1)  coupled L2, if weight_decay > 0
    theta_t = theta_{t-1} - eta_t g_t           (GD2)

``g_t`` is the full gradient of the objective at theta_{t-1}; the same step driven by a minibatch
gradient is ``sgd`` (reference/first_order/sgd.py). eta_t is ``lr`` or ``lr(t - 1)`` for a schedule.

References:
    Note 002, section 2.2, eq. (3); note 003 ("Gradient Descent"); note 004 ("Gradient Descent").
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from typing import ClassVar

from .._core import lr_at, optimizer
from .._hyper import LR, NONNEGATIVE, Hyperparams, hp, required
from .._types import Array, LearningRate
from ._fused import descend


@dataclass(frozen=True, eq=False)
class GDHyperparams(Hyperparams):
    """Gradient descent's hyperparameters."""

    ALGORITHM: ClassVar[str] = "gd"
    lr: LearningRate = required(LR, "step size eta of (GD2), or a schedule t -> eta_t")
    _: KW_ONLY
    weight_decay: float = hp(0.0, NONNEGATIVE, "coupled L2 coefficient lambda of (GD1)")


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class GDState:
    """Gradient descent keeps only the iterate and the step count."""

    params: Array  # theta_t
    t: int  # completed steps


def init(params: Array) -> GDState:
    """theta_0 = params, t = 0."""
    return GDState(params=params, t=0)


def step(state: GDState, grad: Array, *, lr: LearningRate, weight_decay: float = 0.0) -> GDState:
    """One gradient-descent step, eqs. (GD1)-(GD2) of specs/gd.md."""
    theta = state.params
    eta = lr_at(lr, state.t)
    g = grad + weight_decay * theta if weight_decay else grad  # (GD1)
    theta = descend(theta, eta, g)  # (GD2)  theta - eta g, fused: see _fused.py
    return GDState(params=theta, t=state.t + 1)


gd = optimizer(GDHyperparams, init, step, "Gradient descent; see the module docstring and specs/gd.md.")

r"""Gradient descent (Cauchy 1847). Spec: specs/gd.md, eqs. (GD1)-(GD2).

    g_t     = g_t + lambda theta_{t-1}          (GD1)  coupled L2, if weight_decay > 0
    theta_t = theta_{t-1} - eta_t g_t           (GD2)

``g_t`` is the full gradient of the objective at theta_{t-1}; the same step driven by a minibatch
gradient is ``sgd`` (reference/sgd.py). eta_t is ``lr`` or ``lr(t - 1)`` for a schedule.

References:
    Seed 002, section 2.2, eq. (3); seed 003 ("Gradient Descent"); seed 004 ("Gradient Descent").
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from ._core import Optimizer, check_lr, check_nonnegative, lr_at
from ._types import Array, LearningRate


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
    theta = theta - eta * g  # (GD2)
    return GDState(params=theta, t=state.t + 1)


def gd(lr: LearningRate, *, weight_decay: float = 0.0) -> Optimizer[GDState]:
    """Gradient descent with step size ``lr`` (float > 0 or schedule) and coupled L2 ``weight_decay``."""
    check_lr("gd", lr)
    check_nonnegative("gd", "weight_decay", weight_decay)
    step_fn = partial(step, lr=lr, weight_decay=weight_decay)
    return Optimizer(name="gd", hyperparams=dict(step_fn.keywords), init_fn=init, step_fn=step_fn)

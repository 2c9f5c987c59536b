r"""AdaGrad (Duchi, Hazan & Singer 2011, diagonal form). Spec: specs/adagrad.md, eqs. (AG1)-(AG4).

Update rule, for t = 1, 2, ... (t counts completed steps after this one):

    g_t     = g_t + lambda theta_{t-1}                        (AG1)  coupled L2, if weight_decay > 0
    s_t     = s_{t-1} + g_t^2,   s_0 = initial_accumulator_value     (AG2)
    eta'_t  = eta_t / (1 + (t - 1) lr_decay)                  (AG3)  torch's lr_decay
    theta_t = theta_{t-1} - eta'_t g_t / (sqrt(s_t) + eps)    (AG4)  eps_placement="outside" (torch)
            = theta_{t-1} - eta'_t g_t / sqrt(s_t + eps)             eps_placement="inside" (optax, seed 004)

Conventions:
    * The defaults are torch.optim.Adagrad's: eps = 1e-10 outside the square root, s_0 = 0,
      lr = 1e-2. optax.adagrad puts eps = 1e-7 inside and starts at s_0 = 0.1 (specs/adagrad.md).
    * The effective per-coordinate step eta'_t / (sqrt(s_t) + eps) never increases with a constant
      lr: s_t is a running sum, the property AdaGrad is known for (and the one RMSprop removes).
    * eta_t is ``lr`` or ``lr(t - 1)`` for a schedule; lr_decay multiplies on top, as in torch.

References:
    Duchi, J., Hazan, E. and Singer, Y. (2011). Adaptive Subgradient Methods for Online Learning and
    Stochastic Optimization. JMLR 12. Seed 004 ("AdaGrad"); seed 001 ("The Adaptive Paradigm").
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Literal

import autograd.numpy as anp

from .._core import Optimizer, check_choice, check_lr, check_nonnegative, lr_at
from .._types import Array, LearningRate

EpsPlacement = Literal["outside", "inside"]


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class AdagradState:
    """AdaGrad's state after ``t`` steps."""

    params: Array  # theta_t
    s: Array  # running sum of squared gradients s_t
    t: int  # completed steps


def init(params: Array, *, initial_accumulator_value: float = 0.0) -> AdagradState:
    """s_0 = initial_accumulator_value (elementwise), t = 0."""
    s = anp.zeros_like(params) + initial_accumulator_value
    return AdagradState(params=params, s=s, t=0)


def step(
    state: AdagradState,
    grad: Array,
    *,
    lr: LearningRate,
    eps: float,
    eps_placement: EpsPlacement = "outside",
    lr_decay: float = 0.0,
    weight_decay: float = 0.0,
) -> AdagradState:
    """One AdaGrad step, eqs. (AG1)-(AG4) of specs/adagrad.md."""
    theta, t = state.params, state.t + 1
    g = grad + weight_decay * theta if weight_decay else grad  # (AG1)
    s = state.s + g * g  # (AG2)
    eta = lr_at(lr, state.t) / (1 + (t - 1) * lr_decay)  # (AG3)
    if eps_placement == "outside":
        theta = theta - eta * g / (anp.sqrt(s) + eps)  # (AG4)
    else:
        theta = theta - eta * g / anp.sqrt(s + eps)  # (AG4)
    return AdagradState(params=theta, s=s, t=t)


def adagrad(
    lr: LearningRate = 1e-2,
    *,
    eps: float = 1e-10,
    eps_placement: EpsPlacement = "outside",
    initial_accumulator_value: float = 0.0,
    lr_decay: float = 0.0,
    weight_decay: float = 0.0,
) -> Optimizer[AdagradState]:
    """AdaGrad with hyperparameters bound; see the module docstring and specs/adagrad.md.

    Args:
        lr: eta, a float > 0 or a schedule t -> eta_t.
        eps: denominator guard, >= 0. With eps = 0 (or inside with s = 0) a coordinate whose
            accumulator is still 0 gives 0/0 (NaN, with numpy's RuntimeWarning).
        eps_placement: "outside" the square root (torch) or "inside" (optax's scale_by_rss).
        initial_accumulator_value: s_0, >= 0 (torch 0, optax 0.1).
        lr_decay: torch's eta / (1 + (t - 1) lr_decay), >= 0.
        weight_decay: coupled L2 coefficient lambda of (AG1), >= 0.
    """
    name = "adagrad"
    check_lr(name, lr)
    check_nonnegative(name, "eps", eps)
    check_choice(name, "eps_placement", eps_placement, ("outside", "inside"))
    check_nonnegative(name, "initial_accumulator_value", initial_accumulator_value)
    check_nonnegative(name, "lr_decay", lr_decay)
    check_nonnegative(name, "weight_decay", weight_decay)
    step_fn = partial(
        step, lr=lr, eps=eps, eps_placement=eps_placement, lr_decay=lr_decay,
        weight_decay=weight_decay,
    )  # fmt: skip
    return Optimizer(
        name=name,
        hyperparams={**step_fn.keywords, "initial_accumulator_value": initial_accumulator_value},
        init_fn=partial(init, initial_accumulator_value=initial_accumulator_value),
        step_fn=step_fn,
    )

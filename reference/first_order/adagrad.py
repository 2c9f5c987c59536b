r"""AdaGrad (Duchi, Hazan & Singer 2011, diagonal form). Spec: specs/adagrad.md, eqs. (AG1)-(AG4).

Update rule, for t = 1, 2, ... (t counts completed steps after this one):

    g_t     = g_t + lambda theta_{t-1}                        (AG1)  coupled L2, if weight_decay > 0
    s_t     = s_{t-1} + g_t^2,   s_0 = initial_accumulator_value     (AG2)
    eta'_t  = eta_t / (1 + (t - 1) lr_decay)                  (AG3)  torch's lr_decay
    theta_t = theta_{t-1} - eta'_t g_t / (sqrt(s_t) + eps)    (AG4)  eps_placement="outside" (torch)
            = theta_{t-1} - eta'_t g_t / sqrt(s_t + eps)             eps_placement="inside" (optax, note 004)

Conventions:
    * The defaults are torch.optim.Adagrad's: eps = 1e-10 outside the square root, s_0 = 0,
      lr = 1e-2. optax.adagrad puts eps = 1e-7 inside and starts at s_0 = 0.1 (specs/adagrad.md).
    * The effective per-coordinate step eta'_t / (sqrt(s_t) + eps) never increases with a constant
      lr: s_t is a running sum, the property AdaGrad is known for (and the one RMSprop removes).
    * eta_t is ``lr`` or ``lr(t - 1)`` for a schedule; lr_decay multiplies on top, as in torch.

References:
    Duchi, J., Hazan, E. and Singer, Y. (2011). Adaptive Subgradient Methods for Online Learning and
    Stochastic Optimization. JMLR 12. Note 004 ("AdaGrad"); note 001 ("The Adaptive Paradigm").
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from typing import ClassVar, Literal

import autograd.numpy as anp

from .._core import lr_at, optimizer
from .._hyper import LR, NONNEGATIVE, Hyperparams, OneOf, hp
from .._types import Array, LearningRate

EpsPlacement = Literal["outside", "inside"]


@dataclass(frozen=True, eq=False)
class AdagradHyperparams(Hyperparams):
    """AdaGrad's hyperparameters (torch.optim.Adagrad's defaults; optax's in specs/adagrad.md)."""

    ALGORITHM: ClassVar[str] = "adagrad"
    lr: LearningRate = hp(1e-2, LR, "step size eta of (AG3), or a schedule t -> eta_t")
    _: KW_ONLY
    eps: float = hp(
        1e-10,
        NONNEGATIVE,
        "denominator guard of (AG4); with eps = 0 (or inside with s = 0) a "
        "coordinate whose accumulator is still 0 gives 0/0",
    )
    eps_placement: EpsPlacement = hp(
        "outside",
        OneOf(("outside", "inside")),
        '(AG4): "outside" the square root (torch) or "inside" (optax, note 004)',
    )
    initial_accumulator_value: float = hp(0.0, NONNEGATIVE, "s_0 of (AG2) (torch 0, optax 0.1)")
    lr_decay: float = hp(0.0, NONNEGATIVE, "delta of (AG3), torch's eta / (1 + (t - 1) delta)")
    weight_decay: float = hp(0.0, NONNEGATIVE, "coupled L2 coefficient lambda of (AG1)")


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


adagrad = optimizer(AdagradHyperparams, init, step, "AdaGrad; see the module docstring and specs/adagrad.md.")

r"""NAdam: Adam with Nesterov momentum (Dozat 2016). Spec: specs/nadam.md, eqs. (NA1)-(NA6).

Update rule, for t = 1, 2, ... (t counts completed steps after this one), g_t the gradient:

    g_t <- g_t + lambda theta_{t-1}                     (NA1)  weight_decay, coupled (torch's default)
    theta_{t-1} <- (1 - eta_t lambda) theta_{t-1}               decoupled_weight_decay=True
    mu_t = beta1 (1 - 0.5 * 0.96^(t psi))               (NA2)  mu_schedule=True (torch, Keras)
    mu_t = beta1                                               mu_schedule=False (optax)
    Pi_t = Pi_{t-1} mu_t,  Pi_0 = 1                      (NA3)  (= beta1^t without the schedule)
    m_t = beta1 m_{t-1} + (1 - beta1) g_t                (NA4)
    v_t = beta2 v_{t-1} + (1 - beta2) g_t^2              (NA5)
    theta_t = theta_{t-1} - eta_t [ (1 - mu_t)/(1 - Pi_t) g_t
              + mu_{t+1}/(1 - Pi_t mu_{t+1}) m_t ] / (sqrt(v_t/(1 - beta2^t) + eps_root) + eps)   (NA6)

Conventions:
    * The moment EMA (NA4) uses beta1, the schedule mu_t only weighs the two terms of (NA6)
      (torch.optim.NAdam, Keras Nadam). Without the schedule (NA6) is optax.nadam's
      beta1 m_t/(1 - beta1^(t+1)) + (1 - beta1) g_t/(1 - beta1^t).
    * torch keeps Pi_t in a float32 scalar tensor (its default scalar dtype): each product is
      rounded to float32, Pi_t = fl32(fl32(Pi_{t-1}) fl32(mu_t)). ``mu_product_dtype="float32"``
      reproduces it; the mu's themselves and the rest of the step stay float64.
    * eta_t is ``lr`` or ``lr(t - 1)`` for a schedule.

References:
    Dozat, T. (2016). Incorporating Nesterov Momentum into Adam. ICLR workshop.
    Note 001, "Adam: Complete Algorithm" (the Adam this modifies).
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from typing import Any, ClassVar, Literal

import autograd.numpy as anp
import numpy as np
from autograd.tracer import getval

from .._core import lr_at, optimizer
from .._hyper import FLAG, LR, NONNEGATIVE, UNIT, Hyperparams, OneOf, hp
from .._types import Array, LearningRate
from ._fused import ema, ema_sq

MuProductDtype = Literal["float64", "float32"]


@dataclass(frozen=True, eq=False)
class NAdamHyperparams(Hyperparams):
    """NAdam's hyperparameters (torch.optim.NAdam's defaults)."""

    ALGORITHM: ClassVar[str] = "nadam"
    lr: LearningRate = hp(2e-3, LR, "step size eta of (NA6), or a schedule t -> eta_t")
    _: KW_ONLY
    beta1: float = hp(0.9, UNIT, "EMA coefficient of the first moment (NA4) and scale of mu_t (NA2)")
    beta2: float = hp(0.999, UNIT, "EMA coefficient of the second moment, (NA5)")
    eps: float = hp(1e-8, NONNEGATIVE, "added to the square root in (NA6)")
    eps_root: float = hp(0.0, NONNEGATIVE, "added inside the square root of (NA6) (optax)")
    weight_decay: float = hp(0.0, NONNEGATIVE, "decay coefficient lambda of (NA1)")
    decoupled_weight_decay: bool = hp(
        False,
        FLAG,
        "True: theta <- (1 - eta lambda) theta before the step "
        "(torch's decoupled_weight_decay, optax.nadamw); False: g += lambda theta",
    )
    momentum_decay: float = hp(
        4e-3, NONNEGATIVE, "psi of the schedule mu_t = beta1 (1 - 0.5 * 0.96^(t psi)), (NA2)"
    )
    mu_schedule: bool = hp(True, FLAG, "True: mu_t of (NA2) (torch, Keras); False: mu_t = beta1 (optax)")
    mu_product_dtype: MuProductDtype = hp(
        "float64", OneOf(("float64", "float32")), "precision of the product Pi_t of (NA3); torch's is float32"
    )


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class NAdamState:
    """NAdam's state after ``t`` steps."""

    params: Array  # theta_t
    m: Array  # first-moment EMA m_t
    v: Array  # second-moment EMA v_t
    mu_product: Any  # Pi_t, the product mu_1 ... mu_t (a scalar)
    t: int  # completed steps


def init(params: Array) -> NAdamState:
    """m_0 = v_0 = 0, Pi_0 = 1, t = 0."""
    zeros = anp.zeros_like(params)
    return NAdamState(params=params, m=zeros, v=zeros, mu_product=1.0, t=0)


def mu_at(t: int, *, beta1: Any, momentum_decay: float, mu_schedule: bool) -> Any:
    """mu_t of (NA2): beta1 (1 - 0.5 * 0.96^(t psi)), or beta1 without the schedule."""
    return beta1 * (1.0 - 0.5 * 0.96 ** (t * momentum_decay)) if mu_schedule else beta1


def _product(prev: Any, mu: Any, t: int, beta1: Any, mu_schedule: bool, dtype: MuProductDtype) -> Any:
    """Pi_t of (NA3) in the precision ``dtype`` (float32: torch's rounding of each product)."""
    if dtype == "float32":
        return float(np.float32(np.float32(getval(prev)) * np.float32(getval(mu))))
    return prev * mu if mu_schedule else beta1**t


def step(
    state: NAdamState,
    grad: Array,
    *,
    lr: LearningRate,
    beta1: float,
    beta2: float,
    eps: float,
    eps_root: float = 0.0,
    weight_decay: float = 0.0,
    decoupled_weight_decay: bool = False,
    momentum_decay: float = 4e-3,
    mu_schedule: bool = True,
    mu_product_dtype: MuProductDtype = "float64",
) -> NAdamState:
    """One NAdam step, eqs. (NA1)-(NA6) of specs/nadam.md."""
    theta, t = state.params, state.t + 1
    eta = lr_at(lr, state.t)
    g = grad
    if weight_decay and decoupled_weight_decay:
        theta = theta * (1 - eta * weight_decay)  # (NA1)  torch's param.mul_(1 - lr wd)
    elif weight_decay:
        g = grad + weight_decay * theta  # (NA1)
    mu = mu_at(t, beta1=beta1, momentum_decay=momentum_decay, mu_schedule=mu_schedule)  # (NA2)
    mu_next = mu_at(t + 1, beta1=beta1, momentum_decay=momentum_decay, mu_schedule=mu_schedule)
    prod = _product(state.mu_product, mu, t, beta1, mu_schedule, mu_product_dtype)  # (NA3)
    m = ema(state.m, g, beta1)  # (NA4)  beta1 m + (1 - beta1) g
    v = ema_sq(state.v, g, beta2)  # (NA5)  beta2 v + (1 - beta2) g g
    vhat = v / (1 - beta2**t)
    denom = (anp.sqrt(vhat + eps_root) if eps_root else anp.sqrt(vhat)) + eps
    if not mu_schedule:  # optax's order: beta1 m/(1 - beta1^(t+1)) + (1 - beta1) g/(1 - beta1^t)
        mbar = beta1 * (m / (1 - beta1 ** (t + 1))) + (1 - beta1) * (g / (1 - beta1**t))
        theta = theta + (-eta) * (mbar / denom)  # (NA6)
        return NAdamState(params=theta, m=m, v=v, mu_product=prod, t=t)
    c_g = -eta * (1.0 - mu) / (1.0 - prod)
    c_m = -eta * mu_next / (1.0 - prod * mu_next)
    theta = theta + c_g * (g / denom) + c_m * (m / denom)  # (NA6)  torch's two addcdiv's, in its order
    return NAdamState(params=theta, m=m, v=v, mu_product=prod, t=t)


nadam = optimizer(NAdamHyperparams, init, step, "NAdam; see the module docstring and specs/nadam.md.")

r"""ASGD, averaged stochastic gradient descent (Polyak & Juditsky 1992; the schedules of Bottou 2012,
as torch.optim.ASGD). Spec: specs/asgd.md, eqs. (AS1)-(AS5).

For t = 1, 2, ... (t - 1 completed steps before this one), g_t the gradient:

    eta_t   = lr / (1 + lambda lr (t - 1))^alpha                     (AS1)
    mu_t    = 1 / max(1, t - 1 - t0)                                 (AS2)
    g_t    <- g_t + wd theta_{t-1}                                   (AS3)  if weight_decay > 0
    theta_t = (1 - lambda eta_t) theta_{t-1} - eta_t g_t             (AS4)
    a_t     = a_{t-1} + mu_t (theta_t - a_{t-1})   (a_t = theta_t where mu_t = 1)   (AS5)

``state.params`` is the raw iterate theta_t (what torch leaves in the parameters and what the
gradient is taken at); ``state.ax`` is the average a_t (torch's ``state["ax"]``), the point the
convergence theory is about.

Conventions:
    * torch keeps eta_t and mu_t in scalar tensors of its default dtype: float32 unless the default
      is float64, whatever the parameters' dtype. ``schedule_dtype="float32"`` rounds them so.
    * With t0 = 0, mu = 1, 1, 1/2, 1/3, ...: a_t is the mean of theta_2 ... theta_t (Bottou's formula,
      torch); theta_1 is left out.

References:
    Polyak, B. T. and Juditsky, A. B. (1992). Acceleration of stochastic approximation by averaging.
    SIAM J. Control and Optimization 30(4).
    Bottou, L. (2012). Stochastic gradient descent tricks. Neural Networks: Tricks of the Trade, 2nd ed.
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from typing import Any, ClassVar, Literal

import autograd.numpy as anp
import numpy as np
from autograd.tracer import getval

from .._core import optimizer
from .._hyper import NONNEGATIVE, POSITIVE, Hyperparams, OneOf, hp
from .._types import Array

ScheduleDtype = Literal["float64", "float32"]


@dataclass(frozen=True, eq=False)
class AsgdHyperparams(Hyperparams):
    """ASGD's hyperparameters (torch.optim.ASGD's defaults; alpha = 3/4 is Bottou's)."""

    ALGORITHM: ClassVar[str] = "asgd"
    lr: float = hp(1e-2, POSITIVE, "initial step size eta_0 of the schedule (AS1)")
    _: KW_ONLY
    lambd: float = hp(1e-4, NONNEGATIVE, "decay lambda: of the step size (AS1) and of theta (AS4)")
    alpha: float = hp(0.75, NONNEGATIVE, "power of the step-size decay, (AS1)")
    t0: float = hp(1e6, NONNEGATIVE, "number of steps before the averaging starts, (AS2)")
    weight_decay: float = hp(0.0, NONNEGATIVE, "coupled L2 coefficient wd of (AS3)")
    schedule_dtype: ScheduleDtype = hp(
        "float64", OneOf(("float64", "float32")), "precision of eta_t and mu_t; torch's is float32"
    )


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class AsgdState:
    """ASGD's state after ``t`` steps."""

    params: Array  # theta_t, the raw iterate
    ax: Array  # a_t, the averaged iterate
    t: int  # completed steps


def init(params: Array) -> AsgdState:
    """a_0 = 0 (torch's zeros; a_1 = theta_1 overwrites it), t = 0."""
    return AsgdState(params=params, ax=anp.zeros_like(params), t=0)


def _rounded(x: Any, dtype: ScheduleDtype) -> Any:
    """``x`` as torch stores it in a scalar tensor of ``dtype`` (float32: not differentiable)."""
    return float(np.float32(getval(x))) if dtype == "float32" else x


def step(
    state: AsgdState,
    grad: Array,
    *,
    lr: float,
    lambd: float,
    alpha: float,
    t0: float,
    weight_decay: float = 0.0,
    schedule_dtype: ScheduleDtype = "float64",
) -> AsgdState:
    """One ASGD step, eqs. (AS1)-(AS5) of specs/asgd.md."""
    done = state.t
    eta = _rounded(lr / (1 + lambd * lr * done) ** alpha, schedule_dtype)  # (AS1)
    mu = _rounded(1.0 / max(1.0, done - t0), schedule_dtype)  # (AS2)
    theta = state.params
    g = grad + weight_decay * theta if weight_decay else grad  # (AS3)
    theta = theta * (1 - lambd * eta) + (-eta) * g  # (AS4)
    ax = theta if mu == 1 else state.ax + mu * (theta - state.ax)  # (AS5)
    return AsgdState(params=theta, ax=ax, t=done + 1)


asgd = optimizer(AsgdHyperparams, init, step, "ASGD; see the module docstring and specs/asgd.md.")

r"""FISTA: accelerated proximal gradient (Beck & Teboulle 2009). Spec: specs/fista.md, (F1)-(F4).

The gradient fed to each step is grad f at the extrapolated point y_t = ``opt.query(state)``
(not at the iterate); the L1 term enters through soft-thresholding, as in ``prox_grad``:

    y_0     = theta_0,  s_0 = 1                                                     (F1)
    theta_t = prox_{eta_t lambda ||.||_1}(y_{t-1} - eta_t grad f(y_{t-1}))        (F2)
    s_t     = (1 + sqrt(1 + 4 s_{t-1}^2)) / 2                                       (F3)
    y_t     = theta_t + ((s_{t-1} - 1) / s_t) (theta_t - theta_{t-1})               (F4)

For f L-smooth and eta = 1/L the composite objective gap is at most 2 L ||theta_0 - theta*||^2 /
(t + 1)^2 (Beck & Teboulle Thm. 4.4), against ISTA's O(1/t). The paper's t_k is ``s`` here
because ``t`` counts steps throughout the package.

Conventions:
    * ``l1`` is lambda of f + lambda ||theta||_1, as in ``prox_grad``; l1 = 0 gives Nesterov's
      accelerated gradient in the (s_t) form of Beck & Teboulle.
    * The function value is not monotone (no restart; the monotone variant MFISTA is not here).

References:
    Beck, A. and Teboulle, M. (2009). A fast iterative shrinkage-thresholding algorithm for linear
        inverse problems. SIAM J. Imaging Sci. 2, section 4 (FISTA with constant step).
    Note 004 ("Proximal Gradient Descent").
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from typing import ClassVar

import autograd.numpy as anp

from .._core import lr_at, optimizer
from .._hyper import LR, NONNEGATIVE, Hyperparams, hp, required
from .._types import Array, LearningRate
from .prox_grad import soft_threshold


@dataclass(frozen=True, eq=False)
class FISTAHyperparams(Hyperparams):
    """FISTA's hyperparameters (l1 = 0: Nesterov's accelerated gradient in Beck & Teboulle's form)."""

    ALGORITHM: ClassVar[str] = "fista"
    lr: LearningRate = required(LR, "step size eta of (F2), or a schedule t -> eta_t (1/L in the paper)")
    _: KW_ONLY
    l1: float = hp(
        0.0, NONNEGATIVE, "lambda of f + lambda ||theta||_1; the threshold of (F2) is eta_t lambda"
    )


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class FISTAState:
    """FISTA's state after ``t`` steps."""

    params: Array  # theta_t
    y: Array  # the extrapolated point y_t, where the next gradient is taken
    s: float  # the momentum sequence s_t (the paper's t_k)
    t: int  # completed steps


def init(params: Array) -> FISTAState:
    """theta_0 = y_0 = params, s_0 = 1, t = 0."""
    return FISTAState(params=params, y=params, s=1.0, t=0)  # (F1)


def step(state: FISTAState, grad: Array, *, lr: LearningRate, l1: float = 0.0) -> FISTAState:
    """One FISTA step; ``grad`` is grad f(y_{t-1}). Eqs. (F2)-(F4) of specs/fista.md."""
    eta = lr_at(lr, state.t)
    theta = soft_threshold(state.y - eta * grad, eta * l1)  # (F2)
    s = (1.0 + anp.sqrt(1.0 + 4.0 * state.s**2)) / 2.0  # (F3)
    y = theta + ((state.s - 1.0) / s) * (theta - state.params)  # (F4)
    return FISTAState(params=theta, y=y, s=s, t=state.t + 1)


def query(state: FISTAState) -> Array:
    """The gradient of f is taken at y_t."""
    return state.y


fista = optimizer(
    FISTAHyperparams,
    init,
    step,
    "FISTA for f + l1 ||theta||_1; feed grad f at opt.query(state) (y_t). "
    "See the module docstring and specs/fista.md.",
    query=query,
)

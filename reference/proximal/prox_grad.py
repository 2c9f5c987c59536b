r"""Proximal gradient descent (ISTA) for f(theta) + lambda ||theta||_1. Spec: specs/prox_grad.md, (PG1)-(PG2).

The gradient fed to each step is that of the smooth part f only; the L1 term enters through its
proximal operator, soft-thresholding:

    z_t     = theta_{t-1} - eta_t grad f(theta_{t-1})                                  (PG1)
    theta_t = prox_{eta_t lambda ||.||_1}(z_t) = sign(z_t) max(|z_t| - eta_t lambda, 0)  (PG2)

prox_g(x) = argmin_z g(z) + 1/2 ||z - x||^2 (note 004). With lambda = 0 this is gradient descent;
for f L-smooth and eta <= 1/L the composite objective decreases monotonically and converges at
rate O(1/t) (Beck & Teboulle 2009, Thm. 3.1).

Conventions:
    * ``l1`` is lambda of the objective f + lambda ||theta||_1 (scikit-learn's Lasso alpha when f
      is (1/(2n)) ||X theta - y||^2); the threshold is eta_t lambda.
    * eta_t is ``lr`` or ``lr(t - 1)`` for a schedule.
    * Written with autograd.numpy: differentiable almost everywhere (the kinks of max at 0 get
      autograd's subgradient choice).

References:
    Combettes, P. L. and Wajs, V. R. (2005). Signal recovery by proximal forward-backward
        splitting. Multiscale Model. Simul. 4.
    Beck, A. and Teboulle, M. (2009). A fast iterative shrinkage-thresholding algorithm for linear
        inverse problems. SIAM J. Imaging Sci. 2 (ISTA, section 2).
    Note 004 ("Proximal Gradient Descent": gradient step on the smooth part, then the proximal
        operator; for L1 it is soft-thresholding).
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from typing import Any, ClassVar

import autograd.numpy as anp

from .._core import lr_at, optimizer
from .._hyper import LR, NONNEGATIVE, Hyperparams, hp, required
from .._types import Array, LearningRate


@dataclass(frozen=True, eq=False)
class ProxGradHyperparams(Hyperparams):
    """Proximal gradient's hyperparameters (l1 = 0: gradient descent)."""

    ALGORITHM: ClassVar[str] = "prox_grad"
    lr: LearningRate = required(LR, "step size eta of (PG1), or a schedule t -> eta_t (eta <= 1/L)")
    _: KW_ONLY
    l1: float = hp(
        0.0, NONNEGATIVE, "lambda of f + lambda ||theta||_1; the threshold of (PG2) is eta_t lambda"
    )


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class ProxGradState:
    """Proximal gradient keeps only the iterate and the step count."""

    params: Array  # theta_t
    t: int  # completed steps


def soft_threshold(z: Any, tau: Any) -> Any:
    """prox of tau ||.||_1: sign(z) max(|z| - tau, 0), elementwise."""
    return anp.sign(z) * anp.maximum(anp.abs(z) - tau, 0.0)


def init(params: Array) -> ProxGradState:
    """theta_0 = params, t = 0."""
    return ProxGradState(params=params, t=0)


def step(state: ProxGradState, grad: Array, *, lr: LearningRate, l1: float = 0.0) -> ProxGradState:
    """One proximal gradient step, eqs. (PG1)-(PG2) of specs/prox_grad.md."""
    eta = lr_at(lr, state.t)
    z = state.params - eta * grad  # (PG1)
    theta = soft_threshold(z, eta * l1)  # (PG2)
    return ProxGradState(params=theta, t=state.t + 1)


prox_grad = optimizer(
    ProxGradHyperparams,
    init,
    step,
    "Proximal gradient (ISTA) for f + l1 ||theta||_1; feed grad f only. "
    "See the module docstring and specs/prox_grad.md.",
)

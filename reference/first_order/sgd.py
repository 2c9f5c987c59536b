r"""Stochastic gradient descent (Robbins & Monro 1951). Spec: specs/sgd.md, eqs. (SGD1)-(SGD2).

    g_t     = (1/b) sum_{i in B_t} grad l_i(theta_{t-1}) + lambda theta_{t-1}   (SGD1)
    theta_t = theta_{t-1} - eta_t g_t                                            (SGD2)

The step is gradient descent's; what makes it SGD is the gradient it is fed, a minibatch average
over B_t, |B_t| = b, drawn with or without replacement. The sampling lives in the problem
(``problem.minibatch_grad(params, rng, b)``) and the driver (``reference.driver.run(...,
batch_size=b)``), never here, so the step stays deterministic. Robbins-Monro convergence needs a
schedule with sum eta_t = inf, sum eta_t^2 < inf, e.g. ``ref.schedules.robbins_monro(c, a=1)``.

References:
    Robbins, H. and Monro, S. (1951). A Stochastic Approximation Method. Ann. Math. Stat.
    Note 000 ("Mini-Batch SGD", "SGD Convergence in a Nutshell"); note 002 section 2.4, eq. (7).
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from typing import ClassVar

from .._core import lr_at, optimizer
from .._hyper import LR, NONNEGATIVE, Hyperparams, hp, required
from .._types import Array, LearningRate
from ._fused import descend


@dataclass(frozen=True, eq=False)
class SGDHyperparams(Hyperparams):
    """SGD's hyperparameters (torch.optim.SGD(lr, weight_decay=wd) and optax.sgd(lr) share the step)."""

    ALGORITHM: ClassVar[str] = "sgd"
    lr: LearningRate = required(LR, "step size eta of (SGD2), or a schedule t -> eta_t (e.g. Robbins-Monro)")
    _: KW_ONLY
    weight_decay: float = hp(0.0, NONNEGATIVE, "coupled L2 coefficient lambda of (SGD1)")


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class SGDState:
    """SGD keeps only the iterate and the step count."""

    params: Array  # theta_t
    t: int  # completed steps


def init(params: Array) -> SGDState:
    """theta_0 = params, t = 0."""
    return SGDState(params=params, t=0)


def step(state: SGDState, grad: Array, *, lr: LearningRate, weight_decay: float = 0.0) -> SGDState:
    """One SGD step on the minibatch gradient ``grad``, eqs. (SGD1)-(SGD2) of specs/sgd.md."""
    theta = state.params
    eta = lr_at(lr, state.t)
    g = grad + weight_decay * theta if weight_decay else grad  # (SGD1)
    theta = descend(theta, eta, g)  # (SGD2)  theta - eta g, fused: see _fused.py
    return SGDState(params=theta, t=state.t + 1)


sgd = optimizer(SGDHyperparams, init, step, "SGD; see the module docstring and specs/sgd.md.")

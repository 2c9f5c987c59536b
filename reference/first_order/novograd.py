r"""NovoGrad: normalized gradients with a per-tensor second moment (Ginsburg et al. 2019).
Spec: specs/novograd.md, eqs. (NG1)-(NG4).

For t = 1, 2, ..., g_t the gradient, per tensor l of ``shapes`` (the whole vector when ``shapes``
is None); v_{t,l} is one number per tensor:

    v_{1,l} = ||g_{1,l}||^2,   v_{t,l} = beta2 v_{t-1,l} + (1 - beta2) ||g_{t,l}||^2           (NG1)
    u_{t,l} = g_{t,l} / (sqrt(v_{t,l} + eps_root) + eps) + lambda theta_{t-1,l}             (NG2)
    m_1 = u_1,   m_t = beta1 m_{t-1} + u_t                                                   (NG3)
    theta_t = theta_{t-1} - eta_t m_t                                                        (NG4)

Conventions:
    * No bias correction: the first step initialises v with ||g_1||^2 and m with u_1 (the paper's
      Algorithm 1, optax). The first moment accumulates u without a (1 - beta1) factor.
    * Weight decay is added after the normalisation (decoupled from the second moment).
    * eta_t is ``lr`` or ``lr(t - 1)`` for a schedule.

References:
    Ginsburg, B., Castonguay, P., Hrinchuk, O., Kuchaiev, O., Lavrukhin, V., Leary, R., Li, J.,
    Nguyen, H., Zhang, Y. and Cohen, J. M. (2019). Stochastic Gradient Methods with Layer-wise
    Adaptive Moments for Training of Deep Networks. arXiv:1905.11286. Algorithm 1.
    Note 001, "Adam: Complete Algorithm" (the Adam this modifies).
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from typing import ClassVar

import autograd.numpy as anp

from .._core import lr_at, optimizer
from .._hyper import LR, NONNEGATIVE, UNIT, Hyperparams, as_shapes, hp, optional, required
from .._types import Array, LearningRate
from ..problems.layout import Shapes
from ._layerwise import SHAPES_DOC, SHAPES_RANGE, blocks, check_layout, join, norm


@dataclass(frozen=True, eq=False)
class NovoGradHyperparams(Hyperparams):
    """NovoGrad's hyperparameters (optax.novograd's defaults)."""

    ALGORITHM: ClassVar[str] = "novograd"
    lr: LearningRate = required(LR, "step size eta of (NG4), or a schedule t -> eta_t")
    _: KW_ONLY
    beta1: float = hp(0.9, UNIT, "decay of the first moment, (NG3)")
    beta2: float = hp(0.25, UNIT, "EMA coefficient of the per-tensor second moment, (NG1)")
    eps: float = hp(1e-6, NONNEGATIVE, "added to sqrt(v_t) in (NG2)")
    eps_root: float = hp(0.0, NONNEGATIVE, "added inside the square root of (NG2) (optax)")
    weight_decay: float = hp(0.0, NONNEGATIVE, "lambda of (NG2), added after the normalisation")
    shapes: Shapes | None = hp(None, optional(SHAPES_RANGE), SHAPES_DOC)

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "shapes", as_shapes(self.shapes))


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class NovoGradState:
    """NovoGrad's state after ``t`` steps."""

    params: Array  # theta_t
    m: Array  # first moment m_t (size p)
    v: Array  # second moments v_{t,l}, one per tensor (size L)
    t: int  # completed steps


def init(params: Array, *, shapes: Shapes | None = None) -> NovoGradState:
    """m_0 = 0, v_0 = 0 (one per tensor; (NG1) overwrites it at t = 1), t = 0."""
    check_layout("novograd", params, shapes)
    n = 1 if shapes is None else len(shapes)
    return NovoGradState(params=params, m=anp.zeros_like(params), v=anp.zeros(n), t=0)


def step(
    state: NovoGradState,
    grad: Array,
    *,
    lr: LearningRate,
    beta1: float = 0.9,
    beta2: float = 0.25,
    eps: float = 1e-6,
    eps_root: float = 0.0,
    weight_decay: float = 0.0,
    shapes: Shapes | None = None,
) -> NovoGradState:
    """One NovoGrad step, eqs. (NG1)-(NG4) of specs/novograd.md (optax's order of operations)."""
    theta, first = state.params, state.t == 0
    eta = lr_at(lr, state.t)
    vs, us = [], []
    for i, (th, gl) in enumerate(zip(blocks(theta, shapes), blocks(grad, shapes))):
        sq = norm(gl) ** 2  # optax squares the norm, not the sum of squares
        vl = sq if first else (1 - beta2) * sq + beta2 * state.v[i]  # (NG1)
        ul = gl / (anp.sqrt(vl + eps_root) + eps) + weight_decay * th  # (NG2)
        vs.append(vl)
        us.append(ul)
    u = join(us, shapes)
    m = u if first else beta1 * state.m + u  # (NG3)
    theta = theta + (-eta) * m  # (NG4)
    return NovoGradState(params=theta, m=m, v=anp.stack(vs), t=state.t + 1)


novograd = optimizer(
    NovoGradHyperparams, init, step, "NovoGrad; see the module docstring and specs/novograd.md."
)

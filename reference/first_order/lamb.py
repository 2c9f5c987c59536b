r"""LAMB: Adam's direction rescaled per parameter tensor by a trust ratio (You et al. 2020).
Spec: specs/lamb.md, eqs. (LB1)-(LB6).

For t = 1, 2, ..., g_t the gradient; (LB1)-(LB4) elementwise, (LB5)-(LB6) per tensor l of
``shapes`` (the whole vector when ``shapes`` is None):

    m_t = beta1 m_{t-1} + (1 - beta1) g_t                                   (LB1)
    v_t = beta2 v_{t-1} + (1 - beta2) g_t^2                                 (LB2)
    r_t = mhat_t / (sqrt(vhat_t + eps_root) + eps),  mhat_t = m_t/(1 - beta1^t),
          vhat_t = v_t/(1 - beta2^t)                                        (LB3)
    u_t = r_t + lambda theta_{t-1}  (on the tensors of decay_mask; all by default)  (LB4)
    rho_l = phi(||theta_{t-1,l}||) / ||u_{t,l}||, or 1 if either is 0;
          phi(z) = min(max(z, phi_min), phi_max)                            (LB5)
    theta_{t,l} = theta_{t-1,l} - eta_t rho_l u_{t,l}                       (LB6)

Conventions:
    * optax.lamb is phi(z) = z (``phi_min=0``, ``phi_max=None``); the paper allows a clipped
      phi, which ``phi_min``/``phi_max`` give.
    * Weight decay enters after Adam's scaling and before the trust ratio (the paper, optax): it
      is not the coupled g + lambda theta of Adam.
    * eta_t is ``lr`` or ``lr(t - 1)`` for a schedule.

References:
    You, Y., Li, J., Reddi, S., Hseu, J., Kumar, S., Bhojanapalli, S., Song, X., Demmel, J.,
    Keutzer, K. and Hsieh, C.-J. (2020). Large Batch Optimization for Deep Learning: Training
    BERT in 76 minutes. ICLR. Algorithm 2.
    Note 001, "Adam: Complete Algorithm" (the Adam direction (LB1)-(LB3)).
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from typing import Any, ClassVar

import autograd.numpy as anp

from .._core import lr_at, optimizer
from .._hyper import LR, NONNEGATIVE, POSITIVE, UNIT, Hyperparams, as_shapes, hp, optional
from .._types import Array, LearningRate
from ..problems.layout import Shapes
from ._layerwise import (
    SHAPES_DOC,
    SHAPES_RANGE,
    TENSOR_MASK,
    as_mask,
    blocks,
    check_layout,
    check_mask,
    join,
    keeps_plain_step,
    masked,
    norm,
)


@dataclass(frozen=True, eq=False)
class LambHyperparams(Hyperparams):
    """LAMB's hyperparameters (optax.lamb's defaults); ``shapes`` is stored as a tuple of tuples."""

    ALGORITHM: ClassVar[str] = "lamb"
    lr: LearningRate = hp(1e-3, LR, "step size eta of (LB6), or a schedule t -> eta_t")
    _: KW_ONLY
    beta1: float = hp(0.9, UNIT, "EMA coefficient of the first moment, (LB1)")
    beta2: float = hp(0.999, UNIT, "EMA coefficient of the second moment, (LB2)")
    eps: float = hp(1e-6, NONNEGATIVE, "added to sqrt(vhat_t) in (LB3)")
    eps_root: float = hp(0.0, NONNEGATIVE, "added inside the square root of (LB3) (optax)")
    weight_decay: float = hp(0.0, NONNEGATIVE, "lambda of (LB4), added after Adam's scaling")
    decay_mask: tuple[bool, ...] | None = hp(
        None, TENSOR_MASK, "the tensors that (LB4) decays, one flag per tensor; None: all (optax's mask)"
    )
    phi_min: float = hp(0.0, NONNEGATIVE, "lower clip of phi(||theta||) in (LB5); 0: no clip")
    phi_max: float | None = hp(
        None, optional(POSITIVE), "upper clip of phi(||theta||) in (LB5); None: no clip"
    )
    shapes: Shapes | None = hp(None, optional(SHAPES_RANGE), SHAPES_DOC)

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "shapes", as_shapes(self.shapes))
        object.__setattr__(self, "decay_mask", as_mask(self.decay_mask))

    def validate(self) -> None:
        check_mask("lamb", "decay_mask", self.decay_mask, as_shapes(self.shapes))
        if self.phi_max is not None and self.phi_max < self.phi_min:
            raise ValueError(f"lamb: phi_max must be >= phi_min, got {self.phi_max!r} < {self.phi_min!r}")


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class LambState:
    """LAMB's state after ``t`` steps."""

    params: Array  # theta_t
    m: Array  # first-moment EMA m_t
    v: Array  # second-moment EMA v_t
    t: int  # completed steps


def init(params: Array, *, shapes: Shapes | None = None) -> LambState:
    """m_0 = v_0 = 0, t = 0; with ``shapes``, params must be their flat vector."""
    check_layout("lamb", params, shapes)
    zeros = anp.zeros_like(params)
    return LambState(params=params, m=zeros, v=zeros, t=0)


def phi(z: Any, phi_min: float, phi_max: float | None) -> Any:
    """phi(z) = min(max(z, phi_min), phi_max) of (LB5); the identity at the defaults."""
    if phi_min:
        z = anp.maximum(z, phi_min)
    return z if phi_max is None else anp.minimum(z, phi_max)


def step(
    state: LambState,
    grad: Array,
    *,
    lr: LearningRate,
    beta1: float,
    beta2: float,
    eps: float,
    eps_root: float = 0.0,
    weight_decay: float = 0.0,
    decay_mask: tuple[bool, ...] | None = None,
    phi_min: float = 0.0,
    phi_max: float | None = None,
    shapes: Shapes | None = None,
) -> LambState:
    """One LAMB step, eqs. (LB1)-(LB6) of specs/lamb.md (optax's order of operations)."""
    theta, t = state.params, state.t + 1
    eta = lr_at(lr, state.t)
    m = beta1 * state.m + (1 - beta1) * grad  # (LB1)
    v = beta2 * state.v + (1 - beta2) * (grad * grad)  # (LB2)
    root = anp.sqrt(v / (1 - beta2**t) + eps_root) if eps_root else anp.sqrt(v / (1 - beta2**t))
    r = (m / (1 - beta1**t)) / (root + eps)  # (LB3)
    out = []
    for i, (th, rl) in enumerate(zip(blocks(theta, shapes), blocks(r, shapes))):
        ul = rl + weight_decay * th if weight_decay and masked(decay_mask, i) else rl  # (LB4)
        num, den = phi(norm(th), phi_min, phi_max), norm(ul)
        rho = 1.0 if keeps_plain_step(num, den) else num / den  # (LB5)
        out.append(th + (-eta) * (ul * rho))  # (LB6)
    return LambState(params=join(out, shapes), m=m, v=v, t=t)


lamb = optimizer(LambHyperparams, init, step, "LAMB; see the module docstring and specs/lamb.md.")

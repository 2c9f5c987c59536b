r"""Fromage: Frobenius-matched gradient descent (Bernstein, Vahdat, Yue & Liu 2020).
Spec: specs/fromage.md, eqs. (FR1)-(FR2).

For t = 1, 2, ..., g_t the gradient, per tensor l of ``shapes`` (the whole vector when ``shapes``
is None), with ||x||_+ = max(||x||, n_min):

    rho_l = ||theta_{t-1,l}||_+ / ||g_{t,l}||_+   (1 if either is 0, possible only at n_min = 0)  (FR1)
    theta_{t,l} = (theta_{t-1,l} - eta_t rho_l g_{t,l}) / sqrt(1 + eta_t^2)                        (FR2)

Conventions:
    * The relative step ||theta_t - theta_{t-1}/sqrt(1+eta^2)|| is eta ||theta||/sqrt(1 + eta^2) per
      tensor: the direction of g with the size of theta; the division by sqrt(1 + eta^2) keeps
      ||theta|| from growing (the paper's Pythagorean correction).
    * (FR2) is evaluated in optax's order: theta + ((-(eta c)) (rho g) + (c - 1) theta) with
      c = 1/sqrt(1 + eta^2), which is c (theta - eta rho g) up to rounding.
    * eta_t is ``lr`` or ``lr(t - 1)`` for a schedule.

References:
    Bernstein, J., Vahdat, A., Yue, Y. and Liu, M.-Y. (2020). On the distance between two neural
    networks and the stability of learning. NeurIPS. Algorithm 1.
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from typing import Any, ClassVar

import autograd.numpy as anp

from .._core import lr_at, optimizer
from .._hyper import LR, NONNEGATIVE, Hyperparams, as_shapes, hp, optional
from .._types import Array, LearningRate
from ..problems.layout import Shapes
from ._layerwise import SHAPES_DOC, SHAPES_RANGE, blocks, check_layout, join, keeps_plain_step, norm


@dataclass(frozen=True, eq=False)
class FromageHyperparams(Hyperparams):
    """Fromage's hyperparameters (the paper's lr, optax's min_norm)."""

    ALGORITHM: ClassVar[str] = "fromage"
    lr: LearningRate = hp(1e-2, LR, "step size eta of (FR2), or a schedule t -> eta_t")
    _: KW_ONLY
    min_norm: float = hp(1e-6, NONNEGATIVE, "n_min: both norms of (FR1) are clipped below at it (optax)")
    shapes: Shapes | None = hp(None, optional(SHAPES_RANGE), SHAPES_DOC)

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "shapes", as_shapes(self.shapes))


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class FromageState:
    """Fromage's state after ``t`` steps (no buffers)."""

    params: Array  # theta_t
    t: int  # completed steps


def init(params: Array, *, shapes: Shapes | None = None) -> FromageState:
    """t = 0; with ``shapes``, params must be their flat vector."""
    check_layout("fromage", params, shapes)
    return FromageState(params=params, t=0)


def clipped_norm(x: Any, min_norm: float) -> Any:
    """max(||x||, n_min) (optax's ``safe_norm``: a norm <= n_min becomes n_min)."""
    n = norm(x)
    return anp.maximum(n, min_norm) if min_norm else n


def step(
    state: FromageState,
    grad: Array,
    *,
    lr: LearningRate,
    min_norm: float = 1e-6,
    shapes: Shapes | None = None,
) -> FromageState:
    """One Fromage step, eqs. (FR1)-(FR2) of specs/fromage.md (optax's order of operations)."""
    eta = lr_at(lr, state.t)
    c = 1 / (1 + eta**2) ** 0.5
    out = []
    for th, gl in zip(blocks(state.params, shapes), blocks(grad, shapes)):
        pn, gn = clipped_norm(th, min_norm), clipped_norm(gl, min_norm)
        rho = 1.0 if keeps_plain_step(pn, gn) else pn / gn  # (FR1)
        out.append(th + ((-(eta * c)) * (gl * rho) + (c - 1) * th))  # (FR2)
    return FromageState(params=join(out, shapes), t=state.t + 1)


fromage = optimizer(FromageHyperparams, init, step, "Fromage; see the module docstring and specs/fromage.md.")

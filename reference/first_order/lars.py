r"""LARS: momentum SGD with a per-tensor local learning rate (You, Gitman & Ginsburg 2017).
Spec: specs/lars.md, eqs. (LS1)-(LS4).

For t = 1, 2, ..., g_t the gradient, per tensor l of ``shapes`` (the whole vector when ``shapes``
is None), kappa the trust coefficient, mu the momentum:

    u_t = g_t + lambda theta_{t-1}   (on the tensors of decay_mask; all by default)  (LS1)
    rho_l = kappa ||theta_l|| / (||g_l|| + lambda ||theta_l|| + eps)   trust_norm="separate" (paper)
    rho_l = kappa ||theta_l|| / (||u_l|| + eps)                        trust_norm="combined" (optax)
            (rho_l = 1 if ||theta_l|| = 0 or the norm in the denominator is 0, or if l is
            not in trust_mask)                                                      (LS2)
    v_t = mu v_{t-1} + eta_t rho u_t     momentum_lr="inside" (paper, optax)
    v_t = mu v_{t-1} + rho u_t           momentum_lr="outside" (torch SGD behind a LARC wrapper)  (LS3)
    theta_t = theta_{t-1} - v_t  (inside),  theta_{t-1} - eta_t v_t  (outside);
              nesterov: v_t replaced by (eta_t) rho u_t + mu v_t                      (LS4)

Conventions:
    * The paper's local learning rate divides by ||g|| + lambda ||theta|| (an upper bound of
      ||g + lambda theta||); optax.lars divides by ||g + lambda theta|| + eps. Equal at lambda = 0.
    * v_0 = 0: the first step is eta_1 rho u_1 (no torch-style "buffer = g" first step; the same).
    * eta_t is ``lr`` or ``lr(t - 1)`` for a schedule; the two ``momentum_lr`` forms agree for a
      constant eta and differ under a schedule.

References:
    You, Y., Gitman, I. and Ginsburg, B. (2017). Large Batch Training of Convolutional Networks.
    arXiv:1708.03888. Algorithm 1 and eq. (6).
    Note 001, "Heavy Ball Method: Adding Memory" (the momentum buffer (LS3)).
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from typing import ClassVar, Literal

import autograd.numpy as anp

from .._core import lr_at, optimizer
from .._hyper import (
    FLAG,
    LR,
    NONNEGATIVE,
    POSITIVE,
    UNIT,
    Hyperparams,
    OneOf,
    as_shapes,
    hp,
    optional,
    required,
)
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

TrustNorm = Literal["separate", "combined"]
MomentumLr = Literal["inside", "outside"]


@dataclass(frozen=True, eq=False)
class LarsHyperparams(Hyperparams):
    """LARS's hyperparameters (the paper's form; optax.lars is trust_norm="combined")."""

    ALGORITHM: ClassVar[str] = "lars"
    lr: LearningRate = required(LR, "global step size eta of (LS3)-(LS4), or a schedule t -> eta_t")
    _: KW_ONLY
    momentum: float = hp(0.9, UNIT, "momentum mu of (LS3)")
    weight_decay: float = hp(0.0, NONNEGATIVE, "lambda of (LS1) and (LS2)")
    trust_coefficient: float = hp(1e-3, POSITIVE, "kappa of (LS2)")
    eps: float = hp(0.0, NONNEGATIVE, "added to the denominator of (LS2) (optax)")
    decay_mask: tuple[bool, ...] | None = hp(
        None, TENSOR_MASK, "the tensors that (LS1) decays, one flag per tensor; None: all (optax's mask)"
    )
    trust_mask: tuple[bool, ...] | None = hp(
        None, TENSOR_MASK, "the tensors that (LS2) rescales (others: rho = 1); None: all (optax's mask)"
    )
    trust_norm: TrustNorm = hp(
        "separate",
        OneOf(("separate", "combined")),
        '(LS2)\'s denominator: "separate" ||g|| + lambda ||theta|| (paper), "combined" ||g + lambda theta|| (optax)',
    )
    momentum_lr: MomentumLr = hp(
        "inside",
        OneOf(("inside", "outside")),
        '"inside": v accumulates eta_t rho u (paper, optax); "outside": v accumulates rho u, theta -= eta_t v',
    )
    nesterov: bool = hp(False, FLAG, "Nesterov's form of (LS4): step by rho u + mu v_t (optax)")
    shapes: Shapes | None = hp(None, optional(SHAPES_RANGE), SHAPES_DOC)

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "shapes", as_shapes(self.shapes))
        object.__setattr__(self, "decay_mask", as_mask(self.decay_mask))
        object.__setattr__(self, "trust_mask", as_mask(self.trust_mask))

    def validate(self) -> None:
        check_mask("lars", "decay_mask", self.decay_mask, as_shapes(self.shapes))
        check_mask("lars", "trust_mask", self.trust_mask, as_shapes(self.shapes))


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class LarsState:
    """LARS's state after ``t`` steps."""

    params: Array  # theta_t
    v: Array  # momentum buffer v_t
    t: int  # completed steps


def init(params: Array, *, shapes: Shapes | None = None) -> LarsState:
    """v_0 = 0, t = 0; with ``shapes``, params must be their flat vector."""
    check_layout("lars", params, shapes)
    return LarsState(params=params, v=anp.zeros_like(params), t=0)


def step(
    state: LarsState,
    grad: Array,
    *,
    lr: LearningRate,
    momentum: float = 0.9,
    weight_decay: float = 0.0,
    trust_coefficient: float = 1e-3,
    eps: float = 0.0,
    decay_mask: tuple[bool, ...] | None = None,
    trust_mask: tuple[bool, ...] | None = None,
    trust_norm: TrustNorm = "separate",
    momentum_lr: MomentumLr = "inside",
    nesterov: bool = False,
    shapes: Shapes | None = None,
) -> LarsState:
    """One LARS step, eqs. (LS1)-(LS4) of specs/lars.md (optax's order of operations)."""
    theta = state.params
    eta = lr_at(lr, state.t)
    scaled = []
    for i, (th, gl) in enumerate(zip(blocks(theta, shapes), blocks(grad, shapes))):
        wd = weight_decay if masked(decay_mask, i) else 0.0
        ul = gl + wd * th if wd else gl  # (LS1)
        if not masked(trust_mask, i):
            scaled.append(ul)
            continue
        pn = norm(th)
        dn = norm(ul) if trust_norm == "combined" else norm(gl) + wd * pn
        rho = 1.0 if keeps_plain_step(pn, dn) else trust_coefficient * pn / (dn + eps)  # (LS2)
        scaled.append(ul * rho)
    w = join(scaled, shapes)  # rho u, tensor by tensor
    inside = momentum_lr == "inside"
    w = eta * w if inside else w
    v = w + momentum * state.v  # (LS3)
    d = w + momentum * v if nesterov else v
    theta = theta + (-d if inside else (-eta) * d)  # (LS4)
    return LarsState(params=theta, v=v, t=state.t + 1)


lars = optimizer(LarsHyperparams, init, step, "LARS; see the module docstring and specs/lars.md.")

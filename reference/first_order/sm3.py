r"""SM3: AdaGrad with one accumulator per row and per column (Anil, Gupta, Koren & Singer 2019).
Spec: specs/sm3.md, eqs. (SM1)-(SM5).

The flat vector is cut into the parameter tensors of ``shapes`` (None: one 1-D tensor). The cover
of a tensor of k >= 2 axes is the set of its slices along each axis (the rows and the columns of a
matrix): one accumulator mu^(j) per axis j, of the axis's length. A tensor of fewer than 2 axes
keeps one accumulator per coordinate (diagonal AdaGrad). For each tensor, at step t = 1, 2, ...
(SM3-II of the paper; eta_t = lr or lr(t - 1)):

    nu_t[i] = g_t[i]^2 + min_j mu^(j)_{t-1}[i_j]            (k >= 2; k < 2: mu_{t-1}[i])  (SM1)
    mu^(j)_t[l] = max_{i : i_j = l} nu_t[i]                  (k >= 2; k < 2: mu_t = nu_t) (SM2)
    u_t[i] = g_t[i] / sqrt(nu_t[i] + eps), and 0 where nu_t[i] = 0                        (SM3)
    m_t = beta m_{t-1} + (1 - beta) u_t          (momentum beta > 0; else m_t = u_t)       (SM4)
    theta_t = theta_{t-1} - eta_t m_t                                                     (SM5)

Conventions:
    * Defaults are the paper's SM3-II (no momentum, no eps, 0/0 = 0); optax.sm3 is momentum=0.9
      (its default) and eps=1e-8 (fixed inside optax.scale_by_sm3), the authors' TensorFlow code
      the same with eps = 1e-30.
    * nu_t >= sum_{s<=t} g_s[i]^2 (the min of maxima of sums bounds AdaGrad's accumulator from above).
    * Differentiable by autograd in lr and theta_0 away from ties of the max and the min.

References:
    Anil, R., Gupta, V., Koren, T. and Singer, Y. (2019). Memory-Efficient Adaptive Optimization.
    NeurIPS. Algorithm SM3-II, section 4 (covers of rows and columns).
    Note 001, "Adam: Complete Algorithm" (the adaptive step this approximates in memory).
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from functools import reduce
from typing import Any, ClassVar

import autograd.numpy as anp
import numpy as np

from .._core import lr_at, optimizer
from .._hyper import LR, NONNEGATIVE, TENSOR_SHAPES, UNIT, Hyperparams, as_shapes, hp, optional, required
from .._types import Array, LearningRate
from ..problems.layout import Shapes, pack, size, unpack


@dataclass(frozen=True, eq=False)
class SM3Hyperparams(Hyperparams):
    """SM3's hyperparameters (the paper's SM3-II); ``shapes`` is stored as a tuple of tuples."""

    ALGORITHM: ClassVar[str] = "sm3"
    lr: LearningRate = required(LR, "step size eta of (SM5), or a schedule t -> eta_t")
    _: KW_ONLY
    momentum: float = hp(0.0, UNIT, "beta of (SM4); 0: no momentum buffer (optax.sm3: 0.9)")
    eps: float = hp(0.0, NONNEGATIVE, "added to nu_t under the square root of (SM3) (optax: 1e-8)")
    shapes: Shapes | None = hp(
        None,
        optional(TENSOR_SHAPES),
        "the parameter tensors of the flat vector in order; None: one 1-D tensor",
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "shapes", as_shapes(self.shapes))


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class SM3State:
    """SM3's state after ``t`` steps: per tensor, its accumulators (one per axis, or one full array)."""

    params: Array  # theta_t
    mu: tuple[tuple[Array, ...], ...]  # mu^(j)_t for each axis j of a tensor (k >= 2), or (mu_t,) (k < 2)
    m: Array | None  # momentum m_t (None without momentum)
    t: int  # completed steps


def _all_shapes(params: Array, shapes: Shapes | None) -> Shapes:
    """``shapes``, or one 1-D tensor of all of ``params``' entries (whatever its array shape)."""
    return ((int(np.size(params)),),) if shapes is None else shapes


def _blocks(x: Any, shapes: Shapes | None) -> tuple[Any, ...]:
    """The tensors of ``x`` (shapes None: its entries as one vector)."""
    return (anp.reshape(x, (-1,)),) if shapes is None else unpack(x, shapes)


def _flat(pieces: list[Any], like: Array, shapes: Shapes | None) -> Any:
    """The inverse of ``_blocks``: the pieces packed in ``like``'s array shape."""
    return anp.reshape(pieces[0], anp.shape(like)) if shapes is None else pack(pieces)


def init(params: Array, *, shapes: Shapes | None = None, momentum: float = 0.0) -> SM3State:
    """mu_0 = 0 (one vector per axis of a tensor with >= 2 axes, one array otherwise), m_0 = 0."""
    shp = _all_shapes(params, shapes)
    if shapes is not None and np.shape(params) != (size(shp),):
        raise ValueError(
            f"sm3: params have shape {np.shape(params)} but shapes {shp} need a flat vector of length {size(shp)}"
        )
    mu = tuple(tuple(np.zeros(d) for d in s) if len(s) >= 2 else (np.zeros(s),) for s in shp)
    return SM3State(params=params, mu=mu, m=np.zeros_like(params) if momentum > 0 else None, t=0)


def _along(vec: Any, axis: int, ndim: int) -> Any:
    """The accumulator of ``axis`` shaped to broadcast over a tensor of ``ndim`` axes."""
    return anp.reshape(vec, tuple(-1 if i == axis else 1 for i in range(ndim)))


def step(
    state: SM3State,
    grad: Array,
    *,
    lr: LearningRate,
    momentum: float = 0.0,
    eps: float = 0.0,
    shapes: Shapes | None = None,
) -> SM3State:
    """One SM3 step, eqs. (SM1)-(SM5) of specs/sm3.md."""
    eta = lr_at(lr, state.t)
    mus, pieces = [], []
    for G, mu in zip(_blocks(grad, shapes), state.mu):
        k = anp.ndim(G)
        if k >= 2:
            nu = G * G + reduce(anp.minimum, [_along(a, j, k) for j, a in enumerate(mu)])  # (SM1)
            axes = range(k)
            mus.append(tuple(anp.max(nu, axis=tuple(i for i in axes if i != j)) for j in axes))  # (SM2)
        else:
            nu = G * G + mu[0]  # (SM1)
            mus.append((nu,))  # (SM2)
        zero = nu == 0  # (a NaN gradient stays NaN)
        pieces.append(anp.where(zero, 0.0, G * (anp.where(zero, 1.0, nu) + eps) ** -0.5))  # (SM3)
    u = _flat(pieces, state.params, shapes)
    m = None
    if state.m is not None:
        u = m = (1.0 - momentum) * u + momentum * state.m  # (SM4)
    theta = state.params - eta * u  # (SM5)
    return SM3State(params=theta, mu=tuple(mus), m=m, t=state.t + 1)


sm3 = optimizer(
    SM3Hyperparams,
    init,
    step,
    "SM3; ``opt.step(state, grad)`` on the flat gradient; see the module docstring and specs/sm3.md.",
)

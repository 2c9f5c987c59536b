r"""Shampoo: per-matrix Kronecker-factored AdaGrad (Gupta, Koren & Singer 2018). Spec:
specs/shampoo.md, eqs. (SH1)-(SH4).

The flat parameter vector is the row-major concatenation of blocks with the given ``shapes``
(e.g. Peaks: (W1 (w, 2), b1 (w,), W2 (5, w), b2 (5,))). For every matrix block W with gradient
block G (L_0 = eps I, R_0 = eps I):

    L_t = L_{t-1} + G_t G_t^T,   R_t = R_{t-1} + G_t^T G_t                                  (SH1)
    W_t = W_{t-1} - eta_t L_t^{-1/4} G_t R_t^{-1/4}                                         (SH2)

and for every vector block b with gradient g (the order-1 case of the paper's tensor rule,
exponent -1/(2k) with k = 1, i.e. full-matrix AdaGrad; ``vector_rule="full"``, the default):

    H_t = H_{t-1} + g_t g_t^T   (H_0 = eps I)                                               (SH3)
    b_t = b_{t-1} - eta_t H_t^{-1/2} g_t                                                    (SH4)

or, with ``vector_rule="diagonal"``, h_t = h_{t-1} + g_t^2 (h_0 = eps), b_t = b_{t-1} - eta_t g_t / sqrt(h_t)
(diagonal AdaGrad). Matrix powers are taken by the symmetric eigendecomposition.

Conventions:
    * eps initialises the statistics (paper Algorithm 1: L_0 = eps I_m, R_0 = eps I_n), it is not
      added at every step; no grafting, no momentum, no delayed preconditioner updates (the
      practical variants of Anil et al. 2020).
    * Differentiable by autograd (with respect to theta_0, eta and eps). The matrix power
      M^p = V diag(w^p) V^T has its own derivative (Daleckii-Krein): for a symmetric
      perturbation dM, d(M^p) = V (K o (V^T dM V)) V^T with K_ij = (w_i^p - w_j^p) / (w_i - w_j)
      and K_ii = p w_i^(p-1). Differentiating through ``eigh`` instead divides by w_i - w_j,
      which is 0 for the repeated eigenvalue eps of L = eps I + G G^T whenever a row of G is 0
      (a dead ReLU unit), and gives inf/nan there. Second derivatives through M^p are not
      implemented (they raise).

References:
    Gupta, V., Koren, T. and Singer, Y. (2018). Shampoo: Preconditioned stochastic tensor
    optimization. ICML. Algorithm 1 (matrices), Algorithm 2 (order-k tensors, exponent -1/(2k)).
    Anil, R., Gupta, V., Koren, T., Regan, K. and Singer, Y. (2020). Scalable second order
    optimization for deep learning. arXiv:2002.09018 (note 003's Shampoo link).
    Note 000 and note 001 (outlook), note 003 ("Recent Trends in Optimisation").
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from typing import Any, ClassVar, Literal

import autograd.numpy as anp
import numpy as np
from autograd.extend import defvjp, primitive
from autograd.tracer import isbox

from .._core import lr_at, optimizer
from .._hyper import LR, POSITIVE, Hyperparams, OneOf, TensorShapes, as_shapes, hp, required
from .._types import Array, LearningRate
from ..problems.layout import Shapes, pack, size, unpack

VectorRule = Literal["full", "diagonal"]


@dataclass(frozen=True, eq=False)
class ShampooHyperparams(Hyperparams):
    """Shampoo's hyperparameters; ``shapes`` is stored as a tuple of tuples of ints."""

    ALGORITHM: ClassVar[str] = "shampoo"
    lr: LearningRate = hp(1e-1, LR, "step size eta of (SH2) and (SH4), or a schedule t -> eta_t")
    _: KW_ONLY
    shapes: Shapes = required(
        TensorShapes((1, 2)),
        "the blocks of the flat vector in order: 2-D (out, in) get (SH1)-(SH2), "
        "1-D the vector rule (SH3)-(SH4); e.g. problem.shapes",
    )
    eps: float = hp(
        1e-4, POSITIVE, "eps initialising the statistics, L_0 = eps I, R_0 = eps I (SH1), H_0 (SH3)"
    )
    vector_rule: VectorRule = hp(
        "full",
        OneOf(("full", "diagonal")),
        '"full": H^{-1/2} g (the paper\'s order-1 tensor rule); "diagonal": AdaGrad, (SH3)-(SH4)',
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "shapes", as_shapes(self.shapes))


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class ShampooState:
    """Shampoo's state after ``t`` steps; one entry of L and R per block of ``shapes``."""

    params: Array  # theta_t
    L: tuple[Array, ...]  # left statistics (m, m) of a matrix block; H (n, n) or h (n,) of a vector
    R: tuple[Array | None, ...]  # right statistics (n, n) of a matrix block; None for a vector
    t: int  # completed steps


def init(params: Array, *, shapes: Shapes, eps: float, vector_rule: VectorRule) -> ShampooState:
    """L_0 = eps I, R_0 = eps I per matrix block; H_0 = eps I (or h_0 = eps) per vector block."""
    total = size(shapes)
    if np.shape(params) != (total,):
        raise ValueError(
            f"shampoo: params have shape {np.shape(params)} but shapes {shapes} need a flat "
            f"vector of length {total}"
        )
    L: list[Array] = []
    R: list[Array | None] = []
    for s in shapes:
        if len(s) == 2:
            L.append(eps * np.eye(s[0]))
            R.append(eps * np.eye(s[1]))
        else:
            L.append(eps * np.eye(s[0]) if vector_rule == "full" else np.full(s[0], eps))
            R.append(None)
    return ShampooState(params=params, L=tuple(L), R=tuple(R), t=0)


@primitive
def sym_power(M: Any, power: float) -> Any:
    """M^power for a symmetric positive definite M, by eigendecomposition."""
    w, V = np.linalg.eigh(M)
    return np.dot(V * w**power, V.T)


def power_divided_differences(w: Array, power: float) -> Array:
    """K_ij = (w_i^p - w_j^p) / (w_i - w_j), K_ij = p w_i^(p-1) where w_i = w_j (all w > 0).

    Written as w_j^(p-1) ((1 + r)^p - 1) / r with r = (w_i - w_j) / w_j and (1 + r)^p - 1 =
    expm1(p log1p(r)), which keeps full relative accuracy when w_i and w_j are close.
    """
    wi, wj = w[:, None], w[None, :]
    r = (wi - wj) / wj
    same = r == 0.0
    r_safe = np.where(same, 1.0, r)
    ratio = np.where(same, power, np.expm1(power * np.log1p(r_safe)) / r_safe)
    K: Array = wj ** (power - 1.0) * ratio
    return 0.5 * (K + K.T)


def _sym_power_vjp(ans: Any, M: Any, power: float) -> Any:
    """The vector-Jacobian product of M -> M^p for symmetric M and symmetric perturbations."""
    if isbox(M):
        raise NotImplementedError("shampoo: second derivatives through sym_power are not implemented")
    w, V = np.linalg.eigh(M)
    K = power_divided_differences(w, power)

    def vjp(g: Any) -> Any:
        if isbox(g):
            raise NotImplementedError("shampoo: second derivatives through sym_power are not implemented")
        sym = 0.5 * (g + g.T)
        return np.dot(V, np.dot(K * np.dot(V.T, np.dot(sym, V)), V.T))

    return vjp


defvjp(sym_power, _sym_power_vjp)


def step(
    state: ShampooState,
    grad: Array,
    *,
    lr: LearningRate,
    shapes: Shapes,
    vector_rule: VectorRule = "full",
) -> ShampooState:
    """One Shampoo step, eqs. (SH1)-(SH4) of specs/shampoo.md (``eps`` enters through ``init``)."""
    eta = lr_at(lr, state.t)
    L, R, pieces = [], [], []
    for G, Lb, Rb in zip(unpack(grad, shapes), state.L, state.R):
        if anp.ndim(G) == 2:
            Lt = Lb + anp.dot(G, G.T)  # (SH1)
            Rt = Rb + anp.dot(G.T, G)
            pieces.append(anp.dot(sym_power(Lt, -0.25), anp.dot(G, sym_power(Rt, -0.25))))  # (SH2)
            L.append(Lt)
            R.append(Rt)
        elif vector_rule == "full":
            Ht = Lb + anp.outer(G, G)  # (SH3)
            pieces.append(anp.dot(sym_power(Ht, -0.5), G))  # (SH4)
            L.append(Ht)
            R.append(None)
        else:
            ht = Lb + G * G  # (SH3)
            pieces.append(G / anp.sqrt(ht))  # (SH4)
            L.append(ht)
            R.append(None)
    theta = state.params - eta * pack(pieces)
    return ShampooState(params=theta, L=tuple(L), R=tuple(R), t=state.t + 1)


shampoo = optimizer(
    ShampooHyperparams,
    init,
    step,
    "Shampoo; ``opt.step(state, grad)`` on the flat gradient; see the module docstring and specs/shampoo.md.",
)

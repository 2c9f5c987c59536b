r"""SparseAdam: lazy Adam, torch.optim.SparseAdam. Spec: specs/sparse_adam.md, eqs. (SA1)-(SA5).

The moments and the parameters change only at the entries present in the gradient; the bias
corrections use the global step count t (every step counts, present or not). For t = 1, 2, ...:

    P_t = { i : g_t,i != 0 }                                          (SA1)  the present entries
          (presence="rows": every entry of a row, a slice along axis 0 of its tensor, with a g != 0)
    m_t,i = m_{t-1,i} + (1 - beta1)(g_t,i - m_{t-1,i})   for i in P_t  (SA2)
    v_t,i = v_{t-1,i} + (1 - beta2)(g_t,i^2 - v_{t-1,i}) for i in P_t  (SA3)
    alpha_t = eta_t sqrt(1 - beta2^t) / (1 - beta1^t)                  (SA4)
    theta_t,i = theta_{t-1,i} - alpha_t m_t,i / (sqrt(v_t,i) + eps)  for i in P_t   (SA5)

and every entry outside P_t keeps its m, v and theta.

Conventions:
    * "Present" is g_i != 0 elementwise: torch feeds a sparse-layout gradient and updates every
      stored value; ``grad.to_sparse()`` of a dense gradient stores exactly its nonzero entries
      (+0.0 and -0.0 are dropped, NaN is kept). The reference on a dense gradient with zeros is
      therefore torch on ``to_sparse()`` of it.
    * presence="rows" is torch on ``grad.to_sparse(sparse_dim=1)``, the row layout of
      ``nn.Embedding(sparse=True)``: a stored row updates all its entries, zeros included.
    * eps meets sqrt(v_t) before the bias correction (torch's step size sqrt(1 - beta2^t)/(1 - beta1^t)):
      with every entry present at every step this is ``ref.adam(epsilon_hat=True)``.
    * The EMAs are written as torch computes them, m + (1 - beta1)(g - m).
    * eta_t is ``lr`` or ``lr(t - 1)`` for a schedule.

References:
    Kingma, D. P. and Ba, J. (2015). Adam: A Method for Stochastic Optimization. ICLR (Adam, and
    the step size of section 2 with eps on sqrt(v_t)).
    Note 001, "Adam: Complete Algorithm".
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from typing import Any, ClassVar, Literal

import autograd.numpy as anp
import numpy as np
from autograd.tracer import getval

from .._core import lr_at, optimizer
from .._hyper import LR, POSITIVE, UNIT, Hyperparams, OneOf, as_shapes, hp, optional
from .._types import Array, LearningRate
from ..problems.layout import Shapes
from ._layerwise import SHAPES_DOC, SHAPES_RANGE, blocks, check_layout, join

Presence = Literal["entries", "rows"]


@dataclass(frozen=True, eq=False)
class SparseAdamHyperparams(Hyperparams):
    """SparseAdam's hyperparameters (torch.optim.SparseAdam's defaults)."""

    ALGORITHM: ClassVar[str] = "sparse_adam"
    lr: LearningRate = hp(1e-3, LR, "step size eta of (SA4), or a schedule t -> eta_t")
    _: KW_ONLY
    beta1: float = hp(0.9, UNIT, "EMA coefficient of the first moment, (SA2)")
    beta2: float = hp(0.999, UNIT, "EMA coefficient of the second moment, (SA3)")
    eps: float = hp(1e-8, POSITIVE, "added to sqrt(v_t) in (SA5) (torch requires eps > 0)")
    presence: Presence = hp(
        "entries",
        OneOf(("entries", "rows")),
        '(SA1): "entries" g_i != 0 (torch fed grad.to_sparse()); "rows": whole rows of a tensor '
        "with a nonzero (grad.to_sparse(sparse_dim=1), nn.Embedding's layout)",
    )
    shapes: Shapes | None = hp(None, optional(SHAPES_RANGE), SHAPES_DOC + ' (for presence="rows")')

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "shapes", as_shapes(self.shapes))


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class SparseAdamState:
    """SparseAdam's state after ``t`` steps."""

    params: Array  # theta_t
    m: Array  # first-moment EMA, updated only where present
    v: Array  # second-moment EMA, updated only where present
    t: int  # completed steps (the global count of the bias corrections)


def init(params: Array, *, shapes: Shapes | None = None) -> SparseAdamState:
    """m_0 = v_0 = 0, t = 0; with ``shapes``, params must be their flat vector."""
    check_layout("sparse_adam", params, shapes)
    zeros = anp.zeros_like(params)
    return SparseAdamState(params=params, m=zeros, v=zeros, t=0)


def present_entries(grad: Any, presence: Presence = "entries", shapes: Shapes | None = None) -> Any:
    """The boolean mask of (SA1): g_i != 0, or every entry of a row (axis-0 slice) holding one."""
    nonzero = np.asarray(getval(grad)) != 0
    if presence == "entries":
        return nonzero
    rows = []
    for b in blocks(nonzero, shapes):
        if b.ndim == 0:
            rows.append(b)
        else:
            hit = np.any(b.reshape(b.shape[0], -1), axis=1).reshape((-1,) + (1,) * (b.ndim - 1))
            rows.append(np.broadcast_to(hit, b.shape))
    return join(rows, shapes)


def step(
    state: SparseAdamState,
    grad: Array,
    *,
    lr: LearningRate,
    beta1: float,
    beta2: float,
    eps: float,
    presence: Presence = "entries",
    shapes: Shapes | None = None,
) -> SparseAdamState:
    """One SparseAdam step, eqs. (SA1)-(SA5) of specs/sparse_adam.md."""
    t = state.t + 1
    eta = lr_at(lr, state.t)
    present = present_entries(grad, presence, shapes)  # (SA1)  to_sparse() keeps exactly these
    m = anp.where(present, state.m + (grad - state.m) * (1 - beta1), state.m)  # (SA2)
    v = anp.where(present, state.v + (grad * grad - state.v) * (1 - beta2), state.v)  # (SA3)
    alpha = eta * anp.sqrt(1 - beta2**t) / (1 - beta1**t)  # (SA4)
    den = anp.sqrt(anp.where(present, v, 1.0)) + eps  # absent entries: no sqrt(0) in the derivative
    theta = anp.where(present, state.params + (-alpha) * (m / den), state.params)  # (SA5)
    return SparseAdamState(params=theta, m=m, v=v, t=t)


sparse_adam = optimizer(
    SparseAdamHyperparams,
    init,
    step,
    "SparseAdam (lazy Adam: only the entries with g_i != 0 move); see specs/sparse_adam.md.",
)

r"""SAGA (Defazio, Bach & Lacoste-Julien 2014). Spec: specs/saga.md, eqs. (SA1)-(SA4).

Input of each step: a ``Sample(problem, idx)`` (reference/oracle.py), as for SVRG. The state keeps
a table alpha of one stored gradient per sample (N x p) and its mean.

    at the first step: alpha_i = grad l_i(theta_0) for all i, abar = (1/N) sum_i alpha_i      (SA1)
    g_t = c [ (1/|B|) sum_{j in B} (grad l_j(theta_{t-1}) - alpha_j) + abar ]                 (SA2)
    alpha_j = grad l_j(theta_{t-1}) for j in B, abar = (1/N) sum_i alpha_i (updated
        incrementally by the changed rows)                                                    (SA3)
    theta_t = theta_{t-1} - eta_t g_t                                                         (SA4)

c = 1 for a mean-reduced sum, N for a sum. For B drawn uniformly E[g_t] = grad L(theta_{t-1})
(each j in B is marginally uniform); as theta_t -> theta* all stored gradients approach
grad l_i(theta*), so the variance of g_t goes to zero, unlike SGD's.

Conventions:
    * The table starts at the per-sample gradients at theta_0 (the paper's initialisation), so
      the first step costs N per-sample gradients, every later one |B|.
    * Repeated indices in B (sampling with replacement) count in the average (SA2) and update
      their row once (SA3).
    * Memory: N p numbers for the table (the price of variance reduction without snapshots).
    * Given the drawn indices the steps are smooth in theta_0 and eta and differentiable by
      autograd: the rows of (SA3) are replaced functionally (``where`` over a row mask), never
      written in place.

References:
    Defazio, A., Bach, F. and Lacoste-Julien, S. (2014). SAGA: A fast incremental gradient method
        with support for non-strongly convex composite objectives. NeurIPS.
    Note 004 ("SAGA: maintain running estimates of gradients for each example").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import autograd.numpy as anp
import numpy as np
from autograd.tracer import isbox

from .._core import lr_at, method
from .._hyper import LR, Hyperparams, required
from .._types import Array, LearningRate
from ..oracle import Sample, as_flat
from ..problems import reduction_scale


@dataclass(frozen=True, eq=False)
class SAGAHyperparams(Hyperparams):
    """SAGA's hyperparameters: the step only (the table needs no tuning)."""

    ALGORITHM: ClassVar[str] = "saga"
    lr: LearningRate = required(
        LR,
        "step size eta of (SA4), or a schedule t -> eta_t (Defazio et al.: 1/(3 L_max) for l_i L_max-smooth)",
    )


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class SAGAState:
    """SAGA's state after ``t`` steps."""

    params: Array  # theta_t
    table: Array | None  # alpha, (N, p): the stored gradient of each sample (None before step 1)
    table_mean: Array | None  # abar = mean of the rows of alpha
    t: int  # completed steps


def init(params: Array) -> SAGAState:
    """theta_0 = params, t = 0; the first step fills the table."""
    return SAGAState(params=as_flat(params), table=None, table_mean=None, t=0)


def fill(state: SAGAState, sample: Sample) -> SAGAState:
    """The state with the table filled at the current iterate if it is empty."""
    if state.table is not None and state.table_mean is not None:
        return state
    table = _floats(sample.problem.per_sample_grads(state.params, None))  # (SA1)
    return SAGAState(params=state.params, table=table, table_mean=anp.mean(table, axis=0), t=state.t)


def _floats(x: Any) -> Array:
    """A fresh float64 array, or the autograd box itself while the steps are differentiated."""
    out: Array = x if isbox(x) else np.array(x, dtype=np.float64)
    return out


def _filled(state: SAGAState) -> tuple[Array, Array]:
    """(alpha, abar) of a state whose table is filled; ValueError naming ``fill`` otherwise."""
    if state.table is None or state.table_mean is None:
        raise ValueError(
            "saga: the state's gradient table is empty; call fill(state, sample) before estimate (step does)"
        )
    return state.table, state.table_mean


def estimate(state: SAGAState, sample: Sample) -> tuple[Array, Array]:
    """(g_t of (SA2), the fresh per-sample gradients at theta for idx), for a filled state."""
    table, table_mean = _filled(state)
    idx = sample.idx
    fresh = _floats(sample.problem.per_sample_grads(state.params, idx))
    g = reduction_scale(sample.problem, of="mean") * (  # (SA2)
        anp.mean(fresh - table[idx], axis=0) + table_mean
    )
    return g, fresh


def step(state: SAGAState, sample: Sample, *, lr: LearningRate) -> SAGAState:
    """One SAGA step, eqs. (SA1)-(SA4) of specs/saga.md."""
    if not isinstance(sample, Sample):
        raise TypeError(f"saga: step needs a Sample(problem, idx), got {type(sample).__name__}")
    state = fill(state, sample)
    old, old_mean = _filled(state)
    n_rows = anp.shape(old)[0]
    if anp.shape(old)[1:] != anp.shape(state.params):
        raise ValueError(
            f"saga: per-sample gradients have {anp.shape(old)[1:]} entries, params {anp.shape(state.params)}"
        )
    g, fresh = estimate(state, sample)
    uniq, first = np.unique(sample.idx, return_index=True)
    changed = np.zeros(n_rows, dtype=bool)  # rows j in B (index bookkeeping, not values)
    changed[uniq] = True
    source = np.zeros(n_rows, dtype=np.intp)  # the row of ``fresh`` that replaces row j
    source[uniq] = first
    table = anp.where(changed[:, None], fresh[source], old)  # (SA3)
    mean = old_mean + anp.sum(fresh[first] - old[uniq], axis=0) / n_rows
    theta = state.params - lr_at(lr, state.t) * g  # (SA4)
    return SAGAState(params=theta, table=table, table_mean=mean, t=state.t + 1)


saga = method(
    SAGAHyperparams,
    init,
    step,
    "SAGA; step(state, Sample(problem, idx)). See the module docstring and specs/saga.md.",
)

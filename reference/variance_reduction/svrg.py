r"""Stochastic variance-reduced gradient (Johnson & Zhang 2013). Spec: specs/svrg.md, (SV1)-(SV3).

Input of each step: a ``Sample(problem, idx)`` (reference/oracle.py): a finite sum
L = c (1/N) sum_i l_i (c = 1 for a mean, N for a sum) offering per-sample gradients, and the
minibatch B = idx the caller drew. With epoch length m:

    if t mod m = 0:  theta~ = theta_{t-1},  mu = grad L(theta~) = c (1/N) sum_i grad l_i(theta~)   (SV1)
    g_t = c (1/|B|) sum_{i in B} [grad l_i(theta_{t-1}) - grad l_i(theta~)] + mu                    (SV2)
    theta_t = theta_{t-1} - eta_t g_t                                                                (SV3)

For B drawn uniformly (with replacement, or without) E[g_t] = grad L(theta_{t-1}): the estimate
is unbiased like SGD's, but its variance, at most (c^2/|B|) E||grad l_i(theta) - grad l_i(theta~)||^2,
goes to zero as theta and theta~ approach the minimiser, so a constant step converges linearly on
strongly convex problems (SGD's variance at the optimum stays positive).

Conventions:
    * The snapshot is the current iterate at the start of each epoch (the paper's option I in
      practice; its analysis uses option II, a random iterate of the epoch).
    * Cost: N per-sample gradients at each snapshot, 2|B| per step.
    * The per-sample gradients come from ``problem.per_sample_grads`` (autograd). Given the
      drawn indices the steps are smooth in theta_0 and eta and differentiable by autograd
      (the problem's ``per_sample_grads`` must then be traceable, as ``reference.problems``' are).

References:
    Johnson, R. and Zhang, T. (2013). Accelerating stochastic gradient descent using predictive
        variance reduction. NeurIPS. Alg. 1.
    Note 004 ("Variance Reduction: SVRG").
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from typing import ClassVar

import autograd.numpy as anp

from .._core import lr_at, method
from .._hyper import LR, Hyperparams, Integer, required
from .._types import Array, LearningRate
from ..oracle import Sample, as_flat
from ..problems import reduction_scale


@dataclass(frozen=True, eq=False)
class SVRGHyperparams(Hyperparams):
    """SVRG's hyperparameters (both required: the step and the epoch depend on the problem)."""

    ALGORITHM: ClassVar[str] = "svrg"
    lr: LearningRate = required(
        LR, "step size eta of (SV3), or a schedule t -> eta_t (Johnson & Zhang: eta < 1/(4L))"
    )
    _: KW_ONLY
    epoch: int = required(
        Integer(ge=1),
        "epoch length m: steps between snapshots (SV1) "
        "(Johnson & Zhang: m = 2N for convex problems, N/b with minibatches)",
    )


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class SVRGState:
    """SVRG's state after ``t`` steps."""

    params: Array  # theta_t
    snapshot: Array | None  # theta~ (None before the first step)
    mu: Array | None  # grad L(theta~)
    t: int  # completed steps


def init(params: Array) -> SVRGState:
    """theta_0 = params, t = 0; the first step takes the first snapshot."""
    return SVRGState(params=as_flat(params), snapshot=None, mu=None, t=0)


def refresh(state: SVRGState, sample: Sample, epoch: int) -> SVRGState:
    """The state with the snapshot theta~ = theta and mu = grad L(theta~) if t is a multiple of m."""
    if state.snapshot is not None and state.mu is not None and state.t % epoch != 0:
        return state
    problem = sample.problem
    snap = state.params
    mu = reduction_scale(problem, of="mean") * anp.mean(problem.per_sample_grads(snap, None), axis=0)  # (SV1)
    return SVRGState(params=state.params, snapshot=snap, mu=mu, t=state.t)


def estimate(state: SVRGState, sample: Sample) -> Array:
    """g_t of (SV2) for a state whose snapshot is set (after ``refresh``)."""
    if state.snapshot is None or state.mu is None:
        raise ValueError(
            "svrg: the state has no snapshot yet; call refresh(state, sample, epoch) "
            "before estimate (step does)"
        )
    problem, idx = sample.problem, sample.idx
    diff = problem.per_sample_grads(state.params, idx) - problem.per_sample_grads(state.snapshot, idx)
    g: Array = reduction_scale(problem, of="mean") * anp.mean(diff, axis=0) + state.mu  # (SV2)
    return g


def step(state: SVRGState, sample: Sample, *, lr: LearningRate, epoch: int) -> SVRGState:
    """One SVRG step, eqs. (SV1)-(SV3) of specs/svrg.md."""
    if not isinstance(sample, Sample):
        raise TypeError(f"svrg: step needs a Sample(problem, idx), got {type(sample).__name__}")
    state = refresh(state, sample, epoch)
    g = estimate(state, sample)
    if anp.shape(g) != anp.shape(state.params):
        raise ValueError(
            f"svrg: per-sample gradients have {anp.shape(g)} entries, params {anp.shape(state.params)}"
        )
    theta = state.params - lr_at(lr, state.t) * g  # (SV3)
    return SVRGState(params=theta, snapshot=state.snapshot, mu=state.mu, t=state.t + 1)


svrg = method(
    SVRGHyperparams,
    init,
    step,
    "SVRG; step(state, Sample(problem, idx)). See the module docstring and specs/svrg.md.",
)

"""What every problem offers (the contract used by the driver, the theory checks and the
curvature methods). Concrete problems live beside this file, one module each.

A problem is L(theta) over a flat float64 vector theta of size ``dim``. Finite-sum problems are
L(theta) = reduce_i l_i(theta) with ``reduction`` "mean" (default) or "sum", and offer
per-sample quantities and minibatch gradients; all derivatives come from autograd.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from .._types import Array


@runtime_checkable
class Problem(Protocol):
    """A differentiable objective on R^dim."""

    @property
    def name(self) -> str: ...

    @property
    def dim(self) -> int: ...

    def loss(self, params: Array) -> float:
        """L(theta); traceable by autograd (returns a box under differentiation)."""
        ...

    def grad(self, params: Array) -> Array:
        """grad L(theta), by autograd."""
        ...

    def init_params(self, rng: np.random.Generator) -> Array:
        """A starting point (zeros for convex problems, Xavier/He for networks)."""
        ...


@runtime_checkable
class FiniteSumProblem(Problem, Protocol):
    """L(theta) = reduce_{i=1..N} l_i(theta), reduce = mean (default) or sum."""

    @property
    def n_samples(self) -> int: ...

    def per_sample_losses(self, params: Array) -> Array:
        """(N,) the l_i(theta)."""
        ...

    def per_sample_grads(self, params: Array, idx: Array | None = None) -> Array:
        """(N, dim) or (len(idx), dim): grad l_i(theta), vectorized (one backward pass)."""
        ...

    def minibatch_grad(
        self, params: Array, rng: np.random.Generator, batch_size: int, *, replace: bool = True
    ) -> Array:
        """Unbiased estimate of grad L(theta) from b = batch_size samples drawn from ``rng``,
        with or without replacement (for reduction "sum" the batch mean is scaled by N)."""
        ...

    def batch_indices(
        self, rng: np.random.Generator, batch_size: int, *, replace: bool = True
    ) -> Array:
        """The (b,) integer indices the next minibatch uses."""
        ...

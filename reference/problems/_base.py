"""What every problem offers (the contract used by the driver, the theory checks and the
curvature methods). Concrete problems live beside this file, one module each.

A problem is L(theta) over a flat float64 vector theta of size ``dim``. Finite-sum problems are
L(theta) = reduce_i l_i(theta) with ``reduction`` "mean" (default) or "sum", and offer
per-sample quantities and minibatch gradients; all derivatives come from autograd.

Every finite-sum problem is also "model + per-sample loss on the outputs", so that curvature
methods (Gauss-Newton, K-FAC, natural gradient) can be built generically:

    L(theta) = reduce_i  losses_from_outputs(predict(theta, X), y)_i  +  (l2 / 2) ||theta||^2

with ``predict(theta, X) -> (n, output_dim)`` and ``losses_from_outputs(outputs, y) -> (n,)``
both traceable by autograd. The regulariser (``l2`` = 0 for unregularised problems) is shared
among the samples, so that the per-sample losses still reduce to L exactly:

    l_i(theta) = data_i(theta) + s (l2 / 2) ||theta||^2,   s = 1 (mean) or 1/N (sum).

``reduction_scale(problem)`` is the one place that turns the reduction into a factor: the s of
L = s sum_i l_i (the curvature methods) or the c of L = c mean_i l_i (SVRG, SAGA).
"""

from __future__ import annotations

from typing import Any, Literal, Protocol, TypeAlias, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from .._types import Array

#: Integer sample indices (minibatches).
IndexArray: TypeAlias = NDArray[np.intp]

#: How the per-sample losses are combined into L.
Reduction: TypeAlias = Literal["mean", "sum"]


def reduction_scale(problem: object, *, of: Literal["sum", "mean"] = "sum") -> float:
    """The factor that turns the sum (``of="sum"``) or the mean (``of="mean"``) of the l_i into L.

        of="sum":   L = s sum_i l_i,    s = 1/N for reduction "mean", 1 for "sum"
        of="mean":  L = c mean_i l_i,   c = 1 for reduction "mean", N for "sum"

    Each is computed directly (1.0, 1/N or N; never N * (1/N), which is not always 1 in floating
    point). N is ``problem.n_samples``, or the rows of ``problem.X`` for a bare model; a problem
    without a ``reduction`` attribute is a mean.
    """
    reduction = getattr(problem, "reduction", "mean")
    if reduction not in ("mean", "sum"):
        raise ValueError(f"problem.reduction must be 'mean' or 'sum', got {reduction!r}")
    if of not in ("sum", "mean"):
        raise ValueError(f"reduction_scale: of must be 'sum' or 'mean', got {of!r}")
    if reduction == of:
        return 1.0
    n = problem.n_samples if hasattr(problem, "n_samples") else problem.X.shape[0]  # type: ignore[attr-defined]
    return 1.0 / int(n) if of == "sum" else float(int(n))


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

    @property
    def reduction(self) -> Reduction:
        """ "mean" (L = (1/N) sum_i l_i) or "sum" (L = sum_i l_i)."""
        ...

    @property
    def X(self) -> Array:
        """(N, d_in) inputs (read-only)."""
        ...

    @property
    def y(self) -> NDArray[Any]:
        """(N,) targets: floats for regression, integer labels for classification (read-only)."""
        ...

    @property
    def output_dim(self) -> int:
        """m, the number of model outputs per sample."""
        ...

    @property
    def l2(self) -> float:
        """Coefficient of the regulariser (l2 / 2) ||theta||^2 in L (0 if none); its Hessian is l2 I."""
        ...

    def predict(self, params: Array, X: Array) -> Array:
        """(n, output_dim) model outputs for the rows of ``X``; traceable by autograd."""
        ...

    def predict_rowwise(self, thetas: Array, X: Array) -> Array:
        """(n, output_dim): row i is predict(thetas[i], X[i:i+1]) (each sample its own copy of
        the parameters; the replicated-parameters trick for per-sample gradients/Jacobians)."""
        ...

    def losses_from_outputs(self, outputs: Array, y: NDArray[Any]) -> Array:
        """(n,) data losses of ``outputs`` against targets ``y`` (no regulariser); traceable."""
        ...

    def per_sample_losses(self, params: Array, idx: IndexArray | None = None) -> Array:
        """(N,) or (len(idx),) the l_i(theta), regulariser share included."""
        ...

    def per_sample_grads(self, params: Array, idx: IndexArray | None = None) -> Array:
        """(N, dim) or (len(idx), dim): grad l_i(theta), vectorized (one backward pass)."""
        ...

    def minibatch_grad(
        self, params: Array, rng: np.random.Generator, batch_size: int, *, replace: bool = True
    ) -> Array:
        """Unbiased estimate of grad L(theta) from b = batch_size samples drawn from ``rng``,
        with or without replacement (for reduction "sum" the batch mean is scaled by N)."""
        ...

    def batch_indices(self, rng: np.random.Generator, batch_size: int, *, replace: bool = True) -> IndexArray:
        """The (b,) integer indices the next minibatch uses."""
        ...

"""Shared machinery of the finite-sum problems: reduction, per-sample quantities, minibatches.

A concrete problem subclasses :class:`FiniteSumBase` (a frozen dataclass) and supplies

* ``predict(params, X) -> (n, m)`` and ``losses_from_outputs(outputs, y) -> (n,)``;
* ``predict_rowwise(Theta, X) -> (n, m)``: row i of the output is ``predict(Theta[i], X[i:i+1])``,
  i.e. every sample sees its own copy of the parameters. This is what makes per-sample gradients
  one backward pass (the replicated-parameters trick):

      d/dTheta sum_i l_i(Theta_i) evaluated at Theta_i = theta  has row i = grad l_i(theta),

  because l_i depends on row i only.

Everything else (loss, grad, per-sample losses and gradients, minibatches) is defined here once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import autograd.numpy as anp
import numpy as np
from autograd import grad as ag_grad
from autograd.tracer import isbox
from numpy.typing import NDArray

from .._core import check_count, check_rng
from .._types import Array
from ._base import IndexArray, Reduction


def make_rng(seed: int | None, rng: np.random.Generator | None, who: str) -> np.random.Generator:
    """The Generator from exactly one of ``seed`` and ``rng``."""
    if seed is not None and rng is not None:
        raise ValueError(f"{who}: pass seed or rng, not both")
    if rng is not None:
        return check_rng(rng)
    if seed is None:
        raise ValueError(f"{who}: pass seed=<int> or rng=<numpy.random.Generator>")
    return np.random.default_rng(check_count(who, "seed", seed, minimum=0))


def check_matrix(who: str, name: str, a: object) -> Array:
    """A finite 2-D float64 read-only copy of ``a``."""
    arr = np.asarray(a)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{who}: {name} must be real numbers, got dtype {arr.dtype}")
    if arr.ndim != 2 or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"{who}: {name} must be a non-empty 2-D array (N, d), got shape {arr.shape}")
    out = np.array(arr, dtype=np.float64)
    if not np.all(np.isfinite(out)):
        raise ValueError(f"{who}: {name} must be finite")
    out.setflags(write=False)
    return out


def check_targets(who: str, y: object, n: int) -> Array:
    """A finite (N,) float64 read-only copy of ``y``."""
    arr = np.asarray(y)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{who}: y must be real numbers, got dtype {arr.dtype}")
    if arr.shape != (n,):
        raise ValueError(f"{who}: y must have shape ({n},) to match X, got shape {arr.shape}")
    out = np.array(arr, dtype=np.float64)
    if not np.all(np.isfinite(out)):
        raise ValueError(f"{who}: y must be finite")
    out.setflags(write=False)
    return out


def check_reduction(who: str, reduction: object) -> Reduction:
    if reduction not in ("mean", "sum"):
        raise ValueError(f"{who}: reduction must be one of ['mean', 'sum'], got {reduction!r}")
    return reduction


def check_params(params: Any, dim: int, who: str) -> Any:
    """``params`` must be a flat vector of length ``dim`` (autograd boxes pass through)."""
    if isbox(params):
        if anp.shape(params) != (dim,):
            raise ValueError(f"{who}: params must have shape ({dim},), got {anp.shape(params)}")
        return params
    arr = np.asarray(params)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{who}: params must be real numbers, got dtype {arr.dtype}")
    if arr.shape != (dim,):
        raise ValueError(f"{who}: params must have shape ({dim},), got {arr.shape}")
    return arr.astype(np.float64, copy=False)


@dataclass(frozen=True, eq=False, kw_only=True)
class FiniteSumBase:
    """L(theta) = reduce_i data_i(theta) + (l2/2)||theta||^2 over the N rows of ``X``, ``y``.

    Subclasses set the fields and implement ``predict``, ``predict_rowwise`` and
    ``losses_from_outputs``; they may override ``per_sample_grads`` with a closed form.
    """

    name: str
    X: Array
    y: NDArray[Any]
    reduction: Reduction = "mean"
    l2: float = 0.0

    # -- to be provided by the model -----------------------------------------------------------

    @property
    def dim(self) -> int:
        raise NotImplementedError

    @property
    def output_dim(self) -> int:
        raise NotImplementedError

    def predict(self, params: Array, X: Array) -> Array:
        raise NotImplementedError

    def predict_rowwise(self, thetas: Array, X: Array) -> Array:
        raise NotImplementedError

    def losses_from_outputs(self, outputs: Array, y: NDArray[Any]) -> Array:
        raise NotImplementedError

    def init_params(self, rng: np.random.Generator) -> Array:
        """theta_0 = 0 (convex models); networks override this."""
        check_rng(rng)
        return np.zeros(self.dim)

    # -- derived -------------------------------------------------------------------------------

    @property
    def n_samples(self) -> int:
        return int(self.X.shape[0])

    @property
    def _share(self) -> float:
        """Share s of the regulariser carried by each l_i: reduce_i s R = R."""
        return 1.0 if self.reduction == "mean" else 1.0 / self.n_samples

    def _reduce(self, values: Array) -> Any:
        return anp.mean(values) if self.reduction == "mean" else anp.sum(values)

    def _check_idx(self, idx: object) -> IndexArray:
        arr = np.asarray(idx)
        if arr.ndim != 1 or (arr.size and arr.dtype.kind not in "iu"):
            raise ValueError(
                f"{self.name}: idx must be a 1-D array of integer sample indices, "
                f"got shape {arr.shape} dtype {arr.dtype}"
            )
        arr = arr.astype(np.intp)
        if arr.size and (arr.min() < 0 or arr.max() >= self.n_samples):
            raise ValueError(
                f"{self.name}: idx must lie in [0, {self.n_samples}), got values in "
                f"[{arr.min()}, {arr.max()}]"
            )
        return arr

    def _data(self, idx: IndexArray | None) -> tuple[Array, NDArray[Any]]:
        if idx is None:
            return self.X, self.y
        i = self._check_idx(idx)
        return self.X[i], self.y[i]

    def regularizer(self, params: Array) -> Any:
        """R(theta) = (l2 / 2) ||theta||^2 (0 when l2 = 0)."""
        if not self.l2:
            return 0.0
        return 0.5 * self.l2 * anp.sum(params * params)

    def loss(self, params: Array) -> Any:
        """L(theta) = reduce_i losses_from_outputs(predict(theta, X), y)_i + R(theta)."""
        p = check_params(params, self.dim, self.name)
        return self._reduce(self.losses_from_outputs(self.predict(p, self.X), self.y)) + (self.regularizer(p))

    def grad(self, params: Array) -> Array:
        """grad L(theta) by autograd (reverse mode)."""
        p = check_params(params, self.dim, self.name)
        return ag_grad(self.loss)(p)  # type: ignore[no-any-return]

    def per_sample_losses(self, params: Array, idx: IndexArray | None = None) -> Array:
        """l_i(theta) = data_i(theta) + s R(theta) for the samples ``idx`` (all if None)."""
        p = check_params(params, self.dim, self.name)
        X, y = self._data(idx)
        out = self.losses_from_outputs(self.predict(p, X), y)
        return out + self._share * self.regularizer(p) if self.l2 else out

    def per_sample_grads_autograd(self, params: Array, idx: IndexArray | None = None) -> Array:
        """(n, dim) rows grad l_i(theta) by one backward pass through replicated parameters.

        f(Theta) = sum_i l_i(Theta_i) with Theta = 1 theta^T (n copies); row i of grad f is
        grad l_i(theta). Memory is O(n * dim).
        """
        p = check_params(params, self.dim, self.name)
        X, y = self._data(idx)
        n = X.shape[0]
        share = self._share

        def f(thetas: Array) -> Any:
            data = self.losses_from_outputs(self.predict_rowwise(thetas, X), y)
            total = anp.sum(data)
            if self.l2:
                total = total + share * 0.5 * self.l2 * anp.sum(thetas * thetas)
            return total

        thetas = anp.tile(p, (n, 1)) if isbox(p) else np.tile(p, (n, 1))
        return ag_grad(f)(thetas)  # type: ignore[no-any-return]

    def per_sample_grads(self, params: Array, idx: IndexArray | None = None) -> Array:
        """(n, dim) rows grad l_i(theta), vectorized (no loop over samples)."""
        return self.per_sample_grads_autograd(params, idx)

    def batch_indices(self, rng: np.random.Generator, batch_size: int, *, replace: bool = True) -> IndexArray:
        """b indices, uniform with replacement (i.i.d.) or a uniform b-subset without."""
        check_rng(rng)
        n = self.n_samples
        check_count(self.name, "batch_size", batch_size, minimum=1)
        if not replace and batch_size > n:
            raise ValueError(
                f"{self.name}: batch_size={batch_size} > n_samples={n} is impossible without "
                "replacement (pass replace=True or a smaller batch_size)"
            )
        if replace:
            return rng.integers(0, n, size=int(batch_size)).astype(np.intp)
        return rng.choice(n, size=int(batch_size), replace=False).astype(np.intp)

    def minibatch_loss(self, params: Array, idx: IndexArray) -> Any:
        """Unbiased estimate of L from the samples ``idx``: batch mean of l_i (times N for "sum")."""
        mean = anp.mean(self.per_sample_losses(params, idx))
        return mean if self.reduction == "mean" else self.n_samples * mean

    def minibatch_grad(
        self, params: Array, rng: np.random.Generator, batch_size: int, *, replace: bool = True
    ) -> Array:
        """Unbiased estimate of grad L: (1/b) sum_{i in B} grad l_i(theta) (times N for "sum").

        B is drawn by ``batch_indices``; with or without replacement E[grad] = grad L. Computed as
        one backward pass of the batch loss (the same number as averaging per_sample_grads rows).
        """
        idx = self.batch_indices(rng, batch_size, replace=replace)
        p = check_params(params, self.dim, self.name)
        return ag_grad(lambda q: self.minibatch_loss(q, idx))(p)  # type: ignore[no-any-return]


def _finite_float(who: str, name: str, value: object, *, minimum: float = 0.0) -> float:
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise TypeError(f"{who}: {name} must be a real number, got {value!r}") from None
    if not (math.isfinite(v) and v >= minimum):
        raise ValueError(f"{who}: {name} must be a finite number >= {minimum:g}, got {value!r}")
    return v

r"""Oracles: what a method may ask about the objective besides one gradient.

A ``FunctionOracle`` wraps a scalar function f: R^p -> R that autograd can trace (for example a
``reference.problems`` problem's ``loss``) and answers, at any point x the method chooses,

    value(x)            f(x)
    grad(x)             grad f(x)                      (autograd reverse mode)
    value_and_grad(x)   (f(x), grad f(x))              (one forward + one backward pass)
    hvp(x, v)           grad^2 f(x) v                  (autograd: grad of  x -> grad f(x) . v)
    hessian(x)          grad^2 f(x), a (p, p) matrix   (autograd: p Hessian-vector products)

Nothing is differentiated by hand or by finite differences. Points must be flat float64 vectors
of the function's dimension; methods that need structured params flatten them first
(``autograd.misc.flatten``).

Differentiating through a method. The answers are plain floats and float64 arrays, except while
autograd traces a computation that reaches the oracle (a loss after n steps of a method,
differentiated with respect to the initial point or a hyperparameter): then points arrive as
autograd boxes and the answers are boxes too (nested differentiation: the gradient, Hessian-vector
product and Hessian are themselves traced), so the steps stay differentiable.

Evaluation counts. Line searches and trust-region loops decide at run time how many times they
evaluate f, so the count is not known before a step. The oracle keeps the counts in a small
mutable ``EvalCounts`` object; it is the one mutable thing in the package, on purpose: the counts
are diagnostics that the math never reads, so mutating them cannot change an iterate, while
threading them functionally through every line search, trust-region loop and method state would
double the size of every signature for no gain in clarity. The oracle itself is frozen; a fresh
oracle (``oracle.fresh()``) starts from zero counts.

``FiniteSum`` is the protocol the variance-reduction methods (SVRG, SAGA) use: per-sample
gradients at a point, for a set of indices the caller draws.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import autograd
import autograd.numpy as anp
import numpy as np
from autograd.tracer import getval, isbox

from ._types import Array


@dataclass(slots=True)
class EvalCounts:
    """How many times each quantity was evaluated (the package's one mutable object; see above).

    ``hvp`` counts Hessian-vector products; ``hessian`` counts full Hessians (each costs p
    Hessian-vector products, which are not added to ``hvp``).
    """

    value: int = 0
    grad: int = 0
    hvp: int = 0
    hessian: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"value": self.value, "grad": self.grad, "hvp": self.hvp, "hessian": self.hessian}


@dataclass(frozen=True, eq=False)
class FunctionOracle:
    """Value, gradient, Hessian-vector product and Hessian of ``f``, all by autograd.

    Attributes:
        f: the objective, R^p -> R, written with ``autograd.numpy`` so autograd can trace it.
        dim: p; points of another size are refused (``None``: any flat vector).
        counts: evaluation counters (mutable diagnostics, see the module docstring).

    ``value_and_grad`` counts one value and one gradient.
    """

    f: Callable[[Array], Any]
    dim: int | None = None
    counts: EvalCounts = field(default_factory=EvalCounts)

    def __post_init__(self) -> None:
        if not callable(self.f):
            raise TypeError(f"FunctionOracle: f must be callable, got {type(self.f).__name__}")
        if self.dim is not None and (not isinstance(self.dim, int) or self.dim < 1):
            raise ValueError(f"FunctionOracle: dim must be an int >= 1 or None, got {self.dim!r}")

    @classmethod
    def from_problem(cls, problem: Any) -> FunctionOracle:
        """The oracle of a ``reference.problems`` problem: its ``loss`` and ``dim``."""
        return cls(problem.loss, dim=int(problem.dim))

    def fresh(self) -> FunctionOracle:
        """The same function with zeroed counters."""
        return FunctionOracle(self.f, self.dim)

    def _point(self, x: Any, what: str = "x") -> Array:
        if isbox(x):  # traced by autograd (a step being differentiated): check, pass through
            shape, raw = anp.shape(x), np.asarray(getval(x))
        else:
            raw = np.asarray(x, dtype=np.float64)
            shape, x = raw.shape, raw
        if len(shape) != 1:
            raise ValueError(f"oracle: {what} must be a flat vector, got shape {shape}")
        if self.dim is not None and shape[0] != self.dim:
            raise ValueError(f"oracle: {what} has shape {shape} but the function takes ({self.dim},)")
        if not np.all(np.isfinite(raw)):
            raise ValueError(f"oracle: {what} must be finite")
        return x  # type: ignore[no-any-return]

    def value(self, x: Array) -> float:
        """f(x)."""
        self.counts.value += 1
        return _scalar(self.f(self._point(x)))

    def grad(self, x: Array) -> Array:
        """grad f(x) by reverse-mode autograd."""
        self.counts.grad += 1
        return _vector(autograd.grad(self.f)(self._point(x)))

    def value_and_grad(self, x: Array) -> tuple[float, Array]:
        """(f(x), grad f(x)) from one forward and one backward pass."""
        self.counts.value += 1
        self.counts.grad += 1
        val, g = autograd.value_and_grad(self.f)(self._point(x))
        return _scalar(val), _vector(g)

    def hvp(self, x: Array, v: Array) -> Array:
        """grad^2 f(x) v: the gradient of x -> grad f(x) . v (reverse over reverse)."""
        xx = self._point(x)
        vv = self._point(v, "v")
        if anp.shape(vv) != anp.shape(xx):
            raise ValueError(f"oracle: v has shape {anp.shape(vv)} but x has shape {anp.shape(xx)}")
        self.counts.hvp += 1
        return _vector(autograd.hessian_vector_product(self.f)(xx, vv))

    def hessian(self, x: Array) -> Array:
        """grad^2 f(x) as a symmetric (p, p) matrix (autograd's Jacobian of the gradient)."""
        xx = self._point(x)
        self.counts.hessian += 1
        p = anp.shape(xx)[0]
        h = anp.reshape(_vector(autograd.hessian(self.f)(xx)), (p, p))
        return 0.5 * (h + anp.transpose(h))  # symmetric to rounding; make it exactly symmetric for Cholesky


def _scalar(v: Any) -> float:
    """A Python float, or the autograd box itself while a step is being differentiated."""
    out: float = v if isbox(v) else float(v)
    return out


def _vector(v: Any) -> Array:
    """A float64 array, or the autograd box itself while a step is being differentiated."""
    out: Array = v if isbox(v) else np.asarray(v, dtype=np.float64)
    return out


@runtime_checkable
class FiniteSum(Protocol):
    """What SVRG and SAGA need: L(theta) = (1/N) sum_i l_i(theta) and the per-sample gradients.

    ``reference.problems`` finite-sum problems satisfy it. A problem whose ``reduction`` attribute
    is ``"sum"`` means L = sum_i l_i; the methods then scale their mean estimates by
    ``reference.problems.reduction_scale(problem, of="mean")`` (N; 1 for a mean).
    """

    @property
    def n_samples(self) -> int: ...

    def per_sample_grads(self, params: Array, idx: Array | None = None) -> Array:
        """(len(idx), p) gradients grad l_i(params), i in idx (all N rows if idx is None)."""
        ...


def check_indices(idx: Any, n_samples: int) -> Array:
    """``idx`` as a non-empty 1-D integer array with entries in [0, n_samples)."""
    arr = np.asarray(idx)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1 or arr.size == 0 or arr.dtype.kind not in "iu":
        raise ValueError(f"idx must be a non-empty 1-D array of integers, got {idx!r}")
    if np.any(arr < 0) or np.any(arr >= n_samples):
        raise ValueError(f"idx entries must lie in [0, {n_samples}), got {arr.min()}..{arr.max()}")
    return arr


def as_flat(x: Any, name: str = "params") -> Array:
    """Refuse anything but a flat vector (curvature methods work on R^p); autograd boxes pass."""
    arr = x if isbox(x) else np.asarray(x)
    if anp.ndim(arr) != 1:
        raise ValueError(
            f"{name} must be a flat vector (shape (p,)), got shape {anp.shape(arr)}; flatten "
            "structured params with autograd.misc.flatten"
        )
    return arr


@dataclass(frozen=True, slots=True, eq=False)
class Sample:
    """The input of one SVRG / SAGA step: the finite sum and the indices the caller drew.

    The sampling (with or without replacement, from an explicit ``numpy.random.Generator``) stays
    with the caller, e.g. ``problem.batch_indices(rng, b)``, so that the steps are deterministic
    functions of their input.
    """

    problem: FiniteSum
    idx: Array

    def __post_init__(self) -> None:
        if not hasattr(self.problem, "per_sample_grads") or not hasattr(self.problem, "n_samples"):
            raise TypeError(
                "Sample: problem must offer n_samples and per_sample_grads(params, idx), got "
                f"{type(self.problem).__name__}"
            )
        object.__setattr__(self, "idx", check_indices(self.idx, int(self.problem.n_samples)))

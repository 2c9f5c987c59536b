"""Runs and comparisons: one gradient stream, two implementations, step by step.

Both sides start from the same theta_0 and see the same stream (``streams.py``). Open loop: the
gradients are fixed. Closed loop: each side evaluates the problem's gradient at its own iterate
(the reference at ``opt.query(state)``), modulated by the stream's gain and noise. The iterates
are compared with the tolerance model of ``tolerance.py`` (specs/conformance.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from .._core import Optimizer
from .._types import Array
from . import streams as _streams
from .peers import Peer
from .tolerance import Tolerance

MODES: tuple[str, ...] = ("open", "closed")
GradFn = Callable[[Array], Array]


def least_squares(dim: int, seed: int = 0) -> Any:
    """The default closed-loop problem: ``reference.problems.least_squares`` on R^dim, N = 2 dim rows.

    L(w) = ||X w - y||^2 / N with X = sqrt(N / 2) U diag(s) V^T, s evenly spaced in [0.5, 1], so the
    Hessian 2 X^T X / N has eigenvalues s^2 in [0.25, 1]: L-smooth with L = 1, and the closed-loop
    map of GD with lr <= 2 is non-expansive, as the tolerance model assumes. y ~ N(0, I).
    """
    from ..problems import least_squares as _ls

    if not (isinstance(dim, (int, np.integer)) and dim >= 1):
        raise ValueError(f"dim must be an integer >= 1, got {dim!r}")
    rng = np.random.default_rng([int(seed), 2000])
    n = 2 * int(dim)
    u, _ = np.linalg.qr(rng.standard_normal((n, dim)))
    v, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
    s = np.linspace(0.5, 1.0, dim)
    x = (u * s) @ v.T * math.sqrt(n / 2)
    return _ls(x, rng.standard_normal(n), reduction="mean")


def as_grad_fn(problem: Any) -> GradFn:
    """A gradient function from a problem (anything with ``.grad``) or a callable."""
    if hasattr(problem, "grad") and callable(problem.grad):
        fn: GradFn = problem.grad
        return fn
    if callable(problem):
        return problem  # type: ignore[no-any-return]
    raise TypeError(f"problem must have a .grad method or be callable, got {type(problem).__name__}")


# ----------------------------------------------------------------------------------------------
# Runs and comparisons


@dataclass(frozen=True)
class Run:
    """One side's trajectory: iterates theta_0..theta_n (n + 1, p) and the gradients it was fed."""

    iterates: Array
    grads: Array


def run_reference(
    opt: Optimizer[Any], x0: Array, *, grads: Array | None = None,
    closed: tuple[GradFn, Array, Array] | None = None,
) -> Run:  # fmt: skip
    """The reference's run: open loop on ``grads`` or closed loop on ``(grad_fn, gain, noise)``."""
    state = opt.init(x0)
    its, fed = [np.array(state.params)], []
    n = _length(grads, closed)
    for t in range(n):
        if grads is not None:
            g = grads[t]
        else:
            assert closed is not None
            fn, gain, noise = closed
            g = gain[t] * np.asarray(fn(np.asarray(opt.query(state))), dtype=np.float64) + noise[t]
        state = opt.step(state, g)
        its.append(np.array(state.params, dtype=np.float64))
        fed.append(np.array(g, dtype=np.float64))
    return Run(np.array(its), np.array(fed).reshape(n, x0.size))


def run_peer(
    peer: Peer, x0: Array, *, grads: Array | None = None,
    closed: tuple[GradFn, Array, Array] | None = None,
) -> Run:  # fmt: skip
    """The peer's run under the same input (closed loop: gradient at the peer's own iterate)."""
    peer.start(np.array(x0, dtype=np.float64))
    x = np.array(x0, dtype=np.float64)
    its, fed = [x.copy()], []
    n = _length(grads, closed)
    for t in range(n):
        if grads is not None:
            g = np.array(grads[t], dtype=np.float64)
        else:
            assert closed is not None
            fn, gain, noise = closed
            with np.errstate(all="ignore"):
                g = gain[t] * np.asarray(fn(x), dtype=np.float64) + noise[t]
        x = np.array(peer.step(g), dtype=np.float64).reshape(x0.shape)
        its.append(x.copy())
        fed.append(g)
        if not np.all(np.isfinite(x)):  # a diverged peer: stop, the rest compares as inf
            its.extend([np.full_like(x, np.nan)] * (n - t - 1))
            fed.extend([np.full_like(x, np.nan)] * (n - t - 1))
            break
    return Run(np.array(its), np.array(fed).reshape(n, x0.size))


def _length(grads: Array | None, closed: tuple[GradFn, Array, Array] | None) -> int:
    if (grads is None) == (closed is None):
        raise ValueError("pass exactly one of grads= (open loop) or closed= (closed loop)")
    return int(grads.shape[0]) if grads is not None else int(closed[1].shape[0])  # type: ignore[index]


@dataclass(frozen=True)
class Comparison:
    """The step-by-step comparison of one stream in one mode."""

    mode: str
    stream: str
    x0: Array
    reference: Run
    peer: Run
    tolerance: Tolerance
    abs_dev: Array = field(init=False)  # max_i |theta_peer - theta_ref|, t = 1..n
    rel_dev: Array = field(init=False)  # abs_dev / S_t
    bound: Array = field(init=False)  # tol_t
    first_fail: int | None = field(init=False)  # first step t (1-based) with abs_dev > tol_t

    def __post_init__(self) -> None:
        ref, got = self.reference.iterates[1:], self.peer.iterates[1:]
        with np.errstate(invalid="ignore"):
            diff = np.abs(got - ref)
            dev = np.where(np.all(np.isfinite(diff), axis=1), np.max(diff, axis=1), np.inf)
        bound = self.tolerance.bounds(self.reference.iterates)
        scale = self.tolerance.scale(self.reference.iterates)
        bad = np.flatnonzero(~(dev <= bound))
        object.__setattr__(self, "abs_dev", dev)
        object.__setattr__(self, "rel_dev", dev / np.maximum(scale, np.finfo(np.float64).tiny))
        object.__setattr__(self, "bound", bound)
        object.__setattr__(self, "first_fail", int(bad[0]) + 1 if bad.size else None)

    @property
    def n(self) -> int:
        return int(self.abs_dev.size)

    @property
    def passed(self) -> bool:
        return self.first_fail is None

    @property
    def worst_ratio(self) -> float:
        """max_t abs_dev_t / tol_t (<= 1 passes)."""
        return float(np.max(self.abs_dev / self.bound))

    @property
    def max_abs(self) -> float:
        return float(np.max(self.abs_dev))

    @property
    def max_rel(self) -> float:
        return float(np.max(self.rel_dev))

    @property
    def max_ulps(self) -> float:
        """Worst deviation in units of eps_peer * S_t (the scale-free figure quoted in reports)."""
        return float(np.max(self.rel_dev) / self.tolerance.eps)


def default_problem(dim: int, seed: int = 0) -> Any:
    """The closed-loop problem used when none is given: ``least_squares(dim, seed)``."""
    return least_squares(dim, seed)


def compare(
    peer: Peer, *, mode: str, stream: str, n_steps: int, seed: int, dim: int,
    reference: Optimizer[Any] | None = None, problem: Any = None, x0: Array | None = None,
) -> Comparison:  # fmt: skip
    """Run ``peer`` and its reference on one stream in one mode and compare the iterates."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {list(MODES)}, got {mode!r}")
    opt = reference if reference is not None else peer.spec.build()
    x = _streams.initial_point(seed, dim) if x0 is None else np.array(x0, dtype=np.float64)
    if x.shape != (dim,):
        raise ValueError(f"x0 has shape {x.shape}, expected ({dim},)")
    if mode == "open":
        grads = _streams.open_loop(stream, seed, n_steps, dim)
        ref = run_reference(opt, x, grads=grads)
        got = run_peer(peer, x, grads=grads)
    else:
        fn = as_grad_fn(problem if problem is not None else default_problem(dim, seed))
        gain, noise = _streams.closed_loop(stream, seed, n_steps, dim)
        ref = run_reference(opt, x, closed=(fn, gain, noise))
        got = run_peer(peer, x, closed=(fn, gain, noise))
    return Comparison(mode, stream, x, ref, got, Tolerance.for_dtype(peer.dtype))



__all__ = [
    "MODES",
    "Comparison",
    "GradFn",
    "Run",
    "as_grad_fn",
    "compare",
    "default_problem",
    "least_squares",
    "run_peer",
    "run_reference",
]

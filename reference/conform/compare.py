"""Runs and comparisons: one gradient stream, two implementations, step by step.

Both sides start from the same theta_0 and are fed the same gradients, rounded to the peer's
precision (specs/conformance.md, "Verdicts"):

* open loop: a fixed stream (``streams.open_loop``);
* closed loop: the gradient of the problem at the *peer's* query point (where it asks for its next
  gradient), modulated by the stream's gain and noise, fed to the peer and to the reference alike.
  The input depends on the peer's trajectory, but the two sides never evaluate the gradient at
  two different points, so rounding is not amplified by the problem's Hessian;
* long: the open loop of one stream over many steps, for bugs that start late.

The iterates and the query points are compared with the tolerance of ``tolerance.py``. A second
reading, report-only: the reference run *independently* in the closed loop (the gradient at its
own query point), against the peer's trajectory: a whole-trajectory figure, which the dynamics
may legitimately separate (chaos amplifies rounding), so it never decides the verdict.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._core import Optimizer, check_count
from .._types import Array
from . import streams as _streams
from .peers import Peer, PeerFailed, query_of
from .tolerance import Tolerance

MODES: tuple[str, ...] = ("open", "closed")
#: The mode label of the long open-loop run (``conform(long_steps=...)``).
LONG = "long"
GradFn = Callable[[Array], Array]


def least_squares(dim: int, seed: int = 0) -> Any:
    """The default closed-loop problem: ``reference.problems.least_squares`` on R^dim, N = 2 dim rows.

    L(w) = ||X w - y||^2 / N with X = sqrt(N / 2) U diag(s) V^T, s evenly spaced in [0.5, 1], so the
    Hessian 2 X^T X / N has eigenvalues s^2 in [0.25, 1]: L-smooth with L = 1, and the closed-loop
    map of GD with lr <= 2 is non-expansive, as the tolerance model assumes. y ~ N(0, I).
    """
    from ..problems import least_squares as _ls

    check_count("", "dim", dim, minimum=1)
    rng = np.random.default_rng([int(seed), 2000])
    n = 2 * int(dim)
    u, _ = np.linalg.qr(rng.standard_normal((n, dim)))
    v, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
    s = np.linspace(0.5, 1.0, dim)
    x = (u * s) @ v.T * math.sqrt(n / 2)
    return _ls(x, rng.standard_normal(n), reduction="mean")


def as_grad_fn(problem: Any) -> GradFn:
    """A gradient function from a problem (anything with ``.grad``) or a callable."""
    if isinstance(problem, _LeastSquaresDefault):
        return problem.fast_grad
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
    """One side's run: iterates theta_0..theta_n ``(n + 1, p)``, the gradients it was fed ``(n, p)``,
    and (when known) the query points q_0..q_n ``(n + 1, p)``: q_t is where the gradient of step
    t + 1 is evaluated. ``nonfinite_at``: the first step whose output was not finite (the run
    stops there; later rows are NaN)."""

    iterates: Array
    grads: Array
    queries: Array | None = None
    nonfinite_at: int | None = None


def round_to(x: Array, dtype: np.dtype[Any]) -> Array:
    """``x`` rounded to ``dtype`` and back to float64 (identity for float64)."""
    if dtype == np.float64:
        return np.array(x, dtype=np.float64)
    with np.errstate(over="ignore"):
        return np.asarray(np.asarray(x, dtype=np.float64).astype(dtype), dtype=np.float64)


def _input_grad(
    t: int, grads: Array | None, closed: tuple[GradFn, Array, Array] | None, at: Array, dt: np.dtype[Any]
) -> Array:
    """Step t's input: the open-loop gradient, or the closed loop's gain * grad L(at) + noise,
    rounded to the peer's dtype ``dt`` as a peer would receive it."""
    if grads is not None:
        return np.array(grads[t], dtype=np.float64)
    if closed is None:
        raise ValueError("_input_grad: neither an open-loop stream nor a closed loop was given")
    fn, gain, noise = closed
    with np.errstate(all="ignore"):
        return round_to(gain[t] * np.asarray(fn(at), dtype=np.float64) + noise[t], dt)


def run_reference(
    opt: Optimizer[Any],
    x0: Array,
    *,
    grads: Array | None = None,
    closed: tuple[GradFn, Array, Array] | None = None,
    dtype: np.dtype[Any] | None = None,
) -> Run:
    """The reference's run: open loop on ``grads``, or its own closed loop on ``(grad_fn, gain,
    noise)`` (gradient at ``opt.query(state)``, rounded to ``dtype`` as a peer would receive it)."""
    dt = np.dtype(np.float64) if dtype is None else dtype
    state = opt.init(np.array(x0, dtype=np.float64))
    its, fed = [np.array(state.params, dtype=np.float64)], []
    qs = [np.array(opt.query(state), dtype=np.float64)]
    n = _length(grads, closed)
    for t in range(n):
        g = _input_grad(t, grads, closed, qs[-1], dt)
        state = opt.step(state, g)
        its.append(np.array(state.params, dtype=np.float64))
        qs.append(np.array(opt.query(state), dtype=np.float64))
        fed.append(g)
    p = np.asarray(x0).size
    return Run(np.array(its), np.array(fed).reshape(n, p), np.array(qs))


def run_peer(
    peer: Peer,
    x0: Array,
    *,
    grads: Array | None = None,
    closed: tuple[GradFn, Array, Array] | None = None,
    dtype: np.dtype[Any] | None = None,
) -> Run:
    """The peer's run under the same input; closed loop: the gradient at the peer's own query.

    The peer's exceptions become ``PeerFailed`` (named), as do returned params of the wrong size.
    A non-finite output ends the run (``Run.nonfinite_at``); ``compare`` decides what it means.
    """
    dt = np.dtype(np.float64) if dtype is None else dtype
    x = np.array(x0, dtype=np.float64)
    _call(peer, "start", lambda: peer.start(x.copy()))
    its, fed = [x.copy()], []
    q = _call(peer, "query", lambda: query_of(peer, x))
    qs = [q.copy()]
    n = _length(grads, closed)
    stop: int | None = None
    for t in range(n):
        g = _input_grad(t, grads, closed, q, dt)
        out = _call(peer, f"step {t + 1}", lambda: peer.step(g.copy()))
        try:
            x = np.array(out, dtype=np.float64).reshape(x0.shape)
        except (ValueError, TypeError):
            raise PeerFailed(
                f"step {t + 1} returned {np.size(out)} params, expected {x0.size}", peer=peer.name
            ) from None
        q = _call(peer, f"query after step {t + 1}", lambda: query_of(peer, x))
        its.append(x.copy())
        qs.append(q.copy())
        fed.append(g)
        if not (np.all(np.isfinite(x)) and np.all(np.isfinite(q))):
            stop = t + 1
            pad = [np.full_like(x, np.nan)] * (n - t - 1)
            its.extend(pad)
            qs.extend(pad)
            fed.extend(pad)
            break
    return Run(np.array(its), np.array(fed).reshape(n, x0.size), np.array(qs), stop)


def _call(peer: Peer, what: str, fn: Callable[[], Any]) -> Any:
    """``fn()``; whatever the peer's code raises becomes ``PeerFailed`` naming the peer and ``what``."""
    try:
        with np.errstate(all="ignore"):
            return fn()
    except PeerFailed as e:
        raise e.named(peer.name) from None
    except Exception as e:  # noqa: BLE001 - the peer's code may raise anything; it is never a verdict
        text = str(e).strip().splitlines()
        raise PeerFailed(
            f"{what} raised {type(e).__name__}: {text[0] if text else ''}".rstrip(": "), peer=peer.name
        ) from None


def _length(grads: Array | None, closed: tuple[GradFn, Array, Array] | None) -> int:
    if (grads is None) == (closed is None):
        raise ValueError("pass exactly one of grads= (open loop) or closed= (closed loop)")
    return int(grads.shape[0]) if grads is not None else int(closed[1].shape[0])  # type: ignore[index]


def _max_dev(a: Array, b: Array) -> Array:
    with np.errstate(invalid="ignore"):
        diff = np.abs(a - b)
        return np.where(np.all(np.isfinite(diff), axis=1), np.max(diff, axis=1), np.inf)


@dataclass(frozen=True)
class Comparison:
    """The step-by-step comparison of one stream in one mode.

    ``reference`` is the reference fed the same gradients as ``peer``; the verdict compares their
    iterates, and their query points where both runs have them, under the tolerance (T1).
    ``trajectory`` (closed loop only) is the reference's independent closed loop: report-only.
    """

    mode: str
    stream: str
    x0: Array
    reference: Run
    peer: Run
    tolerance: Tolerance
    trajectory: Run | None = None
    abs_dev: Array = field(init=False)  # max_i |theta_peer - theta_ref| (or the query's, scaled), t = 1..n
    rel_dev: Array = field(init=False)  # abs_dev / S_t
    bound: Array = field(init=False)  # tol_t
    first_fail: int | None = field(init=False)  # first step t (1-based) past the tolerance
    query_fail: int | None = field(init=False)  # first failing step, when only its query is past it
    iterate_dev: Array = field(init=False)  # max_i |theta_peer - theta_ref| alone, t = 1..n

    def __post_init__(self) -> None:
        ref, got = self.reference.iterates[1:], self.peer.iterates[1:]
        dev = _max_dev(got, ref)
        qdev = np.zeros_like(dev)
        scales = [self.reference.iterates]
        if self.reference.queries is not None and self.peer.queries is not None:
            # (T3): the query q = theta + beta v carries the error of theta_t and of v_t = theta_t
            # - theta_{t-1}: at most (1 + 2 beta) <= 3 times the iterate's
            qdev = _max_dev(self.peer.queries[1:], self.reference.queries[1:]) / QUERY_FACTOR
            scales.append(self.reference.queries)
        bound = self.tolerance.bounds(*scales)
        scale = self.tolerance.scale(*scales)
        total = np.maximum(dev, qdev)
        bad = np.flatnonzero(~(total <= bound))
        qbad = np.flatnonzero(~(qdev <= bound) & (dev <= bound))
        object.__setattr__(self, "iterate_dev", dev)
        object.__setattr__(self, "abs_dev", total)
        object.__setattr__(self, "rel_dev", total / np.maximum(scale, np.finfo(np.float64).tiny))
        object.__setattr__(self, "bound", bound)
        object.__setattr__(self, "first_fail", int(bad[0]) + 1 if bad.size else None)
        object.__setattr__(self, "query_fail", int(qbad[0]) + 1 if qbad.size and qbad[0] == bad[0] else None)

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
    def iterate_ratio(self) -> float:
        """max_t |theta_peer - theta_ref| / tol_t: the iterates alone, without the query points."""
        return float(np.max(self.iterate_dev / self.bound))

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

    @property
    def trajectory_ratio(self) -> float | None:
        """Report-only: max_t |theta_peer - theta_ref independent| / tol_t (closed loop), or None."""
        if self.trajectory is None:
            return None
        with np.errstate(invalid="ignore", divide="ignore"):
            return float(np.max(_max_dev(self.peer.iterates[1:], self.trajectory.iterates[1:]) / self.bound))


@dataclass(frozen=True)
class _LeastSquaresDefault:
    """``least_squares(dim, seed)`` with its gradient in closed form, 2 X^T (X w - y) / N (the
    problem's own ``.grad`` goes through autograd, 20 times slower; both sides of a comparison
    receive the same gradient either way)."""

    problem: Any
    X: Array
    y: Array

    def fast_grad(self, w: Array) -> Array:
        r: Array = self.X.T @ (self.X @ w - self.y) * (2.0 / self.X.shape[0])
        return r


def default_problem(dim: int, seed: int = 0) -> Any:
    """The closed-loop problem used when none is given: ``least_squares(dim, seed)``."""
    prob = least_squares(dim, seed)
    return _LeastSquaresDefault(
        prob, np.asarray(prob.X, dtype=np.float64), np.asarray(prob.y, dtype=np.float64)
    )


def compare(
    peer: Peer,
    *,
    mode: str,
    stream: str,
    n_steps: int,
    seed: int,
    dim: int,
    reference: Optimizer[Any] | None = None,
    problem: Any = None,
    x0: Array | None = None,
    trajectory: bool = True,
) -> Comparison:
    """Run ``peer`` and its reference on one stream in one mode (``MODES`` or ``LONG``) and compare.

    Raises ``PeerFailed`` when the peer's code fails, or when its output turns non-finite while
    the reference's is finite and no earlier step had already left the tolerance.
    """
    if mode not in MODES and mode != LONG:
        raise ValueError(f"mode must be one of {list(MODES) + [LONG]}, got {mode!r}")
    opt = reference if reference is not None else peer.spec.build()
    dt = peer.dtype
    x = _streams.initial_point(seed, dim) if x0 is None else np.array(x0, dtype=np.float64)
    if x.shape != (dim,):
        raise ValueError(f"x0 has shape {x.shape}, expected ({dim},)")
    x = round_to(x, dt)
    traj = None
    if mode != "closed":
        grads = round_to(_streams.open_loop(stream, seed, n_steps, dim), dt)
        got = run_peer(peer, x, grads=grads, dtype=dt)
    else:
        fn = as_grad_fn(problem if problem is not None else default_problem(dim, seed))
        gain, noise = _streams.closed_loop(stream, seed, n_steps, dim)
        got = run_peer(peer, x, closed=(fn, gain, noise), dtype=dt)
        if trajectory:
            traj = run_reference(opt, x, closed=(fn, gain, noise), dtype=peer.dtype)
    tol = Tolerance.for_dtype(peer.dtype)  # after the run: a FunctionPeer learns its dtype from its output
    k = got.nonfinite_at if got.nonfinite_at is not None else n_steps
    with np.errstate(all="ignore"):
        ref = _pad(run_reference(opt, x, grads=got.grads[:k]), n_steps)
    comp = Comparison(mode, stream, x, ref, got, tol, traj)
    if got.nonfinite_at is not None and (comp.first_fail is None or comp.first_fail >= got.nonfinite_at):
        if np.all(np.isfinite(ref.iterates[: got.nonfinite_at + 1])):
            raise PeerFailed(
                f"returned non-finite params or query at step {got.nonfinite_at} ({mode} loop, "
                f"stream {stream!r}) where the reference's are finite",
                peer=peer.name,
            )
    return comp


def _pad(run: Run, n: int) -> Run:
    """``run`` extended with NaN rows to n steps (a peer that stopped early)."""
    m = run.grads.shape[0]
    if m == n:
        return run
    p = run.iterates.shape[1]
    nan = np.full((n - m, p), np.nan)
    qs = None if run.queries is None else np.vstack([run.queries, nan])
    return Run(np.vstack([run.iterates, nan]), np.vstack([run.grads, nan]), qs)


#: (T3) the query's deviation is divided by this before it meets tol_t (see ``Comparison``).
QUERY_FACTOR = 3.0


__all__ = [
    "LONG",
    "MODES",
    "QUERY_FACTOR",
    "Comparison",
    "GradFn",
    "Run",
    "as_grad_fn",
    "compare",
    "default_problem",
    "least_squares",
    "round_to",
    "run_peer",
    "run_reference",
]

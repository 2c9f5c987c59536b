"""The framework-neutral conformance core: one gradient stream, two implementations, step by step.

    report = conform(peer, streams=STREAMS, modes=("open", "closed"), n_steps=40, seed=0)
    report.passed, print(report.table()), report.diagnosis

A *peer* is anything with the small stateful interface ``Peer`` below (adapters for torch.optim and
optax live in ``torch_adapter.py`` and ``optax_adapter.py``; ``FunctionPeer`` wraps a user's own step
function). Every peer carries a ``ReferenceSpec``: the registered reference algorithm and keyword
arguments that the peer claims to compute, built by the adapter from the peer's own configuration.

Both sides start from the same theta_0 and see the same stream (``streams.py``). Open loop: the
gradients are fixed. Closed loop: each side evaluates the problem's gradient at its own iterate
(the reference at ``opt.query(state)``), modulated by the stream's gain and noise. The iterates
are compared with the tolerance model of ``tolerance.py`` (specs/conformance.md).
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Protocol, Sequence, runtime_checkable

import numpy as np

from .._core import Optimizer
from .._registry import ALGORITHMS, entry
from .._types import Array
from . import streams as _streams
from .tolerance import Tolerance

MODES: tuple[str, ...] = ("open", "closed")
GradFn = Callable[[Array], Array]


class NotComparable(ValueError):
    """The peer's configuration has no equivalent in the reference (the message says why)."""


@dataclass(frozen=True)
class ReferenceSpec:
    """A registered reference algorithm and the keyword arguments of its factory."""

    algorithm: str
    hyperparams: Mapping[str, Any]

    def __post_init__(self) -> None:
        if self.algorithm not in ALGORITHMS:
            raise NotComparable(
                f"reference algorithm {self.algorithm!r} is not registered "
                f"(registered: {', '.join(ALGORITHMS)})"
            )

    def build(self) -> Optimizer[Any]:
        opt: Optimizer[Any] = entry(self.algorithm).factory(**dict(self.hyperparams))
        return opt

    def with_(self, algorithm: str | None = None, **changes: Any) -> "ReferenceSpec":
        hp = dict(self.hyperparams)
        hp.update(changes)
        return ReferenceSpec(algorithm or self.algorithm, hp)

    def describe(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.hyperparams.items())
        return f"ref.{self.algorithm}({args})"


@runtime_checkable
class Peer(Protocol):
    """A stateful implementation under test, seen through flat float64 vectors.

    ``start(theta0)`` resets it to theta_0 with fresh optimizer state; ``step(g)`` applies one
    update with gradient ``g`` and returns the new iterate as a flat float64 array. ``dtype`` is
    the precision the peer computes in (it selects the tolerance); ``spec`` the reference it claims.
    """

    @property
    def name(self) -> str: ...

    @property
    def dtype(self) -> np.dtype[Any]: ...

    @property
    def spec(self) -> ReferenceSpec: ...

    @property
    def dim(self) -> int | None: ...

    def start(self, params: Array) -> None: ...

    def step(self, grad: Array) -> Array: ...


class ShapedPeer:
    """What the framework peers (torch, optax) share: parameter blocks of fixed shapes, the name,
    spec and dim of the ``Peer`` protocol, and the split of a flat vector into the blocks."""

    _name: str
    _spec: ReferenceSpec

    def __init__(self, shapes: Sequence[Sequence[int]]) -> None:
        self.shapes = [tuple(int(d) for d in s) for s in shapes]
        self._sizes = [int(np.prod(s)) for s in self.shapes]

    @property
    def name(self) -> str:
        return self._name

    @property
    def spec(self) -> ReferenceSpec:
        return self._spec

    @property
    def dim(self) -> int:
        return sum(self._sizes)

    def _blocks(self, flat: Array) -> list[Array]:
        """``flat`` cut into the blocks, each reshaped (views when ``flat`` is an array)."""
        out, k = [], 0
        for s, n in zip(self.shapes, self._sizes):
            out.append(np.asarray(flat[k : k + n]).reshape(s))
            k += n
        return out

    def _check_size(self, params: Array, framework: str) -> None:
        if params.size != self.dim:
            raise ValueError(f"params have {params.size} entries; the {framework} parameters have {self.dim}")


# ----------------------------------------------------------------------------------------------
# Peers that need no framework


class ReferencePeer:
    """The reference itself as a peer (for self-checks, golden vectors and variant searches)."""

    def __init__(self, spec: ReferenceSpec, *, name: str | None = None) -> None:
        self._spec = spec
        self._opt = spec.build()
        self._state: Any = None
        self._name = name or spec.describe()

    name = property(lambda self: self._name)
    spec = property(lambda self: self._spec)
    dim = property(lambda self: None)

    @property
    def dtype(self) -> np.dtype[Any]:
        return np.dtype(np.float64)

    def start(self, params: Array) -> None:
        self._state = self._opt.init(params)

    def step(self, grad: Array) -> Array:
        self._state = self._opt.step(self._state, grad)
        return np.array(self._state.params, dtype=np.float64)


StepFunction = Callable[..., tuple[Any, Any]]


class FunctionPeer:
    """A user's own step function, called as ``new_params, new_state = fn(params, grad, state, **hp)``.

    Calling convention (specs/conformance.md, "Your own function"):

    * ``params``, ``grad``: 1-D float64 numpy arrays (fresh copies; the function may modify them);
    * ``state``: ``None`` on the first call, afterwards whatever the function returned;
    * ``hp``: the reference's keyword arguments of ``algorithm`` (specs/notation.md keyword table).
      If ``fn`` takes ``**kwargs`` all are passed; otherwise only those it names, and a keyword it
      does not name must be at the reference factory's default (else ``NotComparable``);
    * the returned params may be float64 or float32 (a float32 result selects the float32
      tolerance); they must have the shape of ``params``.
    """

    def __init__(self, fn: StepFunction, algorithm: str, /, **hyperparams: Any) -> None:
        if not callable(fn):
            raise TypeError(f"fn must be callable, got {fn!r}")
        factory = entry(algorithm).factory
        defaults = {
            k: p.default
            for k, p in inspect.signature(factory).parameters.items()
            if p.default is not inspect.Parameter.empty
        }
        unknown = sorted(set(hyperparams) - set(inspect.signature(factory).parameters))
        if unknown:
            raise ValueError(f"{algorithm}: unknown hyperparameters {unknown}; valid: {sorted(defaults)}")
        full = {**defaults, **hyperparams}
        self._spec = ReferenceSpec(algorithm, hyperparams)
        self._spec.build()  # validate now, with the factory's own messages
        self._fn = fn
        self._kwargs = self._accepted(fn, full, defaults, algorithm)
        self._state: Any = None
        self._params: Array | None = None
        self._dtype: np.dtype[Any] = np.dtype(np.float64)
        self._name = f"{getattr(fn, '__module__', '?')}:{getattr(fn, '__qualname__', repr(fn))}"

    @staticmethod
    def _accepted(
        fn: StepFunction, full: dict[str, Any], defaults: dict[str, Any], algorithm: str
    ) -> dict[str, Any]:
        try:
            params = inspect.signature(fn).parameters
        except (TypeError, ValueError):
            return full
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
            return full
        out: dict[str, Any] = {}
        for k, v in full.items():
            if k in params:
                out[k] = v
            elif k not in defaults or not _same(v, defaults[k]):
                raise NotComparable(
                    f"{algorithm}: the function does not take the keyword {k!r}, which is set to "
                    f"{v!r} (the reference default is {defaults.get(k)!r})"
                )
        return out

    name = property(lambda self: self._name)
    spec = property(lambda self: self._spec)
    dim = property(lambda self: None)

    @property
    def dtype(self) -> np.dtype[Any]:
        return self._dtype

    def start(self, params: Array) -> None:
        self._state, self._params = None, np.array(params, dtype=np.float64)

    def step(self, grad: Array) -> Array:
        if self._params is None:
            raise RuntimeError("call start(params) before step(grad)")
        with np.errstate(all="ignore"):  # a NaN from user code is a mismatch, not a crash
            out = self._fn(self._params.copy(), np.array(grad, dtype=np.float64), self._state, **self._kwargs)
        if not (isinstance(out, tuple) and len(out) == 2):
            raise TypeError(
                f"{self._name} must return (new_params, new_state), got {type(out).__name__}"
            )
        new, self._state = out
        arr = np.asarray(new)
        if arr.shape != self._params.shape:
            raise ValueError(f"{self._name} returned params of shape {arr.shape}, expected {self._params.shape}")
        if arr.dtype.kind != "f":
            raise TypeError(f"{self._name} returned params of dtype {arr.dtype}; expected a float dtype")
        if arr.dtype.itemsize < self._dtype.itemsize or self._dtype == np.float64:
            self._dtype = arr.dtype if arr.dtype.itemsize <= 8 else np.dtype(np.float64)
        self._params = np.array(arr, dtype=np.float64)
        return self._params.copy()


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    return bool(a == b)


# ----------------------------------------------------------------------------------------------
# Problems for the closed loop


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


@dataclass
class ConformanceReport:
    """All comparisons of one peer against its reference, and the diagnosis if any failed."""

    peer_name: str
    spec: ReferenceSpec
    tolerance: Tolerance
    comparisons: list[Comparison]
    diagnosis: Any = None  # variants.Diagnosis when run and something failed

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.comparisons)

    @property
    def failures(self) -> list[Comparison]:
        return [c for c in self.comparisons if not c.passed]

    @property
    def worst(self) -> Comparison:
        return max(self.comparisons, key=lambda c: c.worst_ratio)

    def table(self) -> str:
        head = f"{'mode':<6} {'stream':<13} {'steps':>5} {'max |dev|':>10} {'max rel':>10} {'ulps':>9} {'dev/tol':>9} {'first fail':>10}  verdict"
        lines = [
            f"peer:      {self.peer_name}",
            f"reference: {self.spec.describe()}",
            f"tolerance: {self.tolerance.describe()}",
            head,
            "-" * len(head),
        ]
        for c in self.comparisons:
            lines.append(
                f"{c.mode:<6} {c.stream:<13} {c.n:>5} {c.max_abs:>10.3g} {c.max_rel:>10.3g} "
                f"{c.max_ulps:>9.3g} {c.worst_ratio:>9.3g} {c.first_fail if c.first_fail else '-':>10}  "
                f"{'ok' if c.passed else 'MISMATCH'}"
            )
        n_bad = len(self.failures)
        lines.append(
            f"verdict: {'CONFORMS' if self.passed else 'DOES NOT CONFORM'} "
            f"({len(self.comparisons) - n_bad}/{len(self.comparisons)} runs within tolerance)"
        )
        if self.diagnosis is not None:
            lines.append(f"diagnosis: {self.diagnosis.summary()}")
        return "\n".join(lines)


def spec_of(opt: Optimizer[Any]) -> ReferenceSpec:
    """The ``ReferenceSpec`` of a built reference optimizer (its name and factory keywords)."""
    if opt.name not in ALGORITHMS:
        raise NotComparable(f"reference optimizer {opt.name!r} is not registered")
    keys = set(inspect.signature(entry(opt.name).factory).parameters)
    return ReferenceSpec(opt.name, {k: v for k, v in opt.hyperparams.items() if k in keys})


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


def conform(
    peer: Peer,
    *,
    reference: Optimizer[Any] | None = None,
    streams: Sequence[str] = _streams.STREAMS,
    modes: Sequence[str] = MODES,
    n_steps: int = 40,
    seed: int = 0,
    dim: int | None = None,
    problem: Any = None,
    diagnose: bool = True,
) -> ConformanceReport:
    """Compare ``peer`` with its reference on every stream in every mode; diagnose a mismatch.

    Args:
        peer: the implementation under test (``torch_peer``, ``optax_peer``, ``FunctionPeer`` ...).
        reference: the reference optimizer; default ``peer.spec.build()``. When given, the
            report and the diagnosis are about it (``spec_of(reference)``), not the peer's claim.
        streams, modes: which of ``STREAMS`` and ``MODES`` to run.
        n_steps: steps per run (>= 1). seed: the explicit seed of streams and theta_0.
        dim: parameter count; default the peer's own (``peer.dim``), else 7.
        problem: closed-loop objective (``.grad`` or a callable); default ``least_squares``.
        diagnose: on a mismatch, search the documented variants (``variants.diagnose``).
    """
    if not (isinstance(n_steps, (int, np.integer)) and n_steps >= 1):
        raise ValueError(f"n_steps must be an integer >= 1, got {n_steps!r}")
    for s in streams:
        if s not in _streams.STREAMS:
            raise ValueError(f"streams: {s!r} is not one of {list(_streams.STREAMS)}")
    for m in modes:
        if m not in MODES:
            raise ValueError(f"modes: {m!r} is not one of {list(MODES)}")
    if not streams or not modes:
        raise ValueError("streams and modes must be non-empty")
    p = dim if dim is not None else (peer.dim if peer.dim is not None else 7)
    if peer.dim is not None and p != peer.dim:
        raise ValueError(f"dim={p} but the peer's parameters have {peer.dim} entries")
    comps = [
        compare(peer, mode=m, stream=s, n_steps=int(n_steps), seed=seed, dim=p,
                reference=reference, problem=problem)  # fmt: skip
        for m in modes
        for s in streams
    ]
    spec = peer.spec if reference is None else spec_of(reference)
    report = ConformanceReport(peer.name, spec, comps[0].tolerance, comps)
    if diagnose and not report.passed:
        from .variants import diagnose as _diagnose

        report.diagnosis = _diagnose(report)
    return report


__all__ = [
    "MODES",
    "Comparison",
    "ConformanceReport",
    "FunctionPeer",
    "NotComparable",
    "Peer",
    "ReferencePeer",
    "ReferenceSpec",
    "Run",
    "compare",
    "conform",
    "default_problem",
    "least_squares",
    "run_peer",
    "run_reference",
    "spec_of",
]

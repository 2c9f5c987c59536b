"""Peers: the stateful interface an implementation under test is seen through, and the peers that
need no framework (the reference itself, a user's own step function). Spec: specs/conformance.md.

Every peer carries a ``ReferenceSpec``: the registered reference algorithm and keyword arguments
that the peer claims to compute, built by the adapter from the peer's own configuration.
"""

from __future__ import annotations

import importlib.metadata
import inspect
import math
import platform
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from .._core import Optimizer, check_count
from .._registry import ALGORITHMS, entry
from .._types import Array


class NotComparable(ValueError):
    """The peer's configuration has no equivalent in the reference (the message says why)."""


class PeerFailed(Exception):
    """The peer's own code failed: it raised, or returned params (or a query) of the wrong kind,
    shape or dtype, or with non-finite entries. Never a mismatch verdict.

    ``cause`` is one line naming what happened; ``peer`` the peer's name once known (``str(e)``
    reads "PEER: CAUSE").
    """

    def __init__(self, cause: str, *, peer: str = "") -> None:
        self.cause = " ".join(str(cause).split()) or "failed"
        self.peer = peer
        super().__init__(f"{peer}: {self.cause}" if peer else self.cause)

    def named(self, peer: str) -> PeerFailed:
        """The same failure with the peer's name (the name is added once, by the runner)."""
        return self if self.peer else PeerFailed(self.cause, peer=peer)


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

    def with_(self, algorithm: str | None = None, **changes: Any) -> ReferenceSpec:
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
    update with gradient ``g`` and returns the new iterate as a flat float64 array. ``spec`` is
    the reference it claims; ``dim`` its parameter count (None: any).

    ``dtype`` is the precision the peer *computes* in, whatever it returns: a peer computing in
    float32 and returning float64 says float32, and is compared at float32 (its inputs theta_0 and
    g_t are rounded to it for both sides; specs/conformance.md, "Tolerance model").

    Optional: ``query() -> Array``, where the peer wants its next gradient (look-ahead methods);
    a peer without it is asked for the gradient at the params it returned (``query_of``).
    Optional: ``packages``, the distributions the peer's code runs on (``("torch",)``), whose
    versions the report records beside the verdict (``peer_versions``).
    Anything ``start``/``step``/``query`` raise reaches the caller as ``PeerFailed``.
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


#: Packages whose versions every report records; a peer adds its own (``Peer.packages``).
BASE_PACKAGES: tuple[str, ...] = ("python", "numpy", "optim-reference")


def package_version(name: str) -> str:
    """The installed version of distribution ``name`` (``"python"``: the interpreter), else the
    imported module's ``__version__``, else ``"unknown"``."""
    if name == "python":
        return platform.python_version()
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        version = getattr(sys.modules.get(name), "__version__", None)
        return str(version) if version is not None else "unknown"


def peer_versions(peer: Peer) -> dict[str, str]:
    """The versions a comparison with ``peer`` was measured with: python, numpy, optim-reference,
    the peer's own packages (torch; jax, jaxlib and optax; a function's package if it has a
    version) and ml_dtypes for a bfloat16 peer."""
    names = [*BASE_PACKAGES, *getattr(peer, "packages", ())]
    if peer.dtype.name == "bfloat16":
        names.append("ml_dtypes")
    return {n: package_version(n) for n in dict.fromkeys(names)}


def query_of(peer: Peer, params: Array) -> Array:
    """Where ``peer`` wants its next gradient: ``peer.query()`` if it has one, else ``params``."""
    q = getattr(peer, "query", None)
    if q is None or not callable(q):
        return params
    return np.asarray(_to_numpy(q(), "query"), dtype=np.float64).reshape(params.shape)


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
    """The reference itself as a peer (for self-checks, golden vectors and variant searches).

    ``offset_ulps=k`` starts it k units in the last place away from theta_0 (``numpy.nextafter``
    applied k times, towards +inf): the reference against itself one ulp apart is the test that a
    verdict does not depend on luck (specs/conformance.md, "Verdicts").
    """

    def __init__(self, spec: ReferenceSpec, *, name: str | None = None, offset_ulps: int = 0) -> None:
        check_count("", "offset_ulps", offset_ulps, minimum=0)
        self._spec = spec
        self._opt = spec.build()
        self._state: Any = None
        self._offset = int(offset_ulps)
        self._name = name or spec.describe() + (f" [started {offset_ulps} ulp away]" if offset_ulps else "")

    name = property(lambda self: self._name)
    spec = property(lambda self: self._spec)
    dim = property(lambda self: None)

    @property
    def dtype(self) -> np.dtype[Any]:
        return np.dtype(np.float64)

    def start(self, params: Array) -> None:
        x = np.array(params, dtype=np.float64)
        for _ in range(self._offset):
            x = np.nextafter(x, np.inf)
        self._state = self._opt.init(x)

    def step(self, grad: Array) -> Array:
        self._state = self._opt.step(self._state, grad)
        return np.array(self._state.params, dtype=np.float64)

    def query(self) -> Array:
        return np.array(self._opt.query(self._state), dtype=np.float64)


StepFunction = Callable[..., tuple[Any, ...]]


def as_float_dtype(dtype: Any, what: str = "dtype") -> np.dtype[Any]:
    """A numpy float dtype from a name or dtype: float64, float32, float16, or ml_dtypes' bfloat16."""
    if isinstance(dtype, str) and dtype.lower() == "bfloat16":
        try:
            import ml_dtypes
        except ImportError:  # pragma: no cover - ml_dtypes ships with jax
            raise ValueError(f"{what}: bfloat16 needs the ml_dtypes package") from None
        bf: np.dtype[Any] = np.dtype(ml_dtypes.bfloat16)
        return bf
    try:
        dt: np.dtype[Any] = np.dtype(dtype)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be one of {list(FLOAT_DTYPES)}, got {dtype!r}") from None
    if dt.name not in FLOAT_DTYPES:
        raise ValueError(f"{what} must be one of {list(FLOAT_DTYPES)}, got {dtype!r}")
    return dt


#: The precisions a peer may compute in (specs/conformance.md, "Tolerance model").
FLOAT_DTYPES: tuple[str, ...] = ("float64", "float32", "float16", "bfloat16")


def _to_numpy(value: Any, what: str) -> Array:
    """``value`` as a numpy array; a torch tensor is detached and moved to the CPU first."""
    if hasattr(value, "detach") and callable(value.detach):
        value = value.detach()
        if hasattr(value, "cpu"):
            value = value.cpu()
        if hasattr(value, "numpy"):
            value = value.numpy()
    try:
        arr = np.asarray(value)
    except Exception as e:  # noqa: BLE001 - whatever the object raises, it is the peer's fault
        raise PeerFailed(f"returned {what} that is not an array ({type(value).__name__}: {e})") from None
    if arr.dtype.kind != "f" and arr.dtype.name != "bfloat16":
        raise PeerFailed(f"returned {what} of dtype {arr.dtype}; expected a float dtype")
    return arr


class FunctionPeer:
    """A user's own step function (specs/conformance.md, "Your own function"):

        new_params, new_state = fn(params, grad, state, **hp)             # gradient at new_params
        new_params, new_state, query = fn(params, grad, state, **hp)      # gradient at query

    * ``params``, ``grad``: 1-D numpy arrays in the run's dtype (fresh copies; the function may
      modify them); ``grad`` was evaluated at the last query (theta_0 before the first step);
    * ``state``: ``None`` on the first call, afterwards whatever the function returned;
    * ``hp``: the reference's keyword arguments of ``algorithm`` (specs/notation.md keyword table).
      If ``fn`` takes ``**kwargs`` all are passed; otherwise only those it names, and a keyword it
      does not name must be at the reference factory's default (else ``NotComparable``);
    * a third returned value is where the function wants its next gradient (look-ahead and
      Sutskever Nesterov return theta_t + beta v_t); without it the gradient is taken at the
      returned params;
    * ``dtype`` (default float64): the precision the function is given its inputs in and is
      compared at, whatever dtype it returns. Without ``dtype``, a function that returns float32
      (float16, bfloat16) params is compared at that precision.

    Anything the function raises, and a return value of the wrong kind, shape or dtype or with
    non-finite entries, is ``PeerFailed`` (the peer's own code failed), never a mismatch.
    """

    def __init__(self, fn: StepFunction, algorithm: str, /, *, dtype: Any = None, **hyperparams: Any) -> None:
        if not callable(fn):
            raise TypeError(f"fn must be callable, got {fn!r}")
        row = entry(algorithm)
        defaults = row.defaults()
        unknown = sorted(set(hyperparams) - set(row.hyperparameter_names()))
        if unknown:
            raise ValueError(f"{algorithm}: unknown hyperparameters {unknown}; valid: {sorted(defaults)}")
        full = {**defaults, **hyperparams}
        self._spec = ReferenceSpec(algorithm, hyperparams)
        self._spec.build()  # validate now, with the factory's own messages
        self._fn = fn
        self._kwargs = self._accepted(fn, full, defaults, algorithm)
        self._declared = None if dtype is None else as_float_dtype(dtype)
        self._state: Any = None
        self._params: Array | None = None
        self._query: Array | None = None
        self._dtype: np.dtype[Any] = self._declared or np.dtype(np.float64)
        self._name = f"{getattr(fn, '__module__', '?')}:{getattr(fn, '__qualname__', repr(fn))}"
        if self._declared is not None and self._declared != np.float64:
            self._name += f" [{self._declared.name}]"

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
    def packages(self) -> tuple[str, ...]:
        """The function's top-level package when it carries a ``__version__`` (else none)."""
        top = str(getattr(self._fn, "__module__", None) or "").partition(".")[0]
        return (top,) if top and hasattr(sys.modules.get(top), "__version__") else ()

    @property
    def dtype(self) -> np.dtype[Any]:
        """The precision compared at: the declared dtype, else the lowest the function returned."""
        return self._dtype

    def start(self, params: Array) -> None:
        self._dtype = self._declared or np.dtype(np.float64)
        self._state, self._params = None, np.array(params, dtype=self._dtype)
        self._query = None

    def step(self, grad: Array) -> Array:
        if self._params is None:
            raise RuntimeError("call start(params) before step(grad)")
        with np.errstate(all="ignore"):  # what the function computes is checked below
            out = self._fn(
                self._params.copy(), np.array(grad, dtype=self._params.dtype), self._state, **self._kwargs
            )
        if not (isinstance(out, tuple) and len(out) in (2, 3)):
            raise PeerFailed(
                f"must return (new_params, new_state) or (new_params, new_state, query), got {_kind(out)}"
            )
        new = self._check(_to_numpy(out[0], "params"), "params")
        self._state = out[1]
        self._query = self._check(_to_numpy(out[2], "query"), "query") if len(out) == 3 else None
        lowest = (
            new if self._query is None or new.dtype.itemsize <= self._query.dtype.itemsize else self._query
        )
        if self._declared is None and lowest.dtype.itemsize < self._dtype.itemsize:
            self._dtype = lowest.dtype
        self._params = np.array(new, dtype=self._params.dtype)
        return np.array(new, dtype=np.float64)

    def query(self) -> Array:
        """Where the function wants its next gradient: its returned query, else its params."""
        if self._params is None:
            raise RuntimeError("call start(params) before query()")
        return np.array(self._params if self._query is None else self._query, dtype=np.float64)

    def _check(self, arr: Array, what: str) -> Array:
        if self._params is None:
            raise RuntimeError("call start(params) before step()")
        if arr.shape != self._params.shape:
            raise PeerFailed(f"returned {what} of shape {arr.shape}, expected {self._params.shape}")
        return arr


def _kind(out: Any) -> str:
    return f"a tuple of {len(out)}" if isinstance(out, tuple) else type(out).__name__


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    return bool(a == b)


def spec_of(opt: Optimizer[Any]) -> ReferenceSpec:
    """The ``ReferenceSpec`` of a built reference optimizer (its name and factory keywords)."""
    if opt.name not in ALGORITHMS:
        raise NotComparable(f"reference optimizer {opt.name!r} is not registered")
    keys = set(entry(opt.name).hyperparameter_names())
    return ReferenceSpec(opt.name, {k: v for k, v in opt.hyperparams.items() if k in keys})


__all__ = [
    "FLOAT_DTYPES",
    "FunctionPeer",
    "NotComparable",
    "Peer",
    "PeerFailed",
    "ReferencePeer",
    "ReferenceSpec",
    "ShapedPeer",
    "StepFunction",
    "BASE_PACKAGES",
    "as_float_dtype",
    "package_version",
    "peer_versions",
    "query_of",
    "spec_of",
]

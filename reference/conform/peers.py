"""Peers: the stateful interface an implementation under test is seen through, and the peers that
need no framework (the reference itself, a user's own step function). Spec: specs/conformance.md.

Every peer carries a ``ReferenceSpec``: the registered reference algorithm and keyword arguments
that the peer claims to compute, built by the adapter from the peer's own configuration.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Protocol, Sequence, runtime_checkable

import numpy as np

from .._core import Optimizer
from .._registry import ALGORITHMS, entry
from .._types import Array

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



def spec_of(opt: Optimizer[Any]) -> ReferenceSpec:
    """The ``ReferenceSpec`` of a built reference optimizer (its name and factory keywords)."""
    if opt.name not in ALGORITHMS:
        raise NotComparable(f"reference optimizer {opt.name!r} is not registered")
    keys = set(inspect.signature(entry(opt.name).factory).parameters)
    return ReferenceSpec(opt.name, {k: v for k, v in opt.hyperparams.items() if k in keys})



__all__ = [
    "FunctionPeer",
    "NotComparable",
    "Peer",
    "ReferencePeer",
    "ReferenceSpec",
    "ShapedPeer",
    "StepFunction",
    "spec_of",
]

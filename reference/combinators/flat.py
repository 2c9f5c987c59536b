r"""Run any elementwise optimizer on structured params (a tuple, list or dict of arrays).

    opt = ref.flat(ref.adam(lr=1e-3))
    state = opt.init([W1, b1, W2, b2])          # a model's parameter list
    state = opt.step(state, [gW1, gb1, gW2, gb2])
    state.params                                 # the same structure, float64 leaves

The params are flattened once at ``init`` with ``autograd.misc.flatten`` (leaves in a fixed order:
tuples and lists in order, dicts by sorted key, each array raveled in C order) into one float64
vector; the wrapped optimizer runs on that vector and ``state.params`` unflattens it. Each gradient
must have the same structure and leaf shapes as the params; it is flattened the same way.

For an elementwise method (every method whose step acts coordinate by coordinate: gd, sgd,
momentum, adagrad, rmsprop, adadelta, adam, adamw, ...) this is exactly the per-leaf update. For a
method that couples coordinates it applies the method to the concatenated vector: with
``clip_by_global_norm`` that is the global norm over all leaves, which is what "global" means. Methods
that need layer structure (K-FAC, Shampoo) take per-layer matrices instead (design.md).

Everything stays differentiable by autograd: flatten and unflatten are linear maps autograd traces.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Generic, Mapping, TypeVar

import numpy as np
from autograd.misc import flatten
from autograd.tracer import getval, isbox

from .._core import Optimizer, OptState

S = TypeVar("S", bound=OptState)


def structure(tree: Any) -> Any:
    """A comparable description of ``tree``: container types, dict keys, leaf shapes."""
    if isinstance(tree, dict):
        return ("dict", tuple((k, structure(tree[k])) for k in sorted(tree)))
    if isinstance(tree, (tuple, list)):
        return (type(tree).__name__, tuple(structure(x) for x in tree))
    return ("leaf", np.shape(getval(tree)))


@dataclass(frozen=True, slots=True, eq=False)
class FlatState(Generic[S]):
    """The wrapped optimizer's state on the flat vector, with the way back to the structure."""

    inner: S  # state of the wrapped optimizer on the flat vector
    unflatten: Callable[[Any], Any]  # flat vector -> structure
    treedef: Any  # structure(params), to check gradients against

    @property
    def params(self) -> Any:
        """The current iterate, in the structure of the params given to ``init``."""
        return self.unflatten(self.inner.params)

    @property
    def t(self) -> int:
        """Completed steps."""
        return self.inner.t


def _as_float(tree: Any, what: str) -> Any:
    """The same structure with every leaf a float64 array (autograd boxes pass through)."""
    if isinstance(tree, dict):
        return {k: _as_float(tree[k], what) for k in tree}
    if isinstance(tree, (tuple, list)):
        return type(tree)(_as_float(x, what) for x in tree)
    if isbox(tree):
        return tree
    raw = np.asarray(tree)
    if raw.dtype.kind not in "biuf":
        raise TypeError(f"flat: {what} leaves must be real numbers, got dtype {raw.dtype}")
    return raw.astype(np.float64)


def _size(desc: Any) -> int:
    kind, inner = desc
    if kind == "leaf":
        return int(np.prod(inner))
    return sum(_size(d[1] if kind == "dict" else d) for d in inner)


@dataclass(frozen=True, eq=False)
class FlatOptimizer(Generic[S]):
    """``inner`` lifted to structured params: same ``init``/``step``/``query`` contract."""

    inner: Optimizer[S]

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def hyperparams(self) -> Mapping[str, object]:
        return self.inner.hyperparams

    def init(self, params: Any) -> FlatState[S]:
        """Flatten ``params`` (converted to float64 by the wrapped ``init``) and start."""
        converted = _as_float(params, "params")
        treedef = structure(params)
        if _size(treedef) == 0:
            raise ValueError("flat: params has no entries")
        vec, unflatten = flatten(converted)
        return FlatState(inner=self.inner.init(vec), unflatten=unflatten, treedef=treedef)

    def step(self, state: FlatState[S], grad: Any) -> FlatState[S]:
        """Flatten ``grad`` (same structure as the params) and take the wrapped step."""
        got = structure(grad)
        if got != state.treedef:
            raise ValueError(f"flat: grad has structure {got} but params have structure {state.treedef}")
        vec, _ = flatten(_as_float(grad, "grad"))  # the params' structure, so not empty
        return FlatState(inner=self.inner.step(state.inner, vec), unflatten=state.unflatten, treedef=state.treedef)

    def query(self, state: FlatState[S]) -> Any:
        """Where the next gradient is taken, in the params' structure."""
        return state.unflatten(self.inner.query(state.inner))

    def __repr__(self) -> str:
        return f"ref.flat({self.inner!r})"


def flat(opt: Optimizer[S]) -> FlatOptimizer[S]:
    """Lift ``opt`` (built for one array) to structured params via ``autograd.misc.flatten``."""
    if not isinstance(opt, Optimizer):
        raise TypeError(f"flat: opt must be a reference Optimizer, got {type(opt).__name__}")
    return FlatOptimizer(inner=opt)

r"""Structured params: any first-order optimizer on a tuple, list or dict of arrays. Spec:
specs/flat.md, eqs. (FL1)-(FL4).

    opt = ref.flat(ref.adam(lr=1e-3))
    state = opt.init({"w": W, "b": b})                 # a model's parameters, any nesting
    state = opt.step(state, {"w": gW, "b": gb})        # a gradient of the same structure
    state.params                                       # {"b": ..., "w": ...}, float64 leaves

With the leaves P_1, ..., P_L of the params in flatten order (lists and tuples in order, dicts by
sorted key, depth first), n_l the size and o_l = n_1 + ... + n_{l-1} the offset of leaf l:

    x       = vec(P) = [ravel_C(float64(P_1)); ...; ravel_C(float64(P_L))]        (FL1)
    s_t     = inner.step(s_{t-1}, vec(G_t)),  s_0 = inner.init(vec(P_0))          (FL2)
    P_{t,l} = reshape(x_t[o_l : o_l + n_l], shape_l),  x_t = s_t.params           (FL3)

G_t must have the structure of P_0 (same containers, dict keys and leaf shapes); the query point is
(FL3) applied to ``inner.query(s_t)``. A layer-wise inner (its record has a ``shapes`` field: LAMB,
LARS, Fromage, NovoGrad, ...) works per tensor, and the leaves are the tensors:

    inner <- inner with shapes = (shape_l : n_l > 0)   if the record's shapes is None          (FL4)

(a ``shapes`` given explicitly must equal the leaves' shapes: ValueError otherwise).

Conventions:
    * Containers are dicts (and dict subclasses such as OrderedDict), lists and tuples (namedtuples
      included); everything else is a leaf: an array or a scalar of real numbers (bool, integer or
      float, converted to float64). A list of numbers is a list of scalar leaves, not an array.
      ``state.params`` rebuilds plain dicts (keys in sorted order), lists and tuples, each leaf a
      float64 array of its shape (a scalar leaf comes back as a 0-d array).
    * Exact for the elementwise methods (each coordinate's update reads only that coordinate):
      leaf l follows the trajectory it would follow alone, bit for bit. The layer-wise methods
      get the leaves as their tensors by (FL4), so they are per leaf too (one trust ratio, one
      second moment per leaf, as torch and optax compute them on a parameter list or pytree);
      leaves without entries are skipped. A method that couples all coordinates sees the
      concatenated vector: inside ``flat``, ``clip_by_global_norm`` clips by the norm over all
      leaves, which is what "global" means (torch's ``clip_grad_norm_``, optax's over a pytree).
    * Methods fed an oracle or a problem (K-FAC, Shampoo, ...) are not first-order optimizers and
      are refused; they take their own per-layer inputs.
    * Differentiable by autograd: (FL1) and (FL3) are a concatenation and slices, so a loss after
      n steps can be differentiated with respect to the lr or the initial params (a dict of arrays).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import autograd.numpy as anp
import numpy as np
from autograd.tracer import getval, isbox

from .._core import Method, Optimizer, OptState
from .._hyper import Hyperparams
from .._types import Array

S = TypeVar("S", bound=OptState)

#: ("leaf", shape) | ("dict", ((key, Structure), ...)) with sorted keys | ("list" | "tuple", (Structure, ...))
Structure = tuple[Any, ...]


def _children(tree: Any, path: str) -> tuple[str, list[tuple[object, str]]] | None:
    """(kind, [(key or index, path of the child)]) of a container in flatten order; None for a leaf."""
    value = getval(tree)  # an autograd box around a dict, list or tuple indexes like the container
    if isinstance(value, dict):
        try:
            keys = sorted(value)
        except TypeError:
            raise TypeError(
                f"flat: the keys of {path} must be sortable (all strings, say), got {list(value)!r}"
            ) from None
        return "dict", [(k, f"{path}[{k!r}]") for k in keys]
    if isinstance(value, (list, tuple)):
        return ("list" if isinstance(value, list) else "tuple"), [
            (i, f"{path}[{i}]") for i in range(len(value))
        ]
    return None


def structure(tree: Any, path: str = "tree") -> Structure:
    """The structure of ``tree``: container kinds, dict keys (sorted) and leaf shapes."""
    found = _children(tree, path)
    if found is None:
        return ("leaf", np.shape(getval(tree)))
    kind, children = found
    if kind == "dict":
        return ("dict", tuple((k, structure(tree[k], sub)) for k, sub in children))
    return (kind, tuple(structure(tree[i], sub) for i, sub in children))


def _leaves(tree: Any, path: str) -> list[tuple[str, Any]]:
    """(path, leaf) of every leaf in flatten order."""
    found = _children(tree, path)
    if found is None:
        return [(path, tree)]
    return [leaf for k, sub in found[1] for leaf in _leaves(tree[k], sub)]


def _real(leaf: Any, path: str) -> Any:
    """``leaf`` as float64 values (an autograd box passes through); TypeError naming it otherwise."""
    if isbox(leaf):
        return leaf
    raw = np.asarray(leaf)
    if raw.dtype.kind not in "biuf":
        raise TypeError(
            f"flat: {path} must be real numbers (an array, a number, or a dict, list or tuple of "
            f"them), got {type(leaf).__name__} of dtype {raw.dtype}"
        )
    return raw.astype(np.float64, copy=False)


def vec(tree: Any, what: str = "params") -> Array:
    """The leaves of ``tree`` raveled in C order and concatenated into one fresh float64 vector."""
    parts = [anp.ravel(_real(leaf, path)) for path, leaf in _leaves(tree, what)]
    if sum(np.size(getval(p)) for p in parts) == 0:
        raise ValueError(f"flat: {what} has no entries")
    x: Array = anp.concatenate(parts)  # (FL1)  a copy: later writes by the caller cannot reach it
    return x


def _mismatch(want: Structure, got: Structure, path: str) -> str | None:
    """Where the gradient's structure ``got`` first departs from the params' ``want``, or None."""
    where = "params" + path[len("grad") :]
    if want[0] != got[0]:
        return f"{path} is a {got[0]} but {where} is a {want[0]}"
    if want[0] == "leaf":
        return None if want[1] == got[1] else f"{path} has shape {got[1]} but {where} has shape {want[1]}"
    if want[0] == "dict":
        wk, gk = [k for k, _ in want[1]], [k for k, _ in got[1]]
        if wk != gk:
            return f"{path} has keys {gk} but {where} has keys {wk}"
        subs = [(f"{path}[{k!r}]", w, g) for (k, w), (_, g) in zip(want[1], got[1])]
    else:
        if len(want[1]) != len(got[1]):
            return f"{path} has {len(got[1])} items but {where} has {len(want[1])}"
        subs = [(f"{path}[{i}]", w, g) for i, (w, g) in enumerate(zip(want[1], got[1]))]
    return next((m for p, w, g in subs if (m := _mismatch(w, g, p)) is not None), None)


@dataclass(frozen=True, slots=True, eq=False)
class FlatState(Generic[S]):
    """The wrapped optimizer's state on the flat vector, with the params' structure."""

    inner: S  # s_t of (FL2): the wrapped optimizer's state on x_t
    treedef: Structure  # structure(P_0): (FL3) rebuilds it, gradients are checked against it

    @property
    def params(self) -> Any:
        """The current iterate P_t, in the structure of the params given to ``init`` (FL3)."""
        return unvec(self.inner.params, self.treedef)

    @property
    def t(self) -> int:
        """Completed steps."""
        return self.inner.t


def step(state: FlatState[S], grad: Any, *, inner_step: Callable[[S, Array], S]) -> FlatState[S]:
    """Check that ``grad`` has the params' structure, flatten it by (FL1) and take the wrapped step."""
    problem = _mismatch(state.treedef, structure(grad, "grad"), "grad")
    if problem is not None:
        raise ValueError(f"flat: {problem}; grad must have the structure of the params")
    return FlatState(inner=inner_step(state.inner, vec(grad, "grad")), treedef=state.treedef)  # (FL2)


def unvec(x: Array, treedef: Structure) -> Any:
    """The structure ``treedef`` filled from the vector ``x`` in flatten order, eq. (FL3)."""
    if _size(treedef) != np.size(getval(x)):
        raise ValueError(
            f"flat: the vector has {np.size(getval(x))} entries but the structure has {_size(treedef)}"
        )
    return _fill(x, treedef, 0)[0]


def leaf_shapes(treedef: Structure) -> tuple[tuple[int, ...], ...]:
    """The shapes of the leaves with at least one entry, in flatten order (the tensors of (FL4))."""
    kind, body = treedef
    if kind == "leaf":
        return (tuple(int(d) for d in body),) if int(np.prod(body)) > 0 else ()
    return tuple(s for child in body for s in leaf_shapes(child[1] if kind == "dict" else child))


def _size(node: Structure) -> int:
    kind, body = node
    if kind == "leaf":
        return int(np.prod(body))
    return sum(_size(child[1] if kind == "dict" else child) for child in body)


def _fill(x: Array, node: Structure, offset: int) -> tuple[Any, int]:
    kind, body = node
    if kind == "leaf":
        n = int(np.prod(body))
        return anp.reshape(x[offset : offset + n], body), offset + n  # (FL3)
    items = []
    for child in body:
        item, offset = _fill(x, child[1] if kind == "dict" else child, offset)
        items.append(item)
    if kind == "dict":
        return {k: v for (k, _), v in zip(body, items)}, offset
    return (items if kind == "list" else tuple(items)), offset


def with_leaf_shapes(opt: Optimizer[S], leaves: tuple[tuple[int, ...], ...]) -> Optimizer[S]:
    """``opt`` with ``shapes`` set to ``leaves`` where its record (or the record of an optimizer it
    wraps, as ``clip_by_global_norm``'s ``opt``) has a ``shapes`` field left at None, eq. (FL4);
    ``opt`` itself when nothing is layer-wise. A ``shapes`` given explicitly must be ``leaves``."""
    record = opt.record
    if record is None:
        return opt
    values = record.as_dict()
    changed: dict[str, Any] = {}
    if "shapes" in values:
        given = values["shapes"]
        if given is None:
            changed["shapes"] = leaves  # (FL4)
        elif tuple(tuple(s) for s in given) != leaves:
            raise ValueError(
                f"flat: ref.{opt.name}'s shapes {tuple(given)} are not the shapes of the params' "
                f"leaves {leaves}; leave shapes=None and flat fills them in"
            )
    for k, v in values.items():
        if isinstance(v, Optimizer) and (sub := with_leaf_shapes(v, leaves)) is not v:
            changed[k] = sub
    if not changed:
        return opt
    import reference

    factory = getattr(reference, opt.name)
    rebuilt: Optimizer[S] = factory(**{**opt.hyperparams, **changed})
    return dataclasses.replace(rebuilt, allow_nonfinite=opt.allow_nonfinite)


@dataclass(frozen=True, eq=False)
class FlatOptimizer(Generic[S]):
    """``inner`` lifted to structured params: the same ``init``/``step``/``query`` contract."""

    inner: Optimizer[S]
    _per_structure: dict[Structure, Optimizer[S]] = field(default_factory=dict, repr=False, init=False)

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def hyperparams(self) -> Mapping[str, object]:
        return self.inner.hyperparams

    @property
    def record(self) -> Hyperparams | None:
        return self.inner.record

    def for_structure(self, treedef: Structure) -> Optimizer[S]:
        """The wrapped optimizer for params of structure ``treedef``: ``inner`` itself, or, for a
        layer-wise inner whose ``shapes`` is None (also inside a wrapper such as
        ``clip_by_global_norm``), ``inner`` with the leaves' shapes (FL4)."""
        if treedef not in self._per_structure:
            self._per_structure[treedef] = with_leaf_shapes(self.inner, leaf_shapes(treedef))
        return self._per_structure[treedef]

    def init(self, params: Any) -> FlatState[S]:
        """s_0 = inner.init(vec(params)): copied, float64, the structure remembered (FL1)."""
        treedef, x = structure(params, "params"), vec(params, "params")
        return FlatState(inner=self.for_structure(treedef).init(x), treedef=treedef)

    def step(self, state: FlatState[S], grad: Any) -> FlatState[S]:
        """One step of the wrapped optimizer on vec(grad), eq. (FL2); ``grad`` has the params' structure."""
        return step(state, grad, inner_step=self.for_structure(state.treedef).step)

    def query(self, state: FlatState[S]) -> Any:
        """Where the next gradient is taken, in the params' structure: (FL3) of ``inner.query``."""
        return unvec(self.for_structure(state.treedef).query(state.inner), state.treedef)

    def step_with(self, state: FlatState[S], evaluate: Callable[[Any], Any]) -> FlatState[S]:
        """``step(state, evaluate(query(state)))``: the gradient taken where the method asks."""
        return self.step(state, evaluate(self.query(state)))

    def __repr__(self) -> str:
        return f"ref.flat({self.inner!r})"


def flat(opt: Optimizer[S]) -> FlatOptimizer[S]:
    """Lift the first-order optimizer ``opt`` (built for one vector) to structured params; specs/flat.md."""
    given: object = opt  # checked at run time whatever the static type says
    if isinstance(given, Method) and not isinstance(given, Optimizer):
        raise TypeError(
            f"flat: opt must be a first-order Optimizer (fed gradients); ref.{given.name} is fed "
            "an oracle or a problem, which it evaluates on one vector itself"
        )
    if not isinstance(given, Optimizer):
        raise TypeError(
            f"flat: opt must be a reference Optimizer (ref.adam(...), ...), got {type(given).__name__}"
        )
    return FlatOptimizer(inner=opt)

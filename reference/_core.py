"""The optimizer object every factory returns, and the argument checks shared by the factories.

An optimizer is a pair of pure functions bound to validated hyperparameters:

    opt = ref.adam(lr=1e-3)          # factory: validates and binds hyperparameters
    state = opt.init(params)         # typed, immutable state holding params, buffers and t
    state = opt.step(state, grad)    # pure: (state, grad) -> new state; inputs are never written
    opt.query(state)                 # the point where the caller evaluates the next gradient

``step`` checks the gradient (shape, finiteness) and then calls the module's bare ``step``
function, which holds the math. Everything here is transparent to autograd: hyperparameters and
params may be autograd boxes, so a loss after n steps can be differentiated with respect to the
learning rate or the initial point.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, Generic, ParamSpec, Protocol, TypeVar, cast

import numpy as np
from autograd.tracer import getval, isbox

from ._hyper import (
    CLOSED_UNIT,
    LR,
    NONNEGATIVE,
    POSITIVE,
    UNIT,
    Factory,
    Hyperparams,
    Integer,
    OneOf,
    accepted_keywords,
    bind,
    factory_doc,
    real_value,
)
from ._types import Array, ArrayLike, LearningRate


class OptState(Protocol):
    """What every state has: the iterate ``params`` and the count ``t`` of completed steps."""

    @property
    def params(self) -> Array: ...

    @property
    def t(self) -> int: ...


S = TypeVar("S", bound=OptState)


I = TypeVar("I")


@dataclass(frozen=True, eq=False)
class Method(Generic[S, I]):
    """An algorithm with its hyperparameters bound: ``init``, ``step`` and ``query``.

    ``step(state, inp)`` takes the input type ``I`` that the module documents: a gradient for the
    first-order family (``Optimizer``), or, for methods that need more, an oracle that evaluates
    loss, gradient and Hessian-vector products at points the method asks for, a problem, a
    sample record. ``init`` copies params to float64, states are immutable, ``state.params`` is
    the iterate, ``query(state)`` is where the caller evaluates next.

    Attributes:
        name: the registered name (``ref.ALGORITHMS``), e.g. ``"adam"``.
        hyperparams: the bound hyperparameters, as passed to the factory (defaults filled in).
        init_fn: the module's ``init`` with any structural options bound.
        step_fn: the module's bare ``step`` with the hyperparameters bound.
        query_fn: where the next input is evaluated; ``None`` means ``state.params``.
        record: the validated hyperparameter record (``reference/_hyper.py``) the method was built from.
    """

    name: str
    hyperparams: Mapping[str, object]
    init_fn: Callable[[Array], S]
    step_fn: Callable[[S, I], S]
    query_fn: Callable[[S], Array] | None = None
    record: Hyperparams | None = None

    def init(self, params: ArrayLike) -> S:
        """The state at t = 0. ``params`` is copied and converted to float64 once, here."""
        return self.init_fn(as_params(params))

    def step(self, state: S, inp: I) -> S:
        """One step of the method with its documented input."""
        return self.step_fn(state, inp)

    def query(self, state: S) -> Array:
        """The point at which the caller should evaluate next."""
        if self.query_fn is None:
            return state.params
        return self.query_fn(state)

    def step_with(self, state: S, evaluate: Callable[[Array], I]) -> S:
        """One step with the input evaluated where the method asks: ``step(state, evaluate(query(state)))``.

        The safe way to drive any method: ``evaluate`` is the gradient function (``autograd.grad(f)``)
        for a first-order method. Taking the gradient at ``state.params`` instead (the torch/optax
        habit) is a different algorithm for methods whose query point differs from the iterate
        (look-ahead Nesterov: ``opt.query(state)`` is theta + beta v).
        """
        return self.step(state, evaluate(self.query(state)))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.hyperparams.items())
        return f"ref.{self.name}({args})"


@dataclass(frozen=True, eq=False, repr=False)
class Optimizer(Method[S, Array]):
    """A first-order method: ``step(state, grad)`` checks the gradient, then applies the rule.

    Attributes (besides ``Method``'s):
        allow_nonfinite: if False (default) a gradient with NaN or inf raises ``ValueError``.
    """

    allow_nonfinite: bool = False

    def step(self, state: S, grad: ArrayLike, *, donate: bool = False) -> S:
        """One step: check ``grad`` against ``state.params``, then apply the update rule.

        ``donate=True`` (opt-in, as JAX's buffer donation): the caller gives ``state`` up, and the
        step may write the new state's arrays into the memory of the old one's instead of fresh
        arrays (no new pages, no copy: the traffic of an in-place update). The new state is the
        same bit for bit. The old ``state`` is consumed even if the step raises after the gradient
        check: its array fields are replaced by ``Donated`` markers, which raise
        ``DonatedStateError`` on any use. Only an array that nothing but ``state`` references is
        written (``donatable``); one the caller still holds is left alone. Supported by the steps in
        ``DONATING``; others, and a state or gradient being traced by autograd, raise ValueError.
        """
        g = check_grad(grad, state.params, t=state.t, allow_nonfinite=self.allow_nonfinite)
        if not donate:
            return self.step_fn(state, g)
        refused = donation_refused(self.name, self.hyperparams)
        if refused is not None:
            raise ValueError(refused)
        if _traced(state, g, self.hyperparams):
            raise ValueError(
                f"{self.name}: donate=True cannot be used while autograd traces the step (the "
                "backward pass needs the old state's values); call step without donate"
            )
        from .first_order._fused import FUSE_MIN, donating

        try:
            if np.size(state.params) < FUSE_MIN:  # the primitives' literal path: nothing to write into
                return self.step_fn(state, g)
            with donating(donatable(state)):
                return self.step_fn(state, g)
        finally:
            consume(state)


# ----------------------------------------------------------------------------------------------
# Opt-in buffer donation (``Optimizer.step(state, grad, donate=True)``)

#: the steps whose every fused primitive writes a donated buffer after the step's last read of it
#: (their own lines say so; tests/test_donate.py checks donated == pure bit for bit, every variant)
DONATING = ("gd", "sgd", "momentum", "nesterov", "rmsprop", "adam", "adamw")


def donation_refused(name: str, hyperparams: Mapping[str, object]) -> str | None:
    """Why ``name`` with ``hyperparams`` cannot take ``donate=True``; None if it can."""
    if name not in DONATING:
        return (
            f"{name}: donate=True is not supported (supported: {', '.join(DONATING)}); call step without it"
        )
    if name == "nesterov" and hyperparams.get("form") == "lookahead":
        return (
            "nesterov: donate=True is not supported with form='lookahead' (the step reads theta_{t-1} "
            "after (N3) to form v_t); use form='torch' or 'sutskever', or call step without donate"
        )
    return None


def _traced(state: object, grad: object, hyperparams: Mapping[str, object]) -> bool:
    """Whether autograd traces anything the step reads: the gradient, a state field, a
    hyperparameter, or the learning rate a schedule gives at this step (a schedule is a pure
    function of t, so calling it here changes nothing)."""
    if isbox(grad) or any(isbox(getattr(state, f.name)) for f in fields(cast(Any, state))):
        return True
    if any(isbox(v) for v in hyperparams.values()):
        return True
    lr = hyperparams.get("lr")
    t = getattr(state, "t", 0)
    return callable(lr) and isinstance(t, int) and isbox(lr_at(cast(LearningRate, lr), t))


class DonatedStateError(ValueError):
    """A state given to ``step(..., donate=True)`` was used again."""


class Donated:
    """What a consumed state holds in place of each array: any use raises ``DonatedStateError``."""

    __slots__ = ("_what",)

    def __init__(self, what: str) -> None:
        object.__setattr__(self, "_what", what)

    def _raise(self, *args: object, **kwargs: object) -> Any:
        raise DonatedStateError(
            f"{self._what} belongs to a state given to step(..., donate=True); use the state that step returned"
        )

    def __getattr__(self, name: str) -> Any:
        return self._raise()

    __array__ = __len__ = __iter__ = __getitem__ = __float__ = __array_ufunc__ = _raise
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = __neg__ = _raise

    def __repr__(self) -> str:
        return f"<donated: {self._what}>"


def donatable(state: object) -> list[Array]:
    """The arrays of ``state`` that a donated step may overwrite: float64, C-contiguous, writeable,
    owning their memory (``base is None``: no view of another array) and referenced by nothing but
    ``state`` (and the fused primitives' buffer pool): any view, any variable or object of the
    caller holding one raises its reference count, so writing it is observable only through
    ``state``, which ``consume`` then retires. (Where reference counts do not say this -- no
    ``sys.getrefcount``, free-threaded CPython -- nothing is donated.)"""
    from .first_order._fused import _POOL, _REFCOUNTS

    if not _REFCOUNTS:
        return []
    out = []
    with _POOL.lock:
        pooled = {id(a) for a in _POOL.arrays}
    for f in fields(cast(Any, state)):
        a = getattr(state, f.name)
        if not (
            type(a) is np.ndarray
            and a.dtype == np.float64
            and a.base is None
            and a.flags.c_contiguous
            and a.flags.writeable
        ):
            continue
        # referrers: the state's field, the local ``a``, getrefcount's argument, the pool (if pooled)
        if sys.getrefcount(a) == 3 + (id(a) in pooled):
            out.append(a)
        del a
    return out


def consume(state: object) -> None:
    """Retire a donated state: each array field becomes a ``Donated`` marker (states are frozen;
    this is the one place that writes one, and only a state its owner gave up)."""
    for f in fields(cast(Any, state)):
        if isinstance(getattr(state, f.name), np.ndarray) or isbox(getattr(state, f.name)):
            object.__setattr__(state, f.name, Donated(f"{type(state).__name__}.{f.name}"))


# ----------------------------------------------------------------------------------------------
# Factories from records: ``adam = optimizer(AdamHyperparams, init, step, "summary")``

P = ParamSpec("P")
H = TypeVar("H", bound=Hyperparams)


def _binder(record: type[Hyperparams], *fns: Callable[..., Any] | None) -> None:
    """Every field of ``record`` must be a keyword of the module's init, step or query."""
    unused = {f.name for f in record.fields()} - accepted_keywords(*fns)
    if unused:
        raise TypeError(f"{record.__name__}: fields {sorted(unused)} are read by none of init, step, query")


M = TypeVar("M", bound=Method[Any, Any])


def _factory(
    kind: Callable[..., M],
    record: Callable[P, H],
    init: Callable[..., Any],
    step: Callable[..., Any],
    summary: str,
    query: Callable[..., Array] | None,
) -> Factory[P, H, M]:
    """``ref.<name>``: build the record (validating it), then ``kind`` (Optimizer or Method) with
    ``init``, ``step`` and ``query`` given the record's fields that they accept as keywords
    (``functools.partial``)."""
    rec: type[Hyperparams] = record  # type: ignore[assignment]
    _binder(rec, init, step, query)

    def build(h: H) -> M:
        values = h.as_dict()
        return kind(
            name=rec.ALGORITHM,
            hyperparams=values,
            init_fn=bind(init, values),
            step_fn=bind(step, values),
            query_fn=None if query is None else bind(query, values),
            record=h,
        )

    factory = Factory(record, build, name=rec.ALGORITHM, doc=factory_doc(rec, summary))
    factory.gradient_fed = kind is Optimizer
    return factory


def optimizer(
    record: Callable[P, H],
    init: Callable[..., S],
    step: Callable[..., S],
    summary: str,
    *,
    query: Callable[..., Array] | None = None,
) -> Factory[P, H, Optimizer[S]]:
    """The factory of a first-order method (its step takes a gradient, checked by ``Optimizer.step``)."""
    return _factory(Optimizer, record, init, step, summary, query)


def method(
    record: Callable[P, H],
    init: Callable[..., S],
    step: Callable[..., S],
    summary: str,
    *,
    query: Callable[..., Array] | None = None,
) -> Factory[P, H, Method[S, Any]]:
    """The factory of a method whose step takes more than a gradient (an oracle, a problem)."""
    return _factory(Method, record, init, step, summary, query)


# ----------------------------------------------------------------------------------------------
# Arrays at the boundary


def as_params(params: ArrayLike) -> Array:
    """Copy ``params`` into a fresh float64 array (autograd boxes pass through untouched).

    Raises:
        TypeError: complex or non-numeric input.
        ValueError: non-finite entries.
    """
    if isbox(params):
        return params  # type: ignore[return-value]
    if isinstance(params, dict) or (
        isinstance(params, (list, tuple))
        and any(np.ndim(getval(x)) > 0 for x in params)
        and len({np.shape(getval(x)) for x in params}) > 1
    ):
        raise TypeError(
            f"params is a {type(params).__name__} of arrays; methods take one array: wrap the "
            "method with ref.flat(...) for structured params, e.g. ref.flat(ref.adam()).init(params)"
        )
    raw = np.asarray(params)
    if raw.dtype.kind not in "biuf":
        raise TypeError(f"params must be real numbers, got dtype {raw.dtype}")
    x = np.array(raw, dtype=np.float64)  # a copy: later writes by the caller cannot reach the state
    if not np.all(np.isfinite(x)):
        raise ValueError(f"params must be finite; {int(np.sum(~np.isfinite(x)))} entries are not")
    return x


class NonFiniteGradientError(ValueError):
    """A gradient with NaN or inf entries reached ``Optimizer.step`` (the run diverged)."""


def check_grad(grad: ArrayLike, params: Array, *, t: int, allow_nonfinite: bool = False) -> Array:
    """Return ``grad`` as float64 after checking its shape (and finiteness) against ``params``."""
    if isbox(grad):
        g: Any = grad
    else:
        raw_g = np.asarray(grad)
        if raw_g.dtype.kind not in "biuf":
            raise TypeError(f"grad must be real numbers, got dtype {raw_g.dtype}")
        g = raw_g.astype(np.float64, copy=False)
    if np.shape(g) != np.shape(params):
        raise ValueError(f"grad has shape {np.shape(g)} but params have shape {np.shape(params)}")
    if not allow_nonfinite:
        raw = np.asarray(getval(g))
        # One pass and no temporary array: the sum is finite when every entry is (an overflow
        # of large finite entries falls through to the exact count below, which then finds none).
        bad = np.zeros(0, dtype=bool) if np.isfinite(np.sum(raw)) else ~np.isfinite(raw)
        if np.any(bad):
            raise NonFiniteGradientError(
                f"grad has {int(np.sum(bad))} non-finite entries at step t={t + 1}; "
                "pass allow_nonfinite=True (dataclasses.replace(opt, allow_nonfinite=True)) "
                "to let them through"
            )
    return g  # type: ignore[no-any-return]


# ----------------------------------------------------------------------------------------------
# Hyperparameter checks: each raises ValueError naming the argument, its value and the valid range.


def _value(x: object, name: str = "value") -> float:
    return real_value(x, name)


# The same ranges the records use (reference/_hyper.py), for arguments that are not hyperparameters.


def check_positive(algo: str, name: str, value: float) -> None:
    """``value`` must be a finite number > 0."""
    POSITIVE.check(algo, name, value)


def check_nonnegative(algo: str, name: str, value: float) -> None:
    """``value`` must be a finite number >= 0."""
    NONNEGATIVE.check(algo, name, value)


def check_unit_interval(algo: str, name: str, value: float) -> None:
    """``value`` must lie in [0, 1)."""
    UNIT.check(algo, name, value)


def check_closed_unit_interval(algo: str, name: str, value: float) -> None:
    """``value`` must lie in [0, 1]."""
    CLOSED_UNIT.check(algo, name, value)


def check_count(algo: str, name: str, value: object, *, minimum: int) -> int:
    """``value`` must be an integer (Python or numpy; bools rejected) >= ``minimum``; returns it."""
    Integer(ge=minimum).check(algo, name, value)
    return int(cast(int, value))  # the check above guarantees an integer


def check_rng(rng: object, name: str = "rng", *, who: str | None = None) -> np.random.Generator:
    """``rng`` must be a ``numpy.random.Generator`` (no global RNG anywhere); ``who`` prefixes the error."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"{who + ': ' if who else ''}{name} must be a numpy.random.Generator "
            f"(numpy.random.default_rng(seed)), got {type(rng).__name__}"
        )
    return rng


def check_choice(algo: str, name: str, value: object, choices: Sequence[object]) -> None:
    """``value`` must be one of ``choices``."""
    OneOf(tuple(choices)).check(algo, name, value)


def check_lr(algo: str, lr: LearningRate, name: str = "lr") -> None:
    """A learning rate is a finite float > 0 or a schedule (a callable of the step index)."""
    LR.check(algo, name, lr)


def lr_at(lr: LearningRate, t: int) -> Any:
    """The learning rate for the step that follows ``t`` completed steps.

    A schedule is called with ``t`` (0 for the first step), the convention of torch's LambdaLR
    and optax's ``count`` before increment. Its value must be finite and >= 0.
    """
    if not callable(lr):
        return lr
    value = lr(t)
    v = _value(value, "lr schedule value")
    if not (math.isfinite(v) and v >= 0):
        raise ValueError(f"lr schedule returned {value!r} at t={t}; it must be finite and >= 0")
    return value

"""Hyperparameter records: each algorithm's hyperparameters are defined once, here in its module.

A record is a frozen dataclass whose fields carry a default, a valid range and a one-line doc:

    @dataclass(frozen=True, eq=False)
    class AdamHyperparams(Hyperparams):
        ALGORITHM: ClassVar[str] = "adam"
        lr: LearningRate = hp(1e-3, LR, "eta, a float > 0 or a schedule t -> eta_t")
        _: KW_ONLY
        beta1: float = hp(0.9, UNIT, "EMA coefficient of the first moment (A2)")

    adam = optimizer(AdamHyperparams, init, step, init_fields=("amsgrad",))

Building the record validates it (each field against its range, then ``validate`` for the rules
between fields); the factory (``ref.adam(lr=...)``), ``opt.hyperparams``, the registry, the
conformance adapters, the spec's Defaults table (``tests/test_spec_trace.py``) and the bad-input
tests (``tests/test_hyperparams.py``) all read the same record.

The ranges are small objects with three duties: ``check`` (raise a one-line error naming the
algorithm, the argument, the constraint and the value), ``describe`` (the constraint in words, for
docs and tables) and ``bad_values`` (examples outside the range, from which the tests are generated).
A wrong kind of value (a string for a number, 1 for a flag) is a ``TypeError``; a value of the
right kind outside the range is a ``ValueError``.

Everything is transparent to autograd: a hyperparameter may be an autograd box (a learning rate
being differentiated), and the checks read its value with ``getval``.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, fields
from functools import partial
from typing import Any, ClassVar, Generic, ParamSpec, TypeVar

import numpy as np
from autograd.tracer import getval

# ----------------------------------------------------------------------------------------------
# Ranges


class Range:
    """A set of valid values for one hyperparameter."""

    def check(self, algo: str, name: str, value: object) -> None:
        """Raise TypeError (wrong kind) or ValueError (outside the range) naming ``name``."""
        raise NotImplementedError

    def describe(self) -> str:
        """The range in words, e.g. 'a finite number > 0'."""
        raise NotImplementedError

    def bad_values(self) -> tuple[object, ...]:
        """Values outside the range (each must make ``check`` raise)."""
        return ()

    def example(self) -> object:
        """A value inside the range (for a required field in generated tests)."""
        raise NotImplementedError(f"{type(self).__name__} has no example value")

    def __repr__(self) -> str:
        return f"<{self.describe()}>"


def _prefix(algo: str, name: str) -> str:
    return f"{algo}: {name}" if algo else name


def real_value(value: object, what: str) -> float:
    """``value`` (or an autograd box around it) as a Python float; TypeError if it is no real scalar."""
    v = getval(value)
    if isinstance(v, (str, bytes, bool, np.bool_)) or np.ndim(v) != 0:
        raise TypeError(f"{what} must be a real number, got {value!r}")
    try:
        return float(v)
    except (TypeError, ValueError):
        raise TypeError(f"{what} must be a real number, got {value!r}") from None


@dataclass(frozen=True, repr=False)
class Real(Range):
    """A finite real number with optional bounds: ``gt``/``ge`` below, ``lt``/``le`` above."""

    gt: float | None = None
    ge: float | None = None
    lt: float | None = None
    le: float | None = None

    def contains(self, v: float) -> bool:
        return (
            math.isfinite(v)
            and (self.gt is None or v > self.gt)
            and (self.ge is None or v >= self.ge)
            and (self.lt is None or v < self.lt)
            and (self.le is None or v <= self.le)
        )

    def check(self, algo: str, name: str, value: object) -> None:
        v = real_value(value, _prefix(algo, name))
        if not self.contains(v):
            raise ValueError(f"{_prefix(algo, name)} must be {self.describe()}, got {value!r}")

    def describe(self) -> str:
        lo = self.ge if self.ge is not None else self.gt
        hi = self.le if self.le is not None else self.lt
        if lo is not None and hi is not None:
            left = "[" if self.ge is not None else "("
            right = "]" if self.le is not None else ")"
            return f"in {left}{_num(lo)}, {_num(hi)}{right}"
        if lo is not None:
            return f"a finite number {'>=' if self.ge is not None else '>'} {_num(lo)}"
        if hi is not None:
            return f"a finite number {'<=' if self.le is not None else '<'} {_num(hi)}"
        return "a finite number"

    def example(self) -> object:
        lo = self.ge if self.ge is not None else self.gt
        hi = self.le if self.le is not None else self.lt
        if lo is not None and hi is not None:
            return (lo + hi) / 2
        if lo is not None:
            return lo + 0.5
        if hi is not None:
            return hi - 0.5
        return 0.5

    def bad_values(self) -> tuple[object, ...]:
        out: list[object] = [math.nan, math.inf, "0.5", True]
        if self.gt is not None:
            out.append(self.gt)
        if self.ge is not None:
            out.append(self.ge - max(1.0, abs(self.ge)) * 1e-3)
        if self.lt is not None:
            out.append(self.lt)
        if self.le is not None:
            out.append(self.le + max(1.0, abs(self.le)) * 1e-3)
        return tuple(out)


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(x)


@dataclass(frozen=True, repr=False)
class Integer(Range):
    """A Python or numpy integer (bools rejected) >= ``ge``."""

    ge: int = 0

    def check(self, algo: str, name: str, value: object) -> None:
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"{_prefix(algo, name)} must be an integer >= {self.ge}, got {value!r}")
        if value < self.ge:
            raise ValueError(f"{_prefix(algo, name)} must be an integer >= {self.ge}, got {value!r}")

    def describe(self) -> str:
        return f"an integer >= {self.ge}"

    def bad_values(self) -> tuple[object, ...]:
        return (self.ge - 1, float(self.ge) + 0.5, True, "3")

    def example(self) -> object:
        return self.ge + 1


@dataclass(frozen=True, repr=False)
class Flag(Range):
    """``True`` or ``False`` (also numpy's bools); 1, 0.0 and None are refused."""

    def check(self, algo: str, name: str, value: object) -> None:
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"{_prefix(algo, name)} must be True or False, got {value!r}")

    def describe(self) -> str:
        return "True or False"

    def bad_values(self) -> tuple[object, ...]:
        return (1, 0.0, None, "yes")

    def example(self) -> object:
        return False


@dataclass(frozen=True, repr=False)
class OneOf(Range):
    """One of a fixed set of values (compared by identity for None and bools, else by ==)."""

    choices: tuple[object, ...]

    def check(self, algo: str, name: str, value: object) -> None:
        for c in self.choices:
            if c is value or (
                not isinstance(c, (bool, type(None)))
                and not isinstance(value, (bool, np.bool_, type(None)))
                and type(c) is type(value)
                and c == value
            ):
                return
        raise ValueError(f"{_prefix(algo, name)} must be {self.describe()}, got {value!r}")

    def describe(self) -> str:
        return "one of " + ", ".join(repr(c) for c in self.choices)

    def bad_values(self) -> tuple[object, ...]:
        return tuple(v for v in ("no-such-choice", 1.5) if v not in self.choices)

    def example(self) -> object:
        return self.choices[0]


@dataclass(frozen=True, repr=False)
class Either(Range):
    """A value in any of ``ranges`` (e.g. a number or a callable)."""

    ranges: tuple[Range, ...]

    def check(self, algo: str, name: str, value: object) -> None:
        errors: list[Exception] = []
        for r in self.ranges:
            try:
                r.check(algo, name, value)
                return
            except (TypeError, ValueError) as e:
                errors.append(e)
        kind = TypeError if all(isinstance(e, TypeError) for e in errors) else ValueError
        raise kind(f"{_prefix(algo, name)} must be {self.describe()}, got {value!r}")

    def describe(self) -> str:
        return " or ".join(r.describe() for r in self.ranges)

    def example(self) -> object:
        return self.ranges[-1].example()

    def bad_values(self) -> tuple[object, ...]:
        out = []
        for r in self.ranges:
            for v in r.bad_values():
                if not any(_accepts(s, v) for s in self.ranges):
                    out.append(v)
        return tuple(out)


@dataclass(frozen=True, repr=False)
class Function(Range):
    """A callable (a schedule, a projection, a metric)."""

    what: str = "a callable"

    def check(self, algo: str, name: str, value: object) -> None:
        if not callable(value):
            raise TypeError(f"{_prefix(algo, name)} must be {self.what}, got {value!r}")

    def describe(self) -> str:
        return self.what

    def bad_values(self) -> tuple[object, ...]:
        return ("f",)

    def example(self) -> object:
        return lambda t: 0.1


@dataclass(frozen=True, repr=False)
class Free(Range):
    """No check of its own: ``describe`` says what is expected and ``validate`` of the record checks it."""

    what: str

    def check(self, algo: str, name: str, value: object) -> None:
        return None

    def describe(self) -> str:
        return self.what


def _accepts(r: Range, v: object) -> bool:
    try:
        r.check("", "x", v)
        return True
    except (TypeError, ValueError):
        return False


def optional(r: Range) -> Range:
    """``r`` or None."""
    return Either((OneOf((None,)), r))


class TensorShapes(Range):
    """A non-empty sequence of parameter shapes (tuples of integers >= 1), one per tensor of a
    model's parameter list, in the order the flat vector stores them (``problems.layout``).
    ``ndims`` limits the number of axes of each shape (Shampoo: 1 or 2); None allows any (a 0-d
    shape ``()`` is a scalar parameter)."""

    def __init__(self, ndims: tuple[int, ...] | None = None) -> None:
        self.ndims = ndims

    def _kind(self) -> str:
        if self.ndims is None:
            return "shapes"
        return "-D or ".join(str(n) for n in self.ndims) + "-D shapes"

    def check(self, algo: str, name: str, value: object) -> None:
        what = _prefix(algo, name)
        if isinstance(value, (str, bytes)) or not isinstance(value, (tuple, list)):
            raise TypeError(f"{what} must be a sequence of {self._kind()}, got {value!r}")
        for s in value:
            if not isinstance(s, (tuple, list)) or any(
                isinstance(d, (bool, np.bool_)) or not isinstance(d, (int, np.integer)) for d in s
            ):
                raise TypeError(f"{what} must be a sequence of {self._kind()} of integers, got {value!r}")
        bad_nd = self.ndims is not None and any(len(s) not in self.ndims for s in value)
        if not value or bad_nd or any(min(s, default=1) < 1 for s in value):
            raise ValueError(f"{what} must be {self.describe()}, got {value!r}")

    def describe(self) -> str:
        return f"a non-empty sequence of {self._kind()} with sizes >= 1"

    def bad_values(self) -> tuple[object, ...]:
        bad: tuple[object, ...] = ((), ((0, 2),), ((2.0,),), 3, "2x2")
        return bad + (((2, 2, 2),) if self.ndims is not None and 3 not in self.ndims else ())

    def example(self) -> object:
        return ((2, 2), (2,))


def as_shapes(value: object) -> tuple[tuple[int, ...], ...] | None:
    """Shapes stored as a tuple of tuples of ints (records call it in ``__post_init__``)."""
    if value is None:
        return None
    return tuple(tuple(int(d) for d in s) for s in value)  # type: ignore[attr-defined]


TENSOR_SHAPES = TensorShapes()  # any number of axes: a layer-wise method's parameter tensors
POSITIVE = Real(gt=0.0)
NONNEGATIVE = Real(ge=0.0)
UNIT = Real(ge=0.0, lt=1.0)  # [0, 1): EMA coefficients, momentum
CLOSED_UNIT = Real(ge=0.0, le=1.0)
OPEN_UNIT = Real(gt=0.0, lt=1.0)  # (0, 1): Armijo constants, backtracking factors
FLAG = Flag()
SEED = Integer(ge=0)
SCHEDULE = Function("a schedule (a callable t -> eta_t)")


@dataclass(frozen=True, repr=False)
class Rate(Range):
    """A learning rate: a schedule (a callable t -> eta_t), or a number in ``numbers``."""

    numbers: Real = POSITIVE

    def check(self, algo: str, name: str, value: object) -> None:
        if not callable(value):
            self.numbers.check(algo, name, value)

    def describe(self) -> str:
        return f"{self.numbers.describe()}, or a schedule t -> eta_t"

    def bad_values(self) -> tuple[object, ...]:
        return self.numbers.bad_values()

    def example(self) -> object:
        return 0.1


LR = Rate()  # a learning rate: a finite float > 0 or a schedule


# ----------------------------------------------------------------------------------------------
# Records

T = TypeVar("T")
_META = "optref.hp"


@dataclass(frozen=True)
class HP:
    """What one field of a record knows: its valid range and its one-line doc."""

    range: Range
    doc: str


def hp(default: T, range: Range, doc: str) -> T:
    """A record field with ``default``, valid ``range`` and one-line ``doc``.

    (Typed as returning the default so that the record's attribute has the default's type.)
    """
    return dataclasses.field(default=default, metadata={_META: HP(range, doc)})


def required(range: Range, doc: str) -> Any:
    """A record field without a default (the caller must pass it, as gd's ``lr``)."""
    return dataclasses.field(metadata={_META: HP(range, doc)})


@dataclass(frozen=True)
class FieldInfo:
    """One hyperparameter as the tools read it."""

    name: str
    default: object  # ``REQUIRED`` when the caller must pass it
    range: Range
    doc: str

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


class _Required:
    def __repr__(self) -> str:
        return "required"


REQUIRED: Any = _Required()


@dataclass(frozen=True, eq=False)
class Hyperparams:
    """Base of every record. Subclasses set ``ALGORITHM`` and may add ``validate``."""

    ALGORITHM: ClassVar[str] = ""

    def __post_init__(self) -> None:
        for info in self.fields():
            info.range.check(self.ALGORITHM, info.name, getattr(self, info.name))
        self.validate()

    def validate(self) -> None:
        """Rules that tie fields together (raise ValueError naming them); none by default."""

    def as_dict(self) -> dict[str, Any]:
        """The values, in field order."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def fields(cls) -> tuple[FieldInfo, ...]:
        """Every hyperparameter with its default, range and doc, in the factory's order."""
        out = []
        for f in fields(cls):
            meta = f.metadata.get(_META)
            if meta is None:
                raise TypeError(f"{cls.__name__}.{f.name} is not declared with hp() or required()")
            default = REQUIRED if f.default is MISSING else f.default
            out.append(FieldInfo(f.name, default, meta.range, meta.doc))
        return tuple(out)

    @classmethod
    def field(cls, name: str) -> FieldInfo:
        for info in cls.fields():
            if info.name == name:
                return info
        raise KeyError(name)


H = TypeVar("H", bound=Hyperparams)
P = ParamSpec("P")
M = TypeVar("M")


class Factory(Generic[P, H, M]):
    """``ref.<name>(...)``: builds the record (which validates it), then the bound method.

    ``factory.record`` is the record class; ``inspect.signature(factory)`` is the record's.
    """

    def __init__(self, record: Callable[P, H], build: Callable[[H], M], *, name: str, doc: str) -> None:
        self.record: type[Hyperparams] = record  # type: ignore[assignment]
        #: True for an ``optimizer(...)`` (step takes a gradient), False for a ``method(...)``
        self.gradient_fed = True
        self._make = record
        self._build = build
        self.__name__ = self.__qualname__ = name
        self.__doc__ = doc
        self.__module__ = getattr(record, "__module__", __name__)
        self.__signature__ = inspect.signature(record).replace(return_annotation=inspect.Signature.empty)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> M:
        valid = [f.name for f in self.record.fields()]
        unknown = [k for k in kwargs if k not in valid]
        if unknown:
            raise TypeError(
                f"{self.__name__}: unknown hyperparameter {unknown[0]!r}; "
                f"its hyperparameters are {', '.join(valid)}"
            )
        try:
            inspect.signature(self._make).bind(*args, **kwargs)
        except TypeError as e:
            raise TypeError(f"{self.__name__}: {e}; its hyperparameters are {', '.join(valid)}") from None
        return self._build(self._make(*args, **kwargs))

    def __repr__(self) -> str:
        return f"<factory ref.{self.__name__}{self.__signature__}>"


def factory_doc(record: type[Hyperparams], summary: str) -> str:
    """The factory's docstring: the summary, then one line per hyperparameter from the record."""
    lines = [summary, "", "Args:"]
    for info in record.fields():
        default = "required" if info.required else f"default {info.default!r}"
        lines.append(f"    {info.name}: {info.doc} ({info.range.describe()}; {default}).")
    return "\n".join(lines)


def bind(fn: Callable[..., T], values: Mapping[str, Any]) -> Callable[..., T]:
    """``fn`` with the keywords it accepts from ``values`` bound (``functools.partial``)."""
    accepted = inspect.signature(fn).parameters
    return partial(fn, **{k: v for k, v in values.items() if k in accepted})


def accepted_keywords(*fns: Callable[..., Any] | None) -> set[str]:
    """The keyword names any of ``fns`` accepts."""
    return {k for fn in fns if fn is not None for k in inspect.signature(fn).parameters}

r"""Shared pieces of the layer-wise methods (LAMB, LARS, Fromage, NovoGrad): the flat vector cut
into its parameter tensors, per-tensor Euclidean norms, and the trust-ratio guard.

``shapes`` is the model's parameter tensors in the order of the flat vector
(``problems.layout``); None means the whole params array is one tensor (whatever its shape).
Everything here is written with ``autograd.numpy`` and never in place, so the steps built on it
stay differentiable with respect to the learning rate and the initial point.
"""

from __future__ import annotations

from typing import Any

import autograd.numpy as anp
import numpy as np
from autograd.tracer import getval

from .._hyper import TENSOR_SHAPES, Range
from ..problems.layout import Shapes, pack, size, unpack

#: the ``shapes`` field of a layer-wise record: None (one tensor) or the tensors' shapes
SHAPES_RANGE: Range = TENSOR_SHAPES
SHAPES_DOC = (
    "the parameter tensors of the flat vector, in order (problems.layout); None: the whole "
    "params array is one tensor. ref.flat fills it from a pytree's leaves"
)


def check_layout(algo: str, params: Any, shapes: Shapes | None) -> None:
    """With ``shapes``, ``params`` must be the flat vector of length sum_j prod(s_j)."""
    if shapes is None:
        return
    total = size(shapes)
    if np.shape(getval(params)) != (total,):
        raise ValueError(
            f"{algo}: params have shape {np.shape(getval(params))} but shapes {shapes} need a flat "
            f"vector of length {total}"
        )


def blocks(x: Any, shapes: Shapes | None) -> tuple[Any, ...]:
    """The tensors of the flat vector ``x`` (views), or ``(x,)`` when ``shapes`` is None."""
    return (x,) if shapes is None else unpack(x, shapes)


def join(parts: list[Any] | tuple[Any, ...], shapes: Shapes | None) -> Any:
    """The inverse of ``blocks``: the tensors concatenated back into one flat vector."""
    return parts[0] if shapes is None else pack(parts)


def norm(x: Any) -> Any:
    """The Euclidean (Frobenius) norm sqrt(sum_i x_i^2) of one tensor."""
    return anp.sqrt(anp.sum(x * x))


def keeps_plain_step(num: Any, den: Any) -> bool:
    """Whether the trust ratio is replaced by exactly 1: the numerator's or the denominator's norm
    is 0 (optax's ``scale_by_trust_ratio``: a tensor with theta = 0 or update = 0 keeps the plain
    step instead of 0 or 0/0)."""
    return bool(getval(num) == 0.0 or getval(den) == 0.0)


class TensorMask(Range):
    """None (every tensor) or one flag per tensor of ``shapes`` (optax's mask of a list of
    parameters); the record checks the length against ``shapes``."""

    def check(self, algo: str, name: str, value: object) -> None:
        what = f"{algo}: {name}"
        if value is None:
            return
        if not isinstance(value, (tuple, list)) or not all(isinstance(b, (bool, np.bool_)) for b in value):
            raise TypeError(f"{what} must be None or a sequence of True/False, one per tensor, got {value!r}")
        if not value:
            raise ValueError(f"{what} must be None or a non-empty sequence of True/False, got {value!r}")

    def describe(self) -> str:
        return "None (every tensor) or a sequence of True/False, one per tensor"

    def bad_values(self) -> tuple[object, ...]:
        return ((), (1, 0), "all", True)

    def example(self) -> object:
        return None


TENSOR_MASK = TensorMask()


def as_mask(value: object) -> tuple[bool, ...] | None:
    """A mask stored as a tuple of Python bools."""
    return None if value is None else tuple(bool(b) for b in value)  # type: ignore[attr-defined]


def check_mask(algo: str, name: str, mask: tuple[bool, ...] | None, shapes: Shapes | None) -> None:
    """A mask has one flag per tensor (one tensor when ``shapes`` is None)."""
    n = 1 if shapes is None else len(shapes)
    if mask is not None and len(mask) != n:
        raise ValueError(f"{algo}: {name} has {len(mask)} flags but there are {n} tensors (shapes)")


def masked(mask: tuple[bool, ...] | None, i: int) -> bool:
    """Whether tensor ``i`` is in ``mask`` (None: every tensor)."""
    return mask is None or mask[i]

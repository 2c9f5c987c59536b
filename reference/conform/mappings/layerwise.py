"""The layer-wise family: optax.lamb, lars, fromage, novograd (specs/lamb.md, lars.md, fromage.md,
novograd.md "Variants"). Each claim carries the peer's parameter shapes: the trust ratios and
NovoGrad's second moment are per tensor. torch.optim ships none of the four.

A mask given as one flag per tensor (a list of bools for a list of parameters) becomes the
reference's ``decay_mask`` / ``trust_mask``. Refused with ``NotComparable``: a weight-decay schedule
and a callable mask (or one of another structure): the reference's masks are fixed flags.
"""

from __future__ import annotations

from typing import Any

from ..peers import NotComparable, ReferenceSpec
from . import Shapes, optax_lr, optax_mapping


def _decay(name: str, hp: dict[str, Any]) -> float:
    wd = hp["weight_decay"]
    if callable(wd):
        raise NotComparable(f"optax.{name} with a weight-decay schedule has no reference equivalent")
    return float(wd)


def _mask(name: str, hp: dict[str, Any], key: str, shapes: Shapes) -> tuple[bool, ...] | None:
    """optax's mask as one flag per tensor: None and True are every tensor; a list or tuple of
    bools, one per tensor, is kept; anything else (a callable) has no reference equivalent."""
    value = hp.get(key)
    if value is None or value is True:
        return None
    if (
        isinstance(value, (list, tuple))
        and len(value) == len(shapes)
        and all(isinstance(b, bool) for b in value)
    ):
        return tuple(value)
    raise NotComparable(
        f"optax.{name}({key}={value!r}) has no reference equivalent: the reference takes a mask as "
        f"one True/False per tensor ({len(shapes)} here)"
    )


@optax_mapping("lamb")
def _lamb(hp: dict[str, Any], shapes: Shapes) -> ReferenceSpec:
    return ReferenceSpec(
        "lamb",
        {
            "lr": optax_lr(hp["learning_rate"], "lamb"),
            "beta1": float(hp["b1"]),
            "beta2": float(hp["b2"]),
            "eps": float(hp["eps"]),
            "eps_root": float(hp["eps_root"]),
            "weight_decay": _decay("lamb", hp),
            "decay_mask": _mask("lamb", hp, "mask", shapes),
            "shapes": shapes,
        },
    )


@optax_mapping("lars")
def _lars(hp: dict[str, Any], shapes: Shapes) -> ReferenceSpec:
    return ReferenceSpec(
        "lars",
        {
            "lr": optax_lr(hp["learning_rate"], "lars"),
            "momentum": float(hp["momentum"]),
            "weight_decay": _decay("lars", hp),
            "trust_coefficient": float(hp["trust_coefficient"]),
            "eps": float(hp["eps"]),
            "decay_mask": _mask("lars", hp, "weight_decay_mask", shapes),
            "trust_mask": _mask("lars", hp, "trust_ratio_mask", shapes),
            "trust_norm": "combined",
            "momentum_lr": "inside",
            "nesterov": bool(hp["nesterov"]),
            "shapes": shapes,
        },
    )


@optax_mapping("fromage")
def _fromage(hp: dict[str, Any], shapes: Shapes) -> ReferenceSpec:
    return ReferenceSpec(
        "fromage",
        {
            "lr": optax_lr(hp["learning_rate"], "fromage"),
            "min_norm": float(hp["min_norm"]),
            "shapes": shapes,
        },
    )


@optax_mapping("novograd")
def _novograd(hp: dict[str, Any], shapes: Shapes) -> ReferenceSpec:
    return ReferenceSpec(
        "novograd",
        {
            "lr": optax_lr(hp["learning_rate"], "novograd"),
            "beta1": float(hp["b1"]),
            "beta2": float(hp["b2"]),
            "eps": float(hp["eps"]),
            "eps_root": float(hp["eps_root"]),
            "weight_decay": _decay("novograd", hp),
            "shapes": shapes,
        },
    )

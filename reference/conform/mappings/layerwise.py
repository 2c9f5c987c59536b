"""The layer-wise family: optax.lamb, lars, fromage, novograd (specs/lamb.md, lars.md, fromage.md,
novograd.md "Variants"). Each claim carries the peer's parameter shapes: the trust ratios and
NovoGrad's second moment are per tensor. torch.optim ships none of the four.

Refused with ``NotComparable``: a weight-decay schedule, and any mask other than optax's default
(every tensor), since the reference has no per-tensor mask.
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


def _default_mask(name: str, hp: dict[str, Any], key: str, default: object) -> None:
    value = hp.get(key, default)
    if value is not default:
        raise NotComparable(
            f"optax.{name}({key}={value!r}) has no reference equivalent: the reference applies "
            "it to every tensor (optax's default)"
        )


@optax_mapping("lamb")
def _lamb(hp: dict[str, Any], shapes: Shapes) -> ReferenceSpec:
    _default_mask("lamb", hp, "mask", None)
    return ReferenceSpec(
        "lamb",
        {
            "lr": optax_lr(hp["learning_rate"], "lamb"),
            "beta1": float(hp["b1"]),
            "beta2": float(hp["b2"]),
            "eps": float(hp["eps"]),
            "eps_root": float(hp["eps_root"]),
            "weight_decay": _decay("lamb", hp),
            "shapes": shapes,
        },
    )


@optax_mapping("lars")
def _lars(hp: dict[str, Any], shapes: Shapes) -> ReferenceSpec:
    _default_mask("lars", hp, "weight_decay_mask", True)
    _default_mask("lars", hp, "trust_ratio_mask", True)
    return ReferenceSpec(
        "lars",
        {
            "lr": optax_lr(hp["learning_rate"], "lars"),
            "momentum": float(hp["momentum"]),
            "weight_decay": _decay("lars", hp),
            "trust_coefficient": float(hp["trust_coefficient"]),
            "eps": float(hp["eps"]),
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

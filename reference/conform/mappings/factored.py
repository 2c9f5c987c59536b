"""Factored second moments: torch.optim.Adafactor, optax.adafactor and optax.sm3 (specs/adafactor.md,
specs/sm3.md "Variants").

| peer | reference |
|---|---|
| torch Adafactor(lr, beta2_decay, eps=(eps1, eps2), d, weight_decay) | adafactor(lr, decay_rate=-beta2_decay, eps1 (None: the params' machine eps), eps1_form="clamp", eps2, clip_threshold=d, min_dim_size_to_factor=1, factor_axes="last_two", decay_scaling="lr") |
| optax adafactor(learning_rate, min_dim_size_to_factor, decay_rate, multiply_by_parameter_scale, clipping_threshold, momentum, dtype_momentum, weight_decay_rate, eps, factored) | adafactor(lr (None: 1), relative_step=False, beta2_dtype="float32", eps1=eps, eps1_form="add", factor_axes="largest_two", momentum_dtype, weight_decay=weight_decay_rate, decay_scaling="none") |
| optax sm3(learning_rate, momentum) | sm3(lr, momentum, eps=1e-8) |

Refused with the reason: optax.adafactor with decay_offset != 0, a weight_decay_mask, a
weight-decay schedule, or a momentum dtype other than float32/float64.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..peers import NotComparable, ReferenceSpec
from . import Shapes, optax_lr, optax_mapping, tf, torch_mapping


def _shapes(shapes: Shapes) -> Any:
    return shapes if shapes else None


@torch_mapping("Adafactor")
def _torch_adafactor(g: dict[str, Any], shapes: Shapes) -> ReferenceSpec:
    eps1, eps2 = g["eps"]
    if eps1 is None:  # torch: the machine epsilon of the (first) parameter's dtype
        params = g.get("params") or []
        dtype = str(params[0].dtype).replace("torch.", "") if params else "float64"
        eps1 = float(np.finfo(np.dtype(dtype)).eps) if dtype in ("float64", "float32", "float16") else None
        if eps1 is None:
            raise NotComparable(f"torch.optim.Adafactor on {dtype} parameters: eps1's default is not mapped")
    lr = tf(g["lr"])
    return ReferenceSpec(
        "adafactor",
        {
            "lr": lr,
            "relative_step": True,
            "decay_rate": -tf(g["beta2_decay"]),
            "eps1": tf(eps1),
            "eps1_form": "clamp",
            "eps2": tf(eps2),
            "multiply_by_parameter_scale": True,
            "clip_threshold": tf(g["d"]),
            "min_dim_size_to_factor": 1,
            "factor_axes": "last_two",
            "weight_decay": tf(g["weight_decay"]),
            "decay_scaling": "lr",
            "shapes": _shapes(shapes),
        },
    )


def _momentum_dtype(value: Any) -> str:
    if value is None:
        return "float64"
    name = str(np.dtype(value).name)
    if name not in ("float32", "float64"):
        raise NotComparable(f"optax.adafactor(dtype_momentum={name}): only float32 and float64 are mapped")
    return name


@optax_mapping("adafactor")
def _optax_adafactor(hp: dict[str, Any], shapes: Shapes) -> ReferenceSpec:
    if float(hp["decay_offset"]) != 0.0:
        raise NotComparable(
            "optax.adafactor(decay_offset != 0) resumes a schedule at a checkpoint's step count; from a fresh "
            "state it computes (t - offset)^(-decay_rate) at t - offset <= 0 (inf/nan) or a shifted schedule "
            "the reference does not offer"
        )
    if hp.get("weight_decay_mask") is not None:
        raise NotComparable("optax.adafactor(weight_decay_mask=...) has no reference equivalent")
    wd = hp["weight_decay_rate"]
    if callable(wd):
        raise NotComparable("optax.adafactor with a weight-decay schedule has no reference equivalent")
    mom = hp["momentum"]
    lr = hp["learning_rate"]
    return ReferenceSpec(
        "adafactor",
        {
            "lr": 1.0 if lr is None else optax_lr(lr, "adafactor"),
            "relative_step": False,
            "decay_rate": float(hp["decay_rate"]),
            "beta2_dtype": "float32",
            "eps1": float(hp["eps"]),
            "eps1_form": "add",
            "eps2": 1e-3,
            "multiply_by_parameter_scale": bool(hp["multiply_by_parameter_scale"]),
            "clip_threshold": None if hp["clipping_threshold"] is None else float(hp["clipping_threshold"]),
            "factored": bool(hp["factored"]),
            "min_dim_size_to_factor": max(1, int(hp["min_dim_size_to_factor"])),
            "factor_axes": "largest_two",
            "momentum": 0.0 if mom is None else float(mom),
            "momentum_dtype": _momentum_dtype(hp["dtype_momentum"]),
            "weight_decay": 0.0 if wd is None else float(wd),
            "decay_scaling": "none",
            "shapes": _shapes(shapes),
        },
    )


@optax_mapping("sm3")
def _optax_sm3(hp: dict[str, Any], shapes: Shapes) -> ReferenceSpec:
    if callable(hp["learning_rate"]):
        raise NotComparable("optax.sm3 scales by a constant learning_rate only (scale(-learning_rate))")
    return ReferenceSpec(
        "sm3",
        {
            "lr": optax_lr(hp["learning_rate"], "sm3"),
            "momentum": float(hp["momentum"]),
            "eps": 1e-8,
            "shapes": _shapes(shapes),
        },
    )

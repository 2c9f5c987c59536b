"""Rprop, ASGD, Yogi and AdaBelief: torch.optim.Rprop, torch.optim.ASGD, optax.rprop, optax.yogi and
optax.adabelief (specs/rprop.md, asgd.md, yogi.md, adabelief.md "Variants")."""

from __future__ import annotations

from typing import Any

from ..peers import NotComparable, ReferenceSpec
from . import Shapes, optax_lr, optax_mapping, tf, torch_mapping


@torch_mapping("Rprop")
def _torch_rprop(g: dict[str, Any], shapes: Shapes) -> ReferenceSpec:
    """iRprop- with the step size clipped every step."""
    eta_minus, eta_plus = (tf(e) for e in g["etas"])
    step_min, step_max = (tf(s) for s in g["step_sizes"])
    return ReferenceSpec(
        "rprop",
        {
            "lr": tf(g["lr"]),
            "eta_minus": eta_minus,
            "eta_plus": eta_plus,
            "step_min": step_min,
            "step_max": step_max,
            "sign_change": "skip",
            "clamp_always": True,
            "lagged": False,
        },
    )


@optax_mapping("rprop")
def _optax_rprop(hp: dict[str, Any], shapes: Shapes) -> ReferenceSpec:
    """iRprop-, Delta clipped only when it changes, each move applied one call late."""
    if callable(hp["learning_rate"]):
        raise NotComparable("optax.rprop: learning_rate is the initial step size, not a schedule")
    return ReferenceSpec(
        "rprop",
        {
            "lr": float(hp["learning_rate"]),
            "eta_minus": float(hp["eta_minus"]),
            "eta_plus": float(hp["eta_plus"]),
            "step_min": float(hp["min_step_size"]),
            "step_max": float(hp["max_step_size"]),
            "sign_change": "skip",
            "clamp_always": False,
            "lagged": True,
        },
    )


@torch_mapping("ASGD")
def _torch_asgd(g: dict[str, Any], shapes: Shapes) -> ReferenceSpec:
    """eta_t and mu_t in scalar tensors of torch's default dtype."""
    import torch

    scalar = "float64" if torch.get_default_dtype() == torch.float64 else "float32"
    return ReferenceSpec(
        "asgd",
        {
            "lr": tf(g["lr"]),
            "lambd": tf(g["lambd"]),
            "alpha": tf(g["alpha"]),
            "t0": tf(g["t0"]),
            "weight_decay": tf(g["weight_decay"]),
            "schedule_dtype": scalar,
        },
    )


@optax_mapping("yogi")
def _optax_yogi(hp: dict[str, Any], shapes: Shapes) -> ReferenceSpec:
    """m_0 = v_0 = 1e-6 and Adam's bias correction (scale_by_yogi's defaults)."""
    return ReferenceSpec(
        "yogi",
        {
            "lr": optax_lr(hp["learning_rate"], "yogi"),
            "beta1": float(hp["b1"]),
            "beta2": float(hp["b2"]),
            "eps": float(hp["eps"]),
            "eps_root": 0.0,
            "initial_accumulator_value": 1e-6,
            "bias_correction": True,
        },
    )


@optax_mapping("adabelief")
def _optax_adabelief(hp: dict[str, Any], shapes: Shapes) -> ReferenceSpec:
    """The same equations; eps_root is added to s_t and kept in the state."""
    return ReferenceSpec(
        "adabelief",
        {
            "lr": optax_lr(hp["learning_rate"], "adabelief"),
            "beta1": float(hp["b1"]),
            "beta2": float(hp["b2"]),
            "eps": float(hp["eps"]),
            "eps_root": float(hp["eps_root"]),
            "nesterov": bool(hp["nesterov"]),
        },
    )

"""torch.optim.Muon, torch.optim.SparseAdam and optax.adan to the reference (specs/muon.md,
specs/sparse_adam.md, specs/adan.md "Variants").

torch.optim.Muon runs its Newton-Schulz iteration in bfloat16 and normalises by
max(||U||_F, eps): the claim is ``ns_dtype="bfloat16", normalization="clamp"``, and torch refuses
parameters that are not 2-D (``non_matrix="refuse"``). SparseAdam is fed ``grad.to_sparse()`` by
the torch adapter, so the entries present are those with g_i != 0, the reference's rule. optax.adan
weights the gradient difference by 1 - b2 (the paper and the official code by b2) and decays
decoupled, theta - eta (u + lambda theta).
"""

from __future__ import annotations

from typing import Any

from ..peers import NotComparable, ReferenceSpec
from . import Shapes, none_only, optax_lr, optax_mapping, tf, torch_mapping


def _dtype(g: dict[str, Any]) -> str:
    """The dtype of the group's parameters, as torch prints it ("torch.float32")."""
    params = g.get("params") or []
    return str(params[0].dtype) if params else ""


@torch_mapping("Muon")
def _torch_muon(g: dict[str, Any], shapes: Shapes) -> ReferenceSpec:
    return ReferenceSpec(
        "muon",
        {
            "lr": tf(g["lr"]),
            "weight_decay": tf(g["weight_decay"]),
            "momentum": tf(g["momentum"]),
            "nesterov": bool(g["nesterov"]),
            "ns_coefficients": tuple(tf(c) for c in g["ns_coefficients"]),
            "eps": tf(g["eps"]),
            "ns_steps": int(g["ns_steps"]),
            "adjust_lr_fn": g["adjust_lr_fn"],
            "normalization": "clamp",
            "ns_dtype": "bfloat16",
            "momentum_dtype": "float32" if _dtype(g) == "torch.float32" else "float64",
            "shapes": shapes or None,
            "non_matrix": "refuse",
        },
    )


@torch_mapping("SparseAdam")
def _torch_sparse_adam(g: dict[str, Any], shapes: Shapes) -> ReferenceSpec:
    b1, b2 = (tf(b) for b in g["betas"])
    return ReferenceSpec("sparse_adam", {"lr": tf(g["lr"]), "beta1": b1, "beta2": b2, "eps": tf(g["eps"])})


@optax_mapping("adan")
def _optax_adan(hp: dict[str, Any], shapes: Shapes) -> ReferenceSpec:
    none_only("adan", hp, "mask")
    if callable(hp["weight_decay"]):
        raise NotComparable("optax.adan with a weight-decay schedule has no reference equivalent")
    return ReferenceSpec(
        "adan",
        {
            "lr": optax_lr(hp["learning_rate"], "adan"),
            "beta1": float(hp["b1"]),
            "beta2": float(hp["b2"]),
            "beta3": float(hp["b3"]),
            "eps": float(hp["eps"]),
            "eps_root": float(hp["eps_root"]),
            "weight_decay": float(hp["weight_decay"]),
            "weight_decay_form": "decoupled",
            "diff_weight": "one_minus_beta2",
        },
    )

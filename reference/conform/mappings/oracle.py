"""Oracle-fed peers (torch.optim.LBFGS, optax.lbfgs, optax.polyak_sgd): the reference each claims.

These are not registered in the gradient-stream tables (``torch_mapping``/``optax_mapping``): the
peers need an oracle, not a gradient stream, and are run by ``reference/conform/oracle_peers.py``
(specs/conformance.md, "Oracle-fed peers"; specs/lbfgs.md, lbfgs_torch.md, polyak_sgd.md Variants).
"""

from __future__ import annotations

from typing import Any

from ..peers import NotComparable, ReferenceSpec
from . import Shapes, optax_lr, tf


def torch_lbfgs_spec(g: dict[str, Any], shapes: Shapes) -> ReferenceSpec:
    """torch.optim.LBFGS(param group ``g``) -> ``lbfgs_torch`` with the same arguments."""
    del shapes
    lsf = g.get("line_search_fn")
    if lsf not in (None, "strong_wolfe"):
        raise NotComparable(f"torch.optim.LBFGS: line_search_fn={lsf!r} (torch accepts only 'strong_wolfe')")
    return ReferenceSpec(
        "lbfgs_torch",
        {
            "lr": tf(g["lr"]),
            "max_iter": int(g["max_iter"]),
            "max_eval": int(g["max_eval"]),
            "tolerance_grad": tf(g["tolerance_grad"]),
            "tolerance_change": tf(g["tolerance_change"]),
            "history_size": int(g["history_size"]),
            "line_search_fn": lsf,
        },
    )


def optax_lbfgs_spec(hp: dict[str, Any], shapes: Shapes) -> ReferenceSpec:
    """optax.lbfgs(memory_size, scale_init_precond) with its default zoom search -> ``lbfgs``."""
    del shapes
    if hp.get("learning_rate") is not None:
        raise NotComparable(
            "optax.lbfgs: learning_rate scales the direction before the search; only None is mapped"
        )
    if "linesearch" in hp:
        raise NotComparable(
            "optax.lbfgs: only the default linesearch (zoom, 20 steps, guess 'one') is mapped"
        )
    scaled = bool(hp.get("scale_init_precond", True))
    return ReferenceSpec(
        "lbfgs",
        {
            "m": int(hp.get("memory_size", 10)),
            "scaling": "gamma" if scaled else "identity",
            "first_scaling": "inverse_norm" if scaled else "one",
            "line_search": "optax_zoom",
            "store_pairs": "always",
        },
    )


def optax_polyak_spec(hp: dict[str, Any], shapes: Shapes) -> ReferenceSpec:
    """optax.polyak_sgd -> ``polyak_sgd`` with optax's inside scaling and zero guard."""
    del shapes
    import jax.numpy as jnp

    if hp.get("variant", "sps") not in ("sps", "sps+"):
        raise NotComparable(f"optax.polyak_sgd: variant={hp['variant']!r} (optax accepts 'sps', 'sps+')")
    return ReferenceSpec(
        "polyak_sgd",
        {
            "lr": float(hp.get("max_learning_rate", 1.0)),
            "scaling": optax_lr(hp.get("scaling", 1.0), "polyak_sgd"),
            "f_min": float(hp.get("f_min", 0.0)),
            "eps": float(hp.get("eps", 0.0)),
            "variant": hp.get("variant", "sps"),
            "scale_inside": True,
            "zero_tol": float(jnp.finfo(float).eps),  # type: ignore[no-untyped-call]
        },
    )


__all__ = ["optax_lbfgs_spec", "optax_polyak_spec", "torch_lbfgs_spec"]

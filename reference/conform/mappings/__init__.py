"""The translation tables from a peer's configuration to the reference, one module per family.

Each module here registers, for the torch.optim classes and optax aliases of its family, a function
from the peer's hyperparameters (torch: param group 0, filled by torch with its defaults; optax: the
call's keywords merged with the function's defaults) and its parameter shapes to the
``ReferenceSpec`` it claims, or ``NotComparable`` with the reason:

    @torch_mapping("Rprop")
    def _rprop(g: dict[str, Any], shapes: Shapes) -> ReferenceSpec: ...

    @optax_mapping("rprop")
    def _optax_rprop(hp: dict[str, Any], shapes: Shapes) -> ReferenceSpec: ...

The adapters (``torch_adapter._spec``, ``optax_adapter._spec``) consult these tables before their
own dispatch; every module of this package is imported by ``load()``, so a new family is one new
file. The shapes are the peer's parameter tensors in order: the layer-wise methods (LAMB, LARS,
Adafactor, ...) need them; elementwise methods ignore them.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from typing import Any

from ..peers import NotComparable, ReferenceSpec

Shapes = tuple[tuple[int, ...], ...]
Mapping = Callable[[dict[str, Any], Shapes], ReferenceSpec]

#: torch.optim class name -> mapping; optax alias name -> mapping (filled by the modules here).
TORCH: dict[str, Mapping] = {}
OPTAX: dict[str, Mapping] = {}


def _register(table: dict[str, Mapping], names: tuple[str, ...]) -> Callable[[Mapping], Mapping]:
    def deco(fn: Mapping) -> Mapping:
        for n in names:
            if n in table:
                raise ValueError(f"mapping for {n!r} registered twice")
            table[n] = fn
        return fn

    return deco


def torch_mapping(*cls_names: str) -> Callable[[Mapping], Mapping]:
    """Register ``fn(param_group, shapes) -> ReferenceSpec`` for torch.optim classes."""
    return _register(TORCH, cls_names)


def optax_mapping(*names: str) -> Callable[[Mapping], Mapping]:
    """Register ``fn(hyperparams, shapes) -> ReferenceSpec`` for optax aliases."""
    return _register(OPTAX, names)


def tf(x: Any) -> float:
    """A torch hyperparameter (a float or a 0-d tensor) as a float."""
    return float(x.item()) if hasattr(x, "item") else float(x)


def optax_lr(value: Any, name: str) -> Any:
    """optax's ``learning_rate`` as the reference's ``lr``: a float, or a schedule evaluated as optax
    evaluates it (at its int32 ``count`` before the increment; at an int32 count optax 0.2.8's
    schedules return float32 even under jax_enable_x64)."""
    if value is None:
        raise NotComparable(f"optax.{name}: learning_rate is None")
    if callable(value):
        import jax.numpy as jnp
        import numpy as np

        sched: Any = value
        return lambda t: float(np.asarray(sched(jnp.asarray(t, dtype=jnp.int32))))
    return float(value)


def none_only(name: str, hp: dict[str, Any], *keys: str) -> None:
    """Refuse an optax alias whose keyword ``k`` is set (not None) for any of ``keys``."""
    for k in keys:
        if hp.get(k) is not None:
            raise NotComparable(f"optax.{name}({k}={hp[k]!r}) has no reference equivalent")


_loaded = False


def load() -> None:
    """Import every module of this package once (each registers its mappings)."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")


__all__ = [
    "OPTAX",
    "TORCH",
    "Shapes",
    "load",
    "none_only",
    "optax_lr",
    "optax_mapping",
    "tf",
    "torch_mapping",
]

"""Any implementation as a peer: ``as_peer(actual, reference)``.

    as_peer(torch.optim.Adam(model.parameters(), lr=1e-3))            # torch's own: read by name
    as_peer(ThirdPartyLion(params, lr=1e-3), ref.lion(lr=1e-3))       # any other class: explicit reference
    as_peer(optax.chain(...), ref.adam(lr=1e-3))                      # any optax GradientTransformation
    as_peer(my_step, ref.adam(lr=1e-3))                               # any callable (FunctionPeer convention)

``actual`` may be a conformance ``Peer`` (returned as it is), a torch optimizer instance (torch's
own classes, subclasses and third-party classes alike, read through ``param_groups`` and
``state``), an optax ``GradientTransformation``, or a step function. ``reference`` is a built
reference optimizer, a ``ReferenceSpec`` or an algorithm name (with ``hyperparams``). With a
reference, nothing is mapped by class name; without one, only torch.optim's own exact classes are
(a subclass or a third-party class named ``Adam`` raises ``NotComparable`` asking for it).
torch and optax are imported only when ``actual`` comes from them.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

from .._core import Optimizer
from .._registry import ALGORITHMS
from .core import FunctionPeer, NotComparable, Peer, ReferenceSpec, spec_of


def as_spec(
    reference: Any, hyperparams: Mapping[str, Any] | None = None, *, argument: str = "reference"
) -> ReferenceSpec | None:
    """A ``ReferenceSpec`` from a reference optimizer, a spec, an algorithm name (+ hyperparams) or
    None; ``argument`` names the argument in error messages."""
    if hyperparams is not None and not isinstance(reference, str):
        raise TypeError(f"hyperparams= goes with an algorithm name as {argument} ({argument}='adam')")
    if reference is None or isinstance(reference, ReferenceSpec):
        return reference
    if isinstance(reference, Optimizer):
        if reference.name not in ALGORITHMS:
            raise ValueError(f"{argument}: {reference.name!r} is not a registered algorithm")
        return spec_of(reference)
    if isinstance(reference, str):
        return ReferenceSpec(reference, dict(hyperparams or {}))
    raise TypeError(
        f"{argument} must be a reference optimizer (ref.adam(lr=1e-3)), a ReferenceSpec or an "
        f"algorithm name with hyperparams=..., got {reference!r}"
    )


def is_torch_optimizer(obj: Any) -> bool:
    """An instance of ``torch.optim.Optimizer`` or of any class derived from it (torch not imported)."""
    if "torch" not in sys.modules or isinstance(obj, type):
        return False
    return any(
        c.__module__.startswith("torch.optim") and c.__name__ == "Optimizer" for c in type(obj).__mro__
    )


def is_optax_transformation(obj: Any) -> bool:
    """An optax ``GradientTransformation`` (optax not imported unless already loaded)."""
    if "optax" not in sys.modules:
        return False
    from .optax_adapter import is_transformation

    return is_transformation(obj)


def as_peer(
    actual: Any,
    reference: Any = None,
    *,
    hyperparams: Mapping[str, Any] | None = None,
    arguments: tuple[str, str] = ("actual", "reference"),
) -> Peer:
    """``actual`` as a conformance peer that claims ``reference`` (see the module docstring);
    ``arguments`` names the two arguments in error messages."""
    spec = as_spec(reference, hyperparams, argument=arguments[1])
    if isinstance(actual, Peer) and not callable(actual):
        return actual
    if is_torch_optimizer(actual):
        from .torch_adapter import torch_peer

        return torch_peer(actual, reference=spec)
    if is_optax_transformation(actual):
        from .optax_adapter import optax_peer

        return optax_peer(actual, reference=spec)
    if callable(actual) and not isinstance(actual, type):
        if spec is None:
            raise NotComparable(
                "a step function needs its reference: pass it (ref.adam(lr=1e-3), a ReferenceSpec, "
                "or an algorithm name with hyperparams=...)"
            )
        return FunctionPeer(actual, spec.algorithm, **dict(spec.hyperparams))
    raise TypeError(
        f"{arguments[0]} must be a conformance peer, a torch optimizer instance, an optax "
        f"GradientTransformation or a step function, got {type(actual).__name__}"
    )


__all__ = ["as_peer", "as_spec", "is_optax_transformation", "is_torch_optimizer"]

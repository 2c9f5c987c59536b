"""Assertions for users' test suites, in the style of ``numpy.testing``.

    from reference.testing import assert_conforms
    import reference as ref

    def test_my_adam():                                   # your own step function
        assert_conforms(my_adam_step, ref.adam(lr=1e-3))

    def test_torch_adam(model):                           # a framework optimizer
        assert_conforms(torch.optim.Adam(model.parameters(), lr=1e-3))

``assert_conforms`` runs ``reference.conform.conform`` (every gradient stream, open and closed
loop, the tolerance model of specs/conformance.md) and raises ``AssertionError`` with the table and
the diagnosis ("matches adam with eps inside the sqrt; differs from the default from step 1") if
any run leaves the tolerance. It returns the report when the implementation conforms.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from ._core import Optimizer
from ._registry import ALGORITHMS
from .conform.core import MODES, ConformanceReport, FunctionPeer, Peer, ReferenceSpec, conform
from .conform.streams import STREAMS
from .conform.variants import factory_params

__all__ = ["assert_conforms"]


def _as_peer(actual: Any, desired: Any, hyperparams: Mapping[str, Any] | None) -> tuple[Peer, Optimizer[Any] | None]:
    if isinstance(actual, Peer) and not callable(actual):
        peer: Peer = actual
        if desired is None:
            return peer, None
        if isinstance(desired, Optimizer):
            return peer, desired
        if isinstance(desired, ReferenceSpec):
            return peer, desired.build()
        raise TypeError(f"desired must be a reference Optimizer or ReferenceSpec for a peer, got {desired!r}")
    mod = type(actual).__module__
    if mod.startswith("torch.optim") or _is_torch_optimizer(actual):
        from .conform.torch_adapter import torch_peer

        return torch_peer(actual), (desired if isinstance(desired, Optimizer) else None)
    if callable(actual):
        if isinstance(desired, Optimizer):
            if desired.name not in ALGORITHMS:
                raise ValueError(f"desired: {desired.name!r} is not a registered algorithm")
            keys = factory_params(desired.name)
            hp = {k: v for k, v in desired.hyperparams.items() if k in keys}
            return FunctionPeer(actual, desired.name, **hp), desired
        if isinstance(desired, ReferenceSpec):
            return FunctionPeer(actual, desired.algorithm, **dict(desired.hyperparams)), None
        if isinstance(desired, str):
            return FunctionPeer(actual, desired, **dict(hyperparams or {})), None
        raise TypeError(
            "for a step function, desired must be a reference optimizer (ref.adam(lr=1e-3)), a "
            f"ReferenceSpec or an algorithm name with hyperparams=..., got {desired!r}"
        )
    raise TypeError(
        f"actual must be a conformance peer, a torch.optim optimizer or a step function, got {type(actual).__name__}"
    )


def _is_torch_optimizer(obj: Any) -> bool:
    return any(c.__module__.startswith("torch.optim") and c.__name__ == "Optimizer" for c in type(obj).__mro__)


def assert_conforms(
    actual: Any,
    desired: Any = None,
    *,
    hyperparams: Mapping[str, Any] | None = None,
    streams: Sequence[str] = STREAMS,
    modes: Sequence[str] = MODES,
    n_steps: int = 30,
    seed: int = 0,
    dim: int | None = None,
    problem: Any = None,
    err_msg: str = "",
) -> ConformanceReport:
    """Raise ``AssertionError`` unless ``actual`` matches the reference step by step.

    Args:
        actual: a step function (``FunctionPeer`` calling convention), a ``torch.optim``
            optimizer instance, or any ``reference.conform.Peer`` (``optax_peer(...)`` ...).
        desired: the reference: an optimizer (``ref.adam(lr=1e-3)``), a ``ReferenceSpec``, or an
            algorithm name (with ``hyperparams``). Default for a peer: the peer's own mapping.
        hyperparams: the reference keywords when ``desired`` is a name.
        streams, modes, n_steps, seed, dim, problem: as ``reference.conform.conform``.
        err_msg: prepended to the failure message.

    Returns:
        The ``ConformanceReport`` (when it passes).
    """
    peer, reference = _as_peer(actual, desired, hyperparams)
    report = conform(peer, reference=reference, streams=streams, modes=modes, n_steps=n_steps,
                     seed=seed, dim=dim, problem=problem, diagnose=True)  # fmt: skip
    if not report.passed:
        head = f"{err_msg}\n" if err_msg else ""
        raise AssertionError(f"{head}Implementation does not conform to the reference\n{report.table()}")
    return report

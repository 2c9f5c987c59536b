"""Conformance: check any optimizer implementation against the reference, and say why it differs.

    from reference.conform import conform, torch_peer, optax_peer, FunctionPeer
    report = conform(torch_peer(torch.optim.Adam(model.parameters(), lr=1e-3)))
    print(report.table())        # per stream and mode: deviation, tolerance, first failing step
    report.diagnosis             # on a mismatch: which documented variant the peer matches

A peer's own failure (it raised, or returned the wrong shape, dtype or non-finite values) raises
``PeerFailed``, never a mismatch. Peers that evaluate their gradient elsewhere than at their
params (look-ahead Nesterov) say where through ``query()`` (``FunctionPeer``: return
``(params, state, query)``).

Spec: specs/conformance.md (tolerance model, streams, diagnosis, calling conventions) and
specs/vectors.md (the golden-vector corpus). The torch and optax adapters import their framework
lazily, on first use, so this package imports with numpy alone.
"""

from __future__ import annotations

from typing import Any

from .core import (
    FLOAT_DTYPES,
    LONG,
    LONG_STEPS,
    MODES,
    Comparison,
    ConformanceReport,
    FunctionPeer,
    NotComparable,
    Peer,
    PeerFailed,
    ReferencePeer,
    ReferenceSpec,
    Run,
    compare,
    conform,
    default_problem,
    least_squares,
    run_peer,
    run_reference,
)
from .oracle_peers import OraclePeer, conform_oracle, oracle_peer
from .schedules import conform_schedule, optax_schedule, schedule_peer
from .streams import STREAMS, closed_loop, initial_point, open_loop
from .tolerance import PER_STEP_ULPS, Tolerance, machine_eps


def torch_peer(optimizer_or_name: Any, /, *args: Any, **kwargs: Any) -> Any:
    """``reference.conform.torch_adapter.torch_peer`` (imports torch on first use)."""
    from .torch_adapter import torch_peer as _torch_peer

    return _torch_peer(optimizer_or_name, *args, **kwargs)


def optax_peer(name: str, /, *args: Any, **kwargs: Any) -> Any:
    """``reference.conform.optax_adapter.optax_peer`` (imports jax and optax on first use)."""
    from .optax_adapter import optax_peer as _optax_peer

    return _optax_peer(name, *args, **kwargs)


__all__ = [
    "FLOAT_DTYPES",
    "LONG",
    "LONG_STEPS",
    "MODES",
    "OraclePeer",
    "PER_STEP_ULPS",
    "STREAMS",
    "Comparison",
    "ConformanceReport",
    "FunctionPeer",
    "NotComparable",
    "Peer",
    "PeerFailed",
    "ReferencePeer",
    "ReferenceSpec",
    "Run",
    "Tolerance",
    "closed_loop",
    "compare",
    "conform",
    "conform_oracle",
    "conform_schedule",
    "default_problem",
    "initial_point",
    "least_squares",
    "machine_eps",
    "open_loop",
    "optax_peer",
    "optax_schedule",
    "oracle_peer",
    "run_peer",
    "run_reference",
    "schedule_peer",
    "torch_peer",
]

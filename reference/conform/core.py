"""Compatibility module: the conformance core now lives in four modules (specs/conformance.md).

* ``peers.py``: the ``Peer`` protocol, ``ReferenceSpec``, ``NotComparable``, ``ReferencePeer``,
  ``FunctionPeer``, ``ShapedPeer`` (shared by the torch and optax adapters);
* ``compare.py``: the closed-loop problem, the runs of both sides and their ``Comparison``;
* ``report.py``: ``ConformanceReport`` (typed with the diagnosis of ``variants.py``);
* ``engine.py``: ``conform``, the entry point above the diagnosis.

``from reference.conform.core import X`` keeps working for every name below.
"""

from __future__ import annotations

from .compare import (
    LONG,
    MODES,
    Comparison,
    GradFn,
    Run,
    as_grad_fn,
    compare,
    default_problem,
    least_squares,
    round_to,
    run_peer,
    run_reference,
)
from .engine import LONG_STEPS, conform
from .peers import (
    FLOAT_DTYPES,
    FunctionPeer,
    NotComparable,
    Peer,
    PeerFailed,
    ReferencePeer,
    ReferenceSpec,
    ShapedPeer,
    StepFunction,
    as_float_dtype,
    query_of,
    spec_of,
)
from .report import ConformanceReport

__all__ = [
    "FLOAT_DTYPES",
    "LONG",
    "LONG_STEPS",
    "MODES",
    "Comparison",
    "ConformanceReport",
    "FunctionPeer",
    "GradFn",
    "NotComparable",
    "Peer",
    "PeerFailed",
    "ReferencePeer",
    "ReferenceSpec",
    "Run",
    "ShapedPeer",
    "StepFunction",
    "as_float_dtype",
    "as_grad_fn",
    "compare",
    "conform",
    "default_problem",
    "least_squares",
    "query_of",
    "round_to",
    "run_peer",
    "run_reference",
    "spec_of",
]

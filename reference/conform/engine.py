"""The entry point: ``conform(peer)`` runs every stream in every mode and diagnoses a mismatch.

    report = conform(peer, streams=STREAMS, modes=("open", "closed"), n_steps=40, seed=0)
    report.passed, print(report.table()), report.diagnosis

It sits above the diagnosis (``variants.py``), which sits above the runs (``compare.py``) and the
peers (``peers.py``), so no module imports one that imports it.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .._core import Optimizer
from . import streams as _streams
from .compare import MODES, compare
from .peers import Peer, spec_of
from .report import ConformanceReport
from .variants import diagnose as _diagnose


def conform(
    peer: Peer,
    *,
    reference: Optimizer[Any] | None = None,
    streams: Sequence[str] = _streams.STREAMS,
    modes: Sequence[str] = MODES,
    n_steps: int = 40,
    seed: int = 0,
    dim: int | None = None,
    problem: Any = None,
    diagnose: bool = True,
) -> ConformanceReport:
    """Compare ``peer`` with its reference on every stream in every mode; diagnose a mismatch.

    Args:
        peer: the implementation under test (``torch_peer``, ``optax_peer``, ``FunctionPeer`` ...).
        reference: the reference optimizer; default ``peer.spec.build()``. When given, the
            report and the diagnosis are about it (``spec_of(reference)``), not the peer's claim.
        streams, modes: which of ``STREAMS`` and ``MODES`` to run.
        n_steps: steps per run (>= 1). seed: the explicit seed of streams and theta_0.
        dim: parameter count; default the peer's own (``peer.dim``), else 7.
        problem: closed-loop objective (``.grad`` or a callable); default ``least_squares``.
        diagnose: on a mismatch, search the documented variants (``variants.diagnose``).
    """
    if not (isinstance(n_steps, (int, np.integer)) and n_steps >= 1):
        raise ValueError(f"n_steps must be an integer >= 1, got {n_steps!r}")
    for s in streams:
        if s not in _streams.STREAMS:
            raise ValueError(f"streams: {s!r} is not one of {list(_streams.STREAMS)}")
    for m in modes:
        if m not in MODES:
            raise ValueError(f"modes: {m!r} is not one of {list(MODES)}")
    if not streams or not modes:
        raise ValueError("streams and modes must be non-empty")
    p = dim if dim is not None else (peer.dim if peer.dim is not None else 7)
    if peer.dim is not None and p != peer.dim:
        raise ValueError(f"dim={p} but the peer's parameters have {peer.dim} entries")
    comps = [
        compare(peer, mode=m, stream=s, n_steps=int(n_steps), seed=seed, dim=p,
                reference=reference, problem=problem)  # fmt: skip
        for m in modes
        for s in streams
    ]
    spec = peer.spec if reference is None else spec_of(reference)
    report = ConformanceReport(peer.name, spec, comps[0].tolerance, comps)
    if diagnose and not report.passed:
        report.diagnosis = _diagnose(report)
    return report


__all__ = ["conform"]

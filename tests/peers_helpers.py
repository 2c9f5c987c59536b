"""The check that every family's peer tests make of an adapter pair (tests/test_peers_*.py): the
adapter's claim, and the peer conforming on every stream, both loops and the long run."""

from __future__ import annotations

from typing import Any

from reference.conform import STREAMS, conform


def check_pair_conforms(
    peer: Any, algorithm: str, claim_kw: dict[str, Any], dtype: str, **conform_kw: Any
) -> tuple[dict[str, Any], Any]:
    """The adapter chose ``algorithm`` and a claim with the keywords ``claim_kw`` (the record's
    defaults fill the rest); ``conform(peer, **conform_kw)`` ran every stream closed and open loop
    and the long run, at ``dtype``, and passed; at float32 the rounding is genuinely float32 (the
    worst step is above 0.1 ulp). Returns (the claim's keywords, the report)."""
    assert peer.spec.algorithm == algorithm
    claim: dict[str, Any] = dict(peer.spec.build().hyperparams)
    for k, v in claim_kw.items():
        assert claim[k] == v, (k, claim[k], v)
    report = conform(peer, **conform_kw)
    assert len(report.comparisons) == 2 * len(STREAMS) + 1
    assert report.tolerance.dtype == dtype
    assert report.passed, report.table()
    if dtype == "float32":
        assert report.worst.max_ulps > 0.1  # genuinely float32 rounding, not float64
    return claim, report

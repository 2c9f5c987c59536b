"""The entry point: ``conform(peer)`` runs every stream in every mode and diagnoses a mismatch.

    report = conform(peer, streams=STREAMS, modes=("open", "closed"), n_steps=40, seed=0)
    report.passed, print(report.table()), report.diagnosis

It sits above the diagnosis (``variants.py``), which sits above the runs (``compare.py``) and the
peers (``peers.py``), so no module imports one that imports it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .._core import Optimizer, check_count
from . import streams as _streams
from .compare import LONG, MODES, compare
from .peers import NotComparable, Peer, peer_versions, spec_of
from .report import ConformanceReport
from .variants import diagnose as _diagnose
from .variants import full_hyperparams

#: Steps of the long open-loop run: long enough for bugs that start late (a state reset at step 50,
#: bias-correction arithmetic that drifts after step 100), short enough for about a second a pair.
LONG_STEPS = 1000
#: The stream of the long run (when it is among the requested streams; else the first requested).
LONG_STREAM = "normal"


def stream_issue(stream: str, dtype: np.dtype[Any], n_steps: int, dim: int, seed: int) -> str | None:
    """Why ``stream`` cannot be fed to a peer computing in ``dtype`` (None: it can).

    The tolerance model needs the stream's values and their squares (second moments) in the
    dtype's normal range: max g^2 below a quarter of the largest finite value (room for a sum),
    and the median g^2 at least the smallest normal number (else most of it is subnormal or 0).
    float16 fails the large, small and heavy-tailed streams; float32 and bfloat16 fail none.
    """
    if dtype == np.float64:
        return None
    info = _finfo(dtype)
    g = np.abs(_streams.open_loop(stream, seed, n_steps, dim))
    nz = g[g > 0]
    if float(np.max(g)) ** 2 >= info[0] / 4:
        return f"stream {stream!r}: g^2 up to {float(np.max(g)) ** 2:.3g} overflows {dtype.name} (max {info[0]:.3g})"
    if nz.size and float(np.median(nz)) ** 2 < info[1]:
        return f"stream {stream!r}: g^2 ~ {float(np.median(nz)) ** 2:.3g} is below {dtype.name}'s normal range ({info[1]:.3g})"
    return None


def _finfo(dtype: np.dtype[Any]) -> tuple[float, float]:
    if dtype.name == "bfloat16":
        import ml_dtypes

        fi = ml_dtypes.finfo(dtype)  # type: ignore[no-untyped-call]
        return float(fi.max), float(fi.smallest_normal)
    f = np.finfo(dtype)
    return float(f.max), float(f.smallest_normal)


def precision_issues(hyperparams: dict[str, Any], dtype: np.dtype[Any]) -> list[str]:
    """The hyperparameters a peer computing in ``dtype`` cannot hold: a nonzero value that rounds to
    0 or overflows, a value in (0, 1) that rounds to 1 (beta2 = 0.999 in bfloat16)."""
    out = []
    for k, v in hyperparams.items():
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
            continue
        with np.errstate(over="ignore", under="ignore"):
            r = float(np.asarray(float(v), dtype=np.float64).astype(dtype))
        if float(v) != 0 and r == 0:
            out.append(f"{k}={v!r} rounds to 0 in {dtype.name}")
        elif not np.isfinite(r):
            out.append(f"{k}={v!r} overflows {dtype.name}")
        elif 0 < float(v) < 1 and r == 1:
            out.append(f"{k}={v!r} rounds to 1 in {dtype.name}")
    return out


def conform(
    peer: Peer | Any,
    *,
    reference: Optimizer[Any] | None = None,
    streams: Sequence[str] = _streams.STREAMS,
    modes: Sequence[str] = MODES,
    n_steps: int = 40,
    seed: int = 0,
    dim: int | None = None,
    problem: Any = None,
    diagnose: bool = True,
    long_steps: int = LONG_STEPS,
) -> ConformanceReport:
    """Compare ``peer`` with its reference on every stream in every mode; diagnose a mismatch.

    Args:
        peer: the implementation under test (``torch_peer``, ``optax_peer``, ``FunctionPeer`` ...),
            or any implementation ``adapt.as_peer`` takes: a torch optimizer instance, an optax
            ``GradientTransformation``, a step function (these last two need ``reference``).
        reference: the reference optimizer; default ``peer.spec.build()``. When given, the
            report and the diagnosis are about it (``spec_of(reference)``), not the peer's claim.
        streams, modes: which of ``STREAMS`` and ``MODES`` to run.
        n_steps: steps per run (>= 1). seed: the explicit seed of streams and theta_0.
        dim: parameter count; default the peer's own (``peer.dim``), else 7.
        problem: closed-loop objective (``.grad`` or a callable); default ``least_squares``.
        diagnose: on a mismatch, search the documented variants (``variants.diagnose``).
        long_steps: steps of one more open-loop run (mode ``"long"``, stream ``LONG_STREAM``),
            for bugs that start late; 0 skips it.

    Raises:
        PeerFailed: the peer's own code failed (raised, returned the wrong shape or dtype, or
            non-finite values where the reference's are finite): never a verdict.
        NotComparable: the claim has no reference equivalent, or the peer's precision cannot
            hold a hyperparameter (``precision_issues``).

    Long because it is the procedure read top to bottom: check the arguments, run every stream in
    every mode and the long run, judge, diagnose.
    """
    check_count("", "n_steps", n_steps, minimum=1)
    for s in streams:
        if s not in _streams.STREAMS:
            raise ValueError(f"streams: {s!r} is not one of {list(_streams.STREAMS)}")
    for m in modes:
        if m not in MODES:
            raise ValueError(f"modes: {m!r} is not one of {list(MODES)}")
    if not streams or not modes:
        raise ValueError("streams and modes must be non-empty")
    check_count("", "long_steps", long_steps, minimum=0)
    if not isinstance(peer, Peer) or callable(peer):  # a torch optimizer, an optax transformation, a function
        from .adapt import as_peer

        peer = as_peer(peer, reference)
    p = dim if dim is not None else (peer.dim if peer.dim is not None else 7)
    if peer.dim is not None and p != peer.dim:
        raise ValueError(f"dim={p} but the peer's parameters have {peer.dim} entries")
    spec = peer.spec if reference is None else spec_of(reference)
    dt = peer.dtype
    issues = precision_issues(full_hyperparams(spec), dt)
    if issues:
        raise NotComparable(f"a {dt.name} peer cannot hold the hyperparameters: {'; '.join(issues)}")
    plan = [(m, s, int(n_steps)) for m in modes for s in streams]
    if long_steps:
        plan.append((LONG, LONG_STREAM if LONG_STREAM in streams else streams[0], int(long_steps)))
    comps, skipped = [], []
    for m, s, n in plan:
        why = stream_issue(s, dt, n, p, seed)
        if why is not None:
            skipped.append(f"{m}/{s}: {why}")
            continue
        comps.append(
            compare(peer, mode=m, stream=s, n_steps=n, seed=seed, dim=p, reference=reference, problem=problem)
        )
    if not comps:
        raise NotComparable(f"no stream can be fed to a {dt.name} peer: {'; '.join(skipped)}")
    settings = {
        "seed": seed,
        "n_steps": int(n_steps),
        "long_steps": int(long_steps),
        "dim": p,
        "modes": list(modes),
        "streams": list(streams),
    }
    report = ConformanceReport(
        peer.name,
        spec,
        comps[0].tolerance,
        comps,
        skipped=skipped,
        versions=peer_versions(peer),
        settings=settings,
    )
    if diagnose and not report.passed:
        report.diagnosis = _diagnose(report)
    return report


__all__ = ["LONG_STEPS", "LONG_STREAM", "conform", "precision_issues", "stream_issue"]

"""The conformance report: every comparison of one peer against its reference, and the diagnosis.

Three renderings of the same content: ``table()`` (the screen), ``markdown()`` and ``to_dict()``
(JSON; ``optref conform --md FILE --json FILE``). Each states, beside the verdict, the versions the
figures were measured with (python, numpy, optim-reference and the peer's own packages).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .compare import Comparison
from .peers import ReferenceSpec
from .tolerance import Tolerance
from .variants import Diagnosis

#: ``to_dict()["schema"]`` and its version (bumped when a key changes meaning or goes away).
SCHEMA = "optref-conform-report"
SCHEMA_VERSION = 1


@dataclass
class ConformanceReport:
    """All comparisons of one peer against its reference, and the diagnosis if any failed."""

    peer_name: str
    spec: ReferenceSpec
    tolerance: Tolerance
    comparisons: list[Comparison]
    diagnosis: Diagnosis | None = None  # when the diagnosis ran and something failed
    skipped: list[str] = field(default_factory=list)  # runs the peer's precision cannot take, and why
    versions: dict[str, str] = field(default_factory=dict)  # package -> version (``peers.peer_versions``)
    settings: dict[str, Any] = field(default_factory=dict)  # seed, n_steps, dim, ... of the run

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.comparisons)

    @property
    def failures(self) -> list[Comparison]:
        return [c for c in self.comparisons if not c.passed]

    @property
    def worst(self) -> Comparison:
        return max(self.comparisons, key=lambda c: c.worst_ratio)

    @property
    def verdict(self) -> str:
        """``"CONFORMS (k/n runs within tolerance)"`` or ``"DOES NOT CONFORM (...)"``."""
        n, bad = len(self.comparisons), len(self.failures)
        return f"{'CONFORMS' if self.passed else 'DOES NOT CONFORM'} ({n - bad}/{n} runs within tolerance)"

    def versions_text(self) -> str:
        """``"python 3.11.7, numpy 2.4.6, optim-reference 0.1.0, torch 2.13.0+cpu"`` (or "not recorded")."""
        return ", ".join(f"{k} {v}" for k, v in self.versions.items()) or "not recorded"

    def table(self) -> str:
        head = (
            f"{'mode':<6} {'stream':<13} {'steps':>5} {'max |dev|':>10} {'max rel':>10} {'ulps':>9} "
            f"{'dev/tol':>9} {'first fail':>10}  {'verdict':<8}  {'traj/tol':>9}"
        )
        lines = [
            f"peer:      {self.peer_name}",
            f"reference: {self.spec.describe()}",
            f"tolerance: {self.tolerance.describe()}",
            head,
            "-" * len(head),
        ]
        for c in self.comparisons:
            lines.append(
                f"{c.mode:<6} {c.stream:<13} {c.n:>5} {c.max_abs:>10.3g} {c.max_rel:>10.3g} "
                f"{c.max_ulps:>9.3g} {c.worst_ratio:>9.3g} {c.first_fail if c.first_fail else '-':>10}  "
                f"{'ok' if c.passed else 'MISMATCH':<8}  {_traj(c)}"
            )
        lines.append(f"verdict: {self.verdict}")
        lines.append(f"versions:  {self.versions_text()}")
        lines += [f"skipped:   {s}" for s in self.skipped]
        if any(c.trajectory is not None for c in self.comparisons):
            lines.append(
                "traj/tol:  report-only; the reference's own closed loop against the peer's trajectory "
                "(the dynamics may amplify rounding; see specs/conformance.md)"
            )
        if self.diagnosis is not None:
            lines.append(f"diagnosis: {self.diagnosis.summary()}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data (non-finite numbers become ``None``; values that are not
        numbers, text, flags or lists of them become their ``repr``)."""
        return {
            "schema": SCHEMA,
            "schema_version": SCHEMA_VERSION,
            "verdict": "CONFORMS" if self.passed else "DOES NOT CONFORM",
            "passed": self.passed,
            "versions": dict(self.versions),
            "peer": self.peer_name,
            "reference": {
                "algorithm": self.spec.algorithm,
                "call": self.spec.describe(),
                "hyperparams": {k: _json(v) for k, v in self.spec.hyperparams.items()},
            },
            "dtype": self.tolerance.dtype,
            "tolerance": {
                "per_step": _json(self.tolerance.per_step),
                "eps": _json(self.tolerance.eps),
                "text": self.tolerance.describe(),
            },
            "settings": {k: _json(v) for k, v in self.settings.items()},
            "runs": [_run(c) for c in self.comparisons],
            "skipped": list(self.skipped),
            "diagnosis": None if self.diagnosis is None else self.diagnosis.summary(),
        }

    def markdown(self) -> str:
        """The report as a Markdown page: verdict and versions first, then one row per run."""
        settings = ", ".join(f"{k} {v}" for k, v in self.settings.items())
        lines = [
            f"# optref conform: {_md(self.peer_name)}",
            "",
            "| | |",
            "|---|---|",
            f"| verdict | **{self.verdict}** |",
            f"| versions | {_md(self.versions_text())} |",
            f"| peer | {_md(self.peer_name)} |",
            f"| reference | `{_md(self.spec.describe())}` |",
            f"| tolerance | {_md(self.tolerance.describe())} |",
        ]
        if settings:
            lines.append(f"| settings | {_md(settings)} |")
        if self.diagnosis is not None:
            lines.append(f"| diagnosis | {_md(self.diagnosis.summary())} |")
        lines += [
            "",
            "| mode | stream | steps | max abs dev | max rel dev | ulps | dev/tol | first fail | verdict | traj/tol |",
            "|---|---|---:|---:|---:|---:|---:|---:|---|---:|",
        ]
        for c in self.comparisons:
            traj = "-" if c.trajectory_ratio is None else f"{c.trajectory_ratio:.3g}"
            lines.append(
                f"| {c.mode} | {c.stream} | {c.n} | {c.max_abs:.3g} | {c.max_rel:.3g} | {c.max_ulps:.3g} | "
                f"{c.worst_ratio:.3g} | {c.first_fail or '-'} | {'ok' if c.passed else 'MISMATCH'} | {traj} |"
            )
        if self.skipped:
            lines += ["", "Skipped runs:", ""] + [f"- {_md(s)}" for s in self.skipped]
        lines += ["", "traj/tol is report-only (specs/conformance.md); dev/tol <= 1 is within tolerance."]
        return "\n".join(lines) + "\n"


def _traj(c: Comparison) -> str:
    r = c.trajectory_ratio
    return f"{'-' if r is None else format(r, '.3g'):>9}"


def _run(c: Comparison) -> dict[str, Any]:
    return {
        "mode": c.mode,
        "stream": c.stream,
        "steps": c.n,
        "max_abs_dev": _json(c.max_abs),
        "max_rel_dev": _json(c.max_rel),
        "max_ulps": _json(c.max_ulps),
        "dev_over_tol": _json(c.worst_ratio),
        "first_fail": c.first_fail,
        "passed": c.passed,
        "traj_over_tol": _json(c.trajectory_ratio),
    }


def _json(v: Any) -> Any:
    """``v`` as a JSON value: finite numbers, text, flags, None and lists of them; else its repr."""
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, np.bool_):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, (list, tuple)):
        return [_json(x) for x in v]
    try:
        f = float(v)  # numpy scalars
    except (TypeError, ValueError):
        return repr(v)
    return f if math.isfinite(f) else None


def _md(text: str) -> str:
    """``text`` safe inside a Markdown table cell (pipes escaped, one line)."""
    return " ".join(str(text).split()).replace("|", "\\|")


__all__ = ["SCHEMA", "SCHEMA_VERSION", "ConformanceReport"]

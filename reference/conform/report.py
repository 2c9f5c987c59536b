"""The conformance report: every comparison of one peer against its reference, and the diagnosis."""

from __future__ import annotations

from dataclasses import dataclass, field
from .compare import Comparison
from .peers import ReferenceSpec
from .tolerance import Tolerance
from .variants import Diagnosis


@dataclass
class ConformanceReport:
    """All comparisons of one peer against its reference, and the diagnosis if any failed."""

    peer_name: str
    spec: ReferenceSpec
    tolerance: Tolerance
    comparisons: list[Comparison]
    diagnosis: Diagnosis | None = None  # when the diagnosis ran and something failed
    skipped: list[str] = field(default_factory=list)  # runs the peer's precision cannot take, and why

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.comparisons)

    @property
    def failures(self) -> list[Comparison]:
        return [c for c in self.comparisons if not c.passed]

    @property
    def worst(self) -> Comparison:
        return max(self.comparisons, key=lambda c: c.worst_ratio)

    def table(self) -> str:
        head = (f"{'mode':<6} {'stream':<13} {'steps':>5} {'max |dev|':>10} {'max rel':>10} {'ulps':>9} "
                f"{'dev/tol':>9} {'first fail':>10}  {'verdict':<8}  {'traj/tol':>9}")  # fmt: skip
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
        n_bad = len(self.failures)
        lines.append(
            f"verdict: {'CONFORMS' if self.passed else 'DOES NOT CONFORM'} "
            f"({len(self.comparisons) - n_bad}/{len(self.comparisons)} runs within tolerance)"
        )
        lines += [f"skipped:   {s}" for s in self.skipped]
        if any(c.trajectory is not None for c in self.comparisons):
            lines.append("traj/tol:  report-only; the reference's own closed loop against the peer's trajectory "
                         "(the dynamics may amplify rounding; see specs/conformance.md)")
        if self.diagnosis is not None:
            lines.append(f"diagnosis: {self.diagnosis.summary()}")
        return "\n".join(lines)


def _traj(c: Comparison) -> str:
    r = c.trajectory_ratio
    return f"{'-' if r is None else format(r, '.3g'):>9}"


__all__ = ["ConformanceReport"]

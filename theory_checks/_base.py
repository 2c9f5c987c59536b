"""The shape every theory check shares (see theory_checks/_template.py).

A check measures one documented claim of the seeds and compares the measurement with the theory's
prediction. ``run(ctx)`` returns a ``CheckResult`` whose rows each hold a predicted value, a
measured value, the tolerance (statistical: a confidence interval over seeds or a bootstrap, or a
rounding bound derived from float64) and a verdict. A check can fail: every check accepts a
deliberately wrong prediction or a broken optimizer through ``ctx.sabotage`` and the test suite
shows that it then fails.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Literal, Protocol, Sequence, TypeVar

T = TypeVar("T")
R = TypeVar("R")

Tier = Literal["quick", "full"]


def serial_map(fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """Run independent trials one after the other (the default mapper)."""
    return [fn(x) for x in items]


@dataclass(frozen=True)
class Context:
    """What a check is run with.

    tier: "quick" (the default; the whole suite in under a minute on 2 cores) or "full" (more
        seeds, tighter intervals).
    seed: root seed; trials derive theirs with numpy.random.SeedSequence(seed).spawn(k).
    map: runs independent trials (serially, through joblib, or on a Dask cluster). Trial
        functions must be picklable (module-level functions with plain arguments).
    sabotage: None for a real run; a check-specific word (e.g. "wrong-prediction",
        "broken-optimizer") that makes the check use a deliberately wrong prediction or a broken
        optimizer, so the tests can show that the check then fails.
    """

    tier: Tier = "quick"
    seed: int = 0
    map: Callable[[Callable[[Any], Any], Sequence[Any]], list[Any]] = serial_map
    sabotage: str | None = None


@dataclass(frozen=True)
class Row:
    """One compared quantity: prediction, measurement, tolerance, verdict."""

    quantity: str
    predicted: str
    measured: str
    tolerance: str
    holds: bool


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check."""

    name: str  # module name, e.g. "gd_stability"
    claim: str  # the claim as an equation or sentence
    source: str  # seed file and section
    rows: tuple[Row, ...]
    justification: str  # one line: why the tolerance is right
    figure: dict[str, Any] = field(default_factory=dict)  # data for the plot
    seconds: float = 0.0

    @property
    def holds(self) -> bool:
        return bool(self.rows) and all(r.holds for r in self.rows)


class Check(Protocol):
    """A theory-check module: constants plus ``run`` and ``plot``."""

    NAME: str
    CLAIM: str
    SOURCE: str
    SABOTAGE: tuple[str, ...]  # the words ctx.sabotage accepts

    def run(self, ctx: Context) -> CheckResult: ...

    def plot(self, result: CheckResult, path: str) -> None: ...

"""The shape every theory check shares (see theory_checks/_template.py).

A check measures one documented claim of the lecture notes and compares the measurement with the theory's
prediction. ``run(ctx)`` returns a ``CheckResult`` whose rows each hold a predicted value, a
measured value, the tolerance (statistical: a confidence interval over seeds or a bootstrap, or a
rounding bound derived from float64) and a verdict. A check can fail: every check accepts a
deliberately wrong prediction or a broken optimizer through ``ctx.sabotage`` and the test suite
shows that it then fails.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeVar

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


#: What a row's verdict rests on.
#:
#: * ``"stat"``: a statistical comparison (a confidence interval or a test at the per-comparison
#:   level of ``_stats.LEVEL``); it can fail by chance on correct code, and it is one of the
#:   comparisons the suite's false-alarm budget is split over (``_stats.RUN_ALPHA``).
#: * ``"bound"``: a deterministic comparison with a derived bound (a theorem's inequality, a
#:   rounding bound whose constant is derived in the check's docstring, an exact identity); on
#:   correct code it fails only if the derivation is wrong.
#: * ``"report"``: a figure shown beside the verdict, outside it (``holds`` is None).
RowKind = Literal["stat", "bound", "report"]


@dataclass(frozen=True)
class Row:
    """One compared quantity: prediction, measurement, tolerance, verdict (see ``RowKind``).

    ``p_value`` is the two-sided p-value of the prediction under the row's statistical model
    (``"stat"`` rows); the false-alarm script collects it to verify the interval's coverage.
    """

    quantity: str
    predicted: str
    measured: str
    tolerance: str
    holds: bool | None
    kind: RowKind = "bound"
    p_value: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("stat", "bound", "report"):
            raise ValueError(f"Row.kind must be 'stat', 'bound' or 'report', got {self.kind!r}")
        if (self.holds is None) != (self.kind == "report"):
            raise ValueError(
                f"Row {self.quantity!r}: holds is None exactly for report rows (kind {self.kind!r}, "
                f"holds {self.holds!r})"
            )


def report_row(quantity: str, measured: str, *, note: str = "report only") -> Row:
    """A figure shown in the table outside the verdict (it can neither hold nor fail)."""
    return Row(quantity=quantity, predicted="-", measured=measured, tolerance=note, holds=None, kind="report")


@dataclass(frozen=True)
class Outcome:
    """What a check's ``run`` returns: its rows and the data its ``plot`` draws. The runner adds
    the module's NAME, CLAIM, SOURCE and JUSTIFICATION and the time taken (``CheckResult``)."""

    rows: tuple[Row, ...]
    figure: dict[str, Any] = field(default_factory=dict)


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
    def verdict_rows(self) -> tuple[Row, ...]:
        """The rows the verdict rests on (every row but the report-only ones)."""
        return tuple(r for r in self.rows if r.kind != "report")

    @property
    def holds(self) -> bool:
        rows = self.verdict_rows
        return bool(rows) and all(bool(r.holds) for r in rows)


class Check(Protocol):
    """A theory-check module: constants plus ``run`` and ``plot``.

    ``run`` returns an ``Outcome`` (the runner validates ``ctx.sabotage`` against ``SABOTAGE``
    before calling it, times it, and fills name, claim, source and justification once); a
    ``CheckResult`` is still accepted from checks written before the frame.
    ``STAT_ROWS`` is the number of ``"stat"`` rows the check reports; the runner verifies it and
    the suite's per-comparison level is set from the sum (see ``_stats.RUN_ALPHA``).
    """

    NAME: str
    CLAIM: str
    SOURCE: str
    SABOTAGE: tuple[str, ...]  # the words ctx.sabotage accepts

    def run(self, ctx: Context) -> Outcome | CheckResult: ...

    def plot(self, result: CheckResult, path: str) -> None: ...

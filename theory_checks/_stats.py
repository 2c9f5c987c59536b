"""Statistics shared by the checks: the false-alarm budget, seeds for trials, intervals with
p-values, fitted slopes, number formatting.

The false-alarm budget (a number, demonstrated by ``tools/false_alarms.py``):

* ``RUN_ALPHA`` = 1 %: the designed probability that one whole run of the suite (either tier, any
  ``--seed``) fails by chance on correct code.
* It is split equally (Bonferroni) over at most ``STAT_BUDGET`` statistical comparisons: every
  ``"stat"`` row (``_base.RowKind``) is an interval or test at level ``LEVEL`` = 1 - RUN_ALPHA /
  STAT_BUDGET, i.e. a per-comparison false-alarm probability of 1.56e-4. Each check declares how
  many ``"stat"`` rows it reports (``STAT_ROWS``); the runner verifies the count and a test verifies
  that the suite's total stays within ``STAT_BUDGET``. Bonferroni needs no independence between
  rows: P(any of m comparisons fails) <= sum of their probabilities <= RUN_ALPHA.
* ``"bound"`` rows (derived deterministic bounds) do not draw on the budget: they fail on correct
  code only if their derivation is wrong, which the false-alarm script would show.

The budget holds only if each interval's coverage is what it says. Hence: Student-t intervals
over independent replicates whose statistic is close to normal (means of many terms, fitted
slopes), exact intervals (Clopper-Pearson for proportions), and the bootstrap only where the
false-alarm script has verified its coverage. Every ``"stat"`` row carries the p-value of its
prediction, and the false-alarm script checks that those p-values are uniform over seeds.

* ``t_interval``: the Student-t confidence interval of a mean over independent seeds.
* ``bootstrap_interval``: a percentile bootstrap interval of any statistic of independent samples.
* ``slope_interval``: the log-log slope fitted per seed, then a t-interval over seeds.
* ``ols_slope``: least-squares slope with its classical standard error, for one noisy curve.
* ``proportion_interval``: the exact Clopper-Pearson interval of a binomial proportion.
* ``normal_quantile``: the two-sided normal z at ``LEVEL`` (delta-method intervals).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._base import Context, Row

Floats = NDArray[np.float64]

#: Designed probability that one whole run of the suite fails by chance on correct code.
RUN_ALPHA = 0.01
#: The most ``"stat"`` rows the suite may report in one run (the Bonferroni denominator).
STAT_BUDGET = 64
#: Confidence level of every statistical row: 1 - RUN_ALPHA / STAT_BUDGET (99.984 %).
LEVEL = 1.0 - RUN_ALPHA / STAT_BUDGET


def trial_seeds(ctx: Context, k: int, *, stream: int = 0) -> list[np.random.SeedSequence]:
    """``k`` independent, picklable seeds for trials, derived from ``ctx.seed`` (and ``stream``,
    so that two experiments of one check draw independent randomness)."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    return list(np.random.SeedSequence([ctx.seed, stream]).spawn(k))


@dataclass(frozen=True)
class Interval:
    """An estimate with a confidence interval [lo, hi] at ``level``."""

    estimate: float
    lo: float
    hi: float
    level: float
    n: int  # number of independent samples behind it
    se: float | None = None  # standard error of the estimate, where the interval has one
    df: float | None = None  # Student-t degrees of freedom (None: normal reference distribution)

    def contains(self, value: float) -> bool:
        return self.lo <= value <= self.hi

    def p_value(self, value: float) -> float | None:
        """Two-sided p-value of ``value`` as the true parameter under the interval's model
        (t with ``df`` or normal), or None when the interval has no standard error."""
        from scipy import stats

        if self.se is None or not math.isfinite(self.se):
            return None
        if self.se == 0.0:
            return 1.0 if value == self.estimate else 0.0
        z = abs(self.estimate - value) / self.se
        sf = stats.t.sf(z, self.df) if self.df is not None else stats.norm.sf(z)
        return float(min(1.0, 2.0 * sf))

    @property
    def half_width(self) -> float:
        return 0.5 * (self.hi - self.lo)

    def __str__(self) -> str:
        return f"{fmt(self.estimate)} [{fmt(self.lo)}, {fmt(self.hi)}]"


def normal_quantile(level: float = LEVEL) -> float:
    """The two-sided standard-normal quantile z of ``level`` (3.29 at 99.9 %), for delta-method
    and Monte-Carlo intervals."""
    from scipy import stats

    return float(stats.norm.ppf(0.5 + level / 2.0))


def t_interval(samples: ArrayLike, level: float = LEVEL) -> Interval:
    """Student-t interval for the mean of independent ``samples`` (n >= 2)."""
    from scipy import stats

    x = np.asarray(samples, dtype=np.float64).ravel()
    n = x.size
    if n < 2:
        raise ValueError(f"t_interval needs at least 2 samples, got {n}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"t_interval: {int(np.sum(~np.isfinite(x)))} samples are not finite")
    mean = float(np.mean(x))
    se = float(np.std(x, ddof=1)) / math.sqrt(n)
    q = float(stats.t.ppf(0.5 + level / 2.0, df=n - 1))
    return Interval(mean, mean - q * se, mean + q * se, level, n, se=se, df=n - 1)


def bootstrap_interval(
    samples: ArrayLike,
    statistic: Callable[[Floats], float],
    rng: np.random.Generator,
    *,
    n_boot: int = 2000,
    level: float = LEVEL,
) -> Interval:
    """Percentile bootstrap interval of ``statistic`` over the rows of ``samples``."""
    x = np.asarray(samples, dtype=np.float64)
    n = x.shape[0]
    if n < 2:
        raise ValueError(f"bootstrap_interval needs at least 2 samples, got {n}")
    idx = rng.integers(0, n, size=(n_boot, n))
    boots = np.array([statistic(x[i]) for i in idx])
    a = (1.0 - level) / 2.0
    lo, hi = np.quantile(boots, [a, 1.0 - a])
    return Interval(float(statistic(x)), float(lo), float(hi), level, n, se=float(np.std(boots, ddof=1)))


def loglog_slope(x: ArrayLike, y: ArrayLike) -> float:
    """Least-squares slope of log y against log x."""
    lx = np.log(np.asarray(x, dtype=np.float64))
    ly = np.log(np.asarray(y, dtype=np.float64))
    return float(np.polyfit(lx, ly, 1)[0])


def slope_interval(x: ArrayLike, ys: ArrayLike, level: float = LEVEL) -> tuple[Interval, Floats]:
    """Fit a log-log slope to each row of ``ys`` (one row per independent seed) against ``x``;
    return the t-interval of the mean slope and the per-seed slopes."""
    y = np.asarray(ys, dtype=np.float64)
    if y.ndim != 2:
        raise ValueError(f"ys must be (seeds, points), got shape {y.shape}")
    slopes = np.array([loglog_slope(x, row) for row in y])
    return t_interval(slopes, level), slopes


def ols_slope(x: ArrayLike, y: ArrayLike, level: float = LEVEL) -> Interval:
    """Least-squares slope of y on x with the classical t-interval (needs >= 3 points)."""
    from scipy import stats

    xa = np.asarray(x, dtype=np.float64)
    ya = np.asarray(y, dtype=np.float64)
    n = xa.size
    if n < 3:
        raise ValueError(f"ols_slope needs at least 3 points, got {n}")
    res = stats.linregress(xa, ya)
    q = float(stats.t.ppf(0.5 + level / 2.0, df=n - 2))
    slope, se = float(res.slope), float(res.stderr)
    return Interval(slope, slope - q * se, slope + q * se, level, n, se=se, df=n - 2)


def implied_slope(
    iv1: Interval, iv2: Interval, expected1: float, expected2: float, t1: float, t2: float
) -> tuple[float, float, float]:
    """The log-log slope between t1 and t2 implied by two level intervals (mean / expectation, each
    an interval around 1): (predicted, measured, tolerance). The measured slope is the expectation's
    slope plus log(level2 / level1) / log(t2 / t1), and the two intervals bound that correction:
    |measured - predicted| <= (-log(1 - h1) - log(1 - h2)) / log(t2 / t1), h the half-widths. No new
    comparison is made, so the row spends none of the false-alarm budget."""
    span = math.log(t2 / t1)
    pred = math.log(expected2 / expected1) / span
    meas = pred + (math.log(iv2.estimate) - math.log(iv1.estimate)) / span
    tol = (-math.log(max(1e-300, 1 - iv1.half_width)) - math.log(max(1e-300, 1 - iv2.half_width))) / span
    return pred, meas, tol


def proportion_interval(successes: int, n: int, level: float = LEVEL) -> Interval:
    """Exact (Clopper-Pearson) interval of a binomial proportion; coverage >= ``level`` for
    every true proportion."""
    from scipy import stats

    if n < 1 or not 0 <= successes <= n:
        raise ValueError(f"proportion_interval needs 0 <= successes <= n and n >= 1, got {successes}/{n}")
    ci = stats.binomtest(successes, n).proportion_ci(confidence_level=level, method="exact")
    p = successes / n
    return Interval(p, float(ci.low), float(ci.high), level, n, se=math.sqrt(max(p * (1 - p), 1e-300) / n))


def interval_row(quantity: str, predicted: float, iv: Interval, *, what: str = "", shown: str = "") -> Row:
    """A row that holds iff the prediction lies in the interval; ``shown`` replaces the
    predicted column's text (e.g. the asymptote beside the value tested)."""
    tol = f"{iv.level * 100:.3f}% CI over {iv.n} {what or 'seeds'}"
    return Row(
        quantity=quantity,
        predicted=shown or fmt(predicted),
        measured=str(iv),
        tolerance=tol,
        holds=iv.contains(predicted),
        kind="stat",
        p_value=iv.p_value(predicted),
    )


def bound_row(quantity: str, predicted: str, measured: float, bound: float, *, why: str) -> Row:
    """A row that holds iff ``measured <= bound`` (a derived bound, e.g. rounding)."""
    return Row(
        quantity=quantity,
        predicted=predicted,
        measured=fmt(measured),
        tolerance=f"<= {fmt(bound)} ({why})",
        holds=bool(np.isfinite(measured) and measured <= bound),
    )


def fmt(x: float | int | Sequence[float]) -> str:
    """Compact number formatting for the table (4 significant digits)."""
    if isinstance(x, (list, tuple)):
        return "[" + ", ".join(fmt(v) for v in x) + "]"
    if isinstance(x, (int, np.integer)) and not isinstance(x, bool):
        return str(int(x))
    v = float(x)  # type: ignore[arg-type]
    if not math.isfinite(v):
        return str(v)
    if v == 0.0:
        return "0"
    if 1e-3 <= abs(v) < 1e4:
        return f"{v:.4g}"
    return f"{v:.3e}"

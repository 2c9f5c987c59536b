r"""TEMPLATE: copy this file to theory_checks/<name>.py, fill every section, add <name> to
``CHECKS`` in theory_checks/__init__.py. (This module is not in ``CHECKS``; it is a working
example that the framework's tests run, so the skeleton itself stays correct.)

Claim:
    The mean of n i.i.d. draws of N(mu, 1) has standard deviation 1/sqrt(n)  (one line, as an
    equation where possible; say what the seed says, in the seed's notation).

Setup:
    What is run: the problem, the optimizer and its hyperparameters, the tiers (quick: k seeds,
    full: K seeds), the randomness (SeedSequence(ctx.seed).spawn(k) via ``_stats.trial_seeds``).
    Here: for each seed, 200 means of n draws, n in {4, 16, 64, 256}; the log-log slope of the
    empirical standard deviation against n.

Measured:
    Each Row: the quantity, the prediction, the measurement with its interval, the verdict.
    Here: the slope of log sd against log n (predicted -1/2).

Tolerance:
    Why it is right, in one line (this goes into ``JUSTIFICATION``). Here: the Student-t interval
    at the suite's per-comparison level ``_stats.LEVEL`` of the per-seed slopes (seeds are
    independent, so the slopes are i.i.d.; each is a least-squares fit over 4 points of log sds of
    200 means, close to normal). Every constant in a tolerance is derived here (which bound, which
    assumptions) or replaced by an interval.

Frame:
    ``run(ctx)`` returns an ``Outcome`` (rows + figure data); the runner validates ``ctx.sabotage``
    against ``SABOTAGE``, times the run and fills NAME / CLAIM / SOURCE / JUSTIFICATION.
    Trial results are frozen records (a dataclass), not string-keyed dicts. One function per row
    (``row_slope`` below), so each row's prediction and measurement read in one place.
    ``STAT_ROWS`` counts the rows of kind "stat" (the false-alarm budget is split over them).
    A prediction never comes from running the code under test; a measurement is made by the check
    from the iterates, never read from what the algorithm reports about itself.

References:
    Note 000, "Mini Batches as Noise Reduction" (the lecture note by title and section).

Sabotage:
    "wrong-prediction": predicts slope -1 instead of -1/2 (the check must then fail).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._base import CheckResult, Context, Outcome, Row
from ._stats import interval_row, slope_interval, trial_seeds

NAME = "_template"
CLAIM = "sd(mean of n draws) = 1/sqrt(n): log-log slope -1/2"
SOURCE = "note 000, 'Mini Batches as Noise Reduction'"
SABOTAGE: tuple[str, ...] = ("wrong-prediction",)
JUSTIFICATION = "Student-t interval (suite level) of per-seed slopes over independent seeds"
STAT_ROWS = 1

_NS = (4, 16, 64, 256)


@dataclass(frozen=True)
class Trial:
    """One seed's measurement: the empirical sd of the mean at each n in ``_NS``."""

    sds: tuple[float, ...]


def _trial(args: tuple[np.random.SeedSequence, int]) -> Trial:
    """One seed's measurement. Module level and plain arguments, so that it pickles (joblib,
    Dask); all randomness comes from the seed it is given."""
    seed, reps = args
    rng = np.random.default_rng(seed)
    return Trial(tuple(float(np.std(rng.normal(size=(reps, n)).mean(axis=1), ddof=1)) for n in _NS))


def row_slope(trials: list[Trial], sabotage: str | None) -> Row:
    """The slope of log sd against log n, per seed, against the prediction -1/2."""
    iv, _ = slope_interval(_NS, [t.sds for t in trials])
    predicted = -1.0 if sabotage == "wrong-prediction" else -0.5
    return interval_row("log-log slope of sd vs n", predicted, iv)


def run(ctx: Context) -> Outcome:
    k = 8 if ctx.tier == "quick" else 32
    trials: list[Trial] = ctx.map(_trial, [(s, 200) for s in trial_seeds(ctx, k)])
    return Outcome(
        rows=(row_slope(trials, ctx.sabotage),),
        figure={"n": list(_NS), "sd": [list(t.sds) for t in trials]},
    )


def plot(result: CheckResult, path: str) -> None:
    from ._plot import save, subplots

    fig, (ax,) = subplots()
    n = np.array(result.figure["n"], dtype=float)
    for row in result.figure["sd"]:
        ax.loglog(n, row, "o-", color="C0", alpha=0.3)
    ax.loglog(n, n**-0.5, "k--", label="1/sqrt(n)")
    ax.set_xlabel("n")
    ax.set_ylabel("sd of the mean")
    ax.legend()
    save(fig, path, result.claim)

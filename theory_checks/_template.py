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
    Why it is right, in one line (this goes into ``CheckResult.justification``). Here: the 99.9 %
    Student-t interval of the per-seed slopes (seeds are independent, so the slopes are i.i.d.).

References:
    Seed 000, "Mini Batches as Noise Reduction" (the file under ../shared/seeds and its section).

Sabotage:
    "wrong-prediction": predicts slope -1 instead of -1/2 (the check must then fail).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from ._base import CheckResult, Context, Row
from ._stats import interval_row, slope_interval, trial_seeds

NAME = "_template"
CLAIM = "sd(mean of n draws) = 1/sqrt(n): log-log slope -1/2"
SOURCE = "seed 000, 'Mini Batches as Noise Reduction'"
SABOTAGE: tuple[str, ...] = ("wrong-prediction",)

_NS = (4, 16, 64, 256)


def _trial(args: tuple[np.random.SeedSequence, int]) -> list[float]:
    """One seed's measurement. Module level and plain arguments, so that it pickles (joblib,
    Dask); all randomness comes from the seed it is given."""
    seed, reps = args
    rng = np.random.default_rng(seed)
    return [float(np.std(rng.normal(size=(reps, n)).mean(axis=1), ddof=1)) for n in _NS]


def run(ctx: Context) -> CheckResult:
    if ctx.sabotage not in (None, *SABOTAGE):
        raise ValueError(f"{NAME}: sabotage must be one of {SABOTAGE}, got {ctx.sabotage!r}")
    t0 = time.perf_counter()
    k = 8 if ctx.tier == "quick" else 32
    sds = np.array(ctx.map(_trial, [(s, 200) for s in trial_seeds(ctx, k)]))
    iv, slopes = slope_interval(_NS, sds)
    predicted = -1.0 if ctx.sabotage == "wrong-prediction" else -0.5
    rows: tuple[Row, ...] = (interval_row("log-log slope of sd vs n", predicted, iv),)
    figure: dict[str, Any] = {"n": list(_NS), "sd": sds.tolist(), "slopes": slopes.tolist()}
    return CheckResult(
        name=NAME,
        claim=CLAIM,
        source=SOURCE,
        rows=rows,
        justification="99.9% Student-t interval of per-seed slopes (independent seeds)",
        figure=figure,
        seconds=time.perf_counter() - t0,
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

r"""Learning-rate search without gradients: grid and random search, eqs. (H5)-(H6), and
multi-fidelity successive halving, eqs. (H7)-(H8), of specs/hpo.md (package docstring:
reference/hpo/__init__.py).

    grid search:   eta* = argmin_{eta in G} F(eta)                                          (H5)
    random search: eta_1..eta_m i.i.d. log-uniform on [low, high], eta* = argmin F(eta_i)   (H6)
    successive halving: n_{k+1} = max(1, floor(n_k / eta)), r_{k+1} = eta r_k               (H7)
    total budget: sum_k n_k r_k                                                              (H8)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from autograd.tracer import getval

from .._core import NonFiniteGradientError, check_count, check_positive, check_rng
from .objective import Objective, SearchResult, _eval


def grid_search(F: Objective, lrs: Sequence[float]) -> SearchResult:
    """F at every learning rate of the grid; the best one, eq. (H5). Diverged runs count as inf."""
    grid = [float(x) for x in lrs]
    if not grid:
        raise ValueError("grid_search: lrs must hold at least one learning rate")
    for x in grid:
        check_positive("grid_search", "every lr of lrs", x)
    values = [_eval(F, x) for x in grid]
    if not any(math.isfinite(v) for v in values):
        raise ValueError(f"grid_search: every run diverged (F = inf) on lrs {grid[0]!r} .. {grid[-1]!r}")
    i = int(np.argmin(values))  # (H5)
    return SearchResult(
        lr=grid[i],
        value=values[i],
        lrs=tuple(grid),
        values=tuple(values),
        grads=(),
        evaluations=len(grid),
        method="grid",
    )


def log_grid(low: float, high: float, n: int) -> list[float]:
    """n learning rates log-spaced from low to high inclusive (n >= 2, 0 < low < high)."""
    _check_range("log_grid", low, high, n)
    return [float(x) for x in np.geomspace(low, high, n)]


def random_search(F: Objective, low: float, high: float, n: int, rng: np.random.Generator) -> SearchResult:
    """n learning rates log-uniform on [low, high] from ``rng``; the best one, eq. (H6)."""
    _check_range("random_search", low, high, n)
    check_rng(rng, who="random_search")
    lrs = np.exp(rng.uniform(math.log(low), math.log(high), n))  # (H6)
    res = grid_search(F, [float(x) for x in lrs])
    return SearchResult(
        lr=res.lr,
        value=res.value,
        lrs=res.lrs,
        values=res.values,
        grads=(),
        evaluations=res.evaluations,
        method="random",
    )


def _check_range(who: str, low: float, high: float, n: int) -> None:
    check_positive(who, "low", low)
    check_positive(who, "high", high)
    if not low < high:
        raise ValueError(f"{who}: need low < high, got low={low!r}, high={high!r}")
    check_count(who, "n", n, minimum=2)


# ---------------------------------------------------------------------------------------------
# Multi-fidelity: successive halving, eqs. (H7)-(H8)
# ---------------------------------------------------------------------------------------------

BudgetObjective = Callable[[Any, int], float]


@dataclass(frozen=True)
class HalvingRound:
    """One round of successive halving: the budget r_k, the indices (into ``configs``) of the
    n_k configurations evaluated at it, and their scores (non-finite scores are stored as inf)."""

    budget: int
    indices: tuple[int, ...]
    scores: tuple[float, ...]


@dataclass(frozen=True)
class HalvingResult:
    """The outcome of ``successive_halving``.

    config, index, score: the winner, its index in ``configs`` and its score at the last round's budget.
    rounds: every round in order.
    total_budget: sum over rounds of n_k r_k, eq. (H8) (the budget units the objective was asked for).
    """

    config: Any
    index: int
    score: float
    rounds: tuple[HalvingRound, ...]
    total_budget: int


def _score(objective: BudgetObjective, config: Any, budget: int) -> float:
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            v = float(getval(objective(config, budget)))
    except (FloatingPointError, OverflowError, NonFiniteGradientError):
        return math.inf
    return v if math.isfinite(v) else math.inf


def halving_schedule(
    n: int, min_budget: int, eta: int = 3, *, rounds: int | None = None
) -> list[tuple[int, int]]:
    """The (n_k, r_k) pairs of successive halving on n configurations, eq. (H7):
    n_0 = n, r_0 = min_budget, n_{k+1} = max(1, floor(n_k / eta)), r_{k+1} = eta r_k, until n_k = 1.
    The total budget (H8) is sum n_k r_k; for n = eta^s it is (s + 1) n min_budget.

    With ``rounds`` = K given (Hyperband's inner loop, Li et al. 2018, Algorithm 1): exactly K
    rounds, n_k = floor(n eta^-k), r_k = min_budget eta^k, k = 0..K-1 (n_{K-1} >= 1 is required;
    the last round may hold several configurations)."""
    who = "successive_halving"
    n = check_count(who, "the number of configs", n, minimum=1)
    min_budget = check_count(who, "min_budget", min_budget, minimum=1)
    eta = check_count(who, "eta", eta, minimum=2)
    if rounds is not None:
        rounds = check_count(who, "rounds", rounds, minimum=1)
        if n // eta ** (rounds - 1) < 1:
            raise ValueError(
                f"{who}: rounds={rounds} needs at least eta^(rounds-1) = {eta ** (rounds - 1)} configs, got {n}"
            )
        return [(n // eta**k, min_budget * eta**k) for k in range(rounds)]
    out = [(n, min_budget)]
    while out[-1][0] > 1:
        nk, rk = out[-1]
        out.append((max(1, nk // eta), rk * eta))
    return out


def successive_halving(
    objective: BudgetObjective,
    configs: Sequence[Any],
    *,
    min_budget: int,
    eta: int = 3,
    rounds: int | None = None,
    strict: bool = True,
) -> HalvingResult:
    """Successive halving (Jamieson & Talwalkar 2016; the inner loop of Li et al.'s Hyperband),
    eqs. (H7)-(H8): evaluate every surviving configuration at budget r_k, keep the best
    max(1, floor(n_k / eta)), multiply the budget by eta, repeat until one is left (it is
    evaluated at the last budget, r_0 eta^K with K = number of halvings).

    Args:
        objective: ``objective(config, budget) -> float``, lower is better (e.g. the validation
            loss after ``budget`` training steps with lr = config). A non-finite score or a run
            that raises FloatingPointError / OverflowError / NonFiniteGradientError counts as inf.
        configs: the candidate configurations (at least one), e.g. learning rates drawn by the
            caller from a Generator; the method itself is deterministic (ties go to the earlier
            configuration).
            A ``Sequence`` is read in index order, item k right before its first evaluation, so
            a lazy sequence (BOHB's proposals, reference/hpo/bohb.py) may depend on the results
            so far; any other iterable is read whole first.
        min_budget: r_0, an integer >= 1.
        eta: the halving rate, an integer >= 2.
        rounds: None (halve until one configuration is left), or exactly this many rounds with
            n_k = floor(n eta^-k) (Hyperband's brackets; ``halving_schedule``).
        strict: True raises when every configuration of a round scores inf; False goes on (the
            ranking keeps the earlier configurations) and the result's score may be inf.
    Each call is a fresh run at its budget (no warm start), so the budget spent is (H8) exactly.
    The winner is the best configuration of the last round (the earlier on a tie).
    Raises ValueError on bad arguments, or (strict) if every configuration of some round scores inf.
    """
    who = "successive_halving"
    if not callable(objective):
        raise TypeError(
            f"{who}: objective must be callable (config, budget) -> float, got {type(objective).__name__}"
        )
    cfgs = configs if isinstance(configs, Sequence) else list(configs)
    if len(cfgs) == 0:
        raise ValueError(f"{who}: configs must hold at least one configuration")
    if not isinstance(strict, bool):
        raise TypeError(f"{who}: strict must be True or False, got {strict!r}")
    schedule = halving_schedule(len(cfgs), min_budget, eta, rounds=rounds)
    alive = list(range(len(cfgs)))
    played: list[HalvingRound] = []
    total = 0
    for k, (nk, rk) in enumerate(schedule):
        if len(alive) != nk:  # halving_schedule keeps n_k configurations in round k
            raise RuntimeError(
                f"successive_halving: round {k} has {len(alive)} configurations, expected {nk}"
            )
        scores = [_score(objective, cfgs[i], rk) for i in alive]  # (H7) scores at budget r_k
        total += nk * rk  # (H8)
        if strict and not any(math.isfinite(s) for s in scores):
            raise ValueError(f"{who}: every configuration diverged (score inf) at budget {rk} (round {k})")
        played.append(HalvingRound(budget=rk, indices=tuple(alive), scores=tuple(scores)))
        order = sorted(range(nk), key=lambda j: (scores[j], j))  # stable: ties to the earlier config
        if k + 1 < len(schedule):
            alive = [alive[j] for j in order[: schedule[k + 1][0]]]  # keep max(1, floor(n_k / eta))
    last = played[-1]
    j = min(range(len(last.indices)), key=lambda i: (last.scores[i], i))
    return HalvingResult(
        config=cfgs[last.indices[j]],
        index=last.indices[j],
        score=last.scores[j],
        rounds=tuple(played),
        total_budget=total,
    )

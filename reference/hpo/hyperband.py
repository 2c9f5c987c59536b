r"""Hyperband (Li, Jamieson, DeSalvo, Rostamizadeh and Talwalkar 2018, Algorithm 1): successive
halving, eqs. (H7)-(H8) of specs/hpo.md, run over brackets that trade the number of
configurations against the budget each starts with. Spec: specs/hyperband.md.

    s_max = floor(log_eta R),  B = (s_max + 1) R                                            (HB1)
    for s = s_max, s_max - 1, ..., 0:                                                        (HB2)
        n = ceil(B / R * eta^s / (s + 1)),  r = R eta^-s                                     (HB3)
        T = n configurations drawn by ``propose`` (uniform in the space: Hyperband)
        successive halving on T with s + 1 rounds:
            n_i = floor(n eta^-i),  r_i = r eta^i,  i = 0..s;  keep the best floor(n_i / eta) (HB4)
    return the configuration with the least loss seen                                        (HB5)
    budget of bracket s: sum_i n_i r_i <= (s + 1) n r;  of the whole run: sum over s          (HB6)

R and eta are integers; every r_i must be a whole number of budget units, so R must be
m eta^s_max with 1 <= m < eta (R = 81, 27, 9 for eta = 3; 54 = 2 3^3 too).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, overload

import numpy as np

from .._core import check_count
from .search import successive_halving
from .space import Config, Evaluation, SearchSpace, SpaceObjective, SpaceResult, as_generator, result, score

#: ``propose(history, rng) -> config``: the next configuration, given every evaluation so far.
Proposer = Callable[[Sequence[Evaluation], np.random.Generator], Config]


@dataclass(frozen=True)
class Bracket:
    """One bracket s of Hyperband: n configurations starting at budget r, and its rounds (n_i, r_i)."""

    s: int
    n: int
    r: int
    rounds: tuple[tuple[int, int], ...]

    @property
    def budget(self) -> int:
        """sum_i n_i r_i, (HB6)."""
        return sum(ni * ri for ni, ri in self.rounds)


def s_max_of(R: int, eta: int) -> int:
    """floor(log_eta R) in integers (the largest s with eta^s <= R), (HB1)."""
    s = 0
    while eta ** (s + 1) <= R:
        s += 1
    return s


def hyperband_brackets(R: int, eta: int = 3) -> list[Bracket]:
    """The brackets of one Hyperband run, s = s_max..0, eqs. (HB1)-(HB4) (Li et al. 2018, Table 1
    for R = 81, eta = 3). ValueError unless R = m eta^s_max with 1 <= m < eta (integer budgets)."""
    who = "hyperband"
    R = check_count(who, "R", R, minimum=1)
    eta = check_count(who, "eta", eta, minimum=2)
    s_max = s_max_of(R, eta)  # (HB1)
    if R % eta**s_max:
        raise ValueError(
            f"{who}: R must be m * eta^s_max with 1 <= m < eta so that every budget R eta^-s is an "
            f"integer; got R={R}, eta={eta} (s_max={s_max})"
        )
    out = []
    for s in range(s_max, -1, -1):  # (HB2)
        n = -(-(s_max + 1) * eta**s // (s + 1))  # (HB3) ceil(B/R eta^s/(s+1)), B/R = s_max + 1
        r = R // eta**s  # (HB3)
        rounds = tuple((n // eta**i, r * eta**i) for i in range(s + 1))  # (HB4)
        out.append(Bracket(s=s, n=n, r=r, rounds=rounds))
    return out


class _Proposals(Sequence[Config]):
    """The n configurations of a bracket, each drawn by ``propose`` when first read (in index
    order: successive_halving reads item k right before evaluating it), so a model-based
    proposer sees every result so far."""

    def __init__(self, n: int, draw: Callable[[], Config]) -> None:
        self._n = n
        self._draw = draw
        self._items: list[Config] = []

    def __len__(self) -> int:
        return self._n

    @overload
    def __getitem__(self, i: int) -> Config: ...
    @overload
    def __getitem__(self, i: slice) -> Sequence[Config]: ...
    def __getitem__(self, i: int | slice) -> Config | Sequence[Config]:
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(self._n))]
        if not 0 <= i < self._n:
            raise IndexError(i)
        while len(self._items) <= i:
            self._items.append(self._draw())
        return self._items[i]


def run_brackets(
    objective: SpaceObjective,
    space: SearchSpace,
    *,
    R: int,
    eta: int,
    iterations: int,
    propose: Proposer,
    rng: np.random.Generator,
    method: str,
) -> SpaceResult:
    """Hyperband's outer loop (HB2) over ``iterations`` runs of every bracket, configurations from
    ``propose`` (shared by ``hyperband`` and ``bohb``); every evaluation recorded, (HB5)."""
    history: list[Evaluation] = []
    brackets = hyperband_brackets(R, eta)
    for _ in range(iterations):
        for b in brackets:
            level = {ri: i for i, (_, ri) in enumerate(b.rounds)}

            def recorded(config: Config, budget: int, b: Bracket = b, level: dict[int, int] = level) -> float:
                loss = score(objective, config, budget)
                history.append(Evaluation(dict(config), budget, loss, bracket=b.s, round=level[budget]))
                return loss

            configs = _Proposals(b.n, lambda: propose(history, rng))
            successive_halving(
                recorded, configs, min_budget=b.r, eta=eta, rounds=b.s + 1, strict=False
            )  # (HB4)
    return result(history, method)  # (HB5)


def hyperband(
    objective: SpaceObjective,
    space: SearchSpace,
    *,
    R: int,
    eta: int = 3,
    seed: int | np.random.Generator = 0,
    iterations: int = 1,
) -> SpaceResult:
    """Hyperband (Li et al. 2018, Algorithm 1), eqs. (HB1)-(HB6): for each bracket s = s_max..0,
    n configurations drawn uniformly from ``space`` (u ~ U([0, 1]^d) from the Generator of
    ``seed``, mapped by (H18)) run through successive halving from budget R eta^-s to R.

    Args:
        objective: ``objective(config, budget) -> loss``, lower is better; a fresh run each call
            (a non-finite loss or a diverged run counts as inf).
        space: the ``SearchSpace``.
        R: the largest budget given to one configuration (e.g. epochs), m eta^s_max, 1 <= m < eta.
        eta: the halving rate, an integer >= 2 (3, the paper's choice).
        seed: an int >= 0 or a Generator: the only randomness (the configurations drawn).
        iterations: how many times the whole loop over brackets is run (the paper's infinite
            horizon variant repeats it).
    Returns a ``SpaceResult``: every evaluation (config, budget, loss, bracket, round) in order, the
    least loss seen and its configuration, and the budget spent (= ``iterations`` x (HB6)).
    """
    who = "hyperband"
    _check_objective(who, objective, space)
    iterations = check_count(who, "iterations", iterations, minimum=1)
    rng = as_generator(who, seed)

    def uniform(history: Sequence[Evaluation], gen: np.random.Generator) -> Config:
        return space.sample(gen)

    return run_brackets(
        objective, space, R=R, eta=eta, iterations=iterations, propose=uniform, rng=rng, method="hyperband"
    )


def _check_objective(who: str, objective: Any, space: Any) -> None:
    if not callable(objective):
        raise TypeError(
            f"{who}: objective must be callable (config, budget) -> float, got {type(objective).__name__}"
        )
    if not isinstance(space, SearchSpace):
        raise TypeError(
            f"{who}: space must be a SearchSpace (reference.hpo.space.space(...)), got {type(space).__name__}"
        )


def hyperband_budget(R: int, eta: int = 3) -> int:
    """The budget one Hyperband run spends: sum over brackets of sum_i n_i r_i, (HB6)."""
    return sum(b.budget for b in hyperband_brackets(R, eta))  # (HB6)


__all__ = [
    "Bracket",
    "Proposer",
    "hyperband",
    "hyperband_brackets",
    "hyperband_budget",
    "run_brackets",
    "s_max_of",
]

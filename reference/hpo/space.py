r"""A search space of several hyperparameters and its map to the unit cube, eq. (H18) of
specs/hpo.md; the record of every evaluation of a multi-fidelity or model-based search
(``Evaluation``) and their common result (``SpaceResult``), shared by ``bayesian_search``
(reference/hpo/bayesian.py), ``hyperband`` (reference/hpo/hyperband.py) and ``bohb``
(reference/hpo/bohb.py).

    u in [0, 1]^d  ->  x_j = low_j + u_j (high_j - low_j)                   (linear)
                       x_j = exp(log low_j + u_j (log high_j - log low_j))   (log scale)
                       integer: x_j rounded to the nearest integer (clipped to [low_j, high_j])
                       categorical with k choices: choice floor(u_j k) (k - 1 at u_j = 1)

Models (the GP of BO, the KDEs of BOHB) work on u; integer and categorical hyperparameters are
handled by rounding the continuous proposal (Garrido-Merchan and Hernandez-Lobato 2020 discuss
why this is only an approximation: the model sees a continuous function that is in fact piecewise
constant); ``SearchSpace.to_unit`` gives the u of the configuration actually evaluated, which is
what the models are fitted to.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._core import check_rng
from .._types import Array

Config = dict[str, Any]
#: ``objective(config, budget) -> loss``: lower is better; budget in the caller's units (epochs).
SpaceObjective = Callable[[Config, int], float]

_KINDS = ("real", "int", "categorical")


@dataclass(frozen=True)
class Param:
    """One hyperparameter: ``kind`` "real" or "int" on [low, high] (``log``: uniform in log x), or
    "categorical" over ``choices``. Build with ``real``, ``integer`` or ``categorical``."""

    name: str
    kind: str
    low: float = 0.0
    high: float = 1.0
    log: bool = False
    choices: tuple[Any, ...] = ()

    def __post_init__(self) -> None:
        who = f"hpo space: {self.name!r}"
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"hpo space: a parameter name must be a non-empty string, got {self.name!r}")
        if self.kind not in _KINDS:
            raise ValueError(f"{who}: kind must be one of {list(_KINDS)}, got {self.kind!r}")
        if self.kind == "categorical":
            if len(self.choices) < 1:
                raise ValueError(f"{who}: choices must hold at least one value")
            return
        lo, hi = self.low, self.high
        if not (isinstance(lo, (int, float)) and isinstance(hi, (int, float))) or isinstance(lo, bool):
            raise TypeError(f"{who}: low and high must be numbers, got {lo!r}, {hi!r}")
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise ValueError(f"{who}: need finite low < high, got low={lo!r}, high={hi!r}")
        if self.log and not lo > 0:
            raise ValueError(f"{who}: a log-scaled parameter needs low > 0, got low={lo!r}")
        if self.kind == "int" and (lo != round(lo) or hi != round(hi)):
            raise ValueError(f"{who}: an integer parameter needs integer bounds, got {lo!r}, {hi!r}")

    def from_unit(self, u: float) -> Any:
        """The value at u in [0, 1], eq. (H18)."""
        u = min(max(float(u), 0.0), 1.0)
        if self.kind == "categorical":
            k = len(self.choices)
            return self.choices[min(int(math.floor(u * k)), k - 1)]  # (H18) categorical
        if u in (0.0, 1.0):  # the end points exactly (exp(log low) may differ from low by an ulp)
            x = self.low if u == 0.0 else self.high
        elif self.log:
            x = math.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low)))  # (H18)
        else:
            x = self.low + u * (self.high - self.low)  # (H18) linear
        if self.kind == "int":
            return int(min(max(round(x), self.low), self.high))  # (H18) rounded
        return float(min(max(x, self.low), self.high))

    def to_unit(self, value: Any) -> float:
        """The u of a value (inverse of ``from_unit`` on the values it returns; a categorical
        choice maps to the centre of its slice)."""
        if self.kind == "categorical":
            if value not in self.choices:
                raise ValueError(
                    f"hpo space: {self.name!r} must be one of {list(self.choices)}, got {value!r}"
                )
            return (self.choices.index(value) + 0.5) / len(self.choices)
        x = float(value)
        if not self.low <= x <= self.high:
            raise ValueError(f"hpo space: {self.name!r} must lie in [{self.low}, {self.high}], got {value!r}")
        if self.log:
            return (math.log(x) - math.log(self.low)) / (math.log(self.high) - math.log(self.low))
        return (x - self.low) / (self.high - self.low)


def real(name: str, low: float, high: float, *, log: bool = False) -> Param:
    """A real hyperparameter on [low, high] (log-uniform in the cube if ``log``: a rate)."""
    return Param(name, "real", float(low), float(high), bool(log))


def integer(name: str, low: int, high: int, *, log: bool = False) -> Param:
    """An integer hyperparameter on [low, high], the continuous value rounded (H18)."""
    return Param(name, "int", float(low), float(high), bool(log))


def categorical(name: str, choices: Sequence[Any]) -> Param:
    """A categorical hyperparameter: one of ``choices`` (u's slice of [0, 1], (H18))."""
    return Param(name, "categorical", choices=tuple(choices))


@dataclass(frozen=True)
class SearchSpace:
    """Several hyperparameters (distinct names) and the map (H18) from [0, 1]^d to configurations."""

    params: tuple[Param, ...]

    def __post_init__(self) -> None:
        if not self.params or not all(isinstance(p, Param) for p in self.params):
            raise ValueError(
                "hpo space: params must be a non-empty tuple of Param (real, integer, categorical)"
            )
        names = [p.name for p in self.params]
        if len(set(names)) != len(names):
            raise ValueError(f"hpo space: parameter names must be distinct, got {names}")

    @property
    def dim(self) -> int:
        """d, the dimension of the unit cube."""
        return len(self.params)

    @property
    def names(self) -> tuple[str, ...]:
        """The parameter names, in order."""
        return tuple(p.name for p in self.params)

    def from_unit(self, u: Sequence[float] | Array) -> Config:
        """The configuration {name: value} at u in [0, 1]^d, eq. (H18)."""
        ua = np.asarray(u, dtype=np.float64).reshape(-1)
        if ua.size != self.dim or not np.all(np.isfinite(ua)):
            raise ValueError(f"hpo space: u must be {self.dim} finite numbers, got shape {ua.shape}")
        return {p.name: p.from_unit(float(x)) for p, x in zip(self.params, ua)}

    def to_unit(self, config: Mapping[str, Any]) -> Array:
        """The point of [0, 1]^d of a configuration (the representative a model is fitted to)."""
        missing = [n for n in self.names if n not in config]
        if missing:
            raise ValueError(f"hpo space: config lacks {missing}")
        return np.array([p.to_unit(config[p.name]) for p in self.params], dtype=np.float64)

    def sample(self, rng: np.random.Generator) -> Config:
        """A configuration at u ~ U([0, 1]^d) drawn from ``rng`` (d uniforms, one call)."""
        check_rng(rng, who="hpo space")
        return self.from_unit(rng.random(self.dim))

    def key(self, config: Mapping[str, Any]) -> tuple[Any, ...]:
        """A hashable identity of a configuration (its values in the space's order)."""
        return tuple(config[n] for n in self.names)


def space(*params: Param) -> SearchSpace:
    """``SearchSpace((p1, p2, ...))``."""
    return SearchSpace(tuple(params))


@dataclass(frozen=True)
class Evaluation:
    """One call of the objective: the configuration, the budget it was trained with, its loss
    (inf if not finite), and (Hyperband, BOHB) the bracket s and the round i within it."""

    config: Config
    budget: int
    loss: float
    bracket: int = 0
    round: int = 0


@dataclass(frozen=True)
class SpaceResult:
    """The outcome of a search over a ``SearchSpace``: the best evaluation (least loss over every
    evaluation, at any budget; the earliest on a tie), every evaluation in order, the budget
    spent (the sum of the evaluations' budgets: every call is a fresh run) and the method."""

    config: Config
    loss: float
    budget: int
    evaluations: tuple[Evaluation, ...]
    budget_spent: int
    method: str


def result(evaluations: Sequence[Evaluation], method: str) -> SpaceResult:
    """The ``SpaceResult`` of a list of evaluations; ValueError if no loss is finite."""
    evs = tuple(evaluations)
    if not any(math.isfinite(e.loss) for e in evs):
        raise ValueError(f"{method}: the objective was not finite at any of the {len(evs)} evaluations")
    i = min(range(len(evs)), key=lambda k: (evs[k].loss, k))
    return SpaceResult(
        config=dict(evs[i].config),
        loss=evs[i].loss,
        budget=evs[i].budget,
        evaluations=evs,
        budget_spent=sum(e.budget for e in evs),
        method=method,
    )


def score(objective: SpaceObjective, config: Config, budget: int) -> float:
    """objective(config, budget) as a float; a non-finite value or a run that raised
    FloatingPointError / OverflowError / NonFiniteGradientError counts as inf."""
    from .search import _score

    return _score(objective, config, budget)


def random_space_search(
    objective: SpaceObjective,
    space_: SearchSpace,
    *,
    n: int,
    budget: int,
    seed: int | np.random.Generator = 0,
) -> SpaceResult:
    """Random search over a space (Bergstra and Bengio 2012): n configurations u ~ U([0, 1]^d)
    mapped by (H18), each trained with the full ``budget``."""
    from .._core import check_count

    who = "random_space_search"
    check_count(who, "n", n, minimum=1)
    check_count(who, "budget", budget, minimum=1)
    rng = as_generator(who, seed)
    evs = []
    for _ in range(n):
        c = space_.sample(rng)
        evs.append(Evaluation(config=c, budget=budget, loss=score(objective, c, budget)))
    return result(evs, "random")


def as_generator(who: str, seed: object) -> np.random.Generator:
    """A Generator from an int seed >= 0 or a Generator (TypeError / ValueError otherwise)."""
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"{who}: seed must be an int or a numpy.random.Generator, got {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"{who}: seed must be >= 0, got {seed}")
    return np.random.default_rng(int(seed))

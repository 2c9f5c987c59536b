r"""Learning-rate schedules: pure functions t -> eta_t. Spec: specs/schedules.md, eqs. (S1)-(S6).

``t`` is the number of completed steps, so the first step uses ``schedule(0)``: the convention of
torch.optim.lr_scheduler.LambdaLR and of optax (whose ``count`` is read before the increment).
Every optimizer accepts a schedule wherever it accepts a learning rate.

    constant:      eta_t = eta                                                   (S1)
    robbins_monro: eta_t = c / (t0 + t)^a                                         (S2)
    step_decay:    eta_t = eta gamma^floor(t / step_size)                        (S3)
    cosine:        eta_t = eta_min + (eta - eta_min)(1 + cos(pi min(t, T) / T)) / 2   (S4)
    linear_warmup: eta_t = eta_0 + (eta - eta_0) min(t, W) / W                    (S5)
    join:          eta_t = s_k(t - b_k) for b_k <= t < b_{k+1}                    (S6)

References:
    Robbins, H. and Monro, S. (1951). A Stochastic Approximation Method. Seed 000 ("SGD
    Convergence in a Nutshell"): sum eta_t = inf and sum eta_t^2 < inf hold iff 1/2 < a <= 1.
    Loshchilov, I. and Hutter, F. (2017). SGDR: Stochastic Gradient Descent with Warm Restarts (S4).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Sequence


from ._core import check_count, check_nonnegative, check_positive
from ._types import Schedule


@dataclass(frozen=True)
class Constant:
    """eta_t = eta (S1)."""

    lr: float

    def __call__(self, t: int) -> float:
        return self.lr  # (S1)


@dataclass(frozen=True)
class RobbinsMonro:
    """eta_t = c / (t0 + t)^a (S2); Robbins-Monro conditions hold iff 1/2 < a <= 1."""

    c: float
    t0: float
    a: float

    def __call__(self, t: int) -> float:
        eta: float = self.c / (self.t0 + t) ** self.a  # (S2)
        return eta

    @property
    def satisfies_robbins_monro(self) -> bool:
        """sum eta_t diverges and sum eta_t^2 converges."""
        return 0.5 < self.a <= 1.0


@dataclass(frozen=True)
class StepDecay:
    """eta_t = eta gamma^floor(t / step_size) (S3), torch StepLR."""

    lr: float
    step_size: int
    gamma: float

    def __call__(self, t: int) -> float:
        eta: float = self.lr * self.gamma ** (t // self.step_size)  # (S3)
        return eta


@dataclass(frozen=True)
class Cosine:
    """eta_t = eta_min + (eta - eta_min)(1 + cos(pi min(t, T)/T))/2 (S4); constant after T."""

    lr: float
    total_steps: int
    lr_min: float

    def __call__(self, t: int) -> float:
        frac = min(t, self.total_steps) / self.total_steps
        return self.lr_min + (self.lr - self.lr_min) * (1 + math.cos(math.pi * frac)) / 2  # (S4)


@dataclass(frozen=True)
class LinearWarmup:
    """eta_t rises linearly from ``start`` to ``lr`` over ``warmup_steps`` steps (S5)."""

    lr: float
    warmup_steps: int
    start: float

    def __call__(self, t: int) -> float:
        frac = min(t, self.warmup_steps) / self.warmup_steps
        return self.start + (self.lr - self.start) * frac  # (S5)


@dataclass(frozen=True)
class Join:
    """Schedule k runs from boundary b_k on, restarted at 0 there (S6), as optax.join_schedules."""

    schedules: tuple[Schedule, ...]
    boundaries: tuple[int, ...]

    def __call__(self, t: int) -> float:
        k = sum(1 for b in self.boundaries if t >= b)
        offset = self.boundaries[k - 1] if k > 0 else 0
        return self.schedules[k](t - offset)  # (S6)


def constant(lr: float) -> Constant:
    """(S1) eta_t = lr."""
    check_positive("constant", "lr", lr)
    return Constant(lr)


def robbins_monro(c: float, *, t0: float = 1.0, a: float = 1.0) -> RobbinsMonro:
    """(S2) eta_t = c / (t0 + t)^a, with c > 0, t0 > 0 and 0 < a (Robbins-Monro for 1/2 < a <= 1)."""
    check_positive("robbins_monro", "c", c)
    check_positive("robbins_monro", "t0", t0)
    check_positive("robbins_monro", "a", a)
    return RobbinsMonro(c, t0, a)


def step_decay(lr: float, *, step_size: int, gamma: float = 0.1) -> StepDecay:
    """(S3) multiply by ``gamma`` every ``step_size`` steps."""
    check_positive("step_decay", "lr", lr)
    step_size = check_count("step_decay", "step_size", step_size, minimum=1)
    check_positive("step_decay", "gamma", gamma)
    return StepDecay(lr, step_size, gamma)


def cosine(lr: float, *, total_steps: int, lr_min: float = 0.0) -> Cosine:
    """(S4) cosine decay from ``lr`` to ``lr_min`` over ``total_steps`` steps."""
    check_positive("cosine", "lr", lr)
    total_steps = check_count("cosine", "total_steps", total_steps, minimum=1)
    check_nonnegative("cosine", "lr_min", lr_min)
    return Cosine(lr, total_steps, lr_min)


def linear_warmup(lr: float, *, warmup_steps: int, start: float = 0.0) -> LinearWarmup:
    """(S5) linear ramp from ``start`` to ``lr`` over ``warmup_steps``, then constant."""
    check_positive("linear_warmup", "lr", lr)
    warmup_steps = check_count("linear_warmup", "warmup_steps", warmup_steps, minimum=1)
    check_nonnegative("linear_warmup", "start", start)
    return LinearWarmup(lr, warmup_steps, start)


def join(schedules: Sequence[Schedule], boundaries: Sequence[int]) -> Join:
    """(S6) run ``schedules[k]`` from ``boundaries[k-1]`` on, with its own clock restarted at 0."""
    if len(schedules) != len(boundaries) + 1:
        raise ValueError(
            f"join: needs len(schedules) == len(boundaries) + 1, got {len(schedules)} schedules "
            f"and {len(boundaries)} boundaries"
        )
    for k, s in enumerate(schedules):
        if not callable(s):
            raise TypeError(f"join: schedules[{k}] must be a schedule (a callable t -> eta_t), got {s!r}")
    given: Sequence[object] = boundaries  # checked as objects: callers may pass anything
    for k, b in enumerate(given):
        if isinstance(b, bool) or not isinstance(b, numbers.Integral):
            raise TypeError(f"join: boundaries[{k}] must be an integer, got {b!r}")
    if any(b <= 0 for b in boundaries) or list(boundaries) != sorted(set(boundaries)):
        raise ValueError(f"join: boundaries must be positive and increasing, got {list(boundaries)}")
    return Join(tuple(schedules), tuple(int(b) for b in boundaries))


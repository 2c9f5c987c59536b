r"""Learning-rate schedules: pure functions t -> eta_t. Spec: specs/schedules.md, eqs. (S1)-(S24).

``t`` is the number of completed steps, so the first step uses ``schedule(0)``: the convention of
torch.optim.lr_scheduler (the lr in ``param_groups`` before the first ``optimizer.step()``, with
``scheduler.step()`` after each one) and of optax (whose ``count`` is read before the increment).
Every optimizer accepts a schedule wherever it accepts a learning rate.

Every scheduler of torch.optim.lr_scheduler and every schedule of optax.schedules has a reference
here; ``TORCH`` and ``OPTAX`` map each peer name to its reference call (specs/schedules.md, Variants). Where a
torch scheduler's ``step()`` computes a recursion ("chainable" form) instead of its closed form,
``form="recursive"`` reproduces the recursion exactly (eqs. (S3r), (S4r), ...; memoised, so a call
costs O(1) amortised); ``form="closed"`` (the default) is the closed form.

    constant:      eta_t = eta                                                   (S1)
    robbins_monro: eta_t = c / (t0 + t)^a                                         (S2)
    step_decay:    eta_t = eta gamma^floor(t / step_size)                        (S3)
    cosine:        eta_t = eta_min + (eta - eta_min)(1 + cos(pi min(t, T) / T)) / 2   (S4)
    linear_warmup: eta_t = eta_0 + (eta - eta_0) min(t, W) / W                    (S5)
    join:          eta_t = s_k(t - b_k) for b_k <= t < b_{k+1}                    (S6)
    ... (S7)-(S24) in specs/schedules.md (ReduceLROnPlateau (S24) is a pure state machine).

References:
    Robbins, H. and Monro, S. (1951). A Stochastic Approximation Method. Note 000 ("SGD
    Convergence in a Nutshell"): sum eta_t = inf and sum eta_t^2 < inf hold iff 1/2 < a <= 1.
    Loshchilov, I. and Hutter, F. (2017). SGDR: Stochastic Gradient Descent with Warm Restarts (S4, S15, S22).
    Smith, L. N. (2017). Cyclical Learning Rates for Training Neural Networks (S16).
    Smith, L. N. and Topin, N. (2019). Super-Convergence (S17, S19).
"""

from __future__ import annotations

import bisect
import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from ._core import check_count, check_nonnegative, check_positive
from ._hyper import (
    CLOSED_UNIT,
    FLAG,
    NONNEGATIVE,
    POSITIVE,
    Function,
    Integer,
    OneOf,
    Range,
    Real,
    optional,
)
from ._types import Schedule

FORM = OneOf(("closed", "recursive"))
COUNT = Integer(ge=1)
FUNCTION = Function("a callable t -> factor")


def _check(algo: str, **args: tuple[Range, object]) -> None:
    """Check each ``name=(range, value)``: one-line TypeError/ValueError naming ``algo: name``."""
    for name, (r, value) in args.items():
        r.check(algo, name, value)


# ---------------------------------------------------------------------------------------------
# The torch "chainable" machinery: ``start`` is what the scheduler's constructor does to the lr,
# ``advance(t, prev)`` what its ``step()`` does at last_epoch = t. A closed-form schedule ignores
# ``prev``. ``form="recursive"`` unrolls the recursion (memoised); ``chain`` composes them.


@dataclass(frozen=True)
class _Chainable:
    def __call__(self, t: int) -> float:
        raise NotImplementedError

    def start(self, prev: float) -> float:
        """The lr after the scheduler's constructor (torch's initial step), from the optimizer's lr."""
        return self(0)

    def advance(self, t: int, prev: float) -> float:
        """The lr after ``step()`` brings last_epoch to ``t`` >= 1, from the lr ``prev`` before it."""
        return self(t)


@dataclass(frozen=True)
class _Recursive(_Chainable):
    """A schedule with a closed form and torch's recursion; ``form`` picks which one ``__call__`` is."""

    _memo: list[float] = field(default_factory=list, init=False, repr=False, compare=False)

    def closed(self, t: int) -> float:
        raise NotImplementedError

    def start(self, prev: float) -> float:
        return prev

    def __call__(self, t: int) -> float:
        # ``form`` and ``lr`` are fields of every subclass (declared there, not here: field order)
        if getattr(self, "form") == "closed":  # noqa: B009
            return self.closed(t)
        memo = self._memo
        if not memo:
            memo.append(self.start(getattr(self, "lr")))  # noqa: B009
        while len(memo) <= t:
            memo.append(self.advance(len(memo), memo[-1]))
        return memo[t]


# ---------------------------------------------------------------------------------------------
# (S1)-(S6): the original six.


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
class StepDecay(_Recursive):
    """eta_t = eta gamma^floor(t / step_size) (S3), torch StepLR (recursive: (S3r))."""

    lr: float
    step_size: int
    gamma: float
    form: str = "closed"

    def closed(self, t: int) -> float:
        eta: float = self.lr * self.gamma ** (t // self.step_size)  # (S3)
        return eta

    def advance(self, t: int, prev: float) -> float:
        return prev * self.gamma if t % self.step_size == 0 else prev  # (S3r)


@dataclass(frozen=True)
class Cosine(_Recursive):
    """eta_t = eta_min + (eta - eta_min)(1 + cos(pi min(t, T)/T))/2 (S4); constant after T, or
    periodic (period 2T, torch CosineAnnealingLR); ``exponent`` p raises the bracket (optax)."""

    lr: float
    total_steps: int
    lr_min: float
    exponent: float = 1.0
    periodic: bool = False
    form: str = "closed"

    def closed(self, t: int) -> float:
        s = t if self.periodic else min(t, self.total_steps)
        if self.exponent == 1.0:
            return (  # (S4)
                self.lr_min + (self.lr - self.lr_min) * (1 + math.cos(math.pi * s / self.total_steps)) / 2
            )
        c = (1 + math.cos(math.pi * s / self.total_steps)) / 2
        eta: float = self.lr_min + (self.lr - self.lr_min) * c**self.exponent  # (S4)
        return eta

    def advance(self, t: int, prev: float) -> float:
        T, lo = self.total_steps, self.lr_min
        if (t - 1 - T) % (2 * T) == 0:  # the trough, where the ratio below would be 0/0
            return prev + (self.lr - lo) * (1 - math.cos(math.pi / T)) / 2  # (S4r)
        return (1 + math.cos(math.pi * t / T)) / (1 + math.cos(math.pi * (t - 1) / T)) * (
            prev - lo
        ) + lo  # (S4r)


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
        k = bisect.bisect_right(self.boundaries, t)
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


def step_decay(lr: float, *, step_size: int, gamma: float = 0.1, form: str = "closed") -> StepDecay:
    """(S3) multiply by ``gamma`` every ``step_size`` steps; ``form="recursive"`` is torch StepLR's step()."""
    check_positive("step_decay", "lr", lr)
    step_size = check_count("step_decay", "step_size", step_size, minimum=1)
    _check("step_decay", gamma=(POSITIVE, gamma), form=(FORM, form))
    return StepDecay(lr, step_size, gamma, form)


def cosine(
    lr: float,
    *,
    total_steps: int,
    lr_min: float = 0.0,
    exponent: float = 1.0,
    periodic: bool = False,
    form: str = "closed",
) -> Cosine:
    """(S4) cosine decay from ``lr`` to ``lr_min`` over ``total_steps`` steps, then constant
    (``periodic=True``: back up, as torch CosineAnnealingLR); ``form="recursive"`` is torch's step() (S4r)."""
    check_positive("cosine", "lr", lr)
    total_steps = check_count("cosine", "total_steps", total_steps, minimum=1)
    check_nonnegative("cosine", "lr_min", lr_min)
    _check("cosine", exponent=(POSITIVE, exponent), periodic=(FLAG, periodic), form=(FORM, form))
    if form == "recursive" and (exponent != 1.0 or not periodic):
        raise ValueError(
            "cosine: form='recursive' is torch's CosineAnnealingLR: it needs exponent=1, periodic=True"
        )
    return Cosine(lr, total_steps, lr_min, exponent, periodic, form)


def linear_warmup(lr: float, *, warmup_steps: int, start: float = 0.0) -> LinearWarmup:
    """(S5) linear ramp from ``start`` to ``lr`` over ``warmup_steps``, then constant."""
    check_positive("linear_warmup", "lr", lr)
    warmup_steps = check_count("linear_warmup", "warmup_steps", warmup_steps, minimum=1)
    check_nonnegative("linear_warmup", "start", start)
    return LinearWarmup(lr, warmup_steps, start)


def _boundaries(algo: str, name: str, boundaries: Sequence[object], *, first: int = 1) -> tuple[int, ...]:
    for k, b in enumerate(boundaries):
        if isinstance(b, bool) or not isinstance(b, numbers.Integral):
            raise TypeError(f"{algo}: {name}[{k}] must be an integer, got {b!r}")
    out = tuple(int(cast(int, b)) for b in boundaries)
    if any(b < first for b in out) or list(out) != sorted(set(out)):
        raise ValueError(
            f"{algo}: {name} must be {'positive' if first else 'non-negative'} and increasing, got {list(out)}"
        )
    return out


def _schedules(algo: str, schedules: Sequence[object]) -> None:
    for k, s in enumerate(schedules):
        if not callable(s):
            raise TypeError(f"{algo}: schedules[{k}] must be a schedule (a callable t -> eta_t), got {s!r}")


def join(schedules: Sequence[Schedule], boundaries: Sequence[int]) -> Join:
    """(S6) run ``schedules[k]`` from ``boundaries[k-1]`` on, with its own clock restarted at 0."""
    if len(schedules) != len(boundaries) + 1:
        raise ValueError(
            f"join: needs len(schedules) == len(boundaries) + 1, got {len(schedules)} schedules "
            f"and {len(boundaries)} boundaries"
        )
    _schedules("join", schedules)
    return Join(tuple(schedules), _boundaries("join", "boundaries", boundaries))


# ---------------------------------------------------------------------------------------------
# (S7)-(S14): decays by milestones, exponential, polynomial, factor ramps, lambdas.


@dataclass(frozen=True)
class MultiStep(_Recursive):
    """eta_t = eta gamma^{#milestones <= t} (S7), torch MultiStepLR (recursive: (S7r))."""

    lr: float
    milestones: tuple[int, ...]
    gamma: float
    form: str = "closed"

    def closed(self, t: int) -> float:
        eta: float = self.lr * self.gamma ** bisect.bisect_right(self.milestones, t)  # (S7)
        return eta

    def advance(self, t: int, prev: float) -> float:
        return prev * self.gamma if t in self.milestones else prev  # (S7r)


@dataclass(frozen=True)
class PiecewiseConstant:
    """eta_t = eta prod_{b_k <= t} s_k, the product taken in boundary order (S8), optax's."""

    lr: float
    boundaries: tuple[int, ...]
    scales: tuple[float, ...]

    def __call__(self, t: int) -> float:
        v = self.lr
        for b, s in zip(self.boundaries, self.scales):
            v = s * v if t >= b else v  # (S8)
        return v


@dataclass(frozen=True)
class Exponential(_Recursive):
    """eta_t = eta gamma^{(t - b)/k} for t > b, eta before (S9); floor of the exponent if
    ``staircase``; clipped at ``end`` (torch ExponentialLR, optax exponential_decay; recursive: (S9r))."""

    lr: float
    gamma: float
    steps: int = 1
    begin: int = 0
    staircase: bool = False
    end: float | None = None
    form: str = "closed"

    def closed(self, t: int) -> float:
        d = t - self.begin
        p = math.floor(d / self.steps) if self.staircase else d / self.steps
        eta: float = self.lr if d <= 0 else self.lr * self.gamma**p  # (S9)
        if self.end is not None:
            eta = max(eta, self.end) if self.gamma < 1.0 else min(eta, self.end)  # (S9)
        return eta

    def advance(self, t: int, prev: float) -> float:
        return prev * self.gamma  # (S9r)


@dataclass(frozen=True)
class Polynomial(_Recursive):
    """eta_t = (eta - eta_end)(1 - c/T)^p + eta_end, c = min(max(t - b, 0), T) (S10); torch
    PolynomialLR (eta_end = 0, b = 0; recursive: (S10r)), optax polynomial/linear_schedule."""

    lr: float
    total_steps: int
    power: float = 1.0
    end: float = 0.0
    begin: int = 0
    form: str = "closed"

    def closed(self, t: int) -> float:
        c = min(max(t - self.begin, 0), self.total_steps)
        eta: float = (self.lr - self.end) * (1 - c / self.total_steps) ** self.power + self.end  # (S10)
        return eta

    def advance(self, t: int, prev: float) -> float:
        T = self.total_steps
        if t > T:
            return prev
        eta: float = prev * ((1.0 - t / T) / (1.0 - (t - 1) / T)) ** self.power  # (S10r)
        return eta


@dataclass(frozen=True)
class LinearFactor(_Recursive):
    """eta_t = eta (s + (e - s) min(t, T)/T) (S11), torch LinearLR (recursive: (S11r))."""

    lr: float
    start_factor: float
    end_factor: float
    total_steps: int
    form: str = "closed"

    def closed(self, t: int) -> float:
        s, e, T = self.start_factor, self.end_factor, self.total_steps
        return self.lr * (s + (e - s) * min(T, t) / T)  # (S11)

    def start(self, prev: float) -> float:
        return prev * self.start_factor  # (S11r)

    def advance(self, t: int, prev: float) -> float:
        s, e, T = self.start_factor, self.end_factor, self.total_steps
        return prev if t > T else prev * (1.0 + (e - s) / (T * s + (t - 1) * (e - s)))  # (S11r)


@dataclass(frozen=True)
class ConstantFactor(_Recursive):
    """eta_t = eta f for t < T, eta after (S12), torch ConstantLR (recursive: (S12r))."""

    lr: float
    factor: float
    total_steps: int
    form: str = "closed"

    def closed(self, t: int) -> float:
        return self.lr * (self.factor + (t >= self.total_steps) * (1 - self.factor))  # (S12)

    def start(self, prev: float) -> float:
        return prev * self.factor  # (S12r)

    def advance(self, t: int, prev: float) -> float:
        return prev * (1.0 / self.factor) if t == self.total_steps else prev  # (S12r)


@dataclass(frozen=True)
class LambdaFactor(_Chainable):
    """eta_t = eta f(t) (S13), torch LambdaLR."""

    lr: float
    fn: Callable[[int], float]

    def __call__(self, t: int) -> float:
        eta: float = self.lr * self.fn(t)  # (S13)
        return eta


@dataclass(frozen=True)
class Multiplicative(_Recursive):
    """eta_0 = eta, eta_t = eta_{t-1} f(t) (S14), torch MultiplicativeLR (a recursion by definition)."""

    lr: float
    fn: Callable[[int], float]
    form: str = "recursive"

    def advance(self, t: int, prev: float) -> float:
        eta: float = prev * self.fn(t)  # (S14)
        return eta


def multistep_decay(
    lr: float, *, milestones: Sequence[int], gamma: float = 0.1, form: str = "closed"
) -> MultiStep:
    """(S7) multiply by ``gamma`` at each milestone (strictly increasing, >= 1); torch MultiStepLR."""
    _check("multistep_decay", lr=(POSITIVE, lr), gamma=(POSITIVE, gamma), form=(FORM, form))
    return MultiStep(lr, _boundaries("multistep_decay", "milestones", milestones), gamma, form)


def piecewise_constant(
    lr: float, boundaries_and_scales: Mapping[int, float] | None = None
) -> PiecewiseConstant:
    """(S8) from each boundary b on (b itself included) the rate is multiplied by its scale; optax's."""
    _check("piecewise_constant", lr=(POSITIVE, lr))
    items = sorted((boundaries_and_scales or {}).items())
    bounds = _boundaries("piecewise_constant", "boundaries", [b for b, _ in items], first=0)
    for b, s in items:
        NONNEGATIVE.check("piecewise_constant", f"scale at {b}", s)
    return PiecewiseConstant(lr, bounds, tuple(float(s) for _, s in items))


def exponential(
    lr: float,
    *,
    gamma: float,
    steps: int = 1,
    begin: int = 0,
    staircase: bool = False,
    end: float | None = None,
    form: str = "closed",
) -> Exponential:
    """(S9) eta gamma^{(t - begin)/steps}; ``form="recursive"`` is torch ExponentialLR's step() (S9r)."""
    _check(
        "exponential",
        lr=(POSITIVE, lr),
        gamma=(POSITIVE, gamma),
        steps=(COUNT, steps),
        begin=(Integer(ge=0), begin),
        staircase=(FLAG, staircase),
        end=(optional(NONNEGATIVE), end),
        form=(FORM, form),
    )
    if form == "recursive" and (steps, begin, staircase, end) != (1, 0, False, None):
        raise ValueError(
            "exponential: form='recursive' is torch's ExponentialLR: steps=1, begin=0, no staircase or end"
        )
    return Exponential(lr, gamma, int(steps), int(begin), staircase, end, form)


def polynomial(
    lr: float, *, total_steps: int, power: float = 1.0, end: float = 0.0, begin: int = 0, form: str = "closed"
) -> Polynomial:
    """(S10) polynomial decay from ``lr`` to ``end`` over ``total_steps`` after ``begin``."""
    _check(
        "polynomial",
        lr=(NONNEGATIVE, lr),
        total_steps=(COUNT, total_steps),
        power=(POSITIVE, power),
        end=(NONNEGATIVE, end),
        begin=(Integer(ge=0), begin),
        form=(FORM, form),
    )
    if form == "recursive" and (end, begin) != (0.0, 0):
        raise ValueError("polynomial: form='recursive' is torch's PolynomialLR: end=0, begin=0")
    return Polynomial(lr, int(total_steps), power, end, int(begin), form)


def linear_factor(
    lr: float,
    *,
    start_factor: float = 1.0 / 3,
    end_factor: float = 1.0,
    total_steps: int = 5,
    form: str = "closed",
) -> LinearFactor:
    """(S11) the factor on ``lr`` moves linearly from ``start_factor`` to ``end_factor``; torch LinearLR."""
    _check(
        "linear_factor",
        lr=(POSITIVE, lr),
        start_factor=(Real(gt=0.0, le=1.0), start_factor),
        end_factor=(CLOSED_UNIT, end_factor),
        total_steps=(COUNT, total_steps),
        form=(FORM, form),
    )
    return LinearFactor(lr, start_factor, end_factor, int(total_steps), form)


def constant_factor(
    lr: float, *, factor: float = 1.0 / 3, total_steps: int = 5, form: str = "closed"
) -> ConstantFactor:
    """(S12) ``lr * factor`` for the first ``total_steps`` steps, then ``lr``; torch ConstantLR."""
    _check(
        "constant_factor",
        lr=(POSITIVE, lr),
        factor=(Real(gt=0.0, le=1.0), factor),
        total_steps=(COUNT, total_steps),
        form=(FORM, form),
    )
    return ConstantFactor(lr, factor, int(total_steps), form)


def lambda_factor(lr: float, fn: Callable[[int], float]) -> LambdaFactor:
    """(S13) eta_t = lr * fn(t); torch LambdaLR."""
    _check("lambda_factor", lr=(POSITIVE, lr), fn=(FUNCTION, fn))
    return LambdaFactor(lr, fn)


def multiplicative(lr: float, fn: Callable[[int], float]) -> Multiplicative:
    """(S14) eta_t = eta_{t-1} * fn(t), eta_0 = lr; torch MultiplicativeLR."""
    _check("multiplicative", lr=(POSITIVE, lr), fn=(FUNCTION, fn))
    return Multiplicative(lr, fn)


# ---------------------------------------------------------------------------------------------
# (S15)-(S19): restarts, cycles, one-cycle, piecewise interpolation.


@dataclass(frozen=True)
class WarmRestarts(_Chainable):
    """Cosine from eta to eta_min over T_i steps, then restart with T_{i+1} = m T_i (S15), torch
    CosineAnnealingWarmRestarts."""

    lr: float
    period: int
    period_mult: int
    lr_min: float

    def __call__(self, t: int) -> float:
        tc, ti = t, self.period
        while tc >= ti:
            tc, ti = tc - ti, ti * self.period_mult
        return self.lr_min + (self.lr - self.lr_min) * (1 + math.cos(math.pi * tc / ti)) / 2  # (S15)


def _triangular(x: float) -> float:
    return 1.0


def _triangular2(x: float) -> float:
    scale: float = 1 / (2.0 ** (x - 1))
    return scale


@dataclass(frozen=True)
class Cyclic(_Chainable):
    """Triangular cycles between ``base_lr`` and ``max_lr``, the amplitude scaled per cycle or per
    step (S16), torch CyclicLR (triangular, triangular2, exp_range, or a custom scale_fn)."""

    base_lr: float
    max_lr: float
    step_size_up: int
    step_size_down: int
    scale_fn: Callable[[float], float]
    scale_mode: str

    def __call__(self, t: int) -> float:
        total = float(self.step_size_up) + float(self.step_size_down)
        ratio = self.step_size_up / total
        cycle = math.floor(1 + t / total)
        x = 1.0 + t / total - cycle
        scale = x / ratio if x <= ratio else (x - 1) / (ratio - 1)
        height = (self.max_lr - self.base_lr) * scale
        return self.base_lr + height * self.scale_fn(cycle if self.scale_mode == "cycle" else t)  # (S16)


def _cos_anneal(start: float, end: float, pct: float) -> float:
    return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)


def _linear_anneal(start: float, end: float, pct: float) -> float:
    return (end - start) * pct + start


@dataclass(frozen=True)
class OneCycle(_Chainable):
    """Torch OneCycleLR (S17): anneal over phases (end step, start value, end value); phase k runs
    from the previous end step to its own; held at the last value after total_steps - 1."""

    max_lr: float
    total_steps: int
    phases: tuple[tuple[float, float, float], ...]
    anneal: Callable[[float, float, float], float]

    def __call__(self, t: int) -> float:
        t = min(t, self.total_steps - 1)
        begin = 0.0
        for i, (end, a, b) in enumerate(self.phases):
            if t <= end or i == len(self.phases) - 1:
                return self.anneal(a, b, (t - begin) / (end - begin))  # (S17)
            begin = end
        raise AssertionError("unreachable: the last phase always returns")


@dataclass(frozen=True)
class PiecewiseInterpolate:
    """Values v_0 = eta, v_k = v_{k-1} s_k at boundaries b_k (b_0 = 0); between b_k and b_{k+1}
    interpolate linearly or by a half cosine; v_K after the last (S18), optax's."""

    values: tuple[float, ...]
    bounds: tuple[int, ...]
    interpolate: Callable[[float, float, float], float]

    def __call__(self, t: int) -> float:
        for k in range(len(self.bounds) - 1):
            lo, hi = self.bounds[k], self.bounds[k + 1]
            if lo <= t < hi:
                return self.interpolate(  # (S18)
                    self.values[k], self.values[k + 1], (t - lo) / max(hi - lo, 1)
                )
        return self.values[-1] if t >= self.bounds[-1] else 0.0


def warm_restarts(lr: float, *, period: int, period_mult: int = 1, lr_min: float = 0.0) -> WarmRestarts:
    """(S15) SGDR restarts every ``period`` steps, each period ``period_mult`` times the last."""
    _check(
        "warm_restarts",
        lr=(POSITIVE, lr),
        period=(COUNT, period),
        period_mult=(COUNT, period_mult),
        lr_min=(NONNEGATIVE, lr_min),
    )
    return WarmRestarts(lr, int(period), int(period_mult), lr_min)


CYCLIC_MODES = {"triangular": (_triangular, "cycle"), "triangular2": (_triangular2, "cycle")}


def cyclic(
    base_lr: float,
    max_lr: float,
    *,
    step_size_up: int = 2000,
    step_size_down: int | None = None,
    mode: str = "triangular",
    gamma: float = 1.0,
    scale_fn: Callable[[float], float] | None = None,
    scale_mode: str = "cycle",
) -> Cyclic:
    """(S16) cyclical learning rate; ``scale_fn`` (with ``scale_mode``) overrides ``mode``."""
    _check(
        "cyclic",
        base_lr=(POSITIVE, base_lr),
        max_lr=(POSITIVE, max_lr),
        step_size_up=(COUNT, step_size_up),
        step_size_down=(optional(COUNT), step_size_down),
        mode=(OneOf(("triangular", "triangular2", "exp_range")), mode),
        gamma=(POSITIVE, gamma),
        scale_fn=(optional(Function("a callable x -> scale")), scale_fn),
        scale_mode=(OneOf(("cycle", "iterations")), scale_mode),
    )
    down = step_size_up if step_size_down is None else step_size_down
    if scale_fn is None:
        fn, scale_mode = CYCLIC_MODES[mode] if mode != "exp_range" else (lambda x: gamma**x, "iterations")
    else:
        fn = scale_fn
    return Cyclic(base_lr, max_lr, int(step_size_up), int(down), fn, scale_mode)


def _optax_onecycle(
    max_lr: float,
    total: int,
    pct_start: float,
    pct_final: float | None,
    div: float,
    final_div: float,
    linear: bool,
) -> PiecewiseInterpolate:
    """optax's linear_onecycle_schedule (three phases) or cosine_onecycle_schedule (two) (S19)."""
    if linear:
        scales = {
            int(pct_start * total): div,
            int(cast(float, pct_final) * total): 1.0 / div,
            total: 1.0 / final_div,
        }  # (S19)
    else:
        scales = {int(pct_start * total): div, int(total): 1.0 / (div * final_div)}  # (S19)
    return piecewise_interpolate(max_lr / div, scales, kind="linear" if linear else "cosine")


def piecewise_interpolate(
    lr: float, boundaries_and_scales: Mapping[int, float] | None = None, *, kind: str = "linear"
) -> PiecewiseInterpolate:
    """(S18) interpolate between v_k = lr s_1 ... s_k at the boundaries, linearly or by a half cosine."""
    _check("piecewise_interpolate", lr=(POSITIVE, lr), kind=(OneOf(("linear", "cosine")), kind))
    items = sorted((boundaries_and_scales or {}).items())
    bounds = _boundaries("piecewise_interpolate", "boundaries", [b for b, _ in items], first=0)
    values = [lr]
    for b, s in items:
        NONNEGATIVE.check("piecewise_interpolate", f"scale at {b}", s)
        values.append(values[-1] * s)
    return PiecewiseInterpolate(
        tuple(values), (0, *bounds), _linear_anneal if kind == "linear" else _cos_anneal
    )


def onecycle(
    max_lr: float,
    *,
    total_steps: int,
    pct_start: float = 0.3,
    anneal: str = "cos",
    div_factor: float = 25.0,
    final_div_factor: float = 1e4,
    three_phase: bool = False,
    pct_final: float | None = None,
    convention: str = "torch",
) -> OneCycle | PiecewiseInterpolate:
    """(S17) torch OneCycleLR, or (S19) optax's cosine/linear one-cycle (``convention="optax"``)."""
    _check(
        "onecycle",
        max_lr=(POSITIVE, max_lr),
        total_steps=(Integer(ge=2), total_steps),
        pct_start=(Real(gt=0.0, lt=1.0), pct_start),
        anneal=(OneOf(("cos", "linear")), anneal),
        div_factor=(POSITIVE, div_factor),
        final_div_factor=(POSITIVE, final_div_factor),
        three_phase=(FLAG, three_phase),
        pct_final=(optional(Real(gt=0.0, lt=1.0)), pct_final),
        convention=(OneOf(("torch", "optax")), convention),
    )
    T = int(total_steps)
    if convention == "optax":
        if three_phase != (anneal == "linear"):
            raise ValueError(
                "onecycle: optax's one-cycle is three-phase when linear, two-phase when cos: "
                "set three_phase=True exactly for anneal='linear'"
            )
        pf = 0.85 if pct_final is None else pct_final
        return _optax_onecycle(max_lr, T, pct_start, pf, div_factor, final_div_factor, anneal == "linear")
    if pct_final is not None:
        raise ValueError(
            "onecycle: pct_final is optax's; torch's three phases are symmetric (convention='optax')"
        )
    initial = max_lr / div_factor
    low = initial / final_div_factor
    first = float(pct_start * T) - 1
    phases: tuple[tuple[float, float, float], ...]
    if three_phase:
        phases = (
            (first, initial, max_lr),
            (float(2 * pct_start * T) - 2, max_lr, initial),
            (T - 1, initial, low),
        )
    else:
        phases = ((first, initial, max_lr), (T - 1, max_lr, low))
    return OneCycle(max_lr, T, phases, _cos_anneal if anneal == "cos" else _linear_anneal)


# ---------------------------------------------------------------------------------------------
# (S20)-(S24): warmups joined to decays, SGDR, torch's chain, ReduceLROnPlateau.


@dataclass(frozen=True)
class OptaxCosine:
    """optax's cosine_decay_schedule: eta ((1 - alpha) ((1 + cos(pi min(t, T)/T))/2)^p + alpha)."""

    lr: float
    total_steps: int
    alpha: float
    exponent: float

    def __call__(self, t: int) -> float:
        c = 0.5 * (1 + math.cos(math.pi * min(t, self.total_steps) / self.total_steps))
        eta: float = self.lr * ((1 - self.alpha) * c**self.exponent + self.alpha)  # (S20)
        return eta


def warmup_cosine(
    lr: float,
    *,
    warmup_steps: int,
    total_steps: int,
    start: float = 0.0,
    lr_min: float = 0.0,
    exponent: float = 1.0,
    alpha: float | None = None,
) -> Schedule:
    """(S20) linear warmup from ``start`` to ``lr`` over ``warmup_steps``, then cosine to ``lr_min`` at
    ``total_steps`` (warmup included); optax's warmup_cosine_decay_schedule (alpha = lr_min / lr).
    ``alpha`` gives the floor relative to ``lr`` instead (optax's cosine_decay_schedule; no rounding
    of lr_min / lr), and then ``lr_min`` must stay 0."""
    _check(
        "warmup_cosine",
        lr=(POSITIVE, lr),
        warmup_steps=(Integer(ge=0), warmup_steps),
        total_steps=(COUNT, total_steps),
        start=(NONNEGATIVE, start),
        lr_min=(NONNEGATIVE, lr_min),
        exponent=(POSITIVE, exponent),
        alpha=(optional(NONNEGATIVE), alpha),
    )
    if total_steps <= warmup_steps:
        raise ValueError(
            f"warmup_cosine: total_steps must exceed warmup_steps, got {total_steps} <= {warmup_steps}"
        )
    if alpha is not None and lr_min != 0.0:
        raise ValueError("warmup_cosine: give the floor as lr_min (absolute) or alpha (relative), not both")
    rel = lr_min / lr if alpha is None else float(alpha)
    decay = OptaxCosine(lr, int(total_steps - warmup_steps), rel, exponent)
    if warmup_steps == 0:
        return decay
    return Join((Polynomial(start, int(warmup_steps), 1, lr), decay), (int(warmup_steps),))  # (S20)


def warmup_exponential(
    lr: float,
    *,
    warmup_steps: int,
    gamma: float,
    steps: int = 1,
    start: float = 0.0,
    begin: int = 0,
    staircase: bool = False,
    end: float | None = None,
) -> Schedule:
    """(S21) linear warmup from ``start`` to ``lr``, then (S9) with its clock restarted at ``warmup_steps``;
    optax's warmup_exponential_decay_schedule."""
    _check("warmup_exponential", start=(NONNEGATIVE, start), warmup_steps=(Integer(ge=0), warmup_steps))
    decay = exponential(lr, gamma=gamma, steps=steps, begin=begin, staircase=staircase, end=end)
    if warmup_steps == 0:
        return decay
    return Join((Polynomial(start, int(warmup_steps), 1, lr), decay), (int(warmup_steps),))  # (S21)


def sgdr(cycles: Sequence[Mapping[str, Any]]) -> Schedule:
    """(S22) one (S20) warmup-cosine per cycle, each restarted at the end of the last: optax's sgdr_schedule.
    Each cycle is the keywords of ``warmup_cosine``; ``total_steps`` is the cycle's length."""
    if not cycles:
        raise ValueError("sgdr: needs at least one cycle")
    schedules, ends = [], [0]
    for k, kw in enumerate(cycles):
        if not isinstance(kw, Mapping) or "lr" not in kw or "total_steps" not in kw:
            raise TypeError(
                f"sgdr: cycles[{k}] must be a dict of warmup_cosine keywords with lr and total_steps"
            )
        schedules.append(warmup_cosine(**kw))
        ends.append(ends[-1] + int(kw["total_steps"]))  # (S22)
    return schedules[0] if len(schedules) == 1 else Join(tuple(schedules), tuple(ends[1:-1]))


@dataclass(frozen=True)
class Chain:
    """torch ChainedScheduler (S23): each step applies every scheduler's step() in order to the lr
    the previous one left; the constructors' initial steps likewise."""

    lr: float
    schedules: tuple[_Chainable, ...]
    _memo: list[float] = field(default_factory=list, init=False, repr=False, compare=False)

    def __call__(self, t: int) -> float:
        memo = self._memo
        if not memo:
            v = self.lr
            for s in self.schedules:
                v = s.start(v)
            memo.append(v)
        while len(memo) <= t:
            v = memo[-1]
            for s in self.schedules:
                v = s.advance(len(memo), v)  # (S23)
            memo.append(v)
        return memo[t]


def chain(lr: float, schedules: Sequence[_Chainable]) -> Chain:
    """(S23) torch ChainedScheduler over schedulers built on an optimizer whose lr is ``lr``.

    Each schedule acts by its torch ``step()`` (the recursion, whatever its ``form``); a closed-form
    scheduler (LambdaLR, CyclicLR, OneCycleLR, CosineAnnealingWarmRestarts) overwrites the lr.
    """
    _check("chain", lr=(POSITIVE, lr))
    if not schedules:
        raise ValueError("chain: needs at least one schedule")
    for k, s in enumerate(schedules):
        if not isinstance(s, _Chainable):
            raise TypeError(f"chain: schedules[{k}] must be a torch-style schedule of this module, got {s!r}")
        own = getattr(s, "lr", lr)  # CyclicLR and OneCycleLR set their own rates: no ``lr``
        if own != lr:
            raise ValueError(f"chain: schedules[{k}] has lr {own!r}, the chain's lr is {lr!r}")
    return Chain(lr, tuple(schedules))


@dataclass(frozen=True)
class PlateauState:
    """ReduceLROnPlateau's state after t metrics: lr, best metric, bad epochs, cooldown left."""

    lr: float
    best: float
    num_bad: int = 0
    cooldown_left: int = 0
    t: int = 0


@dataclass(frozen=True)
class Plateau:
    """torch ReduceLROnPlateau as a pure state machine (S24): ``update(state, metric)`` after each
    step; ``rates(metrics)`` gives eta_0 ... eta_n, eta_t read after t metrics."""

    lr: float
    mode: str
    factor: float
    patience: int
    threshold: float
    threshold_mode: str
    cooldown: int
    min_lr: float
    eps: float

    def init(self) -> PlateauState:
        return PlateauState(self.lr, math.inf if self.mode == "min" else -math.inf)

    def improves(self, a: float, best: float) -> bool:
        sign = 1.0 if self.mode == "max" else -1.0
        if self.threshold_mode == "rel":
            return a > best * (1.0 + sign * self.threshold) if sign > 0 else a < best * (1.0 - self.threshold)
        return a > best + self.threshold if sign > 0 else a < best - self.threshold

    def update(self, state: PlateauState, metric: float) -> PlateauState:
        m = float(metric)
        best, bad = (m, 0) if self.improves(m, state.best) else (state.best, state.num_bad + 1)
        cool = state.cooldown_left
        if cool > 0:
            cool, bad = cool - 1, 0  # bad epochs in cooldown are ignored
        lr = state.lr
        if bad > self.patience:
            new = max(lr * self.factor, self.min_lr)  # (S24)
            lr = new if lr - new > self.eps else lr
            cool, bad = self.cooldown, 0
        return PlateauState(lr, best, bad, cool, state.t + 1)

    def rates(self, metrics: Sequence[float]) -> list[float]:
        state = self.init()
        out = [state.lr]
        for m in metrics:
            state = self.update(state, m)
            out.append(state.lr)
        return out


def plateau(
    lr: float,
    *,
    mode: str = "min",
    factor: float = 0.1,
    patience: int = 10,
    threshold: float = 1e-4,
    threshold_mode: str = "rel",
    cooldown: int = 0,
    min_lr: float = 0.0,
    eps: float = 1e-8,
) -> Plateau:
    """(S24) reduce the rate by ``factor`` after ``patience`` steps without improvement of a metric."""
    _check(
        "plateau",
        lr=(POSITIVE, lr),
        mode=(OneOf(("min", "max")), mode),
        factor=(Real(ge=0.0, lt=1.0), factor),
        patience=(Integer(ge=0), patience),
        threshold=(NONNEGATIVE, threshold),
        threshold_mode=(OneOf(("rel", "abs")), threshold_mode),
        cooldown=(Integer(ge=0), cooldown),
        min_lr=(NONNEGATIVE, min_lr),
        eps=(NONNEGATIVE, eps),
    )
    return Plateau(lr, mode, factor, int(patience), threshold, threshold_mode, int(cooldown), min_lr, eps)


# ---------------------------------------------------------------------------------------------
# Every peer schedule and its reference (tests/test_peers_schedules.py fails when a peer release
# adds one that is not here). reference/conform/schedules.py builds each peer's reference with the
# factory named first in its entry (the one place for that fact) and only translates the keywords.

TORCH = {
    "LambdaLR": "lambda_factor(lr, fn)",
    "MultiplicativeLR": "multiplicative(lr, fn)",
    "StepLR": "step_decay(lr, step_size=, gamma=, form='recursive')",
    "MultiStepLR": "multistep_decay(lr, milestones=, gamma=, form='recursive')",
    "ConstantLR": "constant_factor(lr, factor=, total_steps=, form='recursive')",
    "LinearLR": "linear_factor(lr, start_factor=, end_factor=, total_steps=, form='recursive')",
    "ExponentialLR": "exponential(lr, gamma=, form='recursive')",
    "SequentialLR": "join(schedules, milestones)",
    "PolynomialLR": "polynomial(lr, total_steps=, power=, form='recursive')",
    "CosineAnnealingLR": "cosine(lr, total_steps=T_max, lr_min=eta_min, periodic=True, form='recursive')",
    "ChainedScheduler": "chain(lr, schedules)",
    "ReduceLROnPlateau": "plateau(lr, ...).rates(metrics)",
    "CyclicLR": "cyclic(base_lr, max_lr, ...)",
    "CosineAnnealingWarmRestarts": "warm_restarts(lr, period=T_0, period_mult=T_mult, lr_min=eta_min)",
    "OneCycleLR": "onecycle(max_lr, total_steps=, ...)",
}
OPTAX = {
    "constant_schedule": "constant(value)",
    "polynomial_schedule": "polynomial(init, total_steps=, power=, end=, begin=)",
    "linear_schedule": "polynomial(init, total_steps=, end=, begin=)",
    "piecewise_constant_schedule": "piecewise_constant(init, boundaries_and_scales)",
    "exponential_decay": "exponential(init, gamma=decay_rate, steps=, begin=, staircase=, end=)",
    "cosine_decay_schedule": "warmup_cosine(init, warmup_steps=0, total_steps=, alpha=, exponent=)",
    "piecewise_interpolate_schedule": "piecewise_interpolate(init, boundaries_and_scales, kind=)",
    "linear_onecycle_schedule": "onecycle(peak, total_steps=, anneal='linear', three_phase=True, convention='optax')",
    "cosine_onecycle_schedule": "onecycle(peak, total_steps=, convention='optax')",
    "warmup_constant_schedule": "polynomial(init, total_steps=warmup, end=peak)",
    "warmup_cosine_decay_schedule": "warmup_cosine(peak, warmup_steps=, total_steps=decay_steps, start=, lr_min=)",
    "warmup_exponential_decay_schedule": "warmup_exponential(peak, warmup_steps=, gamma=, ...)",
    "sgdr_schedule": "sgdr(cycles)",
    "join_schedules": "join(schedules, boundaries)",
}
# Not schedules: torch's base classes and optax's hyperparameter injection and types.
NOT_SCHEDULES = {
    "LRScheduler",
    "inject_hyperparams",
    "inject_stateful_hyperparams",
    "InjectHyperparamsState",
    "InjectStatefulHyperparamsState",
    "WrappedSchedule",
    "Schedule",
    "StatefulSchedule",
}

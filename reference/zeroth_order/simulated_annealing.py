r"""Simulated annealing (Kirkpatrick, Gelatt & Vecchi 1983). Spec: specs/simulated_annealing.md,
eqs. (SA1)-(SA5).

Input of each step: the objective L, either a plain callable ``L(theta) -> float`` or a
``reference.oracle.FunctionOracle`` (its ``value`` is used; no gradient is ever asked for, so L
may be non-differentiable or piecewise constant). One step, for t = 1, 2, ... (T_t read at the
t - 1 completed steps, like a learning-rate schedule):

    T_t      = T0 decay^(t-1)  ("geometric")  or  T0 / log(e + t - 1)  ("logarithmic")   (SA1)
    z ~ N(0, I), u ~ U[0, 1) from numpy.random.default_rng([seed, t - 1]);
    theta'   = theta_{t-1} + sigma z                                     (SA2)  Gaussian proposal
    Delta    = L(theta') - L(theta_{t-1})                                (SA3)
    accept   = Delta <= 0  or  u < exp(-Delta / T_t)                     (SA4)  Metropolis rule
    theta_t  = theta' if accept else theta_{t-1}                         (SA5)

"Accept improvements always; accept worse moves with probability exp(-Delta L / T); gradually
decrease T" (note 004). With T_t = 0 the rule (SA4) accepts only Delta <= 0: greedy random
descent. u < p with u ~ U[0, 1) has probability exactly p, so (SA4) accepts a worse move with
probability exp(-Delta / T_t).

Conventions:
    * Randomness comes only from the integer ``seed`` carried in the state: step t draws its
      proposal and its uniform from ``numpy.random.default_rng([seed, t - 1])`` (z first, then u;
      u is drawn even when the move is an improvement, so the stream never depends on L). The
      step is therefore a pure function of (state, L); replicates use different seeds
      (``dataclasses.replace(state, seed=s)`` or the factory's ``seed``).
    * Ties (Delta = 0) are accepted (min(1, exp(0)) = 1).
    * A proposal whose value is +inf (an infeasible point) is rejected; a NaN value raises, as
      does a non-finite L(theta_0).
    * The state keeps L(theta_t), so each step costs one evaluation of L (two for the first).
    * ``best_params`` / ``best_value`` record the lowest point visited.

References:
    Kirkpatrick, S., Gelatt, C. D. and Vecchi, M. P. (1983). Optimization by Simulated Annealing.
        Science 220(4598), 671-680.
    Metropolis, N. et al. (1953). Equation of State Calculations by Fast Computing Machines.
    Geman, S. and Geman, D. (1984). Stochastic Relaxation, Gibbs Distributions, and the Bayesian
        Restoration of Images. IEEE TPAMI 6 (the logarithmic schedule c / log t).
    Note 004, "Simulated Annealing".
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass
from typing import Any, ClassVar, Literal

import numpy as np

from .._core import _value, method
from .._hyper import CLOSED_UNIT, NONNEGATIVE, POSITIVE, SEED, Either, Function, Hyperparams, OneOf, hp
from .._types import Array
from ..oracle import FunctionOracle

Objective = Callable[[Array], Any] | FunctionOracle
TemperatureSchedule = Literal["geometric", "logarithmic"] | Callable[[int], float]


@dataclass(frozen=True, eq=False)
class AnnealingHyperparams(Hyperparams):
    """Simulated annealing's hyperparameters (temperature schedule, proposal scale, seed)."""

    ALGORITHM: ClassVar[str] = "simulated_annealing"
    _: KW_ONLY
    T0: float = hp(1.0, NONNEGATIVE, "the initial temperature T_0 of (SA1) (0: greedy random descent)")
    schedule: TemperatureSchedule = hp(
        "geometric",
        Either((OneOf(("geometric", "logarithmic")), Function("a callable t -> T_t >= 0"))),
        '(SA1): "geometric" T0 decay^t, "logarithmic" T0 / log(e + t), or a callable t -> T_t',
    )
    decay: float = hp(
        0.99, CLOSED_UNIT, "the geometric factor of (SA1) (1: constant T, a Metropolis sampler)"
    )
    step_size: float = hp(1.0, POSITIVE, "sigma of the Gaussian proposal theta + sigma z, (SA2)")
    seed: int = hp(
        0, SEED, "the root seed that init puts in the state; step t draws from default_rng([seed, t - 1])"
    )


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class AnnealingState:
    """Simulated annealing's state after ``t`` steps."""

    params: Array  # theta_t
    value: float | None  # L(theta_t); None until the first step has evaluated it
    best_params: Array  # the lowest point visited so far
    best_value: float | None  # its value (None before the first step)
    temperature: float  # T_t used by the last step (T0 before the first)
    accepted: bool  # whether the last proposal was accepted (False before the first step)
    n_accepted: int  # accepted proposals so far
    seed: int  # the root seed of every draw; step t uses default_rng([seed, t - 1])
    t: int  # completed steps


def init(params: Array, *, seed: int = 0, T0: float = 1.0) -> AnnealingState:
    """theta_0 = params, t = 0; ``seed`` (an int >= 0) fixes every later draw."""
    SEED.check("simulated_annealing", "seed", seed)
    return AnnealingState(
        params=params,
        value=None,
        best_params=params,
        best_value=None,
        temperature=float(T0),
        accepted=False,
        n_accepted=0,
        seed=int(seed),
        t=0,
    )


def temperature(t: int, *, T0: float, schedule: TemperatureSchedule, decay: float) -> float:
    """T for the step that follows ``t`` completed steps, eq. (SA1)."""
    if callable(schedule):
        value = _value(schedule(t), "simulated_annealing: temperature schedule value")
        if not (math.isfinite(value) and value >= 0.0):
            raise ValueError(
                f"simulated_annealing: temperature schedule returned {value!r} at t={t}; "
                "it must be finite and >= 0"
            )
        return value
    if schedule == "geometric":
        return float(T0 * decay**t)
    return float(T0 / math.log(math.e + t))


def draws(seed: int, t: int, shape: tuple[int, ...]) -> tuple[Array, float]:
    """The proposal direction z ~ N(0, I) of ``shape`` and the uniform u ~ U[0, 1) of the step
    that follows ``t`` completed steps: ``default_rng([seed, t])``, z first, then u."""
    rng = np.random.default_rng([seed, t])
    z = rng.standard_normal(shape)
    u = float(rng.random())
    return z, u


def evaluate(objective: Objective, x: Array, what: str = "L(theta)") -> float:
    """L(x) as a float; NaN or a non-scalar value raises ValueError."""
    if isinstance(objective, FunctionOracle):
        raw: Any = objective.value(x)
    elif callable(objective):
        raw = objective(x)
    else:
        raise TypeError(
            "simulated_annealing: step needs a callable objective or a FunctionOracle, got "
            f"{type(objective).__name__}"
        )
    arr = np.asarray(raw, dtype=np.float64)
    if arr.ndim != 0 and arr.size != 1:
        raise ValueError(f"simulated_annealing: the objective must return a scalar, got shape {arr.shape}")
    v = float(arr.reshape(()))
    if math.isnan(v):
        raise ValueError(f"simulated_annealing: {what} is NaN")
    return v


def accept(delta: float, u: float, T: float) -> bool:
    """The Metropolis rule (SA4): always for Delta <= 0, else iff u < exp(-Delta / T)."""
    if delta <= 0.0:
        return True
    if T == 0.0 or math.isinf(delta):
        return False
    return u < math.exp(-delta / T)


def step(
    state: AnnealingState,
    objective: Objective,
    *,
    T0: float,
    schedule: TemperatureSchedule = "geometric",
    decay: float = 0.99,
    step_size: float = 1.0,
) -> AnnealingState:
    """One annealing step, eqs. (SA1)-(SA5) of specs/simulated_annealing.md."""
    theta = state.params
    f = state.value
    if f is None:
        f = evaluate(objective, theta, "L(theta_0)")
        if not math.isfinite(f):
            raise ValueError(f"simulated_annealing: L(theta_0) must be finite, got {f!r}")
    T = temperature(state.t, T0=T0, schedule=schedule, decay=decay)  # (SA1)
    z, u = draws(state.seed, state.t, np.shape(theta))
    proposal = theta + step_size * z  # (SA2)
    f_new = evaluate(objective, proposal, "L(proposal)")
    delta = f_new - f  # (SA3)
    ok = accept(delta, u, T)  # (SA4)
    theta_t, f_t = (proposal, f_new) if ok else (theta, f)  # (SA5)
    best_value = f if state.best_value is None else state.best_value
    best_params = state.best_params
    if f_t < best_value:
        best_params, best_value = theta_t, f_t
    return AnnealingState(
        params=theta_t,
        value=f_t,
        best_params=best_params,
        best_value=best_value,
        temperature=T,
        accepted=ok,
        n_accepted=state.n_accepted + int(ok),
        seed=state.seed,
        t=state.t + 1,
    )


simulated_annealing = method(
    AnnealingHyperparams,
    init,
    step,
    "Simulated annealing with Gaussian proposals; step(state, objective). "
    "See the module docstring and specs/simulated_annealing.md.",
)

"""Simulated annealing: golden Metropolis decisions (specs/simulated_annealing.md), the draws'
source, T -> 0 is greedy descent, escape from a double well's local minimum, purity, bad input."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy import stats

import reference as ref
from reference.oracle import FunctionOracle
from reference.zeroth_order.simulated_annealing import accept, draws, temperature
from reference.zeroth_order.simulated_annealing import init as sa_init
from reference.zeroth_order.simulated_annealing import step as sa_step

from .helpers import readonly


def _square(x: np.ndarray) -> float:
    return float(np.sum(x * x))


def _double_well(x: np.ndarray) -> float:
    # minima near +0.96 (local, L = 0.294) and -1.04 (global, L = -0.305); barrier near 0.07 (L = 1.0)
    return float((x[0] ** 2 - 1.0) ** 2 + 0.3 * x[0])


def test_simulated_annealing_golden_four_steps() -> None:
    # specs/simulated_annealing.md "Worked example": Delta and exp(-Delta/T) by hand (40-digit
    # decimals); the draws are numpy's default_rng([7, t - 1]) values written out.
    opt = ref.simulated_annealing(T0=1.0, decay=0.5, step_size=1.0, seed=7)
    s = opt.init([1.0])
    want = [
        (1.0, 1.0012301533574825742, True),
        (0.5, 1.3485919220179136342, True),
        (0.25, 1.3485919220179136342, False),
        (0.125, -0.3186870796522643658, True),
    ]
    for i, (T, theta, acc) in enumerate(want, start=1):
        s = opt.step(s, _square)
        assert s.t == i and s.temperature == T and s.accepted is acc
        assert_allclose(s.params, [theta], rtol=1e-15)
        assert s.value is not None
        assert math.isclose(s.value, theta * theta, rel_tol=1e-15)
    assert s.n_accepted == 3
    assert s.best_value is not None and math.isclose(s.best_value, 0.10156145468, rel_tol=1e-9)


def test_golden_decisions_by_the_formula() -> None:
    # The same decisions from (SA4) with the hand values of the spec: p = exp(-Delta / T) vs u.
    assert accept(0.0024618199922480740, 0.8972138009695755, 1.0)  # p = 0.99754 > u
    assert accept(0.81623835213972237, 0.1119272443176843, 0.5)  # p = 0.19544 > u
    assert not accept(0.50299694836961435, 0.445153123967549, 0.25)  # p = 0.13372 < u
    assert accept(-1.7171387173946818, 0.9999, 0.125)  # improvement: always
    assert accept(0.0, 0.9999, 0.0)  # a tie is accepted, even at T = 0
    assert not accept(1e-300, 0.0, 0.0)  # T = 0: no worse move, whatever u
    assert not accept(math.inf, 0.0, 1e300)  # infeasible proposal


def test_draws_come_from_default_rng_seed_and_step() -> None:
    z, u = draws(7, 0, (1,))
    assert_array_equal(z, [0.0012301533574825742])
    assert u == 0.8972138009695755
    z3, u3 = draws(7, 3, (2, 2))
    rng = np.random.default_rng([7, 3])
    assert_array_equal(z3, rng.standard_normal((2, 2)))
    assert u3 == rng.random()


def test_schedules() -> None:
    assert temperature(0, T0=2.0, schedule="geometric", decay=0.9) == 2.0
    assert math.isclose(temperature(3, T0=2.0, schedule="geometric", decay=0.9), 2.0 * 0.729, rel_tol=1e-15)
    assert temperature(0, T0=2.0, schedule="logarithmic", decay=0.9) == 2.0
    assert math.isclose(
        temperature(10, T0=2.0, schedule="logarithmic", decay=0.9), 2.0 / math.log(math.e + 10)
    )
    assert temperature(5, T0=2.0, schedule=lambda t: 1.0 / (t + 1), decay=0.9) == 1.0 / 6
    opt = ref.simulated_annealing(T0=3.0, schedule="logarithmic", seed=1)
    s = opt.init([0.5, 0.5])
    for t in range(5):
        s = opt.step(s, _square)
        assert math.isclose(s.temperature, 3.0 / math.log(math.e + t))


def test_zero_temperature_is_greedy_random_descent() -> None:
    # T -> 0: (SA4) accepts exactly the proposals with Delta <= 0. The greedy loop below is written
    # independently from the same draws; T0 = 1e-300 gives the same path as T0 = 0 because every
    # Delta > 0 here is far above 1e-300 * log(1/u).
    rng = np.random.default_rng(3)
    A = rng.standard_normal((4, 4))

    def f(x: np.ndarray) -> float:
        return float(np.sum(np.abs(A @ x)))  # convex, non-differentiable

    x0 = np.ones(4)
    for T0 in (0.0, 1e-300):
        opt = ref.simulated_annealing(T0=T0, decay=1.0, step_size=0.3, seed=11)
        s = opt.init(x0)
        x, fx = x0.copy(), f(x0)
        values = [fx]
        for t in range(200):
            s = opt.step(s, f)
            z = np.random.default_rng([11, t]).standard_normal(4)
            if f(x + 0.3 * z) <= fx:
                x = x + 0.3 * z
                fx = f(x)
            assert_array_equal(s.params, x)
            assert s.value is not None
            values.append(s.value)
        assert all(b <= a for a, b in zip(values, values[1:]))  # never goes up
        assert values[-1] < 0.2 * values[0]


def test_escapes_a_local_minimum_that_greedy_descent_cannot() -> None:
    # Double well, start at the local minimum +0.96, proposals sigma = 0.2, 1000 steps. Greedy
    # (T = 0) would need one proposal to land in the left well below L = 0.294, a jump of about
    # -1.5 = 7.5 sigma (probability ~3e-14 per step): it stays on the right in every run. Annealing
    # (T0 = 1 cooled geometrically to 1e-3) crosses the barrier (height ~0.7) while T is high.
    # Over 20 seeds, the 99.9% Clopper-Pearson lower bound of its escape rate must exceed 0.1.
    k, steps = 20, 1000
    decay = 1e-3 ** (1.0 / steps)
    ends: dict[float, list[float]] = {}
    for T0 in (1.0, 0.0):
        ends[T0] = []
        for seed in range(k):
            opt = ref.simulated_annealing(T0=T0, decay=decay, step_size=0.2, seed=seed)
            s = opt.init([0.96])
            for _ in range(steps):
                s = opt.step(s, _double_well)
            ends[T0].append(float(s.params[0]))
    escaped = sum(e < 0 for e in ends[1.0])
    assert sum(e < 0 for e in ends[0.0]) == 0
    lower = stats.beta.ppf(0.0005, escaped, k - escaped + 1) if escaped else 0.0
    assert lower > 0.1, (escaped, lower)
    assert all(abs(e + 1.04) < 0.2 for e in ends[1.0] if e < 0)  # they settle in the global well


def test_oracle_input_and_best_point() -> None:
    oracle = FunctionOracle(lambda x: (x[0] - 2.0) ** 2 + abs(x[1]), dim=2)
    opt = ref.simulated_annealing(T0=0.5, decay=0.98, step_size=0.5, seed=4)
    s = opt.init([0.0, 1.0])
    for _ in range(150):
        s = opt.step(s, oracle)
    assert oracle.counts.value == 151 and oracle.counts.grad == 0  # values only, one per step
    assert s.best_value is not None and s.value is not None
    assert s.best_value <= s.value
    assert math.isclose(s.best_value, float(oracle.f(s.best_params)))
    assert s.best_value < 0.25


def test_step_is_pure_and_bare_step_equals_factory() -> None:
    opt = ref.simulated_annealing(T0=0.7, decay=0.9, step_size=0.4, seed=5)
    s0 = opt.init(readonly([1.0, -1.0, 0.5]))
    a = opt.step(s0, _square)
    b = opt.step(s0, _square)
    assert_array_equal(a.params, b.params)
    assert a.accepted == b.accepted
    bare = sa_step(
        sa_init(np.array([1.0, -1.0, 0.5]), seed=5, T0=0.7), _square, T0=0.7, decay=0.9, step_size=0.4
    )
    assert_array_equal(bare.params, a.params)
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.t = 3  # type: ignore[misc]
    # another seed, another path (replicates via dataclasses.replace)
    c = opt.step(dataclasses.replace(s0, seed=6), _square)
    assert not np.array_equal(c.params, a.params)
    assert "simulated_annealing" in ref.ALGORITHMS
    assert repr(opt).startswith("ref.simulated_annealing(")


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="T0 must be a finite number >= 0"):
        ref.simulated_annealing(T0=-1.0)
    with pytest.raises(ValueError, match=r"decay must be in \[0, 1\]"):
        ref.simulated_annealing(decay=1.5)
    with pytest.raises(ValueError, match="step_size must be a finite number > 0"):
        ref.simulated_annealing(step_size=0.0)
    with pytest.raises(ValueError, match="schedule must be one of 'geometric', 'logarithmic' or a callable"):
        ref.simulated_annealing(schedule="linear")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="simulated_annealing: seed must be an integer >= 0, got -3"):
        ref.simulated_annealing(seed=-3)
    with pytest.raises(TypeError, match="simulated_annealing: seed must be an integer >= 0, got 1.5"):
        ref.simulated_annealing(seed=1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="simulated_annealing: seed must be an integer >= 0, got -1"):
        sa_init(np.zeros(1), seed=-1)
    opt = ref.simulated_annealing(seed=0)
    s = opt.init([1.0])
    with pytest.raises(TypeError, match="callable objective or a FunctionOracle"):
        opt.step(s, 3.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="must return a scalar"):
        opt.step(s, lambda x: np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match=r"L\(theta_0\) must be finite"):
        opt.step(s, lambda x: math.inf)
    with pytest.raises(ValueError, match="L\\(proposal\\) is NaN"):
        opt.step(opt.step(s, _square), lambda x: math.nan)
    bad = ref.simulated_annealing(schedule=lambda t: -1.0)
    with pytest.raises(ValueError, match="temperature schedule returned -1.0"):
        bad.step(bad.init([1.0]), _square)
    with pytest.raises(ValueError, match="params must be finite"):
        opt.init([math.nan])


def test_infeasible_proposals_are_rejected() -> None:
    # L = +inf outside the unit box: the iterate never leaves it.
    def boxed(x: np.ndarray) -> float:
        return float(np.sum(x)) if np.all(np.abs(x) <= 1.0) else math.inf

    opt = ref.simulated_annealing(T0=1.0, decay=0.99, step_size=0.8, seed=2)
    s = opt.init([0.0, 0.0])
    for _ in range(100):
        s = opt.step(s, boxed)
        assert np.all(np.abs(s.params) <= 1.0)
    assert s.n_accepted < 100

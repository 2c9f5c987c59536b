"""SAGA: golden steps, unbiased estimate, variance -> 0 at the optimum (unlike SGD), bad input."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import reference as ref
from reference.oracle import Sample
from reference.variance_reduction.saga import estimate, fill, init

from .vr_helpers import Toy, assert_unbiased, exact_moments, least_squares, logistic, over_finite_sums


def test_saga_golden() -> None:
    # specs/saga.md "Worked example".
    opt = ref.saga(0.5)
    s = opt.step(opt.init([4.0]), Sample(Toy(), np.array([0])))
    assert_array_equal(s.params, [2.5])
    assert s.table is not None and s.table_mean is not None
    assert_array_equal(s.table[:, 0], [4.0, 2.0])
    s = opt.step(s, Sample(Toy(), np.array([1])))
    assert_array_equal(s.params, [1.75])
    assert s.table is not None and s.table_mean is not None
    assert_array_equal(s.table[:, 0], [4.0, 0.5])
    assert_array_equal(s.table_mean, [2.25])


@over_finite_sums
def test_unbiased(problem: Any) -> None:
    rng = np.random.default_rng(0)
    opt = ref.saga(0.02 if problem.reduction == "mean" else 0.001)
    s = opt.init(np.zeros(problem.dim))
    for _ in range(9):
        s = opt.step(s, Sample(problem, rng.integers(0, problem.n_samples, 3)))
    assert_unbiased(lambda j: estimate(s, Sample(problem, np.array([j])))[0], problem, s.params)
    assert s.table is not None and s.table_mean is not None
    assert_allclose(s.table_mean, s.table.mean(axis=0), rtol=1e-13, atol=1e-15)


def test_variance_vanishes_at_optimum_unlike_sgd() -> None:
    problem = least_squares("mean")
    x_star = np.linalg.lstsq(problem.X, problem.y, rcond=None)[0]
    n = problem.n_samples
    opt = ref.saga(0.05)
    rng = np.random.default_rng(2)
    s = fill(opt.init(np.zeros(problem.dim)), Sample(problem, np.array([0])))
    # right after filling, the table is exact at theta (variance 0); after n steps it is stale
    for _ in range(n):
        s = opt.step(s, Sample(problem, rng.integers(0, n, 1)))
    v0 = exact_moments(lambda j: estimate(s, Sample(problem, np.array([j])))[0], n)[1]
    for _ in range(60 * n):
        s = opt.step(s, Sample(problem, rng.integers(0, n, 1)))
    v_end = exact_moments(lambda j: estimate(s, Sample(problem, np.array([j])))[0], n)[1]
    sgd_var = exact_moments(lambda j: problem.per_sample_grads(x_star, np.array([j]))[0], n)[1]
    assert sgd_var > 0.1 and v0 > 0.1
    assert v_end < 1e-12 * sgd_var
    assert np.linalg.norm(s.params - x_star) < 1e-6


def test_repeated_indices_update_once() -> None:
    problem = logistic()
    opt = ref.saga(0.1)
    s = opt.step(opt.init(np.zeros(problem.dim)), Sample(problem, np.array([3, 3, 5])))
    assert s.table is not None
    fresh = problem.per_sample_grads(np.zeros(problem.dim), np.array([3, 5]))
    assert_allclose(s.table[[3, 5]], fresh, rtol=1e-15)


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="lr must be a finite number > 0"):
        ref.saga(0.0)
    with pytest.raises(TypeError, match="needs a Sample"):
        ref.saga(0.1).step(ref.saga(0.1).init([0.0]), [0])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="reduction must be 'mean' or 'sum'"):
        ref.saga(0.1).step(ref.saga(0.1).init([0.0]), Sample(Toy(reduction="max"), np.array([0])))
    with pytest.raises(ValueError, match=r"gradient table is empty; call fill\(state, sample\)"):
        estimate(init(np.zeros(1)), Sample(Toy(), np.array([0])))
    with pytest.raises(TypeError, match="saga: missing a required argument: 'lr'"):
        ref.saga()  # type: ignore[call-arg]

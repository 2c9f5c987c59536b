"""SVRG: golden steps, unbiased estimate, variance -> 0 at the optimum (unlike SGD), bad input."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import reference as ref
from reference.oracle import Sample
from reference.variance_reduction.svrg import estimate, init, refresh

from .vr_helpers import Toy, assert_unbiased, exact_moments, least_squares, logistic, over_finite_sums


def test_svrg_golden() -> None:
    # specs/svrg.md "Worked example".
    opt = ref.svrg(0.5, epoch=2)
    s = opt.step(opt.init([4.0]), Sample(Toy(), np.array([0])))
    assert_allclose(s.params, [2.5]) and s.mu is not None
    assert_array_equal(s.mu, [3.0])
    s = opt.step(s, Sample(Toy(), np.array([1])))
    assert_array_equal(s.params, [1.75])
    assert s.snapshot is not None and s.snapshot[0] == 4.0 and s.t == 2


@over_finite_sums
def test_unbiased(problem: Any) -> None:
    rng = np.random.default_rng(0)
    lr = 0.02 if problem.reduction == "mean" else 0.001
    opt = ref.svrg(lr, epoch=50)
    s = opt.init(np.zeros(problem.dim))
    for _ in range(7):  # move away from the snapshot so that theta != theta~
        s = opt.step(s, Sample(problem, rng.integers(0, problem.n_samples, 2)))
    s = refresh(s, Sample(problem, np.array([0])), 50)
    assert s.snapshot is not None and not np.allclose(s.snapshot, s.params)
    assert_unbiased(lambda j: estimate(s, Sample(problem, np.array([j]))), problem, s.params)


def test_variance_vanishes_at_optimum_unlike_sgd() -> None:
    problem = least_squares("mean")
    x_star = np.linalg.lstsq(problem.X, problem.y, rcond=None)[0]
    n = problem.n_samples
    opt = ref.svrg(0.05, epoch=2 * n)
    rng = np.random.default_rng(1)
    s = opt.init(np.zeros(problem.dim))
    variances = []
    for k in range(40 * n):
        s = opt.step(s, Sample(problem, rng.integers(0, n, 1)))
        if k % (2 * n) == 2 * n - 1:
            cur = refresh(s, Sample(problem, np.array([0])), 1)
            variances.append(exact_moments(lambda j: estimate(cur, Sample(problem, np.array([j]))), n)[1])
    sgd_var = exact_moments(lambda j: problem.per_sample_grads(x_star, np.array([j]))[0], n)[1]
    assert sgd_var > 0.1  # SGD's estimate is noisy at the optimum
    assert variances[-1] < 1e-12 * sgd_var  # SVRG's is not
    assert variances[-1] < 1e-8 * variances[0]
    assert np.linalg.norm(s.params - x_star) < 1e-6


def test_batch_estimate_and_schedule() -> None:
    problem = logistic()
    opt = ref.svrg(lambda t: 0.1 / (1 + t), epoch=3)
    s = opt.init(np.zeros(problem.dim))
    for t in range(6):
        before = s.params
        s = opt.step(s, Sample(problem, np.array([t, t + 1, t + 2])))
        assert not np.array_equal(before, s.params)
    assert s.t == 6


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="svrg: epoch must be an integer >= 1, got 0"):
        ref.svrg(0.1, epoch=0)
    with pytest.raises(TypeError, match="svrg: epoch must be an integer >= 1, got 2.0"):
        ref.svrg(0.1, epoch=2.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="svrg: missing a required argument: 'epoch'"):
        ref.svrg(0.1)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="lr must be a finite number > 0"):
        ref.svrg(-0.1, epoch=2)
    with pytest.raises(ValueError, match=r"idx entries must lie in \[0, 2\)"):
        Sample(Toy(), np.array([2]))
    with pytest.raises(ValueError, match="non-empty 1-D array of integers"):
        Sample(Toy(), np.array([0.5]))
    with pytest.raises(TypeError, match="must offer n_samples and per_sample_grads"):
        Sample(object(), np.array([0]))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="needs a Sample"):
        ref.svrg(0.1, epoch=1).step(ref.svrg(0.1, epoch=1).init([0.0]), np.array([0]))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="flat vector"):
        ref.svrg(0.1, epoch=1).init(np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"no snapshot yet; call refresh\(state, sample, epoch\)"):
        estimate(init(np.zeros(1)), Sample(Toy(), np.array([0])))

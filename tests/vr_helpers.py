"""Finite-sum problems and exact moments of gradient estimators, for the SVRG/SAGA tests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from numpy.testing import assert_allclose

import reference.problems as P


@dataclass(frozen=True)
class Toy:
    """l_i(theta) = 1/2 (theta - a_i)^2 in one dimension, L = mean (the specs' worked examples)."""

    a: tuple[float, ...] = (0.0, 2.0)
    reduction: str = "mean"

    @property
    def n_samples(self) -> int:
        return len(self.a)

    def per_sample_grads(self, params: Any, idx: Any = None) -> np.ndarray:
        a = np.asarray(self.a)[:, None]
        rows = np.asarray(params)[None, :] - a
        return rows if idx is None else rows[np.asarray(idx)]


def least_squares(reduction: str = "mean", n: int = 30, p: int = 4, seed: int = 0) -> Any:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    y = X @ rng.standard_normal(p) + 0.5 * rng.standard_normal(n)
    return P.least_squares(X, y, reduction=reduction)  # type: ignore[arg-type]


def logistic(n: int = 30, p: int = 3, seed: int = 1) -> Any:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    y = (X @ np.ones(p) + rng.standard_normal(n) > 0).astype(float)
    return P.logistic_regression(X, y)


def exact_moments(estimate: Callable[[int], np.ndarray], n: int) -> tuple[np.ndarray, float]:
    """Mean and total variance E||g - E g||^2 of an estimator over a uniform index j in [0, n)."""
    gs = np.array([estimate(j) for j in range(n)])
    mean = gs.mean(axis=0)
    return mean, float(np.mean(np.sum((gs - mean) ** 2, axis=1)))


#: The finite sums both methods' estimators are checked on: least squares (mean and sum) and logistic.
over_finite_sums = pytest.mark.parametrize(
    "problem",
    [least_squares("mean"), least_squares("sum"), logistic()],
    ids=["ls-mean", "ls-sum", "logistic"],
)


def assert_unbiased(estimate: Callable[[int], np.ndarray], problem: Any, params: Any) -> None:
    """The estimator's exact mean over a uniform index j is grad L(params), and it is random
    (total variance > 0)."""
    mean, var = exact_moments(estimate, problem.n_samples)
    assert_allclose(mean, problem.grad(params), rtol=1e-12, atol=1e-14)
    assert var > 0

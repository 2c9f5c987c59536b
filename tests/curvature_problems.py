"""Smooth test functions (autograd-traceable) shared by the curvature-method tests."""

from __future__ import annotations

from typing import Any

import autograd.numpy as anp
import numpy as np

A_LSE = np.array([[1.0, 2.0, 0.5], [-1.0, 0.3, 2.0], [0.5, -1.5, 1.0], [2.0, 0.1, -0.7]])
B_LSE = np.array([0.1, -0.2, 0.3, 0.0])


def rosen(x: Any) -> Any:
    """Rosenbrock's function, minimiser (1, ..., 1)."""
    return anp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def logsumexp2(x: Any) -> Any:
    """A smooth strictly convex function: two log-sum-exps plus a small ridge term."""
    z = anp.dot(A_LSE, x)
    return anp.log(anp.sum(anp.exp(z + B_LSE))) + anp.log(anp.sum(anp.exp(-z))) + 0.05 * anp.dot(x, x)


def logistic(x: Any) -> Any:
    """L2-regularised logistic regression on fixed data (strictly convex)."""
    rng = np.random.default_rng(7)
    X = rng.standard_normal((40, 5))
    y = (X @ np.array([1.0, -2.0, 0.5, 0.0, 1.5]) + 0.5 * rng.standard_normal(40) > 0).astype(float)
    z = anp.dot(X, x)
    return anp.mean(anp.logaddexp(0.0, z) - y * z) + 0.01 * anp.dot(x, x)

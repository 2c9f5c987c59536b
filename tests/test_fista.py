"""FISTA: golden steps, query point, O(1/t^2) bound, faster than ISTA, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import reference as ref

from .helpers import run_closed
from .test_prox_grad import lasso_cd, lasso_problem


def test_fista_golden() -> None:
    # specs/fista.md "Worked example".
    a = np.array([3.0, -0.5])
    opt = ref.fista(0.5, l1=1.0)
    s = opt.init(np.zeros(2))
    s = opt.step(s, opt.query(s) - a)
    s1 = (1 + np.sqrt(5)) / 2
    assert_array_equal(s.params, [1.0, 0.0])
    assert_array_equal(s.y, s.params)
    assert_allclose(s.s, s1, rtol=1e-15)
    s = opt.step(s, opt.query(s) - a)
    s2 = (1 + np.sqrt(1 + 4 * s1**2)) / 2
    assert_array_equal(s.params, [1.5, 0.0])
    assert_allclose(s.y, [1.5 + (s1 - 1) / s2 * 0.5, 0.0], rtol=1e-15)


def test_gradient_taken_at_query_point() -> None:
    seen: list[np.ndarray] = []
    opt = ref.fista(0.1)

    def grad(x: np.ndarray) -> np.ndarray:
        seen.append(x.copy())
        return 2 * x - 1

    s = opt.init(np.array([3.0]))
    for _ in range(3):
        y = opt.query(s)
        s = opt.step(s, grad(y))
        assert not np.array_equal(s.y, s.params) or s.t == 1
    assert len(seen) == 3


def test_rate_bound_and_faster_than_ista() -> None:
    X, y, lam, grad_f, L = lasso_problem(2, decay=0.1, lam=0.02)
    w_star = lasso_cd(X, y, lam, sweeps=200000)

    def F(w: np.ndarray) -> float:
        r = X @ w - y
        return float(0.5 * r @ r / len(y) + lam * np.abs(w).sum())

    w0 = np.zeros(X.shape[1])
    fista = run_closed(ref.fista(1.0 / L, l1=lam), w0, grad_f, 60)
    ista = run_closed(ref.prox_grad(1.0 / L, l1=lam), w0, grad_f, 60)
    bound = 2 * L * np.sum((w0 - w_star) ** 2)
    for t, w in enumerate(fista, 1):
        assert F(w) - F(w_star) <= bound / (t + 1) ** 2 + 1e-12  # Beck & Teboulle Thm. 4.4
    gap_f, gap_i = F(fista[59]) - F(w_star), F(ista[59]) - F(w_star)
    assert gap_f < 0.1 * gap_i, (gap_f, gap_i)  # measured: 1.9e-7 vs 9.1e-6


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="l1 must be a finite number >= 0"):
        ref.fista(0.1, l1=-0.5)
    with pytest.raises(ValueError, match="lr must be a finite number > 0"):
        ref.fista(float("inf"))

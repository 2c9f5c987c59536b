"""Proximal gradient and FISTA: golden steps, lasso solution vs an independent coordinate descent."""

from __future__ import annotations

from typing import Any

import autograd
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import reference as ref
from reference.proximal.prox_grad import init as pg_init
from reference.proximal.prox_grad import soft_threshold
from reference.proximal.prox_grad import step as pg_step

from .helpers import readonly, run_closed


def lasso_cd(X: np.ndarray, y: np.ndarray, lam: float, sweeps: int = 5000) -> np.ndarray:
    """Cyclic coordinate descent for (1/(2n))||X w - y||^2 + lam ||w||_1 (written independently)."""
    n, p = X.shape
    w = np.zeros(p)
    col_sq = (X**2).sum(axis=0) / n
    r = y - X @ w
    for _ in range(sweeps):
        w_old = w.copy()
        for j in range(p):
            r = r + X[:, j] * w[j]
            rho = X[:, j] @ r / n
            w[j] = np.sign(rho) * max(abs(rho) - lam, 0.0) / col_sq[j]
            r = r - X[:, j] * w[j]
        if np.max(np.abs(w - w_old)) < 1e-15:
            break
    return w


def lasso_problem(
    seed: int = 0, decay: float = 1.0, lam: float = 0.2
) -> tuple[np.ndarray, np.ndarray, float, Any, float]:
    """A small lasso; column j is scaled by decay**(j/7) (decay < 1: ill-conditioned)."""
    rng = np.random.default_rng(seed)
    n, p = 40, 8
    X = rng.standard_normal((n, p)) * decay ** (np.arange(p) / (p - 1))
    w_true = np.array([2.0, -1.5, 0, 0, 1.0, 0, 0, 0])
    y = X @ w_true + 0.3 * rng.standard_normal(n)

    def f(w: Any) -> Any:
        r = X @ w - y
        return 0.5 * (r @ r) / n

    lipschitz = float(np.linalg.eigvalsh(X.T @ X / n).max())
    return X, y, lam, autograd.grad(f), lipschitz


def test_prox_grad_golden() -> None:
    # specs/prox_grad.md "Worked example".
    a = np.array([3.0, -0.5, 1.0])
    out = run_closed(ref.prox_grad(0.5, l1=1.0), np.zeros(3), lambda th: th - a, 2)
    assert_array_equal(out[0], [1.0, 0.0, 0.0])
    assert_array_equal(out[1], [1.5, 0.0, 0.0])
    final = run_closed(ref.prox_grad(0.5, l1=1.0), np.zeros(3), lambda th: th - a, 80)[-1]
    assert_allclose(final, [2.0, 0.0, 0.0], atol=1e-15)


def test_soft_threshold_is_the_prox() -> None:
    # prox(x) = argmin_z tau|z| + 1/2 (z - x)^2, checked by brute force on a grid.
    z = np.linspace(-4, 4, 160001)
    for x in (-2.5, -0.3, 0.0, 0.7, 3.1):
        brute = z[np.argmin(1.2 * np.abs(z) + 0.5 * (z - x) ** 2)]
        assert abs(soft_threshold(np.array([x]), 1.2)[0] - brute) < 1e-4


@pytest.mark.parametrize("algo", ["prox_grad", "fista"])
def test_lasso_matches_coordinate_descent(algo: str) -> None:
    X, y, lam, grad_f, L = lasso_problem()
    w_cd = lasso_cd(X, y, lam)
    opt = ref.make(algo, lr=1.0 / L, l1=lam)
    w = run_closed(opt, np.zeros(X.shape[1]), grad_f, 3000)[-1]
    assert_allclose(w, w_cd, atol=1e-10)
    assert np.sum(w_cd == 0.0) >= 3 and np.array_equal(w == 0.0, w_cd == 0.0)  # same support
    # optimality: |X^T r / n| <= lam off the support, = lam sign(w) on it
    g = grad_f(w)
    on = w != 0
    assert_allclose(g[on], -lam * np.sign(w[on]), atol=1e-9)
    assert np.all(np.abs(g[~on]) <= lam + 1e-9)


def test_lambda_zero_is_gd_and_monotone_decrease() -> None:
    X, y, lam, grad_f, L = lasso_problem(1)
    a = run_closed(ref.prox_grad(0.5 / L), np.zeros(8), grad_f, 5)
    b = run_closed(ref.gd(0.5 / L), np.zeros(8), grad_f, 5)
    assert_allclose(a, b, rtol=1e-15)

    def F(w: np.ndarray) -> float:
        r = X @ w - y
        return float(0.5 * r @ r / len(y) + lam * np.abs(w).sum())

    ws = run_closed(ref.prox_grad(1.0 / L, l1=lam), np.zeros(8), grad_f, 50)
    vals = [F(w) for w in ws]
    assert all(b <= a + 1e-15 for a, b in zip(vals, vals[1:]))


def test_purity_bare_step_and_bad_input() -> None:
    s0 = pg_init(readonly([1.0, -2.0]))
    g = readonly([0.5, 0.5])
    s1 = pg_step(s0, g, lr=0.1, l1=1.0)
    opt = ref.prox_grad(0.1, l1=1.0)
    assert_array_equal(s1.params, opt.step(opt.init([1.0, -2.0]), g).params)
    assert_allclose(s1.params, [0.85, -1.95])
    with pytest.raises(ValueError, match="l1 must be a finite number >= 0"):
        ref.prox_grad(0.1, l1=-1.0)
    with pytest.raises(ValueError, match="lr must be a finite number > 0"):
        ref.prox_grad(0.0)
    with pytest.raises(ValueError, match=r"grad has shape \(3,\) but params have shape \(2,\)"):
        opt.step(opt.init([1.0, -2.0]), np.zeros(3))

"""The gn_local_rate check's hand-written pieces: the quadratic-feature model and its derivatives
(against autograd on the plain residual function), theta* = 0 stationary at every noise scale, the
exact Taylor remainder bound K_t (against the exact GN step in mpmath), and the rounding bound of
one reference step (against the reference's step and the exact step)."""

from __future__ import annotations

import autograd
import numpy as np
import pytest
from numpy.testing import assert_allclose

import reference as ref
from theory_checks import gn_local_rate as chk

mp = chk._mp()  # mpmath's context (untyped)


def _problem(seed: int, rho: float) -> tuple[chk.QuadraticFeatures, chk.Derivatives]:
    X, z = chk._instance(np.random.default_rng(seed))
    y = chk._targets(chk._sigma_for(X, z, rho), z)
    return chk.QuadraticFeatures(X, y), chk.derivatives(X)


def _exact_gn_step(prob: chk.QuadraticFeatures, v: np.ndarray) -> np.ndarray:
    """theta - (J^T J)^{-1} J^T r at the float point v, in mpmath (40 digits), rounded at the end."""
    with mp.workdps(40):
        a, b = chk._mpa(prob.X[:, : chk.P]), chk._mpa(prob.X[:, chk.P :])
        th = chk._mpa(v)
        z = b @ th
        J = a + z[:, None] * b
        r = a @ th + z * z / 2 - chk._mpa(prob.y)
        x = chk._inverse(J.T @ J) @ (J.T @ r)
        return np.array([float(t) for t in th - x])


def test_model_values_and_the_replicated_derivatives() -> None:
    prob, der = _problem(0, 0.2)
    th = np.array([0.3, -0.2, 0.5])
    a, b = prob.X[:, : chk.P], prob.X[:, chk.P :]
    assert_allclose(prob.predict(th, prob.X)[:, 0], a @ th + 0.5 * (b @ th) ** 2, rtol=1e-14)
    rows = prob.predict_rowwise(np.tile(th, (chk.N, 1)), prob.X)
    assert_allclose(rows, prob.predict(th, prob.X), rtol=1e-14)
    # at theta* = 0: J_i = a_i and H_i = b_i b_i^T, as autograd finds on the plain residual function
    assert_allclose(der.J, autograd.jacobian(prob.residuals)(np.zeros(chk.P)), rtol=0, atol=0)
    H = autograd.jacobian(autograd.jacobian(prob.residuals))(np.zeros(chk.P))
    assert_allclose(der.H, H, rtol=1e-15, atol=0)
    assert_allclose(der.H, b[:, :, None] * b[:, None, :], rtol=1e-15, atol=0)


@pytest.mark.parametrize("rho", [0.0, 0.2, 0.4])
def test_theta_star_is_zero_exactly(rho: float) -> None:
    X, z = chk._instance(np.random.default_rng(1))
    sigma = chk._sigma_for(X, z, rho) if rho else 0.0
    prob = chk.QuadraticFeatures(X, chk._targets(sigma, z))
    assert np.all(autograd.grad(prob.loss)(np.zeros(chk.P)) == 0.0)  # J^T r* = 0 exactly
    opt = ref.gauss_newton(damping=0.0)
    assert np.all(opt.step(opt.init(np.zeros(chk.P)), prob).params == 0.0)


def test_designed_rate_and_gap() -> None:
    for seed in range(3):
        X, z = chk._instance(np.random.default_rng(seed))
        for rho in (0.05, 0.4):
            prob = chk.QuadraticFeatures(X, chk._targets(chk._sigma_for(X, z, rho), z))
            with mp.workdps(40):
                pred = chk.predict(prob, chk.derivatives(X), None)
            assert abs(pred.rho - rho) < 1e-12
            assert pred.norm_m >= pred.rho
            assert float(pred.lam1) > 0  # S* negative semidefinite: M's eigenvalues are >= 0


@pytest.mark.parametrize("scale", [3e-2, 1e-3, 1e-6])
def test_remainder_bounds_the_exact_step(scale: float) -> None:
    prob, der = _problem(2, 0.4)
    rng = np.random.default_rng(3)
    with mp.workdps(40):
        d = chk._data(prob.X)
        pred = chk.predict(prob, der, None)
        for _ in range(5):
            u = rng.standard_normal(chk.P)
            e = scale * u / np.linalg.norm(u)
            K = chk.remainder(d, pred, chk._mpa(e))
            e1 = chk._mpa(_exact_gn_step(prob, e))
            miss = float(chk._norm(e1 - pred.M @ chk._mpa(e)))
            assert miss <= K + 4 * chk.U * scale  # (+ the final rounding of the exact step)
            assert K <= 1e3 * scale**2  # O(e^2): the S*-term is h ~ ||e|| times ||e||


@pytest.mark.parametrize("phi", [False, True])
def test_step_rounding_bound_holds(phi: bool) -> None:
    prob, _ = _problem(4, 0.2)
    rng = np.random.default_rng(5)
    A = (np.linalg.qr(rng.standard_normal((3, 3)))[0] * np.logspace(0, 1, 3)) @ np.linalg.qr(
        rng.standard_normal((3, 3))
    )[0]
    b = rng.standard_normal(3)
    opt = ref.gauss_newton(damping=0.0)
    for scale in (0.3, 1e-3, 1e-8):
        v = scale * rng.standard_normal(3)
        if phi:
            info = chk._step_info(prob.X, prob.y, v, A, b)
            got = opt.step(opt.init(v), chk.Affine(prob, A, b)).params
            with mp.workdps(40):  # the exact phi-step: A^{-1} of the exact theta-step at A v + b (exact)
                Am = chk._mpa(A)
                th = Am @ chk._mpa(v) + chk._mpa(b)
                a_, b_ = chk._mpa(prob.X[:, : chk.P]), chk._mpa(prob.X[:, chk.P :])
                z = b_ @ th
                J = a_ + z[:, None] * b_
                r = a_ @ th + z * z / 2 - chk._mpa(prob.y)
                x = chk._inverse(Am) @ (chk._inverse(J.T @ J) @ (J.T @ r))
                miss = float(chk._norm(chk._mpa(got) - (chk._mpa(v) - x)))
        else:
            info = chk._step_info(prob.X, prob.y, v)
            got = opt.step(opt.init(v), prob).params
            with mp.workdps(40):
                miss = float(
                    chk._norm(chk._mpa(got) - chk._mpa(_exact_gn_step(prob, v)))
                ) - 2 * chk.U * float(np.linalg.norm(got))
        assert miss <= info.bound
        assert info.bound < 1e-6 * max(scale, float(np.linalg.norm(got)))  # a rounding-level bound

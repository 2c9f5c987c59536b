"""The empirical NTK, the linearised network in closed form and linear probing
(reference/experiments/ntk.py, specs/ntk.md): golden values worked by hand, the closed forms against
explicit GD on the linear model, properties (symmetry, PSD, limits), the probe's certificate, the
hand-written derivatives of the checks ntk_regression / linear_probe against autograd, bad input."""

from __future__ import annotations

import math
from typing import Any

import autograd
import autograd.numpy as anp
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import reference as ref
from reference import driver
from reference.experiments import ntk
from theory_checks import linear_probe as lp_check
from theory_checks import ntk_regression as nr


def linear(theta: Any, X: np.ndarray) -> Any:
    return anp.dot(X, theta)


def tanh_net(w: int) -> Any:
    def f(theta: Any, X: np.ndarray) -> Any:
        return nr.net(theta, X, w)

    return f


# ---------------------------------------------------------------------------------------------
# (NTK1)-(NTK2)


def test_gram_of_a_linear_model_is_x_xt_exactly() -> None:
    rng = np.random.default_rng(0)
    X, X2, th = rng.standard_normal((6, 3)), rng.standard_normal((4, 3)), rng.standard_normal(3)
    assert_array_equal(ntk.jacobian(linear, th, X), X)
    assert_allclose(ntk.ntk(linear, th, X), X @ X.T, rtol=1e-15, atol=1e-15)
    assert_allclose(ntk.ntk(linear, th, X, X2), X @ X2.T, rtol=1e-15, atol=1e-15)


def test_multi_output_rows_are_sample_major() -> None:
    rng = np.random.default_rng(1)
    X, th = rng.standard_normal((3, 2)), rng.standard_normal(2 * 4)

    def f(t: Any, Z: np.ndarray) -> Any:
        return anp.dot(Z, anp.reshape(t, (2, 4)))

    assert_allclose(ntk.ntk(f, th, X), np.kron(X @ X.T, np.eye(4)), atol=1e-14)
    assert ntk.outputs(f, th, X).shape == (12,)


def test_gram_is_symmetric_psd_and_the_cross_kernel_agrees() -> None:
    w = 64
    rng = np.random.default_rng(2)
    th, X = nr.init(w, rng), rng.standard_normal((7, 2))
    K = ntk.ntk(tanh_net(w), th, X)
    assert_array_equal(K, K.T)
    s = np.linalg.eigvalsh(K)
    assert s.min() >= -1e-13 * s.max()
    assert_allclose(ntk.ntk(tanh_net(w), th, X, X), K, rtol=1e-13, atol=1e-14)


def test_hand_jacobian_and_gradient_of_the_check_are_autograd() -> None:
    rng = np.random.default_rng(3)
    X, y, _ = nr.data()
    for mode in ("ntk", "standard"):
        w = 16
        th = nr.init(w, rng, mode)

        def f(t: Any, Z: np.ndarray) -> Any:
            return nr.net(t, Z, w, mode)

        assert_allclose(nr.jacobian_by_hand(th, X, w, mode), ntk.jacobian(f, th, X), rtol=1e-13, atol=1e-15)
        loss = autograd.grad(lambda t: 0.5 * anp.sum((f(t, X) - y) ** 2))
        assert_allclose(nr.grad(th, X, y, w, mode), loss(th), rtol=1e-12, atol=1e-14)


def test_standard_parametrisation_is_the_same_function_at_init() -> None:
    w = 32
    th = nr.init(w, np.random.default_rng(4))
    std = th.copy()
    std[3 * w :] /= math.sqrt(w)
    X = nr.data()[0]
    assert_allclose(nr.net(std, X, w, "standard"), nr.net(th, X, w), rtol=1e-14)


# ---------------------------------------------------------------------------------------------
# (NTK3)-(NTK6)


def test_golden_one_point() -> None:
    # specs/ntk.md, worked example (2): f = x theta, x = 2, y = 1, theta_0 = 0.
    f0 = np.zeros(1)
    fit = ntk.kernel_fit(np.array([[4.0]]), np.array([1.0]), f0)
    assert_allclose(ntk.kernel_predict(fit, np.array([[4.0]]), f0, lr=0.1, steps=2), [0.64], rtol=1e-15)
    assert_allclose(ntk.kernel_predict(fit, np.array([[6.0]]), f0, lr=0.1, steps=2), [0.96], rtol=1e-15)
    assert_allclose(ntk.kernel_predict(fit, np.array([[4.0]]), f0, t=0.3), [-math.expm1(-1.2)], rtol=1e-15)
    ridge = ntk.kernel_fit(np.array([[4.0]]), np.array([1.0]), f0, ridge=1.0)
    assert_allclose(ntk.kernel_predict(ridge, np.array([[4.0]]), f0), [0.8], rtol=1e-15)
    assert_allclose(ntk.kernel_predict(fit, np.array([[4.0]]), f0, t=0.0), [0.0], atol=0)


def _gd_on_linear(
    J: np.ndarray,
    Jt: np.ndarray,
    f0: np.ndarray,
    f0t: np.ndarray,
    y: np.ndarray,
    lr: float,
    k: int,
    lam: float,
) -> np.ndarray:
    """k steps of ref.gd on 1/2 ||f0 + J delta - y||^2 + lam/2 ||delta||^2 from delta = 0."""
    traj = driver.run(
        ref.gd(lr),
        None,
        np.zeros(J.shape[1]),
        k,
        grad=lambda d: J.T @ (f0 + J @ d - y) + lam * d,
        loss_every=None,
        record_params=False,
    )
    return np.asarray(f0t + Jt @ traj.final.params)


@pytest.mark.parametrize("lam", [0.0, 0.3])
def test_closed_form_equals_gd_steps_on_the_linearised_model(lam: float) -> None:
    w = 24
    rng = np.random.default_rng(5)
    f, th = tanh_net(w), nr.init(w, rng)
    X, y, Xt = nr.data()
    J, Jt = ntk.jacobian(f, th, X), ntk.jacobian(f, th, Xt)
    f0, f0t = ntk.outputs(f, th, X), ntk.outputs(f, th, Xt)
    lr, k = 0.2, 30
    got = ntk.linearised_predict(f, th, X, y, Xt, ridge=lam, lr=lr, steps=k)
    assert_allclose(got, _gd_on_linear(J, Jt, f0, f0t, y, lr, k, lam), rtol=1e-11, atol=1e-12)
    # the flow is the limit of many small steps: the error is O(eta) (halving eta halves it)
    T = 1.5
    flow = ntk.linearised_predict(f, th, X, y, Xt, ridge=lam, t=T)
    errs = [np.max(np.abs(_gd_on_linear(J, Jt, f0, f0t, y, T / m, m, lam) - flow)) for m in (200, 400, 800)]
    assert errs[2] < 2e-3
    assert 1.8 < errs[0] / errs[1] < 2.2 and 1.8 < errs[1] / errs[2] < 2.2


def test_converged_limits() -> None:
    w = 32
    rng = np.random.default_rng(6)
    f, th = tanh_net(w), nr.init(w, rng)
    X, y, Xt = nr.data()
    # interpolation at the training points (K invertible), kernel ridge by a direct solve
    assert_allclose(ntk.linearised_predict(f, th, X, y, X), y, atol=1e-10)
    K, Kc = ntk.ntk(f, th, X), ntk.ntk(f, th, Xt, X)
    f0, f0t = ntk.outputs(f, th, X), ntk.outputs(f, th, Xt)
    want = f0t + Kc @ np.linalg.solve(K + 0.5 * np.eye(K.shape[0]), y - f0)
    assert_allclose(ntk.linearised_predict(f, th, X, y, Xt, ridge=0.5), want, rtol=1e-11, atol=1e-12)
    # a long time approaches the converged predictor
    assert_allclose(ntk.linearised_predict(f, th, X, y, Xt, ridge=0.5, t=1e3), want, rtol=1e-9, atol=1e-10)


def test_singular_kernel_gives_the_minimum_norm_least_squares_fit() -> None:
    rng = np.random.default_rng(7)
    X, y, Xt = rng.standard_normal((6, 2)), rng.standard_normal(6), rng.standard_normal((3, 2))
    th = np.zeros(2)  # f0 = 0; p = 2 < n = 6: K = X X^T has rank 2
    got = ntk.linearised_predict(linear, th, X, y, Xt)
    assert_allclose(got, Xt @ np.linalg.lstsq(X, y, rcond=None)[0], rtol=1e-10)
    assert np.all(np.isfinite(ntk.linearised_predict(linear, th, X, y, Xt, t=1e6)))


def test_pure_inputs_untouched() -> None:
    rng = np.random.default_rng(8)
    K = np.array([[2.0, 0.5], [0.5, 1.0]])
    y, f0 = rng.standard_normal(2), rng.standard_normal(2)
    copies = (K.copy(), y.copy(), f0.copy())
    fit = ntk.kernel_fit(K, y, f0)
    ntk.kernel_predict(fit, K, f0, t=2.0)
    for a, b in zip((K, y, f0), copies):
        assert_array_equal(a, b)


# ---------------------------------------------------------------------------------------------
# (LP1)-(LP3)


def test_probe_golden_two_points() -> None:
    # specs/ntk.md, worked example (3): u/2 = 1/(1 + e^u), W* = (-u/2, u/2).
    lo, hi = 0.0, 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if mid / 2 < 1 / (1 + math.exp(mid)) else (lo, mid)
    u = 0.5 * (lo + hi)
    assert abs(u - 0.674832) < 1e-6
    Phi, y = np.array([[1.0], [-1.0]]), np.array([1, 0])
    for solver, start in (("newton", None), ("lbfgs", np.array([3.0, -2.0]))):
        pr = ntk.linear_probe(Phi, y, l2=1.0, fit_bias=False, solver=solver, theta0=start, tol=1e-10)  # type: ignore[arg-type]
        assert pr.converged and pr.bias is None
        assert_allclose(pr.weights, [[-u / 2, u / 2]], atol=1e-9)
        assert_allclose(pr.objective, math.log1p(math.exp(-u)) + u * u / 4, rtol=1e-14)


def test_probe_certificate_and_uniqueness() -> None:
    rng = np.random.default_rng(9)
    Phi, y = lp_check.features(rng)
    a = ntk.linear_probe(Phi, y, l2=0.01, n_classes=5, tol=1e-10)
    b = ntk.linear_probe(
        Phi, y, l2=0.01, n_classes=5, solver="lbfgs", theta0=rng.standard_normal(65), tol=1e-7
    )
    assert a.converged and b.converged and a.solver == "newton" and b.steps > a.steps
    assert np.linalg.norm(a.params - b.params) <= a.distance_bound + b.distance_bound
    assert abs(a.objective - b.objective) <= a.gap_bound + b.gap_bound + 1e-15
    G, _ = lp_check.check_grad(np.hstack([Phi, np.ones((Phi.shape[0], 1))]), y, b.params)
    assert_allclose(np.linalg.norm(G), b.grad_norm, rtol=1e-6)
    logits = a.predict(Phi)
    assert logits.shape == (100, 5) and a.bias is not None
    assert_allclose(logits, Phi @ a.weights + a.bias, rtol=1e-15)


def test_squared_probe_is_ridge_regression() -> None:
    rng = np.random.default_rng(10)
    Phi, Y = rng.standard_normal((30, 4)), rng.standard_normal((30, 2))
    lam = 0.1
    pr = ntk.linear_probe(Phi, Y, loss="squared", l2=lam, tol=1e-11)
    A = np.hstack([Phi, np.ones((30, 1))])
    want = np.linalg.solve(A.T @ A / 30 + lam * np.eye(5), A.T @ Y / 30)
    assert pr.bias is not None
    assert_allclose(np.vstack([pr.weights, pr.bias[None, :]]), want, rtol=1e-10, atol=1e-12)
    assert pr.predict(Phi).shape == (30, 2)


# ---------------------------------------------------------------------------------------------
# Bad input: one-line errors naming the argument and the constraint


def test_bad_input_kernel() -> None:
    th, X = np.zeros(2), np.ones((3, 2))
    with pytest.raises(TypeError, match="f must be callable"):
        ntk.jacobian(3, th, X)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="theta must have 1 dimensions"):
        ntk.jacobian(linear, np.zeros((2, 1)), X)
    with pytest.raises(ValueError, match="X must be non-empty and finite"):
        ntk.jacobian(linear, th, np.array([[np.nan, 1.0]]))
    with pytest.raises(ValueError, match=r"f\(theta, X\) must have shape"):
        ntk.jacobian(lambda t, Z: anp.sum(Z), th, X)
    with pytest.raises(ValueError, match="K must be a symmetric square matrix"):
        ntk.kernel_fit(np.ones((2, 3)), np.ones(2), np.ones(2))
    with pytest.raises(ValueError, match="y and f0 must have 2 entries"):
        ntk.kernel_fit(np.eye(2), np.ones(3), np.ones(3))
    with pytest.raises(ValueError, match="ridge must be a finite number >= 0"):
        ntk.kernel_fit(np.eye(2), np.ones(2), np.ones(2), ridge=-1.0)
    fit = ntk.kernel_fit(np.eye(2), np.ones(2), np.zeros(2))
    with pytest.raises(ValueError, match="t must be a finite number >= 0"):
        ntk.kernel_predict(fit, np.eye(2), np.zeros(2), t=-1.0)
    with pytest.raises(ValueError, match="give lr and steps together"):
        ntk.kernel_predict(fit, np.eye(2), np.zeros(2), lr=0.1)
    with pytest.raises(ValueError, match="either t .* or lr and steps"):
        ntk.kernel_predict(fit, np.eye(2), np.zeros(2), t=1.0, lr=0.1, steps=3)
    with pytest.raises(ValueError, match="steps must be an int >= 0"):
        ntk.kernel_predict(fit, np.eye(2), np.zeros(2), lr=0.1, steps=-1)
    with pytest.raises(ValueError, match="lr must be a finite number > 0"):
        ntk.kernel_predict(fit, np.eye(2), np.zeros(2), lr=0.0, steps=1)
    with pytest.raises(ValueError, match="K_cross must have 2 columns"):
        ntk.kernel_predict(fit, np.eye(3), np.zeros(3))
    with pytest.raises(ValueError, match="f0_cross must have 2 entries"):
        ntk.kernel_predict(fit, np.eye(2), np.zeros(3))


def test_bad_input_probe() -> None:
    Phi, y = np.ones((4, 2)), np.array([0, 1, 1, 0])
    with pytest.raises(ValueError, match="l2 must be a finite number > 0"):
        ntk.linear_probe(Phi, y, l2=0.0)
    with pytest.raises(ValueError, match="loss must be one of"):
        ntk.linear_probe(Phi, y, loss="hinge")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="solver must be one of"):
        ntk.linear_probe(Phi, y, solver="sgd")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="integer class labels >= 0"):
        ntk.linear_probe(Phi, y.astype(float))
    with pytest.raises(ValueError, match="integer class labels >= 0"):
        ntk.linear_probe(Phi, -y)
    with pytest.raises(ValueError, match="y must have one entry per row of features"):
        ntk.linear_probe(Phi, y[:3])
    with pytest.raises(ValueError, match=r"labels must lie in \[0, n_classes\)"):
        ntk.linear_probe(Phi, y + 3, n_classes=2)
    with pytest.raises(ValueError, match="theta0 must have 6 entries"):
        ntk.linear_probe(Phi, y, theta0=np.zeros(5))
    with pytest.raises(ValueError, match="max_steps must be an int >= 1"):
        ntk.linear_probe(Phi, y, max_steps=0)
    with pytest.raises(ValueError, match="features must be non-empty and finite"):
        ntk.linear_probe(np.full((4, 2), np.inf), y)

"""gd and sgd: golden values from specs/gd.md and specs/sgd.md, the closed form on least squares,
purity and bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

import reference as ref
from reference.first_order.gd import init as gd_init
from reference.first_order.gd import step as gd_step

from .helpers import readonly, run
from .strategies import params_and_grads


def _ls_grad(X: np.ndarray, y: np.ndarray):  # type: ignore[no-untyped-def]
    return lambda w: 2 * X.T @ (X @ w - y)


def test_gd_golden_least_squares() -> None:
    # specs/gd.md worked example: X = diag(1, 2), y = (1, 2), w0 = 0, eta = 0.1.
    X, y = np.diag([1.0, 2.0]), np.array([1.0, 2.0])
    opt = ref.gd(0.1)
    s = opt.init(np.zeros(2))
    s = opt.step(s, _ls_grad(X, y)(s.params))
    assert_allclose(s.params, [0.2, 0.8], rtol=1e-15)
    s = opt.step(s, _ls_grad(X, y)(s.params))
    assert_allclose(s.params, [0.36, 0.96], rtol=1e-15)


def test_gd_matches_closed_form_error_recursion() -> None:
    # note 002 eq. (4): e_t = (I - 2 eta X^T X)^t e_0 on L(w) = ||Xw - y||^2.
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((20, 5)), rng.standard_normal(20)
    w_star = np.linalg.lstsq(X, y, rcond=None)[0]
    eta = 0.5 / np.linalg.eigvalsh(X.T @ X).max()
    w0 = rng.standard_normal(5)
    grad = _ls_grad(X, y)
    opt, s = ref.gd(eta), ref.gd(eta).init(w0)
    M = np.eye(5) - 2 * eta * X.T @ X
    for t in range(1, 31):
        s = opt.step(s, grad(s.params))
        e_t = np.linalg.matrix_power(M, t) @ (w0 - w_star)
        assert_allclose(s.params - w_star, e_t, atol=1e-12 * (1 + np.abs(w0 - w_star).max()))


def test_sgd_golden_minibatch() -> None:
    # specs/sgd.md: l_i = (theta - a_i)^2 / 2, a = (0, 2, 4, 10), batches {2,3} then {4,4} (1-based).
    a = np.array([0.0, 2.0, 4.0, 10.0])
    opt = ref.sgd(0.5)
    s = opt.init(np.zeros(1))
    for batch in ([1, 2], [3, 3]):
        g = np.mean(s.params[0] - a[batch])
        s = opt.step(s, [g])
    assert_allclose(s.params, [5.75], rtol=1e-15)


@given(params_and_grads(n_grads=3), st.floats(1e-4, 1.0), st.floats(0.0, 1.0))
def test_sgd_step_equals_gd_step(xg: tuple[np.ndarray, list[np.ndarray]], lr: float, wd: float) -> None:
    x, gs = xg
    assert_array_equal(
        run(ref.gd(lr, weight_decay=wd), x, gs)[-1], run(ref.sgd(lr, weight_decay=wd), x, gs)[-1]
    )


@given(params_and_grads(n_grads=2))
def test_gd_purity(xg: tuple[np.ndarray, list[np.ndarray]]) -> None:
    x, gs = xg
    opt = ref.gd(0.1, weight_decay=0.01)
    s0 = opt.init(readonly(x))
    s0.params.setflags(write=False)
    s1 = opt.step(s0, readonly(gs[0]))
    assert_array_equal(s1.params, opt.step(s0, readonly(gs[0])).params)
    assert s1.t == 1 and s1.params.shape == x.shape


def test_gd_schedule_and_weight_decay_by_hand() -> None:
    opt = ref.gd(ref.schedules.step_decay(1.0, step_size=1, gamma=0.5), weight_decay=0.5)
    s = opt.init([2.0])
    s = opt.step(s, [1.0])  # eta_0 = 1: 2 - 1 * (1 + 0.5 * 2) = 0
    assert_allclose(s.params, [0.0])
    s = opt.step(s, [1.0])  # eta_1 = 0.5: 0 - 0.5 * (1 + 0) = -0.5
    assert_allclose(s.params, [-0.5])


def test_bare_gd_step_matches_factory() -> None:
    s = gd_step(gd_init(np.ones(3)), np.arange(3.0), lr=0.1)
    assert_array_equal(s.params, ref.gd(0.1).step(ref.gd(0.1).init(np.ones(3)), np.arange(3.0)).params)


@pytest.mark.parametrize("factory", [ref.gd, ref.sgd])
def test_bad_input(factory) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="lr must be a finite number > 0, got 0"):
        factory(0.0)
    with pytest.raises(ValueError, match="weight_decay must be a finite number >= 0"):
        factory(0.1, weight_decay=-1.0)
    with pytest.raises(TypeError):
        factory("0.1")
    opt = factory(0.1)
    with pytest.raises(ValueError, match="non-finite"):
        opt.step(opt.init([0.0]), [np.inf])
    with pytest.raises(ValueError, match="params must be finite"):
        opt.init([np.nan])

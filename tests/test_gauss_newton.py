"""Gauss-Newton: golden worked example, one step on linear least squares, line search, errors."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import reference as ref
from reference.curvature.gauss_newton import init as gn_init
from reference.curvature.gauss_newton import step as gn_step
from reference.curvature.linesearch import armijo
from reference.curvature.model_oracle import evaluate, gn_matrix
from reference.oracle import FunctionOracle
from reference.problems.linear import least_squares, ridge

from .curvature_models import mlp_problem, softmax_problem, square_problem
from .helpers import readonly


def test_gauss_newton_golden_three_steps() -> None:
    # specs/gauss_newton.md "Worked example": exact fractions 5/2, 41/20, 3281/1640.
    opt = ref.gauss_newton(damping=0.0)
    prob = square_problem(4.0)
    s = opt.init([1.0])
    s = opt.step(s, prob)
    assert_allclose(s.params, [2.5], rtol=1e-15)
    assert_allclose(s.loss, 9.0, rtol=1e-15)
    s = opt.step(s, prob)
    assert_allclose(s.params, [2.05], rtol=1e-15)
    s = opt.step(s, prob)
    assert_allclose(s.params, [3281 / 1640], rtol=1e-15)
    assert s.t == 3 and s.step_size == 1.0


@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_one_step_solves_linear_least_squares(reduction: str) -> None:
    # GN on L = ||Xw - y||^2 is Newton on a quadratic: one undamped step lands on the normal equations.
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((30, 5)), rng.standard_normal(30)
    prob = least_squares(X, y, reduction=reduction)  # type: ignore[arg-type]
    w_star = np.linalg.lstsq(X, y, rcond=None)[0]
    s = ref.gauss_newton(damping=0.0).step(ref.gauss_newton(damping=0.0).init(rng.standard_normal(5)), prob)
    assert_allclose(s.params, w_star, rtol=1e-12, atol=1e-13)


def test_one_step_solves_ridge_with_the_regulariser_in_G() -> None:
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((20, 4)), rng.standard_normal(20)
    prob = ridge(X, y, lam=0.7)
    s = ref.gauss_newton(damping=0.0).step(ref.gauss_newton().init(np.ones(4)), prob)
    assert_allclose(s.params, np.linalg.solve(X.T @ X + 0.7 * np.eye(4), X.T @ y), rtol=1e-12)


def test_damped_step_is_the_damped_solve() -> None:
    # Independent: build (G + lambda I) delta = -g from the record and solve with numpy.
    prob = mlp_problem(seed=2, n=20)
    theta = np.random.default_rng(2).standard_normal(prob.dim)
    rec = evaluate(prob, theta)
    delta = np.linalg.solve(gn_matrix(rec) + 0.1 * np.eye(prob.dim), -prob.grad(theta))
    s = ref.gauss_newton(damping=0.1).step(ref.gauss_newton().init(theta), prob)
    assert_allclose(s.params, theta + delta, rtol=1e-12, atol=1e-13)


def test_large_damping_tends_to_gradient_step() -> None:
    prob = softmax_problem(seed=3)
    theta = np.random.default_rng(3).standard_normal(prob.dim)
    lam = 1e8
    s = ref.gauss_newton(damping=lam).step(ref.gauss_newton().init(theta), prob)
    assert_allclose((s.params - theta) * lam, -prob.grad(theta), rtol=1e-6)


def test_line_search_satisfies_armijo_and_backtracks_when_needed() -> None:
    # F = theta^2 with target 4 started near 0: the full GN step overshoots wildly.
    prob = square_problem(4.0)
    opt = ref.gauss_newton(damping=0.0, line_search=True, c=1e-4)
    s0 = opt.init([0.05])
    s1 = opt.step(s0, prob)
    assert 0 < s1.step_size < 1
    delta = -(0.05**2 - 4) / (2 * 0.05)
    g = prob.grad(np.array([0.05]))[0]
    assert prob.loss(s1.params) <= prob.loss(np.array([0.05])) + 1e-4 * s1.step_size * g * delta
    # The step one halving longer fails Armijo (alpha is the first accepted power of beta).
    longer = 0.05 + 2 * s1.step_size * delta
    assert prob.loss(np.array([longer])) > prob.loss(np.array([0.05])) + 1e-4 * 2 * s1.step_size * g * delta
    # Without the line search the same step increases the loss.
    s_full = ref.gauss_newton(damping=0.0).step(opt.init([0.05]), prob)
    assert prob.loss(s_full.params) > prob.loss(np.array([0.05]))


def test_line_search_rejects_when_no_backtrack_suffices() -> None:
    prob = square_problem(4.0)
    opt = ref.gauss_newton(damping=0.0, line_search=True, max_backtracks=0)
    s = opt.step(opt.init([0.05]), prob)
    assert s.step_size == 0.0
    assert_array_equal(s.params, [0.05])


def test_line_search_is_linesearch_armijo() -> None:
    # (GN4) is the package's one Armijo backtracking: the accepted alpha is the one linesearch.armijo
    # returns for the same delta, loss, c and beta (recomputed here from the record and numpy's solve).
    prob = mlp_problem(seed=1, n=20, h=5)
    opt = ref.gauss_newton(damping=1e-2, line_search=True, c=0.3, beta=0.3)
    s = opt.init(np.random.default_rng(1).standard_normal(prob.dim) * 1.5)
    alphas = []
    for _ in range(6):
        rec = evaluate(prob, s.params)
        delta = np.linalg.solve(gn_matrix(rec) + 1e-2 * np.eye(prob.dim), -prob.grad(s.params))
        res = armijo(FunctionOracle(prob.loss), s.params, delta, c1=0.3, rho=0.3, max_iter=30)
        s = opt.step(s, prob)
        assert s.step_size == (res.alpha if res.converged else 0.0)
        alphas.append(s.step_size)
    assert any(0 < a < 1 for a in alphas), alphas  # some step backtracked


def test_ascent_direction_is_rejected() -> None:
    # The bare step with negative damping makes G + lambda I negative definite: delta goes uphill
    # (g^T delta > 0), and the line search rejects it instead of searching along it.
    prob = square_problem(4.0)
    s = gn_step(gn_init(np.array([1.0])), prob, damping=-10.0, line_search=True)
    assert s.step_size == 0.0
    assert_array_equal(s.params, [1.0])
    # the same step without the line search moves uphill: delta = -g / (8 - 10) = -6
    full = gn_step(gn_init(np.array([1.0])), prob, damping=-10.0)
    assert_allclose(full.params, [-5.0], rtol=1e-15)
    assert prob.loss(full.params) > prob.loss(np.array([1.0]))


def test_gauss_newton_decreases_mlp_loss() -> None:
    prob = mlp_problem(seed=4, n=20, h=5)
    opt = ref.gauss_newton(damping=1e-2, line_search=True)
    s = opt.init(np.random.default_rng(4).standard_normal(prob.dim) * 0.5)
    losses = []
    for _ in range(8):
        s = opt.step(s, prob)
        losses.append(float(s.loss))
    assert all(b <= a + 1e-15 for a, b in zip(losses, losses[1:]))
    assert prob.loss(s.params) < 0.5 * losses[0]


def test_purity_and_bare_step() -> None:
    prob = softmax_problem(seed=5)
    x = readonly(np.random.default_rng(5).standard_normal(prob.dim))
    opt = ref.gauss_newton(damping=0.01)
    s0 = opt.init(x)
    s0.params.setflags(write=False)
    a, b = opt.step(s0, prob), opt.step(s0, prob)
    assert_array_equal(a.params, b.params)
    c = gn_step(gn_init(np.array(x)), prob, damping=0.01)
    assert_array_equal(a.params, c.params)
    assert s0.t == 0 and a.t == 1


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(damping=-1.0), "damping must be a finite number >= 0"),
        (dict(damping=float("inf")), "damping"),
        (dict(c=0.0), r"gauss_newton: c must be in \(0, 1\), got 0.0"),
        (dict(c=1.0), r"gauss_newton: c must be in \(0, 1\), got 1.0"),
        (dict(beta=1.5), r"gauss_newton: beta must be in \(0, 1\), got 1.5"),
        (dict(max_backtracks=-1), "max_backtracks must be an integer >= 0"),
        (dict(activation="sigmoid"), "activation must be one of None, 'relu', 'tanh', 'identity'"),
    ],
)
def test_bad_hyperparameters(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ref.gauss_newton(**kwargs)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="gauss_newton: max_backtracks must be an integer >= 0, got 2.5"):
        ref.gauss_newton(max_backtracks=2.5)  # type: ignore[arg-type]


def test_bad_input() -> None:
    opt = ref.gauss_newton()
    with pytest.raises(TypeError, match="gauss_newton: line_search must be True or False"):
        ref.gauss_newton(line_search="yes")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="gauss_newton: the input must be a model"):
        opt.step(opt.init(np.zeros(3)), np.zeros(3))
    with pytest.raises(ValueError, match=r"gauss_newton: params has shape \(3,\), the problem needs \(9,\)"):
        opt.step(opt.init(np.zeros(3)), softmax_problem())

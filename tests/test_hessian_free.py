"""Hessian-free: golden step, equality with the dense damped GN solve, CG stopping, damping rule, errors."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import reference as ref
from reference.curvature.hessian_free import init as hf_init
from reference.curvature.hessian_free import step as hf_step
from reference.curvature.hessian_free import truncated_cg
from reference.curvature.model_oracle import evaluate, gn_matrix, gn_vector_product

from .curvature_models import expfit_problem, mlp_problem, softmax_problem, square_problem
from .helpers import readonly


def test_hf_golden_one_step() -> None:
    # specs/hessian_free.md "Worked example".
    opt = ref.hessian_free(damping=1.0)
    s = opt.step(opt.init([1.0]), square_problem(4.0))
    assert_allclose(s.params, [7 / 3], rtol=1e-15)
    assert_allclose(s.rho, 7 / 9, rtol=1e-14)
    assert_allclose(s.damping, 2 / 3, rtol=1e-15)
    assert s.cg_iters == 1
    assert_allclose(s.delta, [4 / 3], rtol=1e-15)


def test_one_step_equals_dense_damped_gauss_newton() -> None:
    # With max_cg >= p and a tight tolerance CG solves (G + lambda I) delta = -g exactly.
    prob = mlp_problem(seed=1, n=20, l2=0.01)
    theta = np.random.default_rng(1).standard_normal(prob.dim) * 0.5
    lam = 0.5
    rec = evaluate(prob, theta)
    delta = np.linalg.solve(gn_matrix(rec) + lam * np.eye(prob.dim), -rec.grad)
    opt = ref.hessian_free(damping=lam, max_cg=10 * prob.dim, cg_tol=1e-13, progress_eps=1e-30)
    s = opt.step(opt.init(theta), prob)
    assert_allclose(s.delta, delta, rtol=1e-8, atol=1e-10)
    if s.rho > 0:
        assert_allclose(s.params, theta + delta, rtol=1e-8, atol=1e-10)


def test_truncated_cg_solves_spd_and_respects_cap() -> None:
    rng = np.random.default_rng(2)
    Q = np.linalg.qr(rng.standard_normal((8, 8)))[0]
    A = Q @ np.diag(np.logspace(0, 3, 8)) @ Q.T
    b = rng.standard_normal(8)
    x, it = truncated_cg(lambda v: A @ v, b, np.zeros(8), max_iter=100, tol=1e-12, progress_eps=1e-30)
    assert_allclose(A @ x, b, rtol=1e-9, atol=1e-10)
    assert it <= 16  # 8 in exact arithmetic; kappa = 1e3 costs a few more in float64
    _, it2 = truncated_cg(lambda v: A @ v, b, np.zeros(8), max_iter=3, tol=0.0, progress_eps=1e-30)
    assert it2 == 3
    # Warm start at the solution: zero iterations.
    _, it3 = truncated_cg(
        lambda v: A @ v, b, np.linalg.solve(A, b), max_iter=100, tol=1e-8, progress_eps=5e-4
    )
    assert it3 == 0


def test_martens_progress_test_stops_early() -> None:
    # Ill-conditioned system: the relative-progress test stops long before the iteration cap.
    rng = np.random.default_rng(3)
    n = 300
    A = np.diag(np.logspace(0, 6, n))
    b = rng.standard_normal(n)
    _, it = truncated_cg(lambda v: A @ v, b, np.zeros(n), max_iter=1000, tol=0.0, progress_eps=5e-4)
    _, it_full = truncated_cg(lambda v: A @ v, b, np.zeros(n), max_iter=1000, tol=0.0, progress_eps=1e-300)
    assert 10 < it < it_full


def test_damping_rule() -> None:
    prob = square_problem(4.0)
    s = ref.hessian_free(damping=1e-6).step(ref.hessian_free(damping=1e-6).init([0.05]), prob)
    assert s.rho < 0.25 and s.damping == 1.5e-6
    assert_array_equal(s.params, [0.05])  # rejected
    # (HF6): the rejected CG solution is kept as the warm start, delta = -g / (G + lambda)
    # with G = 8 theta^2 = 0.02, g = 4 theta (theta^2 - 4) = -0.7995
    assert_allclose(s.delta, [0.7995 / (0.02 + 1e-6)], rtol=1e-13)
    s = ref.hessian_free(damping=0.01).step(ref.hessian_free(damping=0.01).init([2.1]), prob)
    assert s.rho > 0.75 and s.damping == pytest.approx(0.01 * 2 / 3, rel=1e-15)


def test_warm_start_after_a_rejected_step() -> None:
    # (HF6): after a rejection theta stays and lambda grows by 3/2; the next CG run starts from
    # zeta delta_rejected (the CG run is repeated here from that start with the same damped GN
    # products), which needs fewer iterations than a start from 0 on this problem.
    prob = mlp_problem(seed=0, n=30, h=6)
    opt = ref.hessian_free(damping=1e-4, max_cg=60)
    s = opt.init(np.random.default_rng(0).standard_normal(prob.dim))
    while True:
        nxt = opt.step(s, prob)
        if nxt.rho <= 0:
            break
        s = nxt
    assert_array_equal(nxt.params, s.params)
    assert nxt.damping == pytest.approx(1.5 * s.damping, rel=1e-15)
    after = opt.step(nxt, prob)
    rec = evaluate(prob, nxt.params, jacobians=False)

    def B(v: np.ndarray) -> Any:
        return gn_vector_product(prob, rec, v) + nxt.damping * v

    delta, iters = truncated_cg(B, -rec.grad, 0.95 * nxt.delta, max_iter=60, tol=1e-10, progress_eps=5e-4)
    assert iters == after.cg_iters
    assert_allclose(after.delta, delta, rtol=1e-12, atol=1e-15)
    cold = opt.step(dataclasses.replace(nxt, delta=np.zeros(prob.dim)), prob)
    assert after.cg_iters < cold.cg_iters


def test_converged_fit_stays_finite_and_zero_gradient_is_rejected() -> None:
    # At a minimum reached to rounding every step is rejected (rho = 0): lambda grows by 3/2 up to
    # max_damping; at an exact stationary point (g = 0, delta = 0) rho is 0, not 0/0.
    prob = expfit_problem(seed=2)
    opt = ref.hessian_free(damping=1e-2, max_damping=1e6)
    s = opt.init([1.0, 0.0])
    with np.errstate(all="raise"):
        for _ in range(200):
            s = opt.step(s, prob)
    assert s.damping == 1e6 and s.rho == 0.0 and np.all(np.isfinite(s.params))
    assert np.linalg.norm(prob.grad(s.params)) < 1e-7
    sq = ref.hessian_free(damping=1.0)
    with np.errstate(all="raise"):
        z = sq.step(sq.init([2.0]), square_problem(4.0))
    assert z.rho == 0.0 and z.damping == 1.5 and z.params[0] == 2.0


def test_hf_decreases_softmax_loss_to_minimum() -> None:
    prob = softmax_problem(seed=4, n=40)
    opt = ref.hessian_free(damping=1.0)
    s = opt.init(np.zeros(prob.dim))
    for _ in range(15):
        s = opt.step(s, prob)
    assert np.linalg.norm(prob.grad(s.params)) < 1e-6


def test_purity_and_bare_step() -> None:
    prob = softmax_problem(seed=5)
    x = readonly(np.random.default_rng(5).standard_normal(prob.dim))
    opt = ref.hessian_free(damping=0.3)
    s0 = opt.init(x)
    s0.params.setflags(write=False)
    a, b = opt.step(s0, prob), opt.step(s0, prob)
    assert_array_equal(a.params, b.params)
    c = hf_step(hf_init(np.array(x), damping=0.3), prob)
    assert_array_equal(a.params, c.params)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(damping=0.0), "damping must be a finite number > 0"),
        (dict(zeta=1.0), r"zeta must be in \[0, 1\)"),
        (dict(max_cg=0), "max_cg must be an integer >= 1"),
        (dict(cg_tol=-1.0), "cg_tol must be a finite number >= 0"),
        (dict(progress_eps=0.0), "progress_eps must be a finite number > 0"),
        (dict(min_damping=-1.0), "min_damping"),
        (dict(max_damping=0.0), "max_damping must be a finite number > 0"),
        (
            dict(damping=2.0, max_damping=1.0),
            r"hessian_free: damping must lie in \[min_damping, max_damping\]",
        ),
        (
            dict(damping=0.5, min_damping=1.0),
            r"hessian_free: damping must lie in \[min_damping, max_damping\]",
        ),
    ],
)
def test_bad_hyperparameters(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ref.hessian_free(**kwargs)  # type: ignore[arg-type]


def test_bad_input() -> None:
    opt = ref.hessian_free()
    with pytest.raises(TypeError, match="hessian_free: the input must be a model"):
        opt.step(opt.init(np.zeros(2)), 3.0)

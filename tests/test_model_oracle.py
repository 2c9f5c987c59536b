"""The curvature record: Jacobians, output Hessians, gradient and G (v) against independent autograd."""

from __future__ import annotations

import autograd
import autograd.numpy as anp
import numpy as np
import pytest
from numpy.testing import assert_allclose

from reference.curvature.model_oracle import (
    evaluate,
    gn_matrix,
    gn_vector_product,
    loss_at,
    output_derivatives,
    per_sample_jacobians,
)
from reference.problems.linear import least_squares, logistic_regression

from .curvature_models import mlp_problem, softmax_problem


def test_jacobians_match_full_autograd_jacobian() -> None:
    # Independent reference: autograd.jacobian of the whole (n, m) output (n*m backward passes).
    prob = mlp_problem(seed=1, n=12, h=3)
    theta = np.random.default_rng(1).standard_normal(prob.dim)
    J = per_sample_jacobians(prob, theta)
    ref_J = autograd.jacobian(lambda q: prob.predict(q, prob.X))(theta)  # (n, m, p)
    assert J.shape == (12, 3, prob.dim)
    assert_allclose(J, ref_J, rtol=1e-13, atol=1e-14)


def test_output_hessian_of_softmax_is_diag_p_minus_ppT() -> None:
    prob = softmax_problem(seed=2, n=10, m=4)
    theta = np.random.default_rng(2).standard_normal(prob.dim)
    O = prob.predict(theta, prob.X)
    g, H = output_derivatives(prob, O)
    P = np.exp(O - O.max(1, keepdims=True))
    P /= P.sum(1, keepdims=True)
    closed = np.stack([np.diag(p) - np.outer(p, p) for p in P])
    assert_allclose(H, closed, rtol=1e-12, atol=1e-15)
    assert_allclose(g, P - np.eye(4)[prob.y.astype(int)], rtol=1e-12, atol=1e-15)


def test_output_hessian_of_squares_is_2I() -> None:
    rng = np.random.default_rng(3)
    prob = least_squares(rng.standard_normal((8, 3)), rng.standard_normal(8))
    _, H = output_derivatives(prob, prob.predict(rng.standard_normal(3), prob.X))
    assert_allclose(H, np.full((8, 1, 1), 2.0), rtol=0, atol=0)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_record_grad_and_loss_equal_problem(reduction: str) -> None:
    prob = mlp_problem(seed=4, n=15, l2=0.3)
    prob = type(prob)(name="m", X=prob.X, y=prob.y, reduction=reduction, l2=0.3, hidden=4, classes=3)  # type: ignore[arg-type]
    theta = np.random.default_rng(4).standard_normal(prob.dim)
    for jac in (True, False):
        rec = evaluate(prob, theta, jacobians=jac)
        assert_allclose(rec.grad, prob.grad(theta), rtol=1e-12, atol=1e-14)
        assert_allclose(rec.loss, prob.loss(theta), rtol=1e-14)
    assert_allclose(loss_at(prob, theta), prob.loss(theta), rtol=1e-14)


def test_gn_matrix_is_hessian_for_linear_models() -> None:
    # For a linear model F = X w the second-order term vanishes: G equals autograd's Hessian of L.
    rng = np.random.default_rng(5)
    X = rng.standard_normal((40, 4))
    y = (rng.random(40) < 0.5).astype(float)
    prob = logistic_regression(X, y, l2=0.1)
    w = rng.standard_normal(4)
    assert_allclose(gn_matrix(evaluate(prob, w)), autograd.hessian(prob.loss)(w), rtol=1e-12, atol=1e-15)
    prob2 = least_squares(X, rng.standard_normal(40), reduction="mean")
    assert_allclose(gn_matrix(evaluate(prob2, w)), 2 * X.T @ X / 40, rtol=1e-13)


def test_gn_matrix_is_JT_H_J_with_autograd_hessian_in_logits() -> None:
    # Independent construction: J from autograd.jacobian, H_i from autograd.hessian of l_i in o_i.
    prob = mlp_problem(seed=6, n=10, h=3)
    theta = np.random.default_rng(6).standard_normal(prob.dim)
    J = autograd.jacobian(lambda q: prob.predict(q, prob.X))(theta)
    O = prob.predict(theta, prob.X)
    G = np.zeros((prob.dim, prob.dim))
    for i in range(10):
        Hi = autograd.hessian(lambda o: prob.losses_from_outputs(o[None, :], prob.y[i : i + 1])[0])(O[i])
        G += J[i].T @ Hi @ J[i] / 10
    assert_allclose(gn_matrix(evaluate(prob, theta)), G, rtol=1e-12, atol=1e-15)


def test_gn_vector_product_matrix_free_equals_dense() -> None:
    prob = mlp_problem(seed=7, n=20, l2=0.05)
    rng = np.random.default_rng(7)
    theta, v = rng.standard_normal(prob.dim), rng.standard_normal(prob.dim)
    rec = evaluate(prob, theta)
    assert_allclose(gn_vector_product(prob, rec, v), gn_matrix(rec) @ v, rtol=1e-12, atol=1e-14)


def test_gn_matrix_is_psd_for_convex_losses() -> None:
    prob = mlp_problem(seed=8, n=20)
    rec = evaluate(prob, np.random.default_rng(8).standard_normal(prob.dim))
    assert np.linalg.eigvalsh(gn_matrix(rec)).min() > -1e-12


def test_bad_inputs() -> None:
    with pytest.raises(TypeError, match="lacks .*predict_rowwise"):
        evaluate(object(), np.zeros(2))  # type: ignore[arg-type]
    prob = softmax_problem()
    with pytest.raises(ValueError, match=r"params has shape \(2,\), the problem needs \(9,\)"):
        evaluate(prob, np.zeros(2))
    with pytest.raises(ValueError, match="finite"):
        evaluate(prob, np.full(9, np.nan))
    rec = evaluate(prob, np.zeros(9), jacobians=False)
    with pytest.raises(ValueError, match="no Jacobians"):
        gn_matrix(rec)


def test_record_is_differentiable_by_autograd() -> None:
    # The record is built from autograd primitives: d/dtheta of g^T G^{-1} g exists and matches
    # a central difference (the only finite difference here: it checks autograd itself).
    prob = softmax_problem(seed=9, n=12)
    theta = np.random.default_rng(9).standard_normal(prob.dim) * 0.3

    def f(q: np.ndarray) -> float:
        rec = evaluate(prob, q)
        G = gn_matrix(rec) + 1e-1 * anp.eye(prob.dim)
        return anp.dot(rec.grad, anp.linalg.solve(G, rec.grad))  # type: ignore[no-any-return]

    d = np.random.default_rng(10).standard_normal(prob.dim)
    h = 1e-5
    fd = (f(theta + h * d) - f(theta - h * d)) / (2 * h)
    assert_allclose(autograd.grad(f)(theta) @ d, fd, rtol=1e-6)


def test_dense_layerwise_jacobians_equal_replicated_params() -> None:
    from reference.curvature.model_oracle import dense_jacobians
    from reference.problems.peaks import peaks

    prob = mlp_problem(seed=11, n=9, h=4)
    theta = np.random.default_rng(11).standard_normal(prob.dim)
    assert_allclose(
        dense_jacobians(prob, theta, "tanh"), per_sample_jacobians(prob, theta), rtol=1e-13, atol=1e-15
    )
    pk = peaks(width=6, n_samples=50, n_train=40)
    th = pk.init_params(np.random.default_rng(0))
    assert_allclose(dense_jacobians(pk, th, "relu"), per_sample_jacobians(pk, th), rtol=1e-13, atol=1e-15)
    rec_a, rec_b = evaluate(pk, th, activation="relu"), evaluate(pk, th)
    assert_allclose(gn_matrix(rec_a), gn_matrix(rec_b), rtol=1e-12, atol=1e-15)
    with pytest.raises(ValueError, match="not a dense MLP with activation='tanh'"):
        evaluate(pk, th, activation="tanh")
    with pytest.raises(ValueError, match="activation must be one of"):
        evaluate(pk, th, activation="gelu")
    with pytest.raises(TypeError, match="needs unflatten"):
        evaluate(softmax_problem(), np.zeros(9), activation="relu")

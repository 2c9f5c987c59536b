"""G of a dense MLP from its Kronecker factors (``dense_gn_matrix``, issue 13 item 3) equals the
dense J^T H J of ``gn_matrix`` and makes the same Gauss-Newton step as the generic path."""

from __future__ import annotations

import autograd
import numpy as np
import pytest
from numpy.testing import assert_allclose

import reference as ref
from reference.curvature.model_oracle import dense_gn_matrix, evaluate, gn_matrix
from reference.problems.peaks import peaks

from .curvature_models import mlp_problem


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / np.abs(b).max())


@pytest.mark.parametrize("width", [3, 32])
def test_equals_the_dense_product_on_peaks(width: int) -> None:
    prob = peaks(width=width, n_samples=300, n_train=200)
    theta = prob.init_params(np.random.default_rng(1))
    expected = gn_matrix(evaluate(prob, theta, activation="relu"))
    got = dense_gn_matrix(prob, evaluate(prob, theta, jacobians=False), "relu")
    assert got.shape == (prob.dim, prob.dim)
    assert _rel(got, expected) < 1e-13
    assert np.array_equal(got, got.T)


@pytest.mark.parametrize("loss_kind", ["softmax", "square"])
def test_equals_the_dense_product_with_l2(loss_kind: str) -> None:
    prob = mlp_problem(seed=2, loss_kind=loss_kind, l2=0.3)
    theta = np.random.default_rng(3).standard_normal(prob.dim)
    rec = evaluate(prob, theta)  # generic per-sample Jacobians
    got = dense_gn_matrix(prob, evaluate(prob, theta, jacobians=False), "tanh")
    assert _rel(got, gn_matrix(rec)) < 1e-13


def test_gauss_newton_step_is_the_generic_step() -> None:
    prob = peaks(width=8, n_samples=200, n_train=150)
    theta = prob.init_params(np.random.default_rng(0))
    generic, layered = ref.gauss_newton(damping=1e-3), ref.gauss_newton(damping=1e-3, activation="relu")
    a, b = generic.init(theta), layered.init(theta)
    for _ in range(3):
        a, b = generic.step(a, prob), layered.step(b, prob)
        assert_allclose(b.params, a.params, rtol=1e-12, atol=1e-12 * np.abs(a.params).max())


def test_differentiable_in_the_damping() -> None:
    """d/dlambda of the loss after one step through the factored G = central difference."""
    prob = peaks(width=4, n_samples=120, n_train=100)
    theta = prob.init_params(np.random.default_rng(0))

    def loss_after(lam: float) -> float:
        gn = ref.gauss_newton(damping=lam, activation="relu")
        loss: float = prob.loss(gn.step(gn.init(theta), prob).params)
        return loss

    h = 1e-6
    fd = (loss_after(0.1 + h) - loss_after(0.1 - h)) / (2 * h)
    assert_allclose(autograd.grad(loss_after)(0.1), fd, rtol=1e-5)

"""Natural gradient: golden step, true Fisher = GN for softmax, expectation vs autograd, empirical Fisher,
invariance under linear reparametrisation, errors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import autograd
import autograd.numpy as anp
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import reference as ref
from reference.curvature.model_oracle import evaluate, gn_matrix
from reference.curvature.natural_gradient import fisher_matrix
from reference.curvature.natural_gradient import init as ng_init
from reference.curvature.natural_gradient import step as ng_step
from reference.problems.linear import least_squares, logistic_regression

from .curvature_models import mlp_problem, softmax_problem
from .helpers import readonly


def test_natural_gradient_golden_one_step() -> None:
    # specs/natural_gradient.md "Worked example": theta_1 = (2/9, 4/9) for both Fishers.
    prob = logistic_regression(np.array([[1.0, 2.0]]), np.array([1.0]))
    for fisher in ("true", "empirical"):
        opt = ref.natural_gradient(lr=1.0, damping=1.0, fisher=fisher)
        s = opt.step(opt.init([0.0, 0.0]), prob)
        assert_allclose(s.params, [2 / 9, 4 / 9], rtol=1e-15)


def test_true_fisher_equals_gn_matrix_for_softmax_and_logistic() -> None:
    prob = mlp_problem(seed=1, n=15)
    rec = evaluate(prob, np.random.default_rng(1).standard_normal(prob.dim))
    assert_allclose(
        fisher_matrix(prob, rec, fisher="true", likelihood="categorical"),
        gn_matrix(rec),
        rtol=1e-12,
        atol=1e-15,
    )
    rng = np.random.default_rng(2)
    lp = logistic_regression(rng.standard_normal((20, 3)), (rng.random(20) < 0.5).astype(float), l2=0.2)
    rec = evaluate(lp, rng.standard_normal(3))
    assert_allclose(
        fisher_matrix(lp, rec, fisher="true", likelihood="categorical"),
        gn_matrix(rec),
        rtol=1e-12,
        atol=1e-15,
    )


def test_true_fisher_is_expected_score_outer_product_by_autograd() -> None:
    # Independent: F = (1/n) sum_i sum_c p(c|x_i) grad log p(c|x_i) grad log p(c|x_i)^T with the
    # score from autograd.grad of the per-sample log-likelihood (a loop over samples and classes).
    prob = mlp_problem(seed=3, n=6, h=3)
    theta = np.random.default_rng(3).standard_normal(prob.dim)
    F = np.zeros((prob.dim, prob.dim))
    for i in range(6):
        xi = prob.X[i : i + 1]
        for c in range(3):

            def logp(q: Any, xi: Any = xi, c: int = c) -> Any:
                return -prob.losses_from_outputs(prob.predict(q, xi), np.array([float(c)]))[0]

            score = autograd.grad(logp)(theta)
            F += np.exp(logp(theta)) * np.outer(score, score) / 6
    rec = evaluate(prob, theta)
    assert_allclose(
        fisher_matrix(prob, rec, fisher="true", likelihood="categorical"), F, rtol=1e-11, atol=1e-14
    )


def test_empirical_fisher_is_mean_outer_product_of_per_sample_grads() -> None:
    prob = mlp_problem(seed=4, n=10)
    theta = np.random.default_rng(4).standard_normal(prob.dim)
    G = prob.per_sample_grads(theta)  # (n, p), problems' own replicated-params pass
    rec = evaluate(prob, theta)
    assert_allclose(
        fisher_matrix(prob, rec, fisher="empirical", likelihood="categorical"),
        G.T @ G / 10,
        rtol=1e-12,
        atol=1e-15,
    )


def test_gaussian_likelihood_fisher_is_gn_of_least_squares() -> None:
    rng = np.random.default_rng(5)
    X = rng.standard_normal((12, 3))
    prob = least_squares(X, rng.standard_normal(12), reduction="mean")
    rec = evaluate(prob, rng.standard_normal(3))
    assert_allclose(
        fisher_matrix(prob, rec, fisher="true", likelihood="gaussian"), 2 * X.T @ X / 12, rtol=1e-13
    )
    with pytest.raises(ValueError, match="not a normalised categorical"):
        fisher_matrix(prob, rec, fisher="true", likelihood="categorical")
    with pytest.raises(ValueError, match="likelihood='gaussian' needs a loss"):
        soft = softmax_problem()
        fisher_matrix(soft, evaluate(soft, np.ones(soft.dim)), fisher="true", likelihood="gaussian")


@dataclass(frozen=True, eq=False)
class Reparam:
    """The problem in phi with theta = B phi (a linear reparametrisation)."""

    base: Any
    B: np.ndarray

    def __getattr__(self, name: str) -> Any:
        return getattr(self.base, name)

    def predict(self, phi: Any, X: Any) -> Any:
        return self.base.predict(anp.dot(self.B, phi), X)

    def predict_rowwise(self, phis: Any, X: Any) -> Any:
        return self.base.predict_rowwise(anp.dot(phis, self.B.T), X)

    def loss(self, phi: Any) -> Any:
        return self.base.loss(anp.dot(self.B, phi))


def test_invariance_under_linear_reparametrisation() -> None:
    # Undamped natural gradient: B phi_t = theta_t for all t (F_phi = B^T F B, grad_phi = B^T grad).
    rng = np.random.default_rng(6)
    X = rng.standard_normal((40, 3))
    prob = logistic_regression(X, (rng.random(40) < 0.5).astype(float))
    B = rng.standard_normal((3, 3)) + 3 * np.eye(3)
    rp = Reparam(prob, B)
    opt = ref.natural_gradient(lr=0.5, damping=0.0)
    theta0 = rng.standard_normal(3)
    sa, sb = opt.init(theta0), opt.init(np.linalg.solve(B, theta0))
    for _ in range(4):
        sa, sb = opt.step(sa, prob), opt.step(sb, rp)
        assert_allclose(B @ sb.params, sa.params, rtol=1e-10)
    gd_a, gd_b = theta0.copy(), np.linalg.solve(B, theta0)
    for _ in range(4):
        gd_a = gd_a - 0.5 * prob.grad(gd_a)
        gd_b = gd_b - 0.5 * B.T @ prob.grad(B @ gd_b)
    assert np.linalg.norm(B @ gd_b - gd_a) > 1e-2  # plain GD is not invariant


def test_lr_and_damping_enter_as_written() -> None:
    prob = softmax_problem(seed=7)
    theta = np.random.default_rng(7).standard_normal(prob.dim)
    rec = evaluate(prob, theta)
    F = fisher_matrix(prob, rec, fisher="empirical", likelihood="categorical")
    want = theta - 0.3 * np.linalg.solve(F + 0.1 * np.eye(prob.dim), prob.grad(theta))
    opt = ref.natural_gradient(lr=0.3, damping=0.1, fisher="empirical")
    assert_allclose(opt.step(opt.init(theta), prob).params, want, rtol=1e-12)


def test_purity_and_bare_step() -> None:
    prob = softmax_problem(seed=8)
    x = readonly(np.random.default_rng(8).standard_normal(prob.dim))
    opt = ref.natural_gradient(lr=0.5, damping=0.1)
    s0 = opt.init(x)
    s0.params.setflags(write=False)
    a, b = opt.step(s0, prob), opt.step(s0, prob)
    assert_array_equal(a.params, b.params)
    c = ng_step(ng_init(np.array(x)), prob, lr=0.5, damping=0.1)
    assert_array_equal(a.params, c.params)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(lr=0.0), "lr must be a finite number > 0"),
        (dict(damping=-1.0), "damping must be a finite number >= 0"),
        (dict(fisher="observed"), "fisher must be one of"),
        (dict(likelihood="poisson"), "likelihood must be one of"),
        (dict(activation="gelu"), "activation must be one of"),
    ],
)
def test_bad_hyperparameters(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ref.natural_gradient(**kwargs)  # type: ignore[arg-type]


def test_bad_input() -> None:
    opt = ref.natural_gradient()
    with pytest.raises(TypeError, match="natural_gradient: the input must be a model"):
        opt.step(opt.init(np.zeros(2)), None)

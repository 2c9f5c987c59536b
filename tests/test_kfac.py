"""K-FAC: golden one-layer step, the one-sample Kronecker identity, factor averaging, inverse refresh,
sampled targets, the Kronecker solve, bad input."""

from __future__ import annotations

from decimal import Decimal, getcontext

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import reference as ref
from reference.curvature.kfac import damped_inverses, factors
from reference.curvature.kfac import init as kfac_init
from reference.curvature.kfac import step as kfac_step
from reference.curvature.model_oracle import evaluate
from reference.curvature.natural_gradient import fisher_matrix
from reference.problems import pack, unpack
from reference.problems.linear import least_squares

from .curvature_models import DenseLogistic, TinyMLP, mlp_problem, softmax_problem
from .helpers import readonly


def _wbar_index(prob: TinyMLP, layer: int) -> np.ndarray:
    """Flat indices of layer ``layer``'s Wbar = [W b] (out x (in+1)), row-major, in theta's layout."""
    W, b = unpack(np.arange(prob.dim), prob.shapes)[2 * layer : 2 * layer + 2]
    return np.concatenate([W, b[:, None]], axis=1).ravel()


def test_kfac_golden_one_layer() -> None:
    # specs/kfac.md "Worked example", closed form evaluated with 40-digit decimals.
    getcontext().prec = 40
    c = Decimal("0.1") * Decimal(10).sqrt()
    S = Decimal(1) / 4 + Decimal("0.1") / Decimal(10).sqrt()
    w1 = -1 / ((5 + c) * S)
    prob = DenseLogistic(name="one", X=np.array([[2.0]]), y=np.array([0.0]))
    opt = ref.kfac(lr=1.0, damping=1e-2, activation="identity", targets="exact")
    s = opt.step(opt.init([0.0, 0.0]), prob)
    assert_allclose(s.params, [float(w1), float(w1 / 2)], rtol=1e-14)
    assert_allclose(s.A[0], [[4.0, 2.0], [2.0, 1.0]], rtol=1e-15)
    assert_allclose(s.S[0], [[0.25]], rtol=1e-15)


@pytest.mark.parametrize("layer", [0, 1])
def test_one_sample_kronecker_is_exact_fisher_block(layer: int) -> None:
    # n = 1, exact expectation over the classes: the layer's true Fisher block is S (x) A exactly.
    prob = mlp_problem(seed=1, n=1, d=2, h=3, m=3)
    theta = np.random.default_rng(1).standard_normal(prob.dim)
    A, S, _, _ = factors(prob, theta, activation="tanh", targets="exact", rng=None)
    F = fisher_matrix(prob, evaluate(prob, theta), fisher="true", likelihood="categorical")
    idx = _wbar_index(prob, layer)
    block = F[np.ix_(idx, idx)]
    assert_allclose(np.kron(S[layer], A[layer]), block, rtol=1e-12, atol=1e-15)


def test_many_samples_kronecker_is_an_approximation() -> None:
    # With n > 1 the expectation of a Kronecker product is not the product of expectations.
    prob = mlp_problem(seed=2, n=20, d=2, h=3, m=3)
    theta = np.random.default_rng(2).standard_normal(prob.dim)
    A, S, _, _ = factors(prob, theta, activation="tanh", targets="exact", rng=None)
    F = fisher_matrix(prob, evaluate(prob, theta), fisher="true", likelihood="categorical")
    idx = _wbar_index(prob, 0)
    assert np.linalg.norm(np.kron(S[0], A[0]) - F[np.ix_(idx, idx)]) > 1e-3 * np.linalg.norm(
        F[np.ix_(idx, idx)]
    )


def test_factor_gradient_and_loss_equal_problem() -> None:
    prob = mlp_problem(seed=3, n=15, l2=0.1)
    theta = np.random.default_rng(3).standard_normal(prob.dim)
    _, _, grads, loss = factors(prob, theta, activation="tanh", targets="empirical", rng=None)
    flat = pack([part for g in grads for part in (g[:, :-1], g[:, -1])])  # Wbar_l -> W_l, b_l
    assert_allclose(flat, prob.grad(theta), rtol=1e-12, atol=1e-15)
    assert_allclose(loss, prob.loss(theta), rtol=1e-14)


def test_empirical_S_is_outer_product_of_observed_deltas() -> None:
    # For the last (linear) layer delta = d l / d o, so S_emp = s sum_i (p_i - e_yi)(p_i - e_yi)^T.
    prob = mlp_problem(seed=4, n=12)
    theta = np.random.default_rng(4).standard_normal(prob.dim)
    _, S, _, _ = factors(prob, theta, activation="tanh", targets="empirical", rng=None)
    rec = evaluate(prob, theta, jacobians=False)
    assert_allclose(S[1], rec.out_grad.T @ rec.out_grad / 12, rtol=1e-12)


def test_sampled_targets_are_unbiased_for_exact_S() -> None:
    prob = mlp_problem(seed=5, n=4, h=3)
    theta = np.random.default_rng(5).standard_normal(prob.dim)
    _, S_exact, _, _ = factors(prob, theta, activation="tanh", targets="exact", rng=None)
    draws = [
        factors(prob, theta, activation="tanh", targets="sampled", rng=np.random.default_rng(k))[1][1]
        for k in range(400)
    ]
    D = np.array(draws)
    mean, se = D.mean(0), D.std(0, ddof=1) / np.sqrt(len(D))
    # 5 standard errors elementwise (about 1 in 1.7 million per entry by the CLT).
    assert np.all(np.abs(mean - S_exact[1]) <= 5 * se + 1e-12)


def test_averaging_and_inverse_refresh() -> None:
    prob = mlp_problem(seed=6, n=10)
    theta = np.random.default_rng(6).standard_normal(prob.dim) * 0.5
    opt = ref.kfac(lr=0.1, damping=0.1, activation="tanh", targets="exact", inverse_every=3)
    s1 = opt.step(opt.init(theta), prob)
    A2hat, S2hat, _, _ = factors(prob, s1.params, activation="tanh", targets="exact", rng=None)
    s2 = opt.step(s1, prob)
    assert_allclose(s2.A[0], 0.5 * s1.A[0] + 0.5 * A2hat[0], rtol=1e-14)  # eps_2 = min(1/2, 0.95)
    assert_allclose(s2.S[1], 0.5 * s1.S[1] + 0.5 * S2hat[1], rtol=1e-14)
    s3 = opt.step(s2, prob)
    assert s3.A_inv[0] is s1.A_inv[0] and s2.S_inv[1] is s1.S_inv[1]  # not refreshed at t = 2, 3
    s4 = opt.step(s3, prob)
    Ai, Si = damped_inverses(s4.A[0], s4.S[0], 0.1)
    assert_allclose(s4.A_inv[0], Ai, rtol=1e-13)
    assert_allclose(s4.S_inv[0], Si, rtol=1e-13)


def test_update_is_the_kronecker_solve() -> None:
    # (S_d (x) A_d)^{-1} vec_row(grad) == vec_row(S_d^{-1} grad A_d^{-1}), checked with np.kron.
    prob = mlp_problem(seed=7, n=10)
    theta = np.random.default_rng(7).standard_normal(prob.dim)
    opt = ref.kfac(lr=1.0, damping=0.05, activation="tanh", targets="exact")
    s = opt.step(opt.init(theta), prob)
    _, _, grads, _ = factors(prob, theta, activation="tanh", targets="exact", rng=None)
    for layer, g in enumerate(grads):
        idx = _wbar_index(prob, layer)
        Ad = np.linalg.inv(s.A_inv[layer])
        Sd = np.linalg.inv(s.S_inv[layer])
        step = np.linalg.solve(np.kron(Sd, Ad), g.ravel())
        assert_allclose(s.params[idx] - theta[idx], -step, rtol=1e-10, atol=1e-13)


def test_sampled_targets_need_a_generator() -> None:
    prob = mlp_problem(seed=5, n=4, h=3)
    with pytest.raises(ValueError, match="kfac: targets='sampled' needs rng, a numpy.random.Generator"):
        factors(prob, np.zeros(prob.dim) + 0.1, activation="tanh", targets="sampled", rng=None)


def test_sampled_is_deterministic_in_seed() -> None:
    prob = mlp_problem(seed=8, n=10)
    theta = np.random.default_rng(8).standard_normal(prob.dim)
    a = ref.kfac(activation="tanh", seed=1)
    b = ref.kfac(activation="tanh", seed=2)
    sa1, sa2, sb = a.step(a.init(theta), prob), a.step(a.init(theta), prob), b.step(b.init(theta), prob)
    assert_array_equal(sa1.params, sa2.params)
    assert not np.array_equal(sa1.params, sb.params)


def test_kfac_trains_mlp() -> None:
    prob = mlp_problem(seed=9, n=30, h=6)
    opt = ref.kfac(lr=0.5, damping=1e-2, activation="tanh")
    s = opt.init(np.random.default_rng(9).standard_normal(prob.dim) * 0.5)
    l0 = prob.loss(s.params)
    for _ in range(20):
        s = opt.step(s, prob)
    assert prob.loss(s.params) < 0.6 * l0


def test_purity_and_bare_step() -> None:
    prob = mlp_problem(seed=10, n=8)
    x = readonly(np.random.default_rng(10).standard_normal(prob.dim))
    opt = ref.kfac(lr=0.3, damping=0.1, activation="tanh")
    s0 = opt.init(x)
    s0.params.setflags(write=False)
    a, b = opt.step(s0, prob), opt.step(s0, prob)
    assert_array_equal(a.params, b.params)
    c = kfac_step(kfac_init(np.array(x)), prob, lr=0.3, damping=0.1, activation="tanh")
    assert_array_equal(a.params, c.params)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(lr=-1.0), "lr must be a finite number > 0"),
        (dict(damping=0.0), "damping must be a finite number > 0"),
        (dict(activation="gelu"), "activation must be one of"),
        (dict(targets="model"), "targets must be one of"),
        (dict(decay=1.0), r"decay must be in \[0, 1\)"),
        (dict(inverse_every=0), "inverse_every must be an integer >= 1"),
        (dict(seed=-1), "seed must be an integer >= 0"),
    ],
)
def test_bad_hyperparameters(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ref.kfac(**kwargs)  # type: ignore[arg-type]


def test_bad_input() -> None:
    prob = mlp_problem(seed=11, n=5)
    theta = np.zeros(prob.dim) + 0.1
    with pytest.raises(ValueError, match="not a dense MLP with activation='relu'"):
        ref.kfac(activation="relu").step(ref.kfac().init(theta), prob)
    soft = softmax_problem()
    with pytest.raises(TypeError, match="needs unflatten"):
        ref.kfac().step(ref.kfac().init(np.zeros(soft.dim)), soft)
    rng = np.random.default_rng(0)
    ls = least_squares(rng.standard_normal((5, 2)), rng.standard_normal(5))
    with pytest.raises(TypeError, match="needs unflatten"):
        ref.kfac().step(ref.kfac().init(np.zeros(2)), ls)
    with pytest.raises(ValueError, match=r"kfac: params has shape \(3,\)"):
        ref.kfac(activation="tanh").step(ref.kfac().init(np.zeros(3)), prob)
    sq = mlp_problem(seed=12, n=5, loss_kind="squares")
    with pytest.raises(ValueError, match="not a normalised categorical NLL"):
        ref.kfac(activation="tanh").step(ref.kfac().init(np.zeros(sq.dim) + 0.1), sq)
    ok = ref.kfac(activation="tanh", targets="empirical").step(ref.kfac().init(np.zeros(sq.dim) + 0.1), sq)
    assert ok.t == 1

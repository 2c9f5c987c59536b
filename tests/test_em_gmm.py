"""EM for Gaussian mixtures: the hand 1-D example (specs/em_gmm.md), monotone log-likelihood at
every step (note 004's "Monotonic"), the MAP objective with a ridge, recovery of well-separated
components, stability of the E-step far from every mean, sklearn (if installed), bad input."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import reference as ref
from reference.latent_variable.em_gmm import e_step, init_from_data, log_likelihood, objective
from reference.latent_variable.em_gmm import init as em_init
from reference.latent_variable.em_gmm import step as em_step

from .helpers import readonly

U = 2.0**-53


def _sigmoid(a: float) -> float:
    return 1.0 / (1.0 + math.exp(-a))


def _phi(z: float) -> float:
    return math.exp(-z * z / 2) / math.sqrt(2 * math.pi)


def _mixture(seed: int, n: int = 300, sep: float = 3.0) -> tuple[np.ndarray, np.ndarray]:
    """Three 2-D Gaussian clusters with random covariances, centres sep * (random unit-ish)."""
    rng = np.random.default_rng(seed)
    centres = sep * np.array([[0.0, 0.0], [1.0, 0.2], [0.3, 1.0]])
    labels = rng.integers(0, 3, n)
    A = rng.standard_normal((3, 2, 2)) * 0.5 + np.eye(2)
    X = centres[labels] + np.einsum("nij,nj->ni", A[labels], rng.standard_normal((n, 2)))
    return X, labels


def test_em_gmm_golden_one_dimensional_step() -> None:
    # specs/em_gmm.md "Worked example": X = (-2, -1, 1, 2), mu = (-1, 1), sigma^2 = 1, pi = 1/2.
    # log N(x|-1,1) - log N(x|1,1) = -2x, so r_i1 = sigmoid(-2 x_i) = (s(4), s(2), s(-2), s(-4));
    # N_1 = 2 (s(a) + s(-a) = 1), mu_1 = -(2 tanh 2 + tanh 1)/2, sigma_1^2 = sum r x^2 / 2 - mu_1^2
    # = 5/2 - mu_1^2 (sum_i r_i1 x_i^2 = 4 + 1), and by symmetry mu_2 = -mu_1, sigma_2 = sigma_1.
    X = np.array([[-2.0], [-1.0], [1.0], [2.0]])
    opt = ref.em_gmm()
    s = opt.step(opt.init([[-1.0], [1.0]]), X)
    mu1 = -(2 * math.tanh(2.0) + math.tanh(1.0)) / 2
    assert_allclose(s.params, [[mu1], [-mu1]], rtol=1e-15)
    assert_allclose(s.covs, [[[2.5 - mu1**2]], [[2.5 - mu1**2]]], rtol=1e-14)
    assert_allclose(s.weights, [0.5, 0.5], rtol=1e-15)
    ll0 = 2 * math.log((_phi(1) + _phi(3)) / 2) + 2 * math.log((_phi(0) + _phi(2)) / 2)
    assert s.loglik is not None and math.isclose(s.loglik, ll0, rel_tol=1e-15)
    assert math.isclose(ll0, -7.15818697713690773, rel_tol=1e-15)
    resp, _ = e_step(X, np.full(2, 0.5), np.array([[-1.0], [1.0]]), np.ones((2, 1, 1)))
    assert_allclose(resp[:, 0], [_sigmoid(4), _sigmoid(2), _sigmoid(-2), _sigmoid(-4)], rtol=1e-15)
    assert s.t == 1


@pytest.mark.parametrize("seed", range(6))
def test_loglik_never_decreases_at_any_step(seed: int) -> None:
    # Dempster et al. Theorem 1: l(theta_t) >= l(theta_{t-1}). The only slack is the float64
    # rounding of two evaluations of l (a sum of n log-sum-exps of d^2-term quadratic forms):
    # 2 * 8 (n + d^2 + K) u max|l|.
    X, _ = _mixture(seed)
    opt = ref.em_gmm()
    s = init_from_data(X, 3, np.random.default_rng(seed + 100))
    lls = [log_likelihood(X, s.weights, s.params, s.covs)]
    for _ in range(40):
        s = opt.step(s, X)
        assert s.loglik is not None
        assert math.isclose(s.loglik, lls[-1], rel_tol=1e-13)  # EM2 is l at the previous theta
        lls.append(log_likelihood(X, s.weights, s.params, s.covs))
    diffs = np.diff(lls)
    tol = 16 * (X.shape[0] + 4 + 3) * U * np.abs(lls).max()
    assert diffs.min() >= -tol, diffs.min()
    assert lls[-1] > lls[0] + 1.0  # it does climb
    assert diffs[-5:].max() < 1e-2 * (lls[-1] - lls[0])  # and levels off


@pytest.mark.parametrize("seed", range(3))
def test_ridge_em_increases_the_map_objective(seed: int) -> None:
    X, _ = _mixture(seed, n=120)
    a = 0.5
    opt = ref.em_gmm(reg_covar=a)
    s = init_from_data(X, 3, np.random.default_rng(seed))
    js = [objective(X, s.weights, s.params, s.covs, reg_covar=a)]
    for _ in range(30):
        s = opt.step(s, X)
        js.append(objective(X, s.weights, s.params, s.covs, reg_covar=a))
    assert np.diff(js).min() >= -1e-10 * np.abs(js).max()
    # the ridge of (EM5) is a I / N_k: Sigma_k - a I / N_k is the weighted scatter, which is PSD
    nk = s.weights * X.shape[0]
    for k in range(3):
        assert np.linalg.eigvalsh(s.covs[k] - a * np.eye(2) / nk[k]).min() > -1e-12


def test_recovers_well_separated_components() -> None:
    # Separation 20 sd: every responsibility is 0 or 1 to within e^-40, so EM's fixed point is the
    # per-cluster sample mean, the ddof-0 sample covariance and the cluster fractions.
    X, labels = _mixture(7, n=600, sep=20.0)
    init_means = np.array([X[labels == k][0] for k in range(3)])  # one point of each cluster
    opt = ref.em_gmm()
    s = opt.init(init_means)
    for _ in range(30):
        s = opt.step(s, X)
    for k in range(3):
        Xk = X[labels == k]
        assert_allclose(s.params[k], Xk.mean(axis=0), rtol=1e-10, atol=1e-10)
        assert_allclose(s.covs[k], np.cov(Xk, rowvar=False, bias=True), rtol=1e-9, atol=1e-10)
        assert math.isclose(s.weights[k], len(Xk) / len(X), rel_tol=1e-10)


def test_e_step_is_stable_far_from_every_mean() -> None:
    # A point 1e3 sd away: every density underflows to 0 in linear space (0/0 = NaN naively);
    # log-sum-exp gives the right responsibilities (the nearer mean takes it) and a finite l.
    X = np.array([[1000.0], [0.0]])
    w, m, c = np.full(2, 0.5), np.array([[0.0], [1.0]]), np.ones((2, 1, 1))
    with np.errstate(under="ignore"):
        assert np.exp(-0.5 * 1000.0**2) == 0.0
    resp, ll = e_step(X, w, m, c)
    assert np.all(np.isfinite(resp)) and math.isfinite(ll)
    # r_21 / r_11 for x = 1000: exp(-(999^2 - 1000^2)/2) = exp(999.5): component 2 takes it all
    assert_allclose(resp[0], [0.0, 1.0], atol=1e-300)
    want = math.log(0.5) - 0.5 * math.log(2 * math.pi) - 0.5 * 999.0**2 + math.log1p(math.exp(-999.5))
    want += math.log(0.5 * (_phi(0) + _phi(1)))
    assert math.isclose(ll, want, rel_tol=1e-14)


def test_matches_sklearn_if_installed() -> None:
    mixture = pytest.importorskip(
        "sklearn.mixture", reason="scikit-learn is not installed (not a dependency)"
    )
    X, _ = _mixture(3)
    s0 = init_from_data(X, 3, np.random.default_rng(0))
    n_steps = 10
    gm = mixture.GaussianMixture(
        n_components=3,
        covariance_type="full",
        reg_covar=0.0,
        max_iter=n_steps,
        tol=0.0,
        weights_init=s0.weights,
        means_init=s0.params,
        precisions_init=np.linalg.inv(s0.covs),
        init_params="random",
    )
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning: max_iter reached, on purpose
        gm.fit(X)
    s = s0
    for _ in range(n_steps):
        s = ref.em_gmm().step(s, X)
    assert_allclose(s.params, gm.means_, rtol=1e-8, atol=1e-10)
    assert_allclose(s.covs, gm.covariances_, rtol=1e-8, atol=1e-10)
    assert_allclose(s.weights, gm.weights_, rtol=1e-8)


def test_step_is_pure_and_bare_step_equals_factory() -> None:
    X = readonly(_mixture(1, n=50)[0])
    opt = ref.em_gmm(reg_covar=1e-3, cov0=2.0)
    s0 = opt.init(readonly([[0.0, 0.0], [3.0, 1.0]]))
    assert_allclose(s0.covs, [2.0 * np.eye(2)] * 2)
    for f in ("params", "weights", "covs"):
        getattr(s0, f).setflags(write=False)
    a, b = opt.step(s0, X), opt.step(s0, X)
    assert_array_equal(a.params, b.params)
    assert_array_equal(a.covs, b.covs)
    bare = em_step(em_init(np.array([[0.0, 0.0], [3.0, 1.0]]), cov0=2.0), np.array(X), reg_covar=1e-3)
    assert_array_equal(bare.params, a.params)
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.t = 2  # type: ignore[misc]
    assert "em_gmm" in ref.ALGORITHMS and repr(opt).startswith("ref.em_gmm(")


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="reg_covar must be a finite number >= 0"):
        ref.em_gmm(reg_covar=-1.0)
    with pytest.raises(ValueError, match="cov0 must be a finite number > 0"):
        ref.em_gmm(cov0=0.0)
    opt = ref.em_gmm()
    with pytest.raises(ValueError, match=r"means\) must be a \(K, d\) array, got shape \(3,\)"):
        opt.init([1.0, 2.0, 3.0])
    s = opt.init([[0.0, 0.0], [1.0, 1.0]])
    with pytest.raises(ValueError, match=r"X has shape \(5, 3\) but the means have d = 2"):
        opt.step(s, np.zeros((5, 3)))
    with pytest.raises(ValueError, match="X has n = 1 rows; need n >= K = 2"):
        opt.step(s, np.zeros((1, 2)))
    with pytest.raises(ValueError, match="X must be finite"):
        opt.step(s, np.array([[0.0, np.nan], [1.0, 1.0]]))
    with pytest.raises(TypeError, match="needs the data X"):
        opt.step(s, "data")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="n_components must be an integer >= 1"):
        init_from_data(np.zeros((4, 2)), 0, np.random.default_rng(0))
    with pytest.raises(ValueError, match="data covariance is not positive definite"):
        init_from_data(np.zeros((4, 2)), 2, np.random.default_rng(0))
    # a component that owns a single point collapses (Sigma = 0) without a ridge: a clear error
    X = np.array([[0.0], [0.1], [-0.1], [50.0]])
    collapsed = opt.step(opt.init([[0.0], [50.0]]), X)
    with pytest.raises(ValueError, match="Sigma_1 is not positive definite"):
        opt.step(collapsed, X)
    # the ridge keeps it positive definite
    ridge = ref.em_gmm(reg_covar=1e-3)
    s2 = ridge.step(ridge.step(ridge.init([[0.0], [50.0]]), X), X)
    assert math.isclose(s2.covs[1, 0, 0], 1e-3, rel_tol=1e-6)

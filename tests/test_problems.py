"""reference.problems: gradients, per-sample laws, minibatch unbiasedness, closed forms, Peaks, bad input."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from autograd import hessian
from numpy.testing import assert_allclose, assert_array_equal

from reference import problems as P

# ----------------------------------------------------------------------------------------------
# Small instances


def _data(seed: int, n: int = 12, d: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)), rng.standard_normal(n)


def _logistic(reduction: str = "mean", l2: float = 0.1) -> P.LogisticRegression:
    X, y, _ = P.make_logistic_data(np.random.default_rng(3), 40, 3)
    return P.logistic_regression(X, y, l2=l2, reduction=reduction)  # type: ignore[arg-type]


FINITE_SUMS: dict[str, Callable[[], Any]] = {
    "ls_sum": lambda: P.least_squares(*_data(0)),
    "ls_mean": lambda: P.least_squares(*_data(0), reduction="mean"),
    "ridge_sum": lambda: P.ridge(*_data(1), 0.7),
    "ridge_mean": lambda: P.ridge(*_data(1), 0.7, reduction="mean"),
    "logistic_mean": lambda: _logistic(),
    "logistic_sum": lambda: _logistic("sum"),
    "peaks_w4": lambda: P.peaks(width=4, n_samples=60, n_train=40, seed=2),
}


def _point(prob: Any, seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if isinstance(prob, P.Peaks):
        return prob.init_params(rng)
    return rng.standard_normal(prob.dim)


def central_fd(f: Callable[[np.ndarray], Any], x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Central finite difference of a scalar function, coordinate by coordinate."""
    out = np.empty_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e[i] = h
        out[i] = (float(f(x + e)) - float(f(x - e))) / (2 * h)
    return out


# ----------------------------------------------------------------------------------------------
# Gradients and the finite-sum laws


@pytest.mark.parametrize("name", list(FINITE_SUMS))
def test_grad_matches_central_difference(name: str) -> None:
    prob = FINITE_SUMS[name]()
    x = _point(prob)
    g = prob.grad(x)
    assert g.shape == (prob.dim,)
    assert_allclose(g, central_fd(prob.loss, x), rtol=1e-6, atol=1e-7)


def test_quadratic_grad_matches_central_difference_and_closed_form() -> None:
    q = P.quadratic([0.5, 1.0, 4.0, 9.0], seed=4)
    x = np.array([1.0, -2.0, 0.5, 3.0])
    assert_allclose(q.grad(x), central_fd(q.loss, x), rtol=1e-7, atol=1e-8)
    assert_allclose(q.grad(x), q.A @ (x - q.minimizer), rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("name", list(FINITE_SUMS))
def test_per_sample_quantities_reduce_to_full(name: str) -> None:
    prob = FINITE_SUMS[name]()
    x = _point(prob)
    G = prob.per_sample_grads(x)
    ls = prob.per_sample_losses(x)
    assert G.shape == (prob.n_samples, prob.dim) and ls.shape == (prob.n_samples,)
    red = np.mean if prob.reduction == "mean" else np.sum
    assert_allclose(red(G, axis=0), prob.grad(x), rtol=1e-12, atol=1e-13)
    assert_allclose(red(ls), prob.loss(x), rtol=1e-13)
    # each row is the gradient of its own l_i (finite difference of sample 3's loss)
    fd = central_fd(lambda z: prob.per_sample_losses(z, np.array([3]))[0], x)
    assert_allclose(G[3], fd, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", list(FINITE_SUMS))
def test_per_sample_grads_closed_form_equals_replicated_params(name: str) -> None:
    prob = FINITE_SUMS[name]()
    x = _point(prob)
    idx = np.array([5, 0, 5, 2])
    assert_allclose(
        prob.per_sample_grads(x, idx), prob.per_sample_grads_autograd(x, idx), rtol=1e-12, atol=1e-13
    )
    assert_allclose(prob.per_sample_grads(x, idx), prob.per_sample_grads(x)[idx], rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("name", list(FINITE_SUMS))
def test_model_plus_loss_decomposition(name: str) -> None:
    # L = reduce(losses_from_outputs(predict(theta, X), y)) + (l2/2)||theta||^2
    prob = FINITE_SUMS[name]()
    x = _point(prob)
    out = prob.predict(x, prob.X)
    assert out.shape == (prob.n_samples, prob.output_dim)
    data = prob.losses_from_outputs(out, prob.y)
    red = np.mean if prob.reduction == "mean" else np.sum
    assert_allclose(red(data) + 0.5 * prob.l2 * x @ x, prob.loss(x), rtol=1e-13)
    # the row-wise model with every row equal to theta is the model
    assert_allclose(
        prob.predict_rowwise(np.tile(x, (prob.n_samples, 1)), prob.X), out, rtol=1e-13, atol=1e-14
    )
    assert isinstance(prob, P.FiniteSumProblem)


@pytest.mark.parametrize("name", list(FINITE_SUMS))
def test_reduction_scale_turns_sum_and_mean_into_the_loss(name: str) -> None:
    # L = s sum_i l_i = c mean_i l_i, with the l_i (regulariser share included) of per_sample_losses
    prob = FINITE_SUMS[name]()
    x = _point(prob)
    li = prob.per_sample_losses(x)
    N = prob.n_samples
    s, c = P.reduction_scale(prob), P.reduction_scale(prob, of="mean")
    assert (s, c) == ((1.0 / N, 1.0) if prob.reduction == "mean" else (1.0, float(N)))
    assert_allclose(s * np.sum(li), prob.loss(x), rtol=1e-13)
    assert_allclose(c * np.mean(li), prob.loss(x), rtol=1e-13)


def test_reduction_scale_of_bare_objects_and_bad_reductions() -> None:
    class Rows:  # a model without n_samples: N is the number of rows of X
        X = np.zeros((7, 2))
        reduction = "mean"

    assert P.reduction_scale(Rows()) == 1 / 7 and P.reduction_scale(Rows(), of="mean") == 1.0

    class NoReduction:  # the FiniteSum protocol without a reduction attribute is a mean
        n_samples = 4

    assert P.reduction_scale(NoReduction(), of="mean") == 1.0 and P.reduction_scale(NoReduction()) == 0.25
    bad = NoReduction()
    bad.reduction = "max"  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="problem.reduction must be 'mean' or 'sum', got 'max'"):
        P.reduction_scale(bad)
    with pytest.raises(ValueError, match="of must be 'sum' or 'mean'"):
        P.reduction_scale(Rows(), of="median")  # type: ignore[arg-type]


def test_pack_unpack_is_the_row_major_layout() -> None:
    shapes = ((2, 3), (2,), (1, 2), (1,))
    theta = np.arange(11.0)
    W1, b1, W2, b2 = P.unpack(theta, shapes)
    assert_array_equal(W1, [[0, 1, 2], [3, 4, 5]])
    assert_array_equal(b1, [6, 7])
    assert_array_equal(W2, [[8, 9]])
    assert_array_equal(b2, [10])
    assert_array_equal(P.pack([W1, b1, W2, b2]), theta)
    # leading batch axes: rows of a stack of parameter vectors unpack to stacked arrays
    Theta = np.stack([theta, -theta])
    W1s, b1s, _, b2s = P.unpack(Theta, shapes)
    assert W1s.shape == (2, 2, 3) and b2s.shape == (2, 1)
    assert_array_equal(W1s[1], -W1)
    assert_array_equal(P.pack([W1s, b1s, *P.unpack(Theta, shapes)[2:]], lead=1), Theta)
    # Peaks' flatten/unflatten are this layout
    prob = P.peaks(width=3, n_samples=10, n_train=8)
    x = np.random.default_rng(0).standard_normal(prob.dim)
    assert all(a.shape == s for a, s in zip(prob.unflatten(x), prob.shapes))
    assert_array_equal(P.pack(prob.unflatten(x)), x)


# ----------------------------------------------------------------------------------------------
# Minibatches


@pytest.mark.parametrize("name", ["ls_sum", "ridge_mean", "logistic_mean", "peaks_w4"])
@pytest.mark.parametrize("replace", [True, False])
def test_minibatch_grad_is_unbiased(name: str, replace: bool) -> None:
    # The average of K minibatch gradients has mean grad L and, per coordinate, standard error
    # sigma_j / sqrt(b K) (times the finite-population factor (N - b)/(N - 1) without
    # replacement), sigma_j^2 the population variance of the per-sample gradients (times N^2
    # for "sum"). Allow 5 standard errors (two-sided 5.7e-7 per coordinate).
    prob = FINITE_SUMS[name]()
    x = _point(prob)
    b, K, N = 5, 2000, prob.n_samples
    rng = np.random.default_rng(11)
    avg = np.mean([prob.minibatch_grad(x, rng, b, replace=replace) for _ in range(K)], axis=0)
    G = prob.per_sample_grads(x) * (N if prob.reduction == "sum" else 1.0)
    var = G.var(axis=0) / b * (1.0 if replace else (N - b) / (N - 1))
    se = np.sqrt(var / K)
    full = prob.grad(x)
    assert np.all(np.abs(avg - full) <= 5 * se + 1e-12), (avg - full) / se
    # and the estimator is not trivially exact: its spread is the predicted one (within 20%)
    draws = np.array([prob.minibatch_grad(x, rng, b, replace=replace) for _ in range(400)])
    assert_allclose(draws.var(axis=0, ddof=1), var, rtol=0.35)


@pytest.mark.parametrize("name", list(FINITE_SUMS))
def test_minibatch_grad_is_batch_mean_of_per_sample_grads(name: str) -> None:
    prob = FINITE_SUMS[name]()
    x = _point(prob)
    idx = prob.batch_indices(np.random.default_rng(5), 7)
    scale = prob.n_samples if prob.reduction == "sum" else 1.0
    expected = scale * prob.per_sample_grads(x, idx).mean(axis=0)
    assert_allclose(prob.minibatch_grad(x, np.random.default_rng(5), 7), expected, rtol=1e-12, atol=1e-13)


def test_batch_indices_without_replacement_are_distinct_and_full_batch_is_exact() -> None:
    prob = FINITE_SUMS["logistic_mean"]()
    rng = np.random.default_rng(0)
    for b in (1, 7, 39, 40):
        idx = prob.batch_indices(rng, b, replace=False)
        assert idx.shape == (b,) and len(set(idx.tolist())) == b
        assert idx.min() >= 0 and idx.max() < prob.n_samples
    x = _point(prob)
    assert_allclose(prob.minibatch_grad(x, rng, prob.n_samples, replace=False), prob.grad(x), rtol=1e-12)
    # with replacement, large batches repeat indices (birthday bound: certain at b = N = 40)
    assert len(set(prob.batch_indices(rng, 40).tolist())) < 40


def test_batch_indices_are_uniform_and_reproducible() -> None:
    prob = FINITE_SUMS["ls_sum"]()  # N = 12
    a = prob.batch_indices(np.random.default_rng(9), 6000)
    b = prob.batch_indices(np.random.default_rng(9), 6000)
    assert_array_equal(a, b)
    counts = np.bincount(a, minlength=12)
    # chi-square goodness of fit, 11 degrees of freedom: P(chi2 > 40) < 1e-4
    chi2 = np.sum((counts - 500.0) ** 2 / 500.0)
    assert chi2 < 40.0, counts


# ----------------------------------------------------------------------------------------------
# Closed forms


def test_quadratic_spectrum_and_constants() -> None:
    lam = np.array([0.1, 1.0, 3.0, 10.0, 10.0])
    q = P.quadratic(lam, seed=0)
    assert_allclose(np.linalg.eigvalsh(q.A), np.sort(lam), rtol=1e-12, atol=1e-13)
    assert_allclose(q.Q.T @ q.Q, np.eye(5), atol=1e-13)
    assert q.L == 10.0 and q.mu == 0.1 and q.kappa == pytest.approx(100.0)
    assert q.loss(q.minimizer) == 0.0
    assert_allclose(hessian(q.loss)(np.zeros(5)), q.A, atol=1e-12)
    # reproducible from a seed or an equal rng; a different seed rotates differently
    assert_array_equal(P.quadratic(lam, rng=np.random.default_rng(0)).A, q.A)
    assert not np.allclose(P.quadratic(lam, seed=1).A, q.A)
    # unrotated with a given minimizer: A = diag(lambda), no randomness needed
    d = P.quadratic([1.0, 2.0], rotate=False, minimizer=[1.0, -1.0])
    assert_array_equal(d.A, np.diag([1.0, 2.0]))
    assert d.loss(np.zeros(2)) == pytest.approx(0.5 * (1.0 + 2.0))
    # a saddle: L = max |lambda|, kappa infinite
    s = P.quadratic([-2.0, 1.0], seed=0)
    assert s.L == 2.0 and s.mu == -2.0 and s.kappa == np.inf
    assert isinstance(q, P.Problem) and not isinstance(q, P.FiniteSumProblem)


@pytest.mark.parametrize("reduction", ["sum", "mean"])
@pytest.mark.parametrize("shape", [(30, 5), (4, 9)])
def test_ridge_svd_closed_form_equals_solve(reduction: str, shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(2)
    X, y = rng.standard_normal(shape), rng.standard_normal(shape[0])
    lam = 0.37
    prob = P.ridge(X, y, lam, reduction=reduction)  # type: ignore[arg-type]
    n, d = shape
    lam_eff = lam if reduction == "sum" else n * lam  # (1/N)||Xw-y||^2 + lam||w||^2
    w_solve = np.linalg.solve(X.T @ X + lam_eff * np.eye(d), X.T @ y)
    assert_allclose(prob.solution(), w_solve, rtol=1e-10, atol=1e-12)
    assert_allclose(prob.grad(prob.solution()), 0.0, atol=1e-11)
    assert prob.lam == lam
    assert_allclose(prob.hessian(), hessian(prob.loss)(np.zeros(d)), rtol=1e-12, atol=1e-12)


def test_ridge_loss_is_seed_formula() -> None:
    X, y = _data(4)
    w = np.array([0.3, -1.0, 2.0])
    assert_allclose(P.ridge(X, y, 0.5).loss(w), np.sum((X @ w - y) ** 2) + 0.5 * w @ w, rtol=1e-14)
    assert_allclose(P.least_squares(X, y).loss(w), np.sum((X @ w - y) ** 2), rtol=1e-14)
    assert_allclose(P.least_squares(X, y, reduction="mean").loss(w), np.mean((X @ w - y) ** 2), rtol=1e-14)
    assert_allclose(P.least_squares(X, y).grad(w), 2 * X.T @ (X @ w - y), rtol=1e-13)


def test_least_squares_solution_tall_and_min_norm_wide() -> None:
    X, y = _data(5, 20, 4)
    tall = P.least_squares(X, y)
    assert_allclose(tall.grad(tall.solution()), 0.0, atol=1e-11)
    assert_allclose(tall.hessian(), 2 * X.T @ X, rtol=1e-14)
    # wide: interpolates, and is the minimum-norm interpolant (in the row space of X)
    Xw, yw = _data(6, 3, 7)
    wide = P.least_squares(Xw, yw)
    w = wide.solution()
    assert_allclose(Xw @ w, yw, atol=1e-12)
    assert_allclose(w, np.linalg.pinv(Xw) @ yw, rtol=1e-10, atol=1e-12)
    coef, *_ = np.linalg.lstsq(Xw.T, w, rcond=None)
    assert_allclose(Xw.T @ coef, w, atol=1e-12)
    # ridge with lam -> 0 tends to the minimum-norm solution (eq. (5) filters nothing)
    assert_allclose(P.ridge(Xw, yw, 1e-12).solution(), w, rtol=1e-6, atol=1e-8)


def test_logistic_is_stable_and_matches_naive_formula() -> None:
    X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    y = np.array([1.0, 0.0, 1.0])
    prob = P.logistic_regression(X, y)
    w = np.array([0.5, -0.25])
    z = X @ w
    naive = np.mean(-y * np.log(1 / (1 + np.exp(-z))) - (1 - y) * np.log(1 - 1 / (1 + np.exp(-z))))
    assert_allclose(prob.loss(w), naive, rtol=1e-14)
    # huge logits: no overflow (warnings are errors), loss ~ |z| for the wrong label
    big = np.array([800.0, 800.0])
    losses = prob.per_sample_losses(big)
    assert_allclose(losses, [0.0, 800.0, 0.0], atol=1e-300)
    assert np.all(np.isfinite(prob.per_sample_grads(big)))
    assert_allclose(prob.probabilities(big), [1.0, 1.0, 1.0])
    assert prob.accuracy(w) == 1.0  # z = (0.5, -0.25, 0.25): every sign right
    assert prob.accuracy(np.array([0.5, 0.25])) == pytest.approx(2 / 3)  # z > 0 everywhere


def test_make_logistic_data() -> None:
    X, y, w = P.make_logistic_data(np.random.default_rng(0), 500, 4, scale=3.0)
    assert X.shape == (500, 5) and y.shape == (500,) and w.shape == (5,)
    assert_array_equal(X[:, -1], 1.0)
    assert set(np.unique(y)) <= {0.0, 1.0}
    # the generating weights classify well above chance at scale 3
    assert P.logistic_regression(X, y).accuracy(w) > 0.8
    X2, y2, _ = P.make_logistic_data(np.random.default_rng(0), 500, 4, scale=3.0)
    assert_array_equal(X, X2) and assert_array_equal(y, y2)  # type: ignore[func-returns-value]


# ----------------------------------------------------------------------------------------------
# Peaks


def test_peaks_dimensions_and_layout() -> None:
    prob = P.peaks()
    assert prob.dim == 261 and prob.n_samples == 800 and prob.X_test.shape == (200, 2)
    for w in (1, 7, 100):
        assert P.peaks(width=w, n_samples=10, n_train=8).dim == 8 * w + 5
    theta = np.arange(261.0)
    W1, b1, W2, b2 = prob.unflatten(theta)
    assert W1.shape == (32, 2) and b1.shape == (32,) and W2.shape == (5, 32) and b2.shape == (5,)
    assert W1[1, 0] == 2.0 and b1[0] == 64.0 and W2[0, 1] == 97.0 and b2[-1] == 260.0
    assert_array_equal(prob.flatten(W1, b1, W2, b2), theta)
    # predict is the seed's formula W2 relu(W1 x + b1) + b2
    x = _point(prob)
    W1, b1, W2, b2 = prob.unflatten(x)
    manual = np.maximum(prob.X @ W1.T + b1, 0) @ W2.T + b2
    assert_allclose(prob.predict(x, prob.X), manual, rtol=1e-13)


def test_peaks_thresholds_are_grid_quantiles_and_classes_balanced() -> None:
    g = np.linspace(-3.0, 3.0, 2001)
    G1, G2 = np.meshgrid(g, g)
    z = P.peaks_function(np.column_stack([G1.ravel(), G2.ravel()]))
    assert_allclose(np.quantile(z, [0.2, 0.4, 0.6, 0.8]), P.PEAKS_THRESHOLDS, atol=6e-5)
    # peaks(0, 0) = 3 e^{-1} - 1/3 e^{-1} = (8/3) e^{-1}; peaks(1, -1) by hand
    assert_allclose(P.peaks_function(np.array([[0.0, 0.0]])), [8 / 3 * np.exp(-1)], rtol=1e-14)
    v = -10 * (0.2 - 1 + 1) * np.exp(-2) - np.exp(-5) / 3
    assert_allclose(P.peaks_function(np.array([[1.0, -1.0]])), [v], rtol=1e-14)
    prob = P.peaks()
    counts = np.bincount(np.concatenate([prob.y, prob.y_test]), minlength=5)
    # binomial(1000, 0.2): mean 200, sd 12.6; allow 4 sd
    assert counts.sum() == 1000 and np.all(np.abs(counts - 200) < 51), counts
    assert_array_equal(prob.class_counts(), np.bincount(prob.y, minlength=5))
    assert np.all(np.abs(prob.X) <= 3.0)


def test_peaks_loss_at_init_accuracy_and_stable_cross_entropy() -> None:
    prob = P.peaks()
    rng = np.random.default_rng(0)
    for scheme in ("he", "xavier"):
        x = prob.init_params(rng, scheme)  # type: ignore[arg-type]
        loss = prob.loss(x)
        assert 0.5 * np.log(5) < loss < 3 * np.log(5), (scheme, loss)
        for acc in (prob.train_accuracy(x), prob.test_accuracy(x)):
            assert 0.0 <= acc <= 1.0
        assert prob.test_loss(x) > 0
    # zero weights: uniform softmax, loss exactly log 5; bias e_k predicts class k everywhere
    x0 = np.zeros(261)
    assert_allclose(prob.loss(x0), np.log(5), rtol=1e-15)
    W1, b1, W2, _ = prob.unflatten(x0)
    for k in range(5):
        xk = prob.flatten(W1, b1, W2, np.eye(5)[k])
        assert prob.train_accuracy(xk) == pytest.approx(np.mean(prob.y == k))
    # cross-entropy from huge logits: no overflow, -F_y + logsumexp F
    F = np.array([[1000.0, 0.0, -1000.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0]])
    assert_allclose(prob.losses_from_outputs(F, np.array([1, 3])), [1000.0, np.log(5)], rtol=1e-15)
    # He init: W1 entries N(0, 1), W2 entries N(0, 2/w)
    big = P.peaks(width=4000, n_samples=10, n_train=10)
    W1, b1, W2, b2 = big.unflatten(big.init_params(np.random.default_rng(1)))
    assert abs(W1.var() - 1.0) < 0.05 and abs(W2.var() * 4000 / 2 - 1.0) < 0.05
    assert np.all(b1 == 0) and np.all(b2 == 0)


def test_peaks_wide_network_minibatch_and_per_sample() -> None:
    prob = P.peaks(width=2048)
    x = prob.init_params(np.random.default_rng(0))
    idx = prob.batch_indices(np.random.default_rng(1), 16)
    G = prob.per_sample_grads(x, idx)
    assert G.shape == (16, 8 * 2048 + 5)
    assert_allclose(
        prob.minibatch_grad(x, np.random.default_rng(1), 16), G.mean(axis=0), rtol=1e-11, atol=1e-14
    )


def test_problems_are_deterministic_and_read_only() -> None:
    a, b = P.peaks(seed=3), P.peaks(seed=3)
    assert_array_equal(a.X, b.X) and assert_array_equal(a.y, b.y)  # type: ignore[func-returns-value]
    assert not np.array_equal(a.X, P.peaks(seed=4).X)
    X, y = _data(0)
    prob = P.least_squares(X, y)
    X[0, 0] = 99.0  # the problem holds its own copy
    assert prob.X[0, 0] != 99.0
    for arr in (prob.X, prob.y, a.X, a.y, a.X_test, P.quadratic([1.0], seed=0).A):
        with pytest.raises(ValueError, match="read-only"):
            arr[0] = 0.0


# ----------------------------------------------------------------------------------------------
# Bad input


def _ls() -> P.LeastSquares:
    return P.least_squares(*_data(0))


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (lambda: P.least_squares(np.zeros(3), np.zeros(3)), ValueError, r"X must be a non-empty 2-D"),
        (lambda: P.least_squares(np.zeros((3, 2)), np.zeros(4)), ValueError, r"y must have shape \(3,\)"),
        (lambda: P.least_squares(np.full((2, 2), np.nan), np.zeros(2)), ValueError, "X must be finite"),
        (
            lambda: P.least_squares(np.zeros((2, 2)), np.zeros(2), reduction="avg"),
            ValueError,
            "reduction must be one of",
        ),  # type: ignore[arg-type]
        (
            lambda: P.ridge(np.zeros((2, 2)), np.zeros(2), -1.0),
            ValueError,
            "lam must be a finite number >= 0",
        ),
        (lambda: P.ridge(np.zeros((2, 2)), np.zeros(2), "a"), TypeError, "lam must be a real number"),  # type: ignore[arg-type]
        (
            lambda: P.logistic_regression(np.zeros((2, 2)), np.array([0.0, 2.0])),
            ValueError,
            r"labels in \{0, 1\}",
        ),
        (lambda: P.logistic_regression(np.zeros((2, 2)), np.zeros(2), l2=-0.1), ValueError, "l2 must be"),
        (lambda: P.quadratic([], seed=0), ValueError, "eigenvalues must be a non-empty 1-D"),
        (lambda: P.quadratic([1.0, np.inf], seed=0), ValueError, "eigenvalues must be finite"),
        (lambda: P.quadratic([1.0, 2.0]), ValueError, "pass seed"),
        (lambda: P.quadratic([1.0], seed=0, rng=np.random.default_rng(0)), ValueError, "not both"),
        (
            lambda: P.quadratic([1.0, 2.0], seed=0, minimizer=[1.0]),
            ValueError,
            r"minimizer must have shape \(2,\)",
        ),
        (lambda: P.quadratic([1.0], rng=0), TypeError, "numpy.random.Generator"),  # type: ignore[arg-type]
        (lambda: P.peaks(width=0), ValueError, "width must be an integer >= 1"),
        (lambda: P.peaks(width=2.5), TypeError, "width must be an integer >= 1"),  # type: ignore[arg-type]
        (lambda: P.peaks(n_train=1001), ValueError, "n_train must be in"),
        (lambda: P.peaks(seed=-1), ValueError, "seed must be an integer >= 0"),
        (lambda: P.peaks(init="normal"), ValueError, "init must be one of"),  # type: ignore[arg-type]
        (
            lambda: P.peaks().init_params(np.random.default_rng(0), "lecun"),
            ValueError,
            "scheme must be one of",
        ),  # type: ignore[arg-type]
        (lambda: P.peaks().unflatten(np.zeros(260)), ValueError, r"params must have shape \(261,\)"),
        (
            lambda: P.peaks().flatten(np.zeros((2, 32)), np.zeros(32), np.zeros((5, 32)), np.zeros(5)),
            ValueError,
            r"W1 must have shape \(32, 2\)",
        ),
        (
            lambda: P.peaks().accuracy(np.zeros(261), np.zeros((3, 3)), np.zeros(3)),
            ValueError,
            "X must have 2 columns",
        ),
        (lambda: P.peaks(n_train=1000).test_accuracy(np.zeros(261)), ValueError, "no test set"),
        (lambda: _ls().loss(np.zeros(4)), ValueError, r"params must have shape \(3,\), got \(4,\)"),
        (lambda: _ls().grad(np.zeros((3, 1))), ValueError, r"params must have shape \(3,\)"),
        (
            lambda: _ls().batch_indices(np.random.default_rng(0), 13, replace=False),
            ValueError,
            r"batch_size=13 > n_samples=12",
        ),
        (
            lambda: _ls().batch_indices(np.random.default_rng(0), 0),
            ValueError,
            "batch_size must be an integer >= 1",
        ),
        (
            lambda: _ls().batch_indices(np.random.default_rng(0), 2.0),
            TypeError,
            "batch_size must be an integer >= 1",
        ),  # type: ignore[arg-type]
        (
            lambda: _ls().minibatch_grad(np.zeros(3), np.random.RandomState(0), 2),
            TypeError,
            "numpy.random.Generator",
        ),  # type: ignore[arg-type]
        (
            lambda: _ls().per_sample_grads(np.zeros(3), np.array([0, 12])),
            ValueError,
            r"idx must lie in \[0, 12\)",
        ),
        (
            lambda: _ls().per_sample_grads(np.zeros(3), np.array([0.5])),
            ValueError,
            "idx must be a 1-D array of integer",
        ),
        (
            lambda: P.make_logistic_data(np.random.default_rng(0), 0),
            ValueError,
            "n_samples must be an integer >= 1",
        ),
    ],
)
def test_bad_input_raises_clear_errors(call: Callable[[], object], exc: type[Exception], match: str) -> None:
    with pytest.raises(exc, match=match):
        call()

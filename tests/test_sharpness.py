"""reference.experiments.sharpness: the top Hessian eigenvalue by Lanczos (SH1)-(SH3) and full-batch
GD recording the sharpness (SH4), on quadratics where both are known in closed form."""

from __future__ import annotations

import autograd
import autograd.numpy as anp
import numpy as np
import pytest
from scipy.sparse.linalg import LinearOperator, eigsh

from reference.experiments.sharpness import gd_sharpness, stacked_hvp, tanh_peaks, top_eigen


def _quadratic(d: np.ndarray):  # type: ignore[no-untyped-def]
    """Stacked L(theta) = 1/2 sum_i d_i theta_i^2 (Hessian diag(d)) for each row."""
    return lambda th: 0.5 * anp.sum(th * th * d, axis=1)


def test_top_eigen_diagonal_by_hand() -> None:
    # two operators at once: diag(1, 2, 3) and diag(-5, 0.5, 2) (the largest algebraic is 2, not -5)
    D = np.array([[1.0, 2.0, 3.0], [-5.0, 0.5, 2.0]])
    eig = top_eigen(lambda V: V * D, np.ones((2, 3)), tol=1e-10)
    assert eig.converged
    np.testing.assert_allclose(eig.values, [3.0, 2.0], rtol=1e-12)
    np.testing.assert_allclose(np.abs(eig.vectors), [[0, 0, 1], [0, 0, 1]], atol=1e-8)
    assert np.all(eig.residuals <= 1e-10 * np.abs(eig.values))


def test_top_eigen_matches_eigvalsh_and_eigsh() -> None:
    rng = np.random.default_rng(3)
    for _ in range(3):
        B = rng.standard_normal((40, 40))
        A = 0.5 * (B + B.T)
        exact = np.linalg.eigvalsh(A)[-1]
        eig = top_eigen(lambda V: V @ A, rng.standard_normal((1, 40)), tol=1e-8, max_hvp=400)
        assert eig.converged
        # (SH3): an eigenvalue within the residual; here the top one
        assert abs(eig.values[0] - exact) <= eig.residuals[0] + 1e-12 * abs(exact)
        lib = eigsh(LinearOperator((40, 40), matvec=lambda v: A @ v, dtype=float), k=1, which="LA")[0][0]
        assert abs(eig.values[0] - lib) <= 1e-6 * abs(lib)
        r = A @ eig.vectors[0] - eig.values[0] * eig.vectors[0]
        assert np.linalg.norm(r) == pytest.approx(eig.residuals[0], rel=1e-6, abs=1e-14)


def test_warm_start_needs_fewer_products() -> None:
    d = np.linspace(1.0, 100.0, 200)  # gap 0.5 % at the top: a cold start needs several cycles
    d[-1] = 100.5
    hvp = lambda V: V * d  # noqa: E731
    rng = np.random.default_rng(0)
    cold = top_eigen(hvp, rng.standard_normal((1, 200)), tol=1e-4, m=4, max_hvp=2000)
    warm_start = np.zeros((1, 200))  # the previous measurement's vector, nearly the top one
    warm_start[0, -1], warm_start[0, :-1] = 1.0, 1e-6 * rng.standard_normal(199)
    warm = top_eigen(hvp, warm_start, tol=1e-4, m=4, max_hvp=2000)
    assert cold.converged and warm.converged
    assert warm.n_hvp == 5  # one cycle: m products and the certificate
    assert cold.n_hvp > 3 * warm.n_hvp
    np.testing.assert_allclose([cold.values[0], warm.values[0]], 100.5, rtol=1e-4)


def test_top_eigen_stops_at_budget() -> None:
    d = np.linspace(1.0, 100.0, 200)
    eig = top_eigen(lambda V: V * d, np.ones((1, 200)), tol=1e-14, m=3, max_hvp=12)
    assert not eig.converged
    assert eig.n_hvp <= 12


def test_gd_on_quadratic_sharpness_and_losses() -> None:
    d = np.array([1.0, 4.0])
    runs = gd_sharpness(_quadratic(d), np.array([1.0, 1.0]), [0.1, 0.3], 6, every=2, tol=1e-10)
    for r in runs:
        assert r.converged and not r.diverged
        assert list(r.measured_at) == [0, 2, 4, 6]
        np.testing.assert_allclose(r.sharpness, 4.0, rtol=1e-10)  # (SH1): the top eigenvalue
        t = np.arange(7)
        theta = np.stack([(1 - r.lr * d[0]) ** t, (1 - r.lr * d[1]) ** t], axis=1)  # (SH4) closed form
        np.testing.assert_allclose(r.losses, 0.5 * (theta**2 * d).sum(axis=1), rtol=1e-13)
        np.testing.assert_allclose(r.grad_norms, np.linalg.norm(theta * d, axis=1), rtol=1e-13)
    # by hand: eta = 0.1, theta_1 = (0.9, 0.6), L_1 = (0.81 + 4 * 0.36) / 2 = 1.125
    assert runs[0].losses[1] == pytest.approx(1.125, rel=1e-15)


def test_cold_cycle_finds_the_top_after_a_crossing() -> None:
    # An operator whose top eigenvector changes as GD moves: at t = 0 (theta_0 = 1) it is 2 e_0 e_0^T, so
    # the measurement there ends on e_0 to rounding; at t = 10 (theta_0 = 0.9^10) it is
    # diag(1.9, 2, 48 values in [0, 1]). Warm-started from e_0, an exact eigenvector (eigenvalue 1.9),
    # Lanczos breaks down at once and certifies 1.9.
    rest = np.linspace(0.0, 1.0, 48)

    def hvp(th: np.ndarray, V: np.ndarray) -> np.ndarray:
        early = th[:, :1] > 0.95
        diag = np.concatenate(
            [np.full((th.shape[0], 2), [1.9, 2.0]), np.tile(rest, (th.shape[0], 1))], axis=1
        )
        first = np.zeros(50)
        first[0] = 2.0
        return V * np.where(early, first, diag)

    loss = _quadratic(np.ones(50))
    th0 = np.ones(50)
    (warm,) = gd_sharpness(loss, th0, [0.1], 10, every=10, tol=1e-10, hvp=hvp, cold_check=False)
    (both,) = gd_sharpness(loss, th0, [0.1], 10, every=10, tol=1e-10, hvp=hvp)
    assert warm.sharpness[0] == pytest.approx(2.0, rel=1e-10)
    assert both.sharpness[0] == pytest.approx(2.0, rel=1e-10)
    # warm start alone: the second eigenvalue, certified as an eigenvalue
    assert warm.sharpness[1] == pytest.approx(1.9, rel=1e-10)
    # with the cold cycle: it saw more than 1.9 + residual, and Lanczos went on from its vector
    assert both.sharpness[1] == pytest.approx(2.0, rel=1e-10)
    assert abs(both.final_vector[1]) == pytest.approx(1.0, rel=1e-8)


def test_gd_above_two_over_lambda_diverges_and_is_reported() -> None:
    d = np.array([1.0, 4.0])
    # eta = 0.625 = 2.5 / 4 > 2 / lambda_max: |1 - 0.625 * 4| = 1.5, the loss grows 2.25x per step
    stable, unstable = gd_sharpness(_quadratic(d), np.array([1.0, 1.0]), [0.4, 0.625], 100, max_loss=1e3)
    assert not stable.diverged and stable.losses.size == 101
    assert unstable.diverged
    # L_t = 0.375^(2t) / 2 + 2 * 2.25^t: L_7 = 583.8 <= 1e3 < L_8 = 1313.7, so it diverges at t = 8
    assert unstable.diverged_at == 8
    assert unstable.losses.size == 8 and np.all(np.isfinite(unstable.losses))
    assert unstable.losses[7] == pytest.approx(0.5 * 0.375**14 + 2 * 2.25**7, rel=1e-13)
    assert np.all(np.diff(unstable.losses) > 0)


def test_gd_overflow_is_a_divergence_not_a_warning() -> None:
    d = np.array([1.0, 4.0])
    (r,) = gd_sharpness(_quadratic(d), np.array([1.0, 1.0]), [10.0], 2000, max_loss=1e300)
    assert r.diverged and r.diverged_at is not None and r.diverged_at < 2000


def test_pure_and_seeded() -> None:
    P = tanh_peaks(width=4, n_samples=20, seed=1)
    th0 = P.init_params(np.random.default_rng(2))
    a = gd_sharpness(P.losses, th0, [0.5, 1.0], 20, every=5, seed=3)
    b = gd_sharpness(P.losses, th0, [0.5, 1.0], 20, every=5, seed=3)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.losses, y.losses)
        np.testing.assert_array_equal(x.sharpness, y.sharpness)
    np.testing.assert_array_equal(
        a[0].losses, gd_sharpness(P.losses, th0, [0.5], 20, every=5, seed=3)[0].losses
    )


def test_tanh_peaks_rows_are_separate_runs() -> None:
    P = tanh_peaks(width=32, n_samples=50, seed=0)
    assert P.dim == 261  # the notes' Peaks size at w = 32
    rng = np.random.default_rng(0)
    T = np.stack([P.init_params(rng) for _ in range(3)])
    L = P.losses(T)
    np.testing.assert_allclose(L, [P.loss(t) for t in T], rtol=1e-14)
    G = autograd.grad(lambda th: anp.sum(P.losses(th)))(T)
    for g, t in zip(G, T):
        np.testing.assert_allclose(g, autograd.grad(P.loss)(t), rtol=1e-12, atol=1e-15)
    V = rng.standard_normal(T.shape)
    HV = stacked_hvp(P.losses)(T, V)
    H0 = autograd.hessian(P.loss)(T[0])
    np.testing.assert_allclose(HV[0], H0 @ V[0], rtol=1e-9, atol=1e-12)
    # at theta = 0 every logit is 0: L = log 5
    assert P.loss(np.zeros(P.dim)) == pytest.approx(np.log(5.0), rel=1e-15)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lrs": []}, "lrs must be a non-empty sequence"),
        ({"lrs": [0.1, -1.0]}, r"lrs\[i\] must be a finite number > 0"),
        ({"lrs": 0.1}, "lrs must be a non-empty sequence"),
        ({"steps": 0}, "steps must be an integer >= 1"),
        ({"every": 0}, "every must be an integer >= 1"),
        ({"tol": 0.0}, "tol must be a finite number > 0"),
        ({"seed": -1}, "seed must be an integer >= 0"),
        ({"max_loss": float("nan")}, "max_loss must be a finite number > 0"),
        ({"theta0": np.ones((3, 2))}, "theta0 has 3 rows but lrs has 1 step sizes"),
        ({"theta0": [1.0, np.inf]}, "theta0 must be finite"),
    ],
)
def test_bad_inputs(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"theta0": np.ones(2), "lrs": [0.1], "steps": 3}
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        gd_sharpness(_quadratic(np.ones(2)), **args)  # type: ignore[arg-type]


def test_bad_inputs_top_eigen_and_problem() -> None:
    with pytest.raises(ValueError, match="v0 must have no zero row"):
        top_eigen(lambda V: V, np.zeros((1, 3)))
    with pytest.raises(ValueError, match="m must be an integer >= 1"):
        top_eigen(lambda V: V, np.ones((1, 3)), m=0)
    with pytest.raises(ValueError, match="width must be an integer >= 1"):
        tanh_peaks(width=0)
    with pytest.raises(ValueError, match="input_scale must be a finite number > 0"):
        tanh_peaks(width=2, n_samples=5).init_params(np.random.default_rng(0), input_scale=-1.0)

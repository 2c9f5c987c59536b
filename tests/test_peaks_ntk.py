"""The NTK parametrisation of the Peaks MLP ((PK1)-(PK7) of specs/peaks.md) and the lazy rows of
``optref peaks``: shapes, the function and gradient under the rescaling, SGD's per-coordinate step,
a worked example, the fast minibatch gradient, the regime measures, and bad input."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from autograd import hessian
from numpy.testing import assert_allclose

from reference.experiments import peaks as pk
from reference.problems import peaks
from reference.problems._finite_sum import FiniteSumBase
from reference.problems.peaks import Peaks


def _pair(width: int = 16) -> tuple[Peaks, Peaks]:
    return peaks(width=width, seed=1), peaks(width=width, seed=1, parametrization="ntk")


def test_shapes_dimension_and_scale_vector() -> None:
    w = 16
    std, ntk = _pair(w)
    assert ntk.dim == std.dim == 8 * w + 5
    assert ntk.shapes == std.shapes
    S = ntk.scale
    assert S.shape == (8 * w + 5,)
    # (PK1): 1/sqrt(2) on W1 (2w entries), beta = 1 on b1 (w), 1/sqrt(w) on W2 (5w), 1 on b2 (5)
    assert_allclose(S[: 2 * w], 1 / math.sqrt(2), rtol=1e-15)
    assert np.all(S[2 * w : 3 * w] == 1.0)
    assert np.all(S[3 * w : 8 * w] == 0.25)  # 1/sqrt(16)
    assert np.all(S[8 * w :] == 1.0)
    assert np.all(std.scale == 1.0)


def test_worked_example_by_hand() -> None:
    """Width 2, x = (1, 1): A1 = 2 I, a1 = (0, -1), A2 = ones, a2 = 0. Then W1 = A1/sqrt(2) =
    sqrt(2) I, z = (sqrt 2, sqrt 2 - 1) (both > 0, so h = z), W2 = A2/sqrt(2), and every logit is
    (sqrt 2 + sqrt 2 - 1)/sqrt 2 = 2 - 1/sqrt 2 = 1.29289321881345..."""
    ntk = peaks(width=2, n_samples=10, n_train=8, parametrization="ntk")
    theta = ntk.flatten(2 * np.eye(2), [0.0, -1.0], np.ones((5, 2)), np.zeros(5))
    F = np.asarray(ntk.predict(theta, np.array([[1.0, 1.0]])))
    assert_allclose(F, np.full((1, 5), 1.2928932188134524), rtol=1e-15)
    # the same network in standard coordinates
    std = peaks(width=2, n_samples=10, n_train=8)
    assert_allclose(np.asarray(std.predict(ntk.to_standard(theta), np.array([[1.0, 1.0]]))), F, rtol=1e-15)


def test_the_function_is_the_standard_one_at_s_theta() -> None:
    std, ntk = _pair(24)
    rng = np.random.default_rng(0)
    theta = rng.standard_normal(ntk.dim)
    X = rng.uniform(-3, 3, (40, 2))
    theta_std = ntk.to_standard(theta)
    assert_allclose(theta_std, ntk.scale * theta, rtol=0)
    assert_allclose(ntk.from_standard(theta_std), theta, rtol=1e-15)
    assert_allclose(ntk.predict(theta, X), std.predict(theta_std, X), rtol=1e-13, atol=1e-14)
    assert_allclose(ntk.loss(theta), std.loss(theta_std), rtol=1e-13)
    # row-wise forward (per-sample gradients) agrees with the batch forward
    rows = np.tile(theta, (5, 1))
    assert_allclose(ntk.predict_rowwise(rows, X[:5]), ntk.predict(theta, X[:5]), rtol=1e-13)


def test_gradients_scale_by_s() -> None:
    """(PK3): grad L_ntk(theta) = S * grad L_std(S theta), full, minibatch and per sample."""
    std, ntk = _pair(12)
    theta = np.random.default_rng(1).standard_normal(ntk.dim)
    S, ts = ntk.scale, ntk.to_standard(theta)
    assert_allclose(ntk.grad(theta), S * std.grad(ts), rtol=1e-12, atol=1e-15)
    g_ntk = ntk.minibatch_grad(theta, np.random.default_rng(3), 16)
    g_std = std.minibatch_grad(ts, np.random.default_rng(3), 16)
    assert_allclose(g_ntk, S * g_std, rtol=1e-12, atol=1e-15)
    idx = np.arange(7)
    assert_allclose(
        ntk.per_sample_grads(theta, idx),
        S * std.per_sample_grads(ts, idx),
        rtol=1e-12,
        atol=1e-15,
    )
    # the W2 block is 1/sqrt(w) of the standard gradient's: the lazy scaling of the output layer
    w = 12
    nz = g_std[3 * w : 8 * w] != 0  # units dead on the whole batch have zero gradient
    assert nz.sum() > w
    assert_allclose(g_ntk[3 * w : 8 * w][nz] / g_std[3 * w : 8 * w][nz], 1 / math.sqrt(w), rtol=1e-12)


def test_sgd_in_ntk_coordinates_is_sgd_with_step_eta_s_squared() -> None:
    """(PK4): theta' = theta - eta g_ntk maps to theta_std' = theta_std - eta S^2 g_std."""
    std, ntk = _pair(10)
    theta = np.random.default_rng(2).standard_normal(ntk.dim)
    eta, S = 0.7, ntk.scale
    new = theta - eta * ntk.grad(theta)
    ts = ntk.to_standard(theta)
    new_std = ts - eta * S**2 * std.grad(ts)
    assert_allclose(ntk.to_standard(new), new_std, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("parametrization", ["standard", "ntk"])
@pytest.mark.parametrize("width", [8, 32, 512])
def test_fast_minibatch_gradient_is_the_generic_one_bit_for_bit(parametrization: str, width: int) -> None:
    prob = peaks(width=width, seed=0, parametrization=parametrization)  # type: ignore[arg-type]
    for s in range(3):
        theta = np.random.default_rng(s).standard_normal(prob.dim)
        fast = prob.minibatch_grad(theta, np.random.default_rng(10 + s), 32)
        slow = FiniteSumBase.minibatch_grad(prob, theta, np.random.default_rng(10 + s), 32)
        assert np.array_equal(fast, slow)


def test_ntk_init_is_standard_normal_and_the_experiment_maps_the_torch_init() -> None:
    ntk = peaks(width=1024, seed=0, parametrization="ntk")
    theta = ntk.init_params(np.random.default_rng(0), "he")
    # p = 8197 N(0, 1) draws: sample mean within 5 standard errors of 0, variance within 5 of 1
    assert abs(theta.mean()) < 5 / math.sqrt(theta.size)
    assert abs(theta.var() - 1) < 5 * math.sqrt(2 / theta.size)
    std = peaks(width=1024, seed=0)
    t_std = pk.init_params(std, np.random.default_rng(4))
    t_ntk = pk.init_params(ntk, np.random.default_rng(4))
    assert_allclose(ntk.to_standard(t_ntk), t_std, rtol=1e-15)  # the same network at theta_0
    _, _, A2, _ = ntk.unflatten(t_ntk)
    assert np.abs(A2).max() <= 1 and np.abs(A2).max() > 0.99  # U(-1, 1) in NTK coordinates


def test_linearisation_error_is_zero_along_linear_directions_and_grows_off_them() -> None:
    ntk = peaks(width=64, seed=0, parametrization="ntk")
    theta0 = pk.init_params(ntk, np.random.default_rng(0))
    w = 64
    out = np.zeros(ntk.dim)
    out[3 * w :] = np.random.default_rng(1).standard_normal(5 * w + 5)  # W2 and b2: F is linear in them
    assert pk.linearisation_error(ntk, theta0, theta0 + out) < 1e-12
    first = np.zeros(ntk.dim)
    first[: 3 * w] = np.random.default_rng(2).standard_normal(3 * w)
    small = pk.linearisation_error(ntk, theta0, theta0 + 0.01 * first)
    large = pk.linearisation_error(ntk, theta0, theta0 + 1.0 * first)
    assert 0 < small < large and large > 0.05
    assert math.isnan(pk.linearisation_error(ntk, theta0, theta0))


def test_sharpness_is_the_top_hessian_eigenvalue() -> None:
    ntk = peaks(width=3, n_samples=40, n_train=30, seed=0, parametrization="ntk")
    theta = pk.init_params(ntk, np.random.default_rng(0))
    H = np.asarray(hessian(ntk.loss)(theta))
    top = float(np.linalg.eigvalsh(H)[-1])
    assert top > 0
    assert pk.sharpness(ntk, theta, iters=150) == pytest.approx(top, rel=1e-6)


def test_ntk_learning_rates_follow_the_stated_rule() -> None:
    lam = pk.NTK_SHARPNESS[8192]
    assert pk.TUNED_NTK[8192]["sgd"] == pytest.approx(1 / lam, rel=1e-3)
    for m in ("momentum", "nesterov"):
        assert pk.TUNED_NTK[8192][m] == pytest.approx((1 - pk.EXTRA_HP[m]["beta"]) / lam, rel=1e-3)
    assert pk.tuned_lr("sgd", 8192, "ntk") == pk.TUNED_NTK[8192]["sgd"]
    for m, record in pk.SEARCH_RECORD_NTK[8192].items():  # searched: the best lazy run wins
        lazy = {lr: val for lr, (val, move) in record.items() if move < pk.LAZY_MOVE}
        assert pk.TUNED_NTK[8192][m] == min(lazy, key=lambda k: lazy[k])
        assert set(pk.NTK_GRID[m]) <= set(record)  # the whole stage-1 grid was run
    assert pk.TUNED_NTK[8192]["adamw"] == pk.TUNED_NTK[8192]["adam"]
    assert pk.TUNED_NTK[8192]["lion"] == pytest.approx(pk.TUNED_NTK[8192]["adam"] / 10)


def test_regime_verdict_from_move() -> None:
    base = pk.RunResult("sgd", 8, 0, 0.1, 1, 1, 50, 50, (), 0.0, np.zeros(1))
    assert base.regime == "—"
    lazy = pk.RunResult("sgd", 8, 0, 0.1, 1, 1, 50, 50, (), 0.0, np.zeros(1), move=0.5 * pk.LAZY_MOVE)
    active = pk.RunResult("sgd", 8, 0, 0.1, 1, 1, 50, 50, (), 0.0, np.zeros(1), move=pk.LAZY_MOVE)
    assert lazy.regime == "lazy" and active.regime == "active"
    assert pk.RunResult(
        "adam", 8, 0, 0.1, 1, 1, 50, 50, (), 0.0, np.zeros(1), parametrization="ntk"
    ).label == ("adam-ntk")


def test_lazy_rows_run_print_and_keep_the_standard_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    w = pk.WIDE + 8
    argv = ["--widths", f"8,{w}", "--methods", "sgd,adam", "--lazy", "sgd,adam", "--ntk-lr", "adam=0.01"]
    argv += ["--seeds", "1", "--epochs", "2", "--wide-epochs", "1", "--out", str(tmp_path), "--no-plots"]
    argv += ["--lazy-curve-every", "2"]
    assert pk.main(argv) == 0
    cap = capsys.readouterr()
    rows = {tuple(ln.split()[:2]): ln for ln in cap.out.splitlines() if ln.split()[:1] in (["8"], [str(w)])}
    assert set(rows) == {
        ("8", "sgd"),
        ("8", "adam"),
        (str(w), "sgd"),
        (str(w), "adam"),
        (str(w), "sgd-ntk"),
        (str(w), "adam-ntk"),
    }
    sgd_ntk = rows[str(w), "sgd-ntk"].split("|")[0].split()
    assert sgd_ntk[2] == f"{pk.TUNED_NTK[8192]['sgd']:g}" and rows[str(w), "adam-ntk"].split()[2] == "0.01"
    assert sgd_ntk[9] in ("lazy", "active") and float(sgd_ntk[8]) >= 0 and sgd_ntk[11] == "2"  # ep = --epochs
    assert rows[str(w), "sgd"].split("|")[0].split()[11] == "1"  # the standard wide rows: --wide-epochs
    assert f"width {w}: lazy rows, NTK parametrisation, 2 epochs" in cap.err
    assert cap.err.count("-ntk ") == 2  # progress: one line per lazy trial


def test_lazy_only_and_none(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    w = pk.WIDE + 8
    argv = ["--widths", str(w), "--methods", "sgd", "--seeds", "1", "--epochs", "1", "--out", str(tmp_path)]
    assert pk.main([*argv, "--lazy-only", "--no-plots"]) == 0
    out = capsys.readouterr().out
    assert f"{w} sgd-ntk" in out and f"{w} sgd " not in out
    assert pk.main([*argv, "--lazy", "none", "--wide-epochs", "1", "--no-plots"]) == 0
    out = capsys.readouterr().out
    assert "-ntk" not in out.split("mean ±")[0] and f"{w} sgd " in out


def test_the_ntk_problem_refuses_the_curvature_methods() -> None:
    with pytest.raises(ValueError, match="first-order methods"):
        pk.train("kfac", peaks(width=8, parametrization="ntk"), np.random.SeedSequence(0), lr=0.1)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--lazy", "sgd,newton"], "--lazy: unknown ['newton']"),
        (["--ntk-lr", "sgd=0"], "--ntk-lr: expected method=value"),
        (["--ntk-lr", "kfac=0.1"], "--ntk-lr: expected method=value"),
        (["--lazy-curve-every", "0"], "--lazy-curve-every must be an integer >= 1"),
        (
            ["--lazy", "lion", "--widths", "16384", "--methods", "lion", "--ntk-lr", "lion=-1"],
            "--ntk-lr: expected method=value",
        ),
    ],
)
def test_bad_lazy_flags(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        pk.main([*argv, "--out", "/nonexistent/never-created"])
    assert exc.value.code == 2 and message in capsys.readouterr().err


def test_bad_parametrization() -> None:
    with pytest.raises(ValueError, match=r"peaks: parametrization must be one of \['standard', 'ntk'\]"):
        peaks(parametrization="mean-field")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"params must have shape \(261,\)"):
        peaks(parametrization="ntk").from_standard(np.zeros(5))


def test_a_lazy_method_without_a_recorded_rate_is_refused(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delitem(pk.TUNED_NTK[8192], "lion")
    with pytest.raises(SystemExit) as exc:
        pk.main(["--widths", "8192", "--methods", "lion", "--lazy", "lion", "--out", "/nonexistent/never"])
    assert exc.value.code == 2
    assert "--lazy: no recorded NTK learning rate for lion; pass --ntk-lr lion=<lr> or --search" in (
        capsys.readouterr().err
    )

"""hpo: the golden hypergradient (specs/hpo.md), autograd = FD through every first-order method,
hypergradient descent reaches the minimiser, grid and random search, the closed-form F''' of the
theory check, bad input."""

from __future__ import annotations

import math

import autograd
import autograd.numpy as anp
import numpy as np
import pytest

from reference import hpo


def _quadratic(a: float, x0: float, n: int, name: str = "gd", **kw: float) -> hpo.Objective:
    return hpo.validation_objective(
        name, train_grad=lambda th: a * th, val_loss=lambda th: 0.5 * a * anp.sum(th * th),
        x0=np.array([x0]), n_steps=n, **kw,
    )  # fmt: skip


def test_hypergradient_golden_one_dimensional_gd() -> None:
    # specs/hpo.md: F = (1/2) a x0^2 (1 - eta a)^(2n), F' = -n a^2 x0^2 (1 - eta a)^(2n-1).
    F = _quadratic(2.0, 1.0, 3)
    v, g = hpo.hypergradient(F, 0.1)
    assert math.isclose(v, 0.262144, rel_tol=1e-14)
    assert math.isclose(g, -3.93216, rel_tol=1e-14)


def _ls() -> tuple[hpo.Objective, float]:
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((12, 4)), rng.standard_normal(12)
    Xv, yv = rng.standard_normal((30, 4)), rng.standard_normal(30)
    F = hpo.validation_objective(
        "gd", train_grad=lambda th: 2 * anp.dot(X.T, anp.dot(X, th) - y) / 12,
        val_loss=lambda th: anp.mean((anp.dot(Xv, th) - yv) ** 2), x0=np.zeros(4), n_steps=15,
    )  # fmt: skip
    return F, float(np.linalg.eigvalsh(2 * X.T @ X / 12).max())


@pytest.mark.parametrize("name", ["gd", "momentum", "nesterov", "adam", "rmsprop", "adagrad"])
def test_hypergradient_equals_central_difference(name: str) -> None:
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((10, 3)), rng.standard_normal(10)
    F = hpo.validation_objective(
        name, train_grad=lambda th: 2 * anp.dot(X.T, anp.dot(X, th) - y) / 10,
        val_loss=lambda th: anp.sum(th**2) + anp.sum(th), x0=np.array([0.5, -0.3, 0.2]), n_steps=10,
    )  # fmt: skip
    lr, h = 0.02, 1e-6
    _, g = hpo.hypergradient(F, lr)
    fd = (F(lr + h) - F(lr - h)) / (2 * h)
    assert math.isclose(g, fd, rel_tol=1e-6, abs_tol=1e-9), (g, fd)


def test_tune_lr_reaches_the_minimiser() -> None:
    # 1-D quadratic, n = 1: F(eta) = (1/2) a x0^2 (1 - eta a)^2 is minimised at eta = 1/a (F = 0),
    # a simple zero of F' (with larger n the minimum is flat of order 2n and gtol stops earlier).
    F = _quadratic(4.0, 1.0, 1)
    res = hpo.tune_lr(F, 0.01, n_iters=60)
    assert math.isclose(res.lr, 0.25, rel_tol=1e-6), res.lr
    assert all(b <= a for a, b in zip(res.values, res.values[1:]))  # Armijo: F decreases
    assert res.method == "hypergradient" and res.evaluations >= len(res.lrs)


def test_tune_lr_beats_the_grid_and_matches_its_bracket() -> None:
    F, L = _ls()
    grid = hpo.grid_search(F, hpo.log_grid(0.01 / L, 1.0 / L, 21))
    hd = hpo.tune_lr(F, 0.03 / L)
    assert hd.value <= grid.value + 1e-12
    i = grid.lrs.index(grid.lr)
    if 0 < i < len(grid.lrs) - 1:  # an interior grid optimum brackets the minimiser
        assert grid.lrs[i - 1] <= hd.lr <= grid.lrs[i + 1]
    # the hypergradient vanishes at HD's end point
    assert abs(hd.lr * hpo.hypergradient(F, hd.lr)[1]) < 1e-6 * (abs(hd.value) + 1)


def test_grid_and_random_search() -> None:
    F = _quadratic(4.0, 1.0, 1)  # minimum 0 at eta = 0.25
    g = hpo.grid_search(F, [0.1, 0.2, 0.25, 0.3, 1.0])
    assert g.lr == 0.25 and g.value == 0.0 and g.evaluations == 5 and g.method == "grid"
    assert hpo.log_grid(1e-3, 1e-1, 3) == pytest.approx([1e-3, 1e-2, 1e-1], rel=1e-15)
    r1 = hpo.random_search(F, 0.01, 1.0, 50, np.random.default_rng(3))
    r2 = hpo.random_search(F, 0.01, 1.0, 50, np.random.default_rng(3))
    assert r1 == r2  # reproducible from the generator
    assert all(0.01 <= x <= 1.0 for x in r1.lrs) and r1.method == "random"
    assert r1.value == min(r1.values) and abs(r1.lr - 0.25) < 0.05
    # log-uniform: about half the draws below the geometric mean 0.1
    assert 15 <= sum(x < 0.1 for x in r1.lrs) <= 35


def test_diverged_runs_count_as_infinite() -> None:
    F = _quadratic(4.0, 1.0, 200)  # GD diverges for eta > 0.5 (|1 - 4 eta| > 1): overflow
    g = hpo.grid_search(F, [0.1, 10.0])
    assert g.lr == 0.1 and g.values[1] == math.inf
    with pytest.raises(ValueError, match="every run diverged"):
        hpo.grid_search(F, [10.0, 20.0])


def test_closed_form_third_derivative_of_the_check() -> None:
    from theory_checks import hypergradient_hpo as chk

    rng = np.random.default_rng(1)
    w = rng.standard_normal(chk.D)
    Xtr = rng.standard_normal((chk.N_TR, chk.D))
    ytr = Xtr @ w + rng.standard_normal(chk.N_TR)
    Xv = rng.standard_normal((chk.N_VAL, chk.D))
    yv = Xv @ w + rng.standard_normal(chk.N_VAL)
    F = chk._objective(Xtr, ytr, Xv, yv, None)
    L = float(np.linalg.eigvalsh(2 * Xtr.T @ Xtr / chk.N_TR).max())
    f3 = autograd.grad(autograd.grad(autograd.grad(F)))
    for eta in (0.1 / L, 0.6 / L):
        assert math.isclose(float(f3(eta)), float(chk._f3(Xtr, ytr, Xv, yv, np.array([eta]))[0]), rel_tol=1e-9)


def test_bad_input() -> None:
    F = _quadratic(1.0, 1.0, 2)
    with pytest.raises(ValueError, match="hypergradient: lr must be a finite number > 0"):
        hpo.hypergradient(F, -0.1)
    with pytest.raises(TypeError, match="loss_after_steps must be callable"):
        hpo.hypergradient(3.0, 0.1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="both must be finite"):
        hpo.hypergradient(_quadratic(4.0, 1.0, 400), 5.0)
    with pytest.raises(ValueError, match="'newton' is not a first-order optimizer"):
        hpo.validation_objective("newton", train_grad=lambda t: t, val_loss=lambda t: t, x0=[0.0], n_steps=2)
    with pytest.raises(ValueError, match="unknown algorithm 'nope'"):
        hpo.validation_objective("nope", train_grad=lambda t: t, val_loss=lambda t: t, x0=[0.0], n_steps=2)
    with pytest.raises(ValueError, match="n_steps must be an integer >= 1"):
        hpo.validation_objective("gd", train_grad=lambda t: t, val_loss=lambda t: t, x0=[0.0], n_steps=0)
    with pytest.raises(ValueError, match="tune_lr: c1 must be in \\(0, 1\\)"):
        hpo.tune_lr(F, 0.1, c1=1.5)
    with pytest.raises(ValueError, match="tune_lr: n_iters must be an integer >= 1"):
        hpo.tune_lr(F, 0.1, n_iters=0)
    with pytest.raises(ValueError, match="tune_lr: lr0 must be a finite number > 0"):
        hpo.tune_lr(F, 0.0)
    with pytest.raises(ValueError, match="grid_search: lrs must hold at least one"):
        hpo.grid_search(F, [])
    with pytest.raises(ValueError, match="every lr of lrs must be a finite number > 0"):
        hpo.grid_search(F, [0.1, -1.0])
    with pytest.raises(ValueError, match="random_search: need low < high"):
        hpo.random_search(F, 1.0, 0.1, 5, np.random.default_rng(0))
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
        hpo.random_search(F, 0.1, 1.0, 5, 0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="log_grid: n must be an integer >= 2"):
        hpo.log_grid(0.1, 1.0, 1)

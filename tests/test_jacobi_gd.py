"""Jacobi-preconditioned GD: golden steps, one step on a diagonal quadratic, invariance to diagonal
rescaling, the damping rules, refresh, purity, differentiability, bad input."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import autograd
import autograd.numpy as anp
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import reference as ref
from reference.curvature.jacobi_gd import init as jacobi_init
from reference.curvature.jacobi_gd import step as jacobi_step
from reference.oracle import FunctionOracle

from .curvature_problems import logsumexp2, rosen
from .helpers import freeze, readonly, run_oracle


def _golden_f(x: Any) -> Any:
    return x[0] ** 4 + x[1] ** 2 + x[0] * x[1]


def _golden_by_hand(refresh: int) -> list[tuple[Fraction, Fraction]]:
    """specs/jacobi_gd.md "Worked example", in exact rational arithmetic (not the code under test)."""
    x1, x2 = Fraction(1), Fraction(1)
    out, h = [], (Fraction(0), Fraction(0))
    for t in range(2):
        g = (4 * x1**3 + x2, 2 * x2 + x1)
        if t % refresh == 0:
            h = (12 * x1**2, Fraction(2))
        x1, x2 = x1 - g[0] / h[0], x2 - g[1] / h[1]
        out.append((x1, x2))
    return out


@pytest.mark.parametrize("refresh", [1, 2])
def test_jacobi_gd_golden(refresh: int) -> None:
    want = _golden_by_hand(refresh)
    assert want[1] == ((Fraction(451, 882) if refresh == 1 else Fraction(2897, 5184)), Fraction(-7, 24))
    states = run_oracle(ref.jacobi_gd(refresh=refresh), _golden_f, [1.0, 1.0], 2)
    assert_allclose(states[0].params, [7 / 12, -0.5], rtol=1e-15)
    assert_allclose(states[1].params, [float(v) for v in want[1]], rtol=2e-15)
    assert_array_equal(states[0].precond, [12.0, 2.0])
    assert states[1].t == 2


def test_diagonal_quadratic_in_one_step() -> None:
    rng = np.random.default_rng(1)
    d = 2.0 ** rng.integers(-8, 9, size=7)  # powers of 2 and short dyadic points: every operation is exact
    c = rng.integers(-64, 65, size=7) / 8.0
    f = lambda x: 0.5 * anp.sum(d * (x - c) ** 2)  # noqa: E731
    (s,) = run_oracle(ref.jacobi_gd(), f, rng.integers(-64, 65, size=7) / 8.0, 1)
    assert_array_equal(s.params, c)
    assert_array_equal(s.precond, d)
    d2 = np.exp(rng.uniform(-5, 5, size=7))  # arbitrary scales and points: to rounding (4 operations)
    c = rng.standard_normal(7)
    f2 = lambda x: 0.5 * anp.sum(d2 * (x - c) ** 2)  # noqa: E731
    (s2,) = run_oracle(ref.jacobi_gd(), f2, np.zeros(7), 1)
    assert_allclose(s2.params, c, rtol=4 * 2.0**-52, atol=4 * 2.0**-52 * np.max(np.abs(c)))


def test_not_one_step_when_hessian_is_not_diagonal() -> None:
    h = np.array([[2.0, 1.0], [1.0, 2.0]])
    f = lambda x: 0.5 * x @ h @ x  # noqa: E731
    (s,) = run_oracle(ref.jacobi_gd(), f, [1.0, 0.0], 1)
    assert_array_equal(s.params, [0.0, -0.5])  # x - D^{-1} H x = (1, 0) - (2, 1)/2
    assert np.linalg.norm(s.params) > 0.4


@pytest.mark.parametrize("scales", [np.array([4.0, 0.25, 2.0, 0.5]), np.array([3.0, 0.1, 7.5, 1.3])])
def test_invariance_to_diagonal_rescaling(scales: np.ndarray) -> None:
    """theta = S phi: Jacobi-GD on f(S phi) from phi_0 = S^-1 theta_0 gives S^-1 theta_t."""
    f = lambda x: logsumexp2(x[:3]) + 0.5 * x[3] ** 2 + 0.3 * x[0] * x[3] + 0.1 * x[1] ** 4  # noqa: E731
    g = lambda phi: f(scales * phi)  # noqa: E731
    theta0 = np.array([1.0, -0.5, 2.0, 1.5])
    a = run_oracle(ref.jacobi_gd(lr=0.5), f, theta0, 6)
    b = run_oracle(ref.jacobi_gd(lr=0.5), g, theta0 / scales, 6)
    exact = bool(np.all(np.log2(scales) == np.round(np.log2(scales))))
    for sa, sb in zip(a, b):
        if exact:
            assert_array_equal(sb.params * scales, sa.params)
        else:
            assert_allclose(sb.params * scales, sa.params, rtol=1e-12, atol=1e-14)
    assert np.linalg.norm(a[-1].params - theta0) > 0.1  # it moved


def test_invariance_breaks_for_plain_gd() -> None:
    """The property is not vacuous: plain GD's iterates do not map under the same rescaling."""
    scales = np.array([4.0, 0.25])
    f = lambda x: x[0] ** 2 + x[0] * x[1] + 3 * x[1] ** 2  # noqa: E731
    gf = autograd.grad(f)
    gg = autograd.grad(lambda phi: f(scales * phi))
    opt = ref.gd(0.05)
    sa, sb = opt.init([1.0, 1.0]), opt.init(np.array([1.0, 1.0]) / scales)
    sa, sb = opt.step(sa, gf(sa.params)), opt.step(sb, gg(sb.params))
    assert np.max(np.abs(sb.params * scales - sa.params)) > 0.1


@pytest.mark.parametrize(
    ("rule", "want"),
    [("abs", [2.0, 2.0, 1e-3]), ("clip", [2.0, 1e-3, 1e-3]), ("add", [2.001, 2.001, 1e-3])],
)
def test_damping_rules(rule: str, want: list[float]) -> None:
    f = lambda x: x[0] ** 2 - x[1] ** 2 + x[1] * x[2]  # noqa: E731  diag H = (2, -2, 0)
    x0 = np.array([1.0, 1.0, 1.0])
    (s,) = run_oracle(ref.jacobi_gd(lr=0.5, damping=1e-3, damping_rule=rule), f, x0, 1)
    assert_allclose(s.precond, want, rtol=1e-15)
    g = np.array([2.0, -2.0 + 1.0, 1.0])
    assert_allclose(s.params, x0 - 0.5 * g / np.array(want), rtol=1e-15)


def test_abs_rule_gives_descent_under_negative_curvature() -> None:
    f = lambda x: 0.25 * x[0] ** 4 - x[0] ** 2 + x[1] ** 2  # noqa: E731  h_11 < 0 at x_1 = 0.5
    x0 = np.array([0.5, 1.0])
    assert autograd.hessian(f)(x0)[0, 0] < 0
    (s,) = run_oracle(ref.jacobi_gd(lr=0.5), f, x0, 1)
    assert f(s.params) < f(x0)
    (c,) = run_oracle(ref.jacobi_gd(lr=0.5, damping_rule="clip", damping=1e-3), f, x0, 1)
    assert abs(c.params[0] - x0[0]) > 100  # clip: eta / lambda, the huge step the spec warns about


@pytest.mark.parametrize("k", [1, 3, 10])
def test_refresh_counts_hessian_vector_products(k: int) -> None:
    o = FunctionOracle(rosen)
    opt = ref.jacobi_gd(lr=0.1, refresh=k)
    s = opt.init([-1.2, 1.0])
    diags = []
    for _ in range(7):
        s = opt.step(s, o)
        diags.append(s.precond)
    assert o.counts.hvp == 2 * len(range(0, 7, k)) and o.counts.grad == 7
    for t in range(1, 7):  # reused exactly between refreshes, recomputed at them
        if t % k:
            assert diags[t] is diags[t - 1]
        else:
            assert not np.array_equal(diags[t], diags[t - 1])


def test_diagonal_is_the_hessians() -> None:
    o = FunctionOracle(rosen)
    s = ref.jacobi_gd().step(ref.jacobi_gd().init([0.3, -0.7]), o)
    assert s.precond is not None
    assert_allclose(s.precond, np.abs(np.diag(autograd.hessian(rosen)(np.array([0.3, -0.7])))), rtol=1e-14)


def test_schedule() -> None:
    f = lambda x: 0.5 * anp.sum(x**2)  # noqa: E731
    s1, s2 = run_oracle(ref.jacobi_gd(lr=lambda t: 0.5 / (t + 1)), f, [1.0, -2.0], 2)
    assert_allclose(s1.params, [0.5, -1.0], rtol=1e-15)  # eta_1 = lr(0) = 0.5
    assert_allclose(s2.params, [0.375, -0.75], rtol=1e-15)  # eta_2 = lr(1) = 0.25


def test_pure_with_readonly_inputs() -> None:
    o = FunctionOracle(rosen)
    opt = ref.jacobi_gd(lr=0.2)
    x0 = readonly([-1.2, 1.0])
    s0 = freeze(opt.init(x0))
    s1 = freeze(opt.step(s0, o))
    s2 = opt.step(s1, o)
    again = opt.step(s1, o)
    assert_array_equal(x0, [-1.2, 1.0])
    assert_array_equal(s0.params, [-1.2, 1.0]) and s0.precond is None and s0.t == 0
    assert_array_equal(s2.params, again.params)
    assert s1.t == 1 and s2.t == 2


def test_bare_step_matches_factory() -> None:
    o = FunctionOracle(logsumexp2)
    a = jacobi_step(jacobi_init(np.ones(3)), o, lr=0.7, refresh=2)
    opt = ref.jacobi_gd(0.7, refresh=2)
    b = opt.step(opt.init(np.ones(3)), o)
    assert_array_equal(a.params, b.params)
    assert_array_equal(a.precond, b.precond)
    assert ref.make("jacobi_gd", lr=0.7).hyperparams == {
        "lr": 0.7,
        "damping": 1e-8,
        "damping_rule": "abs",
        "refresh": 1,
    }


def test_differentiable_in_lr_and_theta0() -> None:
    o = FunctionOracle(rosen)

    def loss(lr: Any, x0: Any) -> Any:
        opt = ref.jacobi_gd(lr)
        s = opt.init(x0)
        for _ in range(4):
            s = opt.step(s, o)
        return rosen(s.params)

    x0 = np.array([-0.8, 0.9])
    d = 1e-6
    fd = (loss(0.3 + d, x0) - loss(0.3 - d, x0)) / (2 * d)
    assert_allclose(autograd.grad(loss)(0.3, x0), fd, rtol=1e-6)
    e = np.array([d, 0.0])
    fd0 = (loss(0.3, x0 + e) - loss(0.3, x0 - e)) / (2 * d)
    assert_allclose(autograd.grad(loss, 1)(0.3, x0)[0], fd0, rtol=1e-6)


def test_bad_input() -> None:
    opt = ref.jacobi_gd()
    with pytest.raises(ValueError, match="flat vector"):
        opt.init(np.ones((2, 2)))
    with pytest.raises(TypeError, match="jacobi_gd: step needs a FunctionOracle"):
        opt.step(opt.init(np.ones(2)), np.ones(2))
    with pytest.raises(ValueError, match=r"x has shape \(2,\) but the function takes \(3,\)"):
        opt.step(opt.init(np.ones(2)), FunctionOracle(logsumexp2, dim=3))
    with pytest.raises(ValueError, match="jacobi_gd: refresh must be an integer >= 1"):
        ref.jacobi_gd(refresh=0)
    with pytest.raises(TypeError, match="jacobi_gd: refresh must be an integer"):
        ref.jacobi_gd(refresh=2.0)
    with pytest.raises(ValueError, match="jacobi_gd: damping_rule must be one of"):
        ref.jacobi_gd(damping_rule="max")

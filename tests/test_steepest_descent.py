"""Steepest descent with a line search (reference/first_order/steepest_descent.py,
specs/steepest_descent.md): the worked example, the exact search's properties on quadratics and a
non-quadratic, the inexact searches, stalls, purity and bad input."""

from __future__ import annotations

import autograd.numpy as anp
import numpy as np
import pytest

import reference as ref
from reference.oracle import FunctionOracle

LAM = np.array([1.0, 10.0])


def _quad() -> FunctionOracle:
    return FunctionOracle(lambda x: 0.5 * anp.sum(LAM * x**2))


def test_steepest_descent_golden() -> None:
    opt = ref.steepest_descent()
    s1 = opt.step(opt.init(np.array([1.0, 0.1])), _quad())
    assert s1.eta == pytest.approx(2.0 / 11.0, rel=1e-15)
    np.testing.assert_allclose(s1.params, [9.0 / 11.0, -9.0 / 110.0], rtol=1e-15)
    assert s1.value == pytest.approx(0.55 * (9.0 / 11.0) ** 2, rel=1e-15)
    assert s1.grad is not None
    np.testing.assert_allclose(np.asarray(s1.grad), (9.0 / 11.0) * np.array([1.0, -1.0]), rtol=1e-15)


def test_exact_search_zeroes_the_slope_on_a_non_quadratic() -> None:
    # log-sum-exp plus a quadratic: phi is convex but not quadratic; Newton on phi' takes several steps
    f = lambda x: anp.log(anp.sum(anp.exp(x))) + 0.1 * anp.sum(x**2)  # noqa: E731
    oracle = FunctionOracle(f)
    opt = ref.steepest_descent()
    s = opt.init(np.array([2.0, -1.0, 0.5]))
    for _ in range(5):
        g = np.asarray(oracle.grad(s.params))
        s = opt.step(s, oracle)
        assert s.grad is not None
        assert abs(float(np.dot(np.asarray(s.grad), g))) <= 1e-12 * float(np.dot(g, g)) + 1e-300


def test_exact_step_minimises_along_the_ray() -> None:
    f = lambda x: anp.sum(anp.cosh(x)) + anp.sum(x) ** 2  # noqa: E731
    oracle = FunctionOracle(f)
    x = np.array([1.5, -0.3])
    s = ref.steepest_descent().step(ref.steepest_descent().init(x), oracle)
    g = np.asarray(oracle.grad(x))

    def phi(e: float) -> float:
        return float(f(x - e * g))  # type: ignore[no-untyped-call]

    for h in (1e-3, 1e-2):
        assert phi(s.eta) <= min(phi(s.eta - h), phi(s.eta + h))


@pytest.mark.parametrize("search", ["armijo", "wolfe"])
def test_inexact_searches_decrease_f(search: str) -> None:
    opt = ref.steepest_descent(line_search=search)  # type: ignore[arg-type]
    s = opt.init(np.array([1.0, 1.0]))
    f0 = float(_quad().value(s.params))
    s = opt.step(s, _quad())
    assert not s.stalled and s.value is not None and s.value < f0


def test_none_is_gd_with_the_fixed_step() -> None:
    s = ref.steepest_descent(line_search="none", lr=0.05).step(
        ref.steepest_descent().init(np.array([1.0, 1.0])), _quad()
    )
    np.testing.assert_array_equal(s.params, np.array([1.0, 1.0]) - 0.05 * LAM)


def test_zero_gradient_and_unbounded_ray_stall() -> None:
    opt = ref.steepest_descent()
    s = opt.step(opt.init(np.zeros(2)), _quad())
    assert s.stalled and s.eta == 0.0
    linear = FunctionOracle(lambda x: anp.sum(x))  # unbounded below along -g
    s = opt.step(opt.init(np.ones(2)), linear)
    assert s.stalled
    np.testing.assert_array_equal(s.params, np.ones(2))
    assert opt.step(s, linear).t == 2


def test_pure_with_read_only_inputs() -> None:
    x = np.array([1.0, 0.1])
    x.setflags(write=False)
    opt = ref.steepest_descent()
    s0 = opt.init(x)
    s1 = opt.step(s0, _quad())
    np.testing.assert_array_equal(s0.params, [1.0, 0.1])
    assert s1.params is not s0.params and s0.t == 0


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="steepest_descent: line_search"):
        ref.steepest_descent(line_search="brent")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="steepest_descent: step needs a FunctionOracle"):
        ref.steepest_descent().step(ref.steepest_descent().init(np.ones(2)), np.ones(2))

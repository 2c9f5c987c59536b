"""Line searches: golden values, (strong) Wolfe conditions at every accepted step, scipy cross-check."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import autograd
import autograd.numpy as anp
import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.optimize import line_search
from scipy.optimize._linesearch import scalar_search_armijo

from reference.curvature.linesearch import LineSearchError, armijo, strong_wolfe, wolfe_conditions
from reference.oracle import FunctionOracle


def _rosen(x: Any) -> Any:
    return anp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def _quartic(x: Any) -> Any:
    return anp.sum(x**4) + 0.5 * anp.sum(x**2) + anp.sum(anp.sin(x))


def _logcosh(x: Any) -> Any:
    return anp.sum(anp.log(anp.cosh(3.0 * x))) + 0.1 * anp.dot(x, x)


FUNCS: list[Callable[[Any], Any]] = [_rosen, _quartic, _logcosh]


def _cases() -> list[tuple[Callable[[Any], Any], np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(0)
    out = []
    for f in FUNCS:
        for _ in range(6):
            x = rng.standard_normal(4)
            g = autograd.grad(f)(x)
            for scale in (1.0, 10.0, 0.1):
                out.append((f, x, -scale * g))
    return out


def _quad(x: Any) -> Any:
    return x[0] ** 2 + 10.0 * x[1] ** 2


def test_armijo_golden_quadratic() -> None:
    # specs/linesearch.md "Worked example", by hand.
    o = FunctionOracle(_quad)
    x, d = np.array([1.0, 1.0]), np.array([-2.0, -20.0])
    r = armijo(o, x, d)
    assert r.alpha == 0.0625 and r.value == 1.390625 and r.converged and not r.first_accepted
    assert r.n_value == 5
    ri = armijo(o, x, d, method="interpolate")
    assert_allclose(ri.alpha, 101 / 2002, rtol=1e-15)
    assert_allclose(ri.value, 11 - 404**2 / 16016, rtol=1e-14)
    rw = strong_wolfe(o, x, d)
    assert_allclose(rw.alpha, 101 / 2002, rtol=1e-15)
    assert rw.converged and rw.n_value == 3 and rw.n_grad == 1
    assert rw.grad is not None and abs(rw.grad @ d) < 1e-12


@pytest.mark.parametrize("case", _cases())
def test_strong_wolfe_holds_and_matches_scipy(case: tuple[Any, np.ndarray, np.ndarray]) -> None:
    f, x, d = case
    o = FunctionOracle(f)
    r = strong_wolfe(o, x, d)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy warns when it does not converge; so do we (flag)
        a_scipy = line_search(f, autograd.grad(f), x, d, gfk=autograd.grad(f)(x))[0]
    if a_scipy is None:
        assert not r.converged
        return
    assert r.converged
    assert_allclose(r.alpha, a_scipy, rtol=1e-12)
    armijo_ok, curv_ok = wolfe_conditions(o, x, d, r.alpha)
    assert armijo_ok and curv_ok
    assert r.grad is not None
    assert_allclose(r.grad, autograd.grad(f)(x + r.alpha * d), rtol=1e-14)
    assert_allclose(r.value, f(x + r.alpha * d), rtol=1e-14)


def test_most_scipy_cases_converge() -> None:
    # The cross-check above is not vacuous: nearly all of its cases find a step.
    ok = sum(strong_wolfe(FunctionOracle(f), x, d).converged for f, x, d in _cases())
    assert ok >= 50, ok


@pytest.mark.parametrize("c2", [0.1, 0.5, 0.9])
def test_strong_wolfe_curvature_constant(c2: float) -> None:
    rng = np.random.default_rng(1)
    for f in FUNCS:
        o = FunctionOracle(f)
        for _ in range(5):
            x = rng.standard_normal(3)
            d = -autograd.grad(f)(x)
            r = strong_wolfe(o, x, d, c2=c2, max_bracket=30, max_zoom=30)
            assert r.converged
            assert all(wolfe_conditions(o, x, d, r.alpha, c2=c2))


@pytest.mark.parametrize("case", _cases()[::3])
def test_armijo_backtrack_is_largest_power_of_rho(case: tuple[Any, np.ndarray, np.ndarray]) -> None:
    f, x, d = case
    o = FunctionOracle(f)
    r = armijo(o, x, d, rho=0.5)
    assert r.converged
    assert wolfe_conditions(o, x, d, r.alpha)[0]
    k = round(np.log2(1.0 / r.alpha))
    assert r.alpha == 0.5**k
    if k > 0:  # the previous trial 2 alpha failed sufficient decrease
        assert not wolfe_conditions(o, x, d, 2 * r.alpha)[0]


@pytest.mark.parametrize("case", _cases())
def test_armijo_interpolate_vs_scipy(case: tuple[Any, np.ndarray, np.ndarray]) -> None:
    f, x, d = case
    o = FunctionOracle(f)
    r = armijo(o, x, d, method="interpolate")
    assert r.converged and wolfe_conditions(o, x, d, r.alpha)[0]
    g0 = autograd.grad(f)(x)
    a_sc, _ = scalar_search_armijo(lambda a: float(f(x + a * d)), float(f(x)), float(g0 @ d))
    if r.n_value <= 2:  # accepted alpha0 or the quadratic step: no safeguard involved
        assert_allclose(r.alpha, a_sc, rtol=1e-13)


def test_counters_and_known_values_save_evaluations() -> None:
    o = FunctionOracle(_quad)
    x, d = np.array([1.0, 1.0]), np.array([-2.0, -20.0])
    f0, g0 = o.value_and_grad(x)
    before = o.counts.as_dict()
    r = strong_wolfe(o, x, d, f0=f0, g0=g0)
    after = o.counts.as_dict()
    assert after["value"] - before["value"] == r.n_value
    assert after["grad"] - before["grad"] == r.n_grad


def test_failure_is_flagged_not_raised() -> None:
    # A ray that keeps descending: bracketing runs out of doublings.
    o = FunctionOracle(lambda x: -anp.sum(x))
    r = strong_wolfe(o, np.zeros(2), np.ones(2), max_bracket=3)
    assert not r.converged and r.alpha == 4.0


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda o: armijo(o, np.ones(2), np.ones(2)), "not a descent direction"),
        (lambda o: strong_wolfe(o, np.ones(2), np.zeros(2)), "not a descent direction"),
        (lambda o: armijo(o, np.ones(2), -np.ones(3)), "same shape"),
        (lambda o: armijo(o, np.ones(2), -np.ones(2), c1=0.0), r"c1 must be in \(0, 1\)"),
        (lambda o: armijo(o, np.ones(2), -np.ones(2), rho=1.0), r"rho must be in \(0, 1\)"),
        (lambda o: armijo(o, np.ones(2), -np.ones(2), alpha0=-1.0), "alpha0 must be"),
        (lambda o: armijo(o, np.ones(2), -np.ones(2), method="exact"), "method must be"),  # type: ignore[arg-type]
        (lambda o: strong_wolfe(o, np.ones(2), -np.ones(2), c1=0.5, c2=0.4), "0 < c1 < c2 < 1"),
        (lambda o: strong_wolfe(o, np.ones(2), -np.ones(2), alpha_max=0.0), "alpha_max"),
    ],
)
def test_bad_input(call: Callable[[FunctionOracle], Any], match: str) -> None:
    with pytest.raises(LineSearchError, match=match):
        call(FunctionOracle(_quad))


def test_oracle_against_closed_forms() -> None:
    a = np.array([[3.0, 1.0], [1.0, 2.0]])
    o = FunctionOracle(lambda x: 0.5 * x @ a @ x + anp.sum(anp.sin(x)), dim=2)
    x, v = np.array([0.3, -0.7]), np.array([1.0, 2.0])
    assert_allclose(o.grad(x), a @ x + np.cos(x), rtol=1e-15)
    hx = a - np.diag(np.sin(x))
    assert_allclose(o.hvp(x, v), hx @ v, rtol=1e-14)
    assert_allclose(o.hessian(x), hx, rtol=1e-14)
    val, g = o.value_and_grad(x)
    assert_allclose(val, 0.5 * x @ a @ x + np.sin(x).sum(), rtol=1e-15)
    assert o.counts.as_dict() == {"value": 1, "grad": 2, "hvp": 1, "hessian": 1}
    assert o.fresh().counts.as_dict() == {"value": 0, "grad": 0, "hvp": 0, "hessian": 0}
    with pytest.raises(ValueError, match=r"x has shape \(3,\) but the function takes \(2,\)"):
        o.value(np.zeros(3))
    with pytest.raises(ValueError, match="flat vector"):
        o.grad(np.zeros((2, 1)))
    with pytest.raises(ValueError, match="v has shape"):
        FunctionOracle(lambda x: anp.sum(x**2)).hvp(np.zeros(2), np.zeros(3))
    with pytest.raises(TypeError, match="f must be callable"):
        FunctionOracle(3)  # type: ignore[arg-type]


def test_sufficient_decrease_rejects_an_increase_and_an_insufficient_decrease() -> None:
    """(LS2) phi(alpha) <= phi(0) + c1 alpha phi'(0) with phi'(0) < 0: the right-hand side lies
    BELOW phi(0). On phi(a) = (a - 1)^2 (phi(0) = 1, phi'(0) = -2, c1 = 1/2): alpha = 2 gives
    phi = 1 > 1 - 2 (an increase in the decrease test's terms) and alpha = 1.9 gives 0.81 > -0.9;
    alpha = 1 gives 0 <= 0 (accepted, equality). Found by tools/mutate (mutant armijo-sign): a sign
    flip of the c1 term accepted increases and no other test noticed."""
    from reference.curvature.linesearch import sufficient_decrease

    assert not sufficient_decrease(1.0, 2.0, 1.0, -2.0, 0.5)
    assert not sufficient_decrease(0.81, 1.9, 1.0, -2.0, 0.5)
    assert sufficient_decrease(0.0, 1.0, 1.0, -2.0, 0.5)
    # and through armijo: from x = 0 on f(x) = (x - 1)^2 along d = 4 (alpha0 = 1 overshoots to
    # f = 9 > 1), backtracking must reject 1 and 0.5 (f(2) = 1 is not a decrease) and accept 0.25
    oracle = FunctionOracle(lambda x: anp.sum((x - 1.0) ** 2))
    res = armijo(oracle, np.zeros(1), np.array([4.0]), c1=0.5)
    assert res.alpha == 0.25 and res.value == 0.0

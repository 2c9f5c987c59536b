"""Newton: golden steps, one-step solution of quadratics, quadratic rate, line searches, bad input."""

from __future__ import annotations

from typing import Any

import autograd
import autograd.numpy as anp
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.optimize import minimize

import reference as ref
from reference.curvature.newton import init as newton_init
from reference.curvature.newton import step as newton_step
from reference.oracle import FunctionOracle

from .curvature_problems import logistic, logsumexp2, rosen
from .helpers import run_oracle


def test_newton_golden() -> None:
    # specs/newton.md "Worked example".
    f = lambda x: x[0] ** 4 + x[1] ** 2  # noqa: E731
    s1, s2 = run_oracle(ref.newton(line_search="none"), f, [1.0, 1.0], 2)
    assert_allclose(s1.params, [2 / 3, 0.0], rtol=1e-15, atol=1e-15)
    assert_allclose(s2.params, [4 / 9, 0.0], rtol=1e-15, atol=1e-15)
    assert s2.t == 2 and s2.alpha == 1.0


@pytest.mark.parametrize("line_search", ["armijo", "wolfe", "none"])
def test_quadratic_in_one_step(line_search: str) -> None:
    rng = np.random.default_rng(0)
    m = rng.standard_normal((6, 6))
    a = m @ m.T + 0.5 * np.eye(6)
    b = rng.standard_normal(6)
    f = lambda x: 0.5 * x @ a @ x - b @ x  # noqa: E731
    (s,) = run_oracle(ref.newton(line_search=line_search), f, rng.standard_normal(6), 1)  # type: ignore[arg-type]
    assert_allclose(s.params, np.linalg.solve(a, b), rtol=1e-12)
    assert s.alpha == 1.0


def test_quadratic_convergence_rate() -> None:
    states = run_oracle(ref.newton(), logistic, np.full(5, 3.0), 12)
    x_star = states[-1].params
    assert np.linalg.norm(autograd.grad(logistic)(x_star)) < 1e-14  # a stationary point, checked
    errs = [np.linalg.norm(s.params - x_star) for s in states[:8]]
    # once in the quadratic regime, e_{k+1} <= C e_k^2 with a moderate C
    pairs = [(a, b) for a, b in zip(errs, errs[1:]) if 1e-7 < a < 1e-1 and b > 1e-13]
    assert pairs, errs
    for a, b in pairs:
        assert b <= 10.0 * a**2, (a, b)
    assert len(pairs) >= 2 and errs[7] < 1e-12 and all(s.alpha == 1.0 for s in states[2:4])


def test_indefinite_hessian_gives_descent() -> None:
    # At (0, 0.5) Rosenbrock's Hessian is indefinite: the shift makes the step a descent step.
    o = FunctionOracle(rosen)
    x0 = np.array([0.0, 0.5])
    assert np.min(np.linalg.eigvalsh(o.hessian(x0))) < 0
    (s,) = run_oracle(ref.newton(), rosen, x0, 1)
    assert s.shift > 0 and rosen(s.params) < rosen(x0)
    final = run_oracle(ref.newton(), rosen, [-1.2, 1.0], 60)[-1]
    assert_allclose(final.params, [1.0, 1.0], rtol=1e-8)


def test_matches_scipy_newton_cg_final() -> None:
    x0 = np.array([1.0, -1.0, 2.0])
    sc = minimize(
        logsumexp2,
        x0,
        jac=autograd.grad(logsumexp2),
        hess=autograd.hessian(logsumexp2),
        method="Newton-CG",
        options=dict(xtol=1e-14),
    )
    s = run_oracle(ref.newton(), logsumexp2, x0, 20)[-1]
    assert_allclose(s.params, sc.x, rtol=1e-7, atol=1e-9)


def test_damping_shrinks_step() -> None:
    f = lambda x: 0.5 * anp.dot(x, x)  # noqa: E731
    (s,) = run_oracle(ref.newton(damping=1.0, line_search="none"), f, [2.0, -4.0], 1)
    assert_allclose(s.params, [1.0, -2.0], rtol=1e-15)  # (I + I) d = -x


def test_stalls_at_stationary_point() -> None:
    f = lambda x: anp.dot(x, x)  # noqa: E731
    s1, s2 = run_oracle(ref.newton(), f, [0.0, 0.0], 2)
    assert s1.stalled and s2.stalled and s2.t == 2
    assert_array_equal(s2.params, [0.0, 0.0])


def test_bare_step_matches_factory() -> None:
    o = FunctionOracle(logsumexp2)
    a = newton_step(newton_init(np.ones(3)), o, line_search="armijo")
    opt = ref.newton()
    b = opt.step(opt.init(np.ones(3)), o)
    assert_array_equal(a.params, b.params)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(damping=-1.0), "damping must be a finite number >= 0"),
        (dict(line_search="exact"), "line_search must be one of"),
        (dict(lr=0.0), "lr must be a finite number > 0"),
        (dict(c1=0.5, c2=0.5), "0 < c1 < c2 < 1"),
        (dict(shift_min=0.0), "shift_min"),
    ],
)
def test_bad_hyperparameters(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ref.newton(**kwargs)


def test_bad_input() -> None:
    opt = ref.newton()
    with pytest.raises(ValueError, match="flat vector"):
        opt.init(np.ones((2, 2)))
    with pytest.raises(TypeError, match="needs a FunctionOracle"):
        opt.step(opt.init(np.ones(2)), np.ones(2))
    with pytest.raises(ValueError, match=r"x has shape \(2,\) but the function takes \(3,\)"):
        opt.step(opt.init(np.ones(2)), FunctionOracle(logsumexp2, dim=3))

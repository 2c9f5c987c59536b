"""BFGS: golden first step, scipy iterates, curvature pairs, secant equation, bad input."""

from __future__ import annotations

from typing import Any

import autograd
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.optimize import minimize

import reference as ref
from reference.curvature.bfgs import init as bfgs_init
from reference.curvature.bfgs import step as bfgs_step
from reference.oracle import FunctionOracle

from .curvature_problems import logistic, logsumexp2, rosen
from .helpers import run_oracle


def _scipy_traj(f: Any, x0: np.ndarray, gtol: float = 1e-10) -> tuple[Any, list[np.ndarray]]:
    traj: list[np.ndarray] = []
    res = minimize(
        f,
        x0,
        jac=autograd.grad(f),
        method="BFGS",
        callback=lambda xk: traj.append(np.array(xk)),
        options=dict(gtol=gtol),
    )
    return res, traj


def test_bfgs_golden_first_step() -> None:
    # specs/bfgs.md "Worked example", exact fractions.
    f = lambda x: 0.5 * (x[0] ** 2 + 4.0 * x[1] ** 2)  # noqa: E731
    (s,) = run_oracle(ref.bfgs(), f, [2.0, 1.0], 1)
    assert_allclose(s.alpha, 5 / 17, rtol=1e-15)
    assert_allclose(s.params, [24 / 17, -3 / 17], rtol=1e-15)
    assert s.s is not None and s.y is not None and s.hinv is not None
    assert_allclose(s.s, [-10 / 17, -20 / 17], rtol=1e-15)
    assert_allclose(s.y, [-10 / 17, -80 / 17], rtol=1e-14)
    assert_allclose(s.y @ s.s, 100 / 17, rtol=1e-14)
    assert_allclose(s.hinv @ s.y, s.s, rtol=1e-14)  # secant equation H_1 y_1 = s_1


def test_all_iterates_match_scipy_on_smooth_convex_problem() -> None:
    # Every line search accepts its first trial in both, so the trajectories coincide.
    x0 = np.array([1.0, -1.0, 2.0])
    res, traj = _scipy_traj(logsumexp2, x0)
    states = run_oracle(ref.bfgs(initial_step="interpolate"), logsumexp2, x0, len(traj))
    assert len(traj) >= 8
    for s, xs in zip(states, traj):
        assert_allclose(s.params, xs, rtol=1e-12, atol=1e-14)
    assert_allclose(states[-1].params, res.x, rtol=1e-12)


@pytest.mark.parametrize("x0", [[-1.2, 1.0], [-1.2, 1.0, 0.5, 0.8]])
def test_final_iterate_matches_scipy_rosenbrock(x0: list[float]) -> None:
    res, traj = _scipy_traj(rosen, np.array(x0))
    states = run_oracle(ref.bfgs(initial_step="interpolate"), rosen, x0, len(traj) + 15)
    assert_allclose(states[-1].params, res.x, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize(
    "f, x0", [(rosen, [-1.2, 1.0]), (logistic, np.full(5, 2.0)), (logsumexp2, [1.0, -1.0, 2.0])]
)
def test_curvature_pairs_positive_and_hinv_spd(f: Any, x0: Any) -> None:
    for s in run_oracle(ref.bfgs(), f, x0, 25):
        if s.stalled:
            break
        assert s.s is not None and s.y is not None and s.hinv is not None
        assert float(s.y @ s.s) > 0
        assert np.min(np.linalg.eigvalsh(0.5 * (s.hinv + s.hinv.T))) > 0
        assert_allclose(s.hinv @ s.y, s.s, rtol=1e-7, atol=1e-12)  # secant equation


def test_quadratic_terminates_in_n_steps_with_exact_search() -> None:
    # On a quadratic with exact line searches BFGS generates conjugate directions and ends in
    # at most n steps; with c2 = 1e-8 the search is exact to rounding: the zoom's quadratic interpolation (exact here) is what is accepted.
    rng = np.random.default_rng(3)
    m = rng.standard_normal((4, 4))
    a = m @ m.T + np.eye(4)
    b = rng.standard_normal(4)
    f = lambda x: 0.5 * x @ a @ x - b @ x  # noqa: E731
    states = run_oracle(ref.bfgs(c1=1e-10, c2=1e-8), f, np.zeros(4), 6)
    assert np.linalg.norm(states[3].params - np.linalg.solve(a, b)) < 1e-6


def test_scale_first_sets_h0() -> None:
    f = lambda x: 0.5 * (x[0] ** 2 + 4.0 * x[1] ** 2)  # noqa: E731
    (s,) = run_oracle(ref.bfgs(scale_first=True), f, [2.0, 1.0], 1)
    assert s.hinv is not None and s.s is not None and s.y is not None
    assert_allclose(s.hinv @ s.y, s.s, rtol=1e-14)
    (u,) = run_oracle(ref.bfgs(), f, [2.0, 1.0], 1)
    assert u.hinv is not None and not np.allclose(s.hinv, u.hinv)


def test_bare_step_matches_factory() -> None:
    o = FunctionOracle(logsumexp2)
    a = bfgs_step(bfgs_init(np.ones(3)), o)
    b = ref.bfgs().step(ref.bfgs().init(np.ones(3)), o)
    assert_array_equal(a.params, b.params)


def test_stalled_and_bad_input() -> None:
    (s,) = run_oracle(ref.bfgs(), lambda x: x @ x, [0.0, 0.0], 1)
    assert s.stalled and s.t == 1
    with pytest.raises(ValueError, match=r"bfgs: c1 must be < c2 \(0 < c1 < c2 < 1\), got c1=0.9, c2=0.1"):
        ref.bfgs(c1=0.9, c2=0.1)
    with pytest.raises(ValueError, match="initial_step must be one of"):
        ref.bfgs(initial_step="two")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="needs a FunctionOracle"):
        ref.bfgs().step(ref.bfgs().init([1.0]), lambda x: x)
    with pytest.raises(ValueError, match="flat vector"):
        ref.bfgs().init(np.ones((2, 2)))

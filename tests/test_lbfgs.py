"""L-BFGS: two-loop golden value and dense equivalence, BFGS equivalence, scipy final iterates."""

from __future__ import annotations

from typing import Any

import autograd
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.optimize import minimize

import reference as ref
from reference.curvature.lbfgs import two_loop

from .curvature_problems import logistic, logsumexp2, rosen
from .helpers import run_oracle


def test_two_loop_golden() -> None:
    # specs/lbfgs.md "Worked example".
    r = two_loop(np.array([4.0, 6.0]), (np.array([1.0, 0.0]),), (np.array([2.0, 0.0]),))
    assert_array_equal(r, [2.0, 3.0])


def test_two_loop_equals_dense_bfgs_updates() -> None:
    rng = np.random.default_rng(0)
    p, k = 6, 4
    ss, ys = [], []
    for _ in range(k):
        s = rng.standard_normal(p)
        y = s + 0.3 * rng.standard_normal(p)
        if y @ s <= 0:
            y = -y
        ss.append(s)
        ys.append(y)
    g = rng.standard_normal(p)
    for scaling in ("gamma", "identity"):
        gamma = (ss[-1] @ ys[-1]) / (ys[-1] @ ys[-1]) if scaling == "gamma" else 1.0
        h = gamma * np.eye(p)
        for s, y in zip(ss, ys):
            rho = 1.0 / (y @ s)
            v = np.eye(p) - rho * np.outer(y, s)
            h = v.T @ h @ v + rho * np.outer(s, s)
        assert_allclose(two_loop(g, tuple(ss), tuple(ys), scaling), h @ g, rtol=1e-12)


@pytest.mark.parametrize("f, x0", [(rosen, [-1.2, 1.0]), (logsumexp2, [1.0, -1.0, 2.0])])
def test_full_memory_identity_scaling_is_bfgs(f: Any, x0: Any) -> None:
    a = run_oracle(ref.lbfgs(m=100, scaling="identity"), f, x0, 12)
    b = run_oracle(ref.bfgs(), f, x0, 12)
    for sa, sb in zip(a, b):
        assert_allclose(sa.params, sb.params, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("f, x0", [(rosen, [-1.2, 1.0, 0.5, 0.8]), (logistic, np.full(5, 2.0))])
def test_final_iterate_matches_scipy_lbfgsb(f: Any, x0: Any) -> None:
    sc = minimize(
        f,
        np.asarray(x0),
        jac=autograd.grad(f),
        method="L-BFGS-B",
        options=dict(gtol=1e-12, ftol=1e-16, maxcor=10),
    )
    s = run_oracle(ref.lbfgs(m=10), f, x0, 150)[-1]
    assert_allclose(s.params, sc.x, rtol=1e-6, atol=1e-8)
    assert np.linalg.norm(autograd.grad(f)(s.params)) < 1e-8


def test_stored_pairs_have_positive_curvature_and_memory_bound() -> None:
    for s in run_oracle(ref.lbfgs(m=3), rosen, [-1.2, 1.0, 0.5], 40):
        assert len(s.s_hist) == len(s.y_hist) <= 3
        for si, yi in zip(s.s_hist, s.y_hist):
            assert float(yi @ si) > 0


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="lbfgs: m must be an integer >= 1, got 0"):
        ref.lbfgs(m=0)
    for m in (2.5, True):  # not an integer: the wrong kind of value
        with pytest.raises(TypeError, match="lbfgs: m must be an integer >= 1"):
            ref.lbfgs(m=m)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="scaling must be one of"):
        ref.lbfgs(scaling="diag")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"lbfgs: c2 must be in \(0, 1\), got 1.0"):
        ref.lbfgs(c2=1.0)
    with pytest.raises(ValueError, match=r"lbfgs: c1 must be < c2 \(0 < c1 < c2 < 1\)"):
        ref.lbfgs(c1=0.5, c2=0.5)
    with pytest.raises(TypeError, match="needs a FunctionOracle"):
        ref.lbfgs().step(ref.lbfgs().init([1.0]), None)

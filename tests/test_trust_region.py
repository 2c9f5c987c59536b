"""Trust region (Steihaug-CG): golden step, scipy trust-ncg iterates, radius rule, bad input."""

from __future__ import annotations

from typing import Any

import autograd
import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.optimize import minimize

import reference as ref
from reference.curvature.trust_region import steihaug_cg
from reference.oracle import FunctionOracle

from .curvature_problems import logistic, rosen
from .helpers import run_oracle


def test_trust_region_golden() -> None:
    # specs/trust_region.md "Worked example".
    f = lambda x: 0.5 * (x[0] ** 2 + 4.0 * x[1] ** 2)  # noqa: E731
    (s,) = run_oracle(ref.trust_region(), f, [2.0, 1.0], 1)
    assert_allclose(s.params, np.array([2.0, 1.0]) - np.array([2.0, 4.0]) / np.sqrt(20.0), rtol=1e-15)
    assert_allclose(s.rho, 1.0, rtol=1e-12)
    assert s.radius == 2.0 and s.cg_iters == 1


@pytest.mark.parametrize("x0", [[-1.2, 1.0], [-1.2, 1.0, 0.5, 0.8, -0.3]])
def test_iterates_match_scipy_trust_ncg(x0: list[float]) -> None:
    traj: list[np.ndarray] = []
    minimize(
        rosen,
        np.array(x0),
        jac=autograd.grad(rosen),
        hessp=autograd.hessian_vector_product(rosen),
        method="trust-ncg",
        callback=lambda xk: traj.append(np.array(xk)),
        options=dict(gtol=1e-10),
    )
    states = run_oracle(ref.trust_region(), rosen, x0, len(traj))
    assert len(traj) > 10
    for s, xs in zip(states, traj):
        assert_allclose(s.params, xs, rtol=1e-12, atol=1e-14)


def test_steihaug_interior_step_is_newton_step_and_boundary_respected() -> None:
    o = FunctionOracle(logistic)
    x = np.full(5, 0.5)
    f, g = o.value_and_grad(x)
    h = o.hessian(x)
    p, boundary, _ = steihaug_cg(o, x, g, f, 1e6)
    assert not boundary
    newton = -np.linalg.solve(h, g)
    tol = min(0.5, np.sqrt(np.linalg.norm(g))) * np.linalg.norm(g)
    assert np.linalg.norm(h @ p + g) < tol  # the CG stopping rule (TR3)
    assert np.linalg.norm(p - newton) < 10 * tol / np.min(np.linalg.eigvalsh(h))
    for radius in (1e-3, 0.1):
        p, boundary, _ = steihaug_cg(o, x, g, f, radius)
        assert boundary and abs(np.linalg.norm(p) - radius) < 1e-12 * radius


def test_negative_curvature_goes_to_boundary() -> None:
    f = lambda x: x[0] ** 2 - x[1] ** 2  # noqa: E731  saddle: Hessian diag(2, -2)
    o = FunctionOracle(f)
    x = np.array([1.0, 0.1])
    val, g = o.value_and_grad(x)
    p, boundary, _ = steihaug_cg(o, x, g, val, 0.5)
    assert boundary and abs(np.linalg.norm(p) - 0.5) < 1e-12
    assert g @ p + 0.5 * p @ o.hvp(x, p) < 0  # the model decreases


def test_radius_shrinks_on_bad_steps_and_converges() -> None:
    states = run_oracle(ref.trust_region(radius=10.0, max_radius=100.0), rosen, [-1.2, 1.0], 80)
    for a, b in zip(states, states[1:]):
        if b.rho < 0.25:
            assert b.radius == 0.25 * a.radius
        if b.rho <= 0.15:
            assert np.array_equal(b.params, a.params)  # rejected step
    assert any(s.rho < 0.25 for s in states)
    assert_allclose(states[-1].params, [1.0, 1.0], rtol=1e-8)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(radius=0.0), "radius must be a finite number > 0"),
        (dict(max_radius=-1.0), "max_radius"),
        (dict(radius=10.0, max_radius=1.0), "radius must be <= max_radius"),
        (dict(eta=0.25), r"trust_region: eta must be in \[0, 0.25\), got 0.25"),
    ],
)
def test_bad_hyperparameters(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ref.trust_region(**kwargs)

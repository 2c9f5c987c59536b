"""Projected gradient descent: golden steps, properties of the three projections (in C,
idempotent, non-expansive, variational inequality), convergence to known constrained minimisers,
differentiability, bad input."""

from __future__ import annotations

import math
from typing import Any

import autograd
import autograd.numpy as anp
import numpy as np
import pytest
import scipy.optimize
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.testing import assert_allclose, assert_array_equal

import reference as ref
from reference.constrained.projected_gd import ConvexSet, ball, box, project_simplex, simplex
from reference.constrained.projected_gd import init as pgd_init
from reference.constrained.projected_gd import step as pgd_step

from .helpers import readonly, run_closed

P = 5
vec = hnp.arrays(np.float64, P, elements=st.floats(-10, 10, allow_nan=False, width=64))


@st.composite
def sets(draw: st.DrawFn) -> ConvexSet:
    kind = draw(st.sampled_from(["box", "ball", "simplex"]))
    if kind == "box":
        a, b = draw(vec), draw(vec)
        return box(np.minimum(a, b), np.maximum(a, b))
    if kind == "ball":
        return ball(draw(vec), draw(st.floats(0.1, 10)))
    return simplex(draw(st.floats(0.1, 10)))


def test_projected_gd_golden() -> None:
    # specs/projected_gd.md "Worked example".
    a = np.array([2.0, -1.0, 0.5])
    out = run_closed(ref.projected_gd(0.5, lo=0.0, hi=1.0), np.full(3, 0.5), lambda th: th - a, 2)
    assert_array_equal(out[0], [1.0, 0.0, 0.5])
    assert_array_equal(out[1], [1.0, 0.0, 0.5])
    assert_allclose(ball(0.0, 1.0).project(np.array([3.0, 4.0])), [0.6, 0.8], rtol=1e-15)
    assert_array_equal(project_simplex(np.array([0.5, 0.2, 1.5])), [0.0, 0.0, 1.0])
    assert_allclose(
        project_simplex(np.array([0.3, 0.4, 0.1])), np.array([0.3, 0.4, 0.1]) + 0.2 / 3, rtol=1e-15
    )


def test_init_projects_and_bare_step_equals_factory() -> None:
    opt = ref.projected_gd(0.1, lo=[-1.0, 0.0], hi=[1.0, 2.0])
    s0 = opt.init(readonly([5.0, -3.0]))
    assert_array_equal(s0.params, [1.0, 0.0])
    g = readonly([-2.0, 1.0])
    bounds = {"lo": [-1.0, 0.0], "hi": [1.0, 2.0]}
    s1 = pgd_step(pgd_init(readonly([1.0, 0.0]), **bounds), g, lr=0.1, **bounds)
    assert_array_equal(s1.params, opt.step(s0, g).params)
    assert_array_equal(s1.params, [1.0, 0.0])  # both coordinates pushed out and clipped back
    # unbounded box is gradient descent, step for step
    a = run_closed(ref.projected_gd(0.3), np.ones(3), lambda th: 2 * th, 4)
    b = run_closed(ref.gd(0.3), np.ones(3), lambda th: 2 * th, 4)
    assert_array_equal(a, b)


@given(sets(), vec, vec)
def test_projection_properties(c: ConvexSet, x: np.ndarray, y: np.ndarray) -> None:
    px, py = c.project(x), c.project(y)
    scale = 1.0 + float(np.abs(x).max() + np.abs(y).max())
    tol = 1e-12 * scale
    assert c.contains(px, tol) and c.contains(py, tol)  # result in C
    assert_allclose(c.project(px), px, atol=tol)  # idempotent
    assert np.linalg.norm(px - py) <= np.linalg.norm(x - y) + tol  # non-expansive
    # variational inequality <x - P(x), w - P(x)> <= 0 for w in C (w = P(y) is in C)
    assert float(np.dot(x - px, py - px)) <= 1e-10 * scale**2


@given(vec, st.floats(0.1, 10))
def test_simplex_projection_is_the_argmin(z: np.ndarray, s: float) -> None:
    # independent solver: the projection's dual, tau the root of sum max(z - tau, 0) = s (bisection by brentq)
    tau = scipy.optimize.brentq(lambda t: np.maximum(z - t, 0).sum() - s, z.min() - s, z.max(), xtol=1e-14)
    assert_allclose(project_simplex(z, s), np.maximum(z - tau, 0), atol=1e-11 * (1 + np.abs(z).max()))


def quadratic(seed: int, p: int = 6) -> tuple[np.ndarray, np.ndarray, float, Any]:
    rng = np.random.default_rng(seed)
    B = rng.standard_normal((p, p))
    Q = B @ B.T / p + 0.5 * np.eye(p)
    c = 3.0 * rng.standard_normal(p)
    return Q, c, float(np.linalg.eigvalsh(Q).max()), lambda x: Q @ x - c


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_box_quadratic_matches_lbfgsb(seed: int) -> None:
    Q, c, L, grad = quadratic(seed)
    lo, hi = -np.ones(6), np.ones(6)
    x = run_closed(ref.projected_gd(1.0 / L, lo=lo, hi=hi), np.zeros(6), grad, 2000)[-1]
    res = scipy.optimize.minimize(
        lambda x: 0.5 * x @ Q @ x - c @ x,
        np.zeros(6),
        jac=grad,
        method="L-BFGS-B",
        bounds=list(zip(lo, hi)),
        options={"ftol": 1e-15, "gtol": 1e-12},
    )
    assert_allclose(x, res.x, atol=1e-8)
    active = (x == lo) | (x == hi)
    assert active.any() and (~active).any()  # the test exercises both kinds of coordinates
    g = grad(x)
    assert np.all(g[x == lo] >= 0) and np.all(g[x == hi] <= 0)  # KKT signs
    assert_allclose(g[~active], 0.0, atol=1e-12)


def test_ball_and_simplex_known_minimisers() -> None:
    # min ||x - a||^2 over C is Proj_C(a): with eta = 1/2 (L = 2) one step lands there and stays.
    a = np.array([3.0, -4.0, 0.0])
    x = run_closed(
        ref.projected_gd(0.5, constraint="ball", center=[1.0, 0.0, 0.0], radius=2.0),
        np.zeros(3),
        lambda th: 2 * (th - a),
        3,
    )
    assert_allclose(x[-1], [1.0, 0.0, 0.0] + 2.0 * np.array([2.0, -4.0, 0.0]) / math.sqrt(20.0), rtol=1e-14)
    # a linear objective c^T x on the simplex: the minimiser is the vertex of the smallest c_i
    cvec = np.array([0.3, -0.2, 0.5, 0.1])
    x = run_closed(ref.projected_gd(0.5, constraint="simplex"), np.full(4, 0.25), lambda th: cvec, 20)[-1]
    assert_array_equal(x, [0.0, 1.0, 0.0, 0.0])


def test_differentiable_through_steps() -> None:
    # d/d lr of the final loss, autograd vs central differences, for each set.
    a = np.array([2.0, -0.3, 0.4, 1.5])
    for kw in ({"lo": -0.5, "hi": 1.0}, {"constraint": "ball", "radius": 1.0}, {"constraint": "simplex"}):

        def loss(lr: Any, kw: dict[str, Any] = kw) -> Any:
            opt = ref.projected_gd(lr, **kw)
            s = opt.init(np.array([0.1, 0.2, 0.3, 0.4]))
            for _ in range(3):
                s = opt.step(s, 2 * (s.params - a) + anp.sin(s.params))
            return anp.sum(s.params**2 * np.arange(1.0, 5.0))

        h = 1e-6
        fd = (loss(0.2 + h) - loss(0.2 - h)) / (2 * h)
        assert_allclose(autograd.grad(loss)(0.2), fd, rtol=1e-6, atol=1e-9)


def test_bad_input() -> None:
    with pytest.raises(ValueError, match=r"lo must be <= hi elementwise"):
        ref.projected_gd(0.1, lo=1.0, hi=0.0)
    with pytest.raises(ValueError, match=r"lo must be <= hi elementwise"):
        ref.projected_gd(0.1, lo=[0.0, 2.0], hi=[1.0, 1.0])
    with pytest.raises(ValueError, match=r"radius must be a finite number > 0, got 0"):
        ref.projected_gd(0.1, constraint="ball", radius=0.0)
    with pytest.raises(ValueError, match=r"radius must be a finite number > 0, got -1"):
        ref.projected_gd(0.1, constraint="ball", radius=-1.0)
    with pytest.raises(ValueError, match=r"total must be a finite number > 0"):
        ref.projected_gd(0.1, constraint="simplex", total=0.0)
    with pytest.raises(
        ValueError, match=r"projected_gd: constraint must be one of 'box', 'ball', 'simplex', got 'sphere'"
    ):
        ref.projected_gd(0.1, constraint="sphere")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"lr must be a finite number > 0"):
        ref.projected_gd(0.0)
    with pytest.raises(
        ValueError, match=r"projected_gd: lo must be a real number or array .*NaN not\), got nan"
    ):
        ref.projected_gd(0.1, lo=math.nan)
    with pytest.raises(
        ValueError, match=r"projected_gd: hi must be .* got an array of shape \(10,\) with 1 non-finite"
    ):
        ref.projected_gd(0.1, hi=np.r_[np.ones(9), math.nan])
    with pytest.raises(TypeError, match=r"projected_gd: hi must be a real number or array"):
        ref.projected_gd(0.1, hi=[1.0, "2"])
    with pytest.raises(ValueError, match=r"projected_gd: center must be a finite real number or array"):
        ref.projected_gd(0.1, constraint="ball", center=[0.0, math.inf])
    with pytest.raises(ValueError, match=r"lo > hi at 1 of 2 entries"):
        ref.projected_gd(0.1, constraint="ball", lo=[0.0, 2.0], hi=1.0)  # checked whatever the set
    with pytest.raises(ValueError, match=r"lo has shape \(3,\) and hi has shape \(2,\)"):
        ref.projected_gd(0.1, lo=np.zeros(3), hi=np.ones(2))
    with pytest.raises(
        ValueError, match=r"lo has shape \(3,\), which does not broadcast to the params' shape \(2,\)"
    ):
        ref.projected_gd(0.1, lo=np.zeros(3)).init(np.zeros(2))
    with pytest.raises(ValueError, match=r"center has shape \(2,\), which does not broadcast"):
        ref.projected_gd(0.1, constraint="ball", center=[0.0, 0.0]).init(np.zeros((3, 3)))
    with pytest.raises(ValueError, match=r"simplex' needs flat params of shape \(p,\), got shape \(2, 2\)"):
        ref.projected_gd(0.1, constraint="simplex").init(np.zeros((2, 2)))
    opt = ref.projected_gd(0.1, lo=0.0)
    with pytest.raises(ValueError, match=r"grad has shape \(3,\) but params have shape \(2,\)"):
        opt.step(opt.init([1.0, 2.0]), np.zeros(3))

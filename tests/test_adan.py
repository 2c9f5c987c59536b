"""Adan: golden values from specs/adan.md for both difference weights and both decay forms, the
first step, reductions, purity, hypergradients."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import reference as ref
from reference.first_order.adan import init as adan_init
from reference.first_order.adan import step as adan_step

from .helpers import freeze, hypergradient_after_steps, readonly, run, stream

X0, G1, G2 = [1.0, -2.0], [0.5, -1.0], [-0.5, 3.0]


@pytest.mark.parametrize(
    ("kw", "theta1", "theta2"),
    [
        ({}, [0.9, -1.9], [0.9453981447407948886853, -1.961343648810770377323]),
        (
            {"weight_decay": 0.5},
            [0.8571428571428571428571, -1.809523809523809523810],
            [0.8595628589368114586119, -1.781778531747218953459],
        ),
        (
            {"weight_decay": 0.5, "weight_decay_form": "decoupled"},
            [0.85, -1.8],
            [0.8528981447407948886853, -1.771343648810770377323],
        ),
        (
            {"diff_weight": "one_minus_beta2"},
            [0.9, -1.9],
            [0.9086244983424563532383, -1.948307472749694867448],
        ),
        (
            {"diff_weight": "one_minus_beta2", "weight_decay": 0.5, "weight_decay_form": "decoupled"},
            [0.85, -1.8],
            [0.8161244983424563532383, -1.758307472749694867448],
        ),
    ],
)
def test_adan_golden_two_steps(kw: dict[str, object], theta1: list[float], theta2: list[float]) -> None:
    # specs/adan.md "Worked example" (40-digit decimals); eps = eps_root = 0.
    opt = ref.adan(0.1, eps=0.0, **kw)  # type: ignore[arg-type]
    s = opt.step(opt.init(X0), G1)
    assert_allclose(s.params, theta1, rtol=1e-15)
    s = opt.step(s, G2)
    assert_allclose(s.m, [-0.0002, 0.0404], rtol=1e-13)
    assert_allclose(s.v, [-0.08, 0.32], rtol=1e-14)
    n2 = [0.005839, 0.120124] if kw.get("diff_weight") == "one_minus_beta2" else [0.022639, 0.456124]
    assert_allclose(s.n, n2, rtol=1e-14)
    assert_allclose(s.params, theta2, rtol=1e-15)
    assert_array_equal(s.g_prev, G2)


def test_first_step_is_a_sign_step_whatever_the_previous_gradient() -> None:
    # d_1 = 0 (g_0 := g_1): the first update is g/(|g| + eps), the same for both weights c.
    g = np.array([0.3, -2.0, 1e-3])
    for dw in ("beta2", "one_minus_beta2"):
        s = ref.adan(0.1, eps=1e-8, diff_weight=dw).step(ref.adan(0.1).init(np.zeros(3)), g)
        assert_allclose(s.params, -0.1 * g / (np.abs(g) + 1e-8), rtol=1e-15)


def test_constant_gradient_is_adam_without_the_difference() -> None:
    # With g_t = g for all t, d_t = 0 and Adan is Adam(beta1, beta3) with eps on sqrt(nhat).
    g = np.array([0.5, -1.5, 2.0])
    gs = [g] * 10
    a = run(ref.adan(0.05, beta1=0.9, beta3=0.99, eps=1e-6), np.ones(3), gs)
    b = run(ref.adam(0.05, beta1=0.9, beta2=0.99, eps=1e-6), np.ones(3), gs)
    assert_allclose(a, b, rtol=1e-13)


def test_the_two_difference_weights_differ_from_step_two() -> None:
    gs = stream(4, (4,), 3)
    a = run(ref.adan(0.05), np.zeros(4), gs)
    b = run(ref.adan(0.05, diff_weight="one_minus_beta2"), np.zeros(4), gs)
    assert_array_equal(a[0], b[0])
    assert np.max(np.abs(a[1] - b[1])) > 1e-4


def test_proximal_and_decoupled_decay_differ_at_order_eta_squared_lambda() -> None:
    # (theta - eta u)/(1 + eta lambda) - (theta - eta u - eta lambda theta) = eta lambda (eta lambda theta
    # + eta u) + O((eta lambda)^2): linear in lambda at fixed eta, and small against the step eta.
    gs = stream(5, (3,), 5)
    x0 = np.array([1.0, -2.0, 0.5])
    diffs = []
    for lam in (1e-2, 1e-3):
        a = run(ref.adan(1e-2, weight_decay=lam), x0, gs)[-1]
        b = run(ref.adan(1e-2, weight_decay=lam, weight_decay_form="decoupled"), x0, gs)[-1]
        diffs.append(np.max(np.abs(a - b)))
        assert diffs[-1] < 5 * (1e-2 * lam) * 1e-2 * (np.max(np.abs(x0)) + 3.0)
    assert 8 < diffs[0] / diffs[1] < 12


def test_step_is_pure_and_bare_step_equals_factory() -> None:
    opt = ref.adan(0.01, weight_decay=0.1)
    s = freeze(opt.init(readonly([1.0, 2.0])))
    s1 = freeze(opt.step(s, readonly([0.5, -0.25])))
    a = opt.step(s1, readonly([0.1, 0.2]))
    b = adan_init(np.array([1.0, 2.0]))
    for g in ([0.5, -0.25], [0.1, 0.2]):
        b = adan_step(b, np.array(g), lr=0.01, beta1=0.98, beta2=0.92, beta3=0.99, eps=1e-8, weight_decay=0.1)
    assert_array_equal(a.params, b.params)
    assert_array_equal(s.params, [1.0, 2.0])
    assert s.t == 0


def test_hypergradient_matches_finite_differences() -> None:
    h = np.array([1.0, 3.0, 0.5])
    for form in ("proximal", "decoupled"):
        ad, fd = hypergradient_after_steps(
            lambda r: ref.adan(r, weight_decay=0.1, weight_decay_form=form),
            [1.0, -1.0, 0.5],
            h,
            0.05,
            1e-6,
            n=15,
        )
        assert_allclose(ad, fd, rtol=1e-6)


def test_invariant_to_the_gradient_scale_without_eps() -> None:
    # u_t is homogeneous of degree 0 in (g_1, ..., g_t) when eps = eps_root = 0.
    gs = stream(6, (4,), 6)
    for dw in ("beta2", "one_minus_beta2"):
        a = run(ref.adan(0.05, eps=0.0, diff_weight=dw), np.ones(4), gs)
        b = run(ref.adan(0.05, eps=0.0, diff_weight=dw), np.ones(4), [1e3 * g for g in gs])
        assert_allclose(a, b, rtol=1e-12)

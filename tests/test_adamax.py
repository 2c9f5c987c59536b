"""Adamax: golden values from specs/adamax.md, the two places of eps, decay, invariances, purity,
schedules, hypergradients."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

import reference as ref
from reference.first_order.adamax import init as adamax_init
from reference.first_order.adamax import step as adamax_step

from .helpers import check_hypergradient, check_pure_steps, run, schedule_reads, states
from .strategies import params_and_grads, positive_scale


def test_adamax_golden_two_steps() -> None:
    # specs/adamax.md "Worked example" (40-digit decimals); u_2[0] = max(0.4995, 0.5) = |g_2[0]|.
    opt = ref.adamax(lr=0.1, eps=0.0)
    s = opt.step(opt.init([1.0, -2.0]), [0.5, -1.0])
    assert_allclose(s.params, [0.9, -1.9], rtol=1e-15)
    assert_array_equal(s.u, [0.5, 1.0])
    s = opt.step(s, [-0.5, 3.0])
    assert_allclose(s.m, [-0.005, 0.21], rtol=1e-14)
    assert_array_equal(s.u, [0.5, 3.0])
    assert_allclose(s.params, [0.9052631578947368421, -1.9368421052631578947], rtol=1e-15)
    assert s.t == 2


@given(params_and_grads(n_grads=1, allow_zero=False), st.floats(1e-4, 1.0))
def test_first_step_is_lr_sign_g(xg: tuple[np.ndarray, list[np.ndarray]], lr: float) -> None:
    # eps = 0: m_1/(1 - beta1) = g_1 and u_1 = |g_1|.
    x, (g,) = xg
    s = ref.adamax(lr=lr, eps=0.0).step(adamax_init(x), g)
    assert_allclose(s.params, x - lr * np.sign(g), rtol=1e-15, atol=1e-15 * lr)


@given(params_and_grads(n_grads=4, allow_zero=False), positive_scale)
def test_scale_invariance_eps_zero(xg: tuple[np.ndarray, list[np.ndarray]], c: float) -> None:
    x, gs = xg
    opt = ref.adamax(lr=1e-2, eps=0.0)
    assert_allclose(run(opt, x, gs)[-1], run(opt, x, [c * g for g in gs])[-1], rtol=1e-12, atol=1e-12)


def test_eps_placements() -> None:
    # "max": u_t = max(beta2 u, |g| + eps); "denominator": u_t = max(beta2 u, |g|), then u_t + eps.
    # They agree while |g_t| wins the max and differ once the decayed maximum does.
    eps = 0.01
    gs = [np.array([1.0]), np.array([0.1]), np.array([0.1])]
    a = states(ref.adamax(0.1, eps=eps, eps_placement="max"), [0.0], gs)
    b = states(ref.adamax(0.1, eps=eps, eps_placement="denominator"), [0.0], gs)
    assert_array_equal(a[0].params, b[0].params)  # step 1: |g| + eps either way
    assert_allclose(a[1].u, [0.999 * 1.01], rtol=1e-15)
    assert_allclose(b[1].u, [0.999], rtol=1e-15)
    m2 = 0.9 * 0.1 + 0.1 * 0.1
    assert_allclose(a[1].params - a[0].params, -(0.1 / 0.19) * m2 / (0.999 * 1.01), rtol=1e-14)
    assert_allclose(b[1].params - b[0].params, -(0.1 / 0.19) * m2 / (0.999 + 0.01), rtol=1e-14)


def test_zero_gradient_with_eps_zero_is_nan_and_warns() -> None:
    # specs/adamax.md Defaults: eps = 0 and a coordinate with only zero gradients is 0/0.
    with pytest.warns(RuntimeWarning):
        s = ref.adamax(eps=0.0).step(adamax_init(np.zeros(2)), np.array([0.0, 1.0]))
    assert np.isnan(s.params[0]) and np.isfinite(s.params[1])


def test_schedule_is_read_at_completed_steps() -> None:
    assert schedule_reads(lambda s: ref.adamax(lr=s)) == [0, 1, 2]


@given(params_and_grads(n_grads=2))
def test_purity_readonly_inputs(xg: tuple[np.ndarray, list[np.ndarray]]) -> None:
    x, gs = xg
    check_pure_steps(ref.adamax(lr=0.1, eps_placement="denominator"), x, gs)


@pytest.mark.parametrize("eps_placement", ["max", "denominator"])
def test_hypergradient_through_5_steps(eps_placement: str) -> None:
    check_hypergradient(
        lambda lr: ref.adamax(lr=lr, eps_placement=eps_placement, weight_decay=0.05),  # type: ignore[arg-type]
        lr=0.05,
        d=1e-7,
        n=5,
    )


def test_bare_step_matches_factory() -> None:
    s1 = adamax_step(adamax_init(np.ones(2)), np.array([1.0, -2.0]), lr=0.1, beta1=0.9, beta2=0.999, eps=1e-8)
    s2 = ref.adamax(lr=0.1).step(ref.adamax(lr=0.1).init(np.ones(2)), [1.0, -2.0])
    assert_array_equal(s1.params, s2.params)

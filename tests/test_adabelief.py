"""AdaBelief: golden values from specs/adabelief.md, where eps_root goes, Nesterov, reductions,
purity, schedules, hypergradient."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from numpy.testing import assert_allclose, assert_array_equal

import reference as ref
from reference.first_order.adabelief import init as adabelief_init
from reference.first_order.adabelief import step as adabelief_step

from .helpers import check_hypergradient, check_pure_steps, run, schedule_reads, states
from .strategies import params_and_grads, positive_scale

X0 = [1.0, -2.0, 0.5]
GS = [np.array([2.0, 2.0, -4.0]), np.array([3.0, -1.0, -6.0])]


def test_adabelief_golden_two_steps() -> None:
    # specs/adabelief.md "Worked example".
    s = states(ref.adabelief(0.3, beta1=0.5, beta2=0.75, eps=0.0, eps_root=0.0), X0, GS)
    assert_array_equal(s[0].s, [0.25, 0.25, 1.0])
    assert_allclose(s[0].params, [0.4, -2.6, 1.1], rtol=1e-15)
    assert_array_equal(s[1].m, [2.0, 0.0, -4.0])
    assert_allclose(s[1].s, [7 / 16, 7 / 16, 7 / 4], rtol=1e-15)
    assert_allclose(s[1].params, [-0.4, -2.6, 1.9], rtol=1e-15)
    assert s[1].t == 2


def test_adabelief_golden_nesterov_first_step() -> None:
    opt = ref.adabelief(0.3, beta1=0.5, beta2=0.75, eps=0.0, eps_root=0.0, nesterov=True)
    assert_allclose(run(opt, X0, GS[:1])[0], [0.2, -2.8, 1.3], rtol=1e-15)


def test_eps_root_is_stored_in_s() -> None:
    # (AB2): s_1 = (1 - beta2) (g - m_1)^2 + eps_root, kept in the state; with g = 0 it accumulates.
    s = states(ref.adabelief(eps_root=1e-3), [0.0], [np.zeros(1)] * 3)
    assert_allclose(s[0].s, [1e-3], rtol=1e-15)
    assert_allclose(s[2].s, [1e-3 * (1 + 0.999 + 0.999**2)], rtol=1e-15)


def test_constant_gradient_has_a_large_step() -> None:
    # A constant gradient has a vanishing prediction error g - m_t = beta1^t g: after 200 steps the
    # step is several times Adam's, which is eta for a constant gradient.
    g = [np.array([1.0])] * 200
    x = run(ref.adabelief(1e-3, eps=1e-16, eps_root=0.0), [0.0], g)
    a = run(ref.adam(1e-3), [0.0], g)
    assert (x[-2][0] - x[-1][0]) > 5 * (a[-2][0] - a[-1][0])


@given(params_and_grads(n_grads=4, allow_zero=False), positive_scale)
def test_scale_invariance_eps_zero(xg: tuple[np.ndarray, list[np.ndarray]], c: float) -> None:
    x, gs = xg
    opt = ref.adabelief(1e-2, eps=0.0, eps_root=0.0)
    assert_allclose(run(opt, x, gs)[-1], run(opt, x, [c * g for g in gs])[-1], rtol=1e-12, atol=1e-12)


@given(params_and_grads(n_grads=2))
def test_purity_readonly_inputs(xg: tuple[np.ndarray, list[np.ndarray]]) -> None:
    x, gs = xg
    check_pure_steps(ref.adabelief(0.1, nesterov=True), x, gs)


def test_schedule_is_read_at_completed_steps() -> None:
    assert schedule_reads(lambda s: ref.adabelief(lr=s)) == [0, 1, 2]


@pytest.mark.parametrize("nesterov", [False, True])
def test_hypergradient_through_5_steps(nesterov: bool) -> None:
    check_hypergradient(lambda lr: ref.adabelief(lr, eps=1e-8, nesterov=nesterov), lr=0.05, d=1e-7, n=5)


def test_bare_step_matches_factory() -> None:
    s1 = adabelief_step(
        adabelief_init(np.ones(2)),
        np.array([1.0, -2.0]),
        lr=0.1,
        beta1=0.9,
        beta2=0.999,
        eps=1e-16,
        eps_root=1e-16,
    )
    s2 = ref.adabelief(lr=0.1).step(ref.adabelief(lr=0.1).init(np.ones(2)), [1.0, -2.0])
    assert_array_equal(s1.params, s2.params)

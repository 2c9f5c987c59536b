"""Yogi: golden values from specs/yogi.md, the additive second moment, optax's form, purity,
schedules, hypergradient."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from numpy.testing import assert_allclose, assert_array_equal

import reference as ref
from reference.first_order.yogi import init as yogi_init
from reference.first_order.yogi import step as yogi_step

from .helpers import check_hypergradient, check_pure_steps, run, schedule_reads, states, stream
from .strategies import params_and_grads


def test_yogi_golden_two_steps() -> None:
    # specs/yogi.md "Worked example": v grows, ties and shrinks in the three coordinates.
    opt = ref.yogi(0.1, beta1=0.5, beta2=0.75, eps=0.0)
    s = states(opt, [1.0, -2.0, 0.5], [np.array([1.0, -2.0, -2.0]), np.array([0.75, 1.0, 10 / 13])])
    assert_array_equal(s[0].v, [0.25, 1.0, 1.0])
    assert_allclose(s[0].params, [0.9, -1.9, 0.6], rtol=1e-15)
    assert_allclose(s[1].m, [0.625, 0.0, -3 / 26], rtol=1e-15, atol=1e-17)
    assert_allclose(s[1].v, [25 / 64, 1.0, 144 / 169], rtol=1e-15)
    assert_allclose(s[1].params, [0.8, -1.9, 0.6125], rtol=1e-15)
    assert s[1].t == 2


def test_optax_form_first_step() -> None:
    # m_0 = v_0 = c, bias correction: mhat_1 = (b1 c + (1 - b1) g) / (1 - b1), v_1 = c + (1 - b2) g^2 (c < g^2).
    c, g, lr = 1e-6, np.array([0.5, -2.0]), 0.01
    s = ref.yogi(lr, initial_accumulator_value=c, bias_correction=True).step(
        yogi_init(np.zeros(2), initial_accumulator_value=c), g
    )
    mhat = (0.9 * c + 0.1 * g) / 0.1
    vhat = (c + 0.001 * g**2) / 0.001
    assert_allclose(s.params, -lr * mhat / (np.sqrt(vhat) + 1e-3), rtol=1e-14)


def test_initial_accumulator_moves_a_zero_gradient_coordinate() -> None:
    # optax's m_0 = 1e-6 is not 0: a coordinate that never sees a gradient still drifts (spec, Conventions).
    opt = ref.yogi(0.1, initial_accumulator_value=1e-6, bias_correction=True)
    x = run(opt, [0.0], [np.zeros(1)] * 3)[-1]
    assert x[0] < 0
    assert_array_equal(run(ref.yogi(0.1), [0.0], [np.zeros(1)] * 3)[-1], [0.0])


def test_v_moves_by_at_most_a_share_of_g2_and_stays_nonnegative() -> None:
    gs = stream(5, (6,), 40, scale=3.0)
    ss = states(ref.yogi(0.01, beta2=0.9), np.zeros(6), gs)
    prev = np.zeros(6)
    for g, s in zip(gs, ss):
        assert_allclose(np.abs(s.v - prev), 0.1 * g**2 * (s.v != prev), rtol=1e-12, atol=4e-16 * prev.max())
        assert np.all(s.v >= 0)
        prev = s.v


def test_v_grows_slower_than_adam_after_a_spike() -> None:
    # After one large gradient Adam's v shrinks by (1 - beta2) v per step, Yogi's only by (1 - beta2) g^2.
    gs = [np.array([10.0])] + [np.array([0.1])] * 20
    y = states(ref.yogi(0.01, beta2=0.9), [0.0], gs)[-1].v
    a = states(ref.adam(0.01, beta2=0.9, bias_correction=False), [0.0], gs)[-1].v
    assert y[0] > a[0]


@given(params_and_grads(n_grads=2))
def test_purity_readonly_inputs(xg: tuple[np.ndarray, list[np.ndarray]]) -> None:
    x, gs = xg
    check_pure_steps(
        ref.yogi(0.1, bias_correction=True, eps_root=1e-8, initial_accumulator_value=1e-6), x, gs
    )


def test_schedule_is_read_at_completed_steps() -> None:
    assert schedule_reads(lambda s: ref.yogi(lr=s)) == [0, 1, 2]


@pytest.mark.parametrize("bias_correction", [False, True])
def test_hypergradient_through_5_steps(bias_correction: bool) -> None:
    check_hypergradient(
        lambda lr: ref.yogi(lr, bias_correction=bias_correction, initial_accumulator_value=1e-6),
        lr=0.05,
        d=1e-7,
        n=5,
    )


def test_bare_step_matches_factory() -> None:
    s1 = yogi_step(yogi_init(np.ones(2)), np.array([1.0, -2.0]), lr=0.1, beta1=0.9, beta2=0.999, eps=1e-3)
    s2 = ref.yogi(lr=0.1).step(ref.yogi(lr=0.1).init(np.ones(2)), [1.0, -2.0])
    assert_array_equal(s1.params, s2.params)

"""NAdam: golden values from specs/nadam.md, the schedule-free (optax) form, the float32 product,
decay, purity, schedules, hypergradients."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from numpy.testing import assert_allclose, assert_array_equal

import reference as ref
from reference.first_order.nadam import init as nadam_init
from reference.first_order.nadam import step as nadam_step

from .helpers import check_hypergradient, check_pure_steps, run, schedule_reads, states, stream
from .strategies import params_and_grads


def test_nadam_golden_two_steps() -> None:
    # specs/nadam.md "Worked example": psi = 0, so mu_t = 0.45 and Pi_t = 0.45^t (40-digit decimals).
    opt = ref.nadam(lr=0.1, eps=0.0, momentum_decay=0.0)
    s = opt.step(opt.init([1.0, -2.0]), [0.5, -1.0])
    assert_allclose(s.params, [0.8943573667711598746, -1.8943573667711598746], rtol=1e-15)
    assert_allclose(s.mu_product, 0.45, rtol=1e-15)
    s = opt.step(s, [-0.5, 3.0])
    assert_allclose(s.m, [-0.005, 0.21], rtol=1e-14)
    assert_allclose(s.v, [0.00049975, 0.009999], rtol=1e-14)
    assert_allclose(s.mu_product, 0.2025, rtol=1e-15)
    assert_allclose(s.params, [0.9638180016029669115, -1.9915147679821351615], rtol=1e-15)
    assert s.t == 2


def test_nadam_golden_default_schedule() -> None:
    # psi = 4e-3: mu_1 = 0.45007347359129612471..., mu_2 = 0.45014693518621754286... (decimals).
    opt = ref.nadam(lr=0.1, eps=0.0)
    s = opt.step(opt.init([1.0, -2.0]), [0.5, -1.0])
    assert_allclose(s.mu_product, 0.4500734735912961247, rtol=1e-15)
    assert_allclose(s.params, [0.8943548221644611766, -1.8943548221644611766], rtol=1e-15)
    s = opt.step(s, [-0.5, 3.0])
    assert_allclose(s.mu_product, 0.2025991947457369696, rtol=1e-15)
    assert_allclose(s.params, [0.9638059005238724438, -1.9915017478269611221], rtol=1e-15)


def test_without_schedule_is_optax_nesterov_adam() -> None:
    # mu_schedule=False: the bracket of (NA6) is beta1 m_t/(1 - beta1^(t+1)) + (1 - beta1) g_t/(1 - beta1^t).
    gs = stream(3, (4,), 12)
    b1, b2, lr, eps = 0.8, 0.99, 0.05, 1e-6
    out = run(ref.nadam(lr, beta1=b1, beta2=b2, eps=eps, mu_schedule=False), np.zeros(4), gs)
    m = v = x = np.zeros(4)
    for t, (g, got) in enumerate(zip(gs, out), 1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        mhat = b1 * m / (1 - b1 ** (t + 1)) + (1 - b1) * g / (1 - b1**t)
        x = x - lr * mhat / (np.sqrt(v / (1 - b2**t)) + eps)
        assert_allclose(got, x, rtol=1e-13, atol=1e-16)


def test_large_momentum_decay_tends_to_the_schedule_free_form() -> None:
    # 0.96^(t psi) -> 0 as psi grows, so mu_t -> beta1; psi = 0 is mu_t = beta1 / 2, not beta1.
    gs = stream(5, (3,), 6)
    free = run(ref.nadam(1e-2, mu_schedule=False), np.ones(3), gs)[-1]
    near = run(ref.nadam(1e-2, momentum_decay=2000.0), np.ones(3), gs)[-1]
    half = run(ref.nadam(1e-2, momentum_decay=0.0), np.ones(3), gs)[-1]
    assert_allclose(near, free, rtol=1e-14)
    assert np.max(np.abs(half - free)) > 1e-4


def test_float32_product_is_torch_rounding() -> None:
    # Pi_t = fl32(fl32(Pi_{t-1}) fl32(mu_t)); the float64 product differs from it by ~1e-8.
    ss = states(ref.nadam(mu_product_dtype="float32"), np.zeros(2), stream(1, (2,), 50))
    exact = states(ref.nadam(), np.zeros(2), stream(1, (2,), 50))
    p = np.float32(1.0)
    for t, (a, _b) in enumerate(zip(ss, exact), 1):
        mu = 0.9 * (1 - 0.5 * 0.96 ** (t * 4e-3))
        p = np.float32(p * np.float32(mu))
        assert a.mu_product == float(p)
        assert np.float32(a.mu_product) == a.mu_product
    assert 0 < abs(ss[-1].mu_product - exact[-1].mu_product) < 1e-7


def test_schedule_is_read_at_completed_steps() -> None:
    assert schedule_reads(lambda s: ref.nadam(lr=s)) == [0, 1, 2]


@given(params_and_grads(n_grads=2))
def test_purity_readonly_inputs(xg: tuple[np.ndarray, list[np.ndarray]]) -> None:
    x, gs = xg
    s0, s1, _ = check_pure_steps(ref.nadam(lr=0.1, weight_decay=0.1, mu_product_dtype="float32"), x, gs)
    assert s0.mu_product == 1.0


@pytest.mark.parametrize("mu_schedule", [True, False])
def test_hypergradient_through_5_steps(mu_schedule: bool) -> None:
    check_hypergradient(
        lambda lr: ref.nadam(lr=lr, weight_decay=0.05, decoupled_weight_decay=True, mu_schedule=mu_schedule),
        lr=0.05,
        d=1e-7,
        n=5,
    )


def test_bare_step_matches_factory() -> None:
    s1 = nadam_step(nadam_init(np.ones(2)), np.array([1.0, -2.0]), lr=0.1, beta1=0.9, beta2=0.999, eps=1e-8)
    s2 = ref.nadam(lr=0.1).step(ref.nadam(lr=0.1).init(np.ones(2)), [1.0, -2.0])
    assert_array_equal(s1.params, s2.params)
    assert s1.mu_product == s2.mu_product

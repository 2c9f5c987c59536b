"""ASGD: golden values from specs/asgd.md, the average as a running mean, reductions to SGD, torch's
float32 schedule, purity, hypergradient."""

from __future__ import annotations

from fractions import Fraction as F

import numpy as np
import pytest
from hypothesis import given
from numpy.testing import assert_allclose, assert_array_equal

import reference as ref
from reference.first_order.asgd import init as asgd_init
from reference.first_order.asgd import step as asgd_step

from .helpers import check_hypergradient, check_pure_steps, run, states, stream
from .strategies import params_and_grads

GS = [np.array([0.5, 1.0]), np.array([-1.0, 0.0]), np.array([1.0, 1.0])]


def _f(*xs: F) -> list[float]:
    return [float(x) for x in xs]


def test_asgd_golden_three_steps() -> None:
    # specs/asgd.md "Worked example" (exact fractions).
    s = states(ref.asgd(0.1, lambd=0.5, alpha=1.0, t0=0.0), [1.0, -2.0], GS)
    assert_allclose(s[0].params, [0.9, -2.0], rtol=1e-15)
    assert_array_equal(s[0].ax, s[0].params)
    assert_allclose(s[1].params, _f(F(20, 21), F(-40, 21)), rtol=1e-15)
    assert_array_equal(s[1].ax, s[1].params)  # mu_2 = 1
    assert_allclose(s[2].params, _f(F(9, 11), F(-21, 11)), rtol=1e-15)
    assert_allclose(s[2].ax, _f(F(409, 462), F(-881, 462)), rtol=1e-15)
    assert s[2].t == 3


@pytest.mark.parametrize("t0", [0.0, 3.0])
def test_average_is_the_mean_of_the_iterates_after_t0_plus_1(t0: float) -> None:
    # mu_t = 1 / max(1, t - 1 - t0): a_t = mean(theta_{t0+2}, ..., theta_t) (spec, Update rule).
    ss = states(ref.asgd(0.05, lambd=0.1, t0=t0), np.ones(3), stream(1, (3,), 12))
    start = int(t0) + 1  # 0-based index of theta_{t0+2}
    for k in range(start + 1, len(ss)):
        mean = np.mean([s.params for s in ss[start : k + 1]], axis=0)
        assert_allclose(ss[k].ax, mean, rtol=1e-13)
    for k in range(start + 1):
        assert_array_equal(ss[k].ax, ss[k].params)


@given(params_and_grads(n_grads=4))
def test_no_decay_is_sgd(xg: tuple[np.ndarray, list[np.ndarray]]) -> None:
    # lambd = 0: eta_t = lr and no decay of theta: plain SGD, bit for bit.
    x, gs = xg
    a = run(ref.asgd(0.1, lambd=0.0), x, gs)[-1]
    b = run(ref.sgd(0.1), x, gs)[-1]
    assert_array_equal(a, b)


def test_lambd_is_an_l2_penalty_and_weight_decay_another() -> None:
    # (AS4): (1 - lambda eta) theta - eta g = theta - eta (g + lambda theta): lambd and weight_decay act
    # alike on theta once the step-size decay is switched off (alpha = 0 keeps eta_t = lr).
    gs = stream(2, (4,), 5)
    a = run(ref.asgd(0.1, lambd=0.3, alpha=0.0), np.ones(4), gs)[-1]
    b = run(ref.asgd(0.1, lambd=0.0, weight_decay=0.3), np.ones(4), gs)[-1]
    assert_allclose(a, b, rtol=1e-14)


def test_step_size_schedule() -> None:
    # eta_t = lr / (1 + lambd lr (t - 1))^alpha, read from the zero-gradient decay theta_t / theta_{t-1}.
    lr, lam, alpha = 0.2, 0.5, 0.75
    ss = states(ref.asgd(lr, lambd=lam, alpha=alpha), [1.0], [np.zeros(1)] * 4)
    prev = 1.0
    for t, s in enumerate(ss, start=1):
        eta = lr / (1 + lam * lr * (t - 1)) ** alpha
        assert_allclose(s.params[0] / prev, 1 - lam * eta, rtol=1e-15)
        prev = s.params[0]


def test_float32_schedule_rounds_eta_as_torch_stores_it() -> None:
    g = [np.array([1.0])]
    exact = run(ref.asgd(0.01, lambd=0.0), [0.0], g)[0]
    rounded = run(ref.asgd(0.01, lambd=0.0, schedule_dtype="float32"), [0.0], g)[0]
    assert exact[0] == -0.01
    assert rounded[0] == -float(np.float32(0.01)) != exact[0]


@given(params_and_grads(n_grads=2))
def test_purity_readonly_inputs(xg: tuple[np.ndarray, list[np.ndarray]]) -> None:
    x, gs = xg
    _, s2, s2b = check_pure_steps(ref.asgd(0.1, t0=0.0, weight_decay=0.1), x, gs, steps=2)
    assert_array_equal(s2.ax, s2b.ax)


def test_hypergradient_through_8_steps() -> None:
    check_hypergradient(lambda lr: ref.asgd(lr, lambd=0.5, t0=2.0, weight_decay=0.05), lr=0.05, d=1e-7, n=8)


def test_bare_step_matches_factory() -> None:
    s1 = asgd_step(asgd_init(np.ones(2)), np.array([1.0, -2.0]), lr=0.1, lambd=1e-4, alpha=0.75, t0=1e6)
    s2 = ref.asgd(0.1).step(ref.asgd(0.1).init(np.ones(2)), [1.0, -2.0])
    assert_array_equal(s1.params, s2.params)

"""Optimistic Adam: golden values from specs/optimistic_adam.md, reductions to Adam and to NAdam's
optax form, the first step, optax v1's scalars, purity, schedules, hypergradients."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

import reference as ref
from reference.first_order.optimistic_adam import init as oadam_init
from reference.first_order.optimistic_adam import step as oadam_step

from .helpers import check_hypergradient, check_pure_steps, run, schedule_reads, states, stream
from .strategies import params_and_grads

X0, G1, G2 = [1.0, -2.0], [0.5, -1.0], [-0.5, 3.0]


@pytest.mark.parametrize(
    ("first_step", "theta1", "theta2"),
    [
        ("zeros", [0.8, -1.8], [0.9105263157894736842105, -1.998837966659417406763]),
        ("repeat", [0.9, -1.9], [1.010526315789473684211, -2.098837966659417406763]),
    ],
)
def test_optimistic_adam_golden_two_steps(first_step: str, theta1: list[float], theta2: list[float]) -> None:
    # specs/optimistic_adam.md "Worked example" (40-digit decimals).
    opt = ref.optimistic_adam(0.1, eps=0.0, first_step=first_step)  # type: ignore[arg-type]
    s = opt.step(opt.init(X0), G1)
    assert_allclose(s.params, theta1, rtol=1e-15)
    assert_allclose(s.r_prev, [1.0, -1.0], rtol=1e-15)
    s = opt.step(s, G2)
    assert_allclose(s.m, [-0.005, 0.21], rtol=1e-14)
    assert_allclose(s.v, [0.00049975, 0.009999], rtol=1e-14)
    assert_allclose(s.r_prev, [-0.05263157894736842105, 0.4941898332970870338166], rtol=1e-14)
    assert_allclose(s.params, theta2, rtol=1e-15)
    assert s.t == 2


def test_golden_nesterov_first_step() -> None:
    s = ref.optimistic_adam(0.1, eps=0.0, nesterov=True, first_step="repeat").step(
        oadam_init(np.array(X0)), G1
    )
    assert_allclose(s.r_prev, [1.473684210526315789474, -1.473684210526315789474], rtol=1e-15)
    assert_allclose(s.params, [0.8526315789473684210526, -1.852631578947368421053], rtol=1e-15)


@given(params_and_grads(n_grads=4), st.floats(1e-3, 0.5), st.floats(0.1, 3.0))
def test_beta_zero_is_adam_with_step_alpha_lr(
    xg: tuple[np.ndarray, list[np.ndarray]], lr: float, alpha: float
) -> None:
    x, gs = xg
    got = run(ref.optimistic_adam(lr, alpha=alpha, beta=0.0, eps_root=1e-8), x, gs)
    want = run(ref.adam(lr * alpha, eps_root=1e-8), x, gs)
    for a, b in zip(got, want):
        assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@given(params_and_grads(n_grads=4), st.floats(1e-3, 0.5))
def test_beta_zero_with_nesterov_is_optax_nadam(xg: tuple[np.ndarray, list[np.ndarray]], lr: float) -> None:
    x, gs = xg
    got = run(ref.optimistic_adam(lr, beta=0.0, nesterov=True), x, gs)
    want = run(ref.nadam(lr, mu_schedule=False), x, gs)
    for a, b in zip(got, want):
        assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_first_steps_differ_by_lr_beta_r1_forever() -> None:
    gs = stream(1, (3,), 6)
    a = states(ref.optimistic_adam(0.05, beta=0.7, first_step="repeat"), np.zeros(3), gs)
    b = states(ref.optimistic_adam(0.05, beta=0.7, first_step="zeros"), np.zeros(3), gs)
    r1 = a[0].r_prev
    for sa, sb in zip(a, b):
        assert_array_equal(sa.r_prev, sb.r_prev)  # the ratios do not depend on theta
        assert_allclose(sb.params - sa.params, -0.05 * 0.7 * r1, rtol=1e-9, atol=1e-15)


def test_optax_v1_scalars_are_alpha_and_beta() -> None:
    # optax.optimistic_adam(a, o) = chain(adam, optimistic(alpha=a, beta=o), scale(-1)): the step
    # -1 ((a + o) r_t - o r_{t-1}) is the reference with lr = 1, alpha = a, beta = o, and equals
    # lr = a, alpha = 1, beta = o/a up to rounding.
    gs = stream(2, (4,), 5)
    v1 = run(ref.optimistic_adam(1.0, alpha=0.01, beta=0.5), np.ones(4), gs)
    scaled = run(ref.optimistic_adam(0.01, alpha=1.0, beta=50.0), np.ones(4), gs)
    for a, b in zip(v1, scaled):
        assert_allclose(a, b, rtol=1e-13)


def test_schedule_is_read_at_completed_steps() -> None:
    assert schedule_reads(lambda s: ref.optimistic_adam(s)) == [0, 1, 2]


@given(params_and_grads(n_grads=2))
def test_purity_readonly_inputs(xg: tuple[np.ndarray, list[np.ndarray]]) -> None:
    x, gs = xg
    check_pure_steps(ref.optimistic_adam(0.1, nesterov=True, first_step="repeat"), x, gs, steps=2)


@pytest.mark.parametrize(("nesterov", "first_step"), [(False, "zeros"), (True, "repeat")])
def test_hypergradient_through_5_steps(nesterov: bool, first_step: str) -> None:
    check_hypergradient(
        lambda lr: ref.optimistic_adam(lr, beta=0.5, nesterov=nesterov, first_step=first_step),  # type: ignore[arg-type]
        lr=0.05,
        d=1e-7,
        n=5,
    )


def test_bare_step_matches_factory() -> None:
    kw: dict[str, Any] = {"lr": 0.1, "alpha": 1.0, "beta": 1.0, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}
    s1 = oadam_step(oadam_step(oadam_init(np.ones(2)), np.array(G1), **kw), np.array(G2), **kw)
    opt = ref.optimistic_adam(0.1)
    s2 = opt.step(opt.step(opt.init(np.ones(2)), G1), G2)
    assert_array_equal(s1.params, s2.params)

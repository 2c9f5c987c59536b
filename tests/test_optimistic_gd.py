"""Optimistic gradient descent: golden values from specs/optimistic_gd.md, the two first steps,
reductions to gradient descent, the bilinear game where it converges and GD does not, purity,
schedules, hypergradients."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

import reference as ref
from reference.first_order.optimistic_gd import init as ogd_init
from reference.first_order.optimistic_gd import step as ogd_step

from .helpers import check_hypergradient, check_pure_steps, run, schedule_reads
from .strategies import params_and_grads


@pytest.mark.parametrize(
    ("first_step", "theta1", "theta2"),
    [("repeat", [0.95, -1.9], [1.1, -2.6]), ("zeros", [0.9, -1.8], [1.05, -2.5])],
)
def test_optimistic_gd_golden_two_steps(first_step: str, theta1: list[float], theta2: list[float]) -> None:
    # specs/optimistic_gd.md "Worked example".
    opt = ref.optimistic_gd(0.1, first_step=first_step)  # type: ignore[arg-type]
    s = opt.step(opt.init([1.0, -2.0]), [0.5, -1.0])
    assert_allclose(s.params, theta1, rtol=1e-15)
    assert_array_equal(s.g_prev, [0.5, -1.0])
    s = opt.step(s, [-0.5, 3.0])
    assert_allclose(s.params, theta2, rtol=1e-15)
    assert s.t == 2


@given(params_and_grads(n_grads=4), st.floats(1e-3, 1.0), st.floats(0.1, 3.0))
def test_beta_zero_is_gradient_descent_with_step_alpha_lr(
    xg: tuple[np.ndarray, list[np.ndarray]], lr: float, alpha: float
) -> None:
    x, gs = xg
    got = run(ref.optimistic_gd(lr, alpha=alpha, beta=0.0), x, gs)
    want = run(ref.gd(lr * alpha), x, gs)
    for a, b in zip(got, want):
        assert_allclose(a, b, rtol=1e-13, atol=1e-13)


@given(params_and_grads(n_grads=4), st.floats(0.1, 2.0), st.floats(0.1, 2.0))
def test_first_steps_differ_by_beta_lr_g1_forever(
    xg: tuple[np.ndarray, list[np.ndarray]], alpha: float, beta: float
) -> None:
    # Fed the same gradients, "zeros" takes an extra -eta beta g_1 at the first step only.
    x, gs = xg
    lr = 0.05
    a = run(ref.optimistic_gd(lr, alpha=alpha, beta=beta, first_step="repeat"), x, gs)
    b = run(ref.optimistic_gd(lr, alpha=alpha, beta=beta, first_step="zeros"), x, gs)
    for pa, pb in zip(a, b):
        assert_allclose(pb - pa, -lr * beta * gs[0], rtol=1e-9, atol=1e-12)


def test_bilinear_game_converges_where_gradient_descent_ascent_spirals_out() -> None:
    # min_x max_y x y: the field (y, -x) fed as one vector. GDA's iteration matrix has spectral
    # radius sqrt(1 + eta^2) > 1; OGDA's is < 1 for small eta (Daskalakis et al. 2018).
    def field(w: np.ndarray) -> np.ndarray:
        return np.array([w[1], -w[0]])

    def last(opt: object) -> float:
        s = opt.init([1.0, 1.0])  # type: ignore[attr-defined]
        for _ in range(2000):
            s = opt.step(s, field(opt.query(s)))  # type: ignore[attr-defined]
        return float(np.linalg.norm(s.params))

    assert last(ref.optimistic_gd(0.1)) < 1e-3
    assert last(ref.optimistic_gd(0.1, beta=0.0)) > 1e4  # = gradient descent-ascent


def test_schedule_is_read_at_completed_steps() -> None:
    assert schedule_reads(lambda s: ref.optimistic_gd(s)) == [0, 1, 2]


@given(params_and_grads(n_grads=2))
def test_purity_readonly_inputs(xg: tuple[np.ndarray, list[np.ndarray]]) -> None:
    x, gs = xg
    check_pure_steps(ref.optimistic_gd(0.1, alpha=0.5, beta=2.0), x, gs, steps=2)


@pytest.mark.parametrize("first_step", ["repeat", "zeros"])
def test_hypergradient_through_5_steps(first_step: str) -> None:
    check_hypergradient(
        lambda lr: ref.optimistic_gd(lr, alpha=0.7, beta=1.3, first_step=first_step),  # type: ignore[arg-type]
        lr=0.05,
        d=1e-6,
        n=5,
    )


def test_bare_step_matches_factory() -> None:
    s = ogd_init(np.ones(2))
    s1 = ogd_step(s, np.array([1.0, -2.0]), lr=0.1, alpha=1.0, beta=1.0)
    s1 = ogd_step(s1, np.array([0.5, 0.5]), lr=0.1, alpha=1.0, beta=1.0)
    opt = ref.optimistic_gd(0.1)
    s2 = opt.step(opt.step(opt.init(np.ones(2)), [1.0, -2.0]), [0.5, 0.5])
    assert_array_equal(s1.params, s2.params)


def test_first_step_keyword_is_checked() -> None:
    with pytest.raises(ValueError, match="optimistic_gd: first_step must be one of 'repeat', 'zeros'"):
        ref.optimistic_gd(0.1, first_step="previous")  # type: ignore[arg-type]

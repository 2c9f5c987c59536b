"""Noisy SGD: golden values from specs/noisy_sgd.md, the default numpy stream and its purity, a
given noise source, reductions to gradient descent, the variance schedule, hypergradients."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

import reference as ref
from reference.first_order.noisy_sgd import init as noisy_init
from reference.first_order.noisy_sgd import step as noisy_step

from .helpers import check_hypergradient, check_pure_steps, run, schedule_reads
from .strategies import params_and_grads

TABLE = [np.array([1.0, -1.0]), np.array([0.5, 2.0])]


def _table(t: int, p: int) -> np.ndarray:
    return TABLE[t - 1]


def test_noisy_sgd_golden_two_steps() -> None:
    # specs/noisy_sgd.md "Worked example" (40-digit decimals).
    opt = ref.noisy_sgd(0.1, eta=0.04, gamma=0.5, noise=_table)
    s = opt.step(opt.init([1.0, -2.0]), [0.5, -1.0])
    assert_allclose(s.params, [0.93, -1.88], rtol=1e-15)
    s = opt.step(s, [-0.5, 3.0])
    assert_allclose(s.params, [0.9715910358474628545697, -2.213635856610148581721], rtol=1e-15)
    assert s.t == 2


def test_default_draws_are_numpy_from_seed_and_step() -> None:
    # (NS2): z_t = default_rng([seed, t]).standard_normal(p); with g = 0, eta_t = 1 and gamma = 0,
    # theta_t - theta_{t-1} = -sqrt(eta) z_t.
    opt = ref.noisy_sgd(1.0, eta=0.25, gamma=0.0, seed=11)
    s0 = opt.init(np.zeros(5))
    s1 = opt.step(s0, np.zeros(5))
    s2 = opt.step(s1, np.zeros(5))
    assert_allclose(s1.params, -0.5 * np.random.default_rng([11, 1]).standard_normal(5), rtol=1e-15)
    assert_allclose(
        s2.params - s1.params, -0.5 * np.random.default_rng([11, 2]).standard_normal(5), rtol=1e-13
    )


def test_same_state_same_draw_and_seeds_differ() -> None:
    opt = ref.noisy_sgd(0.1)
    s = opt.step(opt.init(np.zeros(4)), np.ones(4))
    assert_array_equal(opt.step(s, np.ones(4)).params, opt.step(s, np.ones(4)).params)
    other = ref.noisy_sgd(0.1, seed=1)
    assert not np.array_equal(opt.step(s, np.ones(4)).params, other.step(s, np.ones(4)).params)


@given(params_and_grads(n_grads=3), st.floats(1e-3, 1.0))
def test_zero_variance_is_gradient_descent(xg: tuple[np.ndarray, list[np.ndarray]], lr: float) -> None:
    x, gs = xg
    for a, b in zip(run(ref.noisy_sgd(lr, eta=0.0), x, gs), run(ref.gd(lr), x, gs)):
        assert_array_equal(a, b)


def test_variance_anneals_as_t_to_the_minus_gamma() -> None:
    # Unit noise z_t = 1, g = 0, lr = 1: the step t is -sqrt(eta / t^gamma).
    opt = ref.noisy_sgd(1.0, eta=0.3, gamma=0.55, noise=lambda t, p: np.ones(p))
    thetas = run(opt, [0.0], [np.zeros(1)] * 6)
    steps = -np.diff(np.concatenate([[0.0], [th[0] for th in thetas]]))
    assert_allclose(steps, np.sqrt(0.3 / np.arange(1, 7) ** 0.55), rtol=1e-14)


def test_bad_noise_source_is_one_line() -> None:
    opt = ref.noisy_sgd(0.1, noise=lambda t, p: np.zeros(p + 1))
    with pytest.raises(ValueError, match=r"noisy_sgd: noise\(1, 3\) must return 3 finite numbers"):
        opt.step(opt.init(np.zeros(3)), np.ones(3))
    with pytest.raises(ValueError, match="noisy_sgd: noise must be one of None or a callable"):
        ref.noisy_sgd(0.1, noise=np.zeros(3))  # type: ignore[arg-type]


def test_schedule_is_read_at_completed_steps() -> None:
    assert schedule_reads(lambda s: ref.noisy_sgd(s)) == [0, 1, 2]


@given(params_and_grads(n_grads=2))
def test_purity_readonly_inputs(xg: tuple[np.ndarray, list[np.ndarray]]) -> None:
    x, gs = xg
    check_pure_steps(ref.noisy_sgd(0.1, eta=0.3), x, gs)


def test_hypergradient_through_5_steps() -> None:
    check_hypergradient(lambda lr: ref.noisy_sgd(lr, eta=0.3, seed=3), lr=0.05, d=1e-6, n=5)


def test_bare_step_matches_factory() -> None:
    s1 = noisy_step(noisy_init(np.ones(2)), np.array([1.0, -2.0]), lr=0.1, eta=0.01, gamma=0.55)
    opt = ref.noisy_sgd(0.1)
    s2 = opt.step(opt.init(np.ones(2)), [1.0, -2.0])
    assert_array_equal(s1.params, s2.params)

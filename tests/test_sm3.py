"""SM3: golden values from specs/sm3.md, the AdaGrad bound and reduction, 0/0 = 0, momentum,
tensors of 3 axes, purity, bad shapes, hypergradients."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

import reference as ref
from reference.first_order.sm3 import step as sm3_step

from .helpers import check_step_pure_and_bare, hypergradient_after_steps, run, states, stream


def test_sm3_golden_two_steps() -> None:
    # specs/sm3.md "Worked example".
    opt = ref.sm3(0.1, shapes=((2, 2),))
    s = opt.step(opt.init(np.zeros(4)), [1.0, 2.0, 3.0, 4.0])
    assert_allclose(s.params, [-0.1] * 4, rtol=1e-15)
    assert_array_equal(s.mu[0][0], [4.0, 16.0])
    assert_array_equal(s.mu[0][1], [9.0, 16.0])
    s = opt.step(s, [1.0, 0.0, 0.0, 2.0])
    a = -0.144721359549995793928183473375
    assert_allclose(s.params, [a, -0.1, -0.1, a], rtol=1e-15)
    assert_array_equal(s.mu[0][0], [5.0, 20.0])
    assert_array_equal(s.mu[0][1], [9.0, 20.0])
    assert s.m is None and s.t == 2


def test_sm3_golden_momentum() -> None:
    opt = ref.sm3(0.1, momentum=0.5, shapes=((2, 2),))
    s = opt.step(opt.init(np.zeros(4)), [1.0, 2.0, 3.0, 4.0])
    assert_allclose(s.params, [-0.05] * 4, rtol=1e-15)
    s = opt.step(s, [1.0, 0.0, 0.0, 2.0])
    a = -0.0973606797749978969640917366873
    assert_allclose(s.params, [a, -0.075, -0.075, a], rtol=1e-15)


@given(st.integers(0, 2**31 - 1))
def test_accumulators_bound_adagrad_from_above(seed: int) -> None:
    # min_j mu^(j)_t[i_j] >= sum_{s <= t} g_s[i]^2 for every coordinate of a (3, 4, 2) tensor.
    rng = np.random.default_rng(seed)
    gs = [rng.normal(size=24) * rng.binomial(1, 0.5, 24) for _ in range(5)]
    opt = ref.sm3(0.1, shapes=((3, 4, 2),))
    total = np.zeros((3, 4, 2))
    for s, g in zip(states(opt, np.zeros(24), gs), gs):
        total = total + g.reshape(3, 4, 2) ** 2
        r, c, d = s.mu[0]
        bound = np.minimum(np.minimum(r[:, None, None], c[None, :, None]), d[None, None, :])
        assert np.all(bound >= total * (1 - 1e-15))


def test_vectors_are_adagrad() -> None:
    # A 1-D tensor keeps one accumulator per coordinate: optax's AdaGrad with eps inside the root.
    gs = stream(6, (5,), 6)
    x0 = np.linspace(-1, 1, 5)
    a = ref.sm3(0.05, eps=1e-8)
    b = ref.adagrad(0.05, eps=1e-8, eps_placement="inside", initial_accumulator_value=0.0)
    assert_allclose(run(a, x0, gs)[-1], run(b, x0, gs)[-1], rtol=1e-15)


def test_matrix_step_is_at_most_adagrads() -> None:
    gs = stream(7, (12,), 6)
    x0 = np.zeros(12)
    sm = run(ref.sm3(0.05, shapes=((3, 4),)), x0, gs)
    ag = run(ref.sm3(0.05), x0, gs)  # the same stream as one vector: AdaGrad
    for t in range(1, 6):
        assert np.all(np.abs(sm[t] - sm[t - 1]) <= np.abs(ag[t] - ag[t - 1]) * (1 + 1e-14))


def test_zero_over_zero_is_zero() -> None:
    opt = ref.sm3(0.1, shapes=((2, 3),))
    s = opt.step(opt.init(np.ones(6)), np.zeros(6))
    assert_array_equal(s.params, np.ones(6))
    s = opt.step(s, np.array([0.0, 1.0, 0.0, 0.0, 0.0, 0.0]))
    assert np.all(np.isfinite(s.params))
    assert_allclose(s.params, [1.0, 0.9, 1.0, 1.0, 1.0, 1.0], rtol=1e-15)


def test_eps_inside_the_root() -> None:
    s = ref.sm3(1.0, eps=3.0).step(ref.sm3(1.0).init(np.zeros(1)), [1.0])
    assert_allclose(s.params, [-0.5], rtol=1e-15)


def test_step_is_pure_and_equals_the_factory() -> None:
    shapes = ((3, 4), (5,))
    opt = ref.sm3(0.1, momentum=0.9, shapes=shapes)
    bare_kw = dict(lr=0.1, momentum=0.9, shapes=shapes)
    check_step_pure_and_bare(opt, sm3_step, np.linspace(-1, 1, 17), np.linspace(2, -1, 17), **bare_kw)


def test_shapes_must_cover_the_vector() -> None:
    with pytest.raises(ValueError, match=r"sm3: params have shape \(5,\) but shapes"):
        ref.sm3(0.1, shapes=((2, 2),)).init(np.zeros(5))
    with pytest.raises(TypeError, match="sm3: missing a required argument: 'lr'"):
        ref.sm3()


@pytest.mark.parametrize("momentum", [0.0, 0.5])
def test_hypergradient_through_4_steps(momentum: float) -> None:
    got, fd = hypergradient_after_steps(
        lambda lr: ref.sm3(lr, momentum=momentum, eps=1e-8),
        [1.0, -1.0, 2.0, 0.5],
        [1.0, 4.0, 0.25, 2.0],
        lr=0.05,
        d=1e-7,
        n=4,
    )
    assert np.isfinite(got) and abs(got) > 1e-3
    assert_allclose(got, fd, rtol=1e-6)

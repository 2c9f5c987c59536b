"""SparseAdam: golden values from specs/sparse_adam.md, absent entries frozen, the global step
count, the reduction to Adam with eps on sqrt(v_t), purity, hypergradients."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import reference as ref
from reference.first_order.sparse_adam import init as sa_init
from reference.first_order.sparse_adam import step as sa_step

from .helpers import freeze, hypergradient_after_steps, readonly, run, stream


def test_sparse_adam_golden_two_steps() -> None:
    # specs/sparse_adam.md "Worked example" (40-digit decimals).
    opt = ref.sparse_adam(lr=0.1)
    s = opt.step(opt.init([1.0, -2.0, 0.5]), [0.5, 0.0, -1.0])
    assert_allclose(s.m, [0.05, 0.0, -0.1], rtol=1e-15)
    assert_allclose(s.v, [0.00025, 0.0, 0.001], rtol=1e-15)
    assert_allclose(s.params, [0.9000000632455132033928848, -2.0, 0.5999999683772333983130444], rtol=1e-15)
    s = opt.step(s, [0.0, 2.0, -1.0])
    assert_allclose(s.m, [0.05, 0.2, -0.19], rtol=1e-15)
    assert_allclose(s.v, [0.00025, 0.004, 0.001999], rtol=1e-14)
    assert_allclose(
        s.params,
        [0.9000000632455132033928848, -2.074413670590864328366183, 0.6999999460109663586839544],
        rtol=4e-15,
    )
    assert s.t == 2


def test_absent_entries_keep_params_and_moments_bit_for_bit() -> None:
    gs = stream(1, (6,), 8)
    for k, g in enumerate(gs):
        g[k % 6] = 0.0
        g[(k + 3) % 6] = -0.0  # -0.0 is absent too (to_sparse drops it)
    opt = ref.sparse_adam(lr=0.05)
    s = opt.init(np.linspace(-1, 1, 6))
    for g in gs:
        s2 = opt.step(s, g)
        off = g == 0
        assert_array_equal(s2.params[off], s.params[off])
        assert_array_equal(s2.m[off], s.m[off])
        assert_array_equal(s2.v[off], s.v[off])
        assert np.all(s2.params[~off] != s.params[~off])
        s = s2


def test_all_present_is_adam_with_epsilon_hat() -> None:
    gs = stream(2, (5,), 12)
    x0 = np.array([0.3, -1.0, 2.0, 0.0, 1.5])
    a = run(ref.sparse_adam(0.02, beta1=0.8, beta2=0.99, eps=1e-3), x0, gs)
    b = run(ref.adam(0.02, beta1=0.8, beta2=0.99, eps=1e-3, epsilon_hat=True), x0, gs)
    assert_allclose(a, b, rtol=1e-13, atol=1e-15)
    c = run(ref.adam(0.02, beta1=0.8, beta2=0.99, eps=1e-3), x0, gs)  # eps on sqrt(vhat): another method
    assert np.max(np.abs(np.array(a) - np.array(c))) > 1e-6


def test_bias_correction_counts_every_step_not_the_entry_presence() -> None:
    # Entry 0 is present only at step 3: its first update uses t = 3, not its own count 1.
    lr, b1, b2, eps = 0.1, 0.9, 0.999, 1e-8
    opt = ref.sparse_adam(lr, beta1=b1, beta2=b2, eps=eps)
    s = opt.init(np.zeros(2))
    for g in ([0.0, 1.0], [0.0, 1.0], [2.0, 1.0]):
        s = opt.step(s, np.array(g))
    m, v = (1 - b1) * 2.0, (1 - b2) * 4.0
    want = -lr * np.sqrt(1 - b2**3) / (1 - b1**3) * m / (np.sqrt(v) + eps)
    assert_allclose(s.params[0], want, rtol=1e-14)


def test_step_is_pure_and_bare_step_equals_factory() -> None:
    opt = ref.sparse_adam(0.01)
    s = freeze(opt.init(readonly([1.0, 2.0, 3.0])))
    g = readonly([0.5, 0.0, -0.25])
    a = opt.step(s, g)
    b = sa_step(sa_init(np.array([1.0, 2.0, 3.0])), g, lr=0.01, beta1=0.9, beta2=0.999, eps=1e-8)
    assert_array_equal(a.params, b.params)
    assert_array_equal(s.params, [1.0, 2.0, 3.0])
    assert s.t == 0


def test_schedule_is_read_at_t_minus_1() -> None:
    gs = stream(3, (3,), 4)
    a = run(ref.sparse_adam(lambda t: 0.01 * (t + 1)), np.ones(3), gs)
    s = ref.sparse_adam(0.01).init(np.ones(3))
    for t, g in enumerate(gs):
        s = sa_step(s, g, lr=0.01 * (t + 1), beta1=0.9, beta2=0.999, eps=1e-8)
    assert_allclose(a[-1], s.params, rtol=1e-15)


def test_eps_must_be_positive() -> None:
    with pytest.raises(ValueError, match="sparse_adam: eps must be a finite number > 0"):
        ref.sparse_adam(eps=0.0)


def test_hypergradient_matches_finite_differences() -> None:
    h = np.array([1.0, 3.0, 0.5, 2.0])
    ad, fd = hypergradient_after_steps(
        lambda r: ref.sparse_adam(r), [1.0, -1.0, 0.5, 0.0], h, 0.05, 1e-6, n=15
    )
    assert_allclose(ad, fd, rtol=1e-6)


def test_rows_presence_moves_a_whole_row_with_a_nonzero() -> None:
    opt = ref.sparse_adam(0.1, presence="rows", shapes=((2, 2), (2,)))
    s = opt.step(opt.init(np.zeros(6)), np.array([1.0, 0.0, 0.0, 0.0, 0.0, 3.0]))
    s = opt.step(s, np.array([0.0, 2.0, 0.0, 0.0, 0.0, 0.0]))
    # row 0 of the matrix is present at both steps: its m decays at entry 0 when g = 0 there
    assert_allclose(s.m[:2], [0.9 * 0.1, 0.2], rtol=1e-15)
    assert_array_equal(s.m[2:4], [0.0, 0.0])  # row 1 never present
    assert_allclose(s.m[4:], [0.0, 0.3], rtol=1e-15)  # 1-D tensor: rows are entries
    e = ref.sparse_adam(0.1)
    se = e.step(
        e.step(e.init(np.zeros(6)), np.array([1.0, 0.0, 0.0, 0.0, 0.0, 3.0])),
        np.array([0.0, 2.0, 0, 0, 0, 0]),
    )
    assert_allclose(se.m[0], 0.1, rtol=1e-15)  # the entry rule keeps it


def test_rows_presence_needs_matching_shapes() -> None:
    with pytest.raises(ValueError, match=r"sparse_adam: params have shape \(5,\) but shapes"):
        ref.sparse_adam(presence="rows", shapes=((2, 2),)).init(np.zeros(5))

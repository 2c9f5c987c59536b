"""LAMB: golden values from specs/lamb.md, per-tensor trust ratios, the zero guard, phi's clip,
scale invariance, purity, layout errors, schedules, hypergradients."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import reference as ref
from reference.first_order.lamb import step as lamb_step

from .helpers import stream
from .layerwise_helpers import (
    SHAPES,
    check_hypergradient,
    check_layout_errors,
    check_pure_and_bare,
    check_schedule_is_read_at_t_minus_1,
    check_tensors_are_independent,
    grads,
    x0,
)

S = ((2,), (1,))
TH0, G1, G2 = [3.0, 4.0, 2.0], [0.6, -0.8, 1.0], [1.2, 0.5, -0.5]


def test_lamb_golden_two_steps() -> None:
    # specs/lamb.md "Worked example" (40-digit decimals).
    opt = ref.lamb(0.1, eps=0.0, weight_decay=0.1, shapes=S)
    s = opt.step(opt.init(TH0), G1)
    assert_allclose(s.params, [2.546020307749774168, 4.209529088730873461, 1.8], rtol=1e-15)
    s = opt.step(s, G2)
    assert_allclose(s.m, [0.174, -0.022, 0.04], rtol=1e-14)
    assert_allclose(s.v, [0.00179964, 0.00088936, 0.001249], rtol=1e-14)
    assert_allclose(s.params, [2.063875208874099572, 4.111755630197269906, 1.62], rtol=1e-15)
    assert s.t == 2


def test_each_tensor_moves_by_eta_times_its_norm() -> None:
    # lambda = 0, phi = identity: ||theta_t,l - theta_{t-1},l|| = eta ||theta_{t-1},l|| for every tensor.
    opt = ref.lamb(0.05, shapes=SHAPES)
    s = opt.init(x0())
    for g in grads():
        new = opt.step(s, g)
        k = 0
        for shape in SHAPES:
            n = int(np.prod(shape))
            assert_allclose(
                np.linalg.norm(new.params[k : k + n] - s.params[k : k + n]),
                0.05 * np.linalg.norm(s.params[k : k + n]),
                rtol=1e-13,
            )
            k += n
        s = new


def test_tensors_are_independent() -> None:
    check_tensors_are_independent(lambda **kw: ref.lamb(0.01, weight_decay=0.1, **kw))


def test_scaling_theta0_scales_the_trajectory() -> None:
    # eps = 0, lambda = 0: r_t does not depend on theta and rho_l is proportional to ||theta_l||.
    gs, x = grads(), x0()
    a, b = ref.lamb(0.1, eps=0.0, shapes=SHAPES), ref.lamb(0.1, eps=0.0, shapes=SHAPES)
    sa, sb = a.init(x), b.init(4.0 * x)
    for g in gs:
        sa, sb = a.step(sa, g), b.step(sb, g)
        assert_allclose(sb.params, 4.0 * sa.params, rtol=1e-13)


def test_zero_tensor_takes_the_plain_adam_step() -> None:
    # The guard of (LB5): theta_l = 0 gives rho_l = 1, so the first step is -eta sign(g) (eps = 0).
    x = np.array([0.0, 0.0, 1.0, 2.0])
    opt = ref.lamb(0.1, eps=0.0, shapes=((2,), (2,)))
    s = opt.step(opt.init(x), np.array([0.5, -3.0, 1.0, 1.0]))
    assert_array_equal(s.params[:2], [-0.1, 0.1])
    assert_allclose(s.params[2:], x[2:] - 0.1 * np.sqrt(5) / np.sqrt(2), rtol=1e-15)


def test_phi_clips_the_tensor_norm() -> None:
    # phi(z) = min(max(z, phi_min), phi_max): the step norm is eta phi(||theta||).
    x = np.array([3.0, 4.0])
    g = np.array([1.0, 2.0])
    for lo, hi, size in [(0.0, 2.0, 2.0), (7.0, None, 7.0), (1.0, 9.0, 5.0)]:
        opt = ref.lamb(0.1, phi_min=lo, phi_max=hi)
        s = opt.step(opt.init(x), g)
        assert_allclose(np.linalg.norm(s.params - x), 0.1 * size, rtol=1e-14)
    # phi_min > 0 moves a zero tensor by eta phi_min in the direction of u.
    s = ref.lamb(0.1, eps=0.0, phi_min=2.0).step(ref.lamb(0.1).init(np.zeros(2)), g)
    assert_allclose(s.params, -0.2 * np.ones(2) / np.sqrt(2), rtol=1e-15)
    with pytest.raises(ValueError, match=r"lamb: phi_max must be >= phi_min, got 1.0 < 2.0"):
        ref.lamb(phi_min=2.0, phi_max=1.0)


def test_direction_is_adam_plus_decay() -> None:
    # (LB1)-(LB4) by hand: the update of each tensor is parallel to Adam's direction + lambda theta.
    gs, x = stream(4, (5,), 5), x0(p=5)
    b1, b2, eps, wd = 0.8, 0.99, 1e-3, 0.1
    opt = ref.lamb(0.01, beta1=b1, beta2=b2, eps=eps, weight_decay=wd)
    s = opt.init(x)
    m = v = np.zeros(5)
    for t, g in enumerate(gs, 1):
        m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
        u = (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps) + wd * s.params
        want = s.params - 0.01 * np.linalg.norm(s.params) / np.linalg.norm(u) * u
        s = opt.step(s, g)
        assert_allclose(s.params, want, rtol=1e-13)


def test_pure_and_bare_step() -> None:
    check_pure_and_bare(ref.lamb, lamb_step, lr=0.01, weight_decay=0.1, eps_root=1e-8)


def test_layout_errors() -> None:
    check_layout_errors(ref.lamb, "lamb")


def test_schedule() -> None:
    check_schedule_is_read_at_t_minus_1(ref.lamb, 0.01)


def test_hypergradient() -> None:
    check_hypergradient(lambda lr: ref.lamb(lr, weight_decay=0.05), 0.05)


def test_decay_mask_skips_tensors() -> None:
    # A tensor outside decay_mask is the lambda = 0 method on that tensor, the others decay.
    gs, x = grads(), x0()
    masked = ref.lamb(0.01, weight_decay=0.1, decay_mask=(True, False, True), shapes=SHAPES)
    full = ref.lamb(0.01, weight_decay=0.1, shapes=SHAPES)
    plain = ref.lamb(0.01, shapes=SHAPES)
    sm, sf, sp = masked.init(x), full.init(x), plain.init(x)
    for g in gs:
        sm, sf, sp = masked.step(sm, g), full.step(sf, g), plain.step(sp, g)
    assert_array_equal(sm.params[6:10], sp.params[6:10])
    assert_array_equal(sm.params[:6], sf.params[:6])
    assert_array_equal(sm.params[10:], sf.params[10:])
    assert masked.hyperparams["decay_mask"] == (True, False, True)
    with pytest.raises(ValueError, match=r"lamb: decay_mask has 2 flags but there are 3 tensors \(shapes\)"):
        ref.lamb(decay_mask=[True, False], shapes=SHAPES)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"lamb: decay_mask must be None or a sequence of True/False"):
        ref.lamb(decay_mask=[1, 0, 1], shapes=SHAPES)  # type: ignore[arg-type]

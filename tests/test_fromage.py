"""Fromage: golden values from specs/fromage.md, the norm-preserving step, min_norm, scale
invariance, purity, layout errors, schedules, hypergradients."""

from __future__ import annotations

import numpy as np
from numpy.testing import assert_allclose, assert_array_equal

import reference as ref
from reference.first_order.fromage import step as fromage_step

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


def test_fromage_golden_two_steps() -> None:
    # specs/fromage.md "Worked example" (40-digit decimals).
    opt = ref.fromage(0.1, shapes=S)
    s = opt.step(opt.init(TH0), G1)
    assert_allclose(s.params, [2.686600413566970666, 4.378163636923952197, 1.791066942377980444], rtol=1e-15)
    s = opt.step(s, G2)
    assert_allclose(s.params, [2.201459515644528014, 4.159849055610962580, 1.960396039603960396], rtol=1e-15)
    assert s.t == 2


def test_an_orthogonal_gradient_keeps_the_norm() -> None:
    # g_l orthogonal to theta_l: ||theta - eta rho g||^2 = (1 + eta^2) ||theta||^2, so (FR2) keeps ||theta_l||.
    rng = np.random.default_rng(3)
    x = x0(p=6)
    opt = ref.fromage(0.3)
    s = opt.init(x)
    for _ in range(5):
        g = rng.standard_normal(6)
        g -= (g @ s.params) / (s.params @ s.params) * s.params
        s = opt.step(s, g)
        assert_allclose(np.linalg.norm(s.params), np.linalg.norm(x), rtol=1e-14)


def test_gradient_scale_does_not_matter() -> None:
    gs, x = grads(), x0()
    a = ref.fromage(0.05, shapes=SHAPES)
    sa, sb = a.init(x), a.init(x)
    for g in gs:
        sa, sb = a.step(sa, g), a.step(sb, 250.0 * g)
        assert_allclose(sb.params, sa.params, rtol=1e-14)


def test_min_norm_clips_both_norms() -> None:
    # rho = max(||theta||, n_min) / max(||g||, n_min): a tiny gradient is divided by n_min.
    x, g = np.array([3.0, 4.0]), np.array([1e-8, 0.0])
    s = ref.fromage(0.1, min_norm=1e-6).step(ref.fromage().init(x), g)
    assert_allclose(s.params, (x - 0.1 * 5.0 / 1e-6 * g) / np.sqrt(1.01), rtol=1e-15)
    s = ref.fromage(0.1, min_norm=10.0).step(ref.fromage().init(x), np.array([0.0, 2.0]))
    assert_allclose(s.params, (x - 0.1 * 10.0 / 10.0 * np.array([0.0, 2.0])) / np.sqrt(1.01), rtol=1e-15)


def test_zero_gradient_without_min_norm_only_shrinks() -> None:
    # n_min = 0 and g_l = 0: the guard sets rho_l = 1; the tensor is divided by sqrt(1 + eta^2).
    opt = ref.fromage(0.1, min_norm=0.0, shapes=S)
    s = opt.step(opt.init(TH0), [0.0, 0.0, 1.0])
    assert_allclose(s.params[:2], np.array([3.0, 4.0]) / np.sqrt(1.01), rtol=1e-15)
    assert np.all(np.isfinite(s.params))


def test_tensors_are_independent() -> None:
    check_tensors_are_independent(lambda **kw: ref.fromage(0.1, **kw))


def test_pure_and_bare_step() -> None:
    check_pure_and_bare(ref.fromage, fromage_step, lr=0.1, min_norm=0.5)


def test_layout_errors() -> None:
    check_layout_errors(ref.fromage, "fromage")


def test_schedule() -> None:
    check_schedule_is_read_at_t_minus_1(ref.fromage, 0.1)


def test_hypergradient() -> None:
    check_hypergradient(lambda lr: ref.fromage(lr), 0.1)


def test_bare_step_matches_a_plain_formula() -> None:
    # (FR2) in the paper's form c (theta - eta rho g): equal to optax's evaluation order up to rounding.
    gs, x = grads(), x0(p=4)
    s = ref.fromage(0.2).init(x)
    for g in gs:
        g = g[:4]
        want = (s.params - 0.2 * np.linalg.norm(s.params) / np.linalg.norm(g) * g) / np.sqrt(1.04)
        s = fromage_step(s, g, lr=0.2)
        assert_allclose(s.params, want, rtol=1e-14)
    assert_array_equal(s.t, len(gs))

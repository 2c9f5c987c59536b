"""LARS: golden values from specs/lars.md (both denominators), the forms that agree and those that
do not, the zero guard, scale invariance, purity, layout errors, schedules, hypergradients."""

from __future__ import annotations

import numpy as np
from numpy.testing import assert_allclose, assert_array_equal

import reference as ref
from reference.first_order.lars import step as lars_step

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


def test_lars_golden_two_steps() -> None:
    # specs/lars.md "Worked example", the paper's denominator ||g|| + lambda ||theta|| (decimals).
    opt = ref.lars(0.1, trust_coefficient=0.5, weight_decay=0.1, shapes=S)
    s = opt.step(opt.init(TH0), G1)
    assert_allclose(s.v, [0.15, -0.06666666666666666667, 0.1], rtol=1e-15)
    assert_allclose(s.params, [2.85, 4.066666666666666667, 1.9], rtol=1e-15)
    s = opt.step(s, G2)
    assert_allclose(s.params, [2.509767477874589865, 4.001361961799974059, 1.852681159420289855], rtol=1e-15)
    assert s.t == 2


def test_lars_golden_combined() -> None:
    # The same with optax's denominator ||g + lambda theta||.
    opt = ref.lars(0.1, trust_coefficient=0.5, weight_decay=0.1, trust_norm="combined", shapes=S)
    s = opt.step(opt.init(TH0), G1)
    assert_allclose(s.params, [2.771547112844935715, 4.101534616513361904, 1.9], rtol=1e-15)
    s = opt.step(s, G2)
    assert_allclose(s.params, [2.355219685926389467, 4.063080094811790560, 1.905], rtol=1e-15)


def test_denominators_agree_without_weight_decay_only() -> None:
    gs, x = grads(), x0()
    runs = {}
    for wd in (0.0, 0.1):
        for form in ("separate", "combined"):
            opt = ref.lars(0.1, weight_decay=wd, trust_norm=form, shapes=SHAPES)
            s = opt.init(x)
            for g in gs:
                s = opt.step(s, g)
            runs[wd, form] = s.params
    assert_array_equal(runs[0.0, "separate"], runs[0.0, "combined"])
    assert not np.allclose(runs[0.1, "separate"], runs[0.1, "combined"], rtol=1e-6)


def test_momentum_placement_matters_only_under_a_schedule() -> None:
    gs, x = grads(), x0()

    def final(lr: object, where: str) -> np.ndarray:
        opt = ref.lars(lr, momentum_lr=where, shapes=SHAPES)  # type: ignore[arg-type]
        s = opt.init(x)
        for g in gs:
            s = opt.step(s, g)
        return np.asarray(s.params)

    assert_allclose(final(0.5, "inside"), final(0.5, "outside"), rtol=1e-14)
    sched = lambda t: 0.5 / (1 + t)  # noqa: E731
    assert not np.allclose(final(sched, "inside"), final(sched, "outside"), rtol=1e-6)


def test_without_momentum_it_is_normalised_sgd() -> None:
    # mu = 0: theta_t = theta_{t-1} - eta kappa ||theta_l|| / ||g_l|| g_l, with or without Nesterov.
    gs, x = grads(), x0(p=4)
    for nesterov in (False, True):
        opt = ref.lars(0.3, momentum=0.0, trust_coefficient=0.1, nesterov=nesterov)
        s = opt.init(x)
        for g in gs:
            g = g[:4]
            want = s.params - 0.3 * 0.1 * np.linalg.norm(s.params) / np.linalg.norm(g) * g
            s = opt.step(s, g)
            assert_allclose(s.params, want, rtol=1e-14)


def test_nesterov_steps_by_the_increment_plus_mu_times_the_buffer() -> None:
    gs, x = grads(), x0(p=4)
    opt = ref.lars(0.2, momentum=0.8, trust_coefficient=0.5, nesterov=True)
    s, v = opt.init(x), np.zeros(4)
    for g in gs:
        g = g[:4]
        w = 0.2 * 0.5 * np.linalg.norm(s.params) / np.linalg.norm(g) * g
        v = 0.8 * v + w
        want = s.params - (w + 0.8 * v)
        s = opt.step(s, g)
        assert_allclose(s.params, want, rtol=1e-13)
        assert_allclose(s.v, v, rtol=1e-13)


def test_gradient_scale_does_not_matter_without_decay() -> None:
    # lambda = 0, eps = 0: rho u is invariant under g -> c g (c > 0).
    gs, x = grads(), x0()
    a, b = ref.lars(0.1, shapes=SHAPES), ref.lars(0.1, shapes=SHAPES)
    sa, sb = a.init(x), b.init(x)
    for g in gs:
        sa, sb = a.step(sa, g), b.step(sb, 1e3 * g)
        assert_allclose(sb.params, sa.params, rtol=1e-14)


def test_zero_tensor_takes_the_plain_momentum_step() -> None:
    # The guard of (LS2): theta_l = 0 gives rho_l = 1, the step eta (g + lambda 0) for that tensor.
    opt = ref.lars(0.1, shapes=((2,), (1,)))
    s = opt.step(opt.init([0.0, 0.0, 1.0]), [0.5, -3.0, 2.0])
    assert_allclose(s.params[:2], [-0.05, 0.3], rtol=1e-15)
    assert_allclose(s.params[2], 1.0 - 0.1 * 1e-3 * 1.0 / 2.0 * 2.0, rtol=1e-15)


def test_tensors_are_independent() -> None:
    check_tensors_are_independent(lambda **kw: ref.lars(0.1, weight_decay=0.1, nesterov=True, **kw))


def test_pure_and_bare_step() -> None:
    check_pure_and_bare(ref.lars, lars_step, lr=0.1, weight_decay=0.1, eps=1e-3)


def test_layout_errors() -> None:
    check_layout_errors(lambda **kw: ref.lars(0.1, **kw), "lars")


def test_schedule() -> None:
    check_schedule_is_read_at_t_minus_1(ref.lars, 0.1)


def test_hypergradient() -> None:
    check_hypergradient(lambda lr: ref.lars(lr, trust_coefficient=0.1, weight_decay=0.05), 0.2)


def test_masks_name_the_tensors() -> None:
    # Outside trust_mask: rho = 1 (momentum SGD on that tensor); outside decay_mask: lambda = 0.
    gs, x = grads(), x0()
    opt = ref.lars(
        0.1, weight_decay=0.1, decay_mask=(False, True, True), trust_mask=(True, False, True), shapes=SHAPES
    )
    s = opt.init(x)
    sgd = ref.lars(0.1, weight_decay=0.1, trust_mask=(False,))  # the vector tensor alone: no ratio
    nodecay = ref.lars(0.1)  # the matrix alone: no decay
    sv, sw = sgd.init(x[6:10]), nodecay.init(x[:6])
    for g in gs:
        s, sv, sw = opt.step(s, g), sgd.step(sv, g[6:10]), nodecay.step(sw, g[:6])
        assert_array_equal(s.params[6:10], sv.params)
        assert_array_equal(s.params[:6], sw.params)
    mom = ref.momentum(0.1, beta=0.9, weight_decay=0.1)  # rho = 1: torch-style heavy ball with lr inside
    sm = mom.init(x[6:10])
    for g in gs:
        sm = mom.step(sm, g[6:10])
    assert_allclose(sv.params, sm.params, rtol=1e-13)

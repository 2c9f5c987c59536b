"""NovoGrad: golden values from specs/novograd.md, the first step, one second moment per tensor,
scale invariance, purity, layout errors, schedules, hypergradients."""

from __future__ import annotations

import numpy as np
from numpy.testing import assert_allclose, assert_array_equal

import reference as ref
from reference.first_order.novograd import step as novograd_step

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


def test_novograd_golden_two_steps() -> None:
    # specs/novograd.md "Worked example" (40-digit decimals).
    opt = ref.novograd(0.1, eps=0.0, weight_decay=0.1, shapes=S)
    s = opt.step(opt.init(TH0), G1)
    assert_allclose(s.v, [1.0, 1.0], rtol=1e-15)
    assert_allclose(s.m, [0.9, -0.4, 1.2], rtol=1e-15)
    assert_allclose(s.params, [2.91, 4.04, 1.88], rtol=1e-15)
    s = opt.step(s, G2)
    assert_allclose(s.v, [1.5175, 0.4375], rtol=1e-15)
    assert_allclose(s.m, [2.075129950161838739, 0.4498874792340994745, 0.5120710539815455456], rtol=1e-15)
    assert_allclose(s.params, [2.702487004983816126, 3.995011252076590053, 1.828792894601845445], rtol=1e-15)
    assert s.t == 2


def test_first_step_is_the_normalised_gradient() -> None:
    # v_1 = ||g_1,l||^2 and m_1 = u_1: theta_1,l = theta_0,l - eta g_1,l / ||g_1,l|| (eps = lambda = 0).
    x, g = x0(), grads()[0]
    s = ref.novograd(0.2, eps=0.0, shapes=SHAPES).init(x)
    s = novograd_step(s, g, lr=0.2, eps=0.0, shapes=SHAPES)
    k = 0
    for shape in SHAPES:
        n = int(np.prod(shape))
        gl = g[k : k + n]
        assert_allclose(s.params[k : k + n], x[k : k + n] - 0.2 * gl / np.linalg.norm(gl), rtol=1e-14)
        k += n
    assert s.v.shape == (len(SHAPES),)


def test_recursion_by_hand() -> None:
    # (NG1)-(NG4) on one tensor, written out.
    gs, x = grads(), x0(p=5)
    b1, b2, eps, wd, lr = 0.8, 0.5, 1e-3, 0.1, 0.05
    opt = ref.novograd(lr, beta1=b1, beta2=b2, eps=eps, weight_decay=wd)
    s = opt.init(x)
    m, v = np.zeros(5), 0.0
    for t, g in enumerate(gs, 1):
        g = g[:5]
        n2 = float(g @ g)
        v = n2 if t == 1 else b2 * v + (1 - b2) * n2
        u = g / (np.sqrt(v) + eps) + wd * s.params
        m = u if t == 1 else b1 * m + u
        want = s.params - lr * m
        s = opt.step(s, g)
        assert_allclose(s.params, want, rtol=1e-13)
        assert_allclose(s.v, [v], rtol=1e-14)


def test_gradient_scale_does_not_matter_without_eps() -> None:
    gs, x = grads(), x0()
    opt = ref.novograd(0.1, eps=0.0, weight_decay=0.1, shapes=SHAPES)
    sa, sb = opt.init(x), opt.init(x)
    for g in gs:
        sa, sb = opt.step(sa, g), opt.step(sb, 64.0 * g)
        assert_allclose(sb.params, sa.params, rtol=1e-13)


def test_tensors_are_independent() -> None:
    check_tensors_are_independent(lambda **kw: ref.novograd(0.1, weight_decay=0.1, **kw))


def test_pure_and_bare_step() -> None:
    check_pure_and_bare(
        lambda **kw: ref.novograd(**kw), novograd_step, lr=0.1, weight_decay=0.1, eps_root=1e-8
    )


def test_layout_errors() -> None:
    check_layout_errors(lambda **kw: ref.novograd(0.1, **kw), "novograd")


def test_schedule() -> None:
    check_schedule_is_read_at_t_minus_1(ref.novograd, 0.1)


def test_hypergradient() -> None:
    check_hypergradient(lambda lr: ref.novograd(lr, weight_decay=0.05), 0.05)


def test_zero_first_gradient_needs_eps() -> None:
    opt = ref.novograd(0.1)
    s = opt.step(opt.init([1.0, 2.0]), [0.0, 0.0])  # eps = 1e-6: 0 / eps = 0
    assert_array_equal(s.params, [1.0, 2.0])

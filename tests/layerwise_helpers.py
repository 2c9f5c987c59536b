"""Checks shared by the layer-wise methods' tests (LAMB, LARS, Fromage, NovoGrad): tensors are
independent, steps are pure, the layout is checked, and the hypergradient agrees with differences."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from .helpers import freeze, hypergradient_after_steps, readonly, stream

SHAPES = ((3, 2), (4,), (1,))  # a matrix, a vector and a one-entry tensor
P = 11

Make = Callable[..., Any]  # make(shapes=...) -> optimizer


def grads(seed: int = 0, n: int = 6, p: int = P) -> list[np.ndarray]:
    return stream(seed, (p,), n)


def x0(seed: int = 1, p: int = P) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(p)


def check_tensors_are_independent(make: Make) -> None:
    """Tensor l of the flat run follows, bit for bit, the run of the method on tensor l alone
    (shapes=None, the tensor as one flat vector): nothing couples the tensors."""
    gs, x = grads(), x0()
    opt = make(shapes=SHAPES)
    s = opt.init(x)
    alone = []
    k = 0
    for shape in SHAPES:
        n = int(np.prod(shape))
        o = make(shapes=None)
        alone.append((o, o.init(x[k : k + n]), k, n))
        k += n
    for g in gs:
        s = opt.step(s, g)
        for i, (o, st, k, n) in enumerate(alone):
            st = o.step(st, g[k : k + n])
            alone[i] = (o, st, k, n)
            assert_array_equal(s.params[k : k + n], st.params)


def check_pure_and_bare(make: Make, bare_step: Callable[..., Any], **hp: Any) -> None:
    """Read-only inputs are accepted and never written; the same input gives the same output; the
    bare module step with the factory's keywords equals ``opt.step``."""
    opt = make(shapes=SHAPES, **hp)
    s = opt.init(readonly(x0()))
    for g in grads():
        freeze(s)
        g_ro = readonly(g)
        a, b = opt.step(s, g_ro), opt.step(s, g_ro)
        assert_array_equal(a.params, b.params)
        c = bare_step(s, g_ro, **dict(opt.hyperparams))
        assert_array_equal(a.params, c.params)
        s = a


def check_layout_errors(make: Make, name: str) -> None:
    opt = make(shapes=SHAPES)
    with pytest.raises(ValueError, match=rf"{name}: params have shape \(10,\) but shapes .* length 11"):
        opt.init(np.zeros(10))
    with pytest.raises(ValueError, match=rf"{name}: shapes must be"):
        make(shapes=((2, 0),))
    with pytest.raises(ValueError, match=rf"{name}: shapes must be one of None or a non-empty sequence"):
        make(shapes="3x4")
    assert make(shapes=[[3, 2], [4], [1]]).hyperparams["shapes"] == SHAPES  # stored as tuples


def check_hypergradient(make_lr: Callable[[Any], Any], lr: float, n: int = 8) -> None:
    """d loss(theta_n) / d lr by autograd against a central difference (a quadratic, closed loop)."""
    h = np.array([1.0, 3.0, 0.5, 2.0, 1.5])
    ad, fd = hypergradient_after_steps(make_lr, np.array([1.0, -2.0, 0.5, 1.5, -1.0]), h, lr, 1e-6, n=n)
    assert abs(ad) > 1e-6
    assert_allclose(ad, fd, rtol=1e-5)


def check_schedule_is_read_at_t_minus_1(make: Make, lr: float) -> None:
    """A schedule is called with the completed steps t - 1: a constant schedule equals the float,
    and a schedule that changes at step 3 changes the third step only."""
    gs, x = grads(), x0()
    a, b = make(lr=lr, shapes=SHAPES), make(lr=lambda t: lr, shapes=SHAPES)
    sa, sb = a.init(x), b.init(x)
    for g in gs:
        sa, sb = a.step(sa, g), b.step(sb, g)
        assert_array_equal(sa.params, sb.params)
    c = make(lr=lambda t: lr if t < 2 else 2 * lr, shapes=SHAPES)
    sa, sc = a.init(x), c.init(x)
    for i, g in enumerate(gs[:3]):
        sa, sc = a.step(sa, g), c.step(sc, g)
        same = bool(np.array_equal(sa.params, sc.params))
        assert same == (i < 2), i

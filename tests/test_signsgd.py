"""signSGD / Signum: golden values from specs/signsgd.md, exact lr-sized moves, scale invariance,
reductions, schedules, purity, hypergradients, bad input."""

from __future__ import annotations

from typing import Any

import autograd
import autograd.numpy as anp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.testing import assert_allclose, assert_array_equal

import reference as ref
from reference.first_order.signsgd import init as signsgd_init
from reference.first_order.signsgd import step as signsgd_step

from .helpers import readonly, run, states, stream
from .strategies import params_and_grads, positive_scale

X0 = [1.0, -2.0, 0.5]
GS = [[0.5, -1.0, 0.0], [-0.5, 3.0, 2.0], [0.01, -1.0, -0.1]]


def test_signsgd_golden_three_steps() -> None:
    # specs/signsgd.md "Worked example", by hand.
    steps = states(ref.signsgd(0.1), X0, GS)
    assert_allclose(
        [s.params for s in steps], [[0.9, -1.9, 0.5], [1.0, -2.0, 0.4], [0.9, -1.9, 0.5]], rtol=1e-15
    )
    assert all(s.m is None for s in steps)


def test_signsgd_golden_signum_three_steps() -> None:
    steps = states(ref.signsgd(0.1, momentum=0.9), X0, GS)
    assert_allclose(
        [s.m for s in steps],
        [[0.05, -0.1, 0.0], [-0.005, 0.21, 0.2], [-0.0035, 0.089, 0.17]],
        rtol=1e-13,
        atol=1e-17,
    )
    assert_allclose(
        [s.params for s in steps], [[0.9, -1.9, 0.5], [1.0, -2.0, 0.4], [1.1, -2.1, 0.3]], rtol=1e-15
    )


def test_signsgd_golden_weight_decay() -> None:
    (s,) = states(ref.signsgd(0.1, weight_decay=1.0), X0, [[0.5, 1.5, 0.0]])
    assert_allclose(s.params, [0.9, -1.9, 0.4], rtol=1e-15)


dyadic = st.integers(-4096, 4096).map(lambda k: k / 64.0)


@given(
    x=hnp.arrays(np.float64, st.integers(1, 8), elements=dyadic),
    data=st.data(),
    momentum=st.sampled_from([0.0, 0.5, 0.9]),
    k=st.integers(-8, 0),
)
def test_every_nonzero_coordinate_moves_by_exactly_lr(
    x: np.ndarray, data: st.DataObject, momentum: float, k: int
) -> None:
    # Dyadic theta and lr = 2^k make theta - lr sign(m) exact: the move is lr, 0 or -lr to the bit.
    lr = 2.0**k
    gs = [data.draw(hnp.arrays(np.float64, x.shape, elements=dyadic)) for _ in range(4)]
    opt = ref.signsgd(lr, momentum=momentum)
    s = opt.init(x)
    for g in gs:
        prev = s
        s = opt.step(s, g)
        direction = g if momentum == 0 else s.m
        moved = np.abs(s.params - prev.params)
        assert_array_equal(moved[direction != 0], lr)
        assert_array_equal(moved[direction == 0], 0.0)


@given(params_and_grads(n_grads=3, allow_zero=False), st.floats(1e-4, 1.0))
def test_moves_by_lr_to_rounding_for_any_params(xg: tuple[np.ndarray, list[np.ndarray]], lr: float) -> None:
    x, gs = xg
    out = run(ref.signsgd(lr), x, gs)
    prev = x
    for g, th in zip(gs, out):
        assert_array_equal(np.sign(prev - th), np.sign(g))  # downhill in every coordinate
        ulp = np.spacing(np.maximum(np.abs(prev), lr))
        assert np.all(np.abs(np.abs(th - prev) - lr) <= 2 * ulp)
        prev = th


@given(params_and_grads(n_grads=5, allow_zero=False), positive_scale)
def test_scale_invariance_signsgd_any_positive_scale(
    xg: tuple[np.ndarray, list[np.ndarray]], c: float
) -> None:
    x, gs = xg
    for a, b in zip(run(ref.signsgd(0.01), x, gs), run(ref.signsgd(0.01), x, [c * g for g in gs])):
        assert_array_equal(a, b)


@given(params_and_grads(n_grads=5), st.integers(-30, 30), st.sampled_from([0.5, 0.9, 0.99]))
def test_scale_invariance_signum_power_of_two(
    xg: tuple[np.ndarray, list[np.ndarray]], k: int, beta: float
) -> None:
    # c = 2^k scales every EMA term exactly, so even exact cancellations are preserved.
    x, gs = xg
    opt = ref.signsgd(0.01, momentum=beta)
    for a, b in zip(run(opt, x, gs), run(opt, x, [2.0**k * g for g in gs])):
        assert_array_equal(a, b)


@pytest.mark.parametrize("c", [1e-3, 0.37, 7.3, 1e4])
def test_scale_invariance_signum_generic_scale(c: float) -> None:
    # Any c > 0: m(c g) = c m(g) up to rounding, and no m_t of a normal stream sits within
    # rounding of 0, so the iterates agree to the bit.
    gs = stream(21, (8,), 60)
    x0 = np.linspace(-1.0, 1.0, 8)
    opt = ref.signsgd(0.02, momentum=0.9)
    for a, b in zip(run(opt, x0, gs), run(opt, x0, [c * g for g in gs])):
        assert_array_equal(a, b)


def test_weight_decay_breaks_scale_invariance_and_is_coupled() -> None:
    gs = stream(22, (5,), 10, scale=0.01)
    x0 = np.array([1.0, -1.0, 2.0, 0.5, -0.3])
    a = ref.signsgd(0.05, momentum=0.9, weight_decay=0.5)
    b = ref.signsgd(0.05, momentum=0.9)
    sa, sb = a.init(x0), b.init(x0)
    for g in gs:
        sb = b.step(sb, g + 0.5 * sa.params)
        sa = a.step(sa, g)
        assert_array_equal(sa.params, sb.params)
    big = run(a, x0, [1e3 * g for g in gs])
    assert np.max(np.abs(big[-1] - sa.params)) > 0.04


@given(params_and_grads(n_grads=4), st.floats(1e-4, 1.0))
def test_momentum_zero_is_sign_of_gradient(xg: tuple[np.ndarray, list[np.ndarray]], lr: float) -> None:
    x, gs = xg
    prev = np.array(x)
    for g, th in zip(gs, run(ref.signsgd(lr), x, gs)):
        assert_array_equal(th, prev - lr * np.sign(g))
        prev = th


def test_chatters_around_the_optimum() -> None:
    # Note 002: the sign step "causes chattering around the optimum" of L = |theta - 0.3|^2/2:
    # from theta_0 = 0 with lr 0.25 it oscillates between 0.25 and 0.5, never closer than 0.05.
    opt = ref.signsgd(0.25)
    s = opt.init([0.0])
    seen = []
    for _ in range(8):
        s = opt.step(s, s.params - 0.3)
        seen.append(float(s.params[0]))
    assert seen == [0.25, 0.5] * 4


def test_schedule_is_read_at_completed_steps() -> None:
    seen: list[int] = []

    def sched(t: int) -> float:
        seen.append(t)
        return 0.1 / (1 + t)

    out = run(ref.signsgd(sched, momentum=0.5), [0.0, 0.0], [np.array([1.0, -1.0])] * 3)
    assert seen == [0, 1, 2]
    assert_allclose(out[-1], [-(0.1 + 0.05 + 0.1 / 3), 0.1 + 0.05 + 0.1 / 3], rtol=1e-15)


@given(params_and_grads(n_grads=2))
def test_purity_readonly_inputs(xg: tuple[np.ndarray, list[np.ndarray]]) -> None:
    x, gs = xg
    for momentum in (0.0, 0.9):
        opt = ref.signsgd(0.1, momentum=momentum, weight_decay=0.1)
        s0 = opt.init(readonly(x))
        s0.params.setflags(write=False)
        if s0.m is not None:
            s0.m.setflags(write=False)
        s1 = opt.step(s0, readonly(gs[0]))
        s1b = opt.step(s0, readonly(gs[0]))
        assert_array_equal(s1.params, s1b.params)
        assert s0.t == 0 and s1.t == 1
        assert s1.params.dtype == np.float64 and s1.params.shape == x.shape


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_hypergradient_wrt_lr(momentum: float) -> None:
    # Closed loop, 20 steps, far from the optimum so no sign flips: d theta_20 / d lr is
    # -sum_t sign(m_t) (the signs have derivative 0), and autograd agrees with it and with a
    # central difference.
    h = np.array([0.5, 1.0, 3.0])
    x0 = np.array([10.0, -20.0, 5.0])

    def final(lr: Any) -> Any:
        opt = ref.signsgd(lr, momentum=momentum)
        s = opt.init(x0)
        for _ in range(20):
            s = opt.step(s, h * s.params)
        return s.params

    def loss_after(lr: Any) -> Any:
        return 0.5 * anp.sum(h * final(lr) ** 2)

    lr, eps = 0.05, 1e-6
    got = autograd.grad(loss_after)(lr)
    analytic = np.sum(h * final(lr) * (-20 * np.sign(x0)))
    fd = (loss_after(lr + eps) - loss_after(lr - eps)) / (2 * eps)
    assert_allclose(got, analytic, rtol=1e-12)
    assert_allclose(got, fd, rtol=1e-7)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(lr=0.0), "lr must be a finite number > 0"),
        (dict(lr=-1.0), "lr must be a finite number > 0"),
        (dict(lr=0.1, momentum=1.0), r"momentum must be in \[0, 1\)"),
        (dict(lr=0.1, momentum=-0.9), r"momentum must be in \[0, 1\)"),
        (dict(lr=0.1, weight_decay=float("inf")), "weight_decay must be a finite number >= 0"),
    ],
)
def test_bad_hyperparameters(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ref.signsgd(**kwargs)  # type: ignore[arg-type]


def test_bad_grad() -> None:
    opt = ref.signsgd(0.1)
    s = opt.init(np.zeros(3))
    with pytest.raises(ValueError, match=r"grad has shape \(3, 1\) but params have shape \(3,\)"):
        opt.step(s, np.zeros((3, 1)))
    with pytest.raises(ValueError, match="non-finite"):
        opt.step(s, np.array([0.0, -np.inf, 1.0]))


def test_signum_step_on_a_signsgd_state_is_an_error_saying_what_to_do() -> None:
    # The bare step with momentum > 0 on a state made without m (init with momentum = 0).
    s0 = signsgd_init(np.ones(2))
    assert s0.m is None
    with pytest.raises(
        ValueError, match=r"signsgd: momentum > 0 needs a state from init\(params, momentum=\.\.\.\)"
    ):
        signsgd_step(s0, np.array([1.0, -1.0]), lr=0.1, momentum=0.9)
    s1 = signsgd_step(signsgd_init(np.ones(2), momentum=0.9), np.array([1.0, -1.0]), lr=0.1, momentum=0.9)
    assert_array_equal(s1.params, [0.9, 1.1])


def test_bare_step_matches_factory_and_registry() -> None:
    g = np.array([1.0, -2.0])
    for momentum in (0.0, 0.8):
        kw: dict[str, Any] = dict(lr=0.1, momentum=momentum, weight_decay=0.1)
        s0 = signsgd_init(np.ones(2), momentum=momentum)
        s1 = signsgd_step(signsgd_step(s0, g, **kw), -0.5 * g, **kw)
        opt = ref.make("signsgd", **kw)
        s2 = opt.step(opt.step(opt.init(np.ones(2)), g), -0.5 * g)
        assert_array_equal(s1.params, s2.params)
        assert opt.hyperparams == kw
    assert "signsgd" in ref.ALGORITHMS

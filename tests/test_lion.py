"""Lion: golden values from specs/lion.md, exact lr-sized moves, scale invariance, decoupled decay
and its two scalings, schedules, purity, hypergradients, bad input."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.testing import assert_allclose, assert_array_equal

import reference as ref
from reference.first_order.lion import init as lion_init
from reference.first_order.lion import step as lion_step

from .helpers import (
    check_bad_grad,
    check_pure_steps,
    hypergradient_after_steps,
    run,
    schedule_reads,
    states,
    stream,
)
from .strategies import params_and_grads

X0 = [1.0, -2.0]
GS = [[0.5, -1.0], [-0.5, 3.0], [0.0004, -0.1]]


def _sched(t: int) -> float:
    return 0.1 / (1 + t)


def test_lion_golden_three_steps() -> None:
    # specs/lion.md "Worked example", by hand.
    s1, s2, s3 = states(ref.lion(0.1, beta1=0.9, beta2=0.99), X0, GS)
    assert_allclose(s1.params, [0.9, -1.9], rtol=1e-15)
    assert_allclose(s1.m, [0.005, -0.01], rtol=1e-15)
    assert_allclose(s2.params, [1.0, -2.0], rtol=1e-15)
    assert_allclose(s2.m, [-0.00005, 0.0201], rtol=1e-11)
    # c_3 = (-0.000005, 0.00809): the momentum overrules both signs of g_3.
    assert_allclose(s3.params, [1.1, -2.1], rtol=1e-15)
    assert_allclose(s3.m, [-0.0000455, 0.018899], rtol=1e-11)
    assert s3.t == 3


def test_lion_golden_weight_decay() -> None:
    want = [[0.85, -1.8], [0.9075, -1.81], [0.962125, -1.8195]]
    lr_scaled = run(ref.lion(0.1, weight_decay=0.5), X0, GS)
    assert_allclose(lr_scaled, want, rtol=1e-15)
    sched_scaled = run(ref.lion(0.1, weight_decay=0.05, decay_scaling="schedule"), X0, GS)
    assert_allclose(sched_scaled, want, rtol=1e-15)


def test_lion_golden_weight_decay_under_schedule() -> None:
    want = [[0.85, -1.8], [0.87875, -1.805], [0.8974375, -1.80825]]
    assert_allclose(run(ref.lion(_sched, weight_decay=0.5), X0, GS), want, rtol=1e-15)
    assert_allclose(
        run(ref.lion(_sched, weight_decay=0.05, decay_scaling="schedule"), X0, GS), want, rtol=1e-15
    )


dyadic = st.integers(-4096, 4096).map(lambda k: k / 64.0)


@given(
    x=hnp.arrays(np.float64, st.integers(1, 8), elements=dyadic),
    data=st.data(),
    betas=st.sampled_from([(0.9, 0.99), (0.95, 0.98), (0.0, 0.5)]),
    k=st.integers(-8, 0),
)
def test_every_coordinate_with_nonzero_c_moves_by_exactly_lr(
    x: np.ndarray, data: st.DataObject, betas: tuple[float, float], k: int
) -> None:
    # weight_decay = 0, dyadic theta and lr = 2^k: theta - lr sign(c) is exact.
    lr, (b1, b2) = 2.0**k, betas
    gs = [data.draw(hnp.arrays(np.float64, x.shape, elements=dyadic)) for _ in range(4)]
    opt = ref.lion(lr, beta1=b1, beta2=b2)
    s = opt.init(x)
    for g in gs:
        c = b1 * s.m + (1 - b1) * g  # (L1) from the state before the step
        prev, s = s, opt.step(s, g)
        moved = np.abs(s.params - prev.params)
        assert_array_equal(moved[c != 0], lr)
        assert_array_equal(moved[c == 0], 0.0)
        assert_array_equal(np.sign(prev.params - s.params), np.sign(c))


@given(params_and_grads(n_grads=5), st.integers(-30, 30))
def test_scale_invariance_power_of_two(xg: tuple[np.ndarray, list[np.ndarray]], k: int) -> None:
    x, gs = xg
    opt = ref.lion(0.01)
    for a, b in zip(run(opt, x, gs), run(opt, x, [2.0**k * g for g in gs])):
        assert_array_equal(a, b)


@pytest.mark.parametrize("c", [1e-3, 0.37, 7.3, 1e4])
def test_scale_invariance_generic_scale(c: float) -> None:
    # Any c > 0: c_t and m_t scale by c up to rounding, and no c_t of a normal stream sits
    # within rounding of 0, so the iterates agree to the bit.
    gs = stream(31, (8,), 60)
    x0 = np.linspace(-1.0, 1.0, 8)
    opt = ref.lion(0.02, beta1=0.9, beta2=0.99)
    for a, b in zip(run(opt, x0, gs), run(opt, x0, [c * g for g in gs])):
        assert_array_equal(a, b)


def test_decay_is_decoupled_and_scaling_is_what_it_says() -> None:
    # Zero gradients isolate the decay (sign(0) = 0 and m stays 0):
    # "lr": theta_t = theta_0 prod (1 - eta_s lambda); "schedule": theta_0 prod (1 - eta_s/eta_0 lambda).
    x0 = np.array([1.0, -3.0])
    zeros = [np.zeros(2)] * 5
    for lr in (0.1, 0.01):
        lr_out = run(ref.lion(lr, weight_decay=0.2), x0, zeros)
        sch_out = run(ref.lion(lr, weight_decay=0.2, decay_scaling="schedule"), x0, zeros)
        for t in range(5):
            assert_allclose(lr_out[t], x0 * (1 - lr * 0.2) ** (t + 1), rtol=1e-14)
            assert_allclose(sch_out[t], x0 * (1 - 0.2) ** (t + 1), rtol=1e-14)  # independent of lr
    sch = run(ref.lion(_sched, weight_decay=0.2, decay_scaling="schedule"), x0, zeros)
    want = x0 * np.cumprod([1 - (_sched(t) / _sched(0)) * 0.2 for t in range(5)])[:, None]
    assert_allclose(sch, want, rtol=1e-14)


def test_decay_does_not_touch_the_momentum() -> None:
    gs = stream(32, (4,), 6)
    x0 = np.array([1.0, -1.0, 3.0, 0.2])
    with_wd = states(ref.lion(0.05, weight_decay=0.3), x0, gs)
    without = states(ref.lion(0.05), x0, gs)
    for a, b in zip(with_wd, without):
        assert_array_equal(a.m, b.m)  # m depends on the gradients only
    assert np.max(np.abs(with_wd[-1].params - without[-1].params)) > 1e-3


@given(params_and_grads(n_grads=4, allow_zero=False), st.floats(1e-4, 1.0))
def test_beta1_zero_is_signsgd(xg: tuple[np.ndarray, list[np.ndarray]], lr: float) -> None:
    # beta1 = 0 makes c_t = g_t: Lion is signSGD whatever beta2 is.
    x, gs = xg
    for a, b in zip(run(ref.lion(lr, beta1=0.0, beta2=0.9), x, gs), run(ref.signsgd(lr), x, gs)):
        assert_array_equal(a, b)


def test_schedule_is_read_at_completed_steps() -> None:
    assert schedule_reads(lambda s: ref.lion(s)) == [0, 1, 2]


@given(params_and_grads(n_grads=2))
def test_purity_readonly_inputs(xg: tuple[np.ndarray, list[np.ndarray]]) -> None:
    x, gs = xg
    _, s1, s1b = check_pure_steps(ref.lion(0.1, weight_decay=0.1), x, gs)
    assert_array_equal(s1.m, s1b.m)


@pytest.mark.parametrize("decay_scaling", ["lr", "schedule"])
def test_hypergradient_wrt_lr_matches_finite_difference(decay_scaling: str) -> None:
    # 20 closed-loop steps on a quadratic far from its minimum (no sign flips near lr = 0.05):
    # autograd through the sign steps and the decoupled decay against a central difference.
    got, fd = hypergradient_after_steps(
        lambda lr: ref.lion(lr, weight_decay=0.5, decay_scaling=decay_scaling),  # type: ignore[arg-type]
        [10.0, -20.0, 5.0],
        [0.5, 1.0, 3.0],
        lr=0.05,
        d=1e-6,
    )
    assert abs(got) > 1e-2
    assert_allclose(got, fd, rtol=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(lr=0.0), "lr must be a finite number > 0"),
        (dict(lr=-1e-4), "lr must be a finite number > 0"),
        (dict(beta1=1.0), r"beta1 must be in \[0, 1\)"),
        (dict(beta2=-0.01), r"beta2 must be in \[0, 1\)"),
        (dict(weight_decay=-1e-3), "weight_decay must be a finite number >= 0"),
        (dict(decay_scaling="paper"), "decay_scaling must be one of"),
        (
            dict(lr=lambda t: 0.0 if t == 0 else 1e-4, weight_decay=0.1, decay_scaling="schedule"),
            r"lion: lr\(0\) \(eta_0, the divisor of decay_scaling='schedule'\) must be a finite number > 0",
        ),
    ],
)
def test_bad_hyperparameters(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ref.lion(**kwargs)  # type: ignore[arg-type]


def test_bad_grad() -> None:
    check_bad_grad(ref.lion())


def test_bare_step_matches_factory_and_registry() -> None:
    kw: dict[str, Any] = dict(lr=0.1, beta1=0.8, beta2=0.95, weight_decay=0.1, decay_scaling="schedule")
    g = np.array([1.0, -2.0])
    s1 = lion_step(lion_step(lion_init(np.ones(2)), g, **kw), -0.5 * g, **kw)
    opt = ref.make("lion", **kw)
    s2 = opt.step(opt.step(opt.init(np.ones(2)), g), -0.5 * g)
    assert_array_equal(s1.params, s2.params)
    assert_array_equal(s1.m, s2.m)
    assert opt.hyperparams == kw
    assert "lion" in ref.ALGORITHMS
    assert ref.lion().hyperparams == dict(
        lr=1e-4, beta1=0.9, beta2=0.99, weight_decay=0.0, decay_scaling="lr"
    )

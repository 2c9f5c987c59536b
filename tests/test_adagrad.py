"""AdaGrad: golden values from specs/adagrad.md, the constant-gradient closed form, the
non-increasing effective step, reductions, purity, schedules, hypergradients, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

import reference as ref
from reference.first_order.adagrad import init as adagrad_init
from reference.first_order.adagrad import step as adagrad_step

from .helpers import check_bad_grad, check_hypergradient, check_pure_steps, run, schedule_reads, stream
from .strategies import params_and_grads, positive_scale


def test_adagrad_golden_three_steps() -> None:
    # specs/adagrad.md "Worked example", 40-digit decimals.
    opt = ref.adagrad(lr=0.1, eps=0.0)
    s = opt.init([1.0, -2.0])
    s = opt.step(s, [0.5, -1.0])
    assert_allclose(s.s, [0.25, 1.0], rtol=1e-15)
    assert_allclose(s.params, [0.9, -1.9], rtol=1e-15)
    s = opt.step(s, [-0.5, 3.0])
    assert_allclose(s.s, [0.5, 10.0], rtol=1e-15)
    assert_allclose(s.params, [0.9707106781186547524, -1.9948683298050513800], rtol=1e-15)
    s = opt.step(s, [2.0, 0.0])
    assert_allclose(s.s, [4.5, 10.0], rtol=1e-15)
    assert_allclose(s.params, [0.8764297739604484159, -1.9948683298050513800], rtol=1e-15)
    assert s.t == 3


def test_adagrad_golden_inside_with_initial_accumulator() -> None:
    # Same worked example, optax form: eps = 0.01 inside the root, s_0 = 0.1.
    opt = ref.adagrad(lr=0.1, eps=0.01, eps_placement="inside", initial_accumulator_value=0.1)
    s = opt.init([1.0, -2.0])
    assert_allclose(s.s, [0.1, 0.1], rtol=0)
    s = opt.step(s, [0.5, -1.0])
    assert_allclose(s.s, [0.35, 1.1], rtol=1e-15)
    assert_allclose(s.params, [0.9166666666666666667, -1.9050842004247501005], rtol=1e-15)
    s = opt.step(s, [-0.5, 3.0])
    assert_allclose(s.s, [0.6, 10.1], rtol=1e-15)
    assert_allclose(s.params, [0.9806851066331146535, -1.9994350199831159492], rtol=1e-15)


@pytest.mark.parametrize("eps", [0.0, 1e-10, 0.3])
def test_constant_gradient_closed_form(eps: float) -> None:
    # s_k = k g^2, so theta_t = theta_0 - lr sum_{k<=t} g / (sqrt(k) |g| + eps).
    g = np.array([0.5, -2.0, 3e-3])
    x0 = np.array([1.0, 0.0, -1.0])
    lr, n = 0.05, 25
    out = run(ref.adagrad(lr=lr, eps=eps), x0, [g] * n)
    for t in (1, 2, 10, n):
        want = x0 - lr * np.array(
            [math.fsum(gi / (math.sqrt(k) * abs(gi) + eps) for k in range(1, t + 1)) for gi in g]
        )
        assert_allclose(out[t - 1], want, rtol=1e-13, atol=1e-15)


def test_constant_gradient_eps_zero_is_harmonic_half_sum() -> None:
    # With eps = 0 the step does not depend on |g|: theta_t = theta_0 - lr sign(g) sum k^(-1/2).
    out = run(ref.adagrad(lr=1.0, eps=0.0), [0.0, 0.0], [np.array([1e-6, -1e6])] * 4)
    h4 = 1 + 1 / math.sqrt(2) + 1 / math.sqrt(3) + 0.5
    assert_allclose(out[-1], [-h4, h4], rtol=1e-15)


@given(
    params_and_grads(n_grads=6, allow_zero=False), st.floats(0.0, 0.5), st.sampled_from(["outside", "inside"])
)
def test_effective_step_never_increases(
    xg: tuple[np.ndarray, list[np.ndarray]], lr_decay: float, placement: str
) -> None:
    # |theta_t - theta_{t-1}| / |g_t| = eta'_t / (sqrt(s_t) + eps) is non-increasing in t.
    x, gs = xg
    opt = ref.adagrad(lr=0.1, eps=1e-3, lr_decay=lr_decay, eps_placement=placement)  # type: ignore[arg-type]
    xs = [np.asarray(x, dtype=float)] + run(opt, x, gs)
    eff = [np.abs(b - a) / np.abs(g) for a, b, g in zip(xs, xs[1:], gs)]
    # A measured step carries the rounding of theta (|theta| up to 1e3): allow a few ulps of it.
    slack = [4e-16 * (np.abs(a) + np.abs(b) + 1) / np.abs(g) for a, b, g in zip(xs, xs[1:], gs)]
    for t in range(len(eff) - 1):
        assert np.all(eff[t + 1] <= eff[t] + slack[t] + slack[t + 1])


def test_lr_decay_is_torch_formula() -> None:
    # eta'_t = lr / (1 + (t - 1) lr_decay): with g = +-1 coordinates and s known, read it off.
    gs = stream(5, (3,), 5)
    lr, d, eps = 0.2, 0.3, 1e-8
    out = run(ref.adagrad(lr=lr, lr_decay=d, eps=eps), np.zeros(3), gs)
    s, x = np.zeros(3), np.zeros(3)
    for t, (g, got) in enumerate(zip(gs, out), 1):
        s = s + g * g
        x = x - lr / (1 + (t - 1) * d) * g / (np.sqrt(s) + eps)
        assert_allclose(got, x, rtol=1e-14, atol=1e-16)


def test_lr_decay_composes_with_schedule() -> None:
    gs = stream(6, (2,), 4)
    sched = ref.schedules.step_decay(0.1, step_size=2, gamma=0.5)
    out = run(ref.adagrad(lr=sched, lr_decay=0.1), np.ones(2), gs)
    s, x = np.zeros(2), np.ones(2)
    for t, (g, got) in enumerate(zip(gs, out), 1):
        s = s + g * g
        x = x - sched(t - 1) / (1 + (t - 1) * 0.1) * g / (np.sqrt(s) + 1e-10)
        assert_allclose(got, x, rtol=1e-14)


@given(params_and_grads(n_grads=3, allow_zero=False), positive_scale)
def test_scale_invariance_eps_zero(xg: tuple[np.ndarray, list[np.ndarray]], c: float) -> None:
    x, gs = xg
    opt = ref.adagrad(lr=1e-2, eps=0.0)
    assert_allclose(run(opt, x, gs)[-1], run(opt, x, [c * g for g in gs])[-1], rtol=1e-12, atol=1e-12)


def test_placements_agree_when_eps_zero_and_differ_otherwise() -> None:
    gs = stream(7, (4,), 5)
    x0 = np.zeros(4)
    a = run(ref.adagrad(lr=0.1, eps=0.0, eps_placement="outside"), x0, gs)
    b = run(ref.adagrad(lr=0.1, eps=0.0, eps_placement="inside"), x0, gs)
    assert_array_equal(a[-1], b[-1])
    c = run(ref.adagrad(lr=0.1, eps=0.1, eps_placement="outside"), x0, gs)
    d = run(ref.adagrad(lr=0.1, eps=0.1, eps_placement="inside"), x0, gs)
    assert np.max(np.abs(c[-1] - d[-1])) > 1e-3


def test_schedule_is_read_at_completed_steps() -> None:
    assert schedule_reads(lambda s: ref.adagrad(lr=s), rate=lambda t: 0.1) == [0, 1, 2]


def test_hypergradient_through_20_steps() -> None:
    # d/d lr of the loss after 20 closed-loop steps on a quadratic, against central differences.
    check_hypergradient(
        lambda lr: ref.adagrad(lr=lr, lr_decay=0.01, initial_accumulator_value=0.1), lr=0.3, d=1e-6
    )


@given(params_and_grads(n_grads=2))
def test_purity_readonly_inputs(xg: tuple[np.ndarray, list[np.ndarray]]) -> None:
    x, gs = xg
    s0, s1, _ = check_pure_steps(ref.adagrad(lr=0.1, weight_decay=0.1, initial_accumulator_value=0.5), x, gs)
    assert_array_equal(s0.s, np.full(x.shape, 0.5))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(lr=0.0), "adagrad: lr must be a finite number > 0"),
        (dict(lr=-1.0), "lr must be a finite number > 0"),
        (dict(lr=float("inf")), "lr"),
        (dict(eps=-1e-10), "eps must be a finite number >= 0"),
        (dict(eps_placement="under"), "eps_placement must be one of"),
        (dict(initial_accumulator_value=-0.1), "initial_accumulator_value must be a finite number >= 0"),
        (dict(lr_decay=-0.1), "lr_decay must be a finite number >= 0"),
        (dict(weight_decay=-1.0), "weight_decay must be a finite number >= 0"),
    ],
)
def test_bad_hyperparameters(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ref.adagrad(**kwargs)  # type: ignore[arg-type]


def test_bad_schedule_value() -> None:
    opt = ref.adagrad(lr=lambda t: -1.0)
    with pytest.raises(ValueError, match="lr schedule returned -1.0 at t=0"):
        opt.step(opt.init([1.0]), [1.0])


def test_bad_grad() -> None:
    check_bad_grad(ref.adagrad(), bad=np.inf)


def test_bare_step_matches_factory() -> None:
    s0 = adagrad_init(np.ones(2), initial_accumulator_value=0.1)
    s1 = adagrad_step(s0, np.array([1.0, -2.0]), lr=0.1, eps=1e-10, lr_decay=0.1)
    opt = ref.adagrad(lr=0.1, lr_decay=0.1, initial_accumulator_value=0.1)
    s2 = opt.step(opt.init(np.ones(2)), [1.0, -2.0])
    assert_array_equal(s1.params, s2.params)
    assert opt.hyperparams["initial_accumulator_value"] == 0.1
    assert ref.make("adagrad", lr=0.1).hyperparams["eps"] == 1e-10

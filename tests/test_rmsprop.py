"""RMSprop: golden values from specs/rmsprop.md, reductions (Adam with beta1 = 0), momentum forms
under schedules, centered and bias-corrected variants, purity, hypergradients, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from numpy.testing import assert_allclose, assert_array_equal

import reference as ref
from reference.first_order.rmsprop import init as rmsprop_init
from reference.first_order.rmsprop import step as rmsprop_step

from .helpers import freeze, hypergradient_after_steps, readonly, run, stream
from .strategies import params_and_grads, positive_scale

G1, G2 = [0.5, -1.0], [-0.5, 3.0]


def test_rmsprop_golden_two_steps() -> None:
    # specs/rmsprop.md "Worked example", plain; 40-digit decimals.
    opt = ref.rmsprop(lr=0.1, alpha=0.9, eps=0.0)
    s = opt.init([1.0, -2.0])
    s = opt.step(s, G1)
    assert_allclose(s.v, [0.025, 0.1], rtol=1e-15)
    assert_allclose(s.params, [0.6837722339831620668, -1.6837722339831620668], rtol=1e-15)
    assert s.gbar is None and s.b is None
    s = opt.step(s, G2)
    assert_allclose(s.v, [0.0475, 0.99], rtol=1e-15)
    assert_allclose(s.params, [0.9131879678537238327, -1.9852835785609256894], rtol=1e-15)
    assert s.t == 2


def test_rmsprop_golden_centered_momentum() -> None:
    opt = ref.rmsprop(lr=0.1, alpha=0.9, eps=0.0, centered=True, momentum=0.5)
    s = opt.init([1.0, -2.0])
    s = opt.step(s, G1)
    assert s.gbar is not None and s.b is not None
    assert_allclose(s.gbar, [0.05, -0.1], rtol=1e-15)
    assert_allclose(s.b, [10 / 3, -10 / 3], rtol=1e-14)
    assert_allclose(s.params, [2 / 3, -5 / 3], rtol=1e-14)
    s = opt.step(s, G2)
    assert s.gbar is not None and s.b is not None
    assert_allclose(s.gbar, [-0.005, 0.21], rtol=1e-14)
    assert_allclose(s.b, [-0.6280946360717140708, 1.4179318257115118266], rtol=1e-13)
    assert_allclose(s.params, [0.7294761302738380737, -1.8084598492378178493], rtol=1e-14)


@given(params_and_grads(n_grads=4))
def test_equals_adam_without_first_moment(xg: tuple[np.ndarray, list[np.ndarray]]) -> None:
    # beta1 = 0 and no bias correction: Adam's step is RMSprop's with alpha = beta2.
    x, gs = xg
    a = run(ref.rmsprop(lr=0.01, alpha=0.95, eps=1e-8), x, gs)
    b = run(ref.adam(lr=0.01, beta1=0.0, beta2=0.95, eps=1e-8, bias_correction=False), x, gs)
    assert_allclose(a[-1], b[-1], rtol=1e-14, atol=1e-14)


def test_momentum_lr_forms_agree_at_constant_lr_and_differ_under_schedule() -> None:
    gs = stream(11, (5,), 12)
    x0 = np.zeros(5)
    kw = dict(alpha=0.9, momentum=0.9)
    out_ = run(ref.rmsprop(lr=0.01, momentum_lr="outside", **kw), x0, gs)  # type: ignore[arg-type]
    in_ = run(ref.rmsprop(lr=0.01, momentum_lr="inside", **kw), x0, gs)  # type: ignore[arg-type]
    assert_allclose(out_[-1], in_[-1], rtol=1e-13, atol=1e-15)
    sched = ref.schedules.step_decay(0.01, step_size=3, gamma=0.1)
    so = run(ref.rmsprop(lr=sched, momentum_lr="outside", **kw), x0, gs)  # type: ignore[arg-type]
    si = run(ref.rmsprop(lr=sched, momentum_lr="inside", **kw), x0, gs)  # type: ignore[arg-type]
    assert np.max(np.abs(so[-1] - si[-1])) > 1e-3
    # Both against the recurrences written out (v, b by hand).
    v, bo, bi, xo, xi = (np.zeros(5) for _ in range(5))
    for k, g in enumerate(gs):
        eta = sched(k)
        v = 0.9 * v + 0.1 * g * g
        d = np.sqrt(v) + 1e-8
        bo, bi = 0.9 * bo + g / d, 0.9 * bi + eta * g / d
        xo, xi = xo - eta * bo, xi - bi
        assert_allclose(so[k], xo, rtol=1e-13, atol=1e-16)
        assert_allclose(si[k], xi, rtol=1e-13, atol=1e-16)


def test_eps_inside_and_bias_correction_with_initial_scale() -> None:
    # optax form: d = sqrt(v_t / (1 - alpha^t) + eps), v_0 = initial_scale, corrected as a whole.
    gs = stream(12, (4,), 6)
    a, eps, v0 = 0.9, 1e-2, 1.0
    out = run(
        ref.rmsprop(
            lr=0.05, alpha=a, eps=eps, eps_placement="inside", initial_scale=v0, bias_correction=True
        ),
        np.ones(4),
        gs,
    )
    v, x = np.full(4, v0), np.ones(4)
    for t, (g, got) in enumerate(zip(gs, out), 1):
        v = a * v + (1 - a) * g * g
        x = x - 0.05 * g / np.sqrt(v / (1 - a**t) + eps)
        assert_allclose(got, x, rtol=1e-14)


def test_initial_scale_one_damps_the_first_steps() -> None:
    # TF1/autograd start v at 1: the first step is g / sqrt(alpha + (1 - alpha) g^2).
    s = ref.rmsprop(lr=1.0, alpha=0.9, eps=0.0, initial_scale=1.0).init([0.0])
    s = ref.rmsprop(lr=1.0, alpha=0.9, eps=0.0, initial_scale=1.0).step(s, [2.0])
    assert_allclose(s.params, [-2.0 / np.sqrt(0.9 + 0.4)], rtol=1e-15)


def test_centered_bias_corrected_first_step_divides_by_eps() -> None:
    # alpha = 0.5 and dyadic g: the t = 1 variance is exactly 0, so theta_1 = theta_0 - lr g / eps.
    opt = ref.rmsprop(lr=0.1, alpha=0.5, eps=0.25, centered=True, bias_correction=True)
    s = opt.step(opt.init([1.0, 1.0]), [0.5, -2.0])
    assert_array_equal(s.params, [1.0 - 0.1 * 0.5 / 0.25, 1.0 + 0.1 * 2.0 / 0.25])


def test_centered_clamps_a_negative_rounding_residue() -> None:
    # With alpha = 0.9, g = 0.1 the t = 1 variance rounds to a tiny negative number; sqrt of it
    # would be NaN (and a RuntimeWarning, an error under pytest). The clamp gives d = eps.
    a, g = 0.9, 0.1
    bc = 1 - a
    residue = ((1 - a) * g * g) / bc - (((1 - a) * g) / bc) ** 2
    assert residue < 0  # the case is real
    opt = ref.rmsprop(lr=0.1, alpha=a, eps=1e-3, centered=True, bias_correction=True)
    s = opt.step(opt.init([0.0]), [g])
    assert_allclose(s.params, [-0.1 * g / 1e-3], rtol=1e-15)


def test_eps_placements_agree_when_eps_zero() -> None:
    gs = stream(13, (3,), 5)
    a = run(ref.rmsprop(lr=0.01, eps=0.0, eps_placement="outside", centered=True), np.ones(3), gs)
    b = run(ref.rmsprop(lr=0.01, eps=0.0, eps_placement="inside", centered=True), np.ones(3), gs)
    assert_array_equal(a[-1], b[-1])


@given(params_and_grads(n_grads=3, allow_zero=False), positive_scale)
def test_scale_invariance_eps_zero(xg: tuple[np.ndarray, list[np.ndarray]], c: float) -> None:
    x, gs = xg
    opt = ref.rmsprop(lr=1e-2, eps=0.0, momentum=0.5)
    assert_allclose(run(opt, x, gs)[-1], run(opt, x, [c * g for g in gs])[-1], rtol=1e-12, atol=1e-12)


def test_coupled_weight_decay_is_gradient_plus_lambda_theta() -> None:
    gs = stream(3, (3,), 4)
    x0 = np.array([1.0, -1.0, 2.0])
    a, b = ref.rmsprop(lr=0.01, weight_decay=0.1, centered=True), ref.rmsprop(lr=0.01, centered=True)
    sa, sb = a.init(x0), b.init(x0)
    for g in gs:
        sb = b.step(sb, g + 0.1 * sa.params)
        sa = a.step(sa, g)
        assert_array_equal(sa.params, sb.params)


def test_schedule_is_read_at_completed_steps() -> None:
    seen: list[int] = []

    def sched(t: int) -> float:
        seen.append(t)
        return 0.01

    run(ref.rmsprop(lr=sched, momentum=0.9, momentum_lr="inside"), [0.0, 1.0], stream(4, (2,), 3))
    assert seen == [0, 1, 2]


@pytest.mark.parametrize("momentum_lr", ["outside", "inside"])
def test_hypergradient_through_20_steps(momentum_lr: str) -> None:
    got, fd = hypergradient_after_steps(
        lambda lr: ref.rmsprop(
            lr=lr, alpha=0.9, centered=True, momentum=0.5, momentum_lr=momentum_lr, eps=1e-3
        ),  # type: ignore[arg-type]
        [1.0, -1.0, 2.0],
        [1.0, 4.0, 0.25],
        lr=0.01,
        d=1e-7,
    )
    assert np.isfinite(got) and abs(got) > 1e-3
    assert_allclose(got, fd, rtol=1e-5)


@given(params_and_grads(n_grads=2))
def test_purity_readonly_inputs(xg: tuple[np.ndarray, list[np.ndarray]]) -> None:
    x, gs = xg
    opt = ref.rmsprop(lr=0.1, centered=True, momentum=0.9, initial_scale=0.5)
    s0 = opt.init(readonly(x))
    assert s0.gbar is not None and s0.b is not None
    freeze(s0)
    g = readonly(gs[0])
    s1, s1b = opt.step(s0, g), opt.step(s0, g)
    assert_array_equal(s1.params, s1b.params)
    assert_array_equal(s0.v, np.full(x.shape, 0.5))
    assert s0.t == 0 and s1.t == 1 and s1.params.dtype == np.float64


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(lr=0.0), "rmsprop: lr must be a finite number > 0"),
        (dict(lr=float("nan")), "lr"),
        (dict(alpha=1.0), r"alpha must be in \[0, 1\)"),
        (dict(alpha=-0.5), r"alpha must be in \[0, 1\)"),
        (dict(eps=-1e-8), "eps must be a finite number >= 0"),
        (dict(eps_placement="middle"), "eps_placement must be one of"),
        (dict(momentum=1.0), r"momentum must be in \[0, 1\)"),
        (dict(momentum=-0.1), r"momentum must be in \[0, 1\)"),
        (dict(momentum_lr="both"), "momentum_lr must be one of"),
        (dict(initial_scale=-1.0), "initial_scale must be a finite number >= 0"),
        (dict(weight_decay=-1.0), "weight_decay must be a finite number >= 0"),
    ],
)
def test_bad_hyperparameters(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ref.rmsprop(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("flag", ["centered", "bias_correction"])
def test_flags_refuse_numbers(flag: str) -> None:
    with pytest.raises(TypeError, match=f"rmsprop: {flag} must be True or False, got 1"):
        ref.rmsprop(**{flag: 1})  # type: ignore[arg-type]


def test_bad_grad() -> None:
    opt = ref.rmsprop()
    s = opt.init(np.zeros(3))
    with pytest.raises(ValueError, match=r"grad has shape \(3, 1\) but params have shape \(3,\)"):
        opt.step(s, np.zeros((3, 1)))
    with pytest.raises(ValueError, match="non-finite"):
        opt.step(s, np.array([0.0, np.nan, 1.0]))


def test_bare_step_matches_factory() -> None:
    s0 = rmsprop_init(np.ones(2), centered=True, momentum=0.9)
    s1 = rmsprop_step(s0, np.array([1.0, -2.0]), lr=0.1, alpha=0.99, eps=1e-8, centered=True, momentum=0.9)
    opt = ref.rmsprop(lr=0.1, centered=True, momentum=0.9)
    s2 = opt.step(opt.init(np.ones(2)), [1.0, -2.0])
    assert_array_equal(s1.params, s2.params)
    assert ref.make("rmsprop", lr=0.1).hyperparams["alpha"] == 0.99

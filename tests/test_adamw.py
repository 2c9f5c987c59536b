"""AdamW: golden values from specs/adamw.md, reduction to Adam, decoupled vs coupled decay, the
seed's single formula, decay scalings under schedules, purity, hypergradients, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from numpy.testing import assert_allclose, assert_array_equal

import reference as ref
from reference.first_order.adamw import init as adamw_init
from reference.first_order.adamw import step as adamw_step

from .helpers import assert_states_close, freeze, hypergradient_after_steps, readonly, run, stream
from .strategies import params_and_grads

G1, G2 = [0.5, -1.0], [-0.5, 3.0]


def test_adamw_golden_two_steps() -> None:
    # specs/adamw.md "Worked example"; 40-digit decimals.
    opt = ref.adamw(lr=0.1, eps=0.0, weight_decay=0.1)
    s = opt.step(opt.init([1.0, -2.0]), G1)
    assert_allclose(s.params, [0.89, -1.88], rtol=1e-15)
    s = opt.step(s, G2)
    assert_allclose(s.params, [0.8863631578947368421, -1.9106189833297087034], rtol=1e-15)
    assert_allclose(s.m, [-0.005, 0.21], rtol=1e-14)  # Adam's moments, untouched by the decay
    assert s.t == 2


def test_adamw_golden_schedule_scaling() -> None:
    opt = ref.adamw(lr=0.1, eps=0.0, weight_decay=0.1, decay_scaling="schedule")
    s = opt.step(opt.init([1.0, -2.0]), G1)
    assert_allclose(s.params, [0.8, -1.7], rtol=1e-15)
    s = opt.step(s, G2)
    assert_allclose(s.params, [0.7252631578947368421, -1.5794189833297087034], rtol=1e-15)


@given(params_and_grads(n_grads=4))
def test_zero_weight_decay_is_adam_bit_exactly(xg: tuple[np.ndarray, list[np.ndarray]]) -> None:
    x, gs = xg
    for kw in (
        dict(),
        dict(amsgrad=True, amsgrad_max="corrected"),
        dict(eps_root=1e-8),
        dict(epsilon_hat=True),
    ):
        a = ref.adamw(lr=0.01, weight_decay=0.0, **kw)
        b = ref.adam(lr=0.01, **kw)
        sa, sb = a.init(x), b.init(x)
        for g in gs:
            sa, sb = a.step(sa, g), b.step(sb, g)
        assert_states_close(sa, sb, rtol=0.0)


def test_equals_seed_single_formula() -> None:
    # theta_t = theta_{t-1} - eta_t (mhat/(sqrt(vhat)+eps) + lambda theta_{t-1}), with a schedule.
    gs = stream(31, (4,), 8)
    sched = ref.schedules.cosine(0.05, total_steps=8)
    lam, b1, b2, eps = 0.3, 0.9, 0.999, 1e-8
    out = run(ref.adamw(lr=sched, weight_decay=lam), np.ones(4), gs)
    m = v = np.zeros(4)
    x = np.ones(4)
    for t, (g, got) in enumerate(zip(gs, out), 1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        mhat, vhat = m / (1 - b1**t), v / (1 - b2**t)
        x = x - sched(t - 1) * (mhat / (np.sqrt(vhat) + eps) + lam * x)
        assert_allclose(got, x, rtol=1e-14, atol=1e-16)


def test_schedule_scaling_multiplies_decay_by_eta_t_over_eta_0() -> None:
    # With g = 0 from theta = 1 the Adam direction is 0/(0 + eps) = 0: only the decay moves theta.
    sched = ref.schedules.step_decay(0.01, step_size=2, gamma=0.5)
    zeros = [np.zeros(1)] * 4
    lr_form = run(ref.adamw(lr=sched, weight_decay=0.2, decay_scaling="lr"), [1.0], zeros)
    sc_form = run(ref.adamw(lr=sched, weight_decay=0.2, decay_scaling="schedule"), [1.0], zeros)
    mult = [1.0, 1.0, 0.5, 0.5]
    assert_allclose([o[0] for o in lr_form], np.cumprod([1 - 0.01 * k * 0.2 for k in mult]), rtol=1e-15)
    assert_allclose([o[0] for o in sc_form], np.cumprod([1 - k * 0.2 for k in mult]), rtol=1e-15)


def test_constant_lr_schedule_scaling_does_not_multiply_lambda_by_lr() -> None:
    a = run(ref.adamw(lr=1e-3, weight_decay=0.01, decay_scaling="schedule"), [2.0], [np.zeros(1)])
    assert_allclose(a[0], [2.0 * (1 - 0.01)], rtol=1e-15)


def test_decoupled_and_coupled_differ_from_step_one() -> None:
    x0, g = np.array([1.0, -3.0]), np.array([0.2, 0.1])
    dec = ref.adamw(lr=0.1, eps=0.0, weight_decay=0.5)
    cou = ref.adam(lr=0.1, eps=0.0, weight_decay=0.5)
    sd, sc = dec.step(dec.init(x0), g), cou.step(cou.init(x0), g)
    # Coupled: first Adam step is lr sign(g + lambda theta); decoupled: lr sign(g) + lr lambda theta.
    assert_allclose(sc.params, x0 - 0.1 * np.sign(g + 0.5 * x0), rtol=1e-15)
    assert_allclose(sd.params, x0 - 0.1 * np.sign(g) - 0.1 * 0.5 * x0, rtol=1e-15)
    assert np.min(np.abs(sd.params - sc.params)) > 0.04


def test_decay_pulls_toward_zero_without_gradient() -> None:
    # A coordinate that never sees a gradient shrinks geometrically (eps > 0 keeps 0/0 away).
    out = run(ref.adamw(lr=0.1, weight_decay=0.1), [5.0, 1.0], [np.array([0.0, 1.0])] * 10)
    assert_allclose(out[-1][0], 5.0 * 0.99**10, rtol=1e-14)


def test_schedule_is_read_at_completed_steps() -> None:
    seen: list[int] = []

    def sched(t: int) -> float:
        seen.append(t)
        return 0.01

    run(ref.adamw(lr=sched), [0.0, 1.0], stream(4, (2,), 3))
    # read once by (AW1) and once by Adam's (A6) per step, always at the completed count
    assert sorted(set(seen)) == [0, 1, 2] and seen.count(1) == 2


@pytest.mark.parametrize("decay_scaling", ["lr", "schedule"])
def test_hypergradient_through_20_steps(decay_scaling: str) -> None:
    got, fd = hypergradient_after_steps(
        lambda lr: ref.adamw(lr=lr, weight_decay=0.05, decay_scaling=decay_scaling),  # type: ignore[arg-type]
        [1.0, -1.0, 2.0],
        [1.0, 4.0, 0.25],
        lr=0.05,
        d=1e-7,
    )
    assert np.isfinite(got) and abs(got) > 1e-3
    assert_allclose(got, fd, rtol=1e-5)


@given(params_and_grads(n_grads=2))
def test_purity_readonly_inputs(xg: tuple[np.ndarray, list[np.ndarray]]) -> None:
    x, gs = xg
    opt = ref.adamw(lr=0.1, amsgrad=True)
    s0 = opt.init(readonly(x))
    freeze(s0)
    g = readonly(gs[0])
    s1, s1b = opt.step(s0, g), opt.step(s0, g)
    assert_array_equal(s1.params, s1b.params)
    assert s0.t == 0 and s1.t == 1 and s1.params.dtype == np.float64


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(lr=0.0), "adamw: lr must be a finite number > 0"),
        (dict(beta1=1.0), r"beta1 must be in \[0, 1\)"),
        (dict(beta2=-0.1), r"beta2 must be in \[0, 1\)"),
        (dict(eps=-1e-8), "eps must be a finite number >= 0"),
        (dict(eps_root=-1.0), "eps_root must be a finite number >= 0"),
        (dict(weight_decay=-0.01), "weight_decay must be a finite number >= 0"),
        (dict(decay_scaling="eta"), "decay_scaling must be one of"),
        (dict(amsgrad_max="max"), "amsgrad_max must be one of"),
        (dict(epsilon_hat="yes"), "epsilon_hat must be True or False"),
        (dict(epsilon_hat=True, bias_correction=False), "epsilon_hat=True needs bias_correction=True"),
        (
            dict(lr=ref.schedules.linear_warmup(0.1, warmup_steps=10), decay_scaling="schedule"),
            r"lr\(0\) .* must be a finite number > 0",
        ),
    ],
)
def test_bad_hyperparameters(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises((TypeError, ValueError), match=match):
        ref.adamw(**kwargs)  # type: ignore[arg-type]


def test_bad_grad() -> None:
    opt = ref.adamw()
    s = opt.init(np.zeros(3))
    with pytest.raises(ValueError, match=r"grad has shape \(2,\) but params have shape \(3,\)"):
        opt.step(s, np.zeros(2))
    with pytest.raises(ValueError, match="non-finite"):
        opt.step(s, np.array([0.0, np.nan, 1.0]))


def test_bare_step_matches_factory() -> None:
    s1 = adamw_step(
        adamw_init(np.ones(2)),
        np.array([1.0, -2.0]),
        lr=0.1,
        beta1=0.9,
        beta2=0.999,
        eps=1e-8,
        weight_decay=0.01,
    )
    s2 = ref.adamw(lr=0.1).step(ref.adamw(lr=0.1).init(np.ones(2)), [1.0, -2.0])
    assert_array_equal(s1.params, s2.params)
    assert ref.make("adamw").hyperparams["weight_decay"] == 1e-2

"""AdaDelta: golden values from specs/adadelta.md, unit invariance, lr = Zeiler's method, purity,
schedules, hypergradients, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from numpy.testing import assert_allclose, assert_array_equal

import reference as ref
from reference.first_order.adadelta import init as adadelta_init
from reference.first_order.adadelta import step as adadelta_step

from .helpers import check_pure_steps, hypergradient_after_steps, run, stream
from .strategies import params_and_grads


def test_adadelta_golden_two_steps() -> None:
    # specs/adadelta.md "Worked example"; 40-digit decimals.
    opt = ref.adadelta(lr=1.0, rho=0.9, eps=0.01)
    s = opt.init([1.0, -2.0])
    s = opt.step(s, [0.5, -1.0])
    assert_allclose(s.v, [0.025, 0.1], rtol=1e-15)
    assert_allclose(s.u, [1 / 140, 1 / 110], rtol=1e-14)
    assert_allclose(s.params, [0.7327387580875756153, -1.6984886554222363774], rtol=1e-15)
    s = opt.step(s, [-0.5, 3.0])
    assert_allclose(s.v, [0.0475, 0.99], rtol=1e-15)
    assert_allclose(s.u, [0.01388198757763975155, 0.02536363636363636364], rtol=1e-14)
    assert_allclose(s.params, [1.0057482112035496596, -2.1129982232468908400], rtol=1e-15)
    assert s.t == 2


def test_first_step_formula() -> None:
    # Delta_1 = sqrt(eps) / sqrt((1 - rho) g^2 + eps) g.
    g = np.array([3.0, -1e-3, 0.0])
    s = ref.adadelta(rho=0.95, eps=1e-6).step(ref.adadelta(rho=0.95, eps=1e-6).init(np.zeros(3)), g)
    assert_allclose(s.params, -np.sqrt(1e-6) / np.sqrt(0.05 * g * g + 1e-6) * g, rtol=1e-15)
    assert s.params[2] == 0.0


def test_lr_scales_the_step_but_not_the_accumulators() -> None:
    # u accumulates the unscaled Delta (torch, optax): the buffers do not depend on lr in open loop.
    gs = stream(21, (4,), 6)
    a, b = ref.adadelta(lr=1.0), ref.adadelta(lr=0.25)
    sa, sb = a.init(np.zeros(4)), b.init(np.zeros(4))
    for g in gs:
        sa, sb = a.step(sa, g), b.step(sb, g)
    assert_array_equal(sa.u, sb.u)
    assert_array_equal(sa.v, sb.v)
    assert_allclose(sb.params, 0.25 * sa.params, rtol=1e-14)


def test_matches_recurrence_written_out() -> None:
    gs = stream(22, (5,), 10)
    rho, eps, lr = 0.95, 1e-4, 0.7
    out = run(ref.adadelta(lr=lr, rho=rho, eps=eps), np.ones(5), gs)
    v, u, x = np.zeros(5), np.zeros(5), np.ones(5)
    for g, got in zip(gs, out):
        v = rho * v + (1 - rho) * g**2
        d = np.sqrt(u + eps) / np.sqrt(v + eps) * g
        u = rho * u + (1 - rho) * d**2
        x = x - lr * d
        assert_allclose(got, x, rtol=1e-14, atol=1e-16)


def test_descends_on_a_quadratic() -> None:
    # The sign the optax default (learning_rate=None) gets wrong: the reference descends.
    opt = ref.adadelta()
    s = opt.init([1.0, 2.0, 3.0])
    for _ in range(3):
        s = opt.step(s, 2 * s.params)
    assert np.all(s.params < [1.0, 2.0, 3.0])
    assert np.sum(s.params**2) < 14.0


def test_schedule_is_read_at_completed_steps() -> None:
    seen: list[int] = []

    def sched(t: int) -> float:
        seen.append(t)
        return 1.0 / (1 + t)

    out = run(ref.adadelta(lr=sched), [0.0], [np.array([1.0])] * 3)
    const = run(ref.adadelta(lr=1.0), [0.0], [np.array([1.0])] * 3)
    assert seen == [0, 1, 2]
    steps = np.diff(np.r_[0.0, [o[0] for o in out]])
    csteps = np.diff(np.r_[0.0, [o[0] for o in const]])
    assert_allclose(steps, csteps / np.array([1.0, 2.0, 3.0]), rtol=1e-15)


def test_hypergradient_through_20_steps() -> None:
    got, fd = hypergradient_after_steps(
        lambda lr: ref.adadelta(lr=lr, rho=0.9, eps=1e-3), [1.0, -1.0, 2.0], [1.0, 4.0, 0.25], lr=1.0, d=1e-6
    )
    assert np.isfinite(got) and abs(got) > 1e-3
    assert_allclose(got, fd, rtol=1e-6)


@given(params_and_grads(n_grads=2))
def test_purity_readonly_inputs(xg: tuple[np.ndarray, list[np.ndarray]]) -> None:
    x, gs = xg
    check_pure_steps(ref.adadelta(weight_decay=0.01), x, gs)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(lr=0.0), "adadelta: lr must be a finite number > 0"),
        (dict(lr=-1.0), "lr must be a finite number > 0"),
        (dict(rho=1.0), r"rho must be in \[0, 1\)"),
        (dict(rho=-0.1), r"rho must be in \[0, 1\)"),
        (dict(eps=0.0), "eps must be a finite number > 0"),
        (dict(eps=-1e-6), "eps must be a finite number > 0"),
        (dict(weight_decay=-1.0), "weight_decay must be a finite number >= 0"),
    ],
)
def test_bad_hyperparameters(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ref.adadelta(**kwargs)  # type: ignore[arg-type]


def test_bad_grad() -> None:
    opt = ref.adadelta()
    s = opt.init(np.zeros(3))
    with pytest.raises(ValueError, match=r"grad has shape \(4,\) but params have shape \(3,\)"):
        opt.step(s, np.zeros(4))
    with pytest.raises(ValueError, match="non-finite"):
        opt.step(s, np.array([0.0, -np.inf, 1.0]))


def test_bare_step_matches_factory() -> None:
    s1 = adadelta_step(adadelta_init(np.ones(2)), np.array([1.0, -2.0]), lr=1.0, rho=0.9, eps=1e-6)
    s2 = ref.adadelta().step(ref.adadelta().init(np.ones(2)), [1.0, -2.0])
    assert_array_equal(s1.params, s2.params)
    assert ref.make("adadelta").hyperparams == dict(lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0)

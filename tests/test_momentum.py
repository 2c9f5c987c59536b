"""Heavy-ball momentum: golden values from specs/momentum.md, the three forms and how they relate,
reductions, schedules, purity, hypergradients, bad input."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

import reference as ref
from reference.first_order.momentum import init as momentum_init
from reference.first_order.momentum import step as momentum_step

from .helpers import freeze, hypergradient_after_steps, readonly, run, states, stream
from .strategies import params_and_grads

X0 = [1.0, -2.0]
GS = [[0.5, -1.0], [-0.5, 3.0], [1.0, 1.0]]


def test_momentum_golden_polyak_three_steps() -> None:
    # specs/momentum.md "Worked example", exact decimal arithmetic by hand.
    s1, s2, s3 = states(ref.momentum(0.1, beta=0.9), X0, GS)
    assert_allclose(s1.velocity, [0.5, -1.0], rtol=1e-15)
    assert_allclose(s1.params, [0.95, -1.9], rtol=1e-15)
    assert_allclose(s2.velocity, [-0.05, 2.1], rtol=1e-14)
    assert_allclose(s2.params, [0.955, -2.11], rtol=1e-15)
    assert_allclose(s3.velocity, [0.955, 2.89], rtol=1e-14)
    assert_allclose(s3.params, [0.8595, -2.399], rtol=1e-15)
    assert (s1.t, s2.t, s3.t) == (1, 2, 3)


def test_momentum_golden_sutskever_three_steps() -> None:
    s1, s2, s3 = states(ref.momentum(0.1, beta=0.9, form="sutskever"), X0, GS)
    assert_allclose(s1.velocity, [0.05, -0.1], rtol=1e-15)
    assert_allclose(s2.velocity, [-0.005, 0.21], rtol=1e-13)
    assert_allclose(s3.velocity, [0.0955, 0.289], rtol=1e-14)
    assert_allclose(
        [s.params for s in (s1, s2, s3)], [[0.95, -1.9], [0.955, -2.11], [0.8595, -2.399]], rtol=1e-15
    )


def test_momentum_golden_ema_three_steps() -> None:
    s1, s2, s3 = states(ref.momentum(0.1, beta=0.9, form="ema"), X0, GS)
    assert_allclose(s1.velocity, [0.05, -0.1], rtol=1e-15)
    assert_allclose(
        [s.params for s in (s1, s2, s3)], [[0.995, -1.99], [0.9955, -2.011], [0.98595, -2.0399]], rtol=1e-15
    )
    assert_allclose(s3.velocity, [0.0955, 0.289], rtol=1e-14)


def test_momentum_golden_dampening_first_step() -> None:
    torch_like = states(ref.momentum(0.1, beta=0.9, dampening=0.5, first_step="grad"), X0, GS)
    assert_allclose([s.velocity for s in torch_like], [[0.5, -1.0], [0.2, 0.6], [0.68, 1.04]], rtol=1e-14)
    assert_allclose(
        [s.params for s in torch_like], [[0.95, -1.9], [0.93, -1.96], [0.862, -2.064]], rtol=1e-15
    )
    zeros = states(ref.momentum(0.1, beta=0.9, dampening=0.5, first_step="zeros"), X0, GS)
    assert_allclose([s.velocity for s in zeros], [[0.25, -0.5], [-0.025, 1.05], [0.4775, 1.445]], rtol=1e-14)
    assert_allclose(
        [s.params for s in zeros], [[0.975, -1.95], [0.9775, -2.055], [0.92975, -2.1995]], rtol=1e-15
    )


def test_momentum_golden_weight_decay() -> None:
    s1, s2, s3 = states(ref.momentum(0.1, beta=0.9, weight_decay=0.1), X0, GS)
    assert_allclose(s1.params, [0.94, -1.88], rtol=1e-15)
    assert_allclose(s2.velocity, [0.134, 1.732], rtol=1e-14)
    assert_allclose(s2.params, [0.9266, -2.0532], rtol=1e-15)
    assert_allclose(s3.velocity, [1.21326, 2.35348], rtol=1e-14)
    assert_allclose(s3.params, [0.805274, -2.288548], rtol=1e-15)


def test_momentum_golden_schedule_polyak_vs_sutskever() -> None:
    def sched(t: int) -> float:
        return 0.1 / (1 + t)

    pol = run(ref.momentum(sched, beta=0.9), X0, GS)
    sut = states(ref.momentum(sched, beta=0.9, form="sutskever"), X0, GS)
    assert_allclose(pol[1], [0.9525, -2.005], rtol=1e-15)
    assert_allclose(pol[2], [0.92066666666666666667, -2.10133333333333333333], rtol=1e-15)
    assert_allclose(sut[1].velocity, [0.02, 0.06], rtol=1e-13)
    assert_allclose(sut[1].params, [0.93, -1.96], rtol=1e-15)
    assert_allclose(sut[2].params, [0.87866666666666666667, -2.04733333333333333333], rtol=1e-15)


@pytest.mark.parametrize("form", ["polyak", "ema", "sutskever"])
@given(xg=params_and_grads(n_grads=4), lr=st.floats(1e-4, 1.0), wd=st.sampled_from([0.0, 0.3]))
def test_beta_zero_is_gd_bit_exact(
    form: str, xg: tuple[np.ndarray, list[np.ndarray]], lr: float, wd: float
) -> None:
    x, gs = xg
    for first_step in ("zeros", "grad"):
        opt = ref.momentum(lr, beta=0.0, form=form, first_step=first_step, weight_decay=wd)  # type: ignore[arg-type]
        for a, b in zip(run(opt, x, gs), run(ref.gd(lr, weight_decay=wd), x, gs)):
            assert_array_equal(a, b)


@given(params_and_grads(n_grads=5), st.floats(0.0, 0.99), st.sampled_from(["zeros", "grad"]))
def test_ema_is_polyak_with_dampening_beta(
    xg: tuple[np.ndarray, list[np.ndarray]], beta: float, first_step: str
) -> None:
    x, gs = xg
    ema = states(ref.momentum(0.01, beta=beta, form="ema", first_step=first_step), x, gs)  # type: ignore[arg-type]
    pol = states(ref.momentum(0.01, beta=beta, dampening=beta, first_step=first_step), x, gs)  # type: ignore[arg-type]
    for a, b in zip(ema, pol):
        assert_array_equal(a.params, b.params)
        assert_array_equal(a.velocity, b.velocity)


@given(params_and_grads(n_grads=5), st.floats(0.0, 0.99))
def test_first_step_grad_equals_zeros_without_dampening(
    xg: tuple[np.ndarray, list[np.ndarray]], beta: float
) -> None:
    x, gs = xg
    a = run(ref.momentum(0.05, beta=beta, first_step="grad"), x, gs)
    b = run(ref.momentum(0.05, beta=beta, first_step="zeros"), x, gs)
    for u, w in zip(a, b):
        assert_array_equal(u, w)


def test_polyak_and_sutskever_agree_at_constant_lr() -> None:
    # v_sutskever = lr v_polyak and the iterates coincide (to rounding) when lr is constant.
    gs = stream(11, (6,), 40)
    x0 = np.linspace(-1.0, 2.0, 6)
    lr = 0.03
    pol = states(ref.momentum(lr, beta=0.9), x0, gs)
    sut = states(ref.momentum(lr, beta=0.9, form="sutskever"), x0, gs)
    for a, b in zip(pol, sut):
        assert_allclose(b.velocity, lr * a.velocity, rtol=1e-12, atol=1e-14)
        assert_allclose(b.params, a.params, rtol=1e-13, atol=1e-14)


def test_polyak_and_sutskever_differ_under_schedule_as_their_closed_forms_say() -> None:
    # polyak:    theta_n = theta_0 - sum_k eta_k sum_{s<=k} beta^(k-s) g_s
    # sutskever: theta_n = theta_0 - sum_k sum_{s<=k} beta^(k-s) eta_s g_s
    n, beta = 25, 0.9
    gs = stream(12, (4,), n)
    x0 = np.array([0.5, -1.0, 2.0, 0.0])
    etas = np.array([0.1 / (1 + 0.2 * t) for t in range(n)])
    pol = run(ref.momentum(lambda t: 0.1 / (1 + 0.2 * t), beta=beta), x0, gs)
    sut = run(ref.momentum(lambda t: 0.1 / (1 + 0.2 * t), beta=beta, form="sutskever"), x0, gs)
    k, s = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    decay = np.where(s <= k, beta ** np.clip(k - s, 0, None), 0.0)
    G = np.array(gs)
    for m in (1, 5, n):
        D = decay[:m, :m]
        want_pol = x0 - (etas[:m, None] * D).sum(axis=0) @ G[:m]
        want_sut = x0 - (D * etas[None, :m]).sum(axis=0) @ G[:m]
        assert_allclose(pol[m - 1], want_pol, rtol=1e-12, atol=1e-13)
        assert_allclose(sut[m - 1], want_sut, rtol=1e-12, atol=1e-13)
    assert np.max(np.abs(pol[-1] - sut[-1])) > 1e-2  # the documented divergence is not rounding


def test_coupled_weight_decay_is_gradient_plus_lambda_theta() -> None:
    gs = stream(3, (3,), 5)
    x0 = np.array([1.0, -1.0, 2.0])
    for form in ("polyak", "ema", "sutskever"):
        a = ref.momentum(0.05, beta=0.8, form=form, weight_decay=0.2)
        b = ref.momentum(0.05, beta=0.8, form=form)
        sa, sb = a.init(x0), b.init(x0)
        for g in gs:
            sb = b.step(sb, g + 0.2 * sa.params)
            sa = a.step(sa, g)
            assert_array_equal(sa.params, sb.params)
            assert_array_equal(sa.velocity, sb.velocity)


def test_momentum_accelerates_on_ill_conditioned_quadratic() -> None:
    # Note 001: heavy ball needs ~sqrt(kappa) iterations where GD needs ~kappa. With Polyak's tuning
    # eta = 4/(sqrt(L)+sqrt(mu))^2, beta = ((sqrt(k)-1)/(sqrt(k)+1))^2 the error contracts like
    # t ((sqrt(k)-1)/(sqrt(k)+1))^t: after 400 steps on kappa = 1e3 about 400 * 0.9386^400 ~ 4e-9,
    # while GD at its best step 2/(L+mu) keeps ((k-1)/(k+1))^400 ~ 0.45 of the error.
    h = np.array([1.0, 10.0, 100.0, 1000.0])
    mu, L = h[0], h[-1]
    k = L / mu
    eta = 4 / (np.sqrt(L) + np.sqrt(mu)) ** 2
    beta = ((np.sqrt(k) - 1) / (np.sqrt(k) + 1)) ** 2
    x0 = np.ones(4)
    gd_final = x0.copy()
    hb = ref.momentum(eta, beta=beta)
    s = hb.init(x0)
    for _ in range(400):
        s = hb.step(s, h * s.params)
        gd_final = gd_final - 2 / (L + mu) * h * gd_final
    assert np.linalg.norm(s.params) < 1e-7 and np.linalg.norm(gd_final) > 0.3


def test_schedule_is_read_at_completed_steps() -> None:
    seen: list[int] = []

    def sched(t: int) -> float:
        seen.append(t)
        return 0.1 / (1 + t)

    for form in ("polyak", "sutskever"):
        seen.clear()
        run(ref.momentum(sched, form=form), [0.0, 1.0], stream(4, (2,), 3))
        assert seen == [0, 1, 2]


@given(params_and_grads(n_grads=2))
def test_purity_readonly_inputs(xg: tuple[np.ndarray, list[np.ndarray]]) -> None:
    x, gs = xg
    for form in ("polyak", "ema", "sutskever"):
        opt = ref.momentum(0.1, form=form, weight_decay=0.1, first_step="grad")
        s0 = opt.init(readonly(x))
        freeze(s0)
        s1 = opt.step(s0, readonly(gs[0]))
        s1.velocity.setflags(write=False)
        s2 = opt.step(s1, readonly(gs[1]))
        s2b = opt.step(s1, readonly(gs[1]))
        assert_array_equal(s2.params, s2b.params)
        assert s0.t == 0 and s1.t == 1 and s2.t == 2
        assert s2.params.dtype == np.float64 and s2.params.shape == x.shape


@pytest.mark.parametrize("form", ["polyak", "ema", "sutskever"])
def test_hypergradient_wrt_lr_matches_finite_difference(form: str) -> None:
    # d loss(theta_20) / d lr through 20 closed-loop steps on a quadratic (note 003's
    # gradient-based hyperparameter optimisation): autograd against a central difference.
    got, fd = hypergradient_after_steps(
        lambda lr: ref.momentum(lr, beta=0.8, form=form, weight_decay=0.01),  # type: ignore[arg-type]
        [1.0, -2.0, 0.5],
        [0.5, 1.0, 3.0],
        lr=0.05,
        d=1e-6,
    )
    assert abs(got) > 1e-3
    assert_allclose(got, fd, rtol=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(lr=0.0), "lr must be a finite number > 0"),
        (dict(lr=-0.1), "lr must be a finite number > 0"),
        (dict(lr=float("inf")), "lr must be a finite number > 0"),
        (dict(lr=0.1, beta=1.0), r"beta must be in \[0, 1\)"),
        (dict(lr=0.1, beta=-0.5), r"beta must be in \[0, 1\)"),
        (dict(lr=0.1, form="nesterov"), "form must be one of"),
        (dict(lr=0.1, dampening=1.5), r"dampening must be in \[0, 1\]"),
        (dict(lr=0.1, dampening=-0.1), r"dampening must be in \[0, 1\]"),
        (dict(lr=0.1, first_step="ones"), "first_step must be one of"),
        (dict(lr=0.1, weight_decay=-1e-4), "weight_decay must be a finite number >= 0"),
        (dict(lr=0.1, form="ema", dampening=0.5), "form='ema' fixes the dampening"),
    ],
)
def test_bad_hyperparameters(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ref.momentum(**kwargs)  # type: ignore[arg-type]


def test_bad_grad() -> None:
    opt = ref.momentum(0.1)
    s = opt.init(np.zeros(3))
    with pytest.raises(ValueError, match=r"grad has shape \(2,\) but params have shape \(3,\)"):
        opt.step(s, np.zeros(2))
    with pytest.raises(ValueError, match="non-finite"):
        opt.step(s, np.array([0.0, np.inf, 1.0]))


def test_bare_step_matches_factory_and_registry() -> None:
    kw: dict[str, Any] = dict(beta=0.7, form="polyak", dampening=0.2, first_step="grad", weight_decay=0.1)
    g = np.array([1.0, -2.0])
    s1 = momentum_step(momentum_step(momentum_init(np.ones(2)), g, lr=0.1, **kw), 2 * g, lr=0.1, **kw)
    opt = ref.make("momentum", lr=0.1, **kw)
    s2 = opt.step(opt.step(opt.init(np.ones(2)), g), 2 * g)
    assert_array_equal(s1.params, s2.params)
    assert_array_equal(s1.velocity, s2.velocity)
    assert opt.hyperparams == dict(lr=0.1, **kw)
    assert "momentum" in ref.ALGORITHMS

"""Nesterov: golden values from specs/nesterov.md, the equivalence of the three forms in closed loop
(gradients taken at opt.query(state)), reductions, schedules, purity, hypergradients, bad input."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

import reference as ref
from reference.first_order.nesterov import FORMS as MODULE_FORMS
from reference.first_order.nesterov import init as nesterov_init
from reference.first_order.nesterov import query as nesterov_query
from reference.first_order.nesterov import step as nesterov_step

from .helpers import freeze, hypergradient_after_steps, readonly, run, stream
from .strategies import params_and_grads

FORMS = ("lookahead", "sutskever", "torch")


def _closed(opt: Any, x0: Any, grad_fn: Callable[[Any], Any], n: int) -> list[Any]:
    """States after 1..n steps, each gradient taken at opt.query(state)."""
    s = opt.init(x0)
    out = []
    for _ in range(n):
        s = opt.step(s, grad_fn(opt.query(s)))
        out.append(s)
    return out


def _quadratic(seed: int, p: int) -> tuple[np.ndarray, Callable[[Any], Any]]:
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((p, p)))
    h = q @ np.diag(np.geomspace(0.1, 10.0, p)) @ q.T
    b = rng.standard_normal(p)
    return h, lambda x: h @ x - b


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def _diag_grad(q: Any) -> Any:
    return np.array([1.0, 4.0]) * q  # L = (q1^2 + 4 q2^2)/2


def test_nesterov_golden_three_steps() -> None:
    # specs/nesterov.md "Worked example", exact decimal arithmetic by hand.
    thetas = [[0.9, 0.6], [0.729, 0.144], [0.51759, -0.15984]]
    vs = [[-0.1, -0.4], [-0.171, -0.456], [-0.21141, -0.30384]]
    queries = [[0.81, 0.24], [0.5751, -0.2664], [0.327321, -0.433296]]
    for form in ("lookahead", "sutskever"):
        opt = ref.nesterov(0.1, beta=0.9, form=form)
        states = _closed(opt, [1.0, 1.0], _diag_grad, 3)
        assert_allclose([s.params for s in states], thetas, rtol=1e-14)
        assert_allclose([s.velocity for s in states], vs, rtol=1e-13)
        assert_allclose([opt.query(s) for s in states], queries, rtol=1e-13)
    opt = ref.nesterov(0.1, beta=0.9, form="torch")
    states = _closed(opt, [1.0, 1.0], _diag_grad, 3)
    assert_allclose([s.params for s in states], queries, rtol=1e-14)
    assert_allclose([s.velocity for s in states], [[1.0, 4.0], [1.71, 4.56], [2.1141, 3.0384]], rtol=1e-14)
    assert all(opt.query(s) is s.params for s in states)


def test_nesterov_golden_weight_decay() -> None:
    sut = _closed(ref.nesterov(0.1, beta=0.9, form="sutskever", weight_decay=0.1), [1.0, 1.0], _diag_grad, 2)
    assert_allclose(sut[0].velocity, [-0.11, -0.41], rtol=1e-14)
    assert_allclose(sut[0].params, [0.89, 0.59], rtol=1e-15)
    assert_allclose(sut[1].velocity, [-0.18601, -0.45961], rtol=1e-13)
    assert_allclose(sut[1].params, [0.70399, 0.13039], rtol=1e-14)
    tor = _closed(ref.nesterov(0.1, beta=0.9, form="torch", weight_decay=0.1), [1.0, 1.0], _diag_grad, 2)
    assert_allclose(tor[0].params, [0.791, 0.221], rtol=1e-15)
    assert_allclose(tor[1].params, [0.536581, -0.283259], rtol=1e-14)


@pytest.mark.parametrize("weight_decay", [0.0, 0.05])
def test_lookahead_and_sutskever_same_iterates(weight_decay: float) -> None:
    # Note 001's look-ahead and note 004's velocity form are one recursion: same theta sequence.
    x0, (_h, grad) = np.ones(6), _quadratic(1, 6)
    la = _closed(ref.nesterov(0.05, beta=0.9, form="lookahead", weight_decay=weight_decay), x0, grad, 80)
    su = _closed(ref.nesterov(0.05, beta=0.9, form="sutskever", weight_decay=weight_decay), x0, grad, 80)
    worst = max(_rel(a.params, b.params) for a, b in zip(la, su))
    assert worst < 1e-14
    assert max(_rel(a.velocity, b.velocity) for a, b in zip(la, su)) < 1e-12


@pytest.mark.parametrize("weight_decay", [0.0, 0.05])
def test_torch_iterate_is_the_lookahead_point(weight_decay: float) -> None:
    # Change of variables at constant lr: phi_t = theta_t + beta v_t and b_t = -v_t / lr.
    lr, beta = 0.05, 0.9
    x0, (_h, grad) = np.ones(6), _quadratic(2, 6)
    su_opt = ref.nesterov(lr, beta=beta, form="sutskever", weight_decay=weight_decay)
    su = _closed(su_opt, x0, grad, 80)
    to = _closed(ref.nesterov(lr, beta=beta, form="torch", weight_decay=weight_decay), x0, grad, 80)
    assert max(_rel(b.params, su_opt.query(a)) for a, b in zip(su, to)) < 1e-14
    assert max(_rel(b.velocity, -a.velocity / lr) for a, b in zip(su, to)) < 1e-12
    # ... and the torch iterate is not the sutskever iterate: they differ by beta v_t.
    assert max(float(np.linalg.norm(b.params - a.params)) for a, b in zip(su, to)) > 1e-2


def test_under_a_schedule_lookahead_equals_sutskever_but_torch_departs() -> None:
    def sched(t: int) -> float:
        return 0.08 / (1 + 0.1 * t)

    x0, (_h, grad) = np.ones(5), _quadratic(3, 5)
    la = _closed(ref.nesterov(sched, form="lookahead"), x0, grad, 40)
    su_opt = ref.nesterov(sched, form="sutskever")
    su = _closed(su_opt, x0, grad, 40)
    to = _closed(ref.nesterov(sched, form="torch"), x0, grad, 40)
    assert max(_rel(a.params, b.params) for a, b in zip(la, su)) < 1e-14
    assert max(_rel(b.params, su_opt.query(a)) for a, b in zip(su, to)) > 1e-3


@pytest.mark.parametrize("form", FORMS)
@given(xg=params_and_grads(n_grads=4), lr=st.floats(1e-4, 1.0), wd=st.sampled_from([0.0, 0.3]))
def test_beta_zero_is_gd_bit_exact(
    form: str, xg: tuple[np.ndarray, list[np.ndarray]], lr: float, wd: float
) -> None:
    x, gs = xg
    opt = ref.nesterov(lr, beta=0.0, form=form, weight_decay=wd)  # type: ignore[arg-type]
    s = opt.init(x)
    for g, want in zip(gs, run(ref.gd(lr, weight_decay=wd), x, gs)):
        assert_array_equal(opt.query(s), s.params)  # beta = 0: no look-ahead
        s = opt.step(s, g)
        assert_array_equal(s.params, want)


@given(params_and_grads(n_grads=2), st.floats(0.0, 0.99))
def test_query_points(xg: tuple[np.ndarray, list[np.ndarray]], beta: float) -> None:
    x, gs = xg
    for form in FORMS:
        opt = ref.nesterov(0.1, beta=beta, form=form)  # type: ignore[arg-type]
        s = opt.init(x)
        assert_array_equal(opt.query(s), x)  # v_0 = 0: the first gradient is at theta_0
        s = opt.step(opt.step(s, gs[0]), gs[1])
        want = s.params if form == "torch" else s.params + beta * s.velocity
        assert_array_equal(opt.query(s), want)
        assert_array_equal(nesterov_query(s, beta=beta, form=form), want)  # type: ignore[arg-type]


def test_nesterov_accelerates_on_ill_conditioned_quadratic() -> None:
    # Note 001: Nesterov's look-ahead reaches the optimal rate. With lr = 1/L and
    # beta = (sqrt(k)-1)/(sqrt(k)+1) the error contracts like (1 - 1/sqrt(k))^t: kappa = 1e3,
    # 500 steps give ~ 0.969^500 ~ 1e-7 (times a constant), GD at 1/L keeps (1 - 1/k)^500 ~ 0.6.
    h = np.array([1.0, 10.0, 100.0, 1000.0])
    k = h[-1] / h[0]
    beta = (np.sqrt(k) - 1) / (np.sqrt(k) + 1)
    x0 = np.ones(4)
    for form in FORMS:
        final = _closed(ref.nesterov(1 / h[-1], beta=beta, form=form), x0, lambda q: h * q, 500)[-1]  # type: ignore[arg-type]
        assert np.linalg.norm(final.params) < 1e-5
    gd_final = _closed(ref.gd(1 / h[-1]), x0, lambda q: h * q, 500)[-1]
    assert np.linalg.norm(gd_final.params) > 0.5


def test_schedule_is_read_at_completed_steps() -> None:
    seen: list[int] = []

    def sched(t: int) -> float:
        seen.append(t)
        return 0.1 / (1 + t)

    for form in FORMS:
        seen.clear()
        run(ref.nesterov(sched, form=form), [0.0, 1.0], stream(4, (2,), 3))  # type: ignore[arg-type]
        assert seen == [0, 1, 2]


@given(params_and_grads(n_grads=2))
def test_purity_readonly_inputs(xg: tuple[np.ndarray, list[np.ndarray]]) -> None:
    x, gs = xg
    for form in FORMS:
        opt = ref.nesterov(0.1, form=form, weight_decay=0.1)  # type: ignore[arg-type]
        s0 = opt.init(readonly(x))
        freeze(s0)
        s1 = opt.step(s0, readonly(gs[0]))
        s1.params.setflags(write=False)
        s1.velocity.setflags(write=False)
        q = opt.query(s1)
        s2 = opt.step(s1, readonly(gs[1]))
        s2b = opt.step(s1, readonly(gs[1]))
        assert_array_equal(s2.params, s2b.params)
        assert_array_equal(opt.query(s1), q)
        assert s0.t == 0 and s1.t == 1 and s2.t == 2
        assert s2.params.dtype == np.float64 and s2.params.shape == x.shape


@pytest.mark.parametrize("form", FORMS)
def test_hypergradient_wrt_lr_matches_finite_difference(form: str) -> None:
    # d loss(theta_20) / d lr through 20 closed-loop steps (gradients at opt.query(state)).
    got, fd = hypergradient_after_steps(
        lambda lr: ref.nesterov(lr, beta=0.8, form=form, weight_decay=0.01),  # type: ignore[arg-type]
        [1.0, -2.0, 0.5],
        [0.5, 1.0, 3.0],
        lr=0.05,
        d=1e-6,
        at_query=True,
    )
    assert abs(got) > 1e-3
    assert_allclose(got, fd, rtol=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(lr=0.0), "lr must be a finite number > 0"),
        (dict(lr=float("nan")), "lr must be a finite number > 0"),
        (dict(lr=0.1, beta=1.0), r"beta must be in \[0, 1\)"),
        (dict(lr=0.1, beta=-0.1), r"beta must be in \[0, 1\)"),
        (dict(lr=0.1, form="nag"), "form must be one of"),
        (dict(lr=0.1, weight_decay=-0.1), "weight_decay must be a finite number >= 0"),
    ],
)
def test_bad_hyperparameters(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ref.nesterov(**kwargs)  # type: ignore[arg-type]


def test_factory_binds_query_and_step_with_evaluates_there() -> None:
    # The record's beta and form reach query(): opt.query is theta + beta v (torch: theta), and
    # step_with evaluates the gradient there.
    h = np.array([1.0, 4.0])
    assert MODULE_FORMS == FORMS
    for form in MODULE_FORMS:
        opt = ref.nesterov(0.1, beta=0.5, form=form)
        s = opt.step(opt.init([1.0, 1.0]), [1.0, 2.0])
        want = s.params if form == "torch" else s.params + 0.5 * s.velocity
        assert_array_equal(opt.query(s), want)
        assert_array_equal(opt.query(s), nesterov_query(s, beta=0.5, form=form))
        assert_array_equal(opt.step_with(s, lambda x: h * x).params, opt.step(s, h * want).params)


def test_bad_grad() -> None:
    opt = ref.nesterov(0.1)
    s = opt.init(np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"grad has shape \(4,\) but params have shape \(2, 2\)"):
        opt.step(s, np.zeros(4))
    with pytest.raises(ValueError, match="non-finite"):
        opt.step(s, np.array([[0.0, np.nan], [1.0, 2.0]]))


def test_bare_step_matches_factory_and_registry() -> None:
    g = np.array([1.0, -2.0])
    for form in FORMS:
        kw: dict[str, Any] = dict(lr=0.1, beta=0.7, form=form, weight_decay=0.1)
        s1 = nesterov_step(nesterov_step(nesterov_init(np.ones(2)), g, **kw), 2 * g, **kw)
        opt = ref.make("nesterov", **kw)
        s2 = opt.step(opt.step(opt.init(np.ones(2)), g), 2 * g)
        assert_array_equal(s1.params, s2.params)
        assert_array_equal(s1.velocity, s2.velocity)
        assert opt.hyperparams == kw
    assert "nesterov" in ref.ALGORITHMS

"""Rprop: golden values from specs/rprop.md for each sign-change form and optax's lagged form, the
clipping conventions, invariances, purity, bad combinations, hypergradient in the initial step size."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from numpy.testing import assert_allclose, assert_array_equal

import reference as ref
from reference.first_order.rprop import init as rprop_init
from reference.first_order.rprop import step as rprop_step

from .helpers import check_pure_steps, hypergradient_after_steps, run, states
from .strategies import params_and_grads, positive_scale

X0 = [1.0, -2.0, 0.5]
GS = [np.array([1.0, -1.0, 2.0]), np.array([2.0, 1.0, 0.0]), np.array([-1.0, 3.0, -1.0])]


def test_rprop_golden_three_steps() -> None:
    # specs/rprop.md "Worked example", the paper's form (weight-backtracking).
    s = states(ref.rprop(0.1), X0, GS)
    assert_allclose(s[0].params, [0.9, -1.9, 0.4], rtol=1e-15)
    assert_allclose(s[1].step_size, [0.12, 0.05, 0.1], rtol=1e-15)
    assert_allclose(s[1].params, [0.78, -2.0, 0.4], rtol=1e-15)
    assert_array_equal(s[1].grad, [2.0, 0.0, 0.0])
    assert_allclose(s[2].step_size, [0.06, 0.05, 0.1], rtol=1e-15)
    assert_allclose(s[2].params, [0.9, -2.05, 0.5], rtol=1e-15)
    assert s[2].t == 3


@pytest.mark.parametrize(
    ("kw", "want"),
    [
        ({"sign_change": "skip"}, [0.78, -1.95, 0.5]),
        ({"sign_change": "step"}, [0.84, -2.01, 0.5]),
        ({"sign_change": "skip", "lagged": True}, [0.9, -2.0, 0.4]),
    ],
)
def test_rprop_golden_other_forms(kw: dict[str, object], want: list[float]) -> None:
    # specs/rprop.md "Worked example": the same gradients under iRprop-, Rprop- and optax's lag.
    assert_allclose(run(ref.rprop(0.1, **kw), X0, GS)[-1], want, rtol=1e-15)  # type: ignore[arg-type]


def test_lagged_first_step_does_not_move_and_then_replays_the_unlagged_moves() -> None:
    # Without a sign change optax's iterate is the unlagged one one call late.
    gs = [np.array([1.0, -2.0])] * 4
    plain = run(ref.rprop(0.1, sign_change="skip"), [0.0, 0.0], gs)
    lagged = run(ref.rprop(0.1, sign_change="skip", lagged=True), [0.0, 0.0], gs)
    assert_array_equal(lagged[0], [0.0, 0.0])
    for a, b in zip(plain[:-1], lagged[1:]):
        assert_array_equal(a, b)


def test_clamp_always_clips_the_initial_step_size() -> None:
    # lr outside [step_min, step_max]: torch clips at step 1 (s = 0), the paper and optax do not.
    g = [np.array([1.0])] * 2
    torch_like = states(ref.rprop(1.0, step_max=0.5, sign_change="skip", clamp_always=True), [0.0], g)
    paper = states(ref.rprop(1.0, step_max=0.5), [0.0], g)
    assert_array_equal(torch_like[0].params, [-0.5])
    assert_array_equal(paper[0].params, [-1.0])
    assert_array_equal(paper[1].step_size, [0.5])  # clipped once it changes: min(1.2, 0.5)


def test_step_size_stays_in_its_bounds() -> None:
    rng = np.random.default_rng(3)
    opt = ref.rprop(0.01, step_min=1e-3, step_max=0.02, sign_change="step")
    s = opt.init(np.zeros(5))
    for _ in range(60):
        s = opt.step(s, rng.standard_normal(5))
        assert np.all(s.step_size >= 1e-3) and np.all(s.step_size <= 0.02)


@given(params_and_grads(n_grads=5, allow_zero=False), positive_scale)
def test_gradient_scale_invariance(xg: tuple[np.ndarray, list[np.ndarray]], c: float) -> None:
    # Only signs are used: scaling every gradient by c > 0 changes nothing, bit for bit.
    x, gs = xg
    for form in ("backtrack", "skip", "step"):
        opt = ref.rprop(0.05, sign_change=form)
        assert_array_equal(run(opt, x, gs)[-1], run(opt, x, [c * g for g in gs])[-1])


def test_zero_gradient_does_not_move_and_resets_the_sign() -> None:
    s = states(ref.rprop(0.1), [0.0], [np.array([1.0]), np.array([0.0]), np.array([-1.0])])
    assert_array_equal(s[1].params, s[0].params)
    assert_array_equal(s[2].step_size, [0.1])  # s_3 = 0 after a zero gradient: no adaptation
    assert_allclose(s[2].params, [0.0], atol=1e-17)  # moved back by the unadapted 0.1


def test_bad_combinations_say_which() -> None:
    with pytest.raises(ValueError, match="rprop: step_min must be <= step_max"):
        ref.rprop(step_min=1.0, step_max=0.5)
    with pytest.raises(ValueError, match='rprop: lagged=True .* needs sign_change="skip"'):
        ref.rprop(lagged=True)


@given(params_and_grads(n_grads=3))
def test_purity_readonly_inputs(xg: tuple[np.ndarray, list[np.ndarray]]) -> None:
    x, gs = xg
    check_pure_steps(ref.rprop(0.1), x, gs, steps=2)


@pytest.mark.parametrize("form", ["backtrack", "skip", "step"])
def test_hypergradient_in_the_initial_step_size(form: str) -> None:
    # theta_n is piecewise linear in Delta_0 while no clip is active: autograd against a central difference.
    got, fd = hypergradient_after_steps(
        lambda lr: ref.rprop(lr, sign_change=form),  # type: ignore[arg-type]
        [1.0, -1.0, 2.0],
        [1.0, 4.0, 0.25],
        lr=0.05,
        d=1e-7,
        n=6,
    )
    assert np.isfinite(got) and abs(got) > 1e-3
    assert_allclose(got, fd, rtol=1e-6)


def test_bare_step_matches_factory() -> None:
    s1 = rprop_step(
        rprop_init(np.ones(2), lr=0.1),
        np.array([1.0, -2.0]),
        eta_minus=0.5,
        eta_plus=1.2,
        step_min=1e-6,
        step_max=50.0,
    )
    s2 = ref.rprop(0.1).step(ref.rprop(0.1).init(np.ones(2)), [1.0, -2.0])
    assert_array_equal(s1.params, s2.params)

"""Adam: golden values from specs/adam.md, reductions, invariances, purity, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

import reference as ref
from reference.first_order.adam import init as adam_init
from reference.first_order.adam import step as adam_step

from .helpers import freeze, readonly, run, stream
from .strategies import params_and_grads, positive_scale


def test_adam_golden_two_steps() -> None:
    # specs/adam.md "Worked example", computed by hand with 40-digit decimals.
    opt = ref.adam(lr=0.1, beta1=0.9, beta2=0.999, eps=0.0)
    s = opt.init([1.0, -2.0])
    s = opt.step(s, [0.5, -1.0])
    assert_allclose(s.params, [0.9, -1.9], rtol=1e-15)
    assert_allclose(s.m, [0.05, -0.1], rtol=1e-15)
    assert_allclose(s.v, [0.00025, 0.001], rtol=1e-15)
    s = opt.step(s, [-0.5, 3.0])
    assert_allclose(s.m, [-0.005, 0.21], rtol=1e-14)
    assert_allclose(s.v, [0.00049975, 0.009999], rtol=1e-14)
    assert_allclose(s.params, [0.9052631578947368421, -1.9494189833297087034], rtol=1e-15)
    assert s.t == 2


@given(params_and_grads(n_grads=1, allow_zero=False), st.floats(1e-4, 1.0))
def test_first_step_is_lr_sign_g(xg: tuple[np.ndarray, list[np.ndarray]], lr: float) -> None:
    # With eps = 0, mhat_1 = g_1 and sqrt(vhat_1) = |g_1|: theta_1 = theta_0 - lr sign(g_1).
    x, (g,) = xg
    s = ref.adam(lr=lr, eps=0.0).step(ref.adam(lr=lr, eps=0.0).init(x), g)
    assert_allclose(s.params, x - lr * np.sign(g), rtol=1e-15, atol=1e-15 * lr)


@given(params_and_grads(n_grads=4, allow_zero=False), positive_scale)
def test_scale_invariance_eps_zero(xg: tuple[np.ndarray, list[np.ndarray]], c: float) -> None:
    # mhat/sqrt(vhat) is homogeneous of degree 0 in g when eps = 0.
    x, gs = xg
    opt = ref.adam(lr=1e-2, eps=0.0)
    a = run(opt, x, gs)
    b = run(opt, x, [c * g for g in gs])
    assert_allclose(a[-1], b[-1], rtol=1e-12, atol=1e-12)


def test_beta1_zero_no_bias_correction_is_rmsprop_form() -> None:
    # beta1 = 0, bias_correction=False: theta -= lr g / (sqrt(v) + eps), RMSProp with alpha = beta2.
    gs = stream(1, (5,), 6)
    x0 = np.linspace(-1, 1, 5)
    out = run(ref.adam(lr=0.01, beta1=0.0, beta2=0.9, eps=1e-8, bias_correction=False), x0, gs)
    v, x = np.zeros(5), x0.copy()
    for g, got in zip(gs, out):
        v = 0.9 * v + 0.1 * g * g
        x = x - 0.01 * g / (np.sqrt(v) + 1e-8)
        assert_allclose(got, x, rtol=1e-15, atol=1e-16)


def test_amsgrad_raw_vs_corrected_differ_and_are_documented() -> None:
    # A large gradient followed by small ones: vmax holds; the two maxima give different steps.
    gs = [np.array([10.0]), np.array([0.1]), np.array([0.1]), np.array([0.1])]
    raw = run(ref.adam(lr=0.1, amsgrad=True, amsgrad_max="raw"), [0.0], gs)
    cor = run(ref.adam(lr=0.1, amsgrad=True, amsgrad_max="corrected"), [0.0], gs)
    # Step 2 by hand, raw: vmax_2 = max(v_1, v_2) = v_1 = 0.001*100 = 0.1, vhat = 0.1/(1-0.999^2).
    m2 = 0.9 * 1.0 + 0.1 * 0.1
    vhat_raw = 0.1 / (1 - 0.999**2)
    assert_allclose(raw[1] - raw[0], -0.1 * (m2 / 0.19) / (np.sqrt(vhat_raw) + 1e-8), rtol=1e-13)
    # corrected: vmax_2 = max(vhat_1, vhat_2) = max(100, (0.0999 + 1e-5)/0.001999)
    vhat_cor = max(100.0, (0.999 * 0.1 + 0.001 * 0.01) / (1 - 0.999**2))
    assert_allclose(cor[1] - cor[0], -0.1 * (m2 / 0.19) / (np.sqrt(vhat_cor) + 1e-8), rtol=1e-13)
    assert abs(raw[1][0] - cor[1][0]) > 1e-3


def test_epsilon_hat_matches_tensorflow_formula() -> None:
    gs = stream(2, (4,), 5)
    eps, lr, b1, b2 = 1e-3, 0.05, 0.9, 0.999
    out = run(ref.adam(lr=lr, eps=eps, epsilon_hat=True), np.zeros(4), gs)
    m = v = x = np.zeros(4)
    for t, (g, got) in enumerate(zip(gs, out), 1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        alpha_t = lr * np.sqrt(1 - b2**t) / (1 - b1**t)
        x = x - alpha_t * m / (np.sqrt(v) + eps)
        assert_allclose(got, x, rtol=1e-13, atol=1e-16)


def test_schedule_is_read_at_completed_steps() -> None:
    seen: list[int] = []

    def sched(t: int) -> float:
        seen.append(t)
        return 0.1 / (1 + t)

    run(ref.adam(lr=sched), [0.0, 1.0], stream(4, (2,), 3))
    assert seen == [0, 1, 2]


@given(params_and_grads(n_grads=2))
def test_purity_readonly_inputs(xg: tuple[np.ndarray, list[np.ndarray]]) -> None:
    x, gs = xg
    opt = ref.adam(lr=0.1, amsgrad=True)
    s0 = opt.init(readonly(x))
    freeze(s0)
    g = readonly(gs[0])
    s1 = opt.step(s0, g)
    s1b = opt.step(s0, g)
    assert_array_equal(s1.params, s1b.params)
    assert s0.t == 0 and s1.t == 1
    assert s1.params.shape == x.shape and s1.params.dtype == np.float64


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(lr=0.0), "lr must be a finite number > 0"),
        (dict(lr=-1e-3), "lr must be a finite number > 0"),
        (dict(lr=float("nan")), "lr"),
        (dict(beta1=1.0), r"beta1 must be in \[0, 1\)"),
        (dict(beta2=-0.1), r"beta2 must be in \[0, 1\)"),
        (dict(eps=-1e-8), "eps must be a finite number >= 0"),
        (dict(weight_decay=-1.0), "weight_decay"),
        (dict(amsgrad_max="max"), "amsgrad_max must be one of"),
        (dict(epsilon_hat=True, bias_correction=False), "epsilon_hat"),
    ],
)
def test_bad_hyperparameters(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ref.adam(**kwargs)  # type: ignore[arg-type]


def test_bad_grad() -> None:
    opt = ref.adam()
    s = opt.init(np.zeros(3))
    with pytest.raises(ValueError, match=r"grad has shape \(2,\) but params have shape \(3,\)"):
        opt.step(s, np.zeros(2))
    with pytest.raises(ValueError, match="non-finite"):
        opt.step(s, np.array([0.0, np.nan, 1.0]))
    with pytest.raises(TypeError, match="real numbers"):
        opt.step(s, np.zeros(3, dtype=complex))


def test_bare_step_matches_factory() -> None:
    s0 = adam_init(np.ones(2))
    s1 = adam_step(s0, np.array([1.0, -2.0]), lr=0.1, beta1=0.9, beta2=0.999, eps=1e-8)
    s2 = ref.adam(lr=0.1).step(ref.adam(lr=0.1).init(np.ones(2)), [1.0, -2.0])
    assert_array_equal(s1.params, s2.params)

"""RAdam: golden values from specs/radam.md, the un-rectified steps, the threshold and the place
of eps, decay, purity, schedules, hypergradients."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from numpy.testing import assert_allclose, assert_array_equal

import reference as ref
from reference.first_order.radam import init as radam_init
from reference.first_order.radam import rectified, rho
from reference.first_order.radam import step as radam_step

from .helpers import check_pure_steps, hypergradient_after_steps, run, schedule_reads, stream
from .strategies import params_and_grads


def test_radam_golden_constant_gradient() -> None:
    # specs/radam.md "Worked example": five steps of (RA7), then r_6 = 0.0258211128018652163778...
    opt = ref.radam(lr=0.1, eps=0.0)
    out = run(opt, [1.0, -2.0], [np.array([0.5, -1.0])] * 6)
    for t in range(1, 6):
        assert_allclose(out[t - 1], [1.0 - 0.05 * t, -2.0 + 0.1 * t], rtol=1e-14)
    assert_allclose(out[5], [0.7474178887198134784, -1.4974178887198134784], rtol=1e-13)  # rho_6's 1e-11


def test_rho_values_and_first_rectified_step() -> None:
    # rho_t from 40-digit decimals; with beta2 = 0.999 step 6 is the first with rho_t > 5. In float64
    # rho_t loses about 1e-11 relative: 1999 minus a number near 1997 whose divisor 1 - 0.999^t cancels.
    want = [
        1.0,
        1.999499749874937469,
        2.998665999777777852,
        3.997498749875437969,
        4.995998000401601200,
        5.994163751656717319,
    ]
    for t, w in enumerate(want, 1):
        assert_allclose(rho(t, 0.999)[1], w, rtol=1e-10)
        assert rectified(t, 0.999, 5.0, True) == (t == 6)
    assert_allclose(rho(1, 0.999)[0], 1999.0, rtol=1e-14)  # 2 / fl(1 - 0.999) - 1


@given(params_and_grads(n_grads=5))
def test_before_the_threshold_it_is_sgd_with_the_corrected_ema(
    xg: tuple[np.ndarray, list[np.ndarray]],
) -> None:
    # (RA7): theta_t = theta_{t-1} - eta mhat_t for t <= 5, whatever eps and the gradient scale.
    x, gs = xg
    out = run(ref.radam(lr=0.05, eps=1e-3, epsilon_hat=False), x, gs)
    m, y = np.zeros_like(x), x.copy()
    for t, (g, got) in enumerate(zip(gs, out), 1):
        m = 0.9 * m + 0.1 * g
        y = y - 0.05 * m / (1 - 0.9**t)
        assert_allclose(got, y, rtol=1e-13, atol=1e-13)


def test_strict_and_inclusive_threshold_differ_only_at_equality() -> None:
    # threshold = rho_6 exactly: torch's '>' falls back at step 6, optax's '>=' rectifies.
    tau = float(rho(6, 0.999)[1])
    gs = [np.array([0.5, -1.0])] * 6
    strict = run(ref.radam(0.1, eps=0.0, threshold=tau, threshold_strict=True), [1.0, -2.0], gs)
    incl = run(ref.radam(0.1, eps=0.0, threshold=tau, threshold_strict=False), [1.0, -2.0], gs)
    assert_array_equal(strict[4], incl[4])
    assert_allclose(strict[5], [0.7, -1.4], rtol=1e-14)  # theta_5 - eta g
    assert_allclose(incl[5], [0.7474178887198134784, -1.4974178887198134784], rtol=1e-13)


def test_epsilon_hat_is_eps_over_sqrt_bias_correction() -> None:
    # torch's sqrt(bc2)/(sqrt(v) + eps) equals 1/(sqrt(vhat) + eps/sqrt(bc2)); optax's is 1/(sqrt(vhat) + eps).
    gs = stream(2, (4,), 9, scale=1e-3)
    eps, lr, b1, b2 = 1e-4, 0.05, 0.9, 0.999
    for hat in (True, False):
        out = run(ref.radam(lr, eps=eps, epsilon_hat=hat), np.zeros(4), gs)
        m = v = x = np.zeros(4)
        for t, (g, got) in enumerate(zip(gs, out), 1):
            m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
            rho_inf, rt = rho(t, b2)
            mhat, bc2 = m / (1 - b1**t), 1 - b2**t
            if rt > 5:
                r = np.sqrt((rt - 4) * (rt - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rt))
                x = x - lr * r * mhat / (np.sqrt(v / bc2) + (eps / np.sqrt(bc2) if hat else eps))
            else:
                x = x - lr * mhat
            assert_allclose(got, x, rtol=1e-12, atol=1e-16)
    a = run(ref.radam(lr, eps=eps, epsilon_hat=True), np.zeros(4), gs)[-1]
    b = run(ref.radam(lr, eps=eps, epsilon_hat=False), np.zeros(4), gs)[-1]
    assert np.max(np.abs(a - b)) > 1e-6


def test_threshold_range_keeps_r_real() -> None:
    with pytest.raises(ValueError, match=r"radam: threshold must be a finite number >= 4, got 3.5"):
        ref.radam(threshold=3.5)
    out = run(ref.radam(0.1, beta2=0.99, threshold=4.0), np.zeros(3), stream(0, (3,), 40))
    assert np.all(np.isfinite(out))


def test_schedule_is_read_at_completed_steps() -> None:
    seen = schedule_reads(lambda s: ref.radam(lr=s, decoupled_weight_decay=True, weight_decay=0.1), n=7)
    assert seen == [0, 1, 2, 3, 4, 5, 6]


@given(params_and_grads(n_grads=2))
def test_purity_readonly_inputs(xg: tuple[np.ndarray, list[np.ndarray]]) -> None:
    x, gs = xg
    check_pure_steps(ref.radam(lr=0.1, weight_decay=0.1), x, gs)


@pytest.mark.parametrize("epsilon_hat", [True, False])
def test_hypergradient_through_rectified_steps(epsilon_hat: bool) -> None:
    # beta2 = 0.9 gives rho_inf = 19 and rectified steps from t = 6: 8 steps cross the switch.
    got, fd = hypergradient_after_steps(
        lambda lr: ref.radam(lr=lr, beta2=0.9, epsilon_hat=epsilon_hat),
        [1.0, -1.0, 2.0],
        [1.0, 4.0, 0.25],
        lr=0.05,
        d=1e-7,
        n=8,
    )
    assert rectified(8, 0.9, 5.0, True)
    assert np.isfinite(got) and abs(got) > 1e-3
    assert_allclose(got, fd, rtol=1e-6)


def test_bare_step_matches_factory() -> None:
    s1 = radam_step(radam_init(np.ones(2)), np.array([1.0, -2.0]), lr=0.1, beta1=0.9, beta2=0.999, eps=1e-8)
    s2 = ref.radam(lr=0.1).step(ref.radam(lr=0.1).init(np.ones(2)), [1.0, -2.0])
    assert_array_equal(s1.params, s2.params)

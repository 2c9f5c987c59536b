"""The saddle_escape check's hand-written pieces: the closed-form gradient (against autograd), the
Koenigs coordinate h (its functional equation), the exact mean exit time of the linearised law
(against a Monte-Carlo of T = ceil(log(h(r)/|W|)/log a)), and the sabotage's noise."""

from __future__ import annotations

import math
from typing import Any

import autograd
import autograd.numpy as anp
import numpy as np
import pytest
from numpy.testing import assert_allclose

from theory_checks import saddle_escape as chk


def _f(theta: Any) -> Any:
    th = anp.reshape(theta, (-1, chk.D))
    x, y = th[:, :-1], th[:, -1]
    return anp.sum(0.5 * x * x * chk.LAM) + anp.sum(-0.5 * chk.GAMMA * y * y + 0.25 * y**4)


def test_closed_form_gradient_equals_autograd() -> None:
    theta = np.random.default_rng(0).standard_normal(7 * chk.D)
    assert_allclose(chk.grad(theta), autograd.grad(_f)(theta), rtol=1e-14, atol=1e-15)
    # on the stable manifold the y-gradient is exactly 0
    theta[chk.D - 1 :: chk.D] = 0.0
    assert np.all(chk.grad(theta)[chk.D - 1 :: chk.D] == 0.0)


@pytest.mark.parametrize("y", [1e-7, 1e-3, 0.1, 0.3, chk.R])
def test_koenigs_functional_equation(y: float) -> None:
    h = chk.koenigs(y)
    assert h == pytest.approx(chk.koenigs(chk._f_map(y)) / chk.A_RATE, rel=1e-12)
    assert y <= h <= y * (1 + 2 * y * y)  # h'(0) = 1; the cubic term only slows the map


def test_koenigs_small_argument() -> None:
    assert chk.koenigs(1e-10) == 1e-10  # below the threshold h(z) = z
    assert chk.koenigs(1e-6) == pytest.approx(1e-6, rel=1e-11)


def test_expected_exit_against_monte_carlo_of_the_linearised_law() -> None:
    h_r = chk.koenigs(chk.R)
    rng = np.random.default_rng(1)
    n = 400_000
    for sigma in (1e-4, 1e-7):
        s_w = chk.ETA * sigma / math.sqrt(chk.A_RATE**2 - 1)
        T = np.ceil(np.log(h_r / (s_w * np.abs(rng.standard_normal(n)))) / math.log(chk.A_RATE))
        se = float(np.std(T)) / math.sqrt(n)
        assert abs(float(np.mean(T)) - chk.expected_exit(sigma, h_r)) < 5 * se


def test_expected_exit_shifts_by_the_spacing() -> None:
    h_r = chk.koenigs(chk.R)
    e = [chk.expected_exit(s, h_r) for s in chk.SIGMAS]
    assert_allclose(np.diff(e), chk.SPACING, rtol=0, atol=1e-9)


def test_stable_noise_has_no_unstable_component() -> None:
    z = chk.StableNoise(3)(5, 4 * chk.D).reshape(-1, chk.D)
    assert np.all(z[:, -1] == 0.0) and np.all(z[:, :-1] != 0.0)
    assert_allclose(
        z[:, :-1], np.random.default_rng([3, 5]).standard_normal(4 * chk.D).reshape(-1, chk.D)[:, :-1]
    )


def test_exit_times_leave_the_ball_and_gd_stays_on_the_manifold() -> None:
    T = chk.exit_times(1e-4, 200, 7, None)
    assert np.all((T >= 1) & (T < chk.T_MAX))
    assert np.all(chk.exit_times(1e-4, 20, 7, "stable-noise") == chk.T_MAX)
    gd = chk.gd_runs(np.random.default_rng(0), None)
    assert gd.y_max == 0.0 and gd.final <= gd.final_bound
    assert [math.ceil(u) for u in gd.predicted] == list(gd.exits)

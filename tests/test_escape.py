"""First-exit times (reference/experiments/escape.py, specs/escape.md): the well by hand, the
alpha-stable sampler (alpha = 2 is N(0, 2), scipy's convention; alpha = 1.5 against scipy's
distribution function), exit times against a plain loop, compaction with Adam's state, censoring,
purity, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import reference as ref
from reference.experiments import escape as es

from .helpers import readonly


def test_well_by_hand() -> None:
    # specs/escape.md, worked example: dV = 2, h = 1 at x = 0.5: V = (2/2)(1 - cos(pi/2)) = 1,
    # V' = (2/2) pi sin(pi/2) = pi; at x = 0: V = V' = 0; at the tops: V = dV.
    w = es.Well(depth=2.0, half_width=1.0)
    x = np.array([0.5, 0.0, -1.0])
    assert_allclose(w.potential(x), [1.0, 0.0, 2.0], rtol=1e-15, atol=1e-15)
    assert_allclose(w.grad(x), [math.pi, 0.0, 0.0], rtol=1e-15, atol=1e-15)
    assert_array_equal(w.inside(np.array([0.999, -0.999, 1.0, -1.0, 3.0])), [True, True, False, False, False])


def test_sas_alpha_2_is_gaussian_with_variance_2() -> None:
    # scipy's levy_stable(2, 0) is N(0, 2): at alpha = 2 the CMS formula is 2 sin(U) sqrt(W).
    rng_a, rng_b = np.random.default_rng(3), np.random.default_rng(3)
    x = es.sas(2.0, (5,), rng_a)
    u = rng_b.uniform(-np.pi / 2, np.pi / 2, (5,))
    w = rng_b.exponential(1.0, (5,))
    assert_allclose(x, 2.0 * np.sin(u) * np.sqrt(w), rtol=1e-13)
    big = es.sas(2.0, (200_000,), np.random.default_rng(4))
    # sd of a normal sample variance: 2 sqrt(2 / n) = 0.0063; 6 sd
    assert abs(np.var(big) - 2.0) < 0.04
    assert abs(np.mean(big**4) / np.var(big) ** 2 - 3.0) < 0.1  # Gaussian kurtosis (sd 0.011)


def test_sas_alpha_1_is_cauchy() -> None:
    x = es.sas(1.0, (4,), np.random.default_rng(5))
    u = np.random.default_rng(5).uniform(-np.pi / 2, np.pi / 2, (4,))
    assert_allclose(x, np.tan(u), rtol=1e-15)


def test_sas_matches_scipy_distribution() -> None:
    from scipy.stats import levy_stable

    n = 40_000
    x = es.sas(1.5, (n,), np.random.default_rng(6))
    pts = np.array([-8.0, -2.0, -0.5, 0.0, 0.7, 3.0, 10.0])
    F = levy_stable.cdf(pts, 1.5, 0.0)
    Fn = np.mean(x[:, None] <= pts[None, :], axis=0)
    assert np.all(np.abs(Fn - F) <= 5.0 * np.sqrt(F * (1 - F) / n)), (Fn, F)


def test_standard_noise_laws() -> None:
    g = es.standard_noise("gaussian", 2.0, (3,), np.random.default_rng(1))
    assert_array_equal(g, np.random.default_rng(1).standard_normal((3,)))
    s = es.standard_noise("stable", 1.5, (3,), np.random.default_rng(1))
    assert_array_equal(s, es.sas(1.5, (3,), np.random.default_rng(1)))


def test_walker_started_outside_exits_at_zero() -> None:
    w = es.Well(1.0, 1.0)
    ex = es.exit_times(
        ref.sgd(0.1),
        w,
        es.Noise("gaussian", 1.0),
        np.array([1.0, -2.0, 5.0]),
        np.random.default_rng(0),
        max_steps=10,
    )
    assert_array_equal(ex.times, [0, 0, 0])
    assert ex.censored == 0


def test_exit_times_equal_a_plain_loop() -> None:
    # One block of draws (chunk >= max_steps): every walker sees row k of the block at step k,
    # whatever the others do; the loop below keeps stepping walkers that have left.
    w = es.Well(1.0, 1.0)
    eta, sigma, n, T = 0.1, 4.0, 50, 200
    x0 = np.linspace(-0.5, 0.5, n)
    ex = es.exit_times(
        ref.sgd(eta), w, es.Noise("gaussian", sigma), x0, np.random.default_rng(7), max_steps=T, chunk=T
    )
    xi = np.random.default_rng(7).standard_normal((T, n))
    x, times = x0.copy(), np.full(n, T + 1)
    for k in range(1, T + 1):
        x = x - eta * (0.5 * math.pi * np.sin(math.pi * x) + sigma * xi[k - 1])
        times[(times == T + 1) & (np.abs(x) >= 1.0)] = k
    assert_array_equal(ex.times, times)
    assert ex.censored == int(np.sum(times == T + 1))


def test_compaction_keeps_each_walkers_adam_state() -> None:
    # Adam is elementwise: dropping walkers must not change the others' m, v (all in one block).
    w = es.Well(1.0, 1.0)
    n, T, lr = 40, 150, 0.1
    noise = es.Noise("stable", 3.0, 1.5)
    ex = es.exit_times(ref.adam(lr), w, noise, np.zeros(n), np.random.default_rng(8), max_steps=T, chunk=T)
    xi = 3.0 * es.sas(1.5, (T, n), np.random.default_rng(8))
    opt = ref.adam(lr)
    s, times = opt.init(np.zeros(n)), np.full(n, T + 1)
    for k in range(1, T + 1):
        s = opt.step(s, w.grad(s.params) + xi[k - 1])
        times[(times == T + 1) & ~w.inside(s.params)] = k
    assert 0 < np.sum(times <= T) < n  # some exits, some not: the comparison means something
    assert_array_equal(ex.times, times)


def test_per_walker_scale() -> None:
    w = es.Well(1.0, 1.0)
    scale = np.array([1e-9, 1e-9, 50.0, 50.0])
    ex = es.exit_times(
        ref.sgd(0.1), w, es.Noise("gaussian", scale), np.zeros(4), np.random.default_rng(2), max_steps=20
    )
    assert_array_equal(ex.times[:2], [21, 21])  # tiny noise: the minimum is never left
    assert np.all(ex.times[2:] <= 3)  # a step of sd 5 leaves (-1, 1) at once, almost surely
    assert ex.censored == 2


def test_purity_and_determinism() -> None:
    w = es.Well(1.0, 1.0)
    x0 = readonly(np.zeros(30))
    noise = es.Noise("stable", 2.0, 1.5)
    a = es.exit_times(ref.sgd(0.1), w, noise, x0, np.random.default_rng(9), max_steps=500)
    b = es.exit_times(ref.sgd(0.1), w, noise, x0, np.random.default_rng(9), max_steps=500)
    assert_array_equal(a.times, b.times)
    assert_array_equal(x0, np.zeros(30))
    assert es.exit_times(ref.sgd(0.1), w, noise, x0, np.random.default_rng(9), max_steps=0).censored == 30


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: es.Well(0.0, 1.0), "depth must be a finite number > 0"),
        (lambda: es.Well(1.0, -1.0), "half_width must be a finite number > 0"),
        (lambda: es.Well(True, 1.0), "depth must be"),
        (lambda: es.Noise("cauchy", 1.0), "law must be one of"),
        (lambda: es.Noise("stable", 1.0, 2.5), r"alpha must be a number in \(0, 2\]"),
        (lambda: es.Noise("stable", 1.0, 0.0), r"alpha must be a number in \(0, 2\]"),
        (lambda: es.Noise("gaussian", -1.0), "scale must be a finite number > 0"),
        (lambda: es.Noise("gaussian", np.array([1.0, np.nan])), "scale must be"),
        (lambda: es.Noise("gaussian", "1"), "scale must be"),  # type: ignore[arg-type]
        (lambda: es.sas(3.0, (2,), np.random.default_rng(0)), "alpha must be"),
        (lambda: es.standard_noise("gaussian", 2.0, (2,), 0), "rng must be a numpy.random.Generator"),  # type: ignore[arg-type]
    ],
)
def test_bad_records(make: object, match: str) -> None:
    with pytest.raises((ValueError, TypeError), match=match):
        make()  # type: ignore[operator]


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        (dict(max_steps=-1), "max_steps must be an integer >= 0"),
        (dict(max_steps=2.5), "max_steps must be an integer"),
        (dict(chunk=0), "chunk must be an integer >= 1"),
        (dict(x0=np.zeros((2, 2))), "x0 must be a non-empty 1-D array"),
        (dict(x0=np.array([np.inf])), "x0 must be"),
        (dict(noise=es.Noise("gaussian", np.ones(3))), "noise.scale has 3 entries for 4 walkers"),
        (dict(rng=np.random.RandomState(0)), "rng must be a numpy.random.Generator"),
    ],
)
def test_bad_exit_times_arguments(kw: dict[str, object], match: str) -> None:
    args: dict[str, object] = dict(
        opt=ref.sgd(0.1),
        well=es.Well(1.0, 1.0),
        noise=es.Noise("gaussian", 1.0),
        x0=np.zeros(4),
        rng=np.random.default_rng(0),
        max_steps=5,
    )
    args.update(kw)
    with pytest.raises((ValueError, TypeError), match=match):
        es.exit_times(**args)  # type: ignore[arg-type]

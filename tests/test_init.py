"""Xavier and He initialisation (reference/problems/init.py, specs/init.md (IN1)-(IN5)): fans,
the variance of every form measured on large draws, zero biases, determinism, bad input, and
torch's fans and gains where torch is installed."""

from __future__ import annotations

import math

import numpy as np
import pytest

from reference import problems
from reference.problems.init import GAIN_SQ, fans, he, xavier
from reference.problems.layout import unpack

SHAPES = ((300, 200), (300,), (40, 300), (40,))


def test_fans_of_dense_and_convolution_weights() -> None:
    assert fans((5, 3)) == (3, 5)  # (out, in): (IN1)
    assert fans((8, 4, 3, 3)) == (36, 72)  # a 3x3 convolution: receptive field 9
    with pytest.raises(ValueError, match="at least 2 axes"):
        fans((5,))


def _chi2_band(var_hat: float, var: float, n: int) -> tuple[float, float]:
    """A 1e-6 two-sided band for the sample variance of n draws with true variance ``var`` (normal
    draws: (n-1) s^2/var ~ chi2(n-1); uniform draws have a smaller variance of s^2, so the band is
    conservative for them)."""
    from scipy import stats

    lo, hi = stats.chi2.ppf([5e-7, 1 - 5e-7], n - 1) / (n - 1)
    return var * lo, var * hi


@pytest.mark.parametrize("dist", ["normal", "uniform"])
def test_xavier_variance(dist: str) -> None:
    theta = xavier(SHAPES, np.random.default_rng(0), dist=dist)  # type: ignore[arg-type]
    W1, b1, W2, b2 = unpack(theta, SHAPES)
    assert not b1.any() and not b2.any()
    for W, (fi, fo) in ((W1, (200, 300)), (W2, (300, 40))):
        var = 2.0 / (fi + fo)  # (IN2); (IN3): a^2/3 = 6/(3 (fi + fo))
        lo, hi = _chi2_band(float(np.var(W, ddof=1)), var, W.size)
        assert lo <= float(np.var(W, ddof=1)) <= hi
        if dist == "uniform":
            assert float(np.max(np.abs(W))) <= math.sqrt(6.0 / (fi + fo))


@pytest.mark.parametrize("dist", ["normal", "uniform"])
@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
@pytest.mark.parametrize("nonlinearity", ["relu", "tanh", "linear"])
def test_he_variance(dist: str, mode: str, nonlinearity: str) -> None:
    theta = he(SHAPES, np.random.default_rng(1), dist=dist, mode=mode, nonlinearity=nonlinearity)  # type: ignore[arg-type]
    W1, _, W2, _ = unpack(theta, SHAPES)
    for W, (fi, fo) in ((W1, (200, 300)), (W2, (300, 40))):
        var = GAIN_SQ[nonlinearity] / (fi if mode == "fan_in" else fo)  # (IN4), (IN5)
        lo, hi = _chi2_band(float(np.var(W, ddof=1)), var, W.size)
        assert lo <= float(np.var(W, ddof=1)) <= hi


def test_a_wrong_variance_is_outside_the_band() -> None:
    # the band above is narrow enough to see a 5 % error in the standard deviation
    W = np.random.default_rng(2).normal(0.0, 1.05 * math.sqrt(2.0 / 200), 60000)
    lo, hi = _chi2_band(float(np.var(W, ddof=1)), 2.0 / 200, W.size)
    assert not lo <= float(np.var(W, ddof=1)) <= hi


def test_same_generator_state_same_vector_and_inputs_untouched() -> None:
    shapes = [[4, 3], [4]]
    a = he(shapes, np.random.default_rng(7))  # type: ignore[arg-type]
    b = he(((4, 3), (4,)), np.random.default_rng(7))
    assert np.array_equal(a, b) and a.shape == (16,)
    assert shapes == [[4, 3], [4]]


def test_peaks_initial_points_come_from_these_functions() -> None:
    pb = problems.peaks()
    assert np.array_equal(
        pb.init_params(np.random.default_rng(3), "he"), he(pb.shapes, np.random.default_rng(3))
    )
    assert np.array_equal(
        pb.init_params(np.random.default_rng(3), "xavier"),
        xavier(pb.shapes, np.random.default_rng(3), dist="uniform"),
    )


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: he(((3, 0),), np.random.default_rng(0)), "he: shapes must be"),
        (lambda: he("3x4", np.random.default_rng(0)), "he: shapes must be a sequence"),  # type: ignore[arg-type]
        (lambda: he(((3, 4),), 0), "rng"),  # type: ignore[arg-type]
        (lambda: he(((3, 4),), np.random.default_rng(0), mode="in"), "he: mode must be"),  # type: ignore[arg-type]
        (lambda: he(((3, 4),), np.random.default_rng(0), nonlinearity="gelu"), "he: nonlinearity must be"),
        (lambda: he(((3, 4),), np.random.default_rng(0), dist="cauchy"), "he: dist must be"),  # type: ignore[arg-type]
        (lambda: xavier(((3, 4),), np.random.default_rng(0), gain=0.0), "xavier: gain must be"),
        (lambda: xavier(((3, 4),), np.random.default_rng(0), gain=float("nan")), "xavier: gain must be"),
    ],
)
def test_bad_input_is_one_line_naming_the_argument(call: object, message: str) -> None:
    with pytest.raises((TypeError, ValueError)) as e:
        call()  # type: ignore[operator]
    assert message in str(e.value) and "\n" not in str(e.value)


def test_fans_and_gains_agree_with_torch() -> None:
    torch = pytest.importorskip(
        "torch", reason="torch is not installed: pip install -e '.[test,peers]' runs these tests"
    )
    for shape in ((5, 3), (8, 4, 3, 3), (2, 7, 5)):
        assert fans(shape) == torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    for name, c2 in GAIN_SQ.items():
        assert math.isclose(torch.nn.init.calculate_gain(name) ** 2, c2, rel_tol=1e-15)

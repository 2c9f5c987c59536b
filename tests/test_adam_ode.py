"""The Adam vector field (reference/experiments/adam_ode.py): golden values from specs/adam_ode.md,
the constant-gradient exact solution, the solver against an independent integration of the
bias-corrected form, Adam converging to each eps form it can reach, purity, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose

import reference as ref
from reference.experiments import adam_ode as ao

from .helpers import readonly

LN2, LN4 = math.log(2.0), math.log(4.0)


def test_field_by_hand() -> None:
    # specs/adam_ode.md, worked example (1): mu = 2, omega = 4/3 at t = 1; omega v = 0.64.
    one = np.array([1.0])
    kw = dict(a=LN2, b=LN4, eps=0.2)
    dth, dm, dv = ao.vector_field(1.0, one, np.array([0.3]), np.array([0.48]), one, **kw)  # type: ignore[arg-type]
    assert_allclose(dth, [-0.6], rtol=1e-15)
    assert_allclose(dm, [0.48520302639196171659], rtol=1e-15)
    assert_allclose(dv, [0.72087306778234312179], rtol=1e-15)
    inside = ao.vector_field(1.0, one, np.array([0.3]), np.array([0.48]), one, eps_form="inside", **kw)  # type: ignore[arg-type]
    assert_allclose(inside[0], [-0.65465367070797714380], rtol=1e-15)
    inverse = ao.vector_field(1.0, one, np.array([0.3]), np.array([0.48]), one, eps_form="inverse", **kw)  # type: ignore[arg-type]
    assert_allclose(inverse[0], [-0.87], rtol=1e-15)
    plain = ao.vector_field(1.0, one, np.array([0.3]), np.array([0.48]), one, bias_correction=False, **kw)  # type: ignore[arg-type]
    assert_allclose(plain[0], [-0.3 / (math.sqrt(0.48) + 0.2)], rtol=1e-15)


def test_bias_factors_and_discretisation_map() -> None:
    mu, omega = ao.bias_factors(1.0, LN2, LN4)
    assert_allclose([mu, omega], [2.0, 4.0 / 3.0], rtol=1e-15)
    assert ao.discretisation(2.0**-4, 2.0, 0.5) == (0.0625, 0.875, 0.96875)  # (AO6), exact in binary


def test_constant_gradient_exact() -> None:
    # specs/adam_ode.md, worked example (2): L = 3 theta, eps = 0.2: theta(t) = theta0 - 0.9375 t.
    grad = lambda th: np.full_like(th, 3.0)  # noqa: E731
    ts = np.array([1e-3, 0.5, 2.0])
    sol = ao.solve(grad, np.array([1.0]), 2.0, a=3.0, b=0.5, eps=0.2, t_eval=ts)
    assert_allclose(sol.theta[:, 0], 1.0 - 0.9375 * ts, rtol=1e-11)
    assert_allclose(sol.m[:, 0], -3.0 * np.expm1(-3.0 * ts), rtol=1e-11)
    assert_allclose(sol.v[:, 0], -9.0 * np.expm1(-0.5 * ts), rtol=1e-11)
    assert_allclose(ao.initial_velocity(np.array([3.0]), 0.2), [-0.9375], rtol=1e-15)  # (AO7)
    eta = 2.0**-6
    opt = ao.adam_for(eta, 3.0, 0.5, 0.2)
    s = opt.init(np.array([1.0]))
    for k in range(1, 129):
        s = opt.step(s, np.array([3.0]))
        assert_allclose(s.params, [1.0 - 0.9375 * k * eta], rtol=0, atol=64 * k * 2.0**-53)


def test_first_step_is_the_initial_velocity() -> None:
    # (AO7): Adam's first step / eta is V(0+), at any eta; the field on constant-gradient moments
    # gives the same value at any t > 0.
    g0 = np.array([0.3, -2.0, 1e-3])
    x0 = np.array([1.0, 2.0, -3.0])
    v0 = ao.initial_velocity(g0, 0.1)
    for eta in (0.1, 2.0**-10):
        opt = ao.adam_for(eta, 2.0, 0.7, 0.1)
        th1 = opt.step(opt.init(x0), g0).params
        bound = 16 * 2.0**-53 * (np.abs(v0) + (np.abs(x0) + np.abs(th1)) / eta)  # the check's bound
        assert np.all(np.abs((th1 - x0) / eta - v0) <= bound)
    t = 0.37
    m, v = -math.expm1(-2.0 * t) * g0, -math.expm1(-0.7 * t) * g0 * g0
    assert_allclose(ao.vector_field(t, x0, m, v, g0, a=2.0, b=0.7, eps=0.1)[0], v0, rtol=1e-14)


def _quadratic() -> tuple[np.ndarray, np.ndarray]:
    h = np.array([[1.5, 0.4, 0.0], [0.4, 0.8, -0.3], [0.0, -0.3, 1.1]])
    return h, np.array([1.0, -0.5, 0.8])


def test_solve_matches_an_independent_hat_form_integration() -> None:
    """dm_hat = a mu (g - m_hat), dv_hat = b omega (g^2 - v_hat), dtheta = -m_hat/(sqrt(v_hat) + eps)
    from m_hat(0) = g0, v_hat(0) = g0^2 (specs/adam_ode.md, Conventions), integrated here by
    scipy's Radau (another method) from its own start."""
    from scipy.integrate import solve_ivp

    h, x0 = _quadratic()
    a, b, eps, t0, big_t = 2.5, 0.6, 0.05, 1e-9, 1.5

    def rhs(t: float, y: np.ndarray) -> np.ndarray:
        th, mh, vh = y[:3], y[3:6], y[6:]
        g = h @ th
        mu, om = -1.0 / math.expm1(-a * t), -1.0 / math.expm1(-b * t)
        return np.concatenate([-mh / (np.sqrt(vh) + eps), a * mu * (g - mh), b * om * (g * g - vh)])

    g0 = h @ x0
    y0 = np.concatenate([x0 - t0 * g0 / (np.abs(g0) + eps), g0, g0 * g0])
    hat = solve_ivp(rhs, (t0, big_t), y0, method="Radau", rtol=1e-11, atol=1e-13)
    sol = ao.solve(lambda th: h @ th, x0, big_t, a=a, b=b, eps=eps)
    mu, om = ao.bias_factors(big_t, a, b)
    assert_allclose(sol.theta[-1], hat.y[:3, -1], rtol=0, atol=1e-8)
    assert_allclose(mu * sol.m[-1], hat.y[3:6, -1], rtol=0, atol=1e-8)
    assert_allclose(om * sol.v[-1], hat.y[6:, -1], rtol=0, atol=1e-8)


def _errors(make_opt: object, ode_end: np.ndarray, etas: tuple[float, ...]) -> np.ndarray:
    h, x0 = _quadratic()
    out = []
    for eta in etas:
        opt = make_opt(eta)  # type: ignore[operator]
        s = opt.init(x0)
        for _ in range(int(round(1.0 / eta))):
            s = opt.step_fn(s, h @ s.params)
        out.append(float(np.linalg.norm(s.params - ode_end)))
    return np.array(out)


@pytest.mark.parametrize("form", ["outside", "inside", "no-bias"])
def test_adam_converges_to_its_form_with_order_one(form: str) -> None:
    """Each discrete form has its limit (specs/adam_ode.md, Variants): errors halve with eta (local
    local slopes within 0.05 of 1; measured 0.982-0.998 here), while
    against the outside form's ODE the other two keep an eta-independent error."""
    h, x0 = _quadratic()
    a, b, eps = 2.0, 0.5, 0.1
    field = {"eps_form": "inside" if form == "inside" else "outside", "bias_correction": form != "no-bias"}
    end = ao.solve(lambda th: h @ th, x0, 1.0, a=a, b=b, eps=eps, **field).theta[-1]  # type: ignore[arg-type]

    def make(eta: float) -> object:
        if form == "no-bias":
            lr, b1, b2 = ao.discretisation(eta, a, b)
            return ref.adam(lr, beta1=b1, beta2=b2, eps=eps, bias_correction=False)
        return ao.adam_for(eta, a, b, eps, "inside" if form == "inside" else "outside")

    etas = (2.0**-6, 2.0**-7, 2.0**-8)
    p = np.log2(_errors(make, end, etas)[:-1] / _errors(make, end, etas)[1:])
    assert np.all(np.abs(p - 1.0) < 0.05), p
    if form != "outside":
        outside = ao.solve(lambda th: h @ th, x0, 1.0, a=a, b=b, eps=eps).theta[-1]
        e = _errors(make, outside, etas)
        assert e[-1] > 0.5 * e[0] > 1e-3, e  # no convergence to the other limit


def test_inverse_form_has_no_adam() -> None:
    with pytest.raises(ValueError, match="inverse"):
        ao.adam_for(0.01, 1.0, 1.0, 0.1, "inverse")


def test_pure_with_readonly_inputs() -> None:
    th, m, v, g = (readonly(np.array([0.5, -1.0])) for _ in range(4))
    before = [x.copy() for x in (th, m, v, g)]
    ao.vector_field(0.3, th, m, np.abs(v), g, a=1.0, b=0.5, eps=1e-8)
    sol = ao.solve(lambda x: 2.0 * x, readonly(np.array([0.5, -1.0])), 0.5, a=1.0, b=0.5, eps=1e-8)
    for x, y in zip((th, m, v, g), before):
        np.testing.assert_array_equal(x, y)
    assert sol.theta.shape == (1, 2) and sol.nfev > 0


@pytest.mark.parametrize(
    ("kw", "word"),
    [
        (dict(a=0.0, b=1.0, eps=0.1), "a must"),
        (dict(a=1.0, b=-1.0, eps=0.1), "b must"),
        (dict(a=1.0, b=1.0, eps=-0.1), "eps must"),
        (dict(a=1.0, b=1.0, eps=0.1, eps_form="middle"), "eps_form must"),
        (dict(a=1.0, b=1.0, eps=0.1, t0=2.0), "T > t0"),
    ],
)
def test_bad_input_is_one_line(kw: dict[str, object], word: str) -> None:
    with pytest.raises(ValueError, match=word) as exc:
        ao.solve(lambda x: x, np.ones(2), 1.0, **kw)  # type: ignore[arg-type]
    assert "\n" not in str(exc.value) and "adam_ode:" in str(exc.value)


def test_field_refuses_t_zero_and_unknown_form() -> None:
    one = np.ones(1)
    with pytest.raises(ValueError, match="t must be > 0"):
        ao.vector_field(0.0, one, one, one, one, a=1.0, b=1.0, eps=0.1)
    with pytest.raises(ValueError, match="eps_form must"):
        ao.vector_field(1.0, one, one, one, one, a=1.0, b=1.0, eps=0.1, eps_form="middle")
    # without the bias factors t = 0 is an ordinary point: m = 0 gives a zero velocity
    dth = ao.vector_field(0.0, one, 0 * one, 0 * one, one, a=1.0, b=1.0, eps=0.1, bias_correction=False)[0]
    assert_allclose(dth, [0.0], atol=0)

r"""Adam's continuous-time limit (note 001, "The Adam Vector Field: Mathematical Derivation") as code.

The deterministic drift of the note's coupled system, with a, b the RATES of the two moments (the
note writes them beta1, beta2; here they are a, b so as not to clash with Adam's discrete
coefficients), elementwise:

    dm/dt = a (grad L(theta) - m)                                    (AO1)
    dv/dt = b (grad L(theta)^2 - v)                                  (AO2)
    mu_t = 1 / (1 - e^(-a t)),  omega_t = 1 / (1 - e^(-b t))         (AO3)
    Q_t = diag(sqrt(omega_t v_t) + eps)                              (AO4)
    dtheta/dt = V(t, theta, m, v) = -mu_t Q_t^(-1) m_t               (AO5)

with m(0) = v(0) = 0, theta(0) = theta_0. (AO4) puts eps where Adam's discrete step puts it, which
is what Adam converges to; the note's two forms, sqrt(omega v + eps) and 1/sqrt(omega v) + eps, are
the keyword ``eps_form="inside"`` / ``"inverse"`` (specs/adam_ode.md, Conventions).

Discretisation map (AO6): Adam with lr = eta, beta1 = 1 - a eta, beta2 = 1 - b eta, run for k
steps, approximates the solution at t = k eta with a global error O(eta) (beta1^k -> e^(-a t)).
At t = 0 the bias factors are singular (mu_t ~ 1/(a t)) but the products are not:
mu_t m_t -> grad L(theta_0), omega_t v_t -> grad L(theta_0)^2, so

    V(0+) = -g_0 / (|g_0| + eps),  g_0 = grad L(theta_0)              (AO7)

which is exactly Adam's first step divided by eta (m_hat_1 = g_1, v_hat_1 = g_1^2). The solver
starts at a small t0 > 0 from the first-order series of the solution (m = (1 - e^(-a t0)) g_0,
v = (1 - e^(-b t0)) g_0^2, theta = theta_0 + t0 V(t0, ...)), an O(t0^2) error.

References:
    Note 001, "The Adam Vector Field: Mathematical Derivation". Kingma, D. P. and Ba, J. (2015),
    Adam: A Method for Stochastic Optimization. Malladi, S., Lyu, K., Panigrahi, A. and Arora, S.
    (2022), On the SDEs and Scaling Rules for Adaptive Gradient Algorithms (the same limit).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

EPS_FORMS = ("outside", "inside", "inverse")
Grad = Callable[[np.ndarray], np.ndarray]


def _check(a: float, b: float, eps: float, eps_form: str) -> None:
    if not (isinstance(a, (int, float)) and math.isfinite(a) and a > 0):
        raise ValueError(f"adam_ode: a must be a finite rate > 0, got {a!r}")
    if not (isinstance(b, (int, float)) and math.isfinite(b) and b > 0):
        raise ValueError(f"adam_ode: b must be a finite rate > 0, got {b!r}")
    if not (isinstance(eps, (int, float)) and math.isfinite(eps) and eps >= 0):
        raise ValueError(f"adam_ode: eps must be a finite number >= 0, got {eps!r}")
    if eps_form not in EPS_FORMS:
        raise ValueError(f"adam_ode: eps_form must be one of {EPS_FORMS}, got {eps_form!r}")


def bias_factors(t: float, a: float, b: float) -> tuple[float, float]:
    """(mu_t, omega_t) of (AO3), by expm1 (accurate for small a t)."""
    return -1.0 / math.expm1(-a * t), -1.0 / math.expm1(-b * t)


def vector_field(
    t: float,
    theta: np.ndarray,
    m: np.ndarray,
    v: np.ndarray,
    g: np.ndarray,
    *,
    a: float,
    b: float,
    eps: float,
    eps_form: str = "outside",
    bias_correction: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(dtheta/dt, dm/dt, dv/dt) at time t > 0, g = grad L(theta). ``bias_correction=False`` sets
    mu = omega = 1 (the field without the bias factors). At t = 0 the bias-corrected field is a
    limit, ``initial_velocity`` (AO7)."""
    dm = a * (g - m)  # (AO1)
    dv = b * (g * g - v)  # (AO2)
    if bias_correction and not t > 0:
        raise ValueError(f"adam_ode: t must be > 0 (the bias factors are singular at 0), got {t!r}")
    mu, omega = bias_factors(t, a, b) if bias_correction else (1.0, 1.0)  # (AO3)
    if eps_form == "outside":
        q = np.sqrt(omega * v) + eps  # (AO4)
    elif eps_form == "inside":
        q = np.sqrt(omega * v + eps)
    elif eps_form == "inverse":
        q = 1.0 / (1.0 / np.sqrt(omega * v) + eps)
    else:
        raise ValueError(f"adam_ode: eps_form must be one of {EPS_FORMS}, got {eps_form!r}")
    dtheta = -mu * m / q  # (AO5)
    return dtheta, dm, dv


def discretisation(eta: float, a: float, b: float) -> tuple[float, float, float]:
    """Adam's (lr, beta1, beta2) whose iterates approximate the ODE at t = k eta."""
    return eta, 1.0 - a * eta, 1.0 - b * eta  # (AO6)


def initial_velocity(g0: np.ndarray, eps: float) -> np.ndarray:
    """V(0+) = lim_{t -> 0} V of the bias-corrected field (eps outside): Adam's first step / eta."""
    out: np.ndarray = -g0 / (np.abs(g0) + eps)  # (AO7)
    return out


def adam_for(eta: float, a: float, b: float, eps: float, eps_form: str = "outside") -> Any:
    """The ``ref.adam`` optimizer whose iterates converge to this ODE as eta -> 0: eps outside
    the root is ``eps``, inside is ``eps_root`` (with eps = 0); no Adam converges to "inverse"."""
    import reference as ref

    _check(a, b, eps, eps_form)
    lr, b1, b2 = discretisation(eta, a, b)
    if eps_form == "outside":
        return ref.adam(lr, beta1=b1, beta2=b2, eps=eps)
    if eps_form == "inside":
        return ref.adam(lr, beta1=b1, beta2=b2, eps=0.0, eps_root=eps)
    raise ValueError("adam_ode: eps_form='inverse' (1/sqrt(omega v) + eps) is the limit of no Adam step")


@dataclass(frozen=True)
class Solution:
    """The ODE's state at the requested times (rows of ``theta``, ``m``, ``v``) and the solver's
    function-evaluation count."""

    t: np.ndarray
    theta: np.ndarray
    m: np.ndarray
    v: np.ndarray
    nfev: int


def solve(
    grad: Grad,
    theta0: np.ndarray,
    T: float,
    *,
    a: float,
    b: float,
    eps: float,
    eps_form: str = "outside",
    bias_correction: bool = True,
    t_eval: np.ndarray | None = None,
    t0: float = 1e-10,
    rtol: float = 1e-12,
    atol: float = 1e-15,
) -> Solution:
    """Integrate (AO1)-(AO5) from theta(0) = theta0, m(0) = v(0) = 0 to T by scipy's DOP853.

    The field is singular at t = 0 (mu_t ~ 1/(a t)); the integration starts at t0 from the
    solution's first-order series (module docstring), an O(t0^2) error in every component.
    ``t_eval`` (times in (t0, T], increasing) defaults to [T]."""
    from scipy.integrate import solve_ivp

    _check(a, b, eps, eps_form)
    if not (math.isfinite(T) and T > t0 > 0):
        raise ValueError(f"adam_ode: need T > t0 > 0, got T={T!r}, t0={t0!r}")
    th0 = np.array(theta0, dtype=np.float64).ravel()
    d = th0.size
    g0 = np.asarray(grad(th0), dtype=np.float64)
    m0, v0 = -math.expm1(-a * t0) * g0, -math.expm1(-b * t0) * g0 * g0
    kw: dict[str, Any] = dict(a=a, b=b, eps=eps, eps_form=eps_form, bias_correction=bias_correction)
    th_start = th0 + t0 * vector_field(t0, th0, m0, v0, g0, **kw)[0]

    def rhs(t: float, y: np.ndarray) -> np.ndarray:
        th, m, v = y[:d], y[d : 2 * d], y[2 * d :]
        return np.concatenate(vector_field(t, th, m, v, np.asarray(grad(th), dtype=np.float64), **kw))

    times = np.array([T] if t_eval is None else t_eval, dtype=np.float64)
    # m and v start at O(t0): an absolute tolerance below their size, so their relative error is rtol
    at = np.concatenate([np.full(d, atol), np.full(2 * d, atol * t0)])
    sol = solve_ivp(
        rhs,
        (t0, float(times[-1])),
        np.concatenate([th_start, m0, v0]),
        method="DOP853",
        t_eval=times,
        rtol=rtol,
        atol=at,
    )
    if not sol.success:
        raise RuntimeError(f"adam_ode: solve_ivp failed: {sol.message}")
    y = sol.y.T
    return Solution(times, y[:, :d], y[:, d : 2 * d], y[:, 2 * d :], int(sol.nfev))

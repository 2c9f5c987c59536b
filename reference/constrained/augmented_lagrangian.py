r"""Augmented Lagrangian (method of multipliers) for min f(theta) s.t. h(theta) = 0, g(theta) <= 0. Spec: specs/augmented_lagrangian.md, (AL1)-(AL4).

Input of each step: an ``EqualityProblem(f, h)`` or a ``ConstrainedProblem(f, h=..., g=...)``
(f: R^p -> R, h: R^p -> R^m, g: R^p -> R^r, written with ``autograd.numpy``; h or g may be
absent). One step is one outer iteration k (N&W Framework 17.3 and section 17.4):

    L_A(theta, lambda, nu; mu) = f(theta) - lambda^T h(theta) + (mu/2) ||h(theta)||^2   (AL1)
        + sum_i psi(g_i(theta), nu_i; mu),
        psi(s, n; mu) = (max(0, n + mu s)^2 - n^2) / (2 mu)
                      = n s + (mu/2) s^2 if n + mu s >= 0, else -n^2 / (2 mu)           (AL1b)
    theta_k ~ argmin_theta L_A(theta, lambda_{k-1}, nu_{k-1}; mu_{k-1}), started at theta_{k-1},
        by up to ``inner_steps`` L-BFGS steps (or gradient steps of size ``inner_lr``),
        stopped when ||grad_theta L_A|| <= ``inner_tol``                                (AL2)
    lambda_k = lambda_{k-1} - mu_{k-1} h(theta_k)                                        (AL3)
    nu_k = max(0, nu_{k-1} + mu_{k-1} g(theta_k))                                        (AL3b)
    mu_k = ``mu_growth`` mu_{k-1}                                                        (AL4)

Note 004 ("Lagrange Multipliers"): Lagrangian L(theta, lambda) = f - lambda^T h; at the optimum
grad f = J_h^T lambda. Since grad_theta L_A(theta; lambda_{k-1}) = grad f - J_h^T (lambda_{k-1} -
mu h) = grad f - J_h^T lambda_k, the stationarity residual after (AL3) is exactly the inner
gradient: ||grad f(theta_k) - J_h(theta_k)^T lambda_k|| = ||grad L_A(theta_k)|| <= inner_tol
(state field ``inner_grad_norm``), and the feasibility is ||h(theta_k)|| = ||lambda_k -
lambda_{k-1}|| / mu_{k-1}.

Note 004 ("KKT Conditions"): for g(theta) <= 0 the Lagrangian is f + nu^T g with nu >= 0 and
nu_i g_i = 0 (the note's mu is nu here: mu is the penalty). d psi / d s = max(0, n + mu s), so
grad_theta L_A(theta_k; lambda_{k-1}, nu_{k-1}) = grad f - J_h^T lambda_k + J_g^T nu_k: the inner
gradient is again the stationarity residual of L = f - lambda^T h + nu^T g at (lambda_k, nu_k);
nu_k >= 0 by (AL3b); and nu_k - nu_{k-1} = mu_{k-1} max(g(theta_k), -nu_{k-1}/mu_{k-1}).

Conventions:
    * lambda_0 = 0, nu_0 = 0 (``init``; sized at the first step), mu_0 = ``mu``; the sign convention is the seed's L = f - lambda^T h
      (N&W eq. 17.36), so lambda is the multiplier with grad f = J_h^T lambda.
    * The inner L-BFGS is ``reference.lbfgs`` (default m = 10, strong Wolfe) on a
      ``FunctionOracle`` of L_A; a stalled L-BFGS (failed line search) ends the inner loop.
    * Not meant to be differentiated with respect to hyperparameters (the inner stopping test and
      the line search are discrete decisions); written with autograd.numpy so that L_A is.

References:
    Hestenes, M. R. (1969). Multiplier and gradient methods. J. Optim. Theory Appl. 4.
    Powell, M. J. D. (1969). A method for nonlinear constraints in minimization problems.
    Rockafellar, R. T. (1973). The multiplier method of Hestenes and Powell applied to convex
        programming. J. Optim. Theory Appl. 12.
    Nocedal and Wright (2006), section 17.3 (Framework 17.3, eqs. 17.36, 17.39), section 17.4
        (eqs. 17.65-17.66, written there for c(x) >= 0, i.e. c = -g).
    Bertsekas, D. P. (1982). Constrained Optimization and Lagrange Multiplier Methods.
    Note 004 ("Constrained Optimization", "Lagrange Multipliers", "KKT Conditions").
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass
from typing import Any, ClassVar, Literal

import autograd
import autograd.numpy as anp
import numpy as np
from autograd.tracer import getval

from .._core import method
from .._hyper import NONNEGATIVE, POSITIVE, Hyperparams, Integer, OneOf, Real, hp
from .._types import Array
from ..curvature.lbfgs import lbfgs
from ..oracle import FunctionOracle, as_flat

Inner = Literal["lbfgs", "gd"]


@dataclass(frozen=True, eq=False)
class AugLagHyperparams(Hyperparams):
    """The method of multipliers' hyperparameters: the penalty and the inner solver."""

    ALGORITHM: ClassVar[str] = "augmented_lagrangian"
    _: KW_ONLY
    mu: float = hp(10.0, POSITIVE, "the initial penalty mu_0 of (AL1)")
    mu_growth: float = hp(1.0, Real(ge=1.0), "mu_k = mu_growth mu_{k-1}, (AL4) (1: fixed penalty)")
    inner: Inner = hp(
        "lbfgs",
        OneOf(("lbfgs", "gd")),
        '(AL2)\'s inner solver: "lbfgs" (reference.lbfgs) or "gd" (gradient steps of size inner_lr)',
    )
    inner_steps: int = hp(200, Integer(ge=1), "at most this many inner steps per outer iteration (AL2)")
    inner_tol: float = hp(1e-8, NONNEGATIVE, "stop (AL2) when ||grad L_A|| <= inner_tol")
    inner_lr: float = hp(1e-2, POSITIVE, 'step of the inner gradient descent (used only by inner="gd")')


@dataclass(frozen=True, eq=False)
class EqualityProblem:
    """The step input: min f(theta) subject to h(theta) = 0.

    Attributes:
        f: the objective R^p -> R, written with ``autograd.numpy``.
        h: the constraints R^p -> R^m (a flat vector of m >= 1 values), ``autograd.numpy``.
    """

    f: Callable[[Array], Any]
    h: Callable[[Array], Any]

    def __post_init__(self) -> None:
        for name in ("f", "h"):
            if not callable(getattr(self, name)):
                raise TypeError(
                    f"EqualityProblem: {name} must be callable, got {type(getattr(self, name)).__name__}"
                )

    def constraints(self, theta: Array) -> Array:
        """h(theta) as a flat float vector, checked (1-D, finite)."""
        c = self.h(theta)
        if anp.ndim(c) != 1 or anp.shape(c)[0] < 1:
            raise ValueError(
                f"augmented_lagrangian: h must return a flat vector of m >= 1 values, got shape {anp.shape(c)}"
            )
        if not np.all(np.isfinite(np.asarray(getval(c), dtype=np.float64))):
            raise ValueError("augmented_lagrangian: h(theta) is not finite")
        return c  # type: ignore[no-any-return]

    def lagrangian_grad(self, theta: Array, lam: Array) -> Array:
        """grad f(theta) - J_h(theta)^T lambda (the seed's stationarity residual)."""
        return np.asarray(
            autograd.grad(lambda x: self.f(x) - anp.dot(lam, self.h(x)))(theta), dtype=np.float64
        )


@dataclass(frozen=True, eq=False)
class ConstrainedProblem:
    """The step input with inequality constraints: min f(theta) s.t. h(theta) = 0, g(theta) <= 0.

    Attributes:
        f: the objective R^p -> R, written with ``autograd.numpy``.
        h: the equality constraints R^p -> R^m (a flat vector of m >= 1 values), or None.
        g: the inequality constraints R^p -> R^r, g(theta) <= 0 (a flat vector of r >= 1
            values), or None. At least one of h and g.
    """

    f: Callable[[Array], Any]
    _: KW_ONLY
    h: Callable[[Array], Any] | None = None
    g: Callable[[Array], Any] | None = None

    def __post_init__(self) -> None:
        if not callable(self.f):
            raise TypeError(f"ConstrainedProblem: f must be callable, got {type(self.f).__name__}")
        for name in ("h", "g"):
            value = getattr(self, name)
            if value is not None and not callable(value):
                raise TypeError(
                    f"ConstrainedProblem: {name} must be callable or None, got {type(value).__name__}"
                )
        if self.h is None and self.g is None:
            raise ValueError("ConstrainedProblem: give h (equalities), g (inequalities) or both")

    def constraints(self, theta: Array) -> Array:
        """h(theta) as a flat float vector, checked (1-D, finite)."""
        return _checked(self.h, "h", theta)

    def inequalities(self, theta: Array) -> Array:
        """g(theta) as a flat float vector, checked (1-D, finite)."""
        return _checked(self.g, "g", theta)

    def lagrangian_grad(self, theta: Array, lam: Array, nu: Array) -> Array:
        """grad f(theta) - J_h(theta)^T lambda + J_g(theta)^T nu (note 004's stationarity residual)."""

        def lagrangian(x: Array) -> Any:
            value = self.f(x)
            if self.h is not None:
                value = value - anp.dot(lam, self.h(x))
            if self.g is not None:
                value = value + anp.dot(nu, self.g(x))
            return value

        return np.asarray(autograd.grad(lagrangian)(theta), dtype=np.float64)


def _checked(fn: Callable[[Array], Any] | None, name: str, theta: Array) -> Array:
    if fn is None:
        return anp.zeros(0)
    c = fn(theta)
    if anp.ndim(c) != 1 or anp.shape(c)[0] < 1:
        raise ValueError(
            f"augmented_lagrangian: {name} must return a flat vector of m >= 1 values, got shape {anp.shape(c)}"
        )
    if not np.all(np.isfinite(np.asarray(getval(c), dtype=np.float64))):
        raise ValueError(f"augmented_lagrangian: {name}(theta) is not finite")
    return c  # type: ignore[no-any-return]


def _psi(s: Any, nu: Array, mu: float) -> Any:
    """sum_i psi(s_i, nu_i; mu) of (AL1b), in the branch form (no cancellation of nu^2 terms)."""
    return anp.sum(anp.where(nu + mu * s >= 0.0, nu * s + 0.5 * mu * s * s, -0.5 * nu * nu / mu))


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class AugLagState:
    """The state after ``t`` outer iterations."""

    params: Array  # theta_t
    lam: Array | None  # lambda_t (None before the first step: lambda_0 = 0 of size m; size 0 without h)
    nu: Array | None = (
        None  # nu_t >= 0, the multipliers of g <= 0 (None before the first step; size 0 without g)
    )
    mu: float  # mu_t, the penalty of the next inner problem
    inner_grad_norm: float  # ||grad L_A(theta_t; lambda_{t-1}, mu_{t-1})|| at the end of (AL2) (nan at t = 0)
    inner_iters: int  # inner steps taken in the last outer iteration
    t: int  # completed outer iterations


def init(params: Array, *, mu: float) -> AugLagState:
    """theta_0 = params (a flat vector), lambda_0 = nu_0 = 0 (sized at the first step), mu_0 = mu."""
    return AugLagState(
        params=as_flat(params), lam=None, mu=float(mu), inner_grad_norm=math.nan, inner_iters=0, t=0
    )


def step(
    state: AugLagState,
    problem: EqualityProblem | ConstrainedProblem,
    *,
    mu_growth: float,
    inner: Inner,
    inner_steps: int,
    inner_tol: float,
    inner_lr: float,
) -> AugLagState:
    """One outer iteration, eqs. (AL1)-(AL4) of specs/augmented_lagrangian.md."""
    if isinstance(problem, EqualityProblem):
        problem = ConstrainedProblem(problem.f, h=problem.h)
    elif not isinstance(problem, ConstrainedProblem):
        raise TypeError(
            "augmented_lagrangian: step needs an EqualityProblem or a ConstrainedProblem, "
            f"got {type(problem).__name__}"
        )
    theta = state.params
    lam = _multipliers(state.lam, problem.constraints(theta), "h")
    nu = _multipliers(state.nu, problem.inequalities(theta), "g")
    has_h, has_g = problem.h is not None, problem.g is not None
    mu = state.mu

    def aug_lagrangian(x: Array) -> Any:
        c = problem.constraints(x) if has_h else None
        value = problem.f(x)
        if c is not None:
            value = value - anp.dot(lam, c) + 0.5 * mu * anp.dot(c, c)  # (AL1)
        if has_g:
            value = value + _psi(problem.inequalities(x), nu, mu)  # (AL1b)
        return value

    oracle = FunctionOracle(aug_lagrangian, dim=anp.shape(theta)[0])
    theta, gnorm, iters = _inner_minimise(oracle, theta, inner, inner_steps, inner_tol, inner_lr)  # (AL2)
    lam_new = lam - mu * problem.constraints(theta)  # (AL3)
    nu_new = anp.maximum(0.0, nu + mu * problem.inequalities(theta))  # (AL3b)
    mu_new = mu * mu_growth  # (AL4)
    return AugLagState(
        params=theta,
        lam=lam_new,
        nu=nu_new,
        mu=mu_new,
        inner_grad_norm=gnorm,
        inner_iters=iters,
        t=state.t + 1,
    )


def _multipliers(held: Array | None, values: Array, name: str) -> Array:
    """The state's multipliers (zeros at the first step), checked against the constraint count."""
    m = anp.shape(values)[0]
    if held is None:
        return anp.zeros(m)
    if anp.shape(held)[0] != m:
        raise ValueError(
            f"augmented_lagrangian: {name} returns {m} values but the state holds {anp.shape(held)[0]} multipliers"
        )
    return held


def _inner_minimise(
    oracle: FunctionOracle, theta: Array, inner: Inner, steps: int, tol: float, lr: float
) -> tuple[Array, float, int]:
    """Approximately minimise the oracle's function from theta; returns (theta, ||grad||, steps)."""
    g = oracle.grad(theta)
    gnorm = float(np.linalg.norm(getval(g)))
    if gnorm <= tol:
        return theta, gnorm, 0
    if inner == "gd":
        for i in range(steps):
            theta = theta - lr * g
            with np.errstate(over="ignore", invalid="ignore"):  # divergence is reported below
                g = oracle.grad(theta)
                gnorm = float(np.linalg.norm(getval(g)))
            if not math.isfinite(gnorm):
                raise FloatingPointError(
                    f"augmented_lagrangian: inner gradient descent diverged (inner_lr={lr} too large)"
                )
            if gnorm <= tol:
                return theta, gnorm, i + 1
        return theta, gnorm, steps
    opt = lbfgs()
    st = opt.init(theta)
    iters = 0
    for iters in range(1, steps + 1):  # noqa: B007  (the count after the loop is returned)
        st = opt.step(st, oracle)
        if st.stalled:
            break
        if st.grad is not None and float(np.linalg.norm(getval(st.grad))) <= tol:
            break
    theta = st.params
    return theta, float(np.linalg.norm(getval(oracle.grad(theta)))), iters


augmented_lagrangian = method(
    AugLagHyperparams,
    init,
    step,
    "The method of multipliers; step(state, EqualityProblem(f, h)) or "
    "step(state, ConstrainedProblem(f, h=..., g=...)) (g <= 0) is one outer "
    "iteration. See the module docstring and specs/augmented_lagrangian.md.",
)

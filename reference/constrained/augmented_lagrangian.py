r"""Augmented Lagrangian (method of multipliers) for min f(theta) s.t. h(theta) = 0. Spec: specs/augmented_lagrangian.md, (AL1)-(AL4).

Input of each step: an ``EqualityProblem`` (f: R^p -> R and h: R^p -> R^m, both written with
``autograd.numpy``). One step is one outer iteration k (N&W Framework 17.3):

    L_A(theta, lambda; mu) = f(theta) - lambda^T h(theta) + (mu/2) ||h(theta)||^2        (AL1)
    theta_k ~ argmin_theta L_A(theta, lambda_{k-1}; mu_{k-1}), started at theta_{k-1},
        by up to ``inner_steps`` L-BFGS steps (or gradient steps of size ``inner_lr``),
        stopped when ||grad_theta L_A|| <= ``inner_tol``                                (AL2)
    lambda_k = lambda_{k-1} - mu_{k-1} h(theta_k)                                        (AL3)
    mu_k = ``mu_growth`` mu_{k-1}                                                        (AL4)

Note 004 ("Lagrange Multipliers"): Lagrangian L(theta, lambda) = f - lambda^T h; at the optimum
grad f = J_h^T lambda. Since grad_theta L_A(theta; lambda_{k-1}) = grad f - J_h^T (lambda_{k-1} -
mu h) = grad f - J_h^T lambda_k, the stationarity residual after (AL3) is exactly the inner
gradient: ||grad f(theta_k) - J_h(theta_k)^T lambda_k|| = ||grad L_A(theta_k)|| <= inner_tol
(state field ``inner_grad_norm``), and the feasibility is ||h(theta_k)|| = ||lambda_k -
lambda_{k-1}|| / mu_{k-1}.

Conventions:
    * lambda_0 = 0 (``init``), mu_0 = ``mu``; the sign convention is the seed's L = f - lambda^T h
      (N&W eq. 17.36), so lambda is the multiplier with grad f = J_h^T lambda.
    * The inner L-BFGS is ``reference.lbfgs`` (default m = 10, strong Wolfe) on a
      ``FunctionOracle`` of L_A; a stalled L-BFGS (failed line search) ends the inner loop.
    * Not meant to be differentiated with respect to hyperparameters (the inner stopping test and
      the line search are discrete decisions); written with autograd.numpy so that L_A is.

References:
    Hestenes, M. R. (1969). Multiplier and gradient methods. J. Optim. Theory Appl. 4.
    Powell, M. J. D. (1969). A method for nonlinear constraints in minimization problems.
    Nocedal and Wright (2006), section 17.3 (Framework 17.3, eqs. 17.36, 17.39).
    Bertsekas, D. P. (1982). Constrained Optimization and Lagrange Multiplier Methods.
    Note 004 ("Constrained Optimization", "Lagrange Multipliers").
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


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class AugLagState:
    """The state after ``t`` outer iterations."""

    params: Array  # theta_t
    lam: Array | None  # lambda_t (None before the first step: lambda_0 = 0 of size m)
    mu: float  # mu_t, the penalty of the next inner problem
    inner_grad_norm: float  # ||grad L_A(theta_t; lambda_{t-1}, mu_{t-1})|| at the end of (AL2) (nan at t = 0)
    inner_iters: int  # inner steps taken in the last outer iteration
    t: int  # completed outer iterations


def init(params: Array, *, mu: float) -> AugLagState:
    """theta_0 = params (a flat vector), lambda_0 = 0 (sized at the first step), mu_0 = mu."""
    return AugLagState(
        params=as_flat(params), lam=None, mu=float(mu), inner_grad_norm=math.nan, inner_iters=0, t=0
    )


def step(
    state: AugLagState,
    problem: EqualityProblem,
    *,
    mu_growth: float,
    inner: Inner,
    inner_steps: int,
    inner_tol: float,
    inner_lr: float,
) -> AugLagState:
    """One outer iteration, eqs. (AL1)-(AL4) of specs/augmented_lagrangian.md."""
    if not isinstance(problem, EqualityProblem):
        raise TypeError(f"augmented_lagrangian: step needs an EqualityProblem, got {type(problem).__name__}")
    theta = state.params
    m = anp.shape(problem.constraints(theta))[0]
    lam = anp.zeros(m) if state.lam is None else state.lam
    if anp.shape(lam)[0] != m:
        raise ValueError(
            f"augmented_lagrangian: h returns {m} values but the state holds {anp.shape(lam)[0]} multipliers"
        )
    mu = state.mu

    def aug_lagrangian(x: Array) -> Any:
        c = problem.constraints(x)
        return problem.f(x) - anp.dot(lam, c) + 0.5 * mu * anp.dot(c, c)  # (AL1)

    oracle = FunctionOracle(aug_lagrangian, dim=anp.shape(theta)[0])
    theta, gnorm, iters = _inner_minimise(oracle, theta, inner, inner_steps, inner_tol, inner_lr)  # (AL2)
    lam_new = lam - mu * problem.constraints(theta)  # (AL3)
    mu_new = mu * mu_growth  # (AL4)
    return AugLagState(
        params=theta, lam=lam_new, mu=mu_new, inner_grad_norm=gnorm, inner_iters=iters, t=state.t + 1
    )


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
    "The method of multipliers; step(state, EqualityProblem(f, h)) is one outer "
    "iteration. See the module docstring and specs/augmented_lagrangian.md.",
)

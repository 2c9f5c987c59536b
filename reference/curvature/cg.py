r"""Linear conjugate gradient for A x = b, A symmetric positive definite (N&W Alg. 5.2).
Spec: specs/cg.md, eqs. (CG1)-(CG6).

Input of each step: a ``LinearSystem`` record (A as a matrix or a function v -> A v, and b);
``params`` is the iterate x. CG minimises phi(x) = 1/2 x^T A x - b^T x, whose gradient is the
residual r = A x - b:

    r_0 = A x_0 - b,  p_0 = -r_0                           (CG1)  at the first step
    alpha_k = r_k^T r_k / p_k^T A p_k                      (CG2)
    x_{k+1} = x_k + alpha_k p_k                            (CG3)
    r_{k+1} = r_k + alpha_k A p_k                          (CG4)
    beta_{k+1} = r_{k+1}^T r_{k+1} / r_k^T r_k             (CG5)
    p_{k+1} = -r_{k+1} + beta_{k+1} p_k                    (CG6)

In exact arithmetic r_k is orthogonal to r_0..r_{k-1}, so x_n = A^{-1} b after at most n steps
(after as many steps as A has distinct eigenvalues). One product A p per step.

``solve(A, b)`` runs the steps until ||r|| <= tol ||b|| (or max_iter) and is the function form;
``cg()`` is the Method form for the driver. ``solve`` accepts a matrix-free A; Hessian-free
(reference/curvature/hessian_free.py) runs its own truncated CG, which adds Martens' stopping test.

Conventions:
    * x_0 = 0 in ``solve`` unless given; the residual is recurred (CG4), not recomputed, as in
      N&W and scipy.sparse.linalg.cg.
    * A zero residual makes further steps no-ops (alpha would be 0/0).
    * Differentiable by autograd with respect to x_0, b and A (a matrix, or an operator written
      with ``autograd.numpy``): the iterates are rational functions of them; the zero-residual
      and stopping tests are decided on unboxed values.

References:
    Hestenes, M. R. and Stiefel, E. (1952). Methods of conjugate gradients for solving linear
        systems. J. Res. Nat. Bur. Standards 49.
    Nocedal and Wright (2006), Alg. 5.2, Theorem 5.3. Note 003 ("Conjugate Gradient").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import autograd.numpy as anp
import numpy as np
from autograd.tracer import getval, isbox

from .._core import as_params, method
from .._hyper import NONNEGATIVE, Hyperparams, Integer
from .._types import Array
from ..oracle import as_flat

Operator = Array | Callable[[Array], Array]


@dataclass(frozen=True, slots=True, eq=False)
class LinearSystem:
    """A x = b with A a symmetric positive definite (n, n) matrix or a function v -> A v."""

    a: Operator
    b: Array

    def __post_init__(self) -> None:
        b = _floats(self.b)  # autograd boxes (a traced b) pass through
        if anp.ndim(b) != 1:
            raise ValueError(f"cg: b must be a flat vector, got shape {anp.shape(b)}")
        if not callable(self.a):
            a = _floats(self.a)
            n = anp.size(b)
            if anp.shape(a) != (n, n):
                raise ValueError(
                    f"cg: A has shape {anp.shape(a)} but b has shape {anp.shape(b)}; A must be ({n}, {n})"
                )
            if not np.allclose(getval(a), getval(a).T, rtol=1e-12, atol=0.0):
                raise ValueError("cg: A must be symmetric")
            object.__setattr__(self, "a", a)
        object.__setattr__(self, "b", b)

    def matvec(self, v: Array) -> Array:
        out = self.a(v) if callable(self.a) else anp.dot(self.a, v)
        return _floats(out)


def _floats(x: Any) -> Array:
    """``x`` as a float64 array, or the autograd box itself while a computation is traced."""
    out: Array = x if isbox(x) else np.asarray(x, dtype=np.float64)
    return out


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class CGState:
    """CG's state after ``t`` steps."""

    params: Array  # x_t
    r: Array | None  # residual A x_t - b (None before the first step)
    p: Array | None  # search direction p_t
    t: int  # completed steps


def init(params: Array) -> CGState:
    """x_0 = params, t = 0 (r_0 and p_0 need the system: the first step computes them)."""
    return CGState(params=as_flat(params, "x0"), r=None, p=None, t=0)


def step(state: CGState, system: LinearSystem) -> CGState:
    """One CG iteration, eqs. (CG1)-(CG6) of specs/cg.md."""
    if not isinstance(system, LinearSystem):
        raise TypeError(f"cg: step needs a LinearSystem, got {type(system).__name__}")
    x = state.params
    if anp.shape(x) != anp.shape(system.b):
        raise ValueError(f"cg: x has shape {anp.shape(x)} but b has shape {anp.shape(system.b)}")
    if state.r is None or state.p is None:
        r = system.matvec(x) - system.b  # (CG1)
        p = -r
    else:
        r, p = state.r, state.p
    rr = anp.dot(r, r)
    if getval(rr) == 0.0:
        return CGState(params=x, r=r, p=p, t=state.t + 1)
    ap = system.matvec(p)
    pap = anp.dot(p, ap)
    if not getval(pap) > 0:
        raise ValueError(f"cg: A is not positive definite (p^T A p = {getval(pap)!r} at step {state.t + 1})")
    alpha = rr / pap  # (CG2)
    x = x + alpha * p  # (CG3)
    r = r + alpha * ap  # (CG4)
    beta = anp.dot(r, r) / rr  # (CG5)
    p = -r + beta * p  # (CG6)
    return CGState(params=x, r=r, p=p, t=state.t + 1)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class CGResult:
    """``solve``'s answer: the solution, the steps taken, the residual norms ||r_k||, k = 0..n."""

    x: Array
    n_iter: int
    residuals: tuple[float, ...]
    converged: bool


def solve(
    a: Operator,
    b: Any,
    x0: Any = None,
    *,
    tol: float = 1e-10,
    max_iter: int | None = None,
) -> CGResult:
    """Solve A x = b by CG until ||A x - b|| <= tol ||b|| or ``max_iter`` steps (default 10 n)."""
    system = LinearSystem(a, _floats(b))
    n = anp.size(system.b)
    NONNEGATIVE.check("cg", "tol", tol)
    limit = 10 * n if max_iter is None else max_iter
    Integer(ge=0).check("cg", "max_iter", limit)
    x_start = init(as_params(np.zeros(n) if x0 is None else x0)).params
    r0 = system.matvec(x_start) - system.b  # (CG1), computed once: the first step starts from it
    state = CGState(params=x_start, r=r0, p=-r0, t=0)
    res = [float(np.linalg.norm(getval(r0)))]  # diagnostics and the stopping test: unboxed
    target = tol * float(np.linalg.norm(getval(system.b)))
    while res[-1] > target and state.t < limit:
        state = step(state, system)
        res.append(float(np.linalg.norm(getval(state.r))))
    return CGResult(x=state.params, n_iter=state.t, residuals=tuple(res), converged=res[-1] <= target)


@dataclass(frozen=True, eq=False)
class CGHyperparams(Hyperparams):
    """CG has no hyperparameters: a step of (CG1)-(CG6) is fixed by the system (``solve``'s stopping
    rule, tol and max_iter, belongs to the function form, not to the method)."""

    ALGORITHM: ClassVar[str] = "cg"


cg = method(
    CGHyperparams,
    init,
    step,
    "Linear conjugate gradient as a Method: step(state, LinearSystem(A, b)); no hyperparameters.",
)

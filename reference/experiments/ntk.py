r"""The linear view of a network (note 002 §3.3.2, eq. (14)): the empirical neural tangent kernel, the
linearised network trained by gradient descent in closed form, and linear probing. Spec: specs/ntk.md.

For a differentiable model f(theta, X) -> outputs (n,) or (n, k), outputs flattened sample-major:

    J(X) = d vec f(theta, X) / d theta  in R^{(n k) x p}, by autograd                      (NTK1)
    K(X, X') = J(X) J(X')^T   (the empirical NTK Gram matrix)                                (NTK2)

The linearised network f_lin(x; delta) = f(x, theta_0) + J_x delta (eq. (14)) trained on
L(delta) = 1/2 ||f_lin(X; delta) - y||^2 + lambda/2 ||delta||^2 from delta = 0 keeps delta = J^T a
with coefficients a; with K = K(X, X) = U diag(s) U^T, r = y - f(X, theta_0) and a = U diag(phi(s))
U^T r:

    phi(s) = 1 / (s + lambda)   (converged; s + lambda below rcond * max: 0, the pseudo-inverse)  (NTK3)
    phi(s) = (1 - exp(-(s + lambda) t)) / (s + lambda)   (gradient flow, time t; t at s + lambda = 0) (NTK4)
    phi(s) = (1 - (1 - lr (s + lambda))^k) / (s + lambda)   (k GD steps of size lr; k lr at 0)        (NTK5)
    f_lin(x) = f(x, theta_0) + K(x, X) a                                                       (NTK6)

(NTK3) is kernel ridge regression, f_0(x) + K(x, X) (K + lambda I)^{-1} (y - f_0(X)), and lambda = 0
its interpolating limit; (NTK4) is the limit of (NTK5) as lr -> 0 with k lr = t.

Linear probing (note 002's linear-probing subsection of section 3.3): frozen features phi(x) in R^d
(a network's hidden layer at theta_0, or any map), a linear read-out z = phi W + b, W in R^{d x C},
fitted by minimising a convex objective over theta = (W, b) with the project's Newton or L-BFGS:

    F(W, b) = 1/n sum_i [log sum_c exp(z_ic) - z_{i y_i}] + lambda/2 (||W||^2 + ||b||^2)   (logistic) (LP1)
    F(W, b) = 1/(2 n) sum_i ||z_i - y_i||^2 + lambda/2 (||W||^2 + ||b||^2)             (squared)  (LP2)
    ||theta - theta*|| <= ||grad F(theta)|| / lambda,  F(theta) - F* <= ||grad F(theta)||^2 / (2 lambda) (LP3)

Both objectives are lambda-strongly convex (a convex loss of a linear map plus the penalty), so the
minimiser theta* is unique and (LP3) certifies any point by its gradient.

References:
    Note 002 §3.3.2 ("Neural Tangent Kernel (NTK) / Linearization"), eq. (14), and the linear-probing
    subsection before it. Jacot, A., Gabriel, F. and Hongler, C. (2018). Neural Tangent Kernel:
    Convergence and Generalization in Neural Networks. NeurIPS. Lee, J., Xiao, L., Schoenholz, S.,
    Bahri, Y., Novak, R., Sohl-Dickstein, J. and Pennington, J. (2019). Wide Neural Networks of Any
    Depth Evolve as Linear Models Under Gradient Descent. NeurIPS (eqs. (9)-(11): the closed forms).
    Alain, G. and Bengio, Y. (2017). Understanding intermediate layers using linear classifier probes.
    Nesterov, Y. (2004). Introductory Lectures on Convex Optimization, Theorem 2.1.10 (LP3).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import autograd
import autograd.numpy as anp
import numpy as np
from autograd.tracer import getval
from numpy.typing import NDArray

from .._types import Array

Model = Callable[[Any, Array], Any]
ProbeLoss = Literal["logistic", "squared"]
Solver = Literal["newton", "lbfgs"]
LOSSES: tuple[ProbeLoss, ...] = ("logistic", "squared")
SOLVERS: tuple[Solver, ...] = ("newton", "lbfgs")
#: Eigenvalues s + lambda at or below RCOND * max(s + lambda) count as 0 in (NTK3) (the pseudo-inverse).
RCOND = 1e-12


# ---------------------------------------------------------------------------------------------
# Checks of the arguments (one-line errors naming the argument and the constraint)


def _matrix(x: Any, name: str, *, ndim: tuple[int, ...] = (2,)) -> Array:
    try:
        a = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"ntk: {name} must be a numeric array, got {type(x).__name__}") from None
    if a.ndim not in ndim:
        raise ValueError(
            f"ntk: {name} must have {' or '.join(map(str, ndim))} dimensions, got shape {a.shape}"
        )
    if a.size == 0 or not np.all(np.isfinite(a)):
        raise ValueError(f"ntk: {name} must be non-empty and finite")
    return a


def _theta(theta: Any) -> Array:
    return _matrix(theta, "theta", ndim=(1,))


def _nonnegative(x: Any, name: str) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not (math.isfinite(x) and x >= 0):
        raise ValueError(f"ntk: {name} must be a finite number >= 0, got {x!r}")
    return float(x)


def _positive(x: Any, name: str) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not (math.isfinite(x) and x > 0):
        raise ValueError(f"ntk: {name} must be a finite number > 0, got {x!r}")
    return float(x)


def _count(x: Any, name: str, low: int) -> int:
    if isinstance(x, bool) or not isinstance(x, (int, np.integer)) or x < low:
        raise ValueError(f"ntk: {name} must be an int >= {low}, got {x!r}")
    return int(x)


# ---------------------------------------------------------------------------------------------
# The empirical NTK


def outputs(f: Model, theta: Any, X: Any) -> Array:
    """vec f(theta, X): the model's outputs flattened sample-major, (n k,)."""
    if not callable(f):
        raise TypeError(f"ntk: f must be callable f(theta, X), got {type(f).__name__}")
    th, Xa = _theta(theta), _matrix(X, "X", ndim=(1, 2))
    out = np.asarray(f(th, Xa), dtype=np.float64)
    if out.ndim not in (1, 2) or out.shape[0] != Xa.shape[0]:
        raise ValueError(
            f"ntk: f(theta, X) must have shape (n,) or (n, k) with n = {Xa.shape[0]}, got {out.shape}"
        )
    return out.reshape(-1)


def jacobian(f: Model, theta: Any, X: Any) -> Array:
    """J(X) = d vec f(theta, X) / d theta, shape (n k, p): one forward pass and one backward pass per
    output by autograd (no loop over samples in the model), (NTK1)."""
    out = outputs(f, theta, X)
    th, Xa = _theta(theta), _matrix(X, "X", ndim=(1, 2))
    J = autograd.jacobian(lambda t: anp.reshape(f(t, Xa), (-1,)))(th)  # (NTK1)
    return np.asarray(J, dtype=np.float64).reshape(out.size, th.size)


def ntk(f: Model, theta: Any, X: Any, X2: Any = None) -> Array:
    """The empirical NTK Gram matrix K(X, X2) = J(X) J(X2)^T, (n k, m k); X2 = None: K(X, X),
    symmetric positive semi-definite, (NTK2)."""
    J = jacobian(f, theta, X)
    if X2 is None:
        K = J @ J.T  # (NTK2)
        return np.asarray(0.5 * (K + K.T))
    return np.asarray(J @ jacobian(f, theta, X2).T)


# ---------------------------------------------------------------------------------------------
# The linearised network trained in closed form


@dataclass(frozen=True)
class KernelFit:
    """K(X, X) = U diag(s) U^T and the residual r = y - f(X, theta_0) of the training set: what
    (NTK3)-(NTK6) need, computed once for any number of times, steps and test points."""

    eigenvalues: Array  # s, ascending
    eigenvectors: Array  # U
    residual: Array  # r = vec(y - f_0(X))
    ridge: float  # lambda


def kernel_fit(K: Any, y: Any, f0: Any, ridge: float = 0.0) -> KernelFit:
    """Eigendecompose the training Gram matrix ``K`` (n k x n k) and keep r = y - f0 (flattened)."""
    Ka = _matrix(K, "K")
    if Ka.shape[0] != Ka.shape[1] or not np.allclose(Ka, Ka.T, rtol=1e-12, atol=1e-14 * np.abs(Ka).max()):
        raise ValueError(f"ntk: K must be a symmetric square matrix, got shape {Ka.shape}")
    r = _matrix(y, "y", ndim=(1, 2)).reshape(-1) - _matrix(f0, "f0", ndim=(1, 2)).reshape(-1)
    if r.size != Ka.shape[0]:
        raise ValueError(f"ntk: y and f0 must have {Ka.shape[0]} entries (K's size), got {r.size}")
    lam = _nonnegative(ridge, "ridge")
    s, U = np.linalg.eigh(0.5 * (Ka + Ka.T))
    return KernelFit(np.asarray(s), np.asarray(U), np.asarray(r), lam)


def _filter(fit: KernelFit, t: float, lr: float | None, steps: int = 0) -> Array:
    """phi(s) of (NTK3) (t = inf), (NTK4) (flow, time t) or (NTK5) (``steps`` GD steps of ``lr``)."""
    x = fit.eigenvalues + fit.ridge
    tiny = x <= RCOND * max(float(np.max(np.abs(x))), 1e-300)
    safe = np.where(tiny, 1.0, x)
    if math.isinf(t) and lr is None:
        phi = np.where(tiny, 0.0, 1.0 / safe)  # (NTK3)
    elif lr is None:
        phi = np.where(tiny, t, -np.expm1(-x * t) / safe)  # (NTK4)
    else:
        q = lr * x  # 1 - (1 - q)^k, by expm1/log1p where 1 - q > 0 (accurate for small q)
        small = q < 1.0
        grown = np.where(
            small,
            -np.expm1(steps * np.log1p(-np.where(small, q, 0.0))),
            1.0 - (1.0 - np.where(small, 0.0, q)) ** steps,
        )
        phi = np.where(tiny, steps * lr, grown / safe)  # (NTK5)
    return np.asarray(phi)


def kernel_predict(
    fit: KernelFit,
    K_cross: Any,
    f0_cross: Any,
    *,
    t: float = math.inf,
    lr: float | None = None,
    steps: int | None = None,
) -> Array:
    """f_lin at the points of ``K_cross`` = K(x, X) (m k x n k) with f0_cross = f(x, theta_0), (NTK6):
    after gradient flow for time ``t`` (NTK4; inf: converged, NTK3), or after ``steps`` GD steps of
    size ``lr`` (NTK5; give both, and not t). Returns the flattened outputs (m k,)."""
    Kc = _matrix(K_cross, "K_cross")
    if Kc.shape[1] != fit.residual.size:
        raise ValueError(
            f"ntk: K_cross must have {fit.residual.size} columns (the training outputs), got {Kc.shape}"
        )
    f0c = _matrix(f0_cross, "f0_cross", ndim=(1, 2)).reshape(-1)
    if f0c.size != Kc.shape[0]:
        raise ValueError(f"ntk: f0_cross must have {Kc.shape[0]} entries (K_cross's rows), got {f0c.size}")
    if (lr is None) != (steps is None):
        raise ValueError("ntk: give lr and steps together (GD), or neither (gradient flow for time t)")
    if lr is not None:
        if not math.isinf(t):
            raise ValueError("ntk: give either t (gradient flow) or lr and steps (GD), not both")
        lr_, k = _positive(lr, "lr"), _count(steps, "steps", 0)
        phi = _filter(fit, math.inf, lr_, k)
    else:
        phi = _filter(fit, t if math.isinf(t) and t > 0 else _nonnegative(t, "t"), None)
    U = fit.eigenvectors
    a = U @ (phi * (U.T @ fit.residual))
    return np.asarray(f0c + Kc @ a)  # (NTK6)


def linearised_predict(
    f: Model,
    theta0: Any,
    X: Any,
    y: Any,
    X_test: Any,
    *,
    ridge: float = 0.0,
    t: float = math.inf,
    lr: float | None = None,
    steps: int | None = None,
) -> Array:
    """The linearised network at ``theta0`` (eq. (14)) trained on (X, y) from theta0, evaluated at
    ``X_test``: kernel ridge regression with the empirical NTK (t = inf), the gradient flow at time
    t, or ``steps`` GD steps of size ``lr``, (NTK1)-(NTK6). Returns an array shaped as f(theta0, X_test)."""
    J = jacobian(f, theta0, X)
    Jt = jacobian(f, theta0, X_test)
    fit = kernel_fit(J @ J.T, y, outputs(f, theta0, X), ridge)
    shape = np.asarray(f(_theta(theta0), _matrix(X_test, "X_test", ndim=(1, 2)))).shape
    out = kernel_predict(fit, Jt @ J.T, outputs(f, theta0, X_test), t=t, lr=lr, steps=steps)
    return out.reshape(shape)


# ---------------------------------------------------------------------------------------------
# Linear probing


@dataclass(frozen=True)
class Probe:
    """A fitted linear probe: read-out z = features @ weights + bias, and its optimality certificate."""

    weights: Array  # W, (d, C)
    bias: Array | None  # b, (C,), or None (fit_bias=False)
    loss: ProbeLoss
    l2: float  # lambda
    objective: float  # F(W, b)
    grad_norm: float  # ||grad F(W, b)|| (autograd): the certificate of (LP3)
    steps: int  # solver steps taken
    solver: Solver
    converged: bool  # grad_norm <= tol

    @property
    def distance_bound(self) -> float:
        """||theta - theta*|| <= ||grad F|| / lambda, (LP3)."""
        return self.grad_norm / self.l2

    @property
    def gap_bound(self) -> float:
        """F(theta) - F* <= ||grad F||^2 / (2 lambda), (LP3)."""
        return self.grad_norm**2 / (2.0 * self.l2)

    @property
    def params(self) -> Array:
        """theta = (W row-major, b), the solver's flat vector."""
        parts = [self.weights.ravel()] + ([] if self.bias is None else [self.bias])
        return np.concatenate(parts)

    def predict(self, features: Any) -> Array:
        """z = features @ W + b: logits (logistic) or outputs (squared), (n, C)."""
        Phi = _matrix(features, "features")
        if Phi.shape[1] != self.weights.shape[0]:
            raise ValueError(f"ntk: features must have {self.weights.shape[0]} columns, got {Phi.shape}")
        z = Phi @ self.weights
        return np.asarray(z if self.bias is None else z + self.bias)


def _targets(y: Any, n: int, loss: ProbeLoss, n_classes: int | None) -> tuple[NDArray[Any], int]:
    """Labels (logistic: ints in [0, C), (n,)) or targets (squared: (n, C) from (n,) or (n, C)) and C."""
    ya = np.asarray(y)
    if ya.shape[:1] != (n,):
        raise ValueError(f"ntk: y must have one entry per row of features ({n}), got shape {ya.shape}")
    if loss == "logistic":
        if ya.ndim != 1 or not np.issubdtype(ya.dtype, np.integer) or ya.min() < 0:
            raise ValueError("ntk: y must be a 1-D array of integer class labels >= 0 for loss='logistic'")
        C = int(ya.max()) + 1 if n_classes is None else _count(n_classes, "n_classes", 2)
        if ya.max() >= C or C < 2:
            raise ValueError(
                f"ntk: y's labels must lie in [0, n_classes) with n_classes >= 2, got {ya.max()} and {C}"
            )
        return ya.astype(np.intp), C
    yf = _matrix(ya, "y", ndim=(1, 2))
    return (yf[:, None] if yf.ndim == 1 else yf), (1 if yf.ndim == 1 else yf.shape[1])


def probe_objective(
    features: Any,
    y: Any,
    *,
    loss: ProbeLoss = "logistic",
    l2: float = 1e-3,
    fit_bias: bool = True,
    n_classes: int | None = None,
) -> tuple[Callable[[Any], Any], int, int]:
    """F of (LP1) / (LP2) as a function of the flat theta = (W row-major, b), traceable by autograd,
    with d and C."""
    Phi = _matrix(features, "features")
    if loss not in LOSSES:
        raise ValueError(f"ntk: loss must be one of {LOSSES}, got {loss!r}")
    lam = _positive(l2, "l2")
    Y, C = _targets(y, Phi.shape[0], loss, n_classes)
    n, d = Phi.shape
    rows = np.arange(n)

    def F(theta: Any) -> Any:
        W = anp.reshape(theta[: d * C], (d, C))
        z = anp.dot(Phi, W) + (theta[d * C :] if fit_bias else 0.0)
        if loss == "logistic":
            m = getval(anp.max(z, axis=1, keepdims=True))  # a constant shift: exact derivative
            lse = anp.log(anp.sum(anp.exp(z - m), axis=1)) + m[:, 0]
            data = anp.mean(lse - z[rows, Y])  # (LP1)
        else:
            data = 0.5 * anp.sum((z - Y) ** 2) / n  # (LP2)
        return data + 0.5 * lam * anp.sum(theta**2)

    return F, d, C


def linear_probe(
    features: Any,
    y: Any,
    *,
    loss: ProbeLoss = "logistic",
    l2: float = 1e-3,
    fit_bias: bool = True,
    n_classes: int | None = None,
    solver: Solver = "newton",
    theta0: Any = None,
    tol: float = 1e-9,
    max_steps: int = 200,
) -> Probe:
    """Fit a linear read-out on frozen ``features`` (n, d) by minimising (LP1) (``loss="logistic"``,
    ``y`` integer labels) or (LP2) (``"squared"``, ``y`` targets (n,) or (n, C)) with ``ref.newton``
    or ``ref.lbfgs`` from ``theta0`` (default 0) until ||grad F|| <= ``tol`` or ``max_steps`` steps;
    the result carries the certificate of (LP3)."""
    import reference as ref
    from reference.oracle import FunctionOracle

    F, d, C = probe_objective(features, y, loss=loss, l2=l2, fit_bias=fit_bias, n_classes=n_classes)
    if solver not in SOLVERS:
        raise ValueError(f"ntk: solver must be one of {SOLVERS}, got {solver!r}")
    tol_, steps = _positive(tol, "tol"), _count(max_steps, "max_steps", 1)
    p = d * C + (C if fit_bias else 0)
    th = np.zeros(p) if theta0 is None else _theta(theta0)
    if th.size != p:
        raise ValueError(f"ntk: theta0 must have {p} entries ((d + bias) x C), got {th.size}")
    oracle = FunctionOracle(F, dim=p)
    opt: Any = ref.newton() if solver == "newton" else ref.lbfgs()
    state = opt.init(th)
    g = oracle.grad(th)
    taken = 0
    while taken < steps and float(np.linalg.norm(g)) > tol_ and not getattr(state, "stalled", False):
        state = opt.step(state, oracle)
        taken += 1
        g = state.grad if state.grad is not None else oracle.grad(state.params)
    theta = np.asarray(state.params, dtype=np.float64)
    g = oracle.grad(theta)  # (LP3): the certificate at the returned point
    gn = float(np.linalg.norm(g))
    return Probe(
        weights=theta[: d * C].reshape(d, C),
        bias=theta[d * C :].copy() if fit_bias else None,
        loss=loss,
        l2=float(l2),
        objective=float(F(theta)),
        grad_norm=gn,
        steps=taken,
        solver=solver,
        converged=gn <= tol_,
    )

r"""Bayesian optimisation of one (log-)hyperparameter: a Gaussian process with an RBF kernel and
expected improvement, eqs. (H9)-(H13) of specs/hpo.md (package docstring: reference/hpo/__init__.py).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import autograd
import autograd.numpy as anp
import numpy as np
import scipy.linalg
import scipy.optimize
import scipy.special
from autograd.extend import defvjp, primitive

from .._core import check_count, check_nonnegative, check_positive, check_rng
from .._types import Array, ArrayLike
from .objective import _eval
from .space import Config, Evaluation, SearchSpace, SpaceResult, as_generator, result, score

_JITTER = 1e-10  # relative to sigma_f^2, added to the diagonal of K for the Cholesky factor
# Box on the GP hyperparameters (inputs scaled to [0, 1], outputs standardised): log ell, log sigma_f^2,
# log sigma_n^2.
_LOG_BOUNDS = (
    (math.log(1e-2), math.log(2.0)),
    (math.log(1e-2), math.log(1e2)),
    (math.log(1e-8), math.log(1.0)),
)


def rbf_kernel(a: ArrayLike, b: ArrayLike, length_scale: float, signal_var: float) -> Array:
    """k(u, u') = sigma_f^2 exp(-(u - u')^2 / (2 ell^2)) for 1-D inputs, eq. (H9); shape (len a, len b)."""
    ua, ub = np.asarray(a, dtype=np.float64).reshape(-1), np.asarray(b, dtype=np.float64).reshape(-1)
    d = ua[:, None] - ub[None, :]
    k: Array = signal_var * np.exp(-0.5 * (d / length_scale) ** 2)  # (H9)
    return k


def _chol(u: Array, length_scale: float, signal_var: float, noise_var: float) -> Array:
    K = rbf_kernel(u, u, length_scale, signal_var)
    K[np.diag_indices_from(K)] += noise_var + _JITTER * signal_var
    L: Array = np.asarray(np.linalg.cholesky(K), dtype=np.float64)
    return L


def log_marginal_likelihood(
    u: ArrayLike, y: ArrayLike, length_scale: float, signal_var: float, noise_var: float
) -> float:
    """log p(y | u) = -1/2 y^T K_y^{-1} y - sum_i log L_ii - (n/2) log 2 pi, K_y = K + sigma_n^2 I
    = L L^T, eq. (H10) (zero prior mean)."""
    ua, ya = np.asarray(u, dtype=np.float64).reshape(-1), np.asarray(y, dtype=np.float64).reshape(-1)
    try:
        L = _chol(ua, length_scale, signal_var, noise_var)
    except np.linalg.LinAlgError:
        return -math.inf
    a = scipy.linalg.solve_triangular(L, ya, lower=True)
    return float(-0.5 * a @ a - np.log(np.diag(L)).sum() - 0.5 * len(ya) * math.log(2 * math.pi))  # (H10)


@dataclass(frozen=True)
class GaussianProcess:
    """A GP posterior on 1-D inputs: the RBF kernel (H9) on the data (u, y), y standardised
    internally (y_mean, y_scale); ``predict`` returns mean and variance in the units of y, eq. (H11)."""

    u: Array
    y: Array
    length_scale: float
    signal_var: float
    noise_var: float
    y_mean: float
    y_scale: float
    chol: Array
    alpha: Array

    def predict(self, us: ArrayLike) -> tuple[Array, Array]:
        """Posterior mean m(u*) = k*^T K_y^{-1} y and variance v(u*) = k(u*, u*) - k*^T K_y^{-1} k*
        (of the latent f, without sigma_n^2), eq. (H11), at the points ``us``."""
        q = np.asarray(us, dtype=np.float64).reshape(-1)
        ks = rbf_kernel(self.u, q, self.length_scale, self.signal_var)
        mean = ks.T @ self.alpha  # (H11)
        w = scipy.linalg.solve_triangular(self.chol, ks, lower=True)
        var = np.maximum(self.signal_var - np.sum(w * w, axis=0), 0.0)
        return self.y_mean + self.y_scale * mean, self.y_scale**2 * var


def fit_gp(
    u: ArrayLike,
    y: ArrayLike,
    *,
    rng: np.random.Generator | None = None,
    restarts: int = 3,
    length_scale: float | None = None,
    signal_var: float | None = None,
    noise_var: float | None = None,
) -> GaussianProcess:
    """Fit a zero-mean GP with the RBF kernel (H9) to 1-D data, y standardised (mean 0, std 1).

    The kernel hyperparameters not given are chosen by maximising the log marginal likelihood (H10)
    with ``scipy.optimize.minimize`` (L-BFGS-B on their logs, box ``_LOG_BOUNDS``: ell in
    [0.01, 2] in units of the input range, sigma_f^2 in [0.01, 100], sigma_n^2 in [1e-8, 1] in
    units of var y) from the box centre and ``restarts`` starts drawn from ``rng`` (required when
    something is fitted). Given values are held fixed (noise_var = 0 gives an interpolating GP up
    to a jitter of 1e-10 sigma_f^2)."""
    who = "fit_gp"
    ua, ya = np.asarray(u, dtype=np.float64).reshape(-1), np.asarray(y, dtype=np.float64).reshape(-1)
    if ua.size == 0 or ua.shape != ya.shape:
        raise ValueError(f"{who}: u and y must be non-empty and of equal length, got {ua.size} and {ya.size}")
    if not (np.all(np.isfinite(ua)) and np.all(np.isfinite(ya))):
        raise ValueError(f"{who}: u and y must be finite")
    if length_scale is not None:
        check_positive(who, "length_scale", length_scale)
    if signal_var is not None:
        check_positive(who, "signal_var", signal_var)
    if noise_var is not None:
        check_nonnegative(who, "noise_var", noise_var)
    restarts = check_count(who, "restarts", restarts, minimum=0)
    y_mean = float(ya.mean())
    sd = float(ya.std())
    y_scale = sd if sd > 0 else 1.0
    ys = (ya - y_mean) / y_scale
    fixed = (length_scale, signal_var, noise_var)
    free = [i for i, v in enumerate(fixed) if v is None]
    theta = [math.log(v) if v else 0.0 for v in fixed]
    if free:
        theta = _max_marginal_likelihood(ua, ys, theta, free, noise_var, check_rng(rng, who=who), restarts)
    ell, sf2 = math.exp(theta[0]), math.exp(theta[1])
    sn2 = noise_var if noise_var is not None else math.exp(theta[2])
    L = _chol(ua, ell, sf2, sn2)
    alpha = scipy.linalg.cho_solve((L, True), ys)
    return GaussianProcess(
        u=ua,
        y=ya,
        length_scale=ell,
        signal_var=sf2,
        noise_var=sn2,
        y_mean=y_mean,
        y_scale=y_scale,
        chol=L,
        alpha=alpha,
    )


def _neg_log_ml(
    z: Array, ua: Array, ys: Array, theta: list[float], free: list[int], noise_var: float | None
) -> tuple[float, Array]:
    """-log p(y | u) of (H10) and its gradient in the free log hyperparameters ``z`` (entries
    ``free`` of theta = (log ell, log sigma_f^2, log sigma_n^2); the others held at ``theta``)."""
    p = list(theta)
    for i, zi in zip(free, z):
        p[i] = float(zi)
    ell, sf2 = math.exp(p[0]), math.exp(p[1])
    sn2 = noise_var if noise_var is not None else math.exp(p[2])
    try:
        L = _chol(ua, ell, sf2, sn2)
    except np.linalg.LinAlgError:
        return 1e300, np.zeros(len(free))
    a = scipy.linalg.cho_solve((L, True), ys)
    value = 0.5 * float(ys @ a) + float(np.log(np.diag(L)).sum()) + 0.5 * len(ys) * math.log(2 * math.pi)
    # d(-log p)/d theta_i = -1/2 tr((a a^T - K_y^{-1}) dK_y/d theta_i), theta = log hyperparameters
    W = np.outer(a, a) - scipy.linalg.cho_solve((L, True), np.eye(len(ys)))
    E = rbf_kernel(ua, ua, ell, sf2)
    dK = (
        E * (ua[:, None] - ua[None, :]) ** 2 / ell**2,
        E + _JITTER * sf2 * np.eye(len(ys)),
        sn2 * np.eye(len(ys)),
    )
    return value, np.array([-0.5 * float(np.sum(W * dK[i])) for i in free])


def _max_marginal_likelihood(
    ua: Array,
    ys: Array,
    theta: list[float],
    free: list[int],
    noise_var: float | None,
    gen: np.random.Generator,
    restarts: int,
) -> list[float]:
    """``theta`` with its ``free`` entries maximising (H10): L-BFGS-B on the box ``_LOG_BOUNDS``
    from the box centre and ``restarts`` starts drawn from ``gen``; the best run wins (the
    earliest on a tie)."""
    box = [_LOG_BOUNDS[i] for i in free]
    starts = [np.array([(lo + hi) / 2 for lo, hi in box])]
    starts += [np.array([gen.uniform(lo, hi) for lo, hi in box]) for _ in range(restarts)]
    runs = [
        scipy.optimize.minimize(
            _neg_log_ml, z0, args=(ua, ys, theta, free, noise_var), jac=True, method="L-BFGS-B", bounds=box
        )
        for z0 in starts
    ]
    best = min(runs, key=lambda r: float(r.fun))
    out = list(theta)
    for i, zi in zip(free, np.asarray(best.x, dtype=np.float64)):
        out[i] = float(zi)
    return out


def expected_improvement(mean: ArrayLike, var: ArrayLike, best: float, xi: float = 0.0) -> Array:
    """EI(u) = E[max(f* - xi - f(u), 0)] for f(u) ~ N(m, v), minimisation, eq. (H12):
    with s = sqrt(v), z = (f* - xi - m) / s: EI = (f* - xi - m) Phi(z) + s phi(z); where s = 0 it is
    max(f* - xi - m, 0)."""
    m = np.asarray(mean, dtype=np.float64)
    s = np.sqrt(np.maximum(np.asarray(var, dtype=np.float64), 0.0))
    imp = best - xi - m
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(s > 0, imp / np.where(s > 0, s, 1.0), 0.0)
    phi = np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
    ei = np.where(s > 0, imp * scipy.special.ndtr(z) + s * phi, np.maximum(imp, 0.0))  # (H12)
    out: Array = np.maximum(ei, 0.0)
    return out


@dataclass(frozen=True)
class BOResult:
    """The outcome of ``bayesian_optimization``: the best point x and its value, every point tried
    (xs, in order: the n_init initial points, then one per iteration) and its value (inf where
    the objective was not finite), and the GP fitted last."""

    x: float
    value: float
    xs: tuple[float, ...]
    values: tuple[float, ...]
    evaluations: int
    gp: GaussianProcess


def bayesian_optimization(
    objective: Callable[[float], float],
    bounds: tuple[float, float],
    *,
    n_init: int = 4,
    n_iter: int = 12,
    seed: int | np.random.Generator = 0,
    log_scale: bool = False,
    grid_size: int = 2001,
    restarts: int = 3,
    xi: float = 0.0,
) -> BOResult:
    """Bayesian optimisation of a scalar objective of one hyperparameter x in [low, high]
    (minimisation), eqs. (H9)-(H13).

    x is mapped to u in [0, 1] (u = (log x - log low) / (log high - log low) if ``log_scale``, the
    natural choice for a learning rate; else linearly). n_init initial points are stratified: one
    uniform draw in each of n_init equal slices of [0, 1]. Then, n_iter times: fit the GP (H9)-(H10)
    (``fit_gp``, hyperparameters by maximum marginal likelihood) to all values so far, compute
    the posterior (H11) and EI (H12) with the incumbent f* = the least value so far on ``grid_size``
    equally spaced u, and evaluate the objective at the maximiser of EI (H13). If EI is 0 on the
    whole grid (nothing left to gain by the model) a grid point is drawn uniformly instead.

    A non-finite value (a diverged run) is recorded as inf and given to the GP as the worst finite
    value seen so far. All randomness comes from ``seed`` (an int or a Generator).
    """
    low, high, rng = _check_bo_args(
        objective, bounds, log_scale, n_init, n_iter, grid_size, restarts, xi, seed
    )

    def to_x(u: float) -> float:
        if log_scale:
            return float(math.exp(math.log(low) + u * (math.log(high) - math.log(low))))
        return float(low + u * (high - low))

    us: list[float] = [float((i + rng.uniform()) / n_init) for i in range(n_init)]
    vals: list[float] = [_eval(objective, to_x(u)) for u in us]
    grid = np.linspace(0.0, 1.0, grid_size)
    gp = _fit_to_values(us, vals, rng, restarts)
    for _ in range(n_iter):
        m, v = gp.predict(grid)
        ei = expected_improvement(m, v, min(x for x in vals if math.isfinite(x)), xi)
        j = int(np.argmax(ei)) if float(ei.max()) > 0 else int(rng.integers(grid_size))  # (H13)
        us.append(float(grid[j]))
        vals.append(_eval(objective, to_x(us[-1])))
        gp = _fit_to_values(us, vals, rng, restarts)
    i = int(np.argmin(vals))
    return BOResult(
        x=to_x(us[i]),
        value=vals[i],
        xs=tuple(to_x(u) for u in us),
        values=tuple(vals),
        evaluations=len(vals),
        gp=gp,
    )


def _fit_to_values(
    us: list[float], vals: list[float], rng: np.random.Generator, restarts: int
) -> GaussianProcess:
    """The GP of (H9)-(H10) fitted to the values so far, a non-finite value replaced by the worst
    finite one; ValueError if none is finite."""
    finite = [v for v in vals if math.isfinite(v)]
    if not finite:
        raise ValueError(
            f"bayesian_optimization: the objective was not finite at any of the {len(vals)} points tried"
        )
    worst = max(finite)
    return fit_gp(us, [v if math.isfinite(v) else worst for v in vals], rng=rng, restarts=restarts)


def _check_bo_args(
    objective: object,
    bounds: tuple[float, float],
    log_scale: bool,
    n_init: int,
    n_iter: int,
    grid_size: int,
    restarts: int,
    xi: float,
    seed: int | np.random.Generator,
) -> tuple[float, float, np.random.Generator]:
    """(low, high, the Generator) after checking every argument of ``bayesian_optimization``."""
    who = "bayesian_optimization"
    if not callable(objective):
        raise TypeError(f"{who}: objective must be callable x -> float, got {type(objective).__name__}")
    try:
        low, high = (float(bounds[0]), float(bounds[1]))
        ok = len(bounds) == 2
    except (TypeError, IndexError, ValueError):
        ok = False
    if not ok or not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise ValueError(
            f"{who}: bounds must be a pair (low, high) of finite numbers with low < high, got {bounds!r}"
        )
    if log_scale and not low > 0:
        raise ValueError(f"{who}: log_scale needs bounds > 0, got {bounds!r}")
    check_count(who, "n_init", n_init, minimum=2)
    check_count(who, "n_iter", n_iter, minimum=0)
    check_count(who, "grid_size", grid_size, minimum=2)
    check_count(who, "restarts", restarts, minimum=0)
    check_nonnegative(who, "xi", xi)
    if isinstance(seed, np.random.Generator):
        return low, high, seed
    if not isinstance(seed, bool) and isinstance(seed, (int, np.integer)):
        return low, high, np.random.default_rng(int(seed))
    raise TypeError(f"{who}: seed must be an int or a numpy.random.Generator, got {type(seed).__name__}")


# ---------------------------------------------------------------------------------------------
# Several hyperparameters: an ARD kernel on the unit cube, eqs. (H14)-(H17)
# ---------------------------------------------------------------------------------------------

KERNELS = ("matern52", "rbf")
# L-BFGS-B per start, (H15) and (H16): a loose stop (the GP's hyperparameters and EI's argmax need
# no more digits than this to pick the same next point, and each gradient is an autograd pass).
_LBFGSB = {"maxiter": 60, "ftol": 1e-7, "gtol": 1e-5}
_EI_FLOOR = 1e-300  # variance floor inside the square root of (H16)
# Box on the ARD GP's hyperparameters (u in [0, 1]^d, y standardised): log ell_j, log sigma_f^2,
# log sigma_n^2.
_ARD_LOG_BOUNDS = (
    (math.log(1e-2), math.log(1e1)),
    (math.log(1e-2), math.log(1e2)),
    (math.log(1e-6), math.log(1.0)),
)


def ard_kernel(A: Any, B: Any, length_scales: Any, signal_var: Any, kind: str = "matern52") -> Any:
    """k(u, u') on rows of A (n, d) and B (m, d), eq. (H14), with r^2 = sum_j (u_j - u'_j)^2 / ell_j^2:
    "rbf": sigma_f^2 exp(-r^2 / 2); "matern52": sigma_f^2 (1 + sqrt5 r + 5 r^2 / 3) exp(-sqrt5 r).
    Written with autograd.numpy (differentiable in the length-scales, the variance and A)."""
    diff = (A[:, None, :] - B[None, :, :]) / length_scales
    r2 = anp.sum(diff * diff, axis=2)
    if kind == "rbf":
        return signal_var * anp.exp(-0.5 * r2)  # (H14) rbf
    r = anp.sqrt(anp.maximum(r2, 1e-300))  # dk/dr = 0 at r = 0: the floor changes nothing there
    return signal_var * (1.0 + _SQRT5 * r + (5.0 / 3.0) * r2) * anp.exp(-_SQRT5 * r)  # (H14) matern52


_SQRT5 = math.sqrt(5.0)


def _ard_neg_log_ml(theta: Any, U: Array, ys: Array, kind: str) -> Any:
    """-log p(y | U) of (H10) for the ARD kernel (H14) + noise, theta = (log ell_1..d, log sigma_f^2,
    log sigma_n^2); differentiated by autograd (a Cholesky factor and a solve), eq. (H15)."""
    n, d = U.shape
    ell, sf2, sn2 = anp.exp(theta[:d]), anp.exp(theta[d]), anp.exp(theta[d + 1])
    K = ard_kernel(U, U, ell, sf2, kind) + (sn2 + _JITTER * sf2) * np.eye(n)
    L = anp.linalg.cholesky(K)
    a = anp.linalg.solve(L, ys)
    return 0.5 * anp.sum(a * a) + anp.sum(anp.log(anp.diag(L))) + 0.5 * n * math.log(2 * math.pi)  # (H15)


@dataclass(frozen=True)
class ArdGaussianProcess:
    """A GP posterior on [0, 1]^d with the ARD kernel (H14), fitted by ``fit_gp_ard``; y standardised
    internally. ``predict`` gives the mean and latent variance in the units of y, (H11)."""

    U: Array
    y: Array
    kind: str
    length_scales: Array
    signal_var: float
    noise_var: float
    y_mean: float
    y_scale: float
    chol: Array
    alpha: Array

    def predict(self, Q: ArrayLike) -> tuple[Array, Array]:
        """Posterior mean and variance of f at the rows of Q (m, d), eq. (H11)."""
        q = np.asarray(Q, dtype=np.float64).reshape(-1, self.U.shape[1])
        ks = np.asarray(ard_kernel(self.U, q, self.length_scales, self.signal_var, self.kind))
        mean = ks.T @ self.alpha
        w = scipy.linalg.solve_triangular(self.chol, ks, lower=True)
        var = np.maximum(self.signal_var - np.sum(w * w, axis=0), 0.0)
        return self.y_mean + self.y_scale * mean, self.y_scale**2 * var


def fit_gp_ard(
    U: ArrayLike, y: ArrayLike, *, rng: np.random.Generator, restarts: int = 3, kind: str = "matern52"
) -> ArdGaussianProcess:
    """Fit a zero-mean GP with the ARD kernel (H14) to points U (n, d) of the unit cube and values
    y (standardised), all d + 2 log hyperparameters by maximum marginal likelihood, eq. (H15):
    L-BFGS-B with autograd's gradient on the box ell_j in [0.01, 10], sigma_f^2 in [0.01, 100],
    sigma_n^2 in [1e-6, 1], from the box centre and ``restarts`` uniform starts from ``rng``."""
    who = "fit_gp_ard"
    Ua = np.asarray(U, dtype=np.float64)
    ya = np.asarray(y, dtype=np.float64).reshape(-1)
    if Ua.ndim != 2 or Ua.shape[0] == 0 or Ua.shape[0] != ya.size:
        raise ValueError(f"{who}: U must be (n, d) with n = len(y) >= 1, got U {Ua.shape}, y {ya.shape}")
    if not (np.all(np.isfinite(Ua)) and np.all(np.isfinite(ya))):
        raise ValueError(f"{who}: U and y must be finite")
    if kind not in KERNELS:
        raise ValueError(f"{who}: kind must be one of {list(KERNELS)}, got {kind!r}")
    restarts = check_count(who, "restarts", restarts, minimum=0)
    gen = check_rng(rng, who=who)
    d = Ua.shape[1]
    y_mean, sd = float(ya.mean()), float(ya.std())
    y_scale = sd if sd > 0 else 1.0
    ys = (ya - y_mean) / y_scale
    box = [_ARD_LOG_BOUNDS[0]] * d + [_ARD_LOG_BOUNDS[1], _ARD_LOG_BOUNDS[2]]
    value_and_grad = autograd.value_and_grad(_ard_neg_log_ml)

    def f(z: Array) -> tuple[float, Array]:
        try:
            v, g = value_and_grad(z, Ua, ys, kind)
        except np.linalg.LinAlgError:
            return 1e300, np.zeros_like(z)
        v = float(v)
        return (v, np.asarray(g, dtype=np.float64)) if math.isfinite(v) else (1e300, np.zeros_like(z))

    starts = [np.array([(lo + hi) / 2 for lo, hi in box])]
    starts += [np.array([gen.uniform(lo, hi) for lo, hi in box]) for _ in range(restarts)]
    runs = [
        scipy.optimize.minimize(f, z0, jac=True, method="L-BFGS-B", bounds=box, options=_LBFGSB)
        for z0 in starts
    ]
    z = np.asarray(min(runs, key=lambda r: float(r.fun)).x, dtype=np.float64)  # (H15)
    ell, sf2, sn2 = np.exp(z[:d]), float(np.exp(z[d])), float(np.exp(z[d + 1]))
    K = np.asarray(ard_kernel(Ua, Ua, ell, sf2, kind)) + (sn2 + _JITTER * sf2) * np.eye(len(ya))
    L = np.asarray(np.linalg.cholesky(K), dtype=np.float64)
    return ArdGaussianProcess(
        U=Ua,
        y=ya,
        kind=kind,
        length_scales=ell,
        signal_var=sf2,
        noise_var=sn2,
        y_mean=y_mean,
        y_scale=y_scale,
        chol=L,
        alpha=scipy.linalg.cho_solve((L, True), ys),
    )


@primitive
def _ndtr(z: Any) -> Any:
    return scipy.special.ndtr(z)


defvjp(_ndtr, lambda ans, z: lambda g: g * np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi))


def _neg_ei_at(u: Any, gp: ArdGaussianProcess, best_std: float, xi_std: float) -> Any:
    """-EI at one point u (d,) in standardised units, (H12) on the posterior (H11); autograd-traceable."""
    ks = ard_kernel(gp.U, anp.reshape(u, (1, -1)), gp.length_scales, gp.signal_var, gp.kind)[:, 0]
    m = anp.dot(ks, gp.alpha)
    w = anp.linalg.solve(gp.chol, ks)
    s = anp.sqrt(anp.maximum(gp.signal_var - anp.dot(w, w), _EI_FLOOR))
    imp = best_std - xi_std - m
    z = imp / s
    return -(imp * _ndtr(z) + s * anp.exp(-0.5 * z * z) / math.sqrt(2 * math.pi))  # (H16)


def maximize_ei(
    gp: ArdGaussianProcess,
    best: float,
    rng: np.random.Generator,
    *,
    n_candidates: int = 1024,
    n_starts: int = 3,
    xi: float = 0.0,
) -> list[Array]:
    """Points of [0, 1]^d in decreasing order of expected improvement (H12) over ``best``, eq. (H16):
    EI at ``n_candidates`` uniform points from ``rng``; L-BFGS-B (bounds [0, 1]^d, autograd's
    gradient) from the ``n_starts`` best of them; the optimised points, then the candidates."""
    d = gp.U.shape[1]
    cand = rng.random((n_candidates, d))
    m, v = gp.predict(cand)
    ei = expected_improvement(m, v, best, xi)
    order = np.argsort(-ei, kind="stable")
    best_std, xi_std = (best - gp.y_mean) / gp.y_scale, xi / gp.y_scale
    grad = autograd.value_and_grad(_neg_ei_at)

    def f(u: Array) -> tuple[float, Array]:
        val, g = grad(u, gp, best_std, xi_std)
        return float(val), np.asarray(g, dtype=np.float64)

    runs = [
        scipy.optimize.minimize(
            f, cand[j], jac=True, method="L-BFGS-B", bounds=[(0.0, 1.0)] * d, options=_LBFGSB
        )
        for j in order[:n_starts]
    ]
    runs.sort(key=lambda r: float(r.fun))
    return [np.clip(np.asarray(r.x, dtype=np.float64), 0.0, 1.0) for r in runs] + [
        cand[j] for j in order
    ]  # (H16)


def bayesian_search(
    objective: Callable[[Config, int], float],
    space: SearchSpace,
    *,
    budget: int,
    n_init: int | None = None,
    n_iter: int = 12,
    seed: int | np.random.Generator = 0,
    kind: str = "matern52",
    restarts: int = 1,
    n_candidates: int = 1024,
    n_starts: int = 3,
    xi: float = 0.0,
) -> SpaceResult:
    """Bayesian optimisation over several hyperparameters, eqs. (H14)-(H18): the search space mapped
    to [0, 1]^d (H18, log scale for rates), a GP with the ARD kernel ``kind`` (H14) fitted by
    marginal likelihood (H15), the next point maximising EI (H16), every evaluation at ``budget``.

    The initial design is a Latin hypercube of ``n_init`` points (default d + 1): in each
    dimension one uniform draw in each of n_init equal slices, the slices permuted independently.
    Then ``n_iter`` times (H17): fit the GP to the u of the configurations evaluated (the rounded
    ones, space.to_unit) and their losses (a non-finite loss replaced by the worst finite one),
    take the first point of ``maximize_ei`` whose rounded configuration is new, evaluate it.
    Integer and categorical hyperparameters are continuous for the model and rounded (H18).
    All randomness comes from ``seed``. Returns a ``SpaceResult`` (method "bo").
    """
    who = "bayesian_search"
    if not callable(objective):
        raise TypeError(
            f"{who}: objective must be callable (config, budget) -> float, got {type(objective).__name__}"
        )
    if not isinstance(space, SearchSpace):
        raise TypeError(f"{who}: space must be a SearchSpace, got {type(space).__name__}")
    budget = check_count(who, "budget", budget, minimum=1)
    n0 = check_count(who, "n_init", space.dim + 1 if n_init is None else n_init, minimum=2)
    n_iter = check_count(who, "n_iter", n_iter, minimum=0)
    check_count(who, "n_candidates", n_candidates, minimum=1)
    check_count(who, "n_starts", n_starts, minimum=0)
    check_nonnegative(who, "xi", xi)
    if kind not in KERNELS:
        raise ValueError(f"{who}: kind must be one of {list(KERNELS)}, got {kind!r}")
    rng = as_generator(who, seed)
    d = space.dim
    perms = np.stack([rng.permutation(n0) for _ in range(d)], axis=1)
    design = (perms + rng.random((n0, d))) / n0  # Latin hypercube
    evs: list[Evaluation] = []
    seen: set[tuple[Any, ...]] = set()

    def evaluate(u: Array) -> None:
        c = space.from_unit(u)  # rounded by the space, eq. H18
        seen.add(space.key(c))
        evs.append(Evaluation(config=c, budget=budget, loss=score(objective, c, budget)))

    for u in design:
        evaluate(u)
    for _ in range(n_iter):
        finite = [e.loss for e in evs if math.isfinite(e.loss)]
        if not finite:
            raise ValueError(f"{who}: the objective was not finite at any of the {len(evs)} points tried")
        worst = max(finite)
        U = np.array([space.to_unit(e.config) for e in evs])
        ys = [e.loss if math.isfinite(e.loss) else worst for e in evs]
        gp = fit_gp_ard(U, ys, rng=rng, restarts=restarts, kind=kind)  # (H17)
        points = maximize_ei(gp, min(finite), rng, n_candidates=n_candidates, n_starts=n_starts, xi=xi)
        new = [u for u in points if space.key(space.from_unit(u)) not in seen]
        evaluate(new[0] if new else rng.random(d))  # (H17)
    return result(evs, "bo")

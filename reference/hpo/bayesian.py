r"""Bayesian optimisation of one (log-)hyperparameter: a Gaussian process with an RBF kernel and
expected improvement, eqs. (H9)-(H13) of specs/hpo.md (package docstring: reference/hpo/__init__.py).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.linalg
import scipy.optimize
import scipy.special

from .._core import check_count, check_nonnegative, check_positive, check_rng
from .._types import Array, ArrayLike
from .objective import _eval

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

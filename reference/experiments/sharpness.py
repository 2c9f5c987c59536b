r"""Sharpness along full-batch gradient descent: the edge of stability as code (specs/sharpness.md).

The sharpness of L at theta is the largest eigenvalue of its Hessian,

    S(theta) = lambda_max(grad^2 L(theta)) = max_{||v|| = 1} v^T grad^2 L(theta) v        (SH1)

computed matrix-free from Hessian-vector products (autograd, reverse over reverse) by Lanczos
with full reorthogonalisation: m steps from a unit start q_1 build the tridiagonal T_m = Q_m^T H
Q_m; its largest eigenpair (mu, s) gives the Ritz pair                                       (SH2)

    lambda = mu,   v = Q_m s   (||v|| = 1)

and the certificate is the explicit residual, one more product,

    r = H v - lambda v,   and some eigenvalue of H lies in [lambda - ||r||, lambda + ||r||]   (SH3)

(H symmetric: Parlett, The Symmetric Eigenvalue Problem, Theorem 4.5.1). The pair is accepted when
||r|| <= tol |lambda|; otherwise Lanczos restarts from v. Along a run the start is the previous
measurement's vector (warm start), so one restart cycle of m + 1 products usually suffices.

Several runs are computed together: ``loss`` maps a stack Theta of shape (R, p) to the R losses,
row r depending on row r only; one reverse pass of sum_r L(Theta_r) gives every run's gradient
and one Hessian-vector product of it every run's H_r V_r. Full-batch GD with step eta_r,

    theta_{t+1} = theta_t - eta_r grad L(theta_t),                                         (SH4)

records L(theta_t) and ||grad L(theta_t)|| at every step and S(theta_t) every ``every`` steps.
A run diverges when its loss is not finite or exceeds ``max_loss``; it is then frozen (no more
steps, no more measurements) and reported with the step at which it diverged.

The problem the theory check uses is ``TanhPeaks``: note 000's Peaks data and its 2-w-5 network
(p = 8 w + 5, 261 at w = 32) with tanh in place of ReLU, so that L is twice differentiable (the
descent lemma needs it; the ReLU network's Hessian misses the kinks' curvature), inputs scaled to
[-1, 1] (x / 3) and softmax cross-entropy,                                                 (SH5)

    h = tanh(W1 x/3 + b1),  F = W2 h + b2,  L = (1/n) sum_i [log sum_c e^{F_ic} - F_{i,y_i}],

W1 ~ N(0, 2/fan_in) (He), W2 ~ N(0, 1/fan_in) (LeCun), biases 0.

References:
    Cohen, J. M., Kaur, S., Li, Y., Kolter, J. Z. and Talwalkar, A. (2021). Gradient Descent on
    Neural Networks Typically Occurs at the Edge of Stability. ICLR. Lanczos, C. (1950); Parlett,
    B. N. (1998), The Symmetric Eigenvalue Problem, SIAM, ch. 4 and 13.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import autograd
import autograd.numpy as anp
import numpy as np
from autograd.tracer import getval

from .._types import Array
from ..problems.peaks import N_CLASSES, peaks

StackedLoss = Callable[[Any], Any]
StackedHvp = Callable[[Array, Array], Array]


def _positive_int(name: str, value: object, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or int(value) < minimum:
        raise ValueError(f"sharpness: {name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _positive_float(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)):
        raise ValueError(f"sharpness: {name} must be a finite number > 0, got {value!r}")
    v = float(value)
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"sharpness: {name} must be a finite number > 0, got {value!r}")
    return v


def _stack(name: str, value: object) -> Array:
    a = np.array(value, dtype=np.float64, ndmin=2)
    if a.ndim != 2 or a.shape[1] < 1 or a.shape[0] < 1:
        raise ValueError(f"sharpness: {name} must be a (p,) or (R, p) array, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"sharpness: {name} must be finite")
    return a


@dataclass(frozen=True)
class TopEigen:
    """The largest eigenpair of each of R symmetric operators, with its certificate (SH3)."""

    values: Array  # (R,) Ritz values lambda
    vectors: Array  # (R, p) unit Ritz vectors
    residuals: Array  # (R,) ||H v - lambda v||
    n_hvp: int  # stacked Hessian-vector products used
    converged: bool  # every residual <= tol |lambda|


def stacked_hvp(loss: StackedLoss) -> StackedHvp:
    """(Theta, V) -> the rows H(Theta_r) V_r: the Hessian-vector product of sum_r L(Theta_r)."""
    hvp: StackedHvp = autograd.hessian_vector_product(lambda th: anp.sum(loss(th)))
    return hvp


def top_eigen(
    hvp: Callable[[Array], Array],
    v0: Array,
    *,
    tol: float = 1e-3,
    m: int = 8,
    max_hvp: int = 200,
) -> TopEigen:
    """The largest eigenvalue and its unit vector of each operator V -> hvp(V) (rows independent),
    by Lanczos with full reorthogonalisation, m steps per cycle, restarted from the Ritz vector
    until every residual ||H v - lambda v|| <= tol |lambda| or ``max_hvp`` products are spent
    (then ``converged`` is False). ``v0`` (R, p) is the start (warm start: the previous vector).

    Long because the restart loop, the Lanczos steps with their breakdown and the Ritz extraction
    are one algorithm over R stacked operators.
    """
    V = _stack("v0", v0)
    tol = _positive_float("tol", tol)
    m = _positive_int("m", m)
    max_hvp = _positive_int("max_hvp", max_hvp, minimum=2)
    R, p = V.shape
    m = min(m, p)
    norms = np.linalg.norm(V, axis=1)
    if np.any(norms == 0):
        raise ValueError("sharpness: v0 must have no zero row")
    v = V / norms[:, None]  # (SH1): the largest algebraic eigenvalue, by Lanczos on V -> H V
    used = 0
    while True:
        Q = np.zeros((R, m + 1, p))
        alpha, beta = np.zeros((R, m)), np.zeros((R, m))
        Q[:, 0] = v
        size = np.full(R, m)  # Krylov dimension reached before a breakdown
        for j in range(m):
            W = np.asarray(hvp(Q[:, j]), dtype=np.float64)  # (SH2): one product per step
            used += 1
            alpha[:, j] = np.einsum("rp,rp->r", Q[:, j], W)
            for _ in range(2):  # full reorthogonalisation, twice is enough (Parlett 1998, 13.3)
                W = W - np.einsum("rk,rkp->rp", np.einsum("rkp,rp->rk", Q[:, : j + 1], W), Q[:, : j + 1])
            beta[:, j] = np.linalg.norm(W, axis=1)
            small = beta[:, j] <= 1e-12 * np.maximum(np.abs(alpha[:, : j + 1]).max(axis=1), 1e-300)
            size = np.where(small & (size == m), j + 1, size)
            Q[:, j + 1] = np.where(small[:, None], 0.0, W / np.where(small, 1.0, beta[:, j])[:, None])
        lam = np.empty(R)
        for r in range(R):
            k = int(size[r])
            T = np.diag(alpha[r, :k]) + np.diag(beta[r, : k - 1], 1) + np.diag(beta[r, : k - 1], -1)
            mu, S = np.linalg.eigh(T)
            lam[r] = mu[-1]
            y = S[:, -1] @ Q[r, :k]
            v[r] = y / np.linalg.norm(y)
        res = np.linalg.norm(np.asarray(hvp(v), dtype=np.float64) - lam[:, None] * v, axis=1)  # (SH3)
        used += 1
        ok = bool(np.all(res <= tol * np.abs(lam)))
        if ok or used + m + 1 > max_hvp:
            return TopEigen(lam, v.copy(), res, used, ok)


@dataclass(frozen=True)
class SharpnessRun:
    """One GD run (SH4): the loss and gradient norm at every step, the sharpness every ``every``."""

    lr: float
    losses: Array  # (n + 1,) L(theta_t), t = 0..n (n = steps, or the divergence step)
    grad_norms: Array  # (n + 1,) ||grad L(theta_t)||
    measured_at: Array  # (k,) steps t at which S was measured
    sharpness: Array  # (k,) S(theta_t) (SH1)
    residuals: Array  # (k,) certificate ||H v - lambda v|| (SH3)
    converged: bool  # every measurement met its tolerance
    diverged_at: int | None  # the step whose loss was non-finite or above max_loss, else None
    final_params: Array  # theta at the last recorded step
    final_vector: Array  # the top eigenvector at the last measurement

    @property
    def diverged(self) -> bool:
        return self.diverged_at is not None


def gd_sharpness(
    loss: StackedLoss,
    theta0: object,
    lrs: Sequence[float],
    steps: int,
    *,
    every: int = 10,
    tol: float = 1e-3,
    seed: int = 0,
    m: int = 8,
    max_loss: float = 1e6,
    hvp: StackedHvp | None = None,
    cold_check: bool = True,
) -> tuple[SharpnessRun, ...]:
    """Full-batch GD (SH4) from ``theta0`` (shape (p,), shared, or (R, p)) at each step size of
    ``lrs``, all runs stacked through ``loss`` ((R, p) -> (R,), row-separable); the sharpness (SH1)
    every ``every`` steps and at the last step by ``top_eigen`` warm-started from the previous
    vector (the first start from ``numpy.random.default_rng(seed)``). With ``cold_check`` (the
    default) every measurement also runs one Lanczos cycle (m + 1 products) from a fresh random
    start (the same generator); a Ritz value is a lower bound on lambda_max, so where that cycle's
    exceeds the warm answer, the warm run settled on a lower eigenvalue (the second of a
    near-degenerate top pair, after the two cross) and ``top_eigen`` continues from the cold
    cycle's vector. ``hvp`` replaces the autograd product (``stacked_hvp(loss)``). Pure: the same
    arguments give the same runs.

    Long because the step loop carries R runs, their divergence flags and their measurements.
    """
    if isinstance(lrs, (str, bytes)) or not isinstance(lrs, Sequence) or len(lrs) < 1:
        raise ValueError(f"sharpness: lrs must be a non-empty sequence of step sizes, got {lrs!r}")
    etas = np.array([_positive_float("lrs[i]", e) for e in lrs])
    R = etas.size
    th = _stack("theta0", theta0)
    if th.shape[0] == 1:
        th = np.repeat(th, R, axis=0)
    if th.shape[0] != R:
        raise ValueError(f"sharpness: theta0 has {th.shape[0]} rows but lrs has {R} step sizes")
    steps = _positive_int("steps", steps)
    every = _positive_int("every", every)
    max_loss = _positive_float("max_loss", max_loss)
    _positive_int("seed", seed, minimum=0)
    hv = stacked_hvp(loss) if hvp is None else hvp
    seen: list[Array] = []

    def total(stack: Any) -> Any:
        ls = loss(stack)
        seen.append(np.asarray(getval(ls), dtype=np.float64))  # the R losses of this forward pass
        return anp.sum(ls)

    value_and_grad = autograd.value_and_grad(total)
    rng = np.random.default_rng(seed)
    v = rng.standard_normal(th.shape)
    active = np.ones(R, dtype=bool)
    diverged: list[int | None] = [None] * R
    losses: list[list[float]] = [[] for _ in range(R)]
    gnorms: list[list[float]] = [[] for _ in range(R)]
    at: list[list[int]] = [[] for _ in range(R)]
    sharp: list[list[float]] = [[] for _ in range(R)]
    resid: list[list[float]] = [[] for _ in range(R)]
    last_v = v.copy()
    ok = True
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for t in range(steps + 1):
            _, G = value_and_grad(th)
            Ls, G = seen.pop(), np.asarray(G, dtype=np.float64)
            for r in np.flatnonzero(active):
                if not (math.isfinite(Ls[r]) and Ls[r] <= max_loss and np.all(np.isfinite(G[r]))):
                    active[r], diverged[r] = False, t
                    continue
                losses[r].append(float(Ls[r]))
                gnorms[r].append(float(np.linalg.norm(G[r])))
            if not active.any():
                break
            if t % every == 0 or t == steps:
                frozen = th.copy()

                def hvp_t(V: Array) -> Array:
                    return _masked(hv, frozen, V, active)

                eig = top_eigen(hvp_t, v, tol=tol, m=m)
                if cold_check:  # (SH1): a Ritz value is a lower bound on lambda_max, from any start
                    cold = top_eigen(hvp_t, rng.standard_normal(th.shape), tol=tol, m=m, max_hvp=m + 1)
                    missed = cold.values > eig.values + eig.residuals  # above the warm pair: not the top
                    if missed.any():
                        again = top_eigen(
                            hvp_t, np.where(missed[:, None], cold.vectors, eig.vectors), tol=tol, m=m
                        )
                        vals = np.where(missed, again.values, eig.values)
                        res = np.where(missed, again.residuals, eig.residuals)
                        eig = TopEigen(
                            vals,
                            np.where(missed[:, None], again.vectors, eig.vectors),
                            res,
                            eig.n_hvp + cold.n_hvp + again.n_hvp,
                            bool(np.all(res <= tol * np.abs(vals))),
                        )
                for r in np.flatnonzero(active):
                    at[r].append(t)
                    sharp[r].append(float(eig.values[r]))
                    resid[r].append(float(eig.residuals[r]))
                    ok &= bool(eig.residuals[r] <= tol * abs(eig.values[r]))
                    last_v[r] = eig.vectors[r]
                v = np.where(active[:, None], eig.vectors, v)
            if t < steps:
                th = np.where(active[:, None], th - etas[:, None] * G, th)  # (SH4)
    return tuple(
        SharpnessRun(
            lr=float(etas[r]),
            losses=np.array(losses[r]),
            grad_norms=np.array(gnorms[r]),
            measured_at=np.array(at[r], dtype=np.intp),
            sharpness=np.array(sharp[r]),
            residuals=np.array(resid[r]),
            converged=ok,
            diverged_at=diverged[r],
            final_params=th[r].copy(),
            final_vector=last_v[r].copy(),
        )
        for r in range(R)
    )


def _masked(hv: StackedHvp, th: Array, V: Array, active: Array) -> Array:
    """H_r V_r for the active runs; 0 for a diverged run (its parameters may be non-finite)."""
    safe = np.where(active[:, None], th, 0.0)
    out = np.asarray(hv(safe, V), dtype=np.float64)
    return np.where(active[:, None], out, 0.0)


@dataclass(frozen=True, eq=False)
class TanhPeaks:
    """Note 000's Peaks data with the 2-w-5 network, tanh hidden units (SH5), for stacked params."""

    X: Array  # (n, 3): the inputs / 3 and a column of ones (the bias b1 folded into W1)
    Y: Array  # (n, 5) one-hot labels
    width: int

    @property
    def dim(self) -> int:
        return 8 * self.width + 5

    def losses(self, thetas: Any) -> Any:
        """(R,) cross-entropies of the stacked parameters (R, p); theta = (W1 | b1) then (W2 | b2),
        row-major: W1b (w, 3), W2b (w + 1, 5) whose last row is b2."""
        w = self.width
        R = thetas.shape[0]
        W1 = anp.reshape(thetas[:, : 3 * w], (R, w, 3))
        W2 = anp.reshape(thetas[:, 3 * w :], (R, w + 1, N_CLASSES))
        h = anp.tanh(anp.matmul(self.X, anp.transpose(W1, (0, 2, 1))))  # (SH5): (R, n, w)
        F = anp.matmul(h, W2[:, :w]) + W2[:, w][:, None, :]
        mx = anp.max(F, axis=2, keepdims=True)
        lse = anp.log(anp.sum(anp.exp(F - mx), axis=2)) + mx[:, :, 0]
        return anp.mean(lse - anp.sum(F * self.Y, axis=2), axis=1)

    def loss(self, theta: Any) -> Any:
        """L(theta) of one parameter vector (p,)."""
        return self.losses(anp.reshape(theta, (1, self.dim)))[0]

    def init_params(
        self, rng: np.random.Generator, *, input_scale: float = 1.0, output_scale: float = 1.0
    ) -> Array:
        """W1 ~ N(0, a^2 2/2) (He, fan_in 2, times a = ``input_scale``), W2 ~ N(0, c^2/w) (LeCun
        times c = ``output_scale``), biases 0."""
        w = self.width
        a = _positive_float("input_scale", input_scale)
        c = _positive_float("output_scale", output_scale)
        W1 = np.hstack([a * rng.standard_normal((w, 2)), np.zeros((w, 1))])
        W2 = np.vstack([c * rng.standard_normal((w, N_CLASSES)) / math.sqrt(w), np.zeros((1, N_CLASSES))])
        return np.concatenate([W1.ravel(), W2.ravel()])


def tanh_peaks(*, width: int = 32, n_samples: int = 200, seed: int = 0) -> TanhPeaks:
    """``TanhPeaks`` on the first ``n_samples`` points of ``peaks(n_samples=..., seed=seed)``."""
    w = _positive_int("width", width)
    n = _positive_int("n_samples", n_samples)
    s = _positive_int("seed", seed, minimum=0)
    P = peaks(width=w, n_samples=n, n_train=n, seed=s)
    X = np.hstack([np.asarray(P.X) / 3.0, np.ones((n, 1))])
    Y = np.eye(N_CLASSES)[np.asarray(P.y, dtype=np.intp)]
    X.setflags(write=False)
    Y.setflags(write=False)
    return TanhPeaks(X=X, Y=Y, width=w)

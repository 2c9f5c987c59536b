r"""SGD's stationary spread on a quadratic grows with the temperature lr / b.

Claim:
    Near a minimum with Hessian A and per-sample gradient covariance Sigma_g, minibatch SGD with step
    eta and batch size b fluctuates with a stationary covariance S that solves the Lyapunov
    equation A S + S A = (eta / b) Sigma_g to first order in eta: the spread is set by the
    temperature T = eta / b (seed 001, "Connection to Lecture 4": "Langevin dynamics, temperature
    T ~ eta / b"; seed 000, Sigma / b).

Setup:
    A finite-sum quadratic with state-independent gradient noise, so the theory is exact:
    l_i(theta) = (1/2) (theta - z_i)^T A (theta - z_i), i = 1..N (N = 200, d = 4, z_i ~ N(0, C)),
    A with eigenvalues 1, 1.33, 1.67, 2 in a random basis; theta* = mean z_i; the per-sample
    gradient noise A (zbar - z_i) has covariance Sigma_g = A C_N A (C_N the 1/N covariance of the
    z_i), and a minibatch of b drawn with replacement has covariance Sigma_g / b, independent
    across steps. ``ref.sgd`` runs R independent chains (the rows of one (R, d) iterate; quick
    R = 1000, full 4000) from theta_0 = theta*, for t = ln(100) / (2 eta lambda_min) steps, on the
    grid eta in {0.0025, 0.005, 0.01, 0.02} x b in {1, 2, 4, 8} (T from 3.1e-4 to 0.02; 16 trials
    through ``ctx.map``). Prediction, exact for this problem and any eta: with M = I - eta A,
    S = M S M + eta^2 Sigma_g / b (the discrete Lyapunov equation) and E[e_t e_t^T] =
    S - M^t S M^t from e_0 = 0; the first-order (continuous) solution A S + S A = (eta/b) Sigma_g is
    reported beside it (they differ by a factor 1 + O(eta lambda_max) <= 1.02 on this grid).

Measured:
    (1) the log-log slope of tr S_measured against T over the 16 configurations (predicted 1 to
    first order; the exact prediction's own fitted slope is the value tested). (2) each
    configuration's mean ||theta_t - theta*||^2 over chains against the exact prediction. (3) equal
    temperature, equal spread: the ratio of the spreads at (eta, b) = (0.02, 8) and (0.0025, 1)
    (T = 0.0025 for both), predicted 1 to first order (exact value stated).

Tolerance:
    99.9 % intervals over independent chains: t-intervals per configuration, and the delta-method
    normal interval (z = 3.29) for the slope and the ratio, whose per-configuration variances are
    (sd / mean)^2 / R of the chains' squared errors.

References:
    Seed 001 ("Connection to Lecture 4": temperature T ~ eta / b); seed 000 ("Mini Batches as
    Noise Reduction": Cov = Sigma / b). Mandt, Hoffman & Blei (2017), "Stochastic Gradient Descent
    as Approximate Bayesian Inference", JMLR 18 (the Ornstein-Uhlenbeck / Lyapunov picture).

Sabotage:
    "wrong-temperature": predicts a spread proportional to eta / sqrt(b). "broken-optimizer": an
    SGD that ignores all but the first sample of each minibatch (its spread does not shrink with b).
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

import reference as ref

from ._base import CheckResult, Context, Row
from ._stats import LEVEL, fmt, normal_quantile, t_interval, trial_seeds

NAME = "sgd_temperature"
CLAIM = "SGD stationary Cov: A S + S A = (eta/b) Sigma_g, spread set by T = eta/b"
SOURCE = "seed 001, 'Connection to Lecture 4' (T ~ eta/b); seed 000, 'Mini Batches as Noise Reduction'"
SABOTAGE: tuple[str, ...] = ("wrong-temperature", "broken-optimizer")

LRS = (0.0025, 0.005, 0.01, 0.02)
BATCHES = (1, 2, 4, 8)
N, D = 200, 4
EIGS = np.array([1.0, 4.0 / 3.0, 5.0 / 3.0, 2.0])


def _problem(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A (Hessian) and Z (the z_i as rows, fixed per seed)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 10]))
    Q, _ = np.linalg.qr(rng.standard_normal((D, D)))
    A = (Q * EIGS) @ Q.T
    B = rng.standard_normal((D, D))
    Z = rng.standard_normal((N, D)) @ B.T  # z_i ~ N(0, B B^T)
    return A, Z


def _steps(eta: float) -> int:
    return int(math.ceil(math.log(100.0) / (2 * eta * EIGS.min())))


def _chains(args: tuple[np.ndarray, np.ndarray, float, int, int, np.random.SeedSequence, str | None]) -> np.ndarray:
    """R independent SGD chains from theta*: ||theta_t - theta*||^2 after _steps(eta) steps."""
    A, Z, eta, b, R, seed, sabotage = args
    rng = np.random.default_rng(seed)
    zbar = Z.mean(axis=0)
    opt = ref.sgd(eta)
    state = opt.init(np.tile(zbar, (R, 1)))
    for _ in range(_steps(eta)):
        idx = rng.integers(0, N, size=(R, b))
        if sabotage == "broken-optimizer":
            zb = Z[idx[:, 0]]
        else:
            zb = Z[idx[:, 0]]
            for k in range(1, b):
                zb = zb + Z[idx[:, k]]
            zb = zb / b
        state = opt.step(state, (state.params - zb) @ A)  # A symmetric: rows A (theta - z_B)
    e = state.params - zbar
    return np.asarray(np.einsum("rj,rj->r", e, e))


def _predict(A: np.ndarray, Sg: np.ndarray, eta: float, b: int) -> tuple[float, float]:
    """tr E[e_t e_t^T] exactly (discrete Lyapunov, transient from e_0 = 0) and the first-order
    (continuous Lyapunov) stationary tr S."""
    lam, Q = np.linalg.eigh(A)
    St = Q.T @ Sg @ Q
    m = 1 - eta * lam
    S = eta**2 * St / b / (1 - np.outer(m, m))
    t = _steps(eta)
    mt = m**t
    exact = float(np.trace(S - np.outer(mt, mt) * S))
    first = float(np.trace(eta / b * St / (lam[:, None] + lam[None, :])))
    return exact, first


def run(ctx: Context) -> CheckResult:
    if ctx.sabotage not in (None, *SABOTAGE):
        raise ValueError(f"{NAME}: sabotage must be one of {SABOTAGE}, got {ctx.sabotage!r}")
    t0 = time.perf_counter()
    R = 1000 if ctx.tier == "quick" else 4000
    A, Z = _problem(ctx.seed)
    Zc = Z - Z.mean(axis=0)
    Sg = A @ (Zc.T @ Zc / N) @ A
    grid = [(eta, b) for eta in LRS for b in BATCHES]
    seeds = trial_seeds(ctx, len(grid))
    sq = ctx.map(_chains, [(A, Z, eta, b, R, s, ctx.sabotage) for (eta, b), s in zip(grid, seeds)])
    means = np.array([float(np.mean(x)) for x in sq])
    rel_var = np.array([float(np.var(x, ddof=1)) / R for x in sq]) / means**2  # var of log mean
    exact = np.empty(len(grid))
    first = np.empty(len(grid))
    for k, (eta, b) in enumerate(grid):
        exact[k], first[k] = _predict(A, Sg, eta, b)
    pred = exact * np.sqrt(np.array([b for _, b in grid])) if ctx.sabotage == "wrong-temperature" else exact
    temps = np.array([eta / b for eta, b in grid])
    z = normal_quantile()

    # (1) slope of log spread vs log T
    x = np.log(temps)
    w = (x - x.mean()) / np.sum((x - x.mean()) ** 2)
    slope = float(w @ np.log(means))
    se = float(np.sqrt(w**2 @ rel_var))
    slope_pred = float(w @ np.log(pred))
    rows = [
        Row(
            quantity="log-log slope of tr S against T = eta/b (16 configurations)",
            predicted=f"1 (first order); exact theory's fit {fmt(slope_pred)}",
            measured=f"{fmt(slope)} [{fmt(slope - z * se)}, {fmt(slope + z * se)}]",
            tolerance=f"{LEVEL:.1%} delta-method interval over {R} chains per configuration",
            holds=abs(slope - slope_pred) <= z * se,
        )
    ]
    # (2) values, configuration by configuration
    ivs = [t_interval(x) for x in sq]
    inside = [iv.contains(p) for iv, p in zip(ivs, pred)]
    worst = int(np.argmax([abs(iv.estimate - p) / iv.half_width for iv, p in zip(ivs, pred)]))
    rows.append(
        Row(
            quantity="E||theta_t - theta*||^2 per configuration vs the discrete Lyapunov solution",
            predicted=f"exact theory (first-order Lyapunov within {fmt(float(np.max(np.abs(exact / first - 1))))} relative)",
            measured=(
                f"{sum(inside)} of {len(grid)} intervals contain it; worst eta = {grid[worst][0]}, b = {grid[worst][1]}: "
                f"{ivs[worst]} vs {fmt(float(pred[worst]))}"
            ),
            tolerance=f"{LEVEL:.1%} t-interval over {R} chains each",
            holds=all(inside),
        )
    )
    # (3) equal temperature, equal spread
    i_hi, i_lo = grid.index((0.02, 8)), grid.index((0.0025, 1))
    ratio = means[i_hi] / means[i_lo]
    se_r = math.sqrt(rel_var[i_hi] + rel_var[i_lo])
    ratio_pred = float(pred[i_hi] / pred[i_lo])
    rows.append(
        Row(
            quantity="spread(eta = 0.02, b = 8) / spread(eta = 0.0025, b = 1), both T = 0.0025",
            predicted=f"1 (first order); exact {fmt(ratio_pred)}",
            measured=f"{fmt(ratio)} [{fmt(ratio * math.exp(-z * se_r))}, {fmt(ratio * math.exp(z * se_r))}]",
            tolerance=f"{LEVEL:.1%} delta-method interval (log ratio)",
            holds=abs(math.log(ratio) - math.log(ratio_pred)) <= z * se_r,
        )
    )
    figure: dict[str, Any] = {
        "eta": [g[0] for g in grid],
        "b": [g[1] for g in grid],
        "T": temps.tolist(),
        "measured": means.tolist(),
        "half": [iv.half_width for iv in ivs],
        "exact": exact.tolist(),
        "first": first.tolist(),
    }
    return CheckResult(
        name=NAME,
        claim=CLAIM,
        source=SOURCE,
        rows=tuple(rows),
        justification=(
            "99.9% intervals over independent chains (t per configuration, delta method for slope and "
            "ratio) against the exact discrete-Lyapunov prediction"
        ),
        figure=figure,
        seconds=time.perf_counter() - t0,
    )


def plot(result: CheckResult, path: str) -> None:
    from ._plot import save, subplots

    fig, (ax,) = subplots(width=6.0)
    f = result.figure
    T = np.array(f["T"])
    order = np.argsort(T)
    ax.loglog(T[order], np.array(f["first"])[order], "k--", lw=0.8, label="A S + S A = (eta/b) Sigma_g (first order)")
    ax.loglog(T, f["exact"], "k+", ms=9, label="exact (discrete Lyapunov)")
    for k, b in enumerate(sorted(set(f["b"]))):
        sel = [i for i, bb in enumerate(f["b"]) if bb == b]
        ax.errorbar(T[sel], np.array(f["measured"])[sel], yerr=np.array(f["half"])[sel], fmt="o",
                    color=f"C{k}", ms=4, label=f"measured, b = {b} (eta varies)")
    ax.set_xlabel("temperature T = eta / b")
    ax.set_ylabel("stationary E||theta - theta*||^2")
    ax.legend(fontsize=7)
    save(fig, path, result.claim)

r"""SGD's stationary spread on a quadratic grows with the temperature lr / b.

Claim:
    Near a minimum with Hessian A and per-sample gradient covariance Sigma_g, minibatch SGD with step
    eta and batch size b fluctuates with a stationary covariance S that solves the Lyapunov
    equation A S + S A = (eta / b) Sigma_g to first order in eta: the spread is set by the
    temperature T = eta / b (note 001, "Connection to Lecture 4": "Langevin dynamics, temperature
    T ~ eta / b"; note 000, Sigma / b).

Setup:
    A finite-sum quadratic with state-independent gradient noise, so the theory is exact:
    l_i(theta) = (1/2) (theta - z_i)^T A (theta - z_i), i = 1..N (N = 200, d = 4, z_i ~ N(0, C)),
    A with eigenvalues 1, 1.33, 1.67, 2 in a random basis (one draw per ``ctx.seed``);
    theta* = mean z_i; the per-sample gradient noise A (zbar - z_i) has covariance
    Sigma_g = A C_N A (C_N the 1/N covariance of the z_i), and a minibatch of b drawn with
    replacement (by the check) has covariance Sigma_g / b, independent across steps. ``ref.sgd``
    runs k x R independent chains (the rows of one iterate, k = 32 groups of R; quick R = 32, full
    R = 128) from theta_0 = theta*, for 3 / (eta lambda_min) steps (six relaxation times of the
    slowest mode), on the grid eta in {0.01, 0.02, 0.04, 0.08} x b in {1, 2, 4, 8} (T from 1.25e-3
    to 0.08; 16 trials through ``ctx.map``). The spread of a configuration is the average of
    ||theta_t - theta*||^2 over its chains and over the second half of the run.
    Prediction, exact for this problem and any eta, computed in the check: with M = I - eta A,
    S = M S M + eta^2 Sigma_g / b (the discrete Lyapunov equation) and E[e_t e_t^T] =
    S - M^t S M^t from e_0 = 0, averaged over the same window. The first-order (continuous)
    solution A S + S A = (eta/b) Sigma_g is reported beside it.

Measured:
    (1) the log-log slope of the spread against T over the 16 configurations, per group (predicted 1
    to first order; the exact prediction's own fitted slope is the value tested). (2) the level:
    per group, the mean over the 16 configurations of spread / exact prediction (predicted 1; a 2 %
    error in the step size moves it by about 2 %). (3) equal temperature, equal spread: the log
    ratio of the spreads at (eta, b) = (0.08, 8) and (0.01, 1) (T = 0.01 for both), predicted 0 to
    first order (the exact value is tested).

Tolerance:
    Student-t intervals at the suite level ``_stats.LEVEL`` over the 32 independent groups
    (df = 31). Each group's statistic averages R chains over a window of three relaxation times
    per configuration (hundreds of nearly independent terms), so it is close to normal; the slope
    and the log ratio are smooth functions of such averages, whose log bias (about relvar/2 <
    1e-3) is far below the interval.

References:
    Note 001 ("Connection to Lecture 4": temperature T ~ eta / b); note 000 ("Mini Batches as
    Noise Reduction": Cov = Sigma / b). Mandt, Hoffman & Blei (2017), "Stochastic Gradient Descent
    as Approximate Bayesian Inference", JMLR 18 (the Ornstein-Uhlenbeck / Lyapunov picture).

Sabotage:
    "wrong-temperature": predicts a spread proportional to eta / sqrt(b). "broken-optimizer": an
    SGD fed only the first sample of each minibatch (its spread does not shrink with b).
    "lr-2pct": a planted optimizer bug, the step size 2 % too large.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

import reference as ref

from ._base import CheckResult, Context, Outcome, Row, report_row
from ._stats import fmt, interval_row, t_interval, trial_seeds

NAME = "sgd_temperature"
CLAIM = "SGD stationary Cov: A S + S A = (eta/b) Sigma_g, spread set by T = eta/b"
SOURCE = "note 001, 'Connection to Lecture 4' (T ~ eta/b); note 000, 'Mini Batches as Noise Reduction'"
SABOTAGE: tuple[str, ...] = ("wrong-temperature", "broken-optimizer", "lr-2pct")
JUSTIFICATION = "t-interval (suite level) over 32 independent groups of chains against the exact discrete-Lyapunov prediction averaged over the same window"
STAT_ROWS = 3

LRS = (0.01, 0.02, 0.04, 0.08)
BATCHES = (1, 2, 4, 8)
GRID = tuple((eta, b) for eta in LRS for b in BATCHES)
EQUAL_T = ((0.08, 8), (0.01, 1))
N, D = 200, 4
EIGS = np.array([1.0, 4.0 / 3.0, 5.0 / 3.0, 2.0])


def problem(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A (Hessian) and Z (the z_i as rows, fixed per seed)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 10]))
    Q, _ = np.linalg.qr(rng.standard_normal((D, D)))
    A = (Q * EIGS) @ Q.T
    B = rng.standard_normal((D, D))
    Z = rng.standard_normal((N, D)) @ B.T  # z_i ~ N(0, B B^T)
    return A, Z


def n_steps(eta: float) -> int:
    return int(math.ceil(3.0 / (eta * EIGS.min())))


@dataclass(frozen=True)
class Spread:
    """One configuration: the per-group spread (mean of ||e_t||^2 over R chains and the window)."""

    eta: float
    b: int
    groups: np.ndarray  # (k,)


def _chains(
    args: tuple[np.ndarray, np.ndarray, float, int, int, int, np.random.SeedSequence, str | None],
) -> Spread:
    A, Z, eta, b, k, R, seed, sabotage = args
    rng = np.random.default_rng(seed)
    zbar = Z.mean(axis=0)
    opt = ref.sgd(eta * 1.02 if sabotage == "lr-2pct" else eta)
    state = opt.init(np.tile(zbar, (k * R, 1)))
    T = n_steps(eta)
    acc = np.zeros(k)
    for t in range(1, T + 1):
        idx = rng.integers(0, N, size=(k * R, b))
        zb = Z[idx[:, 0]] if sabotage == "broken-optimizer" else Z[idx].mean(axis=1)
        state = opt.step(state, (state.params - zb) @ A)  # A symmetric: rows A (theta - z_B)
        if t > T // 2:
            e = state.params - zbar
            acc += np.einsum("rj,rj->r", e, e).reshape(k, R).mean(axis=1)
    return Spread(eta, b, acc / (T - T // 2))


def predict(A: np.ndarray, Sg: np.ndarray, eta: float, b: int) -> tuple[float, float, float]:
    """The window average of tr E[e_t e_t^T] (discrete Lyapunov, transient from e_0 = 0), the
    stationary tr S, and the first-order (continuous Lyapunov) stationary tr S."""
    lam, Q = np.linalg.eigh(A)
    St = Q.T @ Sg @ Q
    m = 1 - eta * lam
    S = eta**2 * St / b / (1 - np.outer(m, m))
    T = n_steps(eta)
    ts = np.arange(T // 2 + 1, T + 1)
    decay = np.mean(np.outer(m, m)[None, :, :] ** ts[:, None, None], axis=0)
    exact = float(np.trace(S - decay * S))
    first = float(np.trace(eta / b * St / (lam[:, None] + lam[None, :])))
    return exact, float(np.trace(S)), first


def _fit(x: np.ndarray, y: np.ndarray) -> float:
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


def row_slope(spreads: list[Spread], pred: np.ndarray) -> Row:
    temps = np.array([s.eta / s.b for s in spreads])
    G = np.array([s.groups for s in spreads]).T  # (k, 16)
    p = _fit(temps, pred)
    iv = t_interval([_fit(temps, g) for g in G])
    return interval_row(
        "log-log slope of the spread against T = eta/b (16 configurations)",
        p,
        iv,
        shown=f"1 (first order); exact theory's fit {fmt(p)}",
        what="groups",
    )


def row_level(spreads: list[Spread], pred: np.ndarray) -> Row:
    G = np.array([s.groups for s in spreads]).T
    return interval_row(
        "spread / exact discrete-Lyapunov prediction, mean over 16 configurations",
        1.0,
        t_interval((G / pred).mean(axis=1)),
        what="groups",
    )


def row_equal_t(spreads: list[Spread], pred: np.ndarray) -> Row:
    keys = [(s.eta, s.b) for s in spreads]
    hi, lo = keys.index(EQUAL_T[0]), keys.index(EQUAL_T[1])
    iv = t_interval(np.log(spreads[hi].groups / spreads[lo].groups))
    p = math.log(pred[hi] / pred[lo])
    return interval_row(
        "log spread(eta = 0.08, b = 8) / spread(eta = 0.01, b = 1), both T = 0.01",
        p,
        iv,
        shown=f"0 (first order); exact {fmt(p)}",
        what="groups",
    )


def run(ctx: Context) -> Outcome:
    k, R = (32, 32) if ctx.tier == "quick" else (32, 128)
    A, Z = problem(ctx.seed)
    Zc = Z - Z.mean(axis=0)
    Sg = A @ (Zc.T @ Zc / N) @ A
    seeds = trial_seeds(ctx, len(GRID))
    spreads: list[Spread] = ctx.map(
        _chains, [(A, Z, eta, b, k, R, s, ctx.sabotage) for (eta, b), s in zip(GRID, seeds)]
    )
    exact, stationary, first = np.array([predict(A, Sg, eta, b) for eta, b in GRID]).T
    pred = exact * np.sqrt([b for _, b in GRID]) if ctx.sabotage == "wrong-temperature" else exact
    rows = (
        row_slope(spreads, pred),
        row_level(spreads, pred),
        row_equal_t(spreads, pred),
        report_row(
            "exact / first-order Lyapunov spread",
            f"{fmt(float(np.min(stationary / first)))} to {fmt(float(np.max(stationary / first)))} over the grid (the O(eta lambda_max) terms)",
        ),
    )
    figure: dict[str, Any] = {
        "eta": [g[0] for g in GRID],
        "b": [g[1] for g in GRID],
        "T": [eta / b for eta, b in GRID],
        "measured": [float(np.mean(s.groups)) for s in spreads],
        "sd": [float(np.std(s.groups, ddof=1) / math.sqrt(k)) for s in spreads],
        "exact": exact.tolist(),
        "first": first.tolist(),
    }
    return Outcome(rows=rows, figure=figure)


def plot(result: CheckResult, path: str) -> None:
    from ._plot import save, subplots

    fig, (ax,) = subplots(width=6.0)
    f = result.figure
    T = np.array(f["T"])
    order = np.argsort(T)
    ax.loglog(
        T[order],
        np.array(f["first"])[order],
        "k--",
        lw=0.8,
        label="A S + S A = (eta/b) Sigma_g (first order)",
    )
    ax.loglog(T, f["exact"], "k+", ms=9, label="exact (discrete Lyapunov, window)")
    for k, b in enumerate(sorted(set(f["b"]))):
        sel = [i for i, bb in enumerate(f["b"]) if bb == b]
        ax.errorbar(
            T[sel],
            np.array(f["measured"])[sel],
            yerr=4 * np.array(f["sd"])[sel],
            fmt="o",
            color=f"C{k}",
            ms=4,
            label=f"measured, b = {b} (eta varies)",
        )
    ax.set_xlabel("temperature T = eta / b")
    ax.set_ylabel("E||theta - theta*||^2 (window average)")
    ax.legend(fontsize=7)
    save(fig, path, result.claim)

r"""SGD with a constant step in the interpolation regime converges linearly to the min-norm solution.

Claim:
    X in R^{n x d}, d > n, full row rank, Xw = y solvable. SGD with batch size 1 on
    l_i(w) = (x_i^T w - y_i)^2, w_{t+1} = w_t - 2 eta x_i (x_i^T w_t - y_i), i uniform, started at
    w_0 = 0, converges linearly ("exponentially to 0 error") for eta < 2 / (s_max^2 + max_i ||x_i||^2),
    and its limit is the minimum-norm solution w* = X^+ y (note 002, 3.1: the error q_t = w_t - w*
    lives in the row space, where the projection steps contract it).

Setup:
    n = 20, d = 60, X and y standard normal (one fixed draw per ``ctx.seed``). w* = X^T (X X^T)^-1 y
    and an orthonormal basis V of the row space (modified Gram-Schmidt) are computed in 30-digit
    arithmetic (mpmath) and rounded once, so both are exact to u = 2^-53 relative. At eta = 0.5 x
    the seed's bound: k = 32 groups of R runs (quick R = 32, full 96) with independent index
    streams, vectorised as the rows of one iterate of ``ref.sgd``, run to t_10 where tr(L^t S_0)
    has fallen by 10 nats; at eta = 0.9 x the bound: 16 runs to t_6 (the min-norm row only). The
    gradient is formed by the check. Predictions, written in the check (not the code under test): the row-space error
    z = V^T q has E[z_{t+1}] = (I - (2 eta/n) G) E[z_t] and second moment S obeying the exact linear
    recursion S <- S - (2 eta/n)(G S + S G) + (4 eta^2/n) sum_i (a_i^T S a_i) a_i a_i^T (a_i = V^T x_i,
    G = sum_i a_i a_i^T), so E||q_t||^2 = tr(L^t S_0) decays at the spectral radius rho(L) < 1
    (linear convergence).
    Above the bound: at eta = 1.5 / min_i ||x_i||^2 every step multiplies the error's component
    along x_i by 1 - c, c = 2 eta ||x_i||^2 >= 3, so ||q_{t+1}||^2 = ||q_t||^2 +
    (c^2 - 2c)(x_i^T q_t)^2 / ||x_i||^2 never decreases: divergence (200 steps, 16 runs).

Measured:
    From the iterates, by the check.
    (1) mean square (eta = 0.5 x bound): per group, the mean over the three times where
        tr(L^t S_0) has fallen by 2, 4 and 6 nats of (group mean of ||w_t - w*||^2) / tr(L^t S_0);
        predicted 1 (later, the ratio's tail grows and a group mean of R runs misses the rare slow
        runs that carry the expectation).
    (2) the mean (eta = 0.5 x bound): the same at 6, 8 and 10 nats with (group mean of q_0^T q_t) /
        (q_0^T (I - (2 eta/n) X^T X)^t q_0), predicted 1. A 2 % step-size error moves (1) by ~5 %
        and (2) by ~7 %.
    (3) per eta, the min-norm limit: the null-space component ||w_t - V V^T w_t|| of every run's
        final iterate (the part of w_t that SGD from 0 never changes, so the limit of the row-space
        convergence (1) is X^+ y) against the rounding bound of that run.
    (4) above the bound: log(||q_200|| / ||q_0||) > 0 in every run; the number of steps where ||q_t||
        fell is reported.

Tolerance:
    (1), (2): Student-t intervals at the suite level ``_stats.LEVEL`` over the 32 independent
    groups; each group statistic averages R runs at three times, close to normal (the
    mean-square ratios are read at <= 6 nats, where their tail is moderate; the first moment is
    a linear statistic). (3) derived, first order in u: from w_0 = 0 every exact update
    lies in the row space and I - 2 eta x_i x_i^T is the identity on the null space, so the null
    component of the computed iterate is the sum of the projected rounding errors of the steps,
    ||delta_t|| <= u ||w_{t+1}|| (subtraction) + 2u eta ||g_t|| (the products 2 x_i r and eta g)
    + 2 eta ||x_i|| gamma_{d+1} (|x_i|.|w_t| + |y_i|) (the residual: a d-term dot product and a
    subtraction, Higham Thm 3.5, gamma_m = m u); measuring it with the rounded V adds at most
    (2 sqrt(n) + sqrt(n)(d + n) + 2) u ||w_t|| (V off by u per entry, twice; the two products
    V^T w and V(V^T w), gamma_d and gamma_n, with ||V||_F = sqrt(n); the subtraction and the norm).
    (4) the margin is orders of magnitude beyond rounding (growth is a sum of 200 positive terms).

References:
    Note 002, section 3.1 ("SGD Convergence Proof (Constant Step Size)", eqs. (10)-(11)); the
    Kaczmarz view: Strohmer & Vershynin (2009), Needell, Srebro & Ward (2014).

Sabotage:
    "wrong-rate": predicts full-batch GD's rate (1 - 2 eta lambda_min(X X^T))^2 per step, i.e. takes
    one SGD step for one pass over the data; "not-from-zero": starts SGD at a random w_0, whose
    null-space component SGD never removes, so the limit is not X^+ y; "broken-optimizer": uses
    half the gradient (the derivative of (x^T w - y)^2 without the factor 2); "lr-2pct": a planted
    optimizer bug, the step size 2 % too large.
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

import reference as ref

from ._base import CheckResult, Context, Outcome, Row, report_row
from ._stats import fmt, interval_row, t_interval, trial_seeds

NAME = "sgd_interpolation"
CLAIM = "SGD, b = 1, eta < 2/(s_max^2 + max||x_i||^2), d > n: w_t -> X^+ y linearly from w_0 = 0"
SOURCE = "note 002, section 3.1 (SGD convergence, constant step, interpolation regime)"
SABOTAGE: tuple[str, ...] = ("wrong-rate", "not-from-zero", "broken-optimizer", "lr-2pct")
JUSTIFICATION = "t-intervals (suite level) over 32 independent groups of runs against the exact first- and second-moment recursions; min-norm limit against a first-order rounding bound accumulated along each run"
STAT_ROWS = 2

U = 2.0**-53
N, D = 20, 60
FACTORS = (0.5, 0.9)
NATS_MS = (2.0, 4.0, 6.0)  # where the mean-square row is read (its ratios have a moderate tail there)
NATS_MEAN = (6.0, 8.0, 10.0)  # where the first-moment row is read (a 2 % step error moves it ~8 %)
NATS = (2.0, 4.0, 6.0, 8.0, 10.0)


def problem(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(np.random.SeedSequence([seed, 7]))
    return rng.standard_normal((N, D)), rng.standard_normal(N)


def exact_geometry(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """w* = X^+ y and an orthonormal row-space basis V (d x n), in 30-digit arithmetic, rounded.

    Modified Gram-Schmidt on the rows x_i gives V and the lower-triangular X V (x_i^T q_j = 0
    for j > i); w* = V c with (X V) c = y by forward substitution."""
    mp: Any = importlib.import_module("mpmath")  # untyped; a dependency of the `check` extra
    mp.mp.dps = 30
    rows = [[mp.mpf(float(c)) for c in row] for row in X]
    basis: list[list[Any]] = []
    for v in rows:
        for q in basis:
            p = mp.fdot(q, v)
            v = [vi - p * qi for vi, qi in zip(v, q)]
        inv = 1 / mp.sqrt(mp.fdot(v, v))
        basis.append([vi * inv for vi in v])
    c: list[Any] = []
    for i, xi in enumerate(rows):  # forward substitution on the lower-triangular X V
        lhs = mp.mpf(float(y[i])) - mp.fsum(c[j] * mp.fdot(xi, basis[j]) for j in range(i))
        c.append(lhs / mp.fdot(xi, basis[i]))
    wstar = [mp.fsum(c[j] * basis[j][i] for j in range(N)) for i in range(D)]
    V = np.array([[float(q[i]) for q in basis] for i in range(D)])
    return np.array([float(w) for w in wstar]), V


@dataclass(frozen=True)
class Theory:
    """The exact predictions for one eta: E||q_t||^2 and q_0^T E[q_t] at the measured times."""

    eta: float
    rho: float  # exact mean-square contraction per step between the first and last time
    times: tuple[int, ...]
    ms: tuple[float, ...]  # tr(L^t S_0)
    mean: tuple[float, ...]  # q_0^T (I - 2 eta G/n)^t q_0


def theory(
    X: np.ndarray,
    V: np.ndarray,
    wstar: np.ndarray,
    eta: float,
    wrong_rate: bool,
    nats: tuple[float, ...] = NATS,
) -> Theory:
    """Iterate the exact first- and second-moment recursions of the row-space error z = V^T q."""
    a = X @ V  # rows a_i = V^T x_i
    G = a.T @ a
    z0 = V.T @ (-wstar)
    S = np.outer(z0, z0)
    m = z0.copy()
    ms0 = float(np.trace(S))
    times: list[int] = []
    ms: list[float] = []
    mean: list[float] = []
    t = 0
    while len(times) < len(nats):
        GS = G @ S
        S = S - (2 * eta / N) * (GS + GS.T) + (4 * eta**2 / N) * (a.T * np.einsum("ij,jk,ik->i", a, S, a)) @ a
        m = m - (2 * eta / N) * (G @ m)
        t += 1
        if math.log(np.trace(S) / ms0) <= -nats[len(times)]:
            times.append(t)
            ms.append(float(np.trace(S)))
            mean.append(float(z0 @ m))
    rate = (
        math.log(ms[-1] / ms[0]) / (times[-1] - times[0])
        if len(times) > 1
        else math.log(ms[0] / ms0) / times[0]
    )
    if wrong_rate:  # GD's ||(I - 2 eta G)^t z_0||^2: one SGD step taken for a pass over the data
        lam, Q = np.linalg.eigh(np.eye(N) - 2 * eta * G)
        ms = [float(np.sum(lam ** (2 * t) * (Q.T @ z0) ** 2)) for t in times]
    return Theory(eta, math.exp(rate), tuple(times), tuple(ms), tuple(mean))


@dataclass(frozen=True)
class Runs:
    """One eta's k groups: group means of ||q_t||^2 and q_0^T q_t at the theory's times; the
    final iterates' null-space components and their rounding bounds."""

    sq: np.ndarray  # (k, 3)
    lin: np.ndarray  # (k, 3)
    null: np.ndarray  # (k R,)
    bound: np.ndarray  # (k R,)


def _runs(
    args: tuple[
        np.ndarray,
        np.ndarray,
        np.ndarray,
        np.ndarray,
        float,
        tuple[int, ...],
        int,
        int,
        np.random.SeedSequence,
        str | None,
    ],
) -> Runs:
    X, y, V, wstar, eta, times, k, R, seed, sabotage = args
    rng = np.random.default_rng(seed)
    n = k * R
    w0 = rng.standard_normal((n, D)) if sabotage == "not-from-zero" else np.zeros((n, D))
    opt = ref.sgd(eta * 1.02 if sabotage == "lr-2pct" else eta)
    state = opt.init(w0)
    scale = 1.0 if sabotage == "broken-optimizer" else 2.0
    xnorm = np.linalg.norm(X, axis=1)
    drift = np.zeros(n)
    sq, lin = [], []
    for t in range(1, times[-1] + 1):
        i = rng.integers(0, N, size=n)
        xi, w = X[i], state.params
        r = np.einsum("rj,rj->r", xi, w) - y[i]
        g = scale * xi * r[:, None]
        state = opt.step(state, g)
        wn = state.params
        drift += U * (
            np.sqrt(np.einsum("rj,rj->r", wn, wn))
            + (2 * eta) * np.abs(scale * r) * xnorm[i]
            + (2 * eta * (D + 1)) * xnorm[i] * (np.einsum("rj,rj->r", np.abs(xi), np.abs(w)) + np.abs(y[i]))
        )
        if t in times:
            q = wn - wstar
            sq.append(np.einsum("rj,rj->r", q, q).reshape(k, R).mean(axis=1))
            lin.append((q @ -wstar).reshape(k, R).mean(axis=1))
    w = state.params
    null = np.linalg.norm(w - (w @ V) @ V.T, axis=1)
    proj = (2 * math.sqrt(N) + math.sqrt(N) * (D + N) + 2) * U * np.linalg.norm(w, axis=1)
    return Runs(np.array(sq).T, np.array(lin).T, null, drift + proj)


@dataclass(frozen=True)
class Divergence:
    decreases: int
    steps: int
    growth: np.ndarray  # log(||q_200|| / ||q_0||) per run


def _diverge(
    args: tuple[np.ndarray, np.ndarray, np.ndarray, float, int, int, np.random.SeedSequence],
) -> Divergence:
    X, y, wstar, eta, steps, runs, seed = args
    rng = np.random.default_rng(seed)
    state = ref.sgd(eta).init(np.zeros((runs, D)))
    opt = ref.sgd(eta)
    prev = first = np.linalg.norm(state.params - wstar, axis=1)
    decreases = 0
    for _ in range(steps):
        i = rng.integers(0, N, size=runs)
        r = np.einsum("rj,rj->r", X[i], state.params) - y[i]
        state = opt.step(state, 2.0 * X[i] * r[:, None])
        cur = np.linalg.norm(state.params - wstar, axis=1)
        decreases += int(np.sum(cur < prev))
        prev = cur
    return Divergence(decreases, steps * runs, np.log(prev / first))


def row_mean_square(r: Runs, th: Theory) -> Row:
    j = [NATS.index(x) for x in NATS_MS]
    per_group = (r.sq[:, j] / np.array(th.ms)[j]).mean(axis=1)
    return interval_row(
        f"eta = {FACTORS[0]} x bound: E||w_t - w*||^2 / tr(L^t S_0) at t = {[th.times[i] for i in j]}",
        1.0,
        t_interval(per_group),
        what="groups",
    )


def row_mean(r: Runs, th: Theory) -> Row:
    j = [NATS.index(x) for x in NATS_MEAN]
    per_group = (r.lin[:, j] / np.array(th.mean)[j]).mean(axis=1)
    return interval_row(
        f"eta = {FACTORS[0]} x bound: E[q_0^T q_t] / q_0^T (I - 2 eta X^T X/n)^t q_0 at t = {[th.times[i] for i in j]}",
        1.0,
        t_interval(per_group),
        what="groups",
    )


def row_min_norm(r: Runs, f: float, t_end: int) -> Row:
    worst = int(np.argmax(r.null / r.bound))
    return Row(
        quantity=f"eta = {f} x bound: null-space part ||(I - V V^T) w_t|| at t = {t_end} (worst run)",
        predicted="0 (limit X^+ y: SGD from 0 stays in the row space)",
        measured=fmt(float(r.null[worst])),
        tolerance=f"<= {fmt(float(r.bound[worst]))} (first-order rounding bound of that run, docstring)",
        holds=bool(np.all(r.null <= r.bound)),
    )


def row_divergence(dv: Divergence, ratio: float) -> Row:
    return Row(
        quantity=f"eta = 1.5/min||x_i||^2 = {fmt(ratio)} x bound: log(||q_200|| / ||q_0||), every run",
        predicted="> 0 (c = 2 eta ||x_i||^2 >= 3: every step is expansive)",
        measured=f"min {fmt(float(np.min(dv.growth)))}; steps where ||q_t|| fell: {dv.decreases} of {dv.steps}",
        tolerance="growth > 0 in every run (a sum of 200 nonnegative terms)",
        holds=bool(np.all(dv.growth > 0)),
    )


def run(ctx: Context) -> Outcome:
    k, R = (32, 32) if ctx.tier == "quick" else (32, 96)
    X, y = problem(ctx.seed)
    wstar, V = exact_geometry(X, y)
    s = np.linalg.svd(X, compute_uv=False)
    xn2 = np.sum(X**2, axis=1)
    eta_bound = 2.0 / (s[0] ** 2 + xn2.max())
    th = [
        theory(X, V, wstar, f * eta_bound, ctx.sabotage == "wrong-rate", NATS if i == 0 else (6.0,))
        for i, f in enumerate(FACTORS)
    ]
    seeds = trial_seeds(ctx, len(FACTORS) + 1)
    sizes = [(k, R), (1, 16)]  # the second eta feeds only the min-norm row
    jobs = [
        (X, y, V, wstar, t.eta, t.times, kk, rr, sd, ctx.sabotage)
        for t, (kk, rr), sd in zip(th, sizes, seeds)
    ]
    runs: list[Runs] = ctx.map(_runs, jobs)
    eta_up = 1.5 / xn2.min()
    (dv,) = ctx.map(_diverge, [(X, y, wstar, eta_up, 200, 16, seeds[-1])])
    rows = (
        row_mean_square(runs[0], th[0]),
        row_mean(runs[0], th[0]),
        *(row_min_norm(r, f, t.times[-1]) for r, f, t in zip(runs, FACTORS, th)),
        row_divergence(dv, eta_up / eta_bound),
        report_row(
            "exact mean-square contraction per step", f"{fmt(th[0].rho)} (eta = {FACTORS[0]} x bound)"
        ),
    )
    figure: dict[str, Any] = {
        "eta_bound": eta_bound,
        "times": [list(t.times) for t in th],
        "ms_pred": [list(t.ms) for t in th],
        "ms_meas": [r.sq.mean(axis=0).tolist() for r in runs],
        "rho": [t.rho for t in th],
        "null": [r.null.tolist() for r in runs],
        "bound": [r.bound.tolist() for r in runs],
        "growth": dv.growth.tolist(),
    }
    return Outcome(rows=rows, figure=figure)


def plot(result: CheckResult, path: str) -> None:
    from ._plot import save, subplots

    f = result.figure
    fig, (ax1, ax2) = subplots(2)
    w2 = None
    for k, fac in enumerate(FACTORS):
        t = np.array(f["times"][k])
        ax1.semilogy(t, f["ms_meas"][k], "o", color=f"C{k}", label=f"eta = {fac} x bound: mean over runs")
        ax1.semilogy(t, f["ms_pred"][k], "k+", ms=9)
        tt = np.linspace(0, t[-1], 50)
        w2 = f["ms_pred"][k][-1] / f["rho"][k] ** t[-1]
        ax1.semilogy(tt, w2 * f["rho"][k] ** tt, color=f"C{k}", lw=0.6, ls="--")
    ax1.set_xlabel("step t")
    ax1.set_ylabel("E||w_t - X^+ y||^2 (+: exact tr(L^t S_0))")
    ax1.legend(fontsize=7)
    for k, fac in enumerate(FACTORS):
        ax2.scatter(
            f["bound"][k], np.maximum(f["null"][k], 1e-300), s=8, color=f"C{k}", label=f"eta = {fac} x bound"
        )
    lo = min(min(b) for b in f["bound"]) / 10
    hi = max(max(b) for b in f["bound"]) * 10
    ax2.loglog([lo, hi], [lo, hi], "k--", lw=0.8, label="null part = rounding bound")
    ax2.set_xlabel("accumulated rounding bound")
    ax2.set_ylabel("||(I - V V^T) w_t||")
    ax2.legend(fontsize=7)
    save(fig, path, result.claim)

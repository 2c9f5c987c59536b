r"""Nesterov's O(1/t^2) against gradient descent's O(1/t) on a smooth convex, not strongly convex
problem.

Claim:
    For L-smooth convex f, Nesterov's accelerated gradient (look-ahead form, lr = 1/L,
    beta_k = (k - 1)/(k + 2) at step k) achieves f(theta_k) - f* <= 2 L ||theta_0 - theta*||^2/(k + 1)^2,
    the optimal O(1/t^2) rate, while gradient descent (lr = 1/L) achieves
    f(theta_t) - f* <= L ||theta_0 - theta*||^2/(2t), O(1/t); on problems where these rates are
    attained the log-log slopes of f - f* are -2 and -1.

Setup:
    f(theta) = (1/2) sum_i lambda_i (theta_i - theta*_i)^2 with d = 200 eigenvalues drawn
    log-uniformly in [1e-7, 1] (L = 1, mu ~ 0: eigenvalues accumulate at 0 on a log scale, so
    the problem is not strongly convex on the time scales run) and |theta_0 - theta*|_i = 1.
    For this spectrum E[f(theta_t) - f*] is ~ 1/(2t) for GD: the density of lambda e_i^2 is
    ~ 1/lambda, which makes GD's O(1/t) bound tight. GD is ``ref.gd(lr=1)``; Nesterov is the bare
    look-ahead step of ``reference.nesterov`` (step and query with beta_t = t/(t + 3), t completed
    steps, i.e. (k - 1)/(k + 2) at step k = t + 1: the registered factory binds a constant beta).
    T = 3000 steps; quick: 8 random spectra, full: 32, stacked in one parameter vector.

Measured:
    * the log-log slope of the seed average of f(theta_t) - f* over t in [10, T], for each method;
    * the gap against each method's theorem bound at every t and seed.

Tolerance:
    Slopes: 99.9 % percentile bootstrap over seeds (resampling whole spectra) of the slope of
    the averaged curve; the prediction is the slope of the exact expectation (the same recursions
    integrated over the log-uniform density on a 5000-point grid): -0.994 (GD, asymptote -1) and
    -1.93 (Nesterov, asymptote -2; the slow oscillation of Nesterov's modes bends the curve).
    Bounds: exact theorems, no tolerance (a relative 1e-12 for rounding).

References:
    Seed 001, "Nesterov Accelerated Gradient" ("Achieves optimal O(1/t^2) rate for smooth convex
    functions"). Nesterov, Y. (1983), A method for solving the convex programming problem with
    convergence rate O(1/k^2); Beck, A. and Teboulle, M. (2009), FISTA (the bound's constant).

Sabotage:
    "wrong-prediction": predicts slope -1 for Nesterov (no acceleration).
    "constant-beta": Nesterov runs with the constant beta = 0.9 of ``ref.nesterov``'s default
        instead of beta_t = t/(t + 3), the predictions unchanged.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

import reference as ref
from reference.nesterov import init as nesterov_init
from reference.nesterov import query as nesterov_query
from reference.nesterov import step as nesterov_step

from ._base import CheckResult, Context, Row
from ._stats import LEVEL, bootstrap_interval, fmt, interval_row, loglog_slope, trial_seeds

NAME = "nesterov_rate"
CLAIM = "smooth convex f: Nesterov f - f* = O(1/t^2) (slope -2), GD O(1/t) (slope -1)"
SOURCE = "seed 001, 'Nesterov Accelerated Gradient' (Nesterov 1983)"
SABOTAGE: tuple[str, ...] = ("wrong-prediction", "constant-beta")

_D, _A, _T = 200, 1e-7, 3000
_TS = np.unique(np.geomspace(10, _T, 24).astype(int))


def _beta(t: int) -> float:
    return t / (t + 3.0)


def _gaps(lam: np.ndarray, method: str, sabotage: str | None) -> np.ndarray:
    """f(theta_t) - f* for t = 0..T, each column of ``lam`` (d, k) a separate problem stacked in
    one vector; theta* = 0 and theta_0 = 1."""
    k = lam.shape[1] if lam.ndim == 2 else 1
    lam_flat = lam.ravel()
    out = np.empty((_T + 1, k))

    def gap(theta: np.ndarray) -> np.ndarray:
        g: np.ndarray = 0.5 * (lam_flat * theta**2).reshape(lam.shape).sum(axis=0)
        return g

    theta0 = np.ones_like(lam_flat)
    out[0] = gap(theta0)
    if method == "gd":
        opt = ref.gd(lr=1.0)
        s = opt.init(theta0)
        for t in range(1, _T + 1):
            s = opt.step(s, lam_flat * s.params)
            out[t] = gap(s.params)
    elif sabotage == "constant-beta":
        nopt: Any = ref.make("nesterov", lr=1.0, beta=0.9)
        ns = nopt.init(theta0)
        for t in range(1, _T + 1):
            ns = nopt.step(ns, lam_flat * nopt.query(ns))
            out[t] = gap(ns.params)
    else:
        st = nesterov_init(theta0)
        for t in range(1, _T + 1):
            b = _beta(st.t)
            q = nesterov_query(st, beta=b)
            st = nesterov_step(st, lam_flat * q, lr=1.0, beta=b)
            out[t] = gap(st.params)
    return out


def _trial(args: tuple[list[np.random.SeedSequence], str, str | None]) -> list[list[float]]:
    seeds, method, sabotage = args
    lam = np.stack([np.exp(np.random.default_rng(s).uniform(np.log(_A), 0.0, _D)) for s in seeds], axis=1)
    out: list[list[float]] = _gaps(lam, method, sabotage).T.tolist()
    return out


def expected_gaps(method: str) -> np.ndarray:
    """E[f(theta_t) - f*] / d under the log-uniform density, by a 5000-point grid in log lambda."""
    grid = np.exp(np.linspace(np.log(_A), 0.0, 5000))
    g: np.ndarray = _gaps(grid[:, None], method, None)[:, 0] / grid.size
    return g


def run(ctx: Context) -> CheckResult:
    if ctx.sabotage not in (None, *SABOTAGE):
        raise ValueError(f"{NAME}: sabotage must be one of {SABOTAGE}, got {ctx.sabotage!r}")
    t0 = time.perf_counter()
    k = 8 if ctx.tier == "quick" else 32
    seeds = trial_seeds(ctx, k)
    half = [seeds[: k // 2], seeds[k // 2 :]]  # two stacked jobs per method (parallel when mapped)
    jobs = [(h, m, ctx.sabotage) for m in ("gd", "nesterov") for h in half]
    res = ctx.map(_trial, jobs)
    gaps = {"gd": np.array(res[0] + res[1]), "nesterov": np.array(res[2] + res[3])}  # (k, T+1)
    rng = np.random.default_rng(np.random.SeedSequence([ctx.seed, 99]))
    ts = _TS
    rows: list[Row] = []
    fig: dict[str, Any] = {"ts": ts.tolist(), "mean": {}, "expected": {}, "bound": {}}
    e0sq = float(_D)  # ||theta_0 - theta*||^2
    t_all = np.arange(_T + 1, dtype=float)
    for m, label, asym in (("gd", "GD", -1.0), ("nesterov", "Nesterov", -2.0)):
        exp_curve = expected_gaps(m) * _D
        pred = loglog_slope(ts, exp_curve[ts])

        def stat(curves: np.ndarray) -> float:
            return loglog_slope(ts, curves[:, ts].mean(axis=0))

        iv = bootstrap_interval(gaps[m], stat, rng, n_boot=1000, level=LEVEL)
        shown = pred
        if ctx.sabotage == "wrong-prediction" and m == "nesterov":
            pred, asym, shown = -1.0, -1.0, -1.0
        rows.append(interval_row(f"{label}: slope of log(f - f*) vs log t", pred, iv, what="spectra (bootstrap)",
                                 shown=f"{fmt(asym)} (exact expectation on this window: {fmt(shown)})"))  # fmt: skip
        with np.errstate(divide="ignore"):
            bound = e0sq / (2.0 * t_all) if m == "gd" else 2.0 * e0sq / (t_all + 1.0) ** 2
        worst = float((gaps[m][:, 1:] / bound[1:]).max())
        rows.append(Row(f"{label}: max_t (f - f*)/bound", "<= 1 (" + ("L R^2/(2t)" if m == "gd" else "2 L R^2/(t+1)^2") + ")",
                        fmt(worst), "exact theorem (1e-12 rounding)", bool(worst <= 1.0 + 1e-12)))  # fmt: skip
        fig["mean"][m] = gaps[m].mean(axis=0)[ts].tolist()
        fig["expected"][m] = exp_curve[ts].tolist()
        fig["bound"][m] = bound[ts].tolist()
        fig[f"slope_{m}"] = [iv.estimate, iv.lo, iv.hi, pred]
    return CheckResult(
        name=NAME, claim=CLAIM, source=SOURCE, rows=tuple(rows),
        justification="slopes: 99.9% bootstrap over independent random spectra against the slope of the exact expectation on the same window; bounds: the theorems themselves",
        figure=fig, seconds=time.perf_counter() - t0,
    )  # fmt: skip


def plot(result: CheckResult, path: str) -> None:
    from ._plot import save, subplots

    f = result.figure
    fig, (ax,) = subplots(width=6.0, height=4.5)
    ts = np.array(f["ts"], dtype=float)
    for m, color, label in (("gd", "C0", "GD"), ("nesterov", "C3", "Nesterov")):
        est, lo, hi, pred = f[f"slope_{m}"]
        ax.loglog(ts, f["mean"][m], "o", color=color, ms=4,
                  label=f"{label}: slope {fmt(est)} [{fmt(lo)}, {fmt(hi)}], predicted {fmt(pred)}")  # fmt: skip
        ax.loglog(ts, f["expected"][m], "-", color=color, lw=0.8)
        ax.loglog(ts, f["bound"][m], ":", color=color, lw=1.0, label=f"{label}: theorem bound")
    ax.set_xlabel("step t")
    ax.set_ylabel("f(theta_t) - f*  (mean over spectra; line: exact expectation)")
    ax.legend(fontsize=7)
    save(fig, path, "Nesterov O(1/t^2) vs GD O(1/t), smooth convex quadratic")

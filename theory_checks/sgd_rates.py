r"""SGD's headline rates: the convex bound C1/sqrt(t) + C2 sigma^2 eta_t, and the non-convex rate
with its noise term.

Claim:
    Note 000, "SGD Convergence in a Nutshell", with sigma^2 = E||g - grad L||^2:
    convex: E[L(theta_t) - L*] <= C1/sqrt(t) + C2 sigma^2 eta_t;
    non-convex: min_{s <= t} E||grad L(theta_s)||^2 <= C/sqrt(t) + sigma^2/t.
    What holds, with the constants derived here (unbiased g, L-smooth, eta <= 1/L constant over a
    horizon of t steps):
    convex, for the AVERAGED iterate thetabar_t = (theta_0 + ... + theta_{t-1})/t:
        E[L(thetabar_t)] - L* <= ||theta_0 - theta*||^2/(2 eta t) + eta sigma^2/2.
    (E||theta_{k+1} - theta*||^2 = E||theta_k - theta*||^2 - 2 eta E<grad L_k, theta_k - theta*>
    + eta^2 (E||grad L_k||^2 + sigma^2), and <grad L(x), x - x*> >= L(x) - L* + ||grad L(x)||^2/(2L)
    kills the gradient terms for eta <= 1/L; sum over k and Jensen.) With eta_t = eta0/sqrt(t) this
    is the notes' form: C1 = ||theta_0 - theta*||^2/(2 eta0), C2 = 1/2.
    non-convex (Ghadimi and Lan 2013): L(theta_{k+1}) <= L(theta_k) - eta <grad L_k, g_k> +
    (L eta^2/2)||g_k||^2; in expectation, with eta <= 1/L and summing,
        min_s E||grad L(theta_s)||^2 <= (1/t) sum_{s<t} E||grad L(theta_s)||^2
                                     <= 2(L(theta_0) - L*)/(eta t) + L eta sigma^2,
    so with eta = eta0/sqrt(t) the noise contributes L eta0 sigma^2/sqrt(t), NOT sigma^2/t as the
    note writes; with a constant eta the expected squared gradient does not vanish: near a
    minimum with curvature lambda it settles at sum over coordinates of lambda eta s_i^2/(2 - eta
    lambda) (the stationary variance of the linearised recursion), a floor O(L eta sigma^2).

Setup:
    Convex: f(theta) = (1/2) sum_i lambda_i theta_i^2, d = 50, lambda_i = A^((i + 1/2)/d), A = 1e-6
    (log-uniform: smooth, L = 1, not strongly convex on these horizons, so the 1/sqrt(t) is
    attained), theta_0 = 1 (R^2 = 50), g = grad f + xi, xi ~ N(0, (sigma^2/d) I), sigma^2 = 4;
    ``ref.sgd(lr=eta0/sqrt(T))``, eta0 = 1, for horizons T in {16, 64, 256}; R = 64 replicates
    (full: 256) stacked in one vector, independent noise.
    Non-convex: f(theta) = sum_i theta_i^2/2 + 2(1 - cos theta_i), d = 10 (f'' = 1 + 2 cos in
    [-1, 3]: L = 3, concave near |theta| = pi; L* = 0 at 0, f''(0) = 3), theta_0 = 2.5 (f'' < 0
    there), sigma^2 = 0.01; (i) horizons T in {16, 64, 256} with eta = eta0/sqrt(T), eta0 = 1/3;
    (ii) constant eta = 1/6 for 200 steps, the squared gradient averaged over s = 50..199.
    R = 256 replicates (full: 1024). Noise from the seed (``_stats.trial_seeds``).

Measured:
    * convex levels: mean over replicates of f(thetabar_T)/E[f(thetabar_T)] at T = 16 and 256
      (stat, predicted 1), with the exact expectation per coordinate: thetabar = e0 S0/T - (eta/T)
      sum_j xi_j (1 - a^(T-1-j))/(1 - a), a = 1 - eta lambda, S0 = (1 - a^T)/(1 - a), so
      E thetabar^2 = (S0/T)^2 + (eta/T)^2 (sigma^2/d) sum_{m=1}^{T-1} ((1 - a^m)/(1 - a))^2;
    * convex slope of log mean f(thetabar_T) against log T between 16 and 256 against the exact
      expectation's (-0.45; asymptote -1/2), implied by the two levels;
    * convex theorem at every T: exact expectation and measured mean <= C1/sqrt(T) + C2 sigma^2 eta_T;
    * non-convex theorem at every T: measured (1/T) sum_{s<T} mean ||grad f(theta_s)||^2 <=
      (2 f(theta_0)/eta0 + L eta0 sigma^2)/sqrt(T); report: the measured min_s;
    * non-convex floor at constant eta (stat): mean over s = 50..199 and replicates of
      ||grad f(theta_s)||^2 against 3 eta sigma^2/(2 - 3 eta) (the note's sigma^2/t term would
      make it vanish).

Tolerance:
    Stat rows: Student-t intervals at the suite's level over independent replicates (each
    statistic a sum over coordinates, and for the floor also over 200 steps: close to normal).
    The floor's prediction is the linearised recursion's; the neglected terms are relative O(v),
    v = eta (sigma^2/d)/(3 (2 - 3 eta)) = 3.7e-5 the stationary variance per coordinate
    (grad f = 3 theta - theta^3/3 + ...), below a tenth of the interval's relative half-width
    (about 1.2 %); after the 50 burn-in steps the noiseless iterate from theta_0 = 2.5 is 5.6e-15,
    against a stationary standard deviation of 6e-3 per coordinate.
    The convex slope row is implied by the two levels (|diff| <= (-ln(1 - h_16) - ln(1 - h_256))
    /ln 16); the theorem rows are exact inequalities; the measured means sit at about 0.09 (convex)
    and 0.52 (non-convex, at T = 16, where the mean over 256 replicates has a relative standard
    error under 1 %) of their bounds, so they cannot fail by chance in practice.

References:
    Note 000, "SGD Convergence in a Nutshell". Ghadimi, S. and Lan, G. (2013), Stochastic first-
    and zeroth-order methods for nonconvex stochastic programming, Thm 2.1 (the non-convex bound);
    Nemirovski, A. et al. (2009), Robust stochastic approximation (the averaged-iterate bound).

Sabotage:
    "wrong-prediction": predicts the convex slope -1 (the deterministic rate) and the note's
        sigma^2/t for the non-convex noise term at constant eta (sigma^2/200 instead of the floor).
    "lr-2pct": SGD runs with every lr 2 % too small.
    "last-iterate": the convex rows measure the last iterate theta_T instead of thetabar_T.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

import reference as ref

from ._base import CheckResult, Context, Outcome, Row
from ._stats import Interval, fmt, interval_row, t_interval, trial_seeds

NAME = "sgd_rates"
CLAIM = "SGD, eta_t = eta0/sqrt(t): convex E[L(thetabar_t)] - L* <= C1/sqrt(t) + C2 sigma^2 eta_t (slope -1/2); non-convex avg E||grad L||^2 <= C/sqrt(t), floor L eta sigma^2 at constant eta"
SOURCE = "note 000, 'SGD Convergence in a Nutshell' (Ghadimi and Lan 2013)"
SABOTAGE: tuple[str, ...] = ("wrong-prediction", "lr-2pct", "last-iterate")
JUSTIFICATION = "t-intervals (suite level) over independent replicates against exact expectations (convex: closed form of the averaged iterate; non-convex floor: the linearised stationary variance, neglected terms O(4e-5) relative); theorems' inequalities with derived constants"
STAT_ROWS = 3

_HORIZONS = {"quick": (16, 64, 256), "full": (16, 64, 256)}
_CD, _CA, _CS2, _CETA0 = 50, 1e-6, 4.0, 1.0  # convex: d, A, sigma^2, eta0
_ND, _NS2, _NETA0, _NL, _NTH0 = 10, 0.01, 1.0 / 3.0, 3.0, 2.5  # non-convex: d, sigma^2, eta0, L, theta_0
_FETA, _FBURN, _FEND = 1.0 / 6.0, 50, 200  # the constant-eta floor run


def _lam() -> np.ndarray:
    out: np.ndarray = _CA ** ((np.arange(_CD) + 0.5) / _CD)
    return out


@dataclass(frozen=True)
class ConvexRun:
    """f(thetabar_T) per replicate (rows: horizons, columns: replicates)."""

    f: np.ndarray


@dataclass(frozen=True)
class NonconvexRun:
    """Per replicate: (1/T) sum_{s<T} ||grad f(theta_s)||^2 per horizon (rows), min over s of the
    replicate mean per horizon, and the constant-eta floor statistic."""

    avg: np.ndarray
    min_mean: tuple[float, ...]
    floor: np.ndarray


def _lr_scale(sabotage: str | None) -> float:
    return 0.98 if sabotage == "lr-2pct" else 1.0


def _run_convex(args: tuple[np.random.SeedSequence, int, tuple[int, ...], str | None]) -> ConvexRun:
    seed, reps, horizons, sabotage = args
    rng = np.random.default_rng(seed)
    lam = np.tile(_lam(), reps)
    sd = math.sqrt(_CS2 / _CD)
    rows = []
    for T in horizons:
        opt: Any = ref.sgd(lr=_CETA0 / math.sqrt(T) * _lr_scale(sabotage))
        s = opt.init(np.ones(lam.size))
        total = np.zeros(lam.size)
        noise = sd * rng.standard_normal((T, lam.size))
        for k in range(T):
            total = total + s.params
            s = opt.step_fn(s, lam * s.params + noise[k])
        x = (s.params if sabotage == "last-iterate" else total / T).reshape(reps, _CD)
        rows.append(0.5 * (_lam() * x**2).sum(axis=1))
    return ConvexRun(np.array(rows))


def _ncgrad(theta: np.ndarray) -> np.ndarray:
    out: np.ndarray = theta + 2.0 * np.sin(theta)
    return out


def _ncf(theta: np.ndarray) -> float:
    return float(np.sum(theta**2 / 2 + 2 * (1 - np.cos(theta))))


def _run_nonconvex(args: tuple[np.random.SeedSequence, int, tuple[int, ...], str | None]) -> NonconvexRun:
    seed, reps, horizons, sabotage = args
    rng = np.random.default_rng(seed)
    n = reps * _ND
    sd = math.sqrt(_NS2 / _ND)
    avg, mins = [], []
    for T in horizons:
        opt: Any = ref.sgd(lr=_NETA0 / math.sqrt(T) * _lr_scale(sabotage))
        s = opt.init(np.full(n, _NTH0))
        sq = np.empty((T, reps))
        noise = sd * rng.standard_normal((T, n))
        for k in range(T):
            g = _ncgrad(s.params)
            sq[k] = (g**2).reshape(reps, _ND).sum(axis=1)
            s = opt.step_fn(s, g + noise[k])
        avg.append(sq.mean(axis=0))
        mins.append(float(np.min(sq.mean(axis=1))))
    opt = ref.sgd(lr=_FETA * _lr_scale(sabotage))
    s = opt.init(np.full(n, _NTH0))
    acc = np.zeros(reps)
    noise = sd * rng.standard_normal((_FEND, n))
    for k in range(_FEND):
        g = _ncgrad(s.params)
        if k >= _FBURN:
            acc += (g**2).reshape(reps, _ND).sum(axis=1)
        s = opt.step_fn(s, g + noise[k])
    return NonconvexRun(np.array(avg), tuple(mins), acc / (_FEND - _FBURN))


def expected_convex(T: int, eta: float) -> float:
    """E[f(thetabar_T)] for SGD with constant eta over T steps (closed form per coordinate)."""
    lam = _lam()
    a = 1.0 - eta * lam
    s0 = (1.0 - a**T) / (1.0 - a)
    m = np.arange(1, T, dtype=np.float64)[:, None]
    noise = np.sum(((1.0 - a[None, :] ** m) / (1.0 - a[None, :])) ** 2, axis=0)
    ex2 = (s0 / T) ** 2 + (eta / T) ** 2 * (_CS2 / _CD) * noise
    return float(0.5 * np.sum(lam * ex2))


def _convex_bound(T: int) -> float:
    """C1/sqrt(T) + C2 sigma^2 eta_T with C1 = R^2/(2 eta0), C2 = 1/2."""
    return (_CD / (2 * _CETA0)) / math.sqrt(T) + 0.5 * _CS2 * _CETA0 / math.sqrt(T)


def convex_rows(runs: list[ConvexRun], hs: tuple[int, ...], sabotage: str | None) -> list[Row]:
    f = np.hstack([r.f for r in runs])  # (horizons, replicates)
    e = np.array([expected_convex(T, _CETA0 / math.sqrt(T)) for T in hs])
    i1, i2 = 0, len(hs) - 1
    iv1, iv2 = t_interval(f[i1] / e[i1]), t_interval(f[i2] / e[i2])
    rows = [
        interval_row(f"convex: mean f(thetabar_T)/E at T = {hs[i]}", 1.0, iv, what="replicates")
        for i, iv in ((i1, iv1), (i2, iv2))
    ]
    rows.append(_convex_slope(iv1, iv2, e[i1], e[i2], hs, sabotage))
    bound = np.array([_convex_bound(T) for T in hs])
    worst_e, worst_m = float(np.max(e / bound)), float(np.max(f.mean(axis=1) / bound))
    rows.append(
        Row(
            "convex: E[f(thetabar_T)] and measured mean over C1/sqrt(T) + C2 sigma^2 eta_T, every T",
            f"<= 1 (C1 = R^2/(2 eta0) = {fmt(_CD / (2 * _CETA0))}, C2 = 1/2)",
            f"exact {fmt(worst_e)}, measured {fmt(worst_m)}",
            "exact theorem (averaged iterate)",
            bool(worst_e <= 1.0 and worst_m <= 1.0),
        )
    )
    return rows


def _convex_slope(
    iv1: Interval, iv2: Interval, e1: float, e2: float, hs: tuple[int, ...], sabotage: str | None
) -> Row:
    span = math.log(hs[-1] / hs[0])
    pred = math.log(e2 / e1) / span
    meas = pred + (math.log(iv2.estimate) - math.log(iv1.estimate)) / span
    tol = (-math.log(max(1e-300, 1 - iv1.half_width)) - math.log(max(1e-300, 1 - iv2.half_width))) / span
    asym, shown = -0.5, pred
    if sabotage == "wrong-prediction":
        pred = asym = shown = -1.0
    return Row(
        f"convex: slope of log mean f(thetabar_T) vs log T, T = {hs[0]}..{hs[-1]}",
        f"{fmt(asym)} asymptotically; exact expectation {fmt(shown)}",
        fmt(meas),
        f"|diff| <= {fmt(tol)} (implied by the two level intervals)",
        bool(abs(meas - pred) <= tol),
    )


def nonconvex_rows(runs: list[NonconvexRun], hs: tuple[int, ...], sabotage: str | None) -> list[Row]:
    avg = np.hstack([r.avg for r in runs]).mean(axis=1)
    c = 2 * _ncf(np.full(_ND, _NTH0)) / _NETA0 + _NL * _NETA0 * _NS2
    bound = np.array([c / math.sqrt(T) for T in hs])
    worst = float(np.max(avg / bound))
    mins = [min(r.min_mean[i] for r in runs) for i in range(len(hs))]
    floor_pred = _NL * _FETA * _NS2 / (2 - _NL * _FETA)
    shown = ""
    if sabotage == "wrong-prediction":
        floor_pred, shown = _NS2 / _FEND, f"{fmt(_NS2 / _FEND)} (note: sigma^2/t at t = {_FEND})"
    iv = t_interval(np.hstack([r.floor for r in runs]))
    return [
        Row(
            "non-convex: (1/T) sum_s mean ||grad f(theta_s)||^2 over C/sqrt(T), every T",
            f"<= 1 (C = 2 (f(theta_0) - f*)/eta0 + L eta0 sigma^2 = {fmt(c)})",
            fmt(worst),
            "exact theorem (Ghadimi-Lan, average over s)",
            bool(worst <= 1.0),
        ),
        Row(
            "non-convex: min_s of mean ||grad f(theta_s)||^2, T = " + fmt(list(hs)),
            "-",
            fmt(mins),
            "report only",
            None,
            kind="report",
        ),
        interval_row(
            f"non-convex, constant eta = {fmt(_FETA)}: mean ||grad f||^2 over s = {_FBURN}..{_FEND - 1}",
            floor_pred,
            iv,
            what="replicates",
            shown=shown or f"{fmt(floor_pred)} (= L eta sigma^2/(2 - L eta), not -> 0)",
        ),
    ]


def run(ctx: Context) -> Outcome:
    reps_c, reps_n = (64, 256) if ctx.tier == "quick" else (256, 1024)
    jobs = 1 if ctx.tier == "quick" else 4
    sc, sn = trial_seeds(ctx, jobs, stream=0), trial_seeds(ctx, jobs, stream=1)
    hs = _HORIZONS[ctx.tier]
    cr: list[ConvexRun] = ctx.map(_run_convex, [(s, reps_c // jobs, hs, ctx.sabotage) for s in sc])
    nr: list[NonconvexRun] = ctx.map(_run_nonconvex, [(s, reps_n // jobs, hs, ctx.sabotage) for s in sn])
    rows = convex_rows(cr, hs, ctx.sabotage) + nonconvex_rows(nr, hs, ctx.sabotage)
    f = np.hstack([r.f for r in cr]).mean(axis=1)
    fig = {
        "T": list(hs),
        "convex": f.tolist(),
        "convex_expected": [expected_convex(T, _CETA0 / math.sqrt(T)) for T in hs],
        "nonconvex": np.hstack([r.avg for r in nr]).mean(axis=1).tolist(),
    }
    return Outcome(rows=tuple(rows), figure=fig)


def plot(result: CheckResult, path: str) -> None:
    from ._plot import save, subplots

    f = result.figure
    fig, (ax,) = subplots(width=6.0, height=4.5)
    T = np.array(f["T"], dtype=float)
    ax.loglog(T, f["convex"], "o", color="C0", label="convex: mean f(thetabar_T) - f*")
    ax.loglog(T, f["convex_expected"], "-", color="C0", lw=0.8, label="convex: exact expectation")
    ax.loglog(T, [_convex_bound(int(t)) for t in T], ":", color="C0", label="C1/sqrt(T) + C2 sigma^2 eta_T")
    ax.loglog(T, f["nonconvex"], "s", color="C3", label="non-convex: (1/T) sum mean ||grad f||^2")
    ax.set_xlabel("horizon T (eta = eta0/sqrt(T))")
    ax.legend(fontsize=7)
    save(fig, path, "SGD rates: convex (averaged iterate) and non-convex")

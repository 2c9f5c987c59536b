r"""Heavy ball's sqrt(kappa) speedup: iterations to a fixed accuracy grow like kappa for GD and like
sqrt(kappa) for heavy ball with its optimal parameters.

Claim:
    On convex quadratics with condition number kappa = L/mu, the iterations T(kappa) needed to
    reduce ||theta_t - theta*|| by a factor eps grow like kappa for gradient descent (lr =
    2/(L + mu)) and like sqrt(kappa) for heavy-ball momentum with Polyak's optimal parameters
    lr = 4/(sqrt(L) + sqrt(mu))^2, beta = ((sqrt(kappa) - 1)/(sqrt(kappa) + 1))^2.

Setup:
    Instances built to attain the worst case, with parameters exact in binary (so the exact-
    arithmetic trajectory is exactly the closed form below and only float64 rounding separates
    it from the run). f(theta) = (1/2)(mu theta_1^2 + L theta_2^2), theta* = 0, theta_0 = (1, 1):
    the error sits on the two extreme modes, which decay slowest.
    * Heavy ball: s = 1 - 2^-k, L = (1 + s)^2, mu = (1 - s)^2, so sqrt(kappa) = (1 + s)/(1 - s) =
      2^(k+1) - 1, Polyak's lr = 4/(sqrt L + sqrt mu)^2 = 1 and beta = s^2; k = 1..6 (kappa 9 to
      16129; full tier: k = 1..8, kappa up to 261121). ``ref.make("momentum", lr=1, beta=s^2,
      form="polyak")`` (note 001's v = beta v + g, theta -= lr v, v_0 = 0).
    * GD: r = 1 - 2^-k, L = 1 + r, mu = 1 - r, kappa = (1 + r)/(1 - r) = 2^(k+1) - 1, its optimal
      lr = 2/(L + mu) = 1; k = 3..9 (kappa 15 to 1023; full tier k = 3..11), all instances stacked
      in one parameter vector of ``ref.gd(lr=1)`` (GD is elementwise).
    eps = 1e-6. Each run goes on until ||e_t|| <= eps ||e_0|| (the criterion, not a prediction);
    a run that has not met it after the cap 20 kappa ln(1/eps) (forty times GD's worst-case count,
    whatever the method), or whose error exceeds 1e6 ||e_0||, is reported as censored and fails
    its rows. No randomness: the seed is
    not used.

Measured:
    * ||e_t|| / ||e_0|| at every t against the closed form (levels): GD's modes are multiplied
      by 1 - lr mu = r and 1 - lr L = -r, so ||e_t|| = r^t ||e_0||; heavy ball's characteristic
      roots are double at both ends (that is what Polyak's parameters do), at s and -s:
      e_t,1 = s^t (1 + t (1 - s)), e_t,2 = (-s)^t (1 + t (1 + s)) (from a_0 = 1,
      a_1 = 1 - lr lambda and a_t = r^t (1 + t (a_1/r - 1)) for a double root r);
    * T(kappa), the first t with ||e_t|| <= eps ||e_0||, against the closed form's first passage
      (GD: ceil(ln eps / ln r));
    * the log-log slope of T against kappa for each method, against the slope of the closed
      form's counts on the same grid (asymptotically 1 and 1/2; heavy ball's factor t in
      t s^t adds ln T to T ~ (sqrt(kappa)/2)(ln(1/eps) + ln T), which makes the finite-grid
      slope about 0.53).

Tolerance:
    Derived float64 rounding, no statistics. Each step's local error (the gradient lambda theta
    and the two-term sums and products of the update, any evaluation order) is at most
    b_v = 2u(beta |v_{t-1}| + lambda |theta_{t-1}|) in v and lr b_v + 2u(|theta_{t-1}| +
    lr |v_t|) in theta (u = 2^-53, first order in u; the neglected terms are smaller by t u).
    Local errors propagate through the exact linear step: an error made at step k reaches theta_t
    multiplied by at most R_{t-k}, R_j = |a_j| + lr beta j s^(j-1) (the closed-form responses to a
    unit error in theta and in v; R_j = r^j <= 1 for GD), so |theta_hat_t - theta_t| <=
    sum_{k <= t} R_{t-k} (local error_k) per coordinate, plus 4u for evaluating the closed form. T must lie between the first passages
    of the closed form shifted down and up by that bound (equal to it unless the crossing is
    within rounding of eps); the slope tolerance is the range those ranges allow.

References:
    Note 001, "Heavy Ball Method: Adding Memory" ("GD: iterations proportional to kappa;
    Momentum: iterations proportional to sqrt(kappa)"). Polyak, B. T. (1964), Some methods of
    speeding up the convergence of iteration methods (the optimal lr and beta).

Sabotage:
    "wrong-prediction": predicts exponent 1 for heavy ball (no speedup).
    "no-momentum": the heavy-ball run uses beta = 0 and GD's optimal lr 2/(L + mu), as if the
        optimizer ignored its momentum; the predictions unchanged.
    "damped-momentum": the heavy-ball run uses the buffer v = beta v + (1 - beta) g (dampening
        beta, i.e. form "ema") with Polyak's lr, a realistic mix-up of the notes' two momentum
        conventions: no speedup (T grows like kappa), and the run is not censored.
    "lr-2pct": heavy ball and GD run with lr 2 % too small (0.98).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

import reference as ref

from ._base import CheckResult, Context, Outcome, Row
from ._stats import fmt

NAME = "momentum_speedup"
CLAIM = "iterations to accuracy eps grow like kappa for GD and like sqrt(kappa) for heavy ball (lr = 4/(sqrt L + sqrt mu)^2, beta = ((sqrt k - 1)/(sqrt k + 1))^2)"
SOURCE = "note 001, 'Heavy Ball Method' (Polyak 1964)"
SABOTAGE: tuple[str, ...] = ("wrong-prediction", "no-momentum", "damped-momentum", "lr-2pct")
JUSTIFICATION = "closed forms of both methods' error on exact-parameter worst-case quadratics; tolerance = derived float64 forward-error bound"
STAT_ROWS = 0

U = 2.0**-53
EPS = 1e-6
_DIVERGED = 1e6  # ||e_t|| / ||e_0|| at which a run is stopped as diverged (censored)


@dataclass(frozen=True)
class Run:
    """One method on one or more instances: kappa per instance, the measured ||e_t|| / ||e_0||
    (rows t = 0..T, one column per instance), the closed form on the same steps, the rounding
    bound of the measured ratio, and whether the cap stopped the run."""

    kappas: tuple[float, ...]
    measured: np.ndarray
    predicted: np.ndarray
    bound: np.ndarray
    censored: bool


def _hb_closed_form(s: float, ts: np.ndarray) -> np.ndarray:
    """Heavy ball's exact errors (rows t) on the modes mu = (1 - s)^2 and L = (1 + s)^2."""
    return np.stack([s**ts * (1 + ts * (1 - s)), (-s) ** ts * (1 + ts * (1 + s))], axis=1)


def _hb_first_passage(s: float) -> int:
    """First t at which the closed form's ||e_t|| / ||e_0|| <= EPS."""
    n = 64
    while True:
        ts = np.arange(n, dtype=np.float64)
        hit = np.flatnonzero(np.linalg.norm(_hb_closed_form(s, ts), axis=1) / math.sqrt(2) <= EPS)
        if hit.size:
            return int(hit[0])
        n *= 2


def _hb_run(k: int, sabotage: str | None) -> Run:
    s = 1.0 - 2.0**-k
    lam = np.array([(1 - s) ** 2, (1 + s) ** 2])  # exact in binary
    kappa = float(lam[1] / lam[0])
    lr = 0.98 if sabotage == "lr-2pct" else 1.0
    beta = s * s
    if sabotage == "no-momentum":
        lr, beta = 2.0 / (lam[0] + lam[1]), 0.0  # GD at its own optimal lr
    damp = beta if sabotage == "damped-momentum" else 0.0
    opt: Any = ref.make("momentum", lr=lr, beta=beta, form="polyak", dampening=damp)
    cap = int(20 * kappa * math.log(1 / EPS))
    t_pred = _hb_first_passage(s)
    state = opt.init(np.ones(2))
    theta, vel = [state.params], [state.velocity]
    # run to the criterion, and at least one step past the closed form's crossing
    while (np.linalg.norm(theta[-1]) > EPS * math.sqrt(2) or len(theta) <= t_pred + 1) and len(theta) <= cap:
        if np.linalg.norm(theta[-1]) > _DIVERGED:
            cap = len(theta) - 1  # diverged: reported as censored
            break
        state = opt.step_fn(state, lam * state.params)  # the bare rule (no argument checks)
        theta.append(state.params)
        vel.append(state.velocity)
    th, v = np.array(theta), np.array(vel)
    ts = np.arange(th.shape[0], dtype=np.float64)
    pred = _hb_closed_form(s, ts)
    # rounding: local errors per step, propagated by the closed-form responses R_j
    b_v = 2 * U * (s * s * np.abs(v[:-1]) + lam * np.abs(th[:-1]))
    b_th = b_v + 2 * U * (np.abs(th[:-1]) + np.abs(v[1:]))
    resp = np.abs(pred) + s * s * ts[:, None] * s ** np.maximum(ts[:, None] - 1, 0)  # R_j
    local = b_v + b_th  # made by step k = 1..T
    prop = [np.convolve(resp[:, i], local[:, i])[: ts.size - 1] for i in range(2)]  # sum_k R_{t-k} l_k
    per_coord = np.vstack([np.zeros((1, 2)), np.stack(prop, axis=1)]) + 4 * U * np.abs(pred)
    return Run(
        kappas=(kappa,),
        measured=(np.linalg.norm(th, axis=1) / math.sqrt(2))[:, None],
        predicted=(np.linalg.norm(pred, axis=1) / math.sqrt(2))[:, None],
        bound=(np.linalg.norm(per_coord, axis=1) / math.sqrt(2))[:, None],
        censored=th.shape[0] > cap,
    )


def _gd_run(ks: tuple[int, ...], sabotage: str | None) -> Run:
    """GD at lr = 1 on every instance at once (coordinates 2i, 2i + 1 belong to instance i)."""
    r = np.array([1.0 - 2.0**-k for k in ks])
    lam = np.ravel(np.stack([1 - r, 1 + r], axis=1))  # exact in binary
    kappas = tuple(float(x) for x in (1 + r) / (1 - r))
    opt: Any = ref.gd(lr=0.98 if sabotage == "lr-2pct" else 1.0)
    cap = int(20 * max(kappas) * math.log(1 / EPS))
    t_pred = int(np.max(np.ceil(math.log(EPS) / np.log(r))))
    state = opt.init(np.ones(lam.size))
    theta = [state.params]
    while (np.max(np.abs(theta[-1])) > EPS or len(theta) <= t_pred + 1) and len(theta) <= cap:
        if np.max(np.abs(theta[-1])) > _DIVERGED:
            cap = len(theta) - 1
            break
        state = opt.step_fn(state, lam * state.params)
        theta.append(state.params)
    th = np.array(theta).reshape(len(theta), len(ks), 2)
    ts = np.arange(th.shape[0], dtype=np.float64)[:, None]
    b = np.vstack(
        [np.zeros((1, lam.size)), np.cumsum(2 * U * (1 + lam) * np.abs(np.array(theta[:-1])), axis=0)]
    )
    b = b.reshape(th.shape)
    pred = r[None, :] ** ts
    return Run(
        kappas=kappas,
        measured=np.linalg.norm(th, axis=2) / math.sqrt(2),
        predicted=pred,
        bound=np.linalg.norm(b, axis=2) / math.sqrt(2) + 4 * U * pred,
        censored=th.shape[0] > cap,
    )


def _first(mask: np.ndarray) -> float:
    """First index where ``mask`` holds (inf if never)."""
    idx = np.flatnonzero(mask)
    return float(idx[0]) if idx.size else math.inf


def _counts(run: Run, j: int) -> tuple[float, float, float, float]:
    """(measured T, predicted T, lowest and highest T the rounding bound allows) of instance j."""
    m, p, b = run.measured[:, j], run.predicted[:, j], run.bound[:, j]
    if run.censored and m[-1] > EPS:
        return math.inf, _first(p <= EPS), _first(p - b <= EPS), _first(p + b <= EPS)
    return _first(m <= EPS), _first(p <= EPS), _first(p - b <= EPS), _first(p + b <= EPS)


def row_curve(label: str, runs: list[Run]) -> Row:
    """||e_t|| / ||e_0|| against the closed form at every step, within the rounding bound."""
    excess = max(float(np.max(np.abs(r.measured - r.predicted) / r.bound)) for r in runs)
    dev = max(float(np.max(np.abs(r.measured - r.predicted))) for r in runs)
    law = "r^t" if label == "GD" else "sqrt((s^2t (1+t(1-s))^2 + s^2t (1+t(1+s))^2)/2)"
    return Row(
        quantity=f"{label}: ||e_t||/||e_0|| at every t, every kappa",
        predicted=f"closed form {law}",
        measured=f"max |deviation| {fmt(dev)} = {fmt(excess)} x bound",
        tolerance="<= 1 x derived float64 forward-error bound (per t)",
        holds=bool(excess <= 1.0),
    )


def row_counts(label: str, runs: list[Run]) -> Row:
    """T(kappa) measured against the closed form's first passage, exact unless within rounding."""
    c = [_counts(r, j) for r in runs for j in range(len(r.kappas))]
    ok = all(lo <= m <= hi for m, _, lo, hi in c)
    return Row(
        quantity=f"{label}: T(kappa), kappa = {fmt([k for r in runs for k in r.kappas])}",
        predicted=fmt([p for _, p, _, _ in c]),
        measured=fmt([m for m, _, _, _ in c]) + (" (censored)" if any(r.censored for r in runs) else ""),
        tolerance="equal (a neighbour only where the crossing is within the rounding bound of eps)",
        holds=ok,
    )


def row_exponent(label: str, runs: list[Run], asymptote: float, sabotage: str | None) -> Row:
    """log-log slope of T(kappa): measured against the closed form's slope on the same grid."""
    kap = np.log([k for r in runs for k in r.kappas])
    c = np.array([_counts(r, j) for r in runs for j in range(len(r.kappas))])
    pred = float(np.polyfit(kap, np.log(c[:, 1]), 1)[0])
    if not np.all(np.isfinite(c)):
        return Row(f"{label}: exponent of T(kappa)", fmt(pred), "censored run", "-", False)
    meas = float(np.polyfit(kap, np.log(c[:, 0]), 1)[0])
    w = (kap - kap.mean()) / np.sum((kap - kap.mean()) ** 2)  # slope = sum w_i log T_i
    tol = float(np.sum(np.abs(w) * np.log(c[:, 3] / c[:, 2])))  # the range the allowed T span
    shown = pred
    if sabotage == "wrong-prediction" and label == "heavy ball":
        pred = asymptote = shown = 1.0
    return Row(
        quantity=f"{label}: exponent of T(kappa) (log-log slope)",
        predicted=f"{fmt(asymptote)} asymptotically; {fmt(shown)} on this grid (closed form)",
        measured=fmt(meas),
        tolerance=f"|diff| <= {fmt(tol)} (the T ranges rounding allows)",
        holds=bool(abs(meas - pred) <= tol),
    )


def _job(args: tuple[str, Any, str | None]) -> Run:
    method, k, sabotage = args
    return _gd_run(k, sabotage) if method == "gd" else _hb_run(k, sabotage)


def run(ctx: Context) -> Outcome:
    hb_ks = range(1, 7) if ctx.tier == "quick" else range(1, 9)
    gd_ks = tuple(range(3, 10) if ctx.tier == "quick" else range(3, 12))
    jobs: list[tuple[str, Any, str | None]] = [("hb", k, ctx.sabotage) for k in hb_ks]
    runs: list[Run] = ctx.map(_job, [("gd", gd_ks, ctx.sabotage), *jobs])
    gd, hb = runs[:1], runs[1:]
    rows = (
        row_curve("GD", gd),
        row_curve("heavy ball", hb),
        row_counts("GD", gd),
        row_counts("heavy ball", hb),
        row_exponent("GD", gd, 1.0, ctx.sabotage),
        row_exponent("heavy ball", hb, 0.5, ctx.sabotage),
    )
    figure = {
        m: {
            "kappa": [k for r in rs for k in r.kappas],
            "T": [_counts(r, j)[0] for r in rs for j in range(len(r.kappas))],
            "T_pred": [_counts(r, j)[1] for r in rs for j in range(len(r.kappas))],
        }
        for m, rs in (("gd", gd), ("hb", hb))
    }
    return Outcome(rows=rows, figure=figure)


def plot(result: CheckResult, path: str) -> None:
    from ._plot import save, subplots

    f = result.figure
    fig, (ax,) = subplots(width=6.0, height=4.5)
    for m, color, label in (("gd", "C0", "GD"), ("hb", "C3", "heavy ball")):
        kap = np.array(f[m]["kappa"], dtype=float)
        T = np.array(f[m]["T"], dtype=float)
        ax.loglog(kap, T, "o", color=color, label=f"{label}: measured T")
        ax.loglog(kap, f[m]["T_pred"], "-", color=color, lw=1, label=f"{label}: closed form")
    kap = np.geomspace(9, 3e5, 50)
    ax.loglog(kap, 0.5 * kap * math.log(1 / EPS), "k:", lw=0.8, label="(kappa/2) ln(1/eps)")
    ax.loglog(kap, 0.5 * np.sqrt(kap) * math.log(1 / EPS), "k--", lw=0.8, label="(sqrt(kappa)/2) ln(1/eps)")
    ax.set_xlabel("kappa = L / mu")
    ax.set_ylabel(f"iterations to ||e_t|| <= {EPS:g} ||e_0||")
    ax.legend(fontsize=7)
    save(fig, path, "GD ~ kappa, heavy ball ~ sqrt(kappa)")

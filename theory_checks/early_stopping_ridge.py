r"""Early stopping acts like ridge: GD from zero on least squares has the closed form (6), its filter
factors track ridge's at lambda = 1/(2 lr t), and the two paths have the predicted test errors.

Claim:
    GD from w_0 = 0 on ||Xw - y||^2 with step lr gives (note 002, eq. 6)
        w_t = sum_i (1/s_i) (1 - (1 - 2 lr s_i^2)^t) (u_i^T y) v_i,
    i.e. filter factors f_i^GD(t) = 1 - (1 - 2 lr s_i^2)^t on the least-squares coefficients,
    while ridge (eq. 5) has f_i^R = s_i^2/(s_i^2 + lambda). With lambda = 1/(2 lr t) and
    x_i = 2 lr s_i^2 t the two agree up to 0 <= f^GD - f^R <= G + 4 e^-2 / t, where
    G = sup_{x >= 0} (1/(1 + x) - e^-x) = 0.2036 (at x = 2.513); so early stopping at t and
    ridge at lambda = 1/(2 lr t) have close test error along the whole path.

Setup:
    X (n = 60, d = 12) = U diag(s) V^T, random orthogonal U, V, s log-spaced from 3 to 0.15;
    w_true ~ N(0, I_d), y = X w_true + 0.5 eps. GD is ``ref.gd`` (lr = 0.45/s_max^2, so
    2 lr s^2 <= 0.9 and every factor 1 - 2 lr s^2 lies in [0, 1)) run T = 2000 steps from 0 on R
    right-hand sides at once (R replicates of (w_true, eps) stacked in one parameter vector).
    Ridge at lambda = 1/(2 lr t): the reference's ``problems.ridge(X, y, lambda / N,
    reduction="mean").solution()`` per replicate at the two lambdas of (c) (the "mean" problem
    with lambda / N has the "sum" problem's minimiser), the check's own solve along the path for
    the figure. Path points: 24
    log-spaced t in [1, T]. Quick: 8 designs x 60 replicates, full: 24 x 100; rows (a) and (b)
    use replicate 0 of the first 1 (quick) or 3 (full) designs, whose exact SVD and eq. (6) are
    computed in 32-digit arithmetic (mpmath).

Measured:
    (a) max over the path of ||w_t^GD - w_t^(6)|| (the GD iterate against eq. (6) in 32 digits);
    (b) the filter factors measured from the iterates, f_i^meas(t) = v_i^T w_t / (v_i^T w_LS)
        (exact v_i, w_LS in 32 digits), minus ridge's s_i^2/(s_i^2 + lambda(t)), over the path
        and all i, against [0, G + 4 e^-2/t];
    (c) test error E(x^T w - y)^2 = ||w - w_true||^2 + sigma^2 (x ~ N(0, I), the exact population
        error), as the per-design mean over replicates of the difference GD(t) - ridge(lambda(t))
        at the path point where the Bayes prediction puts the largest gap, and of
        GD(t*) - ridge(lambda*) at the predicted optima of both paths; each against its Bayes
        prediction sum_i [(1 - f_i)^2 + f_i^2 sigma^2/s_i^2] + sigma^2 (w_true ~ N(0, I)).

Tolerance:
    (a) derived rounding bound: the computed step is the exact step plus delta_t with
        |delta_t| <= 2 lr (gamma_n |X^T| |r| + |X^T| (gamma_d |X| |w| + u |y|)) + u (|w_{t+1}| +
        2 lr |X^T r|) componentwise (gamma_k = k u/(1 - k u)); since ||I - 2 lr X^T X|| <= 1 the
        errors add: ||w_t - w_t^(6)|| <= B_t = sum_{s<t} ||delta_s|| + u ||w_t||.
    (b) derived analytic bound e^-x (1 - x^2/t) <= (1 - x/t)^t <= e^-x (0 <= x <= t), widened by
        the measurement's own rounding: |f_i^meas - f_i^GD| <= B_t / |v_i^T w_LS| by (a).
    (c) Student-t interval at the suite level ``_stats.LEVEL`` over independent designs of the
        per-design mean of R replicate differences (each unbiased for the prediction, since the
        filter factors depend on the spectrum only, which every design shares; a mean of R i.i.d.
        terms, close to normal). Differences, not ratios: a ratio of means is biased by O(1/R).

References:
    Note 002, section 2.3 (eq. 5, ridge via SVD; eq. 6, GD from zero; "Early Stopping as
    Regularization").

Sabotage:
    "wrong-lambda": the check pairs GD at t with ridge at lambda = 1/(lr t) (factor 2 lost).
    "lr-2pct": GD runs with 1.02 lr (a 2 % step-size bug) while eq. (6) and the predictions use lr.
    "extra-step": GD takes one step more than the path point it is compared at (off-by-one in t).
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

import reference as ref
from reference.problems.linear import ridge

from ._base import CheckResult, Context, Outcome, Row
from ._stats import fmt, interval_row, t_interval, trial_seeds

NAME = "early_stopping_ridge"
CLAIM = "GD from 0 = eq. (6); filter factors 1-(1-2 lr s^2)^t ~ s^2/(s^2+lambda) at lambda = 1/(2 lr t); early stopping and ridge have the predicted test errors"
SOURCE = "note 002, section 2.3 (eqs. 5-6)"
SABOTAGE: tuple[str, ...] = ("wrong-lambda", "lr-2pct", "extra-step")
JUSTIFICATION = (
    "(a) derived float64 forward-error bound; (b) analytic bound e^-x(1-x^2/t) <= (1-x/t)^t <= e^-x widened by (a)'s "
    "bound; (c) Student-t intervals over independent designs of unbiased per-design mean risk differences"
)
STAT_ROWS = 2

_N, _D, _T, _SIGMA = 60, 12, 2000, 0.5
_U = float(np.finfo(np.float64).eps) / 2.0
_S = np.geomspace(3.0, 0.15, _D)
_LR = 0.45 / _S[0] ** 2
_TS = np.unique(np.geomspace(1, _T, 24).astype(int))


def _gamma(k: int) -> float:
    return k * _U / (1.0 - k * _U)


def sup_gap() -> tuple[float, float]:
    """G = sup_{x >= 0} 1/(1 + x) - e^-x and its argmax (the root of e^x = (1 + x)^2)."""
    lo, hi = 1.0, 5.0  # e^x - (1 + x)^2 changes sign once on [1, 5]; bisection to the last bit
    while hi - lo > 4.0 * math.ulp(hi):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if math.exp(mid) < (1.0 + mid) ** 2 else (lo, mid)
    x = 0.5 * (lo + hi)
    return 1.0 / (1.0 + x) - math.exp(-x), x


def _lam(t: Any, sabotage: str | None) -> Any:
    return 1.0 / (_LR * t) if sabotage == "wrong-lambda" else 1.0 / (2.0 * _LR * t)


def _bayes_risk(f: np.ndarray) -> np.ndarray:
    """E||w - w_true||^2 + sigma^2 for filter factors f (..., d), w_true ~ N(0, I)."""
    out: np.ndarray = ((1.0 - f) ** 2 + f**2 * _SIGMA**2 / _S**2).sum(axis=-1) + _SIGMA**2
    return out


def _filters(sabotage: str | None) -> tuple[np.ndarray, np.ndarray]:
    """Predicted filter factors (points, d) of GD at t and of ridge at lambda(t)."""
    tt = _TS.astype(float)[:, None]
    return 1.0 - (1.0 - 2.0 * _LR * _S**2) ** tt, _S**2 / (_S**2 + _lam(tt, sabotage))


@dataclass(frozen=True)
class Exact:
    """Replicate 0 of one design against 32-digit arithmetic: per path point the error of the GD
    iterate against eq. (6), its rounding bound B_t, and the measured filter factors' excess over
    ridge's, lowest (low - B_t/|c_i|) and highest (high - B_t/|c_i| - (G + 4 e^-2/t))."""

    errs: tuple[float, ...]
    bounds: tuple[float, ...]
    low: float
    excess: float


@dataclass(frozen=True)
class Trial:
    """One design: mean over replicates of the test error of GD at each path point and of ridge
    at each lambda(t) (the check's solve, for the figure), of the reference's ridge solution at
    the two lambdas the rows use (``_targets``); ``exact`` for the designs checked in 32 digits."""

    risk_gd: tuple[float, ...]
    risk_r: tuple[float, ...]
    risk_ref: tuple[float, float]
    exact: Exact | None


def _targets(sabotage: str | None) -> tuple[int, int, int]:
    """Path indices of the rows (c): the largest predicted gap, the predicted best t and lambda."""
    f_gd, f_r = _filters(sabotage)
    pg, pr = _bayes_risk(f_gd), _bayes_risk(f_r)
    return int(np.argmax(np.abs(pg - pr))), int(np.argmin(pg)), int(np.argmin(pr))


def _exact(
    X: np.ndarray, y: np.ndarray, iterates: list[np.ndarray], bounds: list[float], sabotage: str | None
) -> Exact:
    """Eq. (6) and the filter factors of the iterates in 32-digit arithmetic (mpmath)."""
    mp: Any = importlib.import_module("mpmath")  # untyped; a dependency of the `check` extra
    G, _ = sup_gap()
    with mp.workdps(32):
        Xm = mp.matrix(X.tolist())
        lam, V = mp.eigsy(Xm.T * Xm)  # s_i^2 and v_i
        coef = V.T * (Xm.T * mp.matrix(y.tolist()))  # s_i (u_i^T y); v_i^T w_LS = coef_i / s_i^2
        lr = mp.mpf(_LR)
        errs, low, excess = [], math.inf, -math.inf
        for t, w, b in zip(_TS, iterates, bounds):
            f6 = [1 - (1 - 2 * lr * lam[i]) ** int(t) for i in range(_D)]
            w6 = V * mp.matrix([f6[i] * coef[i] / lam[i] for i in range(_D)])
            errs.append(math.sqrt(sum(float(w[i] - w6[i]) ** 2 for i in range(_D))))
            proj = V.T * mp.matrix(w.tolist())
            for i in range(_D):
                c = coef[i] / lam[i]
                f_meas = proj[i] / c
                f_ridge = lam[i] / (lam[i] + mp.mpf(float(_lam(float(t), sabotage))))
                slack = b / abs(float(c))
                d = float(f_meas - f_ridge)
                low = min(low, d + slack)
                excess = max(excess, d - slack - (G + 4.0 * math.exp(-2.0) / float(t)))
    return Exact(tuple(errs), tuple(bounds), low, excess)


def _trial(args: tuple[np.random.SeedSequence, int, bool, str | None]) -> Trial:
    seed, R, exact, sabotage = args
    rng = np.random.default_rng(seed)
    U, _ = np.linalg.qr(rng.normal(size=(_N, _D)))
    V, _ = np.linalg.qr(rng.normal(size=(_D, _D)))
    X = (U * _S) @ V.T
    W_true = rng.normal(size=(_D, R))
    Y = X @ W_true + _SIGMA * rng.normal(size=(_N, R))

    opt = ref.gd(lr=_LR * 1.02 if sabotage == "lr-2pct" else _LR)
    state, step = (
        opt.init(np.zeros(_D * R)),
        opt.step_fn,
    )  # the bare update rule (no per-step argument checks)
    absX, absXT = np.abs(X), np.abs(X.T)
    gn, gd_ = _gamma(_N), _gamma(_D)
    abs_y0 = np.abs(Y[:, 0])
    err_bound = 0.0
    iterates0: list[np.ndarray] = []
    bounds: list[float] = []
    risk_gd: list[float] = []
    want = set((_TS + 1).tolist() if sabotage == "extra-step" else _TS.tolist())
    for t in range(1, max(want) + 1):
        Wm = state.params.reshape(_D, R)
        r = X @ Wm - Y
        g = 2.0 * (X.T @ r)
        state = step(state, g.ravel())
        Wn = state.params.reshape(_D, R)
        if exact:  # (a)'s running rounding bound for replicate 0
            delta = (
                2.0
                * _LR
                * (gn * (absXT @ np.abs(r[:, 0])) + absXT @ (gd_ * (absX @ np.abs(Wm[:, 0])) + _U * abs_y0))
            )
            delta = delta + _U * (np.abs(Wn[:, 0]) + _LR * np.abs(g[:, 0]))
            err_bound += float(np.linalg.norm(delta))
        if t in want:
            iterates0.append(Wn[:, 0].copy())
            bounds.append(err_bound + _U * float(np.linalg.norm(Wn[:, 0])))
            risk_gd.append(float(((Wn - W_true) ** 2).sum(axis=0).mean()) + _SIGMA**2)
    A, XtY = X.T @ X, X.T @ Y
    lams = _lam(_TS.astype(float), sabotage)
    risk_r = []
    for lam in lams:
        Wr = np.linalg.solve(A + lam * np.eye(_D), XtY)
        risk_r.append(float(((Wr - W_true) ** 2).sum(axis=0).mean()) + _SIGMA**2)
    j, _, jr = _targets(sabotage)
    # the reference's ridge (reduction "mean": lam / N is the "sum" problem's lam), per replicate
    risk_ref = tuple(
        float(
            np.mean(
                [
                    np.sum((ridge(X, Y[:, r], lams[i] / _N, reduction="mean").solution() - W_true[:, r]) ** 2)
                    for r in range(R)
                ]
            )
        )
        + _SIGMA**2
        for i in (j, jr)
    )
    ex = _exact(X, Y[:, 0], iterates0, bounds, sabotage) if exact else None
    return Trial(tuple(risk_gd), tuple(risk_r), (risk_ref[0], risk_ref[1]), ex)


def row_closed_form(exact: list[Exact]) -> Row:
    """(a) the GD iterates against eq. (6) in 32 digits, within the derived rounding bound."""
    ratio = max(e / b for x in exact for e, b in zip(x.errs, x.bounds))
    worst = max(max(x.errs) for x in exact)
    return Row(
        "max_t ||w_t(GD) - w_t(eq. 6)||",
        "0 up to rounding",
        f"{fmt(worst)} (max err/bound = {fmt(ratio)})",
        f"<= derived float64 bound B_t (up to {fmt(max(max(x.bounds) for x in exact))})",
        bool(ratio <= 1.0),
    )


def row_filters(exact: list[Exact]) -> Row:
    """(b) the measured GD filter factors minus ridge's within [0, G + 4 e^-2/t] (widened by B_t)."""
    G, xstar = sup_gap()
    low, excess = min(x.low for x in exact), max(x.excess for x in exact)
    return Row(
        "f_i^meas(t) - f_i^ridge (lambda = 1/(2 lr t)), from the iterates",
        f"in [0, G + 4e^-2/t], G = {fmt(G)} at x = {fmt(xstar)}",
        f"lowest (+ slack) {fmt(low)}; highest excess over the bound {fmt(excess)}",
        "derived: e^-x(1 - x^2/t) <= (1 - x/t)^t <= e^-x, slack B_t/|v_i^T w_LS|",
        bool(low >= 0.0 and excess <= 0.0),
    )


def row_gap(trials: list[Trial], sabotage: str | None) -> Row:
    """(c) test error GD(t) - ridge(lambda(t)) at the largest predicted gap."""
    f_gd, f_r = _filters(sabotage)
    pred = _bayes_risk(f_gd) - _bayes_risk(f_r)
    j, _, _ = _targets(sabotage)
    iv = t_interval([tr.risk_gd[j] - tr.risk_ref[0] for tr in trials])
    return interval_row(
        f"test error GD(t) - ridge(1/(2 lr t)) at t = {_TS[j]} (largest predicted gap)",
        float(pred[j]),
        iv,
        what="designs",
    )


def row_optima(trials: list[Trial], sabotage: str | None) -> Row:
    """(c) test error at the predicted best stopping time minus at the predicted best lambda."""
    f_gd, f_r = _filters(sabotage)
    pg, pr = _bayes_risk(f_gd), _bayes_risk(f_r)
    _, jg, jr = _targets(sabotage)
    iv = t_interval([tr.risk_gd[jg] - tr.risk_ref[1] for tr in trials])
    return interval_row(
        f"test error GD(t* = {_TS[jg]}) - ridge(lambda* = {fmt(float(_lam(float(_TS[jr]), sabotage)))})",
        float(pg[jg] - pr[jr]),
        iv,
        what="designs",
    )


def run(ctx: Context) -> Outcome:
    k, R, n_exact = (8, 60, 1) if ctx.tier == "quick" else (24, 100, 3)
    trials: list[Trial] = ctx.map(
        _trial, [(s, R, i < n_exact, ctx.sabotage) for i, s in enumerate(trial_seeds(ctx, k))]
    )
    exact = [tr.exact for tr in trials if tr.exact is not None]
    rows = (
        row_closed_form(exact),
        row_filters(exact),
        row_gap(trials, ctx.sabotage),
        row_optima(trials, ctx.sabotage),
    )
    f_gd, f_r = _filters(ctx.sabotage)
    G, _ = sup_gap()
    figure = {
        "ts": _TS.tolist(),
        "s": _S.tolist(),
        "lr": _LR,
        "f_gd": f_gd.tolist(),
        "f_r": f_r.tolist(),
        "upper": (G + 4.0 * math.exp(-2.0) / _TS.astype(float)).tolist(),
        "G": G,
        "risk_gd": [list(tr.risk_gd) for tr in trials],
        "risk_r": [list(tr.risk_r) for tr in trials],
        "pred_gd": _bayes_risk(f_gd).tolist(),
        "pred_r": _bayes_risk(f_r).tolist(),
        "errs": list(exact[0].errs),
        "bounds": list(exact[0].bounds),
    }
    return Outcome(rows=rows, figure=figure)


def plot(result: CheckResult, path: str) -> None:
    from ._plot import save, subplots

    f = result.figure
    fig, (a1, a2, a3) = subplots(3, width=4.6)
    ts = np.array(f["ts"], dtype=float)
    fg, fr = np.array(f["f_gd"]), np.array(f["f_r"])
    for i in range(0, fg.shape[1], 3):
        a1.semilogx(ts, fg[:, i], "-", color=f"C{i % 10}", label=f"s = {f['s'][i]:.2f}")
        a1.semilogx(ts, fr[:, i], "--", color=f"C{i % 10}")
    a1.set_xlabel("t  (ridge: lambda = 1/(2 lr t))")
    a1.set_ylabel("filter factor (solid GD, dashed ridge)")
    a1.legend(fontsize=6)
    a2.semilogx(ts, (fg - fr).max(axis=1), "C3-", label="max_i (f_GD - f_ridge)")
    a2.semilogx(ts, f["upper"], "k--", label="bound G + 4e^-2/t")
    a2.axhline(0.0, color="k", lw=0.5)
    a2.set_xlabel("t")
    a2.legend(fontsize=7)
    rg, rr = np.array(f["risk_gd"]), np.array(f["risk_r"])
    a3.loglog(ts, rg.mean(axis=0), "C0o", ms=3, label="GD (measured)")
    a3.loglog(ts, rr.mean(axis=0), "C1s", ms=3, label="ridge (measured)")
    a3.loglog(ts, f["pred_gd"], "C0-", lw=0.8, label="GD (Bayes prediction)")
    a3.loglog(ts, f["pred_r"], "C1-", lw=0.8, label="ridge (Bayes prediction)")
    a3.set_xlabel("t")
    a3.set_ylabel("test error")
    a3.legend(fontsize=7)
    save(fig, path, "Early stopping ~ ridge: filter factors and test error along the path")

r"""Early stopping acts like ridge: GD from zero on least squares has the closed form (6), its filter
factors track ridge's at lambda = 1/(2 lr t), and the two paths have close test error.

Claim:
    GD from w_0 = 0 on ||Xw - y||^2 with step lr gives (seed 002, eq. 6)
        w_t = sum_i (1/s_i) (1 - (1 - 2 lr s_i^2)^t) (u_i^T y) v_i,
    i.e. filter factors f_i^GD(t) = 1 - (1 - 2 lr s_i^2)^t on the least-squares coefficients,
    while ridge (eq. 5) has f_i^R = s_i^2/(s_i^2 + lambda). With lambda = 1/(2 lr t) and
    x_i = 2 lr s_i^2 t the two agree up to 0 <= f^GD - f^R <= G + 4 e^-2 / t, where
    G = sup_{x >= 0} (1/(1 + x) - e^-x) = 0.2036 (at x = 2.513); so early stopping at t and
    ridge at lambda = 1/(2 lr t) have close test error along the whole path.

Setup:
    X (n = 60, d = 12) = U diag(s) V^T, random orthogonal U, V, s log-spaced from 3 to 0.15;
    w_true ~ N(0, I_d), y = X w_true + 0.5 eps. GD is ``ref.gd`` (lr = 0.45/s_max^2, so
    2 lr s^2 <= 0.9 and every factor 1 - 2 lr s^2 lies in [0, 1)) run T = 4000 steps from 0 on R
    right-hand sides at once (R replicates of (w_true, eps) stacked in one parameter vector);
    ridge is solved in closed form at lambda = 1/(2 lr t) (checked once against
    ``reference.problems.ridge(...).solution()``). Path points: 30 log-spaced t in [1, T].
    Quick: 6 designs x 100 replicates; full: 16 x 300.

Measured:
    (a) max over the path of ||w_t^GD - w_t^(6)|| against a rounding bound (eq. 6 evaluated in
        32-digit arithmetic with mpmath, one replicate per design);
    (b) min and max over the path and all i of f^GD - f^R against [0, G + 4 e^-2/t];
    (c) test error E(x^T w - y)^2 = ||w - w_true||^2 + sigma^2 (x ~ N(0, I), exact population
        error) averaged over replicates: the ratio GD(t)/ridge(lambda(t)) at the path point where
        the theory predicts the largest gap, and the ratio of the best early-stopped error to the
        best ridge error, each against its Bayes prediction
        sum_i [(1 - f_i)^2 + f_i^2 sigma^2/s_i^2] + sigma^2.

Tolerance:
    (a) derived rounding bound: the computed step is the exact step plus delta_t with
        |delta_t| <= 2 lr (gamma_n |X^T| |r| + |X^T| (gamma_d |X| |w| + u |y|)) + u (|w_{t+1}| +
        2 lr |X^T r|) componentwise (gamma_k = k u/(1 - k u)); since ||I - 2 lr X^T X|| <= 1 the
        errors add: ||w_t - w_t^(6)|| <= sum_{s<t} ||delta_s|| + u ||w_t||.
    (b) derived analytic bound: e^-x (1 - x^2/t) <= (1 - x/t)^t <= e^-x for 0 <= x <= t.
    (c) 99.9 % Student-t interval over designs of the per-design ratios.

References:
    Seed 002, section 2.3 (eq. 5, ridge via SVD; eq. 6, GD from zero; "Early Stopping as
    Regularization").

Sabotage:
    "wrong-lambda": the check pairs GD at t with ridge at lambda = 1/(lr t) (factor 2 lost).
    "broken-optimizer": GD runs with lr/2 while the closed form and predictions use lr.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

import reference as ref
from reference.problems.linear import ridge as ridge_problem

from ._base import CheckResult, Context, Row
from ._stats import bound_row, fmt, interval_row, t_interval, trial_seeds

NAME = "early_stopping_ridge"
CLAIM = "GD from 0 = eq. (6); filter factors 1-(1-2 lr s^2)^t ~ s^2/(s^2+lambda) at lambda = 1/(2 lr t); early stopping and ridge have close test error"
SOURCE = "seed 002, section 2.3 (eqs. 5-6)"
SABOTAGE: tuple[str, ...] = ("wrong-lambda", "broken-optimizer")

_N, _D, _T, _SIGMA = 60, 12, 4000, 0.5
_U = float(np.finfo(np.float64).eps) / 2.0
_S = np.geomspace(3.0, 0.15, _D)
_LR = 0.45 / _S[0] ** 2
_TS = np.unique(np.geomspace(1, _T, 30).astype(int))


def _gamma(k: int) -> float:
    return k * _U / (1.0 - k * _U)


def sup_gap() -> tuple[float, float]:
    """G = sup_{x >= 0} 1/(1 + x) - e^-x and its argmax (the root of e^x = (1 + x)^2)."""
    from scipy.optimize import brentq

    x = float(brentq(lambda z: math.exp(z) - (1.0 + z) ** 2, 1.0, 5.0))
    return 1.0 / (1.0 + x) - math.exp(-x), x


def _lam(t: np.ndarray | float, sabotage: str | None) -> Any:
    return 1.0 / (_LR * t) if sabotage == "wrong-lambda" else 1.0 / (2.0 * _LR * t)


def _bayes_risk(f: np.ndarray) -> np.ndarray:
    """E||w - w_true||^2 + sigma^2 for filter factors f (..., d), w_true ~ N(0, I)."""
    out: np.ndarray = ((1.0 - f) ** 2 + f**2 * _SIGMA**2 / _S**2).sum(axis=-1) + _SIGMA**2
    return out


def _closed_form_mp(X: np.ndarray, y: np.ndarray, ts: np.ndarray) -> np.ndarray:
    """Eq. (6) at each t in 32-digit arithmetic, rounded to float64: (len(ts), d)."""
    import importlib

    mp: Any = importlib.import_module("mpmath")  # untyped; a dependency of the `check` extra
    with mp.workdps(32):
        Xm = mp.matrix(X.tolist())
        ym = mp.matrix(y.tolist())
        lam, V = mp.eigsy(Xm.T * Xm)  # s_i^2 and v_i; u_i^T y = v_i^T X^T y / s_i
        coef = V.T * (Xm.T * ym)  # s_i (u_i^T y)
        lr = mp.mpf(_LR)
        out = np.empty((len(ts), X.shape[1]))
        for k, t in enumerate(ts):
            # (1/s_i) (1 - (1 - 2 lr s_i^2)^t) (u_i^T y) = (1 - (1 - 2 lr lambda_i)^t) coef_i / lambda_i
            c = mp.matrix([(1 - (1 - 2 * lr * lam[i]) ** int(t)) * coef[i] / lam[i] for i in range(X.shape[1])])
            w = V * c
            out[k] = [float(w[i]) for i in range(X.shape[1])]
    return out


def _trial(args: tuple[np.random.SeedSequence, int, str | None]) -> dict[str, Any]:
    seed, R, sabotage = args
    rng = np.random.default_rng(seed)
    U, _ = np.linalg.qr(rng.normal(size=(_N, _D)))
    V, _ = np.linalg.qr(rng.normal(size=(_D, _D)))
    X = (U * _S) @ V.T
    W_true = rng.normal(size=(_D, R))
    Y = X @ W_true + _SIGMA * rng.normal(size=(_N, R))

    # (a) GD iterates (all replicates stacked) with the running rounding bound for replicate 0
    lr_run = _LR / 2.0 if sabotage == "broken-optimizer" else _LR
    opt = ref.gd(lr=lr_run)
    state = opt.init(np.zeros(_D * R))
    absX, absXT = np.abs(X), np.abs(X.T)
    gn, gd_ = _gamma(_N), _gamma(_D)
    y0, abs_y0 = Y[:, 0], np.abs(Y[:, 0])
    err_bound = 0.0
    iterates0 = []
    risk_gd = []
    want = set(_TS.tolist())
    for t in range(1, _T + 1):
        Wm = state.params.reshape(_D, R)
        r = X @ Wm - Y
        g = 2.0 * (X.T @ r)
        state = opt.step(state, g.ravel())
        w0, r0 = Wm[:, 0], r[:, 0]
        g0 = np.abs(g[:, 0])
        delta = 2.0 * _LR * (gn * (absXT @ np.abs(r0)) + absXT @ (gd_ * (absX @ np.abs(w0)) + _U * abs_y0))
        delta = delta + _U * (np.abs(state.params.reshape(_D, R)[:, 0]) + _LR * g0)
        err_bound += float(np.linalg.norm(delta))
        if t in want:
            Wn = state.params.reshape(_D, R)
            iterates0.append((Wn[:, 0].copy(), err_bound + _U * float(np.linalg.norm(Wn[:, 0]))))
            risk_gd.append(float(((Wn - W_true) ** 2).sum(axis=0).mean()) + _SIGMA**2)
    closed = _closed_form_mp(X, y0, _TS)
    errs = [float(np.linalg.norm(w - c)) for (w, _), c in zip(iterates0, closed)]
    bounds = [b for _, b in iterates0]

    # (c) ridge along the path, lambda = 1/(2 lr t), closed form; checked once against the problem
    A = X.T @ X
    XtY = X.T @ Y
    lams = _lam(_TS.astype(float), sabotage)
    risk_r = []
    for lam in lams:
        Wr = np.linalg.solve(A + lam * np.eye(_D), XtY)
        risk_r.append(float(((Wr - W_true) ** 2).sum(axis=0).mean()) + _SIGMA**2)
    w_check = ridge_problem(X, y0, float(lams[len(lams) // 2])).solution()
    w_mine = np.linalg.solve(A + lams[len(lams) // 2] * np.eye(_D), X.T @ y0)
    if not np.allclose(w_check, w_mine, rtol=1e-9, atol=1e-12):
        raise AssertionError("ridge closed form disagrees with reference.problems.ridge(...).solution()")
    return {"errs": errs, "bounds": bounds, "risk_gd": risk_gd, "risk_r": risk_r}


def run(ctx: Context) -> CheckResult:
    if ctx.sabotage not in (None, *SABOTAGE):
        raise ValueError(f"{NAME}: sabotage must be one of {SABOTAGE}, got {ctx.sabotage!r}")
    t0 = time.perf_counter()
    k, R = (6, 100) if ctx.tier == "quick" else (16, 300)
    trials = ctx.map(_trial, [(s, R, ctx.sabotage) for s in trial_seeds(ctx, k)])
    rows: list[Row] = []

    # (a) closed form vs iterates
    ratio = max(e / b for tr in trials for e, b in zip(tr["errs"], tr["bounds"]))
    worst_err = max(max(tr["errs"]) for tr in trials)
    worst_bound = max(max(tr["bounds"]) for tr in trials)
    rows.append(Row("max_t ||w_t(GD) - w_t(eq. 6)||", "0 up to rounding",
                    f"{fmt(worst_err)} (max err/bound = {fmt(ratio)})",
                    f"derived float64 bound, up to {fmt(worst_bound)}", bool(ratio <= 1.0)))  # fmt: skip

    # (b) filter factors (pure math on the design's spectrum)
    G, xstar = sup_gap()
    tt = _TS.astype(float)[:, None]
    f_gd = 1.0 - (1.0 - 2.0 * _LR * _S**2) ** tt
    f_r = _S**2 / (_S**2 + _lam(tt, ctx.sabotage))
    diff = f_gd - f_r
    upper = G + 4.0 * math.exp(-2.0) / tt
    ok_b = bool(np.all(diff >= -4 * _U) and np.all(diff <= upper))
    rows.append(Row("f_GD - f_ridge over path and i (lambda = 1/(2 lr t))",
                    f"in [0, G + 4e^-2/t], G = {fmt(G)} at x = {fmt(xstar)}",
                    f"[{fmt(float(diff.min()))}, {fmt(float(diff.max()))}] (max excess over bound {fmt(float((diff - upper).max()))})",
                    "derived: e^-x(1 - x^2/t) <= (1 - x/t)^t <= e^-x", ok_b))  # fmt: skip

    # (c) test error: predictions from the Bayes risk with the true filter factors
    r_gd = np.array([tr["risk_gd"] for tr in trials])  # (k, points)
    r_r = np.array([tr["risk_r"] for tr in trials])
    f_gd_pred = 1.0 - (1.0 - 2.0 * _LR * _S**2) ** tt
    f_r_pred = _S**2 / (_S**2 + _lam(tt, ctx.sabotage))
    pr_gd, pr_r = _bayes_risk(f_gd_pred), _bayes_risk(f_r_pred)
    j = int(np.argmax(pr_gd / pr_r))
    iv = t_interval(r_gd[:, j] / r_r[:, j])
    row = interval_row(f"test error GD(t)/ridge(1/(2 lr t)) at t = {_TS[j]} (largest predicted gap)",
                       float(pr_gd[j] / pr_r[j]), iv, what="designs")  # fmt: skip
    rows.append(row)
    best = r_gd.min(axis=1) / r_r.min(axis=1)
    iv2 = t_interval(best)
    rows.append(interval_row("best early-stopped / best ridge test error",
                             float(pr_gd.min() / pr_r.min()), iv2, what="designs"))  # fmt: skip
    figure = {
        "ts": _TS.tolist(), "s": _S.tolist(), "lr": _LR, "f_gd": f_gd.tolist(), "f_r": f_r.tolist(),
        "upper": upper[:, 0].tolist(), "G": G, "risk_gd": r_gd.tolist(), "risk_r": r_r.tolist(),
        "pred_gd": pr_gd.tolist(), "pred_r": pr_r.tolist(), "errs": trials[0]["errs"], "bounds": trials[0]["bounds"],
    }  # fmt: skip
    return CheckResult(
        name=NAME, claim=CLAIM, source=SOURCE, rows=tuple(rows),
        justification="(a) derived float64 forward-error bound; (b) analytic bound from e^-x(1-x^2/t) <= (1-x/t)^t <= e^-x; (c) 99.9% t-interval over independent designs against the Bayes risk of the filter factors",
        figure=figure, seconds=time.perf_counter() - t0,
    )  # fmt: skip


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

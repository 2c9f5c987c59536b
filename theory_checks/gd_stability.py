r"""GD on least squares: the stability bound lr < 1/lambda_max, the contraction, the optimal lr.

Claim:
    On L(w) = ||Xw - y||^2 (gradient 2 X^T (Xw - y)) the error e_t = w_t - w* obeys
    e_{t+1} = (I - 2 lr X^T X) e_t, so GD converges iff |1 - 2 lr lambda_max| < 1, i.e.
    lr < 1/lambda_max(X^T X); the per-step contraction of ||e_t|| is
    rho(lr) = max_i |1 - 2 lr lambda_i|; lr* = 1/(lambda_min + lambda_max) minimises it, giving
    rho(lr*) = (kappa - 1)/(kappa + 1), kappa = lambda_max/lambda_min.

Setup:
    X (n = 40, d = 8) = U diag(s) V^T with random orthogonal U, V, singular values s_1 = 3,
    s_8 = 1 (kappa = 9) and the others log-uniform in [1.3, 2.6] (a gap at both ends, so that the
    extreme modes dominate after a few dozen steps), y = X w_true + noise, w* by lstsq. GD is
    ``ref.gd`` started at w_0 = 0, fed the gradient of ``reference.problems.least_squares(X, y)``
    (reduction "sum", the seed's objective; checked once against the problem's autograd gradient).
    Runs at lr = 0.99/lambda_max and 1.01/lambda_max (T steps), and at lr* times
    {0.9, 0.95, 1, 1.05, 1.1} plus 0.5/lambda_max for the contraction. Quick: 3 random designs,
    full: 10. To keep the error far above rounding, y lies near range(X) and T is chosen so
    that ||e_T|| stays >= 1e-6 ||e_0|| where the claim predicts convergence.

Measured:
    * whether ||e_T|| < ||e_0|| at 0.99/lambda_max and at 1.01/lambda_max (predicted: converges,
      diverges);
    * the per-step contraction rho_hat = (||e_T|| / ||e_{T-s}||)^{1/s} at each lr, against
      rho(lr);
    * rho_hat(lr*) against (kappa - 1)/(kappa + 1), and rho_hat at the neighbouring lrs
      (predicted larger).

Tolerance:
    Derived, not statistical: ||e_t||^2 = sum_i c_i^2 r_i^{2t} (r_i = |1 - 2 lr lambda_i|), so
    rho_hat lies in [rho (1 + delta)^{-1/(2s)}, rho] with delta = (sum_{r_i < rho} c_i^2 /
    sum_{r_i = rho} c_i^2) (r_2/rho)^{2(T-s)}, computed from the known decomposition of e_0,
    widened by a first-order float64 forward-error bound tau = 4 T (n + d) u (1 + 2 lr ||X||^2)
    max_t ||w_t|| / min_t ||e_t||. A neighbouring lr is "worse" when its predicted contraction
    exceeds rho(lr*) by more than both tolerances.

References:
    Seed 002, section 2.2.1 ("Derivation and Analysis for Least Squares": e_{t+1} =
    (I - 2 eta X^T X) e_t, "Condition for stability", "Optimal Learning Rate").

Sabotage:
    "wrong-bound": the check claims the stability bound is 2/lambda_max (the bound for
        L = (1/2)||Xw - y||^2), so it tests 0.99 and 1.01 times that.
    "wrong-rate": the check predicts the contraction max_i |1 - lr lambda_i| (the factor 2 of
        the gradient forgotten).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

import reference as ref
from reference.problems.linear import least_squares

from ._base import CheckResult, Context, Row
from ._stats import fmt, trial_seeds

NAME = "gd_stability"
CLAIM = "GD on ||Xw-y||^2 converges iff lr < 1/lambda_max(X^T X); contraction max_i |1 - 2 lr lambda_i|; lr* = 1/(lambda_min + lambda_max) gives (kappa-1)/(kappa+1)"
SOURCE = "seed 002, section 2.2.1"
SABOTAGE: tuple[str, ...] = ("wrong-bound", "wrong-rate")

_N, _D = 40, 8
_U = float(np.finfo(np.float64).eps) / 2.0
_FACTORS = (0.9, 0.95, 1.0, 1.05, 1.1)  # multiples of lr* for the optimal-lr comparison


def _design(seed: np.random.SeedSequence) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    U, _ = np.linalg.qr(rng.normal(size=(_N, _D)))
    V, _ = np.linalg.qr(rng.normal(size=(_D, _D)))
    s = np.exp(rng.uniform(np.log(1.3), np.log(2.6), size=_D))
    s[0], s[-1] = 3.0, 1.0  # kappa = 9 exactly; a spectral gap at both ends
    X = (U * s) @ V.T
    y = X @ rng.normal(size=_D) + 0.1 * rng.normal(size=_N)
    return X, y, rng.normal(size=_D)


def _run_gd(X: np.ndarray, y: np.ndarray, w_star: np.ndarray, lr: float, T: int) -> tuple[np.ndarray, float]:
    """||e_t|| for t = 0..T of ref.gd from zero, and max_t ||w_t||."""
    opt = ref.gd(lr=lr)
    state = opt.init(np.zeros(X.shape[1]))
    errs = np.empty(T + 1)
    errs[0] = np.linalg.norm(state.params - w_star)
    wmax = 0.0
    for t in range(1, T + 1):
        w = state.params
        state = opt.step(state, 2.0 * (X.T @ (X @ w - y)))
        errs[t] = np.linalg.norm(state.params - w_star)
        wmax = max(wmax, float(np.linalg.norm(state.params)))
        if not np.isfinite(errs[t]) or errs[t] > 1e12:
            errs[t + 1 :] = np.inf
            break
    return errs, wmax


def _contraction_interval(
    lam: np.ndarray, evecs: np.ndarray, e0: np.ndarray, lr: float, T: int, s: int
) -> tuple[float, float, float]:
    """Predicted rho and the derived interval [lo, hi] of rho_hat (mixing only, no rounding)."""
    r = np.abs(1.0 - 2.0 * lr * lam)
    rho = float(r.max())
    c2 = (evecs.T @ e0) ** 2
    top = np.isclose(r, rho, rtol=1e-12, atol=0.0)
    rest = r[~top]
    if rest.size == 0:
        return rho, rho, rho
    delta = float(c2[~top].sum() / c2[top].sum()) * (float(rest.max()) / rho) ** (2 * (T - s))
    return rho, rho * (1.0 + delta) ** (-1.0 / (2 * s)), rho


def _trial(seed: np.random.SeedSequence) -> dict[str, Any]:
    X, y, _ = _design(seed)
    problem = least_squares(X, y)
    w_probe = np.linspace(-1.0, 1.0, _D)
    g_auto = problem.grad(w_probe)
    g_np = 2.0 * (X.T @ (X @ w_probe - y))
    if not np.allclose(g_auto, g_np, rtol=1e-12, atol=1e-12):
        raise AssertionError("the problem's gradient is not 2 X^T (Xw - y)")
    w_star = np.linalg.lstsq(X, y, rcond=None)[0]
    lam, evecs = np.linalg.eigh(X.T @ X)
    e0 = -w_star
    xnorm2 = float(lam.max())
    out: dict[str, Any] = {"lam": lam.tolist(), "runs": {}}
    lrs = {
        "0.5/lmax": 0.5 / lam.max(),
        "0.99/lmax": 0.99 / lam.max(),
        "1.01/lmax": 1.01 / lam.max(),
        "0.99*2/lmax": 1.98 / lam.max(),
        "1.01*2/lmax": 2.02 / lam.max(),
    }
    lr_star = 1.0 / (lam.min() + lam.max())
    for f in _FACTORS:
        lrs[f"{f}*lr*"] = f * lr_star
    for key, lr in lrs.items():
        rho = float(np.abs(1.0 - 2.0 * lr * lam).max())
        # T: long enough for the top mode to dominate, short enough that ||e_T|| >= 1e-6 ||e_0||
        T = int(min(400, max(40, np.floor(np.log(1e-6) / np.log(rho)) if rho < 1 else 400)))
        s = T // 4
        errs, wmax = _run_gd(X, y, w_star, lr, T)
        rho_p, lo, hi = _contraction_interval(lam, evecs, e0, lr, T, s)
        finite = errs[np.isfinite(errs)]
        tau = 4.0 * T * (_N + _D) * _U * (1.0 + 2.0 * lr * xnorm2) * max(wmax, 1.0) / max(float(finite.min()), 1e-300)
        rho_hat = float((errs[T] / errs[T - s]) ** (1.0 / s)) if np.isfinite(errs[T]) else float("inf")
        out["runs"][key] = {
            "lr": float(lr), "T": T, "s": s, "errs": errs.tolist(), "rho": rho_p,
            "lo": lo - tau, "hi": hi + tau, "rho_hat": rho_hat, "tau": tau,
        }  # fmt: skip
    out["lr_star"] = float(lr_star)
    out["kappa"] = float(lam.max() / lam.min())
    return out


def run(ctx: Context) -> CheckResult:
    if ctx.sabotage not in (None, *SABOTAGE):
        raise ValueError(f"{NAME}: sabotage must be one of {SABOTAGE}, got {ctx.sabotage!r}")
    t0 = time.perf_counter()
    k = 3 if ctx.tier == "quick" else 10
    trials = ctx.map(_trial, trial_seeds(ctx, k))
    wrong_bound = ctx.sabotage == "wrong-bound"
    conv_key, div_key = ("0.99*2/lmax", "1.01*2/lmax") if wrong_bound else ("0.99/lmax", "1.01/lmax")
    bound_name = "2/lambda_max" if wrong_bound else "1/lambda_max"

    def ratio(tr: dict[str, Any], key: str) -> float:
        run_ = tr["runs"][key]
        return float(run_["errs"][-1] / run_["errs"][0])

    conv = [ratio(tr, conv_key) for tr in trials]
    div = [ratio(tr, div_key) for tr in trials]
    rows = [
        Row(f"||e_T||/||e_0|| at 0.99 x {bound_name}", "< 1 (converges)", fmt(max(conv)) + " (worst design)",
            "exact: sign of log|1 - 2 lr lambda_max|", all(c < 1 for c in conv)),
        Row(f"||e_T||/||e_0|| at 1.01 x {bound_name}", "> 1 (diverges)", fmt(min(div)) + " (best design)",
            "exact: sign of log|1 - 2 lr lambda_max|", all(d > 1 for d in div)),
    ]  # fmt: skip

    # contraction at every lr (not the divergent wrong-bound ones): within the derived interval
    worst = 0.0
    ok = True
    for tr in trials:
        lam = np.array(tr["lam"])
        for key, r in tr["runs"].items():
            if "*2/" in key:
                continue
            pred = float(np.abs(1.0 - r["lr"] * lam).max()) if ctx.sabotage == "wrong-rate" else r["rho"]
            width = max(r["hi"] - r["lo"], 1e-300)
            miss = max(r["lo"] - r["rho_hat"], r["rho_hat"] - r["hi"], 0.0)
            ok &= r["lo"] <= r["rho_hat"] <= r["hi"] and abs(pred - r["rho"]) <= width
            worst = max(worst, miss, abs(pred - r["rho_hat"]))
    n_lr = sum(1 for key in trials[0]["runs"] if "*2/" not in key)
    rows.append(
        Row("per-step contraction rho_hat vs max_i|1-2 lr lambda_i|",
            f"{n_lr} lrs x {k} designs", f"max |rho_hat - rho_pred| = {fmt(worst)}",
            "derived mixing + rounding interval (docstring)", bool(ok))
    )  # fmt: skip

    # optimal learning rate
    ok_star, ok_nb = True, True
    star_meas, star_pred, nb_margin = [], [], []
    for tr in trials:
        kappa = tr["kappa"]
        pred = (kappa - 1.0) / (kappa + 1.0)
        if ctx.sabotage == "wrong-rate":
            lam = np.array(tr["lam"])
            pred = float(np.abs(1.0 - tr["lr_star"] * lam).max())
        r_star = tr["runs"]["1.0*lr*"]
        star_meas.append(r_star["rho_hat"])
        star_pred.append(pred)
        ok_star &= r_star["lo"] <= pred <= r_star["hi"]
        for f in _FACTORS:
            if f == 1.0:
                continue
            r = tr["runs"][f"{f}*lr*"]
            # worse: the neighbour's whole interval lies above lr*'s interval
            nb_margin.append(r["lo"] - r_star["hi"])
            ok_nb &= r["rho_hat"] > r_star["rho_hat"] and r["lo"] > r_star["hi"]
    rows.append(
        Row("rho_hat(lr*) = (kappa-1)/(kappa+1)", fmt(star_pred[0]) + f" (kappa={fmt(trials[0]['kappa'])})",
            fmt(star_meas[0]) + f"; max dev over designs {fmt(max(abs(a - b) for a, b in zip(star_meas, star_pred)))}",
            "derived mixing + rounding interval", bool(ok_star))
    )  # fmt: skip
    rows.append(
        Row("rho_hat at lr* x {0.9, 0.95, 1.05, 1.1} > rho_hat(lr*)", "worse (larger)",
            f"min margin {fmt(min(nb_margin))}", "margin beyond both derived intervals", bool(ok_nb))
    )  # fmt: skip
    figure = {"trials": trials[:1], "conv_key": conv_key, "div_key": div_key, "bound_name": bound_name}
    return CheckResult(
        name=NAME, claim=CLAIM, source=SOURCE, rows=tuple(rows),
        justification="derived: ||e_t||^2 = sum c_i^2 r_i^(2t) bounds rho_hat in [rho(1+delta)^(-1/2s), rho], plus a first-order float64 forward-error bound",
        figure=figure, seconds=time.perf_counter() - t0,
    )  # fmt: skip


def plot(result: CheckResult, path: str) -> None:
    from ._plot import save, subplots

    fig, (a1, a2) = subplots(2)
    tr = result.figure["trials"][0]
    for key, style in ((result.figure["conv_key"], "C0"), (result.figure["div_key"], "C3"), ("1.0*lr*", "C2"), ("0.5/lmax", "C1")):
        errs = np.array(tr["runs"][key]["errs"])
        a1.semilogy(errs / errs[0], color=style, label=f"lr = {key}")
    a1.axhline(1.0, color="k", lw=0.5)
    a1.set_xlabel("step t")
    a1.set_ylabel("||w_t - w*|| / ||w_0 - w*||")
    a1.set_title(f"stability bound {result.figure['bound_name']}")
    a1.legend(fontsize=7)
    lam = np.array(tr["lam"])
    grid = np.linspace(0.02, 1.05, 300) / lam.max()
    a2.plot(grid * lam.max(), [np.abs(1 - 2 * g * lam).max() for g in grid], "k-", label="max_i |1 - 2 lr lambda_i|")
    pts = [(r["lr"] * lam.max(), r["rho_hat"]) for k_, r in tr["runs"].items() if "*2/" not in k_]
    a2.plot(*zip(*pts), "o", color="C3", label="measured rho_hat")
    a2.axvline(tr["lr_star"] * lam.max(), color="C2", ls="--", label="lr* = 1/(lmin+lmax)")
    kap = tr["kappa"]
    a2.axhline((kap - 1) / (kap + 1), color="C2", ls=":", label="(kappa-1)/(kappa+1)")
    a2.set_xlabel("lr x lambda_max")
    a2.set_ylabel("per-step contraction")
    a2.legend(fontsize=7)
    save(fig, path, "GD on least squares: stability and contraction")

r"""Heavy ball against Nesterov on smooth convex problems, and heavy ball as a discretised ODE.

Claim:
    (a) Note 001 says: Nesterov achieves O(1/t^2) on smooth convex functions, "Heavy ball: O(1/t)
    (worse by factor t)". What holds, and is checked: for L-smooth convex f, Nesterov's look-ahead
    method (lr = 1/L, beta_k = (k - 1)/(k + 2) at step k) satisfies, for its LAST iterate,
    f(theta_t) - f* <= 2 L ||theta_0 - theta*||^2 / (t + 1)^2 at every t (Beck and Teboulle 2009,
    Thm 4.4, whose proof holds for any t_k >= (k + 1)/2 with t_{k+1}^2 - t_{k+1} <= t_k^2; here
    t_k = (k + 1)/2, beta_k = (t_k - 1)/t_{k+1}). Heavy ball with a CONSTANT beta in [0, 1) and lr = alpha <= (1 - beta)/L has only an
    O(1/t) guarantee, and it is about the AVERAGED iterate xbar_T = (theta_0 + ... + theta_T)/(T + 1)
    (Ghadimi, Feyzmahdavian and Johansson 2015, Thm 1):
        f(xbar_T) - f* <= [beta/(1 - beta) (f(theta_0) - f*) + (1 - beta)/(2 alpha) ||theta_0 - theta*||^2] / (T + 1).
    Derivation (used for the bound row): with z_k = theta_k + beta/(1 - beta)(theta_k - theta_{k-1}),
    theta_{-1} = theta_0, heavy ball gives z_{k+1} = z_k - alpha/(1 - beta) g_k, g_k = grad f(theta_k);
    expanding ||z_{k+1} - theta*||^2 and using <theta_k - theta*, g_k> >= f_k - f* + ||g_k||^2/(2L)
    (convex, L-smooth) and <theta_k - theta_{k-1}, g_k> >= f_k - f_{k-1} (convexity), the
    ||g_k||^2 terms cancel for alpha <= (1 - beta)/L and summing k = 0..T gives
    sum_k (f_k - f*) <= beta/(1 - beta)(f_0 - f*) + (1 - beta)/(2 alpha) ||theta_0 - theta*||^2;
    Jensen gives the averaged iterate. On the quadratic family below heavy ball's last iterate
    decays like 1/t (not 1/t^2) and rises above Nesterov's 2 L R^2/(t + 1)^2 for large t.
    (b) Note 001 ("Momentum: numerical acceleration via ODE discretization"): with lr = h^2 and
    beta = 1 - gamma h, heavy ball is a consistent discretisation of x'' + gamma x' + grad f(x) = 0,
    x(0) = theta_0, x'(0) = 0, at t = k h: dividing theta_{k+1} - theta_k = beta (theta_k -
    theta_{k-1}) - h^2 grad f(theta_k) by h^2 gives the central second difference plus gamma times
    a BACKWARD first difference, so the global error at fixed T is first order:
    theta_{T/h} - x(T) = C1 h + O(h^2), slope 1 of log error against log h.

Setup:
    (a) f(theta) = (1/2) sum_i lambda_i theta_i^2 (theta* = 0, L = 1), theta_0 = 1, d = 200
    eigenvalues stratified log-uniform on [A, 1], A = 1e-7 (lambda_i = A^(1 - (i + U_i)/d)), as in
    the nesterov_rate check; T = 1000; quick 16 spectra, full 64, stacked in one vector.
    Heavy ball: ``ref.make("momentum", lr=0.1, beta=0.9, form="polyak")`` (alpha = (1 - beta)/L,
    the largest step the averaged-iterate theorem allows). Nesterov: the bare look-ahead step of
    ``reference.nesterov`` with lr = 1 and beta_t = t/(t + 3) (t completed steps).
    (b) d = 4 modes lambda_i log-uniform on [1, 4], gamma uniform on [0.2, 1] (gamma^2 < 4 lambda:
    every mode underdamped, roots distinct), theta_0 ~ N(0, I), T = 4; heavy ball
    (``ref.make("momentum", lr=h*h, beta=1-gamma*h, form="polyak")``) for N = T/h steps, h in
    {2^-4, ..., 2^-7} (full: down to 2^-9; powers of 2, so lr = h^2 and T/h are exact). Randomness from the seed draws the instances
    (SeedSequence via ``_stats.trial_seeds``).

Measured:
    (a) HB: mean over spectra of gap_j(t)/E[gap(t)] at t = 100 and t = T (stat rows, predicted 1),
    gap = f(theta_t) - f* from the iterates; E[gap(t)] = (d/(2 ln(1/A))) int_A^1 a_t(lambda)^2
    dlambda with the check's own recursion a_{t+1} = (1 + beta - alpha lambda) a_t - beta a_{t-1},
    a_0 = a_{-1} = 1, by Gauss-Legendre with T + 1 nodes (exact: a_t^2 is a polynomial of degree
    2t). HB's slope of log mean gap between t = 100 and T against the exact expectation's (-1.002;
    asymptote -1). Bound rows: the averaged-iterate theorem above at every T and spectrum;
    Nesterov's last-iterate theorem at every t and spectrum; HB's mean last-iterate gap at T
    divided by Nesterov's bound 2 L R^2/(T + 1)^2 (predicted about 7.8 from E[gap(T)]; the claim:
    > 1). Report: the first t from which HB's mean gap stays above Nesterov's bound.
    (b) e(h) = ||theta_N - x(T)|| with x(T) the ODE's closed form: per mode, roots r = (-gamma
    +- sqrt(gamma^2 - 4 lambda))/2, x(t) = b+ e^(r+ t) + b- e^(r- t), b+ + b- = x0,
    r+ b+ + r- b- = 0. Rows: (1) theta_N against the exact discrete solution (roots rho of
    rho^2 - (1 + beta - lr lambda) rho + beta, theta_0 = x0, theta_1 = (1 - lr lambda) x0, with
    lr = h^2 and beta = 1 - gamma h as float64 values the check computes itself), within the
    rounding bound;
    (2) the least-squares slope of log e(h) against log h, predicted by the same exact error on the
    same grid (asymptote 1; the finite-grid value differs from 1 by the O(h) term); (3, report)
    e(h)/(C1 h), C1 the first-order coefficient derived by expanding rho = e^(h mu),
    mu = r + h mu1, mu1 = gamma r^2/(2(2r + gamma)), and the initial amplitudes a = b + h alpha with
    alpha+ = -alpha- = -(lambda x0 + sum b (mu1 + r^2/2))/(r+ - r-):
    C1 = sum e^(r T)(alpha + b mu1 T) per mode. Both closed forms are evaluated in 40-digit mpmath.

Tolerance:
    (a) Levels: Student-t interval at the suite's level over the independent spectra; each ratio is
    a mean of 200 independent bounded terms (the same construction whose coverage nesterov_rate
    measured: skewness and excess kurtosis near 0, t-interval misses at nominal rates). The slope
    row is implied by the two level intervals (|diff| <= (-ln(1 - h_100) - ln(1 - h_T))/ln(T/100))
    and the "HB above Nesterov's bound" row by the level at T (it fails on correct code only if the
    level row's interval reaches 1 - 1/7.8), so neither takes a share of the false-alarm budget.
    The theorem rows are exact inequalities (measured ratios about 0.14 for heavy ball's average
    and 0.06 for Nesterov, far from rounding).
    (b) Derived float64 rounding bound, no statistics. Per step (state (theta, v), every operation
    correctly rounded, u = 2^-53, first order in u): |dv| <= u(lambda|theta| + beta|v| + |v'|)
    for v' = beta v + lambda theta, |dtheta| <= lr |dv| + u(lr |v'| + |theta'|) for theta' =
    theta - lr v'; a local error made at step k reaches step N through M^(N-k), M = [[1 - lr lambda,
    -lr beta], [lambda, beta]] (the exact step), so |theta_hat_N - theta_N| <= sum_k
    |M^(N-k)| (|dtheta_k|, |dv_k|) (entrywise absolute values of the exact powers, computed by the
    check). The slope tolerance is the range of slopes that errors within the bound allow:
    sum_i |w_i| ln((e_i + b_i)/(e_i - b_i)), w the least-squares weights.

References:
    Note 001, "Heavy Ball Method", "Nesterov Accelerated Gradient", and the summary "Momentum vs.
    adaptive" ("Numerical acceleration via ODE discretization"). Beck, A. and Teboulle, M. (2009),
    A fast iterative shrinkage-thresholding algorithm, Thm 4.4; Ghadimi, E., Feyzmahdavian, H. R.
    and Johansson, M. (2015), Global convergence of the heavy-ball method for convex optimization,
    Thm 1; Su, W., Boyd, S. and Candes, E. (2016) and Polyak, B. (1964) for the ODE view.

Sabotage:
    "wrong-prediction": predicts slope -2 for heavy ball's gap (as fast as Nesterov) and order 2
        for the ODE discretisation.
    "lr-2pct": every method runs with its lr 2 % too small (HB 0.098, Nesterov 0.98, ODE 0.98 h^2).
    "ema-momentum": heavy ball runs form="ema" (v = beta v + (1 - beta) g: the notes' other
        momentum convention) with the same lr and beta, the predictions unchanged.
    "fencepost-h": the ODE runs take h = T/(N - 1) for their N = T/h steps (a fencepost error in
        the grid; lr and beta follow the wrong h), the predictions unchanged.
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

import reference as ref
from reference.first_order.nesterov import init as nesterov_init
from reference.first_order.nesterov import query as nesterov_query
from reference.first_order.nesterov import step as nesterov_step

from ._base import CheckResult, Context, Outcome, Row
from ._stats import Interval, fmt, implied_slope, interval_row, t_interval, trial_seeds

NAME = "momentum_ode"
CLAIM = "smooth convex: Nesterov's last iterate <= 2LR^2/(t+1)^2, heavy ball (constant beta) only O(1/t) (averaged iterate); HB with lr = h^2, beta = 1 - gamma h tracks x'' + gamma x' + grad f = 0 with error O(h)"
SOURCE = "note 001, 'Heavy Ball Method', 'Nesterov Accelerated Gradient' (Ghadimi et al. 2015; Beck and Teboulle 2009)"
SABOTAGE: tuple[str, ...] = ("wrong-prediction", "lr-2pct", "ema-momentum", "fencepost-h")
JUSTIFICATION = "(a) t-intervals (suite level) over independent stratified spectra against the exact expectation; slope and crossing implied by the levels; theorems exact. (b) exact discrete and ODE closed forms (40-digit), derived float64 forward-error bound"
STAT_ROWS = 2

U = 2.0**-53
_D, _A, _T, _T1 = 200, 1e-7, 1000, 100
_HB_LR, _HB_BETA = 0.1, 0.9
_ODE_T, _ODE_D = 4.0, 4
_TS = np.unique(np.geomspace(1, _T, 30).astype(int))


# ----------------------------------------------------------------------------------------------
# (a) heavy ball against Nesterov on a smooth convex quadratic family


@dataclass(frozen=True)
class Gaps:
    """f - f* for t = 0..T (rows), one column per spectrum; for heavy ball also f(xbar_t) - f*."""

    method: str
    gaps: np.ndarray
    avg_gaps: np.ndarray | None


def _spectra(seeds: list[np.random.SeedSequence]) -> np.ndarray:
    """(d, k) stratified log-uniform spectra on [A, 1], one column per seed."""
    i = np.arange(_D)
    return np.stack([_A ** (1.0 - (i + np.random.default_rng(s).random(_D)) / _D) for s in seeds], axis=1)


def _nesterov_beta(t: int) -> float:
    return t / (t + 3.0)


def _gap(lam: np.ndarray, th: np.ndarray) -> np.ndarray:
    """(1/2) sum_i lambda_i theta_i^2 per spectrum, rows t: ``th`` is (T + 1, d k), ``lam`` (d, k)."""
    out: np.ndarray = 0.5 * np.einsum("tdk,dk->tk", th.reshape(th.shape[0], *lam.shape) ** 2, lam)
    return out


def _run_convex(args: tuple[list[np.random.SeedSequence], str, str | None]) -> Gaps:
    """One method on the spectra of ``seeds`` stacked in one vector; theta* = 0, theta_0 = 1."""
    seeds, method, sabotage = args
    lam = _spectra(seeds)
    flat = lam.ravel()
    scale = 0.98 if sabotage == "lr-2pct" else 1.0
    theta = np.ones_like(flat)
    th = [theta]
    if method == "nesterov":
        st = nesterov_init(theta)
        for _ in range(_T):
            b = _nesterov_beta(st.t)
            st = nesterov_step(st, flat * nesterov_query(st, beta=b), lr=scale, beta=b)
            th.append(st.params)
        return Gaps(method, _gap(lam, np.array(th)), None)
    form = "ema" if sabotage == "ema-momentum" else "polyak"
    opt: Any = ref.make("momentum", lr=_HB_LR * scale, beta=_HB_BETA, form=form)
    s = opt.init(theta)
    for _ in range(_T):
        s = opt.step_fn(s, flat * s.params)  # the bare rule (no argument checks)
        th.append(s.params)
    thetas = np.array(th)
    xbar = np.cumsum(thetas, axis=0) / np.arange(1, _T + 2, dtype=np.float64)[:, None]  # xbar_t, t = 0..T
    return Gaps(method, _gap(lam, thetas), _gap(lam, xbar))


def expected_hb_gap() -> np.ndarray:
    """E[f(theta_t) - f*], t = 0..T, heavy ball, for one spectrum of d log-uniform eigenvalues."""
    from scipy.special import roots_legendre

    c = _D / (2.0 * math.log(1.0 / _A))
    x, w = roots_legendre(_T + 1)  # exact for polynomials of degree <= 2T + 1
    lam, w = _A + (1.0 - _A) * (x + 1.0) / 2.0, w * (1.0 - _A) / 2.0
    a_prev, a = np.ones_like(lam), np.ones_like(lam)  # a_{-1} = a_0 = 1 (v_0 = 0)
    res = np.empty(_T + 1)
    for k in range(_T + 1):
        res[k] = c * float(np.sum(w * a * a))
        a_prev, a = a, (1.0 + _HB_BETA - _HB_LR * lam) * a - _HB_BETA * a_prev
    return res


def row_level(iv: Interval, t: int) -> Row:
    return interval_row(f"HB: mean gap(t)/E[gap(t)] at t = {t}", 1.0, iv, what="spectra")


def row_hb_slope(iv1: Interval, ivT: Interval, expected: np.ndarray, sabotage: str | None) -> Row:
    """HB's slope of the mean gap between t = _T1 and T against the exact expectation's slope."""
    pred, meas, tol = implied_slope(iv1, ivT, expected[_T1], expected[_T], _T1, _T)
    asym, shown = -1.0, pred
    if sabotage == "wrong-prediction":
        pred = asym = shown = -2.0
    return Row(
        quantity=f"HB (constant beta): slope of log(mean gap) vs log t, t = {_T1}..{_T}",
        predicted=f"{fmt(asym)} asymptotically; exact expectation {fmt(shown)}",
        measured=fmt(meas),
        tolerance=f"|diff| <= {fmt(tol)} (implied by the two level intervals)",
        holds=bool(abs(meas - pred) <= tol),
    )


def row_hb_average(g: Gaps) -> Row:
    """Ghadimi et al.'s averaged-iterate bound at every T and spectrum."""
    assert g.avg_gaps is not None
    t = np.arange(_T + 1, dtype=np.float64)[:, None]
    r2 = float(_D)  # ||theta_0 - theta*||^2
    bound = (_HB_BETA / (1 - _HB_BETA) * g.gaps[0][None, :] + (1 - _HB_BETA) / (2 * _HB_LR) * r2) / (t + 1)
    worst = float(np.max(g.avg_gaps / bound))
    return Row(
        "HB: max_T (f(xbar_T) - f*)/bound",
        "<= 1 ([b/(1-b) (f0 - f*) + (1-b) R^2/(2 lr)]/(T+1))",
        fmt(worst),
        "exact theorem (averaged iterate)",
        bool(worst <= 1.0),
    )


def _nesterov_bound(t: np.ndarray) -> np.ndarray:
    out: np.ndarray = 2.0 * _D / (t + 1.0) ** 2  # 2 L R^2/(t + 1)^2, L = 1, R^2 = d
    return out


def row_nesterov(g: Gaps) -> Row:
    t = np.arange(1, _T + 1, dtype=np.float64)[:, None]
    worst = float(np.max(g.gaps[1:] / _nesterov_bound(t)))
    return Row(
        "Nesterov: max_t (f(theta_t) - f*)/bound, last iterate",
        "<= 1 (2 L R^2/(t+1)^2)",
        fmt(worst),
        "exact theorem (last iterate)",
        bool(worst <= 1.0),
    )


def row_hb_above(ivT: Interval, expected: np.ndarray) -> Row:
    """HB's mean last-iterate gap at T over Nesterov's bound: predicted > 1 (about 7.8)."""
    nb = float(_nesterov_bound(np.array(float(_T))))
    pred = expected[_T] / nb
    meas = ivT.estimate * pred  # mean gap / bound
    return Row(
        f"HB: mean gap(T)/(2 L R^2/(T+1)^2), T = {_T}",
        f"> 1 (exact expectation {fmt(pred)})",
        fmt(meas),
        "> 1 (implied by the level at T)",
        bool(meas > 1.0),
    )


def _crossing(mean_gap: np.ndarray) -> float:
    """First t from which the mean gap stays above Nesterov's bound (inf if never)."""
    above = mean_gap[1:] > _nesterov_bound(np.arange(1, _T + 1, dtype=np.float64))
    below = np.flatnonzero(~above)
    if below.size == 0:
        return 1.0
    return float(below[-1] + 2) if below[-1] + 1 < _T else math.inf


def convex_rows(ctx: Context) -> tuple[list[Row], dict[str, Any]]:
    k = 16 if ctx.tier == "quick" else 64
    seeds = trial_seeds(ctx, k)
    chunks = [seeds[i : i + 16] for i in range(0, k, 16)]  # 16 spectra per job (parallel when mapped)
    res: list[Gaps] = ctx.map(_run_convex, [(c, m, ctx.sabotage) for m in ("hb", "nesterov") for c in chunks])
    hbs, ness = res[: len(chunks)], res[len(chunks) :]
    hb = Gaps(
        "hb", np.hstack([g.gaps for g in hbs]), np.hstack([g.avg_gaps for g in hbs if g.avg_gaps is not None])
    )
    nes = Gaps("nesterov", np.hstack([g.gaps for g in ness]), None)
    e = expected_hb_gap()
    iv1, ivT = t_interval(hb.gaps[_T1] / e[_T1]), t_interval(hb.gaps[_T] / e[_T])
    cross = _crossing(hb.gaps.mean(axis=1))
    rows = [
        row_level(iv1, _T1),
        row_level(ivT, _T),
        row_hb_slope(iv1, ivT, e, ctx.sabotage),
        row_hb_average(hb),
        row_nesterov(nes),
        row_hb_above(ivT, e),
        Row(
            "HB: first t from which mean gap > Nesterov's bound",
            "-",
            fmt(cross),
            "report only",
            None,
            kind="report",
        ),
    ]
    fig = {
        "ts": _TS.tolist(),
        "hb": hb.gaps.mean(axis=1)[_TS].tolist(),
        "hb_expected": e[_TS].tolist(),
        "nesterov": nes.gaps.mean(axis=1)[_TS].tolist(),
    }
    return rows, fig


# ----------------------------------------------------------------------------------------------
# (b) heavy ball as a discretisation of x'' + gamma x' + grad f(x) = 0


@dataclass(frozen=True)
class OdeRun:
    """One grid h: the final iterate and its rounding bound."""

    h: float
    theta: np.ndarray
    bound: np.ndarray


def _ode_instance(seed: np.random.SeedSequence) -> tuple[np.ndarray, float, np.ndarray]:
    rng = np.random.default_rng(seed)
    lam = np.exp(rng.uniform(0.0, math.log(4.0), _ODE_D))
    return lam, float(rng.uniform(0.2, 1.0)), rng.normal(size=_ODE_D)


def _ode_grid(tier: str) -> tuple[float, ...]:
    return tuple(2.0**-j for j in (range(4, 8) if tier == "quick" else range(4, 10)))


def _run_ode(args: tuple[np.random.SeedSequence, float, str | None]) -> OdeRun:
    """Heavy ball with lr = h^2, beta = 1 - gamma h for N = T/h steps, with its rounding bound."""
    seed, h, sabotage = args
    lam, gamma, x0 = _ode_instance(seed)
    n = int(round(_ODE_T / h))
    hr = _ODE_T / (n - 1) if sabotage == "fencepost-h" else h  # the step the run uses
    lr = hr * hr * (0.98 if sabotage == "lr-2pct" else 1.0)
    beta = 1.0 - gamma * hr
    form = "ema" if sabotage == "ema-momentum" else "polyak"
    opt: Any = ref.make("momentum", lr=lr, beta=beta, form=form)
    s = opt.init(x0.copy())
    th, v = [s.params], [s.velocity]
    for _ in range(n):
        s = opt.step_fn(s, lam * s.params)
        th.append(s.params)
        v.append(s.velocity)
    t_, v_ = np.array(th), np.array(v)
    dv = U * (lam * np.abs(t_[:-1]) + beta * np.abs(v_[:-1]) + np.abs(v_[1:]))  # made by steps 1..N
    dth = lr * dv + U * (lr * np.abs(v_[1:]) + np.abs(t_[1:]))
    # propagate: bound_N = sum_k |M^(N-k)| (dth_k, dv_k), by accumulating M^j for j = 0..N-1
    # propagate: bound_N = sum_k |row 0 of M^(N-k)| . (dth_k, dv_k); row 0 of M^j by r_{j+1} = r_j M
    r0, r1 = np.ones_like(lam), np.zeros_like(lam)
    bound = np.zeros_like(lam)
    for j in range(n):  # j = N - k for the local error made by step k = N - j
        bound += np.abs(r0) * dth[n - 1 - j] + np.abs(r1) * dv[n - 1 - j]
        r0, r1 = r0 * (1.0 - lr * lam) + r1 * lam, r1 * beta - r0 * (lr * beta)
    return OdeRun(h, s.params, bound)


def _mp_exact(
    lam: np.ndarray, gamma: float, x0: np.ndarray, h: float
) -> tuple[list[Any], list[Any], list[Any]]:
    """Per mode: the exact discrete iterate theta_N for lr = h^2 and beta = 1 - gamma h (as the
    float64 values the check computes itself: h is a power of 2, so lr is exact), the ODE's x(T)
    and the first-order coefficient C1, in 40-digit arithmetic."""
    mp: Any = importlib.import_module("mpmath")  # untyped; a dependency of the `check` extra
    mp.mp.dps = 40
    n = int(round(_ODE_T / h))
    disc, ode, c1 = [], [], []
    for lm, x in zip(lam, x0):
        lm_, x_, g_ = mp.mpf(float(lm)), mp.mpf(float(x)), mp.mpf(gamma)
        lr, b = mp.mpf(h * h), mp.mpf(1.0 - gamma * h)
        s = 1 + b - lr * lm_
        d = mp.sqrt(mp.mpc(s * s - 4 * b))
        rp, rm = (s + d) / 2, (s - d) / 2
        th1 = (1 - lr * lm_) * x_
        disc.append(((th1 - rm * x_) / (rp - rm) * rp**n + (rp * x_ - th1) / (rp - rm) * rm**n).real)
        dd = mp.sqrt(mp.mpc(g_ * g_ - 4 * lm_))
        qp, qm = (-g_ + dd) / 2, (-g_ - dd) / 2
        bp, bm = -qm * x_ / (qp - qm), qp * x_ / (qp - qm)
        t = mp.mpf(_ODE_T)
        ode.append((bp * mp.exp(qp * t) + bm * mp.exp(qm * t)).real)
        mu = [g_ * q**2 / (2 * (2 * q + g_)) for q in (qp, qm)]
        al = -(lm_ * x_ + bp * (mu[0] + qp**2 / 2) + bm * (mu[1] + qm**2 / 2)) / (qp - qm)
        c1.append((mp.exp(qp * t) * (al + bp * mu[0] * t) + mp.exp(qm * t) * (-al + bm * mu[1] * t)).real)
    return disc, ode, c1


def ode_rows(ctx: Context) -> tuple[list[Row], dict[str, Any]]:
    (seed,) = trial_seeds(ctx, 1, stream=1)
    lam, gamma, x0 = _ode_instance(seed)
    hs = _ode_grid(ctx.tier)
    runs: list[OdeRun] = ctx.map(_run_ode, [(seed, h, ctx.sabotage) for h in hs])
    e_meas, e_pred, b_err, c1_ratio, excess = [], [], [], [], 0.0
    for r in runs:
        disc, ode, c1 = _mp_exact(lam, gamma, x0, r.h)
        x_t = np.array([float(v) for v in ode])
        exact = np.array([float(dv - ov) for dv, ov in zip(disc, ode)])  # theta_N - x(T), exact
        dev = np.abs(r.theta - np.array([float(v) for v in disc]))
        b = r.bound + 4 * U * (np.abs(x_t) + np.abs(r.theta))  # + the float conversions and difference
        excess = max(excess, float(np.max(dev / b)))
        e_meas.append(float(np.linalg.norm(r.theta - x_t)))
        e_pred.append(float(np.linalg.norm(exact)))
        b_err.append(float(np.linalg.norm(b)))
        c1v = np.array([float(v) for v in c1])
        c1_ratio.append(float(np.linalg.norm(exact) / (r.h * np.linalg.norm(c1v))))
    rows = [
        Row(
            "ODE: theta_N against the exact discrete solution, every h",
            "closed form (roots of rho^2 - (1 + beta - lr lambda) rho + beta)",
            f"max |dev|/bound {fmt(excess)}",
            "<= 1 x derived float64 forward-error bound",
            bool(excess <= 1.0),
        ),
        row_order(hs, e_meas, e_pred, b_err, ctx.sabotage),
        Row(
            "ODE: e(h)/(C1 h), h = " + fmt(list(hs)),
            "-> 1 as h -> 0 (first-order coefficient C1)",
            fmt(c1_ratio),
            "report only",
            None,
            kind="report",
        ),
    ]
    fig = {"h": list(hs), "e": e_meas, "e_pred": e_pred, "gamma": gamma}
    return rows, fig


def row_order(
    hs: tuple[float, ...], e_meas: list[float], e_pred: list[float], b: list[float], sabotage: str | None
) -> Row:
    """Least-squares slope of log e(h) vs log h against the exact errors' slope on the same grid."""
    lh = np.log(hs)
    w = (lh - lh.mean()) / np.sum((lh - lh.mean()) ** 2)  # slope = sum w_i log e_i
    pred = float(np.sum(w * np.log(e_pred)))
    if min(e_meas) <= 0.0 or any(bi >= ei for bi, ei in zip(b, e_pred)):
        return Row(
            "ODE: order (slope of log e(h) vs log h)", fmt(pred), "error at rounding level", "-", False
        )
    meas = float(np.sum(w * np.log(e_meas)))
    tol = float(np.sum(np.abs(w) * np.log((np.array(e_pred) + b) / (np.array(e_pred) - b))))
    asym, shown = 1.0, pred
    if sabotage == "wrong-prediction":
        pred = asym = shown = 2.0
    return Row(
        quantity=f"ODE: order, slope of log ||theta_(T/h) - x(T)|| vs log h, T = {fmt(_ODE_T)}",
        predicted=f"{fmt(asym)} asymptotically; exact on this grid {fmt(shown)}",
        measured=fmt(meas),
        tolerance=f"|diff| <= {fmt(tol)} (the errors the rounding bound allows)",
        holds=bool(abs(meas - pred) <= tol),
    )


def run(ctx: Context) -> Outcome:
    rows_a, fig_a = convex_rows(ctx)
    rows_b, fig_b = ode_rows(ctx)
    return Outcome(rows=tuple(rows_a + rows_b), figure={"convex": fig_a, "ode": fig_b})


def plot(result: CheckResult, path: str) -> None:
    from ._plot import save, subplots

    f = result.figure
    fig, (ax1, ax2) = subplots(1, 2, width=11.0, height=4.5)
    a = f["convex"]
    ts = np.array(a["ts"], dtype=float)
    ax1.loglog(ts, a["hb"], "o", color="C0", ms=4, label="heavy ball (beta = 0.9): mean gap")
    ax1.loglog(ts, a["hb_expected"], "-", color="C0", lw=0.8, label="heavy ball: exact expectation")
    ax1.loglog(ts, a["nesterov"], "o", color="C3", ms=4, label="Nesterov: mean gap")
    ax1.loglog(ts, _nesterov_bound(ts), ":", color="C3", label="Nesterov bound 2 L R^2/(t+1)^2")
    ax1.set_xlabel("step t")
    ax1.set_ylabel("f(theta_t) - f*")
    ax1.legend(fontsize=7)
    b = f["ode"]
    h = np.array(b["h"], dtype=float)
    ax2.loglog(h, b["e"], "o", color="C0", label="measured ||theta_(T/h) - x(T)||")
    ax2.loglog(h, b["e_pred"], "-", color="C0", lw=0.8, label="exact (closed forms)")
    ax2.loglog(h, b["e_pred"][-1] * h / h[-1], "k:", lw=0.8, label="slope 1")
    ax2.set_xlabel("h (lr = h^2, beta = 1 - gamma h)")
    ax2.set_ylabel("global error at T")
    ax2.legend(fontsize=7)
    save(fig, path, "heavy ball vs Nesterov (convex); heavy ball as a discretised ODE")

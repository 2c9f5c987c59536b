r"""Lagrange multipliers and the KKT conditions hold at the solutions the constrained methods return.

Claim:
    Note 004, "Constrained Optimization": (a) for h(theta) = 0, at the optimum grad f = J_h^T lambda
    (the Lagrangian L = f - lambda^T h is stationary) and h = 0; (b) for inequality constraints
    g_j(theta) <= 0 the multipliers satisfy mu_j >= 0 and complementary slackness mu_j g_j = 0
    (mu_j > 0 only on active constraints; inactive ones have mu_j = 0, so there grad f = 0).

Setup:
    (a) f = 1/2 x^T H x - c^T x, h = A x - b (p = 8, m = 3, H = B B^T / p + I, entries N(0, 1)),
        written in the check; the KKT point (x*, lambda*) solves [[H, -A^T], [A, 0]] [x; lambda] =
        [c; b], solved in 30-digit arithmetic (mpmath). ``ref.augmented_lagrangian(mu=10)``
        (inner L-BFGS, inner_tol = 1e-5), K = 6 outer steps from x = 0, lambda_0 = 0. The inner
        tolerance is one L-BFGS can reach: a line search stalls once the decrease of a step,
        about ||g||^2 / (2 lambda_max(grad^2 L_A)), drowns in the rounding eps_f of L_A (about 1e-15
        here), i.e. below ||g|| ~ sqrt(2 lambda_max eps_f) ~ 3e-7 (with mu = 10; with inner_tol =
        0 the stall levels of 60 instances ranged up to 3.3e-7, and up to 2.2e-6 with mu = 100, so
        inner_tol = 1e-8 was never met and the old check fell back on the reported gradient).
        Prediction of the multiplier path: with exact inner minimisation, (AL3) on this problem is
        the linear recursion (I + mu M)(lambda_k - lambda*) = lambda_{k-1} - lambda*, M = A H^{-1}
        A^T (from H x_k - c - A^T lambda_k = 0 and h(x_k) = M (lambda_k - lambda*)), evaluated in
        30 digits.
    (b) f = 1/2 x^T Q x - c^T x on the box lo <= x <= hi (p = 10, Q = V diag(1..8) V^T, V random
        orthogonal, lo ~ U(-1.5, -0.5), hi ~ U(0.5, 1.5)), built to have the property: 3
        coordinates of x* at lo with multipliers mu_lo ~ U(0.5, 2), 3 at hi with mu_hi ~ U(0.5, 2),
        4 inside (x*_i ~ U on the middle 60 % of [lo_i, hi_i], mu = 0), and c = Q x* - g*, g* =
        (mu_lo, -mu_hi, 0): grad f(x*) - mu_lo + mu_hi = 0 with strict complementarity, so x* is
        the unique minimiser. ``ref.projected_gd(1/L, lo=lo, hi=hi)`` for T = ceil(log(1e-22) /
        log q) steps from x = 0 (q = 1 - 1/kappa).
    Quick: 3 instances of each; full: 12. Seeds from ``trial_seeds`` (streams 0 and 1).

Measured:
    By the check, from the iterates: (a) ||grad f(x_K) - A^T lambda_K|| with autograd's gradient
    of the check's L(x) = f(x) - lambda_K^T h(x); ||h(x_K)||; max_k ||lambda_k - lambda_k^pred||
    against its bound E_k (the whole path, k = 1..K: a level check from the first step).
    (b) the max bound violation; the active sets {x_T = lo}, {x_T = hi} against the constructed
    ones; ||x_T - x*||; the multipliers grad_i f(x_T) (autograd) on the active coordinates against
    the constructed mu; max |grad_i f(x_T)| on the inactive ones (mu = 0 there: complementary
    slackness, as the slack is exactly 0 on the active ones).

Tolerance:
    Derived bounds; first order in u = 2^-53, gamma_m = m u / (1 - m u) (Higham ch. 3: a computed
    sum or inner product of m terms errs by <= gamma_m times the sum of the absolute values).
    (a) Let e_k = grad_x L_A(x_k; lambda_{k-1}) (exact) and r_k the rounding of the computed
    lambda_k = lambda_{k-1} - mu h(x_k). L-BFGS stops when its computed ||grad L_A|| <= inner_tol,
    so ||e_k|| <= eps_k = inner_tol + gamma_{2(p+m)+6} || |H||x| + |c| + |A|^T (|lambda_{k-1}| +
    mu (|A||x| + |b|)) || (autograd's gradient of (AL1): at most 2(p+m)+6 roundings on any path);
    ||r_k|| <= gamma_{p+3} || |lambda_{k-1}| + mu (|A||x_k| + |b|) ||. Then exactly (a) above:
    lambda_k - lambda* = (I + mu M)^{-1} (lambda_{k-1} - lambda*) - (I + mu M)^{-1} mu A H^{-1} e_k
    + r_k, so ||lambda_k - lambda_k^pred|| <= E_k = rho E_{k-1} + G eps_k + ||r_k|| + u ||lambda_k^pred||
    with rho = ||(I + mu M)^{-1}|| = 1 / (1 + mu lambda_min(M)) and G = ||(I + mu M)^{-1} mu A H^{-1}||;
    grad f - A^T lambda_K = e_K - A^T r_K gives stationarity <= eps_K + ||A|| ||r_K|| plus the
    measurement's rounding gamma_{p+m+2} || |H||x| + |c| + |A|^T |lambda_K| ||; h(x_K) = M (lambda_K -
    lambda*) + A H^{-1} (e_K - A^T r_K) gives ||h|| <= ||M|| (E_K + ||lambda_K^pred - lambda*||) +
    ||A H^{-1}|| (eps_K + ||A|| ||r_K||) + gamma_{p+1} || |A||x| + |b| ||.
    (b) The computed c is the exact c up to dc, |dc| <= gamma_{p+1} (|Q||x*| + |g*|), which moves the
    minimiser by <= dx = ||dc|| / lambda_min(Q) (the active set stays: margins >= 0.5 and 20 % of
    the width are far larger). Projected GD with eta = 1/L contracts by q = 1 - 1/kappa (the
    projection is non-expansive and exact: min/max return lo or hi themselves) and each step's
    rounding adds <= rho_s = gamma_{p+3} || |x| + eta (|Q||x| + |c|) ||, so ||x_T - x*|| <= D =
    q^T (||x*|| + dx) + rho_s / (1 - q) + dx. The multipliers err by <= ||Q|| D + |dc_i| +
    gamma_{p+1} (|Q||x| + |c|)_i. Feasibility and the active sets are exact (0 and equality).

References:
    Note 004, "Constrained Optimization" (Lagrange multipliers; KKT conditions, complementary
    slackness). Nocedal and Wright (2006), Thm. 12.1 (KKT), section 17.3 (method of multipliers),
    section 16.7 (gradient projection); Higham (2002), Accuracy and Stability of Numerical
    Algorithms, ch. 3.

Sabotage:
    "wrong-prediction": the predicted multipliers use the opposite sign convention (L = f +
        lambda^T h, i.e. -lambda*); the path row fails.
    "wrong-sign-multiplier": the multiplier update is lambda_k = lambda_{k-1} + mu h(x_k) (the
        wrong sign of AL3); stationarity and the path fail.
    "mu-2pct": a bug planted in the update: lambda_k = lambda_{k-1} - 1.02 mu h(x_k); the method
        still converges to the KKT point, but the path row (levels from k = 1) fails.
    "clip-upper-only": the projection clips only the upper bound (projected_gd with lo = -inf);
        the iterate leaves the box and the feasibility and active-set rows fail.
    Bugs planted in scratch copies of reference/ and caught at quick seed 0: (AL3) with the wrong
    sign, with 1.02 mu, or with h at the previous iterate; the penalty mu ||h||^2 in (AL1) (the
    path row: the multipliers move at a different rate); the box projection without the lower
    bound; a projection onto [lo + 1e-12, hi]. Not caught, outside the claim: projected GD with
    half the step (same KKT point, slower; no claim states its rate).
"""

from __future__ import annotations

import dataclasses
import importlib
import math
from dataclasses import dataclass
from typing import Any

import autograd
import autograd.numpy as anp
import numpy as np
from numpy.typing import NDArray

import reference as ref
from reference import driver
from reference.constrained.augmented_lagrangian import EqualityProblem

from ._base import CheckResult, Context, Outcome, Row
from ._stats import bound_row, fmt, trial_seeds

NAME = "kkt_conditions"
CLAIM = "equality: grad f = J_h^T lambda, h = 0; box: mu >= 0 on active bounds, mu * slack = 0, grad f = 0 off them"
SOURCE = "note 004, 'Constrained Optimization' (Lagrange Multipliers, KKT Conditions)"
SABOTAGE: tuple[str, ...] = ("wrong-prediction", "wrong-sign-multiplier", "mu-2pct", "clip-upper-only")
JUSTIFICATION = (
    "derived bounds: the exact multiplier recursion of (AL3) with the inner tolerance and rounding, projected-GD "
    "contraction q^T with rounding, on instances built with known KKT points"
)
STAT_ROWS = 0

U = 2.0**-53
P_EQ, M_EQ, MU, K_OUTER, INNER_TOL = 8, 3, 10.0, 6, 1e-5
P_BOX, KAPPA_BOX, N_LO, N_HI = 10, 8.0, 3, 3
Vec = NDArray[np.float64]


def _gamma(m: int) -> float:
    return m * U / (1.0 - m * U)


def _norm(v: Any) -> float:
    return float(np.linalg.norm(v))


# ----------------------------------------------------------------------------------------------
# (a) equality constraints: augmented Lagrangian


@dataclass(frozen=True)
class EqualityTrial:
    """One instance: each measured quantity with its derived bound."""

    stat: float
    stat_bound: float
    feas: float
    feas_bound: float
    path_ratio: float  # max_k ||lambda_k - lambda_k^pred|| / E_k
    path_err: float  # at that k
    path_bound: float
    lam_err: float  # ||lambda_K - lambda*||


def _kkt_point(H: Vec, A: Vec, c: Vec, b: Vec, K: int, sign: float) -> tuple[Vec, Vec, list[Vec]]:
    """x*, lambda* and the predicted path lambda_1..lambda_K, in 30-digit arithmetic."""
    mp: Any = importlib.import_module("mpmath")  # untyped; a dependency of the `check` extra
    p, m = A.shape[1], A.shape[0]
    with mp.workdps(30):
        kkt = mp.matrix(np.block([[H, -A.T], [A, np.zeros((m, m))]]).tolist())
        sol = mp.lu_solve(kkt, mp.matrix(np.concatenate([c, b]).tolist()))
        x_star = np.array([float(sol[i]) for i in range(p)])
        lam = mp.matrix([sign * sol[p + i] for i in range(m)])
        Mm = mp.matrix(A.tolist()) * mp.inverse(mp.matrix(H.tolist())) * mp.matrix(A.T.tolist())
        step = mp.inverse(mp.eye(m) + MU * Mm)
        path, d = [], -lam  # lambda_0 - lambda* = -lambda*
        for _ in range(K):
            d = step * d
            path.append(np.array([float(lam[i] + d[i]) for i in range(m)]))
        return x_star, np.array([float(v) for v in lam]), path


def _equality_trial(args: tuple[np.random.SeedSequence, str | None]) -> EqualityTrial:
    seed, sabotage = args
    rng = np.random.default_rng(seed)
    p, m = P_EQ, M_EQ
    B = rng.standard_normal((p, p))
    H = B @ B.T / p + np.eye(p)
    c, A, b = rng.standard_normal(p), rng.standard_normal((m, p)), rng.standard_normal(m)

    def f(x: Any) -> Any:
        return 0.5 * anp.dot(x, anp.dot(H, x)) - anp.dot(c, x)

    def h(x: Any) -> Any:
        return anp.dot(A, x) - b

    _, lam_star, path = _kkt_point(H, A, c, b, K_OUTER, -1.0 if sabotage == "wrong-prediction" else 1.0)
    opt = ref.augmented_lagrangian(mu=MU, inner_tol=INNER_TOL)
    state = opt.init(np.zeros(p))
    Aa = np.abs(A)
    Minv_a = np.linalg.solve(H, A.T).T  # A H^{-1}
    M = A @ Minv_a.T
    S = np.linalg.inv(np.eye(m) + MU * M)
    rho, G = _norm(np.linalg.eigvalsh(S).max()), float(np.linalg.norm(S @ (MU * Minv_a), 2))
    lam_prev, E, worst = np.zeros(m), 0.0, (-1.0, 0.0, 0.0)
    for k in range(K_OUTER):
        new = opt.step(state, EqualityProblem(f, h))
        lam = np.asarray(new.lam)
        if sabotage == "wrong-sign-multiplier":  # lambda_k = lambda_{k-1} + mu h(x_k)
            lam = 2.0 * lam_prev - lam
        elif sabotage == "mu-2pct":  # lambda_k = lambda_{k-1} - 1.02 mu h(x_k)
            lam = lam_prev + 1.02 * (lam - lam_prev)
        new, x = dataclasses.replace(new, lam=lam), new.params
        ax_b = Aa @ np.abs(x) + np.abs(b)
        eps = INNER_TOL + _gamma(2 * (p + m) + 6) * _norm(
            np.abs(H) @ np.abs(x) + np.abs(c) + Aa.T @ (np.abs(lam_prev) + MU * ax_b)
        )
        r = _gamma(p + 3) * _norm(np.abs(lam_prev) + MU * ax_b)
        E = rho * E + G * eps + r + U * _norm(path[k])
        err = _norm(lam - path[k])
        worst = max(worst, (err / E, err, E))
        state, lam_prev = new, lam
    x, lam = state.params, lam_prev
    grad_L = np.asarray(autograd.grad(lambda z: f(z) - anp.dot(lam, h(z)))(x))
    norm_a = float(np.linalg.norm(A, 2))
    stat_bound = (
        eps + norm_a * r + _gamma(p + m + 2) * _norm(np.abs(H) @ np.abs(x) + np.abs(c) + Aa.T @ np.abs(lam))
    )
    feas_bound = (
        float(np.linalg.norm(M, 2)) * (E + _norm(path[-1] - lam_star))
        + float(np.linalg.norm(Minv_a, 2)) * (eps + norm_a * r)
        + _gamma(p + 1) * _norm(Aa @ np.abs(x) + np.abs(b))
    )
    return EqualityTrial(
        stat=_norm(grad_L),
        stat_bound=stat_bound,
        feas=_norm(h(x)),
        feas_bound=feas_bound,
        path_ratio=worst[0],
        path_err=worst[1],
        path_bound=worst[2],
        lam_err=_norm(lam - lam_star),
    )


# ----------------------------------------------------------------------------------------------
# (b) box constraints: projected gradient descent


@dataclass(frozen=True)
class BoxTrial:
    violation: float  # max(lo - x, x - hi, 0)
    sets_match: bool  # {x_T = lo} and {x_T = hi} are the constructed active sets, the rest strictly inside
    n_lo: int
    n_hi: int
    dist: float  # ||x_T - x*||
    dist_bound: float
    mu_err: float  # max over active i of |grad_i f(x_T) -+ mu_i| / bound_i
    inactive: float  # max over inactive i of |grad_i f(x_T)| / bound_i
    mu_min: float  # the smallest measured multiplier on an active bound


def _box_trial(args: tuple[np.random.SeedSequence, bool]) -> BoxTrial:
    seed, upper_only = args
    rng = np.random.default_rng(seed)
    p = P_BOX
    V, _ = np.linalg.qr(rng.standard_normal((p, p)))
    eig = np.linspace(1.0, KAPPA_BOX, p)
    Q = (V * eig) @ V.T
    lo, hi = rng.uniform(-1.5, -0.5, p), rng.uniform(0.5, 1.5, p)
    perm = rng.permutation(p)
    at_lo, at_hi = np.zeros(p, bool), np.zeros(p, bool)
    at_lo[perm[:N_LO]], at_hi[perm[N_LO : N_LO + N_HI]] = True, True
    inside = ~(at_lo | at_hi)
    x_star = np.where(at_lo, lo, np.where(at_hi, hi, lo + (hi - lo) * rng.uniform(0.2, 0.8, p)))
    mult = rng.uniform(0.5, 2.0, p)
    g_star = np.where(at_lo, mult, np.where(at_hi, -mult, 0.0))  # grad f(x*) = mu_lo - mu_hi
    c = Q @ x_star - g_star

    def f(x: Any) -> Any:
        return 0.5 * anp.dot(x, anp.dot(Q, x)) - anp.dot(c, x)

    L = float(eig.max())
    q = 1.0 - float(eig.min()) / L
    T = math.ceil(math.log(1e-22) / math.log(q))
    opt = ref.projected_gd(1.0 / L, hi=hi) if upper_only else ref.projected_gd(1.0 / L, lo=lo, hi=hi)
    x = driver.run(
        opt, None, np.zeros(p), T, grad=lambda x: Q @ x - c, loss_every=None, record_params=False
    ).final.params
    g = np.asarray(autograd.grad(f)(x))
    Qa = np.abs(Q)
    dc = _gamma(p + 1) * (Qa @ np.abs(x_star) + np.abs(g_star))
    dx = _norm(dc) / float(eig.min())
    rho_s = _gamma(p + 3) * _norm(np.abs(x) + (Qa @ np.abs(x) + np.abs(c)) / L)
    D = q**T * (_norm(x_star) + dx) + rho_s / (1.0 - q) + dx
    g_bound = L * D + dc + _gamma(p + 1) * (Qa @ np.abs(x) + np.abs(c))
    active = at_lo | at_hi
    return BoxTrial(
        violation=float(np.max(np.concatenate([lo - x, x - hi, [0.0]]))),
        sets_match=bool(
            np.array_equal(x == lo, at_lo)
            and np.array_equal(x == hi, at_hi)
            and np.all((x[inside] > lo[inside]) & (x[inside] < hi[inside]))
        ),
        n_lo=int(np.sum(x == lo)),
        n_hi=int(np.sum(x == hi)),
        dist=_norm(x - x_star),
        dist_bound=D,
        mu_err=float(np.max(np.abs(g - g_star)[active] / g_bound[active])),
        inactive=float(np.max(np.abs(g[inside]) / g_bound[inside])),
        mu_min=float(np.min(np.where(at_lo, g, -g)[active])),
    )


# ----------------------------------------------------------------------------------------------
# Rows


def _worst(vals: list[tuple[float, float]]) -> tuple[float, float]:
    """The (measured, bound) pair closest to (or furthest beyond) its bound."""
    return max(vals, key=lambda mb: mb[0] / mb[1] if mb[1] > 0 else math.inf)


def row_stationarity(eq: list[EqualityTrial]) -> Row:
    meas, bnd = _worst([(t.stat, t.stat_bound) for t in eq])
    return bound_row(
        "(a) ||grad f - A^T lambda_K|| (autograd of the check's L; worst instance)",
        "0 (grad f = J_h^T lambda)",
        meas,
        bnd,
        why="inner_tol + rounding",
    )


def row_feasibility(eq: list[EqualityTrial]) -> Row:
    meas, bnd = _worst([(t.feas, t.feas_bound) for t in eq])
    return bound_row(
        "(a) ||h(x_K)|| (worst instance)",
        "0 (h = 0)",
        meas,
        bnd,
        why="||M|| ||lambda_K - lambda*|| + ||A H^-1|| (eps_K + ||A|| r_K) + rounding",
    )


def row_path(eq: list[EqualityTrial]) -> Row:
    t = max(eq, key=lambda t: t.path_ratio)
    return Row(
        quantity=f"(a) max_k ||lambda_k - lambda_k^pred|| / E_k, k = 1..{K_OUTER} (worst instance)",
        predicted="<= 1 (lambda_k = lambda* + (I + mu M)^-k (lambda_0 - lambda*), 30 digits)",
        measured=f"{fmt(t.path_ratio)} (error {fmt(t.path_err)}; ||lambda_K - lambda*|| = {fmt(max(e.lam_err for e in eq))})",
        tolerance=f"E_k = {fmt(t.path_bound)} (rho E_(k-1) + G eps_k + rounding)",
        holds=bool(t.path_ratio <= 1.0),
    )


def row_box_feasible(bx: list[BoxTrial]) -> Row:
    return bound_row(
        "(b) max bound violation max(lo - x, x - hi)",
        "0 (x in C)",
        max(t.violation for t in bx),
        0.0,
        why="the projection returns lo or hi exactly",
    )


def row_active_sets(bx: list[BoxTrial]) -> Row:
    return Row(
        quantity="(b) active sets {x_T = lo}, {x_T = hi} (and the rest strictly inside)",
        predicted=f"the constructed ones: {N_LO} at lo, {N_HI} at hi per instance",
        measured=f"{sum(t.sets_match for t in bx)}/{len(bx)} instances match (at lo: {[t.n_lo for t in bx]}, at hi: {[t.n_hi for t in bx]})",
        tolerance="exact",
        holds=all(t.sets_match for t in bx),
    )


def row_distance(bx: list[BoxTrial]) -> Row:
    meas, bnd = _worst([(t.dist, t.dist_bound) for t in bx])
    return bound_row(
        "(b) ||x_T - x*|| (worst instance)",
        "0 (x* built in)",
        meas,
        bnd,
        why="q^T (||x*|| + dx) + rho_s / (1 - q) + dx",
    )


def row_multipliers(bx: list[BoxTrial]) -> Row:
    worst = max(t.mu_err for t in bx)
    return Row(
        quantity="(b) multipliers grad_i f(x_T) on active bounds vs the constructed mu (>= 0.5): max |error| / bound_i",
        predicted="<= 1 (mu_lo = grad f at lo, mu_hi = -grad f at hi)",
        measured=f"{fmt(worst)} (smallest measured multiplier {fmt(min(t.mu_min for t in bx))})",
        tolerance="bound_i = ||Q|| D + |dc_i| + rounding",
        holds=bool(worst <= 1.0),
    )


def row_inactive(bx: list[BoxTrial]) -> Row:
    worst = max(t.inactive for t in bx)
    return Row(
        quantity="(b) |grad_i f(x_T)| on inactive coordinates (mu_i = 0: complementary slackness): max / bound_i",
        predicted="<= 1 (grad_i f(x*) = 0)",
        measured=fmt(worst),
        tolerance="bound_i = ||Q|| D + |dc_i| + rounding",
        holds=bool(worst <= 1.0),
    )


def run(ctx: Context) -> Outcome:
    k = 3 if ctx.tier == "quick" else 12
    eq: list[EqualityTrial] = ctx.map(
        _equality_trial, [(s, ctx.sabotage) for s in trial_seeds(ctx, k, stream=0)]
    )
    bx: list[BoxTrial] = ctx.map(
        _box_trial, [(s, ctx.sabotage == "clip-upper-only") for s in trial_seeds(ctx, k, stream=1)]
    )
    rows = (
        row_stationarity(eq),
        row_feasibility(eq),
        row_path(eq),
        row_box_feasible(bx),
        row_active_sets(bx),
        row_distance(bx),
        row_multipliers(bx),
        row_inactive(bx),
    )
    figure = {"equality": [dataclasses.asdict(t) for t in eq], "box": [dataclasses.asdict(t) for t in bx]}
    return Outcome(rows=rows, figure=figure)


def plot(result: CheckResult, path: str) -> None:
    from ._plot import save, subplots

    fig, (ax1, ax2) = subplots(1, 2)
    eq = result.figure["equality"]
    pairs = (("stat", "stat_bound"), ("feas", "feas_bound"), ("path_err", "path_bound"))
    for j, (key, bkey) in enumerate(pairs):
        ax1.semilogy([j] * len(eq), [max(r[key], 1e-18) for r in eq], "o", color="C0")
        ax1.semilogy([j] * len(eq), [r[bkey] for r in eq], "_", color="k", markersize=20)
    ax1.set_xticks(range(len(pairs)), ["stationarity", "||h||", "lambda path"])
    ax1.set_title("(a) augmented Lagrangian (bars: bounds)")
    bx = result.figure["box"]
    ax2.semilogy(range(len(bx)), [max(r["dist"], 1e-18) for r in bx], "o", label="||x_T - x*||")
    ax2.semilogy(range(len(bx)), [r["dist_bound"] for r in bx], "k_", markersize=20, label="bound")
    ax2.set_xlabel("instance")
    ax2.set_title("(b) projected GD on a box")
    ax2.legend()
    save(fig, path, result.claim)

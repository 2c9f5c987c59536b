r"""The augmented Lagrangian with inequality constraints ends at a KKT point: signs and complementary slackness.

Claim:
    Note 004, "KKT Conditions": for min f(theta) s.t. g(theta) <= 0 (and h(theta) = 0) the solution
    satisfies stationarity grad f - J_h^T lambda + J_g^T nu = 0 (the note's L + mu g, with the
    multiplier called nu here), primal feasibility g <= 0, h = 0, dual feasibility nu >= 0 and
    complementary slackness nu_i g_i = 0 (nu_i > 0 only on an active constraint). The method of
    multipliers with the Powell-Hestenes-Rockafellar term, ``ref.augmented_lagrangian`` with a
    ``ConstrainedProblem(f, h=h, g=g)`` ((AL1b), (AL3b) of specs/augmented_lagrangian.md), reaches
    such a point: nu_k >= 0 at every k, the inactive multipliers are exactly 0 after finitely many
    updates, the active ones converge to the KKT multipliers.

Setup:
    A QP built with a known KKT point: f = 1/2 x^T H x - c^T x (p = 6, H = B B^T / p + I, B with
    N(0, 1) entries), one equality h = a^T x - b and r = 5 inequalities g = G x - d <= 0 (a, G with
    N(0, 1) entries). x* ~ N(0, 1/4), 3 active constraints with nu*_i ~ U(0.5, 2), 2 inactive ones
    with slack d_i - G_i x* ~ U(0.5, 1.5), lambda* ~ N(0, 1); then d = G x* + slack, b = a^T x*,
    c = H x* - a lambda* + G^T nu* (rounded to float64). The check re-solves the KKT system of the
    *rounded* data on the constructed active set S in 30-digit arithmetic (mpmath),
    [[H, G_S^T, -a], [G_S, 0, 0], [a^T, 0, 0]] [x; nu_S; lambda] = [c; d_S; b], and verifies
    nu_S > 0 and G_i x < d_i off S there: by convexity (H > 0) this is the unique solution
    (x*, lambda*, nu*) of the problem the method sees. ``ref.augmented_lagrangian(mu=10,
    inner_tol=1e-5)`` (inner L-BFGS; the tolerance is one L-BFGS reaches, see kkt_conditions.py),
    K = 10 outer steps from x = 0, z_0 = (lambda_0, nu_0) = 0. Quick: 3 instances; full: 12, from
    ``trial_seeds``.
    Prediction of the path: the exact outer map T(z) = (lambda - mu h(x(z)), max(0, nu + mu g(x(z))))
    with x(z) the exact minimiser of the check's own L_A (a piecewise quadratic: the branch set
    {i : nu_i + mu g_i >= 0} is found by enumeration in float64 and the linear system solved and the
    branch set verified in 30 digits), iterated from z_0 = 0 in 30 digits: z_k^pred, x_k^pred.

Measured:
    By the check, from the iterates (x_k, lambda_k, nu_k) the method returns, with its own
    autograd gradients of its own L_A (written in the max form (max(0, nu + mu g)^2 - nu^2)/(2 mu),
    not the module's branch form) and of L = f - lambda^T h + nu^T g: the inner gradient
    ||grad L_A(x_k; z_{k-1})|| (the stopping rule of (AL2)); at K: ||grad L||, the primal
    violation max(0, max_i g_i, |h|), min_k min_i nu_k,i, max_i |nu_K,i g_i(x_K)|,
    ||z_K - z*||; along the path max_k ||z_k - z_k^pred|| / E_k; and which inactive multipliers are
    exactly 0.0 at K. The figures (g^pred, z^pred) in the predicted column come from the 30-digit path.

Tolerance:
    Derived bounds, first order in u = 2^-53, gamma_n = n u / (1 - n u) (Higham ch. 3).
    (i) Nonexpansiveness: for a convex problem the method of multipliers with exact inner solves is
    the proximal point method on the dual (Rockafellar 1973, 1976), so T is nonexpansive:
    ||T(z) - T(z')|| <= ||z - z'||. (ii) L_A(.; z) is m-strongly convex with m = lambda_min(H)
    (the penalty terms are convex), so an inner point with ||grad L_A|| <= eps_k is within
    eps_k / m of x(z); and x(z) is ||J|| / m-Lipschitz in z (J = [a^T; G]; d psi / d g is
    1-Lipschitz in nu). (iii) max(0, .) is 1-Lipschitz. Hence, with eps_k the exact inner gradient
    bound when (AL2) stopped by its rule (inner_tol plus gamma_{2(p+1+r)+10} || |H||x| + |c| + |a|
    (|lambda| + mu (|a^T x| + |b|)) + |G|^T (|nu| + mu (|G||x| + |d|)) ||, the rounding of a computed
    gradient of L_A; the first row checks the rule with the check's own gradient, so a stalled inner
    solve fails there and not silently below) and r_k the rounding of the multiplier update
    (gamma_{p+3} || (|lambda| + mu (|a||x| + |b|), |nu| + mu (|G||x| + |d|)) ||):
    ||z_k - z_k^pred|| <= E_k = E_{k-1} + mu ||J|| eps_k / m + r_k + u ||z_k^pred||, E_0 = 0;
    ||x_K - x_K^pred|| <= D_K = (eps_K + ||J|| E_{K-1}) / m. Rows: stationarity <= eps_K + ||J|| r_K +
    measurement rounding (grad L(x_K; z_K) = grad L_A(x_K; z_{K-1}) + J^T (z_K - exact update));
    violation <= max_i ((g_i^pred)_+ + ||J_i|| D_K + gamma_{p+1} (|J_i||x| + |d_i|)); complementary
    slackness <= max_i (|nu_i^pred| + E_K)(|g_i^pred| + ||G_i|| D_K + rounding). The multiplier
    error has an a posteriori bound that does not use z* (so a wrong z* fails it): with S the
    constructed active set, (x_K, nu_K,S, lambda_K) solves the KKT system K_S [x; nu_S; lambda] =
    [c; d_S; b] + [s - G_(not S)^T nu_(not S); g_S(x_K); h(x_K)] exactly (s = grad L(x_K; z_K)), so
    ||z_K - z*|| <= ||K_S^-1|| (||s|| + ||G_(not S)^T nu_(not S)|| + ||(h, g_S)(x_K)|| + measurement
    rounding) + ||nu_(not S)||; ||K_S^-1|| = 1/sigma_min from numpy's SVD, times (1 + 1e-6) for the
    SVD's own rounding (kappa(K_S) < 1e9 is asserted). An inactive nu_K,i is predicted exactly 0.0 when
    nu_{K-1,i}^pred + mu g_i(x_K^pred) < -(E_{K-1} + mu ||G_i|| D_K + rounding) (then the computed
    argument of the max is negative). Dual feasibility is exact (max returns 0.0 or a positive).

References:
    Note 004, "Constrained Optimization" ("KKT Conditions": L + mu g, mu >= 0, mu g = 0).
    Nocedal and Wright (2006), Thm. 12.1 (KKT), section 17.4, eqs. 17.65-17.66. Rockafellar, R. T.
    (1973), The multiplier method of Hestenes and Powell applied to convex programming, J. Optim.
    Theory Appl. 12; (1976), Augmented Lagrangians and applications of the proximal point
    algorithm in convex programming, Math. Oper. Res. 1. Higham (2002), Accuracy and Stability of
    Numerical Algorithms, ch. 3.

Sabotage:
    "no-clamp": the multiplier update without the max(0, .) clamp, nu_k = nu_{k-1} + mu g(x_k)
        (applied by the check to the returned state at every step); dual feasibility fails.
    "nw-sign": the method is given -g (N&W's c(x) >= 0 convention with g copied in for c, i.e. the
        wrong sign of g in psi and in the update); it solves the reversed problem and the
        feasibility, multiplier and path rows fail.
    "wrong-prediction": the independent KKT multipliers with the opposite sign convention
        (L = f - nu^T g, i.e. -nu*); the multiplier-error row fails.
    Bugs planted in a scratch copy of reference/ and caught at quick seed 0: psi = nu s + mu s^2
    (no 1/2; inner, stationarity, path rows); the clamp misplaced, max(0, nu) + mu g (dual
    feasibility, slackness, path, exact zeros); (AL3b) with g at the previous iterate
    (stationarity, slackness, path); (AL3b) with mu/2 (stationarity, path); the wrong sign of g
    inside psi only (six rows). Not caught, and not bugs of the claim: the branch test n + mu s > 0
    instead of >= 0 (psi is C^1, the same function), and psi's inactive branch 0 instead of
    -n^2/(2 mu) (a constant in theta: the same minimiser, only L_A's value changes).
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
from reference.constrained.augmented_lagrangian import ConstrainedProblem

from ._base import CheckResult, Context, Outcome, Row
from ._stats import bound_row, fmt, trial_seeds

NAME = "kkt_inequality"
CLAIM = "g <= 0: grad f - J_h^T lambda + J_g^T nu = 0, g <= 0, nu >= 0, nu_i g_i = 0 at the augmented Lagrangian's limit"
SOURCE = "note 004, 'Constrained Optimization' (KKT Conditions)"
SABOTAGE: tuple[str, ...] = ("no-clamp", "nw-sign", "wrong-prediction")
JUSTIFICATION = (
    "derived bounds: the method of multipliers is a nonexpansive proximal map on the dual; inexact inner "
    "solves (strong convexity) and rounding added per step, against a 30-digit exact path and KKT point"
)
STAT_ROWS = 0

U = 2.0**-53
P, R, N_ACT, MU, K_OUTER, INNER_TOL = 6, 5, 3, 10.0, 10, 1e-5
Vec = NDArray[np.float64]


def _gamma(n: int) -> float:
    return n * U / (1.0 - n * U)


def _norm(v: Any) -> float:
    return float(np.linalg.norm(v))


@dataclass(frozen=True)
class Instance:
    H: Vec
    c: Vec
    a: Vec
    b: float
    G: Vec
    d: Vec
    active: NDArray[np.bool_]


def _instance(rng: np.random.Generator) -> Instance:
    B = rng.standard_normal((P, P))
    H = B @ B.T / P + np.eye(P)
    a, G = rng.standard_normal(P), rng.standard_normal((R, P))
    x_star = 0.5 * rng.standard_normal(P)
    active = np.zeros(R, bool)
    active[rng.permutation(R)[:N_ACT]] = True
    nu_star = np.where(active, rng.uniform(0.5, 2.0, R), 0.0)
    slack = np.where(active, 0.0, rng.uniform(0.5, 1.5, R))
    lam_star = float(rng.standard_normal())
    d, b = G @ x_star + slack, float(a @ x_star)
    c = H @ x_star - a * lam_star + G.T @ nu_star
    return Instance(H, c, a, b, G, d, active)


def _mp() -> Any:
    return importlib.import_module("mpmath")  # untyped; a dependency of the `check` extra


def _kkt(inst: Instance) -> tuple[Vec, float, Vec]:
    """(x*, lambda*, nu*) of the rounded data on the constructed active set, in 30 digits, verified."""
    mp = _mp()
    S = np.flatnonzero(inst.active)
    n = len(S)
    K = np.zeros((P + n + 1, P + n + 1))
    K[:P, :P], K[:P, P : P + n], K[:P, -1] = inst.H, inst.G[S].T, -inst.a
    K[P : P + n, :P], K[-1, :P] = inst.G[S], inst.a
    with mp.workdps(30):
        sol = mp.lu_solve(
            mp.matrix(K.tolist()), mp.matrix(np.concatenate([inst.c, inst.d[S], [inst.b]]).tolist())
        )
        x = [sol[i] for i in range(P)]
        nu = np.zeros(R)
        for j, i in enumerate(S):
            if not sol[P + j] > 0:
                raise RuntimeError("kkt_inequality: the constructed active multiplier is not positive")
            nu[i] = float(sol[P + j])
        for i in np.flatnonzero(~inst.active):
            gi = mp.fsum(mp.mpf(inst.G[i, q]) * x[q] for q in range(P)) - inst.d[i]
            if not gi < 0:
                raise RuntimeError(
                    "kkt_inequality: a constructed inactive constraint is not strictly satisfied"
                )
        return np.array([float(v) for v in x]), float(sol[P + n]), nu


def _exact_path(inst: Instance, K: int) -> tuple[list[Vec], list[Vec]]:
    """x_k^pred and z_k^pred = (lambda_k, nu_k), k = 1..K, with exact inner minimisation (30 digits).

    Long because: the branch set of each inner problem is found in float64 and confirmed in
    30 digits, and the outer update is applied in 30 digits, in one loop.
    """
    mp = _mp()
    H, a, G, c, d, b = inst.H, inst.a, inst.G, inst.c, inst.d, inst.b
    xs: list[Vec] = []
    zs: list[Vec] = []
    with mp.workdps(30):
        Hm, am, Gm = mp.matrix(H.tolist()), mp.matrix(a.tolist()), mp.matrix(G.tolist())
        cm, dm = mp.matrix(c.tolist()), mp.matrix(d.tolist())
        lam, nu = mp.mpf(0), [mp.mpf(0)] * R
        for _ in range(K):
            lam_f, nu_f = float(lam), np.array([float(v) for v in nu])

            def solve_float(S: tuple[int, ...]) -> tuple[float, Vec]:
                Sl = list(S)
                M = H + MU * np.outer(a, a) + MU * G[Sl].T @ G[Sl]
                rhs = c + a * lam_f + MU * a * b - G[Sl].T @ (nu_f[Sl] - MU * d[Sl])
                x = np.asarray(np.linalg.solve(M, rhs), dtype=np.float64)
                t = nu_f + MU * (G @ x - d)
                margin = np.where(np.isin(np.arange(R), Sl), t, -t)
                return float(margin.min()), x

            subsets = [tuple(i for i in range(R) if m >> i & 1) for m in range(2**R)]
            S = max(subsets, key=lambda S: solve_float(S)[0])
            M = Hm + MU * am * am.T
            rhs = cm + am * lam + MU * b * am
            for i in S:
                gi = Gm[i, :].T
                M += MU * gi * gi.T
                rhs -= gi * (nu[i] - MU * dm[i])
            x = mp.lu_solve(M, rhs)
            g = Gm * x - dm
            t = [nu[i] + MU * g[i] for i in range(R)]
            tiny = mp.mpf(10) ** -20
            if any((t[i] < -tiny) if i in S else (t[i] > tiny) for i in range(R)):
                raise RuntimeError("kkt_inequality: the exact inner problem's branch set did not verify")
            lam = lam - MU * (mp.fsum(am[q] * x[q] for q in range(P)) - b)
            nu = [max(mp.mpf(0), t[i]) for i in range(R)]
            xs.append(np.array([float(x[q]) for q in range(P)]))
            zs.append(np.array([float(lam)] + [float(v) for v in nu]))
    return xs, zs


@dataclass(frozen=True)
class Trial:
    inner: float  # max_k ||grad L_A(x_k; z_(k-1))|| (the check's L_A)
    inner_bound: float
    stat: float
    stat_bound: float
    viol: float
    viol_pred: float
    viol_bound: float
    nu_min: float  # min over k and i of nu_k,i
    cs: float  # max_i |nu_K,i g_i(x_K)|
    cs_pred: float
    cs_bound: float
    z_err: float  # ||z_K - z*||
    z_err_bound: float  # the a posteriori KKT error bound
    path_ratio: float
    zero_pred: int  # inactive multipliers certified exactly 0 at K
    zero_meas: int  # of those, how many are 0.0
    n_inactive: int


def _trial(args: tuple[np.random.SeedSequence, str | None]) -> Trial:
    """One instance: run the method, measure every row's quantity and derive its bound.

    Long because: the bounds of the rows share the per-step quantities eps_k, r_k and E_k, which
    are accumulated along the one run.
    """
    seed, sabotage = args
    inst = _instance(np.random.default_rng(seed))
    H, a, G, c, d, b = inst.H, inst.a, inst.G, inst.c, inst.d, inst.b
    x_star, lam_star, nu_star = _kkt(inst)
    if sabotage == "wrong-prediction":
        nu_star = -nu_star
    xs_pred, zs_pred = _exact_path(inst, K_OUTER)

    def f(x: Any) -> Any:
        return 0.5 * anp.dot(x, anp.dot(H, x)) - anp.dot(c, x)

    def h(x: Any) -> Any:
        return anp.array([anp.dot(a, x) - b])

    def g(x: Any) -> Any:
        return anp.dot(G, x) - d

    def neg_g(x: Any) -> Any:
        return -g(x)

    problem = ConstrainedProblem(f, h=h, g=neg_g if sabotage == "nw-sign" else g)
    opt = ref.augmented_lagrangian(mu=MU, inner_tol=INNER_TOL)
    state = opt.init(np.zeros(P))
    Ga, aa, Ha = np.abs(G), np.abs(a), np.abs(H)
    J = np.vstack([a, G])
    norm_J, m_str = float(np.linalg.norm(J, 2)), float(np.linalg.eigvalsh(H)[0])
    lam_prev, nu_prev = 0.0, np.zeros(R)
    E = E_prev = 0.0
    inner, inner_bound, path_ratio, nu_min = 0.0, 1.0, 0.0, math.inf
    for k in range(K_OUTER):
        new = opt.step(state, problem)
        x = np.asarray(new.params)
        if sabotage == "no-clamp":
            new = dataclasses.replace(new, nu=nu_prev + MU * np.asarray(g(x)))
        lam_k, nu_k = float(np.asarray(new.lam)[0]), np.asarray(new.nu)

        def aug(z: Any, lam0: float = lam_prev, nu0: Vec = nu_prev) -> Any:
            hz, gz = anp.dot(a, z) - b, g(z)
            psi = anp.sum(anp.maximum(0.0, nu0 + MU * gz) ** 2 - nu0**2) / (2 * MU)
            return f(z) - lam0 * hz + 0.5 * MU * hz * hz + psi

        gnorm = _norm(autograd.grad(aug)(x))
        scale = _norm(
            Ha @ np.abs(x)
            + np.abs(c)
            + aa * (abs(lam_prev) + MU * (aa @ np.abs(x) + abs(b)))
            + Ga.T @ (np.abs(nu_prev) + MU * (Ga @ np.abs(x) + np.abs(d)))
        )
        eps = INNER_TOL + _gamma(2 * (P + 1 + R) + 10) * scale  # the exact gradient, if (AL2) stopped
        if gnorm / eps > inner / inner_bound:
            inner, inner_bound = gnorm, eps
        r = _gamma(P + 3) * _norm(
            np.concatenate(
                [
                    [abs(lam_prev) + MU * (aa @ np.abs(x) + abs(b))],
                    np.abs(nu_prev) + MU * (Ga @ np.abs(x) + np.abs(d)),
                ]
            )
        )
        E_prev, E = E, E + MU * norm_J * eps / m_str + r + U * _norm(zs_pred[k])
        z_k = np.concatenate([[lam_k], nu_k])
        path_ratio = max(path_ratio, _norm(z_k - zs_pred[k]) / E)
        nu_min = min(nu_min, float(nu_k.min()))
        state, lam_prev, nu_prev = new, lam_k, nu_k
    x, xp, zp = np.asarray(state.params), xs_pred[-1], zs_pred[-1]
    D = (eps + norm_J * E_prev) / m_str
    grad_L = np.asarray(
        autograd.grad(lambda z: f(z) - lam_prev * (anp.dot(a, z) - b) + anp.dot(nu_prev, g(z)))(x)
    )
    stat_rnd = _gamma(P + R + 3) * _norm(
        Ha @ np.abs(x) + np.abs(c) + aa * abs(lam_prev) + Ga.T @ np.abs(nu_prev)
    )
    cons = np.concatenate([[abs(float(a @ x - b))], np.asarray(g(x))])
    cons_pred = np.concatenate([[abs(float(a @ xp - b))], G @ xp - d])
    rows_norm = np.linalg.norm(J, axis=1)
    c_rnd = _gamma(P + 1) * (np.abs(J) @ np.abs(x) + np.abs(np.concatenate([[b], d])))
    g_meas, g_pred = cons[1:], cons_pred[1:]
    # a posteriori error bound on the constructed active set S (see Tolerance)
    S, off = np.flatnonzero(inst.active), ~inst.active
    n = len(S)
    Kkt = np.zeros((P + n + 1, P + n + 1))
    Kkt[:P, :P], Kkt[:P, P : P + n], Kkt[:P, -1] = H, G[S].T, -a
    Kkt[P : P + n, :P], Kkt[-1, :P] = G[S], a
    sv = np.linalg.svd(Kkt, compute_uv=False)
    if sv[0] / sv[-1] > 1e9:
        raise RuntimeError("kkt_inequality: the KKT matrix of the instance is too ill-conditioned")
    residual = (
        _norm(grad_L)
        + stat_rnd
        + _norm(G[off].T @ nu_prev[off])
        + _norm(cons[np.concatenate([[0], 1 + S])])
        + _norm(c_rnd[np.concatenate([[0], 1 + S])])
    )
    z_err_bound = (1.0 + 1e-6) / float(sv[-1]) * residual + _norm(nu_prev[off])
    margin = -(zs_pred[-2][1:] + MU * g_pred)
    need = (
        E_prev
        + MU * rows_norm[1:] * D
        + _gamma(P + 3) * (np.abs(nu_prev) + MU * (Ga @ np.abs(x) + np.abs(d)))
        + 2 * U * np.abs(zs_pred[-2][1:])
    )
    certified = off & (margin > need)
    return Trial(
        inner=inner,
        inner_bound=inner_bound,
        stat=_norm(grad_L),
        stat_bound=eps + norm_J * r + stat_rnd,
        viol=float(np.max(np.maximum(cons, 0.0))),
        viol_pred=float(np.max(np.maximum(cons_pred, 0.0))),
        viol_bound=float(np.max(np.maximum(cons_pred, 0.0) + rows_norm * D + c_rnd)),
        nu_min=nu_min,
        cs=float(np.max(np.abs(nu_prev * g_meas))),
        cs_pred=float(np.max(np.abs(zp[1:] * g_pred))),
        cs_bound=float(np.max((np.abs(zp[1:]) + E) * (np.abs(g_pred) + rows_norm[1:] * D + c_rnd[1:]))),
        z_err=_norm(np.concatenate([[lam_prev - lam_star], nu_prev - nu_star])),
        z_err_bound=z_err_bound,
        path_ratio=path_ratio,
        zero_pred=int(certified.sum()),
        zero_meas=int(np.sum(nu_prev[certified] == 0.0)),
        n_inactive=int(off.sum()),
    )


# ----------------------------------------------------------------------------------------------
# Rows


def _worst(ts: list[Trial], meas: str, bound: str) -> Trial:
    return max(ts, key=lambda t: getattr(t, meas) / getattr(t, bound) if getattr(t, bound) > 0 else math.inf)


def row_inner(ts: list[Trial]) -> Row:
    t = _worst(ts, "inner", "inner_bound")
    return bound_row(
        "(AL2) max_k ||grad_x L_A(x_k; z_(k-1))|| (the check's L_A, max form; worst instance)",
        f"<= inner_tol = {INNER_TOL:g}",
        t.inner,
        t.inner_bound,
        why="inner_tol + rounding of the gradient",
    )


def row_stationarity(ts: list[Trial]) -> Row:
    t = _worst(ts, "stat", "stat_bound")
    return bound_row(
        "stationarity ||grad f - a lambda_K + G^T nu_K|| (autograd of the check's L; worst instance)",
        "0",
        t.stat,
        t.stat_bound,
        why="eps_K + ||J|| r_K + rounding",
    )


def row_feasibility(ts: list[Trial]) -> Row:
    t = _worst(ts, "viol", "viol_bound")
    return bound_row(
        "primal feasibility max(0, max_i g_i(x_K), |h(x_K)|) (worst instance)",
        f"{fmt(t.viol_pred)} (at x_K^pred; 0 in the limit)",
        t.viol,
        t.viol_bound,
        why="(g^pred)_+ + ||J_i|| D_K + rounding",
    )


def row_dual(ts: list[Trial]) -> Row:
    return bound_row(
        f"dual feasibility: -min_k min_i nu_k,i, k = 1..{K_OUTER} (all instances)",
        "<= 0 (nu_k >= 0 by (AL3b))",
        -min(t.nu_min for t in ts),
        0.0,
        why="exact: max(0, .) returns 0.0 or a positive number",
    )


def row_slackness(ts: list[Trial]) -> Row:
    t = _worst(ts, "cs", "cs_bound")
    return bound_row(
        "complementary slackness max_i |nu_K,i g_i(x_K)| (worst instance)",
        f"{fmt(t.cs_pred)} (at z_K^pred; 0 in the limit)",
        t.cs,
        t.cs_bound,
        why="(|nu^pred| + E_K)(|g^pred| + ||G_i|| D_K + rounding)",
    )


def row_multipliers(ts: list[Trial]) -> Row:
    t = _worst(ts, "z_err", "z_err_bound")
    return bound_row(
        "multiplier error ||(lambda_K, nu_K) - (lambda*, nu*)||, z* the 30-digit KKT solution (worst instance)",
        "0 (converges to z*)",
        t.z_err,
        t.z_err_bound,
        why="||K_S^-1|| * KKT residuals on the active set S + ||nu_K off S||",
    )


def row_path(ts: list[Trial]) -> Row:
    worst = max(t.path_ratio for t in ts)
    return Row(
        quantity=f"max_k ||z_k - z_k^pred|| / E_k, k = 1..{K_OUTER} (worst instance)",
        predicted="<= 1 (exact outer map in 30 digits)",
        measured=fmt(worst),
        tolerance="E_k = E_(k-1) + mu ||J|| eps_k / m + r_k + u ||z_k^pred|| (nonexpansive map)",
        holds=bool(worst <= 1.0),
    )


def row_zero(ts: list[Trial]) -> Row:
    pred, meas = sum(t.zero_pred for t in ts), sum(t.zero_meas for t in ts)
    total = sum(t.n_inactive for t in ts)
    return Row(
        quantity=f"inactive multipliers exactly 0.0 at K = {K_OUTER} (of those certified by the 30-digit path's margin)",
        predicted=f"{pred} of {total} inactive certified",
        measured=f"{meas} of the {pred} are 0.0",
        tolerance="exact (margin > E_(K-1) + mu ||G_i|| D_K + rounding)",
        holds=bool(meas == pred),
    )


def run(ctx: Context) -> Outcome:
    k = 3 if ctx.tier == "quick" else 12
    ts: list[Trial] = ctx.map(_trial, [(s, ctx.sabotage) for s in trial_seeds(ctx, k, stream=0)])
    rows = (
        row_inner(ts),
        row_stationarity(ts),
        row_feasibility(ts),
        row_dual(ts),
        row_slackness(ts),
        row_multipliers(ts),
        row_path(ts),
        row_zero(ts),
    )
    return Outcome(rows=rows, figure={"trials": [dataclasses.asdict(t) for t in ts]})


def plot(result: CheckResult, path: str) -> None:
    from ._plot import save, subplots

    fig, (ax,) = subplots()
    ts = result.figure["trials"]
    pairs = (
        ("inner", "inner_bound"),
        ("stat", "stat_bound"),
        ("viol", "viol_bound"),
        ("cs", "cs_bound"),
        ("z_err", "z_err_bound"),
    )
    for j, (key, bkey) in enumerate(pairs):
        ax.semilogy([j] * len(ts), [max(r[key], 1e-18) for r in ts], "o", color="C0")
        ax.semilogy([j] * len(ts), [r[bkey] for r in ts], "_", color="k", markersize=20)
    ax.set_xticks(range(len(pairs)), ["inner grad", "stationarity", "violation", "nu g", "z - z*"])
    ax.set_title("AL with inequalities (bars: derived bounds)")
    save(fig, path, result.claim)

r"""Lagrange multipliers and the KKT conditions hold at the solutions the constrained methods return.

Claim:
    Seed 004, "Constrained Optimization": (a) for h(theta) = 0, at the optimum grad f = J_h^T lambda
    (the Lagrangian L = f - lambda^T h is stationary) and h = 0; (b) for inequality constraints
    g_j(theta) <= 0 the multipliers satisfy mu_j >= 0 and complementary slackness mu_j g_j = 0
    (mu_j > 0 only on active constraints; inactive ones have mu_j = 0, so there grad f = 0).

Setup:
    (a) f = 1/2 x^T H x - c^T x, h = A x - b (p = 8, m = 3, H = B B^T / p + I, entries N(0, 1));
        the closed form from the KKT system [[H, -A^T], [A, 0]] [x*; lambda*] = [c; b].
        ``ref.augmented_lagrangian(mu=100)`` (inner L-BFGS, inner_tol 1e-8), K = 12 outer steps
        from x = 0.
    (b) f = 1/2 x^T Q x - c^T x on the box lo <= x <= hi (p = 10, Q = V diag(1..8) V^T, V random
        orthogonal, c ~ 3 N(0, 1), lo ~ U(-1.5, -0.5), hi ~ U(0.5, 1.5)): several bounds active.
        ``ref.projected_gd(1/L, lo=lo, hi=hi)`` for T = ceil(log(1e-22) / log(1 - 1/kappa)) steps
        from x = 0. The multipliers of lo - x <= 0 and x - hi <= 0 are mu_lo = max(grad f, 0),
        mu_hi = max(-grad f, 0) (from grad f - mu_lo + mu_hi = 0).
    Quick: 3 instances of each; full: 12. Seeds from ``trial_seeds`` (streams 0 and 1).

Measured:
    (a) max over instances of ||grad f - A^T lambda_K||, ||h(x_K)||, ||lambda_K - lambda*||.
    (b) max bound violation; the smallest multiplier of an active bound; max over coordinates of
        mu_lo (x - lo) + mu_hi (hi - x) (complementary slackness); max |grad_i f| over inactive
        coordinates; the number of active bounds (so that the sign check is not vacuous).

Tolerance:
    Derived bounds, not fitted slack. (a) grad_x L_A(x; lambda_{K-1}) = grad f - A^T lambda_K
    exactly (AL3), so stationarity <= eps_K (the recorded final inner gradient norm) + rounding
    r_a = 64 (p + m) u (||H|| ||x|| + ||c|| + ||A|| ||lambda||). With eps the largest inner
    gradient norm, the inner error moves lambda by at most delta = mu ||A|| eps / sigma_min(H +
    mu A^T A), and exact steps contract the multiplier error by rho = 1 / (1 + mu lambda_min(A
    H^{-1} A^T)) (N&W 17.3), so ||lambda_k - lambda*|| <= E_k = rho^k ||lambda*|| + delta / (1 - rho)
    + r_KKT, r_KKT = 16 cond(KKT) (p + m) u ||(x*, lambda*)|| (the closed form's own error); h(x_K) =
    (lambda_{K-1} - lambda_K) / mu gives ||h|| <= (E_{K-1} + E_K) / mu. (b) Projected GD with
    eta = 1/L contracts ||x_t - x*|| by q = 1 - 1/kappa, so |grad_i f(x_T)| <= L q^T ||hi - lo|| +
    r_b on inactive coordinates (grad_i f(x*) = 0 there), r_b = 8 p u (L ||x|| + ||Q|| ||x|| +
    ||c||) (the gradient's rounding and the unit roundoff of a step that no longer moves x); the sign
    check allows -delta_b and complementary slackness delta_b ||hi - lo||_inf; bounds hold exactly
    (the projection returns lo or hi themselves).

References:
    Seed 004, "Constrained Optimization" (Lagrange multipliers; KKT conditions, complementary
    slackness). Nocedal and Wright (2006), Thm. 12.1 (KKT), section 17.3 (method of multipliers),
    section 16.7 (gradient projection).

Sabotage:
    "wrong-sign-multiplier": the multiplier update is lambda_k = lambda_{k-1} + mu h(x_k) (the
        wrong sign of AL3); stationarity and the closed-form multiplier then fail.
    "clip-upper-only": the projection clips only the upper bound (projected_gd with lo = -inf);
        the iterate leaves the box and the feasibility row fails.
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Any

import autograd.numpy as anp
import numpy as np

import reference as ref
from reference.augmented_lagrangian import EqualityProblem

from ._base import CheckResult, Context, Row
from ._stats import bound_row, fmt, trial_seeds

NAME = "kkt_conditions"
CLAIM = "equality: grad f = J_h^T lambda, h = 0; box: mu >= 0 on active bounds, mu * slack = 0, grad f = 0 off them"
SOURCE = "seed 004, 'Constrained Optimization' (Lagrange Multipliers, KKT Conditions)"
SABOTAGE: tuple[str, ...] = ("wrong-sign-multiplier", "clip-upper-only")

U = 2.0**-53
P_EQ, M_EQ, MU, K_OUTER = 8, 3, 100.0, 12
P_BOX, KAPPA_BOX = 10, 8.0


def _equality_trial(args: tuple[np.random.SeedSequence, bool]) -> dict[str, float]:
    seed, wrong_sign = args
    rng = np.random.default_rng(seed)
    p, m = P_EQ, M_EQ
    B = rng.standard_normal((p, p))
    H = B @ B.T / p + np.eye(p)
    c, A, b = rng.standard_normal(p), rng.standard_normal((m, p)), rng.standard_normal(m)
    kkt = np.block([[H, -A.T], [A, np.zeros((m, m))]])
    sol = np.linalg.solve(kkt, np.concatenate([c, b]))
    x_star, lam_star = sol[:p], sol[p:]
    problem = EqualityProblem(lambda x: 0.5 * anp.dot(x, anp.dot(H, x)) - anp.dot(c, x), lambda x: anp.dot(A, x) - b)
    opt = ref.augmented_lagrangian(mu=MU)
    state = opt.init(np.zeros(p))
    lams = [np.zeros(m)]
    eps = 0.0
    for _ in range(K_OUTER):
        new = opt.step(state, problem)
        if wrong_sign:  # lambda_k = lambda_{k-1} + mu h(x_k), i.e. reflect the update
            assert new.lam is not None
            new = dataclasses.replace(new, lam=2.0 * lams[-1] - new.lam)
        state = new
        assert state.lam is not None
        lams.append(state.lam)
        eps = max(eps, state.inner_grad_norm)
    x, lam = state.params, lams[-1]
    norm_a = float(np.linalg.norm(A, 2))
    rho = 1.0 / (1.0 + MU * float(np.linalg.eigvalsh(A @ np.linalg.solve(H, A.T)).min()))
    delta = MU * norm_a * eps / float(np.linalg.eigvalsh(H + MU * A.T @ A).min())
    r_kkt = 16.0 * float(np.linalg.cond(kkt)) * (p + m) * U * float(np.linalg.norm(sol))

    def e_bound(k: int) -> float:
        return rho**k * float(np.linalg.norm(lam_star)) + delta / (1.0 - rho) + r_kkt

    r_a = 64.0 * (p + m) * U * (float(np.linalg.norm(H, 2)) * float(np.linalg.norm(x)) + float(np.linalg.norm(c)) + norm_a * float(np.linalg.norm(lam)))
    return {
        "stat": float(np.linalg.norm(H @ x - c - A.T @ lam)),
        "stat_bound": state.inner_grad_norm + r_a,
        "feas": float(np.linalg.norm(A @ x - b)),
        "feas_bound": (e_bound(K_OUTER - 1) + e_bound(K_OUTER)) / MU,
        "lam_err": float(np.linalg.norm(lam - lam_star)),
        "lam_bound": e_bound(K_OUTER),
        "x_err": float(np.linalg.norm(x - x_star)),
        "rho": rho,
    }


def _box_trial(args: tuple[np.random.SeedSequence, bool]) -> dict[str, float]:
    seed, upper_only = args
    rng = np.random.default_rng(seed)
    p = P_BOX
    V, _ = np.linalg.qr(rng.standard_normal((p, p)))
    eig = np.linspace(1.0, KAPPA_BOX, p)
    Q = (V * eig) @ V.T
    c = 3.0 * rng.standard_normal(p)
    lo, hi = rng.uniform(-1.5, -0.5, p), rng.uniform(0.5, 1.5, p)
    L = float(eig.max())
    q = 1.0 - float(eig.min()) / L
    T = math.ceil(math.log(1e-22) / math.log(q))
    opt = ref.projected_gd(1.0 / L, hi=hi) if upper_only else ref.projected_gd(1.0 / L, lo=lo, hi=hi)
    state = opt.init(np.zeros(p))
    for _ in range(T):
        state = opt.step(state, Q @ state.params - c)
    x = state.params
    g = Q @ x - c
    at_lo, at_hi = x == lo, x == hi
    inactive = ~(at_lo | at_hi)
    mu_lo, mu_hi = np.maximum(g, 0.0), np.maximum(-g, 0.0)
    width = hi - lo
    r_b = 8.0 * p * U * (L * float(np.linalg.norm(x)) + float(np.linalg.norm(Q, 2)) * float(np.linalg.norm(x)) + float(np.linalg.norm(c)))
    delta_b = L * q**T * float(np.linalg.norm(width)) + r_b
    active_mu = np.concatenate([g[at_lo], -g[at_hi]])
    return {
        "violation": float(np.max(np.concatenate([lo - x, x - hi, [0.0]]))),
        "min_mu": float(active_mu.min()) if active_mu.size else math.inf,
        "slack": float(np.max(mu_lo * (x - lo) + mu_hi * (hi - x))),
        "slack_bound": delta_b * float(width.max()),
        "inactive_grad": float(np.abs(g[inactive]).max()) if inactive.any() else 0.0,
        "delta": delta_b,
        "n_active": float(np.sum(~inactive)),
        "T": float(T),
    }


def run(ctx: Context) -> CheckResult:
    if ctx.sabotage not in (None, *SABOTAGE):
        raise ValueError(f"{NAME}: sabotage must be one of {SABOTAGE}, got {ctx.sabotage!r}")
    t0 = time.perf_counter()
    k = 3 if ctx.tier == "quick" else 12
    eq = ctx.map(_equality_trial, [(s, ctx.sabotage == "wrong-sign-multiplier") for s in trial_seeds(ctx, k, stream=0)])
    bx = ctx.map(_box_trial, [(s, ctx.sabotage == "clip-upper-only") for s in trial_seeds(ctx, k, stream=1)])

    def worst(rs: list[dict[str, float]], key: str, bound: str) -> tuple[float, float]:
        """The instance closest to (or furthest beyond) its own bound: (measured, bound)."""
        r = max(rs, key=lambda r: r[key] / r[bound] if r[bound] > 0 else math.inf)
        return r[key], r[bound]

    rows: list[Row] = []
    for key, bkey, quantity, pred, why in (
        ("stat", "stat_bound", "(a) ||grad f - A^T lambda_K|| (worst instance)", "0 (grad f = J_h^T lambda)", "final inner ||grad L_A|| + rounding"),
        ("feas", "feas_bound", "(a) ||h(x_K)|| (worst instance)", "0 (h = 0)", "(E_{K-1} + E_K) / mu"),
        ("lam_err", "lam_bound", "(a) ||lambda_K - lambda*|| vs KKT closed form (worst instance)", "0", "E_K = rho^K ||lambda*|| + delta/(1-rho) + r_KKT"),
    ):
        meas, bnd = worst(eq, key, bkey)
        rows.append(bound_row(quantity, pred, meas, bnd, why=why))
    viol = max(r["violation"] for r in bx)
    rows.append(bound_row("(b) max bound violation max(lo - x, x - hi)", "0 (x in C)", viol, 0.0, why="the projection returns lo or hi exactly"))
    r_sign = min(bx, key=lambda r: r["min_mu"] + r["delta"])
    rows.append(Row("(b) smallest multiplier of an active bound (mu_lo = grad f at lo, mu_hi = -grad f at hi)", ">= 0",
                    fmt(r_sign["min_mu"]), f">= -{fmt(r_sign['delta'])} (L q^T diam + rounding)",
                    bool(r_sign["min_mu"] >= -r_sign["delta"])))  # fmt: skip
    meas, bnd = worst(bx, "slack", "slack_bound")
    rows.append(bound_row("(b) max mu_lo (x - lo) + mu_hi (hi - x) (complementary slackness)", "0", meas, bnd, why="delta_b max(hi - lo)"))
    meas, bnd = worst(bx, "inactive_grad", "delta")
    rows.append(bound_row("(b) max |grad_i f| on inactive coordinates", "0 (mu = 0 there)", meas, bnd, why="L q^T ||hi - lo|| + rounding"))
    n_act = [int(r["n_active"]) for r in bx]
    rows.append(Row("(b) active bounds per instance (the sign check is not vacuous)", ">= 1 and < p", fmt(n_act),
                    "every instance", all(0 < n < P_BOX for n in n_act)))  # fmt: skip
    figure: dict[str, Any] = {"equality": eq, "box": bx}
    return CheckResult(
        name=NAME, claim=CLAIM, source=SOURCE, rows=tuple(rows),
        justification="derived bounds: the AL3 identity (stationarity = inner gradient), the multiplier contraction rho with the "
                      "inner-error drift delta, projected-GD contraction q^T, float64 rounding",
        figure=figure, seconds=time.perf_counter() - t0,
    )  # fmt: skip


def plot(result: CheckResult, path: str) -> None:
    from ._plot import save, subplots

    fig, (ax1, ax2) = subplots(1, 2)
    eq = result.figure["equality"]
    pairs = (("stat", "stat_bound"), ("feas", "feas_bound"), ("lam_err", "lam_bound"))
    for j, (key, bkey) in enumerate(pairs):
        ax1.semilogy([j] * len(eq), [max(r[key], 1e-18) for r in eq], "o", color="C0")
        ax1.semilogy([j] * len(eq), [r[bkey] for r in eq], "_", color="k", markersize=20)
    ax1.set_xticks(range(len(pairs)), ["stationarity", "||h||", "lambda err"])
    ax1.set_title("(a) augmented Lagrangian (bars: bounds)")
    bx = result.figure["box"]
    ax2.semilogy(range(len(bx)), [max(r["inactive_grad"], 1e-18) for r in bx], "o", label="max |grad| inactive")
    ax2.semilogy(range(len(bx)), [r["delta"] for r in bx], "k_", markersize=20, label="bound")
    ax2.set_xlabel("instance")
    ax2.set_title("(b) projected GD on a box")
    ax2.legend()
    save(fig, path, result.claim)

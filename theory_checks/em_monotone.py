r"""EM never decreases the likelihood (Gaussian mixtures, many random starts).

Claim:
    l(theta_t) >= l(theta_{t-1}) at every EM step, where l(theta) = sum_i log sum_k pi_k
    N(x_i | mu_k, Sigma_k) (seed 004, "EM Algorithm", Properties: "Monotonic: likelihood never
    decreases"; Dempster, Laird & Rubin 1977, Theorem 1). With the MAP ridge of (EM5), the
    penalised J = l - (a/2) sum_k tr Sigma_k^{-1} never decreases.

Setup:
    Each trial draws a data set of n = 200 points in d = 2 from a random mixture of 3 Gaussians
    (centres N(0, 9 I), covariances (I + 0.5 G)(I + 0.5 G)^T with G standard normal) and a random
    start (``reference.em_gmm.init_from_data``: 3 distinct data points as means, the data
    covariance for every Sigma_k), then runs T = 30 steps of ``ref.em_gmm()`` (a = 0), recording
    l(theta_0..theta_T) from the E-steps (``state.loglik``), and T steps of
    ``ref.em_gmm(reg_covar=1)`` recording J. Quick: 16 starts; full: 200. Seeds from
    ``SeedSequence`` (``_stats.trial_seeds``).

Measured:
    The worst decrease max_{runs, t} (l_{t-1} - l_t) against its rounding bound (a = 0), the same
    for J (a = 1), and, as a contrast that the runs do climb, the smallest total gain l_T - l_0.
    A start whose component collapses (Sigma_k singular or N_k = 0: maximum likelihood's known
    degeneracy, l -> +inf; about 1 start in 200) stops there; its earlier steps are still
    checked and the count is reported.

Tolerance:
    A float64 rounding bound, not slack. l is a sum over n points of a log-sum-exp over K terms,
    each a_ik a Cholesky quadratic form of d^2 products plus logs. With gamma_m = m u / (1 - m u)
    (Higham, ch. 3) each computed a_ik has error <= gamma_{d^2 + d + 4} (|a_ik| + 1) for the
    well-conditioned Sigma_k that occur here (condition numbers below 1e4, whose Cholesky error
    term adds at most d kappa u relative to the quadratic form), log-sum-exp adds gamma_{K + 2},
    and the sum over i adds gamma_n. So |fl(l) - l| <= gamma_{n + K + d^2 + d + 6} sum_i
    (max_k |a_ik| + 1) (1 + d kappa_max u), and a computed decrease of an exactly non-decreasing
    sequence is at most twice that. The bound is computed per step from the run's own a_ik.

References:
    Seed 004, "EM Algorithm" (Properties) and "Example: GMM"; Dempster, Laird & Rubin (1977),
    JRSS B 39, Theorem 1; Bishop (2006), section 9.4.

Sabotage:
    "broken-mstep": the M-step computes Sigma_k from the responsibilities of component k - 1 (an
        index slip); that is no longer a maximiser of Q, and the likelihood falls.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

import reference as ref
from reference.em_gmm import GMMState, e_step, init_from_data, log_densities, m_step

from ._base import CheckResult, Context, Row
from ._stats import fmt, trial_seeds

NAME = "em_monotone"
CLAIM = "EM: l(theta_t) >= l(theta_{t-1}) at every step (and J with the MAP ridge)"
SOURCE = "seed 004, 'EM Algorithm' (Monotonic) and 'Example: GMM'"
SABOTAGE: tuple[str, ...] = ("broken-mstep",)

N, D, K, T = 200, 2, 3, 30
A_RIDGE = 1.0
U = 2.0**-53


def _data(rng: np.random.Generator) -> np.ndarray:
    centres = rng.normal(0.0, 3.0, (K, D))
    labels = rng.integers(0, K, N)
    A = rng.normal(0.0, 0.5, (K, D, D)) + np.eye(D)
    return np.asarray(centres[labels] + np.einsum("nij,nj->ni", A[labels], rng.standard_normal((N, D))))


def _gamma(m: int) -> float:
    return m * U / (1.0 - m * U)


def _rounding(X: np.ndarray, s: GMMState, reg: float) -> float:
    """gamma_{n + K + d^2 + d + 6} sum_i (max_k |a_ik| + 1) (1 + d kappa_max u) at theta = s,
    plus gamma_{d^3 + K + 2} (1 + d kappa_max) times the ridge term (a/2) sum_k tr Sigma_k^{-1}."""
    with np.errstate(divide="ignore"):
        a = np.log(s.weights) + log_densities(X, s.params, s.covs)
    a = np.where(np.isfinite(a), a, 0.0)
    kappa = max(float(np.linalg.cond(c)) for c in s.covs)
    ll_part = _gamma(N + K + D * D + D + 6) * float(np.sum(np.max(np.abs(a), axis=1) + 1.0)) * (1 + D * kappa * U)
    ridge = 0.5 * reg * float(sum(np.trace(np.linalg.inv(c)) for c in s.covs))
    return ll_part + _gamma(D**3 + K + 2) * (1 + D * kappa) * ridge


def _step(s: GMMState, X: np.ndarray, reg: float, broken: bool) -> GMMState:
    if not broken:
        return ref.em_gmm(reg_covar=reg).step(s, X)
    resp, ll = e_step(X, s.weights, s.params, s.covs)
    weights, means, _ = m_step(X, resp, reg_covar=reg)
    _, _, covs = m_step(X, np.roll(resp, 1, axis=1), reg_covar=reg)  # the index slip
    return GMMState(params=means, weights=weights, covs=covs, loglik=ll, t=s.t + 1)


def _trial(args: tuple[np.random.SeedSequence, bool]) -> dict[str, Any]:
    seed, broken = args
    rng = np.random.default_rng(seed)
    X = _data(rng)
    start = init_from_data(X, K, rng)
    out: dict[str, Any] = {}
    for key, reg in (("ml", 0.0), ("map", A_RIDGE)):
        # T + 1 steps: step t + 1's E-step evaluates l(theta_t) (state.loglik, eq. EM2)
        s = start
        vals: list[float] = []
        bounds: list[float] = []
        collapsed = False
        for _ in range(T + 1):
            try:
                bound = _rounding(X, s, reg)
                ridge = 0.5 * reg * float(sum(np.trace(np.linalg.inv(c)) for c in s.covs))
                s = _step(s, X, reg, broken)
            except ValueError:
                # a component collapsed onto a few points (Sigma_k singular): maximum-likelihood
                # EM's known degeneracy, where l -> +inf (rare with a = 0: about 1 start in 200;
                # more often under sabotage). The run stops; the steps so far are still checked.
                collapsed = True
                break
            assert s.loglik is not None
            vals.append(s.loglik - ridge)
            bounds.append(bound)
        v, b = np.array(vals), np.array(bounds)
        out[key] = {"values": v.tolist(), "drops": (v[:-1] - v[1:]).tolist(),
                    "bounds": (b[:-1] + b[1:]).tolist(), "collapsed": collapsed}  # fmt: skip
    return out


def run(ctx: Context) -> CheckResult:
    if ctx.sabotage not in (None, *SABOTAGE):
        raise ValueError(f"{NAME}: sabotage must be one of {SABOTAGE}, got {ctx.sabotage!r}")
    t0 = time.perf_counter()
    k = 16 if ctx.tier == "quick" else 200
    broken = ctx.sabotage == "broken-mstep"
    res = ctx.map(_trial, [(s, broken) for s in trial_seeds(ctx, k)])
    rows: list[Row] = []
    for key, what in (("ml", "l (a = 0)"), ("map", f"J (a = {fmt(A_RIDGE)})")):
        excess = [max((d - b for d, b in zip(r[key]["drops"], r[key]["bounds"])), default=-np.inf) for r in res]
        if not np.isfinite(max(excess)):
            raise ValueError(f"{NAME}: every run collapsed before its second step")
        worst_i = int(np.argmax(excess))
        drops = res[worst_i][key]["drops"]
        j = int(np.argmax(np.array(drops) - np.array(res[worst_i][key]["bounds"])))
        worst_drop, its_bound = drops[j], res[worst_i][key]["bounds"][j]
        n_bad = sum(e > 0 for e in excess)
        n_col = sum(bool(r[key]["collapsed"]) for r in res)
        rows.append(Row(
            quantity=f"worst one-step decrease of {what} over {k} starts x {T} steps",
            predicted="<= 0 (never decreases)",
            measured=f"{fmt(worst_drop)} (run {worst_i}, step {j + 1}; {n_bad} runs over their bound; "
                     f"{n_col} runs stopped early by a collapsed component)",
            tolerance=f"<= 2 gamma rounding bound of that step = {fmt(its_bound)}",
            holds=n_bad == 0,
        ))  # fmt: skip
    gains = [r["ml"]["values"][-1] - r["ml"]["values"][0] for r in res]
    rows.append(Row(
        quantity=f"contrast: smallest total gain l_T - l_0 over {k} starts",
        predicted="> 0 (EM climbs from a random start)",
        measured=fmt(min(gains)),
        tolerance="> 0",
        holds=min(gains) > 0,
    ))  # fmt: skip
    figure: dict[str, Any] = {
        "ml": [r["ml"]["values"] for r in res],
        "ml_drops": [r["ml"]["drops"] for r in res],
        "ml_bounds": [r["ml"]["bounds"] for r in res],
        "collapsed": sum(bool(r["ml"]["collapsed"] or r["map"]["collapsed"]) for r in res),
    }
    return CheckResult(
        name=NAME, claim=CLAIM, source=SOURCE, rows=tuple(rows),
        justification="float64 rounding bound 2 gamma_{n+K+d^2+d+6} sum_i (max_k |a_ik| + 1) of two evaluations of l",
        figure=figure, seconds=time.perf_counter() - t0,
    )  # fmt: skip


def plot(result: CheckResult, path: str) -> None:
    from ._plot import save, subplots

    fig, (ax1, ax2) = subplots(1, 2)
    for v in result.figure["ml"]:
        v = np.asarray(v)
        ax1.plot(np.arange(v.size), v - v[-1], color="C0", alpha=0.3)
    ax1.set_yscale("symlog", linthresh=1e-6)
    ax1.set_xlabel("EM step t")
    ax1.set_ylabel("l(theta_t) - l(theta_T)")
    for d, b in zip(result.figure["ml_drops"], result.figure["ml_bounds"]):
        ax2.plot(np.arange(1, len(d) + 1), np.asarray(d) / np.asarray(b), ".", color="C0", alpha=0.4)
    ax2.axhline(1.0, color="k", ls="--", label="rounding bound")
    ax2.set_yscale("symlog", linthresh=1e-3)
    ax2.set_xlabel("EM step t")
    ax2.set_ylabel("(l_{t-1} - l_t) / bound")
    ax2.legend()
    save(fig, path, result.claim)

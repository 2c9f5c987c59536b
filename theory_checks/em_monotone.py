r"""EM never decreases the likelihood (Gaussian mixtures, many random starts), and its fixed point
recovers the mixing weights.

Claim:
    l(theta_t) >= l(theta_{t-1}) at every EM step, where l(theta) = sum_i log sum_k pi_k
    N(x_i | mu_k, Sigma_k) (seed 004, "EM Algorithm", Properties: "Monotonic: likelihood never
    decreases"; Dempster, Laird & Rubin 1977, Theorem 1). With the MAP ridge of (EM5), the
    penalised J = l - (a/2) sum_k tr Sigma_k^{-1} never decreases. EM converges to a maximum of
    the likelihood, so on data drawn from a mixture it recovers the mixing weights (the MLE is
    consistent: pi_hat - pi = O(n^-1/2)).

Setup:
    (i) Each start draws n = 200 points in d = 2 from a random mixture of 3 Gaussians (centres
    N(0, 9 I), covariances (I + 0.5 G)(I + 0.5 G)^T, G standard normal) and a random start
    (``reference.em_gmm.init_from_data``), then runs T = 20 steps of ``ref.em_gmm()`` (a = 0) and
    T of ``ref.em_gmm(reg_covar=1)``. Quick: 6 starts; full: 60.
    (ii) Each replicate draws n = 1000 points from the 2-component mixture pi = (0.9, 0.1), means
    (0, 0) and (5, 0), covariance I (overlapping: 0.6 % of the points are closer to the other
    centre, enough for a prior-blind E-step to misassign), and runs ``ref.em_gmm()`` from the true
    means, pi = (1/2, 1/2), Sigma = I, until no parameter moves by more than 1e-10 (at most 500
    steps). Quick: 8 replicates; full: 32.
    Seeds from ``SeedSequence`` (``_stats.trial_seeds``, streams 0 and 1).

Measured:
    By the check, from the iterates theta_t = (pi, mu, Sigma): l(theta_t) = sum_i logsumexp_k
    (log pi_k + ``scipy.stats.multivariate_normal.logpdf``(x_i; mu_k, Sigma_k)) and J (tr Sigma^-1
    from scipy's whitening matrix), never EM's own ``state.loglik``. (i) The worst one-step
    decrease of l (a = 0) and of J (a = 1) over all starts and steps against its rounding bound
    (a start whose component collapses, Sigma_k singular or N_k = 0, maximum likelihood's known
    degeneracy, stops there; its earlier steps are still checked, and the count is shown).
    (ii) The fitted weight of the minor component, pi_hat_2, against 0.1: Student-t interval over
    the replicates (stat row). Reported: the smallest total gain l_T - l_0.

Tolerance:
    (i) A derived float64 bound on the error of the check's evaluation of l, first order in u =
    2^-53, gamma_m = m u / (1 - m u) (Higham ch. 3). scipy evaluates log N(x | mu, Sigma) =
    -(d log 2 pi + log_pdet + q) / 2 with the check's eigendecomposition (s, V) of Sigma given as
    ``scipy.stats.Covariance.from_eigendecomposition``: W = V diag(s^-1/2) (read back with the
    public ``whiten``), q = ||(x - mu)^T W||^2, log_pdet = sum log s. With P = W W^T, the
    a-posteriori certificate delta = ||Sigma P - I||_F >= ||.||_2 (computed, plus its own rounding
    gamma_{2d} || |Sigma| |W| |W|^T ||_F) gives |q(P) - q| <=
    delta sqrt(kappa) q (kappa = cond Sigma); forming x - mu and the products adds <= (2 u
    sqrt(kappa) + gamma_d (2 sqrt(d kappa) + 1)) q; and |log_pdet - log det Sigma| <= d (sqrt(kappa)
    delta + o + 2 gamma_3) + gamma_d sum |log s_j|, o = ||V^T V - I||_F (+ gamma_d d). Adding the
    terms costs gamma_5 of their absolute values. scipy's logsumexp adds gamma_{3K} + u (|lse_i| +
    log K) to the largest term error, and the sum over i gamma_n sum |lse_i|. The ridge term
    tr Sigma^-1 = tr P errs by <= d delta / lambda_min + gamma_{d^2} tr P. A computed decrease of an
    exactly non-decreasing sequence is at most the sum of the two evaluations' bounds.
    (ii) pi_hat_2 is the MLE's weight (EM run to its fixed point from the truth, where the
    likelihood has its consistent maximum); over independent replicates its mean is 0.1 up to the
    MLE's O(1/n) bias (about 1e-4, below a fiftieth of the interval's half-width at either tier), and
    with n pi_2 = 100 points per replicate it is close to normal, so the Student-t interval at the
    suite's LEVEL has its coverage.

References:
    Seed 004, "EM Algorithm" (Properties) and "Example: GMM"; Dempster, Laird & Rubin (1977),
    JRSS B 39, Theorem 1; Bishop (2006), section 9.4; Redner & Walker (1984), SIAM Review 26
    (consistency of the mixture MLE); Higham (2002), Accuracy and Stability of Numerical
    Algorithms, ch. 3.

Sabotage:
    "wrong-prediction": predicts the minor weight 1/K = 0.5 (the uniform start) instead of 0.1.
    "broken-mstep": a bug planted in the M-step: Sigma_k from the responsibilities of component
        k - 1 (an index slip); no longer a maximiser of Q, and the likelihood falls.
    "estep-drops-log-pi": a bug planted in the E-step: the responsibilities omit log pi_k (as if
        pi were uniform); EM then fits 90/10 data with a far too heavy minor component.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.special import logsumexp
from scipy.stats import Covariance, multivariate_normal

import reference as ref
from reference.em_gmm import GMMState, e_step, init_from_data, m_step

from ._base import CheckResult, Context, Outcome, Row, report_row
from ._stats import bound_row, fmt, interval_row, t_interval, trial_seeds

NAME = "em_monotone"
CLAIM = "EM: l(theta_t) >= l(theta_{t-1}) at every step (and J with the MAP ridge); it recovers the mixing weights"
SOURCE = "seed 004, 'EM Algorithm' (Monotonic) and 'Example: GMM'"
SABOTAGE: tuple[str, ...] = ("wrong-prediction", "broken-mstep", "estep-drops-log-pi")
JUSTIFICATION = ("derived float64 bound of the check's own scipy evaluation of l (eigen-certificate, log-sum-exp, sum), "
                 "twice per step; Student-t interval of the fitted weight over independent replicates")  # fmt: skip
STAT_ROWS = 1

N, D, K, T = 200, 2, 3, 20
A_RIDGE = 1.0
N_W, PI_W, SEP_W, TOL_W, MAX_W = 1000, (0.9, 0.1), 5.0, 1e-10, 500
U = 2.0**-53
Vec = NDArray[np.float64]


def _gamma(m: int) -> float:
    return m * U / (1.0 - m * U)


def loglik(X: Vec, s: GMMState, reg: float) -> tuple[float, float]:
    """(J, bound): J = l - (reg/2) sum_k tr Sigma_k^-1 evaluated with scipy.stats densities, and
    the derived bound on its rounding error (the Tolerance section)."""
    n, d = X.shape
    a = np.empty((n, s.weights.size))
    err = np.empty_like(a)
    ridge = ridge_err = 0.0
    for k, (w, mu, cov) in enumerate(zip(s.weights, s.params, s.covs)):
        ev, V = np.linalg.eigh(cov)
        if not ev.min() > 0.0:
            raise ValueError(f"Sigma_{k} is not positive definite")
        cov_obj = Covariance.from_eigendecomposition((ev, V))
        W = cov_obj.whiten(np.eye(d))  # the whitening scipy applies: x @ W
        log_pdet = float(cov_obj.log_pdet)
        kappa = float(ev.max() / ev.min())
        delta = float(np.linalg.norm(cov @ (W @ W.T) - np.eye(d))) + _gamma(2 * d) * float(np.linalg.norm(np.abs(cov) @ np.abs(W) @ np.abs(W).T))
        o = float(np.linalg.norm(V.T @ V - np.eye(d))) + _gamma(d) * d
        logpdf = multivariate_normal.logpdf(X, mu, cov_obj)
        q = np.maximum(-2.0 * logpdf - d * math.log(2 * math.pi) - log_pdet, 0.0)
        c_q = delta * math.sqrt(kappa) + 2 * U * math.sqrt(kappa) + _gamma(d) * (2 * math.sqrt(d * kappa) + 1)
        c_det = d * (math.sqrt(kappa) * delta + o + 2 * _gamma(3)) + _gamma(d) * float(np.sum(np.abs(np.log(ev))))
        with np.errstate(divide="ignore"):
            log_w = math.log(w) if w > 0 else -math.inf
        a[:, k] = log_w + logpdf
        terms = 0.5 * (d * math.log(2 * math.pi) + abs(log_pdet) + q) + (abs(log_w) if w > 0 else 0.0)
        err[:, k] = 0.5 * q * c_q + 0.5 * c_det + _gamma(5) * terms
        tr = float(np.sum(W * W))
        ridge += tr
        ridge_err += d * delta / float(ev.min()) + _gamma(d * d) * tr
    lse = logsumexp(a, axis=1)
    kk = a.shape[1]
    finite = np.isfinite(a)
    lse_err = np.max(np.where(finite, err, 0.0), axis=1) + _gamma(3 * kk) + U * (np.abs(lse) + math.log(kk))
    value = float(np.sum(lse)) - 0.5 * reg * ridge
    bound = float(np.sum(lse_err)) + _gamma(n) * float(np.sum(np.abs(lse))) + 0.5 * reg * ridge_err
    return value, bound


def _step(s: GMMState, X: Vec, reg: float, sabotage: str | None) -> GMMState:
    if sabotage not in ("broken-mstep", "estep-drops-log-pi"):
        return ref.em_gmm(reg_covar=reg).step(s, X)
    weights_e = np.full_like(s.weights, 1.0 / s.weights.size) if sabotage == "estep-drops-log-pi" else s.weights
    resp, ll = e_step(X, weights_e, s.params, s.covs)
    weights, means, covs = m_step(X, resp, reg_covar=reg)
    if sabotage == "broken-mstep":
        _, _, covs = m_step(X, np.roll(resp, 1, axis=1), reg_covar=reg)  # the index slip
    return GMMState(params=means, weights=weights, covs=covs, loglik=ll, t=s.t + 1)


@dataclass(frozen=True)
class Run:
    """One EM run's objective values (the check's evaluation) and their rounding bounds."""

    values: tuple[float, ...]
    bounds: tuple[float, ...]
    collapsed: bool

    @property
    def excess(self) -> tuple[float, int]:
        """max_t (l_{t-1} - l_t - bound_{t-1} - bound_t) and its step (-inf if < 2 values)."""
        v, b = np.array(self.values), np.array(self.bounds)
        if v.size < 2:
            return -math.inf, 0
        e = (v[:-1] - v[1:]) - (b[:-1] + b[1:])
        j = int(np.argmax(e))
        return float(e[j]), j + 1


@dataclass(frozen=True)
class StartTrial:
    ml: Run
    map: Run


def _data(rng: np.random.Generator) -> Vec:
    centres = rng.normal(0.0, 3.0, (K, D))
    labels = rng.integers(0, K, N)
    A = rng.normal(0.0, 0.5, (K, D, D)) + np.eye(D)
    return np.asarray(centres[labels] + np.einsum("nij,nj->ni", A[labels], rng.standard_normal((N, D))))


def _run(X: Vec, start: GMMState, reg: float, sabotage: str | None) -> Run:
    s, vals, bounds, collapsed = start, [], [], False
    for t in range(T + 1):
        v, b = loglik(X, s, reg)
        vals.append(v)
        bounds.append(b)
        if t == T:
            break
        try:
            s = _step(s, X, reg, sabotage)
        except ValueError:  # a component collapsed (Sigma_k singular or N_k = 0): stop here
            collapsed = True
            break
    return Run(tuple(vals), tuple(bounds), collapsed)


def _start_trial(args: tuple[np.random.SeedSequence, str | None]) -> StartTrial:
    seed, sabotage = args
    rng = np.random.default_rng(seed)
    X = _data(rng)
    start = init_from_data(X, K, rng)
    return StartTrial(ml=_run(X, start, 0.0, sabotage), map=_run(X, start, A_RIDGE, sabotage))


def _weight_trial(args: tuple[np.random.SeedSequence, str | None]) -> float:
    """pi_hat of the minor component after EM to its fixed point on fresh 90/10 data."""
    seed, sabotage = args
    rng = np.random.default_rng(seed)
    means = np.array([[0.0, 0.0], [SEP_W, 0.0]])
    labels = (rng.random(N_W) < PI_W[1]).astype(int)
    X = means[labels] + rng.standard_normal((N_W, 2))
    s = ref.em_gmm().init(means)
    for _ in range(MAX_W):
        new = _step(s, X, 0.0, sabotage)
        moved = max(float(np.max(np.abs(new.weights - s.weights))), float(np.max(np.abs(new.params - s.params))),
                    float(np.max(np.abs(new.covs - s.covs))))  # fmt: skip
        s = new
        if moved <= TOL_W:
            break
    minor = int(np.argmin(np.linalg.norm(s.params - means[1], axis=1)))
    return float(s.weights[minor])


def row_monotone(trials: list[StartTrial], which: str) -> Row:
    runs = [t.ml if which == "ml" else t.map for t in trials]
    ex = [r.excess for r in runs]
    worst = int(np.argmax([e for e, _ in ex]))
    r, (e, j) = runs[worst], ex[worst]
    what = "l (a = 0)" if which == "ml" else f"J (a = {fmt(A_RIDGE)})"
    drop = r.values[j - 1] - r.values[j] if j > 0 else -math.inf
    bound = r.bounds[j - 1] + r.bounds[j] if j > 0 else 0.0
    n_col = sum(x.collapsed for x in runs)
    return bound_row(
        f"worst one-step decrease of {what} (scipy densities) over {len(runs)} starts x {T} steps "
        f"(run {worst}, step {j}; {n_col} runs stopped early by a collapsed component)",
        "<= 0 (never decreases)", drop, bound, why="rounding bound of the two evaluations at that step",
    )  # fmt: skip


def row_weights(pis: list[float], sabotage: str | None) -> Row:
    predicted = 1.0 / len(PI_W) if sabotage == "wrong-prediction" else PI_W[1]
    return interval_row(f"fitted minor weight pi_hat_2 on 90/10 data (n = {N_W})", predicted, t_interval(pis),
                        what="replicates")  # fmt: skip


def row_gain(trials: list[StartTrial]) -> Row:
    gains = [t.ml.values[-1] - t.ml.values[0] for t in trials if not t.ml.collapsed]
    return report_row("smallest total gain l_T - l_0 (EM climbs from a random start)", fmt(min(gains, default=math.nan)))


def run(ctx: Context) -> Outcome:
    k, r = (6, 8) if ctx.tier == "quick" else (60, 32)
    starts: list[StartTrial] = ctx.map(_start_trial, [(s, ctx.sabotage) for s in trial_seeds(ctx, k, stream=0)])
    pis: list[float] = ctx.map(_weight_trial, [(s, ctx.sabotage) for s in trial_seeds(ctx, r, stream=1)])
    rows = (row_monotone(starts, "ml"), row_monotone(starts, "map"), row_weights(pis, ctx.sabotage), row_gain(starts))
    figure = {
        "ml": [list(t.ml.values) for t in starts],
        "ml_drops": [list(-np.diff(t.ml.values)) for t in starts],
        "ml_bounds": [list(np.add(t.ml.bounds[:-1], t.ml.bounds[1:])) for t in starts],
        "pis": pis,
    }
    return Outcome(rows=rows, figure=figure)


def plot(result: CheckResult, path: str) -> None:
    from ._plot import save, subplots

    fig, (ax1, ax2, ax3) = subplots(3)
    for v in result.figure["ml"]:
        v = np.asarray(v)
        ax1.plot(np.arange(v.size), v - v[-1], color="C0", alpha=0.3)
    ax1.set_yscale("symlog", linthresh=1e-6)
    ax1.set_xlabel("EM step t")
    ax1.set_ylabel("l(theta_t) - l(theta_T)")
    for dr, b in zip(result.figure["ml_drops"], result.figure["ml_bounds"]):
        ax2.plot(np.arange(1, len(dr) + 1), np.asarray(dr) / np.asarray(b), ".", color="C0", alpha=0.4)
    ax2.axhline(1.0, color="k", ls="--", label="rounding bound")
    ax2.set_yscale("symlog", linthresh=1e-3)
    ax2.set_xlabel("EM step t")
    ax2.set_ylabel("(l_{t-1} - l_t) / bound")
    ax2.legend()
    ax3.hist(result.figure["pis"], bins=10, color="C1")
    ax3.axvline(PI_W[1], color="k", ls="--", label="true pi_2")
    ax3.set_xlabel("fitted minor weight")
    ax3.legend()
    save(fig, path, result.claim)

r"""EM never decreases the likelihood (Gaussian mixtures, many random starts), and its fixed point
recovers the mixing weights.

Claim:
    l(theta_t) >= l(theta_{t-1}) at every EM step, where l(theta) = sum_i log sum_k pi_k
    N(x_i | mu_k, Sigma_k) (note 004, "EM Algorithm", Properties: "Monotonic: likelihood never
    decreases"; Dempster, Laird & Rubin 1977, Theorem 1). With the MAP ridge of (EM5), the
    penalised J = l - (a/2) sum_k tr Sigma_k^{-1} never decreases. EM converges to a maximum of
    the likelihood ("converges to a local optimum"): its limit is a stationary point of l, and on
    data drawn from a mixture it recovers the mixing weights (the MLE is consistent: pi_hat - pi =
    O(n^-1/2)).

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
    the replicates (stat row). (iii) At the last iterate theta_T of each 90/10 replicate, the
    gradient of l with respect to the means and covariances, by autograd of a log-likelihood
    written in the check (d = 2 closed form), against the bound below. Reported: the smallest total
    gain l_T - l_0.

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
    suite's LEVEL has its coverage (checked: 800 replicates gave mean 0.1004 +- 0.0003, skewness
    0.11, and t-tests on groups of 8 had uniform p-values, KS p = 0.72).
    (iii) Xu & Jordan (1996), Theorem 1: one EM step from theta is theta' - theta = P(theta) grad
    l(theta) with, for the means, grad_mu_k l = N_k Sigma_k^-1 (mu_k' - mu_k) exactly, and for the
    covariances grad_Sigma_k l = (N_k / 2) Sigma_k^-1 (Sigma_k' - Sigma_k + d_mu d_mu^T) Sigma_k^-1
    (N_k = n pi_k'). So at the last iterate ||grad_mu_k l|| <= N_k ||Sigma_k^-1|| (||mu_k' - mu_k||
    + rho_mu) and ||grad_Sigma_k l|| <= (N_k / 2) ||Sigma_k^-1||^2 (||Sigma_k' - Sigma_k|| + rho_Sigma
    + ||d_mu||^2), where rho_mu = gamma_{n+2} || sum_i r_ik |x_i| || / N_k and rho_Sigma = gamma_{n+4}
    || sum_i r_ik |x_i - mu_k'| |x_i - mu_k'|^T || / N_k + 2 max_i ||x_i - mu_k'|| rho_mu bound the
    rounding of the computed M-step sums, plus the rounding of autograd's gradient, a sum over n
    points of per-point terms each computed in at most 40 operations (determinant, quadratic form,
    logs, log-sum-exp over K = 2, and the reverse pass mirroring them): gamma_{n+40} (1 + cond
    Sigma_k) sum_i of the absolute per-point terms. A correct EM makes the main terms equal up to
    ||Sigma^-1 v|| <= ||Sigma^-1|| ||v||; an M-step whose fixed point is not a stationary point of l
    (a covariance scaled by N_k / (N_k - 1), a mean off by 2 %) leaves a gradient of order N_k
    times its error while the steps have stopped.

References:
    Note 004, "EM Algorithm" (Properties) and "Example: GMM"; Dempster, Laird & Rubin (1977),
    JRSS B 39, Theorem 1; Bishop (2006), section 9.4; Redner & Walker (1984), SIAM Review 26
    (consistency of the mixture MLE); Xu & Jordan (1996), On convergence properties of the EM
    algorithm for Gaussian mixtures, Neural Computation 8; Higham (2002), Accuracy and Stability
    of Numerical Algorithms, ch. 3.

Sabotage:
    "wrong-prediction": predicts the minor weight 1/K = 0.5 (the uniform start) instead of 0.1.
    "broken-mstep": a bug planted in the M-step: Sigma_k from the responsibilities of component
        k - 1 (an index slip); no longer a maximiser of Q, and the likelihood falls.
    "estep-drops-log-pi": a bug planted in the E-step: the responsibilities omit log pi_k (as if
        pi were uniform); EM then fits 90/10 data with a far too heavy minor component.
    Bugs planted in scratch copies of reference/latent_variable/em_gmm.py and caught at quick seed 0: the E-step
    without log pi_k (rows i, ii, iii), the M-step without the ridge a I (row J), weights never
    updated (ii), covariances divided by N_k - 1 (iii), covariances scaled by 1.02 (iii), means
    scaled by 0.98 in the covariance (i, iii). Not caught: weights N_k / (n + 1) (a 1e-3 relative
    bias, below the weight interval's resolution, and l's weight gradient is not checked).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import autograd
import autograd.numpy as anp
import numpy as np
from autograd.tracer import getval
from numpy.typing import NDArray
from scipy.special import logsumexp
from scipy.stats import Covariance, multivariate_normal

import reference as ref
from reference.latent_variable.em_gmm import GMMState, e_step, init_from_data, m_step

from ._base import CheckResult, Context, Outcome, Row, report_row
from ._stats import bound_row, fmt, interval_row, t_interval, trial_seeds

NAME = "em_monotone"
CLAIM = "EM: l(theta_t) >= l(theta_{t-1}) at every step (and J with the MAP ridge); its limit is stationary and recovers the weights"
SOURCE = "note 004, 'EM Algorithm' (Monotonic) and 'Example: GMM'"
SABOTAGE: tuple[str, ...] = ("wrong-prediction", "broken-mstep", "estep-drops-log-pi")
JUSTIFICATION = (
    "derived float64 bound of the check's own scipy evaluation of l (eigen-certificate, log-sum-exp, sum), "
    "twice per step; Student-t interval of the fitted weight over independent replicates; "
    "stationarity by the Xu-Jordan identity with the last step's length and rounding"
)
STAT_ROWS = 1

N, D, K, T = 200, 2, 3, 20
A_RIDGE = 1.0
N_W, PI_W, SEP_W, TOL_W, MAX_W = 1000, (0.9, 0.1), 5.0, 1e-10, 500
U = 2.0**-53
ROUND_OPS = 40  # operations per point on any path of autograd's gradient of l (counted in Tolerance)
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
        if not (ev.min() > 0.0 and w > 0.0):
            raise ValueError(f"component {k} collapsed (Sigma_k not positive definite or pi_k = 0)")
        cov_obj = Covariance.from_eigendecomposition((ev, V))
        W = cov_obj.whiten(np.eye(d))  # the whitening scipy applies: x @ W
        log_pdet = float(cov_obj.log_pdet)
        kappa = float(ev.max() / ev.min())
        delta = float(np.linalg.norm(cov @ (W @ W.T) - np.eye(d))) + _gamma(2 * d) * float(
            np.linalg.norm(np.abs(cov) @ np.abs(W) @ np.abs(W).T)
        )
        o = float(np.linalg.norm(V.T @ V - np.eye(d))) + _gamma(d) * d
        logpdf = multivariate_normal.logpdf(X, mu, cov_obj)
        q = np.maximum(-2.0 * logpdf - d * math.log(2 * math.pi) - log_pdet, 0.0)
        c_q = delta * math.sqrt(kappa) + 2 * U * math.sqrt(kappa) + _gamma(d) * (2 * math.sqrt(d * kappa) + 1)
        c_det = d * (math.sqrt(kappa) * delta + o + 2 * _gamma(3)) + _gamma(d) * float(
            np.sum(np.abs(np.log(ev)))
        )
        log_w = math.log(w)
        a[:, k] = log_w + logpdf
        terms = 0.5 * (d * math.log(2 * math.pi) + abs(log_pdet) + q) + abs(log_w)
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
    weights_e = (
        np.full_like(s.weights, 1.0 / s.weights.size) if sabotage == "estep-drops-log-pi" else s.weights
    )
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
        try:
            v, b = loglik(X, s, reg)
            vals.append(v)
            bounds.append(b)
            if t == T:
                break
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


@dataclass(frozen=True)
class WeightTrial:
    """One 90/10 replicate at EM's fixed point: the minor weight and the stationarity of l."""

    pi_minor: float
    grad_ratio: float  # max over components of ||grad l(theta_T)|| / bound (means and covariances)
    grad: float  # at that component
    bound: float


def _loglik_ad(X: Vec, weights: Vec) -> Callable[[Any, Any], Any]:
    """l(mu, Sigma) = sum_i logsumexp_k (log pi_k + log N(x_i | mu_k, Sigma_k)) in autograd.numpy,
    written here (d = 2: closed-form inverse and determinant), for its gradient."""

    def ll(means: Any, covs: Any) -> Any:
        cols = []
        for k in range(weights.size):
            a, b, c = covs[k, 0, 0], 0.5 * (covs[k, 0, 1] + covs[k, 1, 0]), covs[k, 1, 1]
            det = a * c - b * b
            u, v = X[:, 0] - means[k, 0], X[:, 1] - means[k, 1]
            q = (c * u * u - 2.0 * b * u * v + a * v * v) / det
            cols.append(math.log(weights[k]) - 0.5 * (2.0 * math.log(2.0 * math.pi) + anp.log(det) + q))
        a = anp.stack(cols, axis=1)
        m = np.max(getval(a), axis=1, keepdims=True)  # the log-sum-exp shift (a constant)
        return anp.sum(anp.log(anp.sum(anp.exp(a - m), axis=1)) + m[:, 0])

    return ll


def _stationarity(X: Vec, s: GMMState, new: GMMState) -> tuple[float, float, float]:
    """(max ratio, gradient, bound): ||grad l(theta_T)|| of the check's l against the Xu-Jordan
    identity grad_mu_k l = N_k Sigma_k^-1 (mu_k' - mu_k), grad_Sigma_k l = (N_k / 2) Sigma_k^-1
    (Sigma_k' - Sigma_k) Sigma_k^-1 (theta' = one EM step from theta_T; see Tolerance)."""
    n, d = X.shape
    ll = _loglik_ad(X, s.weights)
    gm, gc = autograd.grad(lambda mc: ll(mc[0], mc[1]))((s.params, s.covs))
    a = np.log(s.weights) + np.stack(
        [multivariate_normal.logpdf(X, m, c) for m, c in zip(s.params, s.covs)], axis=1
    )
    resp = np.exp(a - logsumexp(a, axis=1, keepdims=True))
    worst = (-1.0, 0.0, 0.0)
    for k in range(s.weights.size):
        nk = n * float(new.weights[k])
        inv = np.linalg.inv(s.covs[k])
        ninv = float(np.linalg.norm(inv, 2))
        dev = X - s.params[k]
        r = resp[:, k]
        rho_mu = _gamma(n + 2) * float(np.linalg.norm(r @ np.abs(X))) / nk
        dev_abs = np.abs(X - new.params[k])
        rho_cov = (
            _gamma(n + 4) * float(np.linalg.norm((r[:, None] * dev_abs).T @ dev_abs)) / nk
            + 2.0 * float(np.max(np.linalg.norm(dev_abs, axis=1))) * rho_mu
        )
        z = dev @ inv
        gsum_mu = float(np.linalg.norm(r @ np.abs(z)))
        gsum_cov = 0.5 * float(np.sum(r * (np.sum(z * z, axis=1) + ninv * d)))
        m_rounding = _gamma(n + ROUND_OPS) * (1.0 + float(np.linalg.cond(s.covs[k])))
        b_mu = (
            nk * ninv * (float(np.linalg.norm(new.params[k] - s.params[k])) + rho_mu) + m_rounding * gsum_mu
        )
        dmu = float(np.linalg.norm(new.params[k] - s.params[k]))
        b_cov = (
            0.5 * nk * ninv**2 * (float(np.linalg.norm(new.covs[k] - s.covs[k])) + rho_cov + dmu * dmu)
            + m_rounding * gsum_cov
        )
        for g, b in ((float(np.linalg.norm(gm[k])), b_mu), (float(np.linalg.norm(gc[k])), b_cov)):
            worst = max(worst, (g / b, g, b))
    return worst


def _weight_trial(args: tuple[np.random.SeedSequence, str | None]) -> WeightTrial:
    """EM to its fixed point on fresh 90/10 data: the minor weight and the stationarity row."""
    seed, sabotage = args
    rng = np.random.default_rng(seed)
    means = np.array([[0.0, 0.0], [SEP_W, 0.0]])
    labels = (rng.random(N_W) < PI_W[1]).astype(int)
    X = means[labels] + rng.standard_normal((N_W, 2))
    s = ref.em_gmm().init(means)
    new = s
    for _ in range(MAX_W):
        new = _step(s, X, 0.0, sabotage)
        moved = max(
            float(np.max(np.abs(new.weights - s.weights))),
            float(np.max(np.abs(new.params - s.params))),
            float(np.max(np.abs(new.covs - s.covs))),
        )
        if moved <= TOL_W:
            break
        s = new
    minor = int(np.argmin(np.linalg.norm(new.params - means[1], axis=1)))
    ratio, g, b = _stationarity(X, s, new)
    return WeightTrial(pi_minor=float(new.weights[minor]), grad_ratio=ratio, grad=g, bound=b)


def row_monotone(trials: list[StartTrial], which: str) -> Row:
    runs = [t.ml if which == "ml" else t.map for t in trials]
    ex = [r.excess for r in runs]
    worst = int(np.argmax([e for e, _ in ex]))
    r, (_e, j) = runs[worst], ex[worst]
    what = "l (a = 0)" if which == "ml" else f"J (a = {fmt(A_RIDGE)})"
    drop = r.values[j - 1] - r.values[j] if j > 0 else -math.inf
    bound = r.bounds[j - 1] + r.bounds[j] if j > 0 else 0.0
    n_col = sum(x.collapsed for x in runs)
    return bound_row(
        f"worst one-step decrease of {what} (scipy densities) over {len(runs)} starts x {T} steps "
        f"(run {worst}, step {j}; {n_col} runs stopped early by a collapsed component)",
        "<= 0 (never decreases)",
        drop,
        bound,
        why="rounding bound of the two evaluations at that step",
    )


def row_weights(pis: list[float], sabotage: str | None) -> Row:
    predicted = 1.0 / len(PI_W) if sabotage == "wrong-prediction" else PI_W[1]
    return interval_row(
        f"fitted minor weight pi_hat_2 on 90/10 data (n = {N_W})",
        predicted,
        t_interval(pis),
        what="replicates",
    )


def row_stationary(wts: list[WeightTrial]) -> Row:
    w = max(wts, key=lambda w: w.grad_ratio)
    return Row(
        quantity=f"EM's limit is a stationary point of l: ||grad_mu,Sigma l|| (autograd of the check's l) / bound, worst of {len(wts)}",
        predicted="<= 1 (grad l = P^-1 (M(theta) - theta), Xu & Jordan)",
        measured=f"{fmt(w.grad_ratio)} (||grad|| {fmt(w.grad)})",
        tolerance=f"bound {fmt(w.bound)}: last step's length and rounding",
        holds=bool(w.grad_ratio <= 1.0),
    )


def row_gain(trials: list[StartTrial]) -> Row:
    gains = [t.ml.values[-1] - t.ml.values[0] for t in trials if not t.ml.collapsed]
    return report_row(
        "smallest total gain l_T - l_0 (EM climbs from a random start)", fmt(min(gains, default=math.nan))
    )


def run(ctx: Context) -> Outcome:
    k, r = (6, 8) if ctx.tier == "quick" else (60, 32)
    starts: list[StartTrial] = ctx.map(
        _start_trial, [(s, ctx.sabotage) for s in trial_seeds(ctx, k, stream=0)]
    )
    wts: list[WeightTrial] = ctx.map(
        _weight_trial, [(s, ctx.sabotage) for s in trial_seeds(ctx, r, stream=1)]
    )
    pis = [w.pi_minor for w in wts]
    rows = (
        row_monotone(starts, "ml"),
        row_monotone(starts, "map"),
        row_weights(pis, ctx.sabotage),
        row_stationary(wts),
        row_gain(starts),
    )
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

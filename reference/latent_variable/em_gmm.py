r"""EM for a Gaussian mixture (Dempster, Laird & Rubin 1977). Spec: specs/em_gmm.md, eqs.
(EM1)-(EM5).

Input of each step: the data X, an (n, d) array (the same array every step). The model is
p(x | theta) = sum_k pi_k N(x | mu_k, Sigma_k), k = 1..K; theta = (pi, mu, Sigma). One step,
for t = 1, 2, ..., from theta_{t-1}:

    E-step (stable, by log-sum-exp over k):
    a_ik   = log pi_k + log N(x_i | mu_k, Sigma_k)                                   (Cholesky)
    log r_ik = a_ik - logsumexp_j a_ij                                              (EM1)
    l(theta_{t-1}) = sum_i logsumexp_j a_ij           the log-likelihood, a by-product (EM2)
    M-step:
    N_k    = sum_i r_ik,   pi_k = N_k / n                                           (EM3)
    mu_k   = (1 / N_k) sum_i r_ik x_i                                               (EM4)
    Sigma_k = (1 / N_k) (sum_i r_ik (x_i - mu_k)(x_i - mu_k)^T + a I)               (EM5)

With a = ``reg_covar`` = 0 this is the maximum-likelihood EM of note 004 ("E-step: compute
responsibilities; M-step: update means, covariances and mixing proportions"), and the
log-likelihood never decreases: l(theta_t) >= l(theta_{t-1}). The ridge a I / N_k of (EM5) is the
exact M-step of the penalised objective

    J(theta) = l(theta) - (a / 2) sum_k tr(Sigma_k^{-1})            (a MAP prior on each Sigma_k)

so with a > 0 the monotone quantity is J (``objective``), not l; the ridge keeps Sigma_k
positive definite when a component sits on few points. (sklearn's constant ridge Sigma_k + eps I
is not the M-step of any fixed objective and carries no such guarantee; see the spec.)

Conventions:
    * ``state.params`` is the (K, d) array of means mu_k; ``weights`` (K,) and ``covs`` (K, d, d)
      complete theta. ``init(means)`` starts from pi_k = 1/K, Sigma_k = cov0 I;
      ``init_from_data(X, K, rng)`` picks K distinct data points as means and the data covariance
      for every Sigma_k.
    * ``state.loglik`` is l(theta_{t-1}), the log-likelihood of the parameters the last E-step
      used (EM2 comes free with EM1); ``log_likelihood(X, ...)`` evaluates l at any parameters.
    * A component whose responsibilities sum to 0 (N_k underflows) or a Sigma_k that is not
      positive definite raises ValueError naming the component: restart (note 004: "multiple
      restarts recommended") or use reg_covar > 0.

References:
    Dempster, A. P., Laird, N. M. and Rubin, D. B. (1977). Maximum Likelihood from Incomplete
        Data via the EM Algorithm. JRSS B 39(1), 1-38 (Theorem 1: monotonicity).
    Bishop, C. M. (2006). Pattern Recognition and Machine Learning, section 9.2.2 (EM for GMMs).
    Note 004, "EM Algorithm" and "Example: GMM".
"""

from __future__ import annotations

import math
from dataclasses import KW_ONLY, dataclass
from typing import Any, ClassVar

import numpy as np

from .._core import check_count, check_nonnegative, check_rng, method
from .._hyper import NONNEGATIVE, POSITIVE, Hyperparams, hp
from .._types import Array

_LOG_2PI = math.log(2.0 * math.pi)


@dataclass(frozen=True, eq=False)
class EMHyperparams(Hyperparams):
    """EM's hyperparameters: the covariance ridge of the M-step and the initial covariance."""

    ALGORITHM: ClassVar[str] = "em_gmm"
    _: KW_ONLY
    reg_covar: float = hp(
        0.0,
        NONNEGATIVE,
        "a of (EM5), the MAP ridge a I / N_k (0: maximum likelihood; "
        "a > 0: J = l - (a/2) sum tr Sigma^{-1} never decreases)",
    )
    cov0: float = hp(
        1.0,
        POSITIVE,
        "Sigma_0 = cov0 I of every component when init is given only the means "
        "(init_from_data uses the data covariance)",
    )


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class GMMState:
    """EM's state after ``t`` steps: theta_t = (weights, params = means, covs)."""

    params: Array  # mu_t, (K, d) means
    weights: Array  # pi_t, (K,) mixing proportions
    covs: Array  # Sigma_t, (K, d, d) covariances
    loglik: float | None  # l(theta_{t-1}) from the last E-step (None before the first step)
    t: int  # completed steps


def _check_means(means: Any) -> Array:
    m = np.asarray(means, dtype=np.float64)
    if m.ndim != 2 or m.shape[0] < 1 or m.shape[1] < 1:
        raise ValueError(f"em_gmm: params (the means) must be a (K, d) array, got shape {m.shape}")
    return m


def check_data(X: Any, d: int | None = None, k: int | None = None) -> Array:
    """X as an (n, d) float64 array of finite values with n >= K (if given)."""
    if isinstance(X, np.ndarray) or isinstance(X, (list, tuple)):
        x = np.asarray(X, dtype=np.float64)
    else:
        raise TypeError(f"em_gmm: step needs the data X as an (n, d) array, got {type(X).__name__}")
    if x.ndim != 2:
        raise ValueError(f"em_gmm: X must be an (n, d) array, got shape {x.shape}")
    if d is not None and x.shape[1] != d:
        raise ValueError(f"em_gmm: X has shape {x.shape} but the means have d = {d} columns")
    if k is not None and x.shape[0] < k:
        raise ValueError(f"em_gmm: X has n = {x.shape[0]} rows; need n >= K = {k}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"em_gmm: X must be finite; {int(np.sum(~np.isfinite(x)))} entries are not")
    return x


def init(params: Array, *, cov0: float = 1.0) -> GMMState:
    """mu_0 = params (K, d), pi_0 = 1/K, Sigma_0 = cov0 I, t = 0."""
    means = _check_means(params)
    k, d = means.shape
    covs = np.broadcast_to(cov0 * np.eye(d), (k, d, d)).copy()
    return GMMState(params=means, weights=np.full(k, 1.0 / k), covs=covs, loglik=None, t=0)


def init_from_data(X: Any, n_components: int, rng: np.random.Generator) -> GMMState:
    """K distinct rows of X (drawn by ``rng``) as means, the data covariance (ddof 0) as every
    Sigma_k, pi = 1/K. Raises ValueError if the data covariance is singular."""
    check_count("em_gmm", "n_components", n_components, minimum=1)
    check_rng(rng, who="em_gmm")
    x = check_data(X, k=int(n_components))
    k, (n, d) = int(n_components), x.shape
    means = x[rng.choice(n, size=k, replace=False)]
    c = np.atleast_2d(np.cov(x, rowvar=False, bias=True))
    _cholesky(c, "the data covariance")
    covs = np.broadcast_to(c, (k, d, d)).copy()
    return GMMState(params=means, weights=np.full(k, 1.0 / k), covs=covs, loglik=None, t=0)


def _cholesky(c: Array, what: str) -> Array:
    try:
        return np.asarray(np.linalg.cholesky(c), dtype=np.float64)
    except np.linalg.LinAlgError:
        raise ValueError(
            f"em_gmm: {what} is not positive definite (a collapsed component?); restart or use reg_covar > 0"
        ) from None


def log_densities(X: Array, means: Array, covs: Array) -> Array:
    """(n, K) log N(x_i | mu_k, Sigma_k), via the Cholesky factor L_k of Sigma_k:
    -1/2 ||L_k^{-1}(x_i - mu_k)||^2 - sum log diag L_k - (d/2) log 2 pi."""
    n, d = X.shape
    out = np.empty((n, means.shape[0]))
    for k in range(means.shape[0]):
        chol = _cholesky(covs[k], f"Sigma_{k}")
        y = np.linalg.solve(chol, (X - means[k]).T)  # triangular system, (d, n)
        out[:, k] = -0.5 * np.sum(y * y, axis=0) - np.sum(np.log(np.diag(chol))) - 0.5 * d * _LOG_2PI
    return out


def _logsumexp_rows(a: Array) -> Array:
    """log sum_k exp(a_ik) for each row, shifted by the row maximum (no overflow, no underflow
    of the largest term); a row whose maximum is not finite returns that maximum."""
    m = np.max(a, axis=1)
    shift = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore"):
        return np.asarray(np.log(np.sum(np.exp(a - shift[:, None]), axis=1)) + shift, dtype=np.float64)


def e_step(X: Array, weights: Array, means: Array, covs: Array) -> tuple[Array, float]:
    """Responsibilities r (n, K) and the log-likelihood l(theta), eqs. (EM1)-(EM2)."""
    with np.errstate(divide="ignore"):  # pi_k = 0 gives log 0 = -inf: r_ik = 0, as it should
        a = np.log(weights) + log_densities(X, means, covs)
    lse = _logsumexp_rows(a)
    resp = np.exp(a - lse[:, None])  # (EM1)
    loglik = float(np.sum(lse))  # (EM2)
    return resp, loglik


def m_step(X: Array, resp: Array, *, reg_covar: float = 0.0) -> tuple[Array, Array, Array]:
    """(weights, means, covs) from the responsibilities, eqs. (EM3)-(EM5)."""
    n, d = X.shape
    nk = np.sum(resp, axis=0)  # (EM3)
    empty = np.flatnonzero(~(nk > 0.0))
    if empty.size:
        raise ValueError(
            f"em_gmm: component(s) {empty.tolist()} have no responsibility left (N_k = 0); restart"
        )
    weights = nk / n
    means = (resp.T @ X) / nk[:, None]  # (EM4)
    covs = np.empty((resp.shape[1], d, d))
    for k in range(resp.shape[1]):
        diff = X - means[k]
        covs[k] = ((resp[:, k, None] * diff).T @ diff + reg_covar * np.eye(d)) / nk[k]  # (EM5)
        covs[k] = 0.5 * (covs[k] + covs[k].T)
    return weights, means, covs


def log_likelihood(X: Any, weights: Any, means: Any, covs: Any) -> float:
    """l(theta) = sum_i log sum_k pi_k N(x_i | mu_k, Sigma_k) (log-sum-exp)."""
    m = _check_means(means)
    x = check_data(X, d=m.shape[1])
    return e_step(x, np.asarray(weights, dtype=np.float64), m, np.asarray(covs, dtype=np.float64))[1]


def objective(X: Any, weights: Any, means: Any, covs: Any, *, reg_covar: float = 0.0) -> float:
    """J(theta) = l(theta) - (reg_covar / 2) sum_k tr(Sigma_k^{-1}): what EM with ``reg_covar``
    never decreases (J = l for reg_covar = 0)."""
    check_nonnegative("em_gmm.objective", "reg_covar", reg_covar)
    ll = log_likelihood(X, weights, means, covs)
    if reg_covar == 0.0:
        return ll
    c = np.asarray(covs, dtype=np.float64)
    return ll - 0.5 * reg_covar * float(sum(np.trace(np.linalg.inv(ck)) for ck in c))


def step(state: GMMState, X: Array, *, reg_covar: float = 0.0) -> GMMState:
    """One EM step (E-step then M-step), eqs. (EM1)-(EM5) of specs/em_gmm.md."""
    means = state.params
    x = check_data(X, d=means.shape[1], k=means.shape[0])
    resp, loglik = e_step(x, state.weights, means, state.covs)
    weights, means_new, covs = m_step(x, resp, reg_covar=reg_covar)
    return GMMState(params=means_new, weights=weights, covs=covs, loglik=loglik, t=state.t + 1)


em_gmm = method(
    EMHyperparams, init, step, "EM for a Gaussian mixture; init(means), step(state, X). See specs/em_gmm.md."
)

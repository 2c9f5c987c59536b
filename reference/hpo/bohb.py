r"""BOHB (Falkner, Klein and Hutter 2018): Hyperband (reference/hpo/hyperband.py) whose new
configurations come from a TPE-style model (Bergstra et al. 2011) of the results at the largest
budget with enough of them. Spec: specs/bohb.md.

    with probability rho: a uniform configuration (as Hyperband)                           (BH1)
    b = the largest budget with |D_b| >= N_min + 2, D_b = {(u, loss) evaluated at b};
        none: a uniform configuration                                                      (BH2)
    N_l = max(N_min, floor(q |D_b|)),  N_g = max(N_min, |D_b| - N_l):
        good = the N_l least losses of D_b, bad = the N_g greatest                          (BH3)
    l(u), g(u) = product-Gaussian KDEs of good, bad: (1/N) sum_k prod_j N(u_j; u_kj, h_j),
        h_j = max(1.06 sd_j N^(-1/(d + 4)), h_min)   (statsmodels' normal reference rule)   (BH4)
    N_s samples: a good point u_k drawn uniformly, then each u_j ~ N(u_kj, (b_w h_j)^2)
        truncated to [0, 1] (bandwidth widened by b_w)                                      (BH5)
    the next configuration: the sample maximising l(u) / g(u) (each floored at 1e-32)       (BH6)

u is the point of [0, 1]^d of the configuration (space.py, (H18) of specs/hpo.md); integer and
categorical hyperparameters are continuous in the model and rounded when proposed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import scipy.special
import scipy.stats

from .._core import check_count, check_nonnegative, check_positive
from .._types import Array
from .hyperband import _check_objective, run_brackets
from .space import Config, Evaluation, SearchSpace, SpaceObjective, SpaceResult, as_generator

_FLOOR = 1e-32  # l and g are floored here before the ratio (hpbandster's value)


def propose(
    history: Sequence[Evaluation],
    space: SearchSpace,
    config_rng: np.random.Generator,
    model_rng: np.random.Generator,
    *,
    random_fraction: float,
    top_fraction: float,
    n_samples: int,
    bandwidth_factor: float,
    min_bandwidth: float,
    min_points_in_model: int,
) -> Config:
    """BOHB's next configuration, eqs. (BH1)-(BH6). Uniform configurations come from
    ``config_rng`` (the stream Hyperband draws from), the coin of (BH1) and the samples of (BH5)
    from ``model_rng``."""
    if random_fraction >= 1.0 or model_rng.random() < random_fraction:  # (BH1)
        return space.sample(config_rng)
    by_budget: dict[int, list[tuple[Array, float]]] = {}
    for e in history:
        by_budget.setdefault(e.budget, []).append((space.to_unit(e.config), e.loss))
    ok = [b for b, D in by_budget.items() if len(D) >= min_points_in_model + 2]
    if not ok:  # (BH2)
        return space.sample(config_rng)
    good, bad = _split(by_budget[max(ok)], min_points_in_model, top_fraction)  # (BH3)
    h_good = normal_reference_bandwidth(good, min_bandwidth)  # (BH4)
    h_bad = normal_reference_bandwidth(bad, min_bandwidth)
    centres = good[model_rng.integers(len(good), size=n_samples)]  # (BH5)
    sd = np.maximum(bandwidth_factor * h_good, min_bandwidth)
    a, b = (0.0 - centres) / sd, (1.0 - centres) / sd
    samples = scipy.stats.truncnorm.rvs(a, b, loc=centres, scale=sd, random_state=model_rng)  # (BH5)
    samples = np.clip(np.asarray(samples, dtype=np.float64).reshape(n_samples, space.dim), 0.0, 1.0)
    ratio = np.maximum(kde(good, h_good, samples), _FLOOR) / np.maximum(kde(bad, h_bad, samples), _FLOOR)
    return space.from_unit(samples[int(np.argmax(ratio))])  # (BH6)


def bohb(
    objective: SpaceObjective,
    space: SearchSpace,
    *,
    R: int,
    eta: int = 3,
    seed: int = 0,
    iterations: int = 1,
    random_fraction: float = 1 / 3,
    top_fraction: float = 0.15,
    n_samples: int = 64,
    bandwidth_factor: float = 3.0,
    min_bandwidth: float = 1e-3,
    min_points_in_model: int | None = None,
) -> SpaceResult:
    """BOHB (Falkner et al. 2018), eqs. (BH1)-(BH6) inside Hyperband's brackets (HB1)-(HB6).

    Arguments as ``hyperband`` (objective, space, R, eta, seed, iterations), and the model's
    (defaults: the paper's and hpbandster's): ``random_fraction`` rho = 1/3, ``top_fraction``
    q = 0.15, ``n_samples`` N_s = 64, ``bandwidth_factor`` b_w = 3, ``min_bandwidth`` 1e-3,
    ``min_points_in_model`` N_min = d + 1 (None). ``random_fraction=1`` turns the model off: the
    run is then Hyperband's, evaluation for evaluation, at the same seed (the uniform draws come
    from ``np.random.default_rng(seed)`` in both; the model's own draws from a second stream,
    ``SeedSequence(seed, spawn_key=(1,))``).
    """
    who = "bohb"
    _check_objective(who, objective, space)
    iterations = check_count(who, "iterations", iterations, minimum=1)
    if not 0.0 <= random_fraction <= 1.0:
        raise ValueError(f"{who}: random_fraction must be in [0, 1], got {random_fraction!r}")
    if not 0.0 < top_fraction < 1.0:
        raise ValueError(f"{who}: top_fraction must be in (0, 1), got {top_fraction!r}")
    n_samples = check_count(who, "n_samples", n_samples, minimum=1)
    check_positive(who, "bandwidth_factor", bandwidth_factor)
    check_nonnegative(who, "min_bandwidth", min_bandwidth)
    n_min = space.dim + 1 if min_points_in_model is None else min_points_in_model
    n_min = check_count(who, "min_points_in_model", n_min, minimum=1)
    if isinstance(seed, np.random.Generator):
        raise TypeError(f"{who}: seed must be an int (BOHB derives two streams from it), got a Generator")
    config_rng = as_generator(who, seed)
    model_rng = np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(1,)))

    def next_config(history: Sequence[Evaluation], gen: np.random.Generator) -> Config:
        return propose(
            history,
            space,
            gen,
            model_rng,
            random_fraction=random_fraction,
            top_fraction=top_fraction,
            n_samples=n_samples,
            bandwidth_factor=bandwidth_factor,
            min_bandwidth=min_bandwidth,
            min_points_in_model=n_min,
        )

    return run_brackets(
        objective,
        space,
        R=R,
        eta=eta,
        iterations=iterations,
        propose=next_config,
        rng=config_rng,
        method="bohb",
    )


def kde(points: Array, bandwidth: Array, at: Array) -> Array:
    """The product-Gaussian KDE (1/N) sum_k prod_j N(at_j; points_kj, bandwidth_j^2) at each row of
    ``at``, eq. (BH4); shape (len(at),)."""
    z = (at[:, None, :] - points[None, :, :]) / bandwidth  # (m, N, d)
    logk = (
        -0.5 * np.sum(z * z, axis=2)
        - np.sum(np.log(bandwidth))
        - 0.5 * points.shape[1] * math.log(2 * math.pi)
    )
    out: Array = np.exp(scipy.special.logsumexp(logk, axis=1) - math.log(points.shape[0]))
    return out


def normal_reference_bandwidth(points: Array, min_bandwidth: float) -> Array:
    """h_j = max(1.06 sd_j N^(-1/(d + 4)), h_min), sd with ddof 0 (statsmodels' KDEMultivariate
    bw='normal_reference', as hpbandster's BOHB uses it), eq. (BH4)."""
    n, d = points.shape
    h = 1.06 * points.std(axis=0) * n ** (-1.0 / (d + 4))  # (BH4)
    out: Array = np.maximum(h, min_bandwidth)
    return out


def _split(D: list[tuple[Array, float]], n_min: int, top_fraction: float) -> tuple[Array, Array]:
    """The good and bad points of D_b, eq. (BH3) (non-finite losses sort last; ties keep order)."""
    order = sorted(range(len(D)), key=lambda k: (D[k][1], k))
    n_l = max(n_min, int(math.floor(top_fraction * len(D))))  # (BH3)
    n_g = max(n_min, len(D) - n_l)
    good = np.array([D[k][0] for k in order[:n_l]])
    bad = np.array([D[k][0] for k in order[len(D) - n_g :]])
    return good, bad

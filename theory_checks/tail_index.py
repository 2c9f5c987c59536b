r"""The tail index of minibatch-gradient noise on the Peaks MLP: what the notes' heavy-tail claim
becomes when measured, against the CLT's prediction, with the estimator validated on known laws.

Claim:
    The notes: "gradient noise in deep learning often exhibits heavy tails", better described by
    symmetric alpha-stable laws with tail index alpha < 2 (p(x) ~ |x|^-(1+alpha)) than by the CLT's
    Gaussian (alpha = 2) (note 000, "Beyond the Gaussian Approximation"; note 001, "Adam Vector
    Field Theory", after Simsekli, Sagun & Gurbuzbalaban 2019). What this check tests is the
    measurable counterpart on Peaks, and it finds the CLT's side: minibatch noise g_B - grad L
    (b draws with replacement from N per-sample gradients: a mean of b i.i.d. bounded terms) has
    per coordinate the CLT's alpha = 2, up to the estimator's O(1/b) Edgeworth term predicted
    below; its variance is exactly Sigma_jj / b; and the pooled reading of Simsekli et al.
    (all coordinates in one sample), which does give alpha_hat < 2, is predicted by a mixture of
    those near-Gaussian coordinates with their different scales, not by heavy tails.

Setup:
    Estimator (Mohammadi, Mohammadpour & Ombao 2015, the one Simsekli et al. use): for K = K1 K2
    samples X_i, block sums Y_i = sum_{j=1..K1} X_{(i-1)K1+j}, and
    1/alpha_hat = (mean_i log|Y_i| - mean_i log|X_i|) / log K1; for SaS samples Y =_d K1^{1/alpha} X
    exactly, so 1/alpha_hat is unbiased. Validation: SaS samples drawn by the Chambers-Mallows-Stuck
    formula (written here), alpha in {1.4, 2.0}, replicates of K = 100 x 400 (quick 8, full 16).
    Peaks (``reference.problems.peaks``, 2-32-5 ReLU MLP, p = 261, N = 800, seed 0) after 200
    full-batch ``ref.adam(1e-2)`` steps from He init (the gradient written in the check). Noise:
    the reference's ``per_sample_grads`` and ``batch_indices`` (b = 32, with replacement), groups
    of 256 minibatches (quick 8 groups, full 16), each group one i.i.d. sample given theta.
    Per coordinate: 1/alpha_hat over the group's 256 values of each coordinate, K1 = 16 (blocks
    within one coordinate). Pooled: the group's 256 x 261 values permuted into one sample, K1 = 100.

Measured:
    (v) validation: the mean over replicates of 1/alpha_hat on SaS samples against 1/alpha.
    (s) scale: per group, mean over coordinates of (sample variance of the noise) / (Sigma_jj / b),
        Sigma_jj the population variance of coordinate j of the per-sample gradients computed by
        the check's own backpropagation: predicted 1 (unbiased variance of i.i.d. draws).
    (c) per coordinate: the mean over groups of 1/alpha_hat, against
        1/2 - (1 - 1/K1) mean_j D_j / log K1,  D_j = c4 g4_j / 24 + c6 g3_j^2 / 72,
        the first Edgeworth term of E log|X_j| - E log|sigma_j Z| (the estimator's bias for a
        finite-variance law), with g3_j = kappa3_j / sqrt(b), g4_j = kappa4_j / b the standardized
        cumulants of the noise from the per-sample gradients' population cumulants, and
        c_n = E[log|Z| He_n(Z)] (c4 = -2, c6 = 8, from E[|Z|^s log|Z|] = E|Z|^s (log 2 +
        digamma((s+1)/2)) / 2).
    (p) pooled (report row): the mean over groups of 1/alpha_hat beside (E log|Y| - E log|X|) / log 100 for a
        mixture of coordinates with the same scales and Edgeworth terms: E log|X| = mean_j (log
        sigma_j + D_j) + E log|Z|, E log|Y| = E_J [log sqrt(sum_k sigma_{J_k}^2) + D(Y_J)] + E log|Z|
        over 100 uniformly drawn coordinates J (4000 draws of J: only indices are simulated).
    Report: the notes' claim alpha < 2, per coordinate and pooled, with alpha_hat's interval.

Tolerance:
    Student-t intervals at the suite level ``_stats.LEVEL`` over independent replicates
    (validation) or independent groups of minibatches (Peaks; each group's statistic is an
    average over thousands of log-values or 261 variance ratios, close to normal); 1/alpha_hat is
    exactly unbiased for SaS samples. The Edgeworth prediction neglects O(b^-3/2) terms; over 64
    groups it matched the measurement to 0.004 (per coordinate) and 0.0015 (pooled), below a
    fifth of the full tier's half-widths (0.024 and 0.013).

References:
    Note 000 ("Beyond the Gaussian Approximation"); note 001 ("Adam Vector Field Theory": tail
    index alpha in (0, 2]). Simsekli, U., Sagun, L. and Gurbuzbalaban, M. (2019), A Tail-Index
    Analysis of Stochastic Gradient Noise in Deep Neural Networks, ICML. Mohammadi, M.,
    Mohammadpour, A. and Ombao, H. (2015), On the estimation of the characteristic exponent of
    stable distributions, Statistical Papers. Chambers, Mallows and Stuck (1976), JASA 71.
    Hall (1992), The Bootstrap and Edgeworth Expansion, ch. 2.

Sabotage:
    "broken-estimator": block sums of |X_i| instead of X_i (the validation must then fail).
    "heavy-tail-prediction": the notes' claim as the prediction, alpha = 1.6 per coordinate.
    "half-batch": the reference's ``batch_indices`` draws b/2 indices (a size bug in the sampler).
    "per-sample-over-n": the reference's per-sample gradients divided by N (a mean-reduction mix-up).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

import reference as ref
from reference import driver
from reference.problems import peaks
from reference.problems.peaks import Peaks

from ._base import CheckResult, Context, Outcome, Row, report_row
from ._stats import Interval, fmt, interval_row, t_interval, trial_seeds

NAME = "tail_index"
CLAIM = "Peaks minibatch noise per coordinate: CLT (alpha = 2 up to the O(1/b) Edgeworth term), variance Sigma_jj/b; the pooled alpha_hat < 2 is a mixture of scales (seeds: alpha < 2)"
SOURCE = "note 000, 'Beyond the Gaussian Approximation'; note 001, 'Adam Vector Field Theory'"
SABOTAGE: tuple[str, ...] = ("broken-estimator", "heavy-tail-prediction", "half-batch", "per-sample-over-n")
JUSTIFICATION = "Student-t intervals over independent replicates/groups of exactly unbiased (validation, variance) or Edgeworth-predicted (tail index) statistics"
STAT_ROWS = 4

ALPHAS = (1.4, 2.0)
K1, K2 = 100, 400
BATCH, PER_GROUP, K1_COORD, K1_POOL, DRAWS_J = 32, 256, 16, 100, 4000
C4, C6 = -2.0, 8.0  # E[log|Z| He_4(Z)], E[log|Z| He_6(Z)]


def inv_alpha(x: np.ndarray, k1: int, *, broken: bool = False) -> float:
    """Mohammadi et al.'s estimate of 1/alpha from the samples ``x`` (truncated to k1 * k2)."""
    k2 = x.size // k1
    if k2 < 2:
        raise ValueError(f"inv_alpha needs at least 2 blocks of k1 = {k1} samples, got {x.size}")
    xs = x[: k1 * k2]
    blocks = np.abs(xs) if broken else xs
    y = blocks.reshape(k2, k1).sum(axis=1)
    with np.errstate(divide="ignore"):
        lx, ly = np.log(np.abs(xs)), np.log(np.abs(y))
    return float((np.mean(ly) - np.mean(lx)) / math.log(k1))


def sas(alpha: float, size: int, rng: np.random.Generator) -> np.ndarray:
    """Standard symmetric alpha-stable samples (Chambers, Mallows & Stuck 1976)."""
    v = rng.uniform(-np.pi / 2, np.pi / 2, size)
    w = rng.exponential(1.0, size)
    out: np.ndarray = (
        np.sin(alpha * v) / np.cos(v) ** (1 / alpha) * (np.cos(v - alpha * v) / w) ** ((1 - alpha) / alpha)
    )
    return out


def _validate(args: tuple[float, np.random.SeedSequence, bool]) -> float:
    alpha, seed, broken = args
    return inv_alpha(sas(alpha, K1 * K2, np.random.default_rng(seed)), K1, broken=broken)


def _output_error(
    pb: Peaks, theta: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The forward pass and dl_n/dF_n = softmax(F_n) - e_(y_n) of every sample: (X, z, h, W2, P)."""
    W1, b1, W2, b2 = pb.unflatten(theta)
    X, y = pb.X, np.asarray(pb.y)
    z = X @ W1.T + b1
    h = np.maximum(z, 0.0)
    F = h @ W2.T + b2
    P = np.exp(F - F.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    P[np.arange(y.size), y] -= 1.0  # dl_n/dF_n
    return X, z, h, W2, P


def per_sample_grads(pb: Peaks, theta: np.ndarray) -> np.ndarray:
    """(N, p) gradients of the per-sample losses by backpropagation written here (the prediction
    side never calls the reference's differentiation)."""
    X, z, h, W2, P = _output_error(pb, theta)
    dz = (P @ W2) * (z > 0)
    n = P.shape[0]
    return np.concatenate(
        [np.einsum("nw,nk->nwk", dz, X).reshape(n, -1), dz, np.einsum("nc,nw->ncw", P, h).reshape(n, -1), P],
        axis=1,
    )


def mean_grad(pb: Peaks, theta: np.ndarray) -> np.ndarray:
    """grad L = mean of the rows of ``per_sample_grads``, without forming them."""
    X, z, h, W2, P = _output_error(pb, theta)
    P /= P.shape[0]
    dz = (P @ W2) * (z > 0)
    return np.concatenate([(dz.T @ X).ravel(), dz.sum(axis=0), (P.T @ h).ravel(), P.sum(axis=0)])


def trained_point() -> tuple[Peaks, np.ndarray]:
    """Peaks (w = 32, seed 0) after 200 full-batch Adam steps from He init."""
    pb = peaks(width=32, seed=0)
    x0 = pb.init_params(np.random.default_rng(0))
    traj = driver.run(
        ref.adam(1e-2), None, x0, 200, grad=partial(mean_grad, pb), loss_every=None, record_params=False
    )
    return pb, traj.final.params


@dataclass(frozen=True)
class Population:
    """Per-coordinate population moments of the per-sample gradients (the check's own)."""

    var: np.ndarray  # Sigma_jj
    k3: np.ndarray  # third central moment
    k4: np.ndarray  # fourth cumulant


def population(G: np.ndarray) -> Population:
    C = G - G.mean(axis=0)
    var = (C**2).mean(axis=0)
    return Population(var, (C**3).mean(axis=0), (C**4).mean(axis=0) - 3.0 * var**2)


def _edgeworth(k2: np.ndarray, k3: np.ndarray, k4: np.ndarray) -> np.ndarray:
    """D = E log|X| - E log|sd Z| to first Edgeworth order, from cumulants k2, k3, k4 of X."""
    out: np.ndarray = C4 * (k4 / k2**2) / 24.0 + C6 * (k3**2 / k2**3) / 72.0
    return out


def predict_per_coordinate(pop: Population) -> float:
    b = BATCH
    d = _edgeworth(pop.var / b, pop.k3 / b**2, pop.k4 / b**3)
    return float(0.5 - (1.0 - 1.0 / K1_COORD) * np.mean(d) / math.log(K1_COORD))


def predict_pooled(pop: Population, rng: np.random.Generator) -> float:
    b = BATCH
    k2, k3, k4 = pop.var / b, pop.k3 / b**2, pop.k4 / b**3
    J = rng.integers(0, k2.size, size=(DRAWS_J, K1_POOL))
    sY2, sY3, sY4 = k2[J].sum(axis=1), k3[J].sum(axis=1), k4[J].sum(axis=1)
    e_log_y = float(np.mean(0.5 * np.log(sY2) + _edgeworth(sY2, sY3, sY4)))
    e_log_x = float(np.mean(0.5 * np.log(k2) + _edgeworth(k2, k3, k4)))
    return (e_log_y - e_log_x) / math.log(K1_POOL)


@dataclass(frozen=True)
class Group:
    """One group of minibatches: the variance ratio and both tail-index readings."""

    var_ratio: float
    inv_percoord: float
    inv_pooled: float


@dataclass(frozen=True)
class Noise:
    groups: tuple[Group, ...]
    pred_percoord: float
    pred_pooled: float
    sample: list[list[float]]


def _peaks(args: tuple[np.random.SeedSequence, int, str | None]) -> Noise:
    seed, n_groups, sabotage = args
    pb, theta = trained_point()
    pop = population(per_sample_grads(pb, theta))  # prediction side: the check's gradients
    G = pb.per_sample_grads(theta)  # measured side: the reference's
    if sabotage == "per-sample-over-n":
        G = G / G.shape[0]
    keep = pop.var > 0  # a coordinate no sample moves has no noise
    pop = Population(pop.var[keep], pop.k3[keep], pop.k4[keep])
    G = G[:, keep]
    g = G.mean(axis=0)
    rng = np.random.default_rng(seed)
    size = BATCH // 2 if sabotage == "half-batch" else BATCH
    groups = []
    for _ in range(n_groups):
        idx = pb.batch_indices(rng, size * PER_GROUP).reshape(PER_GROUP, size)  # i.i.d.: one draw per group
        noise = G[idx].mean(axis=1) - g
        groups.append(
            Group(
                var_ratio=float(np.mean(noise.var(axis=0, ddof=1) / (pop.var / BATCH))),
                inv_percoord=inv_alpha(noise.T.ravel(), K1_COORD),
                inv_pooled=inv_alpha(rng.permutation(noise.ravel()), K1_POOL),
            )
        )
    return Noise(tuple(groups), predict_per_coordinate(pop), predict_pooled(pop, rng), noise[:, :8].tolist())


def _alpha_text(inv: Interval) -> str:
    lo = 1 / inv.hi if inv.hi > 0 else math.inf
    hi = 1 / inv.lo if inv.lo > 0 else math.inf
    return f"alpha_hat {fmt(1 / inv.estimate)} [{fmt(lo)}, {fmt(hi)}]"


def row_validation(alpha: float, est: list[float]) -> Row:
    iv = t_interval(est)
    return interval_row(
        f"validation: 1/alpha_hat on SaS samples, alpha = {alpha}", 1 / alpha, iv, what="replicates"
    )


def row_scale(pk: Noise) -> Row:
    iv = t_interval([gr.var_ratio for gr in pk.groups])
    return interval_row(
        f"noise variance / (Sigma_jj / b), b = {BATCH}, mean over coordinates", 1.0, iv, what="groups"
    )


def row_percoord(pk: Noise, sabotage: str | None) -> Row:
    iv = t_interval([gr.inv_percoord for gr in pk.groups])
    pred = 1 / 1.6 if sabotage == "heavy-tail-prediction" else pk.pred_percoord
    shown = (
        "1/1.6 (seeds: heavy tails)"
        if sabotage == "heavy-tail-prediction"
        else f"{fmt(pred)} (1/2 + Edgeworth O(1/b))"
    )
    return interval_row("Peaks noise per coordinate: 1/alpha_hat", pred, iv, what="groups", shown=shown)


def row_pooled(pk: Noise) -> Row:
    """Report only: the pooled reading beside its mixture prediction. Over 200 quick seeds this
    row's p-values were not uniform (11 % below 0.05, KS p = 4e-6): the prediction carries the
    Monte-Carlo error of its 4000 index draws and an O(b^-3/2) Edgeworth remainder that the
    interval does not include, so its coverage is not what a stat row must state."""
    iv = t_interval([gr.inv_pooled for gr in pk.groups])
    return report_row(
        "Peaks noise pooled (Simsekli et al.): 1/alpha_hat",
        f"{iv} against the mixture prediction {fmt(pk.pred_pooled)}",
        note="report only: prediction's own error not in the interval",
    )


def row_seed_claim(pk: Noise) -> Row:
    pc = t_interval([gr.inv_percoord for gr in pk.groups])
    po = t_interval([gr.inv_pooled for gr in pk.groups])
    verdict = (
        "per coordinate "
        + ("alpha < 2" if pc.lo > 0.5 else "alpha = 2 not excluded")
        + f" ({_alpha_text(pc)}); pooled "
        + ("alpha < 2" if po.lo > 0.5 else "alpha = 2 not excluded")
        + f" ({_alpha_text(po)})"
    )
    return report_row("notes' claim alpha < 2 (heavy tails) on Peaks, b = 32", verdict)


def run(ctx: Context) -> Outcome:
    broken = ctx.sabotage == "broken-estimator"
    reps, n_groups = (8, 8) if ctx.tier == "quick" else (16, 16)
    items = [(a, s, broken) for i, a in enumerate(ALPHAS) for s in trial_seeds(ctx, reps, stream=i)]
    est: list[float] = ctx.map(_validate, items)
    pk: Noise = ctx.map(_peaks, [(trial_seeds(ctx, 1, stream=99)[0], n_groups, ctx.sabotage)])[0]
    rows = (
        *(row_validation(a, est[i * reps : (i + 1) * reps]) for i, a in enumerate(ALPHAS)),
        row_scale(pk),
        row_percoord(pk, ctx.sabotage),
        row_pooled(pk),
        row_seed_claim(pk),
    )
    figure: dict[str, Any] = {
        "validation": {str(a): [1 / v for v in est[i * reps : (i + 1) * reps]] for i, a in enumerate(ALPHAS)},
        "peaks_pooled": [1 / gr.inv_pooled for gr in pk.groups],
        "peaks_percoord": [1 / gr.inv_percoord for gr in pk.groups],
        "pred": [1 / pk.pred_pooled, 1 / pk.pred_percoord],
        "sample": pk.sample,
    }
    return Outcome(rows=rows, figure=figure)


def plot(result: CheckResult, path: str) -> None:
    from ._plot import save, subplots

    fig, (ax1, ax2) = subplots(2)
    f = result.figure
    for k, (a, vals) in enumerate(f["validation"].items()):
        ax1.scatter(
            np.full(len(vals), float(a)) + 0.01 * (np.arange(len(vals)) - len(vals) / 2),
            vals,
            s=8,
            color=f"C{k}",
        )
    grid = np.array([1.0, 2.1])
    ax1.plot(grid, grid, "k--", lw=0.8, label="alpha_hat = alpha")
    ax1.set_xlabel("true alpha (SaS samples)")
    ax1.set_ylabel("alpha_hat per replicate")
    ax1.legend(fontsize=7)
    pos = [1, 2]
    ax2.boxplot([f["peaks_pooled"], f["peaks_percoord"]], positions=pos)
    ax2.scatter(pos, f["pred"], marker="x", color="C3", label="prediction (CLT + Edgeworth, mixture)")
    ax2.set_xticks(pos)
    ax2.set_xticklabels(["pooled (Simsekli)", "per coordinate"], fontsize=8)
    ax2.axhline(2.0, color="k", ls="--", lw=0.8, label="Gaussian (alpha = 2)")
    ax2.set_ylabel("alpha_hat, Peaks minibatch noise (b = 32)")
    ax2.legend(fontsize=7)
    save(fig, path, result.claim)

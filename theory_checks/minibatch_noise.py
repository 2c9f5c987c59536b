r"""Minibatch gradient noise: Cov = Sigma/b with replacement, (N - b)/(N - 1) Sigma/b without.

Claim:
    For a finite sum L = (1/N) sum_i l_i, the minibatch gradient g_B = (1/b) sum_{j in B} grad l_j
    is unbiased with Cov[g_B] = Sigma/b when the b indices are drawn i.i.d. (with replacement),
    Sigma = (1/N) sum_i (grad l_i - grad L)(grad l_i - grad L)^T, and
    Cov[g_B] = (N - b)/(N - 1) Sigma/b for a uniform b-subset (without replacement). Hence the
    noise variance is proportional to 1/b (log-log slope -1) and 4x the batch halves the
    standard deviation.

Setup:
    Two problems, each at a fixed point theta: the seeds' Peaks MLP (2-32-5 ReLU, p = 261,
    N = 800 training points, He initialisation) and least squares (N = 200, d = 10, Gaussian
    design, reduction "mean") at a random theta. Per-sample gradients from the problem
    (``per_sample_grads``, autograd), minibatches from the problem's own sampler
    (``batch_indices``; checked once against ``minibatch_grad``). For each b, M minibatches;
    measured trace tr Cov = mean_M ||g_B - grad L||^2 (unbiased, grad L known exactly). With
    replacement b in {1, 2, 4, ..., 256} (least squares up to 128); without replacement b up to
    3N/4, where the finite-population factor is far from 1. Quick: 6 seeds x M = 300; full:
    16 x 800.

Measured:
    per problem: the log-log slope of tr Cov against b (with replacement); the mean over b of
    tr Cov / (tr Sigma / b) (with replacement) and of tr Cov / ((N - b)/(N - 1) tr Sigma/b)
    (without); the standard-deviation ratio sqrt(tr Cov(b)/tr Cov(4b)) averaged over the b with
    4b in the grid.

Tolerance:
    99.9 % Student-t interval over seeds (independent sampling streams; each seed's estimate
    averages M independent minibatches), one per row.

References:
    Seed 000, "Mini Batches as Noise Reduction" (Cov[(1/b) sum g_j] = Sigma/b; "To halve noise,
    need 4x larger batches"). The without-replacement factor is the finite-population
    correction of sampling theory (Cochran, Sampling Techniques, 1977, Thm 2.2).

Sabotage:
    "sd-scaling": predicts that the covariance scales like 1/sqrt(b) (slope -1/2; 4x the batch
        shrinks the sd by 2^(1/2)), confusing variance with standard deviation.
    "no-fpc": predicts Sigma/b also without replacement (the finite-population factor dropped).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from reference.problems.linear import least_squares
from reference.problems.peaks import peaks

from ._base import CheckResult, Context, Row
from ._stats import fmt, interval_row, slope_interval, t_interval, trial_seeds

NAME = "minibatch_noise"
CLAIM = "Cov[minibatch gradient] = Sigma/b (with replacement), (N-b)/(N-1) Sigma/b (without); 4x batch halves the sd"
SOURCE = "seed 000, 'Mini Batches as Noise Reduction'"
SABOTAGE: tuple[str, ...] = ("sd-scaling", "no-fpc")


def _problem(name: str) -> tuple[Any, np.ndarray]:
    if name == "peaks":
        p: Any = peaks()
        return p, p.init_params(np.random.default_rng(12345))
    rng = np.random.default_rng(54321)
    X = rng.normal(size=(200, 10))
    y = X @ rng.normal(size=10) + rng.normal(size=200)
    return least_squares(X, y, reduction="mean"), rng.normal(size=10)


def batch_grid(n: int) -> tuple[list[int], list[int]]:
    """(with replacement, without replacement) batch sizes."""
    with_r = [b for b in (1, 2, 4, 8, 16, 32, 64, 128, 256) if b <= n // 2 + 28]
    without = sorted({1, 4, 16, 64, n // 4, n // 2, 3 * n // 4})
    return with_r, without


def _trial(args: tuple[str, np.random.SeedSequence, int]) -> dict[str, Any]:
    name, seed, M = args
    problem, theta = _problem(name)
    G = problem.per_sample_grads(theta)
    gbar = G.mean(axis=0)
    N = problem.n_samples
    rng = np.random.default_rng(seed)
    # the problem's minibatch gradient is the mean of per-sample gradients over batch_indices
    probe = seed.spawn(1)[0]
    g_direct = problem.minibatch_grad(theta, np.random.default_rng(probe), 8, replace=False)
    idx = problem.batch_indices(np.random.default_rng(probe), 8, replace=False)
    if not np.allclose(g_direct, G[idx].mean(axis=0), rtol=1e-10, atol=1e-12):
        raise AssertionError(f"{name}: minibatch_grad is not the mean of per_sample_grads over batch_indices")
    with_r, without = batch_grid(N)
    out: dict[str, Any] = {"N": N, "trSigma": float(((G - gbar) ** 2).sum(axis=1).mean())}
    for key, bs, replace in (("with", with_r, True), ("without", without, False)):
        traces = []
        for b in bs:
            sq = np.empty(M)
            for m in range(M):
                i = problem.batch_indices(rng, b, replace=replace)
                sq[m] = float(((G[i].mean(axis=0) - gbar) ** 2).sum())
            traces.append(float(sq.mean()))
        out[key] = {"b": bs, "trace": traces}
    return out


def run(ctx: Context) -> CheckResult:
    if ctx.sabotage not in (None, *SABOTAGE):
        raise ValueError(f"{NAME}: sabotage must be one of {SABOTAGE}, got {ctx.sabotage!r}")
    t0 = time.perf_counter()
    k, M = (6, 300) if ctx.tier == "quick" else (16, 800)
    names = ("peaks", "least_squares")
    jobs = [(nm, s, M) for i, nm in enumerate(names) for s in trial_seeds(ctx, k, stream=i)]
    res = ctx.map(_trial, jobs)
    sd_scale = ctx.sabotage == "sd-scaling"
    rows: list[Row] = []
    figure: dict[str, Any] = {}
    for i, nm in enumerate(names):
        trs = res[i * k : (i + 1) * k]
        N, trS = trs[0]["N"], trs[0]["trSigma"]
        bw = np.array(trs[0]["with"]["b"], dtype=float)
        bo = np.array(trs[0]["without"]["b"], dtype=float)
        Tw = np.array([t["with"]["trace"] for t in trs])  # (k, len(bw))
        To = np.array([t["without"]["trace"] for t in trs])
        label = "Peaks MLP" if nm == "peaks" else "least squares"
        iv, _ = slope_interval(bw, Tw)
        rows.append(interval_row(f"{label}: slope of log tr Cov vs log b (with repl.)", -0.5 if sd_scale else -1.0, iv))
        pw = trS / (np.sqrt(bw) if sd_scale else bw)
        rows.append(interval_row(f"{label}: tr Cov / (tr Sigma/b), with repl. (mean over b)", 1.0, t_interval((Tw / pw).mean(axis=1))))
        fpc = np.ones_like(bo) if ctx.sabotage == "no-fpc" else (N - bo) / (N - 1.0)
        po = fpc * trS / (np.sqrt(bo) if sd_scale else bo)
        rows.append(interval_row(f"{label}: tr Cov / ((N-b)/(N-1) tr Sigma/b), without (b up to 3N/4)", 1.0, t_interval((To / po).mean(axis=1))))
        pairs = [(j, list(bw).index(4 * b)) for j, b in enumerate(bw) if 4 * b in bw]
        sd_ratio = np.mean([np.sqrt(Tw[:, j] / Tw[:, j4]) for j, j4 in pairs], axis=0)
        rows.append(interval_row(f"{label}: sd(b)/sd(4b) (mean over b)", float(np.sqrt(2.0)) if sd_scale else 2.0, t_interval(sd_ratio)))
        figure[nm] = {"N": N, "trSigma": trS, "b_with": bw.tolist(), "b_without": bo.tolist(),
                      "T_with": Tw.tolist(), "T_without": To.tolist(), "slope": [iv.estimate, iv.lo, iv.hi]}  # fmt: skip
    return CheckResult(
        name=NAME, claim=CLAIM, source=SOURCE, rows=tuple(rows),
        justification="99.9% t-interval over independent seeds, each averaging M independent minibatches at a fixed theta",
        figure=figure, seconds=time.perf_counter() - t0,
    )  # fmt: skip


def plot(result: CheckResult, path: str) -> None:
    from ._plot import save, subplots

    fig, axes = subplots(2)
    for ax, (nm, f) in zip(axes, result.figure.items()):
        bw, bo = np.array(f["b_with"]), np.array(f["b_without"])
        N, trS = f["N"], f["trSigma"]
        ax.loglog(bw, np.mean(f["T_with"], axis=0), "o", color="C0", label="with replacement (measured)")
        ax.loglog(bw, trS / bw, "C0-", lw=0.8, label="tr Sigma / b")
        ax.loglog(bo, np.mean(f["T_without"], axis=0), "s", color="C3", label="without replacement (measured)")
        bb = np.linspace(1, bo.max(), 200)
        ax.loglog(bb, (N - bb) / (N - 1) * trS / bb, "C3--", lw=0.8, label="(N-b)/(N-1) tr Sigma / b")
        est, lo, hi = f["slope"]
        ax.set_title(f"{nm}: slope {fmt(est)} [{fmt(lo)}, {fmt(hi)}]", fontsize=9)
        ax.set_xlabel("batch size b")
        ax.set_ylabel("tr Cov[minibatch gradient]")
        ax.legend(fontsize=7)
    save(fig, path, "Minibatch noise: Sigma/b and the finite-population correction")

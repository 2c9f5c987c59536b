r"""Minibatch gradient noise: Cov = Sigma/b with replacement, (N - b)/(N - 1) Sigma/b without.

Claim:
    For a finite sum L = (1/N) sum_i l_i, the minibatch gradient g_B = (1/b) sum_{j in B} grad l_j
    is unbiased with Cov[g_B] = Sigma/b when the b indices are drawn i.i.d. (with replacement),
    Sigma = (1/N) sum_i (grad l_i - grad L)(grad l_i - grad L)^T, and
    Cov[g_B] = (N - b)/(N - 1) Sigma/b for a uniform b-subset (without replacement). Hence the
    noise variance is proportional to 1/b (log-log slope -1) and 4x the batch halves the
    standard deviation.

Setup:
    Two problems, each at a fixed point theta: least squares (N = 200, d = 10, Gaussian design,
    reduction "mean", per-sample gradients 2 (x_i^T w - y_i) x_i written in the check) and the
    notes' Peaks MLP (2-32-5 ReLU, p = 261, N = 800, He initialisation; its per-sample gradients
    from ``per_sample_grads``: the claim holds for any finite set of vectors, and what is under test
    is how minibatches are drawn from them). The check projects the centred per-sample gradients
    on their top m = 10 principal directions V (least squares: all of them), so it measures
    tr(V^T Cov[g_B] V) against tr(V^T Sigma V)/b: the claim restricted to the subspace that carries
    most of the noise, at a cost of m numbers per sample. Minibatches come from the problem's own
    sampler ``batch_indices`` (with replacement: one call for M b i.i.d. indices, cut into M
    batches; without: one call per batch). k = 32 independent groups (own streams), each with
    M = 64 (with) and 16 (without) batches per b; with replacement b in {1, 4, 16, 64, 256};
    without b in {16, N/4, N/2, 3N/4}, where the finite-population factor is far from 1.
    Full tier: M = 256 and 64.

Measured:
    (1) with replacement: per group, the mean over both problems and every b of
        mean_M ||V^T (g_B - grad L)||^2 / (tr(V^T Sigma V)/b) (unbiased for 1: grad L is known
        exactly), predicted 1.
    (2) without replacement: the same against (N - b)/(N - 1) tr(V^T Sigma V)/b, predicted 1.
    (3) least squares, reductions "mean" and "sum": the problem's ``minibatch_grad`` equals the
        mean (times N for "sum", the unbiased estimate of grad L) of the check's per-sample
        gradients over the indices ``batch_indices`` draws from the same generator state.
    Report: the log-log slope of the pooled tr Cov against b and sd(b)/sd(4b) (predicted -1 and 2;
    they follow from (1), which holds at every b).

Tolerance:
    (1), (2): Student-t intervals at the suite level ``_stats.LEVEL`` over the 32 independent
    groups; each group statistic averages 2 x 5 x 64 (resp. 2 x 4 x 16) independent squared
    norms, close to normal. (3) derived, first order in u: the check's r_i = x_i^T w - y_i is a
    (d + 1)-term sum (error <= gamma_{d+1} (|x_i|.|w| + |y_i|), Higham Thm 3.5, gamma_m = m u), its
    gradient row 2 r_i x_i adds u |2 r_i x_i|, and the batch mean of b rows adds gamma_b of the
    sum of their absolute values, and the scaling by N one more u; the problem's value, computed by
    its own backward pass, is held to the same bound, so the two may differ by twice it
    (elementwise, then the norm).

References:
    Note 000, "Mini Batches as Noise Reduction" (Cov[(1/b) sum g_j] = Sigma/b; "To halve noise,
    need 4x larger batches"). The without-replacement factor is the finite-population
    correction of sampling theory (Cochran, Sampling Techniques, 1977, Thm 2.2).

Sabotage:
    "sd-scaling": predicts that the covariance scales like 1/sqrt(b) (confusing variance with
        standard deviation).
    "no-fpc": predicts Sigma/b also without replacement (the finite-population factor dropped).
    "replace-ignored": a planted sampler bug, ``batch_indices`` draws with replacement even when
        asked for a subset.
    "minibatch-sum": a planted bug in ``minibatch_grad``: the batch sum instead of the mean.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from reference.problems.linear import least_squares
from reference.problems.peaks import peaks

from ._base import CheckResult, Context, Outcome, Row, report_row
from ._stats import fmt, interval_row, loglog_slope, t_interval, trial_seeds

NAME = "minibatch_noise"
CLAIM = "Cov[minibatch gradient] = Sigma/b (with replacement), (N-b)/(N-1) Sigma/b (without); 4x batch halves the sd"
SOURCE = "note 000, 'Mini Batches as Noise Reduction'"
SABOTAGE: tuple[str, ...] = ("sd-scaling", "no-fpc", "replace-ignored", "minibatch-sum")
JUSTIFICATION = "t-interval (suite level) over 32 independent groups of minibatches; the with-/without-replacement levels against Sigma/b and the finite-population factor; a derived rounding bound for the problem's minibatch gradient"
STAT_ROWS = 2

U = 2.0**-53
B_WITH = (1, 4, 16, 64, 256)
M_DIRS = 10
PROBLEMS = ("least_squares", "peaks")


def b_without(n: int) -> tuple[int, ...]:
    return (16, n // 4, n // 2, 3 * n // 4)


class _Buggy:
    """The problem with a planted bug (``ctx.sabotage``), delegating everything else."""

    def __init__(self, inner: Any, bug: str | None) -> None:
        self.inner, self.bug = inner, bug

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def batch_indices(self, rng: np.random.Generator, batch_size: int, *, replace: bool = True) -> Any:
        return self.inner.batch_indices(rng, batch_size, replace=replace or self.bug == "replace-ignored")

    def minibatch_grad(
        self, params: Any, rng: np.random.Generator, batch_size: int, *, replace: bool = True
    ) -> Any:
        g = self.inner.minibatch_grad(params, rng, batch_size, replace=replace)
        return g * batch_size if self.bug == "minibatch-sum" else g


def ls_data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(54321)
    X = rng.normal(size=(200, 10))
    y = X @ rng.normal(size=10) + rng.normal(size=200)
    return X, y, rng.normal(size=10)


def make_problem(name: str, bug: str | None) -> tuple[Any, np.ndarray]:
    """(problem, the per-sample gradient rows the claim is about)."""
    if name == "peaks":
        p: Any = peaks()
        return _Buggy(p, bug), np.asarray(p.per_sample_grads(p.init_params(np.random.default_rng(12345))))
    X, y, w = ls_data()
    return _Buggy(least_squares(X, y, reduction="mean"), bug), 2.0 * (X @ w - y)[:, None] * X


@dataclass(frozen=True)
class Noise:
    """One problem, one group: the estimated tr(V^T Cov V) per b, with and without replacement."""

    problem: str
    with_r: tuple[float, ...]
    without: tuple[float, ...]


def _group(args: tuple[str, np.ndarray, np.random.SeedSequence, int, int, str | None]) -> Noise:
    name, Y, seed, m_with, m_without, bug = args
    problem, _ = make_problem_light(name, bug)
    rng = np.random.default_rng(seed)
    n = Y.shape[0]
    with_r = []
    for b in B_WITH:
        idx = np.asarray(problem.batch_indices(rng, m_with * b, replace=True)).reshape(m_with, b)
        with_r.append(float(np.mean(np.sum(Y[idx].mean(axis=1) ** 2, axis=1))))
    without = []
    for b in b_without(n):
        sq = [
            float(np.sum(Y[np.asarray(problem.batch_indices(rng, b, replace=False))].mean(axis=0) ** 2))
            for _ in range(m_without)
        ]
        without.append(float(np.mean(sq)))
    return Noise(name, tuple(with_r), tuple(without))


def make_problem_light(name: str, bug: str | None) -> tuple[Any, None]:
    """The problem object only (its sampler), without computing gradients."""
    if name == "peaks":
        return _Buggy(peaks(), bug), None
    X, y, _ = ls_data()
    return _Buggy(least_squares(X, y, reduction="mean"), bug), None


def project(G: np.ndarray) -> tuple[np.ndarray, float]:
    """Centred per-sample gradients on their top principal directions, and tr(V^T Sigma V)."""
    Gc = G - G.mean(axis=0)
    _, vecs = np.linalg.eigh(Gc.T @ Gc)  # ascending eigenvalues
    Y = Gc @ vecs[:, ::-1][:, :M_DIRS]
    return Y, float(np.mean(np.sum(Y**2, axis=1)))


def row_with(groups: list[list[Noise]], tr: dict[str, float], sabotage: str | None) -> Row:
    b = np.array(B_WITH, dtype=float)
    scale = np.sqrt(b) if sabotage == "sd-scaling" else b
    per_group = [np.mean([np.array(g.with_r) / (tr[g.problem] / scale) for g in gs]) for gs in groups]
    return interval_row(
        "with replacement: tr Cov / (tr Sigma/b), mean over 2 problems x b in {1..256}",
        1.0,
        t_interval(per_group),
        what="groups",
    )


def row_without(
    groups: list[list[Noise]], tr: dict[str, float], n: dict[str, int], sabotage: str | None
) -> Row:
    per_group = []
    for gs in groups:
        ratios = []
        for g in gs:
            b = np.array(b_without(n[g.problem]), dtype=float)
            fpc = np.ones_like(b) if sabotage == "no-fpc" else (n[g.problem] - b) / (n[g.problem] - 1.0)
            scale = np.sqrt(b) if sabotage == "sd-scaling" else b
            ratios.append(np.array(g.without) / (fpc * tr[g.problem] / scale))
        per_group.append(np.mean(ratios))
    return interval_row(
        "without: tr Cov / ((N-b)/(N-1) tr Sigma/b), mean over 2 problems x b in {16..3N/4}",
        1.0,
        t_interval(per_group),
        what="groups",
    )


def row_minibatch_grad(bug: str | None, seed: np.random.SeedSequence) -> Row:
    """The problem's minibatch gradient against the check's per-sample gradients (least squares,
    reductions "mean" and "sum": for "sum" the unbiased estimate is N times the batch mean)."""
    X, y, w = ls_data()
    b, n, d = 8, X.shape[0], X.shape[1]
    ratios, diffs = [], []
    cases: tuple[tuple[Literal["mean", "sum"], float], ...] = (("mean", 1.0), ("sum", float(n)))
    for reduction, scale in cases:
        problem = _Buggy(least_squares(X, y, reduction=reduction), bug)
        g = np.asarray(problem.minibatch_grad(w, np.random.default_rng(seed), b, replace=False))
        idx = np.asarray(problem.batch_indices(np.random.default_rng(seed), b, replace=False))
        rows = 2.0 * (X[idx] @ w - y[idx])[:, None] * X[idx]
        mine = scale * rows.mean(axis=0)
        err_r = (d + 1) * U * (np.abs(X[idx]) @ np.abs(w) + np.abs(y[idx]))
        err_rows = 2.0 * err_r[:, None] * np.abs(X[idx]) + U * np.abs(rows)
        bound = (
            2.0
            * scale
            * float(np.linalg.norm(err_rows.mean(axis=0) + (b + 1) * U * np.abs(rows).mean(axis=0)))
        )
        diffs.append(float(np.linalg.norm(g - mine)))
        ratios.append(diffs[-1] / bound)
    return Row(
        quantity="least squares: minibatch_grad vs (1 or N) x mean of 2 r_i x_i over batch_indices (b = 8; mean, sum)",
        predicted="equal",
        measured=f"|diff| {fmt(diffs)}",
        tolerance=f"<= first-order rounding bound (docstring); worst |diff|/bound {fmt(max(ratios))}",
        holds=max(ratios) <= 1.0,
    )


def row_slope(groups: list[list[Noise]], tr: dict[str, float]) -> Row:
    pooled = {
        p: np.mean([[g.with_r for g in gs if g.problem == p][0] for gs in groups], axis=0) for p in PROBLEMS
    }
    slopes = [loglog_slope(B_WITH, pooled[p]) for p in PROBLEMS]
    sd = [math.sqrt(pooled[p][0] / pooled[p][1]) for p in PROBLEMS]  # b = 1 vs 4
    return report_row(
        "log-log slope of tr Cov vs b; sd(1)/sd(4) (least squares, Peaks)",
        f"slopes {fmt(slopes)} (predicted -1); sd ratio {fmt(sd)} (predicted 2)",
    )


def run(ctx: Context) -> Outcome:
    k, m_with, m_without = (32, 64, 16) if ctx.tier == "quick" else (32, 256, 64)
    tr: dict[str, float] = {}
    n: dict[str, int] = {}
    jobs = []
    for i, name in enumerate(PROBLEMS):
        problem, G = make_problem(name, ctx.sabotage)
        Y, tr[name] = project(G)
        n[name] = Y.shape[0]
        jobs += [(name, Y, s, m_with, m_without, ctx.sabotage) for s in trial_seeds(ctx, k, stream=i)]
    res: list[Noise] = ctx.map(_group, jobs)
    groups = [[res[j * k + g] for j in range(len(PROBLEMS))] for g in range(k)]
    rows = (
        row_with(groups, tr, ctx.sabotage),
        row_without(groups, tr, n, ctx.sabotage),
        row_minibatch_grad(ctx.sabotage, trial_seeds(ctx, 1, stream=9)[0]),
        row_slope(groups, tr),
    )
    figure: dict[str, Any] = {
        p: {
            "N": n[p],
            "trSigma": tr[p],
            "b_with": list(B_WITH),
            "b_without": list(b_without(n[p])),
            "T_with": [list(gs[j].with_r) for gs in groups],
            "T_without": [list(gs[j].without) for gs in groups],
        }
        for j, p in enumerate(PROBLEMS)
    }
    return Outcome(rows=rows, figure=figure)


def plot(result: CheckResult, path: str) -> None:
    from ._plot import save, subplots

    fig, axes = subplots(2)
    for ax, (nm, f) in zip(axes, result.figure.items()):
        bw, bo = np.array(f["b_with"]), np.array(f["b_without"])
        N, trS = f["N"], f["trSigma"]
        ax.loglog(bw, np.mean(f["T_with"], axis=0), "o", color="C0", label="with replacement (measured)")
        ax.loglog(bw, trS / bw, "C0-", lw=0.8, label="tr Sigma / b")
        ax.loglog(
            bo, np.mean(f["T_without"], axis=0), "s", color="C3", label="without replacement (measured)"
        )
        bb = np.linspace(1, bo.max(), 200)
        ax.loglog(bb, (N - bb) / (N - 1) * trS / bb, "C3--", lw=0.8, label="(N-b)/(N-1) tr Sigma / b")
        ax.set_title(f"{nm} (top {M_DIRS} principal directions)", fontsize=9)
        ax.set_xlabel("batch size b")
        ax.set_ylabel("tr V^T Cov[minibatch gradient] V")
        ax.legend(fontsize=7)
    save(fig, path, "Minibatch noise: Sigma/b and the finite-population correction")

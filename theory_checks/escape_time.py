r"""Escape times from a well: exponential in the barrier under Gaussian noise (Kramers),
polynomial in the noise scale under alpha-stable noise (one big jump); SGD against Adam.

Claim:
    Note 000 ("Beyond the Gaussian Approximation") and note 001 ("Adam Vector Field Theory", its
    slide on why Adam dampens noise): heavy-tailed (alpha-stable) gradient noise makes "large
    jumps" that leave sharp minima, which the Gaussian model does not capture; Adam dampens the
    noise, so its escape time is larger than SGD's. Made quantitative: (a) with Gaussian noise
    sigma, SGD (step eta) is the SDE dX = -V'(X) dt + sqrt(eta sigma^2) dW at temperature
    T = eta sigma^2 / 2 (t = k eta), so its mean exit time grows like exp(dV / T) =
    exp(2 dV / (eta sigma^2)) (Kramers 1940; Eyring): d log E tau / d(1/(eta sigma^2)) -> 2 dV;
    (b) with symmetric alpha-stable noise the exit is one jump of size ~ h, probability per step
    ~ 2 C_alpha (eta sigma / h)^alpha, C_alpha = Gamma(alpha) sin(pi alpha / 2) / pi, so
    E tau ~ h^alpha / (2 C_alpha (eta sigma)^alpha): polynomial, slope -alpha in log-log, set by
    the width h and not the depth (Imkeller & Pavlyukevich 2006; Simsekli et al. 2019);
    (d) so doubling the depth leaves it nearly unchanged, where under Gaussian noise it multiplies
    it by about exp(2 dV / (eta sigma^2)); (c) SGD against Adam under the same alpha-stable noise.

Setup:
    ``reference.experiments.escape`` (specs/escape.md): the cosine well (ES1) with dV = 1, h = 1,
    walkers started at the minimum, fed g = V'(x) + sigma xi (ES3) through ``ref.sgd(0.1)``;
    tau = first step outside (-h, h) (ES5). (a) Gaussian xi, four levels 2 dV / (eta sigma^2) in
    {1.5, 2.25, 3.0, 3.75}; (b) SaS xi with alpha = 1.5, eta sigma in {0.06, 0.085, 0.12, 0.17}.
    Each level has k groups of n walkers (quick 16 x 64, full 32 x 256), all levels of a row in
    one batch from one seed of ``trial_seeds``. (d) at eta sigma = 0.085, SGD in a well twice
    as deep (dV = 2, h = 1), k groups of n walkers of its own. (c) at eta sigma = 0.085: ``ref.adam`` (defaults
    but lr) with lr set so that its median per-step displacement on pure noise equals SGD's
    (eta sigma median|xi|), measured by a seeded pilot run of 1000 walkers for 60 steps (steps
    11-60); both optimizers see independent draws of the same law; Adam's runs are cut at 20
    times SGD's predicted mean.
    Prediction, exact for the discrete chain x' = x - eta V'(x) - eta sigma xi (SGD on this
    problem is that Markov chain): the mean exit time tau(x) solves tau(x) = 1 + integral over
    (-h, h) of K(x, y) tau(y) dy, K the density of x' given x; solved by Nystrom on composite
    6-point Gauss-Legendre panels no wider than eta sigma (against 8-point panels three times
    narrower, tau(0) moves by < 1e-6 relative at every level, < 1e-10 for the Gaussian ones). The SaS density is the inverse Fourier transform
    of exp(-|u|^alpha) by the trapezoid rule (FFT, 2^18 points, du = 0.01): by Poisson summation
    its error is the sum of the density's periodic images, < 1e-8, and linear interpolation on
    du = 0.01 adds < 2e-5 relative; nothing of it comes from the code under test.

Measured:
    (a) per group, the least-squares slope of log(mean exit time) against 1/(eta sigma^2) over
    the four levels; tested: the exact chain's slope fitted the same way (the asymptote 2 dV = 2
    shown beside). (b) per group, the slope of log(mean exit time) against log(eta sigma);
    tested: the exact chain's fitted slope (asymptote -alpha = -1.5 shown). (d) per group, the
    log ratio of the mean exit times at dV = 2 and dV = 1 (eta sigma = 0.085; disjoint walkers);
    tested: the exact chain's log ratio (asymptote 0; the Gaussian chain's log ratio for the same
    doubling at 2 dV / (eta sigma^2) = 2.25 is shown beside it, 1.20). (c) report: the
    ratio of Adam's to SGD's mean exit time (t-interval of the per-group log ratio), against the
    notes' "Adam larger"; there is no independent prediction of its size (it depends on how the
    two learning rates are matched), so it is a report row.

Tolerance:
    Student-t intervals at the suite level ``_stats.LEVEL`` of the per-group slopes and log
    ratios (groups are disjoint sets of independent walkers; each statistic is a linear
    combination of logs of means of n nearly exponential exit times, close to normal). The log of a mean of n
    exponentials is biased by -1/(2n) at every level alike, which cancels in the slope to within
    the differences of the levels' relative variances (< 0.002 of a slope against half-widths
    > 0.05). The prediction's quadrature error is below 1e-5 relative (above).

References:
    Note 000 ("Beyond the Gaussian Approximation"); note 001 ("Adam Vector Field Theory", "Why Adam
    Dampens Noise", escape-time table). Kramers, H. A. (1940), Physica 7. Imkeller, P. and
    Pavlyukevich, I. (2006), First exit times of SDEs driven by stable Levy processes, Stoch.
    Proc. Appl. 116. Simsekli, U., Sagun, L. and Gurbuzbalaban, M. (2019), A Tail-Index Analysis
    of Stochastic Gradient Noise in Deep Neural Networks, ICML. Zhou, P., Feng, J., Ma, C.,
    Xiong, C., Hoi, S. and E, W. (2020), Towards Theoretically Understanding Why SGD Generalizes
    Better Than Adam in Deep Learning, NeurIPS (the escape-time table of note 001).

Sabotage:
    "gaussian-labelled-stable": the stable row's noise is the alpha = 2 member (Gaussian, N(0, 2))
    while the prediction says alpha = 1.5 (rows b and d). "kramers-no-factor-2": the Gaussian prediction at
    temperature eta sigma^2 instead of eta sigma^2 / 2 (the exponent dV / (eta sigma^2)).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

import reference as ref
from reference.experiments.escape import Noise, Well, exit_times, standard_noise

from ._base import CheckResult, Context, Outcome, Row, report_row
from ._stats import fmt, interval_row, t_interval, trial_seeds

NAME = "escape_time"
CLAIM = "SGD exit time: exp(2 dV/(eta sigma^2)) under Gaussian noise; ~ (eta sigma)^-alpha and depth-free under SaS noise; Adam vs SGD reported"
SOURCE = "note 000, 'Beyond the Gaussian Approximation'; note 001, 'Adam Vector Field Theory'"
SABOTAGE: tuple[str, ...] = ("gaussian-labelled-stable", "kramers-no-factor-2")
JUSTIFICATION = "t-intervals (suite level) over disjoint groups of walkers of the fitted slopes, against the exact discrete chain's mean exit times (Nystrom)"
STAT_ROWS = 3

WELL = Well(depth=1.0, half_width=1.0)
ETA = 0.1
ALPHA = 1.5
KRAMERS = (1.5, 2.25, 3.0, 3.75)  # 2 dV / (eta sigma^2)
STEPS = (0.06, 0.085, 0.12, 0.17)  # eta sigma of the stable row
ADAM_LEVEL = 1  # index into STEPS
DEEP = 2.0  # the deeper well of row (d), same width
DEPTH_GAUSS = 1  # index into KRAMERS: the Gaussian level whose depth doubling is shown beside row (d)


def _gauss_sigma(r: float) -> float:
    return math.sqrt(2.0 * WELL.depth / (ETA * r))


# ---------------------------------------------------------------------------------------------
# The prediction: the discrete chain's mean exit time by Nystrom (independent of the code under test)


def _nodes(h: float, panels: int, q: int = 6) -> tuple[np.ndarray, np.ndarray]:
    x, w = np.polynomial.legendre.leggauss(q)
    edges = np.linspace(-h, h, panels + 1)
    a, b = edges[:-1, None], edges[1:, None]
    return ((a + b) / 2 + (b - a) / 2 * x).ravel(), ((b - a) / 2 * w).ravel()


def sas_pdf(alpha: float, du: float = 0.01, n: int = 2**18) -> Callable[[np.ndarray], np.ndarray]:
    """The SaS(alpha) density, characteristic function exp(-|u|^alpha), on |u| < n du / 2 by the
    trapezoid rule of its Fourier integral (an FFT), interpolated linearly."""
    dt = 2.0 * math.pi / (n * du)
    c = np.exp(-((np.arange(n // 2 + 1) * dt) ** alpha))
    f = np.fft.irfft(c, n=n)[: n // 2] * n * dt / (2.0 * math.pi)
    idx = np.arange(f.size, dtype=np.float64)

    def pdf(u: np.ndarray) -> np.ndarray:
        out: np.ndarray = np.interp(np.abs(u) / du, idx, f)
        return out

    return pdf


def gauss_pdf(u: np.ndarray) -> np.ndarray:
    out: np.ndarray = np.exp(-0.5 * u * u) / math.sqrt(2.0 * math.pi)
    return out


def chain_mean_exit(pdf: Callable[[np.ndarray], np.ndarray], step: float, well: Well = WELL) -> float:
    """E tau from x = 0 for x' = x - eta V'(x) - step xi, xi with density ``pdf``:
    tau = 1 + K tau on (-h, h), Nystrom."""
    h = well.half_width
    y, w = _nodes(h, max(8, math.ceil(2.0 * h / step)))

    def kernel(x: np.ndarray) -> np.ndarray:
        mu = x - ETA * well.grad(x)
        out: np.ndarray = pdf((y[None, :] - mu[:, None]) / step) / step * w
        return out

    tau = np.linalg.solve(np.eye(y.size) - kernel(y), np.ones(y.size))
    return float(1.0 + (kernel(np.zeros(1)) @ tau)[0])


# ---------------------------------------------------------------------------------------------
# The measurement


@dataclass(frozen=True)
class Levels:
    """Per group and level, the mean exit time (k, 4), and the censored count."""

    means: np.ndarray
    censored: int


def _levels(
    args: tuple[str, tuple[float, ...], float, int, int, int, np.random.SeedSequence, str, float, float],
) -> Levels:
    law, sigmas, alpha, k, n, max_steps, seed, algo, lr, depth = args
    opt = ref.make(algo, lr=lr)
    scale = np.repeat(np.asarray(sigmas), k * n)
    ex = exit_times(
        opt,
        Well(depth, WELL.half_width),
        Noise(law, scale, alpha),
        np.zeros(scale.size),
        np.random.default_rng(seed),
        max_steps=max_steps,
    )
    return Levels(ex.times.reshape(len(sigmas), k, n).mean(axis=2).T.astype(np.float64), ex.censored)


def adam_lr(sigma: float, alpha: float, seed: np.random.SeedSequence) -> float:
    """Adam's lr whose median per-step displacement on pure noise equals SGD's (eta sigma median|xi|):
    Adam's displacement on a flat loss is exactly proportional to lr, so one pilot run at lr = 1."""
    rng = np.random.default_rng(seed)
    opt = ref.adam(1.0)
    xi = standard_noise("stable", alpha, (60, 1000), rng)
    state, steps = opt.init(np.zeros(1000)), []
    for t in range(60):
        new = opt.step(state, sigma * xi[t])
        if t >= 10:
            steps.append(np.abs(new.params - state.params))
        state = new
    return float(ETA * sigma * np.median(np.abs(xi)) / np.median(steps))


def _fit(x: np.ndarray, y: np.ndarray) -> float:
    return float(np.polyfit(x, y, 1)[0])


def row_kramers(lv: Levels, pred: np.ndarray, sabotage: str | None) -> Row:
    x = np.array([r / (2.0 * WELL.depth) for r in KRAMERS])  # 1/(eta sigma^2)
    iv = t_interval([_fit(x, np.log(m)) for m in lv.means])
    p = _fit(x, np.log(pred))
    asym = "dV (sabotaged)" if sabotage == "kramers-no-factor-2" else f"2 dV = {fmt(2 * WELL.depth)}"
    cens = f", {lv.censored} censored" if lv.censored else ""
    return interval_row(
        f"Gaussian: slope of log E tau vs 1/(eta sigma^2){cens}",
        p,
        iv,
        shown=f"{fmt(p)} (exact chain); asymptote {asym}",
        what="groups",
    )


def row_stable(lv: Levels, pred: np.ndarray) -> Row:
    x = np.log(np.array(STEPS))
    iv = t_interval([_fit(x, np.log(m)) for m in lv.means])
    p = _fit(x, np.log(pred))
    cens = f", {lv.censored} censored" if lv.censored else ""
    return interval_row(
        f"SaS alpha = {ALPHA}: slope of log E tau vs log(eta sigma){cens}",
        p,
        iv,
        shown=f"{fmt(p)} (exact chain); asymptote -alpha = {fmt(-ALPHA)}",
        what="groups",
    )


def row_depth(shallow: np.ndarray, deep: Levels, pred: float, gauss: float) -> Row:
    """(d) Twice the depth, the same width, the same SaS noise: E tau barely moves (one jump of
    size ~ h leaves, whatever the depth); the Gaussian chain's factor at its level is shown."""
    iv = t_interval(np.log(deep.means[:, 0] / shallow))
    cens = f", {deep.censored} censored" if deep.censored else ""
    return interval_row(
        f"SaS: log E tau(dV = {fmt(DEEP)}) / E tau(dV = {fmt(WELL.depth)}), eta sigma = {STEPS[ADAM_LEVEL]}{cens}",
        pred,
        iv,
        shown=f"{fmt(pred)} (exact chain; asymptote 0: width, not depth); Gaussian chain at "
        f"2 dV/(eta sigma^2) = {fmt(KRAMERS[DEPTH_GAUSS])}: {fmt(gauss)}",
        what="groups",
    )


def row_adam(sgd: np.ndarray, adam: Levels, lr: float) -> Row:
    iv = t_interval(np.log(adam.means[:, 0] / sgd))
    ratio = f"{fmt(math.exp(iv.estimate))} [{fmt(math.exp(iv.lo))}, {fmt(math.exp(iv.hi))}]"
    if iv.lo > 0:
        verdict = "Adam slower: the notes' claim holds here"
    elif iv.hi < 0:
        verdict = "Adam FASTER: the notes' claim does not hold here"
    else:
        verdict = "no difference resolved"
    cens = f"; {adam.censored} Adam walkers censored (ratio a lower bound)" if adam.censored else ""
    return report_row(
        f"Adam / SGD mean exit time, SaS alpha = {ALPHA}, eta sigma = {STEPS[ADAM_LEVEL]}, Adam lr = {fmt(lr)} (same median step)",
        f"{ratio}: {verdict}{cens}",
        note="report only: no independent prediction of its size (depends on the lr matching)",
    )


def run(ctx: Context) -> Outcome:
    k, n = (16, 64) if ctx.tier == "quick" else (32, 256)
    sab = ctx.sabotage
    g_sig = tuple(_gauss_sigma(r) for r in KRAMERS)
    s_sig = tuple(s / ETA for s in STEPS)
    pred_g = np.array([chain_mean_exit(gauss_pdf, ETA * s) for s in g_sig])
    if sab == "kramers-no-factor-2":  # noise sd sqrt(2) sigma: temperature eta sigma^2
        pred_g_tested = np.array([chain_mean_exit(gauss_pdf, ETA * s * math.sqrt(2.0)) for s in g_sig])
    else:
        pred_g_tested = pred_g
    pdf = sas_pdf(ALPHA)
    pred_s = np.array([chain_mean_exit(pdf, s) for s in STEPS])
    deep = Well(DEEP, WELL.half_width)
    pred_deep = chain_mean_exit(pdf, STEPS[ADAM_LEVEL], deep)
    g_step = ETA * g_sig[DEPTH_GAUSS]
    gauss_depth = math.log(chain_mean_exit(gauss_pdf, g_step, deep) / pred_g[DEPTH_GAUSS])
    seeds = trial_seeds(ctx, 5)
    noise_alpha = 2.0 if sab == "gaussian-labelled-stable" else ALPHA
    items = [
        ("gaussian", g_sig, 2.0, k, n, int(20 * pred_g.max()), seeds[0], "sgd", ETA, WELL.depth),
        ("stable", s_sig, noise_alpha, k, n, int(20 * pred_s.max()), seeds[1], "sgd", ETA, WELL.depth),
        ("stable", (s_sig[ADAM_LEVEL],), noise_alpha, k, n, int(20 * pred_deep), seeds[4], "sgd", ETA, DEEP),
    ]
    lg, ls, ld = ctx.map(_levels, items)
    lr = adam_lr(s_sig[ADAM_LEVEL], noise_alpha, seeds[2])
    adam_item = (
        "stable",
        (s_sig[ADAM_LEVEL],),
        noise_alpha,
        k,
        n,
        int(20 * pred_s[ADAM_LEVEL]),
        seeds[3],
        "adam",
        lr,
        WELL.depth,
    )
    la: Levels = ctx.map(_levels, [adam_item])[0]
    rows = (
        row_kramers(lg, pred_g_tested, sab),
        row_stable(ls, pred_s),
        row_depth(ls.means[:, ADAM_LEVEL], ld, math.log(pred_deep / pred_s[ADAM_LEVEL]), gauss_depth),
        row_adam(ls.means[:, ADAM_LEVEL], la, lr),
    )
    c_alpha = math.gamma(ALPHA) * math.sin(math.pi * ALPHA / 2) / math.pi
    figure: dict[str, Any] = {
        "kramers_x": [r / (2.0 * WELL.depth) for r in KRAMERS],
        "kramers_measured": lg.means.mean(axis=0).tolist(),
        "kramers_pred": pred_g.tolist(),
        "stable_x": list(STEPS),
        "stable_measured": ls.means.mean(axis=0).tolist(),
        "stable_pred": pred_s.tolist(),
        "stable_asym": [WELL.half_width**ALPHA / (2 * c_alpha * s**ALPHA) for s in STEPS],
        "adam": float(la.means.mean()),
        "deep": float(ld.means.mean()),
    }
    return Outcome(rows=rows, figure=figure)


def plot(result: CheckResult, path: str) -> None:
    from ._plot import save, subplots

    fig, (ax1, ax2) = subplots(2)
    f = result.figure
    ax1.semilogy(f["kramers_x"], f["kramers_measured"], "o", label="SGD, Gaussian noise (measured)")
    ax1.semilogy(f["kramers_x"], f["kramers_pred"], "k+-", lw=0.8, label="exact chain (Nystrom)")
    ax1.set_xlabel("1 / (eta sigma^2)")
    ax1.set_ylabel("mean exit time (steps)")
    ax1.legend(fontsize=7)
    ax2.loglog(f["stable_x"], f["stable_measured"], "o", label="SGD, SaS noise (measured)")
    ax2.loglog(f["stable_x"], f["stable_pred"], "k+-", lw=0.8, label="exact chain (Nystrom)")
    ax2.loglog(f["stable_x"], f["stable_asym"], "k--", lw=0.8, label="h^a / (2 C_a (eta sigma)^a)")
    ax2.loglog([f["stable_x"][ADAM_LEVEL]], [f["adam"]], "s", color="C3", label="Adam (same median step)")
    ax2.loglog(
        [f["stable_x"][ADAM_LEVEL]], [f["deep"]], "^", color="C2", label=f"SGD, depth {DEEP} (twice as deep)"
    )
    ax2.set_xlabel("eta sigma")
    ax2.set_ylabel("mean exit time (steps)")
    ax2.legend(fontsize=7)
    save(fig, path, result.claim)

r"""Noise leaves a strict saddle in a time set by the linearisation; gradient descent on the stable
manifold never does.

Claim:
    Note 002, section 2.4 (SGD, eq. (7)): the gradient noise "helps escape local minima and saddle
    points"; note 001, "Key Insights Across Three Lectures": "SGD noise helps: escapes saddles";
    note 003, "Gradient Descent (GD)": GD is sensitive to saddle points. At the strict saddle 0 of
    f(x, y) = sum_j lambda_j x_j^2 / 2 - gamma y^2 / 2 + y^4 / 4 (Hessian diag(lambda, -gamma)):
    (a) GD started on the stable manifold y = 0 stays on it exactly (y_t = 0 in float64: the
    y-gradient -gamma y + y^3 is 0 there) and converges to the saddle;
    (b) off the manifold the unstable coordinate grows like (1 + eta gamma)^t: GD from y_0 = delta
    leaves the ball ||theta|| < r at T = ceil(log(h(r) / h(delta)) / log(1 + eta gamma)), h the
    Koenigs coordinate of the y-map (below);
    (c) GD with isotropic noise of scale sigma (perturbed GD, Ge et al. 2015, Jin et al. 2017;
    ``ref.noisy_sgd`` with constant noise) started at the saddle leaves the ball in a time
    T ~ log(1/sigma) / log(1 + eta gamma) + const: the slope of the mean exit time against
    log(1/sigma) is 1/log(1 + eta gamma), not 1/(eta gamma) (the two differ by 23 % at eta gamma = 1/2).

Setup:
    d = 3 (lambda = (1, 1/2), gamma = 1), eta = 1/2 (eta gamma = 1/2, a = 1 + eta gamma = 3/2), r = 1/2.
    The y-coordinate decouples: y_{t+1} = F(y_t) - eta sigma xi_t, F(y) = a y - eta y^3 (increasing on
    [0, 1]). Koenigs' linearisation: h(y) = lim_n a^n F^{-n}(y) satisfies h(F(y)) = a h(y), h(0) = 0,
    h'(0) = 1; computed by n inverse steps (brentq on [0.999 y/a, y], to 8u relative) until F^{-n}(y) < 1e-9
    (then h(z) = z (1 + O(z^2)), relative error < 1e-17). (b): ``ref.gd(eta)`` from (0, 0, delta),
    delta in {1e-2, 1e-5, 1e-8, 1e-11}. (c): W walkers (the flat vector of W d parameters of the
    separable sum, so one optimizer step moves all walkers) for each
    sigma_k = 1e-4 a^{-10 k}, k = 0..3 (spacing exactly 10 periods of the a-growth: see Tolerance),
    ``ref.noisy_sgd(eta, eta=sigma^2, gamma=0, seed=...)`` fed the closed-form gradient
    (lambda x, -gamma y + y^3), theta_0 = 0; T = first t with ||theta_t|| >= r (censored at 120).
    Quick: 8 groups x 500 walkers per level; full: 32 groups x 1000. One optimizer per level moves
    all groups' walkers (its own seed from ``trial_seeds``); the groups use disjoint entries of the
    draws, so they are independent replicates.

Measured:
    (a) max_t |y_t| over 200 GD steps from (x_0, 0), ||x_0|| = 0.4, and ||theta_200||.
    (b) GD's exit step from each delta.
    (c) per group, the mean exit time at each sigma_k; the least-squares slope of those means against
    log(1/sigma_k); and their average over the levels.
    Report: the spread sd(T) (its prediction sqrt(pi^2 / (8 log^2 a) + 1/12): log|Z| has variance
    pi^2/8, and the ceiling adds Sheppard's 1/12), and the per-level means.

Prediction (c):
    In the linear phase y_t = -eta sigma sum_{s<t} a^{t-1-s} xi_s = a^t W_t, W_t -> W ~
    N(0, s_W^2), s_W = eta sigma / sqrt(a^2 - 1); afterwards the deterministic map carries h(y) by the
    factor a per step (h(y_t) = a^t W up to the noise of late steps, relative size eta sigma / r
    <= 1e-4, and a^{-2t} ~ (sigma/r)^2). Hence T = ceil(log(h(r)/|W|) / log a) and exactly
    E[T] = sum_{j >= 0} P(a^j |W| < h(r)) = sum_{j >= 0} erf(h(r) a^{-j} / (s_W sqrt 2)).
    With sigma_{k+1} = sigma_k a^{-10}, T(sigma_{k+1}) has the law of T(sigma_k) + 10 exactly (the
    ceiling's periodic bias, of amplitude ~0.05 steps here, cancels), so the slope of E[T] against
    log(1/sigma) over these levels is exactly 1/log a.

Tolerance:
    (c) Student-t intervals at the suite level over independent groups (``_stats.t_interval``): of
    the per-group slopes (each a least-squares fit to 4 means of 500 or 1000 exit times, close to
    normal), and of the per-group averages of the level means. Two "stat" rows.
    (a) exact: y_t = 0 is a fixed point of y - eta (-gamma y + y^3) in float64; ||theta_T|| <=
    ((1 - eta lambda_min)(1 + 8u))^T ||theta_0||: per coordinate fl(x - fl(eta fl(lambda x))) =
    (1 - eta lambda) x + rounding of at most (eta lambda 2.01u + u (1 + ...)) |x| <= 8u (1 - eta lambda) |x|
    for eta lambda <= 3/4.
    (b) exact integers: T = ceil(U), U = log(h(r)/h(delta)) / log a, wherever U is at least 1e-9 from
    an integer (float64 iterates carry relative error <= 4u per step, and the map's elasticity
    y F'(y)/F(y) <= 1 keeps it additive: <= 2e-13 relative after 60 steps; h to < 1e-13); closer
    than that either neighbour is accepted.

References:
    Note 002, section 2.4 "Stochastic Gradient Descent (SGD)"; note 001, "Key Insights Across Three
    Lectures"; note 003, "Gradient Descent (GD)". Ge, R., Huang, F., Jin, C. and Yuan, Y. (2015),
    Escaping from saddle points: online stochastic gradient for tensor decomposition, COLT; Jin, C.,
    Ge, R., Netrapalli, P., Kakade, S. M. and Jordan, M. I. (2017), How to escape saddle points
    efficiently, ICML; Koenigs, G. (1884), Recherches sur les integrales de certaines equations
    fonctionnelles, Ann. Sci. ENS.

Sabotage:
    "stable-noise": the noise is added only along the stable directions x (its y entries zeroed).
    "gamma-sign": the problem's -gamma y^2/2 with the wrong sign (+gamma: a minimum, not a saddle).
    "linear-slope": the predicted slope 1/(eta gamma) instead of 1/log(1 + eta gamma).
    Planted in a copy of reference/ (this check alone): caught gd-lr-2pct and gd-lr-10pct-small
    (``tools.mutants`` ids; row (b)), and, by hand in noisy_sgd, sigma = eta instead of sqrt(eta)
    (both rows of (c)) and the noise not multiplied by the lr (the level row; the slope does not
    depend on the noise scale). Not caught: gd-wd-sign (no weight decay here).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import brentq
from scipy.special import erf

import reference as ref

from ._base import CheckResult, Context, Outcome, Row, report_row
from ._stats import fmt, interval_row, ols_slope, t_interval, trial_seeds

NAME = "saddle_escape"
CLAIM = (
    "GD on the stable manifold stays (y_t = 0); noise of scale sigma leaves the saddle in "
    "E[T] = log(1/sigma)/log(1 + eta gamma) + const"
)
SOURCE = "note 002, '2.4 Stochastic Gradient Descent (SGD)' (noise helps leave saddles)"
SABOTAGE: tuple[str, ...] = ("stable-noise", "gamma-sign", "linear-slope")
JUSTIFICATION = (
    "Student-t intervals over independent groups of walkers of the slope and the level of the mean "
    "exit time (exact law of the "
    "linearised exit time); exact float64 fixed point and exit steps for GD"
)
STAT_ROWS = 2

U = 2.0**-53
ETA, GAMMA, LAMBDAS, R = 0.5, 1.0, (1.0, 0.5), 0.5
D = len(LAMBDAS) + 1
A_RATE = 1.0 + ETA * GAMMA
SIGMA0, SPACING, LEVELS = 1e-4, 10, 4
SIGMAS = tuple(SIGMA0 * A_RATE ** (-SPACING * k) for k in range(LEVELS))
T_MAX, GD_STEPS, X0_NORM = 120, 200, 0.4
DELTAS = (1e-2, 1e-5, 1e-8, 1e-11)
AMBIGUOUS = 1e-9
LAM = np.array(LAMBDAS)


def grad(theta: Any, sabotage: str | None = None) -> Any:
    """The gradient (lambda x, -gamma y + y^3) of every walker (rows of theta reshaped to (W, d))."""
    th = np.reshape(theta, (-1, D))
    y = th[:, -1]
    g_sign = 1.0 if sabotage == "gamma-sign" else -1.0
    gy = g_sign * GAMMA * y + y * y * y
    return np.concatenate([th[:, :-1] * LAM, gy[:, None]], axis=1).reshape(-1)


def _f_map(y: float) -> float:
    return A_RATE * y - ETA * y**3


def koenigs(y: float) -> float:
    """h(y) = lim_n a^n F^{-n}(y), F(y) = a y - eta y^3 (0 <= y <= 1)."""
    z, scale = y, 1.0
    while z >= 1e-9:
        z = float(brentq(lambda u, t=z: _f_map(u) - t, 0.999 * z / A_RATE, z, xtol=1e-300, rtol=8 * U))
        scale *= A_RATE
    return scale * z


def expected_exit(sigma: float, h_r: float) -> float:
    """E[T] = sum_j erf(h(r) a^{-j} / (s_W sqrt 2)), s_W = eta sigma / sqrt(a^2 - 1)."""
    s_w = ETA * sigma / math.sqrt(A_RATE**2 - 1.0)
    total, j = 0.0, 0
    while True:
        term = float(erf(h_r * A_RATE**-j / (s_w * math.sqrt(2.0))))
        total += term
        j += 1
        if term < 1e-17:
            return total


class StableNoise:
    """Sabotage "stable-noise": numpy's draws of (NS2) with the y entries zeroed."""

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def __call__(self, t: int, p: int) -> Any:
        z = np.random.default_rng([self.seed, t]).standard_normal(p).reshape(-1, D)
        z[:, -1] = 0.0
        return z.reshape(-1)


def exit_times(sigma: float, walkers: int, seed: int, sabotage: str | None) -> Any:
    """First t with ||theta_t|| >= r for each walker of noisy GD from the saddle (T_MAX if never)."""
    noise = StableNoise(seed) if sabotage == "stable-noise" else None
    opt = ref.noisy_sgd(ETA, eta=sigma * sigma, gamma=0.0, seed=seed, noise=noise)
    state = opt.init(np.zeros(walkers * D))
    T = np.full(walkers, T_MAX)
    for t in range(1, T_MAX + 1):
        state = opt.step(state, grad(state.params, sabotage))
        out = np.sum(np.reshape(state.params, (-1, D)) ** 2, axis=1) >= R * R
        T = np.where(out & (T == T_MAX), t, T)
        if np.all(T < T_MAX):
            break
    return T


@dataclass(frozen=True)
class Trial:
    means: tuple[float, ...]  # mean exit time per sigma level
    sds: tuple[float, ...]


def _level(args: tuple[np.random.SeedSequence, float, int, int, str | None]) -> Any:
    """One sigma level: one optimizer moves the k groups of W walkers (its own seed); returns the
    exit times as a (k, W) array, one independent group per row."""
    seed, sigma, groups, walkers, sabotage = args
    return exit_times(sigma, groups * walkers, int(seed.generate_state(1)[0]), sabotage).reshape(
        groups, walkers
    )


def trials_from_levels(levels: list[Any]) -> list[Trial]:
    """Group g's mean and sd at every level (the groups are independent replicates)."""
    return [
        Trial(tuple(float(np.mean(T[g])) for T in levels), tuple(float(np.std(T[g], ddof=1)) for T in levels))
        for g in range(levels[0].shape[0])
    ]


@dataclass(frozen=True)
class GDRuns:
    y_max: float  # max_t |y_t| from the stable manifold
    final: float  # ||theta_T||
    final_bound: float
    exits: tuple[int, ...]  # GD's exit step from each delta
    predicted: tuple[float, ...]  # U = log(h(r)/h(delta)) / log a


def gd_runs(rng: np.random.Generator, sabotage: str | None) -> GDRuns:
    """(a) GD from (x_0, 0) for GD_STEPS steps; (b) GD from (0, delta) until it leaves the ball."""
    opt = ref.gd(ETA)
    x0 = rng.standard_normal(D - 1)
    st = opt.init(np.concatenate([X0_NORM * x0 / np.linalg.norm(x0), [0.0]]))
    y_max = 0.0
    for _ in range(GD_STEPS):
        st = opt.step(st, grad(st.params, sabotage))
        y_max = max(y_max, abs(float(st.params[-1])))
    final = float(np.linalg.norm(st.params))
    bound = ((1.0 - ETA * min(LAMBDAS)) * (1.0 + 8 * U)) ** GD_STEPS * X0_NORM
    h_r = koenigs(R)
    exits, pred = [], []
    for delta in DELTAS:
        st = opt.init(np.array([0.0] * (D - 1) + [delta]))
        t = 0
        while t < T_MAX and float(np.linalg.norm(st.params)) < R:
            st = opt.step(st, grad(st.params, sabotage))
            t += 1
        exits.append(t)
        pred.append(math.log(h_r / koenigs(delta)) / math.log(A_RATE))
    return GDRuns(y_max, final, bound, tuple(exits), tuple(pred))


def row_manifold(gd: GDRuns) -> Row:
    return Row(
        quantity=f"GD from (x_0, 0), {GD_STEPS} steps: max_t |y_t|; ||theta_T|| / bound",
        predicted="y_t = 0 exactly; theta_T -> 0 (the saddle)",
        measured=f"{fmt(gd.y_max)}; {fmt(gd.final / gd.final_bound)}",
        tolerance="0 exactly; <= 1 (((1 - eta lambda_min)(1 + 8u))^T ||theta_0||)",
        holds=gd.y_max == 0.0 and gd.final <= gd.final_bound,
    )


def _gd_exit_ok(exit_t: int, u: float) -> bool:
    frac = u - math.floor(u)
    if min(frac, 1.0 - frac) < AMBIGUOUS:
        return exit_t in (math.floor(u), math.ceil(u), round(u) + 1)
    return exit_t == math.ceil(u)


def row_gd_exit(gd: GDRuns) -> Row:
    return Row(
        quantity=f"GD from (0, delta), delta = {fmt(list(DELTAS))}: exit step from ||theta|| < {fmt(R)}",
        predicted="ceil(log(h(r)/h(delta)) / log(1 + eta gamma)) = "
        + fmt([math.ceil(u) for u in gd.predicted]),
        measured=fmt(list(gd.exits)),
        tolerance="equal (integers; either neighbour within 1e-9 of an integer)",
        holds=all(_gd_exit_ok(t, u) for t, u in zip(gd.exits, gd.predicted)),
    )


def row_slope(trials: list[Trial], sabotage: str | None) -> Row:
    x = [math.log(1.0 / s) for s in SIGMAS]
    iv = t_interval([ols_slope(x, t.means).estimate for t in trials])
    if sabotage == "linear-slope":
        return interval_row(
            "slope of mean exit time vs log(1/sigma)",
            1.0 / (ETA * GAMMA),
            iv,
            shown="1/(eta gamma) = 2",
            what="groups",
        )
    pred = 1.0 / math.log(A_RATE)
    return interval_row(
        "slope of mean exit time vs log(1/sigma)",
        pred,
        iv,
        shown=f"1/log(1 + eta gamma) = {fmt(pred)}",
        what="groups",
    )


def row_level(trials: list[Trial], expected: list[float]) -> Row:
    iv = t_interval([float(np.mean(t.means)) for t in trials])
    return interval_row(
        f"mean exit time averaged over sigma = {fmt(list(SIGMAS))}",
        float(np.mean(expected)),
        iv,
        shown=f"{fmt(float(np.mean(expected)))} (sum_j erf(h(r) a^-j / (s_W sqrt 2)), per level {fmt(expected)})",
        what="groups",
    )


def run(ctx: Context) -> Outcome:
    k, walkers = (8, 500) if ctx.tier == "quick" else (32, 1000)
    args = [(s, sig, k, walkers, ctx.sabotage) for s, sig in zip(trial_seeds(ctx, LEVELS), SIGMAS)]
    trials = trials_from_levels(ctx.map(_level, args))
    gd = gd_runs(np.random.default_rng(trial_seeds(ctx, 1, stream=1)[0]), ctx.sabotage)
    h_r = koenigs(R)
    expected = [expected_exit(s, h_r) for s in SIGMAS]
    sd_pred = math.sqrt(math.pi**2 / (8 * math.log(A_RATE) ** 2) + 1.0 / 12.0)
    means = np.mean([t.means for t in trials], axis=0)
    return Outcome(
        rows=(
            row_manifold(gd),
            row_gd_exit(gd),
            row_slope(trials, ctx.sabotage),
            row_level(trials, expected),
            report_row(
                "per-level mean exit time; sd of T (predicted sqrt(pi^2/(8 log^2 a) + 1/12) = "
                + fmt(sd_pred)
                + ")",
                f"means {fmt(list(means))}; sd {fmt(float(np.mean([t.sds for t in trials])))}",
            ),
        ),
        figure={
            "sigmas": list(SIGMAS),
            "means": [list(t.means) for t in trials],
            "expected": expected,
        },
    )


def plot(result: CheckResult, path: str) -> None:
    from ._plot import save, subplots

    fig, (ax,) = subplots()
    f = result.figure
    x = np.log(1.0 / np.array(f["sigmas"]))
    for j, m in enumerate(f["means"]):
        ax.plot(x, m, "o", color="C0", alpha=0.4, label="mean exit time (one seed)" if j == 0 else None)
    ax.plot(x, f["expected"], "k-", label="sum_j erf(h(r) a^-j / (s_W sqrt 2))")
    ax.plot(x, f["expected"][0] + (x - x[0]) / (ETA * GAMMA), "r:", label="slope 1/(eta gamma)")
    ax.set_xlabel("log(1/sigma)")
    ax.set_ylabel("steps to leave ||theta|| < r")
    ax.legend()
    save(fig, path, result.claim)

r"""Robbins-Monro: decaying steps drive E||theta_t - theta*||^2 to zero (O(1/t) for a = 1); a
constant step stalls at a floor proportional to lr.

Claim:
    SGD theta_{t+1} = theta_t - eta_t grad l(theta_t; x_t, y_t) on a strongly convex stochastic
    problem with eta_t = c/(t0 + t)^a, 1/2 < a <= 1 (sum eta_t = inf, sum eta_t^2 < inf) drives
    E||theta_t - theta*||^2 to zero; for a = 1 (and c mu > 1/2) at the rate O(1/t). With a
    constant eta it stalls at a noise floor O(sigma^2 eta) that grows linearly with eta.

Setup:
    Streaming least squares l(theta; x, y) = (1/2)(x^T theta - y)^2 with x ~ N(0, H),
    H = diag(0.5, 0.8, 1.25, 2) (mu = 0.5), y = x^T theta* + sigma eps, sigma = 1, a fresh sample
    each step. SGD is ``ref.sgd`` with ``ref.schedules.robbins_monro`` for a = 1 (c = 3, t0 = 15:
    c mu = 1.5, eta_0 = 0.2; the initial error is forgotten as (t0/(t0 + t))^(2 c h), so the
    window below is close to the O(1/t) regime) and a = 3/4 (c = 0.2 t0^(3/4), t0 = 15,
    eta_0 = 0.2), and with constant eta in {0.02, 0.04, 0.08}. Each schedule runs k x R chains
    stacked in one parameter vector (SGD is elementwise), k = 32 independent groups, from
    theta_0 - theta* = (1, 1, 1, 1) for T steps (quick: R = 32, T = 600; full: R = 64,
    T = 1200), and a short run of 8R (decaying) or 2R (constant) chains per group from
    (3, 3, 3, 3) up to the bias time below. The gradient is formed by the check.

    Predictions are exact, not asymptotic, and do not run the code under test: for Gaussian x the
    second moment P_t = E[e_t e_t^T] obeys P_{t+1} = P_t - eta_t (H P_t + P_t H) +
    eta_t^2 (2 H P_t H + tr(H P_t) H + sigma^2 H) (Isserlis), and the mean obeys
    E[e_{t+1}] = (I - eta_t H) E[e_t]; both recursions, and the schedule, are written in the check.

Measured:
    From the chains' iterates, by the check.
    (1) a = 1: the log-log slope of the group mean of ||e_t||^2 against t0 + t on 10 log-spaced
        t in [T/4, T], per group; predicted: the same fit of tr P_t (asymptote -1).
    (2) levels of E||e_t||^2: per group, the mean over the five schedules and their grid points
        (decaying: the slope grid; constant: 8 points of the last quarter, the floor) of
        (group mean of ||e_t||^2) / tr P_t; predicted 1. A 10 % error in c or eta moves it by
        ~11 %, a 2 % error by ~2.3 %.
    (3) floor proportional to eta: the log-log slope of the floor (mean over the last quarter)
        against eta; predicted: the same fit of tr P_t (first order 1; the O(eta^2) terms of the
        Gaussian fourth moments make the exact fit 1.18 on {0.02, 0.04, 0.08}).
    (4), (5) the bias E[e_0^T e_t] / ||e_0||^2 = sum_i e_{0,i}^2 prod_s (1 - eta_s h_i) / ||e_0||^2
        (short runs): per group, the mean over the decaying (resp. constant) schedules of
        (group mean of e_0^T e_t / ||e_0||^2) / its prediction at the t where the prediction has
        fallen to e^-3; predicted 1. The bias has decayed by 3 nats there, so a 2 % step-size
        error moves it by ~5 %, and a schedule read one step late (eta_{t+1} for step t) moves
        the decaying ones by ~ c h / t0 (8-10 %).
    Report: the a = 3/4 slope beside its exact fit (asymptote -3/4 per the seed's O(eta_t)), and
    each exact stationary floor divided by eta.

Tolerance:
    Every stat row is the Student-t interval at the suite level ``_stats.LEVEL`` over the k = 32
    independent groups (df = 31). Each group's statistic averages R chains or more (and several
    times), so it is close to normal; the slopes are smooth functions of such averages. The
    predictions are exact expectations; in the slope rows the fitted log of a group mean has a
    bias of order relvar/2 (relvar = (sd/mean)^2/R <= 2/32 at the quick tier, nearly equal
    across t, so the slope bias is far below the interval).

References:
    Note 000, "SGD Convergence in a Nutshell" (Robbins-Monro conditions; noise-induced error
    O(sigma^2 eta_t)). Robbins, H. and Monro, S. (1951). A Stochastic Approximation Method.

Sabotage:
    "wrong-prediction": predicts slope -1/2 for a = 1 (the seed's O(1/sqrt t) convex bound).
    "no-decay": the a = 1 and a = 3/4 runs use a schedule that never decays (eta_t = c/t0^a).
    "lr-2pct": a planted optimizer bug: every schedule's step size is 2 % too large.
    "lr-10pct": the same bug with a 10 % error (the issue's example, which slopes alone missed).
    "off-by-one": a planted optimizer bug, the schedule read one step late (eta_{t+1} for step t).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

import reference as ref

from ._base import CheckResult, Context, Outcome, Row, report_row
from ._stats import fmt, interval_row, loglog_slope, t_interval, trial_seeds

NAME = "robbins_monro"
CLAIM = "SGD with eta_t = c/(t0+t)^a, 1/2 < a <= 1: E||theta_t - theta*||^2 -> 0, O(1/t) for a = 1; constant eta: floor proportional to eta"
SOURCE = "note 000, 'SGD Convergence in a Nutshell' (Robbins & Monro 1951)"
SABOTAGE: tuple[str, ...] = ("wrong-prediction", "no-decay", "lr-2pct", "lr-10pct", "off-by-one")
JUSTIFICATION = "t-interval (suite level) over 32 independent groups of chains; predictions from the exact first- and second-moment recursions of SGD on Gaussian streaming least squares"
STAT_ROWS = 5

H = np.array([0.5, 0.8, 1.25, 2.0])
SIGMA = 1.0
T0 = 15.0
C = {1.0: 3.0, 0.75: 0.2 * T0**0.75}  # c per exponent a: eta_0 = 0.2 for both (c mu = 1.5 for a = 1)
E0 = np.full(4, 1.0)  # start of the level chains
E0_BIAS = np.full(4, 3.0)  # start of the bias chains
CONST_LRS = (0.02, 0.04, 0.08)
KINDS: tuple[float, ...] = (1.0, 0.75, *CONST_LRS)  # a for decaying schedules, else eta
_D = H.size
_BIAS_NATS = 3.0


class _Buggy:
    """A planted optimizer-side bug: the schedule scaled by ``factor`` and read ``shift`` steps
    late (picklable, unlike a lambda)."""

    def __init__(self, base: Callable[[int], float], factor: float, shift: int) -> None:
        self.base, self.factor, self.shift = base, factor, shift

    def __call__(self, t: int) -> float:
        return self.factor * self.base(t + self.shift)


def decaying(kind: float) -> bool:
    return kind in (1.0, 0.75)


def lr_seq(kind: float, T: int) -> np.ndarray:
    """The schedule the claim is about, eta_0..eta_{T-1}, written here (not read from ref)."""
    t = np.arange(T, dtype=np.float64)
    return C[kind] / (T0 + t) ** kind if decaying(kind) else np.full(T, kind)


def _schedule(kind: float, sabotage: str | None) -> Any:
    base: Callable[[int], float] = (
        ref.schedules.robbins_monro(C[kind], t0=T0, a=kind)
        if decaying(kind)
        else ref.schedules.constant(kind)
    )
    if sabotage == "no-decay" and decaying(kind):
        return float(C[kind] / T0**kind)
    factor = {"lr-2pct": 1.02, "lr-10pct": 1.10}.get(sabotage or "", 1.0)
    shift = 1 if sabotage == "off-by-one" else 0
    return _Buggy(base, factor, shift) if (factor != 1.0 or shift) else base


@dataclass(frozen=True)
class Exact:
    """tr P_t (E||e_t||^2) and E[e_0^T e_t]/||e_0||^2 for t = 0..T, from the recursions."""

    mse: np.ndarray
    bias: np.ndarray


def exact(lrs: np.ndarray, e0: np.ndarray) -> Exact:
    P = np.outer(e0, e0)
    mean = e0.copy()
    mse, bias = [float(np.trace(P))], [1.0]
    Hd = np.diag(H)
    for eta in lrs:  # H is diagonal: H P = H[:, None] * P, P H = P * H[None, :]
        HP = H[:, None] * P
        P = (
            P
            - eta * (HP + HP.T)
            + eta**2 * (2.0 * HP * H[None, :] + float(np.sum(H * np.diag(P))) * Hd + SIGMA**2 * Hd)
        )
        mean = mean - eta * H * mean
        mse.append(float(np.trace(P)))
        bias.append(float(e0 @ mean / (e0 @ e0)))
    return Exact(np.array(mse), np.array(bias))


def stationary_floor(eta: float) -> float:
    """tr P of the fixed point of the second-moment recursion (P diagonal since H is)."""
    # fixed point, diagonal p: 2 eta h p = eta^2 (2 h^2 p + (h.p) h + sigma^2 h)
    A = np.diag(2 * eta * H - 2 * eta**2 * H**2) - eta**2 * np.outer(H, H)
    return float(np.sum(np.linalg.solve(A, eta**2 * SIGMA**2 * H)))


def grids(T: int) -> tuple[np.ndarray, np.ndarray]:
    """(slope/level grid for decaying schedules, floor grid for constant ones)."""
    return np.unique(np.geomspace(T // 4, T, 10).astype(int)), np.linspace(3 * T // 4, T, 8).astype(int)


def bias_time(kind: float) -> int:
    """The first t at which the predicted bias has fallen to e^-3."""
    b = exact(lr_seq(kind, 2000), E0_BIAS).bias
    return int(np.argmax(b <= np.exp(-_BIAS_NATS)))


@dataclass(frozen=True)
class Chains:
    """One schedule's k groups: group means of ||e_t||^2 and of e_0^T e_t/||e_0||^2 at ``ts``."""

    kind: float
    ts: tuple[int, ...]
    mse: np.ndarray  # (k, len(ts))
    bias: np.ndarray  # (k, len(ts))


def _simulate(
    args: tuple[float, np.ndarray, np.random.SeedSequence, int, int, tuple[int, ...], str | None],
) -> Chains:
    """k x R chains of one schedule from e0 (stacked: SGD is elementwise), recorded at ``ts``."""
    kind, e0, seed, k, R, ts, sabotage = args
    rng = np.random.default_rng(seed)
    n = k * R
    sqrtH = np.sqrt(H)
    opt = ref.sgd(lr=_schedule(kind, sabotage))
    state = opt.init(np.tile(e0, n))  # theta* = 0, so params = e_t
    mse, bias = [], []
    for t in range(1, max(ts) + 1):
        z = rng.standard_normal((n, _D + 1))
        x = z[:, :_D] * sqrtH  # x ~ N(0, H)
        resid = np.einsum("ij,ij->i", x, state.params.reshape(n, _D)) - SIGMA * z[:, _D]  # x^T theta - y
        state = opt.step(state, (x * resid[:, None]).ravel())
        if t in ts:
            e = state.params.reshape(k, R, _D)
            mse.append((e**2).sum(axis=2).mean(axis=1))
            bias.append((e @ e0).mean(axis=1) / (e0 @ e0))
    return Chains(kind, ts, np.array(mse).T, np.array(bias).T)


def row_slope_a1(ch: Chains, ex: Exact, sabotage: str | None) -> Row:
    ts = np.array(ch.ts)
    iv = t_interval([loglog_slope(ts + T0, m) for m in ch.mse])
    pred = loglog_slope(ts + T0, ex.mse[ts])
    shown = f"-1 (exact recursion on this window: {fmt(pred)})"
    if sabotage == "wrong-prediction":
        pred, shown = -0.5, "-0.5"
    return interval_row("a = 1: slope of log E||e_t||^2 vs log(t0 + t)", pred, iv, shown=shown, what="groups")


def row_levels(chains: list[Chains], exs: list[Exact]) -> Row:
    per_group = np.mean([(ch.mse / ex.mse[list(ch.ts)]).mean(axis=1) for ch, ex in zip(chains, exs)], axis=0)
    return interval_row(
        "E||e_t||^2 / tr P_t (exact), mean over 5 schedules x grid", 1.0, t_interval(per_group), what="groups"
    )


def row_floor_slope(chains: list[Chains], exs: list[Exact]) -> Row:
    floors = np.array([ch.mse.mean(axis=1) for ch in chains]).T  # (k, n_eta)
    pred = loglog_slope(CONST_LRS, [ex.mse[list(ch.ts)].mean() for ch, ex in zip(chains, exs)])
    iv = t_interval([loglog_slope(CONST_LRS, f) for f in floors])
    return interval_row(
        "constant eta: slope of log floor vs log eta",
        pred,
        iv,
        shown=f"1 (exact recursion: {fmt(pred)})",
        what="groups",
    )


def row_bias(chains: list[Chains], exs: list[Exact], what: str) -> Row:
    ratios = [ch.bias[:, 0] / ex.bias[ch.ts[0]] for ch, ex in zip(chains, exs)]
    return interval_row(
        f"{what}: bias E[e_0^T e_t]/||e_0||^2 / prod_s(1 - eta_s h) at e^-3",
        1.0,
        t_interval(np.mean(ratios, axis=0)),
        what="groups",
    )


def row_slope_a34(ch: Chains, ex: Exact) -> Row:
    ts = np.array(ch.ts)
    iv = t_interval([loglog_slope(ts + T0, m) for m in ch.mse])
    return report_row(
        "a = 3/4: slope of log E||e_t||^2 vs log(t0 + t)",
        f"{iv} (exact recursion {fmt(loglog_slope(ts + T0, ex.mse[ts]))}, asymptote -0.75)",
    )


def run(ctx: Context) -> Outcome:
    k, R, T = (32, 32, 600) if ctx.tier == "quick" else (32, 64, 1200)
    r_bias = {"decaying": 8 * R, "constant": 2 * R}  # chains per group of the short bias runs
    grid, floor_grid = grids(T)
    exs = [exact(lr_seq(kind, T), E0) for kind in KINDS]
    tbs = [bias_time(kind) for kind in KINDS]
    ex_b = [exact(lr_seq(kind, tb), E0_BIAS) for kind, tb in zip(KINDS, tbs)]
    jobs = [
        (
            kind,
            E0,
            trial_seeds(ctx, 1, stream=i)[0],
            k,
            R,
            tuple((grid if decaying(kind) else floor_grid).tolist()),
            ctx.sabotage,
        )
        for i, kind in enumerate(KINDS)
    ]
    jobs += [
        (
            kind,
            E0_BIAS,
            trial_seeds(ctx, 1, stream=10 + i)[0],
            k,
            r_bias["decaying" if decaying(kind) else "constant"],
            (tb,),
            ctx.sabotage,
        )
        for i, (kind, tb) in enumerate(zip(KINDS, tbs))
    ]
    out: list[Chains] = ctx.map(_simulate, jobs)
    chains, bias = out[: len(KINDS)], out[len(KINDS) :]
    rows = (
        row_slope_a1(chains[0], exs[0], ctx.sabotage),
        row_levels(chains, exs),
        row_floor_slope(chains[2:], exs[2:]),
        row_bias(bias[:2], ex_b[:2], "decaying a = 1, 3/4"),
        row_bias(bias[2:], ex_b[2:], "constant eta"),
        row_slope_a34(chains[1], exs[1]),
        report_row(
            "exact stationary floor / eta",
            ", ".join(f"{fmt(stationary_floor(e) / e)} (eta {e:g})" for e in CONST_LRS),
        ),
    )
    figure = {
        "T": T,
        "ts": [list(c.ts) for c in chains],
        "kinds": list(KINDS),
        "measured": [c.mse.mean(axis=0).tolist() for c in chains],
        "exact": [ex.mse.tolist() for ex in exs],
    }
    return Outcome(rows=rows, figure=figure)


def plot(result: CheckResult, path: str) -> None:
    from ._plot import save, subplots

    f = result.figure
    fig, (a1, a2) = subplots(2)
    t_all = np.arange(f["T"] + 1)
    for i, kind in enumerate(f["kinds"]):
        label = f"a = {kind:g}" if decaying(kind) else f"eta = {kind:g}"
        a1.loglog(t_all[1:] + T0, f["exact"][i][1:], "k--", lw=0.6)
        a1.loglog(np.array(f["ts"][i]) + T0, f["measured"][i], "o", ms=3, color=f"C{i}", label=label)
    a1.set_xlabel("t0 + t")
    a1.set_ylabel("E||theta_t - theta*||^2 (dashed: exact)")
    a1.legend(fontsize=7)
    lrs = np.array(CONST_LRS)
    meas = [np.mean(f["measured"][2 + j]) for j in range(len(lrs))]
    a2.loglog(lrs, meas, "o", color="C0", label="measured floor")
    a2.loglog(lrs, [stationary_floor(e) for e in lrs], "k-", label="exact stationary floor")
    a2.set_xlabel("constant eta")
    a2.set_ylabel("floor of E||e_t||^2")
    a2.legend(fontsize=7)
    save(fig, path, "Robbins-Monro: decaying steps converge, constant steps stall at ~eta")

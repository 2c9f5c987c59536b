r"""AdaGrad's effective step only decreases; RMSProp's does not.

Claim:
    AdaGrad, s_t = s_{t-1} + g_t^2, theta_t = theta_{t-1} - eta g_t / (sqrt(s_t) + eps): the
    effective per-coordinate step eta_eff,t = eta / (sqrt(s_t) + eps) never increases, on any
    gradient stream ("learning rate decreases monotonically", note 004). RMSProp,
    v_t = alpha v_{t-1} + (1 - alpha) g_t^2, replaces the sum by an average ("prevents the learning
    rate from vanishing"): its effective step eta / (sqrt(v_t) + eps) increases exactly when
    g_t^2 < v_{t-1}, by at most a factor alpha^{-1/2} per step.

Setup:
    The effective step is measured from the iterates, not recomputed: the stream is fed open
    loop, and before each step the iterate is reset to 0, so that theta_t = -eta_eff,t g_t exactly
    and eta_eff,t = -theta_t / g_t (coordinates with g_t = 0 take no step and are skipped; the
    next transition is compared with the last coordinate step, k steps earlier). ``ref.adagrad``
    (its defaults: eps = 1e-10 outside the root, torch's) and ``ref.rmsprop`` (alpha = 0.99, its
    default eps = 1e-8 outside) with
    lr = 0.01 see six streams per seed, 2000 steps each, 32 coordinates of the first and 8 of the
    others: Gaussian, Cauchy, decaying
    (N(0,1) e^{-t/500}), growing (N(0,1) e^{t/500}), sparse (95 % zeros) and log-uniform magnitudes
    10^U(-6, 6) with random signs. Seeds: quick 6, full 24 (``_stats.trial_seeds``), stacked six to a
    job. Plus one deterministic stream for RMSProp: g = 1 for 20 steps, then g = 0.01 for 200.

Measured:
    (1) AdaGrad: the number of transitions (over every coordinate, step and stream) at which the
    effective step grows beyond rounding; predicted 0.
    (2) Levels: eta_eff,t against eta / (sqrt(s_t) + eps) (AdaGrad, s_t by a cumulative sum in
    the check) and eta / (sqrt(v_t) + eps) (RMSProp, v_t by the seed's recursion in the check),
    every step of every stream; a wrong lr, eps or accumulator fails here.
    (3) RMSProp: at every transition between consecutive steps, the effective step grows iff
    g_t^2 < v_{t-1} (v from the check's recursion), except at near-ties (|predicted ratio - 1|
    within twice the level bound), which are counted and shown.
    (4) RMSProp on the switch stream: every one of the 200 steps after the switch increases the
    effective step (v_t decreases towards 1e-4 from above).
    (5) RMSProp on i.i.d. N(0, 1) gradients (after a burn-in of 5 / (1 - alpha) steps): the
    fraction of steps that increase the effective step is P(g_t^2 < v_{t-1}) = F(1) + F''(1)
    Var(v) / 2 + F'(1) E[v_{t-1} - 1] + O((1 - alpha)^2), F the chi^2_1 CDF, Var(v) = 2 (1 - alpha)
    / (1 + alpha) in the stationary EMA (v independent of g_t), E[v_{t-1}] = 1 - alpha^(t-1) (v_0 =
    0) averaged over the counted steps: 0.68269 - 0.00121 - 0.00011 = 0.68137 (a direct simulation
    of the recursion, not the optimizer, gives 0.68139 +- 0.00009); t-interval over seeds.
    (6) RMSProp's growth over a gap of k steps never exceeds alpha^{-k/2} (v_t >= alpha^k v_{t-k}).

Tolerance:
    Rounding (u = 2^-53, first order; the second-order terms are below u for t <= 2000 and are
    absorbed by one extra u). Read-out: eta_eff = -fl(fl(eta g) / d) / g carries 3 roundings
    (theta_t = 0 - x is exact). (1) The computed AdaGrad denominator is monotone (fl is monotone
    and s_t = fl(s_{t-1} + fl(g^2)) >= s_{t-1}), so a non-increase shows as a ratio <= 1 + 7u.
    (2) AdaGrad: a sequential sum of t positive terms (the optimizer's and the check's cumsum)
    is within (t + 1)u of s_t each, so the square roots differ by (t + 1)u; with 2 roundings
    (sqrt, + eps) on each side, the prediction's division and the read-out: (t + 10)u relative.
    RMSProp: each EMA step rounds by <= 3u v_k and the error is damped by alpha^(t-k) <= v_t/v_k,
    so each computed v_t is within 3t u v_t; the square roots differ by 3t u: (3t + 9)u.
    (3) follows from (2). (5) Student-t interval at the suite's level over the independent seeds
    (each seed's fraction is a mean over 32 x 1500 indicators, close to normal); the neglected
    terms (third and fourth order, ~3e-5) are under 1 % of its half-width.
    (6) v_t >= fl(alpha v_{t-1}) >= alpha (1 - u) v_{t-1} per step: 1 + (7 + k)u.

References:
    Note 004 ("AdaGrad", "RMSProp"); note 001 ("The Adaptive Paradigm": AdaGrad's rate decays
    too aggressively, RMSprop fixes the decay). Duchi, Hazan & Singer (2011); Tieleman & Hinton
    (2012), Lecture 6.5.

Sabotage:
    "decaying-adagrad": an AdaGrad whose accumulator decays (s <- 0.9 s before each step) must be
        caught by row (1).
    "wrong-frequency": predicts that RMSProp's step grows half of the time.
    "lr-2pct": both optimizers run with lr 2 % too small.
    "eps-inside": both optimizers put eps inside the square root (optax's convention) while the
        claim's equations put it outside.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from reference.first_order.adagrad import adagrad as _adagrad
from reference.first_order.rmsprop import rmsprop as _rmsprop

from ._base import CheckResult, Context, Outcome, Row
from ._stats import fmt, interval_row, t_interval, trial_seeds

NAME = "adaptive_effective_step"
CLAIM = "AdaGrad's eta/(sqrt(s_t)+eps) never increases; RMSProp's increases iff g_t^2 < v_{t-1}"
SOURCE = "note 004, 'AdaGrad' and 'RMSProp'; note 001, 'The Adaptive Paradigm'"
SABOTAGE: tuple[str, ...] = ("decaying-adagrad", "wrong-frequency", "lr-2pct", "eps-inside")
JUSTIFICATION = "monotonicity, levels and the growth condition to derived float64 rounding bounds; RMSProp's growth frequency vs its second-order prediction in a t-interval over seeds"
STAT_ROWS = 1

U = 2.0**-53  # unit roundoff of float64
LR, ALPHA, ADA_EPS, RMS_EPS = 0.01, 0.99, 1e-10, 1e-8
STREAMS = ("gaussian", "cauchy", "decaying", "growing", "sparse", "log-uniform")
_COORDS = {"gaussian": 32, "cauchy": 8, "decaying": 8, "growing": 8, "sparse": 8, "log-uniform": 8}
_STEPS = 2000
_BURN = int(5 / (1 - ALPHA))


@dataclass(frozen=True)
class Trial:
    """One job (several seeds stacked): the worst case of each bound row, the counts, and each
    seed's growth frequency on the Gaussian stream."""

    ada_up: int  # AdaGrad transitions that grow beyond 1 + 7u
    ada_n: int
    ada_level: float  # max |eta_eff / predicted - 1| / bound
    rms_level: float
    iff_wrong: int  # transitions where growth disagrees with g_t^2 < v_{t-1}
    iff_n: int
    iff_ties: int
    rms_growth: float  # max ratio alpha^(k/2) / (1 + (7 + k)u)
    freq: tuple[float, ...]  # per seed


def _stream(kind: str, rng: np.random.Generator, steps: int, coords: int) -> np.ndarray:
    """A (steps, coords) gradient stream of the named kind."""
    t = np.arange(steps, dtype=np.float64)[:, None]
    z = rng.standard_normal((steps, coords))
    if kind == "gaussian":
        return z
    if kind == "cauchy":
        return rng.standard_cauchy((steps, coords))
    if kind == "decaying":
        return z * np.exp(-t / 500.0)
    if kind == "growing":
        return z * np.exp(t / 500.0)
    if kind == "sparse":
        return z * (rng.random((steps, coords)) < 0.05)
    if kind == "log-uniform":
        return np.sign(z) * 10.0 ** rng.uniform(-6.0, 6.0, (steps, coords))
    raise ValueError(f"unknown stream kind {kind!r}")


def _optimizers(sabotage: str | None) -> tuple[Any, Any]:
    """AdaGrad and RMSProp with the factories' defaults (eps 1e-10 and 1e-8, outside the root:
    the values the predictions use) and alpha = 0.99."""
    lr = LR * 0.98 if sabotage == "lr-2pct" else LR
    kw: dict[str, Any] = {"eps_placement": "inside"} if sabotage == "eps-inside" else {}
    return _adagrad(lr, **kw), _rmsprop(lr, alpha=ALPHA, **kw)


def effective_steps(opt: Any, grads: np.ndarray, decay: float | None = None) -> np.ndarray:
    """eta_eff,t = -theta_t / g_t read from ``opt`` with the iterate reset to 0 before each step
    (NaN where g_t = 0). ``decay`` multiplies AdaGrad's accumulator before each step (sabotage)."""
    state = opt.init(np.zeros(grads.shape[1]))
    zeros = np.zeros(grads.shape[1])
    theta = np.empty(grads.shape)
    for t, g in enumerate(grads):
        state = dataclasses.replace(state, params=zeros)
        if decay is not None:
            state = dataclasses.replace(state, s=decay * state.s)
        state = opt.step_fn(state, g)  # the bare rule (no argument checks)
        theta[t] = state.params
    out: np.ndarray = np.divide(-theta, grads, out=np.full(grads.shape, np.nan), where=grads != 0)
    return out


def rms_v(grads: np.ndarray) -> np.ndarray:
    """v_0..v_T by the seed's recursion v_t = alpha v_{t-1} + (1 - alpha) g_t^2, v_0 = 0."""
    v = np.zeros((grads.shape[0] + 1, grads.shape[1]))
    for t, g in enumerate(grads):
        v[t + 1] = ALPHA * v[t] + (1 - ALPHA) * g * g
    return v


def _level_excess(eff: np.ndarray, pred: np.ndarray, per_t: float, const: float) -> float:
    """max |eff / pred - 1| / ((per_t t + const) u) over the finite read-outs."""
    t = np.arange(1, eff.shape[0] + 1, dtype=np.float64)[:, None]
    ok = np.isfinite(eff)
    return float(
        np.max(np.abs(eff[ok] / pred[ok] - 1) / (np.broadcast_to(per_t * t + const, eff.shape)[ok] * U))
    )


def _transitions(eff: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ratios eff_t / eff_{t'} between consecutive coordinate steps (g != 0) and the gaps t - t'."""
    ok = np.isfinite(eff)
    steps = np.arange(eff.shape[0])[:, None]
    last = np.maximum.accumulate(np.where(ok, steps, -1), axis=0)  # last step with g != 0, up to t
    prev = np.vstack([np.full((1, eff.shape[1]), -1), last[:-1]])
    has = ok & (prev >= 0)
    cols = np.broadcast_to(np.arange(eff.shape[1]), eff.shape)[has]
    return eff[has] / eff[prev[has], cols], (steps - prev)[has].astype(np.float64)


def _trial(args: tuple[list[np.random.SeedSequence], str | None]) -> Trial:
    """The seeds' streams side by side as coordinates of one vector (the updates are per coordinate)."""
    seeds, sabotage = args
    grads = np.concatenate(
        [
            _stream(kind, rng, _STEPS, _COORDS[kind])
            for rng in map(np.random.default_rng, seeds)
            for kind in STREAMS
        ],
        axis=1,
    )
    adagrad, rmsprop = _optimizers(sabotage)
    eff_a = effective_steps(adagrad, grads, 0.9 if sabotage == "decaying-adagrad" else None)
    eff_r = effective_steps(rmsprop, grads)
    r_a, _ = _transitions(eff_a)
    r_r, k = _transitions(eff_r)
    v = rms_v(grads)
    pred_r = LR / (np.sqrt(v[1:]) + RMS_EPS)
    # (3): consecutive steps with g != 0 on both
    both = np.isfinite(eff_r[1:]) & np.isfinite(eff_r[:-1])
    ratio, pratio = eff_r[1:] / eff_r[:-1], pred_r[1:] / pred_r[:-1]
    tie = np.abs(pratio - 1) <= 2 * (3 * np.arange(2, _STEPS + 1)[:, None] + 9) * U
    wrong = (ratio > 1) != (grads[1:] ** 2 < v[1:-1])
    per_seed = sum(_COORDS.values())  # the Gaussian stream comes first in each seed's block
    gauss = [slice(i * per_seed, i * per_seed + _COORDS["gaussian"]) for i in range(len(seeds))]
    return Trial(
        ada_up=int(np.sum(r_a > 1 + 7 * U)),
        ada_n=int(r_a.size),
        ada_level=_level_excess(eff_a, LR / (np.sqrt(np.cumsum(grads * grads, axis=0)) + ADA_EPS), 1.0, 10.0),
        rms_level=_level_excess(eff_r, pred_r, 3.0, 9.0),
        iff_wrong=int(np.sum(wrong & both & ~tie)),
        iff_n=int(np.sum(both & ~tie)),
        iff_ties=int(np.sum(both & tie)),
        rms_growth=float(np.max(r_r * ALPHA ** (k / 2) / (1 + (7 + k) * U))),
        freq=tuple(float(np.mean(ratio[_BURN:, c] > 1 + 7 * U)) for c in gauss),
    )


def switch_stream(sabotage: str | None) -> tuple[np.ndarray, np.ndarray]:
    """RMSProp (and AdaGrad) on g = 1 (20 steps) then 0.01 (200 steps): effective steps."""
    g = np.concatenate([np.ones(20), np.full(200, 0.01)])[:, None]
    adagrad, rmsprop = _optimizers(sabotage)
    return effective_steps(rmsprop, g)[:, 0], effective_steps(adagrad, g)[:, 0]


def row_adagrad_monotone(trials: list[Trial]) -> Row:
    n_up, n = sum(t.ada_up for t in trials), sum(t.ada_n for t in trials)
    return Row(
        "AdaGrad: transitions where eta_eff grows (6 streams)",
        "0",
        f"{n_up} of {n}",
        "ratio <= 1 + 7u (3 roundings per read-out, u = 2^-53)",
        n_up == 0,
    )


def row_level(label: str, worst: float, law: str, bound: str) -> Row:
    return Row(
        f"{label}: eta_eff,t against {law}, every step",
        "equal (rounding)",
        f"max |ratio - 1| = {fmt(worst)} x bound",
        f"<= {bound} relative",
        worst <= 1.0,
    )


def row_iff(trials: list[Trial]) -> Row:
    wrong, n, ties = (sum(getattr(t, f) for t in trials) for f in ("iff_wrong", "iff_n", "iff_ties"))
    return Row(
        "RMSProp: eta_eff grows iff g_t^2 < v_{t-1} (consecutive steps)",
        "0 disagreements",
        f"{wrong} of {n} ({ties} near-ties skipped)",
        "outside twice the level bound",
        wrong == 0,
    )


def row_switch(eff: np.ndarray) -> Row:
    grows = int(np.sum(eff[20:] > eff[19:-1] * (1 + 7 * U)))
    return Row(
        "RMSProp, g = 1 then 0.01: steps after the switch where eta_eff grows",
        "200 of 200",
        f"{grows} of 200 (x{fmt(float(eff[-1] / eff[19]))} in all)",
        "ratio > 1 + 7u",
        grows == 200,
    )


def predicted_frequency() -> float:
    """E[F(v_{t-1})] to second order, F the chi^2_1 CDF: F(1) + F''(1) Var(v)/2 + F'(1) E[v - 1],
    F'(1) = -F''(1) = e^{-1/2}/sqrt(2 pi), averaged over the counted transitions."""
    dens = math.exp(-0.5) / math.sqrt(2 * math.pi)
    deficit = float(np.mean(ALPHA ** np.arange(_BURN + 1, _STEPS)))  # E[v_{t-1}] = 1 - alpha^(t-1)
    return math.erf(1 / math.sqrt(2)) - dens * (1 - ALPHA) / (1 + ALPHA) - dens * deficit


def row_frequency(trials: list[Trial], sabotage: str | None) -> Row:
    iv = t_interval([f for t in trials for f in t.freq])
    return interval_row(
        "RMSProp on N(0,1) gradients: fraction of steps where eta_eff grows",
        0.5 if sabotage == "wrong-frequency" else predicted_frequency(),
        iv,
    )


def row_growth(trials: list[Trial]) -> Row:
    worst = max(t.rms_growth for t in trials)
    return Row(
        "RMSProp: max growth over k steps, ratio * alpha^(k/2) (6 streams)",
        f"<= 1 (alpha^-1/2 = {fmt(ALPHA**-0.5)} per step)",
        fmt(worst) + " (scaled by 1/(1 + (7 + k) u))",
        "1 + (7 + k) u rounding over a gap of k steps",
        worst <= 1.0,
    )


def run(ctx: Context) -> Outcome:
    k = 6 if ctx.tier == "quick" else 24
    seeds = trial_seeds(ctx, k)
    jobs = [(seeds[i : i + 6], ctx.sabotage) for i in range(0, k, 6)]  # 6 seeds stacked per job
    trials: list[Trial] = ctx.map(_trial, jobs)
    eff_r, eff_a = switch_stream(ctx.sabotage)
    rows = (
        row_adagrad_monotone(trials),
        row_level("AdaGrad", max(t.ada_level for t in trials), "eta/(sqrt(s_t)+eps)", "(t + 10)u"),
        row_level("RMSProp", max(t.rms_level for t in trials), "eta/(sqrt(v_t)+eps)", "(3t + 9)u"),
        row_iff(trials),
        row_switch(eff_r),
        row_frequency(trials, ctx.sabotage),
        row_growth(trials),
    )
    figure = {
        "switch_eff": eff_r.tolist(),
        "switch_eff_ada": eff_a.tolist(),
        "freq": [f for t in trials for f in t.freq],
    }
    return Outcome(rows=rows, figure=figure)


def plot(result: CheckResult, path: str) -> None:
    from ._plot import save, subplots

    fig, (ax1, ax2) = subplots(2)
    f = result.figure
    for key, color, label in (("switch_eff", "C1", "RMSProp"), ("switch_eff_ada", "C0", "AdaGrad")):
        eff = np.array(f[key])
        ax1.semilogy(np.arange(1, eff.size + 1), eff, color=color, label=f"{label}, g = 1 then 0.01")
    ax1.axvline(20.5, color="k", lw=0.5)
    ax1.set_xlabel("step t")
    ax1.set_ylabel("effective step -theta_t / g_t")
    ax1.legend()
    ax2.hist(f["freq"], bins=10, color="C1")
    ax2.axvline(predicted_frequency(), color="k", ls="--", lw=0.8, label="predicted P(g^2 < v)")
    ax2.set_xlabel("fraction of steps where RMSProp's eta_eff grows (per seed, N(0,1) stream)")
    ax2.legend(fontsize=7)
    save(fig, path, result.claim)

r"""AdaGrad's effective step only decreases; RMSProp's does not.

Claim:
    AdaGrad, s_t = s_{t-1} + g_t^2, theta_t = theta_{t-1} - eta g_t / (sqrt(s_t) + eps): the
    effective per-coordinate step eta_eff,t = eta / (sqrt(s_t) + eps) never increases, on any
    gradient stream ("learning rate decreases monotonically", seed 004). RMSProp,
    v_t = alpha v_{t-1} + (1 - alpha) g_t^2, replaces the sum by an average ("prevents the learning
    rate from vanishing"): its effective step eta / (sqrt(v_t) + eps) increases exactly when
    g_t^2 < v_{t-1}, by at most a factor alpha^{-1/2} per step.

Setup:
    The effective step is read from the optimizer itself, not recomputed: the stream is fed open
    loop, and before each step the iterate is reset to 0, so that theta_t = -eta_eff,t g_t exactly
    and eta_eff,t = -theta_t / g_t (coordinates with g_t = 0 are skipped: they take no step; the
    next transition is compared with the last coordinate step, k steps earlier). ``ref.adagrad``
    (eps = 1e-10 outside, torch's default) and ``ref.rmsprop`` (alpha = 0.99, eps = 1e-8) with
    lr = 0.01 see six streams per seed, 64 coordinates x 2000 steps each: Gaussian, Cauchy, decaying
    (N(0,1) e^{-t/500}), growing (N(0,1) e^{t/500}), sparse (95 % zeros) and log-uniform magnitudes
    10^U(-6, 6) with random signs. Seeds: quick 6, full 24 (``_stats.trial_seeds``). Plus one
    deterministic stream for RMSProp: g = 1 for 20 steps, then g = 0.01 for 200 steps.

Measured:
    (1) AdaGrad: the number of transitions (over every coordinate, step and stream) at which the
    effective step grows beyond rounding; predicted 0. (2) RMSProp on the switch stream: every one of
    the 200 steps after the switch increases the effective step (v_t decreases towards 1e-4 from
    above), by the factor (sqrt(v_{t-1}) + eps) / (sqrt(v_t) + eps) computed from the seed's
    equation in numpy; the measured factors match it to rounding. (3) RMSProp on i.i.d. N(0, 1)
    gradients (after a burn-in of 5 / (1 - alpha) steps): the fraction of steps that increase the
    effective step is P(g_t^2 < v_{t-1}) = F(1) + F''(1) Var(v) / 2 + O((1 - alpha)^2), where F is the
    chi^2_1 CDF and Var(v) = 2 (1 - alpha) / (1 + alpha) in the stationary EMA (v independent of
    g_t): 0.68269 - 0.00121 = 0.68147; measured with a t-interval over seeds. (4) RMSProp's growth
    per step never exceeds alpha^{-k/2} over a gap of k steps (v_t >= alpha^k v_{t-k}).

Tolerance:
    Rounding: each read-out eta_eff = -fl(fl(eta g) / d) / g carries at most 3 roundings (theta_t =
    0 - x is exact), and the computed denominator d_t is itself monotone for AdaGrad (fl is monotone
    and s_t = fl(s_{t-1} + fl(g^2)) >= s_{t-1}), so a non-increase shows as a ratio <= 1 + 7u,
    u = 2^-53; RMSProp's bound gets one more rounding per step of the gap, 1 + (7 + k) u. The
    frequency is compared with the 99.9 % t-interval over seeds; the O((1 - alpha)^2) remainder
    (~1e-4) is far below its width.

References:
    Seed 004 ("AdaGrad", "RMSProp"); seed 001 ("The Adaptive Paradigm": AdaGrad's rate decays
    too aggressively, RMSprop fixes the decay). Duchi, Hazan & Singer (2011); Tieleman & Hinton
    (2012), Lecture 6.5.

Sabotage:
    "decaying-adagrad": an AdaGrad whose accumulator decays (s <- 0.9 s before each step) must be
    caught by row (1). "wrong-frequency": predicts that RMSProp's step grows half of the time.
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Any

import numpy as np

from reference.adagrad import adagrad as _adagrad
from reference.rmsprop import rmsprop as _rmsprop

from ._base import CheckResult, Context, Row
from ._stats import fmt, interval_row, t_interval, trial_seeds

NAME = "adaptive_effective_step"
CLAIM = "AdaGrad's eta/(sqrt(s_t)+eps) never increases; RMSProp's increases iff g_t^2 < v_{t-1}"
SOURCE = "seed 004, 'AdaGrad' and 'RMSProp'; seed 001, 'The Adaptive Paradigm'"
SABOTAGE: tuple[str, ...] = ("decaying-adagrad", "wrong-frequency")

U = 2.0**-53  # unit roundoff of float64
LR = 0.01
ALPHA = 0.99
RMS_EPS = 1e-8
STREAMS = ("gaussian", "cauchy", "decaying", "growing", "sparse", "log-uniform")
_COORDS = 64
_STEPS = 2000
_BURN = int(5 / (1 - ALPHA))


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


def _effective_steps(opt: Any, grads: np.ndarray, decay: float | None = None) -> np.ndarray:
    """eta_eff,t = -theta_t / g_t read from ``opt`` with the iterate reset to 0 before each step
    (NaN where g_t = 0). ``decay`` multiplies AdaGrad's accumulator before each step (sabotage)."""
    state = opt.init(np.zeros(grads.shape[1]))
    zeros = np.zeros(grads.shape[1])
    out = np.full(grads.shape, np.nan)
    for t, g in enumerate(grads):
        state = dataclasses.replace(state, params=zeros)
        if decay is not None:
            state = dataclasses.replace(state, s=decay * state.s)
        state = opt.step(state, g)
        nz = g != 0
        out[t, nz] = -state.params[nz] / g[nz]
    return out


def _transitions(eff: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ratios eff_t / eff_{t'} between consecutive coordinate steps (g != 0) and the gaps t - t'."""
    ratios: list[np.ndarray] = []
    gaps: list[np.ndarray] = []
    for j in range(eff.shape[1]):
        idx = np.flatnonzero(np.isfinite(eff[:, j]))
        if idx.size >= 2:
            ratios.append(eff[idx[1:], j] / eff[idx[:-1], j])
            gaps.append(np.diff(idx).astype(np.float64))
    if not ratios:
        return np.zeros(0), np.zeros(0)
    return np.concatenate(ratios), np.concatenate(gaps)


def _trial(args: tuple[np.random.SeedSequence, str | None]) -> dict[str, Any]:
    """One seed: every stream through AdaGrad and RMSProp, plus the Gaussian-stream frequency."""
    seed, sabotage = args
    rng = np.random.default_rng(seed)
    adagrad = _adagrad(LR)
    rmsprop = _rmsprop(LR, alpha=ALPHA, eps=RMS_EPS)
    decay = 0.9 if sabotage == "decaying-adagrad" else None
    out: dict[str, Any] = {"ada_up": {}, "ada_n": {}, "ada_max": {}, "rms_up": {}, "rms_n": {}, "rms_bound": 0.0}
    # all streams side by side as coordinates of one vector (the updates are per coordinate)
    grads = np.concatenate([_stream(kind, rng, _STEPS, _COORDS) for kind in STREAMS], axis=1)
    eff_a = _effective_steps(adagrad, grads, decay)
    eff_r = _effective_steps(rmsprop, grads)
    for i, kind in enumerate(STREAMS):
        cols = slice(i * _COORDS, (i + 1) * _COORDS)
        r_a, _ = _transitions(eff_a[:, cols])
        out["ada_up"][kind] = int(np.sum(r_a > 1 + 7 * U))
        out["ada_n"][kind] = int(r_a.size)
        out["ada_max"][kind] = float(np.max(r_a)) if r_a.size else 1.0
        r_r, k = _transitions(eff_r[:, cols])
        out["rms_up"][kind] = int(np.sum(r_r > 1 + 7 * U))
        out["rms_n"][kind] = int(r_r.size)
        # growth bound: ratio * alpha^{k/2} <= 1 + (7 + k) u
        excess = r_r * ALPHA ** (k / 2) / (1 + (7 + k) * U)
        out["rms_bound"] = max(out["rms_bound"], float(np.max(excess)) if excess.size else 0.0)
    tail = eff_r[_BURN:, : _COORDS]  # the Gaussian stream
    freq = float(np.mean(tail[1:] > tail[:-1] * (1 + 7 * U)))
    out["freq"] = freq
    return out


def _switch_stream() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """RMSProp on g = 1 (20 steps) then 0.01 (200 steps): measured and predicted growth factors."""
    g = np.concatenate([np.ones(20), np.full(200, 0.01)])[:, None]
    eff = _effective_steps(_rmsprop(LR, alpha=ALPHA, eps=RMS_EPS), g)[:, 0]
    v = np.zeros(g.shape[0] + 1)
    for t in range(g.shape[0]):  # the seed's recursion, v_0 = 0
        v[t + 1] = ALPHA * v[t] + (1 - ALPHA) * g[t, 0] ** 2
    d = np.sqrt(v[1:]) + RMS_EPS
    return eff[20:] / eff[19:-1], d[19:-1] / d[20:], eff


def run(ctx: Context) -> CheckResult:
    if ctx.sabotage not in (None, *SABOTAGE):
        raise ValueError(f"{NAME}: sabotage must be one of {SABOTAGE}, got {ctx.sabotage!r}")
    t0 = time.perf_counter()
    k = 6 if ctx.tier == "quick" else 24
    trials = ctx.map(_trial, [(s, ctx.sabotage) for s in trial_seeds(ctx, k)])

    ada_up = {kind: sum(tr["ada_up"][kind] for tr in trials) for kind in STREAMS}
    ada_n = sum(tr["ada_n"][kind] for tr in trials for kind in STREAMS)
    ada_max = max(tr["ada_max"][kind] for tr in trials for kind in STREAMS)
    n_up = sum(ada_up.values())
    rows: list[Row] = [
        Row(
            quantity="AdaGrad: transitions where eta_eff grows (6 streams)",
            predicted="0",
            measured=f"{n_up} of {ada_n} (max ratio 1 + {fmt((ada_max - 1) / U)} u)",
            tolerance="ratio <= 1 + 7u (3 roundings per read-out, u = 2^-53)",
            holds=n_up == 0,
        )
    ]

    measured_f, predicted_f, eff_switch = _switch_stream()
    n_grow = int(np.sum(measured_f > 1 + 7 * U))
    rel = float(np.max(np.abs(measured_f / predicted_f - 1)))
    rows.append(
        Row(
            quantity="RMSProp, g = 1 then 0.01: steps after the switch where eta_eff grows",
            predicted=f"200 of 200, factors (sqrt(v_t-1)+eps)/(sqrt(v_t)+eps) up to {fmt(float(predicted_f.max()))}",
            measured=f"{n_grow} of {measured_f.size}, max |factor/predicted - 1| = {fmt(rel)}",
            tolerance="factor agreement <= 20u (read-out and recursion roundings)",
            holds=n_grow == measured_f.size and rel <= 20 * U,
        )
    )

    p1 = 0.5 * math.erfc(-1 / math.sqrt(2)) - 0.5 * math.erfc(1 / math.sqrt(2))  # P(chi2_1 < 1)
    p2 = p1 - math.exp(-0.5) / math.sqrt(2 * math.pi) * (1 - ALPHA) / (1 + ALPHA)
    pred = 0.5 if ctx.sabotage == "wrong-frequency" else p2
    iv = t_interval([tr["freq"] for tr in trials])
    rows.append(
        interval_row("RMSProp on N(0,1) gradients: fraction of steps where eta_eff grows", pred, iv)
    )
    rms_bound = max(tr["rms_bound"] for tr in trials)
    rms_up = {kind: sum(tr["rms_up"][kind] for tr in trials) for kind in STREAMS}
    rms_n = {kind: sum(tr["rms_n"][kind] for tr in trials) for kind in STREAMS}
    rows.append(
        Row(
            quantity="RMSProp: max growth per step, ratio * alpha^(k/2) (6 streams)",
            predicted=f"<= 1 (growth <= alpha^-1/2 = {fmt(ALPHA**-0.5)} per step)",
            measured=fmt(rms_bound) + " (scaled by 1/(1 + (7 + k) u))",
            tolerance="1 + (7 + k) u rounding over a gap of k steps",
            holds=rms_bound <= 1.0,
        )
    )
    figure: dict[str, Any] = {
        "streams": list(STREAMS),
        "ada_up": ada_up,
        "rms_up": rms_up,
        "rms_n": rms_n,
        "switch_eff": eff_switch.tolist(),
        "switch_eff_ada": _effective_steps(_adagrad(LR), np.concatenate([np.ones(20), np.full(200, 0.01)])[:, None])[:, 0].tolist(),
        "freq": [tr["freq"] for tr in trials],
        "freq_pred": p2,
    }
    return CheckResult(
        name=NAME,
        claim=CLAIM,
        source=SOURCE,
        rows=tuple(rows),
        justification=(
            "monotonicity to rounding (<= 1 + 7u: 3 roundings per read-out of -theta_t/g_t); "
            "RMSProp frequency vs its second-order prediction within the 99.9% t-interval over seeds"
        ),
        figure=figure,
        seconds=time.perf_counter() - t0,
    )


def plot(result: CheckResult, path: str) -> None:
    from ._plot import save, subplots

    fig, (ax1, ax2) = subplots(2)
    f = result.figure
    eff = np.array(f["switch_eff"])
    ax1.semilogy(np.arange(1, eff.size + 1), eff, color="C1", label="RMSProp, g = 1 then 0.01")
    ada = np.array(f["switch_eff_ada"])
    ax1.semilogy(np.arange(1, ada.size + 1), ada, color="C0", label="AdaGrad, same stream")
    ax1.axvline(20.5, color="k", lw=0.5)
    ax1.set_xlabel("step t")
    ax1.set_ylabel("effective step -theta_t / g_t")
    ax1.legend()
    streams = f["streams"]
    x = np.arange(len(streams))
    n = np.maximum(np.array([f["rms_n"][s] for s in streams], dtype=float), 1)
    ax2.bar(x - 0.2, [f["ada_up"][s] / n[i] for i, s in enumerate(streams)], 0.4, label="AdaGrad")
    ax2.bar(x + 0.2, [f["rms_up"][s] / n[i] for i, s in enumerate(streams)], 0.4, label="RMSProp")
    ax2.axhline(f["freq_pred"], color="k", ls="--", lw=0.8, label="predicted P(g^2 < v), Gaussian")
    ax2.set_xticks(x)
    ax2.set_xticklabels(streams, rotation=30, fontsize=7)
    ax2.set_ylabel("fraction of steps where eta_eff grows")
    ax2.legend(fontsize=7)
    save(fig, path, result.claim)

r"""Adam's fixed points are zeros of its vector field, not of the gradient; sign-type methods are
invariant to rescaling the gradient.

Claim:
    (a) "Adam's fixed points satisfy V_Adam(theta*) = 0, not grad L(theta*) = 0" (note 001, "The
    Adam Vector Field"): with stochastic gradients g = grad L(theta) + xi, Adam settles where its
    averaged update E[m_t / (sqrt(v_t) + eps)] vanishes, which differs from grad L = 0 when the
    noise is asymmetric; signSGD (note 002, eq. (12)) settles where E[sign(g)] = 0, i.e. where the
    *median* of g vanishes. (b) Adam with eps = 0, signSGD and Lion are invariant to rescaling
    the gradient, g -> c g, c > 0 ("normalizes magnitude", note 002 3.2.2; "scale invariance",
    note 001 "Lion"); GD is not.

Setup:
    (a) L(theta) = theta^2 / 2 in one dimension, g = theta + xi with xi = E - 1, E ~ Exp(1): mean 0,
    median ln 2 - 1, so grad L = 0 at theta = 0 but the median of g vanishes at theta = 1 - ln 2.
    R = 256 independent chains (quick; full 1024; the coordinates of one vector per optimizer)
    start at theta_0 = 0 (the gradient's zero: the chains must travel to the claimed point) and
    run with the Robbins-Monro schedule eta_t = 2 / (20 + t), so that they converge to the zero
    of the averaged vector field: ``ref.signsgd`` and ``ref.adam(beta1=0.5, beta2=0.9,
    eps=1e-8)``. Predictions: signSGD, theta* = 1 - ln 2 exactly; Adam, the root of F(theta) =
    E[m / (sqrt(v) + eps)] with m, v the stationary EMAs of g at frozen theta (m = theta +
    EMA_b1(xi), v = theta^2 + 2 theta EMA_b2(xi) + EMA_b2(xi^2)), by Monte Carlo over 150 000
    noise draws (full tier 600 000; the control variates EMA_b1(xi), EMA_b2(xi), EMA_b2(xi^2) - 1 of known mean cut
    its variance 16-fold) and Newton's method. (With the default betas 0.9/0.999 the root is
    1.3e-3: the effect is real but small; beta2 = 0.9 makes it large enough to measure cleanly.)
    (b) Open loop: one stream g_t ~ N(0.3, 1)^10, 300 steps, fed as c g_t to ``ref.adam(1e-2,
    eps=0)``, ``ref.signsgd(1e-2)``, ``ref.lion(1e-3)`` and ``ref.gd(1e-2)``, c in {2^-10, 2^-3, 2^3,
    2^10} (exact in binary) and {1e-3, 1e3}.

Measured:
    (a) Per chain, the Richardson combination z = (s2 theta_T2 - s1 theta_T1) / (s2 - s1) of the
    iterates at T1 = 2000 and T2 = 4000 (s = 20 + t, so eta_t = 2 / s); the mean of z over chains
    (t-interval) against the prediction, and against 0. Why: with eta_t = a / s every O(eta)
    bias of the iterate (the nonlinearity of the field, Adam's EMAs lagging a moving theta)
    decays like K / s once the chains track the field (a F' = 2 > 1), and z removes the K / s
    term exactly. Without it, theta_T2 is biased by -3.6e-4 (signSGD) and -6.6e-4 (Adam)
    (measured over 65 536 and 32 768 chains), 0.3-0.6 of the chains' standard error at R = 256
    and 0.6-1.2 at R = 1024: the interval would not have its coverage.
    (b) max_t,i |theta_t(c) - theta_t(1)|: 0 for c = 2^k (every operation of these updates is
    homogeneous of degree 0 in g and scaling by 2^k is exact); for c = 1e-3, 1e3: 0 for the sign
    methods (a sign changes only at an exact rounding tie, which this continuous stream does not
    contain) and a rounding bound for Adam; for GD, theta_T(c) = c theta_T(1) (theta_0 = 0), a
    displacement |c - 1| |theta_T(1)| from the c = 1 run.
    (c) The vector field's integrand itself: ``ref.adam(1e-2)`` with its defaults (0.9, 0.999,
    eps = 1e-8) on the c = 1 stream against the seed's equations m, v, mhat = m/(1 - b1^t),
    vhat = v/(1 - b2^t), theta -= eta mhat / (sqrt(vhat) + eps) computed in the check, every step
    (a wrong bias correction, moment or eps placement changes the field the claim is about);
    likewise ``ref.lion(1e-3)`` (defaults 0.9, 0.99) against the seed's (L1)-(L3).

Tolerance:
    (a) Student-t interval at the suite's level: signSGD, over the R chains (z is a smooth
    function of a Robbins-Monro iterate, close to normal); Adam, Welch's combination of the
    chains' standard error and the Monte-Carlo error of the root (100 batch means of the
    control-variate residuals divided by F'(theta*)). What z leaves: the transient from
    theta_0 (decaying like (20 / s)^2: ~1.5e-5 in z for signSGD) and an O(1/s^2) remainder;
    over 65 536 signSGD chains z differed from 1 - ln 2 by -9e-5 +- 1.4e-4, and Adam's z over
    32 768 chains at (2000, 4000) and at (4000, 8000) agreed within 3e-5: both well below
    0.2 of z's standard error at R = 1024 (1.1e-3).
    (b) Zero for exact scalings; for decimal c, Adam's first-order worst-case rounding bound
    sum_t eta (2t + 8) u (Mhat_t + |mhat_t|) / sqrt(vhat_t) + 2u sum_t |theta_t| (Mhat the EMA of
    |g|: the EMAs' rounding errors are bounded by their sums of absolute values), u = 2^-53.
    GD: each step theta_t = fl(theta_{t-1} - fl(eta fl(c g_t))) errs by at most
    u |theta_t| + 2u eta c |g_t| (first order), so |theta_T(c) - c theta_T(1)| <= e(c) + c e(1) +
    u c |theta_T(1)|, with e(c) = u sum_t (|theta_t(c)| + 2 eta c |g_t|).
    (c) Both computations are within Adam's rounding bound of exact arithmetic: 2 x the bound.
    Lion: the steps are +-eta exactly, so the trajectories agree bit for bit unless a sign is a
    rounding tie; none is possible when every |c_t| exceeds 4u (|beta1 m| + |(1 - beta1) g|)
    (c has 3 roundings), which the row also checks.

References:
    Note 001 ("The Adam Vector Field: Mathematical Derivation"; "Lion": scale invariance); note 002
    3.2.2 (SignSGD, eq. (12)) and 3.2.3 (Adam). Simsekli et al. (2019/2020) for the vector field;
    Bernstein et al. (2018) signSGD (the median condition); Robbins & Monro (1951); Richardson
    extrapolation.

Sabotage:
    "wrong-fixed-point": predicts the zero of the gradient, theta* = 0, for Adam and signSGD.
    "eps-adam": the invariance test uses Adam with eps = 1e-8 instead of 0 (no longer invariant).
    "swapped-betas": the Adam chains run with beta1 = 0.9 and beta2 = 0.5 (the two EMA rates
        swapped, a realistic argument-order bug); the prediction unchanged.
    "no-bias-correction": the run of (c) drops Adam's bias correction (mhat = m, vhat = v).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

import reference as ref
from reference.first_order.lion import lion
from reference.first_order.signsgd import signsgd

from ._base import CheckResult, Context, Outcome, Row
from ._stats import LEVEL, Interval, fmt, trial_seeds

NAME = "adam_fixed_points"
CLAIM = (
    "Adam/signSGD settle where E[update] = 0 (not grad = 0); Adam(eps=0), signSGD, Lion are scale invariant"
)
SOURCE = "note 001, 'The Adam Vector Field' and 'Lion'; note 002, 3.2.2-3.2.3"
SABOTAGE: tuple[str, ...] = ("wrong-fixed-point", "eps-adam", "swapped-betas", "no-bias-correction")
JUSTIFICATION = "fixed points: t-interval (suite level) over independent chains of the Richardson-extrapolated iterate (plus the Monte-Carlo error of Adam's root, Welch); invariance: exact (0) for c = 2^k, derived rounding bounds otherwise"
STAT_ROWS = 2

U = 2.0**-53
BETA1, BETA2, EPS = 0.5, 0.9, 1e-8
S0, T1, T2 = 20.0, 2000, 4000
MC_BATCHES = 100
SCALES = (2.0**-10, 2.0**-3, 2.0**3, 2.0**10, 1e-3, 1e3)


def _schedule(t: int) -> float:
    return 2.0 / (S0 + t)


@dataclass(frozen=True)
class Chains:
    """theta at T1 and T2 for R independent chains of one optimizer."""

    name: str
    early: np.ndarray
    late: np.ndarray

    def extrapolated(self) -> np.ndarray:
        s1, s2 = S0 + T1, S0 + T2
        z: np.ndarray = (s2 * self.late - s1 * self.early) / (s2 - s1)
        return z


@dataclass(frozen=True)
class Root:
    """The predicted fixed point with its Monte-Carlo standard error and degrees of freedom."""

    value: float
    se: float
    df: float


def _chains(args: tuple[str, int, np.random.SeedSequence, str | None]) -> Chains:
    """R chains (coordinates) of the named optimizer on g = theta + (Exp(1) - 1)."""
    name, R, seed, sabotage = args
    rng = np.random.default_rng(seed)
    if name == "signsgd":
        opt: Any = signsgd(_schedule)
    else:
        b1, b2 = (BETA2, BETA1) if sabotage == "swapped-betas" else (BETA1, BETA2)
        opt = ref.adam(_schedule, beta1=b1, beta2=b2, eps=EPS)
    state = opt.init(np.zeros(R))
    early = state.params
    for t in range(1, T2 + 1):
        state = opt.step_fn(state, state.params + (rng.exponential(size=R) - 1.0))  # bare rule
        if t == T1:
            early = state.params
    return Chains(name, np.asarray(early), np.asarray(state.params))


def adam_root(seed: np.random.SeedSequence, draws: int) -> Root:
    """The root of F(theta) = E[m / (sqrt(v) + eps)] at frozen theta (stationary EMAs)."""
    lags = 400  # b^400 <= 0.9^400 < 1e-18: the truncated EMAs are the stationary ones
    xi = np.random.default_rng(seed).exponential(size=draws + lags) - 1.0
    n = 1 << (xi.size + lags).bit_length()
    spec = {"xi": np.fft.rfft(xi, n), "xi2": np.fft.rfft(xi * xi, n)}

    def ema(x: str, b: float) -> np.ndarray:
        """sum_k (1 - b) b^k x_{t-k}, k < lags, for the last ``draws`` t (FFT convolution)."""
        kernel = np.fft.rfft((1 - b) * b ** np.arange(lags), n)
        y: np.ndarray = np.fft.irfft(spec[x] * kernel, n)[lags : xi.size]
        return y

    a1, a2, q2 = ema("xi", BETA1), ema("xi", BETA2), ema("xi2", BETA2)
    cv = (a1, a2, q2 - 1.0)  # control variates with known mean 0
    gram = np.array([[float(np.dot(p, q)) for q in cv] for p in cv])
    cv_mean = np.array([float(np.mean(p)) for p in cv])

    def field(th: float) -> np.ndarray:
        out: np.ndarray = (th + a1) / (np.sqrt(np.maximum(th * th + 2 * th * a2 + q2, 0.0)) + EPS)
        return out

    def coef(h: np.ndarray) -> np.ndarray:
        """Regression of the field on the control variates (same mean, ~16x less variance)."""
        c: np.ndarray = np.linalg.solve(gram, np.array([float(np.dot(p, h - h.mean())) for p in cv]))
        return c

    th, step = 0.0, 1e-3
    slope = float(np.mean(field(th + step) - field(th - step))) / (2 * step)  # F'(0), ~F'(theta*)
    for _ in range(3):  # Newton-like iteration (a fixed slope: linear convergence, rate ~1e-2)
        h = field(th)
        th -= (float(np.mean(h)) - float(cv_mean @ coef(h))) / slope
    slope = float(np.mean(field(th + step) - field(th - step))) / (2 * step)
    h = field(th)
    c = coef(h)
    r = h - c[0] * cv[0] - c[1] * cv[1] - c[2] * cv[2]
    batches = r[: MC_BATCHES * (r.size // MC_BATCHES)].reshape(MC_BATCHES, -1).mean(axis=1)
    return Root(th, float(np.std(batches, ddof=1)) / math.sqrt(MC_BATCHES) / slope, MC_BATCHES - 1.0)


def _welch(z: np.ndarray, pred: Root) -> Interval:
    """t-interval of mean(z) - prediction with Welch's degrees of freedom."""
    from scipy import stats

    v1, v2 = float(np.var(z, ddof=1)) / z.size, pred.se**2
    se = math.sqrt(v1 + v2)
    df = (v1 + v2) ** 2 / (v1**2 / (z.size - 1) + (v2**2 / pred.df if v2 else 0.0))
    q = float(stats.t.ppf(0.5 + LEVEL / 2.0, df))
    m = float(np.mean(z))
    return Interval(m, m - q * se, m + q * se, LEVEL, z.size, se=se, df=df)


def row_fixed_point(label: str, z: np.ndarray, pred: Root, sabotage: str | None) -> Row:
    """Mean extrapolated iterate against the predicted fixed point; it must also exclude 0."""
    iv = _welch(z, pred)
    p = 0.0 if sabotage == "wrong-fixed-point" else pred.value
    return Row(
        quantity=f"{label}: theta* on g = theta + (Exp(1) - 1) (grad L = 0 at theta = 0)",
        predicted=fmt(p) + ("" if p == 0.0 else " (zero of the averaged update)"),
        measured=f"{iv} (excludes 0: {not iv.contains(0.0)})",
        tolerance=f"{LEVEL:.3%} t-interval over {iv.n} chains"
        + (f", + MC error {fmt(pred.se)}" if pred.se else ""),
        holds=iv.contains(p) and not iv.contains(0.0),
        kind="stat",
        p_value=iv.p_value(p),
    )


@dataclass(frozen=True)
class Invariance:
    """Deviations max |theta_t(c) - theta_t(1)| per optimizer and scale; Adam's rounding bound;
    GD's worst deviation from theta_T(c) = c theta_T(1) relative to its bound, and its smallest
    displacement relative to the prediction."""

    dev: dict[str, list[float]]
    adam_bound: float
    gd_excess: float
    gd_moved: float
    adam_level: float  # max |theta_t - theta_t(seed's equations)| / (2 x rounding bound), defaults
    lion_dev: float  # max |theta_t - theta_t(seed's equations)|, Lion with its defaults
    lion_margin: float  # min |c_t| / (|beta1 m| + |(1 - beta1) g|): no sign tie if > 4u


def invariance(eps: float, bias_correction: bool = True) -> Invariance:
    rng = np.random.default_rng(12345)
    G = 0.3 + rng.standard_normal((300, 10))
    lr = 1e-2
    opts = {"adam": ref.adam(lr, eps=eps), "signsgd": signsgd(lr), "lion": lion(1e-3), "gd": ref.gd(lr)}

    def traj(opt: Any) -> dict[float, np.ndarray]:
        """One run on every scale at once (the updates are elementwise): theta_t per scale."""
        cs = np.repeat(np.array((1.0, *SCALES)), G.shape[1])
        state = opt.init(np.zeros(cs.size))
        out = []
        for g in G:
            state = opt.step_fn(state, cs * np.tile(g, len(SCALES) + 1))
            out.append(state.params)
        th = np.array(out).reshape(G.shape[0], len(SCALES) + 1, G.shape[1])
        return {c: th[:, i] for i, c in enumerate((1.0, *SCALES))}

    runs = {k: traj(o) for k, o in opts.items()}
    dev = {k: [float(np.max(np.abs(r[c] - r[1.0]))) for c in SCALES] for k, r in runs.items()}
    # Adam's rounding bound (decimal c), from the c = 1 run's moments; and the seed's equations
    # (A2)-(A4) with the default eps = 1e-8, against ref.adam(lr) with its defaults
    b1, b2, eps_d = 0.9, 0.999, 1e-8
    m, v, M, bound = np.zeros(10), np.zeros(10), np.zeros(10), np.zeros(10)
    theta, eq = np.zeros(10), []
    for t, g in enumerate(G, start=1):
        m, v, M = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g, b1 * M + (1 - b1) * np.abs(g)
        mh, vh, Mh = m / (1 - b1**t), v / (1 - b2**t), M / (1 - b1**t)
        bound += lr * (2 * t + 8) * U * (Mh + np.abs(mh)) / np.sqrt(vh) + 2 * U * np.abs(
            runs["adam"][1.0][t - 1]
        )
        theta = theta - lr * mh / (np.sqrt(vh) + eps_d)
        eq.append(theta)
    adam_d = ref.adam(lr, bias_correction=bias_correction)  # the defaults (bias_correction=False: sabotage)
    state = adam_d.init(np.zeros(10))
    level = 0.0
    for t, g in enumerate(G):
        state = adam_d.step_fn(state, g)
        level = max(level, float(np.max(np.abs(state.params - eq[t]) / (2 * bound))))

    def err(c: float) -> np.ndarray:
        e: np.ndarray = U * np.sum(np.abs(runs["gd"][c]) + 2 * lr * c * np.abs(G), axis=0)
        return e

    gd1 = runs["gd"][1.0][-1]
    excess = [
        np.abs(runs["gd"][c][-1] - c * gd1) / (err(c) + c * err(1.0) + U * c * np.abs(gd1)) for c in SCALES
    ]
    moved = [np.abs(runs["gd"][c][-1] - gd1) / (abs(c - 1) * np.abs(gd1)) for c in SCALES]
    # Lion with its defaults (0.9, 0.99) against the seed's (L1)-(L3) computed here
    b1, b2 = 0.9, 0.99
    m, theta, lion_dev, margin = np.zeros(10), np.zeros(10), 0.0, math.inf
    lion_d = lion(1e-3)
    lstate = lion_d.init(np.zeros(10))
    for g in G:
        c = b1 * m + (1 - b1) * g
        margin = min(margin, float(np.min(np.abs(c) / (np.abs(b1 * m) + np.abs((1 - b1) * g)))))
        theta, m = theta - 1e-3 * np.sign(c), b2 * m + (1 - b2) * g
        lstate = lion_d.step_fn(lstate, g)
        lion_dev = max(lion_dev, float(np.max(np.abs(lstate.params - theta))))
    return Invariance(
        dev, float(np.min(bound)), float(np.max(excess)), float(np.min(moved)), level, lion_dev, margin
    )


def row_invariant(name: str, inv: Invariance) -> Row:
    exact = [i for i, c in enumerate(SCALES) if math.log2(c).is_integer()]
    ex = max(inv.dev[name][i] for i in exact)
    de = max(d for i, d in enumerate(inv.dev[name]) if i not in exact)
    tol = inv.adam_bound if name == "adam" else 0.0
    return Row(
        quantity=f"{name}{'(eps=0)' if name == 'adam' else ''}: max |theta_t(c) - theta_t(1)|, c = 2^+-3, 2^+-10 | 1e-3, 1e3",
        predicted="0 | " + ("rounding" if name == "adam" else "0"),
        measured=f"{fmt(ex)} | {fmt(de)}",
        tolerance="0 (exact scaling) | "
        + (f"<= {fmt(tol)} (rounding bound)" if name == "adam" else "0 (no sign ties)"),
        holds=ex == 0.0 and de <= tol,
    )


def row_adam_level(inv: Invariance) -> Row:
    return Row(
        quantity="Adam (defaults): theta_t against the seed's (A2)-(A4), theta -= eta mhat/(sqrt(vhat)+eps), every step",
        predicted="equal (rounding)",
        measured=f"max |difference| = {fmt(inv.adam_level)} x bound",
        tolerance="<= 2 x the first-order rounding bound (both computations)",
        holds=inv.adam_level <= 1.0,
    )


def row_lion_level(inv: Invariance) -> Row:
    return Row(
        quantity="Lion (defaults): theta_t against the seed's (L1)-(L3), theta -= eta sign(beta1 m + (1 - beta1) g), every step",
        predicted="equal",
        measured=f"max |difference| = {fmt(inv.lion_dev)} (smallest |c_t| relative margin {fmt(inv.lion_margin)})",
        tolerance="0 (no sign tie: margin > 4u)",
        holds=inv.lion_dev == 0.0 and inv.lion_margin > 4 * U,
    )


def row_gd(inv: Invariance) -> Row:
    return Row(
        quantity="GD: theta_T(c) = c theta_T(1) over the 6 scales (not invariant)",
        predicted="moves by |c - 1| |theta_T(1)|",
        measured=f"max |theta_T(c) - c theta_T(1)| = {fmt(inv.gd_excess)} x bound; displacement >= {fmt(inv.gd_moved)} x predicted",
        tolerance="<= 1 x derived rounding bound",
        holds=inv.gd_excess <= 1.0,
    )


def run(ctx: Context) -> Outcome:
    R, draws = (256, 150_000) if ctx.tier == "quick" else (1024, 600_000)
    items = [(name, R, s, ctx.sabotage) for name, s in zip(("signsgd", "adam"), trial_seeds(ctx, 2))]
    sign, adam = ctx.map(_chains, items)
    root = adam_root(trial_seeds(ctx, 1, stream=1)[0], draws)
    inv = invariance(1e-8 if ctx.sabotage == "eps-adam" else 0.0, ctx.sabotage != "no-bias-correction")
    rows = (
        row_fixed_point("signSGD", sign.extrapolated(), Root(1 - math.log(2), 0.0, math.inf), ctx.sabotage),
        row_fixed_point(f"Adam(beta1={BETA1}, beta2={BETA2})", adam.extrapolated(), root, ctx.sabotage),
        *(row_invariant(n, inv) for n in ("adam", "signsgd", "lion")),
        row_gd(inv),
        row_adam_level(inv),
        row_lion_level(inv),
    )
    figure = {
        "sign_z": sign.extrapolated().tolist(),
        "adam_z": adam.extrapolated().tolist(),
        "sign_pred": 1 - math.log(2),
        "adam_pred": root.value,
        "scales": list(SCALES),
        "dev": inv.dev,
    }
    return Outcome(rows=rows, figure=figure)


def plot(result: CheckResult, path: str) -> None:
    from ._plot import save, subplots

    fig, (ax1, ax2) = subplots(2)
    f = result.figure
    bins = np.linspace(-0.2, 0.5, 60)
    ax1.hist(f["sign_z"], bins=bins, alpha=0.6, color="C0", label="signSGD (extrapolated)")
    ax1.hist(f["adam_z"], bins=bins, alpha=0.6, color="C1", label="Adam(0.5, 0.9) (extrapolated)")
    ax1.axvline(0.0, color="k", lw=1, label="grad L = 0")
    ax1.axvline(f["sign_pred"], color="C0", ls="--", label="median of g = 0: 1 - ln 2")
    ax1.axvline(f["adam_pred"], color="C1", ls="--", label="E[m/sqrt(v)] = 0")
    ax1.set_xlabel("theta after the Robbins-Monro run")
    ax1.legend(fontsize=7)
    c = np.array(f["scales"])
    order = np.argsort(c)
    for k, (name, d) in enumerate(f["dev"].items()):
        y = np.maximum(np.array(d)[order], 1e-18)
        ax2.loglog(c[order], y, "o-", color=f"C{k}", label=name)
    ax2.axhline(1e-18, color="k", lw=0.5)
    ax2.set_xlabel("gradient scale c")
    ax2.set_ylabel("max |theta_t(c) - theta_t(1)|  (0 drawn at 1e-18)")
    ax2.legend(fontsize=7)
    save(fig, path, result.claim)

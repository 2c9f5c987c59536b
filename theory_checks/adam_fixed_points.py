r"""Adam's fixed points are zeros of its vector field, not of the gradient; sign-type methods are
invariant to rescaling the gradient.

Claim:
    (a) "Adam's fixed points satisfy V_Adam(theta*) = 0, not grad L(theta*) = 0" (seed 001, "The
    Adam Vector Field"): with stochastic gradients g = grad L(theta) + xi, Adam settles where its
    averaged update E[m_t / (sqrt(v_t) + eps)] vanishes, which differs from grad L = 0 when the
    noise is asymmetric; signSGD (seed 002, eq. (12)) settles where E[sign(g)] = 0, i.e. where the
    *median* of g vanishes. (b) Adam with eps = 0, signSGD and Lion are invariant to rescaling
    the gradient, g -> c g, c > 0 ("normalizes magnitude", seed 002 3.2.2; "scale invariance",
    seed 001 "Lion"); GD is not.

Setup:
    (a) L(theta) = theta^2 / 2 in one dimension, g = theta + xi with xi = E - 1, E ~ Exp(1): mean 0,
    median ln 2 - 1, so grad L = 0 at theta = 0 but the median of g vanishes at theta = 1 - ln 2.
    R independent chains (the coordinates of one vector; quick 256, full 1024, in 2 trials per optimizer through
    ``ctx.map``) start at theta_0 = 0 and run T = 8000 steps with the Robbins-Monro schedule
    eta_t = 0.5 / (100 + t)^0.7, so that the iterates converge to the zero of the averaged vector
    field (stochastic approximation) rather than fluctuate around it: ``ref.signsgd`` and
    ``ref.adam(beta1=0.5, beta2=0.9, eps=1e-8)``. Predictions: signSGD, theta* = 1 - ln 2 exactly;
    Adam, the root of F(theta) = E[m / (sqrt(v) + eps)] with m, v the stationary EMAs of g at frozen
    theta (m = theta + EMA_b1(xi), v = theta^2 + 2 theta EMA_b2(xi) + EMA_b2(xi^2)), by Monte Carlo
    over 2e6 noise draws and Brent's method. (With the default betas 0.9/0.999 the root is 1.3e-3:
    the effect is real but small; beta2 = 0.9 makes it large enough to measure cleanly.)
    (b) Open loop: one stream g_t ~ N(0.3, 1)^10, 300 steps, fed as c g_t to ``ref.adam(1e-2,
    eps=0)``, ``ref.signsgd(1e-2)``, ``ref.lion(1e-3)`` and ``ref.gd(1e-2)``, c in {2^-10, 2^-3, 2^3,
    2^10} (exact in binary) and {1e-3, 1e3}.

Measured:
    (a) the mean of theta_T over chains (t-interval) against the prediction, and against 0.
    (b) max_t,i |theta_t(c) - theta_t(1)|: 0 for c = 2^k (every operation of these updates is
    homogeneous of degree 0 in g and scaling by 2^k is exact); for c = 1e-3, 1e3: 0 for the sign
    methods (a sign changes only at a rounding tie) and a rounding bound for Adam; for GD,
    theta_T(c) - theta_0 = c (theta_T(1) - theta_0), i.e. a deviation |c - 1| |theta_T(1) - theta_0|.

Tolerance:
    (a) 99.9 % interval combining the t-interval over chains with the Monte-Carlo error of the
    predicted root (batch means of F, divided by F'(theta*)); the residual O(eta_T) ~ 2e-4 bias of
    the schedule's last steps is below both. (b) zero for exact scalings; for decimal c, Adam's
    first-order worst-case rounding bound sum_t eta (2t + 8) u (Mhat_t + |mhat_t|) / sqrt(vhat_t) +
    2u sum_t |theta_t| (Mhat the EMA of |g|: the EMAs' rounding errors are bounded by their sums of
    absolute values), u = 2^-53; GD's deviation is predicted to 1e-12 relative.

References:
    Seed 001 ("The Adam Vector Field: Mathematical Derivation"; "Lion": scale invariance); seed 002
    3.2.2 (SignSGD, eq. (12)) and 3.2.3 (Adam). Simsekli et al. (2019/2020) for the vector field;
    Bernstein et al. (2018) signSGD (the median condition); Robbins & Monro (1951).

Sabotage:
    "wrong-fixed-point": predicts the zero of the gradient, theta* = 0, for Adam and signSGD.
    "eps-adam": the invariance test uses Adam with eps = 1e-8 instead of 0 (no longer invariant).
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

import reference as ref
from reference.lion import lion
from reference.signsgd import signsgd

from ._base import CheckResult, Context, Row
from ._stats import LEVEL, fmt, normal_quantile, t_interval, trial_seeds

NAME = "adam_fixed_points"
CLAIM = "Adam/signSGD settle where E[update] = 0 (not grad = 0); Adam(eps=0), signSGD, Lion are scale invariant"
SOURCE = "seed 001, 'The Adam Vector Field' and 'Lion'; seed 002, 3.2.2-3.2.3"
SABOTAGE: tuple[str, ...] = ("wrong-fixed-point", "eps-adam")

U = 2.0**-53
BETA1, BETA2, EPS = 0.5, 0.9, 1e-8
STEPS = 8000
SCALES = (2.0**-10, 2.0**-3, 2.0**3, 2.0**10, 1e-3, 1e3)


def _schedule(t: int) -> float:
    return float(0.5 / (100.0 + t) ** 0.7)


def _make(name: str) -> Any:
    if name == "signsgd":
        return signsgd(_schedule)
    return ref.adam(_schedule, beta1=BETA1, beta2=BETA2, eps=EPS)


def _chains(args: tuple[str, int, np.random.SeedSequence]) -> np.ndarray:
    """R chains (coordinates) of the named optimizer on g = theta + (Exp(1) - 1): theta_T."""
    name, R, seed = args
    rng = np.random.default_rng(seed)
    opt = _make(name)
    state = opt.init(np.zeros(R))
    block = 1000
    for start in range(0, STEPS, block):
        xi = rng.exponential(size=(block, R)) - 1.0
        for k in range(block):
            state = opt.step(state, state.params + xi[k])
    final: np.ndarray = np.asarray(state.params)
    return final


def _adam_root(seed: np.random.SeedSequence) -> tuple[float, float]:
    """The root of F(theta) = E[m / (sqrt(v) + eps)] at frozen theta, and its Monte-Carlo error."""
    from scipy.optimize import brentq
    from scipy.signal import lfilter

    rng = np.random.default_rng(seed)
    xi = rng.exponential(size=2_000_000) - 1.0

    def ema(x: np.ndarray, b: float) -> np.ndarray:
        y: np.ndarray = np.asarray(lfilter([1 - b], [1, -b], x))
        return y[1000:]  # drop the start-up (m_0 = 0)

    a1, a2, q2 = ema(xi, BETA1), ema(xi, BETA2), ema(xi * xi, BETA2)

    def integrand(th: float) -> np.ndarray:
        val: np.ndarray = (th + a1) / (np.sqrt(np.maximum(th * th + 2 * th * a2 + q2, 0.0)) + EPS)
        return val

    root = float(brentq(lambda th: float(np.mean(integrand(th))), -0.9, 0.9, xtol=1e-8))
    h = 1e-3
    slope = (float(np.mean(integrand(root + h))) - float(np.mean(integrand(root - h)))) / (2 * h)
    batches = integrand(root)[: 100 * (a1.size // 100)].reshape(100, -1).mean(axis=1)  # >> corr. time
    se_f = float(np.std(batches, ddof=1)) / math.sqrt(100)
    return root, se_f / slope


def _invariance(eps: float) -> dict[str, Any]:
    """max |theta_t(c) - theta_t(1)| per optimizer and scale, Adam's rounding bound, GD's law."""
    rng = np.random.default_rng(12345)
    G = 0.3 + rng.standard_normal((300, 10))
    theta0 = np.zeros(10)
    opts = {
        "adam": ref.adam(1e-2, eps=eps),
        "signsgd": signsgd(1e-2),
        "lion": lion(1e-3),
        "gd": ref.gd(1e-2),
    }

    def traj(opt: Any, c: float) -> np.ndarray:
        state = opt.init(theta0)
        out = []
        for g in G:
            state = opt.step(state, c * g)
            out.append(state.params)
        return np.array(out)

    base = {k: traj(o, 1.0) for k, o in opts.items()}
    dev = {k: [float(np.max(np.abs(traj(o, c) - base[k]))) for c in SCALES] for k, o in opts.items()}
    # Adam's rounding bound (decimal c), from the c = 1 run's moments
    b1, b2 = 0.9, 0.999
    m = np.zeros(10)
    v = np.zeros(10)
    M = np.zeros(10)
    bound = np.zeros(10)
    for t, g in enumerate(G, start=1):
        m, v, M = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g, b1 * M + (1 - b1) * np.abs(g)
        mh, vh, Mh = m / (1 - b1**t), v / (1 - b2**t), M / (1 - b1**t)
        bound += 1e-2 * (2 * t + 8) * U * (Mh + np.abs(mh)) / np.sqrt(vh) + 2 * U * np.abs(base["adam"][t - 1])
    gd_pred = [abs(c - 1) * float(np.max(np.abs(base["gd"][-1] - theta0))) for c in SCALES]
    gd_meas = [float(np.max(np.abs(traj(opts["gd"], c)[-1] - base["gd"][-1]))) for c in SCALES]
    return {"dev": dev, "adam_bound": float(np.min(bound)), "gd_pred": gd_pred, "gd_meas": gd_meas}


def run(ctx: Context) -> CheckResult:
    if ctx.sabotage not in (None, *SABOTAGE):
        raise ValueError(f"{NAME}: sabotage must be one of {SABOTAGE}, got {ctx.sabotage!r}")
    t0 = time.perf_counter()
    R = 128 if ctx.tier == "quick" else 512
    items = [("signsgd", R, s) for s in trial_seeds(ctx, 2, stream=0)]
    items += [("adam", R, s) for s in trial_seeds(ctx, 2, stream=1)]
    out = ctx.map(_chains, items)
    sign_T = np.concatenate(out[:2])
    adam_T = np.concatenate(out[2:])
    root, root_se = _adam_root(trial_seeds(ctx, 1, stream=2)[0])
    z = normal_quantile()
    wrong = ctx.sabotage == "wrong-fixed-point"
    rows: list[Row] = []
    for label, th, pred, pse in (
        ("signSGD", sign_T, 0.0 if wrong else 1 - math.log(2), 0.0),
        (f"Adam(beta1={BETA1}, beta2={BETA2})", adam_T, 0.0 if wrong else root, root_se),
    ):
        iv = t_interval(th)
        half = math.sqrt(iv.half_width**2 + (z * pse) ** 2)
        rows.append(
            Row(
                quantity=f"{label}: theta_T on g = theta + (Exp(1) - 1) (grad L = 0 at theta = 0)",
                predicted=f"{fmt(pred)}" + ("" if wrong else " (zero of the averaged update)"),
                measured=f"{iv} (excludes 0: {not iv.contains(0.0)})",
                tolerance=f"{LEVEL:.1%} t-interval over {iv.n} chains" + (f", + MC error {fmt(root_se)}" if pse else ""),
                holds=abs(iv.estimate - pred) <= half and not iv.contains(0.0),
            )
        )
    inv = _invariance(1e-8 if ctx.sabotage == "eps-adam" else 0.0)
    exact_idx = [i for i, c in enumerate(SCALES) if math.log2(c).is_integer()]
    dec_idx = [i for i in range(len(SCALES)) if i not in exact_idx]
    for name in ("adam", "signsgd", "lion"):
        d = inv["dev"][name]
        ex = max(d[i] for i in exact_idx)
        de = max(d[i] for i in dec_idx)
        tol_dec = inv["adam_bound"] if name == "adam" else 0.0
        rows.append(
            Row(
                quantity=f"{name}{'(eps=0)' if name == 'adam' else ''}: max |theta_t(c) - theta_t(1)|, c = 2^+-3, 2^+-10 | 1e-3, 1e3",
                predicted="0 | " + ("rounding" if name == "adam" else "0"),
                measured=f"{fmt(ex)} | {fmt(de)}",
                tolerance="0 (exact scaling) | " + (f"<= {fmt(tol_dec)} (rounding bound)" if name == "adam" else "0 (no sign ties)"),
                holds=ex == 0.0 and de <= tol_dec,
            )
        )
    gp, gm = np.array(inv["gd_pred"]), np.array(inv["gd_meas"])
    rel = float(np.max(np.abs(gm / gp - 1)))
    rows.append(
        Row(
            quantity="GD: max |theta_T(c) - theta_T(1)| over the 6 scales (not invariant)",
            predicted=f"|c - 1| |theta_T(1) - theta_0|, from {fmt(float(gp.min()))} to {fmt(float(gp.max()))}",
            measured=f"{fmt(float(gm.min()))} to {fmt(float(gm.max()))} (max relative difference {fmt(rel)})",
            tolerance="<= 1e-12 relative (rounding)",
            holds=rel <= 1e-12,
        )
    )
    figure: dict[str, Any] = {
        "sign_T": sign_T.tolist(),
        "adam_T": adam_T.tolist(),
        "sign_pred": 1 - math.log(2),
        "adam_pred": root,
        "scales": list(SCALES),
        "dev": inv["dev"],
    }
    return CheckResult(
        name=NAME,
        claim=CLAIM,
        source=SOURCE,
        rows=tuple(rows),
        justification=(
            "fixed points: 99.9% t-interval over independent chains plus the Monte-Carlo error of the "
            "predicted root; invariance: exact (0) for c = 2^k, derived rounding bound for decimal c"
        ),
        figure=figure,
        seconds=time.perf_counter() - t0,
    )


def plot(result: CheckResult, path: str) -> None:
    from ._plot import save, subplots

    fig, (ax1, ax2) = subplots(2)
    f = result.figure
    bins = np.linspace(-0.2, 0.5, 60)
    ax1.hist(f["sign_T"], bins=bins, alpha=0.6, color="C0", label="signSGD theta_T")
    ax1.hist(f["adam_T"], bins=bins, alpha=0.6, color="C1", label="Adam(0.5, 0.9) theta_T")
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

r"""The lazy regime: in wide networks (NTK scaling) the weights hardly move, and the network
stays close to its linearisation.

Claim:
    Under the NTK parametrisation the weights of a width-w network move by ||theta_t - theta_0|| =
    O(1) while ||theta_0|| ~ sqrt(w), so the relative change is O(w^{-1/2}) (note 002 section
    3.3.2: "in the Lazy Training regime weights theta hardly move from theta_0"; note 001 "Lazy
    regime", note 000 "Large Network (width=8,192): The Regime Shift"), and the linearised model
    f(theta_0) + J (theta - theta_0) (note 002 eq. (14)) tracks the trained network better as w
    grows (Liu, Zhu & Belkin 2020: the Hessian is O(w^{-1/2})).

Setup:
    The Peaks MLP of ``reference.problems.peaks`` (2-w-5, ReLU, softmax cross-entropy, mean over
    the first 100 Peaks points, data seed 0) at standard coordinates theta_std = S theta with
    S = sqrt(2/w) on W2 and 1 elsewhere: the trained coordinates theta = (W1, b1, V, b2) give
    f = sqrt(2/w) V ReLU(W1 x + b1) + b2, the NTK parametrisation of He initialisation (Jacot et
    al. 2018). GD (``ref.gd``, width-independent lr eta = 2) on theta with the gradient
    S * grad L_std(S theta) (backpropagation written in the check, tested against autograd in
    tests/test_lazy_regime.py). Initialisation built to make the first step exactly predictable
    (the "doubling trick" of Chizat, Oyallon & Bach 2019): W1 ~ N(0, 1), b1 = b2 = 0, and the
    units in pairs (W1_k, V_k), (W1_k, -V_k) with V ~ N(0, 1), so that f(theta_0) = 0 exactly and
    E||theta_0||^2 = 7w, while each unit keeps the N(0, 1) law of the NTK init.
    First step: widths 32, 128, 512, 2048; quick 16 seeds, full 32. Training: T = 10 steps at
    widths 32, 128, 512; quick 12 seeds, full 24. BLAS single-threaded.

Measured:
    (a) r_w = ||theta_1 - theta_0||^2 / (eta^2 g^T Theta_inf g), the first step's squared motion
        over its exact prediction, combined over widths with the weights w / sum(w) (r_w's
        variance is O(1/w)): one number per seed, predicted 1.
    (b) the least-squares slope of r_w against log w per seed: predicted 0 exactly (E r_w = 1
        at every width, and least-squares weights sum to zero): the motion does not grow with w
        while ||theta_0||^2 = 7w does.
    (c) the least-squares slope across widths of log ||f(theta_T) - f_lin(theta_T)|| /
        ||f(theta_T) - f(theta_0)|| per seed after T steps, f_lin = f(theta_0) + J (theta_T -
        theta_0) with the exact Jacobian-vector product at theta_0: negative (the error falls
        with width).
    Report: the slope of log ||theta_T - theta_0|| / ||theta_0|| across widths (-1/2 in the
        limit; its finite-width value is not predicted here).
    The prediction of (a), exact at every width: with f(theta_0) = 0 the first gradient in
    output space is g_n = (softmax(0) - e_{y_n}) / N, deterministic, and theta_1 - theta_0 =
    -eta J^T g, so E||theta_1 - theta_0||^2 = eta^2 g^T E[Theta_w] g with the empirical NTK
    Theta_w(x, x')_{cc'} = delta_cc' ((2/w) sum_k ReLU(z_k) ReLU(z'_k) + 1) + (2/w) sum_k V_ck
    V_c'k 1[z_k > 0] 1[z'_k > 0] (x.x' + 1), an average over units whose mean is the
    arc-cosine kernel (Cho & Saul 2009) at every width: E[Theta_w] = Theta_inf =
    delta_cc' (2 k1 + 1 + 2 k0 (x.x' + 1)), k1 = |x||x'| (sin a + (pi - a) cos a) / (2 pi),
    k0 = (pi - a) / (2 pi), a the angle between x and x'.

Tolerance:
    (a), (b): Student-t intervals at the suite level ``_stats.LEVEL`` over independent seeds of
    the per-seed statistic (a weighted mean of 4 independent ratios of quadratic forms in ~w
    Gaussian units, close to normal; the slope is a linear combination of them). (c): the
    one-sided criterion "the interval's upper end < 0" on the t-interval of per-seed slopes (no
    point prediction, so no p-value); on correct code it fails only if the interval reaches 0:
    at the measured mean slope (-0.64, per-seed spread 0.17) and 12 seeds (t quantile 5.6, half
    width 0.28) the estimate would have to be off by 7 standard errors.

References:
    Note 002, section 3.3.2 "Neural Tangent Kernel (NTK) / Linearization", eq. (14); note 001,
    "Lazy regime" (width 8192); note 000, "Large Network (width=8,192): The Regime Shift".
    Jacot, Gabriel & Hongler (2018), NeurIPS; Chizat, Oyallon & Bach (2019), "On Lazy Training in
    Differentiable Programming", NeurIPS; Cho & Saul (2009), "Kernel methods for deep learning",
    NeurIPS (arc-cosine kernels); Liu, Zhu & Belkin (2020), "On the linearity of large
    non-linear models", NeurIPS.

Sabotage:
    "mean-field": the mean-field scaling f = (sqrt 2 / w) V ReLU(W1 x + b1) + b2 with the same
        lr: not lazy in the NTK sense (the motion shrinks with w; (a) and (b) fail).
    "wrong-prediction": the kernel without the first-layer bias term (2 k0 x.x' in place of
        2 k0 (x.x' + 1)), a derivation slip.
    "lr-2pct": GD runs with 1.02 eta while the prediction uses eta (a 2 % step-size bug).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

import reference as ref
from reference import driver
from reference.problems import peaks
from reference.problems.peaks import Peaks

from ._base import CheckResult, Context, Outcome, Row, report_row
from ._stats import interval_row, slope_interval, t_interval, trial_seeds
from .backprop_cost import _blas_threads

T = TypeVar("T")

NAME = "lazy_regime"
CLAIM = "NTK scaling: E||theta_1 - theta_0||^2 = eta^2 g^T Theta_inf g at every width (||theta_0||^2 = 7w); linearisation error falls with w"
SOURCE = "note 002 section 3.3.2 (NTK, eq. 14); note 001 'Lazy regime'; note 000 width 8,192"
SABOTAGE: tuple[str, ...] = ("mean-field", "wrong-prediction", "lr-2pct")
JUSTIFICATION = "exact finite-width prediction of the first step (arc-cosine NTK, f(theta_0) = 0 by paired units); Student-t intervals over independent inits"
STAT_ROWS = 3

WIDTHS = (32, 128, 512, 2048)  # first step
TRAIN_WIDTHS = (32, 128, 512)  # T steps
N_POINTS, STEPS, LR = 100, 10, 2.0


def _grad_std(pb: Peaks, th: np.ndarray) -> np.ndarray:
    """grad L at standard coordinates by hand-written backpropagation (softmax cross-entropy,
    mean over the points); equal to ``pb.grad`` (autograd) to rounding (tests/test_lazy_regime.py)."""
    W1, b1, W2, b2 = pb.unflatten(th)
    X, y = pb.X, np.asarray(pb.y)
    z = X @ W1.T + b1
    h = np.maximum(z, 0.0)
    F = h @ W2.T + b2
    F = F - F.max(axis=1, keepdims=True)
    P = np.exp(F)
    P /= P.sum(axis=1, keepdims=True)
    P[np.arange(y.size), y] -= 1.0
    dF = P / y.size
    dz = (dF @ W2) * (z > 0)
    return np.concatenate([(dz.T @ X).ravel(), dz.sum(axis=0), (dF.T @ h).ravel(), dF.sum(axis=0)])


def _jvp(pb: Peaks, th: np.ndarray, delta: np.ndarray) -> np.ndarray:
    """J(theta) delta for the training outputs (n, 5), standard coordinates, exact for the ReLU
    network away from its kinks: dW2 h + W2 (1[z > 0] * (dW1 x + db1)) + db2."""
    W1, b1, W2, _ = pb.unflatten(th)
    dW1, db1, dW2, db2 = pb.unflatten(delta)
    z = pb.X @ W1.T + b1
    return np.asarray(np.maximum(z, 0.0) @ dW2.T + ((z > 0) * (pb.X @ dW1.T + db1)) @ W2.T + db2)


def _scale(w: int, mode: str) -> np.ndarray:
    """S: standard coordinates = S * trained coordinates."""
    s = np.ones(8 * w + 5)
    s[3 * w : 8 * w] = np.sqrt(2.0 / w) if mode == "ntk" else np.sqrt(2.0) / w
    return s


def init_paired(w: int, rng: np.random.Generator) -> np.ndarray:
    """Trained coordinates theta_0: W1, V ~ N(0, 1) in pairs of units (W1_k, V_k), (W1_k, -V_k),
    zero biases, so f(theta_0) = 0 exactly (w even)."""
    h = w // 2
    W1 = rng.standard_normal((h, 2))
    V = rng.standard_normal((5, h))
    return np.concatenate([np.vstack([W1, W1]).ravel(), np.zeros(w), np.hstack([V, -V]).ravel(), np.zeros(5)])


def predicted_motion(X: np.ndarray, y: np.ndarray, lr: float, sabotage: str | None = None) -> float:
    """eta^2 g^T Theta_inf g: E||theta_1 - theta_0||^2 at every width (arc-cosine NTK, f_0 = 0)."""
    n = X.shape[0]
    nrm = np.linalg.norm(X, axis=1)
    cos = np.clip((X @ X.T) / np.outer(nrm, nrm), -1.0, 1.0)
    a = np.arccos(cos)
    k1 = np.outer(nrm, nrm) * (np.sin(a) + (np.pi - a) * cos) / (2.0 * np.pi)
    k0 = (np.pi - a) / (2.0 * np.pi)
    bias = 0.0 if sabotage == "wrong-prediction" else 1.0
    K = 2.0 * k1 + 1.0 + 2.0 * k0 * (X @ X.T + bias)
    g = np.full((n, 5), 0.2)
    g[np.arange(n), y] -= 1.0
    g /= n
    return float(lr**2 * np.sum((g @ g.T) * K))


def _problem(w: int) -> Peaks:
    return peaks(width=w, n_samples=N_POINTS, n_train=N_POINTS, seed=0)


@dataclass(frozen=True)
class Training:
    """One width trained T steps: relative weight change, relative linearisation error, losses."""

    rel_change: float
    lin_error: float
    loss0: float
    lossT: float


def measure(w: int, rng: np.random.Generator, mode: str = "ntk", lr: float = LR) -> Training:
    """Train one width T steps from the paired init with ``ref.gd``."""
    pb = _problem(w)
    s = _scale(w, mode)
    th0 = init_paired(w, rng)
    traj = driver.run(
        ref.gd(lr),
        None,
        th0,
        STEPS,
        grad=lambda th: s * _grad_std(pb, s * th),
        loss_every=None,
        record_params=False,
    )
    thT = traj.final.params
    f0 = np.asarray(pb.predict(s * th0, pb.X))
    fT = np.asarray(pb.predict(s * thT, pb.X))
    f_lin = f0 + _jvp(pb, s * th0, s * (thT - th0))
    return Training(
        rel_change=float(np.linalg.norm(thT - th0) / np.linalg.norm(th0)),
        lin_error=float(np.linalg.norm(fT - f_lin) / np.linalg.norm(fT - f0)),
        loss0=float(pb.loss(s * th0)),
        lossT=float(pb.loss(s * thT)),
    )


def first_motion(w: int, rng: np.random.Generator, mode: str, lr: float) -> float:
    """||theta_1 - theta_0||^2 after one ``ref.gd`` step from the paired init."""
    pb = _problem(w)
    s = _scale(w, mode)
    th0 = init_paired(w, rng)
    opt = ref.gd(lr)
    th1 = opt.step(opt.init(th0), s * _grad_std(pb, s * th0)).params
    return float(np.sum((th1 - th0) ** 2))


def _per_width(
    fn: Callable[[int, np.random.Generator, str, float], T],
    widths: tuple[int, ...],
    seed: np.random.SeedSequence,
    mode: str,
    lr: float,
) -> tuple[T, ...]:
    """``fn`` at every width, each from its own child of ``seed``, with BLAS single-threaded."""
    previous = _blas_threads(1)
    try:
        return tuple(
            fn(w, np.random.default_rng(s), mode, lr) for w, s in zip(widths, seed.spawn(len(widths)))
        )
    finally:
        for n in previous[:1]:
            _blas_threads(n)


def _first(args: tuple[np.random.SeedSequence, str, float]) -> tuple[float, ...]:
    return _per_width(first_motion, WIDTHS, *args)


def _train(args: tuple[np.random.SeedSequence, str, float]) -> tuple[Training, ...]:
    return _per_width(measure, TRAIN_WIDTHS, *args)


_WEIGHTS = np.array(WIDTHS, dtype=float) / sum(WIDTHS)


def row_level(r: np.ndarray) -> Row:
    """(a) the first step's squared motion over its exact prediction, weighted over widths."""
    iv = t_interval(r @ _WEIGHTS)
    return interval_row("||theta_1 - theta_0||^2 / (eta^2 g^T Theta_inf g), widths weighted by w", 1.0, iv)


def row_flat(r: np.ndarray) -> Row:
    """(b) the slope of that ratio against log w: 0 at finite width, exactly."""
    lw = np.log(np.array(WIDTHS, dtype=float))
    iv = t_interval([float(np.polyfit(lw, row, 1)[0]) for row in r])
    return interval_row("slope of ||theta_1 - theta_0||^2 / prediction vs log w", 0.0, iv)


def row_lin(lin: np.ndarray) -> Row:
    """(c) the linearisation error falls with width: the interval of its log-log slope is < 0."""
    iv, _ = slope_interval(TRAIN_WIDTHS, lin)
    # One-sided, composite prediction (slope < 0): no point value, hence no p-value to calibrate.
    return Row(
        "log-log slope of ||f - f_lin|| / ||f - f_0|| vs width (after T steps)",
        "< 0 (-> 0 with w)",
        str(iv),
        f"{iv.level * 100:.3f}% CI over {iv.n} seeds: upper end < 0",
        iv.hi < 0.0,
        kind="stat",
    )


def run(ctx: Context) -> Outcome:
    k1, k2 = (16, 12) if ctx.tier == "quick" else (32, 24)
    mode = "mean-field" if ctx.sabotage == "mean-field" else "ntk"
    lr = LR * 1.02 if ctx.sabotage == "lr-2pct" else LR
    pb = _problem(WIDTHS[0])
    pred = predicted_motion(pb.X, np.asarray(pb.y), LR, ctx.sabotage)
    r = np.array(ctx.map(_first, [(s, mode, lr) for s in trial_seeds(ctx, k1)])) / pred
    tr: list[tuple[Training, ...]] = ctx.map(_train, [(s, mode, lr) for s in trial_seeds(ctx, k2, stream=1)])
    rel = np.array([[m.rel_change for m in t] for t in tr])
    lin = np.array([[m.lin_error for m in t] for t in tr])
    iv_rel, _ = slope_interval(TRAIN_WIDTHS, rel)
    rows = (
        row_level(r),
        row_flat(r),
        row_lin(lin),
        report_row("log-log slope of ||theta_T - theta_0|| / ||theta_0|| vs width", f"{iv_rel} (limit -1/2)"),
    )
    figure: dict[str, Any] = {
        "widths": list(WIDTHS),
        "ratio": r.tolist(),
        "train_widths": list(TRAIN_WIDTHS),
        "rel_change": rel.tolist(),
        "lin_error": lin.tolist(),
        "lossT": [[m.lossT for m in t] for t in tr],
        "loss0": [[m.loss0 for m in t] for t in tr],
    }
    return Outcome(rows=rows, figure=figure)


def plot(result: CheckResult, path: str) -> None:
    from ._plot import save, subplots

    fig, (ax0, ax1, ax2) = subplots(3)
    w = np.array(result.figure["widths"], dtype=float)
    for row in result.figure["ratio"]:
        ax0.semilogx(w, row, "o", color="C2", alpha=0.4)
    ax0.axhline(1.0, color="k", ls="--", label="exact prediction")
    ax0.set_xlabel("width w")
    ax0.set_ylabel("||theta_1 - theta_0||^2 / prediction")
    ax0.legend()
    w = np.array(result.figure["train_widths"], dtype=float)
    for ax, key, style, ylabel in (
        (ax1, "rel_change", "o-C0", "||theta_T - theta_0|| / ||theta_0||"),
        (ax2, "lin_error", "s-C1", "||f - f_lin|| / ||f - f_0|| at theta_T"),
    ):
        for row in result.figure[key]:
            ax.loglog(w, row, style, alpha=0.4)
        ax.loglog(w, result.figure[key][0][0] * (w / w[0]) ** -0.5, "k--", label="w^-1/2")
        ax.set_xlabel("width w")
        ax.set_ylabel(ylabel)
        ax.legend()
    save(fig, path, result.claim)

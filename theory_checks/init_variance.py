r"""Xavier and He initialisation preserve the signal's second moment: He through ReLU layers, Xavier
forward and backward through linear layers by the factors its fan-in/fan-out compromise predicts.

Claim:
    Note 004, "Practical Tips" (Initialization): poor initialisation can prevent learning;
    Xavier/Glorot scales the weights by fan-in and fan-out, He is for ReLU networks. Made
    quantitative (specs/init.md, "Why"): with zero biases and independent weights symmetric about
    0, in expectation over the weights, at any width, for a fixed input x with q_x = ||x||^2/n_0,
        (a) He (IN4), ReLU between layers:       E ||z_L||^2 / n_L = 2 q_x             (every depth)
        (b) Xavier (IN2), linear layers, forward: E ||z_L||^2 / n_L = q_x prod_l 2 n_{l-1}/(n_{l-1} + n_l)
        (c) Xavier, backward from u at the top:  E ||W_1^T ... W_L^T u||^2 / n_0 = q_u prod_l 2 n_l/(n_{l-1} + n_l)
    (a): E||z_l||^2 = n_l Var(W_l) E||h_{l-1}||^2 and E||relu(z)||^2 = E||z||^2/2 for z symmetric;
    with Var(W_l) = 2/n_{l-1} the per-unit second moment is the same at every layer. (b), (c): the
    same recursion without the 1/2; Xavier's Var(W_l) = 2/(n_{l-1} + n_l) gives the factors shown,
    1 per layer when the layer is square.

Setup:
    Widths n = (48, 32, 64, 40, 72, 56, 96): six layers, none square, n_0 != n_L (the factors of (b), (c)
    differ from 1 and from each other). For each network: weights drawn by the code under test,
    ``problems.init.he`` / ``xavier`` (normal), from the trial's generator; x ~ N(0, I_48) and
    u ~ N(0, I_96) fresh per network; the forward and backward passes are the check's own matrix
    products. Quick: 8 seeds x 50 networks; full: 32 seeds x 200 networks.

Measured:
    Per network the ratios r = (||z_L||^2/n_L)/q_x (He/ReLU and Xavier/linear) and
    (||delta_0||^2/n_0)/q_u; their mean over the seed's networks; a t-interval over seeds of the
    per-seed means, against (a) 2, (b) prod 2 n_{l-1}/(n_{l-1}+n_l) = 0.5830, (c) its backward
    counterpart 1.166 (computed from the widths, not from the initialiser).

Tolerance:
    Student-t interval at the suite level ``_stats.LEVEL`` over independent seeds of per-seed means
    of 50 (200) i.i.d. ratios. Each ratio is unbiased for the prediction given x (resp. u), and has
    finite variance (a product of independent scaled chi-square factors), so the per-seed means are
    close to normal.

References:
    Note 004, "Practical Tips" (Initialization). Glorot & Bengio (2010); He et al. (2015).

Sabotage:
    "xavier-for-relu": (a) runs the ReLU network with Xavier weights (the mistake the note warns
        about: the second moment halves at every ReLU layer).
    "fan-out": (a) draws He weights with mode "fan_out" (the forward moment then follows
        n_{l-1}/n_l per layer, 2 n_0/n_L = 1 in all, not 2).
    "gain-5pct": every weight of (a)-(c) is drawn 5 % too wide (std x 1.05).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reference.problems.init import Mode, he, xavier
from reference.problems.layout import unpack

from ._base import CheckResult, Context, Outcome, Row
from ._stats import interval_row, t_interval, trial_seeds

NAME = "init_variance"
CLAIM = "He keeps E||z_l||^2/n_l through ReLU layers; Xavier scales it by prod 2n_in/(n_in+n_out) forward, 2n_out/(n_in+n_out) backward"
SOURCE = "note 004, 'Practical Tips' (Initialization)"
SABOTAGE: tuple[str, ...] = ("xavier-for-relu", "fan-out", "gain-5pct")
JUSTIFICATION = (
    "Student-t intervals over independent seeds of per-seed means of i.i.d. unbiased second-moment ratios"
)
STAT_ROWS = 3

_WIDTHS = (48, 32, 64, 40, 72, 56, 96)
_SHAPES = tuple((n_out, n_in) for n_in, n_out in zip(_WIDTHS[:-1], _WIDTHS[1:]))


def predicted_forward() -> float:
    """prod_l 2 n_{l-1} / (n_{l-1} + n_l): Xavier's forward factor over the layers, (b)."""
    return float(np.prod([2.0 * a / (a + b) for a, b in zip(_WIDTHS[:-1], _WIDTHS[1:])]))


def predicted_backward() -> float:
    """prod_l 2 n_l / (n_{l-1} + n_l): Xavier's backward factor over the layers, (c)."""
    return float(np.prod([2.0 * b / (a + b) for a, b in zip(_WIDTHS[:-1], _WIDTHS[1:])]))


@dataclass(frozen=True)
class Trial:
    """One seed: per network the ratios of (a), (b), (c), and the per-layer moments of (a) for the
    figure (mean over networks of ||z_l||^2/n_l / q_x, l = 1..L)."""

    he_relu: tuple[float, ...]
    xavier_fwd: tuple[float, ...]
    xavier_bwd: tuple[float, ...]
    he_layers: tuple[float, ...]


def _weights(theta: np.ndarray, sabotage: str | None) -> tuple[np.ndarray, ...]:
    scale = 1.05 if sabotage == "gain-5pct" else 1.0
    return tuple(scale * W for W in unpack(theta, _SHAPES))


def _trial(args: tuple[np.random.SeedSequence, int, str | None]) -> Trial:
    seed, m, sabotage = args
    rng = np.random.default_rng(seed)
    he_r, fwd, bwd = [], [], []
    layers = np.zeros(len(_SHAPES))
    for _ in range(m):
        x = rng.standard_normal(_WIDTHS[0])
        qx = float(x @ x) / _WIDTHS[0]
        if sabotage == "xavier-for-relu":
            relu_net = _weights(xavier(_SHAPES, rng), sabotage)
        else:
            mode: Mode = "fan_out" if sabotage == "fan-out" else "fan_in"
            relu_net = _weights(he(_SHAPES, rng, mode=mode), sabotage)
        z = relu_net[0] @ x
        layers[0] += float(z @ z) / z.size / qx
        for i, W in enumerate(relu_net[1:], start=1):
            z = W @ np.maximum(z, 0.0)
            layers[i] += float(z @ z) / z.size / qx
        he_r.append(float(z @ z) / z.size / qx)
        lin = _weights(xavier(_SHAPES, rng), sabotage)
        z = x
        for W in lin:
            z = W @ z
        fwd.append(float(z @ z) / z.size / qx)
        u = rng.standard_normal(_WIDTHS[-1])
        qu = float(u @ u) / u.size
        d = u
        for W in reversed(lin):
            d = W.T @ d
        bwd.append(float(d @ d) / d.size / qu)
    return Trial(tuple(he_r), tuple(fwd), tuple(bwd), tuple(float(v) for v in layers / m))


def _row(quantity: str, predicted: float, per_net: list[tuple[float, ...]]) -> Row:
    iv = t_interval([float(np.mean(r)) for r in per_net])
    return interval_row(quantity, predicted, iv, what="seeds (means of networks)")


def run(ctx: Context) -> Outcome:
    k, m = (8, 50) if ctx.tier == "quick" else (32, 200)
    trials: list[Trial] = ctx.map(_trial, [(s, m, ctx.sabotage) for s in trial_seeds(ctx, k)])
    rows = (
        _row("(a) He, ReLU: E(||z_L||^2/n_L)/q_x", 2.0, [t.he_relu for t in trials]),
        _row("(b) Xavier, linear, forward factor", predicted_forward(), [t.xavier_fwd for t in trials]),
        _row("(c) Xavier, linear, backward factor", predicted_backward(), [t.xavier_bwd for t in trials]),
    )
    return Outcome(
        rows=rows,
        figure={"layers": [list(t.he_layers) for t in trials], "widths": list(_WIDTHS)},
    )


def plot(result: CheckResult, path: str) -> None:
    from ._plot import save, subplots

    fig, (ax,) = subplots()
    layers = np.array(result.figure["layers"], dtype=float)
    depth = np.arange(1, layers.shape[1] + 1)
    for row in layers:
        ax.plot(depth, row, "o-", color="C0", alpha=0.3)
    ax.axhline(2.0, color="k", ls="--", label="He prediction: 2 q_x at every layer")
    ax.set_xlabel("layer l")
    ax.set_ylabel("mean of (||z_l||^2 / n_l) / q_x")
    ax.set_ylim(0.0, max(3.0, float(layers.max()) * 1.1))
    ax.legend()
    save(fig, path, result.claim)

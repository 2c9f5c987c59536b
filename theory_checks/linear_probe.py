r"""Linear probing is a convex problem: frozen features plus an L2-penalised logistic read-out have one
optimum, which two different solvers from independent starts both reach; and the lazy network is the
linear probe of its gradient features (the probe equals kernel ridge regression with the NTK).

Claim:
    Note 002's linear-probing subsection of section 3.3 (Linear Perspectives on Neural Networks):
    freezing the network's layers 1..L-1 as a feature map phi(x) and training only the last linear
    layer "reduces the problem to convex logistic/linear regression on learned features". With the
    penalty lambda/2 ||theta||^2 the objective F of (LP1) is lambda-strongly convex, so its minimiser
    theta* is unique, and every point is certified by its gradient (LP3):
    ||theta - theta*|| <= ||grad F(theta)|| / lambda. And note 002 §3.3.2, eq. (14): the linearised
    network is a linear model in the features grad_theta f(x, theta_0), analysed by kernel ridge
    regression: the ridge probe on the gradient features (primal, p unknowns) predicts exactly
    what kernel ridge regression with K = J J^T (dual, n unknowns, (NTK3)) predicts.

Setup:
    Per trial (seed): n = 100 points x ~ U([-3, 3]^2) labelled by the five Peaks classes
    (``reference.problems.peaks.peaks_labels``); features phi(x) = ReLU(W1 x + b1) / sqrt(d) of a
    random hidden layer at theta_0, d = 12, W1, b1 ~ N(0, 1) (frozen). ``linear_probe`` (LP1) with
    lambda = 0.01 twice: ``ref.newton`` from theta = 0 (tol 1e-10) and ``ref.lbfgs`` from
    theta ~ N(0, 1) (tol 1e-7; its strong-Wolfe search stalls near 1e-8, where F's differences
    reach rounding). Gradient features: the tanh network of the check ntk_regression at width 32
    (p = 128) on its 8 training and 8 held-out points; ``linear_probe`` (LP2) on features J(theta_0),
    targets y - f(theta_0), no bias, lambda_p = 1e-3, Newton (tol 1e-11), against
    ``kernel_fit``/``kernel_predict`` (NTK3) with ridge n lambda_p (the same objective times n).
    Quick tier 3 trials, full 12.

Measured:
    Every trial; the worst ratio to its bound is the row.
    (a) the certificate, measured by the check: ||G(theta_hat)|| with G the check's own closed form
        Phi~^T (softmax(Z) - Y) / n + lambda theta (Phi~ = [Phi, 1], Z = Phi~ theta), at both solvers'
        answers, against the certificate each solver reports (``Probe.grad_norm``, autograd):
        | ||G|| - grad_norm | <= s, s the rounding slack below.
    (b) uniqueness: ||Z_newton - Z_lbfgs||_F (the logits on the training features) <=
        ||Phi~||_2 (G_N + G_L) / lambda + s_Z, from (LP3) for each answer and the triangle
        inequality (G the check's gradient norms of (a), each plus its slack).
    (c) the gradient-feature probe against kernel ridge at the held-out points: max |difference| <=
        ||J_x||_2 G_p / lambda_p (LP3, G_p the check's gradient norm of (LP2)) + the dual solve's
        rounding.

Tolerance:
    Derived bounds; no statistical row. Strong convexity (Nesterov 2004, Theorem 2.1.10): for a
    lambda-strongly convex F, ||theta - theta*|| <= ||grad F(theta)|| / lambda. Rounding (u = 2^-53,
    gamma_m = m u / (1 - m u)): the closed-form gradient is a sum of n terms of a softmax of a
    (d + 1)-term dot product: |error| <= gamma_{n + d + C + 8} (|Phi~|^T (P + Y) / n + lambda |theta|)
    componentwise; autograd's certificate carries the same, so s is twice its norm. Logits:
    |fl(Phi~ theta) - Phi~ theta| <= gamma_{d+1} |Phi~| |theta|, twice for two solutions. Dual solve:
    eigh is backward stable, exact for K + E with ||E|| <= 3 n^2 u ||K||_F (generous), so the
    coefficients move by <= ||E|| ||a|| / (s_min + ridge), times ||K(x, X)||_2; plus gamma_p
    |J_x| |delta| for the primal prediction. Worst ratios measured over quick seeds 0-59 (full 0-9):
    (a) 6.2e-4 (7.9e-4), (b) 0.16 (0.15), (c) 4.5e-5 (4.5e-5); 0 failed runs.

References:
    Note 002 §3.3.2, eq. (14), and its linear-probing subsection. Alain, G. and Bengio, Y. (2017),
    Understanding intermediate layers using linear classifier probes. Nesterov, Y. (2004),
    Introductory Lectures on Convex Optimization, Theorem 2.1.10. Jacot, Gabriel & Hongler (2018).

Sabotage:
    "hidden-layer": the probe gets a hidden layer, z = tanh(Phi~ A) W + b, A in R^{(d+1) x 4}, solved
        by the same two solvers from the same two starts: no longer convex (Newton from 0 sits at
        the saddle A = 0, W = 0), and (b) fails.
    "wrong-penalty": the solvers minimise the objective with the penalty's derivative doubled
        (2 lambda theta, as from lambda ||theta||^2 against the stated lambda/2 ||theta||^2): (a)
        fails: the answers' true gradients are lambda ||theta|| while the certificates are ~0.
        (The bound of (c) uses the check's own gradient, so it stays valid for any answer: (c)
        tests the dual side.)
    "ridge-unscaled": the kernel ridge gets lambda_p instead of n lambda_p (the objective's 1/n
        forgotten): (c) fails.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import autograd.numpy as anp
import numpy as np
from autograd.tracer import getval

import reference as ref
from reference.experiments import ntk
from reference.oracle import FunctionOracle
from reference.problems.peaks import peaks_labels

from ._base import CheckResult, Context, Outcome, Row
from ._stats import bound_row, trial_seeds
from .ntk_regression import data as ntk_data
from .ntk_regression import init as ntk_init
from .ntk_regression import net as ntk_net

NAME = "linear_probe"
CLAIM = (
    "linear probe: one optimum, certified by ||grad F||/lambda; ridge probe on J(theta_0) = NTK kernel ridge"
)
SOURCE = "note 002 §3.3.2 (eq. 14) and its linear-probing subsection"
SABOTAGE: tuple[str, ...] = ("hidden-layer", "wrong-penalty", "ridge-unscaled")
JUSTIFICATION = "strong convexity (Nesterov 2004, Thm 2.1.10) certifies each answer by its gradient, measured by the check; float64 rounding bounds derived"
STAT_ROWS = 0

N, D, C, LAM, HIDDEN = 100, 12, 5, 1e-2, 4
W_GRAD, LAM_P = 32, 1e-3
U64 = 2.0**-53


def gamma(m: int) -> float:
    return m * U64 / (1.0 - m * U64)


@dataclass(frozen=True)
class Trial:
    """Ratios measured / bound of rows (a), (b), (c) for one trial."""

    stationarity: float
    uniqueness: float
    kernel: float


def features(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Frozen random ReLU features of Peaks points and their labels."""
    X = rng.uniform(-3.0, 3.0, size=(N, 2))
    W1, b1 = rng.standard_normal((D, 2)), rng.standard_normal(D)
    return np.maximum(X @ W1.T + b1, 0.0) / math.sqrt(D), np.asarray(peaks_labels(X))


def check_grad(Phi1: np.ndarray, y: np.ndarray, theta: np.ndarray) -> tuple[np.ndarray, float]:
    """The check's own gradient of (LP1) (softmax cross-entropy + lambda/2 ||theta||^2), Phi1 = [Phi, 1],
    and the norm of its rounding slack (docstring)."""
    n = Phi1.shape[0]
    T = theta.reshape(Phi1.shape[1], C)  # rows: W then b (the probe's flat order is W row-major, b)
    Z = Phi1 @ T
    P = np.exp(Z - Z.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    Y = np.eye(C)[y]
    G = Phi1.T @ (P - Y) / n + LAM * T
    slack = gamma(n + Phi1.shape[1] + C + 8) * (np.abs(Phi1).T @ (P + Y) / n + LAM * np.abs(T))
    return G.ravel(), 2.0 * float(np.linalg.norm(slack))


def hidden_solve(
    Phi1: np.ndarray, y: np.ndarray, solver: str, start: np.ndarray, tol: float
) -> tuple[np.ndarray, float]:
    """Sabotage: the probe with a hidden layer, z = tanh(Phi1 A) W + b, by the same solvers; returns
    the logits and the gradient norm (autograd)."""
    q = Phi1.shape[1] * HIDDEN
    rows = np.arange(Phi1.shape[0])

    def F(t: Any) -> Any:
        A = anp.reshape(t[:q], (Phi1.shape[1], HIDDEN))
        W = anp.reshape(t[q : q + HIDDEN * C], (HIDDEN, C))
        z = anp.dot(anp.tanh(anp.dot(Phi1, A)), W) + t[q + HIDDEN * C :]
        m = getval(anp.max(z, axis=1, keepdims=True))
        lse = anp.log(anp.sum(anp.exp(z - m), axis=1)) + m[:, 0]
        return anp.mean(lse - z[rows, y]) + 0.5 * LAM * anp.sum(t**2)

    oracle = FunctionOracle(F)
    opt: Any = ref.newton() if solver == "newton" else ref.lbfgs()
    state = opt.init(start)
    for _ in range(6 if solver == "newton" else 100):
        if state.stalled or (state.grad is not None and float(np.linalg.norm(state.grad)) <= tol):
            break
        state = opt.step(state, oracle)
    t = np.asarray(state.params)
    A, W, b = t[:q].reshape(-1, HIDDEN), t[q : q + HIDDEN * C].reshape(HIDDEN, C), t[q + HIDDEN * C :]
    return np.tanh(Phi1 @ A) @ W + b, float(np.linalg.norm(oracle.grad(t)))


def probe_rows(rng: np.random.Generator, sabotage: str | None) -> tuple[float, float]:
    """(a) and (b) for one feature set: the two solvers' answers checked by the check's gradient."""
    Phi, y = features(rng)
    Phi1 = np.hstack([Phi, np.ones((N, 1))])
    l2 = 2.0 * LAM if sabotage == "wrong-penalty" else LAM
    starts = {"newton": (None, 1e-10), "lbfgs": (rng.standard_normal((D + 1) * C), 1e-7)}
    if sabotage == "hidden-layer":
        q = (D + 1) * HIDDEN + HIDDEN * C + C
        out = [
            hidden_solve(Phi1, y, s, np.zeros(q) if s == "newton" else rng.standard_normal(q), tol)
            for s, (_, tol) in starts.items()
        ]
        (Zn, gn), (Zl, gl) = out
        bound = float(np.linalg.norm(Phi1, 2)) * (gn + gl) / LAM
        return 0.0, float(np.linalg.norm(Zn - Zl)) / bound
    ratios, norms, Zs, slack_z = [0.0], [], [], 0.0
    for s, (start, tol) in starts.items():
        pr = ntk.linear_probe(Phi, y, l2=l2, n_classes=C, solver=s, theta0=start, tol=tol)  # type: ignore[arg-type]
        theta = (
            np.concatenate([pr.weights, pr.bias[None, :]]).ravel()
            if pr.bias is not None
            else pr.weights.ravel()
        )
        G, slack = check_grad(Phi1, y, theta)
        g = float(np.linalg.norm(G))
        ratios.append(abs(g - pr.grad_norm) / slack)
        norms.append(g + slack)
        T = theta.reshape(D + 1, C)
        Zs.append(Phi1 @ T)
        slack_z += gamma(D + 1) * float(np.linalg.norm(np.abs(Phi1) @ np.abs(T)))
    bound = float(np.linalg.norm(Phi1, 2)) * sum(norms) / LAM + slack_z
    return max(ratios), float(np.linalg.norm(Zs[0] - Zs[1])) / bound


def kernel_row(rng: np.random.Generator, sabotage: str | None) -> float:
    """(c) the ridge probe on the gradient features J(theta_0) against kernel ridge with K = J J^T."""
    X, y, Xt = ntk_data()
    th0 = ntk_init(W_GRAD, rng)

    def f(t: Any, Z: np.ndarray) -> Any:
        return ntk_net(t, Z, W_GRAD)

    J, Jt = ntk.jacobian(f, th0, X), ntk.jacobian(f, th0, Xt)
    f0, f0t = ntk.outputs(f, th0, X), ntk.outputs(f, th0, Xt)
    n, p = J.shape
    l2 = 2.0 * LAM_P if sabotage == "wrong-penalty" else LAM_P
    pr = ntk.linear_probe(J, y - f0, loss="squared", l2=l2, fit_bias=False, tol=1e-11)
    delta = pr.weights[:, 0]
    primal = f0t + Jt @ delta
    K = J @ J.T
    fit = ntk.kernel_fit(K, y, f0, ridge=(1.0 if sabotage == "ridge-unscaled" else n) * LAM_P)
    dual = ntk.kernel_predict(fit, Jt @ J.T, f0t)
    G = J.T @ (J @ delta - (y - f0)) / n + LAM_P * delta  # the check's gradient of (LP2)
    g_slack = (
        2.0
        * gamma(n + p + 2)
        * float(np.linalg.norm(np.abs(J).T @ (np.abs(J) @ np.abs(delta) + np.abs(y - f0)) / n))
    )
    g = float(np.linalg.norm(G)) + g_slack
    a = np.linalg.solve(K + n * LAM_P * np.eye(n), y - f0)
    s_min = float(np.min(fit.eigenvalues)) + n * LAM_P
    e_dual = (
        float(np.linalg.norm(Jt @ J.T, 2))
        * 3.0
        * n
        * n
        * U64
        * float(np.linalg.norm(K))
        * float(np.linalg.norm(a))
        / s_min
    )
    bound = (
        float(np.linalg.norm(Jt, 2)) * g / LAM_P
        + e_dual
        + gamma(p) * float(np.max(np.abs(Jt) @ np.abs(delta)))
    )
    return float(np.max(np.abs(primal - dual)) / bound)


def _trial(args: tuple[np.random.SeedSequence, str | None]) -> Trial:
    seed, sabotage = args
    a, b = seed.spawn(2)
    return Trial(
        *probe_rows(np.random.default_rng(a), sabotage), kernel_row(np.random.default_rng(b), sabotage)
    )


def run(ctx: Context) -> Outcome:
    k = 3 if ctx.tier == "quick" else 12
    trials: list[Trial] = ctx.map(_trial, [(s, ctx.sabotage) for s in trial_seeds(ctx, k)])
    worst = [max(getattr(t, f) for t in trials) for f in ("stationarity", "uniqueness", "kernel")]
    rows: tuple[Row, ...] = (
        bound_row(
            "(a) | check's ||grad F|| - reported certificate | / rounding slack, both answers",
            "0 (the certificate is grad F)",
            worst[0],
            1.0,
            why="the certificate is the gradient norm; rounding slack derived",
        ),
        bound_row(
            "(b) ||Z_newton - Z_lbfgs||_F / (||Phi~||_2 (G_N + G_L) / lambda)",
            "<= 1 (unique optimum)",
            worst[1],
            1.0,
            why="lambda-strong convexity, (LP3)",
        ),
        bound_row(
            "(c) ridge probe on J(theta_0) vs NTK kernel ridge: max |diff| / bound",
            "0 (primal = dual)",
            worst[2],
            1.0,
            why="(LP3) for the probe plus the dual solve's rounding",
        ),
    )
    figure = {f: [getattr(t, f) for t in trials] for f in ("stationarity", "uniqueness", "kernel")}
    return Outcome(rows=rows, figure=figure)


def plot(result: CheckResult, path: str) -> None:
    from ._plot import save, subplots

    fig, (ax,) = subplots(width=8.5)
    keys = ("stationarity", "uniqueness", "kernel")
    for i, key in enumerate(keys):
        vals = np.maximum(np.array(result.figure[key], dtype=float), 1e-300)
        ax.semilogy(np.full(vals.size, i), vals, "o", alpha=0.6)
    ax.axhline(1.0, color="k", ls="--", label="bound")
    ax.set_xticks(range(len(keys)), ["(a) certificate = grad F", "(b) uniqueness", "(c) primal = dual"])
    ax.set_ylabel("measured / derived bound")
    ax.legend()
    save(fig, path, result.claim)

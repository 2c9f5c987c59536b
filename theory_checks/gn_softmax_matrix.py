r"""The Gauss-Newton matrix of softmax cross-entropy is J^T (diag(p) - p p^T) J.

Claim:
    For softmax cross-entropy the Hessian of the per-sample loss in the logits is
    H_i = diag(p_i) - p_i p_i^T, so G = (1/n) sum_i J_i^T H_i J_i (note 000, "Gauss-Newton
    Derivation for General Convex Loss"). The reference never uses the closed form: it takes H_i
    from autograd (Hessian of the loss in the logits) and J_i by replicated-parameter backward
    passes (or, with ``activation="relu"``, the layer-wise formula). G is not the full Hessian of
    the network's loss: the ReLU MLP's second-order term is non-zero.

Setup:
    Peaks (note 000's 2-w-5 ReLU MLP, here w = 4, p = 37, on n = 120 training points of
    ``peaks(n_samples=170, n_train=120)``, data seed from the trial) at a He-initialised point with
    N(0, 0.1^2) biases. Built so that no pre-activation lies within its rounding bound of 0 (the
    ReLU mask is then the same in every precision; a draw that violates it is redrawn).
    G_ref = ``reference.model_oracle.gn_matrix(evaluate(...))``: the generic Jacobian path at the
    quick tier, both paths (generic and ``activation="relu"``) at the full tier.
    The prediction G_exact is computed by the check alone in 80-bit extended precision
    (``numpy.longdouble``, u_x = 2^-64): its own forward pass, its own J_i by the chain rule
    (dO_k/dW1[j,c] = W2[k,j] 1[z_j > 0] x_c, dO_k/db1[j] = W2[k,j] 1[z_j > 0],
    dO_k/dW2[k,j] = h_j, dO_k/db2[k] = 1), p_i = softmax(o_i), H_i = diag p_i - p_i p_i^T.
    Quick: 1 data set; full: 4 (``trial_seeds``).

Measured:
    max over entries of |G_ref - G_exact| / S with S = (1/n) sum_i Ja_i^T (diag p_i + p_i p_i^T) Ja_i
    (the scale of the rounding; Ja = |J| except in the W2 block, where dO_k/dW2[k,j] = h_j carries
    the absolute error of z_j = W1_j x + b1_j, so Ja = |X| |W1_j|^T + |b1_j| there), divided by the
    derived relative bound c; and, as a report,
    ||hess L - G||_F / ||G||_F = ||R||_F / ||G||_F from the closed-form second-order term
    R = (1/n) sum_ik (p_ik - [y_i = k]) d^2 o_ik / d theta^2 (non-zero only between W2 and W1, b1).

Tolerance:
    Entrywise |G_ref - G| <= c S, c = (1 + e_J)^2 (1 + e_H)(1 + gamma_K) - 1 (Higham 2002, Lemma 3.3),
    counted from the formulas: e_J = gamma_4 relative to Ja (an entry of J is a product of at most
    three rounded factors, W2 1 x or delta a; h_j = relu(z_j) to gamma_3 (|X||W1|^T + |b1|)_j, an
    absolute error: found when a full-tier run put 3800 u on a nearly cancelling h_j against a
    bound relative to |h_j|); e_H = (exp(4 delta_o) - 1) + 2 u r + gamma_{2m+10}, where
    delta_o = gamma_{w+4} max_ik (Ja_i |W2_k| + |b2_k|) bounds the float64 logits' error
    (|p_k(o + d) / p_k(o) - 1| <= exp(2 max|d|) - 1, and H's entries are products of two p's),
    r = max_ik |o_ik - max_l o_il| enters through exp's argument, and gamma_{2m+10} covers the sum
    of m exponentials, 1/S, the products of autograd's second derivative (d/do_l of e_k / S) and
    exp/log to 1 ulp (2u each); K = n m + n + m + 4 (the reference: the m-term then nm-term
    contractions, the 1/n and the symmetrisation; the check's own G: the product with p, the nm-term
    sum, J^T p in m terms, its outer product summed over n, the difference and the 1/n). The same formula with u_x bounds G_exact's own error; the row holds iff
    |G_ref - G_exact| <= (c + c_x) S everywhere. Deterministic ("bound" row).

References:
    Note 000, "Gauss-Newton Derivation for General Convex Loss" and "Computing the Jacobian";
    Schraudolph (2002), Neural Computation 14(7); Higham (2002), Accuracy and Stability of
    Numerical Algorithms, 2nd ed., ch. 3 (gamma_n, inner products).

Sabotage:
    "wrong-prediction": the closed form drops the -p p^T term (H_i = diag(p_i)).
    "sum-scale": the reference's record gets scale 1 ("sum") in place of 1/n ("mean") before G is
        formed (a reduction mix-up in the optimizer).
    "shifted-jacobian": the Jacobian rows are paired with the next sample's output Hessian (an
        off-by-one in the sample index).
    Planted in a copy of reference/ (``tools.mutate`` ids): caught gn-matrix-no-scale and G formed
    with diag(H_i) only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from reference.curvature.model_oracle import evaluate, gn_matrix
from reference.problems.peaks import Peaks, peaks

from ._base import CheckResult, Context, Outcome, Row, report_row
from ._stats import fmt, trial_seeds

NAME = "gn_softmax_matrix"
CLAIM = "G (autograd H in the logits) = (1/n) sum_i J_i^T (diag p_i - p_i p_i^T) J_i, and G != hess L"
SOURCE = "note 000, 'Gauss-Newton Derivation for General Convex Loss'"
SABOTAGE: tuple[str, ...] = ("wrong-prediction", "sum-scale", "shifted-jacobian")
JUSTIFICATION = (
    "entrywise float64 bound c S of the contractions and of autograd's H, counted (Higham 2002 ch. 3)"
)
STAT_ROWS = 0

_W, _N, _M = 4, 120, 5
U = 2.0**-53
UX = float(np.finfo(np.longdouble).eps) / 2.0  # 2^-64 on x86 (80-bit extended)
LD = np.longdouble


def _gamma(k: int, u: float) -> float:
    return k * u / (1.0 - k * u)


@dataclass(frozen=True)
class Exact:
    """The check's own extended-precision quantities at one point."""

    G: Any  # (p, p) G_exact
    S: Any  # (p, p) the rounding scale
    R: Any  # (p, p) the second-order term hess L - G
    logit_range: float  # r = max |o - max o|
    o_abs_max: float  # max (|h| |W2| + |b2|)


def _pre_activations(prob: Peaks, theta: Any) -> tuple[Any, Any, Any]:
    """(z, its float64 rounding scale gamma_3 (|X| |W1|^T + |b1|), the params) in long double."""
    W1, b1, W2, b2 = (np.asarray(a, dtype=LD) for a in prob.unflatten(np.asarray(theta)))
    X = np.asarray(prob.X, dtype=LD)
    z = X @ W1.T + b1
    return z, _gamma(3, U) * (np.abs(X) @ np.abs(W1).T + np.abs(b1)), (X, W1, b1, W2, b2)


def mask_margin(prob: Peaks, theta: Any) -> float:
    """min |z| / (its rounding scale): > 1 means the ReLU mask is the same in every precision."""
    z, scale, _ = _pre_activations(prob, theta)
    return float(np.min(np.abs(z) / scale))


def exact_quantities(prob: Peaks, theta: Any, wrong: bool) -> Exact:
    """G in long double by the chain rule, its scale S (float64, inflated) and the term R."""
    z, z_err, (X, W1, b1, W2, b2) = _pre_activations(prob, theta)
    n, w, m = X.shape[0], W1.shape[0], W2.shape[0]
    mask = (z > 0).astype(LD)
    h_abs = (z_err / _gamma(3, U) * mask).astype(np.float64)  # |X| |W1|^T + |b1| on the active units
    h = z * mask
    o = h @ W2.T + b2
    e = np.exp(o - o.max(axis=1, keepdims=True))
    P = e / e.sum(axis=1, keepdims=True)
    J = np.zeros((n, m, 8 * w + 5), dtype=LD)
    for k in range(m):
        J[:, k, : 2 * w] = ((W2[k] * mask)[:, :, None] * X[:, None, :]).reshape(n, 2 * w)
        J[:, k, 2 * w : 3 * w] = W2[k] * mask
        J[:, k, 3 * w + k * w : 3 * w + (k + 1) * w] = h
        J[:, k, 8 * w + k] = 1.0
    Jr = J.reshape(n * m, -1)
    # G = (1/n) [sum_ik p_ik J_ik^T J_ik - sum_i (J_i^T p_i)(J_i^T p_i)^T]  (H_i = diag p_i - p_i p_i^T)
    G = np.einsum("ap,aq->pq", Jr * P.reshape(-1, 1), Jr)
    V = np.einsum("nkp,nk->np", J, P)
    if not wrong:
        G = G - np.einsum("np,nq->pq", V, V)
    G = G / n
    # the scale of J's rounding: |J|, except dO_k/dW2[k,j] = h_j, whose error is absolute
    # (gamma_3 (|X||W1|^T + |b1|)_j, not relative to h_j: z = W1 x + b1 cancels)
    Jabs = np.abs(J).astype(np.float64)
    for k in range(m):
        Jabs[:, k, 3 * w + k * w : 3 * w + (k + 1) * w] = h_abs
    Ja = Jabs.reshape(n * m, -1)
    # S = (1/n) [sum_ik p_ik Ja_ik^T Ja_ik + sum_i (Ja_i^T p_i)(Ja_i^T p_i)^T] in float64: a sum of
    # K' = n m + n + 2 non-negative terms per entry (plus two products each), inflated by gamma_{K'+2}
    P64 = P.astype(np.float64)
    Va = np.einsum("nkp,nk->np", Ja.reshape(n, m, -1), P64)
    S = (Ja.T @ (Ja * P64.reshape(-1, 1)) + Va.T @ Va) / n * (1.0 + _gamma(n * m + n + 6, U))
    # second-order term: d^2 o_k / dW2[k,j] d(W1[j,c], b1[j]) = 1[z_j > 0] (x_c, 1)
    Y = np.eye(m, dtype=LD)[np.asarray(prob.y, dtype=np.intp)]
    R = np.zeros_like(G)
    X1 = np.concatenate([X, np.ones((n, 1), dtype=LD)], axis=1)
    for k in range(m):
        vals = ((P[:, k] - Y[:, k])[:, None] * mask).T @ X1 / n  # (w, 3): d/dW1[j, 0], d/dW1[j, 1], d/db1[j]
        for j in range(w):
            rows, col = [2 * j, 2 * j + 1, 2 * w + j], 3 * w + k * w + j
            R[rows, col] = vals[j]
            R[col, rows] = vals[j]
    o_abs = h_abs @ np.abs(W2.astype(np.float64)).T + np.abs(b2.astype(np.float64))
    return Exact(
        G=G,
        S=S,
        R=R,
        logit_range=float(np.max(o.max(axis=1, keepdims=True) - o)),
        o_abs_max=float(np.max(o_abs)),
    )


def relative_bound(u: float, ex: Exact, n: int, m: int, w: int) -> float:
    """c of the docstring for unit roundoff u."""
    delta_o = _gamma(w + 4, u) * ex.o_abs_max
    e_h = math.expm1(4 * delta_o) + 2 * u * ex.logit_range + _gamma(2 * m + 10, u)
    e_j = _gamma(4, u)
    return (1 + e_j) ** 2 * (1 + e_h) * (1 + _gamma(n * m + n + m + 4, u)) - 1


@dataclass(frozen=True)
class Trial:
    ratio: float  # max entrywise |G_ref - G_exact| / ((c + c_x) S), over both Jacobian paths
    c: float
    gap: float  # ||R||_F / ||G||_F


def _instance(seed: np.random.SeedSequence) -> tuple[Peaks, Any]:
    rng = np.random.default_rng(seed)
    prob = peaks(width=_W, n_samples=_N + 50, n_train=_N, seed=int(rng.integers(2**31)))
    while True:  # instance built to have an unambiguous ReLU mask (see Setup)
        theta = prob.init_params(rng)
        theta[2 * _W : 3 * _W] = 0.1 * rng.standard_normal(_W)
        theta[8 * _W :] = 0.1 * rng.standard_normal(_M)
        # |z| > 2 gamma_3 (|X||W1|^T + |b1|): float64 and extended z (each within gamma_3 of the exact
        # one, gamma_3 in u_x being smaller) then have the sign of the exact z
        if mask_margin(prob, theta) > 2.0:
            return prob, theta


def _reference_G(prob: Peaks, theta: Any, activation: str | None, sabotage: str | None) -> Any:
    rec = evaluate(prob, theta, activation=activation)
    if sabotage == "sum-scale":
        rec = replace(rec, scale=1.0)
    if sabotage == "shifted-jacobian":
        rec = replace(rec, out_hess=np.roll(np.asarray(rec.out_hess), 1, axis=0))
    return np.asarray(gn_matrix(rec))


def _trial(args: tuple[np.random.SeedSequence, str | None, tuple[str | None, ...]]) -> Trial:
    seed, sabotage, paths = args
    prob, theta = _instance(seed)
    ex = exact_quantities(prob, theta, sabotage == "wrong-prediction")
    c = relative_bound(U, ex, _N, _M, _W) + relative_bound(UX, ex, _N, _M, _W)
    worst = 0.0
    for activation in paths:
        diff = np.abs(_reference_G(prob, theta, activation, sabotage).astype(LD) - ex.G)
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.where(ex.S > 0, diff / (c * ex.S), np.where(diff > 0, np.inf, 0.0))
        worst = max(worst, float(np.max(r)))
    gap = float(np.linalg.norm(ex.R.astype(np.float64)) / np.linalg.norm(ex.G.astype(np.float64)))
    return Trial(worst, c, gap)


def row_agreement(trials: list[Trial]) -> Row:
    """The reference's G (both Jacobian paths) against the check's closed form, entrywise."""
    worst = max(t.ratio for t in trials)
    return Row(
        quantity="max_pq |G_ref - G_closed|_pq / (c S_pq) (full tier: both Jacobian paths)",
        predicted="G_closed = (1/n) sum J^T (diag p - p p^T) J (80-bit, own J)",
        measured=fmt(worst),
        tolerance=f"<= 1; c + c_x = {fmt(max(t.c for t in trials))} (counted float64 + extended rounding)",
        holds=bool(worst <= 1.0),
    )


def run(ctx: Context) -> Outcome:
    k, paths = (1, (None,)) if ctx.tier == "quick" else (4, (None, "relu"))
    trials: list[Trial] = ctx.map(_trial, [(s, ctx.sabotage, paths) for s in trial_seeds(ctx, k)])
    gap = min(t.gap for t in trials)
    return Outcome(
        rows=(
            row_agreement(trials),
            report_row(
                "||hess L - G||_F / ||G||_F (closed-form second-order term R)",
                fmt(gap),
                note="algebra on the instance: G is not the Hessian (R != 0)",
            ),
        ),
        figure={"ratio": [t.ratio for t in trials], "gap": [t.gap for t in trials]},
    )


def plot(result: CheckResult, path: str) -> None:
    from ._plot import save, subplots

    fig, (ax,) = subplots()
    f: dict[str, Any] = result.figure
    k = len(f["ratio"])
    ax.semilogy(range(k), np.maximum(f["ratio"], 1e-300), "o", label="|G_ref - G_closed| / (c S), max entry")
    ax.semilogy(range(k), f["gap"], "s", label="||hess L - G|| / ||G||")
    ax.axhline(1.0, color="k", ls="--", label="bound")
    ax.set_xlabel("data set")
    ax.legend()
    save(fig, path, result.claim)

r"""The Gauss-Newton matrix of softmax cross-entropy is J^T (diag(p) - p p^T) J.

Claim:
    For softmax cross-entropy the Hessian of the per-sample loss in the logits is
    H_i = diag(p_i) - p_i p_i^T, so G = (1/n) sum_i J_i^T H_i J_i (seed 000, "Gauss-Newton
    Derivation for General Convex Loss"). The reference never uses the closed form: it takes H_i
    from autograd (Hessian of the loss in the logits). The two matrices agree to rounding; and G is
    not the full Hessian of the network's loss (the second-order term of the ReLU MLP is non-zero).

Setup:
    Peaks (seed 000: n = 800 training points, MLP 2-32-5 with ReLU, p = 261) at He-initialised
    points; quick: 2 seeds, full: 6 seeds. G_auto = ``reference.model_oracle.gn_matrix`` (J by
    replicated parameters, H by autograd); G_closed = (1/n) sum_i J_i^T (diag p_i - p_i p_i^T) J_i
    with p_i = softmax(o_i) computed directly in numpy; the full Hessian by autograd
    (``autograd.hessian`` of L) at the first seed only (p Hessian-vector products).

Measured:
    max over seeds of ||G_auto - G_closed||_F / || |J|^T |H| |J| ||_F (the rounding-relative
    error), and ||hess L - G||_F / ||G||_F (the contrast).

Tolerance:
    Higham's bound for a sum of K products, gamma_K = K u / (1 - K u), applied to both
    contractions and to the two ways of computing H (autograd's and the closed form each carry a
    few ulps per entry): relative to || |J|^T |H| |J| ||_F the difference is <= 2 gamma_K with
    K = n m + 4 m + 10 (n m terms in the outer sum, m in the inner product, the softmax
    normalisation). The contrast holds when the relative gap exceeds 1e-3.

References:
    Seed 000, "Gauss-Newton Derivation for General Convex Loss" and "Computing the Jacobian";
    Schraudolph (2002), Neural Computation 14(7); Higham (2002), Accuracy and Stability of
    Numerical Algorithms, 2nd ed., ch. 3 (gamma_n, inner products).

Sabotage:
    "wrong-prediction": the closed form drops the -p p^T term (H_i = diag(p_i)); the agreement row
    must then fail.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from ._base import CheckResult, Context, Row
from ._stats import bound_row, fmt, trial_seeds

NAME = "gn_softmax_matrix"
CLAIM = "G (autograd H in the logits) = (1/n) sum_i J_i^T (diag p_i - p_i p_i^T) J_i, and G != hess L"
SOURCE = "seed 000, 'Gauss-Newton Derivation for General Convex Loss'"
SABOTAGE: tuple[str, ...] = ("wrong-prediction",)

_U = 2.0**-53


def _trial(args: tuple[np.random.SeedSequence, bool, bool]) -> tuple[float, float, int, int]:
    seed, wrong, with_hessian = args
    import autograd

    from reference.model_oracle import evaluate, gn_matrix
    from reference.problems.peaks import peaks

    prob = peaks(width=32)
    theta = prob.init_params(np.random.default_rng(seed))
    rec = evaluate(prob, theta)
    assert rec.jac is not None
    G_auto = np.asarray(gn_matrix(rec))
    O = np.asarray(rec.outputs)
    P = np.exp(O - O.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    H = np.einsum("nk,kl->nkl", P, np.eye(P.shape[1]))
    if not wrong:
        H = H - P[:, :, None] * P[:, None, :]
    J = np.asarray(rec.jac)
    n, m, p = J.shape
    G_closed = np.einsum("nkp,nkl,nlq->pq", J, H, J, optimize=True) / n
    scale = np.einsum("nkp,nkl,nlq->pq", np.abs(J), np.abs(H), np.abs(J), optimize=True) / n
    rel = float(np.linalg.norm(G_auto - G_closed) / np.linalg.norm(scale))
    gap = float("nan")
    if with_hessian:
        hess = autograd.hessian(prob.loss)(theta)
        gap = float(np.linalg.norm(hess - G_auto) / np.linalg.norm(G_auto))
    return rel, gap, n, m


def run(ctx: Context) -> CheckResult:
    if ctx.sabotage not in (None, *SABOTAGE):
        raise ValueError(f"{NAME}: sabotage must be one of {SABOTAGE}, got {ctx.sabotage!r}")
    t0 = time.perf_counter()
    k = 2 if ctx.tier == "quick" else 6
    wrong = ctx.sabotage == "wrong-prediction"
    seeds = trial_seeds(ctx, k)
    out = ctx.map(_trial, [(s, wrong, i == 0) for i, s in enumerate(seeds)])
    rels = np.array([o[0] for o in out])
    gap = out[0][1]
    n, m = out[0][2], out[0][3]
    K = n * m + 4 * m + 10
    bound = 2 * K * _U / (1 - K * _U)
    rows: tuple[Row, ...] = (
        bound_row(
            "max ||G_autograd - G_closed||_F / || |J|^T|H||J| ||_F", "0", float(rels.max()), bound,
            why=f"2 gamma_K, K = n m + 4m + 10 = {K}",
        ),
        Row(
            quantity="||hess L - G||_F / ||G||_F (contrast: G is not the Hessian)",
            predicted="> 1e-3",
            measured=fmt(gap),
            tolerance="> 1e-3",
            holds=bool(gap > 1e-3),
        ),
    )  # fmt: skip
    return CheckResult(
        name=NAME,
        claim=CLAIM,
        source=SOURCE,
        rows=rows,
        justification="Higham's gamma_K bound for the contractions (K = n m + 4 m + 10 terms)",
        figure={"relative_error": rels.tolist(), "bound": bound, "hessian_gap": gap},
        seconds=time.perf_counter() - t0,
    )


def plot(result: CheckResult, path: str) -> None:
    from ._plot import save, subplots

    fig, (ax,) = subplots()
    f: dict[str, Any] = result.figure
    ax.semilogy(range(len(f["relative_error"])), np.maximum(f["relative_error"], 1e-300), "o", label="measured")
    ax.axhline(f["bound"], color="k", ls="--", label="2 gamma_K")
    ax.set_xlabel("seed")
    ax.set_ylabel("rounding-relative difference")
    ax.legend()
    save(fig, path, result.claim)

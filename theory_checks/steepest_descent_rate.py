r"""Steepest descent with an exact line search zig-zags and converges at the Kantorovich rate: each step
cuts f - f* by at most ((kappa - 1)/(kappa + 1))^2, with equality from the worst start.

Claim:
    Note 004, "Step Size Selection" (option 2): the step eta_t = argmin_eta L(theta_t - eta grad
    L(theta_t)). On a quadratic f(x) = 1/2 x^T A x (A symmetric positive definite, condition number
    kappa, f* = 0) the exact line search makes consecutive gradients orthogonal,
        (a) g_{t+1}^T g_t = 0 (the zig-zag),
    and (Nocedal & Wright 2006, Theorem 3.3; Kantorovich's inequality)
        (b) f(x_{t+1}) <= q f(x_t),   q = ((kappa - 1)/(kappa + 1))^2, at every step, from any start,
        (c) f(x_{t+1}) = q f(x_t) at every step from x_0 = v_1/lambda_1 + v_n/lambda_n (v_i the
            eigenvectors of the extreme eigenvalues): the bound is attained.
    q is computed by the check from A's extreme eigenvalues (numpy.linalg.eigvalsh), never from
    the method.

Setup:
    ``ref.steepest_descent()`` (line_search "exact") on f(x) = 1/2 x^T A x through a
    ``FunctionOracle``. A = Q diag(lambda) Q^T, n = 20, Q a random orthogonal matrix, lambda
    log-spaced from 1 to kappa, kappa in {10, 100} alternately; x_0 ~ N(0, I) for (a)-(b) and the
    worst start of (c); 25 steps each. Quick: 4 matrices, full: 16. f and g are computed by the
    check (0.5 x^T A x and A x), not read from the method's state.

Measured:
    (a) max over steps and matrices of |cos angle(g_{t+1}, g_t)|;
    (b) max over steps and matrices of (f_{t+1}/f_t) / q;
    (c) max over steps and matrices of |(f_{t+1}/f_t)/q - 1| from the worst start.

Tolerance:
    Derived float64 rounding bounds, per step, from the step's own quantities (u = eps/2,
    gamma_k = k u/(1 - k u)); none draws on the statistical budget.
    (a) The exact search stops when |phi'(eta)| <= 1e-12 |phi'(0)|, i.e. |g_{t+1}^T g_t| <=
        1e-12 ||g_t||^2 in the method's arithmetic; the check's own g's differ from the method's
        by rounding: x_{t+1} = fl(x_t - eta g_t) is within u(|x_{t+1}| + 2 eta |g_t|)
        componentwise, and fl(A x) within gamma_n |A||x|. Bound: [1e-12 ||g_t||^2 +
        (||A|| (u ||x_{t+1}|| + 2u eta ||g_t||) + gamma_n (|| |A||x_t| || + || |A||x_{t+1}| ||))
        ||g_t|| + gamma_n |g_{t+1}|.|g_t|] / (||g_t|| ||g_{t+1}||), doubled.
    (b), (c) f = 1/2 x^T A x of a positive definite A is a sum with relative error <= gamma_{n+2}
        per value (x^T (A x): gamma_n for A x, then gamma_n for the dot, both of positive terms up
        to the eigenbasis rotation: bounded by kappa_rot = || |A||x| || ||x|| / (x^T A x));
        the iterate's own rounding moves f by <= 2 u kappa f; eta's error moves f only at second
        order (eta minimises phi). Bound on |ratio/q - 1|: 2 (2 gamma_{2n} kappa_rot + 4 u kappa) + 1e-12 kappa.

References:
    Note 004, "Step Size Selection". Nocedal, J. and Wright, S. J. (2006). Numerical Optimization,
    2nd ed., section 3.3, Theorem 3.3 and eq. (3.29).

Sabotage:
    "armijo": the method runs with Armijo backtracking instead of the exact search ((a) and (c) fail).
    "wolfe": the method runs with the strong-Wolfe search (c2 = 0.9), whose step need not zero
        phi' ((a) fails).
    "rate-unsquared": the prediction is (kappa - 1)/(kappa + 1), the rate of ||x - x*||_A without
        the square ((c) fails).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import autograd.numpy as anp
import numpy as np

import reference as ref
from reference.oracle import FunctionOracle

from ._base import CheckResult, Context, Outcome, Row
from ._stats import bound_row, trial_seeds

NAME = "steepest_descent_rate"
CLAIM = "exact line search: g_{t+1} perp g_t; f_{t+1} <= ((kappa-1)/(kappa+1))^2 f_t, with equality from the worst start"
SOURCE = "note 004, 'Step Size Selection'"
SABOTAGE: tuple[str, ...] = ("armijo", "wolfe", "rate-unsquared")
JUSTIFICATION = (
    "derived float64 rounding bounds per step from the step's own quantities (no statistical rows)"
)
STAT_ROWS = 0

_N, _STEPS, _TOL = 20, 25, 1e-12
_U = float(np.finfo(np.float64).eps) / 2.0


def _gamma(k: int) -> float:
    return k * _U / (1.0 - k * _U)


@dataclass(frozen=True)
class Trial:
    """One matrix: per step the cosine and its bound (a), the ratio/q and its bound (b) from a
    random start, |ratio/q - 1| and its bound (c) from the worst start; f along both runs."""

    cos: tuple[float, ...]
    cos_bound: tuple[float, ...]
    ratio: tuple[float, ...]
    ratio_bound: tuple[float, ...]
    worst: tuple[float, ...]
    worst_bound: tuple[float, ...]
    f_random: tuple[float, ...]
    f_worst: tuple[float, ...]


def _run(A: np.ndarray, x0: np.ndarray, sabotage: str | None) -> list[np.ndarray]:
    if sabotage == "armijo":
        opt = ref.steepest_descent(line_search="armijo")
    elif sabotage == "wolfe":
        opt = ref.steepest_descent(line_search="wolfe")
    else:
        opt = ref.steepest_descent()
    oracle = FunctionOracle(lambda x: 0.5 * anp.dot(x, anp.dot(A, x)))
    state, xs = opt.init(x0), [x0]
    for _ in range(_STEPS):
        state = opt.step(state, oracle)
        xs.append(np.asarray(state.params))
    return xs


def _ratio_bounds(A: np.ndarray, xs: list[np.ndarray], kappa: float) -> list[float]:
    absA = np.abs(A)
    out = []
    for x in xs[1:]:
        f = 0.5 * float(x @ A @ x)
        rot = float(np.linalg.norm(absA @ np.abs(x)) * np.linalg.norm(x)) / max(2.0 * f, 1e-300)
        out.append(2.0 * (2.0 * _gamma(2 * _N) * rot + 4.0 * _U * kappa) + _TOL * kappa)
    return out


def _trial(args: tuple[np.random.SeedSequence, float, str | None]) -> Trial:
    seed, kappa, sabotage = args
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((_N, _N)))
    lam = np.geomspace(1.0, kappa, _N)
    A = (Q * lam) @ Q.T
    A = 0.5 * (A + A.T)
    ev = np.linalg.eigvalsh(A)
    k_meas = float(ev[-1] / ev[0])
    q = (k_meas - 1.0) / (k_meas + 1.0)
    q = q if sabotage == "rate-unsquared" else q * q
    normA, absA = float(ev[-1]), np.abs(A)

    xs = _run(A, rng.standard_normal(_N), sabotage)
    gs = [A @ x for x in xs]
    fs = [0.5 * float(x @ A @ x) for x in xs]
    cos, cb = [], []
    for k in range(_STEPS):
        g0, g1, x0, x1 = gs[k], gs[k + 1], xs[k], xs[k + 1]
        n0, n1 = float(np.linalg.norm(g0)), float(np.linalg.norm(g1))
        if n0 == 0.0 or n1 == 0.0:
            break
        eta = float(np.linalg.norm(x1 - x0)) / n0
        err = (
            _TOL * n0 * n0
            + (
                normA * (_U * np.linalg.norm(x1) + 2 * _U * eta * n0)
                + _gamma(_N) * (np.linalg.norm(absA @ np.abs(x0)) + np.linalg.norm(absA @ np.abs(x1)))
            )
            * n0
            + _gamma(_N) * float(np.abs(g1) @ np.abs(g0))
        )
        cos.append(abs(float(g1 @ g0)) / (n0 * n1))
        cb.append(float(2.0 * err / (n0 * n1)))
    ratio = [fs[k + 1] / fs[k] / q for k in range(_STEPS) if fs[k] > 0]
    rb = [1.0 + b for b in _ratio_bounds(A, xs, k_meas)][: len(ratio)]

    i_min, i_max = int(np.argmin(ev)), int(np.argmax(ev))
    V = np.linalg.eigh(A)[1]
    xw = _run(A, V[:, i_min] / ev[i_min] + V[:, i_max] / ev[i_max], sabotage)
    fw = [0.5 * float(x @ A @ x) for x in xw]
    worst = [abs(fw[k + 1] / fw[k] / q - 1.0) for k in range(_STEPS) if fw[k] > 0]
    wb = _ratio_bounds(A, xw, k_meas)[: len(worst)]
    return Trial(
        tuple(cos), tuple(cb), tuple(ratio), tuple(rb), tuple(worst), tuple(wb), tuple(fs), tuple(fw)
    )


def _worst(values: list[tuple[float, ...]], bounds: list[tuple[float, ...]]) -> tuple[float, float]:
    """The largest measured value over the runs, with the bound of the step where the measured
    value exceeds its own bound by most (or comes closest to it)."""
    best = (-math.inf, 0.0, 0.0)
    for vs, bs in zip(values, bounds):
        for v, b in zip(vs, bs):
            if v - b > best[0]:
                best = (v - b, v, b)
    return best[1], best[2]


def run(ctx: Context) -> Outcome:
    k = 4 if ctx.tier == "quick" else 16
    seeds = trial_seeds(ctx, k)
    trials: list[Trial] = ctx.map(
        _trial, [(s, 10.0 if i % 2 == 0 else 100.0, ctx.sabotage) for i, s in enumerate(seeds)]
    )
    ca, ba = _worst([t.cos for t in trials], [t.cos_bound for t in trials])
    cr, br = _worst([t.ratio for t in trials], [t.ratio_bound for t in trials])
    cw, bw = _worst([t.worst for t in trials], [t.worst_bound for t in trials])
    rows: tuple[Row, ...] = (
        bound_row(
            "(a) |cos(g_{t+1}, g_t)|, worst step", "0", ca, ba, why="derived float64 rounding, per step"
        ),
        bound_row(
            "(b) (f_{t+1}/f_t)/q, worst step", "<= 1", cr, br, why="Kantorovich + derived rounding, per step"
        ),
        bound_row(
            "(c) |(f_{t+1}/f_t)/q - 1|, worst start", "0", cw, bw, why="derived float64 rounding, per step"
        ),
    )
    return Outcome(
        rows=rows,
        figure={"f_random": [list(t.f_random) for t in trials], "f_worst": [list(t.f_worst) for t in trials]},
    )


def plot(result: CheckResult, path: str) -> None:
    from ._plot import save, subplots

    fig, (ax,) = subplots()
    for i, (fr, fw) in enumerate(zip(result.figure["f_random"], result.figure["f_worst"])):
        ax.semilogy(fr, color=f"C{i % 10}", alpha=0.6)
        ax.semilogy(fw, color=f"C{i % 10}", ls="--", alpha=0.6)
    ax.set_xlabel("step t")
    ax.set_ylabel("f(x_t) - f*  (solid: random start, dashed: worst start)")
    save(fig, path, result.claim)

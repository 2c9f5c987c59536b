r"""Convergence orders: GD linear, BFGS superlinear, Newton quadratic (note 003's table).

Claim:
    With e_k = ||theta_k - theta*||, near a minimiser with positive definite Hessian H*:
    GD with step 1/lambda_max(H*) converges linearly, e_{k+1}/e_k -> rho = 1 - lambda_min/lambda_max
    (order 1); BFGS converges superlinearly, e_{k+1}/e_k -> 0; Newton converges quadratically,
    theta_{k+1} - theta* = (1/2) H*^{-1} T*[e_k, e_k] + O(e_k^3) (order 2, with that constant), T* the
    third-derivative tensor at theta*.

Setup:
    L(theta) = (1/n) sum_i phi(a_i^T theta), phi(r) = r^2/2 + r^3/6 + r^4/8 (phi'' = 1 + r + 3r^2/2 > 0:
    strictly convex; phi''' = 1 + 3r != 0, so Newton is exactly quadratic, not cubic), n = 20, p = 4,
    A = sqrt(n) U diag(sqrt(lambda)) V^T with random orthonormal U, V, so that H* = A^T A / n has
    eigenvalues lambda = (1, 0.6, 0.35, 0.1) up to rounding (well separated: GD's error aligns with
    the slowest eigenvector within ~100 steps). The minimiser is theta* = 0 exactly (phi'(0) = 0),
    by construction: the methods are translation-equivariant, and at theta* = 0 the error is the
    iterate itself, which float64 represents down to 1e-300 with relative accuracy, so the
    asymptotic regime is visible without an absolute rounding floor; every rounding effect is
    relative and bounded below. All start at theta_0 = 0.5 u, u a random unit vector.
    GD: ``ref.gd(1/lambda_max)`` fed the check's closed-form gradient A^T phi'(A theta) / n, 260
    steps; BFGS: ``ref.bfgs()`` (strong Wolfe), until e < 1e-30 or 60 steps; Newton:
    ``ref.newton()`` (Armijo), until e < 1e-30 or 12 steps; both on a FunctionOracle whose value,
    gradient and Hessian are the check's closed forms (``Quartic``). Quick: 2 data sets; full: 8.
    H*, its eigenpairs and H*^{-1} are computed in mpmath (40 digits) from the float64 A.

Measured:
    GD: max over k with e_k <= 1e-4 of |e_{k+1}/e_k - rho| / tol_k.
    Newton: max over k with 1e-13 <= e_k <= 1e-2 of ||theta_{k+1} - (1/2) H*^{-1} T*[theta_k, theta_k]||
    / tol_k (the level of the quadratic term, vector by vector; T*[x, x] = (1/n) sum_i (a_i^T x)^2 a_i),
    at least 2 such steps per data set. The windows only choose where the rows have power (below
    1e-13 the rounding of the step, ~1e-13 e_k, exceeds the quadratic term); the tolerances are
    valid at every k.
    BFGS: the geometric mean of the last three ratios e_{k+1}/e_k against b^2 (below).
    Report: three-point order estimates q_k = log(e_{k+1}/e_k) / log(e_k/e_{k-1}).

Tolerance:
    Derived, deterministic ("bound" rows). With ||T|| <= (1/n) sum ||a_i||^3, ||Q|| <= (3/n) sum ||a_i||^4
    (Q the constant fourth-derivative tensor; L is a quartic polynomial, so the expansions
    g(theta) = H* theta + T[theta, theta]/2 + Q[theta, theta, theta]/6 and
    H(theta) = H* + T[theta] + Q[theta, theta]/2 are exact):
    GD: theta_{k+1} = (I - lr H*) theta_k - lr N(theta_k), ||N|| <= ||T|| e^2 / 2 + ||Q|| e^3 / 6. The
    linear part's ratio lies in [rho c_k, rho] (lr lambda_max = 1, so every factor 1 - lr lambda_i is
    in [0, rho]; c_k = |v_min^T theta_k| / e_k, v_min from mpmath), hence
    tol_k = rho (1 - c_k) + lr (||T|| e_k / 2 + ||Q|| e_k^2 / 6) + r_k, with r_k the float64 rounding of
    the step relative to e_k: the gradient's error lr gamma_{n+p+9} ||(1/n) |A|^T s|| with
    s_i = rho_i + rho_i^2 + 2 rho_i^3, rho_i = |a_i|^T |theta_k| (counted: A theta, phi' in <= 5
    operations, A^T (.), 1/n), plus 2u for fl(lr g) and the subtraction, plus 2 gamma_{p+2} for the
    two float64 norms of the ratio.
    Newton (full step; the exact identity theta_{k+1} = H(theta_k)^{-1} (T[theta, theta]/2 +
    Q[theta, theta, theta]/3)): ||theta_{k+1} - H*^{-1} T[theta, theta]/2|| <=
    ||H_k^{-1} - H*^{-1}|| ||T|| e^2/2 + ||H_k^{-1}|| ||Q|| e^3/3, with ||H_k - H*|| <= ||T|| e + ||Q|| e^2/2
    =: h, ||H_k^{-1}|| <= 1/(lambda_min - h), ||H_k^{-1} - H*^{-1}|| <= h / (lambda_min (lambda_min - h));
    plus the float64 error of the computed step (``theory_checks._lsq``'s perturbation bound with
    the Cholesky backward error eps_chol(p), g formed to gamma_{n+p+9} (1/n)|A|^T s and H to
    gamma_{n+p+10} (1/n) |A|^T diag(1 + 2 rho + 3 rho^2) |A|: A x, phi'' in 4 operations, the
    n-term products, 1/n), u e_{k+1} for the
    update and 2u e_{k+1} for rounding the prediction and the norm of the miss. The prediction (1/2) H*^{-1} T*[theta_k, theta_k] is evaluated in mpmath.
    BFGS: superlinear means e_{k+1}/e_k -> 0, below every fixed rate; the row takes the contraction
    of two steps of the best rate a first-order method can guarantee for this condition number,
    b^2 with b = (sqrt(kappa) - 1)/(sqrt(kappa) + 1) (Nesterov 2004, Thm 2.1.13), kappa =
    lambda_max / lambda_min (b^2 = 0.27 here). A finite run cannot prove a limit: the fixed rate
    sets the power (a linearly convergent quasi-Newton update, e.g. rho = 1/(s^T s) in (B5), settles
    at 0.45-0.47 > b^2 here, but below b = 0.52), and the run length (until e < 1e-30, ~26 steps)
    keeps correct BFGS far below it (last ratios <= 0.013 over quick seeds 0-199, full seeds 0-29).

References:
    Note 003, "Newton's Method and Approximations" (table: GD linear, Newton quadratic, BFGS
    superlinear). Nocedal & Wright (2006), Theorems 3.5 (Newton) and 6.6 (BFGS); Nesterov (2004),
    Introductory Lectures on Convex Optimization, Thm 2.1.13; Higham (2002), chs. 3, 7, 10.

Sabotage:
    "wrong-prediction": predicts GD's ratio (kappa - 1)/(kappa + 1) (the optimal step's rate, not
        this step's).
    "broken-newton": Newton keeps the Hessian of theta_0 (a chord method, only linear).
    "short-step": GD's step is 0.98 / lambda_max (a 2 % step-size error).
    "broken-bfgs": BFGS's inverse-Hessian approximation is reset to I before every step (steepest
        descent with a Wolfe search: linear only).
    Planted in a copy of reference/ (``tools.mutate`` ids): caught newton-stale-hessian,
    newton-cholesky-order, newton-armijo-constant, bfgs-update-transposed, bfgs-y-sign, BFGS with
    rho = 1/(s^T s) and without + rho s s^T. Not caught, outside the local claim: armijo-sign and
    wolfe-curvature-no-abs (they change which steps are accepted far from theta*; near theta* the
    unit step passes both the correct and the mutated tests).
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass, replace
from typing import Any

import autograd.numpy as anp
import numpy as np

import reference as ref
from reference.oracle import FunctionOracle

from ._base import CheckResult, Context, Outcome, Row, report_row
from ._lsq import eps_cholesky, gamma
from ._stats import fmt, trial_seeds

NAME = "convergence_orders"
CLAIM = "GD: e_(k+1)/e_k -> 1 - 1/kappa; BFGS superlinear; Newton e_(k+1) = H*^-1 T*[e_k, e_k]/2 + O(e^3)"
SOURCE = "note 003, 'Newton's Method and Approximations' (cost/convergence table)"
SABOTAGE: tuple[str, ...] = ("wrong-prediction", "broken-newton", "short-step", "broken-bfgs")
JUSTIFICATION = (
    "exact Taylor remainders of a quartic objective with theta* = 0 plus counted float64 rounding (GD, Newton); "
    "BFGS below two steps of Nesterov's first-order linear lower bound"
)
STAT_ROWS = 0

N, P = 20, 4
LAMBDAS = (1.0, 0.6, 0.35, 0.1)
U = 2.0**-53
GD_STEPS, GD_WINDOW = 260, 1e-4
NEWTON_WINDOW, STOP = (1e-13, 1e-2), 1e-30


@dataclass(frozen=True, eq=False)
class Quartic(FunctionOracle):
    """The objective's oracle from the check's closed forms (value, A^T phi'(A x)/n,
    A^T diag(phi''(A x)) A / n) instead of autograd: the same function, cheaper."""

    A: Any = None
    frozen_at: Any = None  # sabotage "broken-newton": the Hessian of this point, always

    def value(self, x: Any) -> float:
        r = self.A @ x
        return float(np.mean(r * r / 2 + r * r * r / 6 + r * r * r * r / 8))

    def grad(self, x: Any) -> Any:
        return grad(self.A, x)

    def value_and_grad(self, x: Any) -> tuple[float, Any]:
        return self.value(x), self.grad(x)

    def hessian(self, x: Any) -> Any:
        at = x if self.frozen_at is None else self.frozen_at
        r = self.A @ at
        return (self.A.T * (1 + r + 1.5 * r * r)) @ self.A / N


@dataclass(frozen=True)
class Instance:
    A: Any  # (n, p) float64
    lam_min: float
    lam_max: float
    v_min: Any  # (p,) unit eigenvector of lambda_min (from mpmath)
    h_inv: Any  # mpmath H*^{-1}
    t_norm: float  # >= ||T||
    q_norm: float  # >= ||Q||


def _mp() -> Any:
    """mpmath's context (untyped; a dependency of the `check` extra)."""
    return importlib.import_module("mpmath").mp


def _instance(rng: np.random.Generator) -> Instance:
    mp = _mp()
    Uo = np.linalg.qr(rng.standard_normal((N, P)))[0]
    Vo = np.linalg.qr(rng.standard_normal((P, P)))[0]
    A = np.sqrt(N) * (Uo * np.sqrt(LAMBDAS)) @ Vo.T
    with mp.workdps(40):
        Am = mp.matrix(A.tolist())
        H = Am.T * Am / N
        E, Q = mp.eigsy(H)
        i_min = min(range(P), key=lambda i: E[i])
        v_min = np.array([float(Q[j, i_min]) for j in range(P)])
        lam_min, lam_max = float(min(E)), float(max(E))
        h_inv = mp.inverse(H)
    norms = np.linalg.norm(A, axis=1)
    up = 1.0 + gamma(2 * P + 8)  # the two norm sums: a few rounded operations on non-negative terms
    return Instance(
        A, lam_min, lam_max, v_min, h_inv, float(np.mean(norms**3)) * up, 3.0 * float(np.mean(norms**4)) * up
    )


def loss(A: Any) -> Any:
    def f(x: Any) -> Any:
        r = anp.dot(A, x)
        return anp.mean(r**2 / 2 + r**3 / 6 + r**4 / 8)

    return f


def grad(A: Any, x: Any) -> Any:
    """The check's closed-form gradient A^T phi'(A x) / n."""
    r = A @ x
    return A.T @ (r + r * r / 2 + r * r * r / 2) / N


def _grad_error(A: Any, x: Any) -> float:
    """Bound on ||g_hat(x) - g(x)|| (counted in the docstring: gamma_{n+p+9} (1/n) |A|^T s)."""
    rho = np.abs(A) @ np.abs(x)
    s = rho + rho**2 + 2 * rho**3
    return gamma(N + P + 9) * float(np.linalg.norm(np.abs(A).T @ s / N)) * (1 + gamma(N + P + 4))


def _hess_error(A: Any, x: Any) -> float:
    """Bound on ||H_hat(x) - H(x)||_2 <= ||.||_F (counted like the gradient, gamma_{n+p+10})."""
    rho = np.abs(A) @ np.abs(x)
    M = np.abs(A).T @ ((1 + 2 * rho + 3 * rho**2)[:, None] * np.abs(A)) / N
    return gamma(N + P + 10) * float(np.linalg.norm(M)) * (1 + gamma(N + P + 4))


@dataclass(frozen=True)
class Trial:
    gd_errs: tuple[float, ...]
    gd_dev: float  # max_k |ratio - rho_pred| / tol_k over the window
    gd_ratio: float  # the last ratio in the window
    rho: float
    newton_errs: tuple[float, ...]
    newton_dev: float  # max_k ||theta_{k+1} - P_k|| / tol_k over the window
    newton_c: float  # e_{k+1} / e_k^2 at the last window step
    newton_steps: int  # steps in the window
    bfgs_errs: tuple[float, ...]
    bfgs_ratio: float  # geometric mean of the last three ratios
    bfgs_bar: float  # ((sqrt(kappa) - 1)/(sqrt(kappa) + 1))^2


def _gd(inst: Instance, x0: Any, sabotage: str | None) -> tuple[tuple[float, ...], float, float, float]:
    lr = (0.98 if sabotage == "short-step" else 1.0) / inst.lam_max
    lr_pred = 1.0 / inst.lam_max
    rho = 1.0 - lr_pred * inst.lam_min
    kappa = inst.lam_max / inst.lam_min
    rho_pred = (kappa - 1) / (kappa + 1) if sabotage == "wrong-prediction" else rho
    opt = ref.gd(lr)
    st = opt.init(x0)
    errs, dev, last = [float(np.linalg.norm(x0))], 0.0, float("nan")
    for _ in range(GD_STEPS):
        x = np.asarray(st.params)
        st = opt.step(st, grad(inst.A, x))
        e, e1 = errs[-1], float(np.linalg.norm(st.params))
        errs.append(e1)
        if e <= GD_WINDOW:
            # c_k from float64 x and v_min (rounded from mpmath): lowered by the gamma of its 3p + 6 operations
            c = min(1.0, abs(float(inst.v_min @ x)) / e * (1 - gamma(3 * P + 6)))
            # the step's rounding relative to e, and the rounding of the two norms in the ratio
            rnd = (lr_pred * _grad_error(inst.A, x) + 2 * U * (e + e1)) / e + 2 * gamma(P + 2) * e1 / e
            tol = rho * (1 - c) + lr_pred * (inst.t_norm * e / 2 + inst.q_norm * e * e / 6) + rnd
            last = e1 / e
            dev = max(dev, abs(last - rho_pred) / tol)
    return tuple(errs), dev, last, rho


def _newton_prediction(inst: Instance, x: Any) -> Any:
    """(1/2) H*^{-1} T*[x, x] in mpmath (40 digits)."""
    mp = _mp()
    with mp.workdps(40):
        xm = mp.matrix([float(t) for t in x])
        Am = mp.matrix(inst.A.tolist())
        r = Am * xm
        t = mp.matrix([sum(r[i] ** 2 * Am[i, j] for i in range(N)) / N for j in range(P)])
        return inst.h_inv * t / 2


def _newton_tolerance(inst: Instance, x: Any, e1: float) -> float:
    e = float(np.linalg.norm(x))
    lam = inst.lam_min
    h = inst.t_norm * e + inst.q_norm * e * e / 2
    if h >= lam:
        return math.inf
    hk_inv = 1.0 / (lam - h)
    remainder = h / (lam * (lam - h)) * inst.t_norm * e * e / 2 + hk_inv * inst.q_norm * e**3 / 3
    # float64 step: (H + E) d_hat = -(g + dg), ||E|| <= alpha, ||dg|| <= beta, ||d|| <= e + e1
    dH = _hess_error(inst.A, x)
    alpha = dH + eps_cholesky(P) * (inst.lam_max + h + dH)
    if hk_inv * alpha >= 1:
        return math.inf
    beta = _grad_error(inst.A, x)
    step = hk_inv * (beta + alpha * (e + e1 + remainder)) / (1 - hk_inv * alpha)
    # the update's rounding, the prediction rounded to float64 (u e1) and the norm of the miss
    # (relative gamma_{p+2}, inside the final factor)
    return (remainder + step + U * (e1 + step) + 2 * U * e1) * (1 + gamma(16))


def _newton(inst: Instance, x0: Any, sabotage: str | None) -> tuple[tuple[float, ...], float, float, int]:
    oracle = Quartic(loss(inst.A), A=inst.A, frozen_at=x0 if sabotage == "broken-newton" else None)
    opt = ref.newton()
    st = opt.init(x0)
    errs, dev, c, steps = [float(np.linalg.norm(x0))], 0.0, float("nan"), 0
    for _ in range(12):
        x = np.asarray(st.params)
        st = opt.step(st, oracle)
        e, e1 = errs[-1], float(np.linalg.norm(st.params))
        errs.append(e1)
        if NEWTON_WINDOW[0] <= e <= NEWTON_WINDOW[1]:
            pred = _newton_prediction(inst, x)
            miss = float(np.linalg.norm(np.asarray(st.params) - np.array([float(t) for t in pred])))
            dev = max(dev, miss / _newton_tolerance(inst, x, e1))
            c, steps = e1 / e**2, steps + 1
        if e1 < STOP or st.stalled:
            break
    return tuple(errs), dev, c, steps


def _bfgs(inst: Instance, x0: Any, sabotage: str | None) -> tuple[tuple[float, ...], float, float]:
    oracle = Quartic(loss(inst.A), A=inst.A)
    opt = ref.bfgs()
    st = opt.init(x0)
    errs = [float(np.linalg.norm(x0))]
    for _ in range(60):
        if sabotage == "broken-bfgs":
            st = replace(st, hinv=None)
        st = opt.step(st, oracle)
        errs.append(float(np.linalg.norm(st.params)))
        if errs[-1] < STOP or st.stalled:
            break
    e = np.array(errs)
    ratio = float(np.exp(np.mean(np.log(e[-3:] / e[-4:-1]))))
    sk = math.sqrt(inst.lam_max / inst.lam_min)
    return tuple(errs), ratio, ((sk - 1) / (sk + 1)) ** 2


def _trial(args: tuple[np.random.SeedSequence, str | None]) -> Trial:
    seed, sabotage = args
    rng = np.random.default_rng(seed)
    inst = _instance(rng)
    u = rng.standard_normal(P)
    x0 = 0.5 * u / np.linalg.norm(u)
    gd_errs, gd_dev, gd_ratio, rho = _gd(inst, x0, sabotage)
    n_errs, n_dev, n_c, n_steps = _newton(inst, x0, sabotage)
    b_errs, b_ratio, b_bar = _bfgs(inst, x0, sabotage)
    return Trial(gd_errs, gd_dev, gd_ratio, rho, n_errs, n_dev, n_c, n_steps, b_errs, b_ratio, b_bar)


def row_gd(trials: list[Trial], sabotage: str | None) -> Row:
    worst = max(t.gd_dev for t in trials)
    return Row(
        quantity=f"GD: max_k |e_(k+1)/e_k - rho| / tol_k on e_k <= {fmt(GD_WINDOW)} (order 1, its rate)",
        predicted=(
            "(kappa-1)/(kappa+1)" if sabotage == "wrong-prediction" else "rho = 1 - lambda_min/lambda_max"
        )
        + f" in [{fmt(min(t.rho for t in trials))}, {fmt(max(t.rho for t in trials))}]",
        measured=f"{fmt(worst)} (last ratios {fmt([t.gd_ratio for t in trials])})",
        tolerance="<= 1; tol_k = rho (1 - c_k) + Taylor remainder + counted rounding",
        holds=all(0.0 < t.gd_dev <= 1.0 for t in trials),
    )


def row_newton(trials: list[Trial]) -> Row:
    worst = max(t.newton_dev for t in trials)
    return Row(
        quantity=f"Newton: max_k ||theta_(k+1) - H*^-1 T*[theta_k, theta_k]/2|| / tol_k on e_k in {fmt(list(NEWTON_WINDOW))}",
        predicted="(1/2) H*^-1 T*[e_k, e_k] (mpmath): order 2 with its constant",
        measured=f"{fmt(worst)} over {sum(t.newton_steps for t in trials)} steps (last e_(k+1)/e_k^2 {fmt([t.newton_c for t in trials])})",
        tolerance="<= 1; tol_k = exact cubic remainder + counted rounding of the step",
        holds=all(t.newton_steps >= 2 and t.newton_dev <= 1.0 for t in trials),
    )


def row_bfgs(trials: list[Trial]) -> Row:
    worst = max(t.bfgs_ratio / t.bfgs_bar for t in trials)
    return Row(
        quantity="BFGS: geometric mean of the last 3 ratios e_(k+1)/e_k / ((sqrt(kappa)-1)/(sqrt(kappa)+1))^2",
        predicted="-> 0: below every linear rate",
        measured=f"{fmt(worst)} (ratios <= {fmt(max(t.bfgs_ratio for t in trials))})",
        tolerance="< 1: faster than two steps of the first-order lower bound (Nesterov 2004, Thm 2.1.13)",
        holds=bool(worst < 1.0),
    )


def _orders(errs: tuple[float, ...], lo: float, hi: float) -> list[float]:
    e = np.asarray(errs)
    return [
        float(np.log(e[k + 1] / e[k]) / np.log(e[k] / e[k - 1]))
        for k in range(1, e.size - 1)
        if lo < e[k + 1] < e[k] < min(e[k - 1], hi)
    ]


def run(ctx: Context) -> Outcome:
    k = 2 if ctx.tier == "quick" else 8
    trials: list[Trial] = ctx.map(_trial, [(s, ctx.sabotage) for s in trial_seeds(ctx, k)])
    q_gd = [q for t in trials for q in _orders(t.gd_errs, 1e-12, GD_WINDOW)]
    q_n = [q for t in trials for q in _orders(t.newton_errs, STOP, NEWTON_WINDOW[1])]
    return Outcome(
        rows=(
            row_gd(trials, ctx.sabotage),
            row_newton(trials),
            row_bfgs(trials),
            report_row(
                "three-point order estimates q_k: GD, Newton",
                f"GD [{fmt(min(q_gd, default=math.nan))}, {fmt(max(q_gd, default=math.nan))}]; "
                f"Newton [{fmt(min(q_n, default=math.nan))}, {fmt(max(q_n, default=math.nan))}]",
            ),
        ),
        figure={m: [list(getattr(t, f"{m}_errs")) for t in trials] for m in ("gd", "bfgs", "newton")},
    )


def plot(result: CheckResult, path: str) -> None:
    from ._plot import save, subplots

    fig, (ax,) = subplots()
    for i, m in enumerate(("gd", "bfgs", "newton")):
        for j, e in enumerate(result.figure[m]):
            ax.semilogy(
                np.maximum(np.array(e), 1e-300), color=f"C{i}", alpha=0.6, label=m if j == 0 else None
            )
    ax.set_xlabel("step k")
    ax.set_ylabel("||theta_k - theta*|| (theta* = 0)")
    ax.set_xlim(0, 80)
    ax.legend()
    save(fig, path, result.claim)

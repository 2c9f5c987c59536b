r"""GD on least squares: the stability bound lr < 1/lambda_max, the contraction, the optimal lr.

Claim:
    On L(w) = ||Xw - y||^2 (gradient 2 X^T (Xw - y)) the error e_t = w_t - w* obeys
    e_{t+1} = (I - 2 lr X^T X) e_t, so GD converges iff |1 - 2 lr lambda_max| < 1, i.e.
    lr < 1/lambda_max(X^T X); the per-step contraction of ||e_t|| is
    rho(lr) = max_i |1 - 2 lr lambda_i|; lr* = 1/(lambda_min + lambda_max) minimises it, giving
    rho(lr*) = (kappa - 1)/(kappa + 1), kappa = lambda_max/lambda_min.

Setup:
    X (n = 40, d = 8) = U diag(s) V^T with random orthogonal U, V, singular values s_1 = 3,
    s_8 = 1 (kappa = 9, so (kappa - 1)/(kappa + 1) = 0.8) and the others log-uniform in
    [1.3, 2.6] (a gap at both ends, so that the extreme modes dominate after a few dozen steps),
    y = X w_true + noise. The eigen-decomposition of X^T X and w* are computed in 40-digit
    arithmetic (mpmath) from the float64 X, y and rounded once. GD is ``ref.gd`` started at
    w_0 = w* - V 1 (V the eigenvectors: every eigen-direction equally excited, so that the
    extreme modes are present in every design and dominate after a few dozen steps), fed 2 X^T (Xw - y) computed by the check (checked once against the autograd gradient
    of ``reference.problems.least_squares(X, y)``). Runs at lr = 0.99/lambda_max and
    1.01/lambda_max, and at lr* times {0.9, 0.95, 1, 1.05, 1.1} plus 0.5/lambda_max for the
    contraction, T steps each (T chosen so that ||e_T|| >= 1e-6 ||e_0||, far above rounding).
    Quick: 3 random designs, full: 10.

Measured:
    * whether ||e_T|| < ||e_0|| at 0.99/lambda_max and at 1.01/lambda_max (predicted: converges,
      diverges);
    * the per-step contraction rho_hat = (||e_T|| / ||e_{T-s}||)^{1/s}, s = T/4, at each lr, against
      rho(lr);
    * rho_hat(lr*) against (kappa - 1)/(kappa + 1) = 0.8, and rho_hat at the neighbouring lrs
      (predicted larger).

Tolerance:
    Derived, not statistical. Mixing: ||e_t||^2 = sum_i c_i^2 r_i^{2t} (r_i = |1 - 2 lr lambda_i|),
    so ||e_T||^2/||e_{T-s}||^2 is a weighted mean of r_i^{2s} and rho_hat lies in
    [rho (1 + delta)^{-1/(2s)}, rho], delta = (sum_{r_i < rho} c_i^2 / sum_{r_i = rho} c_i^2)
    (r_2/rho)^{2(T-s)}, from the known decomposition of e_0. Rounding (first order in u = 2^-53):
    each computed step adds delta_t, ||delta_t|| <= u ||w_{t+1}|| (subtraction) + 2u lr ||g_t||
    (the products lr g and 2 X^T r) + 2 lr ||X||_2 gamma_{d+1} || |X| |w_t| + |y| || (the residual:
    d-term dot products and a subtraction, Higham Thm 3.5, gamma_m = m u) + 2 lr gamma_n
    || |X|^T |r_t| || (the n-term products X^T r); below 1/lambda_max the exact map
    I - 2 lr X^T X is non-expansive, so the error of the iterate after t steps is at most
    E_t = sum_{j<t} ||delta_j||. With w* exact to u ||w*|| and the norm's own (d + 2) u, the computed
    ||e_t|| is within eps_t = (E_t + u ||w*||) / ||e_t|| + (d + 2) u relative, so rho_hat is within
    a factor exp((eps_T + eps_{T-s}) / s) of its exact-arithmetic value; the interval is widened
    by that factor. A neighbouring lr is "worse" when its whole interval lies above lr*'s.

References:
    Note 002, section 2.2.1 ("Derivation and Analysis for Least Squares": e_{t+1} =
    (I - 2 eta X^T X) e_t, "Condition for stability", "Optimal Learning Rate").

Sabotage:
    "wrong-bound": the check claims the stability bound is 2/lambda_max (the bound for
        L = (1/2)||Xw - y||^2), so it tests 0.99 and 1.01 times that.
    "wrong-rate": the check predicts the contraction max_i |1 - lr lambda_i| (the factor 2 of
        the gradient forgotten).
    "lr-2pct": a planted optimizer bug, every GD step 2 % too long.
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

import reference as ref
from reference.problems.linear import least_squares

from ._base import CheckResult, Context, Outcome, Row
from ._stats import fmt, trial_seeds

NAME = "gd_stability"
CLAIM = "GD on ||Xw-y||^2 converges iff lr < 1/lambda_max(X^T X); contraction max_i |1 - 2 lr lambda_i|; lr* = 1/(lambda_min + lambda_max) gives (kappa-1)/(kappa+1)"
SOURCE = "note 002, section 2.2.1"
SABOTAGE: tuple[str, ...] = ("wrong-bound", "wrong-rate", "lr-2pct")
JUSTIFICATION = "derived: ||e_t||^2 = sum c_i^2 r_i^(2t) bounds rho_hat in [rho(1+delta)^(-1/2s), rho], widened by a first-order float64 error bound accumulated along each run"
STAT_ROWS = 0

_N, _D = 40, 8
_U = 2.0**-53
_FACTORS = (0.9, 0.95, 1.0, 1.05, 1.1)  # multiples of lr* for the optimal-lr comparison
KAPPA = 9.0


def design(seed: np.random.SeedSequence) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    U, _ = np.linalg.qr(rng.normal(size=(_N, _D)))
    V, _ = np.linalg.qr(rng.normal(size=(_D, _D)))
    s = np.exp(rng.uniform(np.log(1.3), np.log(2.6), size=_D))
    s[0], s[-1] = 3.0, 1.0  # kappa = 9 exactly; a spectral gap at both ends
    X = (U * s) @ V.T
    return X, X @ rng.normal(size=_D) + 0.1 * rng.normal(size=_N)


def exact_spectrum(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Eigenvalues and eigenvectors of X^T X and w* = (X^T X)^-1 X^T y in 40 digits, rounded."""
    mp: Any = importlib.import_module("mpmath")  # untyped; a dependency of the `check` extra
    mp.mp.dps = 40
    Xm = mp.matrix(X.tolist())
    A = Xm.T * Xm
    E, Q = mp.eigsy(A)
    w = mp.lu_solve(A, Xm.T * mp.matrix(y.tolist()))
    lam = np.array([float(E[i]) for i in range(_D)])
    vecs = np.array([[float(Q[i, j]) for j in range(_D)] for i in range(_D)])
    order = np.argsort(lam)
    return lam[order], vecs[:, order], np.array([float(w[i]) for i in range(_D)])


@dataclass(frozen=True)
class Run:
    """One GD run: ||e_t||, the accumulated rounding bound, and the contraction with its interval."""

    label: str
    lr: float
    errs: np.ndarray  # ||e_t||, t = 0..T
    rho: float  # max_i |1 - 2 lr lambda_i|
    rho_hat: float  # (||e_T|| / ||e_{T-s}||)^(1/s)
    lo: float
    hi: float


@dataclass(frozen=True)
class Design:
    lam: np.ndarray
    lr_star: float
    runs: tuple[Run, ...]

    def run(self, label: str) -> Run:
        return next(r for r in self.runs if r.label == label)


def gd_run(
    X: np.ndarray, y: np.ndarray, w0: np.ndarray, w_star: np.ndarray, lr: float, T: int, step_factor: float
) -> tuple[np.ndarray, np.ndarray]:
    """||e_t|| for t = 0..T of ref.gd from w0 and the accumulated rounding bound E_t."""
    opt = ref.gd(lr=lr * step_factor)
    state = opt.init(w0.copy())
    errs = np.full(T + 1, np.inf)
    acc = np.zeros(T + 1)
    errs[0] = np.linalg.norm(w0 - w_star)
    x2 = float(np.linalg.norm(X, 2))
    for t in range(1, T + 1):
        w = state.params
        r = X @ w - y
        g = 2.0 * (X.T @ r)
        state = opt.step(state, g)
        wn = state.params
        errs[t] = np.linalg.norm(wn - w_star)
        acc[t] = acc[t - 1] + _U * (
            np.linalg.norm(wn)
            + 2 * lr * np.linalg.norm(g)
            + 2 * lr * x2 * (_D + 1) * np.linalg.norm(np.abs(X) @ np.abs(w) + np.abs(y))
            + 2 * lr * _N * np.linalg.norm(np.abs(X).T @ np.abs(r))
        )
        if not np.isfinite(errs[t]) or errs[t] > 1e12:
            break
    return errs, acc


def contraction(
    lam: np.ndarray, vecs: np.ndarray, e0: np.ndarray, lr: float, T: int, s: int
) -> tuple[float, float]:
    """rho and the lower end of the mixing interval of rho_hat (exact arithmetic)."""
    r = np.abs(1.0 - 2.0 * lr * lam)
    rho = float(r.max())
    c2 = (vecs.T @ e0) ** 2
    top = np.isclose(r, rho, rtol=1e-12, atol=0.0)
    if top.all():
        return rho, rho
    delta = float(c2[~top].sum() / c2[top].sum()) * (float(r[~top].max()) / rho) ** (2 * (T - s))
    return rho, rho * (1.0 + delta) ** (-1.0 / (2 * s))


def _trial(args: tuple[np.random.SeedSequence, str | None]) -> Design:
    seed, sabotage = args
    X, y = design(seed)
    w_probe = np.linspace(-1.0, 1.0, _D)
    if not np.allclose(
        least_squares(X, y).grad(w_probe), 2.0 * (X.T @ (X @ w_probe - y)), rtol=1e-12, atol=1e-12
    ):
        raise AssertionError("the problem's gradient is not 2 X^T (Xw - y)")
    lam, vecs, w_star = exact_spectrum(X, y)
    w0 = w_star - vecs @ np.ones(_D)  # e_0 = -V 1: every eigen-direction excited equally
    lmax, lr_star = float(lam.max()), 1.0 / float(lam.min() + lam.max())
    lrs = {
        "0.5/lmax": 0.5 / lmax,
        "0.99/lmax": 0.99 / lmax,
        "1.01/lmax": 1.01 / lmax,
        "0.99*2/lmax": 1.98 / lmax,
        "1.01*2/lmax": 2.02 / lmax,
    }
    lrs.update({f"{f}*lr*": f * lr_star for f in _FACTORS})
    step_factor = 1.02 if sabotage == "lr-2pct" else 1.0
    runs = []
    for label, lr in lrs.items():
        rho = float(np.abs(1.0 - 2.0 * lr * lam).max())
        # long enough for the top mode to dominate, short enough that ||e_T|| >= 1e-6 ||e_0||
        T = int(min(400, max(40, np.floor(np.log(1e-6) / np.log(rho)) if rho < 1 else 400)))
        s = T // 4
        errs, acc = gd_run(X, y, w0, w_star, lr, T, step_factor)
        rho, lo = contraction(lam, vecs, w0 - w_star, lr, T, s)
        if np.isfinite(errs[T]):
            rho_hat = float((errs[T] / errs[T - s]) ** (1.0 / s))
            eps = [(acc[t] + _U * np.linalg.norm(w_star)) / errs[t] + (_D + 2) * _U for t in (T, T - s)]
            widen = math.exp(sum(eps) / s)
        else:
            rho_hat, widen = float("inf"), 1.0
        runs.append(Run(label, float(lr), errs, rho, rho_hat, lo / widen, rho * widen))
    return Design(lam, lr_star, tuple(runs))


def row_stability(designs: list[Design], label: str, converges: bool, bound_name: str, factor: str) -> Row:
    ratios = [float(d.run(label).errs[-1] / d.run(label).errs[0]) for d in designs]
    shown = max(ratios) if converges else min(ratios)
    return Row(
        quantity=f"||e_T||/||e_0|| at {factor} x {bound_name}",
        predicted="< 1 (converges)" if converges else "> 1 (diverges)",
        measured=fmt(shown) + (" (worst design)" if converges else " (best design)"),
        tolerance="exact: sign of log|1 - 2 lr lambda_max|, margin >> rounding",
        holds=all((r < 1) == converges for r in ratios),
    )


def row_contraction(designs: list[Design], wrong_rate: bool) -> Row:
    worst, ok, n = 0.0, True, 0
    for d in designs:
        for r in d.runs:
            if "*2/" in r.label or r.label == "1.01/lmax":
                continue
            pred = float(np.abs(1.0 - r.lr * d.lam).max()) if wrong_rate else r.rho
            ok &= r.lo <= r.rho_hat <= r.hi and r.lo <= pred <= r.hi
            worst = max(worst, abs(pred - r.rho_hat) / max(r.hi - r.lo, 1e-300))
            n += 1
    return Row(
        "per-step contraction rho_hat vs max_i|1-2 lr lambda_i|",
        f"{n} runs (lrs x designs)",
        f"max |rho_hat - rho| / interval width = {fmt(worst)}",
        "derived mixing + rounding interval (docstring)",
        bool(ok),
    )


def row_optimal(designs: list[Design], wrong_rate: bool) -> Row:
    ok, dev = True, 0.0
    for d in designs:
        pred = float(np.abs(1.0 - d.lr_star * d.lam).max()) if wrong_rate else (KAPPA - 1) / (KAPPA + 1)
        r = d.run("1.0*lr*")
        ok &= r.lo <= r.rho_hat <= r.hi and r.lo <= pred <= r.hi
        dev = max(dev, abs(r.rho_hat - pred))
    star = designs[0].run("1.0*lr*")
    return Row(
        "rho_hat(lr*) = (kappa-1)/(kappa+1)",
        f"{fmt((KAPPA - 1) / (KAPPA + 1))} (kappa = 9)",
        f"{fmt(star.rho_hat)}; max dev over designs {fmt(dev)}",
        f"derived interval [{fmt(star.lo)}, {fmt(star.hi)}] (first design)",
        bool(ok),
    )


def row_neighbours(designs: list[Design]) -> Row:
    margins = [d.run(f"{f}*lr*").lo - d.run("1.0*lr*").hi for d in designs for f in _FACTORS if f != 1.0]
    return Row(
        "rho_hat at lr* x {0.9, 0.95, 1.05, 1.1} > rho_hat(lr*)",
        "worse (larger)",
        f"min margin {fmt(min(margins))}",
        "neighbour's interval above lr*'s",
        all(m > 0 for m in margins),
    )


def run(ctx: Context) -> Outcome:
    k = 3 if ctx.tier == "quick" else 10
    designs: list[Design] = ctx.map(_trial, [(s, ctx.sabotage) for s in trial_seeds(ctx, k)])
    wb = ctx.sabotage == "wrong-bound"
    conv, div = ("0.99*2/lmax", "1.01*2/lmax") if wb else ("0.99/lmax", "1.01/lmax")
    bound_name = "2/lambda_max" if wb else "1/lambda_max"
    rows = (
        row_stability(designs, conv, True, bound_name, "0.99"),
        row_stability(designs, div, False, bound_name, "1.01"),
        row_contraction(designs, ctx.sabotage == "wrong-rate"),
        row_optimal(designs, ctx.sabotage == "wrong-rate"),
        row_neighbours(designs),
    )
    d0 = designs[0]
    figure: dict[str, Any] = {
        "lam": d0.lam.tolist(),
        "lr_star": d0.lr_star,
        "conv_key": conv,
        "div_key": div,
        "bound_name": bound_name,
        "runs": {r.label: {"lr": r.lr, "errs": r.errs.tolist(), "rho_hat": r.rho_hat} for r in d0.runs},
    }
    return Outcome(rows=rows, figure=figure)


def plot(result: CheckResult, path: str) -> None:
    from ._plot import save, subplots

    f = result.figure
    fig, (a1, a2) = subplots(2)
    for key, style in ((f["conv_key"], "C0"), (f["div_key"], "C3"), ("1.0*lr*", "C2"), ("0.5/lmax", "C1")):
        errs = np.array(f["runs"][key]["errs"], dtype=float)
        errs = errs[np.isfinite(errs)]
        a1.semilogy(errs / errs[0], color=style, label=f"lr = {key}")
    a1.axhline(1.0, color="k", lw=0.5)
    a1.set_xlabel("step t")
    a1.set_ylabel("||w_t - w*|| / ||w_0 - w*||")
    a1.set_title(f"stability bound {f['bound_name']}")
    a1.legend(fontsize=7)
    lam = np.array(f["lam"])
    grid = np.linspace(0.02, 1.05, 300) / lam.max()
    a2.plot(
        grid * lam.max(),
        [np.abs(1 - 2 * g * lam).max() for g in grid],
        "k-",
        label="max_i |1 - 2 lr lambda_i|",
    )
    pts = [
        (r["lr"] * lam.max(), r["rho_hat"])
        for k_, r in f["runs"].items()
        if "*2/" not in k_ and k_ != "1.01/lmax"
    ]
    a2.plot(*zip(*pts), "o", color="C3", label="measured rho_hat")
    a2.axvline(f["lr_star"] * lam.max(), color="C2", ls="--", label="lr* = 1/(lmin+lmax)")
    a2.axhline((KAPPA - 1) / (KAPPA + 1), color="C2", ls=":", label="(kappa-1)/(kappa+1)")
    a2.set_xlabel("lr x lambda_max")
    a2.set_ylabel("per-step contraction")
    a2.legend(fontsize=7)
    save(fig, path, "GD on least squares: stability and contraction")

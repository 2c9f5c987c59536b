r"""Gradient-based HPO: the hypergradient through unrolled steps is exact, and hypergradient
descent on the learning rate reaches the grid-search optimum.

Claim:
    (i) F'(eta) = d/deta L_val(theta_n(eta)), computed by reverse-mode autograd through n unrolled
    steps of ``ref.make("gd", lr=eta)`` (reference/hpo.py, eq. H3), equals the central finite
    difference (F(eta + h) - F(eta - h)) / 2h within the FD's own error bound. (ii) Hypergradient
    descent on log eta (eq. H4) reaches a validation loss at least as low as the best point of a
    grid search over eta: F(eta_HD) <= min_{eta in G} F(eta) (seed 003, "Gradient-Based HPO:
    differentiable hyperparameters" versus "Grid or Random Search: simple but inefficient").

Setup:
    Per seed: a linear model y = X w + 3 e, w, X, e standard normal, d = 20, n_train = 25,
    n_val = 200; L_train, L_val mean squared errors; theta_0 = 0; n = 20 full-batch GD steps
    (the hypergradient goes through every one of them). L = lambda_max(2 X^T X / n_train).
    (i) at eta ~ log-uniform [0.05, 0.8] / L. (ii) grid G: 17 log-spaced rates in [0.01, 1] / L
    (``hpo.grid_search``); HD (``hpo.tune_lr``) from eta_0 = 0.03 / L; random search
    (``hpo.random_search``) on the grid's range with HD's number of evaluations, as a contrast.
    Quick: 6 seeds; full: 30.

Measured:
    (i) max over seeds of |F'_autograd - F'_FD| / bound. (ii) the number of seeds with
    F(eta_HD) <= F(grid best) + 2 eps_F, and the relative gaps. Contrast: random search at equal
    cost against HD, mean relative excess with its t-interval (reported only: with a single
    hyperparameter random search at equal cost comes within a fraction of a percent, so the
    seed's "inefficient" is not a verdict this one-dimensional experiment can give).

Tolerance:
    (i) derived: |FD - F'| <= h^2 M3 / 6 + eps_F / h, with M3 = max |F'''| over [eta - h, eta + h]
    (closed form for GD on least squares, 9 points;
    checked against triple autograd in the tests) and eps_F a first-order float64 running-error bound of F (the unrolled
    GD steps are non-expansive for eta < 2/L, so the per-step rounding errors add up; then
    ||grad L_val|| times that plus gamma_{d + n_val + 2} times F's absolute-value evaluation);
    h = (3 eps_F / M3)^{1/3} minimises the bound. (ii) per seed, F(eta_HD) <= F(grid best) up to
    2 eps_F (two evaluations' rounding): the grid point is one of the rates HD's continuous
    search competes with, so a descent method that converges to the minimiser of a unimodal F
    cannot end above it. Contrast (reported): 99.9 % t-interval over seeds.

References:
    Seed 003, "Hyperparameter Optimisation (HPO) Methods"; Maclaurin, Duvenaud & Adams (2015),
    ICML; Bengio (2000), Neural Computation 12; Bergstra & Bengio (2012), JMLR 13.

Sabotage:
    "truncated": the hypergradient goes through the last unrolled step only (truncated
        backpropagation, a common approximation): it no longer matches the FD (here it is about
        20 times too small; HD with the Armijo test on the true F still ends near the optimum,
        so it is row (i) that catches it).
    "sign-flip": the hypergradient has the wrong sign (F(2 eta_fixed - eta)): the FD row fails and
        HD cannot make an Armijo step.
"""

from __future__ import annotations

import math
import time
from typing import Any, Callable


import autograd.numpy as anp
import numpy as np
from autograd.tracer import getval

import reference as ref
from reference import hpo

from ._base import CheckResult, Context, Row
from ._stats import fmt, t_interval, trial_seeds

NAME = "hypergradient_hpo"
CLAIM = "autograd hypergradient = FD; hypergradient descent on lr reaches the grid-search optimum"
SOURCE = "seed 003, 'HPO Methods': Gradient-Based HPO vs Grid or Random Search"
SABOTAGE: tuple[str, ...] = ("truncated", "sign-flip")

D, N_TR, N_VAL, STEPS, NOISE = 20, 25, 200, 20, 3.0
GRID = (0.01, 1.0, 17)  # multiples of 1/L, number of rates
ETA0 = 0.03
U = 2.0**-53


def _gamma(m: int) -> float:
    return m * U / (1.0 - m * U)


def _objective(Xtr: np.ndarray, ytr: np.ndarray, Xv: np.ndarray, yv: np.ndarray, sabotage: str | None) -> Callable[[Any], Any]:
    def train_grad(th: Any) -> Any:
        return 2.0 * anp.dot(Xtr.T, anp.dot(Xtr, th) - ytr) / N_TR

    def val_loss(th: Any) -> Any:
        return anp.mean((anp.dot(Xv, th) - yv) ** 2)

    F = hpo.validation_objective("gd", train_grad=train_grad, val_loss=val_loss, x0=np.zeros(D), n_steps=STEPS)
    if sabotage == "truncated":
        def F_trunc(lr: Any) -> Any:
            opt_c, opt = ref.gd(getval(lr)), ref.gd(lr)
            s = opt_c.init(np.zeros(D))
            for _ in range(STEPS - 1):
                s = opt_c.step(s, train_grad(s.params))
            return val_loss(opt.step(s, train_grad(s.params)).params)
        return F_trunc
    if sabotage == "sign-flip":
        return lambda lr: F(2.0 * getval(lr) - lr)
    return F


def _eps_F(Xtr: np.ndarray, ytr: np.ndarray, Xv: np.ndarray, yv: np.ndarray, eta: float) -> float:
    """First-order running-error bound of the computed F(eta) (see Tolerance)."""
    th, acc = np.zeros(D), 0.0
    g_step = _gamma(2 * (D + N_TR) + 4)
    for _ in range(STEPS):
        r = Xtr @ th - ytr
        abs_g = 2.0 * np.abs(Xtr).T @ (np.abs(Xtr) @ np.abs(th) + np.abs(ytr)) / N_TR
        acc += g_step * float(np.linalg.norm(np.abs(th) + eta * abs_g))
        th = th - eta * 2.0 * Xtr.T @ r / N_TR
    grad_val = 2.0 * Xv.T @ (Xv @ th - yv) / N_VAL
    f_abs = float(np.mean((np.abs(Xv) @ np.abs(th) + np.abs(yv)) ** 2))
    return float(np.linalg.norm(grad_val)) * acc + _gamma(D + N_VAL + 2) * f_abs


def _f3(Xtr: np.ndarray, ytr: np.ndarray, Xv: np.ndarray, yv: np.ndarray, etas: np.ndarray) -> np.ndarray:
    r"""The third derivative of F in closed form, at each eta of ``etas``.

    From theta_0 = 0, n GD steps on L_train (Hessian H = V diag(l) V^T, full rank as d < n_train)
    give theta_n = theta* - V diag(p) V^T theta*, p_i = (1 - eta l_i)^n. With
    r = X_v theta_n - y_v = a - B (p * c), a = X_v theta* - y_v, B = X_v V, c = V^T theta*:
    F = mean(r^2), F^(3) = (2 / n_val) sum(3 r' r'' + r r^(3)), r^(k) = -B (p^(k) * c),
    p_i^(k) = n!/(n - k)! (-l_i)^k (1 - eta l_i)^(n - k)."""
    lam, V = np.linalg.eigh(2.0 * Xtr.T @ Xtr / N_TR)
    theta_star = np.linalg.solve(Xtr.T @ Xtr, Xtr.T @ ytr)
    a, B, c = Xv @ theta_star - yv, Xv @ V, V.T @ theta_star
    n = STEPS
    out = []
    for eta in etas:
        q = 1.0 - eta * lam
        p = [q**n, -n * lam * q ** (n - 1), n * (n - 1) * lam**2 * q ** (n - 2),
             -n * (n - 1) * (n - 2) * lam**3 * q ** (n - 3)]  # fmt: skip
        r0, r1, r2, r3 = (a - B @ (p[0] * c)), -B @ (p[1] * c), -B @ (p[2] * c), -B @ (p[3] * c)
        out.append(2.0 * float(np.sum(3.0 * r1 * r2 + r0 * r3)) / N_VAL)
    return np.array(out)


def _trial(args: tuple[np.random.SeedSequence, str | None]) -> dict[str, Any]:
    seed, sabotage = args
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(D)
    Xtr = rng.standard_normal((N_TR, D))
    ytr = Xtr @ w + NOISE * rng.standard_normal(N_TR)
    Xv = rng.standard_normal((N_VAL, D))
    yv = Xv @ w + NOISE * rng.standard_normal(N_VAL)
    L = float(np.linalg.eigvalsh(2.0 * Xtr.T @ Xtr / N_TR).max())
    F_true = _objective(Xtr, ytr, Xv, yv, None)
    F_ad = _objective(Xtr, ytr, Xv, yv, sabotage)
    # (i) autograd against the central finite difference at a random eta
    eta = math.exp(rng.uniform(math.log(0.05), math.log(0.8))) / L
    eps_f = _eps_F(Xtr, ytr, Xv, yv, eta)
    m3 = abs(float(_f3(Xtr, ytr, Xv, yv, np.array([eta]))[0]))
    h = (3.0 * eps_f / m3) ** (1.0 / 3.0)
    m3 = float(np.max(np.abs(_f3(Xtr, ytr, Xv, yv, np.linspace(eta - h, eta + h, 9)))))
    fd = (float(F_true(eta + h)) - float(F_true(eta - h))) / (2.0 * h)
    _, ad = hpo.hypergradient(F_ad, eta)
    fd_bound = h * h * m3 / 6.0 + eps_f / h
    # (ii) grid search, hypergradient descent, random search at HD's cost
    grid = hpo.grid_search(F_true, hpo.log_grid(GRID[0] / L, GRID[1] / L, GRID[2]))
    hd = hpo.tune_lr(F_ad, ETA0 / L)
    f_hd = float(F_true(hd.lr))
    rnd = hpo.random_search(F_true, GRID[0] / L, GRID[1] / L, max(hd.evaluations, 2), rng)
    eps_opt = _eps_F(Xtr, ytr, Xv, yv, grid.lr) + _eps_F(Xtr, ytr, Xv, yv, hd.lr)
    return {
        "ad": ad, "fd": fd, "fd_bound": fd_bound, "fd_err": abs(ad - fd), "h": h, "eta_L": eta * L,
        "grid_lrs_L": [x * L for x in grid.lrs], "grid_values": list(grid.values),
        "grid_best": grid.value, "grid_lr_L": grid.lr * L, "hd_value": f_hd, "hd_lr_L": hd.lr * L,
        "hd_path_L": [x * L for x in hd.lrs], "hd_path_values": list(hd.values),
        "hd_evals": hd.evaluations, "random_value": rnd.value, "eps_opt": eps_opt,
    }  # fmt: skip


def run(ctx: Context) -> CheckResult:
    if ctx.sabotage not in (None, *SABOTAGE):
        raise ValueError(f"{NAME}: sabotage must be one of {SABOTAGE}, got {ctx.sabotage!r}")
    t0 = time.perf_counter()
    k = 6 if ctx.tier == "quick" else 30
    res = ctx.map(_trial, [(s, ctx.sabotage) for s in trial_seeds(ctx, k)])
    ratio = [r["fd_err"] / r["fd_bound"] for r in res]
    worst = int(np.argmax(ratio))
    rows: list[Row] = [Row(
        quantity=f"|F'_autograd - F'_FD| / bound, max over {k} seeds (n = {STEPS} unrolled GD steps)",
        predicted="<= 1",
        measured=f"{fmt(ratio[worst])} (F' = {fmt(res[worst]['ad'])}, FD = {fmt(res[worst]['fd'])})",
        tolerance=f"bound h^2 M3/6 + eps_F/h = {fmt(res[worst]['fd_bound'])} (FD truncation + rounding)",
        holds=max(ratio) <= 1.0,
    )]  # fmt: skip
    # reported, not a verdict: with one hyperparameter, random search at equal cost comes close
    excess = t_interval([(r["random_value"] - r["hd_value"]) / r["hd_value"] for r in res])
    gaps = [(r["hd_value"] - r["grid_best"]) / r["grid_best"] for r in res]
    ok = [r["hd_value"] <= r["grid_best"] + r["eps_opt"] for r in res]
    rows.append(Row(
        quantity=f"seeds with F(eta_HD) <= F(grid best of {GRID[2]}) (relative gap, worst)",
        predicted=f"{k}/{k}",
        measured=f"{sum(ok)}/{k} (worst gap {fmt(max(gaps))}; HD used "
                 f"{fmt(float(np.mean([r['hd_evals'] for r in res])))} runs on average, the grid "
                 f"{GRID[2]}; random search at HD's cost: (F_rand - F_HD)/F_HD = {excess})",
        tolerance="+ 2 eps_F (rounding of the two evaluations)",
        holds=all(ok),
    ))  # fmt: skip
    return CheckResult(
        name=NAME, claim=CLAIM, source=SOURCE, rows=tuple(rows),
        justification="FD error bound h^2 M3/6 + eps_F/h (M3 by autograd, eps_F a float64 running-error bound); HD vs grid up to rounding; t-interval over seeds",
        figure={"trials": res}, seconds=time.perf_counter() - t0,
    )  # fmt: skip


def plot(result: CheckResult, path: str) -> None:
    from ._plot import save, subplots

    fig, (ax1, ax2) = subplots(2)
    for i, r in enumerate(result.figure["trials"]):
        c = f"C{i % 10}"
        ax1.loglog(r["grid_lrs_L"], r["grid_values"], "-", color=c, alpha=0.6)
        ax1.loglog(r["hd_path_L"], r["hd_path_values"], "x--", color=c, ms=4)
        ax1.loglog([r["hd_lr_L"]], [r["hd_value"]], "o", color=c)
    ax1.set_xlabel("eta L")
    ax1.set_ylabel("validation loss F(eta)")
    ax1.set_title("grid (lines), hypergradient descent (x), end (o)", fontsize=8)
    trials = result.figure["trials"]
    ax2.semilogy(range(len(trials)), [r["fd_err"] for r in trials], "o", label="|autograd - FD|")
    ax2.semilogy(range(len(trials)), [r["fd_bound"] for r in trials], "k_", ms=12, label="bound")
    ax2.set_xlabel("seed")
    ax2.legend()
    save(fig, path, result.claim)

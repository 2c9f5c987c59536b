r"""SGD with a constant step in the interpolation regime converges linearly to the min-norm solution.

Claim:
    X in R^{n x d}, d > n, full row rank, Xw = y solvable. SGD with batch size 1 on
    l_i(w) = (x_i^T w - y_i)^2, w_{t+1} = w_t - 2 eta x_i (x_i^T w_t - y_i), i uniform, started at
    w_0 = 0, converges linearly ("exponentially to 0 error") for eta < 2 / (s_max^2 + max_i ||x_i||^2),
    and its limit is the minimum-norm solution w* = X^+ y (seed 002, 3.1: the error q_t = w_t - w*
    lives in the row space, where the projection steps contract it).

Setup:
    n = 20, d = 60, X and y standard normal (one fixed draw per ``ctx.seed``). eta = 0.5 and 0.9
    times the seed's bound; R runs with independent index streams (quick 64, full 256), vectorised
    as the rows of one (R, d) iterate of ``ref.sgd`` and split into 1 (full 4) trials via
    ``ctx.map``. Prediction of the rate: the mean-square error E[z z^T] of the row-space error
    z = V^T q obeys the exact linear recursion S <- S - (2 eta/n)(G S + S G) + (4 eta^2/n)
    sum_i (a_i^T S a_i) a_i a_i^T (a_i = V^T x_i, G = sum_i a_i a_i^T), so E||q_t||^2 =
    tr(L^t S_0) decays at the spectral radius rho(L) per step. Above the bound: at
    eta = 1.5 / min_i ||x_i||^2 every step multiplies the error's component along x_i by
    1 - c, c = 2 eta ||x_i||^2 >= 3, so ||q_{t+1}||^2 = ||q_t||^2 + (c^2 - 2c)(x_i^T q_t)^2 / ||x_i||^2
    never decreases and grows geometrically: divergence (200 steps, 16 runs).

Measured:
    (1) per eta, the per-run slope of log ||q_t||^2 over the window where it is far from the
    rounding floor, t-interval over runs: it must be < 0 (linear convergence) and not slower than
    the mean-square rate log rho(L) (Jensen: E log ||q_t||^2 <= log E ||q_t||^2). (2) per eta,
    log of the mean over runs of ||q_t||^2 at the t where log tr(L^t S_0) has dropped by 6, against
    that prediction, with a bootstrap interval over runs. (3) ||w_T - X^+ y|| after T steps (when
    the predicted mean-square error is below 1e-32 ||w*||^2), against a rounding bound accumulated
    along each run. (4) above the bound: the fraction of steps where ||q_t|| decreases beyond
    rounding (predicted 0) and the growth of log ||q_t|| over 200 steps (predicted > 0 in every run).

Tolerance:
    (1) and (2): 99.9 % intervals over independent runs (t-interval of per-run slopes; percentile
    bootstrap of the log mean-square). (3) a first-order rounding bound summed over the run: each
    step adds at most u ||w_{t+1}|| (subtraction) + 3u eta ||g_t|| (three products) + 2 eta ||x_i||
    (d + 1) u (|x_i| . |w_t| + |y_i|) (the residual's dot product); the projections I - 2 eta x x^T
    are non-expansive below the bound, so errors add up at most; plus the error of the SVD
    pseudoinverse (4 (n + d) u kappa(X) ||w*||) and 10 sqrt(tr(L^T S_0)) (Markov at 99 %) for the
    exact-arithmetic remainder. (4) rounding: a decrease counts only beyond 4u relative.

References:
    Seed 002, section 3.1 ("SGD Convergence Proof (Constant Step Size)", eqs. (10)-(11)); the
    Kaczmarz view: Strohmer & Vershynin (2009), Needell, Srebro & Ward (2014).

Sabotage:
    "wrong-rate": predicts full-batch GD's rate (1 - 2 eta lambda_min(X X^T))^2 per step, i.e. takes
    one SGD step for one pass over the data; "not-from-zero": starts SGD at a random w_0, whose null-space
    component SGD never removes, so the limit is not X^+ y; "broken-optimizer": uses half the
    gradient (the derivative of (x^T w - y)^2 without the factor 2).
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

import reference as ref

from ._base import CheckResult, Context, Row
from ._stats import bootstrap_interval, fmt, interval_row, t_interval, trial_seeds

NAME = "sgd_interpolation"
CLAIM = "SGD, b = 1, eta < 2/(s_max^2 + max||x_i||^2), d > n: w_t -> X^+ y linearly from w_0 = 0"
SOURCE = "seed 002, section 3.1 (SGD convergence, constant step, interpolation regime)"
SABOTAGE: tuple[str, ...] = ("wrong-rate", "not-from-zero", "broken-optimizer")

U = 2.0**-53
N, D = 20, 60
FACTORS = (0.5, 0.9)
_EVERY = 10  # record ||q_t||^2 every _EVERY steps


def _problem(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(np.random.SeedSequence([seed, 7]))
    return rng.standard_normal((N, D)), rng.standard_normal(N)


def _sgd_runs(
    args: tuple[np.ndarray, np.ndarray, float, int, int, np.random.SeedSequence, str | None]
) -> dict[str, Any]:
    """R vectorised SGD runs (rows of one iterate): ||q_t||^2 every _EVERY steps, the final
    iterates and each run's accumulated rounding bound."""
    X, y, eta, steps, runs, seed, sabotage = args
    rng = np.random.default_rng(seed)
    wstar = np.linalg.pinv(X) @ y
    w0 = rng.standard_normal((runs, D)) if sabotage == "not-from-zero" else np.zeros((runs, D))
    opt = ref.sgd(eta)
    state = opt.init(w0)
    scale = 1.0 if sabotage == "broken-optimizer" else 2.0
    rec = [np.sum((w0 - wstar) ** 2, axis=1)]
    bound = np.zeros(runs)
    xnorm = np.linalg.norm(X, axis=1)
    for t in range(steps):
        i = rng.integers(0, N, size=runs)
        xi, w = X[i], state.params
        r = np.einsum("rj,rj->r", xi, w) - y[i]
        g = scale * xi * r[:, None]
        state = opt.step(state, g)
        wn = state.params
        bound += U * (
            np.sqrt(np.einsum("rj,rj->r", wn, wn))
            + (3 * eta) * np.abs(scale * r) * xnorm[i]
            + (2 * eta * (D + 1)) * xnorm[i] * (np.einsum("rj,rj->r", np.abs(xi), np.abs(w)) + np.abs(y[i]))
        )
        if (t + 1) % _EVERY == 0:
            rec.append(np.sum((state.params - wstar) ** 2, axis=1))
    return {"sq": np.array(rec).T, "w": np.array(state.params), "bound": bound}


def _diverge(args: tuple[np.ndarray, np.ndarray, float, int, int, np.random.SeedSequence]) -> dict[str, Any]:
    """Runs above the bound: per step, did ||q|| decrease beyond rounding; log growth."""
    X, y, eta, steps, runs, seed = args
    rng = np.random.default_rng(seed)
    wstar = np.linalg.pinv(X) @ y
    opt = ref.sgd(eta)
    state = opt.init(np.zeros((runs, D)))
    prev = np.linalg.norm(state.params - wstar, axis=1)
    first = prev.copy()
    decreases = 0
    for _ in range(steps):
        i = rng.integers(0, N, size=runs)
        xi = X[i]
        r = np.einsum("rj,rj->r", xi, state.params) - y[i]
        state = opt.step(state, 2.0 * xi * r[:, None])
        cur = np.linalg.norm(state.params - wstar, axis=1)
        decreases += int(np.sum(cur < prev * (1 - 4 * U)))
        prev = cur
    return {"decreases": decreases, "growth": np.log(prev / first), "n": steps * runs}


def _sym_basis() -> np.ndarray:
    """(N^2, N(N+1)/2) orthonormal basis of vec(S), S symmetric."""
    cols = []
    for j in range(N):
        for k in range(j, N):
            E = np.zeros((N, N))
            if j == k:
                E[j, j] = 1.0
            else:
                E[j, k] = E[k, j] = 1 / math.sqrt(2)
            cols.append(E.ravel())
    return np.array(cols).T


def _ms_operator(X: np.ndarray, eta: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The linear map L on vec(S) of the row-space error's second moment, and a_i, G."""
    _, _, Vt = np.linalg.svd(X, full_matrices=False)
    a = X @ Vt.T  # (n, n): rows a_i = V^T x_i
    G = a.T @ a
    eye = np.eye(N)
    L = np.eye(N * N) - (2 * eta / N) * (np.kron(eye, G) + np.kron(G, eye))
    for ai in a:
        P = np.outer(ai, ai)
        L += (4 * eta**2 / N) * np.kron(P, P)
    return L, a, Vt


def run(ctx: Context) -> CheckResult:
    if ctx.sabotage not in (None, *SABOTAGE):
        raise ValueError(f"{NAME}: sabotage must be one of {SABOTAGE}, got {ctx.sabotage!r}")
    t0 = time.perf_counter()
    X, y = _problem(ctx.seed)
    s = np.linalg.svd(X, compute_uv=False)
    xn2 = np.sum(X**2, axis=1)
    eta_bound = 2.0 / (s[0] ** 2 + xn2.max())
    wstar = np.linalg.pinv(X) @ y
    w2 = float(wstar @ wstar)
    kappa = float(s[0] / s[-1])
    chunks, per = (1, 64) if ctx.tier == "quick" else (4, 64)
    rows: list[Row] = []
    fig: dict[str, Any] = {"eta_bound": eta_bound, "every": _EVERY, "curves": {}}
    for k, f in enumerate(FACTORS):
        eta = f * eta_bound
        L, a, Vt = _ms_operator(X, eta)
        # L is symmetric and maps symmetric matrices to symmetric matrices: diagonalise it on
        # that subspace (orthonormal basis B), where the second moments live
        B = _sym_basis()
        lam, Uv = np.linalg.eigh(B.T @ L @ B)
        rho = float(np.max(np.abs(lam)))
        tvec = Uv.T @ (B.T @ np.eye(N).ravel())
        if ctx.sabotage == "wrong-rate":
            lam_min = float(np.linalg.eigvalsh(a.T @ a)[0])
            rho_pred = (1 - 2 * eta * lam_min) ** 2  # one SGD step taken for a GD step
        else:
            rho_pred = rho
        z0 = Vt @ (-wstar)
        S0 = np.outer(z0, z0).ravel()
        # steps: fit window until the prediction has dropped by 40 nats, run on to 1e-32 ||w*||^2
        t_fit = int(math.ceil(40.0 / -math.log(rho)))
        t_end = int(math.ceil(math.log(1e32) / -math.log(rho)))
        t_end = _EVERY * int(math.ceil(t_end / _EVERY))
        seeds = trial_seeds(ctx, chunks, stream=k)
        res = ctx.map(_sgd_runs, [(X, y, eta, t_end, per, sd, ctx.sabotage) for sd in seeds])
        sq = np.concatenate([r["sq"] for r in res])  # (R, t_end/_EVERY + 1)
        W = np.concatenate([r["w"] for r in res])
        bnd = np.concatenate([r["bound"] for r in res])
        ts = np.arange(sq.shape[1]) * _EVERY
        win = (ts >= t_fit // 10) & (ts <= t_fit)
        with np.errstate(divide="ignore"):
            logsq = np.log(sq)
        slopes = np.array([np.polyfit(ts[win], row[win], 1)[0] for row in logsq])
        iv = t_interval(slopes)
        lr = math.log(rho_pred)
        rows.append(
            Row(
                quantity=f"eta = {f} x bound: per-run slope of log||w_t - w*||^2 per step",
                predicted=f"< 0 and <= log rho(L) = {fmt(lr)}",
                measured=str(iv),
                tolerance=f"99.9% t-interval over {iv.n} runs",
                holds=iv.hi < 0 and iv.lo <= lr,
            )
        )
        # mean-square at t_ms where the prediction has dropped by 6 nats: later, the spread of
        # log ||q_t||^2 grows and a sample mean of R runs misses the rare slow runs that carry
        # the expectation
        t_ms = _EVERY * int(round(6.0 / -math.log(rho) / _EVERY))
        j = t_ms // _EVERY
        c0 = Uv.T @ (B.T @ S0)

        def ms(t: int) -> float:
            """tr(L^t S_0) = E||q_t||^2, exactly."""
            return float(np.sum(lam**t * c0 * tvec))

        pred_ms = ms(t_ms)
        if ctx.sabotage == "wrong-rate":  # GD's ||(I - 2 eta G)^t z_0||^2
            zt = np.linalg.matrix_power(np.eye(N) - 2 * eta * (a.T @ a), t_ms) @ z0
            pred_ms = float(zt @ zt)
        biv = bootstrap_interval(
            sq[:, j], lambda v: float(np.log(np.mean(v))), np.random.default_rng([ctx.seed, 11, k])
        )
        rows.append(
            interval_row(f"eta = {f} x bound: log mean ||w_t - w*||^2 at t = {t_ms}", math.log(pred_ms), biv, what="runs (bootstrap)")
        )
        # the limit
        dist = np.linalg.norm(W - wstar, axis=1)
        rem = 10 * math.sqrt(max(ms(t_end), 0.0))
        allowed = bnd + 4 * (N + D) * U * kappa * math.sqrt(w2) + rem
        worst = int(np.argmax(dist / allowed))
        rows.append(
            Row(
                quantity=f"eta = {f} x bound: ||w_T - X^+ y|| after T = {t_end} steps (worst run)",
                predicted="0 (min-norm limit)",
                measured=fmt(float(dist[worst])),
                tolerance=f"<= {fmt(float(allowed[worst]))} (accumulated rounding bound of that run)",
                holds=bool(np.all(dist <= allowed)),
            )
        )
        fig["curves"][str(f)] = {
            "t": ts.tolist(),
            "median": np.median(sq, axis=0).tolist(),
            "q10": np.quantile(sq, 0.1, axis=0).tolist(),
            "q90": np.quantile(sq, 0.9, axis=0).tolist(),
            "mean": np.mean(sq, axis=0).tolist(),
            "pred": [float(z0 @ z0) * rho**t for t in ts],
            "dist": dist.tolist(),
            "allowed": allowed.tolist(),
        }
    eta_up = 1.5 / xn2.min()
    dv = ctx.map(_diverge, [(X, y, eta_up, 200, 16, trial_seeds(ctx, 1, stream=9)[0])])[0]
    rows.append(
        Row(
            quantity=f"eta = 1.5/min||x_i||^2 = {fmt(eta_up / eta_bound)} x bound: steps where ||q_t|| decreases",
            predicted="0 (c = 2 eta ||x_i||^2 >= 3: every step is expansive)",
            measured=f"{dv['decreases']} of {dv['n']}; min log growth over 200 steps {fmt(float(np.min(dv['growth'])))}",
            tolerance="decrease beyond 4u relative; growth > 0 in every run",
            holds=dv["decreases"] == 0 and bool(np.all(dv["growth"] > 0)),
        )
    )
    fig["growth"] = np.asarray(dv["growth"]).tolist()
    return CheckResult(
        name=NAME,
        claim=CLAIM,
        source=SOURCE,
        rows=tuple(rows),
        justification=(
            "rates: 99.9% t-interval of per-run slopes and bootstrap of the log mean-square vs the exact "
            "second-moment recursion; limit: first-order rounding bound accumulated along each run"
        ),
        figure=fig,
        seconds=time.perf_counter() - t0,
    )


def plot(result: CheckResult, path: str) -> None:
    from ._plot import save, subplots

    fig, (ax1, ax2) = subplots(2)
    for k, (f, c) in enumerate(result.figure["curves"].items()):
        t = np.array(c["t"])
        ax1.semilogy(t, c["median"], color=f"C{k}", label=f"eta = {f} x bound: median over runs")
        ax1.fill_between(t, c["q10"], c["q90"], color=f"C{k}", alpha=0.2)
        ax1.semilogy(t, c["mean"], color=f"C{k}", ls=":", label="mean over runs")
        ax1.semilogy(t, c["pred"], color="k", ls="--", lw=0.8)
    ax1.set_xlabel("step t")
    ax1.set_ylabel("||w_t - X^+ y||^2  (dashed: rho(L)^t ||w*||^2)")
    ax1.legend(fontsize=7)
    for k, (f, c) in enumerate(result.figure["curves"].items()):
        ax2.scatter(c["allowed"], c["dist"], s=8, color=f"C{k}", label=f"eta = {f} x bound")
    lim = [min(min(c["dist"]) for c in result.figure["curves"].values()) / 10,
           max(max(c["allowed"]) for c in result.figure["curves"].values()) * 10]
    ax2.loglog(lim, lim, "k--", lw=0.8, label="distance = rounding bound")
    ax2.set_xlabel("accumulated rounding bound")
    ax2.set_ylabel("||w_T - X^+ y||")
    ax2.legend(fontsize=7)
    save(fig, path, result.claim)

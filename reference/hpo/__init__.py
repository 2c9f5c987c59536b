r"""Hyperparameter optimisation of the learning rate: gradient-based (hypergradients through
unrolled steps) beside grid and random search, (H1)-(H6); multi-fidelity successive halving,
(H7)-(H8); Bayesian optimisation of one hyperparameter with a Gaussian process and expected
improvement, (H9)-(H13). Spec: specs/hpo.md.

Seed 003, "Hyperparameter Optimisation (HPO) Methods": "Grid or Random Search: simple but
inefficient"; "Gradient-Based HPO: differentiable hyperparameters". The hyperparameter here is
the learning rate eta of any registered first-order optimizer; the objective is the validation
loss after n unrolled training steps:

    theta_0 = x0;  theta_j = Step(theta_{j-1}, grad L_train(query_{j-1}); eta),  j = 1..n   (H1)
    F(eta)  = L_val(theta_n(eta))                                                          (H2)
    F'(eta) = dF/deta by reverse-mode autograd through the n steps (the hypergradient)     (H3)
    hypergradient descent on s = log eta (eta stays > 0), g_k = eta_k F'(eta_k):
        s_{k+1} = s_k - alpha_k g_k,  alpha_k = the Barzilai-Borwein length
        (s_k - s_{k-1}) / (g_k - g_{k-1}) (else alpha0 / |g_k|), halved until
        F(e^{s_{k+1}}) <= F(eta_k) - c1 alpha_k g_k^2 (Armijo)                              (H4)
    grid search:   eta* = argmin_{eta in G} F(eta)                                          (H5)
    random search: eta_1..eta_m i.i.d. log-uniform on [low, high], eta* = argmin F(eta_i)   (H6)

Every first-order step of the package is written with autograd.numpy (design.md, contract), so
(H3) is exact up to rounding: no finite differences, no truncation of the unrolled horizon.

Conventions:
    * The objective is any callable ``F(lr) -> scalar`` that autograd can trace in ``lr``;
      ``validation_objective`` builds the standard one, (H1)-(H2), with ``ref.make(name, lr=...)``
      built inside F so that ``lr`` may be an autograd box.
    * (H4) works on log eta because eta must stay positive and the loss varies on a log scale of
      eta; d F / d s = eta F'(eta). A trial whose F is not finite (the unrolled run diverged)
      (or whose steps met a non-finite gradient, or whose e^s overflows) fails the Armijo test
      and the step is halved;
      grid and random search count it as F = inf.
    * Every result counts its ``evaluations``: forward unrolls (F) and forward+backward unrolls
      (F and F'), so that the methods can be compared at equal cost.

References:
    Maclaurin, D., Duvenaud, D. and Adams, R. P. (2015). Gradient-based Hyperparameter
        Optimization through Reversible Learning. ICML (hypergradients through unrolled SGD).
    Bengio, Y. (2000). Gradient-Based Optimization of Hyperparameters. Neural Computation 12.
    Bergstra, J. and Bengio, Y. (2012). Random Search for Hyper-Parameter Optimization. JMLR 13.
    Jamieson, K. and Talwalkar, A. (2016). Non-stochastic Best Arm Identification and
        Hyperparameter Optimization. AISTATS (successive halving).
    Li, L. et al. (2018). Hyperband. JMLR 18.
    Rasmussen, C. E. and Williams, C. K. I. (2006). Gaussian Processes for Machine Learning.
    Jones, D. R., Schonlau, M. and Welch, W. J. (1998). Efficient Global Optimization of
        Expensive Black-Box Functions. J. Global Optim. 13 (expected improvement).
    Seed 003, "Hyperparameter Optimisation (HPO) Methods".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import autograd
import numpy as np
import scipy.linalg
import scipy.optimize
import scipy.special
from autograd.tracer import getval

from .._core import NonFiniteGradientError, _value, check_count, check_nonnegative, check_positive, check_rng
from .._registry import entry
from .._types import Array, ArrayLike

Objective = Callable[[Any], Any]


@dataclass(frozen=True)
class SearchResult:
    """The outcome of a learning-rate search.

    lr, value: the best learning rate found and F there.
    lrs, values: every learning rate tried, in order, and F at each (hypergradient descent: the
        accepted iterates eta_0, eta_1, ...).
    grads: F'(eta_k) at the accepted iterates (hypergradient descent only; empty otherwise).
    evaluations: unrolled runs used (a forward+backward run for a hypergradient counts as one).
    method: "hypergradient", "grid" or "random".
    """

    lr: float
    value: float
    lrs: tuple[float, ...]
    values: tuple[float, ...]
    grads: tuple[float, ...]
    evaluations: int
    method: str


def unrolled_loss(
    name: str,
    lr: Any,
    *,
    train_grad: Callable[[Array], Any],
    val_loss: Callable[[Array], Any],
    x0: ArrayLike,
    n_steps: int,
    **hyperparameters: Any,
) -> Any:
    """F(lr) = L_val(theta_n): n closed-loop steps of ``ref.make(name, lr=lr, **hyperparameters)``
    on ``train_grad`` (gradients at ``opt.query(state)``), eqs. (H1)-(H2). Traceable in lr and x0."""
    opt = entry(name).factory(lr=lr, **hyperparameters)
    state = opt.init(x0)
    for _ in range(n_steps):
        state = opt.step(state, train_grad(opt.query(state)))  # (H1)
    return val_loss(state.params)  # (H2)


def validation_objective(
    name: str,
    *,
    train_grad: Callable[[Array], Any],
    val_loss: Callable[[Array], Any],
    x0: ArrayLike,
    n_steps: int,
    **hyperparameters: Any,
) -> Objective:
    """The function lr -> F(lr) of (H1)-(H2) for a registered first-order optimizer ``name``.

    Raises ValueError for an unknown or non-first-order name, or n_steps < 1."""
    e = entry(name)
    if e.family != "first-order":
        raise ValueError(f"hpo: {name!r} is not a first-order optimizer (family {e.family!r}); "
                         "hypergradients need ref.make(name, lr=...) steps fed by gradients")  # fmt: skip
    if isinstance(n_steps, bool) or not isinstance(n_steps, int) or n_steps < 1:
        raise ValueError(f"hpo: n_steps must be an integer >= 1, got {n_steps!r}")
    if not callable(train_grad) or not callable(val_loss):
        raise TypeError("hpo: train_grad and val_loss must be callables of the parameters")
    x = np.array(x0, dtype=np.float64)

    def F(lr: Any) -> Any:
        return unrolled_loss(name, lr, train_grad=train_grad, val_loss=val_loss, x0=x,
                             n_steps=n_steps, **hyperparameters)  # fmt: skip

    return F


def _eval(F: Objective, lr: float) -> float:
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            v = float(getval(F(lr)))
    except (FloatingPointError, OverflowError):
        return math.inf
    except NonFiniteGradientError:  # the optimizer refuses a non-finite gradient: the run diverged
        return math.inf
    return v if math.isfinite(v) else math.inf


def hypergradient(loss_after_steps: Objective, lr: float) -> tuple[float, float]:
    """(F(lr), F'(lr)): value and derivative of ``loss_after_steps`` at ``lr`` by reverse-mode
    autograd through the unrolled steps, eq. (H3). ``loss_after_steps`` maps a learning rate to a
    scalar loss and must be traceable (build the optimizer inside it).

    Raises ValueError if lr is not a finite number > 0 or the value or derivative is not finite."""
    check_positive("hypergradient", "lr", lr)
    if not callable(loss_after_steps):
        raise TypeError(f"hypergradient: loss_after_steps must be callable, got {type(loss_after_steps).__name__}")
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            value, grad = autograd.value_and_grad(loss_after_steps)(float(lr))  # (H3)
    except NonFiniteGradientError:
        value, grad = math.inf, math.nan  # a step met a non-finite gradient: the run diverged
    v, g = _value(value, "loss_after_steps(lr)"), _value(grad, "dF/dlr")
    if not (math.isfinite(v) and math.isfinite(g)):
        raise ValueError(f"hypergradient: F(lr={lr!r}) = {v!r}, F'(lr) = {g!r}; both must be finite "
                         "(the unrolled run diverged?)")  # fmt: skip
    return v, g


def tune_lr(
    F: Objective,
    lr0: float,
    *,
    n_iters: int = 30,
    alpha0: float = 1.0,
    c1: float = 1e-4,
    max_halvings: int = 30,
    gtol: float = 1e-8,
) -> SearchResult:
    """Hypergradient descent on s = log lr with Barzilai-Borwein step lengths and an Armijo
    safeguard, eq. (H4).

    The step on s is -alpha_k g_k with g_k = d F / d s = lr F'(lr) (H3); alpha_0 = alpha0 / |g_0|
    (a first move of alpha0 in log lr, i.e. a factor e^alpha0 in lr), then the Barzilai-Borwein
    length alpha_k = (s_k - s_{k-1}) / (g_k - g_{k-1}) when that is positive (in 1-D it is the
    secant Newton step), else alpha0 / |g_k|. alpha_k is halved until F(e^{s_{k+1}}) <= F(lr_k) -
    c1 alpha_k g_k^2 (a diverged trial, F = inf, fails the test, and so does a trial whose
    e^{s_{k+1}} overflows to inf or underflows to 0: it is never evaluated).

    Args:
        F: the objective lr -> F(lr) (e.g. ``validation_objective(...)``), traceable in lr.
        lr0: the starting learning rate, > 0 (F and F' must be finite there).
        n_iters: accepted steps at most, >= 1.
        alpha0: the length of the first move (and of fallback moves) in log lr, > 0.
        c1: the Armijo constant, in (0, 1).
        max_halvings: halvings per iteration before the search stops, >= 1.
        gtol: stop when |d F / d log lr| <= gtol (|F| + 1), >= 0.
    Returns the last accepted lr (F decreases along accepted steps, so it is the best visited).
    """
    who = "tune_lr"
    check_positive(who, "lr0", lr0)
    check_positive(who, "alpha0", alpha0)
    if not (0.0 < c1 < 1.0):
        raise ValueError(f"{who}: c1 must be in (0, 1), got {c1!r}")
    for nm, v in (("n_iters", n_iters), ("max_halvings", max_halvings)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{who}: {nm} must be an integer >= 1, got {v!r}")
    if not (gtol >= 0.0 and math.isfinite(gtol)):
        raise ValueError(f"{who}: gtol must be a finite number >= 0, got {gtol!r}")
    s = math.log(lr0)
    value, g = hypergradient(F, lr0)
    lrs, values, grads, evals = [lr0], [value], [g], 1
    s_prev = gs_prev = math.nan
    for _ in range(n_iters):
        gs = math.exp(s) * g  # d F / d log lr
        if abs(gs) <= gtol * (abs(value) + 1.0):
            break
        bb = (s - s_prev) / (gs - gs_prev) if math.isfinite(s_prev) and gs != gs_prev else -1.0
        alpha = bb if bb > 0 else alpha0 / abs(gs)
        accepted = False
        for _ in range(max_halvings):
            s_new = s - alpha * gs  # (H4)
            trial = _eval(F, lr_new) if 0.0 < (lr_new := _exp(s_new)) < math.inf else math.inf
            evals += 1
            if trial <= value - c1 * alpha * gs * gs:
                accepted = True
                break
            alpha *= 0.5
        if not accepted:
            break
        s_prev, gs_prev, s = s, gs, s_new
        value, g = hypergradient(F, math.exp(s))
        evals += 1
        lrs.append(math.exp(s))
        values.append(value)
        grads.append(g)
    return SearchResult(lr=lrs[-1], value=values[-1], lrs=tuple(lrs), values=tuple(values),
                        grads=tuple(grads), evaluations=evals, method="hypergradient")  # fmt: skip


def _exp(s: float) -> float:
    """e^s, with inf for an s beyond float64's range (a Barzilai-Borwein step can ask for e^797):
    tune_lr treats a trial lr of inf or 0 as a failed Armijo test, so the step is halved."""
    try:
        return math.exp(s)
    except OverflowError:
        return math.inf


def grid_search(F: Objective, lrs: Sequence[float]) -> SearchResult:
    """F at every learning rate of the grid; the best one, eq. (H5). Diverged runs count as inf."""
    grid = [float(x) for x in lrs]
    if not grid:
        raise ValueError("grid_search: lrs must hold at least one learning rate")
    for x in grid:
        check_positive("grid_search", "every lr of lrs", x)
    values = [_eval(F, x) for x in grid]
    if not any(math.isfinite(v) for v in values):
        raise ValueError(f"grid_search: every run diverged (F = inf) on lrs {grid[0]!r} .. {grid[-1]!r}")
    i = int(np.argmin(values))  # (H5)
    return SearchResult(lr=grid[i], value=values[i], lrs=tuple(grid), values=tuple(values), grads=(),
                        evaluations=len(grid), method="grid")  # fmt: skip


def log_grid(low: float, high: float, n: int) -> list[float]:
    """n learning rates log-spaced from low to high inclusive (n >= 2, 0 < low < high)."""
    _check_range("log_grid", low, high, n)
    return [float(x) for x in np.geomspace(low, high, n)]


def random_search(F: Objective, low: float, high: float, n: int, rng: np.random.Generator) -> SearchResult:
    """n learning rates log-uniform on [low, high] from ``rng``; the best one, eq. (H6)."""
    _check_range("random_search", low, high, n)
    check_rng(rng, who="random_search")
    lrs = np.exp(rng.uniform(math.log(low), math.log(high), n))  # (H6)
    res = grid_search(F, [float(x) for x in lrs])
    return SearchResult(lr=res.lr, value=res.value, lrs=res.lrs, values=res.values, grads=(),
                        evaluations=res.evaluations, method="random")  # fmt: skip


def _check_range(who: str, low: float, high: float, n: int) -> None:
    check_positive(who, "low", low)
    check_positive(who, "high", high)
    if not low < high:
        raise ValueError(f"{who}: need low < high, got low={low!r}, high={high!r}")
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise ValueError(f"{who}: n must be an integer >= 2, got {n!r}")


# ---------------------------------------------------------------------------------------------
# Multi-fidelity: successive halving, eqs. (H7)-(H8)
# ---------------------------------------------------------------------------------------------

BudgetObjective = Callable[[Any, int], float]


@dataclass(frozen=True)
class HalvingRound:
    """One round of successive halving: the budget r_k, the indices (into ``configs``) of the
    n_k configurations evaluated at it, and their scores (non-finite scores are stored as inf)."""

    budget: int
    indices: tuple[int, ...]
    scores: tuple[float, ...]


@dataclass(frozen=True)
class HalvingResult:
    """The outcome of ``successive_halving``.

    config, index, score: the winner, its index in ``configs`` and its score at the last round's budget.
    rounds: every round in order.
    total_budget: sum over rounds of n_k r_k, eq. (H8) (the budget units the objective was asked for).
    """

    config: Any
    index: int
    score: float
    rounds: tuple[HalvingRound, ...]
    total_budget: int


def _score(objective: BudgetObjective, config: Any, budget: int) -> float:
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            v = float(getval(objective(config, budget)))
    except (FloatingPointError, OverflowError, NonFiniteGradientError):
        return math.inf
    return v if math.isfinite(v) else math.inf


def halving_schedule(n: int, min_budget: int, eta: int = 3) -> list[tuple[int, int]]:
    """The (n_k, r_k) pairs of successive halving on n configurations, eq. (H7):
    n_0 = n, r_0 = min_budget, n_{k+1} = max(1, floor(n_k / eta)), r_{k+1} = eta r_k, until n_k = 1.
    The total budget (H8) is sum n_k r_k; for n = eta^s it is (s + 1) n min_budget."""
    who = "successive_halving"
    n = check_count(who, "the number of configs", n, minimum=1)
    min_budget = check_count(who, "min_budget", min_budget, minimum=1)
    eta = check_count(who, "eta", eta, minimum=2)
    out = [(n, min_budget)]
    while out[-1][0] > 1:
        nk, rk = out[-1]
        out.append((max(1, nk // eta), rk * eta))
    return out


def successive_halving(
    objective: BudgetObjective, configs: Sequence[Any], *, min_budget: int, eta: int = 3
) -> HalvingResult:
    """Successive halving (Jamieson & Talwalkar 2016; the inner loop of Li et al.'s Hyperband),
    eqs. (H7)-(H8): evaluate every surviving configuration at budget r_k, keep the best
    max(1, floor(n_k / eta)), multiply the budget by eta, repeat until one is left (it is
    evaluated at the last budget, r_0 eta^K with K = number of halvings).

    Args:
        objective: ``objective(config, budget) -> float``, lower is better (e.g. the validation
            loss after ``budget`` training steps with lr = config). A non-finite score or a run
            that raises FloatingPointError / OverflowError / NonFiniteGradientError counts as inf.
        configs: the candidate configurations (at least one), e.g. learning rates drawn by the
            caller from a Generator; the method itself is deterministic (ties go to the earlier
            configuration).
        min_budget: r_0, an integer >= 1.
        eta: the halving rate, an integer >= 2.
    Each call is a fresh run at its budget (no warm start), so the budget spent is (H8) exactly.
    Raises ValueError on bad arguments, or if every configuration of some round scores inf.
    """
    who = "successive_halving"
    if not callable(objective):
        raise TypeError(f"{who}: objective must be callable (config, budget) -> float, "
                        f"got {type(objective).__name__}")  # fmt: skip
    cfgs = list(configs)
    if not cfgs:
        raise ValueError(f"{who}: configs must hold at least one configuration")
    schedule = halving_schedule(len(cfgs), min_budget, eta)
    alive = list(range(len(cfgs)))
    rounds: list[HalvingRound] = []
    total = 0
    for k, (nk, rk) in enumerate(schedule):
        assert len(alive) == nk
        scores = [_score(objective, cfgs[i], rk) for i in alive]  # (H7) scores at budget r_k
        total += nk * rk  # (H8)
        if not any(math.isfinite(s) for s in scores):
            raise ValueError(f"{who}: every configuration diverged (score inf) at budget {rk} (round {k})")
        rounds.append(HalvingRound(budget=rk, indices=tuple(alive), scores=tuple(scores)))
        order = sorted(range(nk), key=lambda j: (scores[j], j))  # stable: ties to the earlier config
        if k + 1 < len(schedule):
            alive = [alive[j] for j in order[: schedule[k + 1][0]]]  # keep max(1, floor(n_k / eta))
    last = rounds[-1]
    return HalvingResult(config=cfgs[last.indices[0]], index=last.indices[0], score=last.scores[0],
                         rounds=tuple(rounds), total_budget=total)  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Bayesian optimisation of one (log-)hyperparameter: GP with an RBF kernel, expected
# improvement, eqs. (H9)-(H13)
# ---------------------------------------------------------------------------------------------

_JITTER = 1e-10  # relative to sigma_f^2, added to the diagonal of K for the Cholesky factor
# Box on the GP hyperparameters (inputs scaled to [0, 1], outputs standardised): log ell, log sigma_f^2,
# log sigma_n^2.
_LOG_BOUNDS = ((math.log(1e-2), math.log(2.0)), (math.log(1e-2), math.log(1e2)), (math.log(1e-8), math.log(1.0)))


def rbf_kernel(a: ArrayLike, b: ArrayLike, length_scale: float, signal_var: float) -> Array:
    """k(u, u') = sigma_f^2 exp(-(u - u')^2 / (2 ell^2)) for 1-D inputs, eq. (H9); shape (len a, len b)."""
    ua, ub = np.asarray(a, dtype=np.float64).reshape(-1), np.asarray(b, dtype=np.float64).reshape(-1)
    d = ua[:, None] - ub[None, :]
    k: Array = signal_var * np.exp(-0.5 * (d / length_scale) ** 2)  # (H9)
    return k


def _chol(u: Array, length_scale: float, signal_var: float, noise_var: float) -> Array:
    K = rbf_kernel(u, u, length_scale, signal_var)
    K[np.diag_indices_from(K)] += noise_var + _JITTER * signal_var
    L: Array = np.asarray(np.linalg.cholesky(K), dtype=np.float64)
    return L


def log_marginal_likelihood(u: ArrayLike, y: ArrayLike, length_scale: float, signal_var: float,
                            noise_var: float) -> float:  # fmt: skip
    """log p(y | u) = -1/2 y^T K_y^{-1} y - sum_i log L_ii - (n/2) log 2 pi, K_y = K + sigma_n^2 I
    = L L^T, eq. (H10) (zero prior mean)."""
    ua, ya = np.asarray(u, dtype=np.float64).reshape(-1), np.asarray(y, dtype=np.float64).reshape(-1)
    try:
        L = _chol(ua, length_scale, signal_var, noise_var)
    except np.linalg.LinAlgError:
        return -math.inf
    a = scipy.linalg.solve_triangular(L, ya, lower=True)
    return float(-0.5 * a @ a - np.log(np.diag(L)).sum() - 0.5 * len(ya) * math.log(2 * math.pi))  # (H10)


@dataclass(frozen=True)
class GaussianProcess:
    """A GP posterior on 1-D inputs: the RBF kernel (H9) on the data (u, y), y standardised
    internally (y_mean, y_scale); ``predict`` returns mean and variance in the units of y, eq. (H11)."""

    u: Array
    y: Array
    length_scale: float
    signal_var: float
    noise_var: float
    y_mean: float
    y_scale: float
    chol: Array
    alpha: Array

    def predict(self, us: ArrayLike) -> tuple[Array, Array]:
        """Posterior mean m(u*) = k*^T K_y^{-1} y and variance v(u*) = k(u*, u*) - k*^T K_y^{-1} k*
        (of the latent f, without sigma_n^2), eq. (H11), at the points ``us``."""
        q = np.asarray(us, dtype=np.float64).reshape(-1)
        ks = rbf_kernel(self.u, q, self.length_scale, self.signal_var)
        mean = ks.T @ self.alpha  # (H11)
        w = scipy.linalg.solve_triangular(self.chol, ks, lower=True)
        var = np.maximum(self.signal_var - np.sum(w * w, axis=0), 0.0)
        return self.y_mean + self.y_scale * mean, self.y_scale**2 * var


def fit_gp(
    u: ArrayLike,
    y: ArrayLike,
    *,
    rng: np.random.Generator | None = None,
    restarts: int = 3,
    length_scale: float | None = None,
    signal_var: float | None = None,
    noise_var: float | None = None,
) -> GaussianProcess:
    """Fit a zero-mean GP with the RBF kernel (H9) to 1-D data, y standardised (mean 0, std 1).

    The kernel hyperparameters not given are chosen by maximising the log marginal likelihood (H10)
    with ``scipy.optimize.minimize`` (L-BFGS-B on their logs, box ``_LOG_BOUNDS``: ell in
    [0.01, 2] in units of the input range, sigma_f^2 in [0.01, 100], sigma_n^2 in [1e-8, 1] in
    units of var y) from the box centre and ``restarts`` starts drawn from ``rng`` (required when
    something is fitted). Given values are held fixed (noise_var = 0 gives an interpolating GP up
    to a jitter of 1e-10 sigma_f^2)."""
    who = "fit_gp"
    ua, ya = np.asarray(u, dtype=np.float64).reshape(-1), np.asarray(y, dtype=np.float64).reshape(-1)
    if ua.size == 0 or ua.shape != ya.shape:
        raise ValueError(f"{who}: u and y must be non-empty and of equal length, got {ua.size} and {ya.size}")
    if not (np.all(np.isfinite(ua)) and np.all(np.isfinite(ya))):
        raise ValueError(f"{who}: u and y must be finite")
    if length_scale is not None:
        check_positive(who, "length_scale", length_scale)
    if signal_var is not None:
        check_positive(who, "signal_var", signal_var)
    if noise_var is not None:
        check_nonnegative(who, "noise_var", noise_var)
    restarts = check_count(who, "restarts", restarts, minimum=0)
    y_mean = float(ya.mean())
    sd = float(ya.std())
    y_scale = sd if sd > 0 else 1.0
    ys = (ya - y_mean) / y_scale
    fixed = (length_scale, signal_var, noise_var)
    free = [i for i, v in enumerate(fixed) if v is None]
    theta = [math.log(v) if v else 0.0 for v in fixed]
    if free:
        gen = check_rng(rng, who=who)
        box = [_LOG_BOUNDS[i] for i in free]

        def nlml(z: Array) -> tuple[float, Array]:
            p = list(theta)
            for i, zi in zip(free, z):
                p[i] = float(zi)
            ell, sf2 = math.exp(p[0]), math.exp(p[1])
            sn2 = noise_var if noise_var is not None else math.exp(p[2])
            try:
                L = _chol(ua, ell, sf2, sn2)
            except np.linalg.LinAlgError:
                return 1e300, np.zeros(len(free))
            a = scipy.linalg.cho_solve((L, True), ys)
            value = 0.5 * float(ys @ a) + float(np.log(np.diag(L)).sum()) + 0.5 * len(ys) * math.log(2 * math.pi)
            # d(-log p)/d theta_i = -1/2 tr((a a^T - K_y^{-1}) dK_y/d theta_i), theta = log hyperparameters
            W = np.outer(a, a) - scipy.linalg.cho_solve((L, True), np.eye(len(ys)))
            E = rbf_kernel(ua, ua, ell, sf2)
            dK = (E * (ua[:, None] - ua[None, :]) ** 2 / ell**2, E + _JITTER * sf2 * np.eye(len(ys)),
                  sn2 * np.eye(len(ys)))  # fmt: skip
            return value, np.array([-0.5 * float(np.sum(W * dK[i])) for i in free])

        starts = [np.array([(lo + hi) / 2 for lo, hi in box])]
        starts += [np.array([gen.uniform(lo, hi) for lo, hi in box]) for _ in range(restarts)]
        best: tuple[float, Array] | None = None
        for z0 in starts:
            r = scipy.optimize.minimize(nlml, z0, jac=True, method="L-BFGS-B", bounds=box)
            if best is None or float(r.fun) < best[0]:
                best = (float(r.fun), np.asarray(r.x, dtype=np.float64))
        assert best is not None
        for i, zi in zip(free, best[1]):
            theta[i] = float(zi)
    ell, sf2 = math.exp(theta[0]), math.exp(theta[1])
    sn2 = noise_var if noise_var is not None else math.exp(theta[2])
    L = _chol(ua, ell, sf2, sn2)
    alpha = scipy.linalg.cho_solve((L, True), ys)
    return GaussianProcess(u=ua, y=ya, length_scale=ell, signal_var=sf2, noise_var=sn2, y_mean=y_mean,
                           y_scale=y_scale, chol=L, alpha=alpha)  # fmt: skip


def expected_improvement(mean: ArrayLike, var: ArrayLike, best: float, xi: float = 0.0) -> Array:
    """EI(u) = E[max(f* - xi - f(u), 0)] for f(u) ~ N(m, v), minimisation, eq. (H12):
    with s = sqrt(v), z = (f* - xi - m) / s: EI = (f* - xi - m) Phi(z) + s phi(z); where s = 0 it is
    max(f* - xi - m, 0)."""
    m = np.asarray(mean, dtype=np.float64)
    s = np.sqrt(np.maximum(np.asarray(var, dtype=np.float64), 0.0))
    imp = best - xi - m
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(s > 0, imp / np.where(s > 0, s, 1.0), 0.0)
    phi = np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
    ei = np.where(s > 0, imp * scipy.special.ndtr(z) + s * phi, np.maximum(imp, 0.0))  # (H12)
    out: Array = np.maximum(ei, 0.0)
    return out


@dataclass(frozen=True)
class BOResult:
    """The outcome of ``bayesian_optimization``: the best point x and its value, every point tried
    (xs, in order: the n_init initial points, then one per iteration) and its value (inf where
    the objective was not finite), and the GP fitted last."""

    x: float
    value: float
    xs: tuple[float, ...]
    values: tuple[float, ...]
    evaluations: int
    gp: GaussianProcess


def bayesian_optimization(
    objective: Callable[[float], float],
    bounds: tuple[float, float],
    *,
    n_init: int = 4,
    n_iter: int = 12,
    seed: int | np.random.Generator = 0,
    log_scale: bool = False,
    grid_size: int = 2001,
    restarts: int = 3,
    xi: float = 0.0,
) -> BOResult:
    """Bayesian optimisation of a scalar objective of one hyperparameter x in [low, high]
    (minimisation), eqs. (H9)-(H13).

    x is mapped to u in [0, 1] (u = (log x - log low) / (log high - log low) if ``log_scale``, the
    natural choice for a learning rate; else linearly). n_init initial points are stratified: one
    uniform draw in each of n_init equal slices of [0, 1]. Then, n_iter times: fit the GP (H9)-(H10)
    (``fit_gp``, hyperparameters by maximum marginal likelihood) to all values so far, compute
    the posterior (H11) and EI (H12) with the incumbent f* = the least value so far on ``grid_size``
    equally spaced u, and evaluate the objective at the maximiser of EI (H13). If EI is 0 on the
    whole grid (nothing left to gain by the model) a grid point is drawn uniformly instead.

    A non-finite value (a diverged run) is recorded as inf and given to the GP as the worst finite
    value seen so far. All randomness comes from ``seed`` (an int or a Generator).
    """
    who = "bayesian_optimization"
    if not callable(objective):
        raise TypeError(f"{who}: objective must be callable x -> float, got {type(objective).__name__}")
    try:
        low, high = (float(bounds[0]), float(bounds[1]))
        ok = len(bounds) == 2
    except (TypeError, IndexError, ValueError):
        ok = False
    if not ok or not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise ValueError(f"{who}: bounds must be a pair (low, high) of finite numbers with low < high, got {bounds!r}")
    if log_scale and not low > 0:
        raise ValueError(f"{who}: log_scale needs bounds > 0, got {bounds!r}")
    n_init = check_count(who, "n_init", n_init, minimum=2)
    n_iter = check_count(who, "n_iter", n_iter, minimum=0)
    grid_size = check_count(who, "grid_size", grid_size, minimum=2)
    restarts = check_count(who, "restarts", restarts, minimum=0)
    check_nonnegative(who, "xi", xi)
    if isinstance(seed, np.random.Generator):
        rng = seed
    elif not isinstance(seed, bool) and isinstance(seed, (int, np.integer)):
        rng = np.random.default_rng(int(seed))
    else:
        raise TypeError(f"{who}: seed must be an int or a numpy.random.Generator, got {type(seed).__name__}")

    def to_x(u: float) -> float:
        if log_scale:
            return float(math.exp(math.log(low) + u * (math.log(high) - math.log(low))))
        return float(low + u * (high - low))

    us: list[float] = [float((i + rng.uniform()) / n_init) for i in range(n_init)]
    vals: list[float] = [_eval(objective, to_x(u)) for u in us]
    grid = np.linspace(0.0, 1.0, grid_size)
    gp: GaussianProcess | None = None
    for _ in range(n_iter + 1):
        finite = [v for v in vals if math.isfinite(v)]
        if not finite:
            raise ValueError(f"{who}: the objective was not finite at any of the {len(vals)} points tried")
        worst = max(finite)
        gp = fit_gp(us, [v if math.isfinite(v) else worst for v in vals], rng=rng, restarts=restarts)
        if len(us) == n_init + n_iter:
            break
        m, v = gp.predict(grid)
        ei = expected_improvement(m, v, min(finite), xi)
        j = int(np.argmax(ei)) if float(ei.max()) > 0 else int(rng.integers(grid_size))  # (H13)
        us.append(float(grid[j]))
        vals.append(_eval(objective, to_x(us[-1])))
    assert gp is not None
    i = int(np.argmin(vals))
    return BOResult(x=to_x(us[i]), value=vals[i], xs=tuple(to_x(u) for u in us), values=tuple(vals),
                    evaluations=len(vals), gp=gp)  # fmt: skip

r"""Hyperparameter optimisation of the learning rate: gradient-based (hypergradients through
unrolled steps) beside grid and random search. Spec: specs/hpo.md, eqs. (H1)-(H6).

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
      (or whose steps met a non-finite gradient) fails the Armijo test and the step is halved;
      grid and random search count it as F = inf.
    * Every result counts its ``evaluations``: forward unrolls (F) and forward+backward unrolls
      (F and F'), so that the methods can be compared at equal cost.

References:
    Maclaurin, D., Duvenaud, D. and Adams, R. P. (2015). Gradient-based Hyperparameter
        Optimization through Reversible Learning. ICML (hypergradients through unrolled SGD).
    Bengio, Y. (2000). Gradient-Based Optimization of Hyperparameters. Neural Computation 12.
    Bergstra, J. and Bengio, Y. (2012). Random Search for Hyper-Parameter Optimization. JMLR 13.
    Seed 003, "Hyperparameter Optimisation (HPO) Methods".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import autograd
import numpy as np
from autograd.tracer import getval

from ._core import NonFiniteGradientError, _value, check_positive, check_rng
from ._registry import entry
from ._types import Array, ArrayLike

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
    c1 alpha_k g_k^2 (a diverged trial, F = inf, fails the test).

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
            trial = _eval(F, math.exp(s_new))
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

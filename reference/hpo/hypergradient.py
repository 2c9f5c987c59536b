r"""Hypergradients through unrolled steps and hypergradient descent on log eta, eqs. (H3)-(H4)
of specs/hpo.md (package docstring: reference/hpo/__init__.py).

    F'(eta) = dF/deta by reverse-mode autograd through the n steps (the hypergradient)     (H3)
    s_{k+1} = s_k - alpha_k g_k on s = log eta, g_k = eta_k F'(eta_k), alpha_k the
        Barzilai-Borwein length (else alpha0 / |g_k|) halved until Armijo holds            (H4)
"""

from __future__ import annotations

import math

import autograd
import numpy as np

from .._core import NonFiniteGradientError, _value, check_count, check_positive
from .._hyper import NONNEGATIVE, OPEN_UNIT
from .objective import Objective, SearchResult, _eval


def hypergradient(loss_after_steps: Objective, lr: float) -> tuple[float, float]:
    """(F(lr), F'(lr)): value and derivative of ``loss_after_steps`` at ``lr`` by reverse-mode
    autograd through the unrolled steps, eq. (H3). ``loss_after_steps`` maps a learning rate to a
    scalar loss and must be traceable (build the optimizer inside it).

    Raises ValueError if lr is not a finite number > 0 or the value or derivative is not finite."""
    check_positive("hypergradient", "lr", lr)
    if not callable(loss_after_steps):
        raise TypeError(
            f"hypergradient: loss_after_steps must be callable, got {type(loss_after_steps).__name__}"
        )
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            value, grad = autograd.value_and_grad(loss_after_steps)(float(lr))  # (H3)
    except NonFiniteGradientError:
        value, grad = math.inf, math.nan  # a step met a non-finite gradient: the run diverged
    v, g = _value(value, "loss_after_steps(lr)"), _value(grad, "dF/dlr")
    if not (math.isfinite(v) and math.isfinite(g)):
        raise ValueError(
            f"hypergradient: F(lr={lr!r}) = {v!r}, F'(lr) = {g!r}; both must be finite "
            "(the unrolled run diverged?)"
        )
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
    _check_tune_args(lr0, n_iters, alpha0, c1, max_halvings, gtol)
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
        s_new, tried = _armijo(F, s, gs, value, alpha, c1=c1, max_halvings=max_halvings)
        evals += tried
        if s_new is None:
            break
        s_prev, gs_prev, s = s, gs, s_new
        value, g = hypergradient(F, math.exp(s))
        evals += 1
        lrs.append(math.exp(s))
        values.append(value)
        grads.append(g)
    return SearchResult(
        lr=lrs[-1],
        value=values[-1],
        lrs=tuple(lrs),
        values=tuple(values),
        grads=tuple(grads),
        evaluations=evals,
        method="hypergradient",
    )


def _check_tune_args(
    lr0: float, n_iters: int, alpha0: float, c1: float, max_halvings: int, gtol: float
) -> None:
    who = "tune_lr"
    check_positive(who, "lr0", lr0)
    check_positive(who, "alpha0", alpha0)
    OPEN_UNIT.check(who, "c1", c1)
    check_count(who, "n_iters", n_iters, minimum=1)
    check_count(who, "max_halvings", max_halvings, minimum=1)
    NONNEGATIVE.check(who, "gtol", gtol)


def _armijo(
    F: Objective, s: float, gs: float, value: float, alpha: float, *, c1: float, max_halvings: int
) -> tuple[float | None, int]:
    """The step s - alpha gs of (H4) with alpha halved until the Armijo test holds: (the accepted
    s_{k+1}, or None after ``max_halvings`` failures; the evaluations of F used)."""
    for i in range(max_halvings):
        s_new = s - alpha * gs  # (H4)
        trial = _eval(F, lr_new) if 0.0 < (lr_new := _exp(s_new)) < math.inf else math.inf
        if trial <= value - c1 * alpha * gs * gs:
            return s_new, i + 1
        alpha *= 0.5
    return None, max_halvings


def _exp(s: float) -> float:
    """e^s, with inf for an s beyond float64's range (a Barzilai-Borwein step can ask for e^797):
    tune_lr treats a trial lr of inf or 0 as a failed Armijo test, so the step is halved."""
    try:
        return math.exp(s)
    except OverflowError:
        return math.inf

r"""The objective of learning-rate search: the validation loss after n unrolled training steps,
eqs. (H1)-(H2) of specs/hpo.md (package docstring: reference/hpo/__init__.py).

    theta_0 = x0;  theta_j = Step(theta_{j-1}, grad L_train(query_{j-1}); eta),  j = 1..n   (H1)
    F(eta)  = L_val(theta_n(eta))                                                          (H2)

Also the result record every search returns (``SearchResult``) and the evaluation that counts a
diverged run as F = inf (``_eval``), shared by the searches of ``hypergradient``, ``search`` and
``bayesian``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from autograd.tracer import getval

from .._core import NonFiniteGradientError, check_count
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

    Raises ValueError for an unknown or non-first-order name, or n_steps < 1 (TypeError if it is
    not an integer)."""
    e = entry(name)
    if e.family != "first-order":
        raise ValueError(
            f"hpo: {name!r} is not a first-order optimizer (family {e.family!r}); "
            "hypergradients need ref.make(name, lr=...) steps fed by gradients"
        )
    check_count("hpo", "n_steps", n_steps, minimum=1)
    if not callable(train_grad) or not callable(val_loss):
        raise TypeError("hpo: train_grad and val_loss must be callables of the parameters")
    x = np.array(x0, dtype=np.float64)

    def F(lr: Any) -> Any:
        return unrolled_loss(
            name, lr, train_grad=train_grad, val_loss=val_loss, x0=x, n_steps=n_steps, **hyperparameters
        )

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

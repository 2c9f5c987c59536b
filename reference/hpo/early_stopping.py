r"""Early stopping on a validation loss, eqs. (ES1)-(ES7) of specs/early_stopping.md.

Note 004, "Practical Tips" ("monitor validation loss; stop when it starts increasing"); note 002,
2.3.2 "Implicit Regularization via Early Stopping" (stopping GD from zero at t acts like ridge at
lambda = 1/(2 eta t), theory_checks/early_stopping_procedure.py).

    theta_t = Step(theta_{t-1}, g(query_{t-1})),  t = 1, 2, ...                    (ES1)
    evaluation k = 0, 1, ... at step t_k = (k + 1) e:  v_k = L_val(theta_{t_k})     (ES2)
    evaluation k counts iff k >= start_from                                         (ES3)
    improvement: v_k + delta < b  =>  b <- v_k, k* <- k     (b starts at +inf)       (ES4)
    wait: w <- 0 if improvement and (baseline None or v_k + delta < baseline),
          else w <- w + 1                                                           (ES5)
    stop after evaluation k iff not improved, w >= patience and k > 0               (ES6)
    result: theta_{t_{k*}} if restore_best (and some evaluation counted), else the last  (ES7)

The rule (ES3)-(ES6) is Keras's ``EarlyStopping(monitor="val_loss", mode="min")`` with one Keras
epoch = ``every`` steps (Keras 3, keras/src/callbacks/early_stopping.py; the spec's Variants table).
The comparison is Keras's arithmetic, v_k + delta < b (not v_k < b - delta: the two roundings
differ, e.g. v = 0.04, delta = 0.1, b = 0.14). A NaN validation loss is never an improvement. A gradient that is not
finite ends the run (reason "diverged") instead of raising.

Pure and seeded: the inputs are never written, minibatches come from one Generator built from
``seed`` (``reference.driver``'s gradient source), and two calls with the same arguments return
the same record.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass
from typing import Any, ClassVar

import numpy as np

from .._core import NonFiniteGradientError
from .._hyper import FLAG, NONNEGATIVE, Hyperparams, Integer, Real, hp, optional, required
from .._types import Array, ArrayLike
from ..driver import _gradient_source
from ..problems._base import Problem

__all__ = ["EarlyStopping", "EarlyStoppingSettings", "Monitor", "early_stopping", "watch"]


@dataclass(frozen=True, eq=False)
class EarlyStoppingSettings(Hyperparams):
    """The procedure's settings (Keras's names in the docs; one evaluation = one Keras epoch)."""

    ALGORITHM: ClassVar[str] = "early_stopping"
    max_steps: int = required(Integer(ge=1), "the most optimizer steps; a multiple of every")
    _: KW_ONLY
    patience: int = hp(0, Integer(ge=0), "evaluations without improvement before stopping, (ES6)")
    min_delta: float = hp(0.0, NONNEGATIVE, "an improvement must beat the best by more than this, (ES4)")
    every: int = hp(1, Integer(ge=1), "optimizer steps between evaluations (one Keras epoch), (ES2)")
    baseline: float | None = hp(None, optional(Real()), "the wait restarts only below it, (ES5)")
    start_from: int = hp(0, Integer(ge=0), "evaluations before this index are ignored, (ES3)")
    restore_best: bool = hp(True, FLAG, "return the best evaluation's params, (ES7)")

    def validate(self) -> None:
        if self.max_steps % self.every:
            raise ValueError(
                f"early_stopping: max_steps must be a multiple of every, got max_steps={self.max_steps}, "
                f"every={self.every}"
            )


@dataclass(frozen=True)
class Monitor:
    """The state of the rule (ES3)-(ES6) after some evaluations: the best value b, the index k* of
    the best evaluation (None before the first that counts), the wait w and the stop flag."""

    best: float = math.inf
    best_index: int | None = None
    wait: int = 0
    stop: bool = False


@dataclass(frozen=True, eq=False)
class EarlyStopping:
    """What ``early_stopping`` returns.

    params: theta at the best evaluation if ``restore_best`` (and one counted), else the last.
    best_step, best_value: the step t_{k*} of the best evaluation and v_{k*} (None, inf when no
        evaluation counted; a first evaluation that counted but never improved (NaN) is k*).
    stop_step: the optimizer steps taken.
    steps, values: the validation curve, t_k and v_k for every evaluation made.
    reason: "patience" (ES6), "max_steps", or "diverged" (a non-finite gradient).
    final: the optimizer state after ``stop_step`` steps.
    settings: the validated settings.
    """

    params: Array
    best_step: int | None
    best_value: float
    stop_step: int
    steps: tuple[int, ...]
    values: tuple[float, ...]
    reason: str
    final: Any
    settings: EarlyStoppingSettings


def _sources(
    train: Problem | Callable[[Any], Any],
    val_loss: Problem | Callable[[Array], Any],
    batch_size: int | None,
    replace: bool,
    seed: int | None,
    rng: np.random.Generator | None,
) -> tuple[Callable[[Any], Any], Callable[[Array], Any]]:
    """The gradient function of the query point and the validation loss of the params."""
    if isinstance(train, Problem):
        try:
            grad = _gradient_source(train, None, batch_size, replace, seed, rng)
        except (TypeError, ValueError) as e:  # the driver's one-line message, under this name
            raise type(e)(f"early_stopping: {str(e).removeprefix('run: ')}") from None
    elif callable(train):
        if batch_size is not None or seed is not None or rng is not None:
            raise ValueError(
                "early_stopping: batch_size, seed and rng draw minibatches of a finite-sum problem as train, "
                "not of a function"
            )
        grad = train
    else:
        raise TypeError(f"early_stopping: train must be a Problem or a gradient function, got {train!r}")
    if isinstance(val_loss, Problem):
        return grad, val_loss.loss
    if not callable(val_loss):
        raise TypeError(f"early_stopping: val_loss must be a Problem or a function, got {val_loss!r}")
    return grad, val_loss


def early_stopping(
    opt: Any,
    train: Problem | Callable[[Any], Any],
    x0: ArrayLike,
    val_loss: Problem | Callable[[Array], Any],
    *,
    max_steps: int,
    patience: int = 0,
    min_delta: float = 0.0,
    every: int = 1,
    baseline: float | None = None,
    start_from: int = 0,
    restore_best: bool = True,
    batch_size: int | None = None,
    replace: bool = True,
    seed: int | None = None,
    rng: np.random.Generator | None = None,
) -> EarlyStopping:
    """Run ``opt`` from ``x0`` on ``train``'s gradients, evaluate ``val_loss`` every ``every``
    steps and stop by (ES3)-(ES6); return the record (ES7).

    Args:
        opt: a gradient-fed optimizer (``init``, ``step``, ``query``), e.g. ``ref.gd(lr=0.1)``.
        train: a ``Problem`` (full batch, or minibatches with ``batch_size`` and ``seed``/``rng``
            as in ``reference.driver.run``) or a function q -> gradient at the query point.
        x0: the initial point.
        val_loss: a ``Problem`` (its ``loss``) or a function theta -> scalar.
        max_steps, patience, min_delta, every, baseline, start_from, restore_best: the settings
            (``EarlyStoppingSettings``; specs/early_stopping.md, Defaults).

    Raises:
        TypeError / ValueError: one line naming the argument and the constraint.
    """
    s = EarlyStoppingSettings(
        max_steps,
        patience=patience,
        min_delta=min_delta,
        every=every,
        baseline=baseline,
        start_from=start_from,
        restore_best=restore_best,
    )
    if not all(callable(getattr(opt, a, None)) for a in ("init", "step", "query")):
        raise TypeError(
            f"early_stopping: opt must be a gradient-fed optimizer (init, step, query), got {opt!r}"
        )
    grad, loss = _sources(train, val_loss, batch_size, replace, seed, rng)
    state = opt.init(x0)
    m, best_params, reason, taken = Monitor(), None, "max_steps", 0
    steps: list[int] = []
    values: list[float] = []
    for t in range(1, s.max_steps + 1):
        try:
            state = opt.step(state, grad(opt.query(state)))  # (ES1)
        except NonFiniteGradientError:
            reason = "diverged"
            break
        taken = t
        if t % s.every:
            continue
        k = len(values)
        v = float(loss(state.params))  # (ES2)
        steps.append(t)
        values.append(v)
        m = watch(m, k, v, s)
        if m.best_index == k:
            best_params = state.params
        if m.stop:
            reason = "patience"
            break
    return _finish(state, best_params, m, steps, values, reason, taken, s)


def watch(m: Monitor, k: int, value: float, s: EarlyStoppingSettings) -> Monitor:
    """The monitor after evaluation ``k`` saw validation loss ``value``: (ES3)-(ES6), pure."""
    if k < s.start_from:  # (ES3)
        return m
    first = m.best_index if m.best_index is not None else k
    if value + s.min_delta < m.best:  # (ES4)
        beats = s.baseline is None or value + s.min_delta < s.baseline
        return Monitor(value, k, 0 if beats else m.wait + 1, False)  # (ES5)
    wait = m.wait + 1
    return Monitor(m.best, first, wait, wait >= s.patience and k > 0)  # (ES6)


def _finish(
    state: Any,
    best_params: Array | None,
    m: Monitor,
    steps: list[int],
    values: list[float],
    reason: str,
    taken: int,
    s: EarlyStoppingSettings,
) -> EarlyStopping:
    """The record: the best evaluation's params if restore_best (and one counted), (ES7)."""
    keep = s.restore_best and best_params is not None
    params = best_params if keep else state.params  # (ES7)
    return EarlyStopping(
        params=np.array(params, dtype=np.float64),
        best_step=None if m.best_index is None else steps[m.best_index],
        best_value=m.best,
        stop_step=taken,
        steps=tuple(steps),
        values=tuple(values),
        reason=reason,
        final=state,
        settings=s,
    )

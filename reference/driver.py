r"""The driver: run an optimizer on a problem for n steps and return the trajectory.

    traj = run(ref.adam(lr=1e-2), problems.peaks(), x0, 500, batch_size=32, seed=0)
    traj.losses      # (steps + 1,) full loss L(theta_t), t = 0..steps
    traj.params      # (steps + 1, p) iterates theta_t (None with record_params=False)
    traj.lrs         # (steps,) learning rate eta used by step t + 1 (schedule read at t)
    traj.final       # the optimizer state after the last step

Each step t + 1 evaluates the gradient at the query point q_t = ``opt.query(state)`` (theta_t
for most methods, the look-ahead theta_t + beta v_t for Nesterov):

    g_t = grad L(q_t)                                           full batch (batch_size None)
    g_t = problem.minibatch_grad(q_t, rng, b, replace=replace)   minibatch, rng from ``seed``

``grad=fn`` replaces the full-batch gradient by the caller's own ``fn(q_t)`` (a check's
independent gradient, a scaled parametrisation); with ``problem=None`` the run then needs no problem
at all (no losses). ``loss_every=k`` records the full loss only at t = 0, k, 2k, ... (an epoch's
end: ``k`` = steps per epoch), ``loss_every=None`` never evaluates it.

The run is deterministic for a given seed (one ``numpy.random.default_rng(seed)`` Generator drives
all minibatches) and transparent to autograd: with full batches, a loss taken from ``run`` can be
differentiated with respect to the learning rate or x0 (the losses and iterates are stacked with
``autograd.numpy``). The driver is for gradient-fed optimizers (``reference.Optimizer``); methods
that take an oracle or a curvature record (``reference.Method``) document their own loops.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import autograd.numpy as anp
import numpy as np
from autograd.tracer import getval, isbox

from ._core import check_count, check_rng, lr_at
from ._types import Array, ArrayLike
from .problems._base import FiniteSumProblem, Problem


@dataclass(frozen=True, eq=False)
class Trajectory:
    """What ``run`` records.

    Attributes:
        params: (steps + 1, p) iterates theta_0..theta_steps, or None (record_params=False).
        losses: (steps + 1,) full loss L(theta_t) at each iterate (not at the query point); with
            ``loss_every=k`` only at t = 0, k, 2k, ... <= steps; empty with ``loss_every=None``.
        lrs: (steps,) the learning rate of each step: the optimizer's ``lr`` hyperparameter (a
            float, or a schedule read at t completed steps); NaN if it has no ``lr``.
        final: the optimizer state after ``steps`` steps.
    """

    params: Array | None
    losses: Array
    lrs: Array
    final: Any

    @property
    def steps(self) -> int:
        return int(np.shape(self.lrs)[0])


def _lr_value(opt: Any, t: int) -> float:
    hp = getattr(opt, "hyperparams", {})
    if "lr" not in hp:
        return math.nan
    return float(getval(lr_at(hp["lr"], t)))


def _check_problem(
    problem: Problem | None,
    x0: ArrayLike,
    grad: Callable[[Any], Any] | None,
    batch_size: int | None,
    loss_every: int | None,
) -> None:
    """The argument checks of ``run`` on the problem, x0, grad and loss_every (one line each)."""
    if loss_every is not None:
        check_count("run", "loss_every", loss_every, minimum=1)
    if grad is not None and not callable(grad):
        raise TypeError(f"run: grad must be a function of the query point, got {grad!r}")
    if grad is not None and batch_size is not None:
        raise ValueError("run: grad replaces the full-batch gradient; it cannot be given with batch_size")
    if problem is None:
        if grad is None or loss_every is not None:
            raise ValueError("run: problem=None needs grad=<function> and loss_every=None")
        return
    if not isinstance(problem, Problem):
        raise TypeError(f"run: problem must implement reference.problems.Problem, got {problem!r}")
    if np.shape(x0) != (problem.dim,):
        raise ValueError(
            f"run: x0 must have shape ({problem.dim},) for problem {problem.name!r}, got {np.shape(x0)}"
        )


def _gradient_source(
    problem: Problem | None,
    grad: Callable[[Any], Any] | None,
    batch_size: int | None,
    replace: bool,
    seed: int | None,
    rng: np.random.Generator | None,
) -> Callable[[Any], Any]:
    """The function q -> g that ``run`` calls at each query point: a minibatch gradient drawn from
    one Generator, the caller's ``grad``, or ``problem.grad``."""
    if seed is not None and rng is not None:
        raise ValueError("run: pass seed or rng, not both")
    if batch_size is not None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"run: batch_size must be None or an integer >= 1, got {batch_size!r}")
        if not isinstance(problem, FiniteSumProblem):
            raise TypeError(
                f"run: batch_size needs a finite-sum problem; {getattr(problem, 'name', problem)!r} is not one "
                "(pass batch_size=None for full-batch gradients)"
            )
        if not replace and batch_size > problem.n_samples:
            raise ValueError(
                f"run: batch_size={batch_size} > n_samples={problem.n_samples} without replacement"
            )
        if rng is not None:
            gen = check_rng(rng, who="run")
        elif seed is not None:
            gen = np.random.default_rng(seed)
        else:
            raise ValueError("run: minibatches need randomness: pass seed=<int> or rng=<Generator>")
        b, mb = int(batch_size), problem.minibatch_grad
        return lambda q: mb(q, gen, b, replace=replace)
    if grad is not None:
        return grad
    if problem is None:  # _check_problem: problem None needs grad
        raise ValueError("run: pass a problem, or grad=fn for the gradient at the query point")
    return problem.grad


def run(
    opt: Any,
    problem: Problem | None,
    x0: ArrayLike,
    steps: int,
    *,
    batch_size: int | None = None,
    replace: bool = True,
    seed: int | None = None,
    rng: np.random.Generator | None = None,
    record_params: bool = True,
    grad: Callable[[Any], Any] | None = None,
    loss_every: int | None = 1,
) -> Trajectory:
    """Run ``opt`` on ``problem`` from ``x0`` for ``steps`` steps.

    Args:
        opt: a gradient-fed optimizer (``init``, ``step``, ``query``), e.g. ``ref.make("adam")``.
        problem: a ``Problem``; a ``FiniteSumProblem`` when ``batch_size`` is given.
        x0: the initial point, shape (problem.dim,).
        steps: number of steps, an integer >= 0.
        batch_size: None for full-batch gradients, else b >= 1 samples per step.
        replace: minibatches drawn with (True) or without (False) replacement.
        seed, rng: the minibatch randomness, at most one of them; required when batch_size is
            given (the run is then a deterministic function of the seed).
        record_params: keep all iterates (memory (steps + 1) p); False keeps only the final state.
        grad: the caller's full-batch gradient function of the query point, in place of
            ``problem.grad`` (not with ``batch_size``); ``problem`` may then be None.
        loss_every: record L(theta_t) at every k-th step (an integer >= 1), or never (None; needed
            when ``problem`` is None).

    Raises:
        ValueError: steps < 0, bad batch_size or loss_every, x0 of the wrong shape, seed and rng both
            given, minibatches without a seed/rng, grad with batch_size, or problem None without grad
            or with losses.
        TypeError: batch_size given for a problem that is not a finite sum.
    """
    check_count("run", "steps", steps, minimum=0)
    _check_problem(problem, x0, grad, batch_size, loss_every)
    evaluate = _gradient_source(problem, grad, batch_size, replace, seed, rng)
    every = 0 if loss_every is None else int(loss_every)
    loss = None if problem is None or not every else problem.loss

    state = opt.init(x0)
    iterates = [state.params] if record_params else None
    losses = [] if loss is None else [loss(state.params)]
    lrs: list[float] = []
    for k in range(1, int(steps) + 1):
        lrs.append(_lr_value(opt, int(state.t)))
        state = opt.step(state, evaluate(opt.query(state)))  # opt.step_with(state, evaluate)
        if iterates is not None:
            iterates.append(state.params)
        if loss is not None and k % every == 0:
            losses.append(loss(state.params))

    traced = any(isbox(v) for v in losses) or (iterates is not None and any(isbox(v) for v in iterates))
    stack: Any = anp.stack if traced else np.stack
    params_arr = None if iterates is None else stack(iterates)
    losses_arr = anp.stack(losses) if traced and losses else np.array(losses, dtype=np.float64)
    return Trajectory(params=params_arr, losses=losses_arr, lrs=np.array(lrs, dtype=np.float64), final=state)

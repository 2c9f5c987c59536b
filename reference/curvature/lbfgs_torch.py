r"""torch.optim.LBFGS as executable math: one step is one ``.step(closure)`` call. Spec:
specs/lbfgs_torch.md, (LT1)-(LT8).

Input of each step: a ``FunctionOracle`` (reference/oracle.py), the closure. One step runs up to
``max_iter`` L-BFGS iterations (N&W Alg. 7.4 directions, ``lbfgs``'s two-loop recursion) with
torch's first trial step, its pair rule and its stopping tests, sharing ``max_eval`` evaluations
between the iterations and the line search:

    f, g = f(theta), grad f(theta); return at once if max|g| <= tolerance_grad        (LT1)
    y = g - g_prev, s = t d; keep (s, y) if y^T s > 1e-10, gamma = y^T s / y^T y      (LT2)
    d = -H g by the two-loop recursion (d = -g on the very first iteration)           (LT3)
    t = min(1, 1/||g||_1) lr on the very first iteration, else t = lr                 (LT4)
    stop if g^T d > -tolerance_change                                                 (LT5)
    strong Wolfe (torch's search, budget max_eval - evaluations so far), or t fixed
        and one evaluation (none on the last iteration)                               (LT6)
    theta = theta + t d                                                               (LT7)
    stop after max_iter iterations, max_eval evaluations, max|g| <= tolerance_grad,
        max|t d| <= tolerance_change or |f - f_prev| < tolerance_change               (LT8)

Conventions:
    * defaults are torch's: lr 1, max_iter 20, max_eval = max_iter * 5 // 4, tolerance_grad 1e-7,
      tolerance_change 1e-9, history_size 100, no line search.
    * why a separate entry from ``lbfgs``: torch's step is an outer loop whose evaluation budget is
      shared with its line search (the search of a later iteration gets what the earlier ones
      left), so its keywords have no meaning for one N&W iteration (specs/lbfgs.md, Variants).
    * the state carries torch's: d, t, the pairs, gamma (H_diag), the previous g and f, and the
      running iteration count (the "very first iteration" is the first of the first call).
    * not differentiable by autograd (torch's search is transcribed with plain floats).

References:
    torch.optim.LBFGS (torch 2.13), after minFunc (M. Schmidt).
    Nocedal and Wright (2006), Alg. 7.4, 7.5; eq. 7.20.
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass, replace
from typing import ClassVar, Literal

import numpy as np

from .._core import method
from .._hyper import NONNEGATIVE, POSITIVE, Hyperparams, Integer, OneOf, hp, optional
from .._types import Array
from ..oracle import FunctionOracle, as_flat
from .lbfgs import two_loop
from .linesearch import torch_strong_wolfe

LineSearchFn = Literal["strong_wolfe"] | None
#: torch's threshold on y^T s for keeping a pair.
PAIR_THRESHOLD = 1e-10


@dataclass(frozen=True, eq=False)
class LBFGSTorchHyperparams(Hyperparams):
    """torch.optim.LBFGS's constructor arguments, with its defaults."""

    ALGORITHM: ClassVar[str] = "lbfgs_torch"
    lr: float = hp(1.0, POSITIVE, "the fixed step, or the line search's first trial, (LT4)")
    _: KW_ONLY
    max_iter: int = hp(20, Integer(ge=1), "iterations per step, (LT8)")
    max_eval: int | None = hp(
        None, optional(Integer(ge=1)), "evaluations per step (None: max_iter * 5 // 4), (LT6), (LT8)"
    )
    tolerance_grad: float = hp(1e-7, NONNEGATIVE, "stop when max|g| <= tolerance_grad, (LT1), (LT8)")
    tolerance_change: float = hp(1e-9, NONNEGATIVE, "stop on a smaller change of f or theta, (LT5), (LT8)")
    history_size: int = hp(100, Integer(ge=1), "curvature pairs kept, (LT2)")
    line_search_fn: LineSearchFn = hp(
        None, OneOf((None, "strong_wolfe")), 'None (fixed step lr) or "strong_wolfe", (LT6)'
    )


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class LBFGSTorchState:
    """torch's LBFGS state after ``t`` steps (``.step`` calls)."""

    params: Array  # theta
    d: Array | None  # the last direction
    step_size: float  # the last step t of (LT4)/(LT6)
    s_hist: tuple[Array, ...]  # old_stps, oldest first
    y_hist: tuple[Array, ...]  # old_dirs, oldest first
    prev_grad: Array | None  # prev_flat_grad
    prev_value: float | None  # prev_loss
    n_iter: int  # iterations over all steps (torch's state["n_iter"])
    evals: int  # closure evaluations in the last step
    func_evals: int  # closure evaluations over all steps (torch's state["func_evals"])
    t: int  # completed steps


def init(params: Array) -> LBFGSTorchState:
    """theta_0 = params, no pairs, no iteration yet."""
    return LBFGSTorchState(
        params=as_flat(params),
        d=None,
        step_size=0.0,
        s_hist=(),
        y_hist=(),
        prev_grad=None,
        prev_value=None,
        n_iter=0,
        evals=0,
        func_evals=0,
        t=0,
    )


def _direction(
    g: Array,
    d: Array | None,
    t: float,
    prev_g: Array | None,
    s_hist: tuple[Array, ...],
    y_hist: tuple[Array, ...],
    history_size: int,
    first: bool,
) -> tuple[Array, tuple[Array, ...], tuple[Array, ...]]:
    """(LT2)-(LT3): the pair update and the two-loop direction."""
    if first or d is None or prev_g is None:
        return -g, (), ()
    y = g - prev_g
    s = d * t
    if float(y @ s) > PAIR_THRESHOLD:
        s_hist, y_hist = (s_hist + (s,))[-history_size:], (y_hist + (y,))[-history_size:]
    return -two_loop(g, s_hist, y_hist, "gamma"), s_hist, y_hist


def step(
    state: LBFGSTorchState,
    oracle: FunctionOracle,
    *,
    lr: float = 1.0,
    max_iter: int = 20,
    max_eval: int | None = None,
    tolerance_grad: float = 1e-7,
    tolerance_change: float = 1e-9,
    history_size: int = 100,
    line_search_fn: LineSearchFn = None,
) -> LBFGSTorchState:
    """One ``torch.optim.LBFGS.step(closure)`` call, eqs. (LT1)-(LT8) of specs/lbfgs_torch.md.

    Long because it is torch's loop with its five exits, kept in one piece to be read beside it.
    """
    if not isinstance(oracle, FunctionOracle):
        raise TypeError(f"lbfgs_torch: step needs a FunctionOracle, got {type(oracle).__name__}")
    budget = max_iter * 5 // 4 if max_eval is None else max_eval
    x = state.params
    loss, g = oracle.value_and_grad(x)  # (LT1)
    evals = 1
    done = replace(state, evals=1, func_evals=state.func_evals + 1, t=state.t + 1)
    if float(np.max(np.abs(g))) <= tolerance_grad:
        return done
    d, t, s_hist, y_hist = state.d, state.step_size, state.s_hist, state.y_hist
    prev_g, prev_loss, n_total = state.prev_grad, state.prev_value, state.n_iter
    n_iter = 0
    while n_iter < max_iter:
        n_iter += 1
        n_total += 1
        d, s_hist, y_hist = _direction(g, d, t, prev_g, s_hist, y_hist, history_size, n_total == 1)  # (LT2)
        prev_g, prev_loss = g, loss  # (LT3)
        t = min(1.0, 1.0 / float(np.sum(np.abs(g)))) * lr if n_total == 1 else lr  # (LT4)
        gtd = float(g @ d)
        if gtd > -tolerance_change:  # (LT5)
            break
        ls_evals = 0
        opt_cond = False
        if line_search_fn == "strong_wolfe":  # (LT6)
            res = torch_strong_wolfe(oracle, x, d, f=loss, g=g, gtd=gtd, t=t, max_ls=budget - evals)
            g = res.grad if res.grad is not None else g  # torch's search always returns it
            loss, t, ls_evals = res.value, res.alpha, res.n_value
            x = x + t * d  # (LT7)
            opt_cond = float(np.max(np.abs(g))) <= tolerance_grad
        else:
            x = x + t * d
            if n_iter != max_iter:
                loss, g = oracle.value_and_grad(x)
                opt_cond = float(np.max(np.abs(g))) <= tolerance_grad
                ls_evals = 1
        evals += ls_evals
        if (  # (LT8)
            n_iter == max_iter
            or evals >= budget
            or opt_cond
            or float(np.max(np.abs(d * t))) <= tolerance_change
            or abs(loss - prev_loss) < tolerance_change
        ):
            break
    return LBFGSTorchState(
        params=x,
        d=d,
        step_size=t,
        s_hist=s_hist,
        y_hist=y_hist,
        prev_grad=prev_g,
        prev_value=prev_loss,
        n_iter=n_total,
        evals=evals,
        func_evals=state.func_evals + evals,
        t=state.t + 1,
    )


lbfgs_torch = method(
    LBFGSTorchHyperparams,
    init,
    step,
    "torch.optim.LBFGS: one step = one .step(closure) call; step(state, oracle). See specs/lbfgs_torch.md.",
)

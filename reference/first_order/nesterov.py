r"""Nesterov's accelerated gradient (Nesterov 1983) in three forms. Spec: specs/nesterov.md, (N1)-(N5).

Update rule, for t = 1, 2, ... (t counts completed steps after this one), v_0 = 0; the caller
evaluates g_t at ``opt.query(state)``, the point q_{t-1} of (N1):

    q_{t-1} = theta_{t-1} + beta v_{t-1}                          (N1)  forms "lookahead", "sutskever"
    q_{t-1} = theta_{t-1}                                               form "torch"
    g_t     = g_t + lambda q_{t-1}                                (N2)  coupled L2, if weight_decay > 0
    theta_t = q_{t-1} - eta_t g_t,  v_t = theta_t - theta_{t-1}   (N3)  "lookahead" (note 001)
    v_t     = beta v_{t-1} - eta_t g_t,  theta_t = theta_{t-1} + v_t   (N4)  "sutskever" (note 004)
    v_t     = beta v_{t-1} + g_t,  theta_t = theta_{t-1} - eta_t (g_t + beta v_t)   (N5)  "torch"

The three forms are one algorithm. "lookahead" and "sutskever" are the same recursion written two
ways (v_t = theta_t - theta_{t-1}); they produce the same iterates, also under a schedule.
"torch" is the change of variables phi_t = theta_t + beta v_t, b_t = -v_t / eta (Bengio et al.
2013; pytorch PR #5920): with a constant eta its iterate phi_t is the look-ahead point of the
other two forms, the point where they evaluate the gradient, and its buffer is b_t. Under a
schedule the "torch" form is a different method (it multiplies its whole buffer by the current
eta_t, as torch.optim.SGD and optax.sgd do).

Conventions:
    * ``velocity`` holds v_t (lookahead, sutskever: a displacement, eta inside) or b_t (torch:
      a sum of gradients, eta outside, torch's ``momentum_buffer``).
    * Weight decay is coupled L2 taken at the point where the gradient is evaluated (N2), so it
      survives the change of variables; in the "torch" form that point is the iterate, as in torch.
    * eta_t is ``lr`` or ``lr(t - 1)`` for a schedule (t - 1 completed steps before this one).

References:
    Nesterov, Y. (1983). A method for solving the convex programming problem with convergence
        rate O(1/k^2). Doklady AN SSSR 269(3), 543-547.
    Sutskever, I., Martens, J., Dahl, G. and Hinton, G. (2013). On the importance of
        initialization and momentum in deep learning. ICML.
    Bengio, Y., Boulanger-Lewandowski, N. and Pascanu, R. (2013). Advances in optimizing
        recurrent networks. ICASSP (the reformulated form used by torch and optax).
    Note 001 ("Nesterov Accelerated Gradient"), note 004 ("Nesterov Momentum").
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from typing import ClassVar, Literal

import autograd.numpy as anp

from .._core import lr_at, optimizer
from .._hyper import LR, NONNEGATIVE, UNIT, Hyperparams, OneOf, hp, required
from .._types import Array, LearningRate
from ._fused import accumulate, descend, lookahead_descend, nesterov_update, velocity

NesterovForm = Literal["lookahead", "sutskever", "torch"]
FORMS: tuple[NesterovForm, ...] = ("lookahead", "sutskever", "torch")


@dataclass(frozen=True, eq=False)
class NesterovHyperparams(Hyperparams):
    """Nesterov's hyperparameters (defaults: the notes' look-ahead form, beta = 0.9)."""

    ALGORITHM: ClassVar[str] = "nesterov"
    lr: LearningRate = required(LR, "step size eta of (N3)-(N5), or a schedule t -> eta_t")
    _: KW_ONLY
    beta: float = hp(0.9, UNIT, "momentum coefficient of (N1), (N4), (N5); beta = 0 is gradient descent")
    form: NesterovForm = hp(
        "lookahead",
        OneOf(FORMS),
        '"lookahead" (N3) (note 001), "sutskever" (N4) '
        '(note 004) or "torch" (N5), torch.optim.SGD(nesterov=True), optax.sgd(nesterov=True)',
    )
    weight_decay: float = hp(
        0.0, NONNEGATIVE, "coupled L2 coefficient lambda of (N2), taken at the query point"
    )


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class NesterovState:
    """Nesterov's state after ``t`` steps."""

    params: Array  # theta_t (form "torch": the look-ahead variable phi_t)
    velocity: Array  # v_t = theta_t - theta_{t-1} (lookahead, sutskever) or b_t (torch)
    t: int  # completed steps


def init(params: Array) -> NesterovState:
    """v_0 = 0, t = 0 (so the first query point is theta_0 in every form)."""
    return NesterovState(params=params, velocity=anp.zeros_like(params), t=0)


def query(state: NesterovState, *, beta: float, form: NesterovForm = "lookahead") -> Array:
    """Where the caller evaluates the next gradient: theta + beta v, or theta for form "torch"."""
    if form == "torch":
        return state.params
    return state.params + beta * state.velocity


def step(
    state: NesterovState,
    grad: Array,
    *,
    lr: LearningRate,
    beta: float,
    form: NesterovForm = "lookahead",
    weight_decay: float = 0.0,
) -> NesterovState:
    """One Nesterov step on ``grad`` taken at ``query(state)``, eqs. (N1)-(N5) of specs/nesterov.md."""
    theta, v = state.params, state.velocity
    eta = lr_at(lr, state.t)
    if weight_decay:  # (N1) is formed only where (N2) reads it; "lookahead" else fuses it into (N3)
        q = theta if form == "torch" else theta + beta * v  # (N1)
        g = grad + weight_decay * q  # (N2)
    else:
        q, g = None, grad
    if form == "lookahead":
        if q is None:
            new_theta = lookahead_descend(theta, v, g, beta, eta)  # (N3)  (theta + beta v) - eta g, fused
        else:
            new_theta = descend(q, eta, g)  # (N3)  q - eta g, fused: see _fused.py
        new_v = new_theta - theta
    elif form == "sutskever":
        new_v = velocity(v, g, beta, eta)  # (N4)  beta v - eta g, fused
        new_theta = theta + new_v
    else:
        new_v = accumulate(v, g, beta)  # (N5)  beta v + g, fused
        new_theta = nesterov_update(theta, g, new_v, eta, beta)  # theta - eta (g + beta v), fused
    return NesterovState(params=new_theta, velocity=new_v, t=state.t + 1)


nesterov = optimizer(
    NesterovHyperparams,
    init,
    step,
    "Nesterov's accelerated gradient; see the module docstring and specs/nesterov.md. Feed "
    "each step the gradient at opt.query(state) (opt.step_with(state, grad_fn) does): the "
    "look-ahead point theta + beta v in the forms 'lookahead' and 'sutskever', the iterate "
    "in form 'torch'.",
    query=query,
)

r"""AdamW: Adam with decoupled weight decay (Loshchilov & Hutter 2019). Spec: specs/adamw.md,
eqs. (AW1)-(AW2).

Update rule, for t = 1, 2, ... (t counts completed steps after this one):

    theta'_{t-1} = theta_{t-1} - eta_t lambda theta_{t-1}              (AW1)  decay_scaling="lr"
                 = theta_{t-1} - (eta_t / eta_0) lambda theta_{t-1}              decay_scaling="schedule"
    theta_t      = adam.step(theta'_{t-1}, g_t; weight_decay=0)       (AW2)  Adam's (A2)-(A6)

Adam's direction mhat_t / (sqrt(vhat_t) + eps) depends on the gradients only, never on theta, so
(AW1)-(AW2) is seed 001's single formula

    theta_t = theta_{t-1} - eta_t (mhat_t / (sqrt(vhat_t) + eps) + lambda theta_{t-1}).

Conventions:
    * decay_scaling="lr" multiplies lambda by the learning rate (seed 001, torch.optim.AdamW,
      optax.adamw); "schedule" multiplies it by the schedule multiplier eta_t / eta_0 only, as in
      Loshchilov & Hutter's Algorithm 2, so with a constant lr the decay is lambda theta per step.
    * The decay is applied first and Adam's step second, torch's order; optax adds lambda theta to
      the Adam direction before scaling by the lr. The two are the same expression.
    * Default weight_decay is torch's 1e-2 (optax's is 1e-4).

References:
    Loshchilov, I. and Hutter, F. (2019). Decoupled Weight Decay Regularization. ICLR, Alg. 2.
    Seed 001 ("AdamW: Decoupled Weight Decay"); seed 002 section 3.2.4.
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from typing import Literal

from ._core import (
    Optimizer,
    check_choice,
    check_positive,
    lr_at,
)
from ._types import Array, LearningRate
from .adam import AdamState, AmsgradMax, check_adam_arguments
from .adam import init as adam_init
from .adam import step as adam_step

DecayScaling = Literal["lr", "schedule"]

#: AdamW's state is Adam's: params, m, v, vmax (AMSGrad) and t.
AdamWState = AdamState


def init(params: Array, *, amsgrad: bool = False) -> AdamWState:
    """m_0 = v_0 = 0 (and vmax_0 = 0 with AMSGrad), t = 0: Adam's."""
    return adam_init(params, amsgrad=amsgrad)


def step(
    state: AdamWState,
    grad: Array,
    *,
    lr: LearningRate,
    beta1: float,
    beta2: float,
    eps: float,
    eps_root: float = 0.0,
    weight_decay: float,
    decay_scaling: DecayScaling = "lr",
    bias_correction: bool = True,
    epsilon_hat: bool = False,
    amsgrad: bool = False,
    amsgrad_max: AmsgradMax = "raw",
) -> AdamWState:
    """One AdamW step, eqs. (AW1)-(AW2) of specs/adamw.md."""
    theta = state.params
    if weight_decay:
        eta = lr_at(lr, state.t)
        scale = eta if decay_scaling == "lr" else eta / lr_at(lr, 0)
        theta = theta + (-(scale * weight_decay)) * theta  # (AW1)  see notation.md 'Speed'
    return adam_step(  # (AW2)
        replace(state, params=theta), grad, lr=lr, beta1=beta1, beta2=beta2, eps=eps,
        eps_root=eps_root, weight_decay=0.0, bias_correction=bias_correction,
        epsilon_hat=epsilon_hat, amsgrad=amsgrad, amsgrad_max=amsgrad_max,
    )  # fmt: skip


def adamw(
    lr: LearningRate = 1e-3,
    *,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
    eps_root: float = 0.0,
    weight_decay: float = 1e-2,
    decay_scaling: DecayScaling = "lr",
    bias_correction: bool = True,
    epsilon_hat: bool = False,
    amsgrad: bool = False,
    amsgrad_max: AmsgradMax = "raw",
) -> Optimizer[AdamWState]:
    """AdamW with hyperparameters bound; see the module docstring and specs/adamw.md.

    Args:
        lr: eta, a float > 0 or a schedule t -> eta_t.
        beta1, beta2, eps, eps_root, bias_correction, epsilon_hat, amsgrad, amsgrad_max: as in
            ``ref.adam`` (``epsilon_hat=True`` with decay_scaling="lr" is Keras 3's AdamW).
        weight_decay: decoupled decay coefficient lambda of (AW1), >= 0 (torch 1e-2, optax 1e-4).
        decay_scaling: "lr" (theta -= eta_t lambda theta: seed 001, torch, optax) or "schedule"
            (theta -= (eta_t / eta_0) lambda theta: Loshchilov & Hutter). "schedule" needs
            eta_0 = lr(0) > 0.
    """
    name = "adamw"
    check_adam_arguments(name, lr=lr, beta1=beta1, beta2=beta2, eps=eps, eps_root=eps_root,
                         weight_decay=weight_decay, bias_correction=bias_correction, amsgrad=amsgrad,
                         amsgrad_max=amsgrad_max)  # fmt: skip
    check_choice(name, "decay_scaling", decay_scaling, ("lr", "schedule"))
    check_choice(name, "epsilon_hat", epsilon_hat, (True, False))
    if epsilon_hat and not bias_correction:
        raise ValueError(f"{name}: epsilon_hat=True needs bias_correction=True")
    if decay_scaling == "schedule" and callable(lr):
        check_positive(name, "lr(0) (eta_0, the divisor of decay_scaling='schedule')", lr(0))
    step_fn = partial(
        step, lr=lr, beta1=beta1, beta2=beta2, eps=eps, eps_root=eps_root,
        weight_decay=weight_decay, decay_scaling=decay_scaling, bias_correction=bias_correction,
        epsilon_hat=epsilon_hat, amsgrad=amsgrad, amsgrad_max=amsgrad_max,
    )  # fmt: skip
    return Optimizer(
        name=name,
        hyperparams=dict(step_fn.keywords),
        init_fn=partial(init, amsgrad=amsgrad),
        step_fn=step_fn,
    )

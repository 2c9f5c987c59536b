r"""AdamW: Adam with decoupled weight decay (Loshchilov & Hutter 2019). Spec: specs/adamw.md,
eqs. (AW1)-(AW2).

Update rule, for t = 1, 2, ... (t counts completed steps after this one):

    theta'_{t-1} = theta_{t-1} - eta_t lambda theta_{t-1}              (AW1)  decay_scaling="lr"
                 = theta_{t-1} - (eta_t / eta_0) lambda theta_{t-1}              decay_scaling="schedule"
    theta_t      = adam.step(theta'_{t-1}, g_t; weight_decay=0)       (AW2)  Adam's (A2)-(A6)

Adam's direction mhat_t / (sqrt(vhat_t) + eps) depends on the gradients only, never on theta, so
(AW1)-(AW2) is note 001's single formula

    theta_t = theta_{t-1} - eta_t (mhat_t / (sqrt(vhat_t) + eps) + lambda theta_{t-1}).

Conventions:
    * decay_scaling="lr" multiplies lambda by the learning rate (note 001, torch.optim.AdamW,
      optax.adamw); "schedule" multiplies it by the schedule multiplier eta_t / eta_0 only, as in
      Loshchilov & Hutter's Algorithm 2, so with a constant lr the decay is lambda theta per step.
    * The decay is applied first and Adam's step second, torch's order; optax adds lambda theta to
      the Adam direction before scaling by the lr. The two are the same expression.
    * Default weight_decay is torch's 1e-2 (optax's is 1e-4).

References:
    Loshchilov, I. and Hutter, F. (2019). Decoupled Weight Decay Regularization. ICLR, Alg. 2.
    Note 001 ("AdamW: Decoupled Weight Decay"); note 002 section 3.2.4.
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass, replace
from typing import ClassVar, Literal

from .._core import check_positive, lr_at, optimizer
from .._hyper import NONNEGATIVE, OneOf, hp
from .._types import Array, LearningRate
from ._fused import descend
from .adam import AdamHyperparams, AdamState, AmsgradMax
from .adam import init as adam_init
from .adam import step as adam_step

DecayScaling = Literal["lr", "schedule"]


@dataclass(frozen=True, eq=False)
class AdamWHyperparams(AdamHyperparams):
    """AdamW's hyperparameters: Adam's (``epsilon_hat=True`` with decay_scaling="lr" is Keras 3's
    AdamW), with the weight decay decoupled and torch's default 1e-2 (optax's is 1e-4)."""

    ALGORITHM: ClassVar[str] = "adamw"
    _: KW_ONLY
    weight_decay: float = hp(1e-2, NONNEGATIVE, "decoupled decay coefficient lambda of (AW1)")
    decay_scaling: DecayScaling = hp(
        "lr",
        OneOf(("lr", "schedule")),
        '"lr": theta -= eta_t lambda theta (torch, optax); "schedule": '
        "theta -= (eta_t / eta_0) lambda theta (Loshchilov & Hutter)",
    )

    def validate(self) -> None:
        super().validate()
        if self.decay_scaling == "schedule" and callable(self.lr):
            check_positive(
                self.ALGORITHM, "lr(0) (eta_0, the divisor of decay_scaling='schedule')", self.lr(0)
            )


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
        theta = descend(theta, scale * weight_decay, theta)  # (AW1)  theta - eta lambda theta, fused
    return adam_step(  # (AW2)
        replace(state, params=theta),
        grad,
        lr=lr,
        beta1=beta1,
        beta2=beta2,
        eps=eps,
        eps_root=eps_root,
        weight_decay=0.0,
        bias_correction=bias_correction,
        epsilon_hat=epsilon_hat,
        amsgrad=amsgrad,
        amsgrad_max=amsgrad_max,
    )


adamw = optimizer(AdamWHyperparams, init, step, "AdamW; see the module docstring and specs/adamw.md.")

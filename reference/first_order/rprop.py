r"""Rprop, resilient propagation (Riedmiller & Braun 1993; variants of Igel & Huesken 2000).
Spec: specs/rprop.md, eqs. (RP1)-(RP5).

Each coordinate keeps its own step size Delta and moves by it against the sign of its gradient; the
size of the gradient is never used. For t = 1, 2, ..., g_t the gradient, gp_{t-1} the stored one:

    s_t     = sign(g_t) sign(gp_{t-1})                                     (RP1)
    Delta_t = clip(Delta_{t-1} eta_plus, Dmin, Dmax)    if s_t > 0         (RP2)
              clip(Delta_{t-1} eta_minus, Dmin, Dmax)   if s_t < 0
              Delta_{t-1}                               if s_t = 0 (clamp_always: clipped too)
    gp_t    = 0 where s_t < 0 (sign_change "backtrack", "skip"), else g_t   (RP3)
    d_t     = -Delta_t sign(g_t)                 where s_t >= 0            (RP4)
              -d_{t-1} ("backtrack"), 0 ("skip"), -Delta_t sign(g_t) ("step")   where s_t < 0
    theta_t = theta_{t-1} + d_t                                            (RP5)
              theta_{t-1} + [s_t >= 0] d_{t-1}    (lagged: optax 0.2.8 applies the previous move)

Conventions:
    * sign_change="backtrack" is the paper's Rprop (weight-backtracking, "Rprop+"); "skip" is
      iRprop- (torch.optim.Rprop, optax.rprop); "step" is Rprop- (no backtracking, no zeroing).
    * Delta_0 = ``lr``; gp_0 = 0, so step 1 moves by -lr sign(g_1).
    * torch clips Delta every step (clamp_always=True); the paper and optax only when it changes.

References:
    Riedmiller, M. and Braun, H. (1993). A direct adaptive method for faster backpropagation
    learning: the RPROP algorithm. IEEE International Conference on Neural Networks.
    Igel, C. and Huesken, M. (2000). Improving the Rprop learning algorithm. NC 2000.
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from typing import ClassVar, Literal

import autograd.numpy as anp

from .._core import optimizer
from .._hyper import FLAG, NONNEGATIVE, OPEN_UNIT, POSITIVE, Hyperparams, OneOf, Real, hp
from .._types import Array

SignChange = Literal["backtrack", "skip", "step"]


@dataclass(frozen=True, eq=False)
class RpropHyperparams(Hyperparams):
    """Rprop's hyperparameters (the paper's: Delta_0 = 0.1, eta = (0.5, 1.2), Delta in [1e-6, 50])."""

    ALGORITHM: ClassVar[str] = "rprop"
    lr: float = hp(0.1, POSITIVE, "initial step size Delta_0 of every coordinate, (RP2)")
    _: KW_ONLY
    eta_minus: float = hp(0.5, OPEN_UNIT, "factor of Delta after a sign change, (RP2)")
    eta_plus: float = hp(1.2, Real(gt=1.0), "factor of Delta when the sign is kept, (RP2)")
    step_min: float = hp(1e-6, NONNEGATIVE, "lower clip Dmin of Delta, (RP2)")
    step_max: float = hp(50.0, POSITIVE, "upper clip Dmax of Delta, (RP2)")
    sign_change: SignChange = hp(
        "backtrack",
        OneOf(("backtrack", "skip", "step")),
        'on a sign change: undo the last move (paper), "skip" the move (iRprop-: torch, optax), '
        'or "step" with the smaller Delta (Rprop-), (RP3)-(RP4)',
    )
    clamp_always: bool = hp(False, FLAG, "clip Delta also when s_t = 0 (torch), (RP2)")
    lagged: bool = hp(
        False, FLAG, "apply the previous call's move, dropped where s_t < 0 (optax 0.2.8), (RP5)"
    )

    def validate(self) -> None:
        if self.step_min > self.step_max:
            raise ValueError(
                f"{self.ALGORITHM}: step_min must be <= step_max, got {self.step_min} > {self.step_max}"
            )
        if self.lagged and self.sign_change != "skip":
            raise ValueError(f'{self.ALGORITHM}: lagged=True (optax\'s form) needs sign_change="skip"')


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class RpropState:
    """Rprop's state after ``t`` steps."""

    params: Array  # theta_t
    grad: Array  # gp_t: the stored gradient (0 where the sign changed)
    step_size: Array  # Delta_t
    move: Array  # d_t: the move of step t (with lagged: the move the next step applies)
    t: int  # completed steps


def init(params: Array, *, lr: float) -> RpropState:
    """gp_0 = d_0 = 0, Delta_0 = lr, t = 0."""
    zeros = anp.zeros_like(params)
    return RpropState(params=params, grad=zeros, step_size=zeros + lr, move=zeros, t=0)


def step(
    state: RpropState,
    grad: Array,
    *,
    eta_minus: float,
    eta_plus: float,
    step_min: float,
    step_max: float,
    sign_change: SignChange = "backtrack",
    clamp_always: bool = False,
    lagged: bool = False,
) -> RpropState:
    """One Rprop step, eqs. (RP1)-(RP5) of specs/rprop.md."""
    s = anp.sign(grad) * anp.sign(state.grad)  # (RP1)
    factor = anp.where(s > 0, eta_plus, anp.where(s < 0, eta_minus, 1.0))
    clipped = anp.clip(state.step_size * factor, step_min, step_max)  # (RP2)
    delta = clipped if clamp_always else anp.where(s == 0, state.step_size, clipped)
    flipped = s < 0
    kept = grad if sign_change == "step" else anp.where(flipped, 0.0, grad)  # (RP3)
    d = -delta * anp.sign(grad)  # (RP4)
    if sign_change == "backtrack":
        d = anp.where(flipped, -state.move, d)
    elif sign_change == "skip":
        d = anp.where(flipped, 0.0, d)
    applied = anp.where(flipped, 0.0, state.move) if lagged else d
    theta = state.params + applied  # (RP5)
    return RpropState(params=theta, grad=kept, step_size=delta, move=d, t=state.t + 1)


rprop = optimizer(RpropHyperparams, init, step, "Rprop; see the module docstring and specs/rprop.md.")

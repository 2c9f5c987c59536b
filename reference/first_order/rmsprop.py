r"""RMSprop (Tieleman & Hinton 2012). Spec: specs/rmsprop.md, eqs. (R1)-(R7).

Update rule, for t = 1, 2, ... (t counts completed steps after this one):

    g_t     = g_t + lambda theta_{t-1}                         (R1)  coupled L2, if weight_decay > 0
    v_t     = alpha v_{t-1} + (1 - alpha) g_t^2,  v_0 = initial_scale      (R2)
    gbar_t  = alpha gbar_{t-1} + (1 - alpha) g_t,  gbar_0 = 0  (R3)  if centered (else gbar = 0)
    vhat_t  = v_t / (1 - alpha^t),  gbarhat_t = gbar_t / (1 - alpha^t)      (R4)  if bias_correction
    d_t     = sqrt(vhat_t - gbarhat_t^2) + eps                 (R5)  eps_placement="outside" (torch)
            = sqrt(vhat_t - gbarhat_t^2 + eps)                       eps_placement="inside" (optax)
    b_t     = mu b_{t-1} + g_t / d_t                           (R6)  momentum_lr="outside" (torch)
            = mu b_{t-1} + eta_t g_t / d_t                           momentum_lr="inside" (optax)
    theta_t = theta_{t-1} - eta_t b_t   (outside)  or  theta_{t-1} - b_t   (inside)     (R7)

With momentum mu = 0 both forms are theta_t = theta_{t-1} - eta_t g_t / d_t and no buffer is kept.

Conventions:
    * The defaults are torch.optim.RMSprop's (alpha = 0.99, eps = 1e-8 outside the root, v_0 = 0);
      optax.rmsprop defaults to decay 0.9 with eps inside. specs/rmsprop.md explains the choice.
    * momentum_lr: torch multiplies the whole buffer by the current lr, optax's trace (applied after
      the lr scaling) stores lr-scaled steps. They agree at constant lr, not under a schedule.
    * Centered: the radicand (vhat - gbarhat^2, plus eps if inside) is clamped at 0. It is >= 0 in
      exact arithmetic; rounding can make it a tiny negative, where the peers return NaN.
    * eta_t is ``lr`` or ``lr(t - 1)`` for a schedule.

References:
    Tieleman, T. and Hinton, G. (2012). Lecture 6.5 - RMSProp. COURSERA: Neural Networks for
    Machine Learning. Graves, A. (2013). Generating Sequences With Recurrent Neural Networks
    (the centered form, eq. 38-41). Note 004 ("RMSProp"); note 001 ("The Adaptive Paradigm").
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from typing import ClassVar, Literal

import autograd.numpy as anp

from .._core import lr_at, optimizer
from .._hyper import FLAG, LR, NONNEGATIVE, UNIT, Hyperparams, OneOf, hp
from .._types import Array, LearningRate
from ._fused import accumulate, descend, ema, ema_sq, rms_update

EpsPlacement = Literal["outside", "inside"]
MomentumLr = Literal["outside", "inside"]


@dataclass(frozen=True, eq=False)
class RMSpropHyperparams(Hyperparams):
    """RMSprop's hyperparameters (torch.optim.RMSprop's defaults; specs/rmsprop.md says why)."""

    ALGORITHM: ClassVar[str] = "rmsprop"
    lr: LearningRate = hp(1e-2, LR, "step size eta of (R6)-(R7), or a schedule t -> eta_t")
    _: KW_ONLY
    alpha: float = hp(0.99, UNIT, "EMA coefficient of (R2)-(R3) (torch's alpha, optax's decay)")
    eps: float = hp(1e-8, NONNEGATIVE, "denominator guard of (R5)")
    eps_placement: EpsPlacement = hp(
        "outside",
        OneOf(("outside", "inside")),
        'eps "outside" the square root of (R5) (torch) or "inside" (optax)',
    )
    centered: bool = hp(False, FLAG, "divide by the EMA estimate of the standard deviation, (R3)")
    momentum: float = hp(0.0, UNIT, "mu of (R6); 0 keeps no buffer")
    momentum_lr: MomentumLr = hp(
        "outside",
        OneOf(("outside", "inside")),
        '"outside": theta -= eta_t b_t (torch); "inside": b_t holds eta-scaled steps, theta -= b_t (optax)',
    )
    initial_scale: float = hp(0.0, NONNEGATIVE, "v_0 of (R2) (torch 0, TF1 1)")
    bias_correction: bool = hp(False, FLAG, "divide v_t (and gbar_t) by 1 - alpha^t, (R4) (optax's flag)")
    weight_decay: float = hp(0.0, NONNEGATIVE, "coupled L2 coefficient lambda of (R1)")


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class RMSpropState:
    """RMSprop's state after ``t`` steps."""

    params: Array  # theta_t
    v: Array  # EMA of squared gradients v_t
    gbar: Array | None  # EMA of gradients gbar_t (None unless centered)
    b: Array | None  # momentum buffer b_t (None unless momentum > 0)
    t: int  # completed steps


def init(
    params: Array, *, centered: bool = False, momentum: float = 0.0, initial_scale: float = 0.0
) -> RMSpropState:
    """v_0 = initial_scale, gbar_0 = 0 (if centered), b_0 = 0 (if momentum > 0), t = 0."""
    zeros = anp.zeros_like(params)
    return RMSpropState(
        params=params,
        v=zeros + initial_scale,
        gbar=zeros if centered else None,
        b=zeros if momentum else None,
        t=0,
    )


def step(
    state: RMSpropState,
    grad: Array,
    *,
    lr: LearningRate,
    alpha: float,
    eps: float,
    eps_placement: EpsPlacement = "outside",
    centered: bool = False,
    momentum: float = 0.0,
    momentum_lr: MomentumLr = "outside",
    bias_correction: bool = False,
    weight_decay: float = 0.0,
) -> RMSpropState:
    """One RMSprop step, eqs. (R1)-(R7) of specs/rmsprop.md."""
    theta, t = state.params, state.t + 1
    eta = lr_at(lr, state.t)
    g = grad + weight_decay * theta if weight_decay else grad  # (R1)
    v = ema_sq(state.v, g, alpha)  # (R2)  alpha v + (1 - alpha) g g, fused: see _fused.py
    gbar = state.gbar
    if centered:
        if gbar is None:
            raise ValueError("rmsprop: centered=True needs a state from init(params, centered=True)")
        gbar = ema(gbar, g, alpha)  # (R3)
    bc = 1 - alpha**t if bias_correction else 1.0
    vhat = v / bc if bias_correction else v  # (R4)
    if gbar is not None:
        gbarhat = gbar / bc
        vhat = vhat - gbarhat * gbarhat  # >= 0 in exact arithmetic; rounding may dip below
    if not (centered or momentum) and eps_placement == "outside":  # the common case: one primitive
        theta = rms_update(  # (R5)  d = sqrt(vhat) + eps, then (R7) theta - eta g / d
            theta, g, vhat, eta, eps
        )
        return RMSpropState(params=theta, v=v, gbar=gbar, b=state.b, t=t)
    if eps_placement == "outside":
        d = anp.sqrt(anp.maximum(vhat, 0.0) if centered else vhat) + eps  # (R5)
    else:
        d = anp.sqrt(anp.maximum(vhat + eps, 0.0) if centered else vhat + eps)  # (R5)
    b = state.b
    if momentum:
        if b is None:
            raise ValueError(
                "rmsprop: momentum > 0 needs a state from init(params, momentum=...) with momentum > 0"
            )
        if momentum_lr == "outside":
            b = accumulate(b, g / d, momentum)  # (R6)
            theta = descend(theta, eta, b)  # (R7)  theta - eta b
        else:
            b = accumulate(b, eta * (g / d), momentum)  # (R6)
            theta = theta - b  # (R7)
    else:
        theta = theta + (-eta) * (g / d)  # (R7)  = theta - eta g/d, see notation.md 'Speed'
    return RMSpropState(params=theta, v=v, gbar=gbar, b=b, t=t)


rmsprop = optimizer(RMSpropHyperparams, init, step, "RMSprop; see the module docstring and specs/rmsprop.md.")

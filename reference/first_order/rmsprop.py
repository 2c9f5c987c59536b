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
    (the centered form, eq. 38-41). Seed 004 ("RMSProp"); seed 001 ("The Adaptive Paradigm").
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Literal

import autograd.numpy as anp

from .._core import (
    Optimizer,
    check_choice,
    check_lr,
    check_nonnegative,
    check_unit_interval,
    lr_at,
)
from .._types import Array, LearningRate

EpsPlacement = Literal["outside", "inside"]
MomentumLr = Literal["outside", "inside"]


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
    v = alpha * state.v + (1 - alpha) * g * g  # (R2)
    gbar = state.gbar
    if centered:
        assert gbar is not None, "centered RMSprop state needs gbar: init with centered=True"
        gbar = alpha * gbar + (1 - alpha) * g  # (R3)
    bc = 1 - alpha**t if bias_correction else 1.0
    vhat = v / bc if bias_correction else v  # (R4)
    if gbar is not None:
        gbarhat = gbar / bc
        vhat = vhat - gbarhat * gbarhat  # >= 0 in exact arithmetic; rounding may dip below
    if eps_placement == "outside":
        d = anp.sqrt(anp.maximum(vhat, 0.0) if centered else vhat) + eps  # (R5)
    else:
        d = anp.sqrt(anp.maximum(vhat + eps, 0.0) if centered else vhat + eps)  # (R5)
    b = state.b
    if momentum:
        assert b is not None, "RMSprop momentum state needs b: init with momentum > 0"
        if momentum_lr == "outside":
            b = momentum * b + g / d  # (R6)
            theta = theta + (-eta) * b  # (R7)  = theta - eta b, see notation.md 'Speed'
        else:
            b = momentum * b + eta * (g / d)  # (R6)
            theta = theta - b  # (R7)
    else:
        theta = theta + (-eta) * (g / d)  # (R7)  = theta - eta g/d, see notation.md 'Speed'
    return RMSpropState(params=theta, v=v, gbar=gbar, b=b, t=t)


def rmsprop(
    lr: LearningRate = 1e-2,
    *,
    alpha: float = 0.99,
    eps: float = 1e-8,
    eps_placement: EpsPlacement = "outside",
    centered: bool = False,
    momentum: float = 0.0,
    momentum_lr: MomentumLr = "outside",
    initial_scale: float = 0.0,
    bias_correction: bool = False,
    weight_decay: float = 0.0,
) -> Optimizer[RMSpropState]:
    """RMSprop with hyperparameters bound; see the module docstring and specs/rmsprop.md.

    Args:
        lr: eta, a float > 0 or a schedule t -> eta_t.
        alpha: EMA coefficient of the squared gradients, in [0, 1) (torch's alpha, optax's decay).
        eps: denominator guard, >= 0.
        eps_placement: "outside" the square root (torch) or "inside" (optax's default).
        centered: divide by the EMA estimate of the standard deviation instead of the RMS (R3).
        momentum: mu in [0, 1); 0 means no buffer.
        momentum_lr: "outside" (torch: theta -= eta_t b_t) or "inside" (optax: b_t holds
            eta-scaled steps, theta -= b_t).
        initial_scale: v_0, >= 0 (torch 0, TF1 1).
        bias_correction: divide v_t (and gbar_t) by 1 - alpha^t (optax's flag).
        weight_decay: coupled L2 coefficient lambda of (R1), >= 0.
    """
    name = "rmsprop"
    check_lr(name, lr)
    check_unit_interval(name, "alpha", alpha)
    check_nonnegative(name, "eps", eps)
    check_choice(name, "eps_placement", eps_placement, ("outside", "inside"))
    for flag, value in (("centered", centered), ("bias_correction", bias_correction)):
        check_choice(name, flag, value, (True, False))
    check_unit_interval(name, "momentum", momentum)
    check_choice(name, "momentum_lr", momentum_lr, ("outside", "inside"))
    check_nonnegative(name, "initial_scale", initial_scale)
    check_nonnegative(name, "weight_decay", weight_decay)
    step_fn = partial(
        step, lr=lr, alpha=alpha, eps=eps, eps_placement=eps_placement, centered=centered,
        momentum=momentum, momentum_lr=momentum_lr, bias_correction=bias_correction,
        weight_decay=weight_decay,
    )  # fmt: skip
    return Optimizer(
        name=name,
        hyperparams={**step_fn.keywords, "initial_scale": initial_scale},
        init_fn=partial(init, centered=centered, momentum=momentum, initial_scale=initial_scale),
        step_fn=step_fn,
    )

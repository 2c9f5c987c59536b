r"""Adam (Kingma & Ba 2015, Algorithm 1). Spec: specs/adam.md, eqs. (A1)-(A6).

Update rule, for t = 1, 2, ... (t counts completed steps after this one):

    g_t     = g_t + lambda theta_{t-1}                       (A1)  coupled L2, if weight_decay > 0
    m_t     = beta1 m_{t-1} + (1 - beta1) g_t                (A2)
    v_t     = beta2 v_{t-1} + (1 - beta2) g_t^2              (A3)
    mhat_t  = m_t / (1 - beta1^t),  vhat_t = v_t / (1 - beta2^t)        (A4)  if bias_correction
    vhat_t  = max(vmax_{t-1}, v_t) / (1 - beta2^t)           (A5)  if amsgrad ("raw": torch)
              or max(vmax_{t-1}, vhat_t)                           (amsgrad_max="corrected": optax)
    theta_t = theta_{t-1} - eta_t mhat_t / (sqrt(vhat_t + eps_root) + eps)   (A6)

Conventions (defaults are the seed's and the paper's; torch.optim.Adam and optax.adam agree):
    * eps is added after the square root of the bias-corrected second moment (paper, torch, optax).
      ``eps_root`` (optax) adds a constant inside the square root; ``epsilon_hat=True`` is the
      TensorFlow/Keras form eta sqrt(1 - beta2^t)/(1 - beta1^t) m_t / (sqrt(v_t) + eps).
    * AMSGrad: torch keeps the maximum of the raw v_t ("raw"), optax of vhat_t ("corrected").
    * eta_t is ``lr`` or ``lr(t - 1)`` for a schedule (t - 1 completed steps before this one).

References:
    Kingma, D. P. and Ba, J. (2015). Adam: A Method for Stochastic Optimization. ICLR. Alg. 1.
    Reddi, S. J., Kale, S. and Kumar, S. (2018). On the Convergence of Adam and Beyond. ICLR.
    Seed 001 ("Adam: Complete Algorithm"), seed 002 section 3.2.3.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Literal

import autograd.numpy as anp

from ._core import (
    Optimizer,
    check_choice,
    check_lr,
    check_nonnegative,
    check_unit_interval,
    lr_at,
)
from ._types import Array, LearningRate

AmsgradMax = Literal["raw", "corrected"]


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class AdamState:
    """Adam's state after ``t`` steps."""

    params: Array  # theta_t
    m: Array  # first-moment EMA m_t
    v: Array  # second-moment EMA v_t
    vmax: Array | None  # AMSGrad running maximum (None unless amsgrad)
    t: int  # completed steps


def init(params: Array, *, amsgrad: bool = False) -> AdamState:
    """m_0 = v_0 = 0 (and vmax_0 = 0 with AMSGrad), t = 0."""
    zeros = anp.zeros_like(params)
    return AdamState(params=params, m=zeros, v=zeros, vmax=zeros if amsgrad else None, t=0)


def step(
    state: AdamState,
    grad: Array,
    *,
    lr: LearningRate,
    beta1: float,
    beta2: float,
    eps: float,
    eps_root: float = 0.0,
    weight_decay: float = 0.0,
    bias_correction: bool = True,
    epsilon_hat: bool = False,
    amsgrad: bool = False,
    amsgrad_max: AmsgradMax = "raw",
) -> AdamState:
    """One Adam step, eqs. (A1)-(A6) of specs/adam.md."""
    theta, t = state.params, state.t + 1
    eta = lr_at(lr, state.t)
    g = grad + weight_decay * theta if weight_decay else grad  # (A1)
    m = beta1 * state.m + (1 - beta1) * g  # (A2)
    v = beta2 * state.v + (1 - beta2) * g * g  # (A3)
    bc1 = 1 - beta1**t if bias_correction else 1.0
    bc2 = 1 - beta2**t if bias_correction else 1.0
    mhat, vhat = (m / bc1, v / bc2) if bias_correction else (m, v)  # (A4)
    vmax = state.vmax
    if amsgrad:
        assert vmax is not None, "AMSGrad state needs vmax: init with amsgrad=True"
        if amsgrad_max == "raw":
            vmax = anp.maximum(vmax, v)  # (A5)
            vhat = vmax / bc2
        else:
            vmax = anp.maximum(vmax, vhat)  # (A5)
            vhat = vmax
    root = anp.sqrt(vhat + eps_root) if eps_root else anp.sqrt(vhat)  # skip a no-op pass at 0
    if epsilon_hat:  # TensorFlow form: eps meets the uncorrected sqrt(v_t)
        theta = theta + (-eta) * mhat / (root + eps / anp.sqrt(bc2))  # (A6)
    else:
        theta = theta + (-eta) * mhat / (root + eps)  # (A6)  = theta - eta ..., see notation.md 'Speed'
    return AdamState(params=theta, m=m, v=v, vmax=vmax, t=t)


def check_adam_arguments(
    name: str,
    *,
    lr: LearningRate,
    beta1: float,
    beta2: float,
    eps: float,
    eps_root: float,
    weight_decay: float,
    bias_correction: bool,
    amsgrad: bool,
    amsgrad_max: AmsgradMax,
) -> None:
    """The checks Adam and AdamW share; errors name ``name``, the argument and its valid range."""
    check_lr(name, lr)
    check_unit_interval(name, "beta1", beta1)
    check_unit_interval(name, "beta2", beta2)
    check_nonnegative(name, "eps", eps)  # eps = 0 is allowed (the seeds' sign-invariance claims)
    check_nonnegative(name, "eps_root", eps_root)
    check_nonnegative(name, "weight_decay", weight_decay)
    for flag, value in (("bias_correction", bias_correction), ("amsgrad", amsgrad)):
        check_choice(name, flag, value, (True, False))
    check_choice(name, "amsgrad_max", amsgrad_max, ("raw", "corrected"))


def adam(
    lr: LearningRate = 1e-3,
    *,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
    eps_root: float = 0.0,
    weight_decay: float = 0.0,
    bias_correction: bool = True,
    epsilon_hat: bool = False,
    amsgrad: bool = False,
    amsgrad_max: AmsgradMax = "raw",
) -> Optimizer[AdamState]:
    """Adam with hyperparameters bound; see the module docstring and specs/adam.md.

    Args:
        lr: eta, a float > 0 or a schedule t -> eta_t.
        beta1, beta2: EMA coefficients in [0, 1).
        eps: added to sqrt(vhat_t), >= 0. With eps = eps_root = 0 a coordinate whose gradients
            have all been zero is 0/0 (NaN, with numpy's RuntimeWarning).
        eps_root: added inside the square root (optax), >= 0.
        weight_decay: coupled L2 coefficient lambda of (A1), >= 0 (torch Adam's weight_decay).
        bias_correction: divide by 1 - beta^t (A4).
        epsilon_hat: TensorFlow's placement of eps (needs bias_correction).
        amsgrad: keep the running maximum of the second moment (A5).
        amsgrad_max: "raw" (torch, maximum of v_t) or "corrected" (optax, maximum of vhat_t).
    """
    name = "adam"
    check_adam_arguments(name, lr=lr, beta1=beta1, beta2=beta2, eps=eps, eps_root=eps_root,
                         weight_decay=weight_decay, bias_correction=bias_correction, amsgrad=amsgrad,
                         amsgrad_max=amsgrad_max)  # fmt: skip
    check_choice(name, "epsilon_hat", epsilon_hat, (True, False))
    if epsilon_hat and not bias_correction:
        raise ValueError(f"{name}: epsilon_hat=True needs bias_correction=True")
    step_fn = partial(
        step, lr=lr, beta1=beta1, beta2=beta2, eps=eps, eps_root=eps_root,
        weight_decay=weight_decay, bias_correction=bias_correction, epsilon_hat=epsilon_hat,
        amsgrad=amsgrad, amsgrad_max=amsgrad_max,
    )  # fmt: skip
    return Optimizer(
        name=name,
        hyperparams=dict(step_fn.keywords),
        init_fn=partial(init, amsgrad=amsgrad),
        step_fn=step_fn,
    )

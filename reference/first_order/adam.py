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
    Note 001 ("Adam: Complete Algorithm"), note 002 section 3.2.3.
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from typing import ClassVar, Literal

import autograd.numpy as anp

from .._core import lr_at, optimizer
from .._hyper import FLAG, LR, NONNEGATIVE, UNIT, Hyperparams, OneOf, hp
from .._types import Array, LearningRate
from ._fused import adam_update, ema, ema_sq

AmsgradMax = Literal["raw", "corrected"]


@dataclass(frozen=True, eq=False)
class AdamHyperparams(Hyperparams):
    """Adam's hyperparameters (the paper's defaults, which torch and optax share)."""

    ALGORITHM: ClassVar[str] = "adam"
    lr: LearningRate = hp(1e-3, LR, "step size eta of (A6), or a schedule t -> eta_t")
    _: KW_ONLY
    beta1: float = hp(0.9, UNIT, "EMA coefficient of the first moment, (A2)")
    beta2: float = hp(0.999, UNIT, "EMA coefficient of the second moment, (A3)")
    eps: float = hp(
        1e-8,
        NONNEGATIVE,
        "added to sqrt(vhat_t) in (A6); eps = eps_root = 0 makes a coordinate with only zero gradients 0/0",
    )
    eps_root: float = hp(0.0, NONNEGATIVE, "added inside the square root of (A6) (optax)")
    weight_decay: float = hp(0.0, NONNEGATIVE, "coupled L2 coefficient lambda of (A1) (torch Adam's)")
    bias_correction: bool = hp(True, FLAG, "divide the moments by 1 - beta^t, (A4)")
    epsilon_hat: bool = hp(
        False, FLAG, "TensorFlow/Keras placement of eps, eps sqrt(1 - beta2^t) (needs bias_correction)"
    )
    amsgrad: bool = hp(False, FLAG, "keep the running maximum of the second moment, (A5)")
    amsgrad_max: AmsgradMax = hp(
        "raw", OneOf(("raw", "corrected")), "maximum of the raw v_t (torch) or of vhat_t (optax)"
    )

    def validate(self) -> None:
        if self.epsilon_hat and not self.bias_correction:
            raise ValueError(f"{self.ALGORITHM}: epsilon_hat=True needs bias_correction=True")


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
    m = ema(state.m, g, beta1)  # (A2)  beta1 m + (1 - beta1) g, fused: see _fused.py
    v = ema_sq(state.v, g, beta2)  # (A3)  beta2 v + (1 - beta2) g g
    bc1 = 1 - beta1**t if bias_correction else 1.0
    bc2 = 1 - beta2**t if bias_correction else 1.0
    vmax = state.vmax
    if not (amsgrad or eps_root or epsilon_hat):  # the common case: (A4) and (A6) in one primitive
        theta = adam_update(theta, m, v, eta, bc1, bc2, eps)  # (A4)  then (A6); x / 1.0 = x exactly
        return AdamState(params=theta, m=m, v=v, vmax=vmax, t=t)
    mhat, vhat = (m / bc1, v / bc2) if bias_correction else (m, v)  # (A4)
    if amsgrad:
        if vmax is None:
            raise ValueError("adam: amsgrad=True needs a state from init(params, amsgrad=True)")
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


adam = optimizer(AdamHyperparams, init, step, "Adam; see the module docstring and specs/adam.md.")

r"""SGD with the Polyak step size (SPS_max). Spec: specs/polyak_sgd.md, (PS1)-(PS5).

Input of each step: a ``FunctionOracle`` (reference/oracle.py) of the loss being stepped on (the
full objective, or one minibatch's loss for the stochastic method), evaluated once at theta:

    f_t, g_t = f(theta_{t-1}), grad f(theta_{t-1})                                     (PS1)
    gap_t = f_t - f_min   ("sps+": max(gap_t, 0))                                       (PS2)
    u_t = s_t g_t if scale_inside else g_t   (s_t = scaling, a number or a schedule)    (PS3)
    eta_t = min(gap_t / (||u_t||^2 + eps), lr), and 0 if ||u_t||^2 + eps <= zero_tol;
        times s_t unless scale_inside                                                  (PS4)
    theta_t = theta_{t-1} - eta_t u_t                                                   (PS5)

Conventions:
    * lr is the cap gamma_max of SPS_max (optax ``max_learning_rate``, default 1), f_min the
      guess of the minimum (0: interpolating models), eps 0, c = 1 in Loizou et al.'s
      gamma = (f - f*) / (c ||g||^2) (their theory uses c = 1/2).
    * scale_inside=False is the formula optax documents, s min(gap / (||g||^2 + eps), gamma_max);
      optax's code computes the norm of the already scaled update s g (scale_inside=True); the two
      agree for s = 1 (specs/polyak_sgd.md, Conventions).
    * zero_tol = 0 makes only 0 / 0 a zero step; optax uses finfo(float).eps.
    * differentiable by autograd in lr, f_min, scaling and theta_0 (a min picks one branch).

References:
    Polyak, B. T. (1987). Introduction to Optimization, section 5.3 (the step (f - f*) / ||g||^2).
    Loizou, N., Vaswani, S., Laradji, I., Lacoste-Julien, S. (2021). Stochastic Polyak step-size
        for SGD: an adaptive learning rate for fast convergence. AISTATS.
    Garrigos, G., Gower, R. M., Schaipp, F. (2023). Function value learning: adaptive learning
        rates based on the Polyak stepsize and function splitting in ERM (the "sps+" variant).
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from typing import Any, ClassVar, Literal

import autograd.numpy as anp
from autograd.tracer import getval

from .._core import lr_at, method
from .._hyper import FLAG, LR, NONNEGATIVE, POSITIVE, Hyperparams, OneOf, Real, hp
from .._types import Array, LearningRate
from ..oracle import FunctionOracle, as_flat

Variant = Literal["sps", "sps+"]


@dataclass(frozen=True, eq=False)
class PolyakSGDHyperparams(Hyperparams):
    """SGD with the Polyak step size (defaults: optax.polyak_sgd's)."""

    ALGORITHM: ClassVar[str] = "polyak_sgd"
    lr: float = hp(1.0, POSITIVE, "the cap gamma_max of the step size, (PS4) (optax max_learning_rate)")
    _: KW_ONLY
    scaling: LearningRate = hp(1.0, LR, "the factor s of (PS3)-(PS4), or a schedule t -> s_t")
    f_min: float = hp(0.0, Real(), "the guess f* of the minimum value, (PS2)")
    eps: float = hp(0.0, NONNEGATIVE, "added to the squared norm in (PS4)")
    variant: Variant = hp(
        "sps", OneOf(("sps", "sps+")), '(PS2): the gap f - f_min, or its positive part ("sps+")'
    )
    scale_inside: bool = hp(False, FLAG, "(PS3): the norm of s g (optax's code) rather than of g")
    zero_tol: float = hp(0.0, NONNEGATIVE, "(PS4): eta = 0 when ||u||^2 + eps <= zero_tol")


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class PolyakSGDState:
    """theta_t, the last step size eta_t and loss f_t, and the step count t."""

    params: Array
    eta: Any  # eta_t of (PS4) (0.0 before the first step)
    value: Any  # f_t of (PS1) (None before the first step)
    t: int


def init(params: Array) -> PolyakSGDState:
    """theta_0 = params, t = 0."""
    return PolyakSGDState(params=as_flat(params), eta=0.0, value=None, t=0)


def step(
    state: PolyakSGDState,
    oracle: FunctionOracle,
    *,
    lr: float = 1.0,
    scaling: LearningRate = 1.0,
    f_min: float = 0.0,
    eps: float = 0.0,
    variant: Variant = "sps",
    scale_inside: bool = False,
    zero_tol: float = 0.0,
) -> PolyakSGDState:
    """One step, eqs. (PS1)-(PS5) of specs/polyak_sgd.md."""
    if not isinstance(oracle, FunctionOracle):
        raise TypeError(f"polyak_sgd: step needs a FunctionOracle, got {type(oracle).__name__}")
    f, g = oracle.value_and_grad(state.params)  # (PS1)
    gap = f - f_min  # (PS2)
    if variant == "sps+":
        gap = anp.maximum(gap, 0.0)
    s = lr_at(scaling, state.t)
    u = s * g if scale_inside else g  # (PS3)
    denom = anp.dot(u, u) + eps
    eta: Any = 0.0
    if getval(denom) > zero_tol:
        eta = anp.minimum(gap / denom, lr)  # (PS4)
    if not scale_inside:
        eta = s * eta
    return PolyakSGDState(params=state.params - eta * u, eta=eta, value=f, t=state.t + 1)  # (PS5)


polyak_sgd = method(
    PolyakSGDHyperparams,
    init,
    step,
    "SGD with the Polyak step size min((f - f*)/(||g||^2 + eps), lr); step(state, oracle). See specs/polyak_sgd.md.",
)

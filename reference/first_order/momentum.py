r"""Heavy-ball momentum (Polyak 1964) in the three forms of the notes. Spec: specs/momentum.md, (M1)-(M3).

Update rule, for t = 1, 2, ... (t counts completed steps after this one), v_0 = 0:

    g_t     = g_t + lambda theta_{t-1}                   (M1)  coupled L2, if weight_decay > 0
    v_t     = beta v_{t-1} + (1 - d) g_t                 (M2)  form="polyak" (note 001; torch, optax)
    v_t     = beta v_{t-1} + (1 - beta) g_t                    form="ema"    (note 002 eq. 8)
    v_t     = beta v_{t-1} + (1 - d) eta_t g_t                 form="sutskever" (note 003)
    v_1     = g_1  (sutskever: eta_1 g_1)                      first_step="grad" (torch)
    theta_t = theta_{t-1} - eta_t v_t                    (M3)  forms "polyak", "ema"
    theta_t = theta_{t-1} - v_t                                form "sutskever"

Conventions (defaults are note 001's heavy ball with no dampening):
    * d is ``dampening`` (torch); form="ema" is polyak with d = beta and takes no dampening.
    * first_step="zeros" starts from v_0 = 0 (note 001, note 002, optax); first_step="grad" sets
      v_1 = g_1 undamped, as torch.optim.SGD does ("dampening is applied from the second step").
    * The learning rate sits outside the buffer in "polyak" and "ema" (torch, optax: a schedule
      scales the whole buffer by the current eta_t) and inside it in "sutskever" (each step's
      eta_t is baked into its own contribution). With a constant eta the forms "polyak" (d = 0)
      and "sutskever" give the same iterates, v_sutskever = eta v_polyak; under a schedule they
      differ.
    * eta_t is ``lr`` or ``lr(t - 1)`` for a schedule (t - 1 completed steps before this one).

References:
    Polyak, B. T. (1964). Some methods of speeding up the convergence of iteration methods.
        USSR Comput. Math. Math. Phys. 4(5), 1-17.
    Sutskever, I., Martens, J., Dahl, G. and Hinton, G. (2013). On the importance of
        initialization and momentum in deep learning. ICML.
    Note 001 ("Heavy Ball Method"), note 002 section 2.5 eqs. (8)-(9), note 003 ("Momentum"),
    note 004 ("Momentum").
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from typing import ClassVar, Literal

import autograd.numpy as anp

from .._core import lr_at, optimizer
from .._hyper import CLOSED_UNIT, LR, NONNEGATIVE, UNIT, Hyperparams, OneOf, hp, required
from .._types import Array, LearningRate
from ._fused import accumulate, descend

MomentumForm = Literal["polyak", "ema", "sutskever"]
FirstStep = Literal["zeros", "grad"]
FORMS: tuple[MomentumForm, ...] = ("polyak", "ema", "sutskever")
FIRST_STEPS: tuple[FirstStep, ...] = ("zeros", "grad")


@dataclass(frozen=True, eq=False)
class MomentumHyperparams(Hyperparams):
    """Heavy ball's hyperparameters (defaults: the notes' heavy ball, no dampening)."""

    ALGORITHM: ClassVar[str] = "momentum"
    lr: LearningRate = required(
        LR, "step size eta of (M3) (inside the buffer in form 'sutskever'), or a schedule t -> eta_t"
    )
    _: KW_ONLY
    beta: float = hp(0.9, UNIT, "momentum coefficient of (M2); beta = 0 is gradient descent")
    form: MomentumForm = hp(
        "polyak",
        OneOf(FORMS),
        '"polyak" v = beta v + (1 - d) g (torch, optax); '
        '"ema" v = beta v + (1 - beta) g; "sutskever" v = beta v + eta g, theta -= v',
    )
    dampening: float = hp(
        0.0,
        CLOSED_UNIT,
        "d of (M2), the new gradient's weight is 1 - d (torch); 0 with form='ema', which fixes d = beta",
    )
    first_step: FirstStep = hp(
        "zeros", OneOf(FIRST_STEPS), '"zeros": v_0 = 0; "grad": v_1 = g_1 undamped (torch.optim.SGD)'
    )
    weight_decay: float = hp(0.0, NONNEGATIVE, "coupled L2 coefficient lambda of (M1) (torch SGD's)")

    def validate(self) -> None:
        if self.form == "ema" and self.dampening != 0:
            raise ValueError(
                f"{self.ALGORITHM}: form='ema' fixes the dampening to beta; dampening must be 0 with "
                f"it, got {self.dampening!r} (use form='polyak', dampening=d for another weight)"
            )


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class MomentumState:
    """Heavy ball's state after ``t`` steps."""

    params: Array  # theta_t
    velocity: Array  # v_t (form "sutskever": already multiplied by the learning rates)
    t: int  # completed steps


def init(params: Array) -> MomentumState:
    """v_0 = 0, t = 0."""
    return MomentumState(params=params, velocity=anp.zeros_like(params), t=0)


def step(
    state: MomentumState,
    grad: Array,
    *,
    lr: LearningRate,
    beta: float,
    form: MomentumForm = "polyak",
    dampening: float = 0.0,
    first_step: FirstStep = "zeros",
    weight_decay: float = 0.0,
) -> MomentumState:
    """One heavy-ball step, eqs. (M1)-(M3) of specs/momentum.md."""
    theta = state.params
    eta = lr_at(lr, state.t)
    g = grad + weight_decay * theta if weight_decay else grad  # (M1)
    d = beta if form == "ema" else dampening
    new = eta * g if form == "sutskever" else g  # what this step adds to the buffer, undamped
    if first_step == "grad" and state.t == 0:
        v = anp.array(new)  # (M2)  torch: v_1 = g_1, no dampening; a copy: the state never aliases grad
    else:
        v = accumulate(state.velocity, (1 - d) * new if d else new, beta)  # (M2)  beta v + (1 - d) g
    if form == "sutskever":
        theta = theta - v  # (M3)
    else:
        theta = descend(theta, eta, v)  # (M3)  theta - eta v, fused: see _fused.py
    return MomentumState(params=theta, velocity=v, t=state.t + 1)


momentum = optimizer(
    MomentumHyperparams, init, step, "Heavy-ball momentum; see the module docstring and specs/momentum.md."
)

r"""Levenberg-Marquardt: Gauss-Newton with adaptive damping by the gain ratio. Spec:
specs/levenberg_marquardt.md, eqs. (LM1)-(LM5).

    g = grad L(theta),  G = s sum_i J_i^T H_i J_i + l2 I   (as gauss_newton (GN1)-(GN2))     (LM1)
    (G + mu I) delta = -g                                                                     (LM2)
    rho = (L(theta) - L(theta + delta)) / (L(theta) - q(delta)),
          L(theta) - q(delta) = -g^T delta - (1/2) delta^T G delta                              (LM3)
    theta_t = theta + delta if rho > 0, else theta_t = theta (rejected)                       (LM4)
    "nielsen":   rho > 0: mu <- mu max(1/3, 1 - (2 rho - 1)^3), nu <- 2;  else mu <- nu mu, nu <- 2 nu
    "marquardt": rho < 1/4: mu <- 2 mu;  rho > 3/4: mu <- mu / 3                              (LM5)
    mu <- min(mu, mu_max); a rejection that reaches mu_max leaves nu unchanged                 (LM6)

Input of ``step``: the problem (``reference.model_oracle.OutputModel``): the method evaluates the
GN record at ``state.params`` and L at the trial point. One step is one trial: a rejected trial
leaves the iterate where it is and raises the damping.

Conventions:
    * The gain ratio's denominator is the decrease predicted by the *undamped* GN model q
      (Madsen, Nielsen & Tingleff 2004, section 3.2, write it as (1/2) delta^T (mu delta - g),
      the same number up to rounding when delta solves (LM2)).
    * mu starts at ``damping`` (absolute), not at tau max diag(G) (MNT section 3.2); pass
      ``damping = tau * max(diag(G))`` to reproduce that.
    * At a minimum reached to rounding every trial is rejected (the actual decrease is 0), and
      Nielsen's rule would grow mu without bound (nu doubles each time: inf after ~50 trials,
      then NaN trials). mu is capped at ``mu_max`` (LM6): there delta ~ -g / mu_max, the trial
      leaves theta where it is and the state stays finite; the caller stops on ||g|| (MNT's
      stopping rules), the step does not. A zero predicted decrease (g = 0, so delta = 0) gives
      rho = 0, a rejection, rather than 0/0.
    * Differentiable by autograd (with respect to theta_0 and mu_0) for fixed decisions: the
      acceptance rho > 0, Nielsen's max(1/3, .) and Marquardt's thresholds are decided on unboxed
      values; the accepted step, the gain ratio rho and the next mu (a smooth function of rho
      under Nielsen's rule) are traced.

References:
    Levenberg, K. (1944). A method for the solution of certain non-linear problems in least squares.
    Marquardt, D. W. (1963). An algorithm for least-squares estimation of nonlinear parameters.
    Nielsen, H. B. (1999). Damping parameter in Marquardt's method. IMM-REP-1999-05, DTU.
    Madsen, K., Nielsen, H. B. and Tingleff, O. (2004). Methods for Non-Linear Least Squares
    Problems, 2nd ed., section 2.4 (both damping rules: Marquardt's thresholds 1/4, 3/4 with
    factors 2 and 1/3, and Nielsen's) and section 3.2 (the Levenberg-Marquardt algorithm).
    Note 000 ("The Appeal of Gauss-Newton Methods": trust region and damping).
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from typing import Any, ClassVar, Literal

import autograd.numpy as anp
from autograd.tracer import getval

from .._core import method
from .._hyper import POSITIVE, Hyperparams, OneOf, hp
from .._types import Array
from .model_oracle import ACTIVATIONS, OutputModel, evaluate, gn_matrix, loss_at, quadratic_model_decrease

DampingUpdate = Literal["nielsen", "marquardt"]


@dataclass(frozen=True, eq=False)
class LevenbergMarquardtHyperparams(Hyperparams):
    """Levenberg-Marquardt's hyperparameters (damping absolute, Nielsen's rule by default)."""

    ALGORITHM: ClassVar[str] = "levenberg_marquardt"
    damping: float = hp(1e-3, POSITIVE, "initial damping mu_0 of (LM2), absolute")
    _: KW_ONLY
    update: DampingUpdate = hp(
        "nielsen",
        OneOf(("nielsen", "marquardt")),
        '"nielsen" (Nielsen 1999) or "marquardt" (thresholds 1/4, 3/4) in (LM5)',
    )
    mu_max: float = hp(
        1e32,
        POSITIVE,
        "cap of the damping mu (LM6); at the cap the trial is about the gradient step -g / mu_max",
    )
    activation: str | None = hp(
        None,
        OneOf((None, *ACTIVATIONS)),
        "None, or a dense MLP's hidden activation (the Jacobian path of gauss_newton)",
    )

    def validate(self) -> None:
        if getval(self.damping) > self.mu_max:
            raise ValueError(
                f"{self.ALGORITHM}: damping must be <= mu_max = {self.mu_max!r}, got {self.damping!r}"
            )


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class LevenbergMarquardtState:
    """Levenberg-Marquardt's state after ``t`` trials."""

    params: Array  # theta_t
    damping: Any  # mu for the next trial, <= mu_max
    nu: float  # Nielsen's growth factor for the next rejection (2 after an acceptance)
    rho: float  # gain ratio of the last trial (nan before any)
    accepted: bool  # whether the last trial was accepted
    loss: Any  # L(theta_t) when known (nan before the first trial)
    t: int  # completed trials


def init(params: Array, *, damping: float) -> LevenbergMarquardtState:
    """theta_0 = params, mu_0 = ``damping``, nu_0 = 2."""
    nan = float("nan")
    return LevenbergMarquardtState(
        params=params, damping=damping, nu=2.0, rho=nan, accepted=False, loss=nan, t=0
    )


def step(
    state: LevenbergMarquardtState,
    model: OutputModel,
    *,
    update: DampingUpdate = "nielsen",
    mu_max: float = 1e32,
    activation: str | None = None,
) -> LevenbergMarquardtState:
    """One Levenberg-Marquardt trial, eqs. (LM1)-(LM6) of specs/levenberg_marquardt.md."""
    theta = state.params
    rec = evaluate(model, theta, jacobians=True, activation=activation, who="levenberg_marquardt")
    G = gn_matrix(rec)  # (LM1)
    p = anp.shape(theta)[0]
    delta = anp.linalg.solve(G + state.damping * anp.eye(p), -rec.grad)  # (LM2)
    trial_loss = loss_at(model, theta + delta)
    predicted = quadratic_model_decrease(rec, anp.dot(G, delta), delta)
    rho = (rec.loss - trial_loss) / predicted if getval(predicted) > 0 else 0.0  # (LM3)
    accepted = float(getval(rho)) > 0  # the decisions are taken on the unboxed value
    theta_new = theta + delta if accepted else theta  # (LM4)
    mu, nu = next_damping(state.damping, state.nu, rho, update=update, mu_max=mu_max)  # (LM5)
    return LevenbergMarquardtState(
        params=theta_new,
        damping=mu,
        nu=nu,
        rho=rho,
        accepted=accepted,
        loss=trial_loss if accepted else rec.loss,
        t=state.t + 1,
    )


def next_damping(mu: Any, nu: float, rho: Any, *, update: DampingUpdate, mu_max: float) -> tuple[Any, float]:
    """(mu, nu) for the next trial after one with gain ratio ``rho`` (rho > 0: accepted), (LM5)-(LM6)."""
    r = float(getval(rho))
    nu_next = nu
    if update == "nielsen":
        if r > 0:
            shrink = 1.0 - (2.0 * rho - 1.0) ** 3  # mu <- mu max(1/3, shrink)
            mu, nu_next = mu * (shrink if getval(shrink) > 1.0 / 3.0 else 1.0 / 3.0), 2.0  # (LM5)
        else:
            mu, nu_next = mu * nu, 2.0 * nu
    elif r < 0.25:
        mu = 2.0 * mu  # (LM5)
    elif r > 0.75:
        mu = mu / 3.0
    if getval(mu) > mu_max:
        mu = mu_max  # (LM6)
        nu_next = nu_next if r > 0 else nu  # a capped rejection does not double nu
    return mu, nu_next


levenberg_marquardt = method(
    LevenbergMarquardtHyperparams,
    init,
    step,
    "Levenberg-Marquardt; ``opt.step(state, problem)``; see the module docstring and "
    "specs/levenberg_marquardt.md.",
)

r"""K-FAC: Kronecker-factored approximate curvature for dense MLPs (Martens & Grosse 2015).
Spec: specs/kfac.md, eqs. (KF1)-(KF5).

Layer l of the network: s_l = Wbar_l abar_{l-1}, a_l = phi(s_l), with Wbar_l = [W_l b_l]
(out x (in+1)) and the homogeneous input abar = [a; 1] (the bias is the last column).

    forward: abar_{l-1,i};  backward: delta_{l,i} = d l(o_i, yhat_i) / d s_l with yhat_i drawn from
    the model (``targets="sampled"``), each class weighted by p(c|o_i) (``"exact"``) or the
    observed y_i (``"empirical"``);  grad_l = s sum_i delta^obs_{l,i} abar_{l-1,i}^T + l2 Wbar_l     (KF1)
    Ahat_l = (1/n) sum_i abar_{l-1,i} abar_{l-1,i}^T,   Shat_l = s sum_i delta_{l,i} delta_{l,i}^T     (KF2)
    A_l = eps_t A_l + (1 - eps_t) Ahat_l,  S_l likewise,  eps_t = min(1 - 1/t, decay)               (KF3)
    every ``inverse_every`` steps (and at t = 1): pi_l = sqrt((tr A_l / (in+1)) / (tr S_l / out)),
        Ainv_l = (A_l + pi_l sqrt(gamma) I)^{-1},  Sinv_l = (S_l + sqrt(gamma) / pi_l I)^{-1}       (KF4)
    Wbar_l <- Wbar_l - eta_t Sinv_l grad_l Ainv_l                                                  (KF5)

so F_l ~ S_l (x) A_l in the row-major vec of Wbar_l (A (x) S in the column-major vec of the paper),
and (S (x) A)^{-1} vec(grad) = vec(Sinv grad Ainv). gamma = ``damping``.

Input of ``step``: the problem, a dense-MLP "model + per-sample loss" problem whose
``unflatten(params)`` returns (W1, b1, W2, b2, ...) row-major in that order and whose ``predict``
is the dense forward with the factory's ``activation`` (both checked every step). Random targets
come from ``numpy.random.default_rng([seed, t])``: the step is a pure function of its inputs.

Conventions:
    * default targets "sampled" (Martens & Grosse section 5: one y per case from the model's
      predictive distribution, an unbiased estimate of the true Fisher). "exact" replaces the
      sample by the expectation over the C classes (C backward passes), "empirical" uses the
      data labels (the empirical Fisher; Kunstner et al. 2019 warn against it).
    * factored Tikhonov damping with the trace-norm pi (M&G section 6.3); no adaptive gamma, no
      momentum and no quadratic-model rescaling of the step (M&G sections 6.4-7), a fixed eta.
    * categorical predictive distribution p(c|o) = exp(-l(o, c)) read off the loss (as in
      natural_gradient), checked to be normalised.
    * Differentiable by autograd (with respect to theta_0, eta and gamma). With "sampled" targets
      the drawn classes yhat_i are piecewise constant in theta (they jump where a cumulative
      probability crosses the uniform u_i): autograd differentiates the map for the samples
      drawn, which is the derivative wherever no draw is at a jump. The refresh schedule (KF4)
      and the averaging weights (KF3) depend on t only. "exact" weights each class by the
      traced p(c|o_i).

References:
    Martens, J. and Grosse, R. (2015). Optimizing neural networks with Kronecker-factored
    approximate curvature. ICML. Sections 3 (A and G factors, with homogeneous coordinates),
    5 (estimation: sampled targets, exponentially decaying averages eps = min(1 - 1/k, 0.95)),
    6.3 (factored Tikhonov damping with pi).
    Note 001, "K-FAC: Kronecker-Factored Approximation"; note 000 (outlook).
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from typing import Any, ClassVar, Literal

import autograd.numpy as anp
import numpy as np
from autograd.tracer import getval

from .._core import lr_at, method
from .._hyper import LR, POSITIVE, SEED, UNIT, Hyperparams, Integer, OneOf, hp
from .._types import Array, LearningRate
from ..problems import pack, reduction_scale
from .model_oracle import (
    ACTIVATIONS,
    OutputModel,
    check_dense_model,
    check_model,
    check_point,
    dense_deltas,
    dense_forward,
    dense_layers,
)

Targets = Literal["sampled", "exact", "empirical"]


@dataclass(frozen=True, eq=False)
class KfacHyperparams(Hyperparams):
    """K-FAC's hyperparameters (fixed damping and step size; Martens & Grosse's estimation)."""

    ALGORITHM: ClassVar[str] = "kfac"
    lr: LearningRate = hp(1.0, LR, "step size eta of (KF5), or a schedule t -> eta_t")
    _: KW_ONLY
    damping: float = hp(1e-3, POSITIVE, "gamma of the factored Tikhonov damping (KF4)")
    activation: str = hp("relu", OneOf(ACTIVATIONS), "the hidden activation phi of the problem's dense MLP")
    targets: Targets = hp(
        "sampled",
        OneOf(("sampled", "exact", "empirical")),
        'the targets of the backward pass of (KF1) for S: "sampled" from the model (M&G), '
        '"exact" expectation over the classes, "empirical" observed labels',
    )
    decay: float = hp(
        0.95, UNIT, "cap of the factor-averaging coefficient eps_t = min(1 - 1/t, decay), (KF3)"
    )
    inverse_every: int = hp(
        1, Integer(ge=1), "the damped inverses (KF4) are recomputed at steps 1, 1 + k, ..."
    )
    seed: int = hp(0, SEED, "seed of the sampled targets: step t draws from default_rng([seed, t])")


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class KfacState:
    """K-FAC's state after ``t`` steps: the factors, their damped inverses and the iterate."""

    params: Array  # theta_t
    A: tuple[Array, ...]  # per layer, (in+1, in+1) activation factor E[abar abar^T]
    S: tuple[Array, ...]  # per layer, (out, out) backpropagated-derivative factor E[delta delta^T]
    A_inv: tuple[Array, ...]  # per layer, (A + pi sqrt(gamma) I)^{-1} from the last refresh
    S_inv: tuple[Array, ...]  # per layer, (S + sqrt(gamma)/pi I)^{-1} from the last refresh
    loss: Any  # L(theta_{t-1}) (nan before any step)
    t: int  # completed steps


def init(params: Array) -> KfacState:
    """theta_0 = params; the factors are created at the first step (their sizes come from the problem)."""
    return KfacState(params=params, A=(), S=(), A_inv=(), S_inv=(), loss=float("nan"), t=0)


def _homogeneous(a: Any) -> Any:
    return anp.concatenate([a, anp.ones((anp.shape(a)[0], 1))], axis=1)


def factors(
    model: OutputModel,
    params: Any,
    *,
    activation: str,
    targets: Targets,
    rng: np.random.Generator | None,
    who: str = "kfac",
) -> tuple[list[Any], list[Any], list[Any], Any]:
    """(Ahat_l, Shat_l, grad_l (Wbar layout), L) of (KF1)-(KF2) at ``params``."""
    layers = dense_layers(who, model, params)
    outputs, inputs = check_dense_model(who, model, params, activation, layers)  # reused below
    s = reduction_scale(model)
    l2 = float(model.l2)
    n = int(model.X.shape[0])
    obs = dense_deltas(model, layers, activation, lambda O: _data_total(model, O, model.y))
    abar = [_homogeneous(a) for a in inputs]
    grads = []
    for (W, b), d, ab in zip(layers, obs, abar):
        g = s * anp.dot(d.T, ab)  # (KF1)  grad_l = s sum_i delta^obs abar^T (+ l2 Wbar_l)
        grads.append(g + l2 * anp.concatenate([W, b[:, None]], axis=1) if l2 else g)
    A_hat = [anp.dot(ab.T, ab) / n for ab in abar]  # (KF2)
    if targets == "empirical":
        S_hat = [s * anp.dot(d.T, d) for d in obs]  # (KF2)  observed labels
    else:
        S_hat = model_S_factors(model, layers, activation, targets=targets, rng=rng, who=who)
    loss = s * _data_total(model, outputs, model.y) + (0.5 * l2 * anp.sum(params * params) if l2 else 0.0)
    return A_hat, S_hat, grads, loss


def _data_total(model: OutputModel, outputs: Any, y: Any) -> Any:
    """sum_i l(o_i, y_i), data part only."""
    return anp.sum(model.losses_from_outputs(outputs, y))


def model_S_factors(
    model: OutputModel,
    layers: list[tuple[Any, Any]],
    activation: str,
    *,
    targets: Targets,
    rng: np.random.Generator | None,
    who: str = "kfac",
) -> list[Any]:
    """Shat_l = s sum_i delta_{l,i} delta_{l,i}^T of (KF2) with targets from the model's distribution:
    one class yhat_i ~ p(.|o_i) drawn per sample ("sampled"), or every class weighted by p(c|o_i) ("exact")."""
    s = reduction_scale(model)
    n = int(model.X.shape[0])
    probs = class_probabilities(model, layers, activation, targets=targets, who=who)  # (n, C)
    C = int(anp.shape(probs)[1])
    if targets == "sampled":
        if rng is None:
            raise ValueError(f"{who}: targets='sampled' needs rng, a numpy.random.Generator")
        u = rng.random(n)  # the draw is a decision: made on the unboxed probabilities
        yhat = np.minimum((np.cumsum(getval(probs), axis=1) < u[:, None]).sum(axis=1), C - 1).astype(
            np.float64
        )
        dl = dense_deltas(model, layers, activation, lambda O: _data_total(model, O, yhat))
        return [s * anp.dot(d.T, d) for d in dl]  # (KF2)  sampled targets
    S_hat = [anp.zeros((anp.shape(W)[0], anp.shape(W)[0])) for W, _ in layers]
    for c in range(C):
        yc = np.full(n, float(c))
        dl = dense_deltas(model, layers, activation, lambda O: _data_total(model, O, yc))
        w = anp.sqrt(probs[:, c])[:, None]
        S_hat = [Sh + s * anp.dot((w * d).T, w * d) for Sh, d in zip(S_hat, dl)]  # (KF2)  exact expectation
    return S_hat


def class_probabilities(
    model: OutputModel, layers: list[tuple[Any, Any]], activation: str, *, targets: Targets, who: str = "kfac"
) -> Any:
    """(n, C) p(c | o_i) = exp(-l(o_i, c)), C = m (or 2 for one logit); ValueError unless they sum to 1."""
    # a forward pass of its own: sharing the check's would change the order in which autograd
    # sums the loss's and the probabilities' cotangents (derivatives equal only to rounding)
    outputs, _ = dense_forward(layers, model.X, activation)
    n, m = int(anp.shape(outputs)[0]), int(anp.shape(outputs)[1])
    C = m if m >= 2 else 2
    logp = anp.stack([-model.losses_from_outputs(outputs, np.full(n, float(c))) for c in range(C)], axis=1)
    probs = anp.exp(logp)
    dev = float(np.max(np.abs(np.sum(getval(probs), axis=1) - 1.0)))
    if dev > 1e-8:
        raise ValueError(
            f"{who}: targets={targets!r} reads p(c|o) = exp(-l(o, c)); these sum to 1 +- {dev:.3g}, "
            "so the loss is not a normalised categorical NLL (use targets='empirical')"
        )
    return probs


def step(
    state: KfacState,
    model: OutputModel,
    *,
    lr: LearningRate,
    damping: float,
    activation: str,
    targets: Targets = "sampled",
    decay: float = 0.95,
    inverse_every: int = 1,
    seed: int = 0,
) -> KfacState:
    """One K-FAC step, eqs. (KF1)-(KF5) of specs/kfac.md."""
    model = check_model("kfac", model)
    theta = check_point("kfac", model, state.params)
    t = state.t + 1
    eta = lr_at(lr, state.t)
    rng = np.random.default_rng([seed, t]) if targets == "sampled" else None
    A_hat, S_hat, grads, loss = factors(model, theta, activation=activation, targets=targets, rng=rng)
    if state.t == 0:
        A, S = A_hat, S_hat
    else:
        eps = min(1.0 - 1.0 / t, decay)
        A = [eps * Ao + (1 - eps) * Ah for Ao, Ah in zip(state.A, A_hat)]  # (KF3)
        S = [eps * So + (1 - eps) * Sh for So, Sh in zip(state.S, S_hat)]  # (KF3)
    if state.t == 0 or state.t % inverse_every == 0:
        inv = [damped_inverses(Al, Sl, damping) for Al, Sl in zip(A, S)]  # (KF4)  at t = 1, 1 + k, ...
        A_inv, S_inv = [x[0] for x in inv], [x[1] for x in inv]
    else:
        A_inv, S_inv = list(state.A_inv), list(state.S_inv)
    U = [anp.dot(Si, anp.dot(g, Ai)) for g, Ai, Si in zip(grads, A_inv, S_inv)]  # S^-1 grad A^-1, Wbar layout
    theta = theta - eta * pack([part for Ul in U for part in (Ul[:, :-1], Ul[:, -1])])  # (KF5)  W_l, b_l
    return KfacState(
        params=theta, A=tuple(A), S=tuple(S), A_inv=tuple(A_inv), S_inv=tuple(S_inv), loss=loss, t=t
    )


def damped_inverses(A: Any, S: Any, damping: float) -> tuple[Any, Any]:
    """(KF4): the factored-Tikhonov inverses with pi = sqrt((tr A / dim A) / (tr S / dim S))."""
    dA, dS = anp.shape(A)[0], anp.shape(S)[0]
    trA, trS = anp.trace(A) / dA, anp.trace(S) / dS
    pi = anp.sqrt(trA / trS) if float(getval(trS)) > 0 and float(getval(trA)) > 0 else 1.0  # (KF4)
    r = anp.sqrt(damping)
    return anp.linalg.inv(A + pi * r * anp.eye(dA)), anp.linalg.inv(S + (r / pi) * anp.eye(dS))  # (KF4)


kfac = method(
    KfacHyperparams,
    init,
    step,
    "K-FAC for a dense-MLP problem; ``opt.step(state, problem)``; see the module docstring and "
    "specs/kfac.md.",
)

r"""Natural gradient descent with the (true or empirical) Fisher matrix, damped. Spec:
specs/natural_gradient.md, eqs. (NG1)-(NG4).

    o_i = F(theta; x_i), J_i = d o_i / d theta, g = grad L(theta)                              (NG1)
    true:      F = s sum_i J_i^T Phi_i J_i + l2 I,  Phi_i = E_{y ~ p(.|o_i)} [u u^T],
               u = grad_o l(o_i, y) = -grad_o log p(y | o_i)
    empirical: F = s sum_i g_i g_i^T + l2 I,        g_i = J_i^T grad_o l(o_i, y_i)             (NG2)
    (F + lambda I) delta = -g                                                                  (NG3)
    theta_t = theta_{t-1} + eta_t delta                                                        (NG4)

The model's predictive distribution is read off the problem's own loss, which is a negative
log-likelihood l(o, y) = -log p(y | o):

    likelihood="categorical": p(c | o) = exp(-l(o, c)) for the classes c = 0..C-1 (C = m, or 2 for
        one logit); the expectation in Phi_i is the finite sum over c, each u_c by autograd. The
        probabilities must sum to 1 (checked), i.e. the loss must be a normalised NLL. For softmax
        cross-entropy Phi_i = diag(p_i) - p_i p_i^T and the true Fisher equals the GN matrix.
    likelihood="gaussian": l(o, y) = a ||o - y||^2 + const is the NLL of N(o, (2a)^{-1} I), whose
        Fisher in o is 2a I = H_i (autograd's output Hessian, checked to be the same 2a I for
        every sample). The true Fisher is then the GN matrix of least squares.

Input of ``step``: the problem (``reference.model_oracle.OutputModel``).

References:
    Amari, S. (1998). Natural gradient works efficiently in learning. Neural Computation 10(2).
    Martens, J. (2020). New insights and perspectives on the natural gradient method. JMLR 21
    (true vs empirical Fisher; Fisher = generalized Gauss-Newton for exponential families).
    Kunstner, F., Balles, L. and Hennig, P. (2019). Limitations of the empirical Fisher
    approximation for natural gradient descent. NeurIPS.
    Note 001, "Natural Gradient Descent" and "Preconditioning".
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from typing import Any, ClassVar, Literal

import autograd.numpy as anp
import numpy as np
from autograd import grad as ag_grad
from autograd.tracer import getval

from .._core import lr_at, method
from .._hyper import LR, NONNEGATIVE, Hyperparams, OneOf, hp
from .._types import Array, LearningRate
from .model_oracle import ACTIVATIONS, ModelRecord, OutputModel, evaluate

FisherKind = Literal["true", "empirical"]
Likelihood = Literal["categorical", "gaussian"]


@dataclass(frozen=True, eq=False)
class NaturalGradientHyperparams(Hyperparams):
    """Natural gradient's hyperparameters (defaults: the true Fisher of a categorical model)."""

    ALGORITHM: ClassVar[str] = "natural_gradient"
    lr: LearningRate = hp(1.0, LR, "step size eta of (NG4), or a schedule t -> eta_t")
    _: KW_ONLY
    damping: float = hp(1e-4, NONNEGATIVE, "lambda of (NG3); 0 needs F nonsingular")
    fisher: FisherKind = hp(
        "true",
        OneOf(("true", "empirical")),
        '"true": expectation over the model\'s predictive distribution; "empirical": '
        "outer products of the per-sample gradients at the observed targets, (NG2)",
    )
    likelihood: Likelihood = hp(
        "categorical",
        OneOf(("categorical", "gaussian")),
        "the model's predictive distribution (read by the true Fisher only), (NG2)",
    )
    activation: str | None = hp(
        None,
        OneOf((None, *ACTIVATIONS)),
        "None, or a dense MLP's hidden activation (the Jacobian path of gauss_newton)",
    )


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class NaturalGradientState:
    """Natural gradient's state after ``t`` steps."""

    params: Array  # theta_t
    loss: Any  # L(theta_{t-1}) (nan before any step)
    t: int  # completed steps


def init(params: Array) -> NaturalGradientState:
    """theta_0 = params, t = 0."""
    return NaturalGradientState(params=params, loss=float("nan"), t=0)


def output_fisher(model: OutputModel, outputs: Any, likelihood: Likelihood, out_hess: Any) -> Any:
    """(n, m, m) Phi_i = E_{y ~ p(.|o_i)}[grad_o l(o_i, y) grad_o l(o_i, y)^T] (see module docstring)."""
    n, m = anp.shape(outputs)
    if likelihood == "gaussian":
        H = np.asarray(getval(out_hess))
        a2 = H[0, 0, 0]
        if not (a2 > 0 and np.allclose(H, a2 * np.eye(m)[None], rtol=1e-10, atol=1e-12 * abs(a2))):
            raise ValueError(
                "natural_gradient: likelihood='gaussian' needs a loss a||o - y||^2 + const, whose "
                "output Hessian is the same 2a I for every sample; this problem's is not"
            )
        return out_hess
    classes = m if m >= 2 else 2
    total = anp.zeros((n, m, m))
    psum = anp.zeros(n)
    for c in range(classes):
        yc = np.full(n, float(c))
        lc = model.losses_from_outputs(outputs, yc)
        uc = ag_grad(lambda O: anp.sum(model.losses_from_outputs(O, yc)))(outputs)  # (n, m)
        pc = anp.exp(-lc)
        psum = psum + pc
        total = total + pc[:, None, None] * uc[:, :, None] * uc[:, None, :]
    dev = float(np.max(np.abs(np.asarray(getval(psum)) - 1.0)))
    if dev > 1e-8:
        raise ValueError(
            "natural_gradient: likelihood='categorical' reads p(c|o) = exp(-l(o, c)) for "
            f"c = 0..{classes - 1}; these sum to 1 +- {dev:.3g} here, so the loss is not a "
            "normalised categorical negative log-likelihood"
        )
    return total


def fisher_matrix(model: OutputModel, rec: ModelRecord, *, fisher: FisherKind, likelihood: Likelihood) -> Any:
    """F of (NG2), dense (p, p), including the regulariser's l2 I."""
    if rec.jac is None:
        raise ValueError("fisher_matrix: the record has no Jacobians; evaluate(..., jacobians=True)")
    J = rec.jac
    n, m, p = anp.shape(J)
    if fisher == "true":
        Phi = output_fisher(model, rec.outputs, likelihood, rec.out_hess)
        PJ = anp.einsum("nkl,nlq->nkq", Phi, J)
        F = rec.scale * anp.dot(anp.reshape(J, (n * m, p)).T, anp.reshape(PJ, (n * m, p)))
        F = 0.5 * (F + F.T)
    else:
        gi = anp.einsum("nkp,nk->np", J, rec.out_grad)  # per-sample data gradients
        F = rec.scale * anp.dot(gi.T, gi)
    return F + rec.l2 * anp.eye(p) if rec.l2 else F


def step(
    state: NaturalGradientState,
    model: OutputModel,
    *,
    lr: LearningRate,
    damping: float,
    fisher: FisherKind = "true",
    likelihood: Likelihood = "categorical",
    activation: str | None = None,
) -> NaturalGradientState:
    """One natural-gradient step, eqs. (NG1)-(NG4) of specs/natural_gradient.md."""
    theta = state.params
    eta = lr_at(lr, state.t)
    rec = evaluate(model, theta, jacobians=True, activation=activation, who="natural_gradient")  # (NG1)
    F = fisher_matrix(model, rec, fisher=fisher, likelihood=likelihood)  # (NG2)
    p = anp.shape(theta)[0]
    delta = anp.linalg.solve(F + damping * anp.eye(p), -rec.grad)  # (NG3)
    theta = theta + eta * delta  # (NG4)
    return NaturalGradientState(params=theta, loss=rec.loss, t=state.t + 1)


natural_gradient = method(
    NaturalGradientHyperparams,
    init,
    step,
    "Natural gradient; ``opt.step(state, problem)``; see the module docstring and specs/natural_gradient.md.",
)

r"""The curvature record of a "model + per-sample loss" problem, by autograd.

Seed 000 ("Gauss-Newton Derivation for General Convex Loss") writes a finite-sum objective as a
network F(theta; x) followed by a loss on its outputs:

    L(theta) = s sum_i l(o_i, y_i) + (l2 / 2) ||theta||^2,    o_i = F(theta; x_i) in R^m,
    s = 1/N ("mean") or 1 ("sum").

At a point theta this module computes, with autograd only:

    outputs  o_i                         (n, m)     one forward pass
    out_grad d l(o_i, y_i) / d o_i       (n, m)     one backward pass in the outputs
    out_hess H_i = d^2 l / d o_i^2       (n, m, m)  m backward passes in the outputs (all i at once:
                                                    l_i depends on o_i only, so row i of
                                                    d/dO sum_i [d l_i/d o_i]_k is H_i[k, :])
    jac      J_i = d o_i / d theta       (n, m, p)  m backward passes through replicated parameters:
                                                    d/dTheta sum_i F(Theta_i; x_i)_k at Theta_i = theta
                                                    has row i = J_i[k, :] (``predict_rowwise``)
    grad     s sum_i J_i^T out_grad_i + l2 theta   (the chain rule; equals autograd's grad L)

and the two curvature matrices that the seeds name:

    G = s sum_i J_i^T H_i J_i + l2 I                 Gauss-Newton (seed 000, "as dense linear algebra")
    G v = s J^T (H (J v)) + l2 v                     matrix-free: one forward-mode JVP, the m x m
                                                     products, one reverse-mode VJP (Hessian-free)

Never a loop over samples: every pass above treats the n samples as one batch. Differentiating
``sum_i e_k^T F(theta; x_i)`` with respect to the *shared* theta would give sum_i J_i[k], not the
per-sample rows; the replicated-parameters trick is what keeps the rows apart.

What a problem must offer (``OutputModel``; ``reference.problems`` finite-sum problems do): ``X``,
``y``, ``output_dim``, ``dim``, ``reduction``, ``l2``, ``predict(params, X) -> (n, m)``,
``predict_rowwise(Thetas, X) -> (n, m)`` (row i uses parameter row i) and
``losses_from_outputs(outputs, y) -> (n,)``; ``loss(params)`` for line searches.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import autograd.numpy as anp
import numpy as np
from autograd import grad as ag_grad
from autograd import make_jvp
from autograd.tracer import isbox
from numpy.typing import NDArray

from ._types import Array

REQUIRED = (
    "X", "y", "output_dim", "dim", "reduction", "l2",
    "predict", "predict_rowwise", "losses_from_outputs", "loss",
)  # fmt: skip


@runtime_checkable
class OutputModel(Protocol):
    """A finite-sum problem written as model outputs followed by a per-sample loss."""

    @property
    def X(self) -> Array: ...

    @property
    def y(self) -> NDArray[Any]: ...

    @property
    def output_dim(self) -> int: ...

    @property
    def dim(self) -> int: ...

    @property
    def reduction(self) -> str: ...

    @property
    def l2(self) -> float: ...

    def predict(self, params: Array, X: Array) -> Array: ...

    def predict_rowwise(self, thetas: Array, X: Array) -> Array: ...

    def losses_from_outputs(self, outputs: Array, y: NDArray[Any]) -> Array: ...

    def loss(self, params: Array) -> Any: ...


def check_model(who: str, model: object) -> OutputModel:
    """``model`` must offer every attribute of ``OutputModel``; TypeError names the missing ones."""
    missing = [a for a in REQUIRED if not hasattr(model, a)]
    if missing:
        raise TypeError(
            f"{who}: the input must be a model + per-sample-loss problem (reference.problems); "
            f"{type(model).__name__} lacks {', '.join(missing)}"
        )
    return model  # type: ignore[return-value]


def check_point(who: str, model: OutputModel, params: Any) -> Any:
    """``params`` must be a finite flat vector of length ``model.dim`` (autograd boxes pass)."""
    if isbox(params):
        if anp.shape(params) != (model.dim,):
            raise ValueError(f"{who}: params has shape {anp.shape(params)}, the problem needs ({model.dim},)")
        return params
    arr = np.asarray(params, dtype=np.float64)
    if arr.shape != (model.dim,):
        raise ValueError(f"{who}: params has shape {arr.shape}, the problem needs ({model.dim},)")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{who}: params must be finite")
    return arr


def check_count(algo: str, name: str, value: object, *, minimum: int) -> None:
    """``value`` must be an integer >= ``minimum`` (bools rejected); ValueError otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{algo}: {name} must be an integer >= {minimum}, got {value!r}")


def reduction_scale(model: OutputModel) -> float:
    """s in L = s sum_i l_i: 1/N for "mean", 1 for "sum"."""
    if model.reduction == "mean":
        return 1.0 / int(model.X.shape[0])
    if model.reduction == "sum":
        return 1.0
    raise ValueError(f"reduction must be 'mean' or 'sum', got {model.reduction!r}")


# ----------------------------------------------------------------------------------------------
# Derivatives in the outputs and in the parameters


def output_derivatives(model: OutputModel, outputs: Any) -> tuple[Any, Any]:
    """(out_grad (n, m), out_hess (n, m, m)): d l_i / d o_i and d^2 l_i / d o_i^2 by autograd.

    One backward pass for the gradient and m for the Hessian, each over all samples at once.
    """
    y = model.y

    def total(O: Any) -> Any:
        return anp.sum(model.losses_from_outputs(O, y))

    dtotal = ag_grad(total)
    out_grad = dtotal(outputs)
    m = int(anp.shape(outputs)[1])
    rows = [ag_grad(lambda O, k=k: anp.sum(dtotal(O)[:, k]))(outputs) for k in range(m)]
    out_hess = anp.stack(rows, axis=1)  # out_hess[i, k, :] = d/do_i (d l_i / d o_ik)
    return out_grad, out_hess


def per_sample_jacobians(model: OutputModel, params: Any, X: Array | None = None) -> Any:
    """(n, m, p): J_i = d F(theta; x_i) / d theta, m backward passes via replicated parameters."""
    Xb = model.X if X is None else X
    n = int(Xb.shape[0])
    thetas = anp.tile(params, (n, 1)) if isbox(params) else np.tile(params, (n, 1))
    m = int(model.output_dim)
    rows = [
        ag_grad(lambda T, k=k: anp.sum(model.predict_rowwise(T, Xb)[:, k]))(thetas)
        for k in range(m)
    ]
    return anp.stack(rows, axis=1)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class ModelRecord:
    """Everything the curvature methods read at one point theta (shapes in the comments)."""

    params: Array  # (p,) theta
    outputs: Array  # (n, m) o_i = F(theta; x_i)
    losses: Array  # (n,) l(o_i, y_i), data part only
    loss: Any  # L(theta) = s sum_i l_i + (l2/2) ||theta||^2
    out_grad: Array  # (n, m) d l_i / d o_i
    out_hess: Array  # (n, m, m) H_i = d^2 l_i / d o_i^2
    jac: Array | None  # (n, m, p) J_i, or None when not requested
    grad: Array  # (p,) grad L(theta)
    scale: float  # s: 1/N ("mean") or 1 ("sum")
    l2: float  # the problem's regulariser coefficient


def evaluate(model: OutputModel, params: Any, *, jacobians: bool = True, who: str = "evaluate") -> ModelRecord:
    """The record at ``params``: outputs, losses, L, output derivatives, J (optional) and grad L.

    With ``jacobians=True`` grad L = s sum_i J_i^T out_grad_i + l2 theta (chain rule on autograd's
    factors); otherwise one reverse pass ``J^T out_grad`` through ``predict`` (a VJP).
    """
    model = check_model(who, model)
    theta = check_point(who, model, params)
    s = reduction_scale(model)
    l2 = float(model.l2)
    outputs = model.predict(theta, model.X)
    losses = model.losses_from_outputs(outputs, model.y)
    loss = s * anp.sum(losses) + (0.5 * l2 * anp.sum(theta * theta) if l2 else 0.0)
    out_grad, out_hess = output_derivatives(model, outputs)
    jac = per_sample_jacobians(model, theta) if jacobians else None
    if jac is not None:
        g = s * anp.einsum("nkp,nk->p", jac, out_grad)
    else:
        g = s * _vjp(model, theta, out_grad)
    if l2:
        g = g + l2 * theta
    return ModelRecord(
        params=theta, outputs=outputs, losses=losses, loss=loss, out_grad=out_grad,
        out_hess=out_hess, jac=jac, grad=g, scale=s, l2=l2,
    )  # fmt: skip


def _vjp(model: OutputModel, theta: Any, u: Any) -> Any:
    """J^T u = d/dtheta sum_ik u_ik F(theta; x_i)_k: one reverse pass, all samples at once."""
    return ag_grad(lambda q: anp.sum(model.predict(q, model.X) * u))(theta)


def gn_matrix(rec: ModelRecord) -> Any:
    """G = s sum_i J_i^T H_i J_i + l2 I  (p, p), dense."""
    if rec.jac is None:
        raise ValueError("gn_matrix: the record has no Jacobians; evaluate(..., jacobians=True)")
    J = rec.jac
    n, m, p = anp.shape(J)
    HJ = anp.einsum("nkl,nlq->nkq", rec.out_hess, J)
    G = rec.scale * anp.dot(anp.reshape(J, (n * m, p)).T, anp.reshape(HJ, (n * m, p)))
    G = 0.5 * (G + G.T)  # exact symmetry (the two products round differently)
    return G + rec.l2 * anp.eye(p) if rec.l2 else G


def gn_vector_product(model: OutputModel, rec: ModelRecord, v: Any) -> Any:
    """G v = s J^T (H (J v)) + l2 v without forming J or G: forward JVP, m x m products, VJP."""
    theta = rec.params

    def f(q: Any) -> Any:
        return model.predict(q, model.X)

    _, Jv = make_jvp(f)(theta)(v)  # (n, m), forward mode
    HJv = anp.einsum("nkl,nl->nk", rec.out_hess, Jv)
    out = rec.scale * _vjp(model, theta, HJv)
    return out + rec.l2 * v if rec.l2 else out


def quadratic_model_decrease(rec: ModelRecord, G_delta: Any, delta: Any) -> Any:
    """Predicted decrease L - q(delta) = -(g^T delta + (1/2) delta^T G delta) of the GN model."""
    return -(anp.dot(rec.grad, delta) + 0.5 * anp.dot(delta, G_delta))


def loss_at(model: OutputModel, params: Any) -> Any:
    """L(params) from ``predict`` and ``losses_from_outputs`` (the same formula as the record)."""
    s = reduction_scale(model)
    l2 = float(model.l2)
    val = s * anp.sum(model.losses_from_outputs(model.predict(params, model.X), model.y))
    return val + 0.5 * l2 * anp.sum(params * params) if l2 else val

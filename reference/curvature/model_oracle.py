r"""The curvature record of a "model + per-sample loss" problem, by autograd.

Note 000 ("Gauss-Newton Derivation for General Convex Loss") writes a finite-sum objective as a
network F(theta; x) followed by a loss on its outputs:

    L(theta) = s sum_i l(o_i, y_i) + (l2 / 2) ||theta||^2,    o_i = F(theta; x_i) in R^m,
    s = 1/N ("mean") or 1 ("sum")  (``reference.problems.reduction_scale(model)``).

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

and the two curvature matrices that the notes name:

    G = s sum_i J_i^T H_i J_i + l2 I                 Gauss-Newton (note 000, "as dense linear algebra")
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
from autograd.tracer import getval as _getval
from autograd.tracer import isbox
from numpy.typing import NDArray

from .._types import Array
from ..problems import pack, reduction_scale

REQUIRED = (
    "X",
    "y",
    "output_dim",
    "dim",
    "reduction",
    "l2",
    "predict",
    "predict_rowwise",
    "losses_from_outputs",
    "loss",
)


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
    rows = [ag_grad(lambda T, k=k: anp.sum(model.predict_rowwise(T, Xb)[:, k]))(thetas) for k in range(m)]
    return anp.stack(rows, axis=1)


# ----------------------------------------------------------------------------------------------
# Dense MLPs: the layer structure that K-FAC, Shampoo and the fast Jacobian path read

ACTIVATIONS = ("relu", "tanh", "identity")


def _act(name: str, z: Any) -> Any:
    if name == "relu":
        return anp.where(z > 0, z, 0.0)
    if name == "tanh":
        return anp.tanh(z)
    return z


def dense_layers(who: str, model: Any, params: Any) -> list[tuple[Any, Any]]:
    """[(W_l (out, in), b_l (out,)), ...] from ``model.unflatten(params)`` = (W1, b1, W2, b2, ...).

    Checks that the flat vector is ``reference.problems.pack(W1, b1, W2, b2, ...)`` (the layout the
    per-layer methods write back into) and that consecutive shapes chain.
    """
    if not hasattr(model, "unflatten"):
        raise TypeError(f"{who}: the problem needs unflatten(params) -> (W1, b1, W2, b2, ...) (a dense MLP)")
    arrays = model.unflatten(params)
    if len(arrays) % 2 or not arrays:
        raise ValueError(f"{who}: unflatten must return (W1, b1, W2, b2, ...), got {len(arrays)} arrays")
    layers = [(arrays[i], arrays[i + 1]) for i in range(0, len(arrays), 2)]
    prev = int(model.X.shape[1])
    for l, (W, b) in enumerate(layers):
        if anp.ndim(W) != 2 or anp.shape(W)[1] != prev or anp.shape(b) != (anp.shape(W)[0],):
            raise ValueError(
                f"{who}: layer {l + 1} has W {anp.shape(W)}, b {anp.shape(b)}; expected W (out, {prev}), b (out,)"
            )
        prev = int(anp.shape(W)[0])
    flat = np.asarray(pack([np.asarray(_getval(a)) for a in arrays]))
    if flat.shape != np.shape(_getval(params)) or not np.array_equal(flat, np.asarray(_getval(params))):
        raise ValueError(
            f"{who}: params are not the row-major concatenation W1, b1, W2, b2, ... of unflatten"
        )
    return layers


def dense_forward(
    layers: list[tuple[Any, Any]], X: Any, activation: str, taps: list[Any] | None = None
) -> tuple[Any, list[Any]]:
    """Outputs and the layer inputs [a_0 = X, a_1, ...]: s_l = a_{l-1} W_l^T + b_l (+ tap_l), a_l = act(s_l).

    The last layer is linear (its s_L is the output). ``taps`` are zeros added to the
    pre-activations: d(loss)/d(tap_l) is the per-sample backpropagated delta of layer l.
    """
    a = X
    inputs = []
    for l, (W, b) in enumerate(layers):
        inputs.append(a)
        s = anp.dot(a, W.T) + b
        if taps is not None:
            s = s + taps[l]
        a = s if l == len(layers) - 1 else _act(activation, s)
    return a, inputs


def check_dense_model(
    who: str, model: Any, params: Any, activation: str, layers: list[tuple[Any, Any]]
) -> tuple[Any, list[Any]]:
    """The dense forward with ``activation`` must reproduce ``model.predict`` at ``params``.

    Returns that forward, (outputs, layer inputs), so callers need not run it again.
    """
    mine, inputs = dense_forward(layers, model.X, activation)
    theirs = model.predict(params, model.X)
    a, b = np.asarray(_getval(mine)), np.asarray(_getval(theirs))
    if a.shape != b.shape or not np.allclose(a, b, rtol=1e-12, atol=1e-12 * (1 + np.abs(b).max())):
        raise ValueError(
            f"{who}: the problem's predict is not a dense MLP with activation={activation!r} "
            "(the layer-wise forward does not reproduce it)"
        )
    return mine, inputs


def dense_deltas(model: Any, layers: list[tuple[Any, Any]], activation: str, cotangent_fn: Any) -> list[Any]:
    """Per-sample deltas d(sum_i c_i(o_i))/d s_l, (n, out_l) each, in one backward pass.

    ``cotangent_fn(outputs) -> scalar`` is the function of the outputs to backpropagate
    (e.g. sum_i l(o_i, y_i) or sum_i o_ik). The layer inputs come from ``check_dense_model``.
    """
    X = model.X
    n = int(X.shape[0])
    taps0 = [anp.zeros((n, anp.shape(W)[0])) for W, _ in layers]
    deltas = ag_grad(lambda taps: cotangent_fn(dense_forward(layers, X, activation, taps)[0]))(taps0)
    return list(deltas)


def dense_jacobians(model: Any, params: Any, activation: str, who: str = "jacobians") -> Any:
    """(n, m, p) per-sample Jacobians of a dense MLP by the layer-wise outer-product formula

        dF_k(x_i)/dW_l = delta_{l,k,i} a_{l-1,i}^T,   dF_k(x_i)/db_l = delta_{l,k,i},

    with delta_{l,k} from one backward pass of sum_i F_k(x_i) into the pre-activation taps
    (m passes of the ordinary network; never a loop over samples).
    """
    layers = dense_layers(who, model, params)
    _, inputs = check_dense_model(who, model, params, activation, layers)
    m = int(model.output_dim)
    per_k = [dense_deltas(model, layers, activation, lambda O, k=k: anp.sum(O[:, k])) for k in range(m)]
    blocks = []
    for l, a in enumerate(inputs):
        D = anp.stack([deltas[l] for deltas in per_k], axis=1)  # (n, m, out_l)
        blocks.append(D[:, :, :, None] * a[:, None, None, :])  # W_l block (n, m, out_l, in_l)
        blocks.append(D)  # b_l block
    return pack(blocks, lead=2)  # (n, m, p), theta's layout W1, b1, W2, b2, ...


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


def evaluate(
    model: OutputModel,
    params: Any,
    *,
    jacobians: bool = True,
    activation: str | None = None,
    who: str = "evaluate",
) -> ModelRecord:
    """The record at ``params``: outputs, losses, L, output derivatives, J (optional) and grad L.

    ``activation`` (one of ``ACTIVATIONS``) declares the problem a dense MLP with that hidden
    activation and computes J by ``dense_jacobians`` (checked against ``predict``); None uses the
    generic replicated-parameters path ``per_sample_jacobians``.

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
    if not jacobians:
        jac = None
    elif activation is None:
        jac = per_sample_jacobians(model, theta)
    else:
        if activation not in ACTIVATIONS:
            raise ValueError(
                f"{who}: activation must be one of {list(ACTIVATIONS)} or None, got {activation!r}"
            )
        jac = dense_jacobians(model, theta, activation, who)
    if jac is not None:
        g = s * anp.einsum("nkp,nk->p", jac, out_grad)
    else:
        g = s * _vjp(model, theta, out_grad)
    if l2:
        g = g + l2 * theta
    return ModelRecord(
        params=theta,
        outputs=outputs,
        losses=losses,
        loss=loss,
        out_grad=out_grad,
        out_hess=out_hess,
        jac=jac,
        grad=g,
        scale=s,
        l2=l2,
    )


def _vjp(model: OutputModel, theta: Any, u: Any) -> Any:
    """J^T u = d/dtheta sum_ik u_ik F(theta; x_i)_k: one reverse pass, all samples at once."""
    return ag_grad(lambda q: anp.sum(model.predict(q, model.X) * u))(theta)


def gn_matrix(rec: ModelRecord) -> Any:
    """G = s sum_i J_i^T H_i J_i + l2 I  (p, p), dense."""
    if rec.jac is None:
        raise ValueError("gn_matrix: the record has no Jacobians; evaluate(..., jacobians=True)")
    J = rec.jac
    n, m, p = anp.shape(J)
    HJ = anp.matmul(rec.out_hess, J)  # (n, m, p)
    G = rec.scale * anp.dot(anp.reshape(J, (n * m, p)).T, anp.reshape(HJ, (n * m, p)))
    G = 0.5 * (G + G.T)  # exact symmetry (the two products round differently)
    return G + rec.l2 * anp.eye(p) if rec.l2 else G


def dense_gn_matrix(model: Any, rec: ModelRecord, activation: str, who: str = "gn_matrix") -> Any:
    """G = s sum_i J_i^T H_i J_i + l2 I of a dense MLP from its Kronecker factors, without J.

    Layer l's block of J_i is [D_{l,i} (x) a_{l-1,i}, D_{l,i}] (``dense_jacobians``: D the
    (m, out_l) deltas, a the layer's input), so the (l, l') block of G is, with
    M_i = D_{l,i}^T H_i D_{l',i} (out_l, out_l'),

        G[(o, a), (q, b)] = s sum_i M_i[o, q] a_i[a] a'_i[b]     (and a or a' -> 1 for biases):

    one matrix product over the samples per block pair, n p_l p_l' multiply-adds in all (n p^2)
    instead of n m p^2 for J^T (H J), and J (n m p numbers) is never formed. Equal to
    ``gn_matrix`` up to rounding (tests/test_model_oracle.py).
    """
    theta = rec.params
    layers = dense_layers(who, model, theta)
    _, inputs = check_dense_model(who, model, theta, activation, layers)
    m, n = int(model.output_dim), int(anp.shape(inputs[0])[0])
    per_k = [dense_deltas(model, layers, activation, lambda O, k=k: anp.sum(O[:, k])) for k in range(m)]
    D = [anp.stack([deltas[l] for deltas in per_k], axis=1) for l in range(len(layers))]  # (n, m, out_l)
    HD = [anp.matmul(rec.out_hess, Dl) for Dl in D]
    ones = anp.ones((n, 1))
    A = [anp.concatenate([a, ones], axis=1) for a in inputs]  # (n, in_l + 1): weights' inputs, bias 1
    rows = []
    for Dl, Al in zip(D, A):
        row = []
        for Dr, Ar in zip(HD, A):
            o, q, i, j = anp.shape(Dl)[2], anp.shape(Dr)[2], anp.shape(Al)[1], anp.shape(Ar)[1]
            M = anp.reshape(anp.matmul(anp.transpose(Dl, (0, 2, 1)), Dr), (n, o * q))
            AA = anp.reshape(Al[:, :, None] * Ar[:, None, :], (n, i * j))
            B = anp.transpose(anp.reshape(anp.dot(M.T, AA), (o, q, i, j)), (0, 2, 1, 3))  # (o, a, q, b)
            # theta's layout per layer: W_l row-major (o, a < in_l), then b_l (a = in_l)
            W = anp.reshape(B[:, :-1], (o * (i - 1), q, j))
            Wl = anp.concatenate([anp.reshape(W[:, :, :-1], (o * (i - 1), q * (j - 1))), W[:, :, -1]], axis=1)
            b = B[:, -1]
            bl = anp.concatenate([anp.reshape(b[:, :, :-1], (o, q * (j - 1))), b[:, :, -1]], axis=1)
            row.append(anp.concatenate([Wl, bl], axis=0))
        rows.append(anp.concatenate(row, axis=1))
    G = rec.scale * anp.concatenate(rows, axis=0)
    G = 0.5 * (G + G.T)
    p = anp.shape(theta)[0]
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

"""Small "model + per-sample loss" problems for the curvature tests (independent of the Peaks module).

Each subclasses ``reference.problems._finite_sum.FiniteSumBase`` and supplies ``predict``,
``predict_rowwise`` (row i uses parameter row i) and ``losses_from_outputs``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import autograd.numpy as anp
import numpy as np

from reference.problems import unpack
from reference.problems._finite_sum import FiniteSumBase


def _onehot(y: Any, m: int) -> Any:
    return (np.asarray(y)[:, None] == np.arange(m)[None, :]).astype(np.float64)


def softmax_ce(outputs: Any, y: Any) -> Any:
    """l(o, y) = logsumexp(o) - o_y."""
    m = anp.shape(outputs)[1]
    mx = anp.max(outputs, axis=1, keepdims=True)
    lse = anp.log(anp.sum(anp.exp(outputs - mx), axis=1)) + mx[:, 0]
    return lse - anp.sum(outputs * _onehot(y, m), axis=1)


@dataclass(frozen=True, eq=False, kw_only=True)
class Square(FiniteSumBase):
    """F(theta; x) = x theta_0^2, l(o, y) = (o - y)^2 (one parameter, one output)."""

    @property
    def dim(self) -> int:
        return 1

    @property
    def output_dim(self) -> int:
        return 1

    def predict(self, params: Any, X: Any) -> Any:
        return X[:, :1] * params[0] ** 2

    def predict_rowwise(self, thetas: Any, X: Any) -> Any:
        return X[:, :1] * thetas[:, :1] ** 2

    def losses_from_outputs(self, outputs: Any, y: Any) -> Any:
        r = outputs[:, 0] - y
        return r * r


@dataclass(frozen=True, eq=False, kw_only=True)
class SoftmaxRegression(FiniteSumBase):
    """o = W x (W is m x d, row-major in theta), softmax cross-entropy over m classes."""

    classes: int = 3

    @property
    def dim(self) -> int:
        return self.classes * int(self.X.shape[1])

    @property
    def output_dim(self) -> int:
        return self.classes

    def predict(self, params: Any, X: Any) -> Any:
        W = anp.reshape(params, (self.classes, X.shape[1]))
        return anp.dot(X, W.T)

    def predict_rowwise(self, thetas: Any, X: Any) -> Any:
        Ws = anp.reshape(thetas, (X.shape[0], self.classes, X.shape[1]))
        return anp.einsum("nkd,nd->nk", Ws, X)

    def losses_from_outputs(self, outputs: Any, y: Any) -> Any:
        return softmax_ce(outputs, y)


@dataclass(frozen=True, eq=False, kw_only=True)
class TinyMLP(FiniteSumBase):
    """o = W2 tanh(W1 x + b1) + b2 with theta = (W1, b1, W2, b2) row-major; softmax CE or squares."""

    hidden: int = 4
    classes: int = 3
    loss_kind: str = "softmax"  # or "squares" (targets y are then class indices turned one-hot)

    @property
    def shapes(self) -> tuple[tuple[int, ...], ...]:
        d, h, m = int(self.X.shape[1]), self.hidden, self.classes
        return ((h, d), (h,), (m, h), (m,))

    @property
    def dim(self) -> int:
        return int(sum(int(np.prod(s)) for s in self.shapes))

    @property
    def output_dim(self) -> int:
        return self.classes

    def unflatten(self, theta: Any) -> tuple[Any, ...]:
        return unpack(theta, self.shapes)  # leading axes kept: rows of Theta for predict_rowwise

    def predict(self, params: Any, X: Any) -> Any:
        W1, b1, W2, b2 = self.unflatten(params)
        h = anp.tanh(anp.dot(X, W1.T) + b1)
        return anp.dot(h, W2.T) + b2

    def predict_rowwise(self, thetas: Any, X: Any) -> Any:
        W1, b1, W2, b2 = self.unflatten(thetas)
        h = anp.tanh(anp.einsum("nhd,nd->nh", W1, X) + b1)
        return anp.einsum("nmh,nh->nm", W2, h) + b2

    def losses_from_outputs(self, outputs: Any, y: Any) -> Any:
        if self.loss_kind == "softmax":
            return softmax_ce(outputs, y)
        r = outputs - _onehot(y, self.classes)
        return 0.5 * anp.sum(r * r, axis=1)


def softmax_problem(
    seed: int = 0, n: int = 30, d: int = 3, m: int = 3, reduction: str = "mean"
) -> SoftmaxRegression:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = rng.integers(0, m, size=n).astype(np.float64)
    return SoftmaxRegression(name="softmax", X=X, y=y, reduction=reduction, classes=m)  # type: ignore[arg-type]


def mlp_problem(
    seed: int = 0,
    n: int = 25,
    d: int = 2,
    h: int = 4,
    m: int = 3,
    loss_kind: str = "softmax",
    l2: float = 0.0,
) -> TinyMLP:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = rng.integers(0, m, size=n).astype(np.float64)
    return TinyMLP(name="mlp", X=X, y=y, hidden=h, classes=m, loss_kind=loss_kind, l2=l2)


def square_problem(target: float = 4.0) -> Square:
    return Square(name="square", X=np.array([[1.0]]), y=np.array([target]), reduction="sum")


@dataclass(frozen=True, eq=False, kw_only=True)
class DenseLogistic(FiniteSumBase):
    """One dense layer o = W x + b (W is 1 x d), binary logistic loss log(1 + e^o) - y o."""

    @property
    def dim(self) -> int:
        return int(self.X.shape[1]) + 1

    @property
    def output_dim(self) -> int:
        return 1

    def unflatten(self, theta: Any) -> tuple[Any, Any]:
        W, b = unpack(theta, ((1, int(self.X.shape[1])), (1,)))
        return W, b

    def predict(self, params: Any, X: Any) -> Any:
        W, b = self.unflatten(params)
        return anp.dot(X, W.T) + b

    def predict_rowwise(self, thetas: Any, X: Any) -> Any:
        d = int(self.X.shape[1])
        return anp.sum(thetas[:, :d] * X, axis=1, keepdims=True) + thetas[:, d:]

    def losses_from_outputs(self, outputs: Any, y: Any) -> Any:
        z = outputs[:, 0]
        return anp.logaddexp(0.0, z) - y * z


@dataclass(frozen=True, eq=False, kw_only=True)
class ExpFit(FiniteSumBase):
    """F(theta; x) = theta_0 exp(theta_1 x), l = (o - y)^2: a classic nonlinear least-squares fit."""

    @property
    def dim(self) -> int:
        return 2

    @property
    def output_dim(self) -> int:
        return 1

    def predict(self, params: Any, X: Any) -> Any:
        return params[0] * anp.exp(params[1] * X[:, :1])

    def predict_rowwise(self, thetas: Any, X: Any) -> Any:
        return thetas[:, :1] * anp.exp(thetas[:, 1:2] * X[:, :1])

    def losses_from_outputs(self, outputs: Any, y: Any) -> Any:
        r = outputs[:, 0] - y
        return r * r


def expfit_problem(seed: int = 0, n: int = 15, noise: float = 0.05) -> ExpFit:
    rng = np.random.default_rng(seed)
    x = np.linspace(0.0, 3.0, n)[:, None]
    y = 2.0 * np.exp(-0.7 * x[:, 0]) + noise * rng.standard_normal(n)
    return ExpFit(name="expfit", X=x, y=y, reduction="sum")

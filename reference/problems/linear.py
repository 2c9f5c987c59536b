r"""Linear models: least squares, ridge regression, logistic regression.

Least squares (note 002 section 2.2.1) and ridge (section 2.3.1, eq. (5)):

    L(w) = ||X w - y||^2 + lam ||w||^2 = sum_i (x_i^T w - y_i)^2 + lam ||w||^2     reduction "sum"
    L(w) = (1/N) ||X w - y||^2 + lam ||w||^2                                       reduction "mean"
    grad L(w) = 2 X^T (X w - y) + 2 lam w  ("sum");  Hessian 2 X^T X + 2 lam I
    w*  = sum_i sigma_i / (sigma_i^2 + lam) (u_i^T y) v_i     (eq. (5), X = U Sigma V^T, "sum")

With "mean" the data term is divided by N and the minimiser is eq. (5) with lam replaced by N lam.
In the finite-sum form the regulariser lam ||w||^2 = (l2/2)||w||^2 with l2 = 2 lam is shared among
the samples (see ``_base``).

Logistic regression, labels y_i in {0, 1}, logits z_i = x_i^T w (add a column of ones to X for an
intercept; ``make_logistic_data`` can):

    l_i(w) = log(1 + exp(z_i)) - y_i z_i = logaddexp(0, z_i) - y_i z_i   (stable for any z_i)
    L(w)   = (1/N) sum_i l_i(w) + (l2/2) ||w||^2                          reduction "mean"

Per-sample gradients are closed forms (einsum): 2 r_i x_i for squares, (sigmoid(z_i) - y_i) x_i
for logistic, plus the regulariser share s l2 w.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import autograd.numpy as anp
import numpy as np
from numpy.typing import NDArray

from .._core import check_count, check_rng
from .._types import Array
from ._base import IndexArray, Reduction, reduction_scale
from ._finite_sum import (
    FiniteSumBase,
    _finite_float,
    check_matrix,
    check_params,
    check_reduction,
    check_targets,
)


@dataclass(frozen=True, eq=False, kw_only=True)
class _Linear(FiniteSumBase):
    """Outputs z = X w, one output per sample (output_dim 1)."""

    @property
    def dim(self) -> int:
        return int(self.X.shape[1])

    @property
    def output_dim(self) -> int:
        return 1

    def predict(self, params: Array, X: Array) -> Array:
        """(n, 1) outputs X w."""
        return anp.reshape(anp.dot(X, params), (-1, 1))

    def predict_rowwise(self, thetas: Array, X: Array) -> Array:
        """(n, 1) outputs x_i^T Theta_i."""
        return anp.reshape(anp.sum(X * thetas, axis=1), (-1, 1))

    def _residual_weights(self, z: Array, y: NDArray[Any]) -> Array:
        """d data_i / d z_i for the closed-form per-sample gradients."""
        raise NotImplementedError

    def per_sample_grads(self, params: Array, idx: IndexArray | None = None) -> Array:
        """(n, dim) rows dl_i/dz_i x_i + s l2 w: closed form, one einsum."""
        p = check_params(params, self.dim, self.name)
        X, y = self._data(idx)
        r = self._residual_weights(anp.dot(X, p), y)
        out = anp.einsum("n,nd->nd", r, X)
        if self.l2:
            out = out + self._share * self.l2 * p
        return out  # type: ignore[no-any-return]


@dataclass(frozen=True, eq=False, kw_only=True)
class LeastSquares(_Linear):
    """L(w) = ||X w - y||^2 (reduction "sum", note 002) or its mean over samples."""

    def losses_from_outputs(self, outputs: Array, y: NDArray[Any]) -> Array:
        """(z_i - y_i)^2."""
        r = outputs[:, 0] - y
        return r * r  # type: ignore[no-any-return]

    def _residual_weights(self, z: Array, y: NDArray[Any]) -> Array:
        return 2.0 * (z - y)  # type: ignore[no-any-return]

    @property
    def _data_scale(self) -> float:
        """s of L = s sum_i (x_i^T w - y_i)^2 + R(w): 1 ("sum") or 1/N ("mean")."""
        return reduction_scale(self)

    def hessian(self) -> Array:
        """2 X^T X (+ l2 I), divided by N in the data term for reduction "mean"."""
        return 2.0 * self._data_scale * (self.X.T @ self.X) + self.l2 * np.eye(self.dim)

    def solution(self) -> Array:
        """The minimum-norm minimiser X^+ y (numpy.linalg.lstsq)."""
        w, *_ = np.linalg.lstsq(self.X, self.y, rcond=None)
        return np.asarray(w, dtype=np.float64)


@dataclass(frozen=True, eq=False, kw_only=True)
class Ridge(LeastSquares):
    """L(w) = ||X w - y||^2 + lam ||w||^2 (``lam`` = l2 / 2)."""

    @property
    def lam(self) -> float:
        return self.l2 / 2.0

    def solution(self) -> Array:
        """Eq. (5): w* = sum_i sigma_i / (sigma_i^2 + lam') (u_i^T y) v_i, lam' = lam / scale.

        scale = 1 for "sum", 1/N for "mean" (then the minimiser of (1/N)||Xw - y||^2 + lam||w||^2
        is the "sum" one with N lam). For lam = 0 this is the minimum-norm solution only when
        every sigma_i > 0.
        """
        U, s, Vt = np.linalg.svd(self.X, full_matrices=False)
        lam = self.lam / self._data_scale
        keep = s > 0
        coef = np.zeros_like(s)
        coef[keep] = s[keep] / (s[keep] ** 2 + lam)
        return np.asarray(Vt.T @ (coef * (U.T @ self.y)), dtype=np.float64)


@dataclass(frozen=True, eq=False, kw_only=True)
class LogisticRegression(_Linear):
    """Binary logistic regression, labels in {0, 1}, L2 penalty (l2/2)||w||^2."""

    def losses_from_outputs(self, outputs: Array, y: NDArray[Any]) -> Array:
        """logaddexp(0, z_i) - y_i z_i (the cross-entropy of sigmoid(z_i) against y_i)."""
        z = outputs[:, 0]
        return anp.logaddexp(0.0, z) - y * z

    def _residual_weights(self, z: Array, y: NDArray[Any]) -> Array:
        # sigmoid(z) = exp(z - logaddexp(0, z)), stable for large |z|
        return anp.exp(z - anp.logaddexp(0.0, z)) - y  # type: ignore[no-any-return]

    def probabilities(self, params: Array, X: Array | None = None) -> Array:
        """P(y = 1 | x) = sigmoid(x^T w) for the rows of X (the training inputs by default)."""
        Xm = self.X if X is None else check_matrix(self.name, "X", X)
        z = self.predict(check_params(params, self.dim, self.name), Xm)[:, 0]
        return anp.exp(z - anp.logaddexp(0.0, z))

    def accuracy(self, params: Array, X: Array | None = None, y: NDArray[Any] | None = None) -> float:
        """Fraction of samples with (z_i > 0) == y_i."""
        Xm = self.X if X is None else check_matrix(self.name, "X", X)
        ym = self.y if y is None else check_targets(self.name, y, Xm.shape[0])
        z = np.asarray(Xm @ check_params(params, self.dim, self.name))
        return float(np.mean((z > 0) == (ym == 1)))


def least_squares(X: object, y: object, *, reduction: Reduction = "sum") -> LeastSquares:
    """L(w) = ||X w - y||^2 (note 002 eq. (4)'s objective); "mean" divides by N."""
    who = "least_squares"
    Xm = check_matrix(who, "X", X)
    return LeastSquares(
        name=who,
        X=Xm,
        y=check_targets(who, y, Xm.shape[0]),
        reduction=check_reduction(who, reduction),
        l2=0.0,
    )


def ridge(X: object, y: object, lam: float, *, reduction: Reduction = "sum") -> Ridge:
    """L(w) = ||X w - y||^2 + lam ||w||^2, lam >= 0 (note 002 section 2.3.1)."""
    who = "ridge"
    Xm = check_matrix(who, "X", X)
    lam_v = _finite_float(who, "lam", lam)
    return Ridge(
        name=who,
        X=Xm,
        y=check_targets(who, y, Xm.shape[0]),
        reduction=check_reduction(who, reduction),
        l2=2.0 * lam_v,
    )


def logistic_regression(
    X: object, y: object, *, l2: float = 0.0, reduction: Reduction = "mean"
) -> LogisticRegression:
    """Binary logistic regression with labels in {0, 1} and penalty (l2/2)||w||^2, l2 >= 0."""
    who = "logistic_regression"
    Xm = check_matrix(who, "X", X)
    ym = check_targets(who, y, Xm.shape[0])
    if not np.all((ym == 0) | (ym == 1)):
        bad = np.unique(ym[(ym != 0) & (ym != 1)])[:5]
        raise ValueError(f"{who}: y must hold labels in {{0, 1}}, found {bad.tolist()}")
    return LogisticRegression(
        name=who,
        X=Xm,
        y=ym,
        reduction=check_reduction(who, reduction),
        l2=_finite_float(who, "l2", l2),
    )


def make_logistic_data(
    rng: np.random.Generator,
    n_samples: int = 200,
    dim: int = 5,
    *,
    scale: float = 1.0,
    intercept: bool = True,
) -> tuple[Array, Array, Array]:
    """A synthetic data set (X, y, w_true) for logistic regression.

    x_i ~ N(0, I_dim) (followed by a column of ones if ``intercept``), w_true ~ N(0, scale^2 I),
    y_i ~ Bernoulli(sigmoid(x_i^T w_true)). Larger ``scale`` means more separable data.
    """
    who = "make_logistic_data"
    check_rng(rng)
    check_count(who, "n_samples", n_samples, minimum=1)
    check_count(who, "dim", dim, minimum=1)
    sc = _finite_float(who, "scale", scale)
    X = rng.standard_normal((n_samples, dim))
    if intercept:
        X = np.hstack([X, np.ones((n_samples, 1))])
    w = sc * np.asarray(rng.standard_normal(X.shape[1]), dtype=np.float64)
    z = X @ w
    prob = np.exp(z - np.logaddexp(0.0, z))
    y = (rng.random(n_samples) < prob).astype(np.float64)
    return X, y, w

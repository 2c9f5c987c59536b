r"""Note 000's running example: Peaks classification with a two-layer ReLU MLP.

Data. N = ``n_samples`` points x ~ U([-3, 3]^2) from ``numpy.random.default_rng(seed)``, labelled
by the level sets of MATLAB's peaks function

    z(x1, x2) = 3 (1 - x1)^2 exp(-x1^2 - (x2 + 1)^2)
              - 10 (x1/5 - x1^3 - x2^5) exp(-x1^2 - x2^2)
              - 1/3 exp(-(x1 + 1)^2 - x2^2)

into 5 classes: class k = #{j : z >= tau_j}, with the fixed thresholds ``PEAKS_THRESHOLDS``
tau = (-0.3069, 0.0017, 0.1528, 1.3115), the 20/40/60/80 % quantiles of z over the uniform
2001 x 2001 grid of [-3, 3]^2 (rounded to 4 decimals), so the classes have probability ~1/5
each under U([-3, 3]^2). The first ``n_train`` points are the training set (the finite sum), the
rest the test set (the points are i.i.d., so this is a random split).

Model (note 000), width w (32 in the seed), ReLU, logits F_theta(x) in R^5:

    h = ReLU(W1 x + b1),  W1 in R^{w x 2},  b1 in R^w
    F = W2 h + b2,        W2 in R^{5 x w},  b2 in R^5
    l(F, y) = -F_y + log(sum_c exp(F_c))   (softmax cross-entropy, by log-sum-exp)

p = (2 w + w) + (5 w + 5) = 8 w + 5 (261 at w = 32). theta is flat, in the order
(W1 row-major, b1, W2 row-major, b2); ``unflatten`` / ``flatten`` convert (by
``reference.problems.layout``, the one packing rule).
L(theta) = (1/N_train) sum_i l(F_theta(x_i), y_i) (reduction "mean").

Initialisation (biases 0): "he" (Kaiming normal) W ~ N(0, 2 / fan_in);
"xavier" / "glorot" (Glorot uniform) W ~ U(-a, a), a = sqrt(6 / (fan_in + fan_out)).

Parametrisation (specs/peaks.md, "The NTK parametrisation"). ``parametrization="standard"``
(default) trains the layer arrays themselves. ``"ntk"`` (Jacot, Gabriel & Hongler 2018) trains
theta = (A1, a1, A2, a2), O(1) per coordinate, and the network is the standard one at

    W1 = A1 / sqrt(2),  b1 = beta a1,  W2 = A2 / sqrt(w),  b2 = beta a2,  beta = 1     (PK1)
    i.e. theta_std = S * theta with S the fixed vector ``scale`` (1 in "standard")
    F_ntk(theta; x) = F_std(S * theta; x)                                           (PK2)
    grad L_ntk(theta) = S * grad L_std(S * theta)                                   (PK3)

so SGD on theta with step eta is SGD on theta_std with the per-coordinate step eta S^2 (PK4):
eta / 2 on W1, eta / w on W2, eta on the biases. Its own initialisation is theta ~ N(0, I)
(``init_params``; "he" / "xavier" are the standard parametrisation's).

Speed: ``minibatch_grad`` differentiates (by autograd) with respect to the four layer arrays
rather than the flat theta (no scatter of each block into a p-vector): the same floating-point
numbers as the generic path (tests/test_peaks_ntk.py), 15-20 % less time per step at width 8192.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import autograd.numpy as anp
import numpy as np
from autograd import grad as ag_grad
from autograd.tracer import getval, isbox
from numpy.typing import NDArray

from .._core import check_count, check_rng
from .._types import Array
from ._base import IndexArray
from ._finite_sum import FiniteSumBase, check_matrix, check_params
from .init import he, xavier
from .layout import Shapes, pack, unpack

#: 20/40/60/80 % quantiles of the peaks function over the 2001 x 2001 grid of [-3, 3]^2.
PEAKS_THRESHOLDS: tuple[float, float, float, float] = (-0.3069, 0.0017, 0.1528, 1.3115)
N_CLASSES = 5
Init = Literal["he", "xavier", "glorot"]
_INITS = ("he", "xavier", "glorot")
Parametrization = Literal["standard", "ntk"]
PARAMETRIZATIONS = ("standard", "ntk")
#: beta of (PK1): the bias multiplier of the NTK parametrisation.
NTK_BETA = 1.0


def peaks_function(X: Array) -> Array:
    """z(x1, x2) of MATLAB's peaks for the rows of the (n, 2) array ``X``."""
    x, y = X[:, 0], X[:, 1]
    return np.asarray(
        3.0 * (1.0 - x) ** 2 * np.exp(-(x**2) - (y + 1.0) ** 2)
        - 10.0 * (x / 5.0 - x**3 - y**5) * np.exp(-(x**2) - y**2)
        - np.exp(-((x + 1.0) ** 2) - y**2) / 3.0,
        dtype=np.float64,
    )


def peaks_labels(X: Array) -> NDArray[np.intp]:
    """Class k in {0, ..., 4} = number of thresholds tau_j <= z(x)."""
    z = peaks_function(X)
    return np.searchsorted(np.asarray(PEAKS_THRESHOLDS), z, side="right").astype(np.intp)


def _log_softmax_ce(logits: Any, y: NDArray[Any]) -> Any:
    """-F_y + logsumexp(F), row by row; the shift m = max_c F_c is a constant (exact derivative)."""
    m = getval(anp.max(logits, axis=1, keepdims=True))
    lse = anp.log(anp.sum(anp.exp(logits - m), axis=1)) + m[:, 0]
    picked = logits[np.arange(logits.shape[0]), np.asarray(y, dtype=np.intp)]
    return lse - picked


def _forward(W1: Any, b1: Any, W2: Any, b2: Any, X: Any) -> Any:
    """(n, 5) logits W2 ReLU(W1 x + b1) + b2 at standard coordinates, for the rows of X."""
    z = anp.dot(X, W1.T) + b1
    h = anp.where(z > 0, z, 0.0)
    return anp.dot(h, W2.T) + b2


@dataclass(frozen=True, eq=False, kw_only=True)
class Peaks(FiniteSumBase):
    """The training finite sum of the Peaks task; the held-out points are ``X_test``, ``y_test``."""

    width: int
    init: Init
    X_test: Array
    y_test: NDArray[np.intp]
    parametrization: Parametrization = "standard"

    @property
    def dim(self) -> int:
        return 8 * self.width + 5

    @property
    def output_dim(self) -> int:
        return N_CLASSES

    # -- parameters ----------------------------------------------------------------------------

    @property
    def shapes(self) -> Shapes:
        """The layer arrays' shapes in theta's order: W1 (w, 2), b1 (w,), W2 (5, w), b2 (5,)."""
        w = self.width
        return ((w, 2), (w,), (N_CLASSES, w), (N_CLASSES,))

    def unflatten(self, params: Array) -> tuple[Array, Array, Array, Array]:
        """(W1 (w, 2), b1 (w,), W2 (5, w), b2 (5,)) views of the flat theta (autograd-traceable)."""
        W1, b1, W2, b2 = unpack(check_params(params, self.dim, self.name), self.shapes)
        return W1, b1, W2, b2

    def layer_scales(self) -> tuple[float, float, float, float]:
        """The multipliers of (PK1) for (W1, b1, W2, b2): all 1 in the standard parametrisation."""
        if self.parametrization == "standard":
            return (1.0, 1.0, 1.0, 1.0)
        return (1 / np.sqrt(2.0), NTK_BETA, 1 / np.sqrt(float(self.width)), NTK_BETA)  # (PK1)

    @property
    def scale(self) -> Array:
        """S of (PK1)-(PK3), shape (p,): theta_std = S * theta."""
        return np.asarray(pack([np.full(s, c) for s, c in zip(self.shapes, self.layer_scales())]))

    def to_standard(self, params: Array) -> Array:
        """theta_std = S * theta: the standard-parametrisation weights of the same network (PK2)."""
        return np.asarray(check_params(params, self.dim, self.name)) * self.scale

    def from_standard(self, params_std: Array) -> Array:
        """theta = theta_std / S: this parametrisation's coordinates of a standard network."""
        return np.asarray(check_params(params_std, self.dim, self.name)) / self.scale

    def _scaled(self, W1: Any, b1: Any, W2: Any, b2: Any) -> tuple[Any, Any, Any, Any]:
        """The standard-coordinate layer arrays of (PK1) (the arrays themselves in "standard")."""
        if self.parametrization == "standard":
            return W1, b1, W2, b2
        c1, beta, c2, _ = self.layer_scales()
        if beta == 1.0:
            return W1 * c1, b1, W2 * c2, b2
        return W1 * c1, b1 * beta, W2 * c2, b2 * beta  # pragma: no cover - beta is 1

    def flatten(self, W1: object, b1: object, W2: object, b2: object) -> Array:
        """The flat theta of the four layer arrays (shapes are checked)."""
        arrays = []
        for name, a, shape in zip(("W1", "b1", "W2", "b2"), (W1, b1, W2, b2), self.shapes):
            arr = np.asarray(a, dtype=np.float64)
            if arr.shape != shape:
                raise ValueError(f"{self.name}: {name} must have shape {shape}, got {arr.shape}")
            arrays.append(arr)
        return np.asarray(pack(arrays))

    def init_params(self, rng: np.random.Generator, scheme: Init | None = None) -> Array:
        """He (default of the problem) or Xavier/Glorot weights, zero biases; in the NTK
        parametrisation theta ~ N(0, I) (Jacot et al.), whatever ``scheme``."""
        check_rng(rng)
        if self.parametrization == "ntk":
            return rng.standard_normal(self.dim)
        s = self.init if scheme is None else scheme
        if s not in _INITS:
            raise ValueError(f"{self.name}: scheme must be one of {list(_INITS)}, got {s!r}")
        if s == "he":  # specs/init.md (IN4), through reference.problems.init
            return he(self.shapes, rng)
        return xavier(self.shapes, rng, dist="uniform")  # (IN3)

    # -- model ---------------------------------------------------------------------------------

    def predict(self, params: Array, X: Array) -> Array:
        """(n, 5) logits W2 ReLU(W1 x + b1) + b2 for the rows of X (standard coordinates, PK2)."""
        return _forward(*self._scaled(*self.unflatten(params)), X)  # type: ignore[no-any-return]  # (PK2)

    def predict_rowwise(self, thetas: Array, X: Array) -> Array:
        """(n, 5): sample i through the network with parameters Theta_i."""
        W1, b1, W2, b2 = self._scaled(*unpack(thetas, self.shapes))  # (n, w, 2), (n, w), (n, 5, w), (n, 5)
        z = anp.einsum("nwk,nk->nw", W1, X) + b1
        h = anp.where(z > 0, z, 0.0)
        return anp.einsum("ncw,nw->nc", W2, h) + b2  # type: ignore[no-any-return]

    def losses_from_outputs(self, outputs: Array, y: NDArray[Any]) -> Array:
        """Softmax cross-entropy -F_y + log sum_c exp(F_c), stable (log-sum-exp)."""
        return _log_softmax_ce(outputs, y)  # type: ignore[no-any-return]

    # -- fast paths (the same numbers as the generic ones) ----------------------------------------

    def minibatch_grad(
        self, params: Array, rng: np.random.Generator, batch_size: int, *, replace: bool = True
    ) -> Array:
        """grad of the batch mean of l_i (FiniteSumBase.minibatch_grad), by autograd with respect
        to the four layer arrays: the same numbers, without scattering each block into a p-vector."""
        idx = self.batch_indices(rng, batch_size, replace=replace)
        p = check_params(params, self.dim, self.name)
        if isbox(p) or self.l2 or self.reduction != "mean":
            return ag_grad(lambda q: self.minibatch_loss(q, idx))(p)  # type: ignore[no-any-return]
        X, y = self.X[idx], self.y[idx]

        def batch_loss(W1: Any, b1: Any, W2: Any, b2: Any) -> Any:
            return anp.mean(_log_softmax_ce(_forward(*self._scaled(W1, b1, W2, b2), X), y))

        grads = ag_grad(batch_loss, argnum=(0, 1, 2, 3))(*unpack(p, self.shapes))  # type: ignore[arg-type]  # autograd takes a tuple of argnums (the stub says int)
        return np.asarray(pack(grads))

    # -- evaluation ----------------------------------------------------------------------------

    def test_loss(self, params: Array) -> Any:
        """Mean cross-entropy over the test set (traceable)."""
        p = check_params(params, self.dim, self.name)
        return anp.mean(self.losses_from_outputs(self.predict(p, self.X_test), self.y_test))

    def accuracy(self, params: Array, X: object, y: object) -> float:
        """Fraction of rows of X whose argmax logit equals the label in y."""
        Xm = check_matrix(self.name, "X", X)
        if Xm.shape[1] != 2:
            raise ValueError(f"{self.name}: X must have 2 columns, got shape {Xm.shape}")
        ym = np.asarray(y)
        if ym.shape != (Xm.shape[0],):
            raise ValueError(f"{self.name}: y must have shape ({Xm.shape[0]},), got {ym.shape}")
        logits = np.asarray(getval(self.predict(params, Xm)))
        return float(np.mean(np.argmax(logits, axis=1) == ym))

    def train_accuracy(self, params: Array) -> float:
        return self.accuracy(params, self.X, self.y)

    def test_accuracy(self, params: Array) -> float:
        if self.X_test.shape[0] == 0:
            raise ValueError(f"{self.name}: there is no test set (n_train == n_samples)")
        return self.accuracy(params, self.X_test, self.y_test)

    def class_counts(self, idx: IndexArray | None = None) -> NDArray[np.intp]:
        """(5,) number of training samples in each class."""
        _, y = self._data(idx)
        return np.bincount(np.asarray(y, dtype=np.intp), minlength=N_CLASSES).astype(np.intp)


def peaks(
    *,
    width: int = 32,
    n_samples: int = 1000,
    seed: int = 0,
    n_train: int = 800,
    init: Init = "he",
    parametrization: Parametrization = "standard",
) -> Peaks:
    """The Peaks task of note 000: 2-``width``-5 ReLU MLP on ``n_samples`` points, ``n_train`` train.

    ``parametrization``: "standard" (the layer arrays are trained) or "ntk" ((PK1): theta_std =
    S * theta, S = 1/sqrt(fan-in) on the weights). Raises ValueError for width < 1,
    n_samples < 1, n_train outside [1, n_samples], seed < 0, an unknown init or parametrization.
    """
    who = "peaks"
    w = check_count(who, "width", width, minimum=1)
    n = check_count(who, "n_samples", n_samples, minimum=1)
    s = check_count(who, "seed", seed, minimum=0)
    n_tr = check_count(who, "n_train", n_train, minimum=1)
    if n_tr > n:
        raise ValueError(f"{who}: n_train must be in [1, n_samples={n}], got {n_train!r}")
    if init not in _INITS:
        raise ValueError(f"{who}: init must be one of {list(_INITS)}, got {init!r}")
    if parametrization not in PARAMETRIZATIONS:
        raise ValueError(
            f"{who}: parametrization must be one of {list(PARAMETRIZATIONS)}, got {parametrization!r}"
        )
    rng = np.random.default_rng(s)
    X = rng.uniform(-3.0, 3.0, (n, 2))
    y = peaks_labels(X)
    X.setflags(write=False)
    y.setflags(write=False)
    return Peaks(
        name=who,
        X=X[:n_tr],
        y=y[:n_tr],
        X_test=X[n_tr:],
        y_test=y[n_tr:],
        reduction="mean",
        l2=0.0,
        width=w,
        init=init,
        parametrization=parametrization,
    )

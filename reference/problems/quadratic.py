r"""A quadratic with a prescribed spectrum: the model problem of every convergence rate.

    L(x) = 1/2 (x - x*)^T A (x - x*),   A = Q diag(lambda_1, ..., lambda_p) Q^T,
    grad L(x) = A (x - x*),  Hessian A,

Q is a Haar-random orthogonal matrix drawn from the rng (QR of a Gaussian matrix with the signs of
diag(R) fixed), or the identity with ``rotate=False``. For a positive semi-definite spectrum
L = lambda_max is the smoothness constant, mu = lambda_min the strong-convexity constant and
kappa = L / mu the condition number (inf when mu = 0). Negative eigenvalues (saddles) are allowed;
then ``L`` = max_i |lambda_i| (the Lipschitz constant of the gradient) and ``kappa`` = inf.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import autograd.numpy as anp
import numpy as np
from autograd import grad as ag_grad

from .._core import check_rng
from .._types import Array
from ._finite_sum import check_params, make_rng


@dataclass(frozen=True, eq=False, kw_only=True)
class Quadratic:
    """L(x) = 1/2 (x - x*)^T A (x - x*) with A = Q diag(eigenvalues) Q^T."""

    name: str
    eigenvalues: Array  # lambda_i, in the order given (read-only)
    Q: Array  # orthogonal eigenvectors, A = Q diag(lambda) Q^T (read-only)
    minimizer: Array  # x* (read-only)
    A: Array  # the Hessian (read-only, exactly symmetric)

    @property
    def dim(self) -> int:
        return int(self.eigenvalues.shape[0])

    @property
    def L(self) -> float:
        """Smoothness: max_i |lambda_i| (= lambda_max for a PSD spectrum)."""
        return float(np.max(np.abs(self.eigenvalues)))

    @property
    def mu(self) -> float:
        """lambda_min (strong convexity when > 0)."""
        return float(np.min(self.eigenvalues))

    @property
    def kappa(self) -> float:
        """L / mu, inf if mu <= 0."""
        return self.L / self.mu if self.mu > 0 else math.inf

    def loss(self, params: Array) -> Any:
        d = check_params(params, self.dim, self.name) - self.minimizer
        return 0.5 * anp.dot(d, anp.dot(self.A, d))

    def grad(self, params: Array) -> Array:
        """grad L by autograd (equals A (x - x*))."""
        p = check_params(params, self.dim, self.name)
        return ag_grad(self.loss)(p)  # type: ignore[no-any-return]

    def hessian(self) -> Array:
        return self.A

    def init_params(self, rng: np.random.Generator) -> Array:
        """x_0 = 0 (the minimiser is random, so 0 is a generic start)."""
        check_rng(rng)
        return np.zeros(self.dim)


def _readonly(a: Array) -> Array:
    a.setflags(write=False)
    return a


def random_orthogonal(rng: np.random.Generator, p: int) -> Array:
    """A Haar-distributed p x p orthogonal matrix (Mezzadri 2007: QR with sign-fixed R)."""
    check_rng(rng)
    q, r = np.linalg.qr(rng.standard_normal((p, p)))
    d = np.sign(np.diag(r))
    d[d == 0] = 1.0
    return np.asarray(q * d, dtype=np.float64)


def _minimizer(who: str, minimizer: object, p: int) -> Array:
    """``minimizer`` as a finite (p,) float64 array."""
    xs = np.array(np.asarray(minimizer), dtype=np.float64)
    if xs.shape != (p,):
        raise ValueError(f"{who}: minimizer must have shape ({p},), got {xs.shape}")
    if not np.all(np.isfinite(xs)):
        raise ValueError(f"{who}: minimizer must be finite")
    return xs


def quadratic(
    eigenvalues: object,
    *,
    seed: int | None = None,
    rng: np.random.Generator | None = None,
    minimizer: object | None = None,
    rotate: bool = True,
) -> Quadratic:
    """The quadratic with Hessian spectrum ``eigenvalues``.

    Args:
        eigenvalues: (p,) finite real numbers.
        seed, rng: the source of Q and of x* (exactly one of them; neither is needed when
            ``rotate=False`` and ``minimizer`` is given).
        minimizer: x* (p,); default: drawn N(0, I) from the rng (after Q).
        rotate: False gives Q = I (A diagonal).
    """
    who = "quadratic"
    lam = np.asarray(eigenvalues)
    if lam.dtype.kind not in "biuf":
        raise TypeError(f"{who}: eigenvalues must be real numbers, got dtype {lam.dtype}")
    if lam.ndim != 1 or lam.size < 1:
        raise ValueError(f"{who}: eigenvalues must be a non-empty 1-D array, got shape {lam.shape}")
    lam = np.array(lam, dtype=np.float64)
    if not np.all(np.isfinite(lam)):
        raise ValueError(f"{who}: eigenvalues must be finite")
    p = lam.size
    gen = None
    if rotate or minimizer is None or seed is not None or rng is not None:
        gen = make_rng(seed, rng, who)
    Q = random_orthogonal(gen, p) if rotate and gen is not None else np.eye(p)
    # x* after Q from the same generator (gen exists whenever minimizer is None)
    xs = gen.standard_normal(p) if minimizer is None and gen is not None else _minimizer(who, minimizer, p)
    A = (Q * lam) @ Q.T
    A = 0.5 * (A + A.T)
    return Quadratic(
        name=who,
        eigenvalues=_readonly(lam),
        Q=_readonly(Q),
        minimizer=_readonly(xs),
        A=_readonly(A),
    )

r"""One Newton-type step on linear least squares: the exact answer (rational arithmetic) and the derived
float64 bound on how far a correct float64 implementation can land from it. Shared by
``newton_one_step``, ``gn_one_step`` and ``natural_gradient_invariance`` (and the first two's
row, ``one_step_row``); nothing here calls ``reference``.

The step. L(v) = s ||Z v - y||^2 with Z = X B (B = I unless a reparametrisation is tested) has
gradient g(v) = 2 s Z^T (Z v - y) and Hessian = Gauss-Newton matrix = Gaussian Fisher
A = 2 s Z^T Z, so the step v_1 = v_0 - eta A^{-1} g(v_0) is exactly v_0 + eta (v* - v_0),
v* = (Z^T Z)^{-1} Z^T y. ``exact_step`` computes v*, v_1 and A^{-1} in exact rational arithmetic
from the float64 data (every float64 is an integer times a power of two: Z^T Z and Z^T y are
integer matrices, solved by Gauss-Jordan in ``fractions.Fraction``), so the prediction carries
no rounding at all.

The bound (``Step.bound``). A float64 implementation forms A and g, solves, and updates. With
u = 2^-53 and gamma_k = k u / (1 - k u) (Higham 2002, Lemma 3.1; (1 + gamma_a)(1 + gamma_b)
<= 1 + gamma_{a+b}, Lemma 3.3), and |Z| := |X| |B| (entrywise):

* Forming A. Each entry is an inner product of length n of terms (Z)_{ik} 2 (Z)_{il}, where a
  computed entry of Z = X B is itself an inner product of length d (exact when B = I or the
  entry is read off a unit vector), plus one rounding for the symmetrisation 0.5 (A + A^T):
  |A_hat - A| <= gamma_kA 2 s |Z|^T |Z|, kA = n + 2 d + 2 (d and d for the two Z factors, n for
  the sum, 1 for the factor 2 and the scale s, which are exact for s = 1 but counted, and 1 for
  the symmetrisation). Hence ||E_form||_2 <= gamma_kA 2 s || |Z| ||_F^2.
* Forming g. The residual Z v_0 - y takes 2 d products-and-sums (X (B v_0)) and one
  subtraction, the outer product with Z^T (computed to gamma_d) an n-term sum, and the factor 2:
  |g_hat - g| <= gamma_kg 2 s |Z|^T (|Z| |v_0| + |y|), kg = n + 3 d + 2.
* Solving. ``numpy.linalg.solve`` is Gaussian elimination with partial pivoting (LAPACK
  getrf/getrs): (A_hat + E) x_hat = b with |E| <= gamma_3d |L_hat| |U_hat| (Higham 2002,
  Thm 9.4). Partial pivoting keeps |l_ij| <= 1 and |u_ij| <= rho_d max |a_ij| with the growth
  factor rho_d <= 2^(d-1) (Higham 2002, section 9.3, Wilkinson's bound), and max |a_ij| <=
  ||A||_2, so || |L||U| ||_inf <= d^2 2^(d-1) ||A||_2 and, with ||E||_2 <= sqrt(d) ||E||_inf,
  ||E||_2 <= eps_lu ||A_hat||_2,  eps_lu = d^2.5 2^(d-1) gamma_3d.
  ``solver="cholesky"`` (reference.newton): R^T R = A_hat + dA with |dA| <= gamma_{d+1}
  |R^T| |R| (Higham 2002, Thm 10.3) and || |R^T| |R| ||_2 <= ||R||_F^2 <= d ||R||_2^2, then two
  triangular solves through ``numpy.linalg.solve`` (each eps_lu backward stable, growth bound
  as above): (R^T + D1)(R + D2) x_hat = b gives
  eps_chol = (d gamma_{d+1} + 2 eps_lu + eps_lu^2) / (1 - d gamma_{d+1}).
* Forward error of the step (Higham 2002, Thm 7.2 in its perturbation form): with
  alpha = ||E_form|| + eps_solve (||A|| + ||E_form||) and beta the bound on ||g_hat - g||,
  (A + E) x_hat = -(g + dg) and A x = -g give
  ||x_hat - x|| <= ||A^{-1}|| (beta + alpha ||x||) / (1 - ||A^{-1}|| alpha) =: D.
* The update v_0 + eta x_hat: fl(eta x_hat) adds u eta ||x_hat||, the sum u ||v_0 + eta x_hat||:
  ||v_1_hat - v_1|| <= E1 + u (||v_1|| + E1), E1 = eta D + u eta (||x|| + D).

Norms that are not computed exactly are bounded above: ||A||_2 <= ||A||_F and
||A^{-1}||_2 <= ||A^{-1}||_F (both from the exact rational matrices, rounded once), and the
float64 sums of non-negative terms (|| |Z| ||_F^2, the scale of dg) are inflated by the
gamma_k of their own k operations (``_up``). The bound is therefore a
worst case (typically 1e2-1e4 times the measured error), but every constant in it is counted
above, and any error that is not rounding (a wrong scale, a dropped factor, a damping term, a
2 % step) exceeds it by orders of magnitude.

References:
    Higham, N. J. (2002). Accuracy and Stability of Numerical Algorithms, 2nd ed., SIAM:
    Lemma 3.1 and 3.3 (gamma_k), Thm 7.2 (perturbation of a linear system), Thm 9.4 and
    section 9.3 (LU with partial pivoting, growth factor), Thm 10.3 (Cholesky).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Literal, Protocol

import numpy as np
from numpy.typing import NDArray

from ._base import Row
from ._stats import fmt

Floats = NDArray[np.float64]

U = 2.0**-53


def gamma(k: int, u: float = U) -> float:
    """Higham's gamma_k = k u / (1 - k u)."""
    return k * u / (1.0 - k * u)


def eps_lu(d: int) -> float:
    """Normwise (2-norm) relative backward error of a GEPP solve of order d (see module doc)."""
    return float(d**2.5) * 2.0 ** (d - 1) * gamma(3 * d)


def eps_cholesky(d: int) -> float:
    """Cholesky followed by two triangular solves through GEPP (see module doc)."""
    e = eps_lu(d)
    c = d * gamma(d + 1)
    return (c + 2 * e + e * e) / (1.0 - c)


def _ints(a: Any) -> tuple[NDArray[Any], int]:
    """(M, E) with a = M 2^E exactly: M an object array of Python ints (one common exponent)."""
    arr = np.asarray(a, dtype=np.float64)
    m, e = np.frexp(arr)
    mant = (m * 2.0**53).astype(np.int64)  # exact: m in [0.5, 1) has 53 significant bits
    ex = e.astype(np.int64) - 53
    E = int(ex[mant != 0].min()) if np.any(mant) else 0
    out = np.empty(arr.shape, dtype=object)
    flat = out.reshape(-1)
    for k, (q, sh) in enumerate(zip(mant.reshape(-1).tolist(), (ex - E).reshape(-1).tolist())):
        flat[k] = q << sh if q >= 0 else -((-q) << sh)
    return out, E


def _solve_and_invert(A: list[list[int]], b: list[int]) -> tuple[list[Fraction], list[list[Fraction]]]:
    """x = A^{-1} b and A^{-1}, exactly (Gauss-Jordan in rationals)."""
    n = len(A)
    M = [
        [Fraction(v) for v in A[i]] + [Fraction(int(i == j)) for j in range(n)] + [Fraction(b[i])]
        for i in range(n)
    ]
    for c in range(n):
        p = next(r for r in range(c, n) if M[r][c] != 0)
        M[c], M[p] = M[p], M[c]
        piv = M[c][c]
        M[c] = [v / piv for v in M[c]]
        for r in range(n):
            if r != c and M[r][c] != 0:
                f = M[r][c]
                M[r] = [x - f * y for x, y in zip(M[r], M[c])]
    return [row[-1] for row in M], [row[n:-1] for row in M]


def _norm(v: list[Fraction]) -> float:
    """||v||_2 of an exact vector, to within 2u (sqrt of the rounded sum of squares)."""
    return math.sqrt(float(sum(t * t for t in v)))


def _up(x: float, k: int) -> float:
    """x inflated to cover a float64 computation of k rounded operations on non-negative terms
    (relative error <= gamma_k), then rounded (one more u)."""
    return float(x) * (1.0 + gamma(k + 2))


@dataclass(frozen=True)
class Step:
    """The exact step from one float64 point and the float64 bound around it."""

    v1: tuple[Fraction, ...]  # exact v_1
    v_star: tuple[Fraction, ...]  # exact minimiser v*
    bound: float  # derived bound on ||v1_hat - v1||_2 for a float64 implementation
    step_norm: float  # ||v_1 - v_0||

    def error(self, v1_hat: Any) -> float:
        """||v1_hat - v1||_2 evaluated exactly (v1_hat a float64 vector), then rounded."""
        return _norm([Fraction(float(a)) - b for a, b in zip(np.asarray(v1_hat, dtype=np.float64), self.v1)])


@dataclass(frozen=True, eq=False)
class ExactLSQ:
    """L(v) = s ||X B v - y||^2 in exact rational arithmetic: its minimiser, A^{-1} and the norms
    that every step's bound needs (computed once; ``step`` then costs O(n d))."""

    X: Floats
    y: Floats
    B: Floats | None = None
    s: float = 1.0
    v_star: tuple[Fraction, ...] = field(init=False)  # the exact minimiser
    a_norm: float = field(init=False)  # >= ||A||_2
    ainv_norm: float = field(init=False)  # >= ||A^{-1}||_2
    e_form: float = field(init=False)  # >= ||A_hat - A||_2 (forming A in float64)
    zabs: Floats = field(init=False)  # |X| |B|

    def __post_init__(self) -> None:
        Xi, Ex = _ints(self.X)
        yi, Ey = _ints(self.y)
        if self.B is None:
            Zi, Ez, Zabs = Xi, Ex, np.abs(self.X)
        else:
            Bi, Eb = _ints(self.B)
            Zi, Ez = Xi @ Bi, Ex + Eb
            Zabs = np.abs(self.X) @ np.abs(self.B)  # float64, inflated below where it enters a bound
        ZtZ = Zi.T @ Zi  # exact Z^T Z / 2^(2 Ez)
        sol, inv = _solve_and_invert(ZtZ.tolist(), (Zi.T @ yi).tolist())
        two = Fraction(2)
        scale = 2 * Fraction(self.s) * two ** (2 * Ez)  # A = scale * ZtZ
        n, d = np.shape(self.X)
        set_ = object.__setattr__
        set_(self, "v_star", tuple(t * two ** (Ey - Ez) for t in sol))
        set_(self, "a_norm", _up(math.sqrt(float(sum(int(t) ** 2 for t in ZtZ.ravel()) * scale**2)), 2))
        set_(self, "ainv_norm", _up(math.sqrt(float(sum(t * t for row in inv for t in row) / scale**2)), 2))
        set_(
            self, "e_form", gamma(n + 2 * d + 2) * 2 * self.s * _up(float(np.sum(Zabs * Zabs)), n * d + 2 * d)
        )
        set_(self, "zabs", Zabs)

    def step(self, v0: Floats, *, eta: float = 1.0, solver: Literal["lu", "cholesky"] = "lu") -> Step:
        """The exact step v_1 = v_0 + eta (v* - v_0) and its float64 bound (module doc)."""
        n, d = np.shape(self.X)
        v_star, a_norm, ainv_norm, e_form, Zabs = (
            self.v_star,
            self.a_norm,
            self.ainv_norm,
            self.e_form,
            self.zabs,
        )
        v0f = [Fraction(float(t)) for t in v0]
        x = [a - b for a, b in zip(v_star, v0f)]  # the exact step A^{-1}(-g(v_0))
        v1 = tuple(a + Fraction(eta) * b for a, b in zip(v0f, x))
        scale_g = Zabs.T @ (Zabs @ np.abs(v0) + np.abs(self.y))
        beta = gamma(n + 3 * d + 2) * 2 * self.s * _up(float(np.linalg.norm(scale_g)), n + 5 * d)
        eps_s = eps_cholesky(d) if solver == "cholesky" else eps_lu(d)
        alpha = e_form + eps_s * (a_norm + e_form)
        xn = _up(_norm(x), 2)
        if ainv_norm * alpha >= 1:
            return Step(v1=v1, v_star=v_star, bound=math.inf, step_norm=eta * xn)
        D = ainv_norm * (beta + alpha * xn) / (1 - ainv_norm * alpha)
        e1 = eta * D + U * eta * (xn + D)
        bound = e1 + U * (_up(_norm(list(v1)), 2) + e1)
        # the few float64 operations of this formula on non-negative terms: (1 + gamma_16) covers them
        return Step(v1=v1, v_star=v_star, bound=bound * (1 + gamma(16)), step_norm=eta * _norm(x))


def exact_step(
    X: Floats,
    y: Floats,
    v0: Floats,
    *,
    B: Floats | None = None,
    eta: float = 1.0,
    s: float = 1.0,
    solver: Literal["lu", "cholesky"] = "lu",
) -> Step:
    """One exact step of L(v) = s ||X B v - y||^2 from v0 and its float64 bound."""
    return ExactLSQ(X, y, B, s).step(v0, eta=eta, solver=solver)


def designed_matrix(rng: np.random.Generator, n: int, d: int, cond: float) -> Floats:
    """X = U diag(sv) V^T with random orthonormal U (n x d), V and singular values log-spaced
    from 1 to 1/cond (cond(X) = cond up to rounding)."""
    Uo = np.linalg.qr(rng.standard_normal((n, d)))[0]
    Vo = np.linalg.qr(rng.standard_normal((d, d)))[0]
    sv = np.geomspace(1.0, 1.0 / cond, d)
    return np.asarray((Uo * sv) @ Vo.T, dtype=np.float64)


class OneStepTrial(Protocol):
    """One data set of a one-step check: the step's error from the exact answer, its bound, and
    the distance the step had to travel."""

    @property
    def error(self) -> float: ...

    @property
    def bound(self) -> float: ...

    @property
    def initial(self) -> float: ...


def one_step_row(quantity: str, trials: Sequence[OneStepTrial], solver: str) -> Row:
    """The row of ``gn_one_step`` and ``newton_one_step``: one step against the exact minimiser,
    shown for the worst data set (largest error / bound); it holds iff every error <= its bound."""
    worst = max(trials, key=lambda t: t.error / t.bound)
    return Row(
        quantity=quantity,
        predicted="w_1 = w* (exact rational solve)",
        measured=f"{fmt(worst.error / worst.bound)} (error {fmt(worst.error)}, ||w_0 - w*|| {fmt(worst.initial)})",
        tolerance=f"<= 1; bound {fmt(worst.bound)} (derived float64 rounding, {solver})",
        holds=all(t.error <= t.bound for t in trials),
    )

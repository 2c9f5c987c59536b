r"""Gauss-Newton is affine invariant, and converges linearly at the rate set by the residual
(quadratically at zero residual).

Claim:
    Note 000, "The Appeal of Gauss-Newton Methods": GN (theta_{t+1} = theta_t - G^{-1} grad L) has
    "affine invariance" and "fast convergence when fitting training data (low residual)".
    (a) With theta = A phi + b (A invertible) the Jacobians transform as J_phi = J_theta A, so
    G_phi = A^T G_theta A and grad_phi = A^T grad_theta, and the undamped step satisfies
    A delta_phi = -A (A^T G A)^{-1} A^T g = -G^{-1} g = delta_theta: A Phi_phi(phi) + b =
    Phi_theta(A phi + b), the iterates map to each other. GD's step A (-eta A^T g) is not -eta g.
    (b) Near a minimiser theta* of L = ||r(theta)||^2 with residual r* = r(theta*), e_t = theta_t - theta*
    obeys e_{t+1} = M e_t + O(e_t^2), M = -(J*^T J*)^{-1} S*, S* = sum_i r_i* nabla^2 r_i(theta*)
    (Nocedal & Wright 2006, section 10.3, eq. (10.30): ||e_{t+1}|| <= ||M|| ||e_t|| + O(||e_t||^2)): the
    rate is linear, e_{t+1}/e_t -> rho(M) (the spectral radius; ||M|| >= rho(M) is N&W's bound),
    proportional to the residual; at r* = 0, M = 0 and the rate is quadratic.

Setup:
    A nonlinear least-squares problem with a known minimiser: the quadratic-feature model
    F(theta; x_i) = a_i^T theta + (1/2) (b_i^T theta)^2, x_i = (a_i, b_i), L = sum_i (F_i - y_i)^2
    (reduction "sum"), p = 3. Nine "fit" rows (a_i ~ N(0, I), b_i ~ N(0, I/4), y_i = 0) and four
    "residual" rows (a_i = 0, b_i ~ N(0, I), y_i = sigma z_i, z_i = 1 + |N(0, 1)|): J(0)^T r(0) =
    sum_fit a_i * 0 + sum_res 0 * y_i = 0 exactly in float64, so theta* = 0 is a stationary point at
    every noise scale sigma, with residual r* = (0, -sigma z) and S* = -sigma sum_res z_i b_i b_i^T
    (negative semidefinite: M has eigenvalues in [0, rho), e does not change sign). theta* = 0 makes
    the error the iterate itself, which float64 holds with relative accuracy far below 1e-100.
    sigma is scaled so that rho(M) = 0.05, 0.2, 0.4 (design only; the prediction is recomputed).
    Instances with |lambda_2(M)| > 0.7 |lambda_1(M)| are redrawn (design only): the error aligns with
    the dominant eigenvector like (lambda_2/lambda_1)^t, and the ratio row needs that alignment.
    ``ref.gauss_newton(damping=0)`` (no line search), fed the problem.
    (a) A = Q diag(s) R, Q, R random orthogonal, s log-spaced in [1, 10] (cond(A) = 10), b ~ N(0, I);
    the problem at rho(M) = 0.2 in phi (predict(phi) = F(A phi + b), its Jacobians the reference's
    own autograd passes through A); T = 3 steps from phi_0 = A^{-1}(theta_0 - b), ||theta_0|| = 0.3.
    (b) From ||theta_0|| = 0.03 (random direction) until ||e|| < 1e-8 and the ratio's tolerance is
    below half the sharpness level (below), at most 40 steps and not below ||e|| = 1e-100 (no
    underflow in the bounds' squares); at sigma = 0 from ||theta_0|| = 0.1 until ||e|| < 1e-7.
    Quick: 1 instance; full: 4.

Measured:
    (a) For every step t of the phi-run, from theta'_t = fl(A phi_t + b) one reference step in theta,
    theta'_{t+1}; miss_t = ||A phi_{t+1} + b - theta'_{t+1}|| (evaluated in mpmath, exact). The
    control: the same with ``ref.gd(0.1)`` (GD fed autograd gradients) in both coordinates.
    (b) The prediction M from the problem's derivatives at theta* = 0 by autograd (the Jacobian and
    the Hessians of the residuals with replicated parameters: row i of Theta feeds sample i, so the
    rows of grad_Theta sum_i r_i(Theta_i) are J_i and the gradient of its column k is H_i[k, :];
    never the GN code), then in mpmath (40 digits):
    N = J^T J, S = sum_i r_i H_i, the eigenvalues of M = -N^{-1} S through the symmetric
    -L^{-1} S L^{-T}, N = L L^T. Rows, over the steps with ||e_t|| <= 3e-2: the one-step
    map ||e_{t+1} - M e_t|| / tol_t; per residual size, the last ratio ||e_{t+1}|| / ||e_t|| against
    rho(M) (all steps within tol_t, and the last tol_t <= 1 % of rho: the row is sharp);
    at sigma = 0 (window 1e-7 <= ||e_t|| <= 0.2) ||e_{t+1}|| / (K_t ||e_t||^2 + rnd_t) <= 1.
    Report: e_{t+1}/e_t^2 at sigma = 0, and N&W's ||M||_2 beside rho(M).

Tolerance:
    Derived, deterministic ("bound" rows).
    Taylor remainder (exact for this model, whose residuals are quadratic): with D(e) = diag(B e) B
    (B the rows b_i^T), J_e = J* + D(e), q_i(e) = (b_i^T e)^2 / 2: r(e) = r* + J_e e - q(e) and
    J_e^T r* = S* e (J*^T r* = 0), so e_{t+1} = -N_e^{-1} (S* e - J_e^T q(e)) and
    e_{t+1} - M e = -(N_e^{-1} - N^{-1}) S* e + N_e^{-1} J_e^T q(e). With delta = ||D(e)||_F,
    h = ||N_e - N||_F = ||J*^T D + D^T J* + D^T D||_F (both at the e of the step, in mpmath) and
    lambda = lambda_min(N) > h (Weyl: ||N_e^{-1}|| <= 1/(lambda - h)):
    K_t = h ||S*||_F ||e|| / (lambda (lambda - h)) + (||J*|| + delta) ||q(e)|| / (lambda - h).
    The ratio: | ||e_{t+1}|| - |lambda_1| ||e_t|| | <= ||(M - lambda_1 I) e_t|| + K_t + rnd_t
    (lambda_1 the eigenvalue of largest modulus; the first term vanishes as e aligns with its
    eigenvector). M from float64 autograd Hessians (each entry b_j b_k rounded once):
    ||M_hat - M|| and |lambda_hat - lambda| <= eps_M = u ||N^{-1}|| || sum_i |r_i| |b_i| |b_i|^T ||_F
    (Weyl, in the symmetric form), added per use.
    Rounding of one reference step (rnd_t; (a) in both coordinates), Higham (2002) Lemma 3.1/3.3,
    Thm 7.2, 9.4 (as ``theory_checks._lsq``): with Jabs_i = |a_i| + (|b_i|^T |v|) |b_i| and
    Rabs_i = |a_i|^T |v| + (|b_i|^T |v|)^2 / 2 + |y_i|, autograd's J_i = a_i + z_i b_i (z_i = b_i^T theta,
    p products and sums, one product, one sum) carries gamma_{kJ} Jabs, kJ = p + 2; F_i - y_i carries
    gamma_{kr} Rabs, kr = 2p + 3 (two p-term inner products, the square, the sum, the subtraction; the
    factors 1/2, 2 are exact). G = J^T (2 J) (n-term sums) and its symmetrisation:
    ||G_hat - G|| <= gamma_{n+2kJ+2} 2 ||Jabs||_F^2; grad = einsum(J, 2 (F - y)):
    ||g_hat - g|| <= gamma_{n+kJ+kr+1} 2 || Jabs^T Rabs ||; the solve eps_lu(p) ||G_hat||;
    D = ||G^{-1}|| (beta + alpha ||x||) / (1 - ||G^{-1}|| alpha), the update u (||v + x|| + D).
    In phi every quantity is evaluated at fl(A phi + b) (gamma_{p+1} (|A| |phi| + |b|)) and J is
    multiplied by A (gamma_p): Jabs -> Jabs(|A| |phi| + |b|) |A|, kJ = 4p + 5, kr = 6p + 9.
    The bound's own constants (G, ||G^{-1}||_2 <= ||G^{-1}||_F, the exact step x, r, J at the float
    point) are evaluated in float64 and doubled: their relative errors are below
    cond(G) (n + p)^2 u <= 3e-6 while cond(G) <= 1e8 (otherwise the bound is inf and the step does
    not count). The measured misses, M e_t and K_t are evaluated in mpmath (exact for float64
    inputs). (a): A phi_{t+1} + b - theta'_{t+1} = A (phi_hat - phi_exact) -
    (Phi(theta') - Phi(A phi_t + b)) - (theta'_hat - theta'_exact), so
    bound_t = ||A||_F D_phi + L_Phi ||theta' - (A phi_t + b)|| + D_theta, with the Lipschitz bound of
    the GN map Phi' = -N^{-1} (dN delta + dJ^T r):
    L_Phi <= 2 ||N^{-1}|| ||B||_F max_i ||b_i|| (2 ||J|| ||delta|| + ||r||) (factor 2: the constants at
    theta' hold on the 1e-16-long segment to A phi_t + b; doubled again for its float64 evaluation).
    The bound grows like cond(A)^3 (||A|| ||G_phi^{-1}|| ||Jabs_phi||^2).

References:
    Note 000, "The Appeal of Gauss-Newton Methods"; Nocedal, J. and Wright, S. J. (2006), Numerical
    Optimization, 2nd ed., section 10.3; Higham, N. J. (2002), Accuracy and Stability of Numerical
    Algorithms, 2nd ed., chs. 3, 7, 9.

Sabotage:
    "gd-step": GN without the (J^T J)^{-1}: the step -g / lambda_max(G) (a gradient step).
    "residual-sign": the predicted map with the residual term's sign flipped, M = +N^{-1} S*.
    "wrong-invariance": the invariance predicted with A^T in place of A^{-1} (the phi-step mapped
        to theta as A A^T delta_theta, the covariant law of a gradient).
    Planted in a copy of reference/ (``tools.mutants`` ids, this check alone): caught gn-step-2pct
    (a uniformly short step is still invariant; the map, ratio and zero-residual rows fail). Not
    caught, by design: gn-matrix-no-scale and model-grad-no-scale (reduction "sum", s = 1;
    gn_one_step catches them) and G without its symmetrisation (a rounding-level change).
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass
from typing import Any

import autograd
import autograd.numpy as anp
import numpy as np

import reference as ref
from reference.curvature.model_oracle import evaluate, gn_matrix

from ._base import CheckResult, Context, Outcome, Row, report_row
from ._lsq import eps_lu, gamma
from ._stats import fmt, trial_seeds

NAME = "gn_local_rate"
CLAIM = (
    "GN: A phi_t + b = theta_t (GD: not); e_(t+1) = M e_t + O(e^2), M = -(J^T J)^-1 sum r_i* hess r_i, "
    "ratio -> rho(M); quadratic at r* = 0"
)
SOURCE = "note 000, 'The Appeal of Gauss-Newton Methods' (affine invariance; fast at small residual)"
SABOTAGE: tuple[str, ...] = ("gd-step", "residual-sign", "wrong-invariance")
JUSTIFICATION = (
    "exact Taylor remainder of a quadratic-residual model with theta* = 0, plus counted float64 "
    "rounding of each GN step (Higham 2002); invariance: rounding bound of both steps and of the map"
)
STAT_ROWS = 0

P, N_FIT, N_RES = 3, 9, 4
N = N_FIT + N_RES
U = 2.0**-53
TARGETS = (0.05, 0.2, 0.4)  # rho(M) of the three residual sizes
INV_TARGET, INV_START, INV_STEPS, KAPPA_A, GD_LR = 0.2, 0.3, 3, 10.0, 0.1
E0, WINDOW, MAX_STEPS = 0.03, (1e-8, 3e-2), 40
E0_ZERO, ZERO_WINDOW = 0.1, (1e-7, 0.2)
SHARP = 0.01  # the ratio row's last tolerance must be <= SHARP * rho
GAP = 0.7  # instances have |lambda_2(M)| <= GAP |lambda_1(M)|
FLOOR = 1e-100  # runs stop here at the latest (no underflow in the squares of the bounds)


def _mp() -> Any:
    """mpmath's context (untyped; a dependency of the `check` extra)."""
    return importlib.import_module("mpmath").mp


@dataclass(frozen=True, eq=False)
class QuadraticFeatures:
    """The model + per-sample loss problem F(theta; x) = a^T theta + (b^T theta)^2 / 2, x = (a, b),
    l = (F - y)^2, reduction "sum" (an ``OutputModel``)."""

    X: Any
    y: Any
    dim: int = P
    output_dim: int = 1
    reduction: str = "sum"
    l2: float = 0.0

    def predict(self, params: Any, X: Any) -> Any:
        z = anp.dot(X[:, P:], params)
        return anp.reshape(anp.dot(X[:, :P], params) + 0.5 * (z * z), (-1, 1))

    def predict_rowwise(self, thetas: Any, X: Any) -> Any:
        z = anp.sum(X[:, P:] * thetas, axis=1)
        return anp.reshape(anp.sum(X[:, :P] * thetas, axis=1) + 0.5 * (z * z), (-1, 1))

    def losses_from_outputs(self, outputs: Any, y: Any) -> Any:
        r = outputs[:, 0] - y
        return r * r

    def loss(self, params: Any) -> Any:
        return anp.sum(self.losses_from_outputs(self.predict(params, self.X), self.y))

    def residuals(self, params: Any) -> Any:
        return self.predict(params, self.X)[:, 0] - self.y


@dataclass(frozen=True, eq=False)
class Affine:
    """The problem in phi, theta = A phi + b: predict (and its replicated form) composed with the map."""

    base: QuadraticFeatures
    A: Any
    b: Any

    def __getattr__(self, name: str) -> Any:
        return getattr(self.base, name)

    def predict(self, phi: Any, X: Any) -> Any:
        return self.base.predict(anp.dot(self.A, phi) + self.b, X)

    def predict_rowwise(self, phis: Any, X: Any) -> Any:
        return self.base.predict_rowwise(anp.dot(phis, self.A.T) + self.b, X)

    def loss(self, phi: Any) -> Any:
        return self.base.loss(anp.dot(self.A, phi) + self.b)


# ----------------------------------------------------------------------------------------------
# The step under test


def gn_step(problem: Any, v: Any, sabotage: str | None) -> Any:
    """One undamped GN step of the reference (sabotage "gd-step": -g / lambda_max(G) instead)."""
    if sabotage == "gd-step":
        rec = evaluate(problem, v)
        return np.asarray(v - rec.grad / float(np.linalg.eigvalsh(gn_matrix(rec))[-1]))
    opt = ref.gauss_newton(damping=0.0)
    return np.asarray(opt.step(opt.init(np.asarray(v)), problem).params)


def gd_step(problem: Any, v: Any) -> Any:
    opt = ref.gd(GD_LR)
    return np.asarray(opt.step(opt.init(np.asarray(v)), autograd.grad(problem.loss)(np.asarray(v))).params)


# ----------------------------------------------------------------------------------------------
# Exact quantities (mpmath numbers in numpy object arrays) and the rounding bound of one step


def _mpa(x: Any) -> Any:
    """The float64 array x as an object array of mpmath numbers (exact)."""
    mp = _mp()
    arr = np.asarray(x, dtype=np.float64)
    return np.array([mp.mpf(float(v)) for v in arr.ravel()], dtype=object).reshape(arr.shape)


def _norm(v: Any) -> Any:
    """Euclidean (Frobenius for a matrix) norm of an object array of mpmath numbers."""
    return _mp().sqrt(sum(t * t for t in np.asarray(v, dtype=object).ravel()))


def _inverse(G: Any) -> Any:
    mp = _mp()
    return np.array(mp.inverse(mp.matrix(G.tolist())).tolist(), dtype=object)


def _eigsy(G: Any) -> list[Any]:
    mp = _mp()
    return list(mp.eigsy(mp.matrix(((G + G.T) / 2).tolist()))[0])


@dataclass(frozen=True)
class Data:
    """The rows b_i in mpmath (exact copies of the float64 data) and ||B||_F, for K_t."""

    b: Any  # (n, p)
    b_fro: Any  # ||B||_F


def _data(X: Any) -> Data:
    b = _mpa(X[:, P:])
    return Data(b, _norm(b))


@dataclass(frozen=True)
class StepInfo:
    bound: float  # ||v_hat_{t+1} - Phi(v_t)|| <= bound (rounding of one reference step)
    lipschitz: float  # L_Phi at v (theta-problem only; nan in phi)


def _step_info(X: Any, y: Any, v: Any, A: Any = None, b: Any = None) -> StepInfo:
    """The rounding bound of the reference's step at the float point v (theta-problem if A is
    None, else the phi-problem theta = A phi + b), from the step there; see the module doc.

    Its own constants (norms, G^{-1}, the step x) are evaluated in float64 and the result doubled:
    their relative errors are below cond(G) (n + p)^2 u <= 1e-6 while cond(G) <= 1e8 (else inf)."""
    a, bb = X[:, :P], X[:, P:]
    if A is None:
        theta, vabs, kJ, kr = v, np.abs(v), P + 2, 2 * P + 3
    else:
        theta = A @ v + b
        vabs = np.abs(A) @ np.abs(v) + np.abs(b)
        kJ, kr = 4 * P + 5, 6 * P + 9
    z = bb @ theta
    J, r = a + z[:, None] * bb, a @ theta + z * z / 2 - y
    zb = np.abs(bb) @ vabs
    Jabs = np.abs(a) + zb[:, None] * np.abs(bb)
    Rabs = np.abs(a) @ vabs + zb * zb / 2 + np.abs(y)
    if A is not None:
        J, Jabs = J @ A, Jabs @ np.abs(A)
    G = 2 * (J.T @ J)
    if np.linalg.cond(G) > 1e8:
        return StepInfo(math.inf, math.inf)
    Ginv = np.linalg.inv(G)
    x = -(Ginv @ (2 * (J.T @ r)))
    c, gnorm = np.linalg.norm(Ginv), np.linalg.norm(G)
    alpha_f = gamma(N + 2 * kJ + 2) * 2 * np.linalg.norm(Jabs) ** 2
    alpha = alpha_f + eps_lu(P) * (gnorm + alpha_f)
    beta = gamma(N + kJ + kr + 1) * 2 * np.linalg.norm(Jabs.T @ Rabs)
    if 2 * c * alpha >= 1:
        return StepInfo(math.inf, math.inf)
    D = 2 * c * (beta + 2 * alpha * np.linalg.norm(x)) / (1 - 2 * c * alpha)
    bound = D + U * (2 * np.linalg.norm(v + x) + D)
    lip = math.nan
    if A is None:  # 2 ||N^{-1}|| ||B|| max ||b_i|| (2 ||J|| ||delta|| + ||r||), N^{-1} = 2 G^{-1}; doubled
        bmax = float(np.max(np.linalg.norm(bb, axis=1)))
        lip = float(
            4
            * (2 * c)
            * np.linalg.norm(bb)
            * bmax
            * (2 * np.linalg.norm(J) * np.linalg.norm(x) + np.linalg.norm(r))
        )
    return StepInfo(float(bound), float(lip))


# ----------------------------------------------------------------------------------------------
# The instance and the prediction


@dataclass(frozen=True)
class Derivatives:
    """autograd's Jacobian and Hessians of F at theta* = 0 (they do not depend on y)."""

    J: Any  # (n, p) float64
    H: Any  # (n, p, p) float64


def derivatives(X: Any) -> Derivatives:
    """J_i and H_i = nabla^2 r_i at theta* = 0 by autograd, with replicated parameters (row i of
    Theta feeds sample i only): rows of grad_Theta sum_i r_i(Theta_i) are J_i, and the gradient of its
    column k is H_i[k, :] (p + 1 backward passes)."""
    prob = QuadraticFeatures(X, np.zeros(N))
    T0 = np.zeros((N, P))

    def total(T: Any) -> Any:
        return anp.sum(prob.predict_rowwise(T, X)[:, 0] - prob.y)

    rows = autograd.grad(total)
    H = np.stack([autograd.grad(lambda T, k=k: anp.sum(rows(T)[:, k]))(T0) for k in range(P)], axis=1)
    return Derivatives(np.asarray(rows(T0)), np.asarray(H))


@dataclass(frozen=True)
class Prediction:
    """M = -N^{-1} S from autograd derivatives at theta* = 0, and the constants of K_t (mp)."""

    M: Any  # (p, p)
    J: Any  # (n, p) J* (autograd, exact in mpmath)
    lam1: Any  # the eigenvalue of largest modulus
    rho: float
    norm_m: float  # ||M||_2 (N&W's constant)
    lam_min: Any  # lambda_min(N)
    j_norm: Any  # ||J*||_2
    s_norm: Any  # ||S*||_F
    eps_m: Any


def predict(prob: QuadraticFeatures, der: Derivatives, sabotage: str | None) -> Prediction:
    """The predicted linear map from autograd's J and Hessians of the residuals at theta* = 0,
    r* = r(0) = F(0) - y (float64 values, exact in mpmath from there)."""
    mp = _mp()
    rf = _mpa(prob.residuals(np.zeros(P)))
    J, H = _mpa(der.J), _mpa(der.H)
    Nm = J.T @ J
    S = np.tensordot(rf, H, axes=1)
    babs = np.abs(_mpa(prob.X[:, P:]))
    dS = np.tensordot(np.abs(rf), babs[:, :, None] * babs[:, None, :], axes=1)
    sign = 1 if sabotage == "residual-sign" else -1
    M = sign * (_inverse(Nm) @ S)
    L = mp.cholesky(mp.matrix(Nm.tolist()))
    Li = np.array(mp.inverse(L).tolist(), dtype=object)
    E = _eigsy(sign * (Li @ S @ Li.T))
    lam1 = max(E, key=lambda t: abs(t))
    En = _eigsy(Nm)
    norm_m = float(mp.sqrt(max(_eigsy(M.T @ M))))
    eps_m = U * _norm(dS) / min(En)
    return Prediction(M, J, lam1, float(abs(lam1)), norm_m, min(En), mp.sqrt(max(En)), _norm(S), eps_m)


def remainder(d: Data, pred: Prediction, e: Any) -> float:
    """K_t: the exact Taylor remainder bound ||e_{t+1} - M e_t|| <= K_t of the module doc (inf
    where h >= lambda_min)."""
    be = d.b @ e
    D = be[:, None] * d.b  # D(e) = diag(B e) B
    JD = pred.J.T @ D
    h = _norm(JD + JD.T + D.T @ D)  # ||N_e - N||_F
    delta = _norm(D)
    lam = pred.lam_min
    if h >= lam:
        return math.inf
    q = _mp().sqrt(sum(t**4 for t in be)) / 2
    return float(h * pred.s_norm * _norm(e) / (lam * (lam - h)) + (pred.j_norm + delta) * q / (lam - h))


# ----------------------------------------------------------------------------------------------
# Trials


@dataclass(frozen=True)
class RateRun:
    rho: float  # predicted rho(M)
    norm_m: float
    errs: tuple[float, ...]
    map_dev: float  # max over window of ||e_{t+1} - M e_t|| / tol_t
    ratio: float  # the last window ratio ||e_{t+1}|| / ||e_t||
    ratio_dev: float  # max over window of |ratio - rho| / tol_t (relative tolerances)
    ratio_tol: float  # the last window tolerance on the ratio
    steps: int  # window steps


@dataclass(frozen=True)
class Trial:
    inv_ratio: float  # max_t miss_t / bound_t (GN)
    inv_miss: float
    inv_bound: float
    gd_ratio: float  # min_t GD miss_t / GN bound_t
    gd_miss: float
    kappa_a: float
    runs: tuple[RateRun, ...]
    zero_dev: float  # max over window of e_{t+1} / (K_t + rnd_t)
    zero_c: tuple[float, ...]  # e_{t+1} / e_t^2 in the window
    zero_errs: tuple[float, ...]


def _rate_run(
    prob: QuadraticFeatures, der: Derivatives, x0: Any, window: tuple[float, float], sabotage: str | None
) -> RateRun:
    """GN from x0 until ||e|| < window[0]; every step with ||e_t|| in the window against M e_t."""
    mp = _mp()
    with mp.workdps(40):
        d = _data(prob.X)
        pred = predict(prob, der, sabotage)
        shift = pred.M - pred.lam1 * np.eye(P, dtype=object)
        x = np.asarray(x0, dtype=np.float64)
        errs = [float(np.linalg.norm(x))]
        map_dev, ratio_dev, ratio, ratio_tol, steps = 0.0, 0.0, math.nan, math.nan, 0
        for _ in range(MAX_STEPS):
            x1 = gn_step(prob, x, sabotage)
            em, e1m = _mpa(x), _mpa(x1)
            ne, ne1 = _norm(em), _norm(e1m)
            errs.append(float(ne1))
            if FLOOR <= ne <= window[1]:
                K = remainder(d, pred, em)
                rnd = _step_info(prob.X, prob.y, x).bound
                tol = K + rnd + float(pred.eps_m * ne)
                if math.isfinite(tol):
                    steps += 1
                    map_dev = max(map_dev, float(_norm(e1m - pred.M @ em)) / tol)
                    ratio_tol = float((_norm(shift @ em) + K + rnd + 3 * pred.eps_m * ne) / ne)
                    ratio = float(ne1 / ne)
                    ratio_dev = max(ratio_dev, abs(ratio - pred.rho) / ratio_tol)
            x = x1
            # past the window's end only while the ratio's tolerance is not yet sharp (alignment)
            sharpen = pred.rho > 0 and not ratio_tol <= SHARP * pred.rho / 2
            if not (FLOOR <= errs[-1] < 1e3 and (errs[-1] >= window[0] or sharpen)):
                break
    return RateRun(pred.rho, pred.norm_m, tuple(errs), map_dev, ratio, ratio_dev, ratio_tol, steps)


def _invariance(
    prob: QuadraticFeatures, A: Any, b: Any, theta0: Any, sabotage: str | None
) -> tuple[float, float, float, float, float]:
    """(max_t miss/bound, the worst miss, its bound, min_t GD miss / GN bound, the smallest GD miss)."""
    mp = _mp()
    aff = Affine(prob, A, b)
    phi = np.linalg.solve(A, theta0 - b)
    worst, miss_w, bound_w, gd_ratio, gd_miss = 0.0, 0.0, math.inf, math.inf, math.inf
    with mp.workdps(40):
        Am, bm = _mpa(A), _mpa(b)
        a_norm = _norm(Am)
        for _ in range(INV_STEPS):
            th = A @ phi + b  # theta'_t = fl(A phi_t + b)
            phi1, th1 = gn_step(aff, phi, sabotage), gn_step(prob, th, sabotage)
            info_phi, info_th = _step_info(prob.X, prob.y, phi, A, b), _step_info(prob.X, prob.y, th)
            map_err = _norm(_mpa(th) - (Am @ _mpa(phi) + bm))
            bound = float(a_norm * info_phi.bound + info_th.lipschitz * map_err + info_th.bound)
            target = _mpa(th1)
            if sabotage == "wrong-invariance":  # the step transported as A A^T delta (a gradient's law)
                target = _mpa(th) + Am @ (Am.T @ (_mpa(th1) - _mpa(th)))
            miss = float(_norm(Am @ _mpa(phi1) + bm - target))
            if miss / bound >= worst:
                worst, miss_w, bound_w = miss / bound, miss, bound
            g_miss = float(_norm(Am @ _mpa(gd_step(aff, phi)) + bm - _mpa(gd_step(prob, th))))
            gd_ratio, gd_miss = min(gd_ratio, g_miss / bound), min(gd_miss, g_miss)
            phi = phi1
    return worst, miss_w, bound_w, gd_ratio, gd_miss


def _instance(rng: np.random.Generator) -> tuple[Any, Any]:
    """X (n, 2p): fit rows (a ~ N(0, I), b ~ N(0, I/4)), residual rows (a = 0, b ~ N(0, I)); and z.
    Redrawn while the second eigenvalue of M exceeds GAP times the first (design only)."""
    while True:
        a = np.vstack([rng.standard_normal((N_FIT, P)), np.zeros((N_RES, P))])
        b = np.vstack([0.5 * rng.standard_normal((N_FIT, P)), rng.standard_normal((N_RES, P))])
        z = 1.0 + np.abs(rng.standard_normal(N_RES))
        M1 = np.linalg.solve(a[:N_FIT].T @ a[:N_FIT], (b[N_FIT:].T * z) @ b[N_FIT:])
        ev = np.sort(np.abs(np.linalg.eigvals(M1)))
        if ev[-2] <= GAP * ev[-1]:
            return np.hstack([a, b]), z


def _targets(sigma: float, z: Any) -> Any:
    """y = 0 on the fit rows, sigma z on the residual rows."""
    return np.concatenate([np.zeros(N_FIT), sigma * z])


def _sigma_for(X: Any, z: Any, rho: float) -> float:
    """The noise scale that gives rho(M) = rho (design only, float64)."""
    a, b = X[:N_FIT, :P], X[N_FIT:, P:]
    M1 = np.linalg.solve(a.T @ a, (b.T * z) @ b)
    return float(rho / np.max(np.abs(np.linalg.eigvals(M1))))


def _unit(rng: np.random.Generator) -> Any:
    u = rng.standard_normal(P)
    return u / np.linalg.norm(u)


def _trial(args: tuple[np.random.SeedSequence, str | None]) -> Trial:
    seed, sabotage = args
    rng = np.random.default_rng(seed)
    X, z = _instance(rng)
    # (a) the invariance, at rho(M) = INV_TARGET
    y = _targets(_sigma_for(X, z, INV_TARGET), z)
    prob = QuadraticFeatures(X, y)
    Q = np.linalg.qr(rng.standard_normal((P, P)))[0]
    R = np.linalg.qr(rng.standard_normal((P, P)))[0]
    A = (Q * np.logspace(0, math.log10(KAPPA_A), P)) @ R
    b = rng.standard_normal(P)
    inv = _invariance(prob, A, b, INV_START * _unit(rng), sabotage)
    # (b) the local rate at three residual sizes, and at zero residual
    der = derivatives(X)
    runs = []
    for target in TARGETS:
        y = _targets(_sigma_for(X, z, target), z)
        runs.append(_rate_run(QuadraticFeatures(X, y), der, E0 * _unit(rng), WINDOW, sabotage))
    zero = _rate_run(QuadraticFeatures(X, np.zeros(N)), der, E0_ZERO * _unit(rng), ZERO_WINDOW, sabotage)
    e = np.array(zero.errs)
    c = tuple(
        float(e[k + 1] / e[k] ** 2) for k in range(e.size - 1) if ZERO_WINDOW[0] <= e[k] <= ZERO_WINDOW[1]
    )
    return Trial(*inv, float(np.linalg.cond(A)), tuple(runs), zero.map_dev, c, zero.errs)


# ----------------------------------------------------------------------------------------------
# Rows


def row_invariance(trials: list[Trial]) -> Row:
    worst = max(trials, key=lambda t: t.inv_ratio)
    return Row(
        quantity=f"GN in phi = A^-1 (theta - b): max_t ||A phi_(t+1) + b - Phi_theta(fl(A phi_t + b))|| / bound_t, t < {INV_STEPS}",
        predicted=f"0 (affine invariance), cond(A) = {fmt(worst.kappa_a)}",
        measured=f"{fmt(worst.inv_ratio)} (miss {fmt(worst.inv_miss)}, bound {fmt(worst.inv_bound)})",
        tolerance="<= 1: counted rounding of both GN steps and of the map (grows like cond(A)^3)",
        holds=all(t.inv_ratio <= 1.0 for t in trials),
    )


def row_gd_control(trials: list[Trial]) -> Row:
    worst = min(trials, key=lambda t: t.gd_ratio)
    return Row(
        quantity="control: GD (lr 0.1) in both coordinates, min_t miss_t / GN's bound_t",
        predicted="> 1: GD's phi-step maps to -lr A A^T g, not -lr g",
        measured=f"{fmt(worst.gd_ratio)} (miss {fmt(worst.gd_miss)})",
        tolerance="> 1 (the invariance test above fails for GD)",
        holds=all(t.gd_ratio > 1.0 for t in trials),
    )


def row_map(trials: list[Trial], sabotage: str | None) -> Row:
    devs = [r.map_dev for t in trials for r in t.runs]
    steps = [r.steps for t in trials for r in t.runs]
    return Row(
        quantity=f"one-step map at rho(M) = {fmt(list(TARGETS))}: max_t ||e_(t+1) - M e_t|| / tol_t on ||e_t|| in {fmt(list(WINDOW))}",
        predicted=(
            "M = +(J^T J)^-1 S*" if sabotage == "residual-sign" else "M = -(J^T J)^-1 sum_i r_i* hess r_i"
        )
        + " (autograd at theta*)",
        measured=f"{fmt(max(devs))} over {sum(steps)} steps",
        tolerance="<= 1; tol_t = exact Taylor remainder K_t + counted rounding of the step",
        holds=all(d <= 1.0 for d in devs) and min(steps) >= 3,
    )


def row_ratio(trials: list[Trial], k: int) -> Row:
    runs = [t.runs[k] for t in trials]
    worst = max(runs, key=lambda r: abs(r.ratio - r.rho) / r.ratio_tol)
    sharp = all(r.ratio_tol <= SHARP * r.rho for r in runs)
    return Row(
        quantity=f"residual size {k + 1}: last ||e_(t+1)|| / ||e_t|| on the window (linear rate)",
        predicted=f"rho(M) = {fmt(worst.rho)} (N&W's ||M||_2 = {fmt(worst.norm_m)})",
        measured=f"{worst.ratio:.10g} (max_t |ratio - rho| / tol_t = {fmt(max(r.ratio_dev for r in runs))})",
        tolerance=f"last tol {fmt(worst.ratio_tol)} (alignment + K_t + rounding; must be <= {fmt(SHARP)} rho)",
        holds=all(r.ratio_dev <= 1.0 for r in runs) and sharp,
    )


def row_zero(trials: list[Trial]) -> Row:
    cs = [c for t in trials for c in t.zero_c]
    return Row(
        quantity=f"zero residual: max_t ||e_(t+1)|| / (K_t ||e_t||^2-term + rounding) on ||e_t|| in {fmt(list(ZERO_WINDOW))}",
        predicted="M = 0: e_(t+1) = O(e_t^2) (quadratic)",
        measured=f"{fmt(max(t.zero_dev for t in trials))} (e_(t+1)/e_t^2 in [{fmt(min(cs, default=math.nan))}, {fmt(max(cs, default=math.nan))}])",
        tolerance="<= 1; exact remainder of the quadratic-residual model + counted rounding",
        holds=all(t.zero_dev <= 1.0 and len(t.zero_c) >= 2 for t in trials),
    )


def run(ctx: Context) -> Outcome:
    k = 1 if ctx.tier == "quick" else 4
    trials: list[Trial] = ctx.map(_trial, [(s, ctx.sabotage) for s in trial_seeds(ctx, k)])
    return Outcome(
        rows=(
            row_invariance(trials),
            row_gd_control(trials),
            row_map(trials, ctx.sabotage),
            *(row_ratio(trials, i) for i in range(len(TARGETS))),
            row_zero(trials),
            report_row(
                "rho(M) against N&W's ||(J^T J)^-1 S*||_2 (the norm bounds the ratio; rho is its limit)",
                "; ".join(f"{fmt(r.rho)} vs {fmt(r.norm_m)}" for r in trials[0].runs),
            ),
        ),
        figure={
            "rates": [[list(r.errs) for r in t.runs] for t in trials],
            "rho": [r.rho for r in trials[0].runs],
            "zero": [list(t.zero_errs) for t in trials],
        },
    )


def plot(result: CheckResult, path: str) -> None:
    from ._plot import save, subplots

    fig, (ax,) = subplots()
    f = result.figure
    for i, rho in enumerate(f["rho"]):
        for j, trial in enumerate(f["rates"]):
            e = np.maximum(np.array(trial[i]), 1e-300)
            ax.semilogy(e, color=f"C{i}", alpha=0.7, label=f"rho(M) = {rho:.2g}" if j == 0 else None)
            if j == 0:
                ax.semilogy(e[0] * rho ** np.arange(e.size), "--", color=f"C{i}", lw=0.8)
    for j, e in enumerate(f["zero"]):
        ax.semilogy(
            np.maximum(np.array(e), 1e-300), color="k", alpha=0.7, label="zero residual" if j == 0 else None
        )
    ax.set_xlabel("GN step t")
    ax.set_ylabel("||theta_t - theta*||")
    ax.set_ylim(1e-12, 1)
    ax.legend()
    save(fig, path, result.claim)

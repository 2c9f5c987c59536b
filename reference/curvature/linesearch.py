r"""Line searches: Armijo backtracking and strong Wolfe. Spec: specs/linesearch.md, (LS1)-(LS7).

Along a descent direction d from x (grad f(x) . d < 0):

    phi(alpha) = f(x + alpha d),   phi'(alpha) = grad f(x + alpha d) . d              (LS1)
    phi(alpha) <= phi(0) + c1 alpha phi'(0)                    sufficient decrease    (LS2)
    |phi'(alpha)| <= c2 |phi'(0)|                              strong curvature       (LS3)
    backtracking: alpha <- rho alpha  (or the minimiser of a quadratic/cubic model)   (LS4)
    bracketing (N&W Alg. 3.5): expand alpha_{i+1} = min(2 alpha_i, alpha_max) until
        (LS2) fails, phi stops decreasing or phi' >= 0, then zoom                     (LS5)
    zoom trial (N&W Alg. 3.6): safeguarded cubic, quadratic or bisection step
        inside [alpha_lo, alpha_hi]                                                   (LS6)
    zoom update: shrink [alpha_lo, alpha_hi] keeping phi(alpha_lo) the lowest
        sufficient-decrease value and phi'(alpha_lo)(alpha_hi - alpha_lo) < 0        (LS7)

``armijo`` returns a step satisfying (LS2); ``strong_wolfe`` one satisfying (LS2) and (LS3), with
0 < c1 < c2 < 1. Both are pure functions of (oracle, x, d) apart from the oracle's evaluation
counters. The trial rule of the zoom (quadratic interpolation first, then cubic through the last
three points, safeguarded by 10 % and 20 % of the interval, bisection as a fallback) is the one
scipy.optimize.line_search (``line_search_wolfe2``) uses, so the two return the same step to
rounding; ``armijo(..., method="interpolate")`` is N&W section 3.5's quadratic-then-cubic
backtracking, the same as ``scipy.optimize._linesearch.scalar_search_armijo`` until a safeguard
fires (scipy evaluates a rejected cubic step before halving and then keeps that step's value
beside the halved step; here the halved step replaces the cubic one before it is evaluated).

Conventions:
    * defaults c1 = 1e-4, c2 = 0.9 (N&W p. 34 and 39; scipy, torch.optim.LBFGS, optax).
    * a failed search (iteration budget exhausted, or rounding makes (LS2) unreachable) returns
      ``converged=False`` and the best sufficient-decrease step seen (alpha = 0 if none); the
      methods then stop moving rather than raise.
    * differentiable by autograd for a fixed sequence of decisions: the trial steps are formed
      with ``autograd.numpy`` from phi and phi' (an interpolated step is a smooth function of x
      and d), every test (LS2), (LS3), the safeguards and the bracketing compare the unboxed
      values (``autograd.tracer.getval``), so a traced search takes the same branches as an
      untraced one and autograd differentiates the branch taken.

References:
    Nocedal, J. and Wright, S. J. (2006). Numerical Optimization, 2nd ed., Springer.
        Section 3.1 (Wolfe conditions, eqs. 3.6-3.7), Alg. 3.1 (backtracking), section 3.5
        (interpolation, eqs. 3.57-3.59; Alg. 3.5 and 3.6).
    Note 004 ("Step Size Selection": line search).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import autograd.numpy as anp
import numpy as np
from autograd.tracer import getval

from .._types import Array
from ..oracle import FunctionOracle

ArmijoMethod = Literal["backtrack", "interpolate"]


class LineSearchError(ValueError):
    """The direction is not a descent direction, or the search was called with bad arguments."""


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class LineSearchResult:
    """The outcome of a line search along d from x.

    alpha: the accepted step (0.0 if none was found).
    value: phi(alpha) = f(x + alpha d).
    grad: grad f(x + alpha d) when the search computed it (always for strong Wolfe), else None.
    n_value, n_grad: evaluations spent by this search.
    first_accepted: the first trial step alpha0 was accepted.
    converged: the conditions hold at alpha.
    """

    alpha: float
    value: float
    grad: Array | None
    n_value: int
    n_grad: int
    first_accepted: bool
    converged: bool


class _Phi:
    """phi and phi' along the ray (LS1), with a cache of the gradients it has computed."""

    def __init__(self, oracle: FunctionOracle, x: Array, d: Array) -> None:
        self.oracle, self.x, self.d = oracle, x, d
        self.n_value = 0
        self.n_grad = 0
        self.grads: dict[float, Array] = {}  # keyed by the (unboxed) step

    def value(self, alpha: float) -> float:
        self.n_value += 1
        return self.oracle.value(self.x + alpha * self.d)  # (LS1)

    def slope(self, alpha: float) -> float:
        self.n_grad += 1
        g = self.oracle.grad(self.x + alpha * self.d)
        self.grads[float(getval(alpha))] = g
        dphi: float = anp.dot(g, self.d)  # (LS1)
        return dphi


def sufficient_decrease(phi_a: float, alpha: float, phi0: float, dphi0: float, c1: float) -> bool:
    """The Armijo condition phi(alpha) <= phi(0) + c1 alpha phi'(0) (a decision: unboxed values)."""
    phi_a, alpha, phi0, dphi0 = getval(phi_a), getval(alpha), getval(phi0), getval(dphi0)
    return bool(phi_a <= phi0 + c1 * alpha * dphi0)  # (LS2)


def strong_curvature(dphi_a: float, dphi0: float, c2: float) -> bool:
    """The strong curvature condition |phi'(alpha)| <= c2 |phi'(0)| (a decision: unboxed values)."""
    dphi_a, dphi0 = getval(dphi_a), getval(dphi0)
    return bool(abs(dphi_a) <= -c2 * dphi0)  # (LS3)


def _check_common(name: str, x: Array, d: Array, g0: Array, c1: float, alpha0: float) -> float:
    if d.shape != x.shape or g0.shape != x.shape:
        raise LineSearchError(
            f"{name}: x, d and g0 must have the same shape, got {x.shape}, {d.shape}, {g0.shape}"
        )
    if not (0.0 < c1 < 1.0):
        raise LineSearchError(f"{name}: c1 must be in (0, 1), got {c1!r}")
    a0 = getval(alpha0)
    if not (math.isfinite(a0) and a0 > 0):
        raise LineSearchError(f"{name}: alpha0 must be a finite number > 0, got {a0!r}")
    dphi0: float = anp.dot(g0, d)
    if not getval(dphi0) < 0:
        raise LineSearchError(
            f"{name}: d is not a descent direction (grad f(x) . d = {getval(dphi0)!r} must be < 0)"
        )
    return dphi0


def _next_trial(
    method: ArmijoMethod,
    i: int,
    rho: float,
    f0: float,
    dphi0: float,
    a_prev: Any,
    f_prev: float,
    a: Any,
    fa: float,
) -> Any:
    """``armijo``'s trial after the rejected step a (the (i+1)-th contraction; a_prev the one before)."""
    if method == "backtrack":
        return rho * a  # (LS4)
    if i == 0:  # minimiser of the quadratic through phi(0), phi'(0), phi(alpha0) (N&W 3.58)
        a_new = -dphi0 * a * a / (2.0 * (fa - f0 - dphi0 * a))  # (LS4)
    else:  # minimiser of the cubic through phi(0), phi'(0), phi(a_prev), phi(a) (N&W 3.59)
        r1 = fa - f0 - dphi0 * a
        r0 = f_prev - f0 - dphi0 * a_prev
        den = a_prev**2 * a**2 * (a - a_prev)
        ca = (a_prev**2 * r1 - a**2 * r0) / den
        cb = (-(a_prev**3) * r1 + a**3 * r0) / den
        a_new = (-cb + anp.sqrt(anp.abs(cb * cb - 3.0 * ca * dphi0))) / (3.0 * ca)
    av, anew = getval(a), getval(a_new)
    if i > 0 and ((av - anew) > av / 2.0 or (1.0 - anew / av) < 0.96):
        a_new = a / 2.0  # the model's step is too close to, or too far below, the last one
    return a_new


def armijo(
    oracle: FunctionOracle,
    x: Array,
    d: Array,
    *,
    f0: float | None = None,
    g0: Array | None = None,
    alpha0: float = 1.0,
    c1: float = 1e-4,
    rho: float = 0.5,
    method: ArmijoMethod = "backtrack",
    max_iter: int = 60,
) -> LineSearchResult:
    """Backtracking line search for (LS2) (N&W Alg. 3.1, or section 3.5's interpolation).

    Args:
        oracle: evaluates f and grad f.
        x, d: the point and a descent direction.
        f0, g0: f(x) and grad f(x) if already known (saves evaluations).
        alpha0: the first trial step (> 0).
        c1: sufficient-decrease constant in (0, 1).
        rho: contraction factor in (0, 1) of ``method="backtrack"``: alpha <- rho alpha.
        method: "backtrack" (Alg. 3.1) or "interpolate" (quadratic then cubic model, eqs.
            3.58-3.59, with alpha reset to alpha/2 when the model's step is too small or too
            close to the previous one: scipy's ``scalar_search_armijo``).
        max_iter: trial steps after the first.
    """
    if not (0.0 < rho < 1.0):
        raise LineSearchError(f"armijo: rho must be in (0, 1), got {rho!r}")
    if method not in ("backtrack", "interpolate"):
        raise LineSearchError(f"armijo: method must be 'backtrack' or 'interpolate', got {method!r}")
    if f0 is None or g0 is None:
        f0, g0 = oracle.value_and_grad(x)
    dphi0 = _check_common("armijo", x, d, g0, c1, alpha0)
    phi = _Phi(oracle, x, d)
    a_prev, f_prev = alpha0, phi.value(alpha0)
    if sufficient_decrease(f_prev, a_prev, f0, dphi0, c1):
        return LineSearchResult(
            alpha=a_prev, value=f_prev, grad=None, n_value=1, n_grad=0, first_accepted=True, converged=True
        )
    a, fa = a_prev, f_prev
    for i in range(max_iter):
        a_new = _next_trial(method, i, rho, f0, dphi0, a_prev, f_prev, a, fa)
        f_new = phi.value(a_new)
        if sufficient_decrease(f_new, a_new, f0, dphi0, c1):
            return LineSearchResult(
                alpha=a_new,
                value=f_new,
                grad=None,
                n_value=phi.n_value,
                n_grad=0,
                first_accepted=False,
                converged=True,
            )
        a_prev, f_prev, a, fa = a, fa, a_new, f_new
        if getval(a) == 0.0:
            break
    return LineSearchResult(
        alpha=0.0, value=f0, grad=g0, n_value=phi.n_value, n_grad=0, first_accepted=False, converged=False
    )


def _quadratic_min(a: float, fa: float, dfa: float, b: float, fb: float) -> float | None:
    """Minimiser of the quadratic with value fa and slope dfa at a and value fb at b."""
    db = b - a
    curv = (fb - fa - dfa * db) / (db * db)
    if not (math.isfinite(getval(curv)) and getval(curv) != 0.0):
        return None
    xmin = a - dfa / (2.0 * curv)
    return xmin if math.isfinite(getval(xmin)) else None


def _cubic_min(a: float, fa: float, dfa: float, b: float, fb: float, c: float, fc: float) -> float | None:
    """Minimiser of the cubic with value fa and slope dfa at a and values fb at b, fc at c."""
    db, dc = b - a, c - a
    denom = (db * dc) ** 2 * (db - dc)
    rb, rc = fb - fa - dfa * db, fc - fa - dfa * dc
    if getval(denom) == 0.0 or not math.isfinite(getval(denom)):
        return None
    ca = (dc**2 * rb - db**2 * rc) / denom
    cb = (-(dc**3) * rb + db**3 * rc) / denom
    radical = cb * cb - 3.0 * ca * dfa
    ca_v, rad_v = getval(ca), getval(radical)
    if not (math.isfinite(ca_v) and math.isfinite(rad_v)) or rad_v < 0 or ca_v == 0.0:
        return None
    xmin = a + (-cb + anp.sqrt(radical)) / (3.0 * ca)
    return xmin if math.isfinite(getval(xmin)) else None


def strong_wolfe(
    oracle: FunctionOracle,
    x: Array,
    d: Array,
    *,
    f0: float | None = None,
    g0: Array | None = None,
    alpha0: float = 1.0,
    c1: float = 1e-4,
    c2: float = 0.9,
    alpha_max: float = math.inf,
    max_bracket: int = 10,
    max_zoom: int = 10,
) -> LineSearchResult:
    """A step satisfying the strong Wolfe conditions (LS2)-(LS3): N&W Alg. 3.5 with zoom Alg. 3.6.

    Args:
        oracle, x, d, f0, g0, alpha0: as in ``armijo``.
        c1, c2: 0 < c1 < c2 < 1 (defaults 1e-4 and 0.9, for quasi-Newton methods; 0.1 suits
            nonlinear conjugate gradient).
        alpha_max: the largest step tried (> 0).
        max_bracket: trial steps of the bracketing phase (scipy's ``maxiter`` = 10).
        max_zoom: trial steps inside one zoom (scipy: 10).
    """
    if not (0.0 < c2 < 1.0) or not c1 < c2:
        raise LineSearchError(f"strong_wolfe: need 0 < c1 < c2 < 1, got c1={c1!r}, c2={c2!r}")
    if not alpha_max > 0:
        raise LineSearchError(f"strong_wolfe: alpha_max must be > 0, got {alpha_max!r}")
    if f0 is None or g0 is None:
        f0, g0 = oracle.value_and_grad(x)
    dphi0 = _check_common("strong_wolfe", x, d, g0, c1, alpha0)
    phi = _Phi(oracle, x, d)
    a_prev, f_prev, df_prev = 0.0, f0, dphi0
    a = _capped(alpha0, alpha_max)
    f_a = phi.value(a)
    for i in range(max_bracket):
        if not sufficient_decrease(f_a, a, f0, dphi0, c1) or (
            i > 0 and getval(f_a) >= getval(f_prev)
        ):  # (LS5)
            return _zoom(phi, f0, g0, dphi0, c1, c2, max_zoom, a_prev, f_prev, df_prev, a, f_a)
        df_a = phi.slope(a)
        if strong_curvature(df_a, dphi0, c2):
            return _done(phi, g0, a, f_a, True, first=(i == 0))
        if getval(df_a) >= 0:
            return _zoom(phi, f0, g0, dphi0, c1, c2, max_zoom, a, f_a, df_a, a_prev, f_prev)
        if getval(a) >= alpha_max:
            break
        a_prev, f_prev, df_prev = a, f_a, df_a
        a = _capped(2.0 * a, alpha_max)
        f_a = phi.value(a)
    return _done(phi, g0, a_prev, f_prev, False)


def _capped(alpha: Any, alpha_max: float) -> Any:
    """min(alpha, alpha_max), the choice made on the unboxed value."""
    return alpha_max if alpha_max < getval(alpha) else alpha


def _done(
    phi: _Phi, g0: Array, alpha: float, value: float, ok: bool, first: bool = False
) -> LineSearchResult:
    grad = g0 if getval(alpha) == 0.0 else phi.grads.get(float(getval(alpha)))
    if grad is None:
        phi.n_grad += 1
        grad = phi.oracle.grad(phi.x + alpha * phi.d)
    return LineSearchResult(
        alpha=alpha,
        value=value,
        grad=grad,
        n_value=phi.n_value,
        n_grad=phi.n_grad,
        first_accepted=first,
        converged=ok,
    )


def _zoom(
    phi: _Phi,
    f0: float,
    g0: Array,
    dphi0: float,
    c1: float,
    c2: float,
    max_zoom: int,
    a_lo: float,
    f_lo: float,
    df_lo: float,
    a_hi: float,
    f_hi: float,
) -> LineSearchResult:
    """N&W Alg. 3.6: phi(a_lo) is the lowest sufficient-decrease value seen, the minimiser
    sought lies between a_lo and a_hi, and phi'(a_lo)(a_hi - a_lo) < 0."""
    a_rec, f_rec = 0.0, f0
    for j in range(max_zoom + 1):
        width = a_hi - a_lo
        # the safeguards are decisions: taken on the unboxed values
        left, right = min(getval(a_lo), getval(a_hi)), max(getval(a_lo), getval(a_hi))
        a_j: float | None = None
        if j > 0:  # cubic through (lo, f_lo, f'_lo), (hi, f_hi), (rec, f_rec)
            a_j = _cubic_min(a_lo, f_lo, df_lo, a_hi, f_hi, a_rec, f_rec)  # (LS6)
            guard = 0.2 * abs(getval(width))
            if a_j is not None and not (left + guard <= getval(a_j) <= right - guard):
                a_j = None
        if a_j is None:  # quadratic through (lo, f_lo, f'_lo), (hi, f_hi), else bisection
            a_j = _quadratic_min(a_lo, f_lo, df_lo, a_hi, f_hi)
            guard = 0.1 * abs(getval(width))
            if a_j is None or not (left + guard <= getval(a_j) <= right - guard):
                a_j = a_lo + 0.5 * width
        f_j = phi.value(a_j)
        if not sufficient_decrease(f_j, a_j, f0, dphi0, c1) or getval(f_j) >= getval(f_lo):
            a_rec, f_rec, a_hi, f_hi = a_hi, f_hi, a_j, f_j  # (LS7)
        else:
            df_j = phi.slope(a_j)
            if strong_curvature(df_j, dphi0, c2):
                return _done(phi, g0, a_j, f_j, True)
            if getval(df_j) * (getval(a_hi) - getval(a_lo)) >= 0:
                a_rec, f_rec, a_hi, f_hi = a_hi, f_hi, a_lo, f_lo
            else:
                a_rec, f_rec = a_lo, f_lo
            a_lo, f_lo, df_lo = a_j, f_j, df_j
    # budget exhausted: the best sufficient-decrease point seen (a_lo; 0 if none)
    return _done(phi, g0, a_lo, f_lo, False)


def _torch_cubic(
    x1: float,
    f1: float,
    g1: float,
    x2: float,
    f2: float,
    g2: float,
    bounds: tuple[float, float] | None = None,
) -> float:
    """torch.optim.lbfgs._cubic_interpolate: the minimiser of the cubic through (x1, f1, g1) and
    (x2, f2, g2), clipped to ``bounds`` (default the interval), the midpoint if it has none (LS8)."""
    lo, hi = bounds if bounds is not None else ((x1, x2) if x1 <= x2 else (x2, x1))
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1**2 - g1 * g2
    if d2_square >= 0:
        d2 = math.sqrt(d2_square)
        if x1 <= x2:
            min_pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))  # (LS8)
        else:
            min_pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
        return min(max(min_pos, lo), hi)
    return (lo + hi) / 2.0


def torch_strong_wolfe(
    oracle: FunctionOracle,
    x: Array,
    d: Array,
    *,
    f: float,
    g: Array,
    gtd: float,
    t: float,
    c1: float = 1e-4,
    c2: float = 0.9,
    tolerance_change: float = 1e-9,
    max_ls: int = 25,
) -> LineSearchResult:
    """torch.optim.lbfgs._strong_wolfe, step for step (specs/linesearch.md, (LS8)-(LS10)).

    From x along d with f = f(x), g = grad f(x), gtd = g . d and first trial t: bracketing by
    cubic extrapolation clipped to [t + 0.01 (t - t_prev), 10 t] (LS9), then a zoom by cubic
    interpolation moved 10 % inside the bracket after insufficient progress (LS10), within
    ``max_ls`` evaluations after the first (torch passes max_eval minus the evaluations already
    spent in the ``.step`` call). Returns the bracket's low point (never raises on an ascent
    direction: torch does not check). Plain floats: not traced by autograd.

    Long because it is torch's routine transcribed branch for branch, so that the two can be read
    side by side.
    """
    d_norm = float(np.max(np.abs(d))) if d.size else 0.0
    n = 1
    f_new, g_new = oracle.value_and_grad(x + t * d)  # (LS1)
    gtd_new = float(g_new @ d)
    t_prev, f_prev, g_prev, gtd_prev = 0.0, f, g, gtd
    done, ls_iter = False, 0
    br: list[float] = []
    br_f: list[float] = []
    br_g: list[Array] = []
    br_gtd: list[float] = [gtd, gtd]
    while ls_iter < max_ls:
        if f_new > (f + c1 * t * gtd) or (ls_iter > 1 and f_new >= f_prev):  # (LS9)
            br, br_f, br_g, br_gtd = [t_prev, t], [f_prev, f_new], [g_prev, g_new], [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            br, br_f, br_g, done = [t], [f_new], [g_new], True
            break
        if gtd_new >= 0:
            br, br_f, br_g, br_gtd = [t_prev, t], [f_prev, f_new], [g_prev, g_new], [gtd_prev, gtd_new]
            break
        tmp = t
        t = _torch_cubic(
            t_prev, f_prev, gtd_prev, t, f_new, gtd_new, bounds=(t + 0.01 * (t - t_prev), t * 10)
        )
        t_prev, f_prev, g_prev, gtd_prev = tmp, f_new, g_new, gtd_new
        f_new, g_new = oracle.value_and_grad(x + t * d)
        n += 1
        gtd_new = float(g_new @ d)
        ls_iter += 1
    if ls_iter == max_ls:
        br, br_f, br_g = [0.0, t], [f, f_new], [g, g_new]
    insuf_progress = False
    low, high = (0, 1) if br_f[0] <= br_f[-1] else (1, 0)
    while not done and ls_iter < max_ls:
        if abs(br[1] - br[0]) * d_norm < tolerance_change:
            break
        t = _torch_cubic(br[0], br_f[0], br_gtd[0], br[1], br_f[1], br_gtd[1])  # (LS10)
        eps = 0.1 * (max(br) - min(br))
        if min(max(br) - t, t - min(br)) < eps:
            if insuf_progress or t >= max(br) or t <= min(br):
                t = max(br) - eps if abs(t - max(br)) < abs(t - min(br)) else min(br) + eps
                insuf_progress = False
            else:
                insuf_progress = True
        else:
            insuf_progress = False
        f_new, g_new = oracle.value_and_grad(x + t * d)
        n += 1
        gtd_new = float(g_new @ d)
        ls_iter += 1
        if f_new > (f + c1 * t * gtd) or f_new >= br_f[low]:
            br[high], br_f[high], br_g[high], br_gtd[high] = t, f_new, g_new, gtd_new
            low, high = (0, 1) if br_f[0] <= br_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (br[high] - br[low]) >= 0:
                br[high], br_f[high], br_g[high], br_gtd[high] = br[low], br_f[low], br_g[low], br_gtd[low]
            br[low], br_f[low], br_g[low], br_gtd[low] = t, f_new, g_new, gtd_new
    return LineSearchResult(
        alpha=br[low],
        value=br_f[low],
        grad=br_g[low],
        n_value=n,
        n_grad=n,
        first_accepted=done and n == 1,
        converged=done,
    )


def _optax_cubicmin(a: float, fa: float, fpa: float, b: float, fb: float, c: float, fc: float) -> float:
    """optax's ``_cubicmin`` (scipy's): NaN when the cubic has no minimiser (then never chosen)."""
    with np.errstate(all="ignore"):
        db, dc = b - a, c - a
        denom = (db * dc) ** 2 * (db - dc)
        rb, rc = fb - fa - fpa * db, fc - fa - fpa * dc
        ca = np.float64(dc**2 * rb - db**2 * rc) / denom
        cb = np.float64(-(dc**3) * rb + db**3 * rc) / denom
        radical = cb * cb - 3.0 * ca * fpa
        return float(a + (-cb + np.sqrt(radical)) / (3.0 * ca))


def _optax_quadmin(a: float, fa: float, fpa: float, b: float, fb: float) -> float:
    """optax's ``_quadmin``: the minimiser of the quadratic through (a, fa, fpa) and (b, fb)."""
    with np.errstate(all="ignore"):
        db = b - a
        curv = np.float64(fb - fa - fpa * db) / (db**2)
        return float(a - fpa / (2.0 * curv))


@dataclass(frozen=True)
class _ZoomConstants:
    c1: float
    c2: float
    approx_dec_rtol: float | None
    tol: float

    def errors(self, a: float, v: float, s: float, v0: float, s0: float) -> tuple[float, float]:
        """optax's decrease and curvature errors of a trial (LS11); NaN counts as inf."""
        dec = v - v0 - self.c1 * a * s0  # (LS11)
        if self.approx_dec_rtol is not None:
            approx = max(s - (2 * self.c1 - 1.0) * s0, v - v0 - self.approx_dec_rtol * abs(v0))
            dec = min(approx, dec)
        curv = abs(s) - self.c2 * abs(s0)
        return (
            math.inf if math.isnan(dec) else max(dec, 0.0),
            math.inf if math.isnan(curv) else max(curv, 0.0),
        )


def optax_zoom(
    oracle: FunctionOracle,
    x: Array,
    d: Array,
    *,
    f0: float,
    g0: Array,
    alpha0: float = 1.0,
    c1: float = 1e-4,
    c2: float = 0.9,
    max_steps: int = 20,
    max_stepsize: float | None = None,
    tol: float = 0.0,
    increase_factor: float = 2.0,
    approx_dec_rtol: float | None = 1e-6,
    interval_threshold: float = 1e-5,
) -> LineSearchResult:
    """optax.scale_by_zoom_linesearch's search, step for step (specs/linesearch.md, (LS11)-(LS13)).

    One trial per step, at most ``max_steps``: while no interval is known, alpha0 then
    ``increase_factor`` times the last trial (LS12); then a zoom whose trial is the cubic through
    (lo, hi, the last dropped end) if 20 % inside, else the quadratic if 10 % inside, else the
    midpoint (LS13). The errors (LS11) combine Armijo's decrease with Hager-Zhang's approximate
    decrease (``approx_dec_rtol``; None: Armijo only). On failure (budget exhausted, or the interval
    shorter than ``interval_threshold`` with a safe step known) it returns the lowest step with
    zero decrease error seen (the "safe" step) if there is one, else the last trial: optax always
    moves. Plain floats: not traced by autograd.

    Long because it is optax's two-phase state machine transcribed in one loop, so that the two can
    be read side by side.
    """
    k = _ZoomConstants(c1, c2, approx_dec_rtol, tol)
    s0 = float(g0 @ d)
    a_cur, v_cur, g_cur, s_cur = 0.0, f0, g0, s0
    lo, v_lo, s_lo, hi, v_hi = 0.0, f0, s0, 0.0, f0  # (optax also keeps the slope at hi, unused)
    ref, v_ref = 0.0, f0
    safe, v_safe, g_safe = 0.0, f0, g0
    found = done = failed = False
    dec = math.inf
    count = 0
    while not (done or failed):
        if not found:  # (LS12)
            a_new = alpha0 if count == 0 else increase_factor * a_cur
            max_reached = max_stepsize is not None and a_new >= max_stepsize
            if max_stepsize is not None:
                a_new = min(a_new, max_stepsize)
            v_new, g_new = oracle.value_and_grad(x + a_new * d)  # (LS1)
            s_new = float(g_new @ d)
            dec, curv = k.errors(a_new, v_new, s_new, f0, s0)
            if dec <= tol:
                safe, v_safe, g_safe = a_new, v_new, g_new
            to_high = dec > 0.0 or (v_new >= v_cur and count > 0)
            to_low = s_new >= 0.0 and not to_high
            if to_low:
                lo, v_lo, s_lo, hi, v_hi = a_new, v_new, s_new, a_cur, v_cur
            else:
                lo, v_lo, s_lo, hi, v_hi = a_cur, v_cur, s_cur, a_new, v_new
            found = to_high or to_low or max(dec, curv) <= tol
            done = max(dec, curv) <= tol or (max_reached and not found)
            failed = count + 1 >= max_steps and not done
            ref, v_ref = lo, v_lo
        else:  # (LS13)
            delta = abs(hi - lo)
            left, right = min(hi, lo), max(hi, lo)
            a_new = _optax_cubicmin(lo, v_lo, s_lo, hi, v_hi, ref, v_ref)
            if not (left + 0.2 * delta < a_new < right - 0.2 * delta):
                a_new = _optax_quadmin(lo, v_lo, s_lo, hi, v_hi)
                if not (left + 0.1 * delta < a_new < right - 0.1 * delta):
                    a_new = (lo + hi) / 2.0
            v_new, g_new = oracle.value_and_grad(x + a_new * d)
            s_new = float(g_new @ d)
            dec, curv = k.errors(a_new, v_new, s_new, f0, s0)
            if dec <= tol and v_new < v_safe:
                safe, v_safe, g_safe = a_new, v_new, g_new
            done = max(dec, curv) <= tol
            to_high = dec > 0.0 or v_new >= v_lo
            hi_to_lo = s_new * (hi - lo) >= 0.0 and not to_high
            ref, v_ref = (hi, v_hi) if (to_high or hi_to_lo) else (lo, v_lo)
            if to_high:
                hi, v_hi = a_new, v_new
            elif hi_to_lo:
                hi, v_hi = lo, v_lo
            if not to_high:
                lo, v_lo, s_lo = a_new, v_new, s_new
            failed = (count + 1 >= max_steps or (delta <= interval_threshold and safe > 0.0)) and not done
        a_cur, v_cur, g_cur, s_cur = a_new, v_new, g_new, s_new
        count += 1
        if failed and (safe > 0.0 or math.isinf(dec)):
            a_cur, v_cur, g_cur = safe, v_safe, g_safe
    return LineSearchResult(
        alpha=a_cur,
        value=v_cur,
        grad=g_cur,
        n_value=count,
        n_grad=count,
        first_accepted=done and count == 1,
        converged=done,
    )


def wolfe_order(algo: str, c1: float, c2: float) -> None:
    """The rule between a record's Wolfe constants, each already in (0, 1): c1 < c2 (ValueError).

    For the ``validate`` of the records of newton, bfgs and lbfgs (``reference/_hyper.py``).
    """
    if not getval(c1) < getval(c2):
        raise ValueError(f"{algo}: c1 must be < c2 (0 < c1 < c2 < 1), got c1={c1!r}, c2={c2!r}")


def wolfe_conditions(
    oracle: FunctionOracle, x: Array, d: Array, alpha: float, *, c1: float = 1e-4, c2: float = 0.9
) -> tuple[bool, bool]:
    """(sufficient decrease, strong curvature) at step ``alpha``, evaluated afresh (for tests)."""
    f0, g0 = oracle.value_and_grad(x)
    fa, ga = oracle.value_and_grad(x + alpha * d)
    dphi0 = float(g0 @ d)
    return (fa <= f0 + c1 * alpha * dphi0, abs(float(ga @ d)) <= -c2 * dphi0)


__all__ = [
    "LineSearchError",
    "LineSearchResult",
    "armijo",
    "optax_zoom",
    "strong_wolfe",
    "strong_curvature",
    "torch_strong_wolfe",
    "sufficient_decrease",
    "wolfe_conditions",
    "wolfe_order",
]

r"""Projected gradient descent onto a simple closed convex set C. Spec: specs/projected_gd.md, (PGD1)-(PGD5).

    z_t     = theta_{t-1} - eta_t g_t                                                    (PGD1)
    theta_t = Proj_C(z_t) = argmin_{x in C} ||x - z_t||                                  (PGD2)

with the projections, by the keyword ``constraint``:

    box [lo, hi]:      Proj(z) = min(max(z, lo), hi), elementwise                        (PGD3)
    ball (c, r):       Proj(z) = c + (z - c) min(1, r / ||z - c||)                       (PGD4)
    simplex {x >= 0, sum x = s}:  u = z sorted descending, rho = max{k : u_k -
        (sum_{j<=k} u_j - s)/k > 0}, tau = (sum_{j<=rho} u_j - s)/rho,
        Proj(z) = max(z - tau, 0)                                                        (PGD5)

Seed 004 ("Constrained Optimization"): the constrained problem min L(theta) s.t. theta in C; at a
minimiser the KKT conditions hold. For C a box, the fixed points of (PGD1)-(PGD2) with eta > 0 are
exactly the KKT points: grad_i L = 0 where lo_i < theta_i < hi_i, grad_i L >= 0 at theta_i = lo_i,
grad_i L <= 0 at theta_i = hi_i (multipliers mu = +-grad L on active bounds, complementary slackness).

Conventions:
    * theta_0 = Proj_C(params): ``init`` projects the starting point, so every iterate is in C.
    * eta_t is ``lr`` or ``lr(t - 1)`` for a schedule (as ``gd``).
    * ``lo``, ``hi`` (box) and ``center`` (ball) are scalars or arrays broadcastable to the shape of
      params; a bound may be infinite (-inf / inf: that side is unconstrained). The ball uses the
      Euclidean (Frobenius) norm of the whole array; the simplex needs a flat vector.
    * Written with autograd.numpy: differentiable where the projection is (almost everywhere; the
      simplex's sort and the choice of rho are discrete decisions, fixed under differentiation).

References:
    Nocedal and Wright (2006), section 16.7 (gradient projection).
    Bertsekas, D. P. (1999). Nonlinear Programming, 2nd ed., section 2.3 (projection arcs).
    Held, M., Wolfe, P. and Crowder, H. P. (1974). Validation of subgradient optimization.
        Math. Prog. 6 (the sort-based simplex projection).
    Duchi, J., Shalev-Shwartz, S., Singer, Y. and Chandra, T. (2008). Efficient projections onto
        the l1-ball for learning in high dimensions. ICML (Fig. 1).
    Seed 004 ("Constrained Optimization": Lagrange multipliers, KKT conditions, complementary
        slackness).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal

import autograd.numpy as anp
import numpy as np
from autograd.tracer import getval

from .._core import Optimizer, check_choice, check_lr, check_positive, lr_at
from .._types import Array, LearningRate

Constraint = Literal["box", "ball", "simplex"]


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class ProjectedGDState:
    """Projected gradient descent keeps only the iterate (always in C) and the step count."""

    params: Array  # theta_t
    t: int  # completed steps


@dataclass(frozen=True, eq=False)
class ConvexSet:
    """A simple closed convex set C with its Euclidean projection ``project``.

    Build it with ``box``, ``ball`` or ``simplex`` (they validate the arguments); ``project`` and
    ``contains`` take arrays of the shape the set was checked against (see ``check_shape``).
    """

    kind: Constraint
    lo: Any = -math.inf
    hi: Any = math.inf
    center: Any = 0.0
    radius: float = 1.0
    total: float = 1.0

    def project(self, z: Any) -> Any:
        """Proj_C(z) = argmin_{x in C} ||x - z||."""
        if self.kind == "box":
            return project_box(z, self.lo, self.hi)
        if self.kind == "ball":
            return project_ball(z, self.center, self.radius)
        return project_simplex(z, self.total)

    def contains(self, x: Any, tol: float = 0.0) -> bool:
        """x in C up to ``tol`` (absolute, per constraint)."""
        x = np.asarray(getval(x), dtype=np.float64)
        if self.kind == "box":
            return bool(np.all(x >= np.asarray(self.lo) - tol) and np.all(x <= np.asarray(self.hi) + tol))
        if self.kind == "ball":
            return bool(np.linalg.norm(x - np.asarray(self.center)) <= self.radius + tol)
        return bool(np.all(x >= -tol) and abs(float(np.sum(x)) - self.total) <= tol)

    def check_shape(self, shape: tuple[int, ...]) -> None:
        """Raise ValueError unless the set's arrays fit params of ``shape``."""
        where = "projected_gd"
        if self.kind == "simplex":
            if len(shape) != 1 or shape[0] < 1:
                raise ValueError(f"{where}: constraint='simplex' needs flat params of shape (p,), got shape {shape}")
            return
        names = ("lo", "hi") if self.kind == "box" else ("center",)
        for name in names:
            s = np.shape(getattr(self, name))
            try:
                out = np.broadcast_shapes(s, shape)
            except ValueError:
                out = None
            if out != shape:
                raise ValueError(f"{where}: {name} has shape {s}, which does not broadcast to the params' shape {shape}")


def _bound(name: str, value: Any) -> Any:
    raw = np.asarray(value)
    if raw.dtype.kind not in "biuf":
        raise TypeError(f"projected_gd: {name} must be real numbers, got dtype {raw.dtype}")
    arr = np.array(raw, dtype=np.float64)
    if np.any(np.isnan(arr)):
        raise ValueError(f"projected_gd: {name} must not contain NaN")
    return float(arr) if arr.ndim == 0 else arr


def box(lo: Any = -math.inf, hi: Any = math.inf) -> ConvexSet:
    """The box {x : lo <= x <= hi} (elementwise); bounds may be infinite; lo <= hi required."""
    lo_, hi_ = _bound("lo", lo), _bound("hi", hi)
    try:
        bad = np.asarray(lo_) > np.asarray(hi_)
    except ValueError:
        raise ValueError(f"projected_gd: lo has shape {np.shape(lo_)} and hi has shape {np.shape(hi_)}; they must broadcast") from None
    if np.any(bad):
        raise ValueError(f"projected_gd: lo must be <= hi elementwise (the box is empty), got lo={lo!r}, hi={hi!r}")
    return ConvexSet("box", lo=lo_, hi=hi_)


def ball(center: Any = 0.0, radius: float = 1.0) -> ConvexSet:
    """The Euclidean ball {x : ||x - center|| <= radius}, radius a finite number > 0."""
    check_positive("projected_gd", "radius", radius)
    c = _bound("center", center)
    if not np.all(np.isfinite(c)):
        raise ValueError("projected_gd: center must be finite")
    return ConvexSet("ball", center=c, radius=float(radius))


def simplex(total: float = 1.0) -> ConvexSet:
    """The simplex {x : x >= 0, sum x = total}, total a finite number > 0 (1: probabilities)."""
    check_positive("projected_gd", "total", total)
    return ConvexSet("simplex", total=float(total))


def init(params: Array, *, region: ConvexSet) -> ProjectedGDState:
    """theta_0 = Proj_C(params), t = 0 (after checking the set fits the params' shape)."""
    region.check_shape(tuple(np.shape(params)))
    return ProjectedGDState(params=region.project(params), t=0)


def step(state: ProjectedGDState, grad: Array, *, lr: LearningRate, region: ConvexSet) -> ProjectedGDState:
    """One projected gradient step, eqs. (PGD1)-(PGD2) of specs/projected_gd.md."""
    eta = lr_at(lr, state.t)
    z = state.params - eta * grad  # (PGD1)
    theta = region.project(z)  # (PGD2)
    return ProjectedGDState(params=theta, t=state.t + 1)


def project_box(z: Any, lo: Any, hi: Any) -> Any:
    """Proj onto [lo, hi]: clip elementwise."""
    return anp.minimum(anp.maximum(z, lo), hi)  # (PGD3)


def project_ball(z: Any, center: Any, radius: float) -> Any:
    """Proj onto the ball: pull z - c back to length r if it is longer (no division by zero)."""
    d = z - center
    n = anp.sqrt(anp.sum(d * d))
    return center + d * (radius / anp.maximum(n, radius))  # (PGD4)


def project_simplex(z: Any, total: float = 1.0) -> Any:
    """Proj onto {x >= 0, sum x = total} by sorting (Held et al. 1974; Duchi et al. 2008, Fig. 1)."""
    u = anp.sort(z)[::-1]
    css = anp.cumsum(u) - total
    k = np.arange(1, np.shape(z)[0] + 1, dtype=np.float64)
    rho = int(np.nonzero(np.asarray(getval(u)) - np.asarray(getval(css)) / k > 0)[0][-1]) + 1
    tau = css[rho - 1] / rho
    return anp.maximum(z - tau, 0.0)  # (PGD5)


def projected_gd(
    lr: LearningRate,
    *,
    constraint: Constraint = "box",
    lo: Any = -math.inf,
    hi: Any = math.inf,
    center: Any = 0.0,
    radius: float = 1.0,
    total: float = 1.0,
) -> Optimizer[ProjectedGDState]:
    """Projected gradient descent with step ``lr`` onto C given by ``constraint``.

    Args:
        lr: eta > 0 or a schedule.
        constraint: "box" (uses ``lo``, ``hi``; lo <= hi elementwise), "ball" (``center``,
            ``radius`` > 0) or "simplex" (``total`` > 0; flat params). Keywords of the other sets
            are ignored.
    """
    check_lr("projected_gd", lr)
    check_choice("projected_gd", "constraint", constraint, ("box", "ball", "simplex"))
    if constraint == "box":
        region = box(lo, hi)
    elif constraint == "ball":
        region = ball(center, radius)
    else:
        region = simplex(total)
    step_fn = partial(step, lr=lr, region=region)
    return Optimizer(
        name="projected_gd",
        hyperparams={"lr": lr, "constraint": constraint, "lo": lo, "hi": hi, "center": center, "radius": radius, "total": total},
        init_fn=partial(init, region=region),
        step_fn=step_fn,
    )

r"""Projected gradient descent onto a simple closed convex set C. Spec: specs/projected_gd.md, (PGD1)-(PGD5).

    z_t     = theta_{t-1} - eta_t g_t                                                    (PGD1)
    theta_t = Proj_C(z_t) = argmin_{x in C} ||x - z_t||                                  (PGD2)

with the projections, by the keyword ``constraint``:

    box [lo, hi]:      Proj(z) = min(max(z, lo), hi), elementwise                        (PGD3)
    ball (c, r):       Proj(z) = c + (z - c) min(1, r / ||z - c||)                       (PGD4)
    simplex {x >= 0, sum x = s}:  u = z sorted descending, rho = max{k : u_k -
        (sum_{j<=k} u_j - s)/k > 0}, tau = (sum_{j<=rho} u_j - s)/rho,
        Proj(z) = max(z - tau, 0)                                                        (PGD5)

Note 004 ("Constrained Optimization"): the constrained problem min L(theta) s.t. theta in C; at a
minimiser the KKT conditions hold. For C a box, the fixed points of (PGD1)-(PGD2) with eta > 0 are
exactly the KKT points: grad_i L = 0 where lo_i < theta_i < hi_i, grad_i L >= 0 at theta_i = lo_i,
grad_i L <= 0 at theta_i = hi_i (multipliers mu = +-grad L on active bounds, complementary slackness).

Conventions:
    * theta_0 = Proj_C(params): ``init`` projects the starting point, so every iterate is in C.
    * eta_t is ``lr`` or ``lr(t - 1)`` for a schedule (as ``gd``).
    * ``lo``, ``hi`` (box) and ``center`` (ball) are scalars or arrays broadcastable to the shape of
      params; a bound may be infinite (-inf / inf: that side is unconstrained). The ball uses the
      Euclidean (Frobenius) norm of the whole array; the simplex needs a flat vector.
    * Every keyword is checked whichever ``constraint`` is chosen (lo <= hi, radius > 0, ...);
      those of the other sets are then unused.
    * Written with autograd.numpy: differentiable where the projection is (almost everywhere; the
      simplex's sort and the choice of rho are discrete decisions, fixed under differentiation).

References:
    Nocedal and Wright (2006), section 16.7 (gradient projection).
    Bertsekas, D. P. (1999). Nonlinear Programming, 2nd ed., section 2.3 (projection arcs).
    Held, M., Wolfe, P. and Crowder, H. P. (1974). Validation of subgradient optimization.
        Math. Prog. 6 (the sort-based simplex projection).
    Duchi, J., Shalev-Shwartz, S., Singer, Y. and Chandra, T. (2008). Efficient projections onto
        the l1-ball for learning in high dimensions. ICML (Fig. 1).
    Note 004 ("Constrained Optimization": Lagrange multipliers, KKT conditions, complementary
        slackness).
"""

from __future__ import annotations

import math
from dataclasses import KW_ONLY, dataclass
from typing import Any, ClassVar, Literal

import autograd.numpy as anp
import numpy as np
from autograd.tracer import getval

from .._core import check_positive, lr_at, optimizer
from .._hyper import LR, POSITIVE, Hyperparams, OneOf, Range, hp, required
from .._types import Array, LearningRate

Constraint = Literal["box", "ball", "simplex"]
CONSTRAINTS: tuple[Constraint, ...] = ("box", "ball", "simplex")


@dataclass(frozen=True, repr=False)
class RealArray(Range):
    """A real number or an array of real numbers (bools refused) without NaN; ``finite``: and
    without inf. Its shape is checked against the params' at ``init``."""

    finite: bool = False

    def check(self, algo: str, name: str, value: object) -> None:
        what = f"{algo}: {name}" if algo else name
        try:
            raw = np.asarray(getval(value))
        except ValueError:  # a ragged list
            raw = np.asarray(None)
        if raw.dtype.kind not in "iuf":
            raise TypeError(f"{what} must be {self.describe()}, got {_short(value)}")
        bad = np.isnan(raw) | (~np.isfinite(raw) if self.finite else False)
        if np.any(bad):
            raise ValueError(f"{what} must be {self.describe()}, got {_short(value)}")

    def describe(self) -> str:
        if self.finite:
            return "a finite real number or array (broadcast to the params' shape)"
        return "a real number or array (broadcast to the params' shape; -inf and inf allowed, NaN not)"

    def bad_values(self) -> tuple[object, ...]:
        return ("0", True, [0.0, "a"], math.nan, [0.0, math.nan]) + ((math.inf,) if self.finite else ())

    def example(self) -> object:
        return 0.0


def _short(value: object) -> str:
    """``value`` for a one-line message: its repr, or its shape and the count of NaN/inf entries."""
    if np.ndim(getval(value)) == 0 or np.size(getval(value)) <= 6:
        return repr(value).replace("\n", "")
    raw = np.asarray(getval(value))
    if raw.dtype.kind not in "iuf":
        return f"an array of dtype {raw.dtype}"
    return f"an array of shape {raw.shape} with {int(np.sum(~np.isfinite(raw)))} non-finite entries"


@dataclass(frozen=True, eq=False)
class ProjectedGDHyperparams(Hyperparams):
    """Projected gradient descent's hyperparameters: the step and the set C."""

    ALGORITHM: ClassVar[str] = "projected_gd"
    lr: LearningRate = required(LR, "step size eta of (PGD1), or a schedule t -> eta_t (eta <= 1/L)")
    _: KW_ONLY
    constraint: Constraint = hp(
        "box",
        OneOf(CONSTRAINTS),
        'the set C of (PGD2): "box" (lo, hi, (PGD3)), '
        '"ball" (center, radius, (PGD4)) or "simplex" (total, (PGD5))',
    )
    lo: Any = hp(-math.inf, RealArray(), "lower bound of the box, (PGD3) (-inf: unbounded below)")
    hi: Any = hp(math.inf, RealArray(), "upper bound of the box, (PGD3) (inf: unbounded above); lo <= hi")
    center: Any = hp(0.0, RealArray(finite=True), "centre c of the ball, (PGD4)")
    radius: float = hp(1.0, POSITIVE, "radius r of the ball, (PGD4)")
    total: float = hp(1.0, POSITIVE, "s of the simplex {x >= 0, sum x = s}, (PGD5) (1: probabilities)")

    def validate(self) -> None:
        box(self.lo, self.hi)  # lo and hi broadcast together and lo <= hi elementwise


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
        return project(
            z,
            constraint=self.kind,
            lo=self.lo,
            hi=self.hi,
            center=self.center,
            radius=self.radius,
            total=self.total,
        )

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
                raise ValueError(
                    f"{where}: constraint='simplex' needs flat params of shape (p,), got shape {shape}"
                )
            return
        names = ("lo", "hi") if self.kind == "box" else ("center",)
        for name in names:
            s = np.shape(getattr(self, name))
            try:
                out = np.broadcast_shapes(s, shape)
            except ValueError:
                out = None
            if out != shape:
                raise ValueError(
                    f"{where}: {name} has shape {s}, which does not broadcast to the params' shape {shape}"
                )


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
        raise ValueError(
            f"projected_gd: lo has shape {np.shape(lo_)} and hi has shape {np.shape(hi_)}; they must broadcast"
        ) from None
    if np.any(bad):
        raise ValueError(
            f"projected_gd: lo must be <= hi elementwise (the box is empty), got lo > hi at "
            f"{int(np.sum(bad))} of {np.size(bad)} entries (lo={_short(lo)}, hi={_short(hi)})"
        )
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


def init(
    params: Array,
    *,
    constraint: Constraint = "box",
    lo: Any = -math.inf,
    hi: Any = math.inf,
    center: Any = 0.0,
    radius: float = 1.0,
    total: float = 1.0,
) -> ProjectedGDState:
    """theta_0 = Proj_C(params), t = 0 (after checking the set fits the params' shape)."""
    region = ConvexSet(constraint, lo=lo, hi=hi, center=center, radius=radius, total=total)
    region.check_shape(tuple(np.shape(params)))
    return ProjectedGDState(params=region.project(params), t=0)


def step(
    state: ProjectedGDState,
    grad: Array,
    *,
    lr: LearningRate,
    constraint: Constraint = "box",
    lo: Any = -math.inf,
    hi: Any = math.inf,
    center: Any = 0.0,
    radius: float = 1.0,
    total: float = 1.0,
) -> ProjectedGDState:
    """One projected gradient step, eqs. (PGD1)-(PGD2) of specs/projected_gd.md."""
    eta = lr_at(lr, state.t)
    z = state.params - eta * grad  # (PGD1)
    theta = project(  # (PGD2)
        z, constraint=constraint, lo=lo, hi=hi, center=center, radius=radius, total=total
    )
    return ProjectedGDState(params=theta, t=state.t + 1)


def project(
    z: Any, *, constraint: Constraint, lo: Any, hi: Any, center: Any, radius: float, total: float
) -> Any:
    """Proj_C(z) onto the set the keywords name (those of the other sets are unused)."""
    if constraint == "box":
        return project_box(z, lo, hi)
    if constraint == "ball":
        return project_ball(z, center, radius)
    return project_simplex(z, total)


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


projected_gd = optimizer(
    ProjectedGDHyperparams,
    init,
    step,
    "Projected gradient descent onto a box, a Euclidean ball or the simplex. "
    "See the module docstring and specs/projected_gd.md.",
)

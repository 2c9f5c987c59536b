r"""The tolerance model of conformance runs (derived in specs/conformance.md, "Tolerance model").

For step t (1-based) the peer's iterate must satisfy

    max_i |theta^peer_t[i] - theta^ref_t[i]|  <=  tol_t = C * eps_peer * t * S_t        (T1)
    S_t = max_{0 <= s <= t} max_i |theta^ref_s[i]|                                     (T2)

``eps_peer`` is the machine epsilon of the peer's dtype (``numpy.finfo(dtype).eps``: 2^-52 for
float64, 2^-23 for float32) and C = ``PER_STEP_ULPS`` = 8 for every algorithm, stream and mode.

Why: one step is theta_t = theta_{t-1} - Delta_t. The subtraction rounds with relative error
u = eps/2 of |theta_t| <= S_t; Delta_t is a product/quotient chain of at most k = 7 rounded
operations (Adam's is the longest: two EMA updates, two bias corrections, sqrt, +eps, divide,
times lr), so its rounding error is at most k u |Delta_t|, and |Delta_t| = |theta_{t-1} - theta_t|
<= 2 S_t. A float32 peer also rounds its inputs theta_0 and g_t to float32: one more u on theta_0
and, for methods whose step is at most linear in g, at most u |Delta_t| per step. The per-step error
is therefore at most (1 + 2k + 2) u S_t = 17 u S_t = 8.5 eps S_t; errors carried in the iterate
add (open loop: theta enters the next iterate additively; weight decay multiplies it by
1 - eta lambda <= 1), so after t steps the bound is t times the per-step bound. Constants below
8 eps per step were never needed in the measured runs; the figure is not tuned per case.

Assumptions under which (T1) is a bound (stated, not hidden):

* the buffers are EMAs (contracting) or sums whose relative error stays within the same budget;
* closed loop: the map theta -> theta - Delta(grad L(theta)) is non-expansive over the run (e.g.
  GD on an L-smooth convex problem with lr <= 2/L). Chaotic dynamics amplify rounding and can
  legitimately exceed (T1); conformance runs therefore use short runs and small steps;
* a sign or a max (signSGD, Lion, AMSGrad) whose argument is within rounding of a tie can flip;
  with continuous random streams this has probability of order eps per coordinate and step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import DTypeLike

from .._types import Array

#: C in (T1): machine epsilons of the peer's dtype allowed per step, relative to S_t.
PER_STEP_ULPS = 8.0


def machine_eps(dtype: DTypeLike) -> float:
    """``numpy.finfo(dtype).eps`` for a float dtype; ValueError otherwise."""
    dt = np.dtype(dtype)
    if dt.kind != "f":
        raise ValueError(f"dtype must be a floating-point dtype, got {dt}")
    return float(np.finfo(dt).eps)


@dataclass(frozen=True)
class Tolerance:
    """The bound (T1) for one peer dtype: ``tol_t = per_step * eps * t * S_t``."""

    dtype: str
    eps: float
    per_step: float = PER_STEP_ULPS

    @classmethod
    def for_dtype(cls, dtype: DTypeLike) -> "Tolerance":
        return cls(dtype=str(np.dtype(dtype)), eps=machine_eps(dtype))

    def scale(self, ref_iterates: Array) -> Array:
        """S_t of (T2) for t = 1..n, from the ``(n + 1, p)`` reference iterates theta_0..theta_n."""
        per_step = np.max(np.abs(ref_iterates), axis=1)
        return np.maximum.accumulate(per_step)[1:]

    def bounds(self, ref_iterates: Array) -> Array:
        """tol_t of (T1) for t = 1..n."""
        n = ref_iterates.shape[0] - 1
        t = np.arange(1, n + 1, dtype=np.float64)
        scale = self.scale(ref_iterates)
        # a trajectory that stays at exactly 0 still allows the smallest positive difference
        return np.maximum(self.per_step * self.eps * t * scale, np.finfo(np.float64).tiny)

    def describe(self) -> str:
        return f"{self.per_step:g} x eps({self.dtype}) = {self.per_step * self.eps:.3g} per step, x t x max|theta_ref|"


__all__ = ["PER_STEP_ULPS", "Tolerance", "machine_eps"]

r"""The tolerance of conformance verdicts (derived in specs/conformance.md, "Tolerance model").

Both sides are fed the same inputs (theta_0 and every g_t, rounded to the peer's precision), so
they differ only by their own rounding. For step t (1-based) the peer must satisfy

    max_i |theta^peer_t[i] - theta^ref_t[i]|  <=  tol_t = C * eps_peer * t * S_t        (T1)
    S_t = max_{0 <= s <= t} max_i max(|theta^ref_s[i]|, |q^ref_s[i]|)                  (T2)
    max_i |q^peer_t[i] - q^ref_t[i]|  <=  3 tol_t          (query points, when both have them)  (T3)

with C = PER_SIDE * (1 + eps_ref / eps_peer): each side's per-step rounding, in units of its
own machine epsilon (eps = ``numpy.finfo(dtype).eps``: 2^-52 float64, 2^-23 float32, 2^-10
float16, 2^-7 bfloat16; the reference computes in float64).

PER_SIDE = 3 + k, with k = CHAIN_OPS = 17. One step is theta_t = theta_{t-1} - Delta_t; with the
unit roundoff u = eps / 2, one side's error in that step is at most

* u |theta_t| <= u S_t for the update's own rounding;
* k u |Delta_t| <= 2 k u S_t for Delta_t, a chain of at most k rounded operations each of relative
  error <= u (first order; k = 17 is the longest chain among the compared algorithms: centered
  RMSprop with momentum and coupled weight decay, 4 + 3 + 2 + 3 + 2 + 1 + 2 operations for v, the
  mean gradient, v - mean^2, sqrt + eps + divide, the momentum buffer, lr, the decay), and
  |Delta_t| = |theta_{t-1} - theta_t| <= 2 S_t;
* 4 u S_t for a peer that rounds g_t itself (Delta changes by at most 2 u |Delta_t| when g is
  off by u relative: linear steps 1 u, normalised ones m / sqrt(v) 2 u) and u S_t for theta_0;

in all (1 + 2k + 4 + 1) u S_t = (3 + k) eps S_t. Errors already in theta are carried to the next
iterate additively: both sides are fed the same gradients, so an error in theta changes no
buffer (coupled weight decay multiplies it by 1 - eta lambda <= 1 in gradient steps and by at
most 1 + eta lambda / sqrt(v) in normalised ones, stated as an assumption), hence t steps give t
times the per-step bound. The query q_t = theta_t + beta v_t (look-ahead methods) carries the
error of theta_t and of v_t = theta_t - theta_{t-1}: at most (1 + 2 beta) <= 3 times (T3).

Assumptions under which (T1) is a bound (stated, not hidden): buffers are EMAs (contracting) or
sums whose relative rounding stays within the per-step budget; hyperparameter constants (1 - beta,
1 - beta^t, lr) are computed to the peer's precision; a sign or a max (signSGD, Lion, AMSGrad)
whose argument is within rounding of a tie can flip (probability of order eps per coordinate and
step on continuous random streams).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from .._types import Array

#: k: the longest chain of rounded operations from g_t to Delta_t among the compared algorithms.
CHAIN_OPS = 17
#: One side's rounding per step, in units of its machine epsilon, relative to S_t: 3 + k.
PER_SIDE = 3.0 + CHAIN_OPS
#: Machine epsilon of the reference's own arithmetic (float64).
REF_EPS = float(np.finfo(np.float64).eps)
#: C of (T1) for a float64 peer: both sides round at float64.
PER_STEP_ULPS = PER_SIDE * 2.0


def machine_eps(dtype: DTypeLike | Any) -> float:
    """``numpy.finfo(dtype).eps`` for a float dtype (bfloat16 through ml_dtypes); ValueError otherwise."""
    dt = np.dtype(dtype)
    if dt.name == "bfloat16":
        import ml_dtypes

        return float(ml_dtypes.finfo(dt).eps)  # type: ignore[no-untyped-call]
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
    def for_dtype(cls, dtype: DTypeLike | Any) -> Tolerance:
        eps = machine_eps(dtype)
        return cls(dtype=str(np.dtype(dtype)), eps=eps, per_step=PER_SIDE * (1.0 + REF_EPS / eps))

    def scale(self, *ref_points: Array) -> Array:
        """S_t of (T2) for t = 1..n, from ``(n + 1, p)`` reference iterates (and query points)."""
        per_step = np.max([np.max(np.abs(a), axis=1) for a in ref_points], axis=0)
        with np.errstate(invalid="ignore"):
            return np.fmax.accumulate(per_step)[1:]

    def bounds(self, *ref_points: Array) -> Array:
        """tol_t of (T1) for t = 1..n."""
        n = ref_points[0].shape[0] - 1
        t = np.arange(1, n + 1, dtype=np.float64)
        scale = self.scale(*ref_points)
        # a trajectory that stays at exactly 0 still allows the smallest positive difference
        return np.maximum(self.per_step * self.eps * t * scale, np.finfo(np.float64).tiny)

    def describe(self) -> str:
        return (
            f"{self.per_step:.4g} x eps({self.dtype}) = {self.per_step * self.eps:.3g} per step, "
            "x t x max|theta_ref|"
        )


__all__ = ["CHAIN_OPS", "PER_SIDE", "PER_STEP_ULPS", "REF_EPS", "Tolerance", "machine_eps"]

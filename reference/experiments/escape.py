r"""First-exit times from a potential well under Gaussian or symmetric alpha-stable gradient noise,
for any reference optimizer (note 000, "Beyond the Gaussian Approximation"; note 001, "Adam Vector
Field Theory" and its slide on why Adam dampens noise). Spec: specs/escape.md, eqs. (ES1)-(ES5).

Many independent walkers run as one batch (the rows of one iterate), each fed its own noise:

    V(x) = (dV / 2) (1 - cos(pi x / h)),  basin B = (-h, h)            (ES1)
    xi ~ N(0, 1)  or  SaS(alpha): E exp(i u xi) = exp(-|u|^alpha)       (ES2)
    g_k = V'(q_k) + sigma xi_k,  q_k = opt.query(state_(k-1))           (ES3)
    state_k = opt.step(state_(k-1), g_k)                                (ES4)
    tau = min{k >= 0 : x_k not in B}  (x_k = state_k.params)           (ES5)

(ES2)'s stable law is scipy's ``levy_stable(alpha, 0)`` (its S1 and S0 parametrisations coincide
at beta = 0), drawn by Chambers-Mallows-Stuck (``sas``; tests/test_escape.py compares it with
scipy's distribution function); at alpha = 2 it is N(0, 2), variance 2, not 1 (specs/escape.md,
Conventions). The walkers that
have left B are dropped from the batch (every array field of the state whose first axis is the
batch is indexed), so a run costs the sum of the exit times, not their maximum times the batch.

References:
    Kramers, H. A. (1940), Brownian motion in a field of force and the diffusion model of chemical
    reactions, Physica 7. Imkeller, P. and Pavlyukevich, I. (2006), First exit times of SDEs driven
    by stable Levy processes, Stochastic Processes and their Applications 116. Simsekli, U., Sagun,
    L. and Gurbuzbalaban, M. (2019), A Tail-Index Analysis of Stochastic Gradient Noise in Deep
    Neural Networks, ICML. Chambers, J. M., Mallows, C. L. and Stuck, B. W. (1976), A method for
    simulating stable random variables, JASA 71.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

LAWS = ("gaussian", "stable")


def _positive(name: str, x: object) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x) or x <= 0:
        raise ValueError(f"escape: {name} must be a finite number > 0, got {x!r}")
    return float(x)


@dataclass(frozen=True)
class Well:
    """The cosine well (ES1): depth ``depth`` (dV), half-width ``half_width`` (h); minimum at 0,
    barrier tops at -h and h, curvature dV pi^2 / (2 h^2) at the minimum and minus that at the tops."""

    depth: float
    half_width: float

    def __post_init__(self) -> None:
        _positive("depth", self.depth)
        _positive("half_width", self.half_width)

    def potential(self, x: np.ndarray) -> np.ndarray:
        out: np.ndarray = 0.5 * self.depth * (1.0 - np.cos(np.pi * x / self.half_width))  # (ES1)
        return out

    def grad(self, x: np.ndarray) -> np.ndarray:
        k = np.pi / self.half_width
        out: np.ndarray = 0.5 * self.depth * k * np.sin(k * x)  # V'(x) of (ES1)
        return out

    def inside(self, x: np.ndarray) -> np.ndarray:
        out: np.ndarray = np.abs(x) < self.half_width  # B of (ES1)
        return out


@dataclass(frozen=True, eq=False)
class Noise:
    """The noise law of (ES2): ``law`` "gaussian" (N(0, 1)) or "stable" (SaS with tail index
    ``alpha`` in (0, 2], scale 1: characteristic function exp(-|u|^alpha)), times ``scale``
    (sigma: a number, or one number per walker as a 1-D array)."""

    law: str
    scale: float | np.ndarray
    alpha: float = 2.0

    def __post_init__(self) -> None:
        if self.law not in LAWS:
            raise ValueError(f"escape: law must be one of {LAWS}, got {self.law!r}")
        sc = np.asarray(self.scale, dtype=np.float64) if _real_array(self.scale) else None
        if sc is None or sc.ndim > 1 or sc.size == 0 or not np.all(np.isfinite(sc) & (sc > 0)):
            raise ValueError(
                f"escape: scale must be a finite number > 0 or a 1-D array of them, got {self.scale!r}"
            )
        if (
            isinstance(self.alpha, bool)
            or not isinstance(self.alpha, (int, float))
            or not 0 < self.alpha <= 2
        ):
            raise ValueError(f"escape: alpha must be a number in (0, 2], got {self.alpha!r}")

    def draw(self, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        """sigma xi, xi of (ES2), with the given shape (a per-walker scale runs along the last axis)."""
        out: np.ndarray = np.asarray(self.scale) * standard_noise(self.law, self.alpha, shape, rng)
        return out


def _real_array(x: object) -> bool:
    if isinstance(x, bool):
        return False
    if isinstance(x, (int, float)):
        return True
    return isinstance(x, np.ndarray) and x.dtype.kind in "iuf"


def sas(alpha: float, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """Standard symmetric alpha-stable draws, characteristic function exp(-|u|^alpha), by
    Chambers, Mallows & Stuck (1976): with U ~ Uniform(-pi/2, pi/2) and W ~ Exp(1) independent,
    X = sin(alpha U) / cos(U)^(1/alpha) (cos((1 - alpha) U) / W)^((1 - alpha)/alpha); at alpha = 1
    this is tan(U) (Cauchy) and at alpha = 2 it is 2 sin(U) sqrt(W), i.e. N(0, 2)."""
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 < alpha <= 2:
        raise ValueError(f"escape: alpha must be a number in (0, 2], got {alpha!r}")
    u = rng.uniform(-np.pi / 2, np.pi / 2, shape)
    w = rng.exponential(1.0, shape)
    if alpha == 1.0:
        return np.tan(u)
    out: np.ndarray = (
        np.sin(alpha * u)
        / np.cos(u) ** (1.0 / alpha)
        * (np.cos((1.0 - alpha) * u) / w) ** ((1.0 - alpha) / alpha)
    )
    return out


def standard_noise(law: str, alpha: float, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """xi of (ES2): N(0, 1) draws, or ``sas`` draws (scale 1; N(0, 2) at alpha = 2), from ``rng``."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"escape: rng must be a numpy.random.Generator, got {type(rng).__name__}")
    if law == "gaussian":
        return rng.standard_normal(shape)
    if law == "stable":
        return sas(alpha, shape, rng)  # (ES2)
    raise ValueError(f"escape: law must be one of {LAWS}, got {law!r}")


@dataclass(frozen=True)
class Exits:
    """First-exit times (ES5) of a batch of walkers, in steps: ``times[i]`` for walker i, or
    ``max_steps + 1`` for a walker still inside after ``max_steps`` steps (``censored`` counts them)."""

    times: np.ndarray
    censored: int
    max_steps: int


def _select(state: Any, keep: np.ndarray, n: int) -> Any:
    """The state of the walkers ``keep``: every array field whose first axis is the batch of n is
    indexed, the rest (t, scalars, None) is kept."""
    changes = {}
    for f in dataclasses.fields(state):
        val = getattr(state, f.name)
        if isinstance(val, np.ndarray) and val.ndim >= 1 and val.shape[0] == n:
            changes[f.name] = val[keep]
    return dataclasses.replace(state, **changes)


def exit_times(
    opt: Any,
    well: Well,
    noise: Noise,
    x0: np.ndarray,
    rng: np.random.Generator,
    *,
    max_steps: int,
    chunk: int = 64,
) -> Exits:
    """Run the walkers started at ``x0`` (one per entry) under (ES3)-(ES4) with the optimizer
    ``opt`` (any reference method fed a gradient, e.g. ``ref.sgd(0.1)``, ``ref.adam(0.01)``)
    until each has left the basin (ES5) or ``max_steps`` steps have passed. The noise is drawn
    from ``rng`` in blocks of ``chunk`` steps; a walker started outside B has tau = 0.
    Pure: ``x0`` is not written, all randomness comes from ``rng``."""
    if isinstance(max_steps, bool) or not isinstance(max_steps, (int, np.integer)) or max_steps < 0:
        raise ValueError(f"escape: max_steps must be an integer >= 0, got {max_steps!r}")
    if isinstance(chunk, bool) or not isinstance(chunk, (int, np.integer)) or chunk < 1:
        raise ValueError(f"escape: chunk must be an integer >= 1, got {chunk!r}")
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"escape: rng must be a numpy.random.Generator, got {type(rng).__name__}")
    x = np.array(x0, dtype=np.float64)
    if x.ndim != 1 or x.size == 0 or not np.all(np.isfinite(x)):
        raise ValueError(f"escape: x0 must be a non-empty 1-D array of finite starts, got shape {x.shape}")
    if np.ndim(noise.scale) == 1 and np.size(noise.scale) != x.size:
        raise ValueError(f"escape: noise.scale has {np.size(noise.scale)} entries for {x.size} walkers")
    times = np.full(x.size, max_steps + 1, dtype=np.int64)
    inside = well.inside(x)
    times[~inside] = 0  # tau = 0 by (ES5)
    alive = np.flatnonzero(inside)  # original indices of the walkers still inside
    if alive.size == 0 or max_steps == 0:
        return Exits(times, int(alive.size), int(max_steps))
    sigma = np.broadcast_to(np.asarray(noise.scale, dtype=np.float64), x.shape)[alive]
    state = opt.init(x[alive])
    block, row, cols = np.empty((0, 0)), 0, np.arange(alive.size)
    for k in range(1, max_steps + 1):
        if row == block.shape[0]:  # a new block of draws for the walkers alive now
            block = standard_noise(noise.law, noise.alpha, (min(chunk, max_steps - k + 1), alive.size), rng)
            row, cols = 0, np.arange(alive.size)
        g = well.grad(opt.query(state)) + sigma * block[row, cols]  # (ES3)
        row += 1
        state = opt.step(state, g)  # (ES4)
        out = ~well.inside(state.params)  # (ES5)
        if out.any():
            times[alive[out]] = k
            keep = ~out
            n = alive.size
            alive = alive[keep]
            if alive.size == 0:
                return Exits(times, 0, int(max_steps))
            state = _select(state, keep, n)
            cols, sigma = cols[keep], sigma[keep]
    return Exits(times, int(alive.size), int(max_steps))

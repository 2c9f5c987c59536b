"""Gradient streams for conformance runs, each drawn from an explicit seed (specs/conformance.md).

A stream has two faces:

* **open loop**: ``open_loop(name, seed, n, dim)`` is an ``(n, dim)`` array of gradients fed to both
  sides unchanged, so the reference and the peer see identical inputs.
* **closed loop**: ``closed_loop(name, seed, n, dim)`` is a pair ``(gain, noise)`` of ``(n, dim)``
  arrays; step t feeds ``gain[t] * grad L(q_{t-1}) + noise[t]``, with ``grad L`` evaluated at the
  peer's query point q and fed to both sides (``compare.py``). The stream's character (sparse,
  zero steps, tiny, sign flip ...) is thus imposed on a real gradient.

| name | open loop g_t | closed loop g_t |
|---|---|---|
| normal | z_t ~ N(0, I) | grad L + 0.1 z_t |
| heavy_tailed | Student t, 1.5 degrees of freedom (infinite variance) | grad L + 0.1 t_t |
| sparse | z_t masked by Bernoulli(0.1) (90 % zeros) | mask_t * grad L |
| zero_steps | z_t, except g_t = 0 at t = 1, 4, 7, ... | 0 at t = 1, 4, 7, ..., else grad L |
| large | 1e6 z_t | grad L + 1e6 z_t |
| small | 1e-6 z_t | 1e-6 grad L |
| sign_flip | (-1)^(t-1) a, one fixed a ~ N(0, I) | (-1)^(t-1) grad L |

Seeding: stream ``k`` (its index in ``STREAMS``) draws from
``numpy.random.default_rng([seed, k])``; the initial point from ``default_rng([seed, 1000])``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .._core import check_count
from .._types import Array

STREAMS: tuple[str, ...] = (
    "normal",
    "heavy_tailed",
    "sparse",
    "zero_steps",
    "large",
    "small",
    "sign_flip",
)

LARGE = 1e6
SMALL = 1e-6
SPARSITY = 0.1  # probability that a coordinate is observed in the sparse stream
HEAVY_DF = 1.5
NOISE = 0.1  # closed-loop noise scale of the normal and heavy-tailed streams


def _check(name: str, n: int, dim: int) -> None:
    if name not in STREAMS:
        raise ValueError(f"stream must be one of {list(STREAMS)}, got {name!r}")
    check_count("", "n (number of steps)", n, minimum=1)
    check_count("", "dim", dim, minimum=1)


def _rng(name: str, seed: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), STREAMS.index(name)])


def _zero_rows(n: int) -> Array:
    rows = np.ones(n)
    rows[0::3] = 0.0  # steps t = 1, 4, 7, ... (0-based rows 0, 3, 6, ...)
    return rows


def _alternating(n: int) -> Array:
    return np.where(np.arange(n) % 2 == 0, 1.0, -1.0)


def open_loop(name: str, seed: int, n: int, dim: int) -> Array:
    """The ``(n, dim)`` gradient sequence of stream ``name`` (see the module table)."""
    _check(name, n, dim)
    rng = _rng(name, seed)
    z = rng.standard_normal((n, dim))
    if name == "normal":
        return z
    if name == "heavy_tailed":
        return rng.standard_t(HEAVY_DF, (n, dim))
    if name == "sparse":
        return np.where(rng.random((n, dim)) < SPARSITY, z, 0.0)
    if name == "zero_steps":
        return z * _zero_rows(n)[:, None]
    if name == "large":
        return LARGE * z
    if name == "small":
        return SMALL * z
    flip: Array = _alternating(n)[:, None] * z[0][None, :]  # sign_flip
    return flip


def closed_loop(name: str, seed: int, n: int, dim: int) -> tuple[Array, Array]:
    """``(gain, noise)``: step t feeds ``gain[t] * grad L(theta_{t-1}) + noise[t]``."""
    _check(name, n, dim)
    rng = _rng(name, seed)
    ones, zeros = np.ones((n, dim)), np.zeros((n, dim))
    z = rng.standard_normal((n, dim))
    if name == "normal":
        return ones, NOISE * z
    if name == "heavy_tailed":
        return ones, NOISE * rng.standard_t(HEAVY_DF, (n, dim))
    if name == "sparse":
        return (rng.random((n, dim)) < SPARSITY).astype(np.float64), zeros
    if name == "zero_steps":
        return ones * _zero_rows(n)[:, None], zeros
    if name == "large":
        return ones, LARGE * z
    if name == "small":
        return SMALL * ones, zeros
    return ones * _alternating(n)[:, None], zeros


def initial_point(seed: int, dim: int) -> Array:
    """theta_0 ~ N(0, I) from ``default_rng([seed, 1000])``."""
    check_count("", "dim", dim, minimum=1)
    return np.random.default_rng([int(seed), 1000]).standard_normal(dim)


GradFn = Callable[[Array], Array]

__all__ = ["STREAMS", "closed_loop", "initial_point", "open_loop"]

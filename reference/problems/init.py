r"""Initialisers for any list of layer shapes: Xavier/Glorot and He/Kaiming. Spec: specs/init.md,
eqs. (IN1)-(IN5).

A layer list is the ``shapes`` of ``problems.layout`` (an MLP: W1 (w, d), b1 (w,), W2 (m, w),
b2 (m,)). A weight of shape (out, in, k_1, ..., k_r) (dense: r = 0; convolution: the kernel
axes) has

    fan_in = in * k_1 ... k_r,    fan_out = out * k_1 ... k_r                          (IN1)

(torch.nn.init's convention). Each weight is drawn independently, in list order, from ``rng``; a
1-D entry is a bias and is zero (no draw). With gain ``c``:

    xavier, normal:   W_ij ~ N(0, s^2),   s = c sqrt(2 / (fan_in + fan_out))           (IN2)
    xavier, uniform:  W_ij ~ U(-a, a),    a = c sqrt(6 / (fan_in + fan_out))           (IN3)
    he, normal:       W_ij ~ N(0, s^2),   s = sqrt(c^2 / fan)                          (IN4)
    he, uniform:      W_ij ~ U(-a, a),    a = sqrt(3 c^2 / fan)                        (IN5)

``fan`` is fan_in (mode "fan_in": keeps the forward second moment) or fan_out ("fan_out": the
backward one). He's gain comes from the nonlinearity, as its square (``GAIN_SQ``): c^2 = 2 for
ReLU (E[relu(z)^2] = E[z^2]/2 for a symmetric z), so (IN4) is N(0, 2/fan_in); Xavier's default
gain is c = 1 (linear, or tanh near 0). U(-a, a) has variance a^2/3, so (IN3) and (IN5) have the
variances of (IN2) and (IN4). Each bound is computed as written (2/fan, not sqrt(2)/sqrt(fan)),
so the Peaks problem's initial points, drawn through these functions, are those of its first
release bit for bit.

Why (the claim theory_checks/init_variance.py measures): with zero biases and weights drawn
independently and symmetric about 0, the pre-activations z_l = W_l h_{l-1} satisfy, in
expectation over the weights and at any width,

    E ||z_l||^2 = n_l Var(W_l) E ||h_{l-1}||^2,     E ||h_l||^2 = (1/2) E ||z_l||^2 (ReLU),

so He keeps the per-unit second moment of a ReLU network constant across layers, and Xavier, the
compromise between n_in Var(W) = 1 (forward) and n_out Var(W) = 1 (backward), keeps both exactly
when the layers are square and multiplies them by 2 n_in/(n_in + n_out) and 2 n_out/(n_in + n_out)
per layer otherwise.

References:
    Glorot, X. and Bengio, Y. (2010). Understanding the difficulty of training deep feedforward
    neural networks. AISTATS.
    He, K., Zhang, X., Ren, S. and Sun, J. (2015). Delving Deep into Rectifiers: Surpassing
    Human-Level Performance on ImageNet Classification. ICCV.
    Note 004, "Practical Tips" ("Initialization": Xavier/Glorot scales by fan-in and fan-out, He
    is for ReLU networks).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np

from .._core import check_rng
from .._types import Array
from .layout import Shapes, pack

Dist = Literal["normal", "uniform"]
Mode = Literal["fan_in", "fan_out"]

#: The squared gains c^2 of torch.nn.init.calculate_gain for the nonlinearities the notes use.
GAIN_SQ = {"linear": 1.0, "relu": 2.0, "tanh": 25.0 / 9.0, "sigmoid": 1.0}


def fans(shape: Sequence[int]) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight of shape (out, in, k_1, ..., k_r), eq. (IN1)."""
    if len(shape) < 2:
        raise ValueError(f"fans: a weight has at least 2 axes (out, in, ...), got shape {tuple(shape)}")
    receptive = math.prod(shape[2:])
    return int(shape[1]) * receptive, int(shape[0]) * receptive  # (IN1)


def _shapes(shapes: object, who: str) -> Shapes:
    from .._hyper import TENSOR_SHAPES

    TENSOR_SHAPES.check(who, "shapes", shapes)
    return tuple(tuple(int(d) for d in sh) for sh in shapes)  # type: ignore[attr-defined]


def _check_dist(who: str, dist: str) -> None:
    if dist not in ("normal", "uniform"):
        raise ValueError(f"{who}: dist must be 'normal' or 'uniform', got {dist!r}")


def xavier(shapes: Shapes, rng: np.random.Generator, *, dist: Dist = "normal", gain: float = 1.0) -> Array:
    """Xavier/Glorot initial parameters for the layer list ``shapes`` as one flat vector, eqs.
    (IN1)-(IN3); 1-D entries (biases) are 0."""
    shp = _shapes(shapes, "xavier")
    check_rng(rng)
    _check_dist("xavier", dist)
    if isinstance(gain, bool) or not isinstance(gain, (int, float)) or not (math.isfinite(gain) and gain > 0):
        raise ValueError(f"xavier: gain must be a finite number > 0, got {gain!r}")
    arrays = []
    for s in shp:
        if len(s) < 2:
            arrays.append(np.zeros(s))
            continue
        fan_in, fan_out = fans(s)
        if dist == "normal":
            arrays.append(rng.normal(0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), s))  # (IN2)
        else:
            a = gain * math.sqrt(6.0 / (fan_in + fan_out))
            arrays.append(rng.uniform(-a, a, s))  # (IN3)
    return np.asarray(pack(arrays))


def he(
    shapes: Shapes,
    rng: np.random.Generator,
    *,
    dist: Dist = "normal",
    mode: Mode = "fan_in",
    nonlinearity: str = "relu",
) -> Array:
    """He/Kaiming initial parameters for the layer list ``shapes`` as one flat vector, eqs. (IN1),
    (IN4)-(IN5), with c^2 = ``GAIN_SQ[nonlinearity]``; 1-D entries (biases) are 0."""
    shp = _shapes(shapes, "he")
    check_rng(rng)
    _check_dist("he", dist)
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"he: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    if nonlinearity not in GAIN_SQ:
        raise ValueError(f"he: nonlinearity must be one of {sorted(GAIN_SQ)}, got {nonlinearity!r}")
    c2 = GAIN_SQ[nonlinearity]
    arrays = []
    for s in shp:
        if len(s) < 2:
            arrays.append(np.zeros(s))
            continue
        fan = fans(s)[0] if mode == "fan_in" else fans(s)[1]
        if dist == "normal":
            arrays.append(rng.normal(0.0, math.sqrt(c2 / fan), s))  # (IN4)
        else:
            a = math.sqrt(3.0 * c2 / fan)
            arrays.append(rng.uniform(-a, a, s))  # (IN5)
    return np.asarray(pack(arrays))


__all__ = ["GAIN_SQ", "fans", "he", "xavier"]

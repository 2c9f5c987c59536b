r"""Muon: momentum orthogonalised by Newton-Schulz (Jordan et al. 2024). Spec: specs/muon.md,
eqs. (MU1)-(MU7).

Per matrix block W (rows x cols) of the flat vector, with gradient block G_t (B_0 = 0):

    B_t = B_{t-1} + (1 - mu)(G_t - B_{t-1})        (= mu B_{t-1} + (1 - mu) G_t)      (MU1)
    U_t = G_t + mu (B_t - G_t)  if nesterov,  U_t = B_t  otherwise                   (MU2)
    X_0 = U_t / (||U_t||_F + eps)     (normalization="add";  "clamp": / max(||U_t||_F, eps)),
          transposed first when rows > cols                                          (MU3)
    X_{j+1} = a X_j + (b A_j + c A_j^2) X_j,  A_j = X_j X_j^T,  j < k;  O_t = X_k
          (transposed back)                                                          (MU4)
    eta' = eta_t sqrt(max(1, rows/cols))  ("original")  or  0.2 eta_t sqrt(max(rows, cols))
          ("match_rms_adamw")                                                        (MU5)
    W_t = (1 - eta_t lambda) W_{t-1} - eta' O_t                                      (MU6)

Every other block (a vector, a scalar, a tensor of 3 or more axes) gets AdamW (non_matrix="adamw",
the Muon reference code's and optax.contrib.muon's choice) or is refused at ``init``
(non_matrix="refuse", torch.optim.Muon's rule):

    m, v EMAs of g, g^2;  theta <- theta (1 - eta_a lambda_a) - eta_a mhat / (sqrt(vhat) + eps_a)  (MU7)

Conventions:
    * ns_dtype="bfloat16" evaluates (MU3)-(MU4) as torch.optim.Muon and the reference code do: U
      rounded to bfloat16, every product accumulated in float32 and rounded to bfloat16 (torch's
      CPU kernels: X X^T summed in order, addmm's products in four partial sums, beta C +
      fl32(alpha dot) fused, then rounded). Not differentiable; O_t is then
      exactly torch's (checked bit for bit). "float64" (the default) is the iteration's math.
    * momentum_dtype="float32" rounds (MU1)-(MU2) as torch's float32 lerp (fused multiply-add):
      with float32 parameters one float32 ulp of U_t can flip a bfloat16 rounding.
    * eta_t is ``lr`` or ``lr(t - 1)`` for a schedule; the decay uses eta_t, not eta'.

References:
    Jordan, K., Jin, Y., Boza, V., You, J., Cesista, F., Newhouse, L. and Bernstein, J. (2024).
    Muon: An optimizer for hidden layers in neural networks (blog post).
    Liu, J. et al. (2025). Muon is Scalable for LLM Training. arXiv:2502.16982 (match_rms_adamw).
    Note 001, "Adam: Complete Algorithm" (the AdamW of the fallback).
"""

from __future__ import annotations

import math
from dataclasses import KW_ONLY, dataclass
from typing import Any, ClassVar, Literal

import autograd.numpy as anp
import numpy as np
from autograd.tracer import getval

from .._core import lr_at, optimizer
from .._hyper import (
    FLAG,
    LR,
    NONNEGATIVE,
    POSITIVE,
    UNIT,
    Hyperparams,
    Integer,
    OneOf,
    Range,
    as_shapes,
    hp,
    optional,
    real_value,
)
from .._types import Array, LearningRate
from ..problems.layout import Shapes
from ._layerwise import SHAPES_DOC, SHAPES_RANGE, blocks, check_layout, join

AdjustLr = Literal["original", "match_rms_adamw"] | None
Normalization = Literal["add", "clamp"]
NsDtype = Literal["float64", "bfloat16"]
MomentumDtype = Literal["float64", "float32"]
NonMatrix = Literal["adamw", "refuse"]


class Coefficients(Range):
    """Three finite real numbers (a, b, c) of the Newton-Schulz polynomial a x + b x^3 + c x^5."""

    def check(self, algo: str, name: str, value: object) -> None:
        what = f"{algo}: {name}" if algo else name
        if isinstance(value, (str, bytes)) or not isinstance(value, (tuple, list)):
            raise TypeError(f"{what} must be {self.describe()}, got {value!r}")
        for x in value:
            real_value(x, what)
        if len(value) != 3 or not all(math.isfinite(real_value(x, what)) for x in value):
            raise ValueError(f"{what} must be {self.describe()}, got {value!r}")

    def describe(self) -> str:
        return "three finite numbers (a, b, c)"

    def bad_values(self) -> tuple[object, ...]:
        return ((1.0, 2.0), (1.0, 2.0, math.nan), "abc", 3.0, (1.0, "b", 2.0))

    def example(self) -> object:
        return (2.0, -1.5, 0.5)


@dataclass(frozen=True, eq=False)
class MuonHyperparams(Hyperparams):
    """Muon's hyperparameters (torch.optim.Muon's defaults; the rest the reference code's)."""

    ALGORITHM: ClassVar[str] = "muon"
    lr: LearningRate = hp(1e-3, LR, "step size eta of (MU5)-(MU6), or a schedule t -> eta_t")
    _: KW_ONLY
    weight_decay: float = hp(0.1, NONNEGATIVE, "decoupled decay lambda of (MU6), times eta_t")
    momentum: float = hp(0.95, UNIT, "momentum mu of (MU1)-(MU2)")
    nesterov: bool = hp(True, FLAG, "orthogonalise G + mu (B - G) (True) or B (False), (MU2)")
    ns_coefficients: tuple[float, float, float] = hp(
        (3.4445, -4.775, 2.0315), Coefficients(), "(a, b, c) of the Newton-Schulz step (MU4)"
    )
    eps: float = hp(1e-7, POSITIVE, "eps of the normalisation (MU3)")
    ns_steps: int = hp(5, Integer(ge=0), "number k of Newton-Schulz steps (MU4)")
    adjust_lr_fn: AdjustLr = hp(
        None,
        OneOf((None, "original", "match_rms_adamw")),
        'the lr scaling of (MU5); None is "original" (torch)',
    )
    normalization: Normalization = hp(
        "add",
        OneOf(("add", "clamp")),
        '"add": U / (||U|| + eps) (the reference code); "clamp": U / max(||U||, eps) (torch), (MU3)',
    )
    ns_dtype: NsDtype = hp(
        "float64",
        OneOf(("float64", "bfloat16")),
        '"bfloat16": (MU3)-(MU4) in torch\'s bfloat16 arithmetic; "float64": exact math',
    )
    momentum_dtype: MomentumDtype = hp(
        "float64",
        OneOf(("float64", "float32")),
        '"float32": (MU1)-(MU2) rounded as torch computes them for float32 parameters (fused lerp)',
    )
    shapes: Shapes | None = hp(None, optional(SHAPES_RANGE), SHAPES_DOC)
    non_matrix: NonMatrix = hp(
        "adamw",
        OneOf(("adamw", "refuse")),
        '"adamw": AdamW (MU7) on blocks that are not 2-D; "refuse": ValueError at init (torch)',
    )
    adam_lr: LearningRate | None = hp(None, optional(LR), "eta_a of (MU7); None: lr")
    adam_beta1: float = hp(0.9, UNIT, "EMA coefficient of the first moment of (MU7)")
    adam_beta2: float = hp(0.999, UNIT, "EMA coefficient of the second moment of (MU7)")
    adam_eps: float = hp(1e-8, NONNEGATIVE, "eps_a of (MU7)")
    adam_weight_decay: float = hp(0.0, NONNEGATIVE, "decoupled decay lambda_a of (MU7)")

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "shapes", as_shapes(self.shapes))
        object.__setattr__(self, "ns_coefficients", tuple(float(x) for x in self.ns_coefficients))


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class MuonState:
    """Muon's state after ``t`` steps: flat buffers the size of params."""

    params: Array  # theta_t
    momentum: Array  # B_t on matrix blocks (0 elsewhere)
    m: Array  # AdamW first moment on non-matrix blocks (0 elsewhere)
    v: Array  # AdamW second moment on non-matrix blocks (0 elsewhere)
    t: int  # completed steps


def init(params: Array, *, shapes: Shapes | None = None, non_matrix: NonMatrix = "adamw") -> MuonState:
    """Zero buffers, t = 0; with ``non_matrix="refuse"`` every block must be 2-D."""
    check_layout("muon", params, shapes)
    if non_matrix == "refuse":
        for b in shapes if shapes is not None else (np.shape(params),):
            if len(b) != 2:
                raise ValueError(
                    f"muon: non_matrix='refuse' needs 2-D blocks only (torch.optim.Muon's rule), "
                    f"got a block of shape {tuple(b)}"
                )
    zeros = anp.zeros_like(params)
    return MuonState(params=params, momentum=zeros, m=zeros, v=zeros, t=0)


def _lerp(a: Any, b: Any, w: float, dtype: MomentumDtype = "float64") -> Any:
    """a + w (b - a) in torch's form: a + w (b - a) for w < 0.5, b - (b - a)(1 - w) otherwise.

    ``dtype="float32"``: torch's float32 kernel, fma(w, b - a, a) or fma(w - 1, b - a, b) with w
    and b - a rounded to float32 and one rounding of the fused result (not differentiable)."""
    if dtype == "float32":
        a32, b32 = np.float32(getval(a)), np.float32(getval(b))
        w32 = np.float32(w)
        d = (b32 - a32).astype(np.float64)
        if abs(w) < 0.5:
            return (np.float64(w32) * d + a32.astype(np.float64)).astype(np.float32).astype(np.float64)
        c = np.float64(np.float32(w32 - np.float32(1)))
        return (c * d + b32.astype(np.float64)).astype(np.float32).astype(np.float64)
    return a + w * (b - a) if abs(w) < 0.5 else b - (b - a) * (1 - w)


def _bf16(x: Any) -> Any:
    """``x`` rounded to float32, then to bfloat16 (8 significant bits, to nearest, ties to even;
    bfloat16's subnormal spacing 2^-133 below 2^-126), as float32 values. torch's
    ``Tensor.bfloat16()`` of a float64 tensor rounds through float32 like this (twice: on 1e6
    random values 8 differ from one direct rounding)."""
    x = np.asarray(x, dtype=np.float32).astype(np.float64)
    _, e = np.frexp(x)
    e = np.maximum(e, -125)
    return np.ldexp(np.rint(np.ldexp(x, 8 - e)), e - 8).astype(np.float32)


def _addmm_bf16(C: Any, A: Any, B: Any, beta: float, alpha: float, *, sequential: bool = False) -> Any:
    """torch.addmm on bfloat16 CPU tensors: the dot products in float32 (products exact, summed in
    order for ``X @ X.T``, torch's transposed-operand kernel, or in four partial sums, torch's
    ``sum``, for the plain product), fl32(alpha dot), then beta C + that in one rounding, then
    bfloat16."""
    k = A.shape[1]
    prods = [A[:, l, None] * B[None, l, :] for l in range(k)]  # exact in float32 (8-bit mantissas)
    parts = [np.zeros((A.shape[0], B.shape[1]), np.float32) for _ in range(4)]
    full = 0 if sequential else k - k % 4
    for l in range(full):
        parts[l % 4] = parts[l % 4] + prods[l]
    for l in range(full, k):
        parts[0] = parts[0] + prods[l]
    dot = parts[0]
    for q in range(1, 4):
        dot = dot + parts[q]
    scaled = np.float32(alpha) * dot
    if beta == 0:
        return _bf16(scaled)
    fused = np.float64(np.float32(beta)) * C.astype(np.float64) + scaled.astype(np.float64)
    return _bf16(fused.astype(np.float32))


def _orthogonalise_bf16(
    U: Any, coefficients: tuple[float, float, float], steps: int, eps: float, normalization: Normalization
) -> Array:
    """(MU3)-(MU4) in torch's bfloat16 arithmetic (returns float64 values of bfloat16 numbers)."""
    a, b, c = coefficients
    X = _bf16(getval(U))
    X = X.T if X.shape[0] > X.shape[1] else X
    nrm = _bf16(np.sqrt(np.sum(X * X, dtype=np.float32)))
    e = _bf16(eps)
    den = _bf16(np.maximum(nrm, e)) if normalization == "clamp" else _bf16(nrm + e)
    X = _bf16(X / den)
    for _ in range(steps):
        A = _addmm_bf16(None, X, X.T, 0.0, 1.0, sequential=True)
        Bm = _addmm_bf16(A, A, A, b, c)
        X = _addmm_bf16(X, Bm, X, a, 1.0)
    X = X.T if np.shape(U)[0] > np.shape(U)[1] else X
    out: Array = X.astype(np.float64)
    return out


def orthogonalise(
    U: Any,
    coefficients: tuple[float, float, float],
    steps: int,
    eps: float,
    normalization: Normalization = "add",
    ns_dtype: NsDtype = "float64",
) -> Any:
    """O = NS_k(U) of (MU3)-(MU4) for one matrix ``U``."""
    if ns_dtype == "bfloat16":
        return _orthogonalise_bf16(U, coefficients, steps, eps, normalization)
    a, b, c = coefficients
    wide = anp.shape(U)[0] > anp.shape(U)[1]
    X = U.T if wide else U
    nrm = anp.sqrt(anp.sum(X * X))
    X = X / (anp.maximum(nrm, eps) if normalization == "clamp" else nrm + eps)  # normalise, MU3
    for _ in range(steps):
        A = anp.dot(X, X.T)
        X = a * X + anp.dot(b * A + c * anp.dot(A, A), X)  # one Newton-Schulz step, MU4
    return X.T if wide else X


def lr_ratio(shape: tuple[int, ...], adjust_lr_fn: AdjustLr) -> float:
    """eta'/eta of (MU5) for a (rows, cols) block, as torch computes it."""
    rows, cols = shape[:2]
    if adjust_lr_fn == "match_rms_adamw":
        return 0.2 * math.sqrt(max(rows, cols))
    return math.sqrt(max(1, rows / cols))


def step(
    state: MuonState,
    grad: Array,
    *,
    lr: LearningRate,
    weight_decay: float,
    momentum: float,
    nesterov: bool,
    ns_coefficients: tuple[float, float, float],
    eps: float,
    ns_steps: int,
    adjust_lr_fn: AdjustLr = None,
    normalization: Normalization = "add",
    ns_dtype: NsDtype = "float64",
    momentum_dtype: MomentumDtype = "float64",
    shapes: Shapes | None = None,
    adam_lr: LearningRate | None = None,
    adam_beta1: float = 0.9,
    adam_beta2: float = 0.999,
    adam_eps: float = 1e-8,
    adam_weight_decay: float = 0.0,
) -> MuonState:
    """One Muon step, eqs. (MU1)-(MU7) of specs/muon.md, block by block."""
    t = state.t + 1
    eta = lr_at(lr, state.t)
    eta_a = eta if adam_lr is None else lr_at(adam_lr, state.t)
    out: dict[str, list[Any]] = {"theta": [], "B": [], "m": [], "v": []}
    parts = zip(*(blocks(x, shapes) for x in (state.params, grad, state.momentum, state.m, state.v)))
    for W, G, B, m, v in parts:
        if anp.ndim(W) == 2:
            B = _lerp(B, G, 1 - momentum, momentum_dtype)  # (MU1)  torch's buf.lerp_(grad, 1 - mu)
            U = _lerp(G, B, momentum, momentum_dtype) if nesterov else B  # (MU2)
            O = orthogonalise(U, ns_coefficients, ns_steps, eps, normalization, ns_dtype)  # (MU3) # (MU4)
            eta_adj = eta * lr_ratio(anp.shape(W), adjust_lr_fn)  # (MU5)
            W = W * (1 - eta * weight_decay) + (-eta_adj) * O  # (MU6)
        else:
            m = adam_beta1 * m + (1 - adam_beta1) * G  # (MU7)
            v = adam_beta2 * v + (1 - adam_beta2) * G * G
            den = anp.sqrt(v / (1 - adam_beta2**t)) + adam_eps
            W = W * (1 - eta_a * adam_weight_decay) + (-eta_a) * ((m / (1 - adam_beta1**t)) / den)
        for key, x in zip(("theta", "B", "m", "v"), (W, B, m, v)):
            out[key].append(x)
    return MuonState(
        params=join(out["theta"], shapes),
        momentum=join(out["B"], shapes),
        m=join(out["m"], shapes),
        v=join(out["v"], shapes),
        t=t,
    )


muon = optimizer(
    MuonHyperparams,
    init,
    step,
    "Muon (Newton-Schulz-orthogonalised momentum on matrix blocks); see specs/muon.md.",
)

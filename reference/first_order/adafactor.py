r"""Adafactor: factored second moments, update clipping and a relative step (Shazeer & Stern
2018). Spec: specs/adafactor.md, eqs. (AF1)-(AF9).

The flat vector is cut into the parameter tensors of ``shapes`` (None: one 1-D tensor). For each
tensor X with gradient G, at step t = 1, 2, ... (c = decay_rate, eta_t = lr or lr(t - 1)):

    beta_t = 1 - t^(-c)                                                        (AF1)
    rho_t = min(eta_t, 1/sqrt(t))   (relative_step)   or   rho_t = eta_t        (AF2)
    alpha_t = rho_t max(eps2, RMS(X_{t-1}))   (multiply_by_parameter_scale)     (AF3)
  factored (a tensor whose two factored axes a, b both have size >= min_dim_size_to_factor):
    R_t = beta_t R + (1 - beta_t) mean_b(G^2 + eps1),  C_t = beta_t C + (1 - beta_t) mean_a(G^2 + eps1)  (AF4)
    U_t = G (R_t / mean_a R_t)^(-1/2) C_t^(-1/2)                                (AF5)
  otherwise:
    v_t = beta_t v + (1 - beta_t)(G^2 + eps1),   U_t = G v_t^(-1/2)            (AF4), (AF5)
  eps1_form="clamp" (torch): eps1 leaves (AF4), and (AF5) reads
    U_t = G max(R_t C_t / max(mean_a R_t, eps1), eps1^2)^(-1/2)  (or max(v_t, eps1^2)^(-1/2))
    Uhat_t = U_t / max(1, RMS(U_t) / d)                                        (AF6)
    Delta_t = alpha_t Uhat_t                                                   (AF7)
    m_t = beta1 m_{t-1} + (1 - beta1) Delta_t   (momentum beta1 > 0; else m_t = Delta_t)  (AF8)
    X_t = X_{t-1} - kappa_t lambda X_{t-1} - m_t,  kappa_t = eta_t ("lr") or 1 ("none")   (AF9)

Conventions:
    * Defaults are the paper's Algorithms 4 and 5 with its hyperparameters (rho_t = min(1e-2,
      1/sqrt t), d = 1, c = 0.8, eps1 = 1e-30, eps2 = 1e-3, no momentum, every matrix factored).
    * torch.optim.Adafactor: eps1_form="clamp" with eps1 the machine epsilon of the parameters'
      dtype, decoupled decay X (1 - lr lambda); optax.adafactor: relative_step=False (no 1/sqrt t;
      learning_rate None is eta = 1), beta_t rounded to float32, factored axes the two largest
      only when both are >= 128, momentum stored in float32, decay lambda X not scaled by eta.
    * The factored estimate R C / mean(R) equals the paper's row-sum x column-sum / total-sum.
    * Differentiable by autograd in lr and theta_0 (the float32 roundings pass derivatives through
      unchanged; the square roots of RMS are floored at the smallest normal float).

References:
    Shazeer, N. and Stern, M. (2018). Adafactor: Adaptive Learning Rates with Sublinear Memory
    Cost. ICML. Algorithms 4 (matrices) and 5 (vectors), section 9 (relative step size).
    Note 001, "Adam: Complete Algorithm" (the second-moment EMA this factors).
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from typing import Any, ClassVar, Literal

import autograd.numpy as anp
import numpy as np
from autograd.extend import defvjp, primitive

from .._core import lr_at, optimizer
from .._hyper import (
    FLAG,
    LR,
    NONNEGATIVE,
    TENSOR_SHAPES,
    UNIT,
    Hyperparams,
    Integer,
    OneOf,
    Real,
    as_shapes,
    hp,
    optional,
)
from .._types import Array, LearningRate
from ..problems.layout import Shapes, pack, size, unpack

Precision = Literal["float64", "float32"]
EpsForm = Literal["add", "clamp"]
FactorAxes = Literal["last_two", "largest_two"]
DecayScaling = Literal["lr", "none"]

_TINY = float(np.finfo(np.float64).tiny)


@dataclass(frozen=True, eq=False)
class AdafactorHyperparams(Hyperparams):
    """Adafactor's hyperparameters (the paper's defaults); ``shapes`` is stored as a tuple of tuples."""

    ALGORITHM: ClassVar[str] = "adafactor"
    lr: LearningRate = hp(
        1e-2, LR, "eta_t: the cap of rho_t = min(eta_t, 1/sqrt t) (relative_step), else rho_t itself, (AF2)"
    )
    _: KW_ONLY
    relative_step: bool = hp(
        True, FLAG, "True: rho_t = min(eta_t, 1/sqrt t) (paper, torch); False: rho_t = eta_t (optax), (AF2)"
    )
    decay_rate: float = hp(0.8, NONNEGATIVE, "c of beta_t = 1 - t^(-c), (AF1) (torch: beta2_decay = -c)")
    beta2_dtype: Precision = hp(
        "float64",
        OneOf(("float64", "float32")),
        "precision of beta_t and 1 - beta_t, (AF1); optax's is float32",
    )
    eps1: float = hp(1e-30, NONNEGATIVE, "eps1 of (AF4)-(AF5), added to G^2 or a floor, see eps1_form")
    eps1_form: EpsForm = hp(
        "add",
        OneOf(("add", "clamp")),
        '"add": G^2 + eps1 in (AF4) (paper, optax); "clamp": floors in (AF5) (torch)',
    )
    eps2: float = hp(1e-3, NONNEGATIVE, "floor eps2 of RMS(X_{t-1}) in the parameter scale, (AF3)")
    multiply_by_parameter_scale: bool = hp(
        True, FLAG, "True: alpha_t = rho_t max(eps2, RMS(X_{t-1})); False: alpha_t = rho_t, (AF3)"
    )
    clip_threshold: float | None = hp(
        1.0, optional(Real(ge=1.0)), "d of the update clipping (AF6); None: no clipping"
    )
    factored: bool = hp(True, FLAG, "False: every tensor keeps a full second moment v, (AF4)")
    min_dim_size_to_factor: int = hp(
        1, Integer(ge=1), "factor a tensor only if both factored axes have at least this size, (AF4)"
    )
    factor_axes: FactorAxes = hp(
        "last_two",
        OneOf(("last_two", "largest_two")),
        'the axes (a, b) of (AF4): "last_two" (torch) or the two largest, ties to the first (optax)',
    )
    momentum: float = hp(0.0, UNIT, "beta1 of (AF8); 0: no momentum buffer")
    momentum_dtype: Precision = hp(
        "float64",
        OneOf(("float64", "float32")),
        "precision in which m_t is stored, (AF8); optax's is float32",
    )
    weight_decay: float = hp(0.0, NONNEGATIVE, "decay coefficient lambda of (AF9)")
    decay_scaling: DecayScaling = hp(
        "lr", OneOf(("lr", "none")), '"lr": kappa_t = eta_t (torch); "none": kappa_t = 1 (optax), (AF9)'
    )
    shapes: Shapes | None = hp(
        None,
        optional(TENSOR_SHAPES),
        "the parameter tensors of the flat vector in order; None: one 1-D tensor",
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "shapes", as_shapes(self.shapes))


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class AdafactorState:
    """Adafactor's state after ``t`` steps; one entry of r, c, v per tensor (None where unused)."""

    params: Array  # theta_t
    r: tuple[Array | None, ...]  # row factor R_t (size 1 along axis b) of a factored tensor
    c: tuple[Array | None, ...]  # column factor C_t (size 1 along axis a) of a factored tensor
    v: tuple[Array | None, ...]  # full second moment v_t of a tensor that is not factored
    m: Array | None  # momentum m_t (None without momentum)
    t: int  # completed steps


def factor_axes_of(
    shape: tuple[int, ...], factored: bool, min_size: int, policy: FactorAxes
) -> tuple[int, int] | None:
    """The axes (a, b) of (AF4) for a tensor of ``shape``, or None when it keeps a full v.

    R is the mean over b (indexed by a), C the mean over a; "largest_two" takes a = the second
    largest axis and b = the largest, in numpy.argsort's order (optax's ``_factored_dims``)."""
    if not factored or len(shape) < 2:
        return None
    if policy == "last_two":
        a, b = len(shape) - 2, len(shape) - 1
    else:
        order = np.argsort(shape)
        a, b = int(order[-2]), int(order[-1])
    if min(shape[a], shape[b]) < min_size:
        return None
    return a, b


def _all_shapes(params: Array, shapes: Shapes | None) -> Shapes:
    """``shapes``, or one 1-D tensor of all of ``params``' entries (whatever its array shape)."""
    return ((int(np.size(params)),),) if shapes is None else shapes


def _blocks(x: Any, shapes: Shapes | None) -> tuple[Any, ...]:
    """The tensors of ``x`` (shapes None: its entries as one vector)."""
    return (anp.reshape(x, (-1,)),) if shapes is None else unpack(x, shapes)


def _flat(pieces: list[Any], like: Array, shapes: Shapes | None) -> Any:
    """The inverse of ``_blocks``: the pieces packed in ``like``'s array shape."""
    return anp.reshape(pieces[0], anp.shape(like)) if shapes is None else pack(pieces)


def init(
    params: Array,
    *,
    shapes: Shapes | None = None,
    factored: bool = True,
    min_dim_size_to_factor: int = 1,
    factor_axes: FactorAxes = "last_two",
    momentum: float = 0.0,
) -> AdafactorState:
    """R_0 = C_0 = 0 for factored tensors, v_0 = 0 for the others, m_0 = 0, t = 0."""
    shp = _all_shapes(params, shapes)
    if shapes is not None and np.shape(params) != (size(shp),):
        raise ValueError(
            f"adafactor: params have shape {np.shape(params)} but shapes {shp} need a flat vector "
            f"of length {size(shp)}"
        )
    r: list[Array | None] = []
    c: list[Array | None] = []
    v: list[Array | None] = []
    for s in shp:
        axes = factor_axes_of(s, factored, min_dim_size_to_factor, factor_axes)
        if axes is None:
            r.append(None)
            c.append(None)
            v.append(np.zeros(s))
        else:
            a, b = axes
            r.append(np.zeros(tuple(1 if i == b else d for i, d in enumerate(s))))
            c.append(np.zeros(tuple(1 if i == a else d for i, d in enumerate(s))))
            v.append(None)
    m = np.zeros_like(params) if momentum > 0 else None
    return AdafactorState(params=params, r=tuple(r), c=tuple(c), v=tuple(v), m=m, t=0)


@primitive
def round_to_float32(x: Any) -> Any:
    """x rounded to float32 and back to float64 (a stored float32 buffer); derivative 1."""
    return np.asarray(x, dtype=np.float32).astype(np.float64)


defvjp(round_to_float32, lambda ans, x: lambda g: g)


def beta_schedule(t: int, decay_rate: float, dtype: Precision) -> tuple[float, float]:
    """(beta_t, 1 - beta_t) of (AF1); float32: as optax computes them (1 - fl32(t)^fl32(-c) in float32)."""
    if dtype == "float32":
        f32 = np.float32
        beta = f32(1.0) - f32(float(f32(t)) ** float(f32(-decay_rate)))
        return float(beta), float(f32(1.0) - beta)
    beta64 = 1.0 - float(t) ** (-decay_rate)
    return beta64, 1.0 - beta64


def rms(x: Any) -> Any:
    """sqrt(mean(x^2)), its square floored at the smallest normal float (finite derivative at 0)."""
    return anp.sqrt(anp.maximum(anp.sum(x * x) / max(np.size(x), 1), _TINY))


def step(
    state: AdafactorState,
    grad: Array,
    *,
    lr: LearningRate,
    relative_step: bool = True,
    decay_rate: float = 0.8,
    beta2_dtype: Precision = "float64",
    eps1: float = 1e-30,
    eps1_form: EpsForm = "add",
    eps2: float = 1e-3,
    multiply_by_parameter_scale: bool = True,
    clip_threshold: float | None = 1.0,
    factored: bool = True,
    min_dim_size_to_factor: int = 1,
    factor_axes: FactorAxes = "last_two",
    momentum: float = 0.0,
    momentum_dtype: Precision = "float64",
    weight_decay: float = 0.0,
    decay_scaling: DecayScaling = "lr",
    shapes: Shapes | None = None,
) -> AdafactorState:
    """One Adafactor step, eqs. (AF1)-(AF9) of specs/adafactor.md."""
    t = state.t + 1
    eta = lr_at(lr, state.t)
    theta = state.params
    beta = beta_schedule(t, decay_rate, beta2_dtype)  # (AF1)
    rho = anp.minimum(eta, 1.0 / np.sqrt(t)) if relative_step else eta  # (AF2)
    R, C, V, pieces = [], [], [], []
    for X, G, r, c, v in zip(_blocks(theta, shapes), _blocks(grad, shapes), state.r, state.c, state.v):
        alpha = rho * anp.maximum(eps2, rms(X)) if multiply_by_parameter_scale else rho  # (AF3)
        axes = factor_axes_of(tuple(np.shape(G)), factored, min_dim_size_to_factor, factor_axes)
        r, c, v = statistics(G, (r, c, v), axes, beta, eps1, eps1_form)  # (AF4)
        U = normalised(G, (r, c, v), axes, eps1, eps1_form)  # (AF5)
        if clip_threshold is not None:
            U = U / anp.maximum(1.0, rms(U) / clip_threshold)  # (AF6)
        pieces.append(alpha * U)  # (AF7)
        R.append(r)
        C.append(c)
        V.append(v)
    delta = _flat(pieces, theta, shapes)
    m = None
    if state.m is not None:
        if (
            momentum_dtype == "float32"
        ):  # optax: beta1 m_{t-1} in float32 (a weakly typed scalar times a float32 buffer)
            delta = (1.0 - momentum) * delta + round_to_float32(
                float(np.float32(momentum)) * state.m
            )  # (AF8)
            m = round_to_float32(delta)
        else:
            delta = m = (1.0 - momentum) * delta + momentum * state.m  # (AF8)
    if weight_decay and decay_scaling == "lr":
        theta = theta * (1.0 - eta * weight_decay) - delta  # (AF9)  torch: X (1 - lr lambda), then the step
    elif weight_decay:
        theta = theta - (delta + weight_decay * theta)  # (AF9)  optax: X - (m + lambda X)
    else:
        theta = theta - delta  # (AF9)
    return AdafactorState(params=theta, r=tuple(R), c=tuple(C), v=tuple(V), m=m, t=t)


def statistics(
    G: Any,
    stats: tuple[Any, Any, Any],
    axes: tuple[int, int] | None,
    beta: tuple[float, float],
    eps1: float,
    eps1_form: EpsForm,
) -> tuple[Any, Any, Any]:
    """(R_t, C_t, v_t) of (AF4) for one tensor (None where unused)."""
    b_t, one_minus = beta
    sq = G * G + eps1 if eps1_form == "add" else G * G
    R, C, v = stats
    if axes is None:
        return None, None, b_t * v + one_minus * sq  # (AF4)
    a, b = axes
    R = b_t * R + one_minus * anp.mean(sq, axis=b, keepdims=True)  # (AF4)
    C = b_t * C + one_minus * anp.mean(sq, axis=a, keepdims=True)
    return R, C, None


def normalised(
    G: Any, stats: tuple[Any, Any, Any], axes: tuple[int, int] | None, eps1: float, eps1_form: EpsForm
) -> Any:
    """U_t of (AF5) for one tensor from its statistics of (AF4)."""
    R, C, v = stats
    if axes is None:
        return G * v**-0.5 if eps1_form == "add" else G * anp.maximum(v, eps1 * eps1) ** -0.5  # (AF5)
    a = axes[0]
    if eps1_form == "add":
        return G * (R / anp.mean(R, axis=a, keepdims=True)) ** -0.5 * C**-0.5  # (AF5)
    V = R * C / anp.maximum(anp.mean(R, axis=a, keepdims=True), eps1)
    return G * anp.maximum(V, eps1 * eps1) ** -0.5  # (AF5)


adafactor = optimizer(
    AdafactorHyperparams,
    init,
    step,
    "Adafactor; ``opt.step(state, grad)`` on the flat gradient; see the module docstring and specs/adafactor.md.",
)

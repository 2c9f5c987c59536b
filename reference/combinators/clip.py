r"""Gradient clipping by global norm, as a combinator over any Optimizer. Spec: specs/clip.md,
eqs. (CL1)-(CL3).

    n_t     = ||g_t||_2 = sqrt(sum_i g_{t,i}^2)                     (CL1)  over every coordinate
    c_t     = min(1, tau / (n_t + eps))                             (CL2)
    theta_t = inner.step(theta_{t-1}, c_t g_t)                      (CL3)

``clip_by_global_norm(opt, max_norm)`` returns an Optimizer with the same state type as ``opt``
whose step rescales the raw gradient before ``opt`` sees it (so before any coupled weight decay,
as torch's ``clip_grad_norm_`` before ``optimizer.step()`` and optax's ``chain(clip_by_global_norm,
...)``). For structured params, clip the flat vector: ``flat(clip_by_global_norm(opt, tau))``
(reference/combinators/flat.py, specs/flat.md) clips by the norm over all leaves, which is what "global" means.

Conventions:
    * eps = 0 (default) is optax's clip_by_global_norm; torch's clip_grad_norm_ uses eps = 1e-6.
    * When c_t >= 1 the gradient is passed through unchanged (torch multiplies by the clamped
      coefficient 1.0, optax selects the unclipped tree: both exact). A zero gradient is never
      divided by its zero norm.

References:
    Pascanu, R., Mikolov, T. and Bengio, Y. (2013). On the difficulty of training recurrent neural
    networks. ICML (Algorithm 1). Note 004 ("Gradient Clipping": g <- min(1, tau/||g||) g).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass
from functools import partial
from typing import Any, ClassVar, TypeVar

import autograd.numpy as anp
from autograd.tracer import getval

from .._core import Optimizer, OptState
from .._hyper import NONNEGATIVE, POSITIVE, Factory, Free, Hyperparams, factory_doc, hp, required
from .._types import Array

S = TypeVar("S", bound=OptState)


@dataclass(frozen=True, eq=False)
class ClipHyperparams(Hyperparams):
    """clip_by_global_norm's arguments: the wrapped optimizer and the threshold (optax's eps = 0)."""

    ALGORITHM: ClassVar[str] = "clip_by_global_norm"
    opt: Optimizer[Any] = required(
        Free("a reference Optimizer"),
        "the wrapped optimizer of (CL3); its state type, init and query are kept",
    )
    max_norm: float = required(POSITIVE, "threshold tau of (CL2)")
    _: KW_ONLY
    eps: float = hp(0.0, NONNEGATIVE, "added to the norm in (CL2) (optax 0, torch's clip_grad_norm_ 1e-6)")

    def validate(self) -> None:
        if not isinstance(self.opt, Optimizer):
            raise TypeError(
                f"{self.ALGORITHM}: opt must be a reference Optimizer (ref.adam(...), ...), "
                f"got {type(self.opt).__name__}"
            )


def clip_grad(grad: Array, *, max_norm: float, eps: float = 0.0) -> Array:
    """g * min(1, max_norm / (||g|| + eps)), eqs. (CL1)-(CL2) of specs/clip.md."""
    norm = anp.sqrt(anp.sum(grad * grad))  # (CL1)
    if getval(norm) + eps <= getval(max_norm):  # c_t >= 1: unchanged (also covers g = 0)
        return grad
    scaled: Array = grad * (max_norm / (norm + eps))  # (CL2)
    return scaled


def step(
    state: S, grad: Array, *, inner_step: Callable[[S, Array], S], max_norm: float, eps: float = 0.0
) -> S:
    """Clip ``grad`` by its global norm, then take the wrapped optimizer's step (CL3)."""
    return inner_step(state, clip_grad(grad, max_norm=max_norm, eps=eps))  # (CL3)


def _build(h: ClipHyperparams) -> Optimizer[Any]:
    """The wrapped optimizer with its step preceded by the clipping; ``hyperparams`` holds it under "opt"."""
    inner = h.opt
    return Optimizer(
        name=h.ALGORITHM,
        hyperparams=h.as_dict(),
        init_fn=inner.init_fn,
        step_fn=partial(step, inner_step=inner.step_fn, max_norm=h.max_norm, eps=h.eps),
        query_fn=inner.query_fn,
        allow_nonfinite=inner.allow_nonfinite,
        record=h,
    )


clip_by_global_norm = Factory(
    ClipHyperparams,
    _build,
    name=ClipHyperparams.ALGORITHM,
    doc=factory_doc(
        ClipHyperparams,
        "Wrap opt so that every gradient is first clipped to global norm "
        "max_norm; see the module docstring and specs/clip.md.",
    ),
)

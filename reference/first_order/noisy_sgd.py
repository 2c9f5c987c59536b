r"""SGD with annealed Gaussian gradient noise (Neelakantan et al. 2015). Spec: specs/noisy_sgd.md,
eqs. (NS1)-(NS3).

Update rule, for t = 1, 2, ... (t counts completed steps after this one), g_t the gradient:

    sigma_t = sqrt(eta_noise / t^gamma)                  (NS1)  the paper's (1 + t')^gamma, t' = t - 1
    z_t     = noise(t, p), or N(0, I_p) drawn from numpy.random.default_rng([seed, t])   (NS2)
    theta_t = theta_{t-1} - eta_t (g_t + sigma_t z_t)    (NS3)

The draws are a function of (seed, t) only, so ``step`` stays pure: the same state and gradient
give the same iterate. ``noise`` replaces the draws by any source, e.g. the one that reproduces
optax.noisy_sgd's jax draws (reference.conform.mappings.optimistic_noisy.JaxNoise), or a
precomputed table: ``noise=lambda t, p: table[t - 1]``.

Conventions:
    * eta_noise is the variance at the first step; optax calls it ``eta`` (here ``eta`` too: the
      learning rate is ``lr``).
    * eta_t is ``lr`` or ``lr(t - 1)`` for a schedule.
    * Gradient noise is not discussed in the lecture notes (their SGD's noise is the minibatch's).

References:
    Neelakantan, A., Vilnis, L., Le, Q. V., Sutskever, I., Kaiser, L., Kurach, K. and Martens, J.
    (2015). Adding Gradient Noise Improves Learning for Very Deep Networks. arXiv:1511.06807.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass
from typing import Any, ClassVar

import autograd.numpy as anp
import numpy as np

from .._core import lr_at, optimizer
from .._hyper import LR, NONNEGATIVE, SEED, Function, Hyperparams, hp, optional, required
from .._types import Array, LearningRate

Noise = Callable[[int, int], Any]
NOISE = optional(Function("a callable (t, p) -> p standard normal draws for step t = 1, 2, ..."))


@dataclass(frozen=True, eq=False)
class NoisySGDHyperparams(Hyperparams):
    """Noisy SGD's hyperparameters (optax.noisy_sgd's defaults, the paper's gamma)."""

    ALGORITHM: ClassVar[str] = "noisy_sgd"
    lr: LearningRate = required(LR, "step size eta of (NS3), or a schedule t -> eta_t")
    _: KW_ONLY
    eta: float = hp(0.01, NONNEGATIVE, "noise variance at the first step, eta_noise of (NS1)")
    gamma: float = hp(0.55, NONNEGATIVE, "decay exponent of the noise variance, (NS1)")
    seed: int = hp(0, SEED, "seed of the numpy draws of (NS2) (unused when noise is given)")
    noise: Noise | None = hp(None, NOISE, "source of the draws z_t of (NS2); None: numpy from seed")


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class NoisySGDState:
    """Noisy SGD keeps only the iterate and the step count (the draws are a function of t)."""

    params: Array  # theta_t
    t: int  # completed steps


def init(params: Array) -> NoisySGDState:
    """theta_0 = params, t = 0."""
    return NoisySGDState(params=params, t=0)


def draws(t: int, p: int, *, seed: int = 0, noise: Noise | None = None) -> np.ndarray:
    """z_t of (NS2): ``noise(t, p)`` as a float64 vector of size p, or p standard normals from
    ``numpy.random.default_rng([seed, t])``."""
    if noise is None:
        return np.random.default_rng([seed, t]).standard_normal(p)
    z = np.asarray(noise(t, p), dtype=np.float64).reshape(-1)
    if z.shape != (p,) or not np.all(np.isfinite(z)):
        raise ValueError(f"noisy_sgd: noise({t}, {p}) must return {p} finite numbers, got shape {z.shape}")
    return z


def step(
    state: NoisySGDState,
    grad: Array,
    *,
    lr: LearningRate,
    eta: float,
    gamma: float,
    seed: int = 0,
    noise: Noise | None = None,
) -> NoisySGDState:
    """One noisy SGD step, eqs. (NS1)-(NS3) of specs/noisy_sgd.md."""
    t = state.t + 1
    step_size = lr_at(lr, state.t)
    sigma = anp.sqrt(eta / t**gamma)  # (NS1)  optax: sqrt(eta / count**gamma)
    z = draws(t, int(np.size(grad)), seed=seed, noise=noise).reshape(np.shape(grad))  # (NS2)
    theta = state.params + (-step_size) * (grad + sigma * z)  # (NS3)  optax: params + (-lr) (g + sigma z)
    return NoisySGDState(params=theta, t=t)


noisy_sgd = optimizer(
    NoisySGDHyperparams, init, step, "SGD with annealed gradient noise; see specs/noisy_sgd.md."
)

"""optax's optimistic methods and noisy SGD (specs/optimistic_gd.md, optimistic_adam.md,
noisy_sgd.md "Variants"): optimistic_gradient_descent, optimistic_adam (v1, deprecated),
optimistic_adam_v2 and noisy_sgd. torch.optim has none of them.

optax.noisy_sgd draws its noise from a jax key; ``JaxNoise`` replays optax's key splitting so that
the reference adds the very same draws (the noise stream is shared, the arithmetic is the
reference's own).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..peers import NotComparable, ReferenceSpec
from . import Shapes, none_only, optax_lr, optax_mapping


def _scalar(name: str, hp: dict[str, Any], key: str) -> float:
    value = hp[key]
    if callable(value):
        raise NotComparable(
            f"optax.{name}({key}=<schedule>): optax 0.2.8 multiplies by {key} directly "
            "(a callable fails inside optax); pass a number"
        )
    return float(value)


@optax_mapping("optimistic_gradient_descent")
def _optimistic_gd(hp: dict[str, Any], shapes: Shapes) -> ReferenceSpec:
    name = "optimistic_gradient_descent"
    return ReferenceSpec(
        "optimistic_gd",
        {
            "lr": optax_lr(hp["learning_rate"], name),
            "alpha": _scalar(name, hp, "alpha"),
            "beta": _scalar(name, hp, "beta"),
            "first_step": "repeat",
        },
    )


def _adam_part(name: str, hp: dict[str, Any]) -> dict[str, Any]:
    none_only(name, hp, "mu_dtype")
    return {
        "beta1": float(hp["b1"]),
        "beta2": float(hp["b2"]),
        "eps": float(hp["eps"]),
        "eps_root": float(hp["eps_root"]),
        "nesterov": bool(hp["nesterov"]),
        "first_step": "repeat",
    }


@optax_mapping("optimistic_adam")
def _optimistic_adam_v1(hp: dict[str, Any], shapes: Shapes) -> ReferenceSpec:
    # chain(scale_by_adam, scale_by_optimistic_gradient(alpha=lr, beta=optimism), scale(-1.0)):
    # the learning rate is the optimistic alpha, the final scale is 1.
    name = "optimistic_adam"
    lr = _scalar(name, hp, "learning_rate")
    optimism = lr if hp["optimism"] is None else float(hp["optimism"])
    return ReferenceSpec(
        "optimistic_adam", {"lr": 1.0, "alpha": lr, "beta": optimism, **_adam_part(name, hp)}
    )


@optax_mapping("optimistic_adam_v2")
def _optimistic_adam_v2(hp: dict[str, Any], shapes: Shapes) -> ReferenceSpec:
    name = "optimistic_adam_v2"
    return ReferenceSpec(
        "optimistic_adam",
        {
            "lr": optax_lr(hp["learning_rate"], name),
            "alpha": _scalar(name, hp, "alpha"),
            "beta": _scalar(name, hp, "beta"),
            **_adam_part(name, hp),
        },
    )


@functools.cache
def _block_fn(shapes: Shapes, dtype: str, length: int) -> Any:
    """A jit-compiled ``key -> (key after length steps, (length, p) draws)`` replaying optax.add_noise
    (one compilation per shapes and dtype, shared by every ``JaxNoise``)."""
    import jax

    def one(sample_key: Any) -> Any:
        keys = jax.random.split(sample_key, len(shapes))
        return jax.numpy.concatenate([jax.random.normal(k, s, dtype).ravel() for k, s in zip(keys, shapes)])

    def body(k: Any, _: Any) -> Any:
        nxt, sample = jax.random.split(k)
        return nxt, one(sample)

    return jax.jit(lambda key: jax.lax.scan(body, key, None, length=length))


class JaxNoise:
    """The draws z_t of optax.add_noise (optax 0.2.8) as a noise source ``(t, p) -> z_t`` for
    ``ref.noisy_sgd(noise=...)``.

    optax keeps a key k_0 (``jax.random.key(seed)`` for an integer) and at each step splits it,
    ``k_t, s_t = split(k_{t-1})``, splits s_t into one key per parameter tensor (``split(s_t, n)``),
    and draws ``jax.random.normal(key_i, shape_i, dtype)`` per tensor, in the dtype of the
    gradients. The draws are concatenated in the order of the flat vector. They are made in
    blocks of ``BLOCK`` steps (one jit-compiled scan) and kept, so a call is a function of t alone.
    """

    BLOCK = 64

    def __init__(self, key: Any, shapes: Sequence[Sequence[int]], dtype: Any = "float64") -> None:
        import jax

        self.shapes = tuple(tuple(int(d) for d in s) for s in shapes)
        self.dtype = np.dtype(dtype)
        self.key_repr = repr(key) if isinstance(key, int) else "<jax key>"
        self._key: Any = jax.random.key(key) if isinstance(key, int) else key  # k_t of the last draw kept
        self._size = sum(int(np.prod(s)) for s in self.shapes)
        self._draws: list[np.ndarray] = []  # z_1, z_2, ...
        self._block = _block_fn(self.shapes, self.dtype.name, self.BLOCK)

    def __call__(self, t: int, p: int) -> np.ndarray:
        if p != self._size:
            raise ValueError(f"JaxNoise for shapes {self.shapes} draws {self._size} numbers, asked for {p}")
        while len(self._draws) < t:
            self._key, block = self._block(self._key)
            rows = np.array(block, dtype=np.float64)
            rows.setflags(write=False)
            self._draws.extend(rows)
        return self._draws[t - 1]

    def __repr__(self) -> str:
        return f"JaxNoise(key={self.key_repr}, shapes={self.shapes}, dtype={self.dtype.name})"


@optax_mapping("noisy_sgd")
def _noisy_sgd(hp: dict[str, Any], shapes: Shapes, dtype: Any = "float64") -> ReferenceSpec:
    import jax

    key, seed = hp.get("key"), hp.get("seed")
    if key is not None and seed is not None:
        raise NotComparable("optax.noisy_sgd: only one of key and seed can be given (optax refuses both)")
    key = seed if key is None else key
    key = 0 if key is None else key  # optax 0.2.8's default, with a warning
    if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
        key = int(key)
    elif not (isinstance(key, jax.Array) and jax.numpy.issubdtype(key.dtype, jax.dtypes.prng_key)):
        raise NotComparable(f"optax.noisy_sgd(key={key!r}): pass an integer seed or a jax.random.key")
    blocks = shapes if shapes else ((),)
    return ReferenceSpec(
        "noisy_sgd",
        {
            "lr": optax_lr(hp["learning_rate"], "noisy_sgd"),
            "eta": float(hp["eta"]),
            "gamma": float(hp["gamma"]),
            "seed": key if isinstance(key, int) and key >= 0 else 0,
            "noise": JaxNoise(key, blocks, dtype),
        },
    )


__all__ = ["JaxNoise"]

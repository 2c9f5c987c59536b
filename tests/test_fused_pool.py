"""The fused primitives' buffer pool (reference/first_order/_fused.py, ``_Pool``): an output buffer is
written again only when nothing but the pool references it, so no array a caller can reach ever
changes; the pool's bound is respected and can be set to 0."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

import reference as ref
from reference.first_order import _fused as F

N = F.FUSE_MIN + 5


@pytest.fixture(autouse=True)
def _fresh_pool() -> Iterator[None]:
    previous = F.set_buffer_pool(0)  # start empty
    F.set_buffer_pool(previous)
    yield
    F.set_buffer_pool(0)
    F.set_buffer_pool(previous)


def _addr(a: np.ndarray) -> int:
    return int(a.__array_interface__["data"][0])


def test_a_dropped_output_is_reused() -> None:
    x, u = np.ones(N), np.full(N, 2.0)
    first = F.descend(x, 0.5, u)
    addr = _addr(first)
    del first
    again = F.descend(x, 0.25, u)
    assert _addr(again) == addr and np.array_equal(again, np.full(N, 0.5))


@pytest.mark.parametrize("holder", ["array", "view", "memoryview", "list"])
def test_a_referenced_output_is_never_written(holder: str) -> None:
    x, u = np.ones(N), np.full(N, 2.0)
    first = F.descend(x, 0.5, u)
    keep: object = {"array": first, "view": first[3:], "memoryview": first.data, "list": [first]}[holder]
    del first
    for eta in (0.25, 0.125, 2.0):
        F.descend(x, eta, u)
    seen = np.asarray(keep[0] if isinstance(keep, list) else keep)
    assert np.all(seen == 0.0), f"an output held through a {holder} changed"


def test_inputs_are_never_outputs() -> None:
    x = np.ones(N)
    for _ in range(4):
        y = F.descend(x, 0.5, x)
        assert not np.shares_memory(y, x)
        x = y
    assert np.array_equal(x, np.full(N, 0.5**4))


def test_a_kept_trajectory_equals_the_unpooled_one() -> None:
    """Every state of 12 Adam and momentum steps kept alive: values equal those computed with no pool."""
    rng = np.random.default_rng(0)
    x0, grads = rng.standard_normal(N), [rng.standard_normal(N) for _ in range(12)]

    def run(name: str) -> list[np.ndarray]:
        opt = ref.make(name, lr=0.01)
        states = [opt.init(x0)]
        for g in grads:
            states.append(opt.step(states[-1], g))
        return [s.params for s in states]

    for name in ("adam", "momentum", "rmsprop"):
        pooled = run(name)
        previous = F.set_buffer_pool(0)
        plain = run(name)
        F.set_buffer_pool(previous)
        assert all(np.array_equal(a, b) for a, b in zip(pooled, plain))
        assert len({_addr(a) for a in pooled}) == len(pooled)  # every kept iterate its own memory


def test_the_bound_and_zero() -> None:
    F.set_buffer_pool(3 * N * 8)
    outs = [F.descend(np.ones(N), 1.0, np.ones(N)) for _ in range(5)]
    assert sum(a.nbytes for a in F._POOL.arrays) <= 3 * N * 8 and len(F._POOL.arrays) <= F.POOL_SLOTS
    assert F.set_buffer_pool(0) == 3 * N * 8 and F._POOL.arrays == []
    del outs
    y = F.descend(np.ones(N), 1.0, np.ones(N))
    assert F._POOL.arrays == [] and np.all(y == 0.0)


@pytest.mark.parametrize("bad", [-1, 1.5, True, "1"])
def test_set_buffer_pool_refuses_bad_input(bad: object) -> None:
    with pytest.raises(ValueError, match=r"set_buffer_pool: max_bytes must be an int >= 0"):
        F.set_buffer_pool(bad)  # type: ignore[arg-type]

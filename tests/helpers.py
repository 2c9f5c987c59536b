"""Helpers for the tests: read-only inputs, state comparison, running a gradient stream,
hypergradients through unrolled steps, and the checks that every element-wise method's tests
make alike (purity, when a schedule is read, the hypergradient against differences)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import autograd.numpy as anp
import numpy as np
import pytest
from autograd import grad as agrad
from numpy.testing import assert_allclose, assert_array_equal


def readonly(a: Any) -> np.ndarray:
    """A float64 copy of ``a`` that raises on any in-place write."""
    out = np.array(a, dtype=np.float64)
    out.setflags(write=False)
    return out


def freeze(state: Any) -> Any:
    """Make every array field of ``state`` read-only (so that a step writing into its input
    state raises) and return it."""
    for f in dataclasses.fields(state):
        v = getattr(state, f.name)
        if isinstance(v, np.ndarray):
            v.setflags(write=False)
    return state


def assert_states_close(a: Any, b: Any, rtol: float = 1e-14, atol: float = 0.0) -> None:
    """Every field of two states of the same type agrees (arrays to ``rtol``/``atol``)."""
    assert type(a) is type(b), (type(a), type(b))
    for f in dataclasses.fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if x is None or y is None:
            assert x is None and y is None, f.name
        elif isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
            assert_allclose(x, y, rtol=rtol, atol=atol, err_msg=f.name)
        else:
            assert x == y, (f.name, x, y)


def run(opt: Any, x0: Any, grads: Iterable[Any]) -> list[np.ndarray]:
    """Iterates theta_1..theta_n of ``opt`` fed the gradient stream ``grads`` (open loop)."""
    state = opt.init(x0)
    out = []
    for g in grads:
        state = opt.step(state, g)
        out.append(np.array(state.params))
    return out


def states(opt: Any, x0: Any, grads: Iterable[Any]) -> list[Any]:
    """The states after each step of ``opt`` fed the gradient stream ``grads`` (open loop)."""
    state = opt.init(x0)
    out = []
    for g in grads:
        state = opt.step(state, g)
        out.append(state)
    return out


def run_closed(opt: Any, x0: Any, grad_fn: Any, n: int) -> list[np.ndarray]:
    """Iterates of ``opt`` when each gradient is taken at ``opt.query(state)`` (closed loop)."""
    state = opt.init(x0)
    out = []
    for _ in range(n):
        state = opt.step(state, grad_fn(opt.query(state)))
        out.append(np.array(state.params))
    return out


def run_oracle(opt: Any, f: Any, x0: Any, n: int) -> list[Any]:
    """The states after each of ``n`` steps of a curvature method ``opt`` that queries the
    function oracle of ``f`` itself."""
    from reference.oracle import FunctionOracle

    o = FunctionOracle(f)
    s = opt.init(x0)
    out = []
    for _ in range(n):
        s = opt.step(s, o)
        out.append(s)
    return out


def stream(seed: int, shape: Sequence[int], n: int, scale: float = 1.0) -> list[np.ndarray]:
    """A reproducible stream of ``n`` normal gradients."""
    rng = np.random.default_rng(seed)
    return [scale * rng.standard_normal(tuple(shape)) for _ in range(n)]


def hypergradient_after_steps(
    make_opt: Callable[[Any], Any],
    x0: Any,
    h: Any,
    lr: float,
    d: float,
    *,
    n: int = 20,
    at_query: bool = False,
) -> tuple[float, float]:
    """d/d lr of L(theta_n) = 1/2 sum h theta_n^2 after ``n`` closed-loop steps of ``make_opt(lr)``
    on that quadratic (gradient h * theta, taken at ``opt.query(state)`` if ``at_query``):
    autograd's value and the central difference with step ``d``, as ``(autograd, fd)``."""
    hh = np.asarray(h, dtype=np.float64)

    def loss_after(rate: Any) -> Any:
        opt = make_opt(rate)
        s = opt.init(np.asarray(x0, dtype=np.float64))
        for _ in range(n):
            s = opt.step(s, hh * (opt.query(s) if at_query else s.params))
        return 0.5 * anp.sum(hh * s.params**2)

    fd = (loss_after(lr + d) - loss_after(lr - d)) / (2 * d)
    return float(agrad(loss_after)(lr)), float(fd)


def check_pure_steps(opt: Any, x: Any, grads: Sequence[Any], *, steps: int = 1) -> tuple[Any, Any, Any]:
    """``steps`` steps of ``opt`` from ``opt.init(x)`` with read-only params and gradients and
    frozen states (a write into any of them raises); the last step, taken twice from the same
    state, gives the same params; t counts the steps; params stay float64 of x's shape.
    Returns (state 0, the last step's two results) for the caller's own assertions."""
    s0 = freeze(opt.init(readonly(x)))
    assert s0.t == 0
    s = s0
    for g in grads[: steps - 1]:
        s = freeze(opt.step(s, readonly(g)))
    g_last = readonly(grads[steps - 1])
    a, b = opt.step(s, g_last), opt.step(s, g_last)
    assert_array_equal(a.params, b.params)
    assert a.t == steps
    assert a.params.shape == np.shape(x) and a.params.dtype == np.float64
    return s0, a, b


def schedule_reads(
    make: Callable[[Callable[[int], float]], Any],
    *,
    n: int = 3,
    rate: Callable[[int], float] = lambda t: 0.1 / (1 + t),
) -> list[int]:
    """The step counts t, in order, at which the optimizer ``make(schedule)`` reads its
    schedule (values ``rate(t)``) over ``n`` open-loop steps from [0, 1] on stream(4, (2,), n)."""
    seen: list[int] = []

    def sched(t: int) -> float:
        seen.append(t)
        return rate(t)

    run(make(sched), [0.0, 1.0], stream(4, (2,), n))
    return seen


def check_hypergradient(
    make_opt: Callable[[Any], Any],
    *,
    lr: float,
    d: float,
    n: int = 20,
    rtol: float = 1e-6,
    x0: Sequence[float] = (1.0, -1.0, 2.0),
    h: Sequence[float] = (1.0, 4.0, 0.25),
) -> None:
    """The hypergradient of ``hypergradient_after_steps`` is finite, not negligible (> 1e-3) and
    agrees with the central difference to ``rtol``."""
    got, fd = hypergradient_after_steps(make_opt, list(x0), list(h), lr=lr, d=d, n=n)
    assert np.isfinite(got) and abs(got) > 1e-3
    assert_allclose(got, fd, rtol=rtol)


def check_step_pure_and_bare(opt: Any, bare_step: Callable[..., Any], x: Any, g: Any, **bare_kw: Any) -> Any:
    """One step of ``opt`` from a frozen state of read-only ``x`` on a read-only ``g`` leaves the
    state's params as they were, and the bare module step with the keywords ``bare_kw`` gives the
    same params. Returns the step's new state."""
    s = freeze(opt.init(readonly(x)))
    g_ro = readonly(g)
    s1 = opt.step(s, g_ro)
    assert_array_equal(s.params, x)
    assert_array_equal(bare_step(s, g_ro, **bare_kw).params, s1.params)
    return s1


def check_bad_grad(opt: Any, *, bad: float = np.nan) -> None:
    """From params of shape (3,), a gradient of shape (2,) and one holding ``bad`` (a NaN or an
    infinity) are refused, each with a one-line ValueError saying what is wrong."""
    s = opt.init(np.zeros(3))
    with pytest.raises(ValueError, match=r"grad has shape \(2,\) but params have shape \(3,\)"):
        opt.step(s, np.zeros(2))
    with pytest.raises(ValueError, match="non-finite"):
        opt.step(s, np.array([0.0, bad, 1.0]))

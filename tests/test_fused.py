"""The fused primitives of reference/first_order/_fused.py equal their literal forms bit for bit,
never write their inputs, and have the literal forms' derivatives; the steps built on them equal
the literal steps (the code before the primitives) bit for bit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import autograd.numpy as anp
import numpy as np
import pytest
from autograd import grad

import reference as ref
from reference.first_order import _fused as F
from tests.helpers import readonly

B, N = F.BLOCK, F.FUSE_MIN
#: sizes: empty, one, small and just below FUSE_MIN (the literal path), the smallest fused size, one
#: block exactly, a block and a ragged tail, several blocks
SIZES = (0, 1, 7, N - 1, N, B, B + 3, 3 * B + 11)


def _edge(rng: np.random.Generator, n: int, kind: str, positive: bool = False) -> np.ndarray:
    """Random float64 of one kind: normal, zeros (both signs), denormals, large, mixed."""
    if kind == "normal":
        x = rng.standard_normal(n)
    elif kind == "zeros":
        x = np.where(rng.random(n) < 0.5, 0.0, -0.0)
    elif kind == "denormal":
        x = rng.standard_normal(n) * 1e-310
    elif kind == "large":
        x = rng.standard_normal(n) * 1e300
    else:  # mixed: every kind in one vector, with a few infinities
        pool = np.concatenate(
            [
                rng.standard_normal(n),
                rng.standard_normal(n) * 1e-310,
                rng.standard_normal(n) * 1e300,
                [0.0, -0.0, np.inf, -np.inf, 5e-324],
            ]
        )
        x = rng.choice(pool, n)
    return np.abs(x) if positive else x


KINDS = ("normal", "zeros", "denormal", "large", "mixed")


def _args(
    name: str, rng: np.random.Generator, n: int, kind: str, shape: tuple[int, ...] | None = None
) -> tuple[Any, ...]:
    """Arguments of primitive ``name`` (second moments v >= 0), arrays read-only, of ``shape``."""

    def arr(positive: bool = False) -> np.ndarray:
        x = _edge(rng, n, kind, positive)
        return readonly(x.reshape(shape) if shape else x)

    scal = float(rng.uniform(0.01, 0.99))
    if name in ("ema", "ema_sq", "accumulate"):
        return arr(), arr(), scal
    if name == "descend":
        return arr(), scal, arr()
    if name == "lookahead_descend":
        return arr(), arr(), arr(), scal, 0.05
    if name == "velocity":
        return arr(), arr(), scal, 0.05
    if name == "nesterov_update":
        return arr(), arr(), arr(), 0.05, scal
    if name == "adam_update":
        return arr(), arr(), arr(positive=True), 1e-3, 1 - 0.9**3, 1 - 0.999**3, 1e-8
    return arr(), arr(), arr(positive=True), 1e-2, 1e-8  # rms_update


@pytest.mark.parametrize("name", list(F.PRIMITIVES))
@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("kind", KINDS)
def test_bit_identical_to_literal(name: str, n: int, kind: str) -> None:
    fused, literal = F.PRIMITIVES[name]
    rng = np.random.default_rng([n, KINDS.index(kind), list(F.PRIMITIVES).index(name)])
    args = _args(name, rng, n, kind)
    with np.errstate(all="ignore"):  # large values overflow, zeros divide: both forms alike
        got, want = fused(*args), literal(*args)
    assert got.dtype == np.float64 and got.shape == want.shape
    assert np.array_equal(got.view(np.uint64), want.view(np.uint64)), (
        f"{name}: not bit-identical ({kind}, n={n})"
    )


@pytest.mark.parametrize("name", list(F.PRIMITIVES))
def test_multidimensional_and_fresh_output(name: str) -> None:
    fused, literal = F.PRIMITIVES[name]
    rng = np.random.default_rng(1)
    args = _args(name, rng, 4 * (N // 4 + 3), "normal", shape=(4, N // 4 + 3))
    copies = [np.array(a) if isinstance(a, np.ndarray) else a for a in args]
    out = fused(*args)
    assert np.array_equal(out, literal(*args)) and out.shape == (4, N // 4 + 3)
    for a, c in zip(args, copies):  # inputs unchanged (they are read-only: a write would raise)
        if isinstance(a, np.ndarray):
            assert np.array_equal(a, c) and not np.shares_memory(out, a)


@pytest.mark.parametrize("name", ["ema", "descend"])
def test_other_dtypes_and_broadcasting_take_the_literal_path(name: str) -> None:
    fused, literal = F.PRIMITIVES[name]
    x32 = np.linspace(-1, 1, N + 5, dtype=np.float32)
    args: tuple[Any, ...] = (x32, x32[::-1], 0.9) if name == "ema" else (x32, 0.5, x32[::-1])
    got = fused(*args)
    assert got.dtype == literal(*args).dtype == np.float32 and np.array_equal(got, literal(*args))
    bargs: tuple[Any, ...] = (
        (np.ones((3, N)), np.arange(N + 0.0), 0.9)
        if name == "ema"
        else (np.ones((3, N)), 0.5, np.arange(N + 0.0))
    )
    assert np.array_equal(fused(*bargs), literal(*bargs))


@pytest.mark.parametrize("name", list(F.PRIMITIVES))
def test_derivatives_are_the_literal_forms(name: str) -> None:
    """d/d(every argument) of sum(sin(f(...))) through the fused primitive = through the literal."""
    fused, literal = F.PRIMITIVES[name]
    args = _args(name, np.random.default_rng(2), N + 5, "normal")
    args = tuple(np.array(a) if isinstance(a, np.ndarray) else a for a in args)
    if name in ("adam_update", "rms_update"):
        args = args[:2] + (args[2] + 0.1,) + args[3:]  # v away from 0, where sqrt is differentiable
    for i in range(len(args)):

        def loss(f: Callable[..., Any], i: int = i) -> Callable[[Any], Any]:
            return lambda x: anp.sum(anp.sin(f(*args[:i], x, *args[i + 1 :])))

        g_fused, g_literal = grad(loss(fused))(args[i]), grad(loss(literal))(args[i])
        assert np.array_equal(g_fused, g_literal), f"{name}: derivative in argument {i} differs"
        assert np.all(np.isfinite(g_fused)) and np.any(g_fused != 0)


def test_second_derivative_in_a_scalar() -> None:
    a = np.linspace(-1.0, 2.0, 9)
    d2 = [grad(grad(lambda b, f=f: anp.sum(f(a, 2 * a, b) ** 3)))(0.7) for f in (F.ema, F.ema_literal)]
    assert d2[0] == d2[1] and d2[0] != 0


# ----------------------------------------------------------------------------------------------
# The steps on the primitives equal the literal steps (the code before the primitives) bit for bit


def _literal_run(name: str, x0: np.ndarray, grads: list[np.ndarray]) -> np.ndarray:
    """Iterates of the literal forms, as the steps computed them before the primitives."""
    theta, m, v = x0, np.zeros_like(x0), np.zeros_like(x0)
    for k, g in enumerate(grads, start=1):
        if name == "sgd":
            theta = theta - 0.05 * g
        elif name == "momentum":  # polyak, first_step "grad": v_1 = g_1
            m = g if k == 1 else 0.9 * m + g
            theta = theta + (-0.05) * m
        elif name == "rmsprop":
            v = 0.99 * v + (1 - 0.99) * g * g
            theta = theta + (-0.01) * (g / (np.sqrt(v) + 1e-8))
        else:  # adam, adamw
            if name == "adamw":
                theta = theta + (-(1e-3 * 1e-2)) * theta
            m = 0.9 * m + (1 - 0.9) * g
            v = 0.999 * v + (1 - 0.999) * g * g
            mhat, vhat = m / (1 - 0.9**k), v / (1 - 0.999**k)
            theta = theta + (-1e-3) * mhat / (np.sqrt(vhat) + 1e-8)
    return theta


STEPS: dict[str, dict[str, Any]] = {
    "sgd": dict(lr=0.05),
    "momentum": dict(lr=0.05, beta=0.9, first_step="grad"),
    "rmsprop": dict(lr=0.01),
    "adam": dict(lr=1e-3),
    "adamw": dict(lr=1e-3, weight_decay=1e-2),
}


@pytest.mark.parametrize("name", list(STEPS))
def test_steps_equal_the_literal_steps(name: str) -> None:
    rng = np.random.default_rng(3)
    x0 = readonly(rng.standard_normal(N + 2 * B + 9))
    grads = [readonly(rng.standard_normal(x0.size) * s) for s in (1.0, 1e-3, 1e3, 1e-300)]
    opt = ref.make(name, **STEPS[name])
    state = opt.init(x0)
    for g in grads:
        state = opt.step(state, g)
    assert np.array_equal(state.params, _literal_run(name, x0, grads))


@pytest.mark.parametrize("bad", [0, -1, 2**31])
def test_keep_freed_memory_refuses_a_bad_limit(bad: int) -> None:
    with pytest.raises(ValueError, match=r"keep_freed_memory: limit_bytes must be in \[1, 2\*\*31 - 1\]"):
        F.keep_freed_memory(bad)


def test_the_block_path_runs_from_fuse_min_on(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = F._blocked

    def counting(kernel: Any, arrays: Any, scalars: Any, *rest: Any) -> np.ndarray:
        calls.append(arrays[0].size)
        return real(kernel, arrays, scalars, *rest)

    monkeypatch.setattr(F, "_blocked", counting)
    for n in (N - 1, N):
        F.ema(np.zeros(n), np.ones(n), 0.5)
    assert calls == [N]


def _literal_nesterov(form: str, wd: float, x0: np.ndarray, grads: list[np.ndarray]) -> np.ndarray:
    """Nesterov's iterates as the step computed them before the primitives (every form)."""
    theta, v, beta, eta = x0, np.zeros_like(x0), 0.9, 0.05
    for grad_ in grads:
        q = theta if form == "torch" else theta + beta * v
        g = grad_ + wd * q if wd else grad_
        if form == "lookahead":
            new_theta = q - eta * g
            v = new_theta - theta
        elif form == "sutskever":
            v = beta * v - eta * g
            new_theta = theta + v
        else:
            v = beta * v + g
            new_theta = theta - eta * (g + beta * v)
        theta = new_theta
    return theta


@pytest.mark.parametrize("form", ["lookahead", "sutskever", "torch"])
@pytest.mark.parametrize("wd", [0.0, 1e-2])
def test_nesterov_equals_the_literal_step(form: str, wd: float) -> None:
    rng = np.random.default_rng(4)
    x0 = readonly(rng.standard_normal(N + 2 * B + 9))
    grads = [readonly(rng.standard_normal(x0.size) * s) for s in (1.0, 1e-3, 1e3, 1e-300)]
    opt = ref.make("nesterov", lr=0.05, beta=0.9, form=form, weight_decay=wd)
    state = opt.init(x0)
    for g in grads:
        state = opt.step(state, g)
    assert np.array_equal(state.params, _literal_nesterov(form, wd, x0, grads))


ALIAS_CASES: list[tuple[str, dict[str, Any]]] = [
    ("sgd", dict(lr=0.1)),
    *[
        ("momentum", dict(lr=0.1, form=f, first_step=s))
        for f in ("polyak", "ema", "sutskever")
        for s in ("zeros", "grad")
    ],
    *[("nesterov", dict(lr=0.1, form=f)) for f in ("lookahead", "sutskever", "torch")],
    ("adam", dict(lr=0.1)),
    ("adamw", dict(lr=0.1)),
    ("rmsprop", dict(lr=0.1, centered=True, momentum=0.5)),
]


@pytest.mark.parametrize("n", [5, N + 3])
@pytest.mark.parametrize(("name", "kw"), ALIAS_CASES)
def test_no_state_aliases_the_callers_gradient(name: str, kw: dict[str, Any], n: int) -> None:
    """A caller that reuses its gradient buffer (writes the next gradient into it) cannot change a
    state already returned (momentum's first_step="grad" stored grad itself as v_1)."""
    opt = ref.make(name, **kw)
    g = np.linspace(-1.0, 1.0, n)
    s1 = opt.step(opt.init(np.ones(n)), g)
    before = {k: np.array(a) for k, a in vars_of(s1).items()}
    g[:] = 7.0
    for k, a in vars_of(s1).items():
        assert np.array_equal(a, before[k]) and not np.shares_memory(a, g), (
            f"{name} {kw}: state.{k} aliases grad"
        )


def vars_of(state: Any) -> dict[str, np.ndarray]:
    """The array fields of a slotted state."""
    return {k: getattr(state, k) for k in state.__slots__ if isinstance(getattr(state, k), np.ndarray)}

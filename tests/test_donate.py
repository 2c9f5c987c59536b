"""Opt-in buffer donation, ``Optimizer.step(state, grad, donate=True)`` (reference/_core.py):
the donated step gives the pure step's state bit for bit, writes into the old state's memory,
retires the old state, never writes an array anyone else holds, and refuses what it cannot do
with a one-line ValueError."""

from __future__ import annotations

import dataclasses
from typing import Any

import autograd.numpy as anp
import numpy as np
import pytest
from autograd import grad as agrad

import reference as ref
from reference._core import DONATING, Donated, DonatedStateError, NonFiniteGradientError, donatable
from reference.first_order import _fused as F

#: p: below FUSE_MIN (the literal path: donation is a no-op there), and fused with a ragged tail
SIZES = (1000, F.BLOCK + 5)

#: every algorithm of DONATING in each branch of its step that touches a donated buffer
VARIANTS: list[tuple[str, dict[str, Any]]] = [
    ("gd", dict(lr=0.1)),
    ("gd", dict(lr=0.1, weight_decay=0.01)),
    ("sgd", dict(lr=0.1)),
    ("sgd", dict(lr=lambda t: 0.1 / (1 + t), weight_decay=0.01)),
    ("momentum", dict(lr=0.1)),
    ("momentum", dict(lr=0.1, first_step="grad", dampening=0.1, weight_decay=0.01)),
    ("momentum", dict(lr=0.1, form="ema")),
    ("momentum", dict(lr=0.1, form="sutskever")),
    ("nesterov", dict(lr=0.1, beta=0.9, form="torch")),
    ("nesterov", dict(lr=0.1, beta=0.9, form="torch", weight_decay=0.01)),
    ("nesterov", dict(lr=0.1, beta=0.9, form="sutskever")),
    ("rmsprop", dict(lr=0.01)),
    ("rmsprop", dict(lr=0.01, centered=True)),
    ("rmsprop", dict(lr=0.01, momentum=0.9)),
    ("rmsprop", dict(lr=0.01, momentum=0.9, momentum_lr="inside", centered=True)),
    ("rmsprop", dict(lr=0.01, eps_placement="inside", bias_correction=True, weight_decay=0.01)),
    ("adam", dict(lr=1e-3)),
    ("adam", dict(lr=1e-3, weight_decay=0.01)),
    ("adam", dict(lr=1e-3, amsgrad=True)),
    ("adam", dict(lr=1e-3, eps_root=1e-8, epsilon_hat=True)),
    ("adam", dict(lr=1e-3, bias_correction=False)),
    ("adamw", dict(lr=1e-3)),
    ("adamw", dict(lr=1e-3, weight_decay=0.1, decay_scaling="schedule")),
    ("adamw", dict(lr=1e-3, weight_decay=0.0)),
]


def _arrays(state: Any) -> dict[str, np.ndarray]:
    return {k: v for k in type(state).__dataclass_fields__ if isinstance(v := getattr(state, k), np.ndarray)}


def _address(a: np.ndarray) -> int:
    return int(a.__array_interface__["data"][0])


def test_every_donating_algorithm_has_variants_here() -> None:
    assert {name for name, _ in VARIANTS} == set(DONATING)


@pytest.mark.parametrize("p", SIZES)
@pytest.mark.parametrize(("name", "hp"), VARIANTS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(VARIANTS)])
def test_donated_steps_equal_pure_steps_bit_for_bit(name: str, hp: dict[str, Any], p: int) -> None:
    rng = np.random.default_rng(p)
    x0 = rng.standard_normal(p)
    grads = [rng.standard_normal(p) for _ in range(4)]
    opt = ref.make(name, **hp)
    pure, donated = opt.init(x0), opt.init(x0)
    for g in grads:
        g_before = g.copy()
        pure = opt.step(pure, g)
        old = donated
        donated = opt.step(old, g, donate=True)
        assert np.array_equal(g, g_before)  # the gradient is never written
        assert all(isinstance(getattr(old, k), Donated) for k in _arrays(donated))  # retired
    assert _arrays(pure).keys() == _arrays(donated).keys()
    for k, a in _arrays(pure).items():
        assert np.array_equal(a, getattr(donated, k)), k
    assert donated.t == pure.t == len(grads)


@pytest.mark.parametrize("name", ["sgd", "momentum", "adam", "rmsprop"])
def test_donated_step_writes_into_the_old_state(name: str) -> None:
    """From the second step on (the first state's m and v are one shared zeros array, which the
    reference-count rule refuses), every state array of the fused path is written in place."""
    p = F.BLOCK + 5
    rng = np.random.default_rng(0)
    opt = ref.make(name, lr=1e-3)
    state = opt.step(opt.init(rng.standard_normal(p)), rng.standard_normal(p))
    addresses = {k: _address(a) for k, a in _arrays(state).items()}
    state = opt.step(state, rng.standard_normal(p), donate=True)
    assert {k: _address(a) for k, a in _arrays(state).items()} == addresses


def test_an_array_the_caller_holds_is_never_written() -> None:
    """A reference kept to the old state's params (or the gradient passed as the params array)
    makes that array ineligible: it keeps its values, the step still gives the pure result."""
    p = F.BLOCK + 5
    rng = np.random.default_rng(1)
    opt = ref.sgd(lr=0.1)
    g = rng.standard_normal(p)
    state = opt.step(opt.init(rng.standard_normal(p)), g)
    kept = state.params
    before = kept.copy()
    expected = opt.step(state, g).params
    new = opt.step(state, g, donate=True)
    assert np.array_equal(kept, before) and new.params is not kept
    assert np.array_equal(new.params, expected)
    # the gradient is the state's own params array: not donated either
    state = opt.step(opt.init(rng.standard_normal(p)), g)
    expected = opt.step(state, state.params).params
    new = opt.step(state, state.params, donate=True)
    assert np.array_equal(new.params, expected)


def test_a_state_array_that_is_a_view_of_the_callers_array_is_not_written() -> None:
    """A state built by the caller around a view of its own array (``base`` is the caller's):
    the view's reference count says nothing about the base's, so it is never donated."""
    p = F.BLOCK + 5
    rng = np.random.default_rng(3)
    big = rng.standard_normal(2 * p)
    before = big.copy()
    opt = ref.sgd(lr=0.1)
    g = rng.standard_normal(p)
    state = dataclasses.replace(opt.init(np.zeros(p)), params=big[:p])
    expected = big[:p] - 0.1 * g
    new = opt.step(state, g, donate=True)
    assert np.array_equal(big, before)
    assert np.array_equal(new.params, expected)


def test_donatable_refuses_shared_views_and_foreign_arrays() -> None:
    p = F.BLOCK + 5
    opt = ref.adam(lr=1e-3)
    state = opt.init(np.ones(p))
    assert [a is state.params for a in donatable(state)] == [True]  # m and v are one zeros array
    view = state.params[:10]
    assert donatable(state) == []  # a view of params exists
    del view
    assert len(donatable(state)) == 1


def test_a_retired_state_raises_a_clear_error_on_use() -> None:
    opt = ref.sgd(lr=0.1)
    old = opt.init(np.ones(4))
    opt.step(old, np.ones(4), donate=True)
    for use in (
        lambda: np.asarray(old.params),
        lambda: old.params + 1,
        lambda: old.params.shape,
        lambda: opt.step(old, np.ones(4)),
    ):
        with pytest.raises(DonatedStateError, match=r"state given to step\(\.\.\., donate=True\)"):
            use()
    assert "donated: SGDState.params" in repr(old)


def test_a_non_finite_gradient_raises_before_anything_is_donated() -> None:
    opt = ref.sgd(lr=0.1)
    state = opt.init(np.ones(F.BLOCK + 5))
    g = np.ones(F.BLOCK + 5)
    g[3] = np.nan
    with pytest.raises(NonFiniteGradientError):
        opt.step(state, g, donate=True)
    assert np.array_equal(state.params, np.ones(F.BLOCK + 5))  # untouched, still usable


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (
            lambda: ref.nesterov(lr=0.1, beta=0.9),
            r"^nesterov: donate=True is not supported with form='lookahead'",
        ),
        (lambda: ref.lion(lr=1e-4), r"^lion: donate=True is not supported \(supported: gd, sgd"),
    ],
)
def test_unsupported_donation_is_a_one_line_value_error(make: Any, match: str) -> None:
    opt = make()
    state = opt.init(np.ones(3))
    with pytest.raises(ValueError, match=match) as info:
        opt.step(state, np.ones(3), donate=True)
    assert "\n" not in str(info.value)
    assert np.array_equal(
        opt.step(state, np.ones(3)).params, opt.step(state, np.ones(3)).params
    )  # not consumed


def test_donation_is_refused_under_autograd_and_hypergradients_are_unchanged() -> None:
    """Tracing needs the old values (the VJP of beta v + g in beta reads the old v): donate=True
    raises whatever autograd traces -- the learning rate, a schedule's value, another
    hyperparameter, the start point -- and without it the hypergradient is the usual one."""
    rng = np.random.default_rng(2)
    x0, g = rng.standard_normal(F.BLOCK + 5), rng.standard_normal(F.BLOCK + 5)

    def loss_lr(lr: Any, donate: bool) -> Any:
        opt = ref.sgd(lr=lr)
        return anp.sum(opt.step(opt.init(x0), g, donate=donate).params ** 2)

    def loss_schedule(c: Any, donate: bool) -> Any:
        opt = ref.sgd(lr=lambda t: c / (1 + t))
        return anp.sum(opt.step(opt.init(x0), g, donate=donate).params ** 2)

    def loss_beta(beta: Any, donate: bool) -> Any:
        opt = ref.momentum(lr=0.1, beta=beta)
        state = opt.step(opt.init(x0), g)
        return anp.sum(opt.step(state, g, donate=donate).params ** 2)

    def loss_x0(x: Any, donate: bool) -> Any:
        opt = ref.momentum(lr=0.1)
        return anp.sum(opt.step(opt.init_fn(x), g, donate=donate).params ** 2)

    for loss, at in ((loss_lr, 0.1), (loss_schedule, 0.1), (loss_beta, 0.9), (loss_x0, x0)):
        with pytest.raises(ValueError, match="cannot be used while autograd traces the step"):
            agrad(loss)(at, True)
        assert np.all(np.isfinite(agrad(loss)(at, False)))

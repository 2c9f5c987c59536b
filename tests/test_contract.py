"""The contract of docs/api.md, checked for every registered first-order algorithm at once:
factory -> init/step/query, typed immutable state, purity, shapes and dtypes, bad input."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given
from numpy.testing import assert_array_equal

import reference as ref

from .helpers import freeze, readonly, stream
from .strategies import params_and_grads

FIRST_ORDER = [e.name for e in ref.ENTRIES if e.family == "first-order" and e.gradient_fed]


def test_registry_names_are_unique_and_lowercase() -> None:
    assert len(set(ref.ALGORITHMS)) == len(ref.ALGORITHMS)
    assert all(n == n.lower() for n in ref.ALGORITHMS)
    for name in ("gd", "sgd", "adam"):
        assert name in ref.ALGORITHMS


def test_make_unknown_name_lists_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="unknown algorithm 'adamm'; registered: .*adam"):
        ref.make("adamm")


@pytest.mark.parametrize("name", FIRST_ORDER)
def test_state_is_frozen_and_init_is_identity(name: str) -> None:
    opt = ref.make(name, lr=0.01)
    x = np.array([1.0, -2.0, 3.0])
    s = opt.init(x)
    assert_array_equal(s.params, x)
    assert s.t == 0
    assert dataclasses.is_dataclass(s)
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.t = 5  # type: ignore[misc]
    assert_array_equal(opt.query(s).shape, x.shape)
    assert repr(opt).startswith(f"ref.{name}(")


@pytest.mark.parametrize("name", FIRST_ORDER)
def test_init_copies_and_converts(name: str) -> None:
    x = np.array([1, 2, 3], dtype=np.float32)
    s = ref.make(name, lr=0.01).init(x)
    x[0] = 99
    assert s.params.dtype == np.float64 and s.params[0] == 1.0
    for f in dataclasses.fields(s):  # every buffer is float64 too
        v = getattr(s, f.name)
        if isinstance(v, np.ndarray):
            assert v.dtype == np.float64, (f.name, v.dtype)


@pytest.mark.parametrize("name", FIRST_ORDER)
@given(xg=params_and_grads(n_grads=3))
def test_step_contract(name: str, xg: tuple[np.ndarray, list[np.ndarray]]) -> None:
    x, gs = xg
    opt = ref.make(name, lr=0.01)
    s = opt.init(readonly(x))
    for i, g in enumerate(gs):
        freeze(s)  # every buffer of the incoming state is read-only
        g_ro = readonly(g)
        s2 = opt.step(s, g_ro)
        again = opt.step(s, g_ro)
        assert_array_equal(s2.params, again.params)  # same input, same output
        assert s2.t == s.t + 1 == i + 1
        assert s2.params.shape == x.shape and s2.params.dtype == np.float64
        assert np.all(np.isfinite(s2.params))
        assert opt.query(s2).shape == x.shape
        s = s2


@pytest.mark.parametrize("name", FIRST_ORDER)
def test_bad_lr_and_grad_shape(name: str) -> None:
    with pytest.raises(ValueError, match="lr must be a finite number > 0"):
        ref.make(name, lr=-1.0)
    opt = ref.make(name, lr=0.01)
    s = opt.init(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"grad has shape \(3, 2\) but params have shape \(2, 3\)"):
        opt.step(s, np.zeros((3, 2)))
    with pytest.raises(ValueError, match="non-finite"):
        opt.step(s, np.full((2, 3), np.nan))


@pytest.mark.parametrize("name", FIRST_ORDER)
def test_allow_nonfinite_lets_nan_through(name: str) -> None:
    opt = dataclasses.replace(ref.make(name, lr=0.01), allow_nonfinite=True)
    with np.errstate(invalid="ignore"):
        s = opt.step(opt.init(np.zeros(2)), np.array([np.nan, 1.0]))
    assert np.isnan(s.params[0])  # the NaN propagates to the iterate; it is never hidden


@pytest.mark.parametrize(
    ("name", "flag"),
    [
        ("adam", "amsgrad"),
        ("adam", "bias_correction"),
        ("adam", "epsilon_hat"),
        ("adamw", "amsgrad"),
        ("adamw", "bias_correction"),
        ("rmsprop", "centered"),
        ("rmsprop", "bias_correction"),
    ],
)
def test_boolean_options_reject_non_booleans(name: str, flag: str) -> None:
    # 'no' is truthy: accepted silently it would switch the option on.
    # 1 and 0.0 compare equal to True and False but are not booleans: refused too (one rule for every
    # flag, tests/test_hyperparams.py::test_flags_refuse_numbers_everywhere).
    for bad in ("no", 1, 0.0):
        with pytest.raises(TypeError, match=rf"{name}: {flag} must be True or False, got {bad!r}"):
            ref.make(name, lr=0.01, **{flag: bad})


# adamw and lion decay decoupled; lamb and novograd add lambda theta after their scaling, and lars's
# trust ratio reads ||g|| and ||theta|| apart (specs/lamb.md, novograd.md, lars.md "Conventions");
# adafactor decays decoupled, as torch and optax do (specs/adafactor.md); muon decouples its decay
# (torch), adan's is proximal or decoupled (specs/muon.md, adan.md).
NOT_COUPLED = ("adamw", "lion", "lamb", "lars", "novograd", "adafactor", "muon", "adan")
COUPLED_DECAY = [
    n for n in FIRST_ORDER if n not in NOT_COUPLED and "weight_decay" in ref.entry(n).hyperparameter_names()
]


@pytest.mark.parametrize("name", COUPLED_DECAY)
def test_coupled_weight_decay_is_gradient_plus_lambda_theta(name: str) -> None:
    # notation.md: weight_decay is coupled L2, g <- g + lambda theta at the point where the gradient
    # is taken (opt.query: the iterate, or Nesterov's look-ahead point). Every state field must agree
    # bit for bit with the undecayed optimizer fed g + lambda theta by hand.
    gs = stream(3, (3,), 4)
    x0 = np.array([1.0, -1.0, 2.0])
    a, b = ref.make(name, lr=0.01, weight_decay=0.1), ref.make(name, lr=0.01)
    sa, sb = a.init(x0), b.init(x0)
    for g in gs:
        sb = b.step(sb, g + 0.1 * b.query(sb))
        sa = a.step(sa, g)
        for f in dataclasses.fields(sa):
            x, y = getattr(sa, f.name), getattr(sb, f.name)
            if isinstance(x, np.ndarray):
                assert_array_equal(x, y, err_msg=f"{name}.{f.name}")


@pytest.mark.parametrize("name", FIRST_ORDER)
def test_step_with_evaluates_at_the_query_point(name: str) -> None:
    """Issue 10 item 10: ``opt.step_with(state, grad_fn)`` is ``step(state, grad_fn(query(state)))``,
    the safe path; for look-ahead Nesterov a gradient at ``state.params`` is another algorithm."""
    A = np.diag([1.0, 4.0])

    def grad_fn(x: np.ndarray) -> np.ndarray:
        return A @ x

    opt = ref.make(name, lr=0.05)
    s = opt.init(np.array([1.0, -2.0]))
    for _ in range(3):
        by_hand = opt.step(s, grad_fn(opt.query(s)))
        s = opt.step_with(s, grad_fn)
        np.testing.assert_array_equal(s.params, by_hand.params)


def test_step_with_differs_from_the_gradient_at_params_for_lookahead_nesterov() -> None:
    A = np.diag([1.0, 4.0])
    opt = ref.nesterov(0.05, beta=0.9)
    s = t = opt.init(np.array([1.0, -2.0]))
    for _ in range(3):
        s = opt.step_with(s, lambda x: A @ x)
        t = opt.step(t, A @ t.params)  # the torch/optax habit: a different algorithm here
    assert not np.allclose(s.params, t.params)


DECOUPLABLE = [n for n in ref.ALGORITHMS if "decoupled_weight_decay" in ref.entry(n).hyperparameter_names()]


@pytest.mark.parametrize("name", DECOUPLABLE)
def test_decoupled_weight_decay_shrinks_then_steps(name: str) -> None:
    """Every method with a ``decoupled_weight_decay`` switch (nadam, radam, adamax): decoupled is
    theta (1 - eta lambda), then the plain step. (Coupled, the default, is
    test_coupled_weight_decay_is_gradient_plus_lambda_theta above.) Every array of the state agrees."""
    lam, lr = 0.1, 0.05
    x0, g = np.array([1.0, -2.0, 0.5]), np.array([0.3, 0.1, -0.2])
    opt = ref.make(name, lr=lr, weight_decay=lam, decoupled_weight_decay=True)
    plain = ref.make(name, lr=lr)
    got = opt.step(opt.init(x0), g)
    want = plain.step(plain.init(x0 * (1 - lr * lam)), g)
    for field in dataclasses.fields(got):
        a, b = getattr(got, field.name), getattr(want, field.name)
        if isinstance(a, np.ndarray):
            np.testing.assert_allclose(a, b, rtol=1e-15, err_msg=f"{name}: {field.name}")
        else:
            assert a == b, (name, field.name)


def test_the_decoupled_weight_decay_switch_is_found() -> None:
    assert {"nadam", "radam", "adamax"} <= set(DECOUPLABLE)

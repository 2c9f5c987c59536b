"""clip_by_global_norm: golden values from specs/clip.md, the norm bound, pass-through below the
threshold, composition with any optimizer, purity, hypergradients, bad input."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

import reference as ref
from reference.combinators.clip import clip_grad
from reference.combinators.clip import step as clip_step

from .helpers import assert_states_close, check_bad_grad, check_hypergradient, freeze, readonly, run, stream
from .strategies import params_and_grads


def test_clip_golden() -> None:
    opt = ref.clip_by_global_norm(ref.sgd(lr=0.5), 1.0)
    s = opt.step(opt.init([0.0, 0.0]), [3.0, 4.0])
    assert_allclose(s.params, [-0.3, -0.4], rtol=1e-15)
    s = opt.step(s, [0.3, -0.4])
    assert_allclose(s.params, [-0.45, -0.2], rtol=1e-15)
    assert s.t == 2


def test_clip_golden_torch_eps() -> None:
    assert_allclose(
        clip_grad(np.array([3.0, 4.0]), max_norm=1.0, eps=1e-6),
        [0.59999988000002400, 0.79999984000003200],
        rtol=1e-15,
    )


@given(params_and_grads(n_grads=1), st.floats(1e-3, 1e3))
def test_norm_is_at_most_max_norm_and_direction_kept(
    xg: tuple[np.ndarray, list[np.ndarray]], tau: float
) -> None:
    _, (g,) = xg
    c = clip_grad(g, max_norm=tau)
    n = np.linalg.norm(g)
    if n <= tau:
        assert c is g  # passed through untouched
    else:
        assert_allclose(np.linalg.norm(c), tau, rtol=1e-14)
        assert_allclose(c * n, g * tau, rtol=1e-13, atol=1e-300)


def test_zero_gradient_passes_without_warning() -> None:
    z = np.zeros(3)
    assert clip_grad(z, max_norm=1.0) is z


@pytest.mark.parametrize(
    "make",
    [
        lambda: ref.adam(lr=0.01, weight_decay=0.1),
        lambda: ref.rmsprop(momentum=0.9),
        lambda: ref.adagrad(),
        lambda: ref.adamw(),
        lambda: ref.adadelta(),
    ],
)
def test_wraps_any_optimizer_as_clipping_then_stepping(make: object) -> None:
    inner = make()  # type: ignore[operator]
    opt = ref.clip_by_global_norm(inner, 0.7)
    gs = stream(41, (5,), 8, scale=2.0)
    sa, sb = opt.init(np.ones(5)), inner.init(np.ones(5))
    assert type(sa) is type(sb)
    for g in gs:
        n = np.linalg.norm(g)
        sb = inner.step(sb, g * min(1.0, 0.7 / n))
        sa = opt.step(sa, g)
        assert_states_close(sa, sb, rtol=1e-12, atol=1e-14)  # np.linalg.norm rounds differently


def test_large_max_norm_is_the_identity() -> None:
    gs = stream(42, (4,), 6)
    a = run(ref.clip_by_global_norm(ref.adam(lr=0.1), 1e6), np.zeros(4), gs)
    b = run(ref.adam(lr=0.1), np.zeros(4), gs)
    assert_array_equal(a[-1], b[-1])


def test_clip_happens_before_coupled_weight_decay() -> None:
    # sgd with wd: theta - lr (clip(g) + lambda theta); the decay term is not clipped.
    opt = ref.clip_by_global_norm(ref.sgd(lr=0.1, weight_decay=1.0), 1.0)
    s = opt.step(opt.init([10.0, 0.0]), [0.0, 4.0])
    assert_allclose(s.params, [10.0 - 0.1 * 10.0, -0.1 * 1.0], rtol=1e-15)


def test_keeps_query_and_hyperparams() -> None:
    inner = ref.adam(lr=0.1)
    opt = ref.clip_by_global_norm(inner, 2.0, eps=1e-6)
    assert opt.hyperparams["opt"] is inner and opt.hyperparams["max_norm"] == 2.0
    assert opt.query_fn is inner.query_fn and opt.name == "clip_by_global_norm"
    assert "ref.clip_by_global_norm(opt=ref.adam(lr=0.1" in repr(opt)


def test_hypergradient_through_20_steps() -> None:
    check_hypergradient(lambda lr: ref.clip_by_global_norm(ref.sgd(lr=lr), 1.0), lr=0.2, d=1e-6)


def test_purity_readonly_inputs() -> None:
    opt = ref.clip_by_global_norm(ref.adam(lr=0.1), 0.5)
    s0 = opt.init(readonly([1.0, 2.0]))
    freeze(s0)
    g = readonly([3.0, -4.0])
    s1, s1b = opt.step(s0, g), opt.step(s0, g)
    assert_array_equal(s1.params, s1b.params)
    assert_array_equal(g, [3.0, -4.0])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(max_norm=0.0), "clip_by_global_norm: max_norm must be a finite number > 0"),
        (dict(max_norm=-1.0), "max_norm must be a finite number > 0"),
        (dict(max_norm=float("inf")), "max_norm must be a finite number > 0"),
        (dict(max_norm=1.0, eps=-1e-6), "eps must be a finite number >= 0"),
    ],
)
def test_bad_arguments(kwargs: dict[str, float], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ref.clip_by_global_norm(ref.sgd(lr=0.1), **kwargs)


def test_bad_opt_and_grad() -> None:
    with pytest.raises(TypeError, match="opt must be a reference Optimizer"):
        ref.clip_by_global_norm("adam", 1.0)  # type: ignore[arg-type]
    check_bad_grad(ref.clip_by_global_norm(ref.sgd(lr=0.1), 1.0), bad=np.inf)


def test_bare_step_matches_factory() -> None:
    inner = ref.sgd(lr=0.1)
    s0 = inner.init(np.ones(2))
    a = clip_step(s0, np.array([3.0, 4.0]), inner_step=inner.step_fn, max_norm=1.0)
    b = ref.clip_by_global_norm(inner, 1.0).step(s0, [3.0, 4.0])
    assert_array_equal(a.params, b.params)


# ---------------------------------------------------------------------------------------------
# Its arguments come from one record (reference/_hyper.py ranges), as a registered algorithm's do.


def test_arguments_come_from_the_record_and_the_spec_table_lists_them() -> None:
    from pathlib import Path

    from reference.combinators.clip import ClipHyperparams

    from .test_spec_trace import _defaults_table, _same_default

    assert ref.clip_by_global_norm.record is ClipHyperparams
    fields = ClipHyperparams.fields()
    assert [f.name for f in fields] == ["opt", "max_norm", "eps"]
    assert list(inspect.signature(ref.clip_by_global_norm).parameters) == [f.name for f in fields]
    rows = _defaults_table((Path(__file__).resolve().parents[1] / "specs" / "clip.md").read_text())
    assert [a for a, _ in rows] == [f.name for f in fields]
    for (arg, cell), f in zip(rows, fields):
        assert _same_default(cell, f.default), (arg, cell, f.default)
    opt = ref.clip_by_global_norm(ref.sgd(lr=0.1), 2.0)
    assert isinstance(opt.record, ClipHyperparams) and opt.record.max_norm == 2.0
    assert list(opt.hyperparams) == ["opt", "max_norm", "eps"]


def _bad_cases() -> list[tuple[str, object]]:
    from reference.combinators.clip import ClipHyperparams

    return [(f.name, bad) for f in ClipHyperparams.fields() for bad in f.range.bad_values()]


@pytest.mark.parametrize("field, bad", _bad_cases(), ids=lambda v: repr(v)[:30])
def test_bad_values_from_the_ranges_are_refused_naming_the_argument(field: str, bad: object) -> None:
    kwargs: dict[str, object] = {"opt": ref.sgd(lr=0.1), "max_norm": 1.0, field: bad}
    with pytest.raises((TypeError, ValueError)) as info:
        ref.clip_by_global_norm(**kwargs)  # type: ignore[arg-type]
    message = str(info.value)
    assert "\n" not in message and f"clip_by_global_norm: {field}" in message, message


def test_wrong_kind_and_unknown_keyword_are_type_errors() -> None:
    with pytest.raises(TypeError, match="clip_by_global_norm: max_norm must be a real number, got '1'"):
        ref.clip_by_global_norm(ref.sgd(lr=0.1), "1")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="clip_by_global_norm: unknown hyperparameter 'tau'"):
        ref.clip_by_global_norm(ref.sgd(lr=0.1), 1.0, tau=1.0)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="clip_by_global_norm: missing a required argument: 'max_norm'"):
        ref.clip_by_global_norm(ref.sgd(lr=0.1))

"""ref.flat (specs/flat.md): every first-order method on structured params equals, bit for bit, the
same method on the concatenated vector (FL1)-(FL3), a layer-wise one with the leaves as its tensors (FL4); the structure comes back; gradients of another
structure are one-line errors; purity; global-norm clipping; hypergradients through the lift."""

from __future__ import annotations

from typing import Any

import autograd.numpy as anp
import numpy as np
import pytest
from autograd import grad as agrad
from numpy.testing import assert_allclose, assert_array_equal

import reference as ref
from reference.combinators.flat import structure, unvec, vec

from .helpers import readonly

FIRST_ORDER = [e.name for e in ref.ENTRIES if e.family == "first-order" and e.gradient_fed]
# Non-default settings that give the state more to carry (the defaults are run too).
VARIANTS: dict[str, dict[str, Any]] = {
    "signsgd": {"momentum": 0.9},
    "adam": {"amsgrad": True},
    "rmsprop": {"centered": True, "momentum": 0.9},
    "adagrad": {"initial_accumulator_value": 0.1, "weight_decay": 0.1},
    "momentum": {"form": "sutskever"},
    "nesterov": {"form": "torch", "weight_decay": 0.01},
    "lion": {"weight_decay": 0.1},
}
CASES: list[tuple[str, dict[str, Any]]] = [(n, {}) for n in FIRST_ORDER] + [
    (n, kw) for n, kw in VARIANTS.items()
]


def _make(name: str, kw: dict[str, Any]) -> Any:
    return ref.make(name, lr=0.05, **kw)


def _plain(name: str, kw: dict[str, Any], shapes: tuple[tuple[int, ...], ...]) -> Any:
    """The method on the concatenated vector; a layer-wise one gets the leaves as its tensors, as
    ref.flat gives them (specs/flat.md (FL4))."""
    layerwise = "shapes" in ref.entry(name).hyperparameter_names()
    return _make(name, {**kw, "shapes": shapes} if layerwise else kw)


def _dict_stream(rng: np.random.Generator, n: int) -> list[dict[str, np.ndarray]]:
    return [{"w": rng.standard_normal((2, 3)), "b": rng.standard_normal(3)} for _ in range(n)]


def _cat_dict(d: dict[str, np.ndarray]) -> np.ndarray:
    return np.concatenate([np.ravel(d["b"]), np.ravel(d["w"])])  # sorted keys: b, then w


def _cat_seq(t: Any) -> np.ndarray:
    return np.concatenate([np.ravel(a) for a in t])


def test_the_first_order_registry_is_what_the_loops_cover() -> None:
    assert set(VARIANTS) <= set(FIRST_ORDER) and len(FIRST_ORDER) >= 11


@pytest.mark.parametrize("name, kw", CASES, ids=lambda v: str(v) if v else "defaults")
def test_dict_params_equal_the_method_on_the_concatenation_bit_for_bit(name: str, kw: dict[str, Any]) -> None:
    rng = np.random.default_rng(61)
    p0 = {"w": rng.standard_normal((2, 3)), "b": rng.standard_normal(3)}
    lifted, plain = ref.flat(_make(name, kw)), _plain(name, kw, ((3,), (2, 3)))
    sl, sp = lifted.init(p0), plain.init(_cat_dict(p0))
    for g in _dict_stream(rng, 8):
        sl, sp = lifted.step(sl, g), plain.step(sp, _cat_dict(g))
        assert_array_equal(_cat_dict(sl.params), sp.params)
        assert_array_equal(_cat_dict(lifted.query(sl)), plain.query(sp))
    assert set(sl.params) == {"w", "b"} and sl.params["w"].shape == (2, 3) and sl.params["b"].shape == (3,)
    assert sl.params["w"].dtype == np.float64 and sl.t == sp.t == 8


@pytest.mark.parametrize("name, kw", CASES, ids=lambda v: str(v) if v else "defaults")
def test_tuple_params_equal_the_method_on_the_concatenation_bit_for_bit(
    name: str, kw: dict[str, Any]
) -> None:
    rng = np.random.default_rng(62)
    p0 = (rng.standard_normal((2, 3)), rng.standard_normal(3), 0.5)  # a scalar leaf too
    lifted, plain = ref.flat(_make(name, kw)), _plain(name, kw, ((2, 3), (3,), ()))
    sl, sp = lifted.init(p0), plain.init(_cat_seq(p0))
    for _ in range(8):
        g = (rng.standard_normal((2, 3)), rng.standard_normal(3), rng.standard_normal())
        sl, sp = lifted.step(sl, g), plain.step(sp, _cat_seq(g))
        assert_array_equal(_cat_seq(sl.params), sp.params)
    assert isinstance(sl.params, tuple) and [np.shape(a) for a in sl.params] == [(2, 3), (3,), ()]


#: Methods whose step draws random numbers over the whole vector (noisy_sgd's noise): a leaf run
#: alone draws a different stream, so only the concatenation law above holds for them.
STREAM_WIDE = {"noisy_sgd"}


@pytest.mark.parametrize(
    "name, kw", [c for c in CASES if c[0] not in STREAM_WIDE], ids=lambda v: str(v) if v else "defaults"
)
def test_each_leaf_follows_its_own_trajectory_closed_loop(name: str, kw: dict[str, Any]) -> None:
    # Every other registered first-order method is elementwise or layer-wise (one tensor per leaf, (FL4)), so a
    # leaf run alone is the same, bit for bit; the gradient is taken at opt.query (step_with), so look-ahead Nesterov is covered too.
    h = {"w": np.array([[1.0, 2.0, 0.5], [3.0, 0.25, 1.5]]), "b": np.array([4.0, 0.1, 2.0])}
    p0 = {"w": np.full((2, 3), 1.5), "b": np.array([-1.0, 2.0, 0.3])}
    lifted = ref.flat(_make(name, kw))
    alone = {k: _plain(name, kw, (p0[k].shape,)) for k in p0}  # a layer-wise method: the leaf's shape
    s = lifted.init(p0)
    sa = {k: alone[k].init(p0[k].ravel()) for k in p0}
    for _ in range(10):
        s = lifted.step_with(s, lambda q: {k: h[k] * q[k] for k in q})
        sa = {k: alone[k].step_with(sa[k], lambda q, k=k: h[k].ravel() * q) for k in p0}
    for k in p0:
        assert_array_equal(s.params[k].ravel(), sa[k].params)


def test_structure_comes_back_nested() -> None:
    p0 = {"layer": [np.ones((2, 2)), np.zeros(2)], "scale": (np.float32(2.0),), "n": np.int64(3)}
    s = ref.flat(ref.sgd(lr=0.5)).init(p0)
    got = s.params
    assert (
        list(got) == ["layer", "n", "scale"]
        and isinstance(got["layer"], list)
        and isinstance(got["scale"], tuple)
    )
    assert structure(got) == structure(p0)
    assert all(a.dtype == np.float64 for a in (got["layer"][0], got["n"], got["scale"][0]))
    assert_array_equal(vec(got), [1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 3.0, 2.0])  # keys layer, n, scale; C order


def test_vec_and_unvec_are_inverse() -> None:
    rng = np.random.default_rng(63)
    z, a = rng.standard_normal((2, 3, 2)), rng.standard_normal(1)
    tree: dict[str, Any] = {"z": (z,), "a": [a, 2.0]}
    x = vec(tree)
    assert x.shape == (14,)
    back = unvec(x, structure(tree))
    assert structure(back) == structure(tree)
    assert_array_equal(back["z"][0], z)
    assert_array_equal(back["a"][0], a)
    assert back["a"][1] == 2.0 and back["a"][1].shape == ()
    assert_array_equal(x[:2], [a[0], 2.0])
    assert_array_equal(x[2:], np.ravel(z, order="C"))
    with pytest.raises(ValueError, match="flat: the vector has 15 entries but the structure has 14"):
        unvec(np.append(x, 0.0), structure(tree))
    with pytest.raises(ValueError, match="flat: the vector has 13 entries but the structure has 14"):
        unvec(x[:13], structure(tree))


def test_clip_inside_flat_uses_the_global_norm() -> None:
    opt = ref.flat(ref.clip_by_global_norm(ref.sgd(lr=1.0), 1.0))
    s = opt.step(opt.init((np.zeros(1), np.zeros(2))), (np.array([3.0]), np.array([0.0, 4.0])))
    assert isinstance(s.params, tuple)
    assert_allclose(_cat_seq(s.params), [-0.6, 0.0, -0.8], rtol=1e-15)


@pytest.mark.parametrize(
    "grad, match",
    [
        ({"w": np.zeros((2, 3))}, r"flat: grad has keys \['w'\] but params has keys \['b', 'w'\]"),
        ({"w": np.zeros((2, 3)), "b": np.zeros(3), "c": 1.0}, r"grad has keys \['b', 'c', 'w'\]"),
        (
            {"w": np.zeros((3, 2)), "b": np.zeros(3)},
            r"flat: grad\['w'\] has shape \(3, 2\) but params\['w'\] has shape \(2, 3\)",
        ),
        (
            {"w": np.zeros((2, 3)), "b": [0.0, 0.0, 0.0]},
            r"flat: grad\['b'\] is a list but params\['b'\] is a leaf",
        ),
        ([np.zeros(3), np.zeros((2, 3))], r"flat: grad is a list but params is a dict"),
        (np.zeros(9), r"flat: grad is a leaf but params is a dict"),
    ],
)
def test_a_gradient_of_another_structure_is_a_one_line_error(grad: Any, match: str) -> None:
    opt = ref.flat(ref.adam())
    s = opt.init({"w": np.ones((2, 3)), "b": np.ones(3)})
    with pytest.raises(ValueError, match=match) as info:
        opt.step(s, grad)
    assert "\n" not in str(info.value) and "grad must have the structure of the params" in str(info.value)


def test_sequence_mismatches_and_bad_leaves() -> None:
    opt = ref.flat(ref.sgd(lr=0.1))
    s = opt.init([np.zeros(2), (np.zeros(3),)])
    with pytest.raises(ValueError, match=r"flat: grad has 1 items but params has 2"):
        opt.step(s, [np.zeros(2)])
    with pytest.raises(ValueError, match=r"flat: grad\[1\] is a list but params\[1\] is a tuple"):
        opt.step(s, [np.zeros(2), [np.zeros(3)]])
    with pytest.raises(ValueError, match="non-finite"):
        opt.step(s, [np.zeros(2), (np.array([0.0, np.nan, 0.0]),)])
    with pytest.raises(TypeError, match=r"flat: grad\[1\]\[0\] must be real numbers .* dtype complex128"):
        opt.step(s, [np.zeros(2), (np.zeros(3, dtype=complex),)])


def test_a_method_refuses_structured_params_naming_ref_flat() -> None:
    with pytest.raises(TypeError, match=r"ref\.flat") as info:
        ref.adam().init({"w": np.ones((2, 3)), "b": np.ones(3)})  # type: ignore[arg-type]
    assert "\n" not in str(info.value)
    with pytest.raises(TypeError, match=r"ref\.flat"):
        ref.momentum(lr=0.1).init([np.ones((2, 3)), np.ones(3)])


def test_purity_read_only_inputs_and_no_aliasing() -> None:
    opt = ref.flat(ref.adam(lr=0.1))
    w, b = readonly(np.arange(6.0).reshape(2, 3)), readonly([1.0, -1.0, 2.0])
    s0 = opt.init({"w": w, "b": b})
    g = {"w": readonly(np.ones((2, 3))), "b": readonly([0.5, -0.5, 0.0])}
    s1, s1b = opt.step(s0, g), opt.step(s0, g)
    assert_array_equal(vec(s1.params), vec(s1b.params))
    assert_array_equal(vec(s0.params), vec({"w": w, "b": b}))  # s0 unchanged by the steps
    assert_array_equal(g["b"], [0.5, -0.5, 0.0])
    assert s0.t == 0 and s1.t == 1
    # a writable input written by the caller after init does not reach the state
    w2 = np.ones((2, 3))
    s = opt.init({"w": w2, "b": np.zeros(3)})
    w2[0, 0] = 99.0
    assert s.params["w"][0, 0] == 1.0


def test_init_converts_to_float64() -> None:
    s = ref.flat(ref.adam()).init([np.array([1, 2], dtype=np.int32), np.array([0.5], dtype=np.float32), True])
    assert [a.dtype for a in s.params] == [np.float64] * 3
    assert_array_equal(vec(s.params), [1.0, 2.0, 0.5, 1.0])


def test_bad_inputs() -> None:
    with pytest.raises(
        TypeError, match=r"flat: opt must be a reference Optimizer \(ref.adam\(...\), ...\), got function"
    ):
        ref.flat(lambda x: x)  # type: ignore[arg-type]
    with pytest.raises(
        TypeError, match="flat: opt must be a first-order Optimizer .* ref.lbfgs is fed an oracle"
    ):
        ref.flat(ref.make("lbfgs"))
    with pytest.raises(ValueError, match="flat: params has no entries"):
        ref.flat(ref.sgd(lr=0.1)).init([])
    with pytest.raises(ValueError, match="flat: params has no entries"):
        ref.flat(ref.sgd(lr=0.1)).init({"a": np.zeros(0), "b": []})
    with pytest.raises(TypeError, match=r"flat: params\[0\] must be real numbers .* dtype complex128"):
        ref.flat(ref.sgd(lr=0.1)).init([np.zeros(2, dtype=complex)])
    with pytest.raises(TypeError, match=r"flat: params\['a'\] must be real numbers .* got str"):
        ref.flat(ref.sgd(lr=0.1)).init({"a": "1.0"})
    with pytest.raises(TypeError, match=r"flat: the keys of params must be sortable"):
        ref.flat(ref.sgd(lr=0.1)).init({1: np.zeros(2), "b": np.zeros(2)})
    with pytest.raises(ValueError, match="params must be finite"):
        ref.flat(ref.sgd(lr=0.1)).init({"a": np.array([np.inf])})


def test_structure_description() -> None:
    assert structure({"b": [np.zeros(2)], "a": 1.0}) == (
        "dict",
        (("a", ("leaf", ())), ("b", ("list", (("leaf", (2,)),)))),
    )


def _flat_adam_loss(lr: Any, p0: Any, steps: int = 20) -> Any:
    h1, h2 = np.array([[1.0, 2.0], [0.5, 3.0]]), np.array([0.25, 4.0])
    opt = ref.flat(ref.adam(lr=lr))
    s = opt.init(p0)
    for _ in range(steps):
        p = s.params
        s = opt.step(s, {"W": h1 * p["W"], "b": h2 * p["b"]})
    p = s.params
    return 0.5 * (anp.sum(h1 * p["W"] ** 2) + anp.sum(h2 * p["b"] ** 2))


P0 = {"W": np.ones((2, 2)), "b": np.array([-1.0, 2.0])}


def test_hypergradient_wrt_lr_through_flat_adam_equals_finite_differences() -> None:
    lr, d = 0.05, 1e-7
    fd = (_flat_adam_loss(lr + d, P0) - _flat_adam_loss(lr - d, P0)) / (2 * d)
    got = agrad(lambda lr: _flat_adam_loss(lr, P0))(lr)
    assert np.isfinite(got) and abs(got) > 1e-3
    assert_allclose(got, fd, rtol=1e-5)


def test_gradient_wrt_the_initial_dict_equals_finite_differences() -> None:
    got = agrad(lambda p: _flat_adam_loss(0.05, p, steps=5))(P0)
    assert isinstance(got, dict) and got["W"].shape == (2, 2)
    d = 1e-6
    for key, idx in (("W", (0, 1)), ("b", (1,))):
        up = {k: v.copy() for k, v in P0.items()}
        down = {k: v.copy() for k, v in P0.items()}
        up[key][idx] += d
        down[key][idx] -= d
        fd = (_flat_adam_loss(0.05, up, steps=5) - _flat_adam_loss(0.05, down, steps=5)) / (2 * d)
        assert abs(got[key][idx]) > 1e-3
        assert_allclose(got[key][idx], fd, rtol=1e-5)


def test_repr_name_hyperparams_record() -> None:
    opt = ref.flat(ref.sgd(lr=0.1))
    assert repr(opt) == "ref.flat(ref.sgd(lr=0.1, weight_decay=0.0))"
    assert opt.hyperparams["lr"] == 0.1 and opt.name == "sgd"
    assert opt.record is opt.inner.record and opt.record is not None


def test_query_is_the_inner_query_in_the_structure() -> None:
    opt = ref.flat(ref.nesterov(0.1, beta=0.5))
    s = opt.step(opt.init({"w": np.ones(2)}), {"w": np.array([1.0, -1.0])})
    inner = opt.inner.query(s.inner)
    assert_array_equal(opt.query(s)["w"], inner)
    assert not np.array_equal(inner, s.inner.params)  # look-ahead: the query is not the iterate


def test_flat_golden() -> None:
    # specs/flat.md "Worked example", by hand: sorted keys b, w; C order.
    opt = ref.flat(ref.sgd(lr=0.5))
    s = opt.init({"w": np.array([[1.0, 2.0], [3.0, 4.0]]), "b": np.array([5.0])})
    assert_array_equal(s.inner.params, [5.0, 1.0, 2.0, 3.0, 4.0])
    s = opt.step(s, {"w": np.array([[1.0, 0.0], [0.0, 1.0]]), "b": np.array([2.0])})
    assert_array_equal(s.inner.params, [4.0, 0.5, 2.0, 3.0, 3.5])
    assert list(s.params) == ["b", "w"]
    assert_array_equal(s.params["b"], [4.0])
    assert_array_equal(s.params["w"], [[0.5, 2.0], [3.0, 3.5]])


def test_dict_subclasses_and_namedtuples_come_back_as_plain_containers() -> None:
    # specs/flat.md Conventions: an OrderedDict is a dict (flattened by sorted key, rebuilt as a
    # plain dict), a namedtuple is a tuple (rebuilt as a plain tuple).
    from collections import OrderedDict, namedtuple

    Pair = namedtuple("Pair", "w b")
    opt = ref.flat(ref.sgd(lr=0.5))
    s = opt.step(opt.init(Pair(np.ones(2), np.zeros(1))), Pair(np.ones(2), np.ones(1)))
    assert type(s.params) is tuple
    assert_array_equal(vec(s.params), [0.5, 0.5, -0.5])
    s = opt.init(OrderedDict([("z", np.ones(2)), ("a", np.zeros(1))]))
    s = opt.step(s, {"a": np.ones(1), "z": np.ones(2)})
    assert type(s.params) is dict and list(s.params) == ["a", "z"]
    assert_array_equal(s.inner.params, [-0.5, 0.5, 0.5])

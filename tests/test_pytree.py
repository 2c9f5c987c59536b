"""flat(opt): elementwise optimizers on structured params equal the same optimizer on the
concatenation; structure checks, dtype conversion, global-norm clipping, hypergradients."""

from __future__ import annotations

from typing import Any

import autograd.numpy as anp
import numpy as np
import pytest
from autograd import grad as agrad
from numpy.testing import assert_allclose, assert_array_equal

import reference as ref
from reference.combinators.pytree import structure


def _cat(tree: list[np.ndarray]) -> np.ndarray:
    return np.concatenate([np.ravel(a) for a in tree])


def test_adam_on_two_arrays_equals_adam_on_their_concatenation() -> None:
    rng = np.random.default_rng(51)
    W, b = rng.standard_normal((3, 2)), rng.standard_normal(4)
    gs = [[rng.standard_normal((3, 2)), rng.standard_normal(4)] for _ in range(10)]
    lifted, plain = ref.flat(ref.adam(lr=0.05, amsgrad=True)), ref.adam(lr=0.05, amsgrad=True)
    sl, sp = lifted.init([W, b]), plain.init(_cat([W, b]))
    for g in gs:
        sl, sp = lifted.step(sl, g), plain.step(sp, _cat(g))
        assert isinstance(sl.params, list) and sl.params[0].shape == (3, 2)
        assert_array_equal(_cat(sl.params), sp.params)
    assert sl.t == 10


@pytest.mark.parametrize("make", [lambda: ref.rmsprop(centered=True, momentum=0.9), lambda: ref.adagrad(),
                                  lambda: ref.adadelta(), lambda: ref.adamw(weight_decay=0.1)])  # fmt: skip
def test_elementwise_methods_act_leaf_by_leaf(make: object) -> None:
    # On a dict {a, b}, each leaf follows the trajectory it would have alone.
    rng = np.random.default_rng(52)
    a0, b0 = rng.standard_normal(3), rng.standard_normal((2, 2))
    gs = [{"b": rng.standard_normal((2, 2)), "a": rng.standard_normal(3)} for _ in range(6)]
    lifted = ref.flat(make())  # type: ignore[operator]
    alone_a, alone_b = make(), make()  # type: ignore[operator]
    s = lifted.init({"a": a0, "b": b0})
    sa, sb = alone_a.init(a0), alone_b.init(b0)
    for g in gs:
        s, sa, sb = lifted.step(s, g), alone_a.step(sa, g["a"]), alone_b.step(sb, g["b"])
    assert_array_equal(s.params["a"], sa.params)
    assert_array_equal(s.params["b"], sb.params)


def test_clip_inside_flat_uses_the_global_norm() -> None:
    opt = ref.flat(ref.clip_by_global_norm(ref.sgd(lr=1.0), 1.0))
    s = opt.step(opt.init((np.zeros(1), np.zeros(2))), (np.array([3.0]), np.array([0.0, 4.0])))
    assert isinstance(s.params, tuple)
    assert_allclose(_cat(list(s.params)), [-0.6, 0.0, -0.8], rtol=1e-15)


def test_query_follows_the_inner_optimizer() -> None:
    opt = ref.flat(ref.sgd(lr=0.1))
    s = opt.init({"w": np.ones(2)})
    assert_array_equal(opt.query(s)["w"], np.ones(2))


def test_init_converts_and_copies() -> None:
    w = np.array([1, 2], dtype=np.int32)
    v = np.array([0.5], dtype=np.float32)
    s = ref.flat(ref.adam()).init([w, v])
    w[0] = 99
    assert s.params[0].dtype == np.float64 and s.params[0][0] == 1.0 and s.params[1].dtype == np.float64


def test_structure_mismatch_is_an_error_naming_both() -> None:
    opt = ref.flat(ref.sgd(lr=0.1))
    s = opt.init([np.zeros(2), np.zeros(3)])
    with pytest.raises(ValueError, match="flat: grad has structure .* but params have structure"):
        opt.step(s, [np.zeros(3), np.zeros(2)])  # same total size, different leaves
    with pytest.raises(ValueError, match="flat: grad has structure"):
        opt.step(s, (np.zeros(2), np.zeros(3)))  # tuple, not list
    with pytest.raises(ValueError, match="non-finite"):
        opt.step(s, [np.zeros(2), np.array([0.0, np.nan, 0.0])])


def test_bad_inputs() -> None:
    with pytest.raises(TypeError, match="flat: opt must be a reference Optimizer"):
        ref.flat(lambda x: x)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="flat: params has no entries"):
        ref.flat(ref.sgd(lr=0.1)).init([])
    with pytest.raises(TypeError, match="flat: params leaves must be real numbers"):
        ref.flat(ref.sgd(lr=0.1)).init([np.zeros(2, dtype=complex)])


def test_structure_description() -> None:
    assert structure({"b": [np.zeros(2)], "a": 1.0}) == (
        "dict", (("a", ("leaf", ())), ("b", ("list", (("leaf", (2,)),)))))


def test_hypergradient_through_20_steps() -> None:
    # d loss / d lr through flat(adam) on a two-leaf "model", against central differences.
    h1, h2 = np.array([[1.0, 2.0], [0.5, 3.0]]), np.array([0.25, 4.0])

    def loss_after(lr: float) -> Any:
        opt = ref.flat(ref.adam(lr=lr))
        s = opt.init([np.ones((2, 2)), np.array([-1.0, 2.0])])
        for _ in range(20):
            W, b = s.params
            s = opt.step(s, [h1 * W, h2 * b])
        W, b = s.params
        return 0.5 * (anp.sum(h1 * W**2) + anp.sum(h2 * b**2))

    lr, d = 0.05, 1e-7
    fd = (loss_after(lr + d) - loss_after(lr - d)) / (2 * d)
    got = agrad(loss_after)(lr)
    assert np.isfinite(got) and abs(got) > 1e-3
    assert_allclose(got, fd, rtol=1e-5)


def test_repr_and_hyperparams() -> None:
    opt = ref.flat(ref.sgd(lr=0.1))
    assert repr(opt) == "ref.flat(ref.sgd(lr=0.1, weight_decay=0.0))"
    assert opt.hyperparams["lr"] == 0.1 and opt.name == "sgd"

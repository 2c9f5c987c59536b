"""ref.flat with layer-wise methods (specs/flat.md (FL4)): the leaves are the tensors, an explicit
``shapes`` must agree with them, wrappers are filled through, and optax on a dict agrees."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import autograd
import autograd.numpy as anp
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import reference as ref
from reference.combinators.flat import leaf_shapes, structure

from .helpers import stream

W0 = np.arange(6.0).reshape(2, 3) / 3 - 0.5
B0 = np.array([1.0, -2.0])


def _grads(n: int = 5) -> list[dict[str, np.ndarray]]:
    gw, gb = stream(7, (2, 3), n), stream(8, (2,), n)
    return [{"w": w, "b": b} for w, b in zip(gw, gb)]


LAYERWISE: dict[str, Callable[[], Any]] = {
    "lamb": lambda: ref.lamb(0.05, weight_decay=0.1),
    "lars": lambda: ref.lars(0.5, weight_decay=0.1),
    "fromage": lambda: ref.fromage(0.1),
    "novograd": lambda: ref.novograd(0.05, weight_decay=0.1),
}


@pytest.mark.parametrize("name", sorted(LAYERWISE))
def test_each_leaf_is_one_tensor(name: str) -> None:
    # (FL4): leaf l follows, bit for bit, the method on that leaf alone.
    opt = ref.flat(LAYERWISE[name]())
    s = opt.init({"w": W0, "b": B0})
    alone = {k: (LAYERWISE[name](), v) for k, v in {"w": W0, "b": B0}.items()}
    states = {k: o.init(v.ravel()) for k, (o, v) in alone.items()}
    for g in _grads():
        s = opt.step(s, g)
        for k, (o, _) in alone.items():
            states[k] = o.step(states[k], g[k].ravel())
            assert_array_equal(s.params[k].ravel(), states[k].params)


def test_is_the_method_with_the_leaves_shapes_on_the_flat_vector() -> None:
    # Sorted keys: b (2,), then w (2, 3).
    opt = ref.flat(ref.lamb(0.05))
    s = opt.init({"w": W0, "b": B0})
    assert opt.for_structure(s.treedef).hyperparams["shapes"] == ((2,), (2, 3))
    direct = ref.lamb(0.05, shapes=((2,), (2, 3)))
    d = direct.init(np.concatenate([B0, W0.ravel()]))
    for g in _grads():
        s, d = opt.step(s, g), direct.step(d, np.concatenate([g["b"], g["w"].ravel()]))
        assert_array_equal(np.concatenate([s.params["b"], s.params["w"].ravel()]), d.params)
    # ... and not the one-tensor method the inner would be on one vector.
    one = ref.lamb(0.05)
    o = one.step(
        one.init(np.concatenate([B0, W0.ravel()])),
        np.concatenate([_grads()[0]["b"], _grads()[0]["w"].ravel()]),
    )
    first = opt.step(opt.init({"w": W0, "b": B0}), _grads()[0])
    assert not np.allclose(np.concatenate([first.params["b"], first.params["w"].ravel()]), o.params)


def test_explicit_shapes_must_be_the_leaves() -> None:
    params = {"w": W0, "b": B0}
    ok = ref.flat(ref.lamb(shapes=((2,), (2, 3))))
    ok.step(ok.init(params), _grads()[0])
    with pytest.raises(
        ValueError,
        match=r"^flat: ref.lamb's shapes \(\(2, 3\), \(2,\)\) are not the shapes of the params' leaves "
        r"\(\(2,\), \(2, 3\)\); leave shapes=None and flat fills them in$",
    ):
        ref.flat(ref.lamb(shapes=((2, 3), (2,)))).init(params)


def test_empty_leaves_are_skipped_and_scalars_are_tensors() -> None:
    params = [np.zeros((0, 3)), 2.0, np.array([3.0, 4.0])]
    assert leaf_shapes(structure(params)) == ((), (2,))
    opt = ref.flat(ref.fromage(0.1))
    s = opt.step(opt.init(params), [np.zeros((0, 3)), 1.0, np.array([0.6, -0.8])])
    assert s.params[0].shape == (0, 3)
    assert_allclose(s.params[1], (2.0 - 0.1 * 2.0) / np.sqrt(1.01), rtol=1e-15)
    assert_allclose(
        s.params[2], (np.array([3.0, 4.0]) - 0.5 * np.array([0.6, -0.8])) / np.sqrt(1.01), rtol=1e-15
    )


def test_a_wrapper_is_filled_through() -> None:
    # clip_by_global_norm(lamb): the global clip over all leaves, then LAMB per leaf.
    opt = ref.flat(ref.clip_by_global_norm(ref.lamb(0.05), 1.0))
    s = opt.init({"w": W0, "b": B0})
    inner = opt.for_structure(s.treedef)
    assert inner.name == "clip_by_global_norm"
    assert inner.hyperparams["opt"].hyperparams["shapes"] == ((2,), (2, 3))  # type: ignore[attr-defined]
    direct = ref.clip_by_global_norm(ref.lamb(0.05, shapes=((2,), (2, 3))), 1.0)
    d = direct.init(np.concatenate([B0, W0.ravel()]))
    for g in _grads():
        s, d = opt.step(s, g), direct.step(d, np.concatenate([g["b"], g["w"].ravel()]))
        assert_array_equal(np.concatenate([s.params["b"], s.params["w"].ravel()]), d.params)


def test_one_flat_optimizer_serves_two_models_and_keeps_its_options() -> None:
    base = dataclasses.replace(ref.lamb(0.05), allow_nonfinite=True)
    opt = ref.flat(base)
    a, b = opt.init({"w": W0}), opt.init([B0, W0, np.ones(4)])
    assert opt.for_structure(a.treedef).hyperparams["shapes"] == ((2, 3),)
    assert opt.for_structure(b.treedef).hyperparams["shapes"] == ((2,), (2, 3), (4,))
    assert opt.inner is base and base.hyperparams["shapes"] is None
    assert opt.for_structure(b.treedef).allow_nonfinite
    with np.errstate(invalid="ignore"):
        s = opt.step(a, {"w": np.full((2, 3), np.nan)})
    assert np.all(np.isnan(s.params["w"]))


def test_elementwise_inners_are_untouched() -> None:
    opt = ref.flat(ref.adam(0.1))
    s = opt.init({"w": W0, "b": B0})
    assert opt.for_structure(s.treedef) is opt.inner


def test_hypergradient_through_flat_lamb() -> None:
    def loss_after(lr: Any) -> Any:
        opt = ref.flat(ref.lamb(lr, weight_decay=0.1))
        s = opt.init({"w": W0, "b": B0})
        for _ in range(4):
            p = opt.query(s)
            s = opt.step(s, {"w": 2.0 * p["w"], "b": 3.0 * p["b"]})
        return anp.sum(s.params["w"] ** 2) + anp.sum(s.params["b"] ** 2)

    ad = autograd.grad(loss_after)(0.05)
    fd = (loss_after(0.05 + 1e-6) - loss_after(0.05 - 1e-6)) / 2e-6
    assert abs(ad) > 1e-3
    assert_allclose(ad, fd, rtol=1e-6)


@pytest.mark.parametrize("name", ["lamb", "lars", "fromage", "novograd"])
def test_optax_on_a_dict(name: str) -> None:
    optax = pytest.importorskip(
        "optax", reason="optax is not installed: pip install -e '.[test,peers]' runs these tests"
    )
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)  # type: ignore[no-untyped-call]
    peer = {
        "lamb": optax.lamb(0.05, weight_decay=0.1),
        "lars": optax.lars(0.5, weight_decay=0.1),
        "fromage": optax.fromage(0.1),
        "novograd": optax.novograd(0.05, weight_decay=0.1),
    }[name]
    mine: Any = (
        ref.lars(0.5, weight_decay=0.1, trust_norm="combined") if name == "lars" else LAYERWISE[name]()
    )
    opt = ref.flat(mine)
    s = opt.init({"w": W0, "b": B0})
    p = {"w": jnp.asarray(W0), "b": jnp.asarray(B0)}
    st = peer.init(p)
    worst = 0.0
    for g in _grads(30):
        s = opt.step(s, g)
        u, st = peer.update({k: jnp.asarray(v) for k, v in g.items()}, st, p)
        p = optax.apply_updates(p, u)
        worst = max(worst, *(float(np.max(np.abs(np.asarray(p[k]) - s.params[k]))) for k in ("w", "b")))
    assert worst < 1e-14, worst

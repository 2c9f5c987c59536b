"""Shampoo: golden step, matrix roots vs scipy sqrtm, vector rules (full-matrix / diagonal AdaGrad), bad input."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.linalg import inv, sqrtm

import reference as ref
from reference.curvature.shampoo import init as sh_init
from reference.curvature.shampoo import step as sh_step
from reference.problems import pack, unpack

from .helpers import readonly, stream


def test_shampoo_golden_one_step() -> None:
    # specs/shampoo.md "Worked example": theta_1 = -26^{-1/2} (3, 4).
    opt = ref.shampoo(lr=1.0, shapes=((1, 2),), eps=1.0)
    s = opt.step(opt.init([0.0, 0.0]), [3.0, 4.0])
    assert_allclose(s.params, [-0.58834840541455213, -0.78446454055273618], rtol=1e-14)
    assert_allclose(s.L[0], [[26.0]], rtol=0)
    assert_allclose(s.R[0], [[10.0, 12.0], [12.0, 17.0]], rtol=0)


def _inv_root(M: np.ndarray, k: int) -> np.ndarray:
    """M^{-1/2^k} by scipy's Schur-based sqrtm applied k times (independent of eigh)."""
    for _ in range(k):
        M = sqrtm(M)
    return np.real(inv(M))


def test_matrix_blocks_match_scipy_matrix_roots() -> None:
    shapes = ((3, 2), (3,), (2, 3), (2,))
    gs = stream(1, (17,), 4)
    x0 = np.linspace(-1, 1, 17)
    opt = ref.shampoo(lr=0.05, shapes=shapes, eps=1e-3)
    s = opt.init(x0)
    L = [1e-3 * np.eye(3), None, 1e-3 * np.eye(2), None]
    R = [1e-3 * np.eye(2), None, 1e-3 * np.eye(3), None]
    H = [None, 1e-3 * np.eye(3), None, 1e-3 * np.eye(2)]
    x = x0.copy()
    for g in gs:
        s = opt.step(s, g)
        parts = []
        for j, (shp, gb) in enumerate(zip(shapes, unpack(g, shapes))):
            if len(shp) == 2:
                G = gb
                L[j] = L[j] + G @ G.T
                R[j] = R[j] + G.T @ G
                parts.append((_inv_root(L[j], 2) @ G @ _inv_root(R[j], 2)).ravel())
            else:
                H[j] = H[j] + np.outer(gb, gb)
                parts.append(_inv_root(H[j], 1) @ gb)
        x = x - 0.05 * np.real(pack(parts))
        assert_allclose(s.params, x, rtol=1e-10, atol=1e-12)


def test_diagonal_vector_rule_is_adagrad() -> None:
    gs = stream(2, (4,), 5)
    opt = ref.shampoo(lr=0.1, shapes=((4,),), eps=1e-2, vector_rule="diagonal")
    s = opt.init(np.zeros(4))
    h, x = np.full(4, 1e-2), np.zeros(4)
    for g in gs:
        s = opt.step(s, g)
        h = h + g * g
        x = x - 0.1 * g / np.sqrt(h)
        assert_allclose(s.params, x, rtol=1e-14, atol=1e-16)
    # and the same as ref.adagrad with initial accumulator eps and eps = 0 in the denominator
    ada = ref.adagrad(lr=0.1, eps=0.0, initial_accumulator_value=1e-2)
    sa = ada.init(np.zeros(4))
    for g in gs:
        sa = ada.step(sa, g)
    assert_allclose(s.params, sa.params, rtol=1e-14, atol=1e-16)


def test_one_step_on_a_matrix_is_scale_free() -> None:
    # With eps -> 0 the first step L^{-1/4} G R^{-1/4} is the polar factor of G: the same for c G.
    shapes = ((3, 3),)
    g = np.random.default_rng(3).standard_normal(9)
    a = ref.shampoo(lr=1.0, shapes=shapes, eps=1e-12)
    s1, s2 = a.step(a.init(np.zeros(9)), g), a.step(a.init(np.zeros(9)), 100.0 * g)
    assert_allclose(s1.params, s2.params, rtol=1e-8)
    U, _, Vt = np.linalg.svd(g.reshape(3, 3))
    assert_allclose(s1.params, -(U @ Vt).ravel(), rtol=1e-8, atol=1e-10)


def test_purity_and_bare_step() -> None:
    shapes = ((2, 2), (2,))
    x = readonly(np.arange(6.0))
    g = readonly(np.ones(6))
    opt = ref.shampoo(lr=0.1, shapes=shapes)
    s0 = opt.init(x)
    a, b = opt.step(s0, g), opt.step(s0, g)
    assert_array_equal(a.params, b.params)
    c = sh_step(
        sh_init(np.array(x), shapes=shapes, eps=1e-4, vector_rule="full"), np.ones(6), lr=0.1, shapes=shapes
    )
    assert_array_equal(a.params, c.params)
    assert s0.t == 0 and a.t == 1


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(lr=0.0, shapes=((2,),)), "lr must be a finite number > 0"),
        (dict(shapes=((2,),), eps=0.0), "eps must be a finite number > 0"),
        (dict(shapes=((2,),), vector_rule="kron"), "vector_rule must be one of"),
        (dict(shapes=()), "shapes must be a non-empty sequence"),
        (dict(shapes=((2, 2, 2),)), "1-D or 2-D"),
        (dict(shapes=((0, 2),)), "sizes >= 1"),
    ],
)
def test_bad_hyperparameters(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ref.shampoo(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("shapes", [3, "2x2", ((2.5,),), ((True, 2),), (3, 2)])
def test_shapes_of_the_wrong_kind_are_type_errors(shapes: object) -> None:
    with pytest.raises(TypeError, match="shampoo: shapes must be a sequence of 1-D or 2-D shapes"):
        ref.shampoo(shapes=shapes)  # type: ignore[arg-type]


def test_shapes_are_stored_as_tuples_of_ints() -> None:
    opt = ref.shampoo(shapes=[[np.int64(2), 2], [2]])  # type: ignore[arg-type]
    assert opt.hyperparams["shapes"] == ((2, 2), (2,))
    assert all(type(d) is int for s in opt.hyperparams["shapes"] for d in s)


def test_bad_input() -> None:
    opt = ref.shampoo(shapes=((2, 2), (2,)))
    with pytest.raises(
        ValueError, match=r"shampoo: params have shape \(5,\) but shapes .* need a flat vector of length 6"
    ):
        opt.init(np.zeros(5))
    s = opt.init(np.zeros(6))
    with pytest.raises(ValueError, match=r"grad has shape \(5,\) but params have shape \(6,\)"):
        opt.step(s, np.zeros(5))
    with pytest.raises(ValueError, match="non-finite"):
        opt.step(s, np.array([np.nan, 0, 0, 0, 0, 0]))

"""Muon: golden values from specs/muon.md, the Newton-Schulz iteration's properties (orthogonal
directions, transposition, scale invariance), the lr scaling, the AdamW fallback and the refusal
of non-matrix blocks, the bfloat16 emulation, purity, hypergradients."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import reference as ref
from reference.first_order.muon import init as muon_init
from reference.first_order.muon import lr_ratio, orthogonalise
from reference.first_order.muon import step as muon_step

from .helpers import freeze, hypergradient_after_steps, readonly, run, stream

NS = (3.4445, -4.775, 2.0315)


def test_muon_golden_two_steps() -> None:
    # specs/muon.md "Worked example": one 1 x 2 block (40-digit decimals).
    opt = ref.muon(0.1, weight_decay=0.1)
    s = opt.step(opt.init(np.array([[1.0, -2.0]])), np.array([[3.0, 4.0]]))
    assert_allclose(s.momentum, [[0.15, 0.2]], rtol=1e-15)
    assert_allclose(s.params, [[0.9482138027687694732521, -2.035714929641640702331]], rtol=1e-15)
    s = opt.step(s, np.array([[-1.0, 2.0]]))
    assert_allclose(s.momentum, [[0.0925, 0.29]], rtol=1e-15)
    assert_allclose(s.params, [[0.9317424839170297025812, -2.084649856897872599329]], rtol=1e-15)


def test_one_newton_schulz_step_on_a_diagonal_matrix() -> None:
    O = orthogonalise(np.diag([2.0, 1.0]), NS, 1, 1e-7)
    assert_allclose(np.diag(O), [0.8270411070179822643920, 1.149678803051470917992], rtol=1e-15)
    assert O[0, 1] == O[1, 0] == 0.0
    s = ref.muon(1.0, momentum=0.0, weight_decay=0.0, ns_steps=1).step(
        ref.muon().init(np.zeros((2, 2))), np.diag([2.0, 1.0])
    )
    assert_allclose(s.params, -O, rtol=1e-15)


def test_many_cubic_steps_give_the_polar_factor() -> None:
    # (a, b, c) = (1.5, -0.5, 0): the classic cubic Newton-Schulz iteration converges to U V^T.
    rng = np.random.default_rng(0)
    G = rng.standard_normal((3, 5))
    U, _, Vt = np.linalg.svd(G, full_matrices=False)
    assert_allclose(orthogonalise(G, (1.5, -0.5, 0.0), 60, 1e-12), U @ Vt, atol=1e-12)
    # The quintic default does not converge: singular values end in about [0.7, 1.2].
    sv = np.linalg.svd(orthogonalise(G, NS, 5, 1e-7), compute_uv=False)
    assert np.all((sv > 0.6) & (sv < 1.25)) and np.ptp(sv) > 1e-3


def test_tall_matrices_are_transposed_and_scale_does_not_matter() -> None:
    rng = np.random.default_rng(1)
    G = rng.standard_normal((5, 3))
    assert_allclose(orthogonalise(G, NS, 5, 0.0), orthogonalise(G.T, NS, 5, 0.0).T, rtol=1e-15)
    assert_allclose(orthogonalise(1e3 * G, NS, 5, 0.0), orthogonalise(G, NS, 5, 0.0), rtol=1e-12)


def test_clamp_and_add_normalisations() -> None:
    G = np.array([[3e-8, 4e-8]])  # ||G|| = 5e-8 < eps = 1e-7
    add = orthogonalise(G, NS, 0, 1e-7, "add")
    clamp = orthogonalise(G, NS, 0, 1e-7, "clamp")
    assert_allclose(add, G / 1.5e-7, rtol=1e-15)
    assert_allclose(clamp, G / 1e-7, rtol=1e-15)


def test_lr_ratio_follows_the_shape() -> None:
    assert lr_ratio((8, 2), None) == lr_ratio((8, 2), "original") == 2.0
    assert lr_ratio((2, 8), None) == 1.0
    assert_allclose(lr_ratio((4, 9), "match_rms_adamw"), 0.6, rtol=1e-15)


def test_nesterov_off_orthogonalises_the_buffer() -> None:
    gs = stream(2, (2, 3), 4)
    a = ref.muon(0.1, nesterov=False, weight_decay=0.0)
    s = a.init(np.zeros((2, 3)))
    B = np.zeros((2, 3))
    theta = np.zeros((2, 3))
    for g in gs:
        s = a.step(s, g)
        B = 0.95 * B + 0.05 * g
        theta = theta - 0.1 * orthogonalise(B, NS, 5, 1e-7)
    assert_allclose(s.params, theta, rtol=1e-13, atol=1e-15)


def test_vectors_get_adamw_and_matrices_muon() -> None:
    shapes = ((2, 3), (4,))
    gs = stream(3, (10,), 5)
    x0 = np.linspace(-1, 1, 10)
    out = run(ref.muon(0.05, shapes=shapes, adam_lr=0.01, adam_weight_decay=0.1), x0, gs)[-1]
    vec = run(ref.adamw(0.01, weight_decay=0.1), x0[6:], [g[6:] for g in gs])[-1]
    mat = run(ref.muon(0.05), x0[:6].reshape(2, 3), [g[:6].reshape(2, 3) for g in gs])[-1]
    assert_allclose(out[6:], vec, rtol=1e-13)
    assert_allclose(out[:6], mat.ravel(), rtol=1e-14)


def test_refuse_non_matrix_blocks_like_torch() -> None:
    opt = ref.muon(shapes=((2, 3), (3,)), non_matrix="refuse")
    with pytest.raises(ValueError, match=r"muon: non_matrix='refuse' needs 2-D blocks only .* \(3,\)"):
        opt.init(np.zeros(9))
    ref.muon(shapes=((2, 3), (3, 1)), non_matrix="refuse").init(np.zeros(9))


def test_bfloat16_iteration_is_close_to_float64_but_not_equal() -> None:
    rng = np.random.default_rng(4)
    U = rng.standard_normal((3, 4))
    exact = orthogonalise(U, NS, 5, 1e-7, "clamp")
    bf = orthogonalise(U, NS, 5, 1e-7, "clamp", "bfloat16")
    assert 1e-4 < np.max(np.abs(bf - exact)) < 0.05
    as_bf16 = bf.astype(np.float32).view(np.uint32) & 0xFFFF  # every value a bfloat16 number
    assert np.all(as_bf16 == 0)


def test_step_is_pure_and_bare_step_equals_factory() -> None:
    opt = ref.muon(0.02, shapes=((2, 2), (2,)))
    s = freeze(opt.init(readonly([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])))
    g = readonly([0.5, -0.25, 0.0, 1.0, 2.0, -1.0])
    a = opt.step(s, g)
    b = muon_step(
        muon_init(np.arange(1.0, 7.0), shapes=((2, 2), (2,))),
        g,
        lr=0.02,
        weight_decay=0.1,
        momentum=0.95,
        nesterov=True,
        ns_coefficients=NS,
        eps=1e-7,
        ns_steps=5,
        shapes=((2, 2), (2,)),
    )
    assert_array_equal(a.params, b.params)
    assert_array_equal(s.params, np.arange(1.0, 7.0))
    assert s.t == 0


def test_bad_coefficients_are_refused() -> None:
    with pytest.raises(ValueError, match=r"muon: ns_coefficients must be three finite numbers"):
        ref.muon(ns_coefficients=(1.0, 2.0))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"muon: ns_coefficients must be three finite numbers"):
        ref.muon(ns_coefficients="abc")  # type: ignore[arg-type]


def test_hypergradient_matches_finite_differences() -> None:
    h = np.linspace(0.5, 3.0, 9)
    x0 = np.linspace(-1.0, 1.0, 9)
    ad, fd = hypergradient_after_steps(
        lambda r: ref.muon(r, shapes=((2, 3), (3,)), weight_decay=0.1), x0, h, 0.05, 1e-6, n=10
    )
    assert_allclose(ad, fd, rtol=1e-6)

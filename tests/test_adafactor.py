"""Adafactor: golden values from specs/adafactor.md, which tensors are factored, reductions (an
unfactored rank-1 case, signSGD), scale invariances, the eps1 forms, weight decay and momentum
forms, purity, bad shapes, hypergradients."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

import reference as ref
from reference.first_order.adafactor import beta_schedule, factor_axes_of
from reference.first_order.adafactor import init as af_init
from reference.first_order.adafactor import step as af_step

from .helpers import check_step_pure_and_bare, hypergradient_after_steps, run, stream

SHAPES = ((2, 2), (2,))


def _a(x: np.ndarray | None) -> np.ndarray:
    """A state buffer that must be present."""
    assert x is not None
    return x


def test_adafactor_golden_two_steps() -> None:
    # specs/adafactor.md "Worked example" (40-digit decimals).
    opt = ref.adafactor(eps1=0.0, shapes=SHAPES)
    s = opt.step(opt.init([1.0, 2.0, 2.0, 1.0, 0.5, -0.5]), [1.0, 0.0, 0.0, 3.0, 3.0, -4.0])
    assert_allclose(s.params, [0.97, 2.0, 2.0, 0.99, 0.495, -0.495], rtol=1e-15)
    assert_allclose(_a(s.r[0]), [[0.5], [4.5]], rtol=1e-15)
    assert_allclose(_a(s.c[0]), [[0.5, 4.5]], rtol=1e-15)
    assert_allclose(_a(s.v[1]), [9.0, 16.0], rtol=1e-15)
    assert s.v[0] is None and s.r[1] is None and s.c[1] is None and s.m is None
    s = opt.step(s, [-1.0, 2.0, 1.0, -2.0, 1.0, 0.0])
    assert_allclose(
        _a(s.r[0]).ravel(),
        [1.648698354997035006798626946777927589444, 3.351301645002964993201373053222072410556],
        rtol=1e-14,
    )
    assert_allclose(
        _a(s.c[0]).ravel(),
        [0.7871745887492587516996567366944818973610, 4.212825411250741248300343263305518102639],
        rtol=1e-14,
    )
    assert_allclose(
        _a(s.v[1]),
        [4.405206580011859972805492212888289642225, 6.810413160023719945610984425776579284450],
        rtol=1e-14,
    )
    want = [
        0.9895075331648135207780135981750043288716,
        1.983135201684420032888913573514312490026,
        1.986317476699617074412569430237363713670,
        1.001828917267991606826092603478580106986,
        0.4926415750572694110336277372881500011010,
        -0.495,
    ]
    assert_allclose(s.params, want, rtol=1e-15)
    assert s.t == 2


@pytest.mark.parametrize(
    ("shape", "factored", "min_size", "policy", "want"),
    [
        ((5,), True, 1, "last_two", None),
        ((), True, 1, "last_two", None),
        ((3, 4), True, 1, "last_two", (0, 1)),
        ((3, 4), False, 1, "last_two", None),
        ((3, 4), True, 4, "last_two", None),  # both factored axes must reach the size
        ((3, 4), True, 128, "largest_two", None),  # optax's default: a 3 x 4 matrix keeps a full v
        ((4, 3), True, 1, "largest_two", (1, 0)),  # R indexed by the second-largest axis
        ((3, 1, 6), True, 2, "largest_two", (0, 2)),
        ((3, 1, 6), True, 2, "last_two", None),
        ((2, 3, 4), True, 1, "last_two", (1, 2)),
    ],
)
def test_which_tensors_are_factored(
    shape: tuple[int, ...], factored: bool, min_size: int, policy: str, want: tuple[int, int] | None
) -> None:
    assert factor_axes_of(shape, factored, min_size, policy) == want  # type: ignore[arg-type]


def test_factored_statistics_shapes() -> None:
    s = af_init(np.zeros(2 * 3 * 4 + 5), shapes=((2, 3, 4), (5,)))
    assert s.r[0] is not None and s.c[0] is not None
    assert s.r[0].shape == (2, 3, 1) and s.c[0].shape == (2, 1, 4)  # 2 x (3 + 4) numbers, not 24
    assert s.v[1] is not None and s.v[1].shape == (5,)


@given(st.integers(0, 2**31 - 1))
def test_rank_one_first_step_equals_the_full_second_moment(seed: int) -> None:
    # At t = 1 (beta_1 = 0) and eps1 = 0, R C / mean R = G^2 exactly when G^2 is rank one.
    rng = np.random.default_rng(seed)
    g = np.outer(rng.uniform(0.5, 2, 3) * rng.choice([-1, 1], 3), rng.uniform(0.5, 2, 4))
    x = rng.normal(size=12)
    a = ref.adafactor(eps1=0.0, shapes=((3, 4),))
    b = ref.adafactor(eps1=0.0, shapes=((3, 4),), factored=False)
    assert_allclose(a.step(a.init(x), g.ravel()).params, b.step(b.init(x), g.ravel()).params, rtol=1e-14)


def test_reduces_to_signsgd() -> None:
    # beta_t = 0 (c = 0), eps1 = 0, full v, no clipping, no parameter scale, rho = eta: eta sign(g).
    gs = stream(3, (6,), 5)
    x0 = np.linspace(-1, 1, 6)
    a = ref.adafactor(
        0.05,
        relative_step=False,
        decay_rate=0.0,
        eps1=0.0,
        factored=False,
        clip_threshold=None,
        multiply_by_parameter_scale=False,
    )
    assert_allclose(run(a, x0, gs)[-1], run(ref.signsgd(0.05), x0, gs)[-1], rtol=1e-15)


@given(st.floats(1e-3, 1e3))
def test_gradient_scale_invariance(c: float) -> None:
    # eps1 = 0: U_t is invariant to g -> c g (the statistics scale by c^2).
    gs = stream(1, (12,), 4)
    x0 = np.linspace(-1, 2, 12)
    opt = ref.adafactor(eps1=0.0, shapes=((3, 4),))
    assert_allclose(run(opt, x0, gs)[-1], run(opt, x0, [c * g for g in gs])[-1], rtol=1e-13)


@given(st.floats(1e-2, 1e2))
def test_relative_step_scales_with_the_parameters(c: float) -> None:
    # alpha_t = rho_t RMS(X) while RMS(X) > eps2: scaling X scales every step by c.
    gs = stream(2, (17,), 3)
    x0 = np.linspace(1, 2, 17)
    opt = ref.adafactor(
        eps2=0.0,
        shapes=(
            (3, 4),
            (5,),
        ),
    )
    assert_allclose(c * run(opt, x0, gs)[-1], run(opt, c * x0, gs)[-1], rtol=1e-13)


def test_parameter_scale_floor_eps2() -> None:
    # X_0 = 0: alpha_1 = rho_1 eps2; the first update of a 1-D tensor is sign(g), RMS 1.
    s = ref.adafactor(eps2=0.5).step(af_init(np.zeros(3)), [1.0, -2.0, 3.0])
    assert_allclose(s.params, [-0.005, 0.005, -0.005], rtol=1e-15)


def test_eps1_forms_differ_only_where_eps1_matters() -> None:
    gs = stream(4, (12,), 5)
    x0 = np.linspace(-1, 1, 12)
    add = ref.adafactor(eps1=1e-30, shapes=((3, 4),))
    clamp = ref.adafactor(eps1=1e-30, eps1_form="clamp", shapes=((3, 4),))
    assert_allclose(run(add, x0, gs)[-1], run(clamp, x0, gs)[-1], rtol=1e-14)
    big_add = ref.adafactor(eps1=1e-1, shapes=((3, 4),))
    big_clamp = ref.adafactor(eps1=1e-1, eps1_form="clamp", shapes=((3, 4),))
    assert np.max(np.abs(run(big_add, x0, gs)[-1] - run(big_clamp, x0, gs)[-1])) > 1e-6
    # clamp: a zero gradient gives U = 0 (not 0/0); eps1 floors V at eps1^2.
    s = clamp.step(clamp.init(x0), np.zeros(12))
    assert_array_equal(s.params, x0)


def test_clipping_threshold() -> None:
    # First step of a 1-D tensor: U = sign(g), RMS 1, never clipped at d >= 1; a factored
    # G = diag(1, 3) gives RMS(U) = 5/3 (worked example): clipped at d = 1, not at d = 2.
    g = np.array([1.0, 0.0, 0.0, 3.0])
    x = np.array([1.0, 2.0, 2.0, 1.0])
    d1 = ref.adafactor(eps1=0.0, shapes=((2, 2),)).step(af_init(x, shapes=((2, 2),)), g)
    d2 = ref.adafactor(eps1=0.0, shapes=((2, 2),), clip_threshold=2.0).step(af_init(x, shapes=((2, 2),)), g)
    none = ref.adafactor(eps1=0.0, shapes=((2, 2),), clip_threshold=None).step(
        af_init(x, shapes=((2, 2),)), g
    )
    assert_allclose(x - d1.params, [0.03, 0.0, 0.0, 0.01], rtol=1e-14)
    assert_allclose(x - d2.params, [0.05, 0.0, 0.0, 0.05 / 3], rtol=1e-14)
    assert_array_equal(d2.params, none.params)


@pytest.mark.parametrize(("scaling", "factor"), [("lr", 1 - 0.01 * 0.5), ("none", 1 - 0.5)])
def test_weight_decay_forms(scaling: str, factor: float) -> None:
    # A zero gradient moves only through the decay: X (1 - eta lambda) (torch) or X - lambda X (optax).
    x = np.array([1.0, -2.0, 3.0])
    opt = ref.adafactor(weight_decay=0.5, decay_scaling=scaling)  # type: ignore[arg-type]
    assert_allclose(opt.step(opt.init(x), np.zeros(3)).params, factor * x, rtol=1e-15)


def test_momentum_and_its_float32_buffer() -> None:
    gs = stream(5, (5,), 4)
    x0 = np.linspace(-1, 1, 5)
    exact = ref.adafactor(0.1, relative_step=False, momentum=0.9)
    f32 = ref.adafactor(0.1, relative_step=False, momentum=0.9, momentum_dtype="float32")
    plain = ref.adafactor(0.1, relative_step=False)
    s1, s0 = exact.init(x0), plain.init(x0)
    s1 = exact.step(s1, gs[0])
    s0 = plain.step(s0, gs[0])
    assert s0.m is None and s1.m is not None
    assert_allclose(x0 - s1.params, 0.1 * (x0 - s0.params), rtol=1e-14)  # m_1 = (1 - beta1) Delta_1
    t = f32.init(x0)
    for g in gs:
        t = f32.step(t, g)
        assert t.m is not None
        assert_array_equal(t.m, t.m.astype(np.float32))
    e = run(exact, x0, gs)[-1]
    assert 0 < np.max(np.abs(e - t.params)) < 1e-7


def test_beta_schedule() -> None:
    assert beta_schedule(1, 0.8, "float64") == (0.0, 1.0)
    b, one_minus = beta_schedule(7, 0.8, "float64")
    assert_allclose(b, 1 - 7**-0.8, rtol=1e-16)
    b32, om32 = beta_schedule(7, 0.8, "float32")
    assert b32 == float(np.float32(b32)) and om32 == float(np.float32(om32)) and b32 != b
    assert abs(b32 - b) < 1e-7


def test_step_is_pure_and_equals_the_factory() -> None:
    shapes = ((3, 4), (5,))
    opt = ref.adafactor(momentum=0.5, weight_decay=0.1, shapes=shapes)
    bare_kw = dict(lr=1e-2, momentum=0.5, weight_decay=0.1, shapes=shapes)
    check_step_pure_and_bare(opt, af_step, np.linspace(-1, 1, 17), np.linspace(2, -1, 17), **bare_kw)


def test_shapes_must_cover_the_vector() -> None:
    with pytest.raises(ValueError, match=r"adafactor: params have shape \(5,\) but shapes"):
        ref.adafactor(shapes=((2, 2),)).init(np.zeros(5))
    with pytest.raises(ValueError, match="adafactor: shapes"):
        ref.adafactor(shapes=((0, 2),))


@pytest.mark.parametrize("relative_step", [True, False])
def test_hypergradient_through_4_steps(relative_step: bool) -> None:
    got, fd = hypergradient_after_steps(
        lambda lr: ref.adafactor(lr, relative_step=relative_step, weight_decay=0.05, momentum=0.3),
        [1.0, -1.0, 2.0, 0.5],
        [1.0, 4.0, 0.25, 2.0],
        lr=0.05
        if not relative_step
        else 0.2,  # rho_t = min(lr, 1/sqrt t) depends on lr at t <= 4 iff lr < 0.5
        d=1e-7,
        n=4,
    )
    assert np.isfinite(got) and abs(got) > 1e-3
    assert_allclose(got, fd, rtol=1e-6)

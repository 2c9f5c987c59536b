"""polyak_sgd (specs/polyak_sgd.md): the worked example as golden values, the forms of optax's
scaling, the "sps+" gap, the zero guard, purity, schedules and a hypergradient in lr."""

from __future__ import annotations

from fractions import Fraction

import autograd
import autograd.numpy as anp
import numpy as np
import pytest
from numpy.testing import assert_allclose

import reference as ref
from reference.first_order import polyak_sgd as mod
from reference.oracle import FunctionOracle
from tests.helpers import readonly


def half_norm(w: anp.ndarray) -> anp.ndarray:
    return 0.5 * anp.sum(w * w)


HALF = FunctionOracle(half_norm, dim=2)
X0 = np.array([3.0, 4.0])


def steps(opt: object, n: int, x0: np.ndarray = X0, oracle: FunctionOracle = HALF) -> np.ndarray:
    state = opt.init(x0)  # type: ignore[attr-defined]
    for _ in range(n):
        state = opt.step(state, oracle)  # type: ignore[attr-defined]
    return np.asarray(state.params)


def F(x: object) -> float:
    return float(Fraction(x))  # type: ignore[arg-type]


def test_polyak_sgd_golden() -> None:
    """specs/polyak_sgd.md, worked example (fractions by hand)."""
    assert steps(ref.polyak_sgd(), 1).tolist() == [F("3/2"), 2.0]
    assert steps(ref.polyak_sgd(), 2).tolist() == [F("3/4"), 1.0]
    assert_allclose(steps(ref.polyak_sgd(0.4), 1), [F("9/5"), F("12/5")], rtol=1e-15)
    assert steps(ref.polyak_sgd(scaling=0.5), 1).tolist() == [F("9/4"), 3.0]
    assert steps(ref.polyak_sgd(scaling=0.5, scale_inside=True), 1).tolist() == [F("3/2"), 2.0]
    assert steps(ref.polyak_sgd(f_min=20.0, variant="sps+"), 1).tolist() == [3.0, 4.0]
    assert_allclose(steps(ref.polyak_sgd(f_min=20.0), 1), [3.9, 5.2], rtol=1e-15)


def test_state_records_eta_and_value() -> None:
    opt = ref.polyak_sgd()
    s = opt.step(opt.init(X0), HALF)
    assert s.eta == 0.5 and s.value == 12.5 and s.t == 1


def test_zero_gradient_is_a_zero_step_and_zero_tol_guards() -> None:
    opt = ref.polyak_sgd()
    s = opt.step(opt.init(np.zeros(2)), HALF)  # 0 / 0: a zero step, no nan
    assert s.params.tolist() == [0.0, 0.0] and s.eta == 0.0
    tiny = np.array([1e-9, 0.0])  # ||g||^2 = 1e-18 <= 2^-52: optax's guard makes no step
    assert opt.step(opt.init(tiny), HALF).params[0] == 5e-10  # without the guard: the Polyak step halves
    guarded = ref.polyak_sgd(zero_tol=2.0**-52)
    assert guarded.step(guarded.init(tiny), HALF).params.tolist() == tiny.tolist()


def test_polyak_step_on_a_quadratic_with_known_minimum_is_exact_along_the_gradient() -> None:
    # f = 1/2 theta^T A theta with one eigenvalue: the Polyak step 1/(2 lambda) halves theta
    A = np.diag([3.0, 3.0, 3.0])
    orc = FunctionOracle(lambda w: 0.5 * anp.dot(w, anp.dot(A, w)), dim=3)
    x = steps(ref.polyak_sgd(10.0), 1, np.array([1.0, -2.0, 0.5]), orc)
    assert_allclose(x, [0.5, -1.0, 0.25], rtol=1e-15)


def test_scaling_schedule_is_called_with_t_minus_one() -> None:
    seen: list[int] = []

    def sched(t: int) -> float:
        seen.append(t)
        return 1.0

    steps(ref.polyak_sgd(scaling=sched), 3)
    assert seen == [0, 1, 2]


def test_pure_with_readonly_inputs() -> None:
    opt = ref.polyak_sgd(scaling=0.7, eps=1e-3)
    x0 = readonly(np.array([1.0, -2.0]))
    s0 = opt.init(x0)
    before = s0.params.copy()
    s1 = opt.step(s0, HALF)
    assert s0.params.tolist() == before.tolist() and s0.t == 0
    assert not np.shares_memory(s1.params, s0.params)


def test_bare_step_is_the_factory() -> None:
    hp = {"lr": 0.7, "scaling": 0.5, "f_min": -0.1, "eps": 1e-2, "variant": "sps+", "scale_inside": True}
    a = ref.polyak_sgd(**hp)
    s = a.step(a.init(X0), HALF)
    b = mod.step(mod.init(X0), HALF, **hp)
    assert s.params.tolist() == b.params.tolist()


def test_needs_an_oracle() -> None:
    opt = ref.polyak_sgd()
    with pytest.raises(TypeError, match="polyak_sgd: step needs a FunctionOracle"):
        opt.step(opt.init(X0), np.ones(2))  # type: ignore[arg-type]


def test_hypergradient_in_lr_matches_central_differences() -> None:
    # the cap binds (lr below the Polyak step) on a non-quadratic loss, so the loss depends on lr
    orc = FunctionOracle(lambda w: anp.sum(anp.log(1.0 + anp.exp(w))) + 0.5 * anp.sum(w * w), dim=3)

    def loss_after(lr: float) -> float:
        opt = ref.polyak_sgd(lr)
        state = opt.init(np.array([1.0, -0.5, 2.0]))
        for _ in range(4):
            state = opt.step(state, orc)
        return orc.f(state.params)  # type: ignore[no-any-return]

    got = autograd.grad(loss_after)(0.3)
    fd = (loss_after(0.3 + 1e-6) - loss_after(0.3 - 1e-6)) / 2e-6
    assert abs(got) > 1e-3
    assert_allclose(got, fd, rtol=1e-6)


@pytest.mark.parametrize(
    ("kw", "err"), [({"variant": "spsplus"}, ValueError), ({"scale_inside": 1}, TypeError)]
)
def test_bad_keywords(kw: dict[str, object], err: type[Exception]) -> None:
    with pytest.raises(err, match="polyak_sgd: "):
        ref.polyak_sgd(**kw)  # type: ignore[arg-type]

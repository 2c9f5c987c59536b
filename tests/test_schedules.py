"""Learning-rate schedules: values by hand (specs/schedules.md), the t convention, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose

from reference import schedules as S


def test_values_by_hand() -> None:
    assert S.constant(0.1)(7) == 0.1
    rm = S.robbins_monro(2.0, t0=3.0, a=1.0)
    assert [rm(t) for t in range(3)] == [2 / 3, 2 / 4, 2 / 5]
    assert rm.satisfies_robbins_monro and not S.robbins_monro(1.0, a=0.5).satisfies_robbins_monro
    assert_allclose(S.robbins_monro(1.0, t0=1.0, a=0.75)(15), 16 ** -0.75)
    sd = S.step_decay(1.0, step_size=2, gamma=0.1)
    assert_allclose([sd(t) for t in range(5)], [1, 1, 0.1, 0.1, 0.01])
    cs = S.cosine(1.0, total_steps=4, lr_min=0.2)
    assert_allclose([cs(t) for t in (0, 2, 4, 9)], [1.0, 0.6, 0.2, 0.2])
    wu = S.linear_warmup(1.0, warmup_steps=4)
    assert_allclose([wu(t) for t in range(6)], [0, 0.25, 0.5, 0.75, 1, 1])


def test_join_restarts_the_clock() -> None:
    sched = S.join([S.linear_warmup(1.0, warmup_steps=2), S.cosine(1.0, total_steps=2)], [2])
    assert_allclose([sched(t) for t in range(5)], [0.0, 0.5, 1.0, 0.5, 0.0], atol=1e-15)
    assert math.isclose(sched(3), (1 + math.cos(math.pi / 2)) / 2)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: S.constant(0.0), "lr must be a finite number > 0"),
        (lambda: S.robbins_monro(-1.0), "c must be"),
        (lambda: S.robbins_monro(1.0, t0=0.0), "t0 must be"),
        (lambda: S.robbins_monro(1.0, a=0.0), "a must be"),
        (lambda: S.step_decay(1.0, step_size=0), "step_size must be an integer >= 1"),
        (lambda: S.cosine(1.0, total_steps=10, lr_min=-1.0), "lr_min"),
        (lambda: S.linear_warmup(1.0, warmup_steps=0), "warmup_steps"),
        (lambda: S.join([S.constant(1.0)], [3]), "len\\(schedules\\) == len\\(boundaries\\) \\+ 1"),
        (lambda: S.join([S.constant(1.0)] * 3, [5, 2]), "increasing"),
    ],
)
def test_bad_input(make, match) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=match):
        make()


def test_counts_must_be_integers() -> None:
    with pytest.raises(TypeError, match="step_decay: step_size must be an integer >= 1, got 2.5"):
        S.step_decay(1.0, step_size=2.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="cosine: total_steps must be an integer >= 1, got True"):
        S.cosine(1.0, total_steps=True)
    sched = S.linear_warmup(1.0, warmup_steps=np.int64(4))
    assert type(sched.warmup_steps) is int and sched(2) == 0.5


def test_negative_schedule_value_is_rejected_at_the_step() -> None:
    import reference as ref

    opt = ref.gd(lambda t: -1.0)
    with pytest.raises(ValueError, match="lr schedule returned -1.0 at t=0"):
        opt.step(opt.init([1.0]), [1.0])


def test_join_names_a_bad_schedule_or_boundary() -> None:
    with pytest.raises(TypeError, match=r"join: schedules\[1\] must be a schedule"):
        S.join([S.constant(1.0), 3], [2])  # type: ignore[list-item]
    with pytest.raises(TypeError, match=r"join: boundaries\[0\] must be an integer, got 1.5"):
        S.join([S.constant(1.0)] * 2, [1.5])  # type: ignore[list-item]

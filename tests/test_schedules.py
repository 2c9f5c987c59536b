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
    assert_allclose(S.robbins_monro(1.0, t0=1.0, a=0.75)(15), 16**-0.75)
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
    sched = S.linear_warmup(1.0, warmup_steps=np.int64(4))  # type: ignore[arg-type]
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


# ---------------------------------------------------------------------------------------------
# (S7)-(S24): values by hand, recursive vs closed forms, bad input.


def test_new_schedules_by_hand() -> None:
    assert [S.multistep_decay(1.0, milestones=[2, 4], gamma=0.5)(t) for t in range(6)] == [
        1,
        1,
        0.5,
        0.5,
        0.25,
        0.25,
    ]
    assert [S.piecewise_constant(1.0, {1: 0.5, 3: 4.0})(t) for t in range(5)] == [1, 0.5, 0.5, 2.0, 2.0]
    ex = S.exponential(1.0, gamma=0.5, steps=2, begin=1, staircase=True, end=0.2)
    assert [ex(t) for t in range(9)] == [1, 1, 1, 0.5, 0.5, 0.25, 0.25, 0.2, 0.2]
    assert_allclose([S.exponential(1.0, gamma=0.5, steps=2)(t) for t in (0, 1, 2)], [1, 2**-0.5, 0.5])
    assert [S.polynomial(1.0, total_steps=4, power=2, end=0.2, begin=1)(t) for t in (0, 1, 3, 5, 9)] == [
        1.0,
        1.0,
        0.8 * 0.25 + 0.2,
        0.2,
        0.2,
    ]
    assert_allclose(
        [S.linear_factor(1.0, start_factor=0.5, total_steps=2)(t) for t in range(4)], [0.5, 0.75, 1, 1]
    )
    assert [S.constant_factor(1.0, factor=0.5, total_steps=2)(t) for t in range(4)] == [0.5, 0.5, 1, 1]
    assert [S.lambda_factor(2.0, lambda t: 1 / (t + 1))(t) for t in range(3)] == [2.0, 1.0, 2 / 3]
    assert [S.multiplicative(1.0, lambda t: 0.5)(t) for t in range(3)] == [1.0, 0.5, 0.25]
    wr = S.warm_restarts(1.0, period=2, period_mult=2)
    assert_allclose(
        [wr(t) for t in range(7)],
        [1, 0.5, 1, (1 + math.cos(math.pi / 4)) / 2, 0.5, (1 + math.cos(3 * math.pi / 4)) / 2, 1],
    )
    assert [S.cyclic(1.0, 3.0, step_size_up=2)(t) for t in range(6)] == [1, 2, 3, 2, 1, 2]
    assert [S.cyclic(1.0, 3.0, step_size_up=2, mode="triangular2")(t) for t in range(9)] == [
        1,
        2,
        3,
        2,
        1,
        1.5,
        2,
        1.5,
        1,
    ]
    oc = S.onecycle(1.0, total_steps=10)
    assert_allclose(
        [oc(0), oc(2), oc(9), oc(50)], [0.04, 1.0, 0.04 / 1e4, 0.04 / 1e4], rtol=1e-14
    )  # peak at pT - 1
    assert [S.piecewise_interpolate(1.0, {2: 3.0, 4: 0.5})(t) for t in range(6)] == [1, 2, 3, 2.25, 1.5, 1.5]
    sg = S.sgdr(
        [{"lr": 1.0, "warmup_steps": 1, "total_steps": 3}, {"lr": 0.5, "warmup_steps": 0, "total_steps": 2}]
    )
    assert_allclose([sg(t) for t in range(7)], [0, 1, 0.5, 0.5, 0.25, 0, 0], atol=1e-16)
    ch = S.chain(1.0, [S.constant_factor(1.0, factor=0.5, total_steps=2), S.exponential(1.0, gamma=0.5)])
    assert [ch(t) for t in range(5)] == [0.5, 0.25, 0.25, 0.125, 0.0625]
    assert S.plateau(1.0, patience=1).rates([3, 3, 3, 3, 2, 2, 2]) == [1, 1, 1, 0.1, 0.1, 0.1, 0.1, 0.1 * 0.1]


@pytest.mark.parametrize(
    "make",
    [
        lambda form: S.step_decay(0.3, step_size=3, gamma=0.7, form=form),
        lambda form: S.multistep_decay(0.3, milestones=[2, 5, 11], gamma=0.3, form=form),
        lambda form: S.exponential(0.3, gamma=0.97, form=form),
        lambda form: S.polynomial(0.3, total_steps=40, power=1.5, form=form),
        lambda form: S.linear_factor(0.3, start_factor=0.2, end_factor=0.9, total_steps=30, form=form),
        lambda form: S.constant_factor(0.3, factor=0.3, total_steps=7, form=form),
        lambda form: S.cosine(0.3, total_steps=25, lr_min=0.01, periodic=True, form=form),
    ],
)
def test_recursive_forms_follow_their_closed_forms(make) -> None:  # type: ignore[no-untyped-def]
    rec, closed = make("recursive"), make("closed")
    ts = list(range(200))
    assert_allclose(
        [rec(t) for t in reversed(ts)][::-1], [closed(t) for t in ts], rtol=1e-12
    )  # any call order
    assert [rec(t) for t in ts] == [make("recursive")(t) for t in ts]  # memo = fresh unrolling


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (
            lambda: S.step_decay(1.0, step_size=2, form="torch"),
            ValueError,
            "step_decay: form must be one of 'closed', 'recursive'",
        ),
        (lambda: S.cosine(1.0, total_steps=4, form="recursive"), ValueError, "periodic=True"),
        (
            lambda: S.cosine(1.0, total_steps=4, periodic=1),
            TypeError,
            "cosine: periodic must be True or False",
        ),  # type: ignore[arg-type]
        (
            lambda: S.multistep_decay(1.0, milestones=[3, 3]),
            ValueError,
            "multistep_decay: milestones must be positive and increasing",
        ),
        (
            lambda: S.multistep_decay(1.0, milestones=[2.5]),
            TypeError,
            r"multistep_decay: milestones\[0\] must be an integer",
        ),  # type: ignore[list-item]
        (lambda: S.piecewise_constant(1.0, {2: -0.5}), ValueError, "piecewise_constant: scale at 2 must be"),
        (lambda: S.exponential(1.0, gamma=0.0), ValueError, "exponential: gamma must be a finite number > 0"),
        (
            lambda: S.exponential(1.0, gamma=0.9, staircase="yes"),
            TypeError,
            "exponential: staircase must be True or False",
        ),  # type: ignore[arg-type]
        (lambda: S.exponential(1.0, gamma=0.9, steps=2, form="recursive"), ValueError, "ExponentialLR"),
        (
            lambda: S.polynomial(1.0, total_steps=0),
            ValueError,
            "polynomial: total_steps must be an integer >= 1",
        ),
        (lambda: S.polynomial(1.0, total_steps=3, end=0.1, form="recursive"), ValueError, "PolynomialLR"),
        (
            lambda: S.linear_factor(1.0, start_factor=0.0),
            ValueError,
            r"linear_factor: start_factor must be in \(0, 1\]",
        ),
        (lambda: S.constant_factor(1.0, factor=1.5), ValueError, "constant_factor: factor must be"),
        (lambda: S.lambda_factor(1.0, 0.5), TypeError, "lambda_factor: fn must be a callable"),  # type: ignore[arg-type]
        (lambda: S.multiplicative(1.0, None), TypeError, "multiplicative: fn must be a callable"),  # type: ignore[arg-type]
        (
            lambda: S.warm_restarts(1.0, period=2, period_mult=0),
            ValueError,
            "warm_restarts: period_mult must be an integer >= 1",
        ),
        (lambda: S.cyclic(0.1, 1.0, mode="sine"), ValueError, "cyclic: mode must be one of"),
        (
            lambda: S.cyclic(0.1, 1.0, step_size_up=2.0),
            TypeError,
            "cyclic: step_size_up must be an integer >= 1",
        ),  # type: ignore[arg-type]
        (lambda: S.onecycle(1.0, total_steps=1), ValueError, "onecycle: total_steps must be an integer >= 2"),
        (
            lambda: S.onecycle(1.0, total_steps=10, pct_start=1.0),
            ValueError,
            r"onecycle: pct_start must be in \(0, 1\)",
        ),
        (
            lambda: S.onecycle(1.0, total_steps=10, anneal="linear", convention="optax"),
            ValueError,
            "three_phase=True",
        ),
        (lambda: S.onecycle(1.0, total_steps=10, pct_final=0.8), ValueError, "pct_final is optax's"),
        (
            lambda: S.piecewise_interpolate(1.0, kind="cubic"),
            ValueError,
            "piecewise_interpolate: kind must be one of",
        ),
        (
            lambda: S.warmup_cosine(1.0, warmup_steps=5, total_steps=5),
            ValueError,
            "total_steps must exceed warmup_steps",
        ),
        (
            lambda: S.warmup_exponential(1.0, warmup_steps=-1, gamma=0.9),
            ValueError,
            "warmup_exponential: warmup_steps must be",
        ),
        (lambda: S.sgdr([]), ValueError, "sgdr: needs at least one cycle"),
        (lambda: S.sgdr([{"lr": 1.0}]), TypeError, r"sgdr: cycles\[0\] must be a dict"),
        (
            lambda: S.chain(1.0, [S.constant(1.0)]),
            TypeError,
            r"chain: schedules\[0\] must be a torch-style schedule",
        ),  # type: ignore[list-item]
        (
            lambda: S.chain(1.0, [S.exponential(2.0, gamma=0.9)]),
            ValueError,
            r"chain: schedules\[0\] has lr 2.0",
        ),
        (lambda: S.plateau(1.0, mode="minimum"), ValueError, "plateau: mode must be one of 'min', 'max'"),
        (lambda: S.plateau(1.0, factor=1.0), ValueError, r"plateau: factor must be in \[0, 1\)"),
        (lambda: S.plateau(1.0, patience=-1), ValueError, "plateau: patience must be an integer >= 0"),
    ],
)
def test_new_schedules_refuse_bad_input(make, error, match) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error, match=match):
        make()


def test_a_recursive_schedule_drives_an_optimizer() -> None:
    import reference as ref

    sched = S.exponential(0.5, gamma=0.5, form="recursive")
    opt = ref.gd(sched)
    state = opt.init([1.0])
    for _ in range(3):
        state = opt.step(state, [1.0])
    assert_allclose(state.params, [1.0 - 0.5 - 0.25 - 0.125])


def test_every_peer_name_has_a_variants_row() -> None:
    """reference.schedules.TORCH / OPTAX (the catalogue the peer test checks) and the spec agree."""
    from pathlib import Path

    spec = (Path(__file__).resolve().parents[1] / "specs" / "schedules.md").read_text()
    variants = spec.split("## Variants", 1)[1].split("\n## ", 1)[0]
    rows = [ln for ln in variants.splitlines() if ln.startswith(("| torch", "| optax"))]
    for name in [*S.TORCH, *S.OPTAX]:
        assert any(f"`{name}(" in ln or f"`{name}`" in ln for ln in rows), (
            f"specs/schedules.md Variants lacks {name}"
        )
    for value in [*S.TORCH.values(), *S.OPTAX.values()]:
        fn = value.split("(", 1)[0]
        assert callable(getattr(S, fn, None)), value

"""Every torch.optim.lr_scheduler scheduler and every optax schedule against its reference in
reference.schedules (specs/schedules.md, Variants): the learning rate a training loop sees at every
step t = 0..N, exactly or within the ulp bound stated per case (and in the spec)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import reference as ref
from reference import schedules as S


def _torch() -> Any:
    return pytest.importorskip(
        "torch", reason="torch is not installed: pip install -e '.[test,peers]' runs these tests"
    )


def _optax() -> Any:
    optax = pytest.importorskip(
        "optax", reason="optax is not installed: pip install -e '.[test,peers]' runs these tests"
    )
    import jax

    jax.config.update("jax_enable_x64", True)  # type: ignore[no-untyped-call]
    return optax


def ulps(a: float, b: float) -> float:
    """|a - b| in units in the last place of the larger magnitude (0 when equal)."""
    if a == b:
        return 0.0
    return abs(a - b) / math.ulp(max(abs(a), abs(b)))


def worst(got: list[float], want: list[float]) -> tuple[float, int]:
    gaps = [ulps(g, w) for g, w in zip(got, want, strict=True)]
    k = int(np.argmax(gaps))
    return gaps[k], k


def torch_rates(
    make: Callable[[Any], Any], n: int, *, lr: float = 0.1, metrics: list[float] | None = None
) -> list[float]:
    """param_groups[0]['lr'] before each of n + 1 SGD steps, scheduler.step() after each optimizer.step()."""
    torch = _torch()
    p = torch.nn.Parameter(torch.zeros(2, dtype=torch.float64))
    opt = torch.optim.SGD([p], lr=lr, momentum=0.9)
    sched = make(opt)
    out = []
    for t in range(n + 1):
        out.append(float(opt.param_groups[0]["lr"]))
        p.grad = torch.ones_like(p)
        opt.step()
        if metrics is None:
            sched.step()
        else:
            sched.step(metrics[t])
    return out


L = "torch.optim.lr_scheduler."
# (id, torch scheduler on an SGD(lr=0.1), reference, steps N, ulp bound)
TORCH_CASES: list[tuple[str, Callable[[Any], Any], Callable[[], Any], int, float]] = [
    (
        "StepLR",
        lambda o: _l().StepLR(o, step_size=3),
        lambda: S.step_decay(0.1, step_size=3, form="recursive"),
        12,
        0,
    ),
    (
        "StepLR-2",
        lambda o: _l().StepLR(o, step_size=4, gamma=0.7),
        lambda: S.step_decay(0.1, step_size=4, gamma=0.7, form="recursive"),
        16,
        0,
    ),
    (
        "MultiStepLR",
        lambda o: _l().MultiStepLR(o, [2, 5, 9]),
        lambda: S.multistep_decay(0.1, milestones=[2, 5, 9], form="recursive"),
        12,
        0,
    ),
    (
        "MultiStepLR-2",
        lambda o: _l().MultiStepLR(o, [1, 3], gamma=0.3),
        lambda: S.multistep_decay(0.1, milestones=[1, 3], gamma=0.3, form="recursive"),
        8,
        0,
    ),
    ("ConstantLR", lambda o: _l().ConstantLR(o), lambda: S.constant_factor(0.1, form="recursive"), 15, 0),
    (
        "ConstantLR-2",
        lambda o: _l().ConstantLR(o, factor=0.3, total_iters=3),
        lambda: S.constant_factor(0.1, factor=0.3, total_steps=3, form="recursive"),
        9,
        0,
    ),
    ("LinearLR", lambda o: _l().LinearLR(o), lambda: S.linear_factor(0.1, form="recursive"), 15, 0),
    (
        "LinearLR-2",
        lambda o: _l().LinearLR(o, start_factor=0.9, end_factor=0.2, total_iters=7),
        lambda: S.linear_factor(0.1, start_factor=0.9, end_factor=0.2, total_steps=7, form="recursive"),
        21,
        0,
    ),
    (
        "ExponentialLR",
        lambda o: _l().ExponentialLR(o, gamma=0.9),
        lambda: S.exponential(0.1, gamma=0.9, form="recursive"),
        30,
        0,
    ),
    (
        "PolynomialLR",
        lambda o: _l().PolynomialLR(o),
        lambda: S.polynomial(0.1, total_steps=5, form="recursive"),
        15,
        0,
    ),
    (
        "PolynomialLR-2",
        lambda o: _l().PolynomialLR(o, total_iters=6, power=2.0),
        lambda: S.polynomial(0.1, total_steps=6, power=2.0, form="recursive"),
        18,
        0,
    ),
    (
        "CosineAnnealingLR",
        lambda o: _l().CosineAnnealingLR(o, T_max=10),
        lambda: S.cosine(0.1, total_steps=10, periodic=True, form="recursive"),
        60,
        0,
    ),
    (
        "CosineAnnealingLR-2",
        lambda o: _l().CosineAnnealingLR(o, T_max=7, eta_min=0.01),
        lambda: S.cosine(0.1, total_steps=7, lr_min=0.01, periodic=True, form="recursive"),
        42,
        0,
    ),
    (
        "CosineAnnealingWarmRestarts",
        lambda o: _l().CosineAnnealingWarmRestarts(o, T_0=5),
        lambda: S.warm_restarts(0.1, period=5),
        15,
        0,
    ),
    (
        "CosineAnnealingWarmRestarts-2",
        lambda o: _l().CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2, eta_min=0.01),
        lambda: S.warm_restarts(0.1, period=3, period_mult=2, lr_min=0.01),
        21,
        0,
    ),
    (
        "LambdaLR",
        lambda o: _l().LambdaLR(o, lambda t: 0.95**t),
        lambda: S.lambda_factor(0.1, lambda t: 0.95**t),
        10,
        0,
    ),
    (
        "MultiplicativeLR",
        lambda o: _l().MultiplicativeLR(o, lambda t: 0.95),
        lambda: S.multiplicative(0.1, lambda t: 0.95),
        10,
        0,
    ),
    (
        "CyclicLR",
        lambda o: _l().CyclicLR(o, 0.01, 0.1, step_size_up=4),
        lambda: S.cyclic(0.01, 0.1, step_size_up=4),
        24,
        0,
    ),
    ("CyclicLR-default-steps", lambda o: _l().CyclicLR(o, 0.01, 0.1), lambda: S.cyclic(0.01, 0.1), 12000, 0),
    (
        "CyclicLR-triangular2",
        lambda o: _l().CyclicLR(o, 0.01, 0.1, step_size_up=3, step_size_down=5, mode="triangular2"),
        lambda: S.cyclic(0.01, 0.1, step_size_up=3, step_size_down=5, mode="triangular2"),
        24,
        0,
    ),
    (
        "CyclicLR-exp_range",
        lambda o: _l().CyclicLR(o, 0.01, 0.1, step_size_up=4, mode="exp_range", gamma=0.9),
        lambda: S.cyclic(0.01, 0.1, step_size_up=4, mode="exp_range", gamma=0.9),
        24,
        0,
    ),
    (
        "CyclicLR-scale_fn",
        lambda o: _l().CyclicLR(
            o, 0.01, 0.1, step_size_up=2, scale_fn=lambda x: 1 / (1 + x), scale_mode="iterations"
        ),
        lambda: S.cyclic(0.01, 0.1, step_size_up=2, scale_fn=lambda x: 1 / (1 + x), scale_mode="iterations"),
        12,
        0,
    ),
    (
        "OneCycleLR",
        lambda o: _l().OneCycleLR(o, max_lr=0.1, total_steps=20),
        lambda: S.onecycle(0.1, total_steps=20),
        19,
        0,
    ),
    (
        "OneCycleLR-linear-three_phase",
        lambda o: _l().OneCycleLR(
            o,
            max_lr=0.1,
            total_steps=30,
            pct_start=0.25,
            anneal_strategy="linear",
            three_phase=True,
            div_factor=10.0,
            final_div_factor=100.0,
        ),
        lambda: S.onecycle(
            0.1,
            total_steps=30,
            pct_start=0.25,
            anneal="linear",
            three_phase=True,
            div_factor=10.0,
            final_div_factor=100.0,
        ),
        29,
        0,
    ),
    (
        "OneCycleLR-cos-three_phase",
        lambda o: _l().OneCycleLR(o, max_lr=0.1, total_steps=25, three_phase=True),
        lambda: S.onecycle(0.1, total_steps=25, three_phase=True),
        24,
        0,
    ),
    (
        "SequentialLR",
        lambda o: _l().SequentialLR(
            o, [_l().LinearLR(o, total_iters=4), _l().ExponentialLR(o, gamma=0.9)], milestones=[4]
        ),
        lambda: S.join(
            [
                S.linear_factor(0.1, total_steps=4, form="recursive"),
                S.exponential(0.1, gamma=0.9, form="recursive"),
            ],
            [4],
        ),
        16,
        0,
    ),
    (
        "SequentialLR-3",
        lambda o: _l().SequentialLR(
            o,
            [
                _l().ConstantLR(o, factor=0.5, total_iters=2),
                _l().CosineAnnealingLR(o, T_max=6),
                _l().StepLR(o, step_size=2, gamma=0.5),
            ],
            milestones=[3, 9],
        ),
        lambda: S.join(
            [
                S.constant_factor(0.1, factor=0.5, total_steps=2, form="recursive"),
                S.cosine(0.1, total_steps=6, periodic=True, form="recursive"),
                S.step_decay(0.1, step_size=2, gamma=0.5, form="recursive"),
            ],
            [3, 9],
        ),
        18,
        0,
    ),
    (
        "ChainedScheduler",
        lambda o: _l().ChainedScheduler(
            [_l().ConstantLR(o, factor=0.5, total_iters=4), _l().ExponentialLR(o, gamma=0.9)]
        ),
        lambda: S.chain(
            0.1, [S.constant_factor(0.1, factor=0.5, total_steps=4), S.exponential(0.1, gamma=0.9)]
        ),
        12,
        0,
    ),
    (
        "ChainedScheduler-3",
        lambda o: _l().ChainedScheduler(
            [
                _l().LinearLR(o, start_factor=0.5, total_iters=3),
                _l().StepLR(o, step_size=2, gamma=0.8),
                _l().CosineAnnealingLR(o, T_max=5),
            ]
        ),
        lambda: S.chain(
            0.1,
            [
                S.linear_factor(0.1, start_factor=0.5, total_steps=3),
                S.step_decay(0.1, step_size=2, gamma=0.8),
                S.cosine(0.1, total_steps=5, periodic=True, form="recursive"),
            ],
        ),
        15,
        0,
    ),
]


def _l() -> Any:
    return _torch().optim.lr_scheduler


@pytest.mark.parametrize(
    ("name", "make", "reference", "n", "bound"), TORCH_CASES, ids=[c[0] for c in TORCH_CASES]
)
def test_torch_scheduler(
    name: str, make: Callable[[Any], Any], reference: Callable[[], Any], n: int, bound: float
) -> None:
    want = torch_rates(make, n)
    sched = reference()
    got = [sched(t) for t in range(n + 1)]
    gap, at = worst(got, want)
    assert gap <= bound, f"{name}: {gap} ulps at t={at}: reference {got[at]!r}, torch {want[at]!r}"


def optax_rates(sched: Callable[[Any], Any], n: int) -> list[float]:
    """The optax schedule at counts 0..n (int64 counts under jax_enable_x64: computed in float64)."""
    import jax.numpy as jnp

    return [float(np.asarray(sched(jnp.asarray(t, dtype=jnp.int64)))) for t in range(n + 1)]


def _o() -> Any:
    return _optax().schedules


# (id, optax schedule, reference, steps N, ulp bound)
OPTAX_CASES: list[tuple[str, Callable[[], Any], Callable[[], Any], int, float]] = [
    ("constant_schedule", lambda: _o().constant_schedule(0.1), lambda: S.constant(0.1), 5, 0),
    (
        "polynomial_schedule",
        lambda: _o().polynomial_schedule(0.1, 0.01, 2, 10),
        lambda: S.polynomial(0.1, total_steps=10, power=2, end=0.01),
        30,
        0,
    ),
    (
        "polynomial_schedule-begin",
        lambda: _o().polynomial_schedule(0.1, 0.01, 0.5, 6, transition_begin=3),
        lambda: S.polynomial(0.1, total_steps=6, power=0.5, end=0.01, begin=3),
        27,
        0,
    ),
    (
        "linear_schedule",
        lambda: _o().linear_schedule(0.1, 0.001, 10),
        lambda: S.polynomial(0.1, total_steps=10, end=0.001),
        30,
        0,
    ),
    (
        "linear_schedule-begin",
        lambda: _o().linear_schedule(0.0, 0.1, 5, transition_begin=2),
        lambda: S.polynomial(0.0, total_steps=5, end=0.1, begin=2),
        21,
        0,
    ),
    (
        "piecewise_constant_schedule",
        lambda: _o().piecewise_constant_schedule(0.1, {3: 0.5, 7: 0.1}),
        lambda: S.piecewise_constant(0.1, {3: 0.5, 7: 0.1}),
        21,
        0,
    ),
    (
        "piecewise_constant_schedule-none",
        lambda: _o().piecewise_constant_schedule(0.1),
        lambda: S.piecewise_constant(0.1),
        3,
        0,
    ),
    (
        "exponential_decay",
        lambda: _o().exponential_decay(0.1, 3, 0.9),
        lambda: S.exponential(0.1, gamma=0.9, steps=3),
        30,
        0,
    ),
    (
        "exponential_decay-options",
        lambda: _o().exponential_decay(0.1, 3, 0.5, transition_begin=2, staircase=True, end_value=0.02),
        lambda: S.exponential(0.1, gamma=0.5, steps=3, begin=2, staircase=True, end=0.02),
        30,
        0,
    ),
    (
        "exponential_decay-growth",
        lambda: _o().exponential_decay(0.01, 2, 1.5, end_value=0.05),
        lambda: S.exponential(0.01, gamma=1.5, steps=2, end=0.05),
        20,
        0,
    ),
    (
        "cosine_decay_schedule",
        lambda: _o().cosine_decay_schedule(0.1, 10),
        lambda: S.warmup_cosine(0.1, warmup_steps=0, total_steps=10),
        30,
        0,
    ),
    (
        "cosine_decay_schedule-options",
        lambda: _o().cosine_decay_schedule(0.1, 10, alpha=0.1, exponent=2.0),
        lambda: S.warmup_cosine(0.1, warmup_steps=0, total_steps=10, lr_min=0.1 * 0.1, exponent=2.0),
        30,
        1,
    ),  # alpha = lr_min / lr = 0.10000000000000002: 1 ulp
    (
        "warmup_cosine_decay_schedule",
        lambda: _o().warmup_cosine_decay_schedule(0.0, 0.1, 3, 12),
        lambda: S.warmup_cosine(0.1, warmup_steps=3, total_steps=12),
        36,
        0,
    ),
    (
        "warmup_cosine_decay_schedule-options",
        lambda: _o().warmup_cosine_decay_schedule(0.01, 0.1, 4, 15, end_value=0.001, exponent=1.5),
        lambda: S.warmup_cosine(0.1, warmup_steps=4, total_steps=15, start=0.01, lr_min=0.001, exponent=1.5),
        45,
        0,
    ),
    (
        "piecewise_interpolate_schedule-linear",
        lambda: _o().piecewise_interpolate_schedule("linear", 0.1, {3: 2.0, 8: 0.1, 9: 0.5}),
        lambda: S.piecewise_interpolate(0.1, {3: 2.0, 8: 0.1, 9: 0.5}),
        27,
        0,
    ),
    (
        "piecewise_interpolate_schedule-cosine",
        lambda: _o().piecewise_interpolate_schedule("cosine", 0.1, {0: 0.5, 4: 2.0, 10: 0.01}),
        lambda: S.piecewise_interpolate(0.1, {0: 0.5, 4: 2.0, 10: 0.01}, kind="cosine"),
        30,
        0,
    ),
    (
        "linear_onecycle_schedule",
        lambda: _o().linear_onecycle_schedule(20, 0.1),
        lambda: S.onecycle(0.1, total_steps=20, anneal="linear", three_phase=True, convention="optax"),
        60,
        0,
    ),
    (
        "linear_onecycle_schedule-options",
        lambda: _o().linear_onecycle_schedule(
            30, 0.1, pct_start=0.2, pct_final=0.7, div_factor=10.0, final_div_factor=100.0
        ),
        lambda: S.onecycle(
            0.1,
            total_steps=30,
            pct_start=0.2,
            pct_final=0.7,
            div_factor=10.0,
            final_div_factor=100.0,
            anneal="linear",
            three_phase=True,
            convention="optax",
        ),
        90,
        0,
    ),
    (
        "cosine_onecycle_schedule",
        lambda: _o().cosine_onecycle_schedule(20, 0.1),
        lambda: S.onecycle(0.1, total_steps=20, convention="optax"),
        60,
        0,
    ),
    (
        "cosine_onecycle_schedule-options",
        lambda: _o().cosine_onecycle_schedule(
            30, 0.1, pct_start=0.4, div_factor=10.0, final_div_factor=100.0
        ),
        lambda: S.onecycle(
            0.1, total_steps=30, pct_start=0.4, div_factor=10.0, final_div_factor=100.0, convention="optax"
        ),
        90,
        0,
    ),
    (
        "warmup_constant_schedule",
        lambda: _o().warmup_constant_schedule(0.0, 0.1, 5),
        lambda: S.polynomial(0.0, total_steps=5, end=0.1),
        15,
        0,
    ),
    (
        "warmup_constant_schedule-2",
        lambda: _o().warmup_constant_schedule(0.02, 0.1, 3),
        lambda: S.polynomial(0.02, total_steps=3, end=0.1),
        9,
        0,
    ),
    (
        "warmup_exponential_decay_schedule",
        lambda: _o().warmup_exponential_decay_schedule(0.0, 0.1, 3, 2, 0.9),
        lambda: S.warmup_exponential(0.1, warmup_steps=3, gamma=0.9, steps=2),
        30,
        0,
    ),
    (
        "warmup_exponential_decay_schedule-options",
        lambda: _o().warmup_exponential_decay_schedule(
            0.01, 0.1, 4, 3, 0.5, transition_begin=2, staircase=True, end_value=0.01
        ),
        lambda: S.warmup_exponential(
            0.1, warmup_steps=4, gamma=0.5, steps=3, start=0.01, begin=2, staircase=True, end=0.01
        ),
        30,
        0,
    ),
    (
        "sgdr_schedule",
        lambda: _o().sgdr_schedule(
            [
                {"init_value": 0.0, "peak_value": 0.1, "warmup_steps": 2, "decay_steps": 8},
                {
                    "init_value": 0.01,
                    "peak_value": 0.05,
                    "warmup_steps": 1,
                    "decay_steps": 6,
                    "end_value": 0.001,
                },
            ]
        ),
        lambda: S.sgdr(
            [
                {"lr": 0.1, "warmup_steps": 2, "total_steps": 8},
                {"lr": 0.05, "warmup_steps": 1, "total_steps": 6, "start": 0.01, "lr_min": 0.001},
            ]
        ),
        28,
        0,
    ),
    (
        "join_schedules",
        lambda: _o().join_schedules([_o().constant_schedule(0.1), _o().cosine_decay_schedule(0.1, 5)], [4]),
        lambda: S.join([S.constant(0.1), S.warmup_cosine(0.1, warmup_steps=0, total_steps=5)], [4]),
        15,
        0,
    ),
]


@pytest.mark.parametrize(
    ("name", "make", "reference", "n", "bound"), OPTAX_CASES, ids=[c[0] for c in OPTAX_CASES]
)
def test_optax_schedule(
    name: str, make: Callable[[], Any], reference: Callable[[], Any], n: int, bound: float
) -> None:
    want = optax_rates(make(), n)
    sched = reference()
    got = [sched(t) for t in range(n + 1)]
    gap, at = worst(got, want)
    assert gap <= bound, f"{name}: {gap} ulps at t={at}: reference {got[at]!r}, optax {want[at]!r}"


def test_reduce_lr_on_plateau() -> None:
    """The state machine (S24) against torch on a metric stream that improves, stalls, recovers."""
    metrics = [
        5.0,
        4.0,
        4.0,
        3.9999,
        4.1,
        4.2,
        3.0,
        3.0,
        3.0,
        3.0,
        3.0,
        2.0,
        2.0,
        2.0,
        2.0,
        2.0,
        2.0,
        2.0,
    ] * 2
    n = len(metrics) - 1
    settings: list[dict[str, Any]] = [
        {"patience": 2},
        {
            "mode": "max",
            "factor": 0.5,
            "patience": 1,
            "threshold": 0.1,
            "threshold_mode": "abs",
            "cooldown": 2,
            "min_lr": 0.02,
            "eps": 1e-3,
        },
        {"mode": "max", "patience": 1, "threshold": 0.01},
        {"patience": 0, "threshold": 0.5, "threshold_mode": "abs"},
    ]
    for kw in settings:

        def make(o: Any, kw: dict[str, Any] = kw) -> Any:
            return _l().ReduceLROnPlateau(o, **kw)

        want = torch_rates(make, n, metrics=metrics)
        got = S.plateau(0.1, **kw).rates(metrics[:n])
        assert got == want, (kw, got, want)
        assert len(set(got)) >= 3  # the stream did reduce the rate (twice or more)


def test_closed_forms_against_torch_steps() -> None:
    """The closed forms (the defaults) against torch's recursive step(): the worst ulp gaps measured
    (torch 2.13.0), as the spec states them."""
    cases = [
        (lambda o: _l().StepLR(o, step_size=3, gamma=0.7), S.step_decay(0.1, step_size=3, gamma=0.7), 60, 3),
        (
            lambda o: _l().MultiStepLR(o, [2, 5, 9, 14], gamma=0.3),
            S.multistep_decay(0.1, milestones=[2, 5, 9, 14], gamma=0.3),
            20,
            1,
        ),
        (lambda o: _l().ExponentialLR(o, gamma=0.9), S.exponential(0.1, gamma=0.9), 100, 4),
        (
            lambda o: _l().LinearLR(o, start_factor=0.9, end_factor=0.2, total_iters=7),
            S.linear_factor(0.1, start_factor=0.9, end_factor=0.2, total_steps=7),
            20,
            3,
        ),
        (
            lambda o: _l().ConstantLR(o, factor=0.3, total_iters=3),
            S.constant_factor(0.1, factor=0.3, total_steps=3),
            9,
            0,
        ),
        (
            lambda o: _l().PolynomialLR(o, total_iters=6, power=2.0),
            S.polynomial(0.1, total_steps=6, power=2.0),
            12,
            2,
        ),
        (
            lambda o: _l().CosineAnnealingLR(o, T_max=10),
            S.cosine(0.1, total_steps=10, periodic=True),
            60,
            113,
        ),
    ]
    for make, closed, n, bound in cases:
        gap, at = worst([closed(t) for t in range(n + 1)], torch_rates(make, n))
        assert gap <= bound, (closed, gap, at)


def test_cosine_recursive_drift_over_ten_thousand_steps() -> None:
    """torch's CosineAnnealingLR step() (S4r) = the reference's recursive form at every one of 10^4
    steps; its drift from the closed form (S4) is what specs/schedules.md reports."""
    n, T = 10_000, 100
    want = torch_rates(lambda o: _l().CosineAnnealingLR(o, T_max=T), n)
    rec = S.cosine(0.1, total_steps=T, periodic=True, form="recursive")
    assert [rec(t) for t in range(n + 1)] == want
    closed = S.cosine(0.1, total_steps=T, periodic=True)
    rel = [abs(w - closed(t)) / closed(t) if closed(t) > 0 else abs(w) / 0.1 for t, w in enumerate(want)]
    k = int(np.argmax(rel))
    print(f"CosineAnnealingLR T_max={T}, 10^4 steps: largest relative gap {rel[k]:.3g} at t={k}")
    assert 0 < rel[k] < 1e-3  # a real drift, far below the rate itself (spec: the measured figure)


def test_an_optimizer_driven_by_a_reference_schedule_equals_torch() -> None:
    """torch SGD + StepLR vs ref.gd(lr=step_decay(...)) over 50 steps on a quadratic."""
    torch = _torch()
    A = np.diag([1.0, 3.0, 0.5])
    x0 = np.array([1.0, -2.0, 0.5])
    p = torch.nn.Parameter(torch.tensor(x0))
    opt = torch.optim.SGD([p], lr=0.2)
    sched = _l().StepLR(opt, step_size=7, gamma=0.5)
    rate = S.step_decay(0.2, step_size=7, gamma=0.5, form="recursive")
    ours = ref.gd(lr=rate)
    state = ours.init(x0)
    for t in range(50):
        assert opt.param_groups[0]["lr"] == rate(t)
        p.grad = torch.tensor(A) @ p.detach()
        opt.step()
        sched.step()
        state = ours.step(state, A @ ours.query(state))
    # the rates are equal at every step; the iterates differ by the rounding of torch's update
    # (a fused multiply-add, docs/conventions.md): 1.3e-15 relative after 50 steps, measured
    np.testing.assert_allclose(state.params, p.detach().numpy(), rtol=1e-14, atol=0)
    assert not np.allclose(state.params, x0)  # the schedule did drive 50 real steps


def test_every_peer_schedule_has_a_reference() -> None:
    """Fails when a torch or optax release adds a scheduler/schedule that reference.schedules does not list."""
    torch_names = {
        n
        for n in dir(_l())
        if n.endswith("LR") or n in ("ChainedScheduler", "ReduceLROnPlateau", "LRScheduler")
    }
    torch_names = {n for n in torch_names if isinstance(getattr(_l(), n), type) and not n.startswith("_")}
    optax_names = {n for n in dir(_o()) if not n.startswith("_") and callable(getattr(_o(), n))}
    missing = sorted((torch_names | optax_names) - set(S.TORCH) - set(S.OPTAX) - S.NOT_SCHEDULES)
    assert missing == [], f"peer schedules without a reference in reference/schedules.py: {missing}"
    tested = {c[0].split("-")[0] for c in TORCH_CASES + OPTAX_CASES} | {"ReduceLROnPlateau"}
    assert set(S.TORCH) | set(S.OPTAX) <= tested


@pytest.mark.parametrize(
    ("name", "make", "reference", "n"), [c[:4] for c in OPTAX_CASES], ids=[c[0] for c in OPTAX_CASES]
)
def test_optax_schedule_at_an_optimizers_int32_count(
    name: str, make: Callable[[], Any], reference: Callable[[], Any], n: int
) -> None:
    """What an optax optimizer passes is an int32 count: then most schedules compute in float32 even
    under jax_enable_x64 (spec, Conventions). Measured worst: 1.35e-6 relative (cosine_onecycle), within
    16 float32 epsilons (1.9e-6) of the float64 reference."""
    _optax()  # skips, saying how to install the peers, when optax (and so jax) is missing
    import jax.numpy as jnp

    sched, ours = make(), reference()
    for t in range(n + 1):
        got, want = float(np.asarray(sched(jnp.asarray(t, dtype=jnp.int32)))), ours(t)
        assert abs(got - want) <= 16 * float(np.finfo(np.float32).eps) * abs(want), (name, t, got, want)

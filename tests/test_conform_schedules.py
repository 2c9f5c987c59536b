"""Schedules as conformance peers (reference/conform/schedules.py; specs/conformance.md, "Schedules"):
every torch.optim.lr_scheduler scheduler and every optax schedule, at its defaults (or minimal
required arguments) and at a second setting that exercises each option, alone and driving one
optimizer; the command line's exit statuses; the translation tables are the ones reference/schedules.py
lists."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from reference import schedules as S


def _torch() -> Any:
    return pytest.importorskip(
        "torch", reason="torch is not installed: pip install -e '.[test,peers]' runs these tests"
    )


def _optax() -> Any:
    return pytest.importorskip(
        "optax", reason="optax is not installed: pip install -e '.[test,peers]' runs these tests"
    )


def _cs() -> Any:
    from reference.conform import schedules

    return schedules


L = "torch.optim.lr_scheduler."

# (id, torch scheduler name, keywords, steps): defaults / minimal arguments, then every option
TORCH_CASES: list[tuple[str, str, dict[str, Any], int]] = [
    ("LambdaLR", "LambdaLR", {"lr_lambda": lambda t: 0.9**t}, 20),
    ("MultiplicativeLR", "MultiplicativeLR", {"lr_lambda": lambda t: 0.95}, 20),
    ("StepLR", "StepLR", {"step_size": 3}, 20),
    ("StepLR-2", "StepLR", {"step_size": 4, "gamma": 0.7}, 30),
    ("MultiStepLR", "MultiStepLR", {"milestones": [2, 5, 9]}, 15),
    ("MultiStepLR-2", "MultiStepLR", {"milestones": [1, 3], "gamma": 0.3}, 10),
    ("ConstantLR", "ConstantLR", {}, 12),
    ("ConstantLR-2", "ConstantLR", {"factor": 0.3, "total_iters": 3}, 9),
    ("LinearLR", "LinearLR", {}, 12),
    ("LinearLR-2", "LinearLR", {"start_factor": 0.9, "end_factor": 0.2, "total_iters": 7}, 21),
    ("ExponentialLR", "ExponentialLR", {"gamma": 0.9}, 40),
    ("PolynomialLR", "PolynomialLR", {}, 12),
    ("PolynomialLR-2", "PolynomialLR", {"total_iters": 6, "power": 2.0}, 18),
    ("CosineAnnealingLR", "CosineAnnealingLR", {"T_max": 10}, 60),
    ("CosineAnnealingLR-2", "CosineAnnealingLR", {"T_max": 7, "eta_min": 0.01}, 42),
    ("CosineAnnealingWarmRestarts", "CosineAnnealingWarmRestarts", {"T_0": 5}, 15),
    (
        "CosineAnnealingWarmRestarts-2",
        "CosineAnnealingWarmRestarts",
        {"T_0": 3, "T_mult": 2, "eta_min": 0.01},
        21,
    ),
    ("CyclicLR", "CyclicLR", {"base_lr": 0.01, "max_lr": 0.1, "cycle_momentum": False}, 4000),
    (
        "CyclicLR-2",
        "CyclicLR",
        {
            "base_lr": 0.01,
            "max_lr": 0.1,
            "step_size_up": 3,
            "step_size_down": 5,
            "mode": "exp_range",
            "gamma": 0.9,
            "cycle_momentum": False,
        },
        24,
    ),
    (
        "CyclicLR-3",
        "CyclicLR",
        {
            "base_lr": 0.01,
            "max_lr": 0.1,
            "step_size_up": 2,
            "scale_fn": lambda x: 1 / (1 + x),
            "scale_mode": "iterations",
            "cycle_momentum": False,
        },
        12,
    ),
    (
        "CyclicLR-triangular2",
        "CyclicLR",
        {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 2, "mode": "triangular2", "cycle_momentum": False},
        16,
    ),
    ("OneCycleLR", "OneCycleLR", {"max_lr": 0.1, "total_steps": 20, "cycle_momentum": False}, 19),
    (
        "OneCycleLR-2",
        "OneCycleLR",
        {
            "max_lr": 0.1,
            "total_steps": 30,
            "pct_start": 0.25,
            "anneal_strategy": "linear",
            "three_phase": True,
            "div_factor": 10.0,
            "final_div_factor": 100.0,
            "cycle_momentum": False,
        },
        29,
    ),
    (
        "SequentialLR",
        "SequentialLR",
        {
            "schedulers": [("LinearLR", {"total_iters": 4}), ("ExponentialLR", {"gamma": 0.9})],
            "milestones": [4],
        },
        16,
    ),
    (
        "SequentialLR-3",
        "SequentialLR",
        {
            "schedulers": [
                ("ConstantLR", {"factor": 0.5, "total_iters": 2}),
                ("CosineAnnealingLR", {"T_max": 6}),
                ("StepLR", {"step_size": 2, "gamma": 0.5}),
            ],
            "milestones": [3, 9],
        },
        18,
    ),
    (
        "ChainedScheduler",
        "ChainedScheduler",
        {
            "schedulers": [
                ("ConstantLR", {"factor": 0.5, "total_iters": 4}),
                ("ExponentialLR", {"gamma": 0.9}),
            ]
        },
        12,
    ),
    (
        "ChainedScheduler-3",
        "ChainedScheduler",
        {
            "schedulers": [
                ("LinearLR", {"start_factor": 0.5, "total_iters": 3}),
                ("StepLR", {"step_size": 2, "gamma": 0.8}),
                ("CosineAnnealingLR", {"T_max": 5}),
            ]
        },
        15,
    ),
    ("ReduceLROnPlateau", "ReduceLROnPlateau", {}, 100),
    (
        "ReduceLROnPlateau-2",
        "ReduceLROnPlateau",
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
        60,
    ),
]


@pytest.mark.parametrize(("case", "name", "kw", "n"), TORCH_CASES, ids=[c[0] for c in TORCH_CASES])
def test_torch_scheduler_alone(case: str, name: str, kw: dict[str, Any], n: int) -> None:
    """Built by name on a throwaway SGD: the translation reproduces torch's rates bit for bit."""
    _torch()
    report = _cs().conform_schedule(L + name, n_steps=n, **kw)
    assert report.passed, report.table()
    assert report.worst == 0.0, report.table()  # the Variants table says exact: measured here
    assert len(set(report.peer)) >= 2  # the schedule did move the rate


def test_the_translation_reads_an_instance_on_the_users_own_optimizer() -> None:
    """A scheduler instance on a user's Adam over two tensors: compared on copies; the user's
    optimizer, scheduler and parameters are untouched."""
    torch = _torch()
    w = torch.nn.Parameter(torch.ones(3, 2, dtype=torch.float64))
    opt = torch.optim.Adam([w, torch.nn.Parameter(torch.ones(4, dtype=torch.float64))], lr=0.05)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.3, total_steps=25, div_factor=7.0)
    report = _cs().conform_schedule(sched)
    assert report.passed and report.worst == 0.0 and report.n == 24  # torch raises after total_steps
    assert any("OneCycleLR raises" in note for note in report.notes)
    assert sched.last_epoch == 0 and opt.param_groups[0]["lr"] == report.peer[0]
    assert torch.equal(w.detach(), torch.ones(3, 2, dtype=torch.float64))


def test_plateau_follows_the_metric_stream_it_is_given() -> None:
    _torch()
    cs = _cs()
    metrics = [1.0, 0.9] + [0.9] * 20
    report = cs.conform_schedule(L + "ReduceLROnPlateau", n_steps=21, metrics=metrics, patience=2)
    assert report.passed and report.worst == 0.0
    assert sorted(set(report.peer), reverse=True)[:3] == pytest.approx([0.1, 0.01, 0.001])
    default = cs.plateau_metrics(100)
    assert default == cs.plateau_metrics(100) and default != cs.plateau_metrics(100, seed=1)


O = "optax."
# (id, optax schedule name, keywords, steps)
OPTAX_CASES: list[tuple[str, str, dict[str, Any], int]] = [
    ("constant_schedule", "constant_schedule", {"value": 0.1}, 5),
    (
        "polynomial_schedule",
        "polynomial_schedule",
        {"init_value": 0.1, "end_value": 0.01, "power": 2, "transition_steps": 10},
        30,
    ),
    (
        "polynomial_schedule-2",
        "polynomial_schedule",
        {"init_value": 0.1, "end_value": 0.01, "power": 0.5, "transition_steps": 6, "transition_begin": 3},
        27,
    ),
    (
        "linear_schedule",
        "linear_schedule",
        {"init_value": 0.1, "end_value": 0.001, "transition_steps": 10},
        30,
    ),
    (
        "linear_schedule-2",
        "linear_schedule",
        {"init_value": 0.0, "end_value": 0.1, "transition_steps": 5, "transition_begin": 2},
        21,
    ),
    ("piecewise_constant_schedule", "piecewise_constant_schedule", {"init_value": 0.1}, 3),
    (
        "piecewise_constant_schedule-2",
        "piecewise_constant_schedule",
        {"init_value": 0.1, "boundaries_and_scales": {3: 0.5, 7: 0.1}},
        21,
    ),
    (
        "exponential_decay",
        "exponential_decay",
        {"init_value": 0.1, "transition_steps": 3, "decay_rate": 0.9},
        30,
    ),
    (
        "exponential_decay-2",
        "exponential_decay",
        {
            "init_value": 0.1,
            "transition_steps": 3,
            "decay_rate": 0.5,
            "transition_begin": 2,
            "staircase": True,
            "end_value": 0.02,
        },
        30,
    ),
    ("cosine_decay_schedule", "cosine_decay_schedule", {"init_value": 0.1, "decay_steps": 10}, 30),
    (
        "cosine_decay_schedule-2",
        "cosine_decay_schedule",
        {"init_value": 0.1, "decay_steps": 10, "alpha": 0.1, "exponent": 2.0},
        30,
    ),
    (
        "piecewise_interpolate_schedule",
        "piecewise_interpolate_schedule",
        {"interpolate_type": "linear", "init_value": 0.1, "boundaries_and_scales": {3: 2.0, 8: 0.1, 9: 0.5}},
        27,
    ),
    (
        "piecewise_interpolate_schedule-2",
        "piecewise_interpolate_schedule",
        {
            "interpolate_type": "cosine",
            "init_value": 0.1,
            "boundaries_and_scales": {0: 0.5, 4: 2.0, 10: 0.01},
        },
        30,
    ),
    ("linear_onecycle_schedule", "linear_onecycle_schedule", {"transition_steps": 20, "peak_value": 0.1}, 60),
    (
        "linear_onecycle_schedule-2",
        "linear_onecycle_schedule",
        {
            "transition_steps": 30,
            "peak_value": 0.1,
            "pct_start": 0.2,
            "pct_final": 0.7,
            "div_factor": 10.0,
            "final_div_factor": 100.0,
        },
        90,
    ),
    ("cosine_onecycle_schedule", "cosine_onecycle_schedule", {"transition_steps": 20, "peak_value": 0.1}, 60),
    (
        "cosine_onecycle_schedule-2",
        "cosine_onecycle_schedule",
        {
            "transition_steps": 30,
            "peak_value": 0.1,
            "pct_start": 0.4,
            "div_factor": 10.0,
            "final_div_factor": 100.0,
        },
        90,
    ),
    (
        "warmup_constant_schedule",
        "warmup_constant_schedule",
        {"init_value": 0.0, "peak_value": 0.1, "warmup_steps": 5},
        15,
    ),
    (
        "warmup_cosine_decay_schedule",
        "warmup_cosine_decay_schedule",
        {"init_value": 0.0, "peak_value": 0.1, "warmup_steps": 3, "decay_steps": 12},
        36,
    ),
    (
        "warmup_cosine_decay_schedule-2",
        "warmup_cosine_decay_schedule",
        {
            "init_value": 0.01,
            "peak_value": 0.1,
            "warmup_steps": 4,
            "decay_steps": 15,
            "end_value": 0.001,
            "exponent": 1.5,
        },
        45,
    ),
    (
        "warmup_exponential_decay_schedule",
        "warmup_exponential_decay_schedule",
        {"init_value": 0.0, "peak_value": 0.1, "warmup_steps": 3, "transition_steps": 2, "decay_rate": 0.9},
        30,
    ),
    (
        "warmup_exponential_decay_schedule-2",
        "warmup_exponential_decay_schedule",
        {
            "init_value": 0.01,
            "peak_value": 0.1,
            "warmup_steps": 4,
            "transition_steps": 3,
            "decay_rate": 0.5,
            "transition_begin": 2,
            "staircase": True,
            "end_value": 0.01,
        },
        30,
    ),
    (
        "sgdr_schedule",
        "sgdr_schedule",
        {
            "cosine_kwargs": [
                {"init_value": 0.0, "peak_value": 0.1, "warmup_steps": 2, "decay_steps": 8},
                {
                    "init_value": 0.01,
                    "peak_value": 0.05,
                    "warmup_steps": 1,
                    "decay_steps": 6,
                    "end_value": 0.001,
                },
            ]
        },
        28,
    ),
    (
        "join_schedules",
        "join_schedules",
        {
            "schedules": [
                ("constant_schedule", {"value": 0.1}),
                ("cosine_decay_schedule", {"init_value": 0.1, "decay_steps": 5}),
            ],
            "boundaries": [4],
        },
        15,
    ),
]


@pytest.mark.parametrize(("case", "name", "kw", "n"), OPTAX_CASES, ids=[c[0] for c in OPTAX_CASES])
def test_optax_schedule_alone(case: str, name: str, kw: dict[str, Any], n: int) -> None:
    """At int64 counts (float64) exact; at an optimizer's int32 count within MAX_ULPS of float32."""
    _optax()
    cs = _cs()
    report = cs.conform_schedule(O + name, n_steps=n, **kw)
    assert report.passed and report.worst == 0.0, report.table()
    if "-" not in case:  # an optimizer's int32 count, once per schedule
        at32 = cs.conform_schedule(O + name, n_steps=n, count_dtype="int32", **kw)
        assert at32.dtype == "float32" and at32.passed, at32.table()


# One optimizer per scheduler: torch's SGD with momentum, the reference's momentum(lr=schedule)
TORCH_DRIVEN = [c for c in TORCH_CASES if "-" not in c[0]]


@pytest.mark.parametrize(("case", "name", "kw", "n"), TORCH_DRIVEN, ids=[c[0] for c in TORCH_DRIVEN])
def test_torch_scheduler_driving_an_optimizer(case: str, name: str, kw: dict[str, Any], n: int) -> None:
    """torch_peer(optimizer, scheduler=...): scheduler.step() after each optimizer.step(); the
    reference gets lr= the reference schedule."""
    torch = _torch()
    from reference.conform import conform, torch_peer

    cs = _cs()
    peer = torch_peer(
        torch.optim.SGD,
        [(3, 2), (4,)],
        lr=0.05,
        momentum=0.9,
        scheduler=lambda o: cs.torch_scheduler(o, name, **kw),
    )
    assert callable(peer.spec.hyperparams["lr"])  # the reference schedule, not a number
    report = conform(peer, streams=["normal"], modes=["open", "closed"], n_steps=min(n, 30), long_steps=0)
    assert report.passed, report.table()


OPTAX_DRIVEN = [c for c in OPTAX_CASES if "-" not in c[0]]
FLOAT32_AT_INT32 = {
    "constant_schedule",
    "piecewise_constant_schedule",
    "cosine_decay_schedule",
    "join_schedules",
}


@pytest.mark.parametrize(("case", "name", "kw", "n"), OPTAX_DRIVEN, ids=[c[0] for c in OPTAX_DRIVEN])
def test_optax_schedule_driving_an_optimizer(case: str, name: str, kw: dict[str, Any], n: int) -> None:
    """optax.sgd(learning_rate=the schedule) against ref.sgd(lr=its reference): in float64 where optax
    evaluates the schedule in float64 at its int32 count, else in float32 (specs/schedules.md)."""
    _optax()
    from reference.conform import conform, optax_peer

    cs = _cs()
    sched = cs.optax_schedule(name, kw)
    dtype = "float64" if name in FLOAT32_AT_INT32 else "float32"
    assert (cs.precision_note(sched, "float64") is None) == (dtype == "float64")
    peer = optax_peer("sgd", [(3, 2), (4,)], dtype=dtype, learning_rate=sched)
    assert peer.spec.hyperparams["lr"] is sched.reference
    report = conform(peer, streams=["normal"], modes=["open"], n_steps=min(n, 30), long_steps=0)
    assert report.passed, report.table()


def test_an_optax_schedule_in_float32_is_a_float64_mismatch_and_the_reason_is_named() -> None:
    _optax()
    from reference.conform import conform, optax_peer

    cs = _cs()
    sched = cs.optax_schedule("linear_schedule", init_value=0.1, end_value=0.001, transition_steps=30)
    note = cs.precision_note(sched, "float64")
    assert note is not None and "float32" in note and "int32" in note
    report = conform(
        optax_peer("sgd", [(5,)], learning_rate=sched),
        streams=["normal"],
        modes=["open"],
        n_steps=20,
        long_steps=0,
        diagnose=False,
    )
    assert not report.passed


def test_jit_at_an_int32_count_makes_a_fractional_polynomial_nan() -> None:
    """Inside an optimizer optax jit-compiles the schedule at an int32 count; XLA's product by the
    reciprocal leaves 1 - count/steps at -2.98e-8, and the power 0.5 of it is NaN (specs/schedules.md)."""
    _optax()
    from reference.conform import PeerFailed

    cs = _cs()
    kw = {"init_value": 0.1, "end_value": 0.01, "power": 0.5, "transition_steps": 6, "transition_begin": 3}
    sched = cs.optax_schedule("polynomial_schedule", kw)
    assert cs.conform_schedule(sched, n_steps=20).passed  # called eagerly: exact
    note = cs.precision_note(sched, "float32")
    assert note is not None and "nan at t = 9" in note
    with pytest.raises(PeerFailed, match="non-finite rate"):
        cs.conform_schedule(sched, n_steps=20, count_dtype="int32", jit=True)
    squared = cs.optax_schedule("polynomial_schedule", {**kw, "power": 2.0})
    assert cs.conform_schedule(squared, n_steps=20, count_dtype="int32", jit=True).passed


def test_the_tables_are_the_translation() -> None:
    """Every name of reference/schedules.py's TORCH / OPTAX tables has a translation and only those;
    each is built by the factory the table names."""
    cs = _cs()
    assert set(cs._TORCH_READ) | {"ReduceLROnPlateau"} == set(S.TORCH)
    assert set(cs._OPTAX_READ) == set(S.OPTAX)
    for table in (S.TORCH, S.OPTAX):
        for call in table.values():
            assert callable(getattr(S, call.split("(")[0]))
    tested = {c[1] for c in TORCH_CASES} | {c[1] for c in OPTAX_CASES}
    assert tested == set(S.TORCH) | set(S.OPTAX)


def test_refusals_name_the_reason() -> None:
    torch = _torch()
    cs = _cs()
    from reference.conform import NotComparable

    o = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)

    class MyStep(torch.optim.lr_scheduler.StepLR):
        pass

    with pytest.raises(NotComparable, match="not one of torch.optim.lr_scheduler's own"):
        cs.conform_schedule(MyStep(o, 3))
    assert cs.conform_schedule(MyStep(o, 3), S.step_decay(0.1, step_size=3, form="recursive")).passed
    with pytest.raises(NotComparable, match="repeated milestone"):
        cs.conform_schedule(L + "MultiStepLR", milestones=[2, 2])
    stepped = torch.optim.lr_scheduler.StepLR(o, 3)
    o.step()
    stepped.step()
    with pytest.raises(ValueError, match="already been stepped"):
        cs.conform_schedule(stepped)
    with pytest.raises(NotComparable, match="cycle_momentum"):
        from reference.conform import torch_peer

        torch_peer(
            "SGD", lr=0.1, scheduler=lambda o: torch.optim.lr_scheduler.OneCycleLR(o, 0.1, total_steps=9)
        )


def test_assert_conforms_takes_a_scheduler_and_a_wrong_reference_fails() -> None:
    torch = _torch()
    from reference.testing import assert_conforms, assert_schedule_conforms

    o = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    report = assert_conforms(torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=8))
    assert report.worst == 0.0
    with pytest.raises(AssertionError, match="MISMATCH"):
        assert_schedule_conforms(lambda t: 0.1 * 0.5 ** (t // 3), S.step_decay(0.1, step_size=4, gamma=0.5))
    mine = assert_schedule_conforms(
        lambda t: 0.1 * 0.5 ** (t // 3), S.step_decay(0.1, step_size=3, gamma=0.5), n_steps=12
    )
    assert mine.n == 12 and mine.passed


def test_a_scheduled_optimizer_copy_never_steps_the_users_model() -> None:
    """The lr scheduler's step wrapper bound to the original optimizer is dropped from the copy
    (before, a torch_peer of an optimizer with a scheduler attached stepped the original)."""
    torch = _torch()
    from reference.conform import torch_peer

    p = torch.nn.Parameter(torch.ones(3, dtype=torch.float64))
    p.grad = torch.ones(3, dtype=torch.float64)
    opt = torch.optim.SGD([p], lr=0.1)
    sched = torch.optim.lr_scheduler.StepLR(opt, 2)
    for peer in (torch_peer(opt), torch_peer(opt, scheduler=sched)):
        peer.start(np.zeros(3))
        moved = [peer.step(np.ones(3)) for _ in range(3)]
        assert torch.equal(p.detach(), torch.ones(3, dtype=torch.float64))
        assert moved[0][0] == pytest.approx(-0.1)
    assert moved[-1][0] == pytest.approx(-0.1 - 0.1 - 0.01)  # the schedule acted on the copy: 0.1, 0.1, 0.01


def _cli(capsys: Any, *argv: str) -> tuple[int, str, str]:
    from reference.conform.cli import conform_main

    code = conform_main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_schedule_alone_exit_statuses(capsys: Any, monkeypatch: Any) -> None:
    _torch()
    _optax()
    code, out, _ = _cli(capsys, L + "StepLR", "--hp", "step_size=3,gamma=0.5")
    assert code == 0 and "CONFORMS" in out
    code, out, _ = _cli(capsys, O + "cosine_decay_schedule", "--hp", "init_value=0.1,decay_steps=20")
    assert code == 0 and "CONFORMS" in out
    for bad in (
        ["--hp", "step_size=abc"],
        ["--hp", "step_size=3,foo=1"],
        ["--hp", "step_size=3", "--algo", "adam"],
    ):
        code, out, err = _cli(capsys, L + "StepLR", *bad)
        assert code == 2 and out == "" and len(err.strip().splitlines()) == 1, err
    code, _, err = _cli(capsys, O + "cosine_decay_schedule", "--hp", "init_value=0.1")
    assert code == 2 and "decay_steps" in err
    cs = _cs()  # a planted wrong reference: the step size read one too large
    monkeypatch.setitem(
        cs._TORCH_READ,
        "StepLR",
        lambda s: S.step_decay(cs._base(s), step_size=s.step_size + 1, form="recursive"),
    )
    code, out, _ = _cli(capsys, L + "StepLR", "--hp", "step_size=3")
    assert code == 1 and "MISMATCH" in out and "first past the tolerance: t = 3" in out


def test_cli_optimizer_driven_by_a_schedule(capsys: Any) -> None:
    _torch()
    _optax()
    fast = ("--plot", "", "--long-steps", "0", "--steps", "15", "--streams", "normal")
    code, out, _ = _cli(capsys, "torch.optim.Adam", "--schedule", "StepLR:step_size=3", *fast)
    assert code == 0 and "StepDecay" in out
    code, out, _ = _cli(
        capsys, "optax.adam", "--schedule", "cosine_decay_schedule:init_value=1e-3,decay_steps=20", *fast
    )
    assert code == 0 and "OptaxCosine" in out
    # optax evaluates linear_schedule in float32 at its int32 count: the schedule is judged alone at
    # float32's eps, then the optimizer given optax's own rate stream (specs/conformance.md)
    code, out, err = _cli(
        capsys,
        "optax.adam",
        "--schedule",
        "linear_schedule:init_value=1e-3,end_value=0,transition_steps=20",
        *fast,
    )
    assert (
        code == 0 and "float32" in err and "alone at optax's int32 count, float32 precision: conforms" in err
    )
    assert "given optax's own learning-rate stream" in err
    # the strict form in Python (the reference schedule in float64) still shows the float32 rate
    from reference.conform import conform, optax_peer
    from reference.conform.schedules import optax_schedule

    strict = optax_peer(
        "adam",
        [(3,)],
        learning_rate=optax_schedule("linear_schedule", init_value=1e-3, end_value=0.0, transition_steps=20),
    )
    assert not conform(
        strict, streams=["normal"], modes=["open"], n_steps=15, long_steps=0, diagnose=False
    ).passed
    code, _, err = _cli(capsys, "torch.optim.Adam", "--schedule", "StepLR:nope=3", *fast)
    assert code == 2 and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(("case", "name", "kw", "n"), OPTAX_DRIVEN, ids=[c[0] for c in OPTAX_DRIVEN])
def test_optax_schedule_inside_an_optimizer_at_float64_through_the_cli_rule(
    case: str, name: str, kw: dict[str, Any], n: int
) -> None:
    """What ``optref conform optax.NAME --schedule ...`` runs at float64: the schedule alone as optax
    evaluates it (jit, int32 count) at float32's eps, then the optimizer given optax's own compiled
    rate stream (reference/conform/cli.py ``_shared_rate``): every optax schedule conforms."""
    _optax()
    from reference.conform import conform, optax_peer
    from reference.conform.cli import _shared_rate

    cs = _cs()
    sched = cs.optax_schedule(name, kw)
    rate = sched if cs.precision_note(sched, "float64") is None else _shared_rate(sched)
    peer = optax_peer("sgd", [(3, 2), (4,)], dtype="float64", learning_rate=rate)
    report = conform(peer, streams=["normal"], modes=["open"], n_steps=min(n, 30), long_steps=0)
    assert report.passed, report.table()

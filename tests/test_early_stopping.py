"""reference.hpo.early_stopping: the worked example of specs/early_stopping.md, Keras's rules one by
one (improvement vs min_delta, the wait counter, patience 0, baseline, start_from, restore), the
rule against a transcription of Keras's on_epoch_end on random curves, purity, seeding, bad input.

The validation curves are fed by position: GD with lr = 1 on the constant gradient -1 from 0 puts
theta_t = t exactly, and val_loss(theta) reads the curve at t (t = 1 is the first evaluation)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import reference as ref
from reference import problems
from reference.driver import run as driver_run
from reference.hpo.early_stopping import EarlyStopping, early_stopping
from tests.helpers import readonly


def _curve(values: Sequence[float], every: int = 1) -> Callable[[np.ndarray], float]:
    def val_loss(theta: np.ndarray) -> float:
        t = int(round(float(theta[0])))
        assert t % every == 0, f"evaluated at t = {t}, not a multiple of every = {every}"
        return float(values[t // every - 1])

    return val_loss


def _run(values: Sequence[float], *, every: int = 1, **kw: Any) -> EarlyStopping:
    kw.setdefault("max_steps", len(values) * every)
    return early_stopping(
        ref.gd(lr=1.0), lambda q: -np.ones(1), np.zeros(1), _curve(values, every), every=every, **kw
    )


WORKED = (1.0, 0.8, 0.78, 0.7, 0.72, 0.69, 0.71, 0.9, 1.0)


def test_worked_example_stop_and_best_step() -> None:
    r = _run(WORKED, patience=2, min_delta=0.05)
    assert (r.stop_step, r.best_step, r.best_value, r.reason) == (6, 4, 0.7, "patience")
    assert r.steps == (1, 2, 3, 4, 5, 6) and r.values == WORKED[:6]
    assert r.params.tolist() == [4.0]  # theta_4, although v_5 = 0.69 is lower
    assert r.final.params.tolist() == [6.0]


def test_worked_example_without_min_delta_improves_at_k5() -> None:
    r = _run(WORKED, patience=2)
    # improvements at k = 0, 1, 2, 3, 5 (0.69); then 0.71, 0.9: wait 2 at k = 7, t = 8
    assert (r.stop_step, r.best_step, r.best_value) == (8, 6, 0.69)
    assert r.params.tolist() == [6.0]


def test_patience_zero_stops_at_first_non_improvement() -> None:
    r = _run((3.0, 2.0, 2.0, 1.0), patience=0)
    assert (r.stop_step, r.best_step, r.reason) == (3, 2, "patience")  # 2.0 is not < 2.0


def test_patience_zero_never_stops_at_k0() -> None:
    # k = 0 never stops (Keras: epoch > 0): a NaN first value is no improvement, wait 1 >= 0
    r = _run((math.nan, 5.0, 6.0), patience=0)
    assert (r.stop_step, r.best_step, r.best_value) == (3, 2, 5.0)  # k = 1 improves, k = 2 stops


def test_min_delta_in_kerass_arithmetic() -> None:
    # v + delta < b (Keras), not v < b - delta: 0.04 + 0.1 == 0.14 but 0.14 - 0.1 > 0.04
    assert 0.04 + 0.1 == 0.14 and 0.04 < 0.14 - 0.1
    r = _run((0.14, 0.04, 0.5), patience=0, min_delta=0.1)
    assert (r.best_step, r.stop_step) == (1, 2)


def test_min_delta_is_strict() -> None:
    # (1 - 0.1) + 0.1 < 1.0 is false (equal in float64): an improvement must be strict
    r = _run((1.0, 1.0 - 0.1, 0.85, 0.5), patience=5, min_delta=0.1)
    assert r.best_step == 4 and r.values[1] == 1.0 - 0.1
    r2 = _run((1.0, 0.899, 0.85, 0.5), patience=0, min_delta=0.1)
    assert (r2.best_step, r2.stop_step) == (2, 3)


def test_never_improving_after_the_first() -> None:
    r = _run((1.0, 1.1, 1.2, 1.3, 1.4, 1.5), patience=3)
    assert (r.best_step, r.stop_step, r.reason) == (1, 4, "patience")
    assert r.params.tolist() == [1.0]


def test_all_nan_keeps_the_first_counted_evaluation() -> None:
    r = _run((math.nan,) * 4, patience=1)
    assert (r.best_step, r.best_value, r.stop_step) == (1, math.inf, 2)
    assert r.params.tolist() == [1.0]


def test_restore_best_false_returns_the_last_iterate() -> None:
    r = _run(WORKED, patience=2, min_delta=0.05, restore_best=False)
    assert r.params.tolist() == [6.0] and r.best_step == 4


def test_max_steps_reached_restores_the_best() -> None:
    r = _run((3.0, 1.0, 2.0, 2.5), patience=5)
    assert (r.reason, r.stop_step, r.best_step) == ("max_steps", 4, 2)
    assert r.params.tolist() == [2.0]


def test_every_evaluates_at_multiples() -> None:
    r = _run((3.0, 1.0, 2.0, 2.5), every=3, patience=1)
    assert r.steps == (3, 6, 9) and (r.best_step, r.stop_step) == (6, 9)
    assert r.params.tolist() == [6.0]


def test_baseline_improvement_without_reset() -> None:
    # best moves (2.0 -> 1.5) but 1.5 is not below the baseline 1.0: the wait is not reset, and
    # that evaluation cannot stop (Keras returns before its stop test)
    r = _run((2.0, 1.5, 1.6, 0.5), patience=1, baseline=1.0)
    assert (r.stop_step, r.best_step, r.best_value) == (3, 2, 1.5)
    r2 = _run((2.0, 1.5, 0.5, 0.6, 0.7), patience=1, baseline=1.0)
    assert (r2.stop_step, r2.best_step) == (4, 3)


def test_start_from_ignores_early_evaluations() -> None:
    r = _run((0.1, 0.2, 5.0, 4.0, 4.5, 4.6), patience=1, start_from=2)
    assert (r.best_step, r.best_value, r.stop_step) == (4, 4.0, 5)
    assert r.values[:2] == (0.1, 0.2)  # recorded, not counted
    never = _run((1.0, 2.0), patience=0, start_from=5)
    assert (never.best_step, never.reason, never.params.tolist()) == (None, "max_steps", [2.0])


def _keras_transcription(
    values: Sequence[float], patience: int, delta: float, baseline: float | None, start: int
) -> tuple[int, int | None]:
    """Keras 3's on_epoch_end for mode "min" with restore_best_weights=True, written out: returns
    (the last epoch run, the restored epoch)."""
    min_delta = -abs(delta)  # Keras negates min_delta for a metric to minimise
    best, wait, best_epoch, weights = math.inf, 0, 0, None
    for epoch, current in enumerate(values):
        if epoch < start:  # start_from_epoch: still warming up
            continue
        if weights is None:
            weights, best_epoch = epoch, epoch
        wait += 1
        if current - min_delta < best:  # _is_improvement: monitor_op(current - min_delta, best)
            best, best_epoch, weights = current, epoch, epoch
            if baseline is None or current - min_delta < baseline:
                wait = 0
            continue
        if wait >= patience and epoch > 0:
            return epoch, best_epoch
    return len(values) - 1, None if weights is None else best_epoch


@given(
    values=st.lists(
        st.sampled_from([0.04, 0.14, 0.5, 1.0, 1.02, 1.05, 1.1, 2.0, math.nan]), min_size=1, max_size=12
    ),
    patience=st.integers(0, 3),
    delta=st.sampled_from([0.0, 0.03, 0.1, 0.5]),
    baseline=st.sampled_from([None, 0.7, 1.03]),
    start=st.integers(0, 3),
)
def test_rule_is_keras_on_random_curves(
    values: list[float], patience: int, delta: float, baseline: float | None, start: int
) -> None:
    last, restored = _keras_transcription(values, patience, delta, baseline, start)
    r = _run(values, patience=patience, min_delta=delta, baseline=baseline, start_from=start)
    assert r.stop_step == last + 1
    if restored is None:  # no epoch counted: Keras keeps the last weights
        assert r.best_step is None and r.params.tolist() == [float(last + 1)]
    else:
        assert r.best_step == restored + 1 and r.params.tolist() == [float(restored + 1)]


def test_pure_inputs_unwritten_and_repeatable() -> None:
    prob = problems.least_squares(np.random.default_rng(0).normal(size=(20, 3)), np.ones(20))
    val = problems.least_squares(np.random.default_rng(1).normal(size=(10, 3)), np.ones(10))
    x0 = readonly(np.zeros(3))
    a = early_stopping(
        ref.sgd(lr=0.05), prob, x0, val, max_steps=60, patience=3, every=5, batch_size=4, seed=7
    )
    b = early_stopping(
        ref.sgd(lr=0.05), prob, x0, val, max_steps=60, patience=3, every=5, batch_size=4, seed=7
    )
    c = early_stopping(
        ref.sgd(lr=0.05), prob, x0, val, max_steps=60, patience=3, every=5, batch_size=4, seed=8
    )
    assert np.array_equal(x0, np.zeros(3))
    assert a.values == b.values and np.array_equal(a.params, b.params)
    assert a.values != c.values
    i = a.steps.index(a.best_step) if a.best_step is not None else -1
    assert a.best_value == min(a.values) == a.values[i]
    assert val.loss(a.params) == a.best_value


def test_the_driver_trajectory_is_the_same_run() -> None:
    prob = problems.least_squares(np.random.default_rng(0).normal(size=(20, 3)), np.ones(20))
    r = early_stopping(ref.adam(lr=0.1), prob, np.zeros(3), prob, max_steps=30, patience=100, every=10)
    traj = driver_run(ref.adam(lr=0.1), prob, np.zeros(3), 30)
    assert r.values == tuple(float(v) for v in traj.losses[[10, 20, 30]])
    assert traj.params is not None
    assert r.reason == "max_steps" and np.array_equal(r.final.params, traj.params[-1])


def test_diverged_run_stops_cleanly() -> None:
    grads = iter([-np.ones(1), -np.ones(1), np.array([np.nan])])
    r = early_stopping(
        ref.gd(lr=0.1),
        lambda q: next(grads),
        np.zeros(1),
        lambda th: float((th[0] - 0.1) ** 2),
        max_steps=5,
        patience=5,
    )
    assert (r.reason, r.stop_step, r.steps, r.best_step) == ("diverged", 2, (1, 2), 1)
    assert r.params.tolist() == [0.1] and r.final.params.tolist() == [0.2]


@pytest.mark.parametrize(
    ("kw", "exc", "text"),
    [
        ({"patience": -1}, ValueError, "early_stopping: patience must be an integer >= 0"),
        ({"patience": 1.5}, TypeError, "early_stopping: patience must be an integer"),
        ({"min_delta": -0.1}, ValueError, "early_stopping: min_delta must be"),
        ({"min_delta": math.nan}, ValueError, "early_stopping: min_delta must be"),
        ({"every": 0}, ValueError, "early_stopping: every must be an integer >= 1"),
        ({"max_steps": 0}, ValueError, "early_stopping: max_steps must be an integer >= 1"),
        ({"max_steps": 7, "every": 2}, ValueError, "early_stopping: max_steps must be a multiple of every"),
        ({"baseline": "low"}, ValueError, "early_stopping: baseline must be one of None or a finite number"),
        ({"start_from": -2}, ValueError, "early_stopping: start_from must be an integer >= 0"),
        ({"restore_best": 1}, TypeError, "early_stopping: restore_best must be True or False"),
    ],
)
def test_bad_settings_one_line(kw: dict[str, object], exc: type[Exception], text: str) -> None:
    args: dict[str, object] = {"max_steps": 4, **kw}
    with pytest.raises(exc) as info:
        early_stopping(ref.gd(lr=0.1), lambda q: q, np.zeros(1), lambda th: 0.0, **args)  # type: ignore[arg-type]
    msg = str(info.value)
    assert msg.startswith(text) and "\n" not in msg


def test_bad_sources_one_line() -> None:
    with pytest.raises(TypeError, match=r"^early_stopping: opt must be a gradient-fed optimizer"):
        early_stopping(object(), lambda q: q, np.zeros(1), lambda th: 0.0, max_steps=2)
    with pytest.raises(TypeError, match=r"^early_stopping: train must be"):
        early_stopping(ref.gd(lr=0.1), 3, np.zeros(1), lambda th: 0.0, max_steps=2)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^early_stopping: val_loss must be"):
        early_stopping(ref.gd(lr=0.1), lambda q: q, np.zeros(1), 3, max_steps=2)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^early_stopping: batch_size, seed and rng draw minibatches"):
        early_stopping(ref.gd(lr=0.1), lambda q: q, np.zeros(1), lambda th: 0.0, max_steps=2, seed=2)
    prob = problems.least_squares(np.ones((4, 1)), np.ones(4))
    with pytest.raises(ValueError, match=r"^early_stopping: minibatches need randomness") as info:
        early_stopping(ref.gd(lr=0.1), prob, np.zeros(1), prob, max_steps=2, batch_size=2)
    assert "\n" not in str(info.value)

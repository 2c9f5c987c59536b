"""Conformance verdicts that do not depend on luck (issue 9): the done-means sweep, late bugs at the
default settings, query-point peers, honest precision, peer failures, combined diagnoses.

The sweep's figures are in specs/conformance.md ("Verdicts", the sweep table).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from reference.conform import (
    LONG_STEPS,
    STREAMS,
    FunctionPeer,
    NotComparable,
    PeerFailed,
    ReferencePeer,
    ReferenceSpec,
    conform,
)
from reference.conform.engine import precision_issues, stream_issue
from reference.conform.peers import as_float_dtype
from reference.conform.variants import diagnose

SEEDS = range(20)

# ---------------------------------------------------------------------------------------------
# User functions in the --impl calling convention: correct ones ...


def nesterov_lookahead(params: Any, grad: Any, state: Any, *, lr: float, beta: float) -> tuple[Any, Any, Any]:
    """Note 001's look-ahead form: theta_t = q_{t-1} - lr g_t, v_t = theta_t - theta_{t-1}."""
    v = np.zeros_like(params) if state is None else state
    new = params + beta * v - lr * grad
    v = new - params
    return new, v, new + beta * v  # the next gradient is wanted at the look-ahead point


def nesterov_sutskever(params: Any, grad: Any, state: Any, *, lr: float, beta: float) -> tuple[Any, Any, Any]:
    """Sutskever et al. 2013: v_t = beta v - lr g_t at theta + beta v, theta_t = theta + v_t."""
    v = np.zeros_like(params) if state is None else state
    v = beta * v - lr * grad
    new = params + v
    return new, v, new + beta * v


def nesterov_lookahead_without_query(
    params: Any, grad: Any, state: Any, *, lr: float, beta: float
) -> tuple[Any, Any]:
    new, v, _ = nesterov_lookahead(params, grad, state, lr=lr, beta=beta)
    return new, v  # right update, but says nothing about where it wants its gradient


def adam_in(dtype: Any) -> Callable[..., tuple[Any, Any]]:
    """Adam computed in ``dtype`` (constants from float64, as torch does), returning float64."""

    def step(
        params: Any, grad: Any, state: Any, *, lr: float, beta1: float, beta2: float, eps: float, **_: Any
    ) -> tuple[Any, Any]:
        f = np.dtype(dtype).type
        p, g = np.asarray(params, dtype=dtype), np.asarray(grad, dtype=dtype)
        m, v, t = state if state is not None else (np.zeros_like(p), np.zeros_like(p), 0)
        t += 1
        m = f(beta1) * m + f(1 - beta1) * g
        v = f(beta2) * v + f(1 - beta2) * g * g
        mhat, vhat = m / f(1 - beta1**t), v / f(1 - beta2**t)
        return np.asarray(p - f(lr) * mhat / (np.sqrt(vhat) + f(eps)), dtype=np.float64), (m, v, t)

    return step


# ... and planted bugs


def _adam(
    params: Any, grad: Any, m: Any, v: Any, p1: float, p2: float, lr: float, b1: float, b2: float, eps: float
) -> tuple[Any, Any, Any]:
    m = b1 * m + (1 - b1) * grad
    v = b2 * v + (1 - b2) * grad * grad
    return params - lr * (m / (1 - p1)) / (np.sqrt(v / (1 - p2)) + eps), m, v


def adam_reset_at_50(
    params: Any, grad: Any, state: Any, *, lr: float, beta1: float, beta2: float, eps: float, **_: Any
) -> tuple[Any, Any]:
    m, v, t = state if state is not None else (0 * params, 0 * params, 0)
    t += 1
    if t == 50:  # BUG: the optimizer state is re-created at step 50
        m, v, t = 0 * params, 0 * params, 1
    new, m, v = _adam(params, grad, m, v, beta1**t, beta2**t, lr, beta1, beta2, eps)
    return new, (m, v, t)


def adam_float32_powers_after_100(
    params: Any, grad: Any, state: Any, *, lr: float, beta1: float, beta2: float, eps: float, **_: Any
) -> tuple[Any, Any]:
    m, v, t, p1, p2 = state if state is not None else (0 * params, 0 * params, 0, 1.0, 1.0)
    t += 1
    if t <= 100:
        p1, p2 = beta1**t, beta2**t
    else:  # BUG: from step 101 the beta powers are accumulated in float32 by repeated multiplication
        p1 = float(np.float32(p1) * np.float32(beta1))
        p2 = float(np.float32(p2) * np.float32(beta2))
    new, m, v = _adam(params, grad, m, v, p1, p2, lr, beta1, beta2, eps)
    return new, (m, v, t, p1, p2)


def adam_eps_inside(
    params: Any, grad: Any, state: Any, *, lr: float, beta1: float, beta2: float, eps: float, **_: Any
) -> tuple[Any, Any]:
    m, v, t = state if state is not None else (0 * params, 0 * params, 0)
    t += 1
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad * grad
    return params - lr * (m / (1 - beta1**t)) / np.sqrt(v / (1 - beta2**t) + eps), (m, v, t)  # BUG


def adagrad_optax_like(
    params: Any, grad: Any, state: Any, *, lr: float, eps: float, **_: Any
) -> tuple[Any, Any]:
    s = state if state is not None else np.full_like(params, 0.1)  # optax's initial accumulator
    s = s + grad * grad
    return params - lr * grad / np.sqrt(s + eps), s  # and optax's eps inside the sqrt


def keras_adamw(
    params: Any,
    grad: Any,
    state: Any,
    *,
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
    weight_decay: float,
    **_: Any,
) -> tuple[Any, Any]:
    """Keras 3's AdamW from its documented formula: decay first, then Keras's Adam, whose eps meets
    the uncorrected sqrt(v) (epsilon-hat)."""
    m, v, t = state if state is not None else (0 * params, 0 * params, 0)
    t += 1
    params = params - params * weight_decay * lr
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad * grad
    alpha = lr * np.sqrt(1 - beta2**t) / (1 - beta1**t)
    return params - alpha * m / (np.sqrt(v) + eps), (m, v, t)


# ---------------------------------------------------------------------------------------------
# The done-means sweep: seeds 0-19, every stream, both modes, default settings: zero failures


SWEEP: dict[str, Callable[[], Any]] = {
    "self, adam, one ulp apart": lambda: ReferencePeer(ReferenceSpec("adam", {"lr": 1e-2}), offset_ulps=1),
    "self, rmsprop(alpha=0.9), one ulp apart": lambda: ReferencePeer(
        ReferenceSpec("rmsprop", {"lr": 1e-2, "alpha": 0.9}), offset_ulps=1
    ),
    "self, nesterov look-ahead, one ulp apart": lambda: ReferencePeer(
        ReferenceSpec("nesterov", {"lr": 0.05, "beta": 0.9}), offset_ulps=1
    ),
    "look-ahead Nesterov function": lambda: FunctionPeer(nesterov_lookahead, "nesterov", lr=0.05, beta=0.9),
    "Sutskever Nesterov function": lambda: FunctionPeer(nesterov_sutskever, "nesterov", lr=0.05, beta=0.9),
    "float32 Adam function at float32": lambda: FunctionPeer(
        adam_in(np.float32), "adam", dtype="float32", lr=1e-2
    ),
}


@pytest.mark.parametrize("name", list(SWEEP))
def test_sweep_no_false_alarm(name: str) -> None:
    runs, fails, worst = 0, [], 0.0
    for seed in SEEDS:
        report = conform(SWEEP[name](), seed=seed, diagnose=False)
        assert len(report.comparisons) == 2 * len(STREAMS) + 1
        runs += len(report.comparisons)
        worst = max(worst, report.worst.worst_ratio)
        fails += [(seed, c.mode, c.stream, c.first_fail) for c in report.failures]
    assert runs == 20 * 15 and not fails, (name, fails)
    assert worst < 0.25, worst  # the figure in specs/conformance.md: no correct peer comes near the bound


@pytest.mark.parametrize("framework", ["torch", "optax"])
def test_sweep_framework_peers_no_false_alarm(framework: str) -> None:
    # torch RMSprop(alpha=0.9) and optax.rmsprop at its defaults (lr 0.01): 4-5 of 20 seeds failed
    # the old closed loop. Every stream, both modes, default settings on all 20 seeds; the long run
    # (1000 steps, identical in kind to the open loop) on seed 0 only, to keep the test in seconds.
    if framework == "torch":
        pytest.importorskip(
            "torch", reason="torch is not installed: pip install -e '.[test,peers]' runs these tests"
        )
        adapter = pytest.importorskip("reference.conform.torch_adapter")
        make: Callable[[], Any] = lambda: adapter.torch_peer("RMSprop", [(3, 4), (5,)], lr=0.01, alpha=0.9)  # noqa: E731
    else:
        pytest.importorskip(
            "optax", reason="optax is not installed: pip install -e '.[test,peers]' runs these tests"
        )
        adapter = pytest.importorskip("reference.conform.optax_adapter")
        make = lambda: adapter.optax_peer("rmsprop", [(3, 4), (5,)], learning_rate=0.01)  # noqa: E731
    fails, runs, trajectory_over = [], 0, 0
    for seed in SEEDS:
        report = conform(make(), seed=seed, diagnose=False, long_steps=LONG_STEPS if seed == 0 else 0)
        runs += len(report.comparisons)
        fails += [(seed, c.mode, c.stream, c.first_fail) for c in report.failures]
        trajectory_over += sum((c.trajectory_ratio or 0) > 1 for c in report.comparisons)
    assert runs == 20 * 14 + 1 and not fails, fails
    # the report-only trajectory reading does separate on some runs: the old false alarms
    assert trajectory_over > 0


@pytest.mark.parametrize(
    "algo, hp",
    [
        ("adagrad", {"lr": 0.1}),
        ("momentum", {"lr": 0.05}),
        ("lion", {"lr": 1e-3}),
        ("signsgd", {"lr": 1e-2, "momentum": 0.9}),
        ("adadelta", {"lr": 1.0}),
        ("adamw", {"lr": 1e-2, "weight_decay": 0.1}),
    ],
)
def test_reference_one_ulp_apart_passes_other_algorithms(algo: str, hp: dict[str, Any]) -> None:
    for seed in range(5):
        report = conform(ReferencePeer(ReferenceSpec(algo, hp), offset_ulps=1), seed=seed, diagnose=False)
        assert report.passed, report.table()
        assert report.worst.max_abs > 0  # really started apart


# ---------------------------------------------------------------------------------------------
# Planted bugs fail at the defaults; late ones only because the default run is long


@pytest.mark.parametrize("fn, first", [(adam_reset_at_50, 50), (adam_float32_powers_after_100, 101)])
def test_late_bugs_fail_at_the_defaults(fn: Callable[..., Any], first: int) -> None:
    short = conform(FunctionPeer(fn, "adam", lr=1e-3), long_steps=0, diagnose=False)
    assert short.passed  # invisible to 40 steps
    report = conform(FunctionPeer(fn, "adam", lr=1e-3))
    assert not report.passed
    assert [(c.mode, c.first_fail) for c in report.failures] == [("long", first)]
    assert report.diagnosis is not None and not report.diagnosis.matched  # not a documented variant
    assert report.diagnosis.summary().startswith("no documented variant of adam matches")


def test_wrong_eps_placement_fails_and_is_named() -> None:
    report = conform(FunctionPeer(adam_eps_inside, "adam", lr=1e-2, eps=1e-4))
    assert not report.passed and min(c.first_fail or 99 for c in report.failures) == 1
    assert report.diagnosis is not None
    s = report.diagnosis.summary()
    assert s.startswith("matches adam with eps inside the sqrt"), s
    assert "keywords that differ from the claim: eps: 0.0001 -> 0.0, eps_root: 0.0 -> 0.0001" in s


def test_combined_variants_are_diagnosed_with_their_keywords() -> None:
    # eps placement x initial accumulator: optax's Adagrad claimed as torch's
    report = conform(FunctionPeer(adagrad_optax_like, "adagrad", lr=0.1, eps=1e-7), long_steps=0)
    assert not report.passed and report.diagnosis is not None
    best = report.diagnosis.matches[0]
    assert best.changes == {"eps_placement": ("outside", "inside"), "initial_accumulator_value": (0.0, 0.1)}
    assert "eps inside the sqrt" in best.description and "initial accumulator 0.1" in best.description


@pytest.mark.parametrize(
    "claim, changes",
    [
        ("adamw", {"epsilon_hat": (False, True)}),
        (
            "adam",
            {"algorithm": ("adam", "adamw"), "decay_scaling": (None, "lr"), "epsilon_hat": (False, True)},
        ),
    ],
)
def test_keras_adamw_is_epsilon_hat_times_decoupled_decay(claim: str, changes: dict[str, Any]) -> None:
    report = conform(FunctionPeer(keras_adamw, claim, lr=1e-2, eps=1e-7, weight_decay=0.1), long_steps=0)
    assert not report.passed and report.diagnosis is not None and report.diagnosis.matched, report.table()
    best = report.diagnosis.matches[0]
    assert best.spec.algorithm == "adamw" and best.spec.hyperparams["epsilon_hat"] is True
    assert best.changes == changes, best.changes


# ---------------------------------------------------------------------------------------------
# Query points


def test_lookahead_without_its_query_is_told_so_without_contradiction() -> None:
    # The look-ahead update with the gradient taken at the iterate is heavy-ball momentum: that is
    # what the diagnosis says, and that the claim's update matches when the query is returned.
    report = conform(
        FunctionPeer(nesterov_lookahead_without_query, "nesterov", lr=0.05, beta=0.9), long_steps=0
    )
    assert not report.passed
    assert all(c.mode == "closed" or c.query_fail for c in report.failures)
    d = report.diagnosis
    assert d is not None and d.query_only is not None and d.matched
    s = d.summary()
    assert s.startswith("matches nesterov with plain heavy-ball momentum"), s
    assert (
        "the claim's update also matches the peer's iterates" in s and "return (params, state, query)" in s
    ), s
    assert "'sutskever'" not in s  # the same recursion as the claim is never offered as the difference


def test_variants_equivalent_to_the_claim_are_not_matches() -> None:
    # Diagnosing a conforming look-ahead function: the Sutskever form reproduces the claim's own
    # runs, so it is listed as equivalent, not as a variant the peer computes instead.
    report = conform(FunctionPeer(nesterov_lookahead, "nesterov", lr=0.05, beta=0.9), long_steps=0)
    assert report.passed
    d = diagnose(report, pairs=False)
    assert not d.matched and d.query_only is None
    assert [c.spec.hyperparams["form"] for c in d.equivalent] == ["sutskever"]


def test_reference_peer_reports_its_query() -> None:
    peer = ReferencePeer(ReferenceSpec("nesterov", {"lr": 0.1, "beta": 0.5}))
    peer.start(np.zeros(2))
    x = peer.step(np.ones(2))
    np.testing.assert_allclose(peer.query(), x + 0.5 * (x - 0.0), rtol=0, atol=0)


# ---------------------------------------------------------------------------------------------
# Honest precision


def test_float32_function_is_compared_at_float32_whatever_it_returns() -> None:
    report = conform(
        FunctionPeer(adam_in(np.float32), "adam", dtype="float32", lr=1e-2), n_steps=25, long_steps=200
    )
    assert report.tolerance.dtype == "float32" and report.passed
    assert report.worst.max_abs > 1e-9  # really float32: the float64 bound would have failed
    # undeclared, the same function returns float64 and is held to float64: a mismatch
    report64 = conform(
        FunctionPeer(adam_in(np.float32), "adam", lr=1e-2), n_steps=25, long_steps=0, diagnose=False
    )
    assert report64.tolerance.dtype == "float64" and not report64.passed


def test_float16_and_bfloat16_functions() -> None:
    pytest.importorskip(
        "ml_dtypes",
        reason="ml_dtypes is not installed (bfloat16): pip install -e '.[test,peers]' runs these tests",
    )
    f16 = conform(
        FunctionPeer(adam_in(np.float16), "adam", dtype="float16", lr=1e-2, eps=1e-3), long_steps=200
    )
    assert f16.passed and f16.tolerance.dtype == "float16", f16.table()
    skipped = sorted(s.split(":")[0] for s in f16.skipped)
    assert {"closed/large", "closed/small", "open/large", "open/small"} <= set(skipped), skipped
    assert len(f16.comparisons) + len(skipped) == 2 * len(STREAMS) + 1
    bf16 = as_float_dtype("bfloat16")
    report = conform(
        FunctionPeer(adam_in(bf16), "adam", dtype="bfloat16", lr=1e-2, beta2=0.99), long_steps=200
    )
    assert report.passed and report.tolerance.dtype == "bfloat16" and not report.skipped, report.table()
    with pytest.raises(NotComparable, match=r"beta2=0.999 rounds to 1 in bfloat16"):
        conform(FunctionPeer(adam_in(bf16), "adam", dtype="bfloat16", lr=1e-2))
    with pytest.raises(NotComparable, match=r"eps=1e-08 rounds to 0 in float16"):
        conform(FunctionPeer(adam_in(np.float16), "adam", dtype="float16", lr=1e-2))


def test_precision_helpers() -> None:
    assert precision_issues({"eps": 1e-8, "beta2": 0.999, "amsgrad": True}, np.dtype(np.float32)) == []
    assert stream_issue("large", np.dtype(np.float32), 40, 7, 0) is None
    assert "overflows float16" in (stream_issue("large", np.dtype(np.float16), 40, 7, 0) or "")
    with pytest.raises(ValueError, match="dtype must be one of"):
        FunctionPeer(adam_in(np.float32), "adam", dtype="int8")


# ---------------------------------------------------------------------------------------------
# Errors are never verdicts


def _raises(params: Any, grad: Any, state: Any, **_: Any) -> Any:
    if state == 3:
        raise KeyError("momentum_buffer")
    return params - 0.1 * grad, (state or 0) + 1


@pytest.mark.parametrize(
    "fn, message",
    [
        (_raises, r"step 4 raised KeyError: 'momentum_buffer'"),
        (lambda p, g, s, **_: (p[:-1], s), r"returned params of shape \(6,\), expected \(7,\)"),
        (
            lambda p, g, s, **_: (np.arange(p.size), s),
            r"returned params of dtype int64; expected a float dtype",
        ),
        (lambda p, g, s, **_: (p / 0.0, s), r"non-finite params or query at step 1"),
        (lambda p, g, s, **_: p - 0.1 * g, r"must return \(new_params, new_state\)"),
        (lambda p, g, s, **_: ("abc", s), r"returned params of dtype <U3"),
    ],
)
def test_peer_failures_are_peer_failed(fn: Callable[..., Any], message: str) -> None:
    with pytest.raises(PeerFailed, match=message) as info:
        conform(FunctionPeer(fn, "sgd", lr=0.1))
    assert "\n" not in str(info.value) and info.value.cause


def test_a_torch_tensor_that_needs_detach_is_read() -> None:
    torch = pytest.importorskip(
        "torch", reason="torch is not installed: pip install -e '.[test,peers]' runs these tests"
    )

    def step(params: Any, grad: Any, state: Any, *, lr: float, **_: Any) -> tuple[Any, Any]:
        w = torch.tensor(params, requires_grad=True)
        return w - lr * torch.tensor(grad), state

    assert conform(FunctionPeer(step, "sgd", lr=0.1), n_steps=10, long_steps=50).passed


def test_a_mismatch_before_a_nan_is_a_mismatch() -> None:
    def sgd_then_nan(params: Any, grad: Any, state: Any, *, lr: float, **_: Any) -> tuple[Any, Any]:
        t = (state or 0) + 1
        new = params - 2 * lr * grad  # BUG: twice the step
        return (new if t < 5 else new * np.nan), t

    report = conform(FunctionPeer(sgd_then_nan, "sgd", lr=0.1), diagnose=False)
    assert not report.passed and all((c.first_fail or 99) < 5 for c in report.failures)
    assert len(report.failures) == len(report.comparisons)

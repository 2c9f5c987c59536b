"""Conformance core: streams, tolerance model, runs, broken peers detected and diagnosed, testing API."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import reference as ref
from reference.conform import (
    LONG_STEPS,
    STREAMS,
    FunctionPeer,
    NotComparable,
    PeerFailed,
    ReferencePeer,
    ReferenceSpec,
    Tolerance,
    closed_loop,
    conform,
    initial_point,
    least_squares,
    machine_eps,
    open_loop,
)
from reference.conform.peers import as_float_dtype
from reference.conform.variants import candidate_specs, diagnose, full_hyperparams, knobs
from reference.testing import assert_conforms

# ---------------------------------------------------------------------------------------------
# Deliberately broken (and correct) implementations, in the FunctionPeer calling convention.


def adam_step(
    params: Any, grad: Any, state: Any, *, lr: float, beta1: float, beta2: float, eps: float, **_: Any
) -> tuple[Any, Any]:
    m, v, t = state if state is not None else (0.0 * params, 0.0 * params, 0)
    t += 1
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad * grad
    mhat, vhat = m / (1 - beta1**t), v / (1 - beta2**t)
    return params - lr * mhat / (np.sqrt(vhat) + eps), (m, v, t)


def adam_eps_inside(
    params: Any, grad: Any, state: Any, *, lr: float, beta1: float, beta2: float, eps: float, **_: Any
) -> tuple[Any, Any]:
    m, v, t = state if state is not None else (0.0 * params, 0.0 * params, 0)
    t += 1
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad * grad
    mhat, vhat = m / (1 - beta1**t), v / (1 - beta2**t)
    return params - lr * mhat / np.sqrt(vhat + eps), (m, v, t)  # BUG: eps moved inside the sqrt


def adam_no_bias_correction(
    params: Any, grad: Any, state: Any, *, lr: float, beta1: float, beta2: float, eps: float, **_: Any
) -> tuple[Any, Any]:
    m, v = state if state is not None else (0.0 * params, 0.0 * params)
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad * grad
    return params - lr * m / (np.sqrt(v) + eps), (m, v)  # BUG: no 1 - beta^t


def momentum_ema_instead_of_polyak(
    params: Any, grad: Any, state: Any, *, lr: float, beta: float, **_: Any
) -> tuple[Any, Any]:
    v = state if state is not None else 0.0 * params
    v = beta * v + (1 - beta) * grad  # BUG: EMA form where heavy ball v = beta v + g was claimed
    return params - lr * v, v


def momentum_sutskever(
    params: Any, grad: Any, state: Any, *, lr: Any, beta: float, **_: Any
) -> tuple[Any, Any]:
    v, t = state if state is not None else (0.0 * params, 0)
    eta = lr(t) if callable(lr) else lr
    v = beta * v + eta * grad  # BUG: lr inside the buffer
    return params - v, (v, t + 1)


def momentum_torch_first_step(
    params: Any, grad: Any, state: Any, *, lr: float, beta: float, dampening: float, **_: Any
) -> tuple[Any, Any]:
    v = grad.copy() if state is None else beta * state + (1 - dampening) * grad  # no dampening at step 1
    return params - lr * v, v


def adam_float32(
    params: Any, grad: Any, state: Any, *, lr: float, beta1: float, beta2: float, eps: float, **_: Any
) -> tuple[Any, Any]:
    f = np.float32
    p = np.asarray(params, dtype=f)
    g = np.asarray(grad, dtype=f)
    m, v, t = state if state is not None else (np.zeros_like(p), np.zeros_like(p), 0)
    t += 1
    m = f(beta1) * m + f(1 - beta1) * g
    v = f(beta2) * v + f(1 - beta2) * g * g
    mhat, vhat = m / f(1 - beta1**t), v / f(1 - beta2**t)
    return p - f(lr) * mhat / (np.sqrt(vhat) + f(eps)), (m, v, t)


FAST: dict[str, Any] = dict(n_steps=25, dim=6)


# ---------------------------------------------------------------------------------------------
# Streams


@pytest.mark.parametrize("name", STREAMS)
def test_streams_are_deterministic_shaped_and_finite(name: str) -> None:
    a, b = open_loop(name, 3, 20, 5), open_loop(name, 3, 20, 5)
    assert a.shape == (20, 5) and np.all(np.isfinite(a))
    assert_array_equal(a, b)
    assert not np.array_equal(a, open_loop(name, 4, 20, 5))
    gain, noise = closed_loop(name, 3, 20, 5)
    assert gain.shape == noise.shape == (20, 5)


def test_stream_characters() -> None:
    n, p = 300, 10
    sparse = open_loop("sparse", 0, n, p)
    assert 0.05 < np.mean(sparse != 0) < 0.15
    zero = open_loop("zero_steps", 0, n, p)
    assert np.all(zero[0::3] == 0) and np.all(zero[1::3] != 0)
    flip = open_loop("sign_flip", 0, n, p)
    assert_array_equal(flip[1], -flip[0])
    assert_array_equal(flip[2], flip[0])
    assert 1e5 < np.median(np.abs(open_loop("large", 0, n, p))) < 1e7
    assert 1e-7 < np.median(np.abs(open_loop("small", 0, n, p))) < 1e-5
    heavy = open_loop("heavy_tailed", 0, n, p)
    assert np.max(np.abs(heavy)) > 20 * np.median(np.abs(heavy))  # tails far beyond a normal's
    gain, _ = closed_loop("sign_flip", 0, 4, 2)
    assert_array_equal(gain[:, 0], [1, -1, 1, -1])
    gain, _ = closed_loop("small", 0, 2, 2)
    assert np.all(gain == 1e-6)


def test_stream_bad_input() -> None:
    with pytest.raises(ValueError, match="stream must be one of"):
        open_loop("cauchy", 0, 3, 2)
    with pytest.raises(ValueError, match="n .* must be an integer >= 1"):
        open_loop("normal", 0, 0, 2)
    with pytest.raises(ValueError, match="dim must be an integer >= 1"):
        closed_loop("normal", 0, 3, 0)
    with pytest.raises(ValueError, match="dim must be an integer >= 1"):
        initial_point(0, -1)
    # A count of the wrong kind is a TypeError (reference._core.check_count), bools included.
    with pytest.raises(TypeError, match=r"^n \(number of steps\) must be an integer >= 1, got 2.5$"):
        open_loop("normal", 0, 2.5, 2)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="^dim must be an integer >= 1, got True$"):
        closed_loop("normal", 0, 3, True)
    with pytest.raises(TypeError, match="^dim must be an integer >= 1, got '3'$"):
        least_squares("3")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="^dim must be an integer >= 1, got 0$"):
        least_squares(0)


# ---------------------------------------------------------------------------------------------
# Tolerance model


def test_tolerance_formula() -> None:
    # C = (3 + k)(1 + eps_ref / eps_peer), k = 17 rounded operations (specs/conformance.md)
    tol = Tolerance.for_dtype(np.float64)
    assert tol.eps == 2.0**-52 and tol.per_step == 2 * (3 + 17)
    its = np.array([[1.0, -2.0], [3.0, 0.0], [0.5, 0.5], [-4.0, 1.0]])
    assert_array_equal(tol.scale(its), [3.0, 3.0, 4.0])
    assert_allclose(tol.bounds(its), 40 * 2.0**-52 * np.array([1 * 3.0, 2 * 3.0, 3 * 4.0]), rtol=0)
    queries = np.array([[1.0, -2.0], [1.0, 0.0], [0.5, 5.0], [-4.0, 1.0]])  # (T2): S_t covers the queries
    assert_array_equal(tol.scale(its, queries), [3.0, 5.0, 5.0])
    f32 = Tolerance.for_dtype("float32")
    assert f32.eps == 2.0**-23 and f32.per_step == 20 * (1 + 2.0**-29)
    assert Tolerance.for_dtype("float16").eps == 2.0**-10
    pytest.importorskip(
        "ml_dtypes",
        reason="ml_dtypes is not installed (bfloat16): pip install -e '.[test,peers]' runs these tests",
    )
    assert Tolerance.for_dtype(as_float_dtype("bfloat16")).eps == 2.0**-7
    with pytest.raises(ValueError, match="floating-point dtype"):
        machine_eps(np.int32)


def test_least_squares_is_one_smooth_and_quarter_convex() -> None:
    prob = least_squares(5, 0)
    hess = np.array([prob.grad(e) - prob.grad(np.zeros(5)) for e in np.eye(5)])
    assert_allclose(np.linalg.eigvalsh(hess), [0.25, 0.390625, 0.5625, 0.765625, 1.0], rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# The reference against itself and against correct user functions


def test_reference_conforms_to_itself_exactly() -> None:
    report = conform(ReferencePeer(ReferenceSpec("adam", {"lr": 1e-2})), **FAST)
    assert report.passed and len(report.comparisons) == 2 * len(STREAMS) + 1  # + the long run
    assert report.comparisons[-1].mode == "long" and report.comparisons[-1].n == LONG_STEPS
    assert all(c.max_abs == 0.0 for c in report.comparisons)
    assert report.diagnosis is None


def test_correct_function_peer_conforms_in_both_modes() -> None:
    report = conform(FunctionPeer(adam_step, "adam", lr=1e-2), **FAST)
    assert report.passed, report.table()


def test_float32_function_is_held_to_float32_tolerance() -> None:
    report = conform(FunctionPeer(adam_float32, "adam", lr=1e-2), **FAST)
    assert report.tolerance.dtype == "float32"
    assert report.passed, report.table()
    assert report.worst.max_abs > 1e-9  # really computed in float32: a float64 bound would fail
    assert (
        report.worst.max_abs > Tolerance.for_dtype(np.float64).bounds(report.worst.reference.iterates).max()
    )


# ---------------------------------------------------------------------------------------------
# Broken peers: detected (first step) and diagnosed (the documented variant they compute)


@pytest.mark.parametrize(
    "fn, algo, hp, expect_key, expect_text",
    [
        (
            adam_eps_inside,
            "adam",
            {"lr": 1e-2, "eps": 1e-4},
            {"eps": 0.0, "eps_root": 1e-4},
            "eps inside the sqrt",
        ),
        (adam_no_bias_correction, "adam", {"lr": 1e-2}, {"bias_correction": False}, "no bias correction"),
        (
            momentum_ema_instead_of_polyak,
            "momentum",
            {"lr": 0.05, "beta": 0.9},
            {"form": "ema"},
            "momentum form 'ema'",
        ),
        (
            momentum_torch_first_step,
            "momentum",
            {"lr": 0.05, "beta": 0.9, "dampening": 0.5},
            {"first_step": "grad"},
            "first step v_1 = g",
        ),
    ],
)
def test_broken_peer_is_detected_and_diagnosed(
    fn: Any, algo: str, hp: dict[str, Any], expect_key: dict[str, Any], expect_text: str
) -> None:
    report = conform(FunctionPeer(fn, algo, **hp), **FAST)
    assert not report.passed
    assert min(c.first_fail or 99 for c in report.failures) <= 2  # visible from the first steps
    d = report.diagnosis
    assert d is not None and d.matched, d.summary() if d else None
    best = d.matches[0]
    for k, v in expect_key.items():
        assert best.spec.hyperparams[k] == v, (k, best.spec.describe())
    summary = d.summary()
    assert summary.startswith(f"matches {algo} with {expect_text}"), summary
    assert "differs from the claim from step" in summary
    assert (
        "keywords that differ from the claim: "
        + ", ".join(f"{k}: {full_hyperparams(report.spec)[k]!r} -> {v!r}" for k, v in expect_key.items())
        in summary
    )


def test_lr_inside_the_buffer_shows_only_under_a_schedule() -> None:
    # Sutskever's v = beta v + lr g, theta -= v equals heavy ball theta -= lr v at constant lr
    # (docs/conventions.md, "Momentum"): no mismatch there; under a decaying schedule it is diagnosed.
    assert conform(FunctionPeer(momentum_sutskever, "momentum", lr=0.05, beta=0.9), **FAST).passed
    sched = ref.schedules.robbins_monro(0.5, t0=10.0, a=1.0)
    report = conform(FunctionPeer(momentum_sutskever, "momentum", lr=sched, beta=0.9), **FAST)
    assert not report.passed and report.diagnosis is not None
    assert report.diagnosis.summary().startswith("matches momentum with momentum form 'sutskever'"), (
        report.diagnosis.summary()
    )


def test_diagnosis_says_so_when_nothing_matches() -> None:
    def adam_wrong_beta(params: Any, grad: Any, state: Any, **hp: Any) -> tuple[Any, Any]:
        return adam_step(params, grad, state, **{**hp, "beta1": 0.8})  # not a documented variant

    report = conform(FunctionPeer(adam_wrong_beta, "adam", lr=1e-2), **FAST)
    assert not report.passed
    assert report.diagnosis is not None and not report.diagnosis.matched
    assert report.diagnosis.summary().startswith("no documented variant of adam matches")
    assert report.diagnosis.nearest is not None and report.diagnosis.nearest.worst_ratio > 1


def test_explicit_reference_is_what_the_diagnosis_searches_around() -> None:
    # The peer is correct Adam; the user claims it computes eps-inside Adam: the diagnosis says
    # which variant of the claimed reference it does match.
    peer = FunctionPeer(adam_step, "adam", lr=1e-2, eps=1e-4)
    report = conform(peer, reference=ref.adam(1e-2, eps=0.0, eps_root=1e-4), **FAST)
    assert not report.passed and report.diagnosis is not None
    assert report.diagnosis.matched
    assert "eps outside the sqrt" in report.diagnosis.summary()


def test_knobs_cover_documented_keywords_of_registered_algorithms() -> None:
    for algo in ("adam", "momentum", "nesterov", "adagrad", "rmsprop", "adadelta", "adamw"):
        if algo not in ref.ALGORITHMS:
            continue
        usable, missing = knobs(algo)
        assert usable and not missing, (algo, missing)
    texts = [t for _, t, _ in candidate_specs(ReferenceSpec("adam", {"lr": 1e-3}))]
    assert any("eps inside the sqrt" in t for t in texts)
    assert any("AMSGrad" in t for t in texts)
    assert any("epsilon-hat" in t for t in texts)


def test_diagnose_directly_on_a_report() -> None:
    report = conform(FunctionPeer(adam_no_bias_correction, "adam", lr=1e-2), diagnose=False, **FAST)
    assert report.diagnosis is None and not report.passed
    d = diagnose(report, pairs=False)
    assert d.matched and d.matches[0].spec.hyperparams["bias_correction"] is False


# ---------------------------------------------------------------------------------------------
# FunctionPeer calling convention and bad input


def test_function_peer_refuses_keywords_it_cannot_honour() -> None:
    with pytest.raises(NotComparable, match="does not take the keyword 'amsgrad'"):
        FunctionPeer(_adam_fixed, "adam", amsgrad=True)
    with pytest.raises(ValueError, match="unknown hyperparameters"):
        FunctionPeer(adam_step, "adam", momentum=0.9)
    with pytest.raises(ValueError, match="beta1 must be in"):
        FunctionPeer(adam_step, "adam", beta1=1.5)
    with pytest.raises(ValueError, match="unknown algorithm"):
        FunctionPeer(adam_step, "adamm")


def _adam_fixed(params: Any, grad: Any, state: Any, lr: float, beta1: float, beta2: float, eps: float) -> Any:
    return adam_step(params, grad, state, lr=lr, beta1=beta1, beta2=beta2, eps=eps)


def test_function_peer_checks_its_return_value() -> None:
    peer = FunctionPeer(lambda p, g, s, **hp: p - g, "sgd", lr=0.1)
    peer.start(np.zeros(3))
    with pytest.raises(
        PeerFailed,
        match="must return \\(new_params, new_state\\) or \\(new_params, new_state, query\\), got ndarray",
    ):
        peer.step(np.ones(3))
    peer = FunctionPeer(lambda p, g, s, **hp: (p[:2], s), "sgd", lr=0.1)
    peer.start(np.zeros(3))
    with pytest.raises(PeerFailed, match="returned params of shape"):
        peer.step(np.ones(3))


def test_conform_bad_arguments() -> None:
    peer = ReferencePeer(ReferenceSpec("sgd", {"lr": 0.1}))
    with pytest.raises(ValueError, match="^n_steps must be an integer >= 1, got 0$"):
        conform(peer, n_steps=0)
    with pytest.raises(TypeError, match="^n_steps must be an integer >= 1, got 3.0$"):
        conform(peer, n_steps=3.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="^long_steps must be an integer >= 0, got -1$"):
        conform(peer, long_steps=-1)
    with pytest.raises(TypeError, match="^long_steps must be an integer >= 0, got False$"):
        conform(peer, long_steps=False)
    with pytest.raises(ValueError, match="^offset_ulps must be an integer >= 0, got -2$"):
        ReferencePeer(ReferenceSpec("sgd", {"lr": 0.1}), offset_ulps=-2)
    with pytest.raises(TypeError, match="^offset_ulps must be an integer >= 0, got 0.5$"):
        ReferencePeer(ReferenceSpec("sgd", {"lr": 0.1}), offset_ulps=0.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="streams: 'gauss'"):
        conform(peer, streams=["gauss"])
    with pytest.raises(ValueError, match="modes: 'half'"):
        conform(peer, modes=["half"])
    with pytest.raises(NotComparable, match="not registered"):
        ReferenceSpec("adamx", {})


def test_report_records_the_versions_it_was_measured_with() -> None:
    import json
    import platform

    from reference.conform.peers import package_version, peer_versions

    report = conform(FunctionPeer(adam_step, "adam", lr=1e-3), streams=["normal"], long_steps=0, **FAST)
    base = {"python": platform.python_version(), "numpy": np.__version__, "optim-reference": ref.__version__}
    assert report.versions == base
    assert f"versions:  python {platform.python_version()}, numpy {np.__version__}" in report.table()
    data = json.loads(json.dumps(report.to_dict(), allow_nan=False))  # JSON as written by --json
    assert data["versions"] == base and data["verdict"] == "CONFORMS" and data["settings"]["long_steps"] == 0
    assert f"| versions | python {platform.python_version()}" in report.markdown()

    # a function from a package with a version records that package too
    def step_of_a_package(params: Any, grad: Any, state: Any, *, lr: float) -> tuple[Any, Any]:
        return params - lr * grad, None

    step_of_a_package.__module__ = "pytest.userplugin"
    assert peer_versions(FunctionPeer(step_of_a_package, "sgd", lr=0.1)) == {
        **base,
        "pytest": pytest.__version__,
    }
    assert package_version("no_such_package_xyz") == "unknown"


def test_closed_loop_feeds_the_peers_gradient_to_both_sides() -> None:
    # The closed-loop gradient is taken at the peer's own iterate (its query point) and fed to the
    # reference too; the reference's independent closed loop is the report-only trajectory.
    report = conform(
        FunctionPeer(momentum_ema_instead_of_polyak, "momentum", lr=0.05, beta=0.9),
        modes=["closed"],
        streams=["normal"],
        diagnose=False,
        long_steps=0,
        **FAST,
    )
    c = report.comparisons[0]
    prob = least_squares(6, 0)
    gain, noise = closed_loop("normal", 0, 25, 6)
    assert_allclose(c.peer.grads[3], gain[3] * prob.grad(c.peer.iterates[3]) + noise[3], rtol=1e-13)
    assert_array_equal(c.reference.grads, c.peer.grads)
    assert c.trajectory is not None
    assert_allclose(
        c.trajectory.grads[3], gain[3] * prob.grad(c.trajectory.iterates[3]) + noise[3], rtol=1e-13
    )
    assert not np.allclose(c.peer.grads[3], c.trajectory.grads[3])  # the buggy peer went elsewhere
    assert c.trajectory_ratio is not None and c.trajectory_ratio > 1


# ---------------------------------------------------------------------------------------------
# reference.testing


def test_assert_conforms_passes_and_returns_the_report() -> None:
    report = assert_conforms(adam_step, ref.adam(lr=1e-2), n_steps=15, dim=4)
    assert report.passed


def test_assert_conforms_raises_with_table_and_diagnosis() -> None:
    with pytest.raises(AssertionError) as info:
        assert_conforms(
            adam_eps_inside,
            "adam",
            hyperparams={"lr": 1e-2, "eps": 1e-4},
            n_steps=15,
            dim=4,
            err_msg="my adam",
        )
    text = str(info.value)
    assert text.startswith("my adam") and "MISMATCH" in text
    assert "diagnosis: matches adam with eps inside the sqrt" in text


def test_assert_conforms_bad_input() -> None:
    with pytest.raises(TypeError, match="desired must be"):
        assert_conforms(adam_step, 3.0)
    with pytest.raises(TypeError, match="actual must be"):
        assert_conforms(42, "adam")


def lion_betas_swapped(
    params: Any,
    grad: Any,
    state: Any,
    *,
    lr: float,
    beta1: float,
    beta2: float,
    weight_decay: float,
    **_: Any,
) -> tuple[Any, Any]:
    m = state if state is not None else 0.0 * params
    c = beta2 * m + (1 - beta2) * grad  # BUG: beta2 where beta1 belongs (and vice versa below)
    new = params - lr * (np.sign(c) + weight_decay * params)
    return new, beta1 * m + (1 - beta1) * grad


def test_lion_with_swapped_betas_is_diagnosed() -> None:
    if "lion" not in ref.ALGORITHMS:
        pytest.skip("ref.lion is not registered")
    report = conform(FunctionPeer(lion_betas_swapped, "lion", lr=1e-3, weight_decay=0.1), **FAST)
    assert not report.passed and report.diagnosis is not None
    assert report.diagnosis.summary().startswith("matches lion with beta1 and beta2 swapped"), (
        report.diagnosis.summary()
    )

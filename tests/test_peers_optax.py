"""Real optax (0.2.8, jax CPU, float64 enabled) against the reference: every pair, every stream,
both loops. Skipped only when the ``peers`` extra (jax, optax) is not installed."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("jax", reason="jax is not installed: pip install -e '.[test,peers]' runs these tests")
optax = pytest.importorskip(
    "optax", reason="optax is not installed: pip install -e '.[test,peers]' runs these tests"
)

import reference as ref  # noqa: E402
from reference.conform import STREAMS, NotComparable, conform, optax_peer  # noqa: E402

SHAPES = [(3, 4), (5,)]
N = 30

PAIRS: list[tuple[str, dict[str, Any], str]] = [
    ("sgd", {"learning_rate": 0.1}, "sgd"),
    ("sgd", {"learning_rate": 0.05, "momentum": 0.9}, "momentum"),
    ("sgd", {"learning_rate": 0.05, "momentum": 0.9, "nesterov": True}, "nesterov"),
    ("adam", {"learning_rate": 1e-2}, "adam"),
    ("adam", {"learning_rate": 1e-2, "eps_root": 1e-8}, "adam"),
    ("amsgrad", {"learning_rate": 1e-2}, "adam"),
    ("adamw", {"learning_rate": 1e-2, "weight_decay": 0.1}, "adamw"),
    ("lion", {"learning_rate": 1e-3, "weight_decay": 0.1}, "lion"),
    ("rmsprop", {"learning_rate": 1e-2}, "rmsprop"),
    ("rmsprop", {"learning_rate": 1e-2, "eps_in_sqrt": False, "centered": True, "momentum": 0.9}, "rmsprop"),
    ("rmsprop", {"learning_rate": 1e-2, "bias_correction": True, "initial_scale": 1.0}, "rmsprop"),
    ("adagrad", {"learning_rate": 0.1}, "adagrad"),
    ("adagrad", {"learning_rate": 0.1, "initial_accumulator_value": 0.0, "eps": 1e-10}, "adagrad"),
    ("adadelta", {"learning_rate": 1.0, "weight_decay": 0.01}, "adadelta"),
    ("sign_sgd", {"learning_rate": 1e-2}, "signsgd"),
    ("signum", {"learning_rate": 1e-2, "beta": 0.9}, "signsgd"),
]


def _id(pair: tuple[str, dict[str, Any], str]) -> str:
    return pair[0] + "(" + ",".join(f"{k}={v}" for k, v in pair[1].items()) + ")"


@pytest.mark.parametrize("pair", PAIRS, ids=_id)
def test_optax_pair_conforms_float64_all_streams_both_loops(pair: tuple[str, dict[str, Any], str]) -> None:
    name, hp, algo = pair
    if algo not in ref.ALGORITHMS:
        pytest.skip(f"ref.{algo} is not registered yet (optax.{name} cannot be compared)")
    if not hasattr(optax, name):
        pytest.skip(f"optax.{name} does not exist in optax {optax.__version__}")
    peer = optax_peer(name, SHAPES, **hp)
    assert peer.spec.algorithm == algo
    report = conform(peer, n_steps=N)
    assert len(report.comparisons) == 2 * len(STREAMS) + 1  # and the long open-loop run
    assert report.passed, report.table()


@pytest.mark.parametrize("pair", [PAIRS[1], PAIRS[3], PAIRS[6], PAIRS[9], PAIRS[11]], ids=_id)
def test_optax_float32_against_float64_reference(pair: tuple[str, dict[str, Any], str]) -> None:
    name, hp, _ = pair
    report = conform(optax_peer(name, SHAPES, dtype="float32", **hp), n_steps=N)
    assert report.tolerance.dtype == "float32"
    assert report.passed, report.table()
    assert report.worst.max_ulps > 0.1


def test_optax_defaults_are_read_from_optax_itself() -> None:
    peer = optax_peer("optax.adamw", learning_rate=1e-3)
    assert peer.hyperparams["weight_decay"] == 1e-4  # optax's default, not torch's 1e-2
    assert peer.spec.hyperparams["weight_decay"] == 1e-4
    rms = optax_peer("rmsprop", learning_rate=1e-2)
    assert rms.spec.hyperparams["alpha"] == 0.9 and rms.spec.hyperparams["eps_placement"] == "inside"
    ada = optax_peer("adagrad", learning_rate=0.1)
    assert ada.spec.hyperparams["initial_accumulator_value"] == 0.1
    assert ada.spec.hyperparams["eps"] == 1e-7 and ada.spec.hyperparams["eps_placement"] == "inside"


def test_optax_schedule_is_read_at_the_count_before_the_increment() -> None:
    sched = optax.exponential_decay(0.05, transition_steps=1, decay_rate=0.9)
    report = conform(optax_peer("sgd", SHAPES, learning_rate=sched, momentum=0.9), n_steps=20)
    assert report.passed, report.table()


def test_refused_configurations_say_why() -> None:
    with pytest.raises(NotComparable, match="moves uphill"):
        optax_peer("adadelta")
    with pytest.raises(NotComparable, match="NAdam"):
        optax_peer("adam", learning_rate=1e-3, nesterov=True)
    with pytest.raises(NotComparable, match="bias_correction_mu/nu=False"):
        optax_peer("amsgrad", learning_rate=1e-3, bias_correction_nu=False)
    with pytest.raises(ValueError, match="unknown keyword"):
        optax_peer("adam", learning_rate=1e-3, beta1=0.9)
    with pytest.raises(ValueError, match="needs \\['learning_rate'\\]"):
        optax_peer("adam")
    with pytest.raises(ValueError, match="optax has no optimizer 'adamm'"):
        optax_peer("adamm", learning_rate=1e-3)


def test_optax_rmsprop_default_is_diagnosed_against_torch_conventions() -> None:
    # The reference configured as torch's RMSprop (alpha 0.99, eps outside) vs optax.rmsprop's
    # defaults (decay 0.9, eps inside): two conventions at once; the pair search finds both.
    claim = ref.rmsprop(1e-2, alpha=0.99, eps=1e-8, eps_placement="outside")
    report = conform(optax_peer("rmsprop", SHAPES, learning_rate=1e-2), reference=claim, n_steps=N)
    assert not report.passed and report.diagnosis is not None
    s = report.diagnosis.summary()
    assert s.startswith("matches rmsprop with eps inside the sqrt") and "alpha = 0.9" in s, s


def test_optax_amsgrad_is_diagnosed_against_torch_raw_maximum() -> None:
    claim = ref.adam(1e-2, amsgrad=True, amsgrad_max="raw")
    report = conform(optax_peer("amsgrad", SHAPES, learning_rate=1e-2), reference=claim, n_steps=N)
    assert not report.passed and report.diagnosis is not None
    assert "maximum of the bias-corrected v" in report.diagnosis.summary()


def test_optax_adam_closed_loop_on_the_peaks_mlp() -> None:
    from reference.problems import peaks

    shapes = [(32, 2), (32,), (5, 32), (5,)]
    report = conform(
        optax_peer("adam", shapes, learning_rate=1e-2), modes=["closed"], n_steps=20, problem=peaks(seed=0)
    )
    assert report.passed, report.table()

"""Real torch.optim (2.13.0, CPU) against the reference: every pair, every stream, both loops.

Skipped only when the ``peers`` extra (torch) is not installed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip(
    "torch", reason="torch is not installed: pip install -e '.[test,peers]' runs these tests"
)

import reference as ref  # noqa: E402
from reference.conform import STREAMS, NotComparable, conform, torch_peer  # noqa: E402
from reference.conform.torch_adapter import compare_lbfgs  # noqa: E402
from reference.testing import assert_conforms  # noqa: E402

SHAPES = [(3, 4), (5,)]  # a two-tensor "model": flattened and concatenated
N = 30

# (torch class, constructor keywords, the reference algorithm the adapter must choose)
PAIRS: list[tuple[str, dict[str, Any], str]] = [
    ("SGD", {"lr": 0.1}, "sgd"),
    ("SGD", {"lr": 0.1, "weight_decay": 0.1}, "sgd"),
    ("SGD", {"lr": 0.05, "momentum": 0.9}, "momentum"),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.5, "weight_decay": 0.01}, "momentum"),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}, "nesterov"),
    ("Adagrad", {"lr": 0.1}, "adagrad"),
    (
        "Adagrad",
        {"lr": 0.1, "lr_decay": 0.01, "initial_accumulator_value": 0.1, "weight_decay": 0.01},
        "adagrad",
    ),
    ("RMSprop", {"lr": 1e-2}, "rmsprop"),
    ("RMSprop", {"lr": 1e-2, "centered": True}, "rmsprop"),
    ("RMSprop", {"lr": 1e-2, "momentum": 0.9}, "rmsprop"),
    ("RMSprop", {"lr": 1e-2, "centered": True, "momentum": 0.9, "weight_decay": 0.01}, "rmsprop"),
    ("Adadelta", {}, "adadelta"),
    ("Adadelta", {"lr": 0.5, "weight_decay": 0.01}, "adadelta"),
    ("Adam", {"lr": 1e-2}, "adam"),
    ("Adam", {"lr": 1e-2, "amsgrad": True}, "adam"),
    ("Adam", {"lr": 1e-2, "weight_decay": 0.1}, "adam"),
    ("Adam", {"lr": 1e-2, "weight_decay": 0.1, "decoupled_weight_decay": True}, "adamw"),
    ("AdamW", {"lr": 1e-2, "weight_decay": 0.1}, "adamw"),
    ("AdamW", {"lr": 1e-2, "weight_decay": 0.1, "amsgrad": True}, "adamw"),
]


def _id(pair: tuple[str, dict[str, Any], str]) -> str:
    return pair[0] + "(" + ",".join(f"{k}={v}" for k, v in pair[1].items()) + ")"


@pytest.mark.parametrize("pair", PAIRS, ids=_id)
def test_torch_pair_conforms_float64_all_streams_both_loops(pair: tuple[str, dict[str, Any], str]) -> None:
    name, hp, algo = pair
    if algo not in ref.ALGORITHMS:
        pytest.skip(f"ref.{algo} is not registered yet")
    peer = torch_peer(name, SHAPES, **hp)
    assert peer.spec.algorithm == algo
    report = conform(peer, n_steps=N)
    assert len(report.comparisons) == 2 * len(STREAMS) + 1  # and the long open-loop run
    assert report.passed, report.table()


@pytest.mark.parametrize("pair", [PAIRS[3], PAIRS[10], PAIRS[12], PAIRS[14], PAIRS[17]], ids=_id)
def test_torch_float32_against_float64_reference(pair: tuple[str, dict[str, Any], str]) -> None:
    name, hp, _ = pair
    report = conform(torch_peer(name, SHAPES, dtype="float32", **hp), n_steps=N)
    assert report.tolerance.dtype == "float32"
    assert report.passed, report.table()
    assert report.worst.max_ulps > 0.1  # genuinely float32 rounding, not float64


def test_adapter_reads_the_optimizer_instance_of_a_real_model() -> None:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2)).double()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3, betas=(0.8, 0.99), amsgrad=True)
    peer = torch_peer(opt)
    assert peer.dim == sum(p.numel() for p in model.parameters()) == 26
    assert peer.spec.hyperparams["beta1"] == 0.8 and peer.spec.hyperparams["amsgrad"] is True
    assert peer.spec.hyperparams["amsgrad_max"] == "raw"
    assert_conforms(opt, n_steps=20)  # the numpy.testing-style one-liner on a torch optimizer


def test_param_groups_with_equal_settings_are_one_peer_and_different_ones_are_refused() -> None:
    a = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    same = torch.optim.SGD([{"params": [a]}, {"params": [b]}], lr=0.1, momentum=0.9)
    assert torch_peer(same).dim == 5
    diff = torch.optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.2}], lr=0.1)
    with pytest.raises(NotComparable, match="param group 1 differs from group 0 in 'lr'"):
        torch_peer(diff)


def test_refused_configurations_say_why() -> None:
    with pytest.raises(NotComparable, match="maximize=True"):
        torch_peer("Adam", maximize=True)
    with pytest.raises(NotComparable, match="needs a closure"):
        torch_peer("LBFGS")
    with pytest.raises(ValueError, match="torch.optim has no optimizer 'Adamm'"):
        torch_peer("Adamm")
    with pytest.raises(ValueError, match="dtype must be one of"):
        torch_peer("Adam", dtype="int32")


def test_torch_rmsprop_is_diagnosed_against_an_eps_inside_claim() -> None:
    # Real peer, wrong claim: torch's RMSprop puts eps outside the sqrt.
    claim = ref.rmsprop(1e-2, eps_placement="inside")
    report = conform(torch_peer("RMSprop", SHAPES, lr=1e-2), reference=claim, n_steps=N)
    assert not report.passed
    assert report.diagnosis is not None
    assert report.diagnosis.summary().startswith("matches rmsprop with eps outside the sqrt"), (
        report.diagnosis.summary()
    )


def test_torch_sgd_momentum_is_diagnosed_against_a_dampened_first_step_claim() -> None:
    # torch skips dampening on step 1 (first_step="grad"); a claim of v_0 = 0 is caught at step 1.
    claim = ref.momentum(0.05, beta=0.9, dampening=0.5, first_step="zeros")
    report = conform(
        torch_peer("SGD", SHAPES, lr=0.05, momentum=0.9, dampening=0.5), reference=claim, n_steps=N
    )
    assert not report.passed and min(c.first_fail or 99 for c in report.failures) == 1
    assert report.diagnosis is not None
    assert "first step v_1 = g" in report.diagnosis.summary()


def test_torch_adam_l2_is_diagnosed_against_a_decoupled_claim() -> None:
    claim = ref.adamw(1e-2, weight_decay=0.1)
    report = conform(torch_peer("Adam", SHAPES, lr=1e-2, weight_decay=0.1), reference=claim, n_steps=N)
    assert not report.passed and report.diagnosis is not None
    assert "coupled L2 weight decay" in report.diagnosis.summary()


def test_lbfgs_end_points_agree_on_strongly_convex_least_squares() -> None:
    if "lbfgs" not in ref.ALGORITHMS:
        pytest.skip("ref.lbfgs is not registered")
    c = compare_lbfgs(dim=8, seed=1, history_size=10)
    assert c.passed, (c.err_torch, c.err_ref, c.bound(c.grad_torch), c.bound(c.grad_ref))
    assert c.err_torch < 1e-6 and c.err_ref < 1e-6
    assert float(np.linalg.norm(c.x_torch - c.x_ref)) < 1e-6


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_torch_adam_closed_loop_on_the_peaks_mlp(dtype: str) -> None:
    # The notes' Peaks classifier (2-32-5 ReLU MLP, p = 261) as four torch tensors, each side
    # taking the full-batch gradient at its own iterate.
    from reference.problems import peaks

    shapes = [(32, 2), (32,), (5, 32), (5,)]
    report = conform(
        torch_peer("Adam", shapes, lr=1e-2, dtype=dtype), modes=["closed"], n_steps=20, problem=peaks(seed=0)
    )
    assert report.passed, report.table()

"""NAdam, RAdam and Adamax against the real torch.optim (2.13.0, CPU) and optax (0.2.8): every
pair at the defaults and at a setting exercising each option, float64 and float32, every stream,
both loops and the long run; the adapters' mapping, what they refuse, and the command line.

Skipped only when the ``peers`` extra (torch, jax, optax) is not installed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip(
    "torch", reason="torch is not installed: pip install -e '.[test,peers]' runs these tests"
)
pytest.importorskip("optax", reason="optax is not installed: pip install -e '.[test,peers]' runs these tests")

import reference as ref  # noqa: E402
from reference.cli import main  # noqa: E402
from reference.conform import NotComparable, conform, optax_peer, torch_peer  # noqa: E402

from .peers_helpers import check_pair_conforms  # noqa: E402

SHAPES = [(3, 4), (5,)]  # a two-tensor "model": flattened and concatenated
N = 30

# (framework, class or alias, constructor keywords, the reference the adapter must choose and
# the keywords of its claim that make the peer's convention, specs/<name>.md "Variants")
PAIRS: list[tuple[str, str, dict[str, Any], str, dict[str, Any]]] = [
    ("torch", "NAdam", {}, "nadam", {"mu_schedule": True, "mu_product_dtype": "float32", "lr": 2e-3}),
    (
        "torch",
        "NAdam",
        {"lr": 1e-2, "weight_decay": 0.1, "momentum_decay": 1e-2},
        "nadam",
        {"decoupled_weight_decay": False, "momentum_decay": 1e-2},
    ),
    (
        "torch",
        "NAdam",
        {"lr": 1e-2, "weight_decay": 0.1, "decoupled_weight_decay": True},
        "nadam",
        {"decoupled_weight_decay": True},
    ),
    (
        "torch",
        "RAdam",
        {},
        "radam",
        {"threshold": 5.0, "threshold_strict": True, "epsilon_hat": True, "lr": 1e-3},
    ),
    ("torch", "RAdam", {"lr": 1e-2, "weight_decay": 0.1}, "radam", {"decoupled_weight_decay": False}),
    (
        "torch",
        "RAdam",
        {"lr": 1e-2, "betas": (0.8, 0.99), "weight_decay": 0.1, "decoupled_weight_decay": True},
        "radam",
        {"beta1": 0.8, "beta2": 0.99, "decoupled_weight_decay": True},
    ),
    ("torch", "Adamax", {}, "adamax", {"eps_placement": "max", "lr": 2e-3}),
    (
        "torch",
        "Adamax",
        {"lr": 1e-2, "eps": 1e-3, "weight_decay": 0.1},
        "adamax",
        {"eps": 1e-3, "weight_decay": 0.1},
    ),
    (
        "optax",
        "nadam",
        {"learning_rate": 1e-3},
        "nadam",
        {"mu_schedule": False, "decoupled_weight_decay": False},
    ),
    (
        "optax",
        "nadam",
        {"learning_rate": 1e-2, "b1": 0.8, "eps_root": 1e-8},
        "nadam",
        {"beta1": 0.8, "eps_root": 1e-8},
    ),
    (
        "optax",
        "nadamw",
        {"learning_rate": 1e-2, "weight_decay": 0.1},
        "nadam",
        {"mu_schedule": False, "decoupled_weight_decay": True, "weight_decay": 0.1},
    ),
    ("optax", "radam", {"learning_rate": 1e-3}, "radam", {"threshold_strict": False, "epsilon_hat": False}),
    (
        "optax",
        "radam",
        {"learning_rate": 1e-2, "b2": 0.99, "eps_root": 1e-8, "threshold": 6.0},
        "radam",
        {"threshold": 6.0, "eps_root": 1e-8},
    ),
    (
        "optax",
        "adamax",
        {"learning_rate": 1e-3},
        "adamax",
        {"eps_placement": "max", "decoupled_weight_decay": False},
    ),
    (
        "optax",
        "adamax",
        {"learning_rate": 1e-2, "b1": 0.8, "eps": 1e-3},
        "adamax",
        {"beta1": 0.8, "eps": 1e-3},
    ),
    (
        "optax",
        "adamaxw",
        {"learning_rate": 1e-2, "weight_decay": 0.1},
        "adamax",
        {"decoupled_weight_decay": True, "weight_decay": 0.1},
    ),
]


def _id(pair: tuple[str, str, dict[str, Any], str, dict[str, Any]]) -> str:
    return f"{pair[0]}.{pair[1]}(" + ",".join(f"{k}={v}" for k, v in pair[2].items()) + ")"


def _peer(pair: tuple[str, str, dict[str, Any], str, dict[str, Any]], dtype: str) -> Any:
    fw, name, hp, _, _ = pair
    return (
        torch_peer(name, SHAPES, dtype=dtype, **hp)
        if fw == "torch"
        else optax_peer(name, SHAPES, dtype=dtype, **hp)
    )


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("pair", PAIRS, ids=_id)
def test_pair_conforms_all_streams_both_loops(
    pair: tuple[str, str, dict[str, Any], str, dict[str, Any]], dtype: str
) -> None:
    check_pair_conforms(_peer(pair, dtype), pair[3], pair[4], dtype, n_steps=N)


def test_torch_nadam_needs_the_float32_product() -> None:
    # torch.optim.NAdam keeps mu_product in a float32 scalar tensor: the exact product is caught.
    peer = torch_peer("NAdam", SHAPES, lr=1e-2)
    assert peer.spec.hyperparams["mu_product_dtype"] == "float32"
    exact = conform(
        peer, reference=ref.nadam(1e-2), n_steps=N, streams=["normal"], long_steps=0, diagnose=False
    )
    assert not exact.passed
    assert exact.worst.max_ulps > 1e3
    rounded = conform(
        peer,
        reference=ref.nadam(1e-2, mu_product_dtype="float32"),
        n_steps=N,
        streams=["normal"],
        long_steps=0,
        diagnose=False,
    )
    assert rounded.passed and rounded.worst.max_ulps < 4


def test_torch_radam_is_not_the_optax_form() -> None:
    # optax's eps on sqrt(vhat) against torch's eps on sqrt(v): a visible difference at eps = 1e-3.
    peer = torch_peer("RAdam", SHAPES, lr=1e-2, eps=1e-3)
    claim = ref.radam(1e-2, eps=1e-3, threshold_strict=False, epsilon_hat=False)
    report = conform(peer, reference=claim, n_steps=N, streams=["normal"], long_steps=0, diagnose=False)
    assert not report.passed


def test_optax_nadam_is_not_the_torch_schedule() -> None:
    report = conform(
        optax_peer("nadam", SHAPES, learning_rate=1e-2),
        reference=ref.nadam(1e-2),
        n_steps=N,
        streams=["normal"],
        long_steps=0,
        diagnose=False,
    )
    assert not report.passed


def test_refused_configurations_say_why() -> None:
    with pytest.raises(NotComparable, match=r"optax.radam\(nesterov=True\) has no reference equivalent"):
        optax_peer("radam", learning_rate=1e-3, nesterov=True)
    with pytest.raises(NotComparable, match=r"optax.nadam\(nesterov=False\) is Adam"):
        optax_peer("nadam", learning_rate=1e-3, nesterov=False)
    with pytest.raises(NotComparable, match=r"optax.nadam\(mu_dtype="):
        optax_peer("nadam", learning_rate=1e-3, mu_dtype="float32")
    with pytest.raises(NotComparable, match="weight-decay schedule"):
        optax_peer("adamaxw", learning_rate=1e-3, weight_decay=lambda t: 1e-4)
    with pytest.raises(NotComparable, match="maximize=True"):
        torch_peer("NAdam", maximize=True)


@pytest.mark.parametrize(
    "peer",
    [
        "torch.optim.NAdam",
        "torch.optim.RAdam",
        "torch.optim.Adamax",
        "optax.nadam",
        "optax.radam",
        "optax.adamax",
    ],
)
def test_command_line_exits_0(peer: str, capsys: pytest.CaptureFixture[str]) -> None:
    algo = peer.split(".")[-1].lower()
    assert main(["conform", peer, "--steps", "10", "--long-steps", "100", "--plot", ""]) == 0
    assert f"ref.{algo}(" in capsys.readouterr().out


def test_float_state_is_recorded_in_the_reference_not_the_peer() -> None:
    # The adapter reads torch's default dtype: under float64 the product is exact, and so is the claim.
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        peer = torch_peer("NAdam", SHAPES, lr=1e-2)
        assert peer.spec.hyperparams["mu_product_dtype"] == "float64"
        report = conform(peer, n_steps=N, streams=["normal"], long_steps=0)
    finally:
        torch.set_default_dtype(old)
    assert report.passed, report.table()
    assert np.isfinite(report.worst.max_ulps)

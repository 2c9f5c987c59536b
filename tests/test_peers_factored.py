"""Adafactor and SM3 against the real torch.optim (2.13.0, CPU) and optax (0.2.8): every pair at the
defaults and at a setting exercising each option, float64 and float32, every stream, both loops; a
long run per peer; tensors of 3 axes; the switches that tell the peers apart; what the adapters
refuse; the command line.

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
from reference.conform import STREAMS, NotComparable, conform, optax_peer, torch_peer  # noqa: E402

REF_SHAPES = ((3, 4), (5,))
SHAPES = [(3, 4), (5,)]  # a two-tensor "model": the matrix is factored by torch, not by optax at 128
N = 12
EPS64 = float(np.finfo(np.float64).eps)

# (framework, class or alias, constructor keywords, the reference keywords of the claim that make
# the peer's convention, specs/adafactor.md and specs/sm3.md "Variants")
PAIRS: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = [
    (
        "torch",
        "Adafactor",
        {},
        {"lr": 1e-2, "relative_step": True, "eps1_form": "clamp", "factor_axes": "last_two", "eps2": 1e-3},
    ),
    (
        "torch",
        "Adafactor",
        {"lr": 0.05, "beta2_decay": -0.5, "eps": (1e-6, 1e-2), "d": 2.0, "weight_decay": 0.1},
        {"decay_rate": 0.5, "eps1": 1e-6, "eps2": 1e-2, "clip_threshold": 2.0, "weight_decay": 0.1},
    ),
    (
        "optax",
        "adafactor",
        {},
        {
            "lr": 1.0,
            "relative_step": False,
            "beta2_dtype": "float32",
            "eps1": 1e-30,
            "eps1_form": "add",
            "min_dim_size_to_factor": 128,
            "factor_axes": "largest_two",
            "decay_scaling": "none",
        },
    ),
    (
        "optax",
        "adafactor",
        {
            "learning_rate": 0.05,
            "min_dim_size_to_factor": 2,
            "momentum": 0.9,
            "weight_decay_rate": 1e-2,
            "multiply_by_parameter_scale": False,
        },
        {
            "lr": 0.05,
            "min_dim_size_to_factor": 2,
            "momentum": 0.9,
            "momentum_dtype": "float32",
            "weight_decay": 1e-2,
            "multiply_by_parameter_scale": False,
        },
    ),
    (
        "optax",
        "adafactor",
        {
            "learning_rate": 0.05,
            "min_dim_size_to_factor": 2,
            "clipping_threshold": None,
            "eps": 1e-20,
            "decay_rate": 0.5,
            "momentum": 0.5,
            "dtype_momentum": "float64",
        },
        {
            "clip_threshold": None,
            "eps1": 1e-20,
            "decay_rate": 0.5,
            "momentum": 0.5,
            "momentum_dtype": "float64",
        },
    ),
    ("optax", "adafactor", {"learning_rate": 0.05, "factored": False}, {"factored": False}),
    ("optax", "sm3", {"learning_rate": 0.1}, {"lr": 0.1, "momentum": 0.9, "eps": 1e-8}),
    ("optax", "sm3", {"learning_rate": 0.1, "momentum": 0.0}, {"momentum": 0.0, "eps": 1e-8}),
]


def _id(pair: tuple[str, str, dict[str, Any], dict[str, Any]]) -> str:
    return f"{pair[0]}.{pair[1]}(" + ",".join(f"{k}={v}" for k, v in pair[2].items()) + ")"


def _peer(fw: str, name: str, hp: dict[str, Any], dtype: str = "float64", shapes: Any = None) -> Any:
    shp = SHAPES if shapes is None else shapes
    if fw == "torch":
        return torch_peer(name, shp, dtype=dtype, **hp)
    return optax_peer(name, shp, dtype=dtype, **hp)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("pair", PAIRS, ids=_id)
def test_pair_conforms_all_streams_both_loops(
    pair: tuple[str, str, dict[str, Any], dict[str, Any]], dtype: str
) -> None:
    fw, name, hp, want = pair
    peer = _peer(fw, name, hp, dtype)
    assert peer.spec.algorithm == name.lower()
    claim = peer.spec.build().hyperparams  # the claim's keywords with the record's defaults
    for k, v in want.items():
        assert claim[k] == v, (k, claim[k], v)
    assert claim["shapes"] == ((3, 4), (5,))
    report = conform(peer, n_steps=N, long_steps=0)
    assert len(report.comparisons) == 2 * len(STREAMS)
    assert report.passed, report.table()
    if dtype == "float32":
        assert report.worst.max_ulps > 0.1  # genuinely float32 rounding, not float64


@pytest.mark.parametrize(
    ("fw", "name", "hp"),
    [("torch", "Adafactor", {}), ("optax", "adafactor", {"min_dim_size_to_factor": 2}), ("optax", "sm3", {})],
)
def test_long_run(fw: str, name: str, hp: dict[str, Any]) -> None:
    if name == "sm3":
        hp = {"learning_rate": 0.1}
    report = conform(_peer(fw, name, hp), n_steps=5, streams=["normal"], long_steps=200)
    assert report.passed, report.table()


def test_torch_eps1_is_the_dtype_machine_eps() -> None:
    assert torch_peer("Adafactor", SHAPES).spec.hyperparams["eps1"] == EPS64
    assert torch_peer("Adafactor", SHAPES, dtype="float32").spec.hyperparams["eps1"] == float(
        np.finfo(np.float32).eps
    )


@pytest.mark.parametrize(
    ("fw", "name", "hp"),
    [
        ("torch", "Adafactor", {"weight_decay": 0.1}),
        ("optax", "adafactor", {"min_dim_size_to_factor": 2, "learning_rate": 0.1}),
        ("optax", "sm3", {"learning_rate": 0.1}),
    ],
)
def test_tensors_of_three_axes(fw: str, name: str, hp: dict[str, Any]) -> None:
    # (3, 1, 6): torch factors over its last two axes, optax over axes 0 and 2 (its two largest).
    shapes = [(2, 3, 4), (4, 3), (5,), (3, 1, 6)]
    report = conform(
        _peer(fw, name, hp, shapes=shapes), n_steps=10, streams=["normal", "sparse"], long_steps=0
    )
    assert report.passed, report.table()


def _fails(peer: Any, claim: Any) -> bool:
    report = conform(
        peer,
        reference=claim if not hasattr(claim, "build") else claim.build(),
        n_steps=10,
        streams=["normal"],
        long_steps=0,
        diagnose=False,
    )
    return not report.passed


def test_the_switches_that_tell_the_peers_apart() -> None:
    spec = torch_peer("Adafactor", SHAPES, eps=(1e-3, 1e-3)).spec
    assert _fails(torch_peer("Adafactor", SHAPES, eps=(1e-3, 1e-3)), spec.with_(eps1_form="add"))
    peer = optax_peer("adafactor", SHAPES, learning_rate=0.05)
    assert _fails(peer, peer.spec.with_(beta2_dtype="float64"))  # optax's float32 beta_t
    peer = optax_peer("adafactor", SHAPES, learning_rate=0.5)  # 1/sqrt(t) < 0.5 from t = 5
    assert _fails(peer, peer.spec.with_(relative_step=True))
    peer = optax_peer("adafactor", SHAPES, learning_rate=0.05, momentum=0.9, weight_decay_rate=0.01)
    assert _fails(peer, peer.spec.with_(momentum_dtype="float64"))  # optax's float32 momentum buffer
    assert _fails(peer, peer.spec.with_(decay_scaling="lr"))
    shapes = [(3, 1, 6)]
    peer = optax_peer("adafactor", shapes, learning_rate=0.05, min_dim_size_to_factor=2)
    assert peer.spec.hyperparams["factor_axes"] == "largest_two"
    assert _fails(peer, peer.spec.with_(factor_axes="last_two"))
    peer = optax_peer("sm3", SHAPES, learning_rate=0.1)
    assert _fails(peer, ref.sm3(0.1, momentum=0.9, shapes=REF_SHAPES))  # eps = 0: the small stream differs
    assert not _fails(peer, ref.sm3(0.1, momentum=0.9, eps=1e-8, shapes=REF_SHAPES))


def test_refused_configurations_say_why() -> None:
    with pytest.raises(NotComparable, match="decay_offset"):
        optax_peer("adafactor", decay_offset=10)
    with pytest.raises(NotComparable, match="weight_decay_mask"):
        optax_peer("adafactor", weight_decay_rate=0.1, weight_decay_mask=lambda p: p)
    with pytest.raises(NotComparable, match="weight-decay schedule"):
        optax_peer("adafactor", weight_decay_rate=lambda t: 0.1)
    with pytest.raises(NotComparable, match="dtype_momentum=bfloat16"):
        optax_peer("adafactor", momentum=0.9, dtype_momentum="bfloat16")
    with pytest.raises(NotComparable, match="maximize=True"):
        torch_peer("Adafactor", maximize=True)


@pytest.mark.parametrize(
    "args",
    [
        ["torch.optim.Adafactor"],
        ["torch.optim.Adafactor", "--hp", "lr=0.05,d=2.0,weight_decay=0.1", "--dtype", "float32"],
        ["optax.adafactor"],
        ["optax.adafactor", "--hp", "learning_rate=0.05,min_dim_size_to_factor=2,momentum=0.9"],
        ["optax.sm3", "--hp", "learning_rate=0.1"],
    ],
)
def test_command_line_exits_0(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["conform", *args, "--steps", "8", "--long-steps", "20", "--plot", ""]) == 0
    assert f"ref.{args[0].split('.')[-1].lower()}(" in capsys.readouterr().out

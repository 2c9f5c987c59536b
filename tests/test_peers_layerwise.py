"""LAMB, LARS, Fromage and NovoGrad against the real optax (0.2.8): every alias at its defaults and
at a setting exercising each option, float64 and float32, every stream, both loops and a long run,
on the CLI's two tensors and on three tensors with a one-entry one; masks as one flag per tensor;
what the adapter refuses; the
paper's LARS denominator against optax's; the command line. torch.optim ships none of the four.

Skipped only when the ``peers`` extra (jax, optax) is not installed.
"""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("optax", reason="optax is not installed: pip install -e '.[test,peers]' runs these tests")

import reference as ref  # noqa: E402
from reference.cli import main  # noqa: E402
from reference.conform import NotComparable, conform, optax_peer  # noqa: E402

from .peers_helpers import check_pair_conforms  # noqa: E402

SHAPES = [(3, 4), (5,)]  # the CLI's default: a matrix and a vector, one trust ratio each
N, LONG = 8, 60  # short runs: each optax call costs a jax dispatch

# (alias, keywords, the reference the adapter must choose and the keywords of its claim)
PAIRS: list[tuple[str, dict[str, Any], str, dict[str, Any]]] = [
    ("lamb", {"learning_rate": 1e-3}, "lamb", {"eps": 1e-6, "weight_decay": 0.0}),
    (
        "lamb",
        {"learning_rate": 1e-2, "b1": 0.8, "b2": 0.99, "eps": 1e-3, "eps_root": 1e-8, "weight_decay": 0.1},
        "lamb",
        {"beta1": 0.8, "beta2": 0.99, "eps": 1e-3, "eps_root": 1e-8, "weight_decay": 0.1},
    ),
    ("lars", {"learning_rate": 0.1}, "lars", {"trust_norm": "combined", "momentum": 0.9, "nesterov": False}),
    (
        "lars",
        {
            "learning_rate": 1.0,
            "weight_decay": 0.1,
            "trust_coefficient": 0.02,
            "eps": 1e-3,
            "momentum": 0.8,
            "nesterov": True,
        },
        "lars",
        {
            "trust_norm": "combined",
            "weight_decay": 0.1,
            "trust_coefficient": 0.02,
            "eps": 1e-3,
            "nesterov": True,
        },
    ),
    ("fromage", {"learning_rate": 1e-2}, "fromage", {"min_norm": 1e-6}),
    ("fromage", {"learning_rate": 0.1, "min_norm": 3.0}, "fromage", {"min_norm": 3.0}),
    ("novograd", {"learning_rate": 1e-3}, "novograd", {"beta2": 0.25, "eps": 1e-6}),
    (
        "novograd",
        {"learning_rate": 1e-2, "b1": 0.8, "b2": 0.9, "eps": 1e-3, "eps_root": 1e-8, "weight_decay": 0.1},
        "novograd",
        {"beta1": 0.8, "beta2": 0.9, "eps": 1e-3, "eps_root": 1e-8, "weight_decay": 0.1},
    ),
]


def _id(pair: tuple[str, dict[str, Any], str, dict[str, Any]]) -> str:
    return f"{pair[0]}(" + ",".join(f"{k}={v}" for k, v in pair[1].items()) + ")"


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("pair", PAIRS, ids=_id)
def test_pair_conforms_all_streams_both_loops(
    pair: tuple[str, dict[str, Any], str, dict[str, Any]], dtype: str
) -> None:
    name, hp, algo, want = pair
    peer = optax_peer(name, SHAPES, dtype=dtype, **hp)
    # the peer's tensors, one trust ratio / moment each
    check_pair_conforms(
        peer, algo, {"shapes": ((3, 4), (5,)), **want}, dtype, n_steps=N, long_steps=LONG, diagnose=False
    )


@pytest.mark.parametrize("name", ["lamb", "lars", "fromage", "novograd"])
def test_three_tensors_with_a_one_entry_tensor(name: str) -> None:
    shapes = [(2, 3), (4,), (1,)]
    peer = optax_peer(
        name, shapes, learning_rate=0.05, **({"weight_decay": 0.1} if name != "fromage" else {})
    )
    assert peer.spec.build().hyperparams["shapes"] == ((2, 3), (4,), (1,))
    report = conform(peer, n_steps=N, long_steps=0, streams=["normal", "sparse"], diagnose=False)
    assert report.passed, report.table()


def test_one_tensor_is_not_the_per_tensor_method() -> None:
    # shapes=None (one trust ratio for the whole vector) is another algorithm on two tensors.
    peer = optax_peer("lamb", SHAPES, learning_rate=1e-2)
    report = conform(
        peer, reference=ref.lamb(1e-2), n_steps=N, long_steps=0, streams=["normal"], diagnose=False
    )
    assert not report.passed


def test_optax_lars_is_not_the_paper_denominator() -> None:
    # optax divides by ||g + lambda theta||, the paper (the reference's default) by ||g|| + lambda ||theta||.
    peer = optax_peer("lars", SHAPES, learning_rate=1.0, weight_decay=0.1)
    paper = ref.lars(1.0, weight_decay=0.1, shapes=tuple(SHAPES))
    report = conform(peer, reference=paper, n_steps=N, long_steps=0, streams=["normal"], diagnose=False)
    assert not report.passed


MASKED: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("lamb", {"mask": [True, False, True]}, {"decay_mask": (True, False, True)}),
    (
        "lars",
        {"weight_decay_mask": [False, True, True], "trust_ratio_mask": [True, False, True]},
        {"decay_mask": (False, True, True), "trust_mask": (True, False, True)},
    ),
]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("masked", MASKED, ids=lambda m: m[0])
def test_masks_as_one_flag_per_tensor(masked: tuple[str, dict[str, Any], dict[str, Any]], dtype: str) -> None:
    name, masks, want = masked
    lr = 1e-2 if name == "lamb" else 1.0
    peer = optax_peer(name, [(3, 4), (5,), (2,)], dtype=dtype, learning_rate=lr, weight_decay=0.1, **masks)
    claim = peer.spec.build().hyperparams
    for k, v in want.items():
        assert claim[k] == v, (k, claim[k], v)
    report = conform(peer, n_steps=N, long_steps=LONG, diagnose=False)
    assert report.passed, report.table()


def test_refused_configurations_say_why() -> None:
    with pytest.raises(NotComparable, match=r"optax.lamb\(mask=.*one True/False per tensor \(2 here\)"):
        optax_peer("lamb", SHAPES, learning_rate=1e-3, mask=lambda p: [True, False])
    with pytest.raises(NotComparable, match=r"optax.lars\(trust_ratio_mask=\[True\]\) has no reference"):
        optax_peer("lars", SHAPES, learning_rate=0.1, trust_ratio_mask=[True])
    with pytest.raises(NotComparable, match=r"optax.lars\(weight_decay_mask=.*no reference equivalent"):
        optax_peer("lars", SHAPES, learning_rate=0.1, weight_decay_mask=lambda p: [True, False])
    with pytest.raises(NotComparable, match="weight-decay schedule"):
        optax_peer("novograd", SHAPES, learning_rate=1e-3, weight_decay=lambda t: 1e-4)


@pytest.mark.parametrize(
    ("peer", "hp"),
    [
        ("optax.lamb", "learning_rate=1e-3"),
        ("optax.lars", "learning_rate=0.1,weight_decay=0.1,nesterov=true"),
        ("optax.fromage", "learning_rate=0.01"),
        ("optax.novograd", "learning_rate=1e-3,weight_decay=0.1"),
    ],
)
def test_command_line_exits_0(peer: str, hp: str, capsys: pytest.CaptureFixture[str]) -> None:
    algo = peer.split(".")[-1]
    assert main(["conform", peer, "--hp", hp, "--steps", "5", "--long-steps", "20", "--plot", ""]) == 0
    assert f"ref.{algo}(" in capsys.readouterr().out

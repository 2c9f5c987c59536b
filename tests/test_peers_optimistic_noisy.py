"""optax's optimistic_gradient_descent, optimistic_adam (v1), optimistic_adam_v2 and noisy_sgd
(optax 0.2.8) against the reference: every pair at the defaults and at a setting
exercising each option, float64 and float32, every stream, both loops and a long run; the shared
noise stream bit for bit; what the adapter refuses; the command line.

torch.optim has none of these methods. Skipped only when the ``peers`` extra (jax, optax) is not
installed.
"""

from __future__ import annotations

import contextlib
import warnings
from typing import Any

import numpy as np
import pytest

pytest.importorskip("jax", reason="jax is not installed: pip install -e '.[test,peers]' runs these tests")
optax = pytest.importorskip(
    "optax", reason="optax is not installed: pip install -e '.[test,peers]' runs these tests"
)

import jax  # noqa: E402

import reference as ref  # noqa: E402
from reference.cli import main  # noqa: E402
from reference.conform import NotComparable, conform, optax_peer  # noqa: E402
from reference.conform.mappings.optimistic_noisy import JaxNoise  # noqa: E402

from .peers_helpers import check_pair_conforms  # noqa: E402

SHAPES = [(3, 4), (5,)]  # a two-tensor "model": flattened and concatenated
N, LONG = 20, 200

# (alias, optax keywords, the reference the adapter must choose, keywords of its claim that make
# the peer's convention: specs/optimistic_gd.md, optimistic_adam.md, noisy_sgd.md "Variants")
PAIRS: list[tuple[str, dict[str, Any], str, dict[str, Any]]] = [
    ("optimistic_gradient_descent", {"learning_rate": 1e-2}, "optimistic_gd", {"first_step": "repeat"}),
    (
        "optimistic_gradient_descent",
        {"learning_rate": 5e-2, "alpha": 0.5, "beta": 2.0},
        "optimistic_gd",
        {"alpha": 0.5, "beta": 2.0},
    ),
    (
        "optimistic_adam_v2",
        {"learning_rate": 1e-2},
        "optimistic_adam",
        {"lr": 1e-2, "nesterov": True, "first_step": "repeat"},
    ),
    (
        "optimistic_adam_v2",
        {"learning_rate": 1e-2, "alpha": 0.3, "beta": 0.7, "b1": 0.8, "eps_root": 1e-8, "nesterov": False},
        "optimistic_adam",
        {"alpha": 0.3, "beta": 0.7, "beta1": 0.8, "eps_root": 1e-8, "nesterov": False},
    ),
    (
        "optimistic_adam",
        {"learning_rate": 1e-2},
        "optimistic_adam",
        {"lr": 1.0, "alpha": 1e-2, "beta": 1e-2, "nesterov": True, "first_step": "repeat"},
    ),
    (
        "optimistic_adam",
        {"learning_rate": 1e-2, "optimism": 0.5, "b2": 0.99, "nesterov": False},
        "optimistic_adam",
        {"lr": 1.0, "alpha": 1e-2, "beta": 0.5, "beta2": 0.99, "nesterov": False},
    ),
    ("noisy_sgd", {"learning_rate": 1e-2, "key": 0}, "noisy_sgd", {"eta": 0.01, "gamma": 0.55}),
    (
        "noisy_sgd",
        {"learning_rate": 5e-2, "eta": 0.3, "gamma": 0.8, "key": 7},
        "noisy_sgd",
        {"eta": 0.3, "gamma": 0.8, "seed": 7},
    ),
]


def _id(pair: tuple[str, dict[str, Any], str, dict[str, Any]]) -> str:
    return f"{pair[0]}(" + ",".join(f"{k}={v}" for k, v in pair[1].items()) + ")"


def _warns(name: str) -> Any:
    """optax 0.2.8 deprecates optimistic_adam (v1) with a DeprecationWarning at construction."""
    return (
        pytest.warns(DeprecationWarning, match="optimistic_adam_v2")
        if name == "optimistic_adam"
        else (contextlib.nullcontext())
    )


def _peer(name: str, dtype: str, **hp: Any) -> Any:
    with _warns(name):
        return optax_peer(name, SHAPES, dtype=dtype, **hp)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("pair", PAIRS, ids=_id)
def test_pair_conforms_all_streams_both_loops(
    pair: tuple[str, dict[str, Any], str, dict[str, Any]], dtype: str
) -> None:
    name, hp, algorithm, claim_kw = pair
    check_pair_conforms(_peer(name, dtype, **hp), algorithm, claim_kw, dtype, n_steps=N, long_steps=LONG)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_jax_noise_is_optax_add_noise_bit_for_bit(dtype: str) -> None:
    # eta = 1, gamma = 0 and zero gradients: optax's update is 0 + sqrt(1/1) z = z exactly.
    tx = optax.add_noise(1.0, 0.0, key=3)
    zeros = [jax.numpy.zeros(s, dtype) for s in SHAPES]
    state, update = tx.init(zeros), jax.jit(tx.update)
    source = JaxNoise(3, SHAPES, dtype)
    for t in range(1, 70):  # past one block of 64 draws
        u, state = update(zeros, state)
        flat = np.concatenate([np.asarray(a, dtype=np.float64).ravel() for a in u])
        assert np.array_equal(flat, source(t, 17)), t
    assert source(5, 17).dtype == np.float64
    with pytest.raises(ValueError, match="draws 17 numbers, asked for 3"):
        source(1, 3)


def test_the_noise_stream_must_be_shared() -> None:
    # The reference's own numpy draws (the default) are another stream: optax fails against them.
    peer = optax_peer("noisy_sgd", SHAPES, learning_rate=1e-2, key=0)
    report = conform(
        peer, reference=ref.noisy_sgd(1e-2), n_steps=N, streams=["normal"], long_steps=0, diagnose=False
    )
    assert not report.passed


def test_optax_first_step_repeats_the_gradient() -> None:
    # optax 0.2.8 (after its issue 1082): g_0 := g_1. The old g_0 = 0 is caught at the first step.
    peer = optax_peer("optimistic_gradient_descent", SHAPES, learning_rate=1e-2)
    zeros = ref.optimistic_gd(1e-2, first_step="zeros")
    report = conform(peer, reference=zeros, n_steps=N, streams=["normal"], long_steps=0, diagnose=False)
    assert not report.passed
    assert report.worst.first_fail == 1


def test_optax_optimistic_adam_is_not_the_paper_default() -> None:
    # ref.optimistic_adam's defaults (no Nesterov, r_0 = 0) are not optax's.
    peer = optax_peer("optimistic_adam_v2", SHAPES, learning_rate=1e-2)
    report = conform(
        peer, reference=ref.optimistic_adam(1e-2), n_steps=N, streams=["normal"], long_steps=0, diagnose=False
    )
    assert not report.passed


def test_refused_configurations_say_why() -> None:
    with pytest.raises(NotComparable, match=r"optimistic_gradient_descent\(alpha=<schedule>\)"):
        optax_peer("optimistic_gradient_descent", learning_rate=1e-2, alpha=lambda t: 1.0)
    with pytest.raises(NotComparable, match=r"optax.optimistic_adam_v2\(mu_dtype="):
        optax_peer("optimistic_adam_v2", learning_rate=1e-2, mu_dtype="float32")
    with pytest.raises(NotComparable, match=r"optax.optimistic_adam\(learning_rate=<schedule>\)"):
        optax_peer("optimistic_adam", learning_rate=lambda t: 1e-2)
    with pytest.raises(NotComparable, match="only one of key and seed"):
        optax_peer("noisy_sgd", learning_rate=1e-2, key=1, seed=1)
    with pytest.raises(NotComparable, match="pass an integer seed or a jax.random.key"):
        optax_peer("noisy_sgd", learning_rate=1e-2, key=np.zeros(2, dtype=np.uint32))


def test_typed_key_and_deprecated_seed_are_the_same_stream() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # optax deprecates seed
        for hp in ({"key": jax.random.key(5)}, {"seed": 5}):
            peer = optax_peer("noisy_sgd", SHAPES, learning_rate=1e-2, **hp)
            report = conform(peer, n_steps=5, streams=["normal"], modes=["open"], long_steps=0)
            assert report.passed, report.table()


@pytest.mark.parametrize(
    "args",
    [
        ["optax.optimistic_gradient_descent"],
        ["optax.optimistic_adam_v2"],
        ["optax.optimistic_adam"],
        ["optax.noisy_sgd", "--hp", "learning_rate=0.01"],
        ["optax.noisy_sgd", "--hp", "learning_rate=0.01", "--dtype", "float32"],
    ],
)
def test_command_line_exits_0(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    name = args[0].split(".")[-1]
    expected: Any = contextlib.nullcontext()
    if name == "optimistic_adam":
        expected = pytest.warns(DeprecationWarning)
    elif name == "noisy_sgd":
        expected = pytest.warns(UserWarning, match="Specifying a key")  # optax's key=None
    with expected:
        code = main(["conform", *args, "--steps", "5", "--long-steps", "20", "--plot", ""])
    assert code == 0
    algo = {"optimistic_gradient_descent": "optimistic_gd", "optimistic_adam_v2": "optimistic_adam"}.get(
        name, name
    )
    assert f"ref.{algo}(" in capsys.readouterr().out

"""Rprop, ASGD, Yogi and AdaBelief against the real torch.optim (2.13.0, CPU) and optax (0.2.8): every
pair at the defaults and at a setting exercising each option, float64 and float32, every stream and
both loops (with a shortened long run), the conventions each mapping encodes (each other form
fails), torch's averaged iterate, what the adapters refuse, and the command line.

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
LONG = 200  # the specs' figures use conform's 1000-step long run; 200 keeps this file's run time down
RPROP2: dict[str, Any] = {
    "eta_minus": 0.3,
    "eta_plus": 1.5,
    "step_min": 1e-3,
    "step_max": 0.2,
}  # lr = 0.5 > step_max

# (framework, class or alias, constructor keywords, the reference the adapter must choose and the
# keywords of its claim that make the peer's convention, specs/<name>.md "Variants")
Pair = tuple[str, str, dict[str, Any], str, dict[str, Any]]
PAIRS: list[Pair] = [
    (
        "torch",
        "Rprop",
        {},
        "rprop",
        {"lr": 0.01, "sign_change": "skip", "clamp_always": True, "lagged": False},
    ),
    (
        "torch",
        "Rprop",
        {"lr": 0.5, "etas": (0.3, 1.5), "step_sizes": (1e-3, 0.2)},
        "rprop",
        {"lr": 0.5, **RPROP2, "sign_change": "skip", "clamp_always": True},
    ),
    ("torch", "ASGD", {}, "asgd", {"lr": 0.01, "t0": 1e6, "schedule_dtype": "float32"}),
    (
        "torch",
        "ASGD",
        {"lr": 0.05, "lambd": 0.1, "alpha": 0.5, "t0": 5.0, "weight_decay": 0.1},
        "asgd",
        {"lambd": 0.1, "alpha": 0.5, "t0": 5.0, "weight_decay": 0.1, "schedule_dtype": "float32"},
    ),
    (
        "optax",
        "rprop",
        {"learning_rate": 0.01},
        "rprop",
        {"sign_change": "skip", "clamp_always": False, "lagged": True},
    ),
    (
        "optax",
        "rprop",
        {
            "learning_rate": 0.5,
            "eta_minus": 0.3,
            "eta_plus": 1.5,
            "min_step_size": 1e-3,
            "max_step_size": 0.2,
        },
        "rprop",
        {"lr": 0.5, **RPROP2, "lagged": True},
    ),
    (
        "optax",
        "yogi",
        {"learning_rate": 1e-2},
        "yogi",
        {"initial_accumulator_value": 1e-6, "bias_correction": True, "eps": 1e-3},
    ),
    (
        "optax",
        "yogi",
        {"learning_rate": 5e-2, "b1": 0.8, "b2": 0.99, "eps": 1e-4},
        "yogi",
        {"beta1": 0.8, "beta2": 0.99, "eps": 1e-4, "bias_correction": True},
    ),
    ("optax", "adabelief", {"learning_rate": 1e-3}, "adabelief", {"eps": 1e-16, "eps_root": 1e-16}),
    (
        "optax",
        "adabelief",
        {"learning_rate": 1e-2, "b1": 0.8, "b2": 0.99, "eps": 1e-8, "eps_root": 1e-10, "nesterov": True},
        "adabelief",
        {"beta1": 0.8, "beta2": 0.99, "eps": 1e-8, "eps_root": 1e-10, "nesterov": True},
    ),
]


def _id(pair: Pair) -> str:
    return f"{pair[0]}.{pair[1]}(" + ",".join(f"{k}={v}" for k, v in pair[2].items()) + ")"


def _peer(pair: Pair, dtype: str = "float64") -> Any:
    fw, name, hp, _, _ = pair
    if fw == "torch":
        return torch_peer(name, SHAPES, dtype=dtype, **hp)
    return optax_peer(name, SHAPES, dtype=dtype, **hp)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("pair", PAIRS, ids=_id)
def test_pair_conforms_all_streams_both_loops(pair: Pair, dtype: str) -> None:
    check_pair_conforms(_peer(pair, dtype), pair[3], pair[4], dtype, n_steps=N, long_steps=LONG)


def _short(peer: Any, reference: Any) -> Any:
    return conform(peer, reference=reference, n_steps=N, streams=["normal"], long_steps=0, diagnose=False)


@pytest.mark.parametrize(
    ("pair", "wrong"),
    [
        (PAIRS[1], {"sign_change": "skip", "clamp_always": False}),  # torch clips at step 1
        (PAIRS[1], {"sign_change": "backtrack", "clamp_always": True}),  # the paper's backtracking
        (PAIRS[1], {"sign_change": "step", "clamp_always": True}),  # Rprop-
        (PAIRS[5], {"sign_change": "skip", "lagged": False}),  # optax's move is one call late
        (PAIRS[5], {"sign_change": "skip", "lagged": True, "clamp_always": True}),
    ],
    ids=["torch-no-clamp", "torch-backtrack", "torch-step", "optax-not-lagged", "optax-clamp"],
)
def test_each_other_rprop_form_fails(pair: Pair, wrong: dict[str, Any]) -> None:
    peer = _peer(pair)
    assert _short(peer, peer.spec.build()).passed
    report = _short(peer, ref.rprop(0.5, **RPROP2, **wrong))
    assert not report.passed and report.worst.max_ulps > 1e6


def test_torch_asgd_needs_the_float32_schedule_with_float64_params() -> None:
    peer = torch_peer("ASGD", SHAPES)
    exact = _short(peer, ref.asgd())
    assert not exact.passed and exact.worst.max_ulps > 1e3
    assert _short(peer, ref.asgd(schedule_dtype="float32")).passed


def test_torch_asgd_average_is_state_ax() -> None:
    # Conformance compares the raw iterate; torch's averaged iterate is state["ax"]: compare it here.
    rng = np.random.default_rng(0)
    x0, gs = rng.standard_normal(5), rng.standard_normal((12, 5))
    p = torch.nn.Parameter(torch.tensor(x0))
    opt = torch.optim.ASGD([p], lr=0.05, lambd=0.1, t0=3.0)
    ours = ref.asgd(0.05, lambd=0.1, t0=3.0, schedule_dtype="float32")
    s = ours.init(x0)
    for g in gs:
        p.grad = torch.tensor(g)
        opt.step()
        s = ours.step(s, g)
    ax = opt.state[p]["ax"].detach().numpy()
    assert not np.allclose(s.ax, s.params)  # the average has started (mu < 1 from step 5)
    np.testing.assert_allclose(s.ax, ax, rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(s.params, p.detach().numpy(), rtol=1e-14, atol=1e-15)


def test_optax_yogi_is_not_the_papers_form() -> None:
    peer = optax_peer("yogi", SHAPES, learning_rate=1e-2)
    for wrong in (
        ref.yogi(1e-2),
        ref.yogi(1e-2, initial_accumulator_value=1e-6),
        ref.yogi(1e-2, bias_correction=True),
    ):
        assert not _short(peer, wrong).passed


def test_optax_adabelief_eps_root_and_nesterov_are_visible() -> None:
    assert not _short(
        optax_peer("adabelief", SHAPES, learning_rate=1e-2, eps_root=1e-6), ref.adabelief(1e-2, eps_root=0.0)
    ).passed
    assert not _short(
        optax_peer("adabelief", SHAPES, learning_rate=1e-2, nesterov=True), ref.adabelief(1e-2)
    ).passed


def test_refused_configurations_say_why() -> None:
    with pytest.raises(NotComparable, match="maximize=True"):
        torch_peer("Rprop", maximize=True)
    with pytest.raises(NotComparable, match="maximize=True"):
        torch_peer("ASGD", maximize=True)
    with pytest.raises(NotComparable, match="optax.rprop: learning_rate is the initial step size"):
        optax_peer("rprop", learning_rate=lambda t: 0.1)


@pytest.mark.parametrize(
    "args",
    [
        ["torch.optim.Rprop"],
        ["torch.optim.ASGD"],
        ["optax.rprop", "--hp", "learning_rate=0.01"],
        ["optax.yogi", "--hp", "learning_rate=0.01"],
        ["optax.adabelief", "--hp", "learning_rate=0.001"],
    ],
    ids=lambda a: a[0],
)
def test_command_line_exits_0(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    algo = args[0].split(".")[-1].lower()
    assert main(["conform", *args, "--steps", "10", "--long-steps", "100", "--plot", ""]) == 0
    assert f"ref.{algo}(" in capsys.readouterr().out

"""Oracle-fed peers against the real torch.optim.LBFGS (2.13.0, CPU) and optax.lbfgs /
optax.polyak_sgd (0.2.8): every pair at the defaults and at a setting exercising each option,
float64 step by step and float32 at the end point, closed loop on least squares and logistic
regression, with the evaluation counts compared; the verdict can fail; the command line.

Skipped only when the ``peers`` extra (torch, jax, optax) is not installed.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("torch", reason="torch is not installed: pip install -e '.[test,peers]' runs these tests")
pytest.importorskip("optax", reason="optax is not installed: pip install -e '.[test,peers]' runs these tests")

from reference.cli import main  # noqa: E402
from reference.conform.oracle_peers import (  # noqa: E402
    FLOAT32_END,
    OracleComparison,
    ReferenceOraclePeer,
    conform_oracle,
    oracle_peer,
    oracle_problem,
    run_oracle_peer,
    run_reference_oracle,
)
from reference.conform.peers import NotComparable, ReferenceSpec  # noqa: E402
from reference.conform.tolerance import Tolerance  # noqa: E402

SHAPES = [(3, 4), (5,)]
N = 20

# (peer, its keywords, the reference it must claim, the claim's keywords that make the convention)
PAIRS: list[tuple[str, dict[str, Any], str, dict[str, Any]]] = [
    ("torch.optim.LBFGS", {}, "lbfgs_torch", {"max_eval": 25, "line_search_fn": None}),
    (
        "torch.optim.LBFGS",
        {"line_search_fn": "strong_wolfe", "history_size": 5, "lr": 0.8, "tolerance_change": 1e-12},
        "lbfgs_torch",
        {"line_search_fn": "strong_wolfe", "history_size": 5, "lr": 0.8},
    ),
    ("optax.lbfgs", {}, "lbfgs", {"line_search": "optax_zoom", "first_scaling": "inverse_norm"}),
    (
        "optax.lbfgs",
        {"memory_size": 5, "scale_init_precond": False},
        "lbfgs",
        {"m": 5, "scaling": "identity", "store_pairs": "always"},
    ),
    ("optax.polyak_sgd", {}, "polyak_sgd", {"scale_inside": True, "zero_tol": 2.0**-52}),
    (
        "optax.polyak_sgd",
        {"max_learning_rate": 0.5, "scaling": 0.7, "f_min": -0.2, "eps": 1e-3, "variant": "sps+"},
        "polyak_sgd",
        {"lr": 0.5, "scaling": 0.7, "variant": "sps+"},
    ),
]
IDS = [f"{t}-{i}" for i, (t, *_) in enumerate(PAIRS)]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize(("target", "hp", "algo", "claim"), PAIRS, ids=IDS)
def test_pair_conforms(target: str, hp: dict[str, Any], algo: str, claim: dict[str, Any], dtype: str) -> None:
    peer = oracle_peer(target, hp, SHAPES, dtype)
    assert peer.spec.algorithm == algo
    for k, v in claim.items():
        assert peer.spec.hyperparams[k] == v, (k, peer.spec.hyperparams[k])
    report = conform_oracle(peer, n_steps=N)
    assert report.passed, report.table()
    for c in report.comparisons:
        assert c.peer.evals.sum() > 0 and np.all(np.isfinite(c.peer.iterates))
        assert c.end_dev <= FLOAT32_END * math.sqrt(c.tolerance.eps)
        if dtype == "float64":
            assert c.step_by_step and c.max_ulps < 100, report.table()
        moved = np.max(np.abs(c.reference.iterates[-1] - c.reference.iterates[0]))
        assert moved > 0.1  # the runs went somewhere


def test_torch_per_iteration_with_the_search() -> None:
    # max_iter=1: one .step call is one iteration, so torch's search is compared per iteration
    peer = oracle_peer(
        "torch.optim.LBFGS", {"max_iter": 1, "line_search_fn": "strong_wolfe"}, SHAPES, "float64"
    )
    report = conform_oracle(peer, n_steps=25)
    assert report.passed, report.table()
    for c in report.comparisons:
        assert c.agreed_steps == 25 and c.ties == 0 and c.max_ulps < 10, report.table()
        assert np.all(c.peer.evals >= 1) and c.peer.evals.sum() > 25  # the search evaluated more than once


def test_a_wrong_claim_fails() -> None:
    # torch's default against a reference without torch's capped first step (lr 1 vs 0.5 later)
    peer = oracle_peer("torch.optim.LBFGS", {"max_iter": 2}, SHAPES, "float64")
    problem = oracle_problem("least_squares", peer.dim, 0)
    x0 = np.linspace(-1.0, 1.0, peer.dim)
    got = run_oracle_peer(peer, problem, x0, 5)
    wrong = ReferenceSpec("lbfgs_torch", {"max_iter": 2, "lr": 0.5}).build()
    comp = OracleComparison(
        "least_squares", x0, run_reference_oracle(wrong, problem, x0, 5), got, Tolerance.for_dtype("float64")
    )
    assert not comp.passed and comp.first_fail == 1


def test_an_evaluation_count_difference_fails() -> None:
    peer = oracle_peer(
        "torch.optim.LBFGS", {"line_search_fn": "strong_wolfe", "max_iter": 3}, SHAPES, "float64"
    )
    problem = oracle_problem("logistic", peer.dim, 0)
    x0 = np.linspace(-1.0, 1.0, peer.dim)
    got = run_oracle_peer(peer, problem, x0, 3)
    ref_run = run_reference_oracle(peer.spec.build(), problem, x0, 3)
    assert OracleComparison("logistic", x0, ref_run, got, Tolerance.for_dtype("float64")).passed
    more = type(got)(got.iterates, got.evals + 1, got.values)
    bad = OracleComparison("logistic", x0, ref_run, more, Tolerance.for_dtype("float64"))
    assert not bad.passed and bad.evals_fail == 1


def test_reference_against_itself_one_ulp_apart() -> None:
    spec = ReferenceSpec(
        "lbfgs", {"line_search": "optax_zoom", "store_pairs": "always", "first_scaling": "inverse_norm"}
    )
    report = conform_oracle(ReferenceOraclePeer(spec, offset_ulps=1), n_steps=N, dim=17)
    assert report.passed, report.table()


@pytest.mark.parametrize(
    ("target", "hp", "match"),
    [
        ("optax.lbfgs", {"learning_rate": 0.1}, "learning_rate"),
        ("torch.optim.LBFGS", {"line_search_fn": "backtracking"}, "strong_wolfe"),
    ],
)
def test_refused_configurations(target: str, hp: dict[str, Any], match: str) -> None:
    with pytest.raises(NotComparable, match=match):
        oracle_peer(target, hp, SHAPES, "float64")


def test_unknown_keyword_names_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="unknown keyword 'bogus'; its keywords are max_learning_rate"):
        oracle_peer("optax.polyak_sgd", {"bogus": 1}, SHAPES, "float64")


@pytest.mark.parametrize(
    "argv",
    [
        ["torch.optim.LBFGS"],
        ["torch.optim.LBFGS", "--hp", "line_search_fn=strong_wolfe,history_size=5", "--dtype", "float32"],
        ["optax.lbfgs", "--steps", "15"],
        ["optax.polyak_sgd", "--dtype", "float32"],
    ],
)
def test_cli_conforms(argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r.json"
    assert main(["conform", *argv, "--json", str(out)]) == 0
    assert "verdict: CONFORMS" in capsys.readouterr().out
    data = json.loads(out.read_text())
    assert data["passed"] and data["schema"] == "optref-oracle-report" and len(data["runs"]) == 2


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["torch.optim.LBFGS", "--mode", "open"], "--mode does not apply"),
        (["optax.lbfgs", "--dtype", "float16"], "float64 or float32"),
        (["optax.polyak_sgd", "--hp", "variant=sps++"], "variant"),
    ],
)
def test_cli_refusals_are_one_line(argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["conform", *argv]) == 2
    err = capsys.readouterr().err
    assert needle in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err

"""The catalog (reference/conform/catalog.py, `optref list --peers`): every optimizer and schedule the
installed torch and optax ship is reviewed, has a reference call or a stated reason, and its
settings are valid constructor keywords. A new framework release that adds an optimizer or a
schedule fails here until the catalog reviews it.

Skipped only when the ``peers`` extra (torch, jax, optax) is not installed.
"""

from __future__ import annotations

import inspect

import pytest

pytest.importorskip("torch", reason="torch is not installed: pip install -e '.[test,peers]' runs these tests")
pytest.importorskip("optax", reason="optax is not installed: pip install -e '.[test,peers]' runs these tests")

from reference.cli import main  # noqa: E402
from reference.conform import catalog  # noqa: E402


def test_every_torch_optimizer_is_reviewed() -> None:
    installed = set(catalog.torch_optimizer_names())
    reviewed = set(catalog.TORCH_OPTIMIZERS)
    assert installed - reviewed == set(), (
        f"torch.optim ships optimizers the catalog has not reviewed: {sorted(installed - reviewed)}"
    )
    assert reviewed - installed == set(), (
        f"the catalog reviews optimizers torch.optim no longer ships: {sorted(reviewed - installed)}"
    )


def test_every_optax_alias_is_reviewed() -> None:
    installed = set(catalog.optax_optimizer_names())
    reviewed = set(catalog.OPTAX_OPTIMIZERS)
    assert installed - reviewed == set(), (
        f"optax ships aliases the catalog has not reviewed: {sorted(installed - reviewed)}"
    )
    assert reviewed - installed == set(), (
        f"the catalog reviews aliases optax no longer ships: {sorted(reviewed - installed)}"
    )


def test_every_schedule_is_reviewed() -> None:
    reviewed = catalog.reviewed_schedules()
    assert set(catalog.torch_schedule_names()) == set(reviewed["torch"])
    assert set(catalog.optax_schedule_names()) == set(reviewed["optax"])


def test_the_enumeration_finds_what_a_user_would_name() -> None:
    # the enumeration itself is checked against names every release has had, so an empty or
    # mis-filtered listing cannot make the reviewed-names tests pass vacuously
    assert {"SGD", "Adam", "LBFGS"} <= set(catalog.torch_optimizer_names())
    assert "Optimizer" not in catalog.torch_optimizer_names()
    assert {"sgd", "adam", "nadam", "nadamw", "lbfgs"} <= set(catalog.optax_optimizer_names())
    assert "chain" not in catalog.optax_optimizer_names()
    assert {"StepLR", "ReduceLROnPlateau"} <= set(catalog.torch_schedule_names())
    assert "LRScheduler" not in catalog.torch_schedule_names()
    assert {"cosine_decay_schedule", "join_schedules"} <= set(catalog.optax_schedule_names())
    assert "inject_hyperparams" not in catalog.optax_schedule_names()


@pytest.mark.parametrize(
    ("framework", "name"),
    [("torch", n) for n in catalog.TORCH_OPTIMIZERS] + [("optax", n) for n in catalog.OPTAX_OPTIMIZERS],
)
def test_every_optimizer_has_a_reference_or_a_reviewed_reason(framework: str, name: str) -> None:
    row = catalog.optimizer_row(framework, name)
    assert row.reference or row.reason
    # a reason must be a reviewed one: "no reference mapping" is what the adapters say about a
    # name nobody has looked at, and an error while building is a defect
    assert "has no reference mapping" not in row.reason, row.reason
    assert not row.reason.startswith("error:"), row.reason
    if row.reference:
        assert row.reference.startswith("ref.")


@pytest.mark.parametrize(("framework", "name"), sorted(catalog.SETTINGS))
def test_settings_are_valid_constructor_keywords(framework: str, name: str) -> None:
    reviewed = catalog.TORCH_OPTIMIZERS if framework == "torch" else catalog.OPTAX_OPTIMIZERS
    assert name in reviewed
    if framework == "torch":
        import torch

        params = set(inspect.signature(getattr(torch.optim, name).__init__).parameters)
    else:
        import optax

        params = set(inspect.signature(getattr(optax, name)).parameters)
    for hp in catalog.SETTINGS[(framework, name)]:
        assert set(hp) <= params, f"{framework}.{name}: {sorted(set(hp) - params)} are not keywords"
    # each setting after the first changes something: no duplicated runs
    seen = [tuple(sorted((k, repr(v)) for k, v in hp.items())) for hp in catalog.SETTINGS[(framework, name)]]
    assert len(seen) == len(set(seen))


def test_measure_records_a_verdict_and_ulps_per_setting_and_dtype() -> None:
    row = catalog.measure(catalog.optimizer_row("torch", "Adagrad"), steps=10)
    assert [(s, d) for s, d, _, _ in row.results] == [
        ("#0", "float64"),
        ("#0", "float32"),
        ("#1", "float64"),
        ("#1", "float32"),
    ]
    assert all(ok for _, _, ok, _ in row.results)
    assert all(0.0 <= u < 1e4 for _, _, _, u in row.results)
    text = catalog.table([row])
    assert "| torch.optim.Adagrad | optimizer | `ref.adagrad(" in text
    assert "conforms" in text


def test_measure_reports_a_mismatch() -> None:
    # a planted wrong translation: the row's verdict must say MISMATCH, not pass silently
    from reference.conform import mappings
    from reference.conform.peers import ReferenceSpec

    mappings.load()
    original = mappings.TORCH.get("Adagrad")
    mappings.TORCH["Adagrad"] = lambda g, shapes: ReferenceSpec(
        "adagrad", {"lr": float(g["lr"]) * 1.01, "eps_placement": "outside"}
    )
    try:
        row = catalog.measure(catalog.optimizer_row("torch", "Adagrad"), steps=10)
    finally:
        if original is None:
            del mappings.TORCH["Adagrad"]
        else:
            mappings.TORCH["Adagrad"] = original
    assert row.results and not any(ok for _, _, ok, _ in row.results)
    assert "MISMATCH" in catalog.table([row])


def test_cli_list_peers(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "--peers", "--framework", "optax"]) == 0
    out, err = capsys.readouterr()
    assert "| optax.adam | optimizer | `ref.adam(lr=0.001" in out
    assert "torch.optim" not in out
    assert "peers have a reference call" in err


@pytest.mark.parametrize(
    "argv", [["list", "--measure"], ["list", "adam", "--peers"], ["list", "--framework", "torch"]]
)
def test_cli_list_peers_bad_combinations(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--peers" in err

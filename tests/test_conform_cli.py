"""optref conform / optref vectors: argument parsing, exit status, table, PNG, --impl functions."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from reference.cli import main
from reference.conform.cli import parse_hp, parse_shapes

IMPL = textwrap.dedent(
    """
    import numpy as np

    def my_adam_step(params, grad, state, *, lr, beta1, beta2, eps):
        m, v, t = state if state is not None else (0 * params, 0 * params, 0)
        t += 1
        m = beta1 * m + (1 - beta1) * grad
        v = beta2 * v + (1 - beta2) * grad * grad
        mhat, vhat = m / (1 - beta1 ** t), v / (1 - beta2 ** t)
        return params - lr * mhat / (np.sqrt(vhat) + eps), (m, v, t)

    def my_broken_adam(params, grad, state, *, lr, beta1, beta2, eps):
        m, v, t = state if state is not None else (0 * params, 0 * params, 0)
        t += 1
        m = beta1 * m + (1 - beta1) * grad
        v = beta2 * v + (1 - beta2) * grad * grad
        return params - lr * m / (np.sqrt(v) + eps), (m, v, t)

    def plain_step(params, grad, state, *, lr, weight_decay=0.0):
        return params - lr * (grad + weight_decay * params), None
    """
)


@pytest.fixture
def impl_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> str:
    name = f"userimpl_{request.node.name.replace('[', '_').replace(']', '').replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(IMPL)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    return name


def test_parse_hp_values() -> None:
    hp = parse_hp("lr=1e-3,amsgrad=true,betas=(0.9,0.99),momentum=None,form=polyak")
    assert hp == {"lr": 1e-3, "amsgrad": True, "betas": (0.9, 0.99), "momentum": None, "form": "polyak"}
    assert parse_hp("") == {}
    with pytest.raises(ValueError, match="expected key=value"):
        parse_hp("lr")
    with pytest.raises(ValueError, match="not a valid keyword"):
        parse_hp("1x=2")
    assert parse_shapes("3x4,5") == [(3, 4), (5,)]
    with pytest.raises(ValueError, match="--shapes"):
        parse_shapes("3xa")


def test_conform_impl_passes_prints_table_and_writes_png(
    impl_dir: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    png = tmp_path / "dev.png"
    rc = main(["conform", "--impl", f"{impl_dir}:my_adam_step", "--algo", "adam", "--hp", "lr=1e-2",
               "--steps", "15", "--plot", str(png)])  # fmt: skip
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "verdict: CONFORMS (14/14" in out
    assert png.exists() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_conform_impl_mismatch_exits_1_with_diagnosis(impl_dir: str, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["conform", "--impl", f"{impl_dir}:my_broken_adam", "--algo", "adam", "--hp", "lr=1e-2",
               "--steps", "12", "--streams", "normal,sparse", "--mode", "open", "--plot", ""])  # fmt: skip
    out = capsys.readouterr().out
    assert rc == 1
    assert "DOES NOT CONFORM" in out
    assert "diagnosis: matches adam with no bias correction" in out


def test_conform_usage_errors_exit_2(impl_dir: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["conform"]) == 2
    assert "name a peer" in capsys.readouterr().err
    assert main(["conform", "--impl", f"{impl_dir}:my_adam_step"]) == 2
    assert "--impl needs --algo" in capsys.readouterr().err
    assert main(["conform", "--impl", "no_such_module_xyz:f", "--algo", "adam"]) == 2
    assert "cannot import module" in capsys.readouterr().err
    assert main(["conform", "numpy.sgd"]) == 2
    assert "unknown peer" in capsys.readouterr().err
    assert main(["conform", "--impl", f"{impl_dir}:plain_step", "--algo", "sgd", "--hp", "lr=0.1,nesterov=true"]) == 2
    assert "unknown hyperparameters" in capsys.readouterr().err


def test_conform_torch_and_optax_from_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("torch", reason="torch is not installed")
    pytest.importorskip("optax", reason="optax is not installed")
    png = str(tmp_path / "t.png")
    assert main(["conform", "torch.optim.Adam", "--hp", "lr=1e-3,amsgrad=true", "--steps", "10", "--plot", png]) == 0
    assert "ref.adam(" in capsys.readouterr().out
    assert main(["conform", "optax.lion", "--hp", "learning_rate=1e-4", "--steps", "10", "--plot", ""]) == 0
    assert "ref.lion(" in capsys.readouterr().out
    assert main(["conform", "optax.adamw", "--steps", "10", "--plot", ""]) == 0  # learning_rate filled in, with a note
    assert "requires learning_rate" in capsys.readouterr().err
    assert main(["conform", "optax.adadelta", "--plot", ""]) == 2
    assert "moves uphill" in capsys.readouterr().err


def test_vectors_export_and_check_round_trip(impl_dir: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = tmp_path / "corpus"
    assert main(["vectors", "export", str(d), "--algorithms", "adam,sgd", "--steps", "6", "--dim", "3"]) == 0
    index = json.loads((d / "index.json").read_text())
    assert index["schema_version"] == 1 and {f["algorithm"] for f in index["files"]} == {"adam", "sgd"}
    capsys.readouterr()
    assert main(["vectors", "check", str(d), "--impl", "reference"]) == 0
    assert main(["vectors", "check", str(d), "--impl", f"{impl_dir}:my_adam_step"]) == 0  # algorithm from the name
    out = capsys.readouterr().out
    assert "0 failed" in out and "skipped" in out  # amsgrad/epsilon_hat cases need keywords it lacks
    assert main(["vectors", "check", str(d), "--impl", f"{impl_dir}:my_broken_adam", "--algo", "adam"]) == 1
    assert "FAIL adam/default/normal" in capsys.readouterr().out
    assert main(["vectors", "check", str(d), "--impl", f"{impl_dir}:plain_step"]) == 2  # cannot infer
    assert "pass --algo" in capsys.readouterr().err


def test_vectors_check_rejects_a_truncated_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = tmp_path / "c"
    assert main(["vectors", "export", str(d), "--algorithms", "sgd", "--steps", "3", "--dim", "2"]) == 0
    text = (d / "sgd.json").read_text()
    (d / "sgd.json").write_text(text[: len(text) // 2])
    capsys.readouterr()
    assert main(["vectors", "check", str(d), "--impl", "reference"]) == 2
    err = capsys.readouterr().err
    assert "sgd.json" in err and "not valid JSON" in err

"""optref conform / optref vectors: argument parsing, exit status, table, PNG, --impl functions."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from reference.cli import main
from reference.conform.cli import parse_hp, parse_shapes

from .cli_helpers import ctrl_c_session, shell_sigint

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
    rc = main(
        [
            "conform",
            "--impl",
            f"{impl_dir}:my_adam_step",
            "--algo",
            "adam",
            "--hp",
            "lr=1e-2",
            "--steps",
            "15",
            "--plot",
            str(png),
        ]
    )
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "verdict: CONFORMS (15/15" in out  # 14 streams x modes + the long run
    assert png.exists() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_conform_impl_mismatch_exits_1_with_diagnosis(
    impl_dir: str, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = main(
        [
            "conform",
            "--impl",
            f"{impl_dir}:my_broken_adam",
            "--algo",
            "adam",
            "--hp",
            "lr=1e-2",
            "--steps",
            "12",
            "--streams",
            "normal,sparse",
            "--mode",
            "open",
            "--plot",
            "",
        ]
    )
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
    assert (
        main(["conform", "--impl", f"{impl_dir}:plain_step", "--algo", "sgd", "--hp", "lr=0.1,nesterov=true"])
        == 2
    )
    assert "unknown hyperparameters" in capsys.readouterr().err


def test_conform_torch_and_optax_from_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip(
        "torch", reason="torch is not installed: pip install -e '.[test,peers]' runs these tests"
    )
    pytest.importorskip(
        "optax", reason="optax is not installed: pip install -e '.[test,peers]' runs these tests"
    )
    png = str(tmp_path / "t.png")
    short = ["--steps", "10", "--long-steps", "100"]
    assert main(["conform", "torch.optim.Adam", "--hp", "lr=1e-3,amsgrad=true", *short, "--plot", png]) == 0
    assert "ref.adam(" in capsys.readouterr().out
    assert main(["conform", "optax.lion", "--hp", "learning_rate=1e-4", *short, "--plot", ""]) == 0
    assert "ref.lion(" in capsys.readouterr().out
    assert main(["conform", "optax.adamw", *short, "--plot", ""]) == 0  # learning_rate filled in, with a note
    assert "requires learning_rate" in capsys.readouterr().err
    assert main(["conform", "optax.adadelta", "--plot", ""]) == 2
    assert "moves uphill" in capsys.readouterr().err


def test_vectors_export_and_check_round_trip(
    impl_dir: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = tmp_path / "corpus"
    assert main(["vectors", "export", str(d), "--algorithms", "adam,sgd", "--steps", "6", "--dim", "3"]) == 0
    index = json.loads((d / "index.json").read_text())
    assert index["schema_version"] == 1 and {f["algorithm"] for f in index["files"]} == {"adam", "sgd"}
    capsys.readouterr()
    assert main(["vectors", "check", str(d), "--impl", "reference"]) == 0
    assert (
        main(["vectors", "check", str(d), "--impl", f"{impl_dir}:my_adam_step"]) == 0
    )  # algorithm from the name
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


# ---------------------------------------------------------------------------------------------
# Errors are never verdicts: every failure as a subprocess, one line on stderr, no traceback,
# the documented exit status (reference/conform/cli.py EXIT_STATUSES).

OK, MISMATCH, USAGE, PEER_FAILED, INTERRUPTED = 0, 1, 2, 3, 130

PEERS = textwrap.dedent(
    """
    import time
    import numpy as np

    def sgd(params, grad, state, *, lr):
        return params - lr * grad, None

    def sgd_wrong(params, grad, state, *, lr):
        return params - 2 * lr * grad, None

    def raises(params, grad, state, *, lr):
        if state == 2:
            raise ZeroDivisionError("my bug\\nsecond line")
        return params - lr * grad, (state or 0) + 1

    def wrong_shape(params, grad, state, *, lr):
        return (params - lr * grad)[:-1], None

    def int_dtype(params, grad, state, *, lr):
        return np.round(params - lr * grad).astype(np.int64), None

    def nan_out(params, grad, state, *, lr):
        return params * np.nan, None

    def not_a_tuple(params, grad, state, *, lr):
        return params - lr * grad

    def torch_needs_detach(params, grad, state, *, lr):
        import torch

        p = torch.tensor(params, requires_grad=True)
        return p - lr * torch.tensor(grad), None

    def slow(params, grad, state, *, lr):
        open("started.flag", "w").close()
        time.sleep(0.05)
        return params - lr * grad, None

    not_callable = 3
    """
)

BROKEN_MODULES = {
    "syntax_err": "def f(params, grad, state, *, lr):\n    return params -\n",
    "raise_on_import": "raise RuntimeError('cannot start: no GPU')\n",
    "exit_on_import": "import sys\nsys.exit(4)\n",
    "missing_dep": "import no_such_dependency_xyz\n",
}


@pytest.fixture
def peers_dir(tmp_path: Path) -> Path:
    (tmp_path / "peers.py").write_text(PEERS)
    for name, text in BROKEN_MODULES.items():
        (tmp_path / f"{name}.py").write_text(text)
    return tmp_path


def optref(cwd: Path, *args: str, timeout: float = 240) -> tuple[int, str, str]:
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}  # what a user sees: default warnings
    env["MPLBACKEND"] = "Agg"
    proc = subprocess.run(
        [sys.executable, "-m", "reference", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    return proc.returncode, proc.stdout, proc.stderr


def one_line_error(err: str, *needles: str) -> None:
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    for n in needles:
        assert n in lines[0], err


QUICK = ("--streams", "normal,sparse", "--steps", "6", "--long-steps", "20", "--plot", "")


@pytest.mark.parametrize(
    "fn, status, needles",
    [
        ("sgd", OK, ()),
        ("sgd_wrong", MISMATCH, ()),
        ("raises", PEER_FAILED, ("peers:raises", "step 3 raised ZeroDivisionError: my bug")),
        ("wrong_shape", PEER_FAILED, ("shape",)),
        ("int_dtype", PEER_FAILED, ("dtype int64",)),
        ("nan_out", PEER_FAILED, ("non-finite",)),
        ("not_a_tuple", PEER_FAILED, ("must return (new_params, new_state)",)),
        ("torch_needs_detach", OK, ()),
        ("not_callable", USAGE, ("is not callable",)),
        ("no_such_function", USAGE, ("has no attribute 'no_such_function'",)),
    ],
)
def test_impl_failures_have_their_own_status(
    peers_dir: Path, fn: str, status: int, needles: tuple[str, ...]
) -> None:
    if fn == "torch_needs_detach":
        pytest.importorskip(
            "torch", reason="torch is not installed: pip install -e '.[test,peers]' runs these tests"
        )
    rc, out, err = optref(
        peers_dir, "conform", "--impl", f"peers:{fn}", "--algo", "sgd", "--hp", "lr=0.1", *QUICK
    )
    assert rc == status, (out, err)
    if status in (OK, MISMATCH):
        assert "Traceback" not in err and "verdict: " in out
    else:
        one_line_error(err, *needles)
        assert "CONFORM" not in out  # no verdict is printed for an error
    if status == PEER_FAILED:
        assert "the peer's own code failed" in err


@pytest.mark.parametrize(
    "module, status, needles",
    [
        ("syntax_err", PEER_FAILED, ("syntax error", "syntax_err.py, line 2")),
        ("raise_on_import", PEER_FAILED, ("raised RuntimeError: cannot start: no GPU",)),
        ("exit_on_import", PEER_FAILED, ("sys.exit(4)",)),
        ("missing_dep", PEER_FAILED, ("No module named 'no_such_dependency_xyz'",)),
        ("no_such_module_xyz", USAGE, ("cannot import module 'no_such_module_xyz'",)),
    ],
)
def test_impl_modules_that_cannot_be_imported(
    peers_dir: Path, module: str, status: int, needles: tuple[str, ...]
) -> None:
    rc, out, err = optref(
        peers_dir, "conform", "--impl", f"{module}:f", "--algo", "sgd", "--hp", "lr=0.1", *QUICK
    )
    assert rc == status, (out, err)
    one_line_error(err, *needles)
    from reference.conform.vectors import export_vectors

    export_vectors(peers_dir / "corpus", algorithms=["sgd"], n_steps=2, dim=2)
    rc, out, err = optref(
        peers_dir, "vectors", "check", str(peers_dir / "corpus"), "--impl", f"{module}:f", "--algo", "sgd"
    )
    assert rc == status, (out, err)
    one_line_error(err, *needles)


@pytest.mark.parametrize(
    "args, needles",
    [
        (
            ("--impl", "peers:sgd", "--algo", "sgd", "--hp", "lr=abc"),
            ("--hp lr: ref.sgd takes a number, got the text 'abc'",),
        ),
        (("--impl", "peers:sgd", "--algo", "sgd", "--hp", "lr=0.1,lr=0.2"), ("'lr' is given twice",)),
        (("--impl", "peers:sgd", "--algo", "nosuch"), ("--algo 'nosuch' is not a registered algorithm",)),
        (("--impl", "peers", "--algo", "sgd"), ("module:function",)),
        (
            ("--impl", "peers:sgd", "--algo", "sgd", "--hp", "lr=0.1", "--steps", "0"),
            ("--steps", "integer in [1,"),
        ),
        (("--impl", "peers:sgd", "--algo", "sgd", "--hp", "lr=0.1", "--steps", "abc"), ("--steps",)),
        (("--impl", "peers:sgd", "--algo", "sgd", "--hp", "lr=0.1", "--seed", "-1"), ("--seed",)),
        (
            ("--impl", "peers:sgd", "--algo", "sgd", "--hp", "lr=0.1", "--streams", "normal,nosuch"),
            ("--streams: 'nosuch'",),
        ),
        (
            ("--impl", "peers:sgd", "--algo", "sgd", "--hp", "lr=0.1", "--shapes", "100000x100000"),
            ("--shapes",),
        ),
        (("--impl", "peers:sgd", "--algo", "sgd", "--hp", "lr=0.1", "--mode", "sideways"), ("--mode",)),
        (
            ("--impl", "peers:sgd", "--algo", "sgd", "--hp", "lr=" + "(" * 500 + "1" + ")" * 500),
            ("--hp lr: ref.sgd takes a number",),
        ),
        (("--no-such-option",), ("unrecognized arguments",)),
        (
            ("--impl", "peers:sgd", "--algo", "sgd", "--md", "no/such/dir/r.md"),
            ("--md: the directory 'no/such/dir' does not exist",),
        ),
        (("--impl", "peers:sgd", "--algo", "sgd", "--json", "."), ("--json: '.' is not a file name",)),
        (
            ("--impl", "peers:sgd", "--algo", "sgd", "--json", "r.txt", "--md", "r.txt"),
            ("--md and --json name the same file",),
        ),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(
    peers_dir: Path, args: tuple[str, ...], needles: tuple[str, ...]
) -> None:
    rc, out, err = optref(peers_dir, "conform", *args, "--plot", "")
    assert rc == USAGE, (out, err)
    one_line_error(err, *needles)


def test_framework_hyperparameters_that_are_not_numbers(
    peers_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip(
        "torch", reason="torch is not installed: pip install -e '.[test,peers]' runs these tests"
    )
    pytest.importorskip(
        "optax", reason="optax is not installed: pip install -e '.[test,peers]' runs these tests"
    )
    cases = [
        (
            ("torch.optim.Adam", "--hp", "lr=abc"),
            "--hp lr: torch.optim.Adam takes a number, got the text 'abc'",
        ),
        (
            ("torch.optim.Adam", "--hp", "betas=1.0"),
            "--hp betas: torch.optim.Adam takes a tuple of 2 numbers",
        ),
        (
            ("torch.optim.Adam", "--hp", "amsgrad=3"),
            "--hp amsgrad: torch.optim.Adam takes true or false, got 3",
        ),
        (
            ("optax.adam", "--hp", "learning_rate=abc"),
            "--hp learning_rate: optax.adam takes a number, got the text 'abc'",
        ),
        (
            ("optax.sgd", "--hp", "learning_rate=0.1,momentum=fast"),
            "--hp momentum: optax.sgd takes a number or none",
        ),
        (("torch.optim.LBFGS",), "--streams does not apply to torch.optim.LBFGS: an oracle-fed peer"),
        (
            ("torch.optim.Adam", "--hp", "nosuch=1"),
            "--hp nosuch: torch.optim.Adam has no keyword 'nosuch' (valid: lr,",
        ),
        (
            ("optax.adam", "--hp", "learning_rate=0.1,nosuch=1"),
            "--hp nosuch: optax.adam has no keyword 'nosuch'",
        ),
        (("torch.optim.Optimizer",), "torch.optim.Optimizer is the base class"),
        (("torch.optim.Adamm",), "torch.optim has no optimizer 'Adamm'"),
        (("torch.nn.Linear",), "unknown peer 'torch.nn.Linear'"),
        (("optax.nosuch",), "optax has no optimizer 'nosuch'"),
        (
            ("torch.optim.Adam", "--dtype", "float16"),
            "a float16 peer cannot hold the hyperparameters: eps=1e-08 rounds to 0",
        ),
        (("torch.optim.Adam", "--problem", "peaks", "--shapes", "3x4"), "--problem peaks has 261 parameters"),
    ]
    for i, (args, needle) in enumerate(cases):
        if i < 4:  # as subprocesses (each imports torch or jax: slow on a loaded machine)
            rc, out, err = optref(peers_dir, "conform", *args, *QUICK)
        else:  # the same entry point in this process
            rc = main(["conform", *args, *QUICK])
            out, err = capsys.readouterr()
        assert rc == USAGE, (args, out, err)
        one_line_error(err, needle)


def test_an_unwritable_plot_is_a_warning_and_the_verdict_stands(peers_dir: Path) -> None:
    bad = str(peers_dir / "no" / "such" / "dir" / "plot.png")
    quick = QUICK[:-2]  # without --plot ''
    rc, out, err = optref(
        peers_dir, "conform", "--impl", "peers:sgd", "--algo", "sgd", "--hp", "lr=0.1", *quick, "--plot", bad
    )
    assert rc == OK and "verdict: CONFORMS" in out, (out, err)
    one_line_error(err, "warning: the plot was not written", "the verdict stands")
    rc, out, err = optref(
        peers_dir,
        "conform",
        "--impl",
        "peers:sgd_wrong",
        "--algo",
        "sgd",
        "--hp",
        "lr=0.1",
        *quick,
        "--plot",
        bad,
        "--no-diagnose",
    )
    assert rc == MISMATCH and "DOES NOT CONFORM" in out, (out, err)
    one_line_error(err, "warning: the plot was not written")


def test_md_and_json_reports_state_the_verdict_and_the_versions(peers_dir: Path) -> None:
    import platform

    import numpy as np

    import reference

    rc, out, err = optref(
        peers_dir,
        "conform",
        "--impl",
        "peers:sgd",
        "--algo",
        "sgd",
        "--hp",
        "lr=0.1",
        *QUICK,
        "--md",
        "r.md",
        "--json",
        "r.json",
    )
    assert rc == OK and "Traceback" not in err, (out, err)
    versions = (
        f"python {platform.python_version()}, numpy {np.__version__}, optim-reference {reference.__version__}"
    )
    assert f"versions:  {versions}" in out  # on screen, under the verdict
    data = json.loads((peers_dir / "r.json").read_text())
    assert (
        data["schema"] == "optref-conform-report" and data["verdict"] == "CONFORMS" and data["passed"] is True
    )
    assert data["versions"] == {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "optim-reference": reference.__version__,
    }
    assert data["reference"]["algorithm"] == "sgd" and data["reference"]["hyperparams"] == {"lr": 0.1}
    assert [(r["mode"], r["stream"]) for r in data["runs"]] == [
        ("open", "normal"),
        ("open", "sparse"),
        ("closed", "normal"),
        ("closed", "sparse"),
        ("long", "normal"),
    ]
    assert all(r["passed"] and r["dev_over_tol"] <= 1 for r in data["runs"])
    assert data["settings"]["n_steps"] == 6 and data["settings"]["long_steps"] == 20
    assert data["command"].startswith("optref conform --impl peers:sgd --algo sgd")
    md = (peers_dir / "r.md").read_text()
    assert "| verdict | **CONFORMS (5/5 runs within tolerance)** |" in md
    assert f"| versions | {versions} |" in md
    assert md.count("| ok |") == 5
    # a mismatch says so in both files, with the diagnosis
    rc, out, err = optref(
        peers_dir,
        "conform",
        "--impl",
        "peers:sgd_wrong",
        "--algo",
        "sgd",
        "--hp",
        "lr=0.1",
        *QUICK,
        "--md",
        "w.md",
        "--json",
        "w.json",
    )
    assert rc == MISMATCH, (out, err)
    data = json.loads((peers_dir / "w.json").read_text())
    assert data["verdict"] == "DOES NOT CONFORM" and data["passed"] is False and data["diagnosis"]
    assert any(r["first_fail"] == 1 and not r["passed"] for r in data["runs"])
    assert "**DOES NOT CONFORM" in (peers_dir / "w.md").read_text()


def test_ctrl_c_exits_130_with_one_line(peers_dir: Path) -> None:
    import os
    import subprocess
    import sys
    import time

    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    with shell_sigint():
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "reference",
                "conform",
                "--impl",
                "peers:slow",
                "--algo",
                "sgd",
                "--hp",
                "lr=0.1",
                "--steps",
                "2000",
                "--plot",
                "",
            ],
            cwd=peers_dir,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
    with ctrl_c_session(proc, timeout=120) as press:
        deadline = time.monotonic() + 120
        while (
            not (peers_dir / "started.flag").exists() and time.monotonic() < deadline and proc.poll() is None
        ):
            time.sleep(0.05)
        assert (peers_dir / "started.flag").exists(), proc.communicate(timeout=60)
        out, err = press()
    assert proc.returncode == INTERRUPTED, (out, err)
    one_line_error(err, "interrupted")


def test_help_lists_the_exit_statuses(peers_dir: Path) -> None:
    rc, out, _ = optref(peers_dir, "conform", "--help")
    assert rc == OK
    text = " ".join(out.split())
    for code in (
        "0 conforms",
        "1 mismatch",
        "2 usage error",
        "3 the peer's own code failed",
        "130 interrupted",
    ):
        assert code in text, text
    rc, out, _ = optref(peers_dir, "vectors", "check", "--help")
    assert rc == OK and "3 the peer's own code failed" in " ".join(out.split())


def test_vectors_never_traceback(peers_dir: Path) -> None:
    corpus = peers_dir / "corpus"
    rc, out, err = optref(
        peers_dir, "vectors", "export", str(corpus), "--algorithms", "sgd", "--steps", "4", "--dim", "2"
    )
    assert rc == OK, (out, err)
    rc, out, err = optref(peers_dir, "vectors", "check", str(corpus), "--impl", "peers:sgd", "--algo", "sgd")
    assert rc == OK and "0 failed" in out, (out, err)
    rc, out, err = optref(
        peers_dir, "vectors", "check", str(corpus), "--impl", "peers:raises", "--algo", "sgd"
    )
    assert rc == PEER_FAILED, (out, err)
    one_line_error(err, "case sgd/", "step 3 raised ZeroDivisionError")
    rc, out, err = optref(
        peers_dir, "vectors", "check", str(corpus), "--impl", "peers:sgd_wrong", "--algo", "sgd"
    )
    assert rc == MISMATCH and "FAIL sgd/default/normal" in out, (out, err)
    text = (corpus / "sgd.json").read_text()
    (corpus / "sgd.json").write_text(text.replace('"seed":0', '"seed":' + "7" * 400, 1))
    rc, out, err = optref(peers_dir, "vectors", "check", str(corpus), "--impl", "reference")
    assert rc == USAGE, (out, err)
    one_line_error(err, "malformed corpus", "400 digits")
    (corpus / "sgd.json").write_text("[" * 100_000 + "]" * 100_000)
    rc, out, err = optref(peers_dir, "vectors", "check", str(corpus), "--impl", "reference")
    assert rc == USAGE, (out, err)
    one_line_error(err, "malformed corpus", "nested too deeply")
    for args, needle in [
        (("check", str(peers_dir / "nowhere"), "--impl", "reference"), "not a directory"),
        (("export", str(peers_dir / "peers.py"), "--algorithms", "sgd"), "error"),  # a file, not a directory
        (
            ("export", str(peers_dir / "x"), "--algorithms", "lbfgs"),
            "'lbfgs' is not a gradient-stream algorithm",
        ),
        (("export", str(peers_dir / "x"), "--steps", "-3"), "--steps"),
        (("check", str(corpus)), "--impl"),
        (("frobnicate",), "invalid choice"),
    ]:
        rc, out, err = optref(peers_dir, "vectors", *args)
        assert rc == USAGE, (args, out, err)
        one_line_error(err, needle)

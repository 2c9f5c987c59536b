"""The README's first hour works as written.

* every ```python block of README.md runs (a fresh namespace each; a ``test_*`` function it defines
  is called, as pytest would); conformance calls run at small sizes (8 steps a stream and a 50-step
  long run instead of 30 and 1000: the same verdict logic on shorter streams);
* the hypergradient block's result equals a central difference of its own loss, and the figure
  the README prints beside it;
* the README's cheap shell lines run as subprocesses: ``optref check --only NAME --seed N`` and
  ``optref conform --impl MODULE:FUNCTION ...`` on the README's own function saved as that module
  (exit 0, no traceback);
* installing: the ``peers`` extra takes ranges (it keeps a user's torch), CI pins the versions of
  the recorded figures through .ci/constraints.txt; a skipped real-peer test says how to run it.

Time budget for the file: under 40 s on an idle 2-core machine (torch and jax imports included).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
PEERS_HINT = "pip install -e '.[test,peers]'"


def fenced(lang: str) -> list[tuple[int, str]]:
    """``(line, code)`` of every fenced block of ``lang`` in README.md (line: the fence's, 1-based)."""
    out = []
    for m in re.finditer(rf"^```{lang}\n(.*?)^```$", README, flags=re.M | re.S):
        out.append((README.count("\n", 0, m.start()) + 1, m.group(1)))
    return out


PYTHON = fenced("python")
SHELL = [line.strip() for _, code in fenced("bash") for line in code.splitlines()]
HYPERGRADIENT = [(n, code) for n, code in PYTHON if "loss_after_20_steps" in code]


def test_readme_keeps_its_contract_and_shows_the_three_jobs(children: dict[str, Child]) -> None:
    # (``children`` starts this file's subprocesses now, so that they run beside the tests below)
    # the first two commands are the project's contract
    assert README.startswith(
        "```bash\npython3 -m pip install -e '.[check]' && optref check\n"
        "python3 -m pip install -e '.[test]' && python3 -m pytest\n```\n"
    )
    assert len(HYPERGRADIENT) == 1
    assert any("assert_conforms(my_adam" in code and "def test_my_adam" in code for _, code in PYTHON)
    assert any("step_with(state, autograd.grad(f))" in code and "ref.nesterov" in code for _, code in PYTHON)
    assert any(re.fullmatch(r"optref conform --impl \w+:\w+ --algo adam --hp lr=1e-3", s) for s in SHELL)
    assert any(re.fullmatch(r"optref check --only \w+ --seed 7", s) for s in SHELL)
    assert "opt.query(state)" in README and PEERS_HINT in README


# ----------------------------------------------------------------------------------------------
# The python blocks


def _needs(code: str) -> list[str]:
    """The optional peers a block imports."""
    return [m for m in ("torch", "optax", "jax") if re.search(rf"^(import|from) {m}\b", code, flags=re.M)]


@pytest.fixture
def small_conformance(monkeypatch: pytest.MonkeyPatch) -> None:
    import reference.testing
    from reference.conform import conform

    def small(peer: Any, **kw: Any) -> Any:
        kw["n_steps"] = min(int(kw.get("n_steps", 8)), 8)
        return conform(peer, **{"long_steps": 50, **kw})

    monkeypatch.setattr(reference.testing, "conform", small)


def run_block(line: int, code: str) -> dict[str, Any]:
    """Run one block in a fresh namespace, then every ``test_*`` function it defines."""
    for module in _needs(code):
        pytest.importorskip(module, reason=f"{module} is not installed: {PEERS_HINT} runs this README block")
    namespace: dict[str, Any] = {"__name__": f"readme_line_{line}"}
    exec(compile(code, f"README.md, block at line {line}", "exec"), namespace)
    for name, fn in list(namespace.items()):
        if name.startswith("test_") and callable(fn):
            fn()
    return namespace


@pytest.mark.parametrize(
    "line, code", [pytest.param(n, c, id=f"line{n}") for n, c in PYTHON if (n, c) not in HYPERGRADIENT]
)
@pytest.mark.usefixtures("small_conformance")
def test_python_block_runs(line: int, code: str) -> None:
    run_block(line, code)


def test_hypergradient_block_matches_a_central_difference() -> None:
    line, code = HYPERGRADIENT[0]
    ns = run_block(line, code)
    loss, lr, h = ns["loss_after_20_steps"], 0.05, 1e-6
    assert f"({lr})" in code  # the block differentiates at the lr used here
    central = (loss(lr + h) - loss(lr - h)) / (2 * h)
    # truncation h^2 |L'''| / 6 and rounding eps |L| / h are both below 1e-8 relative here
    assert ns["hypergrad"] == pytest.approx(central, rel=1e-6)
    printed = re.search(r"dL/dlr = (-?\d+\.\d+)", code)
    assert printed is not None
    assert ns["hypergrad"] == pytest.approx(float(printed.group(1)), abs=1e-4)


# ----------------------------------------------------------------------------------------------
# The cheap shell lines, as a user runs them (subprocesses in a fresh directory)


def _cheap_lines() -> list[str]:
    return [
        s
        for s in SHELL
        if re.fullmatch(r"optref check --only \w+ --seed \d+", s)
        or re.fullmatch(r"optref conform --impl \w+:\w+ --algo \w+( --hp \S+)?", s)
    ]


def _defining_block(function: str) -> str:
    hits = [code for _, code in PYTHON if re.search(rf"^def {function}\(", code, flags=re.M)]
    assert len(hits) == 1, f"README defines {function} in {len(hits)} python blocks"
    return hits[0]


#: A child pytest with torch made unimportable: the real-peer module is skipped, and -rs says why.
NO_TORCH = (
    "import sys; sys.modules['torch'] = None; import pytest; "
    "raise SystemExit(pytest.main(['tests/test_peers_torch.py', '-p', 'no:cacheprovider']))"
)


@dataclass
class Child:
    """A subprocess started in the background; ``result()`` waits for it."""

    proc: subprocess.Popen[bytes]
    cwd: Path
    logs: Path

    def result(self, timeout: float = 300) -> tuple[int, str, str]:
        rc = self.proc.wait(timeout=timeout)
        return (
            rc,
            (self.logs / "stdout").read_text(encoding="utf-8"),
            (self.logs / "stderr").read_text(encoding="utf-8"),
        )


def _start(argv: list[str], cwd: Path, logs: Path) -> Child:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}  # a user's default warnings
    env["MPLBACKEND"] = "Agg"
    with open(logs / "stdout", "wb") as out, open(logs / "stderr", "wb") as err:
        return Child(subprocess.Popen(argv, cwd=cwd, stdout=out, stderr=err, env=env), cwd, logs)


@pytest.fixture(scope="module")
def children(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Child]]:
    """Every subprocess of this file, started at once (they overlap each other and the in-process
    tests; the first test of the file requests this fixture), killed at the end if still running."""
    runs: dict[str, Child] = {}
    for line in _cheap_lines():
        cwd, logs = tmp_path_factory.mktemp("user"), tmp_path_factory.mktemp("logs")
        args = shlex.split(line)[1:]
        if args[0] == "conform":
            module, function = args[args.index("--impl") + 1].split(":")
            (cwd / f"{module}.py").write_text(_defining_block(function), encoding="utf-8")
            args += ["--steps", "8", "--long-steps", "50", "--plot", ""]  # small sizes, no PNG
        else:
            args += ["--no-plots", "--no-progress"]
        runs[line] = _start([sys.executable, "-m", "reference", *args], cwd, logs)
    runs["no torch"] = _start([sys.executable, "-c", NO_TORCH], ROOT, tmp_path_factory.mktemp("logs"))
    yield runs
    for child in runs.values():
        if child.proc.poll() is None:
            child.proc.kill()
            child.proc.wait()


@pytest.mark.parametrize("line", _cheap_lines())
def test_shell_line_runs(line: str, children: dict[str, Child]) -> None:
    rc, out, err = children[line].result()
    assert rc == 0, (out, err)
    assert "Traceback" not in err, err
    if line.startswith("optref conform"):
        assert "verdict: CONFORMS" in out and "versions:  python" in out, out
    else:
        assert re.search(r"^1/1 claims hold \(quick tier, seed 7", out, flags=re.M), out
        assert (children[line].cwd / "report" / "report.md").is_file()


def test_the_cheap_shell_lines_are_found() -> None:
    kinds = sorted({shlex.split(s)[1] for s in _cheap_lines()})
    assert kinds == ["check", "conform"]


# ----------------------------------------------------------------------------------------------
# Installing: the peers extra, CI's pins, skipped tests


def _pins() -> dict[str, str]:
    text = (ROOT / ".ci" / "constraints.txt").read_text(encoding="utf-8")
    return dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)$", text, flags=re.M))


def test_the_peers_extra_takes_ranges_and_ci_pins_the_recorded_versions() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    peers = project["optional-dependencies"]["peers"]
    assert not [r for r in peers if "==" in r], peers  # an exact pin would replace the user's torch
    assert any(re.fullmatch(r"torch>=\d+\.\d+", r) for r in peers), peers
    pins = _pins()
    assert pins.get("torch") == "2.13.0" and {"jax", "jaxlib", "optax"} <= set(pins), pins
    # the pins are the versions the recorded conformance figures name
    spec = (ROOT / "specs" / "conformance.md").read_text(encoding="utf-8")
    for name in ("torch", "jax", "optax"):
        assert f"{name} {pins[name]}" in spec, name
    run = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    installs = [line for line in run.splitlines() if "pip install" in line]
    assert installs and all(
        "-c .ci/constraints.txt" in line and ".[test,peers,dask,hpo]" in line for line in installs
    )


def test_pytest_lists_skips_and_every_peer_skip_says_how_to_run_it() -> None:
    addopts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["pytest"][
        "ini_options"
    ]["addopts"]
    assert "-rs" in addopts.split()
    skips = []
    for path in sorted((ROOT / "tests").glob("test_*.py")):
        text = path.read_text(encoding="utf-8")
        calls = re.finditer(
            r'importorskip\(\s*"(?:torch|jax|optax|ml_dtypes)"(?:\s*,\s*reason=("[^"]*"|\'[^\']*\'))?\s*,?\s*\)',
            text,
        )
        found = [(path.name, m.group(0)) for m in calls]
        assert len(found) == len(re.findall(r'importorskip\(\s*"(?:torch|jax|optax|ml_dtypes)"', text)), (
            path.name
        )
        skips += found
    assert skips
    assert [s for s in skips if PEERS_HINT not in s[1]] == []


def test_without_torch_the_skip_reason_is_printed(children: dict[str, Child]) -> None:
    rc, out, err = children["no torch"].result()
    assert rc in (0, 5), (out, err)  # 5: pytest's "no test ran" (the module is skipped)
    assert "1 skipped" in out and "failed" not in out and "error" not in out, out
    assert re.search(
        r"SKIPPED \[1\] tests/test_peers_torch\.py:\d+: torch is not installed: " + re.escape(PEERS_HINT), out
    ), out

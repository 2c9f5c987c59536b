r"""Mutation testing: plant each bug of the catalogue (tools/mutants.py) in a scratch copy of the
repository and report which theory checks and which unit tests catch it.

    python -m tools.mutate                      the whole catalogue, one mutant at a time
    python -m tools.mutate --only em-drop-log-pi,grid-skips-last
    python -m tools.mutate --list               the catalogue
    python -m tools.mutate --validate           every entry applies to the current tree (fast)
    python -m tools.mutate --markdown out.md --report-json out.json

For each mutant:

1. the repository is copied to a scratch folder: the committed tree (``git archive HEAD``; with
   ``--worktree`` the working tree instead), without .git, report/ and caches;
2. the mutant's edits are applied (each ``old`` snippet must occur exactly once, else the entry is
   reported INVALID: catalogue entries must stay valid as the code changes);
3. (a) the theory checks at the quick tier, seed 0, plots off, run by ``tools/mutate_worker.py``
   with the scratch root as working directory and first on sys.path (the worker reports the
   ``reference`` and ``theory_checks`` files it imported and a run that imported anything outside
   the scratch copy is an error). Which checks: those that EXERCISE the mutated lines, i.e. that
   call a function of reference/ whose source span contains a mutated line, measured once per
   tree by a profiled baseline run of every check on the unmutated copy (a mutated line outside
   every function, e.g. a module constant, runs every check; ``--all-checks`` runs every check
   for every mutant). A check that fails on the unmutated baseline is not run (it could not tell).
   (b) the unit tests of the mutated module: tests/test_<module>.py and every test file that
   imports the module or names its public functions (found by grep), ``pytest -x`` in the scratch
   copy. Each stage has a timeout (``--timeout``, default 300 s); a timeout counts as caught and
   is marked so.
4. the result: caught by a check / caught by unit tests only / missed.

Results are cached (``--cache``, default ``<tempdir>/optref_mutate.jsonl``) by mutant and by a
fingerprint of the copied tree (reference/, theory_checks/, tests/, conftest.py, pyproject.toml),
so an interrupted run resumes and an unchanged tree is not run twice. Exit status 0 (it is a
report), 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import ast
import concurrent.futures
import dataclasses
import hashlib
import io
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .mutants import CATALOGUE, Mutant

PROG = "python -m tools.mutate"
ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CACHE = os.path.join(tempfile.gettempdir(), "optref_mutate.jsonl")
WORKER = Path(__file__).resolve().parent / "mutate_worker.py"
_IGNORE = (
    ".git",
    "report",
    "__pycache__",
    ".mypy_cache",
    ".pytest_cache",
    ".hypothesis",
    ".benchmarks",
    "*.egg-info",
    "build",
    "dist",
    "vectors-out",
    "*.png",
)
#: What the fingerprint of a tree covers (anything else, e.g. specs/ or tools/, cannot change a verdict).
_FINGERPRINTED = ("reference", "theory_checks", "tests", "conftest.py", "pyproject.toml")


class UsageError(ValueError):
    """A bad command-line argument."""


class MutantError(ValueError):
    """A catalogue entry does not apply to the tree (its old text is missing or repeated)."""


# ----------------------------------------------------------------------------------------------
# Applying mutants


def locate(text: str, old: str, *, who: str) -> int:
    """The offset of ``old`` in ``text``; MutantError unless it occurs exactly once."""
    n = text.count(old)
    if n != 1:
        where = "not found" if n == 0 else f"found {n} times"
        raise MutantError(f"{who}: old text {old[:70]!r} {where} (it must occur exactly once)")
    return text.index(old)


def touched_lines(text: str, mutant: Mutant) -> list[int]:
    """The 1-based lines of the pristine file that the mutant's edits replace."""
    out: list[int] = []
    for old, _ in mutant.edits:
        i = locate(text, old, who=mutant.id)
        first = text.count("\n", 0, i) + 1
        out.extend(range(first, first + old.rstrip("\n").count("\n") + 1))
    return sorted(set(out))


def apply_mutant(root: Path, mutant: Mutant) -> None:
    """Apply ``mutant`` to the tree at ``root`` in place (all edits checked before any is made)."""
    path = root / mutant.file
    if not path.is_file():
        raise MutantError(f"{mutant.id}: file {mutant.file} does not exist")
    text = path.read_text(encoding="utf-8")
    for old, new in mutant.edits:
        if old == new:
            raise MutantError(f"{mutant.id}: an edit does not change anything")
        locate(text, old, who=mutant.id)
    for old, new in mutant.edits:
        locate(text, old, who=mutant.id)  # an earlier edit must not create or remove a later one
        text = text.replace(old, new, 1)
    path.write_text(text, encoding="utf-8")


def validate(catalogue: Sequence[Mutant], root: Path, checks: Sequence[str]) -> list[str]:
    """Problems of the catalogue against the tree at ``root`` (empty list: all good)."""
    problems: list[str] = []
    seen: set[str] = set()
    for m in catalogue:
        if m.id in seen:
            problems.append(f"{m.id}: duplicate id")
        seen.add(m.id)
        if not m.file.startswith("reference/") or m.file.startswith("reference/conform/"):
            problems.append(f"{m.id}: {m.file} is not in reference/ (outside reference/conform/)")
        unknown = [c for c in m.claims if c not in checks]
        if unknown:
            problems.append(f"{m.id}: unknown check(s) {unknown}")
        if m.claim == "none" and not m.why.strip():
            problems.append(f"{m.id}: claim 'none' needs a 'why'")
        if not m.description.strip():
            problems.append(f"{m.id}: no description")
        try:
            text = (root / m.file).read_text(encoding="utf-8")
            for old, _ in m.edits:
                locate(text, old, who=m.id)
        except (OSError, MutantError) as exc:
            problems.append(str(exc))
    return problems


# ----------------------------------------------------------------------------------------------
# Scratch trees


def snapshot(dst: Path, *, worktree: bool, src: Path = ROOT) -> str:
    """Copy the repository to ``dst`` (committed HEAD by default); returns a description."""
    if worktree or not (src / ".git").exists():
        shutil.copytree(src, dst, ignore=shutil.ignore_patterns(*_IGNORE))
        return "working tree"
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=src, capture_output=True, text=True, check=True
    ).stdout.strip()
    data = subprocess.run(
        ["git", "archive", "--format=tar", commit], cwd=src, capture_output=True, check=True
    ).stdout
    dst.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(dst, filter="data")
    for name in ("report",):
        shutil.rmtree(dst / name, ignore_errors=True)
    return f"commit {commit[:12]}"


def tree_fingerprint(root: Path) -> str:
    h = hashlib.sha256()
    for top in _FINGERPRINTED:
        p = root / top
        files = sorted(p.rglob("*.py")) if p.is_dir() else ([p] if p.is_file() else [])
        for f in files:
            if "__pycache__" in f.parts:
                continue
            h.update(f"{f.relative_to(root).as_posix()}:".encode())
            h.update(hashlib.sha256(f.read_bytes()).digest())
    return h.hexdigest()[:16]


def _env(root: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(root)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["MPLBACKEND"] = "Agg"
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = "1"
    return env


@dataclass(frozen=True)
class StageResult:
    ran: tuple[str, ...]  # checks or test files run
    failed: tuple[str, ...]  # the ones that failed (for tests: the file of the first failure, or "pytest")
    timeout: bool
    seconds: float
    detail: str  # failing rows / error / pytest's summary line


def run_checks(
    root: Path, checks: Sequence[str], *, timeout: float, profile: bool = False
) -> tuple[StageResult, dict[str, Any]]:
    """Run ``checks`` in the scratch tree ``root`` through the worker; verifies the imports."""
    if not checks:
        return StageResult((), (), False, 0.0, ""), {}
    shutil.copyfile(WORKER, root / "_mutant_worker.py")
    out = root / "_mutant_result.json"
    cmd = [sys.executable, "_mutant_worker.py", "--checks", ",".join(checks), "--out", str(out)]
    if profile:
        cmd.append("--profile")
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=root, env=_env(root), capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return StageResult(
            tuple(checks), ("timeout",), True, time.perf_counter() - t0, f"timeout after {timeout:.0f} s"
        ), {}
    secs = time.perf_counter() - t0
    if proc.returncode != 0 or not out.is_file():
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return StageResult(tuple(checks), ("worker",), False, secs, "worker crashed: " + " | ".join(tail)), {}
    doc: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    scratch = str(root.resolve()) + os.sep
    for key in ("reference_file", "theory_checks_file"):
        if not str(doc.get(key, "")).startswith(scratch):
            raise RuntimeError(
                f"isolation broken: the worker imported {doc.get(key)!r}, not the scratch copy {scratch}"
            )
    res = doc["results"]
    failed = tuple(n for n in checks if not res[n]["holds"])
    detail = "; ".join(f"{n}: {res[n]['error'] or (res[n]['failing'] or ['?'])[0]}" for n in failed)
    return StageResult(tuple(checks), failed, False, secs, detail), res


_SUMMARY = re.compile(r"^(?:=+ )?(.*\b(?:passed|failed|error|errors|no tests ran)\b.*?)(?: =+)?$")


def run_tests(root: Path, files: Sequence[str], *, timeout: float) -> StageResult:
    """``pytest -x`` on ``files`` in the scratch tree."""
    if not files:
        return StageResult((), (), False, 0.0, "no unit test file for this module")
    cmd = [sys.executable, "-m", "pytest", "-o", "addopts=", "-x", "-q", "-p", "no:cacheprovider", *files]
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=root, env=_env(root), capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return StageResult(
            tuple(files), ("timeout",), True, time.perf_counter() - t0, f"timeout after {timeout:.0f} s"
        )
    secs = time.perf_counter() - t0
    lines = proc.stdout.strip().splitlines()
    summary = next(
        (m.group(1) for ln in reversed(lines) if (m := _SUMMARY.match(ln.strip()))),
        lines[-1] if lines else "",
    )
    if proc.returncode == 0:
        return StageResult(tuple(files), (), False, secs, summary)
    if proc.returncode == 5:  # no tests collected
        return StageResult(tuple(files), (), False, secs, summary or "no tests collected")
    first = next(
        (
            ln.split("::")[0].replace("FAILED ", "").replace("ERROR ", "").strip()
            for ln in lines
            if ln.startswith(("FAILED", "ERROR"))
        ),
        "pytest",
    )
    return StageResult(tuple(files), (first,), False, secs, summary)


def run_test_files(root: Path, files: Sequence[str], *, timeout: float) -> StageResult:
    """The module's own test file first (most bugs fail there, and pytest then need not collect
    the rest), then the other files that import the module."""
    if len(files) < 2:
        return run_tests(root, files, timeout=timeout)
    first = run_tests(root, files[:1], timeout=timeout)
    if first.failed:
        return StageResult(tuple(files), first.failed, first.timeout, first.seconds, first.detail)
    rest = run_tests(root, files[1:], timeout=timeout)
    return StageResult(
        tuple(files),
        rest.failed,
        rest.timeout,
        first.seconds + rest.seconds,
        f"{first.detail}; {rest.detail}",
    )


# ----------------------------------------------------------------------------------------------
# Which checks and which tests a mutant concerns


def function_spans(source: str, filename: str = "<mutant>") -> list[tuple[int, int]]:
    """(first, last) lines of every function code object in ``source`` (not module/class bodies)."""
    import inspect

    from .mutate_worker import code_span

    out: list[tuple[int, int]] = []
    todo = [compile(source, filename, "exec")]
    while todo:
        code = todo.pop()
        if code.co_flags & inspect.CO_NEWLOCALS:
            out.append(code_span(code))
        todo.extend(c for c in code.co_consts if hasattr(c, "co_code"))
    return out


def select_checks(
    mutant: Mutant, source: str, baseline: dict[str, Any], checks: Sequence[str]
) -> tuple[list[str], str]:
    """The checks whose baseline run called a function containing a mutated line (in CHECKS
    order), and how they were chosen."""
    lines = touched_lines(source, mutant)
    appended = [e for e in mutant.edits if e[1].startswith(e[0])]
    if appended and len(appended) < len(mutant.edits):
        # a pure insertion after old text (e.g. a new module-level helper that another edit uses)
        # changes nothing by itself: the other edits' lines decide
        rest = Mutant(
            mutant.id, mutant.file, tuple(e for e in mutant.edits if e not in appended), "", "none", "-"
        )
        lines = touched_lines(source, rest)
    inside = [any(a <= ln <= b for a, b in function_spans(source)) for ln in lines]
    if not all(inside):
        return list(checks), "a mutated line is outside every function: all checks"
    chosen = [
        c
        for c in checks
        if any(f == mutant.file and a <= ln <= b for f, a, b in baseline.get(c, ()) for ln in lines)
    ]
    return chosen, "checks that call the mutated function(s)"


def public_names(source: str) -> list[str]:
    """Top-level public functions and classes of a module (the names a test would use)."""
    names: list[str] = []
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and not node.name.startswith("_"):
            names.append(node.name)
    return names


#: Test files named otherwise than tests/test_<module>.py (specs/sgd.md: SGD's cases are in test_gd.py).
_OWN_TESTS = {"reference/sgd": "test_gd.py", "reference/_core": "test_contract.py"}
#: Test files that test tools/, not reference/ (they name reference functions in their fixtures).
_NOT_UNIT_TESTS = {"test_tools.py"}
#: Names too generic to identify a module in a test file.
_GENERIC = {"init", "step", "query", "main", "check", "run", "Optimizer", "Method", "entry", "make"}


def test_files_for(mutant: Mutant, root: Path) -> list[str]:
    """tests/test_<module>.py and every tests/test_*.py that imports the module or names one of
    its public functions or classes (grep); the module's own file first."""
    rel = Path(mutant.file).with_suffix("")  # reference/problems/linear
    dotted = ".".join(rel.parts)  # reference.problems.linear
    stem = rel.name
    source = (root / mutant.file).read_text(encoding="utf-8")
    names = [n for n in public_names(source) if n not in _GENERIC and len(n) >= 4]
    if not stem.startswith("_"):
        names.append(stem)
    pats = [
        re.escape(dotted) + r"\b",
        r"from\s+" + re.escape(".".join(rel.parts[:-1])) + r"\s+import\s[^\n]*\b" + re.escape(stem) + r"\b",
    ]
    if names:
        alt = "|".join(re.escape(n) for n in sorted(set(names)))
        pats.append(r"\b(?:ref|reference|problems|hpo)\.(?:" + alt + r")\b")
        pats.append(r"from\s+reference(?:\.\w+)*\s+import\s+[^\n]*\b(?:" + alt + r")\b")
        pats.append(r"from\s+reference(?:\.\w+)*\s+import\s+\([^)]*\b(?:" + alt + r")\b")
    rx = re.compile("|".join(f"(?:{p})" for p in pats))
    own = _OWN_TESTS.get(rel.as_posix(), f"test_{stem.lstrip('_')}.py")
    if rel.parts[:2] == ("reference", "problems"):
        own = "test_problems.py"
    out = []
    for f in sorted((root / "tests").glob("test_*.py")):
        if f.name in _NOT_UNIT_TESTS:
            continue
        if f.name == own or rx.search(f.read_text(encoding="utf-8")):
            out.append(f"tests/{f.name}")
    return sorted(out, key=lambda f: (not f.endswith("/" + own), f))  # the module's own tests first


# ----------------------------------------------------------------------------------------------
# One mutant


@dataclass(frozen=True)
class MutantResult:
    id: str
    file: str
    description: str
    claim: str
    fingerprint: str
    status: str  # "check" | "tests-only" | "missed" | "invalid"
    checks: StageResult | None
    tests: StageResult | None
    selection: str
    error: str = ""
    seconds: float = 0.0

    @property
    def claim_caught(self) -> bool | None:
        """Caught by one of the checks named in ``claim`` (None for claim "none")."""
        if self.claim == "none":
            return None
        named = {c.strip() for c in self.claim.split(",")}
        return bool(self.checks and named & set(self.checks.failed))

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @staticmethod
    def from_dict(d: dict[str, Any]) -> MutantResult:
        def stage(s: dict[str, Any] | None) -> StageResult | None:
            if s is None:
                return None
            return StageResult(
                tuple(s["ran"]), tuple(s["failed"]), bool(s["timeout"]), float(s["seconds"]), str(s["detail"])
            )

        return MutantResult(
            id=d["id"],
            file=d["file"],
            description=d["description"],
            claim=d["claim"],
            fingerprint=d["fingerprint"],
            status=d["status"],
            checks=stage(d["checks"]),
            tests=stage(d["tests"]),
            selection=d["selection"],
            error=d.get("error", ""),
            seconds=float(d.get("seconds", 0.0)),
        )


def classify(checks: StageResult | None, tests: StageResult | None) -> str:
    if checks is not None and checks.failed:
        return "check"
    if tests is not None and tests.failed:
        return "tests-only"
    return "missed"


_NOT_RUN = "not run:"


@dataclass(frozen=True)
class Plan:
    """What a mutant runs: the checks (and why those), the unit-test files, and the cache key,
    a hash of exactly the inputs that decide its outcome."""

    mutant: Mutant
    checks: tuple[str, ...]
    selection: str
    test_files: tuple[str, ...]
    key: str
    error: str = ""  # the entry does not apply (status "invalid")


def _files_digest(root: Path, rels: Iterable[str]) -> str:
    h = hashlib.sha256()
    for rel in sorted(set(rels)):
        p = root / rel
        h.update(f"{rel}:".encode())
        h.update(hashlib.sha256(p.read_bytes()).digest() if p.is_file() else b"-")
    return h.hexdigest()


def _inputs_of_checks(root: Path, checks: Sequence[str]) -> list[str]:
    from .false_alarms import check_files, shared_check_files

    cdir = root / "theory_checks"
    files = [p for c in checks for p in check_files(cdir, c)] + shared_check_files(cdir)
    files += [cdir / "__init__.py", cdir / "runner.py"]
    return [p.relative_to(root).as_posix() for p in files]


def _inputs_of_tests(root: Path, test_files: Sequence[str]) -> list[str]:
    support = [
        p.relative_to(root).as_posix()
        for p in (root / "tests").glob("*.py")
        if not p.name.startswith("test_")
    ]
    return [*test_files, *support, "conftest.py", "pyproject.toml"]


def plan(
    m: Mutant,
    pristine: Path,
    baseline: dict[str, Any],
    checks: Sequence[str],
    *,
    all_checks: bool,
    timeout: float,
    tests: str,
    reference_digest: str | tuple[str, str],
) -> Plan:
    """Choose the checks and test files of ``m`` on the unmutated copy and key the result by the
    reference tree, the mutant, those checks' files (with the shared modules and the runner), the
    test files (with the test helpers, conftest.py and pyproject.toml) and the timeout. (``tests``
    is not in the key: a result whose unit tests were skipped is reused only by ``if-needed``.)"""
    path = pristine / m.file
    source = path.read_text(encoding="utf-8") if path.is_file() else ""
    try:
        touched_lines(source, m)
    except MutantError as exc:
        return Plan(m, (), "", (), "", str(exc))
    ok_checks = [c for c in checks if baseline["holds"].get(c)]
    if all_checks:
        chosen, how = ok_checks, "all checks"
    else:
        chosen, how = select_checks(m, source, baseline["spans"], ok_checks)
    test_files = test_files_for(m, pristine)
    if isinstance(reference_digest, tuple):  # (without conform, with conform): conform counts only
        uses_conform = any("conform" in f or "peers" in f or "vectors" in f for f in test_files)
        reference_digest = reference_digest[1] if uses_conform else reference_digest[0]
    key = hashlib.sha256(
        repr(
            (
                m.file,
                m.edits,
                reference_digest,
                tuple(chosen),
                tuple(test_files),
                timeout,
                "always",
                _files_digest(pristine, _inputs_of_checks(pristine, chosen)),
                _files_digest(pristine, _inputs_of_tests(pristine, test_files)),
            )
        ).encode()
    ).hexdigest()[:20]
    return Plan(m, tuple(chosen), how, tuple(test_files), key)


def reference_digest(root: Path, *, conform: bool = True) -> str:
    """Hash of reference/**/*.py; without ``conform``, reference/conform/ and the command-line
    files (which no check and no unit test of another module imports) are left out."""
    files = [
        p.relative_to(root).as_posix()
        for p in (root / "reference").rglob("*.py")
        if "__pycache__" not in p.parts
    ]
    if not conform:
        files = [
            f
            for f in files
            if not f.startswith("reference/conform/") and Path(f).name not in ("cli.py", "__main__.py")
        ]
    return _files_digest(root, files)


def run_mutant(
    pl: Plan, pristine: Path, fingerprint: str, *, timeout: float, workdir: Path, tests: str = "always"
) -> MutantResult:
    m = pl.mutant
    t0 = time.perf_counter()
    if pl.error:
        return MutantResult(
            m.id, m.file, m.description, m.claim, fingerprint, "invalid", None, None, "", pl.error
        )
    scratch = workdir / m.id
    shutil.rmtree(scratch, ignore_errors=True)
    shutil.copytree(pristine, scratch)
    try:
        apply_mutant(scratch, m)
        c_res, _ = run_checks(scratch, pl.checks, timeout=timeout)
        if tests == "if-needed" and c_res.failed:
            t_res = StageResult((), (), False, 0.0, _NOT_RUN + " a check caught it (--tests if-needed)")
        else:
            t_res = run_test_files(scratch, pl.test_files, timeout=timeout)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return MutantResult(
        m.id,
        m.file,
        m.description,
        m.claim,
        fingerprint,
        classify(c_res, t_res),
        c_res,
        t_res,
        pl.selection,
        seconds=time.perf_counter() - t0,
    )


# ----------------------------------------------------------------------------------------------
# Cache


class Cache:
    """JSON lines: {"kind": "baseline", "fingerprint", ...} and {"kind": "mutant", "key", "result"}."""

    def __init__(self, path: str) -> None:
        self.path = path

    def _lines(self) -> Iterable[dict[str, Any]]:
        try:
            with open(self.path, encoding="utf-8") as f:
                for line in f:
                    try:
                        yield json.loads(line)
                    except ValueError:
                        continue
        except FileNotFoundError:
            return

    def baseline(self, fingerprint: str) -> dict[str, Any] | None:
        found = None
        for d in self._lines():
            if d.get("kind") == "baseline" and d.get("fingerprint") == fingerprint:
                found = d
        return found

    def mutants(self) -> dict[str, MutantResult]:
        out: dict[str, MutantResult] = {}
        for d in self._lines():
            if d.get("kind") == "mutant":
                try:
                    out[str(d["key"])] = MutantResult.from_dict(d["result"])
                except (KeyError, TypeError, ValueError):
                    continue
        return out

    def append(self, doc: dict[str, Any]) -> None:
        data = (json.dumps(doc, separators=(",", ":")) + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)


def compute_baseline(
    pristine: Path, checks: Sequence[str], fingerprint: str, *, timeout: float
) -> dict[str, Any]:
    """Profiled run of every check on the unmutated copy (holds + called functions), and a check
    that pytest in the scratch copy imports the scratch ``reference``."""
    stage, res = run_checks(pristine, checks, timeout=max(timeout, 600.0), profile=True)
    if not res:
        raise RuntimeError(f"baseline run failed: {stage.detail}")
    probe = pristine / "_isolation_probe.py"
    probe.write_text(
        "import os, reference, theory_checks\n\n\ndef test_isolation():\n"
        "    here = os.path.dirname(os.path.abspath(__file__)) + os.sep\n"
        "    assert reference.__file__.startswith(here), reference.__file__\n"
        "    assert theory_checks.__file__.startswith(here), theory_checks.__file__\n",
        encoding="utf-8",
    )
    iso = run_tests(pristine, [probe.name], timeout=timeout)
    probe.unlink()
    if iso.failed or "1 passed" not in iso.detail:
        raise RuntimeError(
            f"isolation broken: pytest in the scratch copy does not import its reference ({iso.detail})"
        )
    return {
        "kind": "baseline",
        "fingerprint": fingerprint,
        "holds": {c: bool(res[c]["holds"]) for c in checks},
        "failing": {c: res[c]["failing"] or res[c]["error"] for c in checks if not res[c]["holds"]},
        "seconds": {c: res[c]["seconds"] for c in checks},
        "spans": {c: [list(s) for s in res[c]["spans"]] for c in checks},
    }


# ----------------------------------------------------------------------------------------------
# Output


@dataclass(frozen=True)
class Tally:
    total: int
    by_check: int
    tests_only: int
    missed: int
    invalid: int
    claim_total: int  # mutants with a claim
    claim_caught: int  # ... caught by that claim's check
    timeouts: int
    ids_missed_claim: tuple[str, ...] = field(default_factory=tuple)


def tally(results: Sequence[MutantResult]) -> Tally:
    claimed = [r for r in results if r.claim != "none" and r.status != "invalid"]
    return Tally(
        total=len(results),
        by_check=sum(r.status == "check" for r in results),
        tests_only=sum(r.status == "tests-only" for r in results),
        missed=sum(r.status == "missed" for r in results),
        invalid=sum(r.status == "invalid" for r in results),
        claim_total=len(claimed),
        claim_caught=sum(bool(r.claim_caught) for r in claimed),
        timeouts=sum(bool((r.checks and r.checks.timeout) or (r.tests and r.tests.timeout)) for r in results),
        ids_missed_claim=tuple(r.id for r in claimed if not r.claim_caught),
    )


_STATUS = {
    "check": "caught by a check",
    "tests-only": "unit tests only",
    "missed": "MISSED",
    "invalid": "INVALID",
}


def _short_tests(t: StageResult | None) -> str:
    if t is None:
        return "-"
    if t.detail.startswith(_NOT_RUN):
        return "not run"
    if not t.ran:
        return "no test file"
    if t.timeout:
        return "timeout"
    n = len(t.ran)
    return (
        ("FAIL " + ",".join(Path(f).name for f in t.failed))
        if t.failed
        else f"pass ({n} file{'s' * (n != 1)})"
    )


def _short_checks(c: StageResult | None) -> str:
    if c is None:
        return "-"
    if not c.ran:
        return "none run"
    if c.failed:
        return "FAIL " + ",".join(c.failed)
    return f"pass ({len(c.ran)})"


def format_text(results: Sequence[MutantResult]) -> str:
    from .false_alarms import text_table

    t = tally(results)
    rows = [
        (
            r.id,
            r.file.removeprefix("reference/"),
            r.claim,
            _short_checks(r.checks),
            _short_tests(r.tests),
            _STATUS[r.status],
        )
        for r in results
    ]
    lines = [text_table(("mutant", "file", "claim", "checks", "unit tests", "result"), rows), ""]
    lines += summary_lines(t)
    for r in results:
        if r.status == "invalid":
            lines.append(f"  INVALID {r.id}: {r.error}")
    return "\n".join(lines)


def summary_lines(t: Tally) -> list[str]:
    return [
        f"mutants: {t.total}   caught by a check: {t.by_check}   unit tests only: {t.tests_only}   "
        f"missed: {t.missed}   invalid: {t.invalid}   (timeouts counted as caught: {t.timeouts})",
        f"mutants with a claim: {t.claim_total}, caught by that claim's check: {t.claim_caught}"
        + (f"; not by it: {', '.join(t.ids_missed_claim)}" if t.ids_missed_claim else ""),
    ]


def format_markdown(results: Sequence[MutantResult], catalogue: dict[str, Mutant]) -> str:
    def cell(s: str) -> str:
        return " ".join(s.split()).replace("|", "\\|")

    t = tally(results)
    out = [
        "| # | mutant | file | bug | claim | checks that failed | unit tests | result |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for i, r in enumerate(results, 1):
        checks = (
            "-" if r.checks is None else (", ".join(r.checks.failed) or f"none of {len(r.checks.ran)} run")
        )
        out.append(
            "| "
            + " | ".join(
                cell(x)
                for x in (
                    str(i),
                    f"`{r.id}`",
                    r.file.removeprefix("reference/"),
                    r.description,
                    r.claim,
                    checks,
                    _short_tests(r.tests),
                    _STATUS[r.status],
                )
            )
            + " |"
        )
    out += ["", *summary_lines(t)]
    nones = [r for r in results if r.claim == "none"]
    if nones:
        out += ["", "Mutants outside every claim (why no claim covers them):", ""]
        out += [
            f"- `{r.id}` ({_STATUS[r.status]}): {cell(catalogue[r.id].why)}"
            for r in nones
            if r.id in catalogue
        ]
    return "\n".join(out) + "\n"


# ----------------------------------------------------------------------------------------------
# Command line


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG, description="Mutation testing of the theory checks and unit tests."
    )
    p.add_argument("--only", action="append", metavar="IDS", help="mutant ids (comma list, repeatable)")
    p.add_argument("--jobs", type=int, default=1, metavar="N", help="mutants run at once (default 1)")
    p.add_argument(
        "--timeout", type=float, default=300.0, metavar="S", help="per stage and mutant (default 300)"
    )
    p.add_argument("--all-checks", action="store_true", help="run every check for every mutant")
    p.add_argument(
        "--tests",
        choices=("always", "if-needed"),
        default="always",
        help="run the unit tests always (default) or only when no check caught the mutant",
    )
    p.add_argument("--worktree", action="store_true", help="copy the working tree instead of HEAD")
    p.add_argument(
        "--cache", default=DEFAULT_CACHE, metavar="PATH", help=f"cache file (default {DEFAULT_CACHE})"
    )
    p.add_argument("--list", action="store_true", help="print the catalogue and exit")
    p.add_argument(
        "--validate", action="store_true", help="check every entry applies to the current tree, and exit"
    )
    p.add_argument("--markdown", metavar="PATH", help="also write the table as markdown")
    p.add_argument("--report-json", metavar="PATH", help="also write every result as JSON")
    return p


def parse_ids(values: Sequence[str] | None, catalogue: Sequence[Mutant]) -> list[Mutant]:
    if not values:
        return list(catalogue)
    by_id = {m.id: m for m in catalogue}
    ids = [i.strip() for v in values for i in v.split(",") if i.strip()]
    unknown = [i for i in ids if i not in by_id]
    if unknown:
        raise UsageError(f"--only: unknown mutant id(s) {', '.join(unknown)} (see --list)")
    if not ids:
        raise UsageError("--only: no mutant id given")
    return [by_id[i] for i in dict.fromkeys(ids)]


def _terminate(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    from theory_checks import CHECKS

    try:
        chosen = parse_ids(args.only, CATALOGUE)
        if args.jobs < 1:
            raise UsageError(f"--jobs must be >= 1, got {args.jobs}")
        if not (math.isfinite(args.timeout) and args.timeout > 0):
            raise UsageError(f"--timeout must be a number of seconds > 0, got {args.timeout}")
        if not os.path.isdir(os.path.dirname(os.path.abspath(args.cache))):
            raise UsageError(f"--cache: folder of {args.cache} does not exist")
    except UsageError as exc:
        parser.print_usage(sys.stderr)
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    if args.list:
        for m in chosen:
            print(f"{m.id:<30} {m.file.removeprefix('reference/'):<26} {m.claim:<40} {m.description}")
        print(f"\n{len(chosen)} mutants, {sum(m.claim != 'none' for m in chosen)} with a claim")
        return 0
    if args.validate:
        problems = validate(chosen, ROOT, CHECKS)
        for msg in problems:
            print(msg)
        print(f"{len(chosen)} mutants checked against {ROOT}: {len(problems)} problem(s)")
        return 1 if problems else 0

    cache = Cache(args.cache)
    signal.signal(signal.SIGTERM, _terminate)  # so that the scratch folders are removed
    work = Path(tempfile.mkdtemp(prefix="optref_mutate_"))
    try:
        pristine = work / "pristine"
        source = snapshot(pristine, worktree=args.worktree)
        fp = tree_fingerprint(pristine)
        print(f"{PROG}: {len(chosen)} mutants on {source} (tree {fp}); cache {args.cache}", file=sys.stderr)
        baseline = cache.baseline(fp)
        if baseline is None:
            print(f"{PROG}: baseline: profiling every check on the unmutated copy ...", file=sys.stderr)
            baseline = compute_baseline(pristine, CHECKS, fp, timeout=args.timeout)
            cache.append(baseline)
        bad = [c for c in CHECKS if not baseline["holds"].get(c)]
        if bad:
            print(
                f"{PROG}: warning: failing on the unmutated tree, not used: {', '.join(bad)}", file=sys.stderr
            )
        done = cache.mutants()
        results: dict[str, MutantResult] = {}
        todo: list[Plan] = []
        ref_digest = (reference_digest(pristine, conform=False), reference_digest(pristine))
        for m in chosen:
            pl = plan(
                m,
                pristine,
                baseline,
                CHECKS,
                all_checks=args.all_checks,
                timeout=args.timeout,
                tests=args.tests,
                reference_digest=ref_digest,
            )
            hit = done.get(pl.key) if pl.key else None
            if hit is not None and not (
                args.tests == "always" and hit.tests is not None and hit.tests.detail.startswith(_NOT_RUN)
            ):
                # (a result without unit tests serves --tests if-needed only); the catalogue's
                # current description and claim replace the cached ones (they are not in the key)
                results[m.id] = dataclasses.replace(hit, description=m.description, claim=m.claim)
            else:
                todo.append(pl)
        print(f"{PROG}: {len(results)} cached, {len(todo)} to run", file=sys.stderr)

        def one(pl: Plan) -> tuple[str, MutantResult]:
            return pl.key, run_mutant(pl, pristine, fp, timeout=args.timeout, workdir=work, tests=args.tests)

        pool = concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs)
        try:
            for i, (key, res) in enumerate(pool.map(one, todo), 1):
                if key:
                    cache.append({"kind": "mutant", "key": key, "result": asdict(res)})
                results[res.id] = res
                print(
                    f"[{i}/{len(todo)}] {res.id}: {_STATUS[res.status]} (checks {_short_checks(res.checks)}; "
                    f"tests {_short_tests(res.tests)}; {res.seconds:.0f} s)",
                    file=sys.stderr,
                )
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    ordered = [results[m.id] for m in chosen]
    print(format_text(ordered))
    meta = {
        "source": source,
        "tree": fp,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": " ".join([PROG, *(sys.argv[1:] if argv is None else argv)]),
    }
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as f:
            f.write(f"Run {meta['created']} on {source} (tree {fp}): `{meta['command']}`\n\n")
            f.write(format_markdown(ordered, {m.id: m for m in CATALOGUE}))
    if args.report_json:
        with open(args.report_json, "w", encoding="utf-8") as f:
            json.dump(
                {
                    "meta": meta,
                    "baseline_failing": baseline.get("failing", {}),
                    "results": [asdict(r) for r in ordered],
                },
                f,
                indent=1,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

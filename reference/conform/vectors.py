"""Golden vectors: a language-neutral JSON corpus of reference trajectories (specs/vectors.md).

    export_vectors(directory)                  # index.json + one <algorithm>.json per algorithm
    corpus = load_vectors(directory)           # validated; malformed input names the file and field
    report = check_vectors(corpus, fn)         # fn follows FunctionPeer's calling convention

Each case holds the hyperparameters, theta_0, the gradient sequence (open loop) and the expected
iterates theta_1..theta_n. Floats are written with Python's shortest round-trip repr, so a
reader in any language that parses IEEE doubles correctly recovers the exact values. Nothing is
ever unpickled.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from .._registry import ALGORITHMS, entry
from .core import (
    Comparison,
    FunctionPeer,
    NotComparable,
    Peer,
    PeerFailed,
    ReferencePeer,
    ReferenceSpec,
    Run,
    run_peer,
    run_reference,
)
from .streams import STREAMS, initial_point, open_loop
from .tolerance import Tolerance
from .variants import candidate_specs, factory_defaults, factory_params, full_hyperparams

SCHEMA = "optim-reference/golden-vectors"
SCHEMA_VERSION = 1
INDEX = "index.json"

#: The learning rate of each algorithm's base case (other hyperparameters: the factory defaults).
BASE_LR: dict[str, float] = {
    "gd": 0.05,
    "sgd": 0.05,
    "momentum": 0.05,
    "nesterov": 0.05,
    "signsgd": 1e-2,
    "lion": 1e-3,
    "adagrad": 0.1,
    "rmsprop": 1e-2,
    "adadelta": 1.0,
    "adam": 1e-2,
    "adamw": 1e-2,
}
WEIGHT_DECAY = 0.1
N_STEPS = 16
DIM = 4


class VectorFormatError(ValueError):
    """A vector file is malformed; the message names the file and the field."""

    def __init__(self, file: str | os.PathLike[str], field_path: str, problem: str) -> None:
        super().__init__(f"{os.fspath(file)}: field {field_path!r}: {problem}")
        self.file = os.fspath(file)
        self.field = field_path


@dataclass(frozen=True)
class Case:
    id: str
    algorithm: str
    variant: str
    description: str
    hyperparameters: dict[str, Any]
    stream: str
    seed: int
    params0: np.ndarray
    grads: np.ndarray
    expected: np.ndarray


@dataclass(frozen=True)
class Corpus:
    directory: str
    schema_version: int
    generator: str
    cases: list[Case]

    def algorithms(self) -> list[str]:
        return sorted({c.algorithm for c in self.cases})


# ----------------------------------------------------------------------------------------------
# Export


def _json_value(v: Any) -> Any:
    if isinstance(v, (bool, str)) or v is None:
        return v
    if isinstance(v, (int, float, np.integer, np.floating)):
        f = float(v)
        if not math.isfinite(f):
            raise ValueError(f"hyperparameter value {v!r} is not finite")
        return int(v) if isinstance(v, (int, np.integer)) and not isinstance(v, bool) else f
    raise ValueError(f"hyperparameter value {v!r} is not JSON-representable (schedules are not exported)")


def variants_of(algorithm: str) -> list[tuple[str, str, ReferenceSpec]]:
    """(variant name, description, spec): the base case, its weight-decay case, and every knob of each."""
    base_hp: dict[str, Any] = {"lr": BASE_LR.get(algorithm, 1e-2)}
    bases = [("default", f"factory defaults with lr={base_hp['lr']}", ReferenceSpec(algorithm, base_hp))]
    defaults = factory_defaults(algorithm)
    if "weight_decay" in defaults and defaults["weight_decay"] == 0.0:
        bases.append(
            (
                "weight_decay",
                f"lr={base_hp['lr']}, weight_decay={WEIGHT_DECAY}",
                ReferenceSpec(algorithm, {**base_hp, "weight_decay": WEIGHT_DECAY}),
            )
        )
    out, seen = [], set()
    for name, text, spec in bases:
        items = [(name, text, spec)]
        for key, kdesc, cand in candidate_specs(spec):
            items.append((f"{name}+{key}", f"{text}; {kdesc}", cand))
        for vname, vtext, vspec in items:
            key = repr(sorted(full_hyperparams(vspec).items()))
            if key not in seen and vspec.algorithm == algorithm:
                seen.add(key)
                out.append((vname, vtext, vspec))
    return out


def exportable_algorithms() -> list[str]:
    """Registered algorithms whose step takes a gradient array (``Optimizer``, not ``Method``)."""
    from .._core import Optimizer

    out = []
    for a in ALGORITHMS:
        if a not in BASE_LR:
            continue
        try:
            opt = entry(a).factory(lr=BASE_LR[a])
        except TypeError:
            continue
        if isinstance(opt, Optimizer):
            out.append(a)
    return out


def _cases(a: str, x0: np.ndarray, seed: int, n_steps: int, dim: int) -> list[dict[str, Any]]:
    """One case per (variant, stream) of algorithm ``a`` whose reference trajectory is finite."""
    cases = []
    for vname, vtext, spec in variants_of(a):
        for s in STREAMS:
            grads = open_loop(s, seed, n_steps, dim)
            with np.errstate(all="ignore"):
                run = run_reference(spec.build(), x0, grads=grads)
            if not np.all(np.isfinite(run.iterates)):
                continue
            cases.append(
                {
                    "id": f"{a}/{vname}/{s}",
                    "algorithm": spec.algorithm,
                    "variant": vname,
                    "description": vtext,
                    "hyperparameters": {k: _json_value(v) for k, v in full_hyperparams(spec).items()},
                    "stream": s,
                    "seed": seed,
                    "params0": x0.tolist(),
                    "grads": grads.tolist(),
                    "expected": run.iterates[1:].tolist(),
                }
            )
    return cases


def export_vectors(
    directory: str | os.PathLike[str],
    *,
    algorithms: Sequence[str] | None = None,
    seed: int = 0,
    n_steps: int = N_STEPS,
    dim: int = DIM,
) -> dict[str, int]:
    """Write ``index.json`` and ``<algorithm>.json`` files; returns the case count per algorithm.

    Cases whose reference trajectory is not finite (e.g. eps = 0 on a stream that starts with a
    zero gradient: 0/0) are left out, since JSON has no NaN.
    """
    algos = list(algorithms) if algorithms is not None else exportable_algorithms()
    for a in algos:
        if a not in ALGORITHMS:
            raise ValueError(f"algorithms: {a!r} is not registered ({', '.join(ALGORITHMS)})")
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    x0 = initial_point(seed, dim)
    files, counts = [], {}
    for a in algos:
        cases = _cases(a, x0, seed, n_steps, dim)
        doc = {"schema": SCHEMA, "schema_version": SCHEMA_VERSION, "algorithm": a, "cases": cases}
        text = json.dumps(doc, allow_nan=False, indent=None, separators=(",", ":"))
        (root / f"{a}.json").write_text(text + "\n", encoding="utf-8")
        files.append(
            {
                "path": f"{a}.json",
                "algorithm": a,
                "cases": len(cases),
                "sha256": hashlib.sha256((text + "\n").encode()).hexdigest(),
            }
        )
        counts[a] = len(cases)
    index = {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "generator": f"optim-reference {__version__}",
        "streams": list(STREAMS),
        "n_steps": n_steps,
        "dim": dim,
        "seed": seed,
        "files": files,
    }
    (root / INDEX).write_text(json.dumps(index, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    return counts


# ----------------------------------------------------------------------------------------------
# Load and validate


#: Integers in a corpus (seeds, counts, versions, integer hyperparameters) have at most this many
#: digits: enough for any 64-bit value, and a 400-digit literal is refused as it is parsed.
MAX_INT_DIGITS = 20


def _read_bytes(path: Path, missing: str = "file not found") -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise VectorFormatError(path, "<file>", missing) from None
    except IsADirectoryError:
        raise VectorFormatError(path, "<file>", "is a directory, not a file") from None
    except OSError as e:
        raise VectorFormatError(path, "<file>", f"cannot be read ({e.strerror or e})") from None


def _read_json(path: Path, raw: bytes | None = None) -> Any:
    data = _read_bytes(path) if raw is None else raw
    try:
        return json.loads(data.decode("utf-8"), parse_constant=_reject_constant, parse_int=_parse_int)
    except UnicodeDecodeError as e:
        raise VectorFormatError(path, "<file>", f"not UTF-8 text ({e.reason} at byte {e.start})") from None
    except json.JSONDecodeError as e:
        raise VectorFormatError(
            path,
            "<file>",
            f"not valid JSON, truncated or corrupt (line {e.lineno}, column {e.colno}: {e.msg})",
        ) from None
    except RecursionError:
        raise VectorFormatError(path, "<file>", "JSON nested too deeply for a golden-vector file") from None
    except ValueError as e:
        raise VectorFormatError(path, "<file>", str(e)) from None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-finite number {name} is not allowed")


def _parse_int(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > MAX_INT_DIGITS:
        raise ValueError(f"integer literal with {digits} digits is out of range (at most {MAX_INT_DIGITS})")
    return int(text)


def _short(v: Any, width: int = 60) -> str:
    """``repr(v)`` cut to ``width`` characters, so that an error message stays one short line."""
    text = repr(v)
    return text if len(text) <= width else f"{text[: width - 3]}..."


def _get(obj: Any, key: str, typ: type | tuple[type, ...], file: Path, where: str) -> Any:
    if not isinstance(obj, dict):
        raise VectorFormatError(file, where or "<root>", f"expected an object, got {type(obj).__name__}")
    path = f"{where}.{key}" if where else key
    if key not in obj:
        raise VectorFormatError(file, path, "missing")
    v = obj[key]
    if not isinstance(v, typ) or (typ is int and isinstance(v, bool)):
        names = typ.__name__ if isinstance(typ, type) else "/".join(t.__name__ for t in typ)
        raise VectorFormatError(file, path, f"expected {names}, got {type(v).__name__}")
    if typ is int and isinstance(v, int) and not 0 <= v < 2**63:
        raise VectorFormatError(file, path, f"expected an integer in [0, 2**63), got {v}")
    return v


def _matrix(v: Any, rows: int | None, cols: int, file: Path, path: str) -> np.ndarray:
    if not isinstance(v, list):
        raise VectorFormatError(file, path, f"expected a list, got {type(v).__name__}")
    if rows is not None and len(v) != rows:
        raise VectorFormatError(file, path, f"expected {rows} rows, got {len(v)}")
    out = np.empty((len(v), cols))
    for i, row in enumerate(v):
        out[i] = _vector(row, cols, file, f"{path}[{i}]")
    return out


def _vector(v: Any, n: int | None, file: Path, path: str) -> np.ndarray:
    if not isinstance(v, list):
        raise VectorFormatError(file, path, f"expected a list of numbers, got {type(v).__name__}")
    if n is not None and len(v) != n:
        raise VectorFormatError(file, path, f"expected {n} numbers, got {len(v)}")
    for j, x in enumerate(v):
        if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
            raise VectorFormatError(file, f"{path}[{j}]", f"expected a finite number, got {_short(x)}")
    return np.array(v, dtype=np.float64)


def _header(doc: Any, file: Path) -> None:
    schema = _get(doc, "schema", str, file, "")
    if schema != SCHEMA:
        raise VectorFormatError(file, "schema", f"expected {SCHEMA!r}, got {_short(schema)}")
    version = _get(doc, "schema_version", int, file, "")
    if version != SCHEMA_VERSION:
        raise VectorFormatError(
            file, "schema_version", f"this reader understands version {SCHEMA_VERSION}, got {version}"
        )


def _case(obj: Any, file: Path, where: str) -> Case:
    cid = _get(obj, "id", str, file, where)
    algo = _get(obj, "algorithm", str, file, where)
    variant = _get(obj, "variant", str, file, where)
    desc = _get(obj, "description", str, file, where)
    hp = _get(obj, "hyperparameters", dict, file, where)
    for k, v in hp.items():
        if not (isinstance(v, (bool, str, int, float)) or v is None) or (
            isinstance(v, float) and not math.isfinite(v)
        ):
            raise VectorFormatError(
                file,
                f"{where}.hyperparameters.{_short(k, 40)[1:-1]}",
                f"expected a number, bool, string or null, got {_short(v)}",
            )
    stream = _get(obj, "stream", str, file, where)
    seed = _get(obj, "seed", int, file, where)
    x0 = _vector(_get(obj, "params0", list, file, where), None, file, f"{where}.params0")
    if x0.size == 0:
        raise VectorFormatError(file, f"{where}.params0", "must not be empty")
    grads = _matrix(_get(obj, "grads", list, file, where), None, x0.size, file, f"{where}.grads")
    if grads.shape[0] == 0:
        raise VectorFormatError(file, f"{where}.grads", "must have at least one row")
    expected = _matrix(
        _get(obj, "expected", list, file, where), grads.shape[0], x0.size, file, f"{where}.expected"
    )
    return Case(cid, algo, variant, desc, dict(hp), stream, seed, x0, grads, expected)


def load_vectors(directory: str | os.PathLike[str]) -> Corpus:
    """Read and validate a corpus written by ``export_vectors`` (JSON only, never pickle).

    Raises:
        VectorFormatError: naming the file and the field (a missing or mistyped field, a row of
            the wrong length, a non-finite number, a wrong schema version, a file whose sha256
            differs from the index: truncated or edited).
    """
    root = Path(directory)
    if not root.is_dir():
        raise VectorFormatError(root, "<directory>", "not a directory")
    index_path = root / INDEX
    index = _read_json(index_path)
    _header(index, index_path)
    gen = _get(index, "generator", str, index_path, "")
    files = _get(index, "files", list, index_path, "")
    cases: list[Case] = []
    ids: set[str] = set()
    for i, f in enumerate(files):
        where = f"files[{i}]"
        rel = _get(f, "path", str, index_path, where)
        if "/" in rel or "\\" in rel or rel.startswith("."):
            raise VectorFormatError(index_path, f"{where}.path", f"must be a plain file name, got {rel!r}")
        n_cases = _get(f, "cases", int, index_path, where)
        digest = _get(f, "sha256", str, index_path, where)
        path = root / rel
        data = _read_bytes(path, f"listed in {INDEX} but missing")
        doc = _read_json(path, data)
        _header(doc, path)
        algo = _get(doc, "algorithm", str, path, "")
        raw_cases = _get(doc, "cases", list, path, "")
        if len(raw_cases) != n_cases:
            raise VectorFormatError(
                path, "cases", f"{INDEX} lists {n_cases} cases, the file has {len(raw_cases)}"
            )
        if hashlib.sha256(data).hexdigest() != digest:
            raise VectorFormatError(path, "<file>", f"sha256 differs from {INDEX} (truncated or edited)")
        for j, c in enumerate(raw_cases):
            case = _case(c, path, f"cases[{j}]")
            if case.algorithm != algo:
                raise VectorFormatError(
                    path, f"cases[{j}].algorithm", f"expected {_short(algo)}, got {_short(case.algorithm)}"
                )
            if case.id in ids:
                raise VectorFormatError(
                    path, f"cases[{j}].id", f"{_short(case.id)} repeats an earlier case's id"
                )
            ids.add(case.id)
            _check_hyperparameters(case, path, f"cases[{j}].hyperparameters")
            cases.append(case)
    if not cases:
        raise VectorFormatError(index_path, "files", "the corpus lists no cases")
    return Corpus(str(root), SCHEMA_VERSION, gen, cases)


def _check_hyperparameters(case: Case, file: Path, where: str) -> None:
    """A registered algorithm's known keywords must be values its factory accepts. An algorithm or
    keyword this version does not know is left for ``check_vectors`` to skip (a newer corpus)."""
    if case.algorithm not in ALGORITHMS or set(case.hyperparameters) - factory_params(case.algorithm):
        return
    try:
        with np.errstate(all="ignore"):
            ReferenceSpec(case.algorithm, case.hyperparameters).build()
    except (ValueError, TypeError, OverflowError, ArithmeticError) as e:
        raise VectorFormatError(file, where, f"not valid for ref.{case.algorithm}: {_one_line(e)}") from None


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    return text if len(text) <= 200 else f"{text[:197]}..."


# ----------------------------------------------------------------------------------------------
# Check an implementation


@dataclass
class CaseResult:
    case: Case
    status: str  # "pass", "fail", "skip"
    detail: str = ""
    worst_ratio: float = 0.0
    first_fail: int | None = None


@dataclass
class VectorReport:
    results: list[CaseResult] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.results)

    @property
    def passed(self) -> bool:
        return self.count("fail") == 0 and self.count("pass") > 0

    def summary(self) -> str:
        lines = [f"{self.count('pass')} passed, {self.count('fail')} failed, {self.count('skip')} skipped"]
        for r in self.results:
            if r.status == "fail":
                lines.append(f"FAIL {r.case.id}: {r.detail}")
        skipped = sorted({r.detail for r in self.results if r.status == "skip"})
        lines += [f"skip: {d}" for d in skipped[:10]]
        return "\n".join(lines)


def check_case(case: Case, peer: Peer) -> CaseResult:
    """Run ``peer`` on the case's gradients from its params0 and compare with the expected iterates."""
    try:
        got = run_peer(peer, case.params0, grads=case.grads)
    except NotComparable as e:
        return CaseResult(case, "skip", str(e))
    except PeerFailed as e:  # the implementation's own code failed: an error, never a "fail" verdict
        raise PeerFailed(f"case {case.id}: {e.cause}", peer=e.peer) from None
    expected = Run(np.vstack([case.params0, case.expected]), case.grads)
    comp = Comparison("open", case.stream, case.params0, expected, got, Tolerance.for_dtype(peer.dtype))
    if comp.passed:
        return CaseResult(case, "pass", worst_ratio=comp.worst_ratio)
    return CaseResult(
        case,
        "fail",
        f"first step past tolerance {comp.first_fail}, max |dev| {comp.max_abs:.3g}, "
        f"dev/tol {comp.worst_ratio:.3g}",
        comp.worst_ratio,
        comp.first_fail,
    )


def check_vectors(
    corpus: Corpus, impl: Callable[..., Any] | None, *, algorithm: str | None = None
) -> VectorReport:
    """Verify ``impl`` (FunctionPeer convention) on every case of ``algorithm``; ``impl=None``
    re-verifies the corpus against this package's reference."""
    cases = [c for c in corpus.cases if algorithm is None or c.algorithm == algorithm]
    if not cases:
        raise ValueError(
            f"the corpus has no cases for algorithm {algorithm!r} (it has {corpus.algorithms()})"
        )
    report = VectorReport()
    for c in cases:
        hp = _hp_for_factory(c)
        try:
            peer: Peer = (
                ReferencePeer(ReferenceSpec(c.algorithm, hp))
                if impl is None
                else FunctionPeer(impl, c.algorithm, **hp)
            )
        except NotComparable as e:
            report.results.append(CaseResult(c, "skip", str(e)))
            continue
        report.results.append(check_case(c, peer))
    return report


def _hp_for_factory(case: Case) -> dict[str, Any]:
    if case.algorithm not in ALGORITHMS:
        raise NotComparable(f"{case.id}: algorithm {case.algorithm!r} is not registered in this version")
    extra = sorted(set(case.hyperparameters) - factory_params(case.algorithm))
    if extra:
        raise NotComparable(f"{case.id}: hyperparameters {extra} are not keywords of ref.{case.algorithm}")
    return dict(case.hyperparameters)


__all__ = [
    "SCHEMA",
    "SCHEMA_VERSION",
    "Case",
    "CaseResult",
    "Corpus",
    "VectorFormatError",
    "VectorReport",
    "check_vectors",
    "export_vectors",
    "load_vectors",
]

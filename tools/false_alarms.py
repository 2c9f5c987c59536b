r"""The observed false-alarm rate of the theory checks on unmodified code.

    python -m tools.false_alarms --tier quick --seeds 0-199 --jobs 2
    python -m tools.false_alarms --only nesterov_rate,kkt_conditions --seeds 0-399
    python -m tools.false_alarms --tier full --seeds 0-29 --report-json fa_full.json
    python -m tools.false_alarms --seeds 0-199 --cached-only      (report from the cache, run nothing)
    python -m tools.false_alarms --seeds 0-4 --replay-against OLD.jsonl   (same rows as older code?)

Runs the chosen checks (``--only a,b``; default every check in ``theory_checks.CHECKS``) at one tier
over a range of root seeds, plots off, one (check, seed) pair per task (``--jobs N`` worker
processes through joblib), and prints

* per check: runs, failures, failure rate with its exact (Clopper-Pearson) 95 % interval, and the
  error of every run that raised (a check that raises counts as a failure);
* per row: runs and failures; for ``"stat"`` rows also the fraction of p-values below 0.05 and 0.01
  (expected 5 % and 1 % if the row's statistical model is right), the smallest p-value and the
  Kolmogorov-Smirnov test of uniformity of the p-values over seeds;
* per run (a seed fails if ANY selected check failed at that seed; only seeds where every selected
  check has a result count): failures / runs with the one-sided 95 % upper confidence limit, beside
  the suite's designed budget ``RUN_ALPHA`` and the sum over checks of the per-check failure rates.

Exit status: 0 if the per-run upper confidence limit is <= ``--budget`` (default 0.02: with 200
runs and no failure the 95 % limit is 1.5 %), 1 otherwise, 2 for bad arguments.

The cache (``--cache PATH``, default ``<tempdir>/optref_false_alarms.jsonl``) holds one JSON line per
(check, tier, seed, code fingerprint): every row's kind / holds / p_value / quantity and the seconds
taken. The fingerprint hashes the check's own file (and any sibling check module it imports),
every shared ``theory_checks/_*.py`` module (``_base.py``, ``_stats.py``, ...; not the template or
the plotting helper) and every ``reference/**/*.py`` except ``reference/conform/**`` and the command
line files, so a changed check or a changed reference invalidates its cached runs by itself. A
worker hashes the files before it first imports them and stores its result under that hash, so a
file edited during a long run cannot be credited to code that was not run. A record holds, per
row, the kind, verdict, p-value and the predicted and measured texts, and a digest of the check's
figure data (every number bit for bit; records written before the replay mode lack the texts and
the digest).

Replay (``--replay-against PATH``): runs the chosen (check, tier, seed) triples on the current code
(reusing the cache's runs under the current fingerprint, so an interrupted replay resumes) and
compares each with the records of the same triple under any OTHER fingerprint in the cache file
PATH: row count, then per row kind, quantity text, verdict, p-value, predicted and measured texts
(where both records hold them; the CPU-time rows of ``TIMED_ROWS`` are compared on all but the
measured text), then the figure digest. A run is identical if it equals at least one older record
of the most detail PATH holds for it. It prints per check how many runs are identical, differ, or
have no older record, and the first difference (row, field, old and new, relative difference of
the numbers). Exit 0 iff every run asked for ran and is identical (``--rtol`` loosens the number
comparison; default 0: bit-identical p-values, equal printed texts).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import math
import os
import re
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, is_dataclass
from pathlib import Path
from typing import Any

PROG = "python -m tools.false_alarms"
DEFAULT_CACHE = os.path.join(tempfile.gettempdir(), "optref_false_alarms.jsonl")
#: Files of theory_checks/ that a run with plots off does not depend on.
_NOT_SHARED = {"_template.py", "_plot.py"}
#: Files of reference/ that the checks never import.
_NOT_REFERENCE = {"cli.py", "__main__.py"}
#: Rows whose measured value is a CPU-time measurement (it changes from run to run): a replay
#: compares them on everything but the measured text.
TIMED_ROWS = {
    ("backprop_cost", "median t_grad / t_fwd (paired CPU-time minima)"),
    ("backprop_cost", "finite differences: t_FD / t_fwd"),
}
#: Checks whose figure data holds CPU times (no figure digest is stored for them).
TIMED_FIGURES = {"backprop_cost"}


class UsageError(ValueError):
    """A bad command-line argument (one line, naming the argument and the constraint)."""


# ----------------------------------------------------------------------------------------------
# Code fingerprints


def package_dir(name: str) -> Path:
    """The folder of the importable package ``name`` (found without importing it)."""
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        raise UsageError(f"cannot find the package {name!r} on sys.path (run from the repository root)")
    return Path(spec.origin).resolve().parent


def reference_files(ref_dir: Path) -> list[Path]:
    """Every ``reference/**/*.py`` except ``reference/conform/**`` and the command-line files."""
    out = []
    for p in sorted(ref_dir.rglob("*.py")):
        rel = p.relative_to(ref_dir)
        if rel.parts[0] == "conform" or p.name in _NOT_REFERENCE or "__pycache__" in rel.parts:
            continue
        out.append(p)
    return out


def shared_check_files(checks_dir: Path) -> list[Path]:
    """The shared modules of theory_checks/ (``_base.py``, ``_stats.py``, ...)."""
    return [
        p for p in sorted(checks_dir.glob("_*.py")) if p.name not in _NOT_SHARED and p.name != "__init__.py"
    ]


_SIBLING = re.compile(r"^\s*from\s+(?:\.|theory_checks\.)([a-z][a-z0-9_]*)\s+import\b", re.MULTILINE)


def check_files(checks_dir: Path, name: str) -> list[Path]:
    """The check's own file and, transitively, the sibling check modules it imports."""
    seen: list[Path] = []
    todo = [name]
    while todo:
        mod = todo.pop()
        path = checks_dir / f"{mod}.py"
        if path in seen or not path.is_file():
            continue
        seen.append(path)
        todo.extend(_SIBLING.findall(path.read_text(encoding="utf-8")))
    return sorted(seen)


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fingerprint(
    name: str,
    *,
    checks_dir: Path | None = None,
    ref_dir: Path | None = None,
    digest: Callable[[Path], str] = file_digest,
) -> str:
    """A short hash of every file a run of check ``name`` depends on (see the module docstring)."""
    cdir = checks_dir or package_dir("theory_checks")
    rdir = ref_dir or package_dir("reference")
    h = hashlib.sha256()
    for group, base, files in (
        ("check", cdir, check_files(cdir, name)),
        ("shared", cdir, shared_check_files(cdir)),
        ("reference", rdir, reference_files(rdir)),
    ):
        for p in files:
            h.update(f"{group}:{p.relative_to(base).as_posix()}:{digest(p)}\n".encode())
    return h.hexdigest()[:16]


#: In a worker: each file's digest as it was just before the process first imported it.
_PROCESS_DIGESTS: dict[Path, str] = {}


def _digest_once(path: Path) -> str:
    if path not in _PROCESS_DIGESTS:
        _PROCESS_DIGESTS[path] = file_digest(path)
    return _PROCESS_DIGESTS[path]


# ----------------------------------------------------------------------------------------------
# Records


@dataclass(frozen=True)
class RowRecord:
    quantity: str
    kind: str  # "stat" | "bound" | "report"
    holds: bool | None
    p_value: float | None
    predicted: str | None = None  # None in records written before the replay mode stored them
    measured: str | None = None


@dataclass(frozen=True)
class RunRecord:
    """One run of one check at one seed (a line of the cache)."""

    check: str
    tier: str
    seed: int
    fingerprint: str
    holds: bool
    seconds: float
    rows: tuple[RowRecord, ...]
    error: str | None = None
    warnings: tuple[str, ...] = field(default_factory=tuple)
    #: sha256 of the numbers of the check's figure data (``figure_digest``); None in older records
    figure: str | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), allow_nan=False, separators=(",", ":"))

    @staticmethod
    def from_json(line: str) -> RunRecord:
        d = json.loads(line)
        rows = tuple(
            RowRecord(
                str(r["quantity"]),
                str(r["kind"]),
                r["holds"],
                _finite_or_none(r["p_value"]),
                r.get("predicted"),
                r.get("measured"),
            )
            for r in d["rows"]
        )
        return RunRecord(
            check=str(d["check"]),
            tier=str(d["tier"]),
            seed=int(d["seed"]),
            fingerprint=str(d["fingerprint"]),
            holds=bool(d["holds"]),
            seconds=float(d["seconds"]),
            rows=rows,
            error=d.get("error"),
            warnings=tuple(d.get("warnings", ())),
            figure=d.get("figure"),
        )

    @property
    def key(self) -> tuple[str, str, int, str]:
        return (self.check, self.tier, self.seed, self.fingerprint)


def _finite_or_none(x: Any) -> float | None:
    if x is None:
        return None
    v = float(x)
    return v if math.isfinite(v) else None


def figure_digest(figure: Any) -> str:
    """A short sha256 of a check's figure data: every number bit for bit (floats by ``repr``, numpy
    arrays by dtype, shape and bytes), strings, keys and nesting; other objects by type name only."""
    import numpy as np

    h = hashlib.sha256()

    def walk(x: Any) -> None:
        if isinstance(x, dict):
            h.update(b"{")
            for k in sorted(x, key=str):
                h.update(f"{k!s}:".encode())
                walk(x[k])
            h.update(b"}")
        elif isinstance(x, (list, tuple)):
            h.update(b"[")
            for v in x:
                walk(v)
            h.update(b"]")
        elif isinstance(x, np.ndarray):
            h.update(f"a{x.dtype.str}{x.shape}".encode() + np.ascontiguousarray(x).tobytes())
        elif isinstance(x, (bool, int, float, str, np.generic)) or x is None:
            h.update(f"{type(x).__name__}:{x!r};".encode())
        elif is_dataclass(x) and not isinstance(x, type):
            walk(asdict(x))
        else:
            h.update(f"<{type(x).__name__}>".encode())

    walk(figure)
    return h.hexdigest()[:16]


def run_task(task: tuple[str, str, int]) -> RunRecord:
    """Run check ``name`` at ``tier`` and ``seed`` with plots off (module level: picklable for
    joblib). The fingerprint is that of the files as this process first imported them."""
    name, tier, seed = task
    fp = fingerprint(name, digest=_digest_once)
    t0 = time.perf_counter()
    caught: list[str] = []
    with warnings.catch_warnings(record=True) as wlist:
        warnings.simplefilter("always")
        try:
            from theory_checks._base import Context
            from theory_checks.runner import load, run_one

            result = run_one(load(name), Context(tier=tier, seed=seed))  # type: ignore[arg-type]
        except Exception as exc:  # noqa: BLE001 - an import error is a failed run, not a crash
            return RunRecord(
                name, tier, seed, fp, False, time.perf_counter() - t0, (), f"{type(exc).__name__}: {exc}"
            )
        for w in wlist:
            msg = f"{w.category.__name__}: {w.message}"
            if msg not in caught and len(caught) < 5:
                caught.append(msg)
    rows = tuple(
        RowRecord(r.quantity, r.kind, r.holds, _finite_or_none(r.p_value), r.predicted, r.measured)
        for r in result.rows
    )
    error = None
    if "error" in result.figure:
        error = result.rows[0].measured if result.rows else str(result.figure["error"])
    return RunRecord(
        name,
        tier,
        seed,
        fp,
        bool(result.holds),
        float(result.seconds),
        rows,
        error,
        tuple(caught),
        None if name in TIMED_FIGURES else figure_digest(result.figure),
    )


# ----------------------------------------------------------------------------------------------
# The cache


class Cache:
    """Append-only JSON-lines file of ``RunRecord``s; unreadable lines are skipped."""

    def __init__(self, path: str) -> None:
        self.path = path

    def records(self) -> Iterator[RunRecord]:
        """Every readable record, in file order (oldest first); nothing if the file is missing."""
        try:
            with open(self.path, encoding="utf-8") as f:
                for line in f:
                    line = line.strip()
                    if not line:
                        continue
                    try:
                        yield RunRecord.from_json(line)
                    except (ValueError, KeyError, TypeError):
                        continue
        except FileNotFoundError:
            return

    def load(self) -> dict[tuple[str, str, int, str], RunRecord]:
        """The latest record per (check, tier, seed, fingerprint)."""
        return {rec.key: rec for rec in self.records()}

    def append(self, rec: RunRecord) -> None:
        # One write() per line on an O_APPEND descriptor, so that concurrent writers interleave
        # whole lines.
        data = (rec.to_json() + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)


# ----------------------------------------------------------------------------------------------
# Replay: the current code's rows against cached records of older code


@dataclass(frozen=True)
class Difference:
    """The first difference between an older record and the replayed one."""

    row: int | None  # row index; None for the run as a whole (error, number of rows, figure data)
    quantity: str  # the row's quantity (older record), or what differs for the run as a whole
    field: str  # "kind", "quantity", "holds", "p_value", "predicted", "measured", "rows", "error", "figure"
    old: str
    new: str
    rel: float | None  # largest relative difference of the numbers; None when not comparable as numbers

    def describe(self) -> str:
        where = f"row {self.row} ({_cut(self.quantity, 40)})" if self.row is not None else self.quantity
        rel = "" if self.rel is None else f"; relative difference {self.rel:.3g}"
        return f"{where}: {self.field} {_cut(self.old, 60)!r} -> {_cut(self.new, 60)!r}{rel}"


def _rel(a: float, b: float) -> float:
    if a == b or (math.isnan(a) and math.isnan(b)):
        return 0.0
    scale = max(abs(a), abs(b))
    return abs(a - b) / scale if math.isfinite(scale) and scale > 0 else math.inf


def _text_rel(old: str, new: str) -> float | None:
    """0 for equal texts; for texts equal up to their numbers, the largest relative difference of
    the numbers; None when the texts differ otherwise."""
    if old == new:
        return 0.0
    if _NUMBER.sub("#", old) != _NUMBER.sub("#", new):
        return None
    return max(_rel(float(a), float(b)) for a, b in zip(_NUMBER.findall(old), _NUMBER.findall(new)))


def _row_difference(i: int, check: str, a: RowRecord, b: RowRecord, rtol: float) -> Difference | None:
    timed = (check, a.quantity) in TIMED_ROWS
    for name in ("kind", "quantity", "holds", "p_value", "predicted", "measured"):
        x, y = getattr(a, name), getattr(b, name)
        if name == "measured" and timed:
            continue
        if name in ("predicted", "measured") and (x is None or y is None):
            continue  # an older record without the text: nothing to compare
        if name == "p_value" and x is not None and y is not None:
            rel: float | None = _rel(x, y)
        elif name in ("quantity", "predicted", "measured"):
            rel = _text_rel(x, y)
        else:
            rel = 0.0 if x == y else None
        if rel is None or rel > rtol:
            return Difference(i, a.quantity, name, str(x), str(y), rel if rel else None)
    return None


def compare_runs(old: RunRecord, new: RunRecord, rtol: float = 0.0) -> Difference | None:
    """The first difference of ``new`` from ``old`` (same check, tier and seed), or None if every
    row is the same: kind, quantity text, verdict, p-value, and the predicted and measured texts and
    the figure data where both records hold them (numbers within ``rtol`` relative count as equal;
    the default 0 asks for bit-identical p-values)."""
    if old.error != new.error:
        return Difference(None, "the run", "error", str(old.error), str(new.error), None)
    if len(old.rows) != len(new.rows):
        return Difference(None, "the run", "rows", str(len(old.rows)), str(len(new.rows)), None)
    for i, (a, b) in enumerate(zip(old.rows, new.rows)):
        d = _row_difference(i, old.check, a, b, rtol)
        if d is not None:
            return d
    if old.figure is not None and new.figure is not None and old.figure != new.figure:
        return Difference(None, "figure data (rows equal)", "figure", old.figure, new.figure, None)
    return None


@dataclass(frozen=True)
class Replay:
    """A replayed run beside the older records of the same (check, tier, seed)."""

    record: RunRecord
    older: int  # older records compared (other fingerprints)
    matched: int  # of which identical to the replayed run
    difference: Difference | None  # from the latest older record, when none is identical

    @property
    def status(self) -> str:
        return "no record" if not self.older else ("identical" if self.matched else "differs")


def _detail(rec: RunRecord) -> int:
    """How much of a run a record holds: 2 with the figure digest, 1 with the row texts, 0 else."""
    return 2 if rec.figure is not None else int(any(r.measured is not None for r in rec.rows))


def replay(new: RunRecord, older: Sequence[RunRecord], rtol: float = 0.0) -> Replay:
    """Compare ``new`` with the records of ``older`` (oldest first) that ran under another
    fingerprint and hold the most detail (records with measured texts and figure digests outrank
    records of older versions of this tool, which stored only kind, verdict and p-value); identical
    iff at least one of them has the same rows."""
    olds = [r for r in older if r.fingerprint != new.fingerprint]
    top = max((_detail(r) for r in olds), default=0)
    olds = [r for r in olds if _detail(r) == top]
    diffs = [compare_runs(o, new, rtol) for o in olds]
    matched = sum(d is None for d in diffs)
    return Replay(new, len(olds), matched, diffs[-1] if olds and not matched else None)


def format_replay(results: Sequence[Replay], names: Sequence[str], against: str, tier: str) -> str:
    seeds = sorted({r.record.seed for r in results})
    out = [f"Replay of the current code against {against}: {tier} tier, seeds {format_seeds(seeds)}", ""]
    table, firsts = [], []
    for name in names:
        rs = [r for r in results if r.record.check == name]
        count = {k: sum(r.status == k for r in rs) for k in ("identical", "differs", "no record")}
        partial = sum(r.status == "identical" and r.matched < r.older for r in rs)
        first = next((r for r in rs if r.status == "differs"), None)
        if first is not None and first.difference is not None:
            firsts.append(f"  {name} seed {first.record.seed}: {first.difference.describe()}")
        verdict_ = "differs" if count["differs"] else ("no record" if count["no record"] else "identical")
        table.append(
            (
                name,
                str(len(rs)),
                str(count["identical"]),
                str(count["differs"]),
                str(count["no record"]),
                str(partial),
                verdict_,
            )
        )
    out.append(
        text_table(
            ("check", "runs", "identical", "differs", "no record", "(older differ)", "check verdict"),
            table,
            right=(False, True, True, True, True, True, False),
        )
    )
    out.append("  (older differ: identical to one older record of the seed but not to every one)")
    if firsts:
        out += ["", "First difference per check (against the latest older record of that seed)", *firsts]
    n_same = sum(r.status == "identical" for r in results)
    ok = bool(results) and n_same == len(results)
    out += [
        "",
        f"verdict: {'IDENTICAL' if ok else 'NOT IDENTICAL'}: {n_same} of {len(results)} runs identical",
    ]
    return "\n".join(out)


# ----------------------------------------------------------------------------------------------
# Statistics


def clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """The exact two-sided interval of a binomial proportion k/n."""
    from scipy import stats

    if n < 1 or not 0 <= k <= n:
        raise ValueError(f"clopper_pearson needs 0 <= k <= n, n >= 1; got {k}/{n}")
    a = 1.0 - level
    lo = 0.0 if k == 0 else float(stats.beta.ppf(a / 2, k, n - k + 1))
    hi = 1.0 if k == n else float(stats.beta.ppf(1 - a / 2, k + 1, n - k))
    return lo, hi


def upper_limit(k: int, n: int, level: float = 0.95) -> float:
    """The exact one-sided upper confidence limit of a binomial proportion k/n
    (k = 0: 1 - (1 - level)^(1/n), 1.49 % for n = 200)."""
    from scipy import stats

    if n < 1 or not 0 <= k <= n:
        raise ValueError(f"upper_limit needs 0 <= k <= n, n >= 1; got {k}/{n}")
    return 1.0 if k == n else float(stats.beta.ppf(level, k + 1, n - k))


@dataclass(frozen=True)
class CheckSummary:
    check: str
    runs: int
    failures: int
    rate: float
    ci95: tuple[float, float]
    mean_seconds: float
    errors: tuple[tuple[int, str], ...]  # (seed, message) of every run that raised
    failed_seeds: tuple[int, ...]


@dataclass(frozen=True)
class RowSummary:
    check: str
    quantity: str
    kind: str
    runs: int
    failures: int
    n_p: int  # p-values seen (stat rows)
    frac_p05: float | None
    frac_p01: float | None
    min_p: float | None
    ks_stat: float | None
    ks_p: float | None


@dataclass(frozen=True)
class RunSummary:
    runs: int  # seeds where every selected check has a result
    failures: int
    rate: float
    ucl95: float  # one-sided
    budget: float
    run_alpha: float
    sum_check_rates: float
    failed_seeds: tuple[tuple[int, tuple[str, ...]], ...]


@dataclass(frozen=True)
class Summary:
    tier: str
    checks: tuple[CheckSummary, ...]
    rows: tuple[RowSummary, ...]
    run: RunSummary


_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def summarize(
    records: Iterable[RunRecord],
    names: Sequence[str],
    seeds: Sequence[int],
    *,
    tier: str,
    budget: float,
    run_alpha: float,
) -> Summary:
    """Aggregate the records of ``tier`` (one per (check, seed); records of other tiers, checks or
    seeds are ignored)."""
    from scipy import stats

    by: dict[tuple[str, int], RunRecord] = {}
    for r in records:
        if r.tier == tier and r.check in names and r.seed in seeds:
            by[(r.check, r.seed)] = r
    checks = []
    rate_sum = 0.0
    for name in names:
        recs = [by[(name, s)] for s in seeds if (name, s) in by]
        n = len(recs)
        k = sum(not r.holds for r in recs)
        rate = k / n if n else float("nan")
        if n:
            rate_sum += rate
        checks.append(
            CheckSummary(
                check=name,
                runs=n,
                failures=k,
                rate=rate,
                ci95=clopper_pearson(k, n) if n else (float("nan"), float("nan")),
                mean_seconds=sum(r.seconds for r in recs) / n if n else float("nan"),
                errors=tuple((r.seed, r.error) for r in recs if r.error is not None),
                failed_seeds=tuple(r.seed for r in recs if not r.holds),
            )
        )
    # rows by position in the check's output (a row's text may carry per-seed numbers); runs that
    # raised have no rows of their own and count only per check
    row_recs: dict[tuple[str, int], list[RowRecord]] = {}
    for name in names:
        for s in seeds:
            rec = by.get((name, s))
            if rec is None or rec.error is not None:
                continue
            for i, row in enumerate(rec.rows):
                row_recs.setdefault((name, i), []).append(row)
    rows = []
    for (name, _), rr in sorted(row_recs.items(), key=lambda kv: (names.index(kv[0][0]), kv[0][1])):
        kinds = {r.kind for r in rr}
        if kinds == {"report"}:
            continue
        kind = rr[0].kind if len(kinds) == 1 else "/".join(sorted(kinds))
        labels = {_NUMBER.sub("#", r.quantity) for r in rr}
        if len({r.quantity for r in rr}) == 1:
            quantity = rr[0].quantity
        else:  # numbers in the text change with the seed ("#"), or the text itself does
            quantity = _NUMBER.sub("#", rr[0].quantity) + ("" if len(labels) == 1 else " (text varies)")
        ps = [r.p_value for r in rr if r.p_value is not None]
        n_p = len(ps)
        ks_stat = ks_p = None
        if n_p >= 2:
            ks = stats.kstest(ps, "uniform")
            ks_stat, ks_p = float(ks.statistic), float(ks.pvalue)
        rows.append(
            RowSummary(
                check=name,
                quantity=quantity,
                kind=kind,
                runs=len(rr),
                failures=sum(r.holds is False for r in rr),
                n_p=n_p,
                frac_p05=sum(p < 0.05 for p in ps) / n_p if n_p else None,
                frac_p01=sum(p < 0.01 for p in ps) / n_p if n_p else None,
                min_p=min(ps) if ps else None,
                ks_stat=ks_stat,
                ks_p=ks_p,
            )
        )
    complete = [s for s in seeds if all((name, s) in by for name in names)]
    failed = tuple(
        (s, tuple(name for name in names if not by[(name, s)].holds))
        for s in complete
        if any(not by[(name, s)].holds for name in names)
    )
    n_run = len(complete)
    k_run = len(failed)
    run = RunSummary(
        runs=n_run,
        failures=k_run,
        rate=k_run / n_run if n_run else float("nan"),
        ucl95=upper_limit(k_run, n_run) if n_run else 1.0,
        budget=budget,
        run_alpha=run_alpha,
        sum_check_rates=rate_sum,
        failed_seeds=failed,
    )
    return Summary(tier=tier, checks=tuple(checks), rows=tuple(rows), run=run)


def verdict(summary: Summary) -> bool:
    """True iff there was at least one complete run and the per-run UCL is within the budget."""
    return summary.run.runs > 0 and summary.run.ucl95 <= summary.run.budget


# ----------------------------------------------------------------------------------------------
# Output


def pct(x: float | None, digits: int = 1) -> str:
    if x is None or not math.isfinite(x):
        return "-"
    return f"{100 * x:.{digits}f}%"


def num(x: float | None) -> str:
    if x is None or not math.isfinite(x):
        return "-"
    return f"{x:.3g}"


def text_table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], *, right: Sequence[bool] | None = None
) -> str:
    """Plain aligned text; ``right[j]`` right-aligns column j."""
    cols = len(headers)
    if any(len(r) != cols for r in rows):
        raise ValueError("text_table: every row needs one cell per header")
    widths = [max([len(headers[j])] + [len(r[j]) for r in rows]) for j in range(cols)]
    ra = list(right) if right is not None else [False] * cols

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.rjust(w) if a else c.ljust(w) for c, w, a in zip(cells, widths, ra)).rstrip()

    return "\n".join([line(headers), "  ".join("-" * w for w in widths)] + [line(r) for r in rows])


def _cut(s: str, n: int = 48) -> str:
    s = " ".join(s.split())
    return s if len(s) <= n else s[: n - 1] + "~"


def format_summary(summary: Summary, seeds: Sequence[int]) -> str:
    out = [f"False alarms on unmodified code: {summary.tier} tier, seeds {format_seeds(seeds)}", ""]
    out.append("Per check")
    out.append(
        text_table(
            ("check", "runs", "fail", "rate", "95% CI (Clopper-Pearson)", "s/run", "failed seeds"),
            [
                (
                    c.check,
                    str(c.runs),
                    str(c.failures),
                    pct(c.rate),
                    f"[{pct(c.ci95[0])}, {pct(c.ci95[1])}]" if c.runs else "-",
                    f"{c.mean_seconds:.1f}" if c.runs else "-",
                    _cut(",".join(map(str, c.failed_seeds)), 40),
                )
                for c in summary.checks
            ],
            right=(False, True, True, True, False, True, False),
        )
    )
    errs = [(c.check, s, e) for c in summary.checks for s, e in c.errors]
    if errs:
        out += ["", "Runs that raised (counted as failures)"]
        out += [f"  {c} seed {s}: {e}" for c, s, e in errs]
    out += ["", "Per row (stat: p-values should be uniform; expected 5 % below 0.05, 1 % below 0.01)"]
    out.append(
        text_table(
            ("check", "row", "kind", "runs", "fail", "p<.05", "p<.01", "min p", "KS p (uniform)"),
            [
                (
                    r.check,
                    _cut(r.quantity),
                    r.kind,
                    str(r.runs),
                    str(r.failures),
                    pct(r.frac_p05),
                    pct(r.frac_p01),
                    num(r.min_p),
                    num(r.ks_p),
                )
                for r in summary.rows
            ],
            right=(False, False, False, True, True, True, True, True, True),
        )
    )
    ru = summary.run
    out += [
        "",
        "Per run (a seed fails if any selected check failed at it)",
        f"  complete runs      {ru.runs} (seeds where every selected check has a result)",
        f"  failed runs        {ru.failures}  rate {pct(ru.rate, 2)}  one-sided 95% upper limit {pct(ru.ucl95, 2)}",
        f"  sum of per-check failure rates  {pct(ru.sum_check_rates, 2)}",
        f"  designed budget RUN_ALPHA {pct(ru.run_alpha, 2)}; tested budget (--budget) {pct(ru.budget, 2)}",
    ]
    if ru.failed_seeds:
        out.append("  failed seeds: " + "; ".join(f"{s} ({', '.join(c)})" for s, c in ru.failed_seeds))
    ok = verdict(summary)
    out.append(
        f"  verdict: {'WITHIN' if ok else 'OVER'} budget "
        f"(upper limit {pct(ru.ucl95, 2)} {'<=' if ok else '>'} {pct(ru.budget, 2)})"
        + ("" if ru.runs else ": no complete run")
    )
    return "\n".join(out)


def summary_json(summary: Summary, seeds: Sequence[int], meta: dict[str, Any]) -> dict[str, Any]:
    def clean(x: Any) -> Any:
        if isinstance(x, float) and not math.isfinite(x):
            return None
        if isinstance(x, dict):
            return {k: clean(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [clean(v) for v in x]
        return x

    doc: dict[str, Any] = clean(
        {"meta": {**meta, "seeds": format_seeds(seeds), "verdict": verdict(summary)}, **asdict(summary)}
    )
    return doc


# ----------------------------------------------------------------------------------------------
# Command line


def parse_seeds(text: str) -> list[int]:
    """``"0-199"``, ``"5"``, ``"0-9,20,30-39"`` -> sorted distinct seeds (each >= 0)."""
    seeds: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if not m:
            raise UsageError(f"--seeds: expected ranges like 0-199 or 0-9,20, got {text!r}")
        lo = int(m.group(1))
        hi = int(m.group(2)) if m.group(2) is not None else lo
        if hi < lo:
            raise UsageError(f"--seeds: range {part!r} is empty (end before start)")
        seeds.update(range(lo, hi + 1))
    return sorted(seeds)


def format_seeds(seeds: Sequence[int]) -> str:
    """The inverse of ``parse_seeds`` (compact ranges)."""
    parts: list[str] = []
    s = sorted(set(seeds))
    i = 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and s[j + 1] == s[j] + 1:
            j += 1
        parts.append(str(s[i]) if i == j else f"{s[i]}-{s[j]}")
        i = j + 1
    return ",".join(parts)


def parse_only(values: Sequence[str] | None, known: Sequence[str]) -> list[str]:
    if not values:
        return list(known)
    names = [n.strip() for v in values for n in v.split(",") if n.strip()]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise UsageError(f"--only: unknown check(s) {', '.join(unknown)}; known: {', '.join(known)}")
    if not names:
        raise UsageError("--only: no check named")
    return list(dict.fromkeys(names))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--only", action="append", metavar="NAMES", help="checks to run (comma list, repeatable)")
    p.add_argument("--tier", default="quick", help="quick (default) or full")
    p.add_argument("--seeds", default="0-199", help="root seeds, e.g. 0-199 or 0-9,20 (default 0-199)")
    p.add_argument("--jobs", type=int, default=1, metavar="N", help="worker processes (default 1)")
    p.add_argument(
        "--cache", default=DEFAULT_CACHE, metavar="PATH", help=f"cache file (default {DEFAULT_CACHE})"
    )
    p.add_argument(
        "--budget", type=float, default=0.02, help="per-run false-alarm budget tested (default 0.02)"
    )
    p.add_argument("--report-json", metavar="PATH", help="also write the summary as JSON")
    p.add_argument("--cached-only", action="store_true", help="run nothing; summarize what the cache holds")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument(
        "--replay-against",
        metavar="PATH",
        help="compare every row of the runs of the current code with the records of the same "
        "(check, tier, seed) under another fingerprint in the cache file PATH; exit 0 iff identical",
    )
    p.add_argument(
        "--rtol",
        type=float,
        default=0.0,
        help="--replay-against: numbers within this relative difference count as equal (default 0)",
    )
    return p


def _tasks_runner(jobs: int) -> Callable[[list[tuple[str, str, int]]], Iterator[RunRecord]]:
    if jobs == 1:
        return lambda tasks: (run_task(t) for t in tasks)
    from joblib import Parallel, delayed

    def run(tasks: list[tuple[str, str, int]]) -> Iterator[RunRecord]:
        try:
            pool = Parallel(n_jobs=jobs, return_as="generator_unordered")
        except ValueError:  # joblib < 1.4
            pool = Parallel(n_jobs=jobs, return_as="generator")
        return iter(pool(delayed(run_task)(t) for t in tasks))

    return run


def _setup(args: argparse.Namespace) -> tuple[list[str], list[int], Cache, dict[str, str], float]:
    """Validate the arguments (UsageError) and compute the current fingerprints."""
    from theory_checks import CHECKS
    from theory_checks._stats import RUN_ALPHA

    if args.tier not in ("quick", "full"):
        raise UsageError(f"--tier must be quick or full, got {args.tier!r}")
    names = parse_only(args.only, CHECKS)
    seeds = parse_seeds(args.seeds)
    if args.jobs < 1:
        raise UsageError(f"--jobs must be >= 1, got {args.jobs}")
    if not (0.0 < args.budget < 1.0):
        raise UsageError(f"--budget must be in (0, 1), got {args.budget}")
    if not (0.0 <= args.rtol < 1.0) or not math.isfinite(args.rtol):
        raise UsageError(f"--rtol must be in [0, 1), got {args.rtol}")
    if args.replay_against is not None and not os.path.isfile(args.replay_against):
        raise UsageError(f"--replay-against: no such file {args.replay_against}")
    cache = Cache(args.cache)
    cache_dir = os.path.dirname(os.path.abspath(args.cache))
    if not os.path.isdir(cache_dir):
        raise UsageError(f"--cache: folder {cache_dir} does not exist")
    return names, seeds, cache, {n: fingerprint(n) for n in names}, RUN_ALPHA


def _run_missing(
    args: argparse.Namespace, cache: Cache, current: dict[str, str], todo: list[tuple[str, str, int]]
) -> tuple[list[RunRecord], int]:
    """Run ``todo``, append every record to the cache; return the records and how many ran on code
    that changed since ``current`` was computed (stale)."""
    done: list[RunRecord] = []
    stale = 0
    if not todo or args.cached_only:
        return done, stale
    bar: Any = None
    if not args.no_progress:
        from tqdm import tqdm

        bar = tqdm(total=len(todo), file=sys.stderr, unit="run", smoothing=0.05)
    try:
        for rec in _tasks_runner(args.jobs)(todo):
            cache.append(rec)
            done.append(rec)
            stale += rec.fingerprint != current[rec.check]
            if bar is not None:
                bar.set_postfix_str(f"{rec.check} seed {rec.seed}", refresh=False)
                bar.update(1)
    except KeyboardInterrupt:
        print(f"\n{PROG}: interrupted; finished runs are cached, summarizing them", file=sys.stderr)
    finally:
        if bar is not None:
            bar.close()
    return done, stale


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        names, seeds, cache, current, run_alpha = _setup(args)
    except UsageError as exc:
        parser.print_usage(sys.stderr)
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2

    cached = cache.load()
    have = {
        (n, s): cached[(n, args.tier, s, current[n])]
        for n in names
        for s in seeds
        if (n, args.tier, s, current[n]) in cached
    }
    # seed-major order: an interrupted sweep leaves complete runs behind
    todo = [(n, str(args.tier), s) for s in seeds for n in names if (n, s) not in have]
    print(
        f"{len(names)} checks x {len(seeds)} seeds ({args.tier}): {len(have)} cached, {len(todo)} to run"
        + (" (--cached-only: not running them)" if args.cached_only else "")
        + f"; cache {args.cache}",
        file=sys.stderr,
    )
    done, stale = _run_missing(args, cache, current, todo)
    if args.replay_against is not None:
        # a run whose code changed while this ran is still a run of the current tree: replay it
        fresh = {**have, **{(r.check, r.seed): r for r in done}}
        return _replay_report(args, names, seeds, fresh, stale)
    have.update({(r.check, r.seed): r for r in done if r.fingerprint == current[r.check]})
    if stale:
        print(
            f"{PROG}: warning: {stale} runs used code that changed while this ran (cached under their own "
            "fingerprint, left out here); run again to redo them",
            file=sys.stderr,
        )
    summary = summarize(have.values(), names, seeds, tier=args.tier, budget=args.budget, run_alpha=run_alpha)
    print(format_summary(summary, seeds))
    if args.report_json:
        meta = {
            "tier": args.tier,
            "checks": names,
            "budget": args.budget,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "fingerprints": current,
            "command": " ".join([PROG, *(sys.argv[1:] if argv is None else argv)]),
        }
        with open(args.report_json, "w", encoding="utf-8") as f:
            json.dump(summary_json(summary, seeds, meta), f, indent=1)
    return 0 if verdict(summary) else 1


def _replay_report(
    args: argparse.Namespace,
    names: Sequence[str],
    seeds: Sequence[int],
    fresh: dict[tuple[str, int], RunRecord],
    stale: int,
) -> int:
    """Compare the runs of the current code with the older records of ``--replay-against``; exit
    0 iff every (check, seed) asked for ran and is identical to an older record."""
    older: dict[tuple[str, int], list[RunRecord]] = {}
    for rec in Cache(args.replay_against).records():
        if rec.tier == args.tier and rec.check in names:
            older.setdefault((rec.check, rec.seed), []).append(rec)
    results = [
        replay(fresh[(n, s)], older.get((n, s), ()), args.rtol)
        for s in seeds
        for n in names
        if (n, s) in fresh
    ]
    print(format_replay(results, names, args.replay_against, args.tier))
    missing = len(names) * len(seeds) - len(results)
    if missing:
        print(f"  {missing} (check, seed) runs asked for did not run (interrupted or --cached-only)")
    if stale:
        print(
            f"  {stale} runs used files edited while this ran (compared all the same; run again to be sure)"
        )
    return 0 if results and not missing and all(r.status == "identical" for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())

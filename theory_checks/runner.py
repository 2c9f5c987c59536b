"""``optref check``: run the theory checks, print the table, write the report.

    optref check                       quick tier, every check, report in ./report
    optref check --full                more seeds, tighter intervals
    optref check --only gd_stability --only robbins_monro   (or --only a,b)
    optref check --seed 3 --report out/ --jobs 2
    optref check --scheduler tcp://host:8786                trials on a Dask cluster
    optref check --only gd_stability --sabotage wrong-prediction   (shows the check failing)

Exit statuses (``EXIT_STATUSES``, also in ``--help``): 0 every claim holds; 1 some claim fails (a
check that raises, or whose figure cannot be drawn, counts as failed and is reported with its
error); 2 usage error (a bad argument, a ``--report`` that is a file, not writable, or a folder
holding other files than a report); 4 internal error of the runner; 130 interrupted (Ctrl-C); 141
standard output closed by its reader (``| head``; the report is written first). Every
error is one line on stderr, never a traceback. Independent trials go through ``ctx.map``:
serially (``--jobs 1``), through joblib (``--jobs N``), or to a dask.distributed scheduler.

The report folder is written whole or not at all: each run writes report.md, report.json and the
PNGs into a fresh temporary folder beside the target, then renames it into place, replacing an
earlier report folder whole (never merged). An interrupted or failed run removes its temporary
folder and leaves the earlier report as it was.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib
import json
import math
import os
import platform
import secrets
import shutil
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from types import ModuleType
from typing import Any, NoReturn, TextIO, cast

from . import CHECKS
from ._base import Check, CheckResult, Context, Outcome, Row, Tier, serial_map

Mapper = Callable[[Callable[[Any], Any], Sequence[Any]], list[Any]]

EXIT_OK, EXIT_FAILS, EXIT_USAGE, EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_PIPE = 0, 1, 2, 4, 130, 141

#: The exit statuses of ``optref check`` (also its --help epilog).
EXIT_STATUSES: dict[int, str] = {
    EXIT_OK: "every claim holds",
    EXIT_FAILS: "some claim fails (a check that raises or whose figure cannot be drawn counts as failing)",
    EXIT_USAGE: "usage error: a bad argument, or a --report that is a file, not writable, or a folder "
    "holding other files than a report (checked before anything runs)",
    EXIT_INTERNAL: "internal error of the runner (please report the line printed)",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C); the earlier report is left as it was",
    EXIT_PIPE: "the reader closed standard output (`| head`); the report is written before the table",
}


class UsageError(ValueError):
    """A mistake in the command line or its environment (exit status 2, one line on stderr)."""


# ----------------------------------------------------------------------------------------------
# Mappers: how independent trials run


def joblib_map(n_jobs: int) -> Mapper:
    """Trials in ``n_jobs`` worker processes (joblib's loky backend)."""
    from joblib import Parallel, delayed

    pool = Parallel(n_jobs=n_jobs)

    def mapper(fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        if len(items) <= 1:
            return [fn(x) for x in items]
        return list(pool(delayed(fn)(x) for x in items))

    return mapper


def dask_map(client: Any) -> Mapper:
    """Trials submitted to a dask.distributed ``client``; results gathered in order."""

    def mapper(fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        futures = client.map(fn, list(items), pure=False)
        return list(client.gather(futures))

    return mapper


def connect_dask(address: str) -> Any:
    """A dask.distributed Client for ``address``; a clear error if the extra is missing."""
    try:
        distributed: Any = importlib.import_module("distributed")
    except ImportError:
        raise UsageError(
            "--scheduler needs dask.distributed; install it with: pip install 'optim-reference[dask]'"
        ) from None
    try:
        return distributed.Client(address)
    except (OSError, ValueError, TypeError) as exc:  # TimeoutError is an OSError
        raise UsageError(f"--scheduler {address!r}: cannot connect: {_one_line(exc)}") from None


# ----------------------------------------------------------------------------------------------
# Running checks


def load(name: str) -> Check:
    """The check module ``theory_checks.<name>``."""
    return cast(Check, importlib.import_module(f"{__package__}.{name}"))


class UnknownSabotage(ValueError):
    """``ctx.sabotage`` names a word the check does not accept (a usage error, not a verdict)."""


def check_sabotage(check: Check | ModuleType, word: str | None) -> None:
    """Raise ``UnknownSabotage`` unless ``word`` is None or one of the check's SABOTAGE words."""
    words = tuple(getattr(check, "SABOTAGE", ()))
    if word is not None and word not in words:
        name = getattr(check, "NAME", "?")
        raise UnknownSabotage(f"{name}: sabotage must be one of {words}, got {word!r}")


def _result(check: Check | ModuleType, out: Outcome | CheckResult) -> CheckResult:
    """The CheckResult of a run: an Outcome gets the module's constants (filled here, once)."""
    if isinstance(out, CheckResult):
        return out
    if not isinstance(out, Outcome):
        raise TypeError(f"run() returned {type(out).__name__}, not Outcome")
    result = CheckResult(
        name=str(check.NAME),
        claim=str(check.CLAIM),
        source=str(check.SOURCE),
        rows=tuple(out.rows),
        justification=str(getattr(check, "JUSTIFICATION")),  # noqa: B009  (not in the Check protocol)
        figure=dict(out.figure),
    )
    declared = getattr(check, "STAT_ROWS", None)
    if declared is not None:
        # Bonferroni accounting: the per-comparison level assumes the declared count.
        stat = sum(r.kind == "stat" for r in result.rows)
        if stat != declared:
            raise ValueError(f"reported {stat} 'stat' rows but declares STAT_ROWS = {declared}")
    return result


def run_one(check: Check | ModuleType, ctx: Context) -> CheckResult:
    """Run one check; an exception becomes a failed result carrying the error. An unknown
    sabotage word raises ``UnknownSabotage`` (it is the caller's mistake, not the check's)."""
    check_sabotage(check, ctx.sabotage)
    name = _name(check)
    t0 = time.perf_counter()
    try:
        result = _result(check, cast(Check, check).run(ctx))
        if not result.rows:
            raise ValueError("run() returned no rows: a check must compare something")
        if not result.verdict_rows:
            raise ValueError("run() returned only report rows: a check must compare something")
    except Exception as exc:  # noqa: BLE001 - one broken check must not stop the suite
        tb = traceback.format_exc(limit=-3)
        return CheckResult(
            name=name,
            claim=str(getattr(check, "CLAIM", "")),
            source=str(getattr(check, "SOURCE", "")),
            rows=(Row("error", "runs", f"{type(exc).__name__}: {exc}", "-", False),),
            justification="the check raised; see the error",
            figure={"error": tb},
            seconds=time.perf_counter() - t0,
        )
    return dataclasses.replace(result, seconds=time.perf_counter() - t0)


def draw(check: Check | ModuleType, result: CheckResult, path: str) -> CheckResult:
    """Write the check's figure; a plotting error becomes a failed row (the figure is part of
    what a check delivers)."""
    try:
        cast(Check, check).plot(result, path)
    except Exception as exc:  # noqa: BLE001
        return _figure_failed(result, f"{type(exc).__name__}: {exc}")
    return result


def run_and_draw(check: Check | ModuleType, ctx: Context, path: str | None) -> CheckResult:
    """``run_one``, then the figure into ``path`` (None: no figure) unless the check failed to run."""
    result = run_one(check, ctx)
    if path is not None and not result.figure.get("error"):
        result = draw(check, result, path)
    return result


def _figure_failed(result: CheckResult, error: str) -> CheckResult:
    row = Row("figure", "drawn", error, "-", False)
    return dataclasses.replace(result, rows=(*result.rows, row))


def _collect_figures(
    worker: FigureWorker, pending: dict[int, tuple[Check | ModuleType, str]], results: list[CheckResult]
) -> None:
    """Wait for the figure process; a figure it failed to draw is a failed row, one it never
    answered (it died) is drawn here."""
    answers = worker.finish()
    for key, (check, path) in pending.items():
        if key not in answers:
            results[key] = draw(check, results[key], path)
        elif (error := answers[key]) is not None:
            results[key] = _figure_failed(results[key], error)


def _use_worker(checks: Sequence[Check | ModuleType], asked: bool | None) -> bool:
    """``asked``, or by default: two cores or more and two figures or more for the process."""
    if asked is not None:
        return asked
    return sum(FigureWorker.accepts(c) for c in checks) >= 2 and _cores() >= 2


def _name(check: Check | ModuleType) -> str:
    """The name ``run_one`` gives the check's result (and its figure file)."""
    return str(getattr(check, "NAME", getattr(check, "__name__", "?")))


def _nothing() -> None:
    pass


def _cores() -> int:
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity is not None else (os.cpu_count() or 1)


class FigureWorker:
    """Draws figures in a second process (``theory_checks/_figures.py``) while the checks go on.

    ``submit`` queues a job and returns at once (a feeder thread writes it to the process);
    ``finish`` waits for every answer and returns ``{key: error or None}``; a job without an answer
    (the process died) is missing from it and the caller draws that figure itself. ``close`` kills
    the process if it still runs (Ctrl-C, an error): call it before the report folder is removed.
    Only checks that the process can import by name are accepted (``accepts``)."""

    def __init__(self) -> None:
        import queue
        import threading

        self.proc = _second_process()
        self._jobs: queue.SimpleQueue[tuple[int, str, CheckResult, str] | None] = queue.SimpleQueue()
        self._feeder = threading.Thread(target=self._feed, name="figure-feeder", daemon=True)
        self._feeder.start()

    @staticmethod
    def accepts(check: Check | ModuleType) -> bool:
        """A real module the process can import by its name (not one made in memory)."""
        return (
            isinstance(check, ModuleType)
            and check.__spec__ is not None
            and getattr(check, "__file__", None) is not None
            and sys.modules.get(check.__name__) is check
        )

    def _feed(self) -> None:
        import pickle

        stdin = self.proc.stdin
        if stdin is None:  # pragma: no cover - Popen was given stdin=PIPE
            return
        with contextlib.suppress(OSError, ValueError):  # the process died or was killed
            while (job := self._jobs.get()) is not None:
                pickle.dump(("draw", *job), stdin)
                stdin.flush()
        with contextlib.suppress(OSError, ValueError):
            stdin.close()

    def submit(self, key: int, check: ModuleType, result: CheckResult, path: str) -> None:
        self._jobs.put((key, check.__name__, result, path))

    def finish(self) -> dict[int, str | None]:
        """Every answer (after the last job is drawn); the process has ended when it returns."""
        import pickle

        self._jobs.put(None)
        answers: dict[int, str | None] = {}
        stdout = self.proc.stdout
        if stdout is not None:
            with contextlib.suppress(EOFError, pickle.UnpicklingError, OSError):
                while True:
                    key, error = pickle.load(stdout)
                    answers[key] = error
        self.proc.wait()
        self._feeder.join()
        return answers

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._jobs.put(None)
        self._feeder.join(timeout=5)
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()


def _second_process() -> subprocess.Popen[bytes]:
    """``python -m theory_checks._figures`` with pipes for jobs and answers, in its own session
    (Ctrl-C reaches the runner only; the runner kills it)."""
    return subprocess.Popen(
        [sys.executable, "-m", f"{__package__}._figures"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=_helper_env(),
        start_new_session=True,
    )


def _helper_env() -> dict[str, str]:
    """The second process's environment: this package importable, Agg, one BLAS thread."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)
    env = dict(os.environ, PYTHONPATH=path, MPLBACKEND="Agg")
    env.update({var: "1" for var in BLAS_THREAD_VARS})
    return env


#: the environment variables that set the thread count of the BLAS and OpenMP libraries
BLAS_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")


def one_blas_thread() -> contextlib.AbstractContextManager[object]:
    """This process's BLAS limited to one thread while the context lasts (threadpoolctl), as the
    second process's is: a check's last digits then do not depend on which process ran it, nor on
    the machine's core count (a threaded dot product sums in another order). A no-op without
    threadpoolctl (part of the ``check`` extra)."""
    import numpy  # noqa: F401 - loads the BLAS library now: a limit covers only those already loaded

    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - the check extra brings it
        return contextlib.nullcontext()
    return cast(contextlib.AbstractContextManager[object], threadpool_limits(limits=1, user_api="blas"))


class Helper:
    """The second process when the checks run serially (the default): it takes checks from the
    same queue as the runner and runs each whole (``run_and_draw``: result and figure), so the two
    cores share the suite. ``run`` sends one job and waits for its result; None means the process
    died (the caller runs that check itself). ``close`` kills the process if it still runs."""

    def __init__(self) -> None:
        self.proc = _second_process()

    def run(self, key: int, check: ModuleType, ctx: Context, path: str | None) -> CheckResult | None:
        import pickle

        try:
            assert self.proc.stdin is not None and self.proc.stdout is not None
            pickle.dump(("run", key, check.__name__, ctx.tier, ctx.seed, ctx.sabotage, path), self.proc.stdin)
            self.proc.stdin.flush()
            got, result = pickle.load(self.proc.stdout)
        except (OSError, EOFError, ValueError, pickle.UnpicklingError):
            return None
        return result if got == key and isinstance(result, CheckResult) else None

    def close(self, *, kill: bool = False) -> None:
        """End the process: at the end of its input (it has answered every job), or killed at
        once (``kill``: Ctrl-C or an error in the runner, possibly in the middle of a check)."""
        if kill and self.proc.poll() is None:
            self.proc.kill()
        if self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()  # end of input: the process returns
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover - it did not end: stop it
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:  # after the process ended: no read of it is pending
            with contextlib.suppress(OSError):
                self.proc.stdout.close()


def _previous_seconds(folder: ReportFolder | None) -> dict[str, float]:
    """Each check's seconds in the report the run will replace (empty if none is readable)."""
    if folder is None:
        return {}
    try:
        with open(os.path.join(folder.target, "report.json"), encoding="utf-8") as fh:
            doc = json.load(fh)
        return {str(r["name"]): float(r["seconds"]) for r in doc["results"]}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


#: Without an earlier report, these checks start first (the quick tier's longest, in this order,
#: on the 2-core machine of benchmarks/bench_theory_checks.py); a scheduling hint only.
LONGEST_FIRST = ("edge_of_stability", "kkt_inequality", "robbins_monro", "sgd_temperature")


def _shared_order(checks: Sequence[Check | ModuleType], previous: dict[str, float]) -> list[int]:
    """The order the two processes take the checks in: longest first by the earlier report's
    times (the longest-processing-time rule: the last check to start is a short one), checks that
    report did not time first of all; without an earlier report, ``LONGEST_FIRST`` and then the
    suite's own order. Only the order of work depends on it, never a result."""
    names = [_name(c) for c in checks]
    if previous:
        cost = [previous.get(n, math.inf) for n in names]
    else:
        cost = [
            float(len(LONGEST_FIRST) - LONGEST_FIRST.index(n)) if n in LONGEST_FIRST else 0.0 for n in names
        ]
    return sorted(range(len(checks)), key=lambda i: -cost[i])


def _run_shared(
    checks: Sequence[Check | ModuleType],
    ctx: Context,
    paths: list[str | None],
    order: list[int],
    tick: Callable[[], None],
) -> list[CheckResult]:
    """Run ``checks`` in this process and a ``Helper`` side by side, each taking the next check of
    ``order`` when it is free; results in the checks' order, each as ``run_and_draw`` gives it."""
    import threading

    for check in checks:  # an unknown sabotage word is the caller's mistake: before anything runs
        check_sabotage(check, ctx.sabotage)
    todo = list(order)
    lock = threading.Lock()
    results: list[CheckResult | None] = [None] * len(checks)

    def take(helper: bool) -> int | None:
        with lock:
            for k, i in enumerate(todo):
                if not helper or FigureWorker.accepts(checks[i]):
                    return todo.pop(k)
        return None

    def done(i: int, result: CheckResult) -> None:
        with lock:
            results[i] = result
        tick()

    helper = Helper()

    def helper_loop() -> None:
        while (i := take(helper=True)) is not None:
            result = helper.run(i, cast(ModuleType, checks[i]), ctx, paths[i])
            if result is None:  # the process died: give the check back to the runner
                with lock:
                    todo.insert(0, i)
                return
            done(i, result)

    thread = threading.Thread(target=helper_loop, name="check-helper", daemon=True)
    finished = False
    try:
        thread.start()
        while True:
            i = take(helper=False)
            if i is None:
                thread.join()  # the helper's last check, or one it gave back
                i = take(helper=False)
                if i is None:
                    break
            done(i, run_and_draw(checks[i], ctx, paths[i]))
        finished = True
    finally:
        helper.close(kill=not finished)
        thread.join(timeout=5)
    return [r for r in results if r is not None]


def run_suite(
    checks: Sequence[Check | ModuleType],
    ctx: Context,
    *,
    report: str | ReportFolder | None = None,
    plots: bool = True,
    progress: bool = True,
    stream: TextIO | None = None,
    figure_worker: bool | None = None,
) -> list[CheckResult]:
    """Run ``checks`` under ``ctx``; optionally write the report folder (whole: see
    ``ReportFolder``; an exception or Ctrl-C leaves the earlier report as it was). Returns the results.

    ``figure_worker``: use a second process; None (default) does so when there are two cores and
    two checks or more it can import. With the serial map (``--jobs 1``, the default) the two
    processes share the checks, longest first by the earlier report's times (``Helper``,
    ``_run_shared``); with another map (joblib, Dask) the trials are already spread and the second
    process only draws the figures while the next checks run (``FigureWorker``). BLAS runs one
    thread in each process throughout (``one_blas_thread``), so the rows, the figures and the
    report are the same bit for bit in every mode, whichever process ran a check."""
    out = sys.stdout if stream is None else stream
    folder = ReportFolder(report) if isinstance(report, str) else report
    results: list[CheckResult] = []
    bar: Any = None
    worker: FigureWorker | None = None
    pending: dict[int, tuple[Check | ModuleType, str]] = {}
    try:
        previous = _previous_seconds(folder)
        partial = folder.open() if folder is not None else None
        second = _use_worker(checks, figure_worker)
        shared = second and ctx.map is serial_map
        if second and not shared and partial is not None and plots:
            worker = FigureWorker()
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=len(checks), file=sys.stderr, unit="check", leave=False)
        t0 = time.perf_counter()
        paths = [
            os.path.join(partial, f"{_name(c)}.png") if partial is not None and plots else None
            for c in checks
        ]
        with one_blas_thread():
            if shared:
                tick = bar.update if bar is not None else _nothing
                results = _run_shared(checks, ctx, paths, _shared_order(checks, previous), tick)
            for check, path in () if shared else zip(checks, paths):
                if bar is not None:
                    bar.set_description(_name(check))
                if worker is not None and path is not None and FigureWorker.accepts(check):
                    result = run_one(check, ctx)
                    if not result.figure.get("error"):
                        worker.submit(len(results), cast(ModuleType, check), result, path)
                        pending[len(results)] = (check, path)
                else:
                    result = run_and_draw(check, ctx, path)
                results.append(result)
                if bar is not None:
                    bar.update(1)
            if worker is not None:
                _collect_figures(worker, pending, results)
        if bar is not None:
            bar.close()
            bar = None
        total = time.perf_counter() - t0
        if folder is not None and partial is not None:  # the report first: `| head` cannot lose it
            write_report(results, ctx, partial, total, plots=plots)
            folder.commit()
        print_table(results, out)
        n_ok = sum(r.holds for r in results)
        print(
            f"\n{n_ok}/{len(results)} claims hold ({ctx.tier} tier, seed {ctx.seed}, {total:.1f} s)", file=out
        )
        if folder is not None:
            print(f"report: {os.path.join(folder.shown, 'report.md')}", file=out)
    finally:
        if bar is not None:
            bar.close()
        if worker is not None:
            worker.close()  # before the folder goes: no figure is written into a removed folder
        if folder is not None:
            folder.discard()
    return results


# ----------------------------------------------------------------------------------------------
# The report folder: written whole, or not at all

#: The files a report folder holds (``--report`` refuses to replace a folder holding anything else).
_REPORT_FILES = ("report.md", "report.json")


def _is_report_file(folder: str, name: str) -> bool:
    path = os.path.join(folder, name)
    if os.path.islink(path) or not os.path.isfile(path):
        return False
    return name in _REPORT_FILES or (name.endswith(".png") and not name.startswith("."))


def check_report_target(path: str) -> str:
    """The real path of the report folder ``path`` after checking, before anything runs, that a
    report can replace it: it is not a file, it is absent, empty or holds only a report's files
    (report.md, report.json, PNGs: a folder replaced whole must hold nothing else), and the folder
    that will hold it can be written. Raises ``UsageError`` naming the problem."""
    if not path.strip():
        raise UsageError("--report must name a folder, got ''")
    real = os.path.realpath(path)
    if os.path.exists(real) and not os.path.isdir(real):
        raise UsageError(f"--report {path!r} is a file, not a folder")
    if os.path.isdir(real):
        cwd = os.path.realpath(os.getcwd())
        if os.path.dirname(real) == real or os.path.commonpath([real, cwd]) == real:
            raise UsageError(
                f"--report {path!r} holds the current folder; a report replaces its folder whole"
            )
        try:
            names = sorted(os.listdir(real))
        except OSError as exc:
            raise UsageError(f"--report {path!r} cannot be read: {_one_line(exc)}") from None
        foreign = [n for n in names if not _is_report_file(real, n)]
        if foreign:
            shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
            raise UsageError(
                f"--report {path!r} holds files that are not a report ({shown}); a report replaces "
                "its folder whole, so choose a new or a report-only folder"
            )
    parent = os.path.dirname(real)
    nearest = parent
    while not os.path.exists(nearest):
        nearest = os.path.dirname(nearest)
    if not os.path.isdir(nearest):
        raise UsageError(f"--report {path!r} cannot be created: {nearest!r} is a file, not a folder")
    if not os.access(nearest, os.W_OK | os.X_OK):
        raise UsageError(f"--report {path!r} cannot be created: {nearest!r} is not writable")
    return real


@contextlib.contextmanager
def _sigint_deferred() -> Iterator[None]:
    """Hold SIGINT (Ctrl-C) until the block ends, so that a swap of folders is never cut in two."""
    can = hasattr(signal, "pthread_sigmask")
    if can:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        if can:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


class ReportFolder:
    """A report folder written whole: ``open()`` makes a fresh temporary folder beside the target
    (``.<name>.partial-<random>``), the run writes into it, ``commit()`` renames it onto the
    target (an earlier folder is renamed aside first, then deleted: replaced whole, never merged)
    and ``discard()`` removes whatever temporary folder is left. The target is checked at
    construction (``check_report_target``)."""

    def __init__(self, path: str) -> None:
        self.shown = path
        self.target = check_report_target(path)
        self.partial: str | None = None

    def _sibling(self, tag: str) -> str:
        parent, base = os.path.split(self.target)
        return os.path.join(parent, f".{base}.{tag}-{secrets.token_hex(6)}")

    def open(self) -> str:
        """Create and return the temporary folder (``UsageError`` if it cannot be created)."""
        if self.partial is None:
            try:
                os.makedirs(os.path.dirname(self.target), exist_ok=True)
                partial = self._sibling("partial")
                os.mkdir(partial)
            except OSError as exc:
                raise UsageError(f"--report {self.shown!r} cannot be written: {_one_line(exc)}") from None
            self.partial = partial
        return self.partial

    def commit(self) -> None:
        """Put the temporary folder in the target's place (Ctrl-C held for the two renames)."""
        if self.partial is None:
            raise RuntimeError("ReportFolder.commit() before open()")
        aside = None
        with _sigint_deferred():
            if os.path.lexists(self.target):
                aside = self._sibling("old")
                os.rename(self.target, aside)
            try:
                os.rename(self.partial, self.target)
            except OSError:
                if aside is not None:
                    os.rename(aside, self.target)
                raise
            self.partial = None
            if aside is not None:
                shutil.rmtree(aside, ignore_errors=True)

    def discard(self) -> None:
        """Remove the temporary folder if the run did not commit it (Ctrl-C held meanwhile)."""
        if self.partial is not None:
            with _sigint_deferred():
                shutil.rmtree(self.partial, ignore_errors=True)
                self.partial = None


# ----------------------------------------------------------------------------------------------
# Output


_COLUMNS = ("claim", "quantity", "predicted", "measured", "tolerance", "verdict")

#: The columns on screen: the verdict first; the full cells are in report.md.
_SCREEN_COLUMNS = ("verdict", "check", "quantity", "predicted", "measured", "tolerance")

#: The table's width when stdout is not a terminal and COLUMNS is not set.
PLAIN_WIDTH = 100


def _verdict(row: Row) -> str:
    return "report" if row.holds is None else "ok" if row.holds else "FAIL"


def table_rows(results: Sequence[CheckResult]) -> list[tuple[str, ...]]:
    """One tuple per Row in the order of ``_COLUMNS`` (report.md's table)."""
    rows: list[tuple[str, ...]] = []
    for res in results:
        for i, r in enumerate(res.rows):
            rows.append(
                (res.name if i == 0 else "", r.quantity, r.predicted, r.measured, r.tolerance, _verdict(r))
            )
    return rows


def terminal_width() -> int:
    """The terminal's width (COLUMNS if set); ``PLAIN_WIDTH`` when stdout is not a terminal."""
    return max(40, shutil.get_terminal_size((PLAIN_WIDTH, 24)).columns)


def _cut(s: str, width: int) -> str:
    s = " ".join(s.split())
    return s if len(s) <= width else s[: width - 3] + "..."


def screen_table(
    results: Sequence[CheckResult],
    *,
    width: int | None = None,
    columns: int = PLAIN_WIDTH,
    plain: bool = True,
) -> Any:
    """A ``rich.table.Table`` for a console ``columns`` wide: verdict, check, quantity, predicted,
    measured, tolerance; a blank line between checks. Cells are cut at ``width`` characters
    (default: half the width, 30 to 60) and wrap to fit; the check's name gets a sixth of the width
    (at most 24). ``plain``: ASCII rules and no colours (for files and pipes)."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    cut_at = width if width is not None else min(60, max(30, columns // 2))
    rule = box.Box("    \n    \n -  \n    \n    \n -  \n    \n    \n") if plain else box.SIMPLE_HEAD
    table = Table(
        box=rule, show_edge=False, pad_edge=False, padding=(0, 1, 0, 0), header_style="" if plain else "bold"
    )
    # fixed widths for the verdict and the check's name; the other four share the rest (a
    # min_width instead made rich crop the last column past the console's width)
    longest = max((len(r.name) for r in results), default=5)
    table.add_column("verdict", width=len("verdict"), no_wrap=True)
    table.add_column("check", width=max(5, min(longest, 24, (columns - 8) // 6)), overflow="fold")
    for name in _SCREEN_COLUMNS[2:]:
        table.add_column(name, ratio=1, overflow="fold")
    style = {"ok": "green", "FAIL": "bold red", "report": "dim"}
    for res in results:
        for i, r in enumerate(res.rows):
            verdict = _verdict(r)
            cells = (res.name if i == 0 else "", r.quantity, r.predicted, r.measured, r.tolerance)
            table.add_row(
                Text(verdict, style="" if plain else style[verdict]),
                *(Text(_cut(c, cut_at)) for c in cells),
                end_section=i == len(res.rows) - 1,
            )
    return table


def format_table(
    results: Sequence[CheckResult], width: int | None = None, *, columns: int | None = None
) -> str:
    """The table as plain text (ASCII, no colours) at most ``columns`` characters wide (default:
    the terminal's width, ``PLAIN_WIDTH`` when stdout is not a terminal); cells cut at ``width``
    (default: half the width, 30 to 60)."""
    import io

    from rich.console import Console

    cols = columns or terminal_width()
    buf = io.StringIO()
    console = Console(
        file=buf,
        width=cols,
        color_system=None,
        force_terminal=False,
        highlight=False,
        emoji=False,
        markup=False,
    )
    console.print(screen_table(results, width=width, columns=cols, plain=True))
    return "\n".join(line.rstrip() for line in buf.getvalue().rstrip().splitlines())


def print_table(results: Sequence[CheckResult], out: TextIO) -> None:
    """The table on ``out``: with rich's colours on a terminal, plain text otherwise."""
    isatty = getattr(out, "isatty", None)
    if not (callable(isatty) and isatty()):
        print(format_table(results), file=out)
        return
    from rich.console import Console

    cols = terminal_width()
    console = Console(file=out, width=cols, highlight=False, emoji=False, markup=False)
    console.print(screen_table(results, columns=cols, plain=False))


def _jsonable(x: Any) -> Any:
    import numpy as np

    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if isinstance(x, np.generic):
        return _jsonable(x.item())
    if isinstance(x, float) and not math.isfinite(x):
        return str(x)
    return x


def write_report(
    results: Sequence[CheckResult], ctx: Context, folder: str, total: float, *, plots: bool = True
) -> None:
    """report.json (everything, figure data included) and report.md (the table, each claim)."""
    meta = {
        "tier": ctx.tier,
        "seed": ctx.seed,
        "sabotage": ctx.sabotage,
        "seconds": round(total, 3),
        "holds": all(r.holds for r in results),
        "passed": sum(r.holds for r in results),
        "checks": len(results),
        "python": platform.python_version(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "sources": "the lecture notes, cited as 'note 00N, \"Section\"'; specs/notes.md says what each cited section states",
    }
    doc = {
        "meta": meta,
        "results": [
            {
                "name": r.name,
                "claim": r.claim,
                "source": r.source,
                "holds": r.holds,
                "seconds": round(r.seconds, 3),
                "justification": r.justification,
                "rows": [dataclasses.asdict(row) for row in r.rows],
                "figure": _jsonable(r.figure),
            }
            for r in results
        ],
    }
    with open(os.path.join(folder, "report.json"), "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=1)

    def cell(s: str) -> str:
        return " ".join(s.split()).replace("|", "\\|")

    md = [
        "# Theory checks",
        "",
        f"{meta['passed']}/{meta['checks']} claims hold - {ctx.tier} tier, seed {ctx.seed}, "
        f"{total:.1f} s" + (f", sabotage {ctx.sabotage!r}" if ctx.sabotage else "") + ".",
        "",
        "Sources: the five lecture notes on optimization for machine learning, cited as `note 00N, "
        '"Section"`; specs/notes.md (in the repository) names each note and says what each cited '
        "section states.",
        "",
        "| claim | quantity | predicted | measured | tolerance | verdict |",
        "|---|---|---|---|---|---|",
    ]
    md += ["| " + " | ".join(cell(c) for c in row) + " |" for row in table_rows(results)]
    for r in results:
        md += [
            "",
            f"## {r.name}: {'holds' if r.holds else 'FAILS'}",
            "",
            f"**Claim.** {r.claim}",
            "",
            f"**Source.** {r.source}",
            "",
            f"**Tolerance.** {r.justification}",
            "",
            f"Time: {r.seconds:.2f} s.",
        ]
        if "error" in r.figure:
            md += ["", "```", str(r.figure["error"]).rstrip(), "```"]
        elif plots:
            md += ["", f"![{r.name}]({r.name}.png)"]
    with open(os.path.join(folder, "report.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(md) + "\n")


# ----------------------------------------------------------------------------------------------
# Command line


def parse_only(values: Sequence[str] | None) -> list[str]:
    """--only a --only b,c -> [a, b, c]; every name must be in CHECKS."""
    if not values:
        return list(CHECKS)
    names = [n.strip() for v in values for n in v.split(",") if n.strip()]
    unknown = [n for n in names if n not in CHECKS]
    if unknown:
        raise ValueError(f"--only: unknown check(s) {', '.join(unknown)}; known: {', '.join(CHECKS)}")
    return list(dict.fromkeys(names))


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _epilog() -> str:
    import textwrap

    lines = [
        textwrap.fill(text, width=78, initial_indent=f"  {code:<4} ", subsequent_indent=" " * 7)
        for code, text in EXIT_STATUSES.items()
    ]
    return "exit status:\n" + "\n".join(lines)


class _Parser(argparse.ArgumentParser):
    """argparse whose errors are one line (exit 2) after the usage, never a traceback."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="optref check",
        description="Run the theory checks: each documented claim measured against its prediction.",
        epilog=_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    tier = p.add_mutually_exclusive_group()
    tier.add_argument(
        "--quick", dest="tier", action="store_const", const="quick", help="quick tier (default)"
    )
    tier.add_argument(
        "--full", dest="tier", action="store_const", const="full", help="more seeds, tighter intervals"
    )
    p.set_defaults(tier="quick")
    p.add_argument(
        "--only", action="append", metavar="NAME", help="run only these checks (repeatable or comma list)"
    )
    p.add_argument("--seed", type=int, default=0, help="root seed (default 0)")
    p.add_argument(
        "--report",
        default="report",
        metavar="DIR",
        help="report folder (default ./report), replaced whole by each run; it must be new, empty "
        "or hold only an earlier report",
    )
    p.add_argument(
        "--jobs", type=int, default=1, metavar="N", help="parallel trials through joblib (default 1)"
    )
    p.add_argument("--scheduler", metavar="ADDRESS", help="send trials to a dask.distributed scheduler")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG figures")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--list", action="store_true", help="list the checks and their sabotage words, then exit")
    p.add_argument(
        "--sabotage", metavar="WORD", help="run with a deliberately wrong prediction/optimizer (demo)"
    )
    return p


def _error(message: str) -> None:
    print(f"optref check: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """``optref check``: the exit status of ``EXIT_STATUSES``; every error is one line on stderr."""
    try:
        return _main(list(sys.argv[1:] if argv is None else argv))
    except (UsageError, UnknownSabotage) as exc:
        _error(f"error: {exc}")
        return EXIT_USAGE
    except KeyboardInterrupt:
        _error("interrupted (Ctrl-C); the earlier report, if any, is left as it was")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `optref check | head`: stop quietly, as Unix tools do
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_PIPE
    except OSError as exc:
        _error(f"error: cannot write the report: {_one_line(exc)}")
        return EXIT_USAGE
    except Exception as exc:  # noqa: BLE001 - a bug of the runner: still one line
        _error(f"internal error (please report): {_one_line(exc)}")
        return EXIT_INTERNAL


def _main(argv: list[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        names = parse_only(args.only)
    except ValueError as exc:
        parser.print_usage(sys.stderr)
        _error(f"error: {exc}")
        return EXIT_USAGE
    if args.jobs < 1:
        raise UsageError(f"--jobs must be >= 1, got {args.jobs}")
    if args.seed < 0:
        raise UsageError(f"--seed must be >= 0, got {args.seed}")
    checks = [load(n) for n in names]
    if args.list:
        for c in checks:
            print(f"{c.NAME:<24} {c.CLAIM}   [sabotage: {', '.join(c.SABOTAGE)}]")
        return EXIT_OK
    if args.sabotage is not None:
        bad = [c.NAME for c in checks if args.sabotage not in c.SABOTAGE]
        if bad:
            raise UsageError(f"--sabotage {args.sabotage!r} is not accepted by {', '.join(bad)} (see --list)")
    folder = ReportFolder(args.report)
    client = None
    try:
        folder.open()  # an unwritable place is an error before anything runs
        mapper: Mapper = serial_map
        if args.scheduler:
            client = connect_dask(args.scheduler)
            mapper = dask_map(client)
        elif args.jobs > 1:
            mapper = joblib_map(args.jobs)
        tier: Tier = args.tier
        ctx = Context(tier=tier, seed=args.seed, map=mapper, sabotage=args.sabotage)
        results = run_suite(
            checks, ctx, report=folder, plots=not args.no_plots, progress=not args.no_progress
        )
    finally:
        folder.discard()
        if client is not None:
            client.close()
    return EXIT_OK if all(r.holds for r in results) else EXIT_FAILS


if __name__ == "__main__":
    raise SystemExit(main())

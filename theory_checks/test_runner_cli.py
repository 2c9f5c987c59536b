"""``optref check`` as a user meets it (issue 10 items 6-8): the report folder is replaced whole
(never merged, never lost on Ctrl-C), every error is one line with its documented exit status
(never a traceback), and the table fits the terminal with the verdict first.

CLI cases run as subprocesses (what a user sees: default warnings, a real SIGINT). The fast real
check ``gn_one_step`` (< 1 s) stands for a run; ``_slow`` below, injected into a child process,
is a check that blocks until interrupted, so that Ctrl-C lands mid-run deterministically.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap
import time
import types
from pathlib import Path
from typing import Any

import pytest

from tests.cli_helpers import ctrl_c_session, shell_sigint

from . import runner
from ._base import CheckResult, Context, Row, report_row

REPO = Path(__file__).resolve().parent.parent
FAST = "gn_one_step"
FAST2 = "newton_one_step"


def _env(columns: int | None = 80) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "PYTHONWARNINGS")}
    if columns is not None:
        env["COLUMNS"] = str(columns)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def optref(
    *args: str, cwd: Path, columns: int | None = 80, timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    """``optref ARGS`` in a child process (``python -m reference``), output captured (not a tty)."""
    return subprocess.run(
        [sys.executable, "-m", "reference", *args],
        cwd=cwd,
        env=_env(columns),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def _no_traceback(proc: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr


def _one_error_line(proc: subprocess.CompletedProcess[str], *needles: str) -> str:
    """stderr's last line, after checking that no traceback was printed and that the error is one
    line (argparse's usage block may precede it, as for every argparse error)."""
    _no_traceback(proc)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("optref check:")]
    assert len(errors) == 1, proc.stderr
    for needle in needles:
        assert needle in errors[0], errors[0]
    return errors[0]


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


# ----------------------------------------------------------------------------------------------
# Item 6: a report folder is replaced whole


def test_report_folder_is_replaced_whole(tmp_path: Path) -> None:
    rep = tmp_path / "rep"
    full = optref("check", "--only", f"{FAST},{FAST2}", "--report", str(rep), "--no-progress", cwd=tmp_path)
    _no_traceback(full)
    assert full.returncode == 0, full.stderr
    assert sorted(os.listdir(rep)) == sorted(["report.md", "report.json", f"{FAST}.png", f"{FAST2}.png"])
    only = optref("check", "--only", FAST, "--report", str(rep), "--no-progress", cwd=tmp_path)
    _no_traceback(only)
    assert only.returncode == 0, only.stderr
    # only this run's files: the earlier run's figure is gone with its folder
    assert sorted(os.listdir(rep)) == sorted(["report.md", "report.json", f"{FAST}.png"])
    doc = json.loads((rep / "report.json").read_text())
    assert [r["name"] for r in doc["results"]] == [FAST]
    assert FAST2 not in (rep / "report.md").read_text()
    assert _leftovers(tmp_path) == [], "temporary folders left beside the report"
    assert f"report: {rep / 'report.md'}" in only.stdout


def test_report_cites_the_notes_page_and_each_source_resolves(tmp_path: Path) -> None:
    """Issue 10 item 12: a report names where its sources are explained (specs/notes.md), and every
    check's SOURCE cites a note by number."""
    rep = tmp_path / "rep"
    done = optref("check", "--only", FAST, "--report", str(rep), "--no-progress", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    md = (rep / "report.md").read_text()
    assert "specs/notes.md" in md and "the notes" not in md
    assert "specs/notes.md" in json.loads((rep / "report.json").read_text())["meta"]["sources"]
    import importlib

    from . import CHECKS

    for name in CHECKS:
        source = importlib.import_module(f"theory_checks.{name}").SOURCE
        assert "note 00" in source.lower(), f"{name}: SOURCE cites no note by number: {source}"


def test_report_folder_object_commits_and_discards(tmp_path: Path) -> None:
    target = tmp_path / "out" / "rep"  # parent created on open()
    folder = runner.ReportFolder(str(target))
    partial = Path(folder.open())
    assert partial.parent == target.parent and partial.name.startswith(".rep.partial-")
    (partial / "report.md").write_text("new\n")
    folder.commit()
    assert (target / "report.md").read_text() == "new\n" and not partial.exists()
    assert _leftovers(target.parent) == []
    # a run that does not commit leaves the earlier folder exactly as it was
    again = runner.ReportFolder(str(target))
    (Path(again.open()) / "x.png").write_bytes(b"half")
    again.discard()
    assert _snapshot(target) == {"report.md": b"new\n"} and _leftovers(target.parent) == []


def test_folder_holding_other_files_is_refused_untouched(tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    (mine / "report.md").write_text("old")
    proc = optref("check", "--only", FAST, "--report", str(mine), "--no-progress", cwd=tmp_path)
    assert proc.returncode == 2
    _one_error_line(proc, "--report", "notes.txt", "not a report")
    assert proc.stdout == ""  # refused before anything ran
    assert _snapshot(mine) == {"notes.txt": b"keep me", "report.md": b"old"}
    # the current folder is never a report folder to replace
    cwd = optref("check", "--only", FAST, "--report", ".", "--no-progress", cwd=mine)
    assert cwd.returncode == 2
    _one_error_line(cwd, "--report")


# ----------------------------------------------------------------------------------------------
# Item 7: one-line errors, documented exit statuses


def test_report_at_a_file_is_a_usage_error_before_running(tmp_path: Path) -> None:
    f = tmp_path / "afile"
    f.write_text("data")
    proc = optref("check", "--only", FAST, "--report", str(f), "--no-progress", cwd=tmp_path)
    assert proc.returncode == 2
    _one_error_line(proc, "--report", "is a file")
    assert proc.stdout == "" and f.read_text() == "data"
    assert _leftovers(tmp_path) == []


def test_unwritable_report_place_is_a_usage_error(tmp_path: Path) -> None:
    f = tmp_path / "afile"
    f.write_text("data")
    proc = optref("check", "--only", FAST, "--report", str(f / "sub"), "--no-progress", cwd=tmp_path)
    assert proc.returncode == 2
    _one_error_line(proc, "--report", "cannot be created")
    assert proc.stdout == ""
    if os.geteuid() != 0:  # root writes through permission bits
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o555)
        try:
            proc = optref("check", "--only", FAST, "--report", str(ro / "rep"), "--no-progress", cwd=tmp_path)
        finally:
            ro.chmod(0o755)
        assert proc.returncode == 2
        _one_error_line(proc, "--report", "not writable")
        assert list(ro.iterdir()) == []


def test_report_place_that_cannot_be_created_in_is_a_usage_error(monkeypatch: Any, tmp_path: Path) -> None:
    """Where the permission check passes but mkdir fails (e.g. /proc, a read-only mount as root)."""

    def refuse(path: Any, mode: int = 0o777) -> None:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(os, "mkdir", refuse)
    with pytest.raises(runner.UsageError, match="cannot be written"):
        runner.ReportFolder(str(tmp_path / "rep")).open()


def test_help_documents_the_exit_statuses(tmp_path: Path) -> None:
    proc = optref("check", "--help", cwd=tmp_path)
    assert proc.returncode == 0
    _no_traceback(proc)
    epilog = proc.stdout.split("exit status:", 1)[1]
    for code, text in (
        (0, "every claim holds"),
        (1, "some claim fails"),
        (2, "usage error"),
        (130, "interrupted"),
    ):
        assert f"  {code} " in epilog and text in epilog, (code, epilog)
    assert all(len(line) <= 80 for line in proc.stdout.splitlines())


def test_bad_arguments_exit_2_in_one_line(tmp_path: Path) -> None:
    for args, needle in (
        (["--jobs", "0"], "--jobs must be >= 1"),
        (["--seed", "-1"], "--seed must be >= 0"),
        (["--seed", "x"], "--seed"),
        (["--only", FAST, "--sabotage", "no-such-word"], "--sabotage"),
        (["--only", "nope"], "unknown check(s) nope"),
    ):
        proc = optref("check", *args, "--report", str(tmp_path / "rep"), cwd=tmp_path)
        assert proc.returncode == 2, (args, proc.stderr)
        _one_error_line(proc, needle)
        assert not (tmp_path / "rep").exists() and _leftovers(tmp_path) == []


_SLOW_CHILD = textwrap.dedent(
    """
    import sys, time, types
    from theory_checks import runner

    def run(ctx):
        print("RUNNING", file=sys.stderr, flush=True)
        time.sleep(120)

    slow = types.ModuleType("theory_checks._slow")
    slow.__dict__.update(NAME="_slow", CLAIM="c", SOURCE="s", JUSTIFICATION="j", SABOTAGE=("x",),
                         run=run, plot=lambda result, path: None)
    sys.modules["theory_checks._slow"] = slow
    runner.CHECKS = (*runner.CHECKS, "_slow")
    from reference.cli import main
    raise SystemExit(main(sys.argv[1:]))
    """
)


def _wait_for(proc: subprocess.Popen[str], marker: str, timeout: float = 120) -> None:
    """Wait for ``marker`` on the child's stderr."""
    assert proc.stderr is not None
    deadline = time.monotonic() + timeout
    seen = ""
    while marker not in seen:
        line = proc.stderr.readline()
        if not line and proc.poll() is not None:
            raise AssertionError(f"child ended before {marker!r}: {seen}")
        seen += line
        assert time.monotonic() < deadline, f"no {marker!r} within {timeout} s: {seen}"


def test_ctrl_c_mid_run_exits_130_and_keeps_the_old_report(tmp_path: Path) -> None:
    rep = tmp_path / "rep"
    first = optref("check", "--only", f"{FAST},{FAST2}", "--report", str(rep), "--no-progress", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    before = _snapshot(rep)
    with shell_sigint():
        child = subprocess.Popen(
            [
                sys.executable,
                "-c",
                _SLOW_CHILD,
                "check",
                "--only",
                f"{FAST},_slow",
                "--report",
                str(rep),
                "--no-progress",
            ],
            cwd=tmp_path,
            env=_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            stdin=subprocess.DEVNULL,
        )
    with ctrl_c_session(child) as press:
        _wait_for(child, "RUNNING")
        # mid-run: the first check's figure sits in the temporary folder, not in the report (the
        # figure process may still be drawing it while the second check runs: wait for it)
        partial = [p for p in tmp_path.iterdir() if p.name.startswith(".rep.partial-")]
        deadline = time.monotonic() + 60
        while (
            len(partial) == 1 and not (partial[0] / f"{FAST}.png").is_file() and time.monotonic() < deadline
        ):
            time.sleep(0.1)
        assert len(partial) == 1 and (partial[0] / f"{FAST}.png").is_file(), sorted(os.listdir(tmp_path))
        out, err = press()
    assert child.returncode == 130, err
    assert "Traceback" not in out + err
    assert [ln for ln in err.splitlines() if ln.strip()] == [
        "optref check: interrupted (Ctrl-C); the earlier report, if any, is left as it was"
    ]
    assert _snapshot(rep) == before, "the earlier report changed"
    assert _leftovers(tmp_path) == [], "temporary folder left behind"


def test_ctrl_c_while_a_subcommand_imports_exits_130(tmp_path: Path) -> None:
    (tmp_path / "slowimport.py").write_text(
        'import sys, time\nprint("IMPORTING", file=sys.stderr, flush=True)\ntime.sleep(120)\n'
        "def main(argv):\n    return 0\n"
    )
    code = (
        "import sys\nfrom reference import cli\n"
        "cli._SUBCOMMANDS['slow'] = ('slowimport', 'main')\n"
        "raise SystemExit(cli.main(['slow']))\n"
    )
    env = _env()
    env["PYTHONPATH"] = str(tmp_path) + os.pathsep + env["PYTHONPATH"]
    with shell_sigint():
        child = subprocess.Popen(
            [sys.executable, "-c", code],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            stdin=subprocess.DEVNULL,
        )
    with ctrl_c_session(child) as press:
        _wait_for(child, "IMPORTING")
        out, err = press()
    assert child.returncode == 130, err
    assert "Traceback" not in out + err
    assert [ln for ln in err.splitlines() if ln.strip()] == ["optref slow: interrupted (Ctrl-C)"]


def _fake_check(name: str, rows: tuple[Row, ...], plot: Any = None) -> types.SimpleNamespace:
    from ._base import Outcome

    return types.SimpleNamespace(
        NAME=name,
        CLAIM="c",
        SOURCE="s",
        JUSTIFICATION="j",
        SABOTAGE=("x",),
        run=lambda ctx: Outcome(rows=rows),
        plot=plot or (lambda result, path: None),
    )


def test_figure_that_cannot_be_drawn_is_a_failed_row_exit_1(
    tmp_path: Path, monkeypatch: Any, capsys: Any
) -> None:
    def broken(result: CheckResult, path: str) -> None:
        raise RuntimeError("no canvas")

    fake = _fake_check("nofig", (Row("x", "1", "1", "exact", True),), plot=broken)
    monkeypatch.setitem(sys.modules, f"{runner.__package__}.nofig", fake)
    monkeypatch.setattr(runner, "CHECKS", ("nofig",))
    assert runner.main(["--only", "nofig", "--report", str(tmp_path / "rep"), "--no-progress"]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "RuntimeError: no canvas" in out
    doc = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert doc["results"][0]["rows"][-1]["quantity"] == "figure" and doc["meta"]["holds"] is False


def test_internal_error_is_one_line_exit_4_and_no_report_change(
    tmp_path: Path, monkeypatch: Any, capsys: Any
) -> None:
    fake = _fake_check("fine", (Row("x", "1", "1", "exact", True),))
    monkeypatch.setitem(sys.modules, f"{runner.__package__}.fine", fake)
    monkeypatch.setattr(runner, "CHECKS", ("fine",))
    rep = tmp_path / "rep"
    rep.mkdir()
    (rep / "report.md").write_text("old")

    def boom(*args: Any, **kwargs: Any) -> None:
        raise TypeError("Object of type X is not JSON serializable")

    monkeypatch.setattr(runner, "write_report", boom)
    assert runner.main(["--only", "fine", "--report", str(rep), "--no-progress"]) == runner.EXIT_INTERNAL
    err = capsys.readouterr().err
    assert (
        err.strip()
        == "optref check: internal error (please report): TypeError: Object of type X is not JSON serializable"
    )
    assert _snapshot(rep) == {"report.md": b"old"} and _leftovers(tmp_path) == []


# ----------------------------------------------------------------------------------------------
# Item 8: the table fits the terminal, verdict first


def test_narrow_terminal_output_fits_80_columns(tmp_path: Path) -> None:
    proc = optref(
        "check", "--only", f"{FAST},{FAST2}", "--report", str(tmp_path / "r"), "--no-progress", cwd=tmp_path
    )
    _no_traceback(proc)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split()[:6] == ["verdict", "check", "quantity", "predicted", "measured", "tolerance"]
    table = lines[: lines.index("")] if "" in lines else lines
    too_long = [ln for ln in lines if len(ln) > 80 and not ln.startswith("report: ")]
    assert not too_long, too_long
    assert any(ln.startswith("ok ") and FAST in ln for ln in table), proc.stdout
    assert "2/2 claims hold" in proc.stdout


def test_plain_width_when_not_a_terminal_and_no_columns(tmp_path: Path) -> None:
    proc = optref(
        "check", "--only", FAST, "--report", str(tmp_path / "r"), "--no-progress", cwd=tmp_path, columns=None
    )
    assert proc.returncode == 0, proc.stderr
    widths = [len(ln) for ln in proc.stdout.splitlines() if not ln.startswith("report: ")]
    assert max(widths) <= runner.PLAIN_WIDTH


def test_terminal_width_is_columns_or_the_plain_width(monkeypatch: Any) -> None:
    monkeypatch.setenv("COLUMNS", "73")
    assert runner.terminal_width() == 73
    monkeypatch.delenv("COLUMNS")
    if sys.__stdout__ is None or not sys.__stdout__.isatty():  # pytest's captured stdout is a file
        assert runner.terminal_width() == runner.PLAIN_WIDTH


def test_format_table_fits_and_shows_report_rows() -> None:
    long = "a very long measured cell " * 20
    res = runner.run_one(
        _fake_check(
            "some_check_with_a_long_name",
            (Row("q" * 30, "1", long, "exact", False), report_row("tail slope", "2.0")),
        ),
        Context(),
    )
    for columns in (60, 80, 120):
        text = runner.format_table([res], columns=columns)
        lines = text.splitlines()
        assert max(len(ln) for ln in lines) <= columns, (columns, text)
        verdicts = [
            ln.split()[0] for ln in lines[2:] if ln.strip() and ln.split()[0] in ("ok", "FAIL", "report")
        ]
        assert verdicts == ["FAIL", "report"], text
        if columns >= 80:  # narrower, the cut's "..." itself may wrap
            assert "..." in text  # the 520-character cell is cut; report.md has it whole
    assert runner.format_table([res]).splitlines()[0].startswith("verdict")


def test_figure_process_draws_the_same_figures_and_rows(tmp_path: Path) -> None:
    """The figures drawn by the second process (``FigureWorker``) are those drawn in the runner:
    same rows, same PNG files, byte for byte (the same matplotlib draws the same data)."""
    checks = [runner.load(FAST), runner.load(FAST2)]
    runs = {}
    for worker in (True, False):
        rep = tmp_path / f"rep_{worker}"
        res = runner.run_suite(
            checks,
            Context(),
            report=str(rep),
            progress=False,
            stream=io.StringIO(),
            figure_worker=worker,
        )
        runs[worker] = (res, {p.name: p.read_bytes() for p in rep.glob("*.png")})
    (with_worker, figs_worker), (inline, figs_inline) = runs[True], runs[False]
    assert [r.rows for r in with_worker] == [r.rows for r in inline]
    assert sorted(figs_worker) == sorted([f"{FAST}.png", f"{FAST2}.png"])
    assert figs_worker == figs_inline


def test_figure_that_the_process_cannot_draw_is_a_failed_row(tmp_path: Path, monkeypatch: Any) -> None:
    """A plot that raises in the figure process is the same failed 'figure' row as in the runner."""
    (tmp_path / "figfail_check.py").write_text(
        textwrap.dedent(
            """
            from theory_checks._base import Outcome, Row
            NAME, CLAIM, SOURCE, JUSTIFICATION, SABOTAGE = "figfail_check", "c", "s", "j", ("x",)
            def run(ctx):
                return Outcome(rows=(Row("x", "1", "1", "exact", True),))
            def plot(result, path):
                raise RuntimeError("no canvas")
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    import importlib

    bad = importlib.import_module("figfail_check")
    res = runner.run_suite(
        [bad, runner.load(FAST)],
        Context(),
        report=str(tmp_path / "rep"),
        progress=False,
        stream=io.StringIO(),
        figure_worker=True,
    )
    assert res[0].rows[-1] == Row("figure", "drawn", "RuntimeError: no canvas", "-", False)
    assert not res[0].holds and res[1].holds
    assert sorted(os.listdir(tmp_path / "rep")) == sorted(["report.md", "report.json", f"{FAST}.png"])


def test_second_process_only_draws_when_trials_use_another_map(tmp_path: Path) -> None:
    """With a map other than the serial one (joblib, Dask) the second process draws the figures
    (``FigureWorker``) and the runner runs every check: the same rows and figures as inline."""
    checks = [runner.load(FAST), runner.load(FAST2)]

    def listed_map(fn: Any, items: Any) -> list[Any]:
        return [fn(x) for x in items]

    runs = {}
    for worker in (True, False):
        rep = tmp_path / f"rep_{worker}"
        res = runner.run_suite(
            checks,
            Context(map=listed_map),
            report=str(rep),
            progress=False,
            stream=io.StringIO(),
            figure_worker=worker,
        )
        runs[worker] = (res, {p.name: p.read_bytes() for p in rep.glob("*.png")})
    assert [r.rows for r in runs[True][0]] == [r.rows for r in runs[False][0]]
    assert runs[True][1] == runs[False][1] and len(runs[True][1]) == 2


def test_checks_of_a_dead_helper_are_run_by_the_runner(tmp_path: Path, monkeypatch: Any) -> None:
    """A helper process that dies (``Helper.run`` answers None) gives its check back: every check
    still runs, once, in order, with its figure."""
    calls: list[int] = []

    def dead(self: Any, key: int, check: Any, ctx: Any, path: Any) -> None:
        calls.append(key)
        return None

    monkeypatch.setattr(runner.Helper, "run", dead)
    run_and_draw = runner.run_and_draw

    def slow(*args: Any) -> Any:  # the runner sleeps first, so the helper thread takes a check
        time.sleep(0.3)
        return run_and_draw(*args)

    monkeypatch.setattr(runner, "run_and_draw", slow)
    checks = [runner.load(FAST), runner.load(FAST2)]
    res = runner.run_suite(
        checks,
        Context(),
        report=str(tmp_path / "rep"),
        progress=False,
        stream=io.StringIO(),
        figure_worker=True,
    )
    assert len(calls) == 1  # the helper took one check, died, and took no other
    assert [r.name for r in res] == [FAST, FAST2] and all(r.holds for r in res)
    assert sorted(p.name for p in (tmp_path / "rep").glob("*.png")) == sorted([f"{FAST}.png", f"{FAST2}.png"])


def test_shared_order_is_longest_first_by_the_earlier_report() -> None:
    """The two processes take the checks longest first by the earlier report's seconds (checks it
    did not time first); without a report, ``LONGEST_FIRST`` leads and the suite's order follows."""

    class C:
        def __init__(self, name: str) -> None:
            self.NAME = name

    checks: list[Any] = [C("a"), C("b"), C("edge_of_stability"), C("c"), C("robbins_monro")]
    assert runner._shared_order(
        checks, {"a": 1.0, "b": 3.0, "edge_of_stability": 2.0, "robbins_monro": 0.5}
    ) == [
        3,
        1,
        2,
        0,
        4,
    ]
    assert runner._shared_order(checks, {}) == [2, 4, 0, 1, 3]


def test_checks_run_with_one_blas_thread_in_the_runner_and_the_helper(tmp_path: Path) -> None:
    """``run_suite`` holds BLAS to one thread in the runner (threadpoolctl) and the helper process
    starts with one (its environment), so a check's digits do not depend on the process."""
    from threadpoolctl import threadpool_info

    seen: list[int] = []

    def run(ctx: Context) -> Any:
        seen.extend(d["num_threads"] for d in threadpool_info() if d["user_api"] == "blas")
        from theory_checks._base import Outcome

        return Outcome(rows=(Row("x", "1", "1", "exact", True),))

    probe = types.ModuleType("blas_probe")  # in memory: the helper cannot take it, the runner runs it
    probe.__dict__.update(
        NAME="blas_probe", CLAIM="c", SOURCE="s", JUSTIFICATION="j", SABOTAGE=("x",), run=run
    )
    (res,) = runner.run_suite([probe], Context(), progress=False, stream=io.StringIO())
    assert res.holds, res.rows
    assert seen and set(seen) == {1}
    env = runner._helper_env()
    assert all(env[var] == "1" for var in runner.BLAS_THREAD_VARS)

"""``pytest theory_checks``: every check holds at the quick tier, every sabotage makes it fail,
and the runner writes its report, sets its exit status and runs trials on joblib and Dask.

The sabotage tests are the proof that each check can fail: a check whose sabotaged run still
passes is a check that measures nothing.
"""

from __future__ import annotations

import json
import os
import types
from typing import Any

import pytest

from . import CHECKS, _template, runner
from ._base import CheckResult, Context


def _failing_rows(result: CheckResult) -> str:
    bad = [r for r in result.rows if not r.holds] or list(result.rows)
    lines = [f"{r.quantity}: predicted {r.predicted}, measured {r.measured}, tol {r.tolerance}" for r in bad]
    if "error" in result.figure:
        lines.append(str(result.figure["error"]))
    return "\n".join(lines)


@pytest.mark.parametrize("name", CHECKS)
def test_check_holds(name: str) -> None:
    check = runner.load(name)
    assert check.NAME == name
    assert check.SABOTAGE, f"{name} has no sabotage word: it cannot be shown to fail"
    result = runner.run_one(check, Context(tier="quick", seed=0))
    assert result.holds, f"{name} fails at the quick tier:\n{_failing_rows(result)}"
    assert result.justification.strip()


_SABOTAGE = [(n, w) for n in CHECKS for w in runner.load(n).SABOTAGE]


@pytest.mark.parametrize(("name", "word"), _SABOTAGE, ids=[f"{n}-{w}" for n, w in _SABOTAGE])
def test_sabotage_fails(name: str, word: str) -> None:
    check = runner.load(name)
    result = runner.run_one(check, Context(tier="quick", seed=0, sabotage=word))
    assert "error" not in result.figure, (
        f"sabotaged {name} raised instead of failing:\n{_failing_rows(result)}"
    )
    assert not result.holds, f"{name} still passes when sabotaged with {word!r}: it cannot fail"


def test_check_names_are_unique_modules() -> None:
    assert len(set(CHECKS)) == len(CHECKS)
    for name in CHECKS:
        mod = runner.load(name)
        for attr in ("NAME", "CLAIM", "SOURCE", "SABOTAGE", "run", "plot"):
            assert hasattr(mod, attr), f"{name} lacks {attr}"
        doc = mod.__doc__ or ""
        for section in ("Claim:", "Setup:", "Measured:", "Tolerance:", "References:"):
            assert section in doc, f"{name}'s docstring lacks the {section} section"


# ----------------------------------------------------------------------------------------------
# The framework itself, on the template check (fast and independent of the real checks)


def test_template_holds_and_can_fail() -> None:
    assert runner.run_one(_template, Context()).holds
    assert not runner.run_one(_template, Context(sabotage="wrong-prediction")).holds


def test_raising_check_is_a_failed_result_not_a_crash(tmp_path: Any) -> None:
    def boom(ctx: Context) -> CheckResult:
        raise RuntimeError("deliberate")

    fake = types.SimpleNamespace(
        NAME="boom", CLAIM="c", SOURCE="s", SABOTAGE=("x",), run=boom, plot=lambda r, p: None
    )
    results = runner.run_suite([fake, _template], Context(), report=str(tmp_path), progress=False)
    assert [r.name for r in results] == ["boom", "_template"]
    assert not results[0].holds and "deliberate" in results[0].rows[0].measured
    assert results[1].holds
    doc = json.loads((tmp_path / "report.json").read_text())
    assert doc["meta"]["holds"] is False and doc["meta"]["passed"] == 1
    assert "deliberate" in (tmp_path / "report.md").read_text()


def test_runner_main_report_exit_status_only(tmp_path: Any, monkeypatch: Any, capsys: Any) -> None:
    monkeypatch.setattr(runner, "CHECKS", ("_template",))
    out = tmp_path / "rep"
    assert runner.main(["--only", "_template", "--report", str(out), "--no-progress"]) == 0
    for f in ("report.md", "report.json", "_template.png"):
        assert (out / f).is_file(), f
    doc = json.loads((out / "report.json").read_text())
    assert doc["meta"]["tier"] == "quick" and doc["results"][0]["name"] == "_template"
    assert doc["results"][0]["rows"][0]["holds"] is True
    table = capsys.readouterr().out
    assert "_template" in table and "ok" in table and "1/1 claims hold" in table
    # a failing claim gives exit status 1
    rc = runner.main(
        [
            "--only",
            "_template",
            "--sabotage",
            "wrong-prediction",
            "--report",
            str(out),
            "--no-progress",
            "--no-plots",
        ]
    )
    assert rc == 1
    assert "FAIL" in capsys.readouterr().out
    # unknown names and bad values are argument errors (exit 2) naming the problem
    assert runner.main(["--only", "nope", "--report", str(out)]) == 2
    assert "unknown check(s) nope" in capsys.readouterr().err
    assert runner.main(["--only", "_template", "--sabotage", "nope", "--report", str(out)]) == 2
    assert runner.main(["--jobs", "0", "--report", str(out)]) == 2


def test_parse_only_comma_and_repeat(monkeypatch: Any) -> None:
    monkeypatch.setattr(runner, "CHECKS", ("a", "b", "c"))
    assert runner.parse_only(["a,c", "b", "a"]) == ["a", "c", "b"]
    assert runner.parse_only(None) == ["a", "b", "c"]
    with pytest.raises(ValueError, match="unknown check"):
        runner.parse_only(["a,zz"])


def test_joblib_mapper_matches_serial() -> None:
    serial = runner.run_one(_template, Context(seed=4))
    parallel = runner.run_one(_template, Context(seed=4, map=runner.joblib_map(2)))
    assert serial.rows == parallel.rows
    assert serial.figure["sd"] == parallel.figure["sd"]


def test_dask_scheduler(tmp_path: Any, monkeypatch: Any) -> None:
    distributed = pytest.importorskip(
        "distributed", reason="dask.distributed is not installed (pip install 'optim-reference[dask]')"
    )
    monkeypatch.setattr(runner, "CHECKS", ("_template",))
    with distributed.LocalCluster(
        processes=False, n_workers=1, threads_per_worker=1, dashboard_address=None
    ) as cluster:
        out = tmp_path / "dask"
        rc = runner.main(
            [
                "--only",
                "_template",
                "--scheduler",
                cluster.scheduler_address,
                "--report",
                str(out),
                "--no-progress",
            ]
        )
    assert rc == 0
    doc = json.loads((out / "report.json").read_text())
    serial = runner.run_one(_template, Context())
    assert doc["results"][0]["figure"]["sd"] == serial.figure["sd"]
    assert os.path.isfile(out / "_template.png")


# ----------------------------------------------------------------------------------------------
# The false-alarm budget and the frame


def test_stat_rows_fit_the_false_alarm_budget() -> None:
    """Bonferroni: the suite's declared statistical rows at LEVEL each keep one run's chance
    failure probability within RUN_ALPHA. Checks written in the frame declare STAT_ROWS (the
    runner verifies the count at every run); older ones are counted by their interval rows."""
    from . import _stats

    declared = {n: getattr(runner.load(n), "STAT_ROWS", None) for n in CHECKS}
    total = sum(v for v in declared.values() if v is not None)
    assert total <= _stats.STAT_BUDGET, f"{total} stat rows > budget {_stats.STAT_BUDGET}: {declared}"
    assert (1.0 - _stats.LEVEL) * _stats.STAT_BUDGET == pytest.approx(_stats.RUN_ALPHA, rel=1e-9)


def test_unknown_sabotage_is_a_usage_error_not_a_verdict() -> None:
    with pytest.raises(runner.UnknownSabotage, match="sabotage must be one of"):
        runner.run_one(_template, Context(sabotage="no-such-word"))


def test_declared_stat_rows_are_verified(monkeypatch: Any) -> None:
    monkeypatch.setattr(_template, "STAT_ROWS", 2)
    res = runner.run_one(_template, Context())
    assert not res.holds and "STAT_ROWS" in res.rows[0].measured


def test_report_rows_are_outside_the_verdict() -> None:
    from ._base import Outcome, Row, report_row

    ok = Row("x", "1", "1", "exact", True)
    fake = types.SimpleNamespace(
        NAME="f",
        CLAIM="c",
        SOURCE="s",
        JUSTIFICATION="j",
        SABOTAGE=("x",),
        run=lambda ctx: Outcome(rows=(ok, report_row("tail", "2.0"))),
    )
    res = runner.run_one(fake, Context())
    assert res.holds and res.name == "f" and res.justification == "j"
    only_report = types.SimpleNamespace(
        **{**vars(fake), "run": lambda ctx: Outcome(rows=(report_row("t", "1"),))}
    )
    assert not runner.run_one(only_report, Context()).holds
    with pytest.raises(ValueError, match="holds is None exactly for report rows"):
        Row("bad", "1", "1", "-", None)


def test_stat_rows_carry_a_p_value() -> None:
    res = runner.run_one(_template, Context())
    (row,) = res.rows
    assert row.kind == "stat" and row.p_value is not None and 0.0 <= row.p_value <= 1.0
    bad = runner.run_one(_template, Context(sabotage="wrong-prediction")).rows[0]
    from . import _stats

    assert bad.p_value is not None and bad.p_value < 1.0 - _stats.LEVEL

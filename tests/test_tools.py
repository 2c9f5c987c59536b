"""Fast tests of tools/ (the false-alarm script and the mutation tool): parsing, statistics,
aggregation, the cache and its fingerprints, mutant application on a scratch tree. No check is run
at length here; the tools' long runs are scripts, not tests."""

from __future__ import annotations

import dataclasses
import json
import math
import re
from pathlib import Path

import pytest
from scipy import stats

from theory_checks import CHECKS
from tools import false_alarms as fa

# ----------------------------------------------------------------------------------------------
# false_alarms: parsing


def test_parse_seeds_ranges_and_lists() -> None:
    assert fa.parse_seeds("0-4") == [0, 1, 2, 3, 4]
    assert fa.parse_seeds("7") == [7]
    assert fa.parse_seeds("0-2, 10,5-6,2") == [0, 1, 2, 5, 6, 10]
    assert fa.format_seeds([0, 1, 2, 5, 6, 10]) == "0-2,5-6,10"
    assert fa.parse_seeds(fa.format_seeds(list(range(3, 250)))) == list(range(3, 250))


@pytest.mark.parametrize("bad", ["", "a", "1-", "-3", "5-2", "1,,2", "0-x"])
def test_parse_seeds_rejects(bad: str) -> None:
    with pytest.raises(fa.UsageError, match="--seeds"):
        fa.parse_seeds(bad)


def test_parse_only() -> None:
    known = ("a", "b", "c")
    assert fa.parse_only(None, known) == ["a", "b", "c"]
    assert fa.parse_only(["c,a", "a"], known) == ["c", "a"]
    with pytest.raises(fa.UsageError, match="unknown check.*zz"):
        fa.parse_only(["a,zz"], known)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--tier", "slow"], "--tier must be quick or full"),
        (["--jobs", "0"], "--jobs must be >= 1"),
        (["--budget", "1.5"], "--budget must be in"),
        (["--seeds", "3-1"], "--seeds"),
        (["--only", "nope"], "--only: unknown"),
        (["--cache", "/nonexistent-dir-xyz/c.jsonl"], "--cache: folder"),
    ],
)
def test_main_bad_arguments_exit_2(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert fa.main([*argv, "--cached-only", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


# ----------------------------------------------------------------------------------------------
# false_alarms: statistics


def test_upper_limit_matches_closed_form() -> None:
    # k = 0: the one-sided limit solves (1 - p)^n = 0.05
    assert fa.upper_limit(0, 200) == pytest.approx(1 - 0.05 ** (1 / 200), rel=1e-9)
    assert 0.0148 < fa.upper_limit(0, 200) < 0.0150
    assert fa.upper_limit(5, 5) == 1.0
    # k > 0: P(Bin(n, ucl) <= k) = 0.05 (definition of the exact limit)
    u = fa.upper_limit(3, 100)
    assert stats.binom.cdf(3, 100, u) == pytest.approx(0.05, rel=1e-6)


def test_clopper_pearson_definition() -> None:
    lo, hi = fa.clopper_pearson(4, 50)
    assert stats.binom.sf(3, 50, lo) == pytest.approx(0.025, rel=1e-6)  # P(X >= 4 | lo)
    assert stats.binom.cdf(4, 50, hi) == pytest.approx(0.025, rel=1e-6)  # P(X <= 4 | hi)
    assert fa.clopper_pearson(0, 10)[0] == 0.0 and fa.clopper_pearson(10, 10)[1] == 1.0
    with pytest.raises(ValueError):
        fa.clopper_pearson(3, 2)


def _rec(check: str, seed: int, holds: bool, p: float | None = 0.5, *, tier: str = "quick") -> fa.RunRecord:
    rows = (
        fa.RowRecord("slope", "stat", holds, p),
        fa.RowRecord("bound", "bound", True, None),
        fa.RowRecord("figure", "report", None, None),
    )
    return fa.RunRecord(check, tier, seed, "fp", holds, 1.0, rows, None if holds else None)


def test_summarize_counts_runs_rows_and_complete_seeds() -> None:
    recs = [_rec("a", s, holds=s != 3, p=(s + 0.5) / 10) for s in range(10)]
    recs += [_rec("b", s, holds=s not in (3, 4)) for s in range(8)]  # b lacks seeds 8, 9
    recs.append(_rec("a", 0, holds=False, tier="full"))  # another tier: ignored
    recs.append(_rec("c", 0, holds=False))  # not selected: ignored
    s = fa.summarize(recs, ["a", "b"], list(range(10)), tier="quick", budget=0.02, run_alpha=0.01)
    a, b = s.checks
    assert (a.runs, a.failures, a.failed_seeds) == (10, 1, (3,))
    assert (b.runs, b.failures) == (8, 2)
    assert a.rate == 0.1 and b.rate == 0.25
    assert s.run.sum_check_rates == pytest.approx(0.35)
    # per run: only seeds 0-7 are complete; 3 fails (both), 4 fails (b)
    assert s.run.runs == 8 and s.run.failures == 2
    assert s.run.failed_seeds == ((3, ("a", "b")), (4, ("b",)))
    assert s.run.ucl95 == pytest.approx(fa.upper_limit(2, 8))
    # rows: report rows left out; p-values (0.05, 0.15, ..., 0.95) are exactly uniform quantiles
    keys = [(r.check, r.quantity) for r in s.rows]
    assert keys == [("a", "slope"), ("a", "bound"), ("b", "slope"), ("b", "bound")]
    slope_a = s.rows[0]
    assert slope_a.n_p == 10 and slope_a.failures == 1
    assert slope_a.frac_p05 == 0.0 and slope_a.frac_p01 == 0.0 and slope_a.min_p == pytest.approx(0.05)
    assert slope_a.ks_p is not None and slope_a.ks_p > 0.9
    assert s.rows[1].n_p == 0 and s.rows[1].ks_p is None and s.rows[1].frac_p05 is None


def test_summarize_rows_by_position_when_their_text_carries_numbers() -> None:
    recs = [
        fa.RunRecord(
            "a",
            "quick",
            s,
            "fp",
            True,
            1.0,
            (
                fa.RowRecord(f"eta = {0.5 + s / 10:.2f} x bound: level", "stat", True, 0.5),
                fa.RowRecord("fixed", "bound", True, None),
            ),
        )
        for s in range(4)
    ]
    recs.append(
        fa.RunRecord(
            "a", "quick", 4, "fp", False, 1.0, (fa.RowRecord("error", "bound", False, None),), "E: x"
        )
    )
    s = fa.summarize(recs, ["a"], list(range(5)), tier="quick", budget=0.02, run_alpha=0.01)
    assert [(r.quantity, r.runs) for r in s.rows] == [("eta = # x bound: level", 4), ("fixed", 4)]
    recs[0] = fa.RunRecord("a", "quick", 0, "fp", True, 1.0, (fa.RowRecord("other", "stat", True, 0.5),))
    s = fa.summarize(recs, ["a"], list(range(5)), tier="quick", budget=0.02, run_alpha=0.01)
    assert s.rows[0].quantity == "other (text varies)" and s.rows[0].runs == 4
    assert s.checks[0].failures == 1 and s.checks[0].errors == ((4, "E: x"),)


def test_summarize_flags_non_uniform_p_values() -> None:
    recs = [_rec("a", s, holds=True, p=0.001 * (s + 1)) for s in range(40)]
    s = fa.summarize(recs, ["a"], list(range(40)), tier="quick", budget=0.02, run_alpha=0.01)
    row = s.rows[0]
    assert row.frac_p05 == 1.0 and row.frac_p01 == pytest.approx(9 / 40)  # p = 0.001 .. 0.009
    assert row.ks_p is not None and row.ks_p < 1e-10


def test_verdict_uses_the_upper_limit() -> None:
    ok = fa.summarize(
        [_rec("a", s, True) for s in range(200)],
        ["a"],
        list(range(200)),
        tier="quick",
        budget=0.02,
        run_alpha=0.01,
    )
    assert fa.verdict(ok) and ok.run.ucl95 < 0.015
    few = fa.summarize(
        [_rec("a", s, True) for s in range(100)],
        ["a"],
        list(range(100)),
        tier="quick",
        budget=0.02,
        run_alpha=0.01,
    )
    assert not fa.verdict(few)  # 0/100 has upper limit 2.95 %
    none = fa.summarize([], ["a"], [0, 1], tier="quick", budget=0.02, run_alpha=0.01)
    assert none.run.runs == 0 and not fa.verdict(none)
    assert "no complete run" in fa.format_summary(none, [0, 1])


def test_text_table_aligns() -> None:
    t = fa.text_table(("x", "num"), [("ab", "1"), ("c", "123")], right=(False, True))
    lines = t.splitlines()
    assert lines[0] == "x   num" and lines[2] == "ab    1" and lines[3] == "c   123"
    with pytest.raises(ValueError):
        fa.text_table(("a",), [("1", "2")])


# ----------------------------------------------------------------------------------------------
# false_alarms: cache and fingerprints


def test_cache_round_trip_skips_bad_lines(tmp_path: Path) -> None:
    cache = fa.Cache(str(tmp_path / "c.jsonl"))
    assert cache.load() == {}
    r1 = fa.RunRecord("a", "quick", 1, "f1", True, 0.5, (fa.RowRecord("q", "stat", True, 0.3),))
    r2 = fa.RunRecord("a", "quick", 1, "f1", False, 0.7, (), error="ValueError: boom", warnings=("W",))
    cache.append(r1)
    with open(cache.path, "a", encoding="utf-8") as f:
        f.write("{not json\n\n")
    cache.append(r2)
    loaded = cache.load()
    assert list(loaded) == [("a", "quick", 1, "f1")]
    assert loaded[("a", "quick", 1, "f1")] == r2  # the later line wins


def test_run_record_json_has_no_nan() -> None:
    r = fa.RunRecord(
        "a", "quick", 0, "f", True, 0.1, (fa.RowRecord("q", "stat", True, fa._finite_or_none(math.nan)),)
    )
    assert json.loads(r.to_json())["rows"][0]["p_value"] is None


def _tree(root: Path) -> tuple[Path, Path]:
    checks, ref = root / "theory_checks", root / "reference"
    for d in (checks, ref / "conform", ref / "problems"):
        d.mkdir(parents=True, exist_ok=True)
    files = {
        checks / "__init__.py": "",
        checks / "_base.py": "B",
        checks / "_stats.py": "S",
        checks / "_plot.py": "P",
        checks / "_template.py": "T",
        checks / "one.py": "from ._stats import x\nfrom .helper_check import y\n",
        checks / "helper_check.py": "H",
        checks / "two.py": "2",
        ref / "__init__.py": "",
        ref / "adam.py": "A",
        ref / "cli.py": "C",
        ref / "problems" / "linear.py": "L",
        ref / "conform" / "engine.py": "E",
    }
    for p, text in files.items():
        p.write_text(text)
    return checks, ref


def test_fingerprint_tracks_exactly_the_named_files(tmp_path: Path) -> None:
    checks, ref = _tree(tmp_path)

    def fp(name: str) -> str:
        return fa.fingerprint(name, checks_dir=checks, ref_dir=ref)

    base_one, base_two = fp("one"), fp("two")
    assert base_one != base_two
    assert [p.name for p in fa.check_files(checks, "one")] == ["helper_check.py", "one.py"]
    # files that must not matter: conform, cli, plot helper, template, another check
    for p in (ref / "conform" / "engine.py", ref / "cli.py", checks / "_plot.py", checks / "_template.py"):
        p.write_text("changed")
        assert (fp("one"), fp("two")) == (base_one, base_two), p
    (checks / "two.py").write_text("changed")
    assert fp("one") == base_one and fp("two") != base_two
    # files that must matter
    for p in (
        ref / "problems" / "linear.py",
        checks / "_stats.py",
        checks / "helper_check.py",
        checks / "one.py",
    ):
        before = fp("one")
        p.write_text(p.read_text() + "#")
        assert fp("one") != before, p


def test_fingerprint_of_the_real_tree_is_stable() -> None:
    assert fa.fingerprint(CHECKS[0]) == fa.fingerprint(CHECKS[0])
    assert len({fa.fingerprint(n) for n in CHECKS}) == len(CHECKS)


def test_main_from_cache_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    names = list(CHECKS[:2])
    path = tmp_path / "c.jsonl"
    cache = fa.Cache(str(path))
    fps = {n: fa.fingerprint(n) for n in names}
    for s in range(200):
        for n in names:
            cache.append(
                fa.RunRecord(n, "quick", s, fps[n], True, 0.1, (fa.RowRecord("q", "stat", True, 0.5),))
            )
    cache.append(fa.RunRecord(names[0], "quick", 5, "old-code", False, 0.1, ()))  # stale: ignored
    argv = [
        "--only",
        ",".join(names),
        "--seeds",
        "0-199",
        "--cached-only",
        "--cache",
        str(path),
        "--no-progress",
    ]
    report = tmp_path / "r.json"
    assert fa.main([*argv, "--report-json", str(report)]) == 0
    out = capsys.readouterr().out
    assert "complete runs      200" in out and "WITHIN budget" in out
    doc = json.loads(report.read_text())
    assert doc["meta"]["verdict"] is True and doc["run"]["runs"] == 200 and doc["run"]["failures"] == 0
    # two failing runs: 95 % upper limit 3.1 % > 2 %
    for s in (7, 9):
        cache.append(fa.RunRecord(names[1], "quick", s, fps[names[1]], False, 0.1, (), error="X: y"))
    assert fa.main(argv) == 1
    out = capsys.readouterr().out
    assert "OVER budget" in out and "seed 7: X: y" in out
    # fewer seeds than asked: only complete runs count
    assert fa.main([*argv[:3], "0-249", *argv[4:]]) == 1


# ----------------------------------------------------------------------------------------------
# false_alarms: replay of the current code against older records


def _run(
    fp: str = "old",
    *,
    p: float = 0.25,
    measured: str = "1.500e-03 (worst)",
    figure: str | None = "f0",
    holds: bool = True,
    seed: int = 0,
    check: str = "a",
) -> fa.RunRecord:
    rows = (
        fa.RowRecord("slope", "stat", holds, p, "-1 (theory)", measured),
        fa.RowRecord("bound", "bound", True, None, "< 1", "0.5"),
        fa.RowRecord("figure", "report", None, None, "-", "12 steps"),
    )
    return fa.RunRecord(check, "quick", seed, fp, holds, 1.0, rows, figure=figure)


def test_compare_runs_names_the_first_difference_and_its_size() -> None:
    old = _run()
    assert fa.compare_runs(old, _run("new")) is None
    d = fa.compare_runs(old, _run("new", p=0.25 * (1 + 1e-9)))
    assert d is not None and (d.row, d.field) == (0, "p_value") and d.rel == pytest.approx(1e-9, rel=1e-3)
    assert fa.compare_runs(old, _run("new", p=0.25 * (1 + 1e-9)), rtol=1e-8) is None
    d = fa.compare_runs(old, _run("new", measured="1.501e-03 (worst)"))
    assert d is not None and d.field == "measured" and d.rel == pytest.approx(1e-3 / 1.501, rel=1e-6)
    d = fa.compare_runs(old, _run("new", measured="1.500e-03 (best)"))
    assert d is not None and d.field == "measured" and d.rel is None  # the text differs, not a number
    d = fa.compare_runs(old, _run("new", holds=False))
    assert d is not None and d.field == "holds" and "row 0 (slope): holds 'True' -> 'False'" in d.describe()
    d = fa.compare_runs(old, _run("new", figure="f1"))
    assert d is not None and (d.row, d.field) == (None, "figure")
    short = fa.RunRecord("a", "quick", 0, "new", True, 1.0, old.rows[:2], figure="f0")
    d = fa.compare_runs(old, short)
    assert d is not None and (d.field, d.old, d.new) == ("rows", "3", "2")
    raised = fa.RunRecord("a", "quick", 0, "new", False, 1.0, (), error="ValueError: x")
    d = fa.compare_runs(old, raised)
    assert d is not None and d.field == "error"


def test_compare_runs_skips_what_the_older_record_lacks_and_timed_measurements() -> None:
    bare = fa.RunRecord(
        "a",
        "quick",
        0,
        "old",
        True,
        1.0,
        tuple(fa.RowRecord(r.quantity, r.kind, r.holds, r.p_value) for r in _run().rows),
    )
    assert (
        fa.compare_runs(bare, _run("new", measured="9", figure="zz")) is None
    )  # nothing to compare them with
    assert fa.compare_runs(bare, _run("new", p=0.3)) is not None  # the p-value still is
    quantity = "median t_grad / t_fwd (paired CPU-time minima)"
    assert ("backprop_cost", quantity) in fa.TIMED_ROWS
    timed = [
        fa.RunRecord(
            "backprop_cost",
            "quick",
            0,
            fp,
            True,
            1.0,
            (fa.RowRecord(quantity, "bound", True, None, "<= 5", m),),
        )
        for fp, m in (("o", "1.9"), ("n", "2.3"))
    ]
    assert fa.compare_runs(timed[0], timed[1]) is None
    other = [dataclasses.replace(r, check="other") for r in timed]
    assert fa.compare_runs(other[0], other[1]) is not None  # only that check's row is timed


def test_replay_matches_any_older_record_of_the_most_detail() -> None:
    new = _run("cur", p=0.5)
    assert fa.replay(new, []).status == "no record"
    assert fa.replay(new, [_run("cur", p=0.5)]).status == "no record"  # same code: not a replay
    r = fa.replay(new, [_run("v1", p=0.5), _run("v2", p=0.4)])
    assert (r.status, r.older, r.matched, r.difference) == ("identical", 2, 1, None)
    r = fa.replay(new, [_run("v1", p=0.4), _run("v2", p=0.3)])
    assert r.status == "differs" and r.difference is not None and r.difference.old == "0.3"  # the latest
    # a record with measured texts and a figure digest outranks one without: a bare match is not enough
    bare = fa.RunRecord(
        "a",
        "quick",
        0,
        "v0",
        True,
        1.0,
        tuple(fa.RowRecord(x.quantity, x.kind, x.holds, x.p_value) for x in new.rows),
    )
    assert fa.replay(new, [bare]).status == "identical"
    r = fa.replay(new, [bare, _run("v1", p=0.5, figure="other")])
    assert (
        r.status == "differs" and r.older == 1 and r.difference is not None and r.difference.field == "figure"
    )


def test_figure_digest_is_bit_exact() -> None:
    import numpy as np

    fig = {"x": np.array([1.0, 2.0]), "trials": [fa.RowRecord("q", "stat", True, 0.1)], "n": 3}
    assert fa.figure_digest(fig) == fa.figure_digest(
        {"n": 3, "trials": [fa.RowRecord("q", "stat", True, 0.1)], "x": np.array([1.0, 2.0])}
    )
    assert fa.figure_digest(fig) != fa.figure_digest({**fig, "x": np.array([1.0, np.nextafter(2.0, 3.0)])})
    assert fa.figure_digest(fig) != fa.figure_digest({**fig, "x": np.array([1.0, 2.0], dtype=np.float32)})
    assert fa.figure_digest(fig) != fa.figure_digest({**fig, "n": 3.0})
    assert fa.figure_digest([0.1]) != fa.figure_digest([0.1 + 2**-56 * 3])


def test_main_replay_against_a_fake_cache(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # one real run of a fast check, stored as if an older version of the code had made it
    rec = fa.run_task(("gn_one_step", "quick", 0))
    assert rec.error is None and rec.figure is not None and rec.rows[0].measured is not None
    older, cache = tmp_path / "older.jsonl", tmp_path / "cache.jsonl"
    fa.Cache(str(older)).append(dataclasses.replace(rec, fingerprint="older-code"))
    argv = [
        "--only",
        "gn_one_step",
        "--seeds",
        "0",
        "--replay-against",
        str(older),
        "--cache",
        str(cache),
        "--no-progress",
    ]
    assert fa.main(argv) == 0
    captured = capsys.readouterr()
    assert (
        "0 cached, 1 to run" in captured.err and "verdict: IDENTICAL: 1 of 1 runs identical" in captured.out
    )
    assert fa.main(argv) == 0  # resumable: the run of the current code is cached
    assert "1 cached, 0 to run" in capsys.readouterr().err
    # the older record measured something else: the replay names the row, field and size
    row = rec.rows[0]
    changed = _NUM_FIRST.sub(lambda m: repr(float(m.group()) * 1.01), row.measured or "", count=1)
    assert changed != row.measured
    bad = dataclasses.replace(
        rec, fingerprint="older-code", rows=(dataclasses.replace(row, measured=changed), *rec.rows[1:])
    )
    older.write_text(bad.to_json() + "\n")
    assert fa.main(argv) == 1
    out = capsys.readouterr().out
    assert "NOT IDENTICAL: 0 of 1" in out and "gn_one_step seed 0: row 0" in out and "measured" in out
    assert "relative difference 0.0099" in out
    # a seed the older file has no record of is not identical
    assert fa.main([*argv[:3], "0-1", *argv[4:]]) == 1
    assert "no record" in capsys.readouterr().out
    assert fa.main([*argv[:5], str(tmp_path / "missing.jsonl"), *argv[6:]]) == 2
    assert "--replay-against: no such file" in capsys.readouterr().err


_NUM_FIRST = re.compile(r"\d+\.\d+(?:e[-+]\d+)?")


# ----------------------------------------------------------------------------------------------
# mutate: the catalogue, applying mutants, choosing checks and tests

from tools import mutate as mu  # noqa: E402
from tools.mutants import CATALOGUE, Mutant  # noqa: E402


def test_catalogue_applies_to_the_current_tree() -> None:
    # every entry's old text occurs exactly once in reference/ as it is now; a refactoring that
    # breaks an entry must update the catalogue
    assert mu.validate(CATALOGUE, mu.ROOT, CHECKS) == []
    assert len(CATALOGUE) >= 45
    assert len({m.id for m in CATALOGUE}) == len(CATALOGUE)
    with_claim = [m for m in CATALOGUE if m.claim != "none"]
    assert len(with_claim) >= 2 * len(CATALOGUE) / 3


def test_validate_reports_bad_entries(tmp_path: Path) -> None:
    (tmp_path / "reference").mkdir()
    (tmp_path / "reference" / "a.py").write_text("x = 1\nx = 1\ny = 2\n")
    bad = [
        Mutant("dup", "reference/a.py", (("x = 1", "x = 2"),), "twice", "none", "why"),
        Mutant("gone", "reference/a.py", (("z = 3", "z = 4"),), "missing", "gd_stability"),
        Mutant("nowhy", "reference/a.py", (("y = 2", "y = 3"),), "d", "none"),
        Mutant("nowhy", "tests/a.py", (("y = 2", "y = 3"),), "d", "not_a_check"),
    ]
    problems = "\n".join(mu.validate(bad, tmp_path, CHECKS))
    assert "dup: old text 'x = 1' found 2 times" in problems
    assert "gone: old text 'z = 3' not found" in problems
    assert "nowhy: claim 'none' needs a 'why'" in problems
    assert "nowhy: duplicate id" in problems and "not in reference/" in problems
    assert "unknown check(s) ['not_a_check']" in problems


def test_apply_mutant_edits_exactly_and_fails_loudly(tmp_path: Path) -> None:
    ref = tmp_path / "reference"
    ref.mkdir()
    f = ref / "m.py"
    f.write_text("def f(x):\n    return 2 * x  # (F1)\n\n\ndef g(x):\n    return x - 1\n")
    m = Mutant("two-edits", "reference/m.py", (("2 * x", "3 * x"), ("x - 1", "x + 1")), "d", "none", "w")
    assert mu.touched_lines(f.read_text(), m) == [2, 6]
    mu.apply_mutant(tmp_path, m)
    assert f.read_text() == "def f(x):\n    return 3 * x  # (F1)\n\n\ndef g(x):\n    return x + 1\n"
    with pytest.raises(mu.MutantError, match="not found"):
        mu.apply_mutant(tmp_path, m)  # already applied: the old text is gone
    # nothing is written when a later edit fails
    before = f.read_text()
    half = Mutant("half", "reference/m.py", (("3 * x", "4 * x"), ("nope", "x")), "d", "none", "w")
    with pytest.raises(mu.MutantError):
        mu.apply_mutant(tmp_path, half)
    assert f.read_text() == before
    with pytest.raises(mu.MutantError, match="does not exist"):
        mu.apply_mutant(tmp_path, Mutant("x", "reference/none.py", (("a", "b"),), "d", "none", "w"))


def test_touched_lines_of_a_multiline_edit() -> None:
    text = "a\nb\nc\nd\n"
    m = Mutant("ml", "reference/x.py", (("b\nc\n", "B\nC\n"),), "d", "none", "w")
    assert mu.touched_lines(text, m) == [2, 3]


_SRC = '''"""doc"""
CONST = 3


def outer(x):
    def inner(y):
        return y + CONST
    return inner(x)


class K:
    field = 1

    def method(self):
        return self.field
'''


def test_function_spans_and_check_selection() -> None:
    spans = sorted(mu.function_spans(_SRC))
    assert (5, 8) in spans and (6, 7) in spans and (14, 15) in spans
    baseline = {
        "calls_outer": [["reference/k.py", 5, 8], ["reference/k.py", 6, 7]],
        "calls_method": [["reference/k.py", 14, 15], ["reference/other.py", 1, 99]],
        "calls_nothing": [["reference/other.py", 1, 99]],
    }
    checks = ["calls_outer", "calls_method", "calls_nothing"]

    def sel(old: str) -> tuple[list[str], str]:
        m = Mutant("x", "reference/k.py", ((old, old + " "),), "d", "none", "w")
        return mu.select_checks(m, _SRC, baseline, checks)

    assert sel("return y + CONST")[0] == ["calls_outer"]
    assert sel("return self.field")[0] == ["calls_method"]
    chosen, how = sel("CONST = 3")  # module level: every check
    assert chosen == checks and "outside every function" in how
    assert sel("    field = 1")[0] == checks  # class body: every check
    # a module-level helper appended for another edit does not by itself select every check
    helper = Mutant(
        "h",
        "reference/k.py",
        (
            ("CONST = 3\n", "CONST = 3\n_CACHE = {}\n"),
            ("return self.field", "return _CACHE.get(0, self.field)"),
        ),
        "d",
        "none",
        "w",
    )
    assert mu.select_checks(helper, _SRC, baseline, checks)[0] == ["calls_method"]


def test_test_files_for_finds_the_module_and_its_users(tmp_path: Path) -> None:
    (tmp_path / "reference" / "problems").mkdir(parents=True)
    (tmp_path / "reference" / "first_order").mkdir()
    (tmp_path / "tests").mkdir()
    (tmp_path / "reference" / "first_order" / "adam.py").write_text(
        "def adam(lr):\n    pass\n\n\ndef step(s, g):\n    pass\n"
    )
    (tmp_path / "reference" / "problems" / "linear.py").write_text("def least_squares(X, y):\n    pass\n")
    tests = {
        "test_adam.py": "import reference as ref\n",
        "test_contract.py": "opt = ref.adam(1e-3)\n",
        "test_other.py": "ref.adamw(1e-3)\nstate = opt.step(state, g)\n",  # adamw is not adam; step is generic
        "test_direct.py": "from reference.first_order.adam import step\n",
        "test_lsq.py": "from reference.problems import least_squares\n",
        "test_lsq2.py": "p = ref.problems.least_squares(X, y)\n",
    }
    for name, text in tests.items():
        (tmp_path / "tests" / name).write_text(text)
    adam = Mutant("a", "reference/first_order/adam.py", (("pass", "pass"),), "d", "none", "w")
    assert mu.test_files_for(adam, tmp_path) == [
        "tests/test_adam.py",
        "tests/test_contract.py",
        "tests/test_direct.py",
    ]
    lsq = Mutant("l", "reference/problems/linear.py", (("pass", "pass"),), "d", "none", "w")
    assert mu.test_files_for(lsq, tmp_path) == ["tests/test_lsq.py", "tests/test_lsq2.py"]


def _stage(failed: tuple[str, ...] = (), timeout: bool = False) -> mu.StageResult:
    return mu.StageResult(("x",), failed, timeout, 1.0, "")


def test_classify_and_tally() -> None:
    assert mu.classify(_stage(("gd_stability",)), _stage()) == "check"
    assert mu.classify(_stage(), _stage(("tests/test_gd.py",))) == "tests-only"
    assert mu.classify(_stage(), _stage()) == "missed"
    assert mu.classify(mu.StageResult((), (), False, 0, ""), _stage(("timeout",), True)) == "tests-only"

    def res(id: str, claim: str, checks: mu.StageResult, tests: mu.StageResult) -> mu.MutantResult:
        return mu.MutantResult(
            id, "reference/x.py", "d", claim, "fp", mu.classify(checks, tests), checks, tests, "s"
        )

    results = [
        res("a", "gd_stability", _stage(("gd_stability",)), _stage()),
        res("b", "gd_stability", _stage(("lazy_regime",)), _stage()),  # caught, but not by its claim's check
        res("c", "none", _stage(), _stage(("t",))),
        res("d", "em_monotone", _stage(), _stage()),
        mu.MutantResult("e", "reference/x.py", "d", "none", "fp", "invalid", None, None, "", "gone"),
    ]
    t = mu.tally(results)
    assert (t.total, t.by_check, t.tests_only, t.missed, t.invalid) == (5, 2, 1, 1, 1)
    assert (t.claim_total, t.claim_caught, t.ids_missed_claim) == (3, 1, ("b", "d"))
    text = mu.format_text(results)
    assert "caught by a check: 2" in text and "INVALID e: gone" in text
    md = mu.format_markdown(
        results, {"c": Mutant("c", "reference/x.py", (("a", "b"),), "d", "none", "the reason")}
    )
    assert "| 1 | `a` |" in md and "- `c` (unit tests only): the reason" in md


def test_mutant_result_json_round_trip(tmp_path: Path) -> None:
    r = mu.MutantResult("a", "reference/x.py", "d", "none", "fp", "missed", _stage(), None, "s", seconds=2.5)
    cache = mu.Cache(str(tmp_path / "m.jsonl"))
    cache.append({"kind": "mutant", "key": "k1", "result": json.loads(r.to_json())})
    cache.append({"kind": "baseline", "fingerprint": "fp", "holds": {}})
    with open(cache.path, "a", encoding="utf-8") as f:
        f.write("garbage\n")
    assert cache.mutants() == {"k1": r}
    assert cache.baseline("fp") == {"kind": "baseline", "fingerprint": "fp", "holds": {}}
    assert cache.baseline("other") is None


def test_plan_keys_on_exactly_the_inputs_of_the_outcome(tmp_path: Path) -> None:
    for d in ("reference", "theory_checks", "tests"):
        (tmp_path / d).mkdir()
    files = {
        "reference/mod.py": "def f(x):\n    return 2 * x\n\n\ndef g(x):\n    return x\n",
        "reference/other.py": "y = 1\n",
        "theory_checks/__init__.py": "",
        "theory_checks/runner.py": "",
        "theory_checks/_stats.py": "",
        "theory_checks/uses_f.py": "",
        "theory_checks/uses_g.py": "",
        "tests/test_mod.py": "",
        "tests/test_unrelated.py": "",
        "tests/helpers.py": "",
        "conftest.py": "",
        "pyproject.toml": "",
    }
    for rel, text in files.items():
        (tmp_path / rel).write_text(text)
    baseline = {
        "holds": {"uses_f": True, "uses_g": True},
        "spans": {"uses_f": [["reference/mod.py", 1, 2]], "uses_g": [["reference/mod.py", 5, 6]]},
    }
    m = Mutant("m", "reference/mod.py", (("2 * x", "3 * x"),), "d", "none", "w")

    (tmp_path / "reference" / "conform").mkdir()
    (tmp_path / "reference" / "conform" / "engine.py").write_text("")

    def key() -> mu.Plan:
        digests = (mu.reference_digest(tmp_path, conform=False), mu.reference_digest(tmp_path))
        return mu.plan(
            m,
            tmp_path,
            baseline,
            ["uses_f", "uses_g"],
            all_checks=False,
            timeout=60.0,
            tests="always",
            reference_digest=digests,
        )

    pl = key()
    assert pl.checks == ("uses_f",) and pl.test_files == ("tests/test_mod.py",) and not pl.error
    for rel in (
        "theory_checks/uses_g.py",
        "tests/test_unrelated.py",
        "reference/conform/engine.py",
    ):  # not inputs
        (tmp_path / rel).write_text("changed")
        assert key().key == pl.key, rel
    for rel in (
        "theory_checks/uses_f.py",
        "theory_checks/_stats.py",
        "tests/test_mod.py",
        "tests/helpers.py",
        "reference/other.py",
    ):  # inputs: new key
        before = key().key
        (tmp_path / rel).write_text((tmp_path / rel).read_text() + "#")
        assert key().key != before, rel
    bad = Mutant("bad", "reference/mod.py", (("4 * x", "5 * x"),), "d", "none", "w")
    assert (
        "not found"
        in mu.plan(
            bad,
            tmp_path,
            baseline,
            ["uses_f"],
            all_checks=False,
            timeout=60.0,
            tests="always",
            reference_digest="r",
        ).error
    )


def test_snapshot_of_the_worktree_excludes_caches(tmp_path: Path) -> None:
    src = tmp_path / "src"
    for d in ("reference", ".git", "report", "reference/__pycache__", ".mypy_cache"):
        (src / d).mkdir(parents=True, exist_ok=True)
    (src / "reference" / "a.py").write_text("x = 1\n")
    (src / "reference" / "__pycache__" / "a.pyc").write_text("")
    (src / "report" / "r.md").write_text("")
    dst = tmp_path / "dst"
    assert mu.snapshot(dst, worktree=True, src=src) == "working tree"
    assert sorted(p.relative_to(dst).as_posix() for p in dst.rglob("*")) == ["reference", "reference/a.py"]
    fp = mu.tree_fingerprint(dst)
    (dst / "reference" / "a.py").write_text("x = 2\n")
    assert mu.tree_fingerprint(dst) != fp


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--only", "nope"], "unknown mutant id"),
        (["--jobs", "0"], "--jobs must be >= 1"),
        (["--timeout", "-1"], "--timeout must be"),
        (["--cache", "/nonexistent-xyz/c"], "--cache"),
    ],
)
def test_mutate_bad_arguments_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert mu.main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err

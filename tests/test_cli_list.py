"""`optref list` and `optref list NAME`: the registry and one record, as a user sees them (subprocess)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import reference as ref


def optref(*args: str, columns: int = 100) -> tuple[int, str, str]:
    env = {**os.environ, "COLUMNS": str(columns)}
    proc = subprocess.run(
        [sys.executable, "-m", "reference", *args], capture_output=True, text=True, env=env, timeout=120
    )
    return proc.returncode, proc.stdout, proc.stderr


def test_list_prints_every_algorithm() -> None:
    rc, out, err = optref("list")
    assert rc == 0, err
    names = [line.split()[0] for line in out.splitlines() if line.strip()]
    assert names == list(ref.ALGORITHMS)


@pytest.mark.parametrize("name", ["adam", "gd", "momentum"])
def test_list_name_prints_the_record(name: str) -> None:
    rc, out, err = optref("list", name, columns=70)
    assert rc == 0 and not err, err
    lines = out.splitlines()
    assert lines[0].startswith(f"ref.{name}: ")
    assert all(len(line) <= 70 for line in lines[3:]), "the table must fit the terminal width"
    for f in ref.entry(name).fields():
        row = next(line for line in lines if line.startswith(f.name + " "))
        assert repr(f.default) in row
        assert f.range.describe().split()[0] in out


def test_list_unknown_name_is_one_line_and_status_2() -> None:
    rc, out, err = optref("list", "adma")
    assert rc == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "unknown algorithm 'adma'" in err and "Traceback" not in err


def test_list_family_filter() -> None:
    rc, out, _ = optref("list", "--family", "curvature")
    assert rc == 0
    names = {line.split()[0] for line in out.splitlines() if line.strip()}
    assert names == {e.name for e in ref.ENTRIES if e.family == "curvature"}
    rc, _, err = optref("list", "--family", "nonsense")
    assert rc == 2 and "Traceback" not in err

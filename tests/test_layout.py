"""The package's shape: family folders that read like the README's table, short functions, no
``assert`` doing the work of an error message."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import reference as ref

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "reference"
#: A function longer than this needs a reason in its docstring, introduced by this phrase.
MAX_LINES = 60
REASON = "Long because"


def _functions() -> list[tuple[Path, ast.FunctionDef | ast.AsyncFunctionDef]]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                out.append((path, node))
    return out


def test_every_algorithm_lives_in_its_family_folder() -> None:
    for e in ref.ENTRIES:
        module = e.factory.__module__
        parts = module.split(".")
        assert len(parts) == 3 and parts[0] == "reference", (
            f"{e.name}: module {module} is not reference.<family>.<name>"
        )
        assert parts[2] == e.name, f"{e.name}: module {module} is not named after the algorithm"
        assert e.family == parts[1].replace("_", "-"), f"{e.name}: family {e.family!r} != folder {parts[1]!r}"
        assert (PACKAGE / parts[1] / f"{e.name}.py").exists()


def test_every_family_folder_is_in_the_readme_table() -> None:
    readme = (ROOT / "README.md").read_text()
    table = readme.split("**Algorithms**", 1)[1].split("\n\n", 2)[1]
    for e in ref.ENTRIES:
        assert f"`{e.name}`" in table, f"README's algorithm table does not list {e.name}"


def _code_lines(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Lines from ``def`` to the end, less the docstring's (an Args list is not code)."""
    n = (node.end_lineno or node.lineno) - node.lineno + 1
    first = node.body[0]
    if (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    ):
        n -= (first.end_lineno or first.lineno) - first.lineno + 1
    return n


def test_no_function_over_the_limit_without_a_reason() -> None:
    long = []
    for path, node in _functions():
        n = _code_lines(node)
        if n > MAX_LINES and REASON not in (ast.get_docstring(node) or ""):
            long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({n} lines)")
    assert not long, (
        f"functions over {MAX_LINES} lines without '{REASON} ...' in the docstring:\n" + "\n".join(long)
    )


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_assert_in_the_package(path: Path) -> None:
    """An ``assert`` vanishes under ``python -O`` and gives no message a user can act on: the package
    raises errors that name what to do instead."""
    asserts = [n.lineno for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.Assert)]
    assert not asserts, f"{path.relative_to(ROOT)} has assert statements at lines {asserts}"

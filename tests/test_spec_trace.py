"""Every spec sits beside its module: the equation labels of specs/<name>.md appear, in the same
order of first appearance, as `# (LABEL)` comments in reference/<name>.py, and nothing else does."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import reference as ref

ROOT = Path(__file__).resolve().parents[1]
LABEL = r"[A-Z][A-Za-z]{0,5}\d{1,2}[a-z]?"
# Specs that describe formats, notation or the tools rather than an algorithm module.
NOT_ALGORITHMS = {
    "notation",
    "vectors",
    "conformance",
    "problems",
    "driver",
    "peaks",
    "mutation",
    "false_alarms",
    "notes",
    "coverage",
    "README",
}


def _specs() -> list[Path]:
    return sorted(p for p in (ROOT / "specs").glob("*.md") if p.stem not in NOT_ALGORITHMS)


def _ordered_unique(items: list[str]) -> list[str]:
    seen: dict[str, None] = {}
    for i in items:
        seen.setdefault(i, None)
    return list(seen)


def _spec_labels(text: str) -> list[str]:
    section = text.split("## Update rule", 1)[1].split("\n## ", 1)[0]
    return _ordered_unique(re.findall(rf"\(({LABEL})\)", section))


def _code_labels(text: str) -> list[str]:
    return _ordered_unique(re.findall(rf"#\s*\(({LABEL})\)", text))


def _module(name: str) -> Path:
    """reference/<family>/<name>.py (or reference/<name>.py for the few modules outside a family)."""
    top = sorted((ROOT / "reference").glob(f"{name}.py"))  # schedules.py beside conform/schedules.py
    found = top or sorted((ROOT / "reference").glob(f"*/{name}.py"))
    found += sorted((ROOT / "reference").glob(f"{name}/__init__.py"))
    assert len(found) == 1, f"expected one module named {name}.py under reference/, found {found}"
    return found[0]


def _module_text(module: Path, want: list[str]) -> str:
    """The module's text; for a package (reference/<name>/__init__.py), the __init__ followed by the
    modules it imports (``from .x import ...``), each a block of the spec, in the order in which the
    spec first names a label of that block (an import list sorted by the formatter says nothing about
    the reading order)."""
    text = module.read_text()
    if module.name != "__init__.py":
        return text
    subs = [module.parent / f"{s}.py" for s in re.findall(r"^from \.(\w+) import", text, flags=re.M)]
    rank = {label: i for i, label in enumerate(want)}

    def first(path: Path) -> int:
        labels = _code_labels(path.read_text())
        return min((rank.get(label, len(rank)) for label in labels), default=len(rank))

    return text + "".join(p.read_text() for p in sorted(subs, key=first))


@pytest.mark.parametrize("spec", _specs(), ids=lambda p: p.stem)
def test_spec_labels_match_module(spec: Path) -> None:
    module = _module(spec.stem)
    want = _spec_labels(spec.read_text())
    assert want, f"{spec.name} has no labelled equations in its '## Update rule' section"
    got = _code_labels(_module_text(module, want))
    assert got == want, f"labels in {module.name} {got} != labels in {spec.name} {want}"


@pytest.mark.parametrize("spec", _specs(), ids=lambda p: p.stem)
def test_spec_has_required_sections(spec: Path) -> None:
    text = spec.read_text()
    for section in ("## Update rule", "## Defaults", "## Source", "## Memory", "## Variants"):
        assert section in text, f"{spec.name} lacks {section}"


def test_every_registered_algorithm_has_a_spec() -> None:
    for name in ref.ALGORITHMS:
        assert (ROOT / "specs" / f"{name}.md").exists(), name


# ---------------------------------------------------------------------------------------------
# The spec's Defaults table is the record's (reference/_hyper.py): same arguments, same order,
# same defaults.


def _defaults_table(text: str) -> list[tuple[str, str]]:
    """(argument, default cell) of each row of the '## Defaults' table."""
    section = text.split("## Defaults", 1)[1].split("\n## ", 1)[0]
    lines = [ln for ln in section.splitlines() if ln.startswith("|")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    col = header.index("default")
    rows = []
    for ln in lines[2:]:
        cells = [c.strip() for c in ln.strip().strip("|").split("|")]
        m = re.fullmatch(r"`(\w+)`", cells[0])
        if m:
            rows.append((m.group(1), cells[col]))
    return rows


def _same_default(cell: str, value: object) -> bool:
    from reference._hyper import REQUIRED

    cell = cell.strip().strip("`")
    if value is REQUIRED:
        return cell.lower().startswith("required")
    if value is None or isinstance(value, bool):
        return cell == repr(value)
    if isinstance(value, str):
        return cell.strip("\"'") == value
    if isinstance(value, (int, float)):
        try:
            return float(cell.replace("\u2212", "-").split()[0]) == float(value)
        except ValueError:
            return False
    return cell == repr(value)


@pytest.mark.parametrize("name", ref.ALGORITHMS)
def test_spec_defaults_table_is_the_record(name: str) -> None:
    fields = ref.entry(name).fields()
    rows = _defaults_table((ROOT / "specs" / f"{name}.md").read_text())
    assert [a for a, _ in rows] == [f.name for f in fields], (
        f"specs/{name}.md Defaults table lists {[a for a, _ in rows]}, the record {[f.name for f in fields]}"
    )
    for (arg, cell), f in zip(rows, fields):
        assert _same_default(cell, f.default), (
            f"specs/{name}.md: {arg} default {cell!r} != record's {f.default!r}"
        )

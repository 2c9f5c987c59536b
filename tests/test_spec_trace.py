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
NOT_ALGORITHMS = {"notation", "vectors", "conformance", "problems", "driver", "peaks", "mutation", "false_alarms"}


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


@pytest.mark.parametrize("spec", _specs(), ids=lambda p: p.stem)
def test_spec_labels_match_module(spec: Path) -> None:
    module = ROOT / "reference" / f"{spec.stem}.py"
    assert module.exists(), f"{spec.name} has no module {module}"
    want = _spec_labels(spec.read_text())
    assert want, f"{spec.name} has no labelled equations in its '## Update rule' section"
    got = _code_labels(module.read_text())
    assert got == want, f"labels in {module.name} {got} != labels in {spec.name} {want}"


@pytest.mark.parametrize("spec", _specs(), ids=lambda p: p.stem)
def test_spec_has_required_sections(spec: Path) -> None:
    text = spec.read_text()
    for section in ("## Update rule", "## Defaults", "## Source", "## Memory", "## Variants"):
        assert section in text, f"{spec.name} lacks {section}"


def test_every_registered_algorithm_has_a_spec() -> None:
    for name in ref.ALGORITHMS:
        assert (ROOT / "specs" / f"{name}.md").exists(), name

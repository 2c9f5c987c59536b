"""specs/coverage.md, the coverage table of the lecture notes (issue 12), against the repository.

(a) every section anchor of specs/notes.md has exactly one row, in the order of notes.md, and the
    row's link text is the section's heading; every note anchor is linked once;
(b) every relative link of coverage.md points to a path that exists (and every notes.md anchor it
    names exists);
(c) every theory check linked (``../theory_checks/<name>.py``) is in ``theory_checks.CHECKS`` and the
    link text is its name;
(d) the header's counts equal the statuses of the rows; a status is one of three words, and a row
    that is not complete says what is left out.

``problems`` returns the list of violations, so the same code is shown to fail on a broken table.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import theory_checks

ROOT = Path(__file__).resolve().parents[1]
COVERAGE = ROOT / "specs" / "coverage.md"
NOTES = ROOT / "specs" / "notes.md"
STATUSES = ("complete", "partial", "not built")

ANCHOR = re.compile(r'<a id="([a-z0-9-]+)"></a>')
LINK = re.compile(r"\[([^\]]*)\]\(([^)\s]+)\)")
COUNTS = re.compile(r"\*\*Counts: (\d+) sections: (\d+) complete, (\d+) partial, (\d+) not built\.\*\*")
CHECK_LINK = re.compile(r"^(?:\.\./)+theory_checks/([a-z_0-9]+)\.py$")


@dataclass(frozen=True)
class Row:
    anchor: str
    title: str
    status: str
    left_out: str


def note_sections(notes_text: str) -> tuple[list[str], dict[str, str]]:
    """(the note anchors, {section anchor: heading}) of notes.md, sections in document order."""
    lines = notes_text.splitlines()
    note_anchors: list[str] = []
    sections: dict[str, str] = {}
    for i, line in enumerate(lines[:-1]):
        if m := ANCHOR.fullmatch(line):
            heading = re.match(r"#+ (.*)", lines[i + 1])
            assert heading, f"notes.md: anchor {m.group(1)} is not above a heading"
            if m.group(1).startswith("note-"):
                note_anchors.append(m.group(1))
            else:
                sections[m.group(1)] = heading.group(1)
    return note_anchors, sections


def table_rows(text: str) -> list[Row]:
    """The rows of the coverage tables: first cell a link into notes.md, six cells."""
    rows = []
    for line in text.splitlines():
        if not line.startswith("| ["):
            continue
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        m = LINK.fullmatch(cells[0])
        if not m or not m.group(2).startswith("notes.md#"):
            continue
        status = cells[4] if len(cells) == 6 else f"<{len(cells)} cells>"
        left_out = cells[5] if len(cells) == 6 else ""
        rows.append(Row(m.group(2).partition("#")[2], m.group(1), status, left_out))
    return rows


def problems(text: str, notes_text: str, checks: tuple[str, ...], base: Path) -> list[str]:
    """Every way ``text`` (coverage.md, whose relative links start at ``base``) fails (a)-(d)."""
    out: list[str] = []
    note_anchors, sections = note_sections(notes_text)
    rows = table_rows(text)
    # (a) one row per section, in order, titled by its heading; each note linked once
    seen = Counter(r.anchor for r in rows)
    out += [f"no row for notes.md#{a}" for a in sections if seen[a] == 0]
    out += [f"{n} rows for notes.md#{a}" for a, n in seen.items() if n > 1]
    out += [f"row for notes.md#{r.anchor}, which is no section" for r in rows if r.anchor not in sections]
    order = list(dict.fromkeys(r.anchor for r in rows if r.anchor in sections))
    if order != [a for a in sections if a in order]:
        out.append("rows are not in the order of notes.md")
    out += [
        f"row notes.md#{r.anchor} is titled {r.title!r}, the section is {sections[r.anchor]!r}"
        for r in rows
        if r.anchor in sections and r.title != sections[r.anchor]
    ]
    targets = [(m.group(1), m.group(2)) for m in LINK.finditer(text)]
    linked = Counter(t.partition("#")[2] for _, t in targets if t.startswith("notes.md#note-"))
    out += [f"notes.md#{a} linked {linked[a]} times" for a in note_anchors if linked[a] != 1]
    # (b) relative links resolve
    for _, target in targets:
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        if not (base / path).exists():
            out.append(f"link to {target}: no such path")
        elif path == "notes.md" and anchor and anchor not in sections and anchor not in note_anchors:
            out.append(f"link to {target}: no such anchor in notes.md")
    # (c) theory checks
    for label, target in targets:
        if m := CHECK_LINK.match(target):
            if m.group(1) not in checks:
                out.append(f"theory check {m.group(1)} is not in theory_checks.CHECKS")
            if label != m.group(1):
                out.append(f"link to {target} is labelled {label!r}, not the check's name")
    # (d) counts and statuses
    out += [f"row notes.md#{r.anchor}: status {r.status!r}" for r in rows if r.status not in STATUSES]
    out += [
        f"row notes.md#{r.anchor} is {r.status} and says nothing of what is left out"
        for r in rows
        if r.status in STATUSES[1:] and not r.left_out
    ]
    counts = COUNTS.findall(text)
    if len(counts) != 1:
        out.append(f"{len(counts)} counts lines; expected one '**Counts: N sections: ...**'")
    else:
        total, *by_status = (int(x) for x in counts[0])
        status = Counter(r.status for r in rows)
        measured = [len(rows), *(status[s] for s in STATUSES)]
        if [total, *by_status] != measured:
            out.append(
                f"header counts {[total, *by_status]} (sections, {', '.join(STATUSES)}); the table has {measured}"
            )
    return out


def test_coverage_table_covers_every_section_of_the_notes() -> None:
    found = problems(
        COVERAGE.read_text(encoding="utf-8"),
        NOTES.read_text(encoding="utf-8"),
        theory_checks.CHECKS,
        COVERAGE.parent,
    )
    assert not found, "specs/coverage.md:\n  " + "\n  ".join(found)


def test_the_table_names_every_theory_check() -> None:
    text = COVERAGE.read_text(encoding="utf-8")
    named = {m.group(1) for _, t in LINK.findall(text) if (m := CHECK_LINK.match(t))}
    assert set(theory_checks.CHECKS) <= named, (
        f"specs/coverage.md does not name {sorted(set(theory_checks.CHECKS) - named)}: every check "
        "tests a claim of some section; link it in that section's row and update the row's status"
    )


NOTES_MINI = """<a id="note-000"></a>
## note 000: A

<a id="n000-one"></a>
### One

<a id="n000-two"></a>
### Two
"""

GOOD = """**Counts: 2 sections: 1 complete, 1 partial, 0 not built.**

## [note 000](notes.md#note-000): A

| section | claims | implemented by | checked by | status | left out |
|---|---|---|---|---|---|
| [One](notes.md#n000-one) | x | [gd.py](../reference/first_order/gd.py) | [gd_stability](../theory_checks/gd_stability.py) | complete | |
| [Two](notes.md#n000-two) | y | — | — | partial | issue 12, item 1 |
"""


def test_problems_finds_each_kind_of_defect() -> None:
    base = COVERAGE.parent
    checks = ("gd_stability",)
    assert problems(GOOD, NOTES_MINI, checks, base) == []
    two = GOOD.splitlines()[-1]
    cases = {
        "no row for notes.md#n000-two": GOOD.replace(two + "\n", "").replace(
            "2 sections: 1 complete, 1 partial", "1 sections: 1 complete, 0 partial"
        ),
        "2 rows for notes.md#n000-one": GOOD.replace(two, GOOD.splitlines()[-2]).replace(
            "1 complete, 1 partial", "2 complete, 0 partial"
        ),
        "rows are not in the order of notes.md": GOOD.replace(
            GOOD.splitlines()[-2] + "\n" + two, two + "\n" + GOOD.splitlines()[-2]
        ),
        "titled 'Too'": GOOD.replace("[Two]", "[Too]"),
        "notes.md#note-000 linked 0 times": GOOD.replace("[note 000](notes.md#note-000)", "note 000"),
        "no such path": GOOD.replace("first_order/gd.py", "first_order/gdx.py"),
        "no such anchor": GOOD.replace("| x |", "| [x](notes.md#n000-three) |"),
        "not in theory_checks.CHECKS": GOOD.replace("gd_stability", "gd_stabilty"),
        "not the check's name": GOOD.replace("[gd_stability]", "[stability]"),
        "status 'done'": GOOD.replace("| complete |", "| done |"),
        "says nothing of what is left out": GOOD.replace("issue 12, item 1", ""),
        "header counts [2, 1, 1, 0]": GOOD.replace("| complete |", "| partial |"),
        "0 counts lines": GOOD.replace("**Counts", "Counts"),
    }
    for expected, text in cases.items():
        found = problems(text, NOTES_MINI, checks, base)
        assert any(expected in f for f in found), f"{expected!r} not reported; got {found}"

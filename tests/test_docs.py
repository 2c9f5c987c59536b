"""The repository is self-contained: its documents point only inside it, and they agree with it.

(a) No tracked file points at files outside the repository (the old shared folder, the old
    contract and convention notes); ``docs/conventions.md`` is cited by that path.
(b) Every citation of a lecture note by section title (``note 001, "Heavy Ball Method"``, also
    spelled ``seed 001 ("Heavy Ball Method")`` until the rename) names a section of specs/notes.md.
(c) specs/README.md lists every spec, each row's spec, module and test file exist, and each
    registered algorithm's row carries its one-line rule from ``ref.ENTRIES``.
(d) Relative links in docs/, specs/README.md, specs/notes.md, specs/notation.md and CONTRIBUTING.md
    resolve (file and anchor).
(e) The keyword table of specs/notation.md is the records' (names, order, defaults).
"""

from __future__ import annotations

import ast
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import reference as ref

ROOT = Path(__file__).resolve().parents[1]
NOTES = ROOT / "specs" / "notes.md"
INDEX = ROOT / "specs" / "README.md"
NOTATION = ROOT / "specs" / "notation.md"


def _tracked_files() -> list[Path]:
    try:
        out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: the tracked files are unknown")
    return [ROOT / line for line in out.splitlines() if line]


SELF = Path(__file__).resolve()


def _texts() -> dict[str, str]:
    """Every tracked text file (UTF-8) but this one (its examples), by path relative to the root."""
    out = {}
    for path in _tracked_files():
        if path.resolve() == SELF:
            continue
        try:
            out[path.relative_to(ROOT).as_posix()] = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, FileNotFoundError, IsADirectoryError):
            continue
    return out


# ---------------------------------------------------------------------------------------------
# (a) no pointer outside the repository

# Spelled in pieces so that this file does not match itself.
OUTSIDE = re.compile(r"(?:\.\./|/work/)" + r"shared|\bdesign\.md|(?<!docs/)\b" + r"conventions\.md")


def outside_pointers(text: str) -> list[str]:
    """The lines of ``text`` that point at the old shared files."""
    return [ln.strip() for ln in text.splitlines() if OUTSIDE.search(ln)]


def test_outside_pointer_pattern() -> None:
    assert outside_pointers("see ../" + "shared/x")
    assert outside_pointers("the contract (" + "design.md)")
    assert outside_pointers("conventions" + ".md §2.7")
    assert not outside_pointers("docs/" + "conventions.md §2.7")
    assert not outside_pointers("[peers](../docs/" + "conventions.md#adam)")


def test_no_tracked_file_points_outside_the_repository() -> None:
    bad = {name: hits for name, text in _texts().items() if (hits := outside_pointers(text))}
    assert not bad, "files pointing outside the repository:\n" + "\n".join(
        f"  {name}: {hits[0][:120]}" for name, hits in sorted(bad.items())
    )


# ---------------------------------------------------------------------------------------------
# (b) note citations name sections of specs/notes.md


@dataclass
class Note:
    number: str
    names: set[str] = field(default_factory=set)  # section titles (with and without numbers) and aliases
    numbered: dict[str, str] = field(
        default_factory=dict
    )  # "3.2.2" -> "SignSGD" (note 002 numbers its sections)


HEADING = re.compile(r"^(#{2,4}) (.+?)\s*$")
ALSO = re.compile(r"^Also cited as: (.+)$")
SECTION_NUMBER = re.compile(r"^\d+(?:\.\d+)*\s+")


def parse_notes(text: str) -> dict[str, Note]:
    """note number -> the names of its sections, from the headings of specs/notes.md."""
    notes: dict[str, Note] = {}
    current: Note | None = None
    for line in text.splitlines():
        if m := HEADING.match(line):
            level, title = m.groups()
            if level == "##":
                n = re.match(r"note (00\d): ", title)
                current = notes.setdefault(n.group(1), Note(n.group(1))) if n else None
            elif current is not None:
                current.names |= {title, SECTION_NUMBER.sub("", title)}
                if n := SECTION_NUMBER.match(title):
                    current.numbered[n.group(0).strip()] = SECTION_NUMBER.sub("", title)
        elif current is not None and (m := ALSO.match(line)):
            current.names |= set(re.findall(r'"([^"]+)"', m.group(1)))
    return notes


def names_section(title: str, names: set[str]) -> bool:
    """``title`` names one of ``names``: equal, a leading part of one ("Heavy Ball Method" of
    "Heavy Ball Method: Adding Memory"), one followed by quoted words ("SAGA: maintain ..."),
    or a path "Part / Section"."""
    if title in names:
        return True
    for name in names:
        if name.startswith(title) and not name[len(title)].isalnum():
            return True
        if title.startswith(name + ":"):
            return True
    if " / " in title:
        return all(names_section(part, names) for part in title.split(" / "))
    return False


# "note 001, "Title"", "seed 001 ("Title")", "Seed 004 'Title'"; a title is capitalised (a quoted
# phrase of the note's text, "typically beta = 0.9", is a quotation, not a section).
# A numbered section may come first: 'note 002, section 3.1 ("SGD Convergence Proof ...")'.
CITATION = re.compile(
    r"\b(?:[Ss]eed|[Nn]ote) (00\d)(?:,\s*|\s*\(\s*|\s+)"
    r"(?:(?:§\s*|section\s+)(\d+(?:\.\d+)*),?\s*\(?\s*)?"
    r"""(?:"([^"\n]+)"|“([^”\n]+)”|'((?:[^'\n]|'(?=s\b))+)')"""
)
# Numbered sections of note 002: 'note 002 §2.5', 'seed 002, section 3.3.2', 'note 002 3.2.2-3.2.3'.
NUMBERED = re.compile(r"\b(?:[Ss]eed|[Nn]ote) 002(?:'s)?,?\s+(?:§\s*|sections?\s+)?(\d+\.\d+(?:\.\d+)*)")


def citations(text: str) -> list[tuple[str, str]]:
    """(note number, section title) of every title citation in ``text``; a title given after a
    section number is returned as "<number> <title>"."""
    out = []
    for m in CITATION.finditer(text):
        title = next(g for g in m.groups()[2:] if g is not None).strip()
        if title[:1].isupper():
            out.append((m.group(1), f"{m.group(2)} {title}" if m.group(2) else title))
    return out


def names_numbered_section(number_and_title: str, note: Note) -> bool:
    """A citation "<number> <title>" names the section with that number and a matching title."""
    number, _, title = number_and_title.partition(" ")
    return number in note.numbered and names_section(title, {note.numbered[number]})


def test_notes_page_parses() -> None:
    notes = parse_notes(NOTES.read_text(encoding="utf-8"))
    assert sorted(notes) == ["000", "001", "002", "003", "004"]
    assert all(len(n.names) >= 4 for n in notes.values())


def test_citation_matching_can_fail() -> None:
    notes = parse_notes(NOTES.read_text(encoding="utf-8"))
    found = citations(
        "see note 001, \"Heavy Ball Method\"; seed 003 ('Newton's Method and Approximations'), "
        "Seed 004 (\"Adaptive Learning Rates / AdaGrad\"), note 001 ('No Such Section'), "
        'seed 001 ("typically 0.9"), note 002 "Heavy Ball Method"'
    )
    assert found == [
        ("001", "Heavy Ball Method"),
        ("003", "Newton's Method and Approximations"),
        ("004", "Adaptive Learning Rates / AdaGrad"),
        ("001", "No Such Section"),
        ("002", "Heavy Ball Method"),
    ]
    ok = [names_section(t, notes[n].names) for n, t in found]
    assert ok == [True, True, True, False, False]
    numbered = citations(
        'note 002, section 3.1 ("SGD Convergence Proof (Constant Step Size)"); note 002 §2.5 ("Adam")'
    )
    assert numbered == [("002", "3.1 SGD Convergence Proof (Constant Step Size)"), ("002", "2.5 Adam")]
    assert [names_numbered_section(t, notes["002"]) for _, t in numbered] == [True, False]
    assert NUMBERED.findall("note 002 §2.5 and seed 002, section 3.3.2; note 002 3.2.2-3.2.3") == [
        "2.5",
        "3.3.2",
        "3.2.2",
    ]


def test_every_note_citation_names_a_section_of_notes_md() -> None:
    notes = parse_notes(NOTES.read_text(encoding="utf-8"))
    bad = []
    for name, text in _texts().items():
        for number, title in citations(text):
            note = notes.get(number)
            if note is None:
                ok = False
            elif title[:1].isdigit():
                ok = names_numbered_section(title, note)
            else:
                ok = names_section(title, note.names)
            if not ok:
                bad.append(f"  {name}: note {number}, {title!r}")
        for number in NUMBERED.findall(text):
            if number not in notes["002"].numbered:
                bad.append(f"  {name}: note 002 §{number}")
    assert not bad, "citations naming no section of specs/notes.md:\n" + "\n".join(sorted(set(bad)))


def test_every_notes_section_has_one_anchor() -> None:
    lines = NOTES.read_text(encoding="utf-8").splitlines()
    anchors = []
    for i, line in enumerate(lines):
        if HEADING.match(line) and not line.startswith("# "):
            m = re.fullmatch(r'<a id="([a-z0-9-]+)"></a>', lines[i - 1])
            assert m, f"specs/notes.md: heading {line!r} has no <a id=...> anchor on the line above"
            anchors.append(m.group(1))
    assert len(anchors) == len(set(anchors)), "specs/notes.md: duplicate anchors"


# ---------------------------------------------------------------------------------------------
# (c) specs/README.md indexes every spec


def _index_rows() -> list[list[str]]:
    rows = []
    for line in INDEX.read_text(encoding="utf-8").splitlines():
        if line.startswith("| [") or line.startswith("| `["):
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip().strip("|"))]
            rows.append([c.replace("\\|", "|") for c in cells])
    return rows


def _link_target(cell: str) -> str:
    m = re.search(r"\]\(([^)]+)\)", cell)
    assert m, f"specs/README.md: no link in cell {cell!r}"
    return m.group(1)


def test_index_lists_every_spec_and_only_existing_ones() -> None:
    listed = [_link_target(row[0]) for row in _index_rows()]
    specs = sorted(p.name for p in (ROOT / "specs").glob("*.md") if p.name != "README.md")
    for target in listed:
        assert (ROOT / "specs" / target).is_file(), f"specs/README.md lists {target}, which does not exist"
    missing = sorted(set(specs) - set(listed))
    assert not missing, f"specs/README.md does not list {missing}"


def test_index_rows_of_registered_algorithms() -> None:
    rows = {Path(_link_target(row[0])).stem: row for row in _index_rows()}
    for e in ref.ENTRIES:
        assert e.name in rows, f"specs/README.md has no row for {e.name}"
        row = rows[e.name]
        module = "reference/" + e.factory.__module__.split(".", 1)[1].replace(".", "/") + ".py"
        cells = " ".join(row)
        assert module in cells, f"specs/README.md: the row of {e.name} should name {module}"
        own = f"tests/test_{e.name}.py"
        if (ROOT / own).exists():
            assert own in cells, f"specs/README.md: the row of {e.name} should name {own}"
        else:  # tested in another file (sgd in tests/test_gd.py); the link test checks it exists
            assert re.search(r"tests/test_\w+\.py", cells), (
                f"specs/README.md: the row of {e.name} names no tests"
            )
        assert f"`{e.rule}`" in cells, (
            f"specs/README.md: the rule of {e.name} differs from ref.ENTRIES; the cell should read "
            f"`{e.rule}`".replace("|", "\\|")
        )


# ---------------------------------------------------------------------------------------------
# (d) relative links resolve

LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")


def _anchors(path: Path) -> set[str]:
    """Explicit ``<a id>`` anchors and GitHub's heading slugs of a Markdown file."""
    text = path.read_text(encoding="utf-8")
    out = set(re.findall(r'<a id="([^"]+)"', text))
    for line in text.splitlines():
        if m := re.match(r"^#{1,6} (.+?)\s*$", line):
            slug = re.sub(r"[^\w\- ]", "", m.group(1).lower()).replace(" ", "-")
            out.add(slug)
    return out


def _documents() -> list[Path]:
    return sorted((ROOT / "docs").glob("*.md")) + [INDEX, NOTES, NOTATION, ROOT / "CONTRIBUTING.md"]


def test_there_are_documents() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in _documents()}
    assert {"docs/api.md", "docs/conventions.md", "specs/README.md", "specs/notes.md"} <= names


@pytest.mark.parametrize("doc", _documents(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_relative_links_resolve(doc: Path) -> None:
    bad = []
    for target in LINK.findall(doc.read_text(encoding="utf-8")):
        if re.match(r"[a-z]+:", target):  # http:, https:, mailto:
            continue
        file, _, anchor = target.partition("#")
        dest = (doc.parent / file).resolve() if file else doc
        if not dest.exists():
            bad.append(f"{target} (no file {dest.relative_to(ROOT) if dest.is_relative_to(ROOT) else dest})")
        elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
            bad.append(f"{target} (no anchor #{anchor})")
        elif not dest.resolve().is_relative_to(ROOT):
            bad.append(f"{target} (outside the repository)")
    assert not bad, f"{doc.relative_to(ROOT)}: broken links: {bad}"


# ---------------------------------------------------------------------------------------------
# (e) the keyword table of specs/notation.md


def signature_of(text: str) -> list[tuple[str, object]]:
    """(name, default) of each argument of a written signature ``name(lr, *, beta=0.9, ...)``;
    a positional name without a default has the default ``REQUIRED``."""
    from reference._hyper import REQUIRED

    call = ast.parse(text.replace(", *,", ",").replace("(*, ", "("), mode="eval").body
    assert isinstance(call, ast.Call), text
    out: list[tuple[str, object]] = []
    for a in call.args:
        assert isinstance(a, ast.Name), text
        out.append((a.id, REQUIRED))
    for k in call.keywords:
        assert k.arg is not None, text
        out.append((k.arg, ast.literal_eval(k.value)))
    return out


def test_signature_parser() -> None:
    from reference._hyper import REQUIRED

    assert signature_of('f(lr, *, beta=0.9, form="polyak")') == [
        ("lr", REQUIRED),
        ("beta", 0.9),
        ("form", "polyak"),
    ]
    assert signature_of("f(lr=1e-2, *, eps=1e-10)") == [("lr", 0.01), ("eps", 1e-10)]


def test_notation_keyword_table_is_the_records() -> None:
    section = NOTATION.read_text(encoding="utf-8").split("## Keyword table", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| (\w+) \| `(\w+\([^`]*\))`", section, flags=re.M)
    assert len(rows) >= 10, "specs/notation.md: keyword table not found"
    for name, sig in rows:
        want = [(f.name, f.default) for f in ref.entry(name).fields()]
        got = signature_of(sig)
        assert [n for n, _ in got] == [n for n, _ in want], (
            f"specs/notation.md, {name}: {got} != record {want}"
        )
        for (arg, a), (_, b) in zip(got, want):
            assert a is b or a == b, f"specs/notation.md, {name}: {arg} default {a!r} != record's {b!r}"

"""Fuzzing the golden-vector loader: whatever the bytes, ``load_vectors`` either returns a corpus
that ``check_vectors`` can run, or raises ``VectorFormatError`` with one line naming the file.

Inputs: truncated files, random bytes, deep nesting, integer literals of hundreds of digits,
out-of-range floats, any JSON value in place of any node, any key removed. The sha256 in the
index is refreshed after each edit (else every edit would stop at the digest check).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reference.conform.vectors import (
    MAX_INT_DIGITS,
    Corpus,
    VectorFormatError,
    check_vectors,
    export_vectors,
    load_vectors,
)

NAME = "sgd.json"


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("fuzz")
    export_vectors(d, algorithms=["sgd"], n_steps=2, dim=2)
    return d


def _load_text(
    src: Path, name: str, text: bytes | str, *, fix_sha: bool = True
) -> Corpus | VectorFormatError:
    """Copy the corpus, write ``text`` as ``name``, refresh the index digest, load. Any exception
    other than VectorFormatError propagates and fails the test."""
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp) / "c"
        shutil.copytree(src, d)
        raw = text.encode("utf-8") if isinstance(text, str) else text
        (d / name).write_bytes(raw)
        if fix_sha and name != "index.json":
            index = json.loads((d / "index.json").read_text())
            for f in index["files"]:
                if f["path"] == name:
                    f["sha256"] = hashlib.sha256(raw).hexdigest()
            (d / "index.json").write_text(json.dumps(index))
        try:
            corpus = load_vectors(d)
        except VectorFormatError as e:
            return e
        return corpus


def _assert_clear(err: VectorFormatError, name: str) -> None:
    text = str(err)
    assert "\n" not in text and len(text) < 400, text
    assert name in text and "field" in text, text


def _nodes(doc: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _nodes(v, (*path, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _nodes(v, (*path, i))


def _replace(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    parent = doc
    for k in path[:-1]:
        parent = parent[k]
    parent[path[-1]] = value
    return doc


def _delete(doc: Any, path: tuple[Any, ...]) -> Any:
    parent = doc
    for k in path[:-1]:
        parent = parent[k]
    del parent[path[-1]]
    return doc


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.text(max_size=8)
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)


def _outcome_is_clear(result: Corpus | VectorFormatError, name: str) -> None:
    if isinstance(result, VectorFormatError):
        _assert_clear(result, name)
    else:  # a corpus that loads is one the reference can check (pass or fail, never a crash)
        report = check_vectors(result, None)
        assert report.count("pass") + report.count("fail") + report.count("skip") == len(result.cases)


@given(data=st.data())
def test_any_json_value_in_place_of_any_node(corpus_dir: Path, data: st.DataObject) -> None:
    name = data.draw(st.sampled_from([NAME, "index.json"]))
    doc = json.loads((corpus_dir / name).read_text())
    paths = list(_nodes(doc))
    path = data.draw(st.sampled_from(paths))
    value = data.draw(JSON_VALUES)
    text = json.dumps(_replace(doc, path, value))
    _outcome_is_clear(_load_text(corpus_dir, name, text), name)


@given(data=st.data())
def test_any_key_removed(corpus_dir: Path, data: st.DataObject) -> None:
    name = data.draw(st.sampled_from([NAME, "index.json"]))
    doc = json.loads((corpus_dir / name).read_text())
    paths = [p for p in _nodes(doc) if p]
    path = data.draw(st.sampled_from(paths))
    result = _load_text(corpus_dir, name, json.dumps(_delete(doc, path)))
    _outcome_is_clear(result, name)
    case_key = name == NAME and len(path) == 3 and path[0] == "cases" and isinstance(path[2], str)
    if case_key:  # every key of a case is required
        assert isinstance(result, VectorFormatError) and "missing" in str(result), result


@given(cut=st.integers(min_value=0, max_value=10**9), fix_sha=st.booleans())
def test_truncated_file(corpus_dir: Path, cut: int, fix_sha: bool) -> None:
    raw = (corpus_dir / NAME).read_bytes()
    result = _load_text(corpus_dir, NAME, raw[: cut % len(raw)], fix_sha=fix_sha)
    assert isinstance(result, VectorFormatError)  # a strict prefix is never a valid file
    _assert_clear(result, NAME)


@given(raw=st.binary(max_size=200))
def test_random_bytes(corpus_dir: Path, raw: bytes) -> None:
    result = _load_text(corpus_dir, NAME, raw)
    assert isinstance(result, VectorFormatError)
    _assert_clear(result, NAME)


@given(depth=st.integers(min_value=1, max_value=200_000), kind=st.sampled_from(["[", '{"a":']))
def test_deep_nesting(corpus_dir: Path, depth: int, kind: str) -> None:
    close = "]" if kind == "[" else "}"
    result = _load_text(corpus_dir, NAME, kind * depth + "0" + close * depth)
    assert isinstance(result, VectorFormatError)
    _assert_clear(result, NAME)


@given(
    digits=st.integers(min_value=MAX_INT_DIGITS + 1, max_value=6000),
    field=st.sampled_from(["seed", "params0", "expected", "hyperparameters", "schema_version"]),
)
def test_huge_integer_literals(corpus_dir: Path, digits: int, field: str) -> None:
    doc = json.loads((corpus_dir / NAME).read_text())
    big = "9" * digits
    marker = "__BIG__"
    case = doc["cases"][0]
    if field == "seed":
        case["seed"] = marker
    elif field == "params0":
        case["params0"][0] = marker
    elif field == "expected":
        case["expected"][-1][-1] = marker
    elif field == "hyperparameters":
        case["hyperparameters"]["lr"] = marker
    else:
        doc["schema_version"] = marker
    text = json.dumps(doc).replace(f'"{marker}"', big)
    result = _load_text(corpus_dir, NAME, text)
    assert isinstance(result, VectorFormatError)
    _assert_clear(result, NAME)
    assert f"{digits} digits" in str(result)


@pytest.mark.parametrize("literal", ["1e400", "-1e400", "1" + "0" * 400 + ".0"])
def test_floats_out_of_range(corpus_dir: Path, literal: str) -> None:
    doc = json.loads((corpus_dir / NAME).read_text())
    doc["cases"][0]["grads"][0][0] = "__X__"
    result = _load_text(corpus_dir, NAME, json.dumps(doc).replace('"__X__"', literal))
    assert isinstance(result, VectorFormatError)
    _assert_clear(result, NAME)
    assert "cases[0].grads[0][0]" in str(result) and "finite number" in str(result)


@pytest.mark.parametrize(
    "value, problem",
    [
        (-1.0, "not valid for ref.sgd"),
        ("fast", "not valid for ref.sgd"),
        (None, "not valid for ref.sgd"),
        (True, "not valid for ref.sgd"),
    ],
)
def test_invalid_hyperparameter_values_are_format_errors(corpus_dir: Path, value: Any, problem: str) -> None:
    doc = json.loads((corpus_dir / NAME).read_text())
    doc["cases"][1]["hyperparameters"]["lr"] = value
    result = _load_text(corpus_dir, NAME, json.dumps(doc))
    assert isinstance(result, VectorFormatError), result
    _assert_clear(result, NAME)
    assert "cases[1].hyperparameters" in str(result) and problem in str(result)


def test_index_that_is_a_directory_or_unreadable(corpus_dir: Path, tmp_path: Path) -> None:
    d = tmp_path / "c"
    shutil.copytree(corpus_dir, d)
    (d / NAME).unlink()
    (d / NAME).mkdir()
    with pytest.raises(VectorFormatError, match="is a directory"):
        load_vectors(d)
    shutil.rmtree(d)
    shutil.copytree(corpus_dir, d)
    doc = json.loads((d / NAME).read_text())
    doc["cases"].append(doc["cases"][0])
    text = json.dumps(doc)
    index = json.loads((d / "index.json").read_text())
    index["files"][0].update(cases=len(doc["cases"]), sha256=hashlib.sha256(text.encode()).hexdigest())
    (d / NAME).write_text(text)
    (d / "index.json").write_text(json.dumps(index))
    with pytest.raises(VectorFormatError, match=r"cases\[\d+\]\.id.*repeats"):
        load_vectors(d)

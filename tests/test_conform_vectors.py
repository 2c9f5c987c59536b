"""Golden vectors: export, exact JSON round trip, validation errors naming file and field, check."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.testing import assert_array_equal

import reference as ref
from reference.conform import STREAMS, run_reference
from reference.conform.vectors import (
    SCHEMA_VERSION,
    VectorFormatError,
    check_vectors,
    export_vectors,
    exportable_algorithms,
    load_vectors,
    variants_of,
)


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("vectors")
    export_vectors(d, algorithms=["adam", "momentum", "sgd"], n_steps=8, dim=3)
    return d


def _edit(src: Path, dst: Path, fn: Any, name: str = "adam.json", fix_index: bool = True) -> Path:
    """Copy the corpus, apply fn to the parsed JSON of ``name`` and (optionally) refresh the index."""
    import hashlib
    import shutil

    shutil.copytree(src, dst)
    doc = json.loads((dst / name).read_text())
    fn(doc)
    text = json.dumps(doc) + "\n"
    (dst / name).write_text(text)
    if fix_index:
        index = json.loads((dst / "index.json").read_text())
        for f in index["files"]:
            if f["path"] == name:
                f["sha256"] = hashlib.sha256(text.encode()).hexdigest()
                f["cases"] = len(doc["cases"]) if isinstance(doc.get("cases"), list) else f["cases"]
        (dst / "index.json").write_text(json.dumps(index))
    return dst


def test_export_covers_every_variant_and_stream(corpus_dir: Path) -> None:
    corpus = load_vectors(corpus_dir)
    adam = [c for c in corpus.cases if c.algorithm == "adam"]
    variants = {c.variant for c in adam}
    assert {
        "default",
        "weight_decay",
        "default+eps_inside",
        "default+no_bias_correction",
        "default+amsgrad_raw",
        "default+amsgrad_corrected",
        "default+epsilon_hat",
        "weight_decay+no_eps",
    } <= variants
    assert {c.stream for c in adam} == set(STREAMS)
    assert len(variants_of("momentum")) >= 6  # forms, first step, dampening, ... of the base and wd cases
    assert corpus.schema_version == SCHEMA_VERSION


def test_round_trip_is_exact_and_matches_the_reference(corpus_dir: Path) -> None:
    corpus = load_vectors(corpus_dir)
    for case in corpus.cases[::7]:
        run = run_reference(ref.make(case.algorithm, **case.hyperparameters), case.params0, grads=case.grads)
        assert_array_equal(run.iterates[1:], case.expected)  # bit for bit through JSON


def test_reference_reverifies_its_own_corpus(corpus_dir: Path) -> None:
    report = check_vectors(load_vectors(corpus_dir), None)
    assert report.passed and report.count("fail") == 0 and report.count("skip") == 0


def test_user_function_checked_and_unsupported_keywords_skipped(corpus_dir: Path) -> None:
    def sgd_step(params: Any, grad: Any, state: Any, *, lr: float, weight_decay: float = 0.0) -> Any:
        return params - lr * (grad + weight_decay * params), None

    def sgd_wrong(params: Any, grad: Any, state: Any, *, lr: float, weight_decay: float = 0.0) -> Any:
        return params - lr * grad, None  # ignores weight decay

    corpus = load_vectors(corpus_dir)
    assert check_vectors(corpus, sgd_step, algorithm="sgd").passed
    bad = check_vectors(corpus, sgd_wrong, algorithm="sgd")
    assert not bad.passed
    assert {r.case.variant for r in bad.results if r.status == "fail"} == {"weight_decay"}

    def momentum_polyak_only(params: Any, grad: Any, state: Any, *, lr: float, beta: float) -> Any:
        v = grad if state is None else beta * state + grad
        return params - lr * v, v

    rep = check_vectors(corpus, momentum_polyak_only, algorithm="momentum")
    assert rep.count("skip") > 0 and rep.count("pass") > 0
    with pytest.raises(ValueError, match="no cases for algorithm 'lion'"):
        check_vectors(corpus, sgd_step, algorithm="lion")


@pytest.mark.parametrize(
    "mutate, field, problem",
    [
        (lambda d: d["cases"][2].pop("expected"), "cases[2].expected", "missing"),
        (lambda d: d["cases"][0].__setitem__("seed", "zero"), "cases[0].seed", "expected int"),
        (lambda d: d["cases"][1]["grads"][3].pop(), "cases[1].grads[3]", "expected 3 numbers"),
        (lambda d: d["cases"][1]["expected"].pop(), "cases[1].expected", "expected 8 rows"),
        (lambda d: d["cases"][0]["params0"].__setitem__(1, "1.0"), "cases[0].params0[1]", "finite number"),
        (
            lambda d: d["cases"][0]["hyperparameters"].__setitem__("lr", [1]),
            "cases[0].hyperparameters.lr",
            "number",
        ),
        (lambda d: d.__setitem__("schema_version", 99), "schema_version", "understands version 1"),
        (lambda d: d["cases"][0].__setitem__("algorithm", "sgd"), "cases[0].algorithm", "expected 'adam'"),
        (lambda d: d.__setitem__("cases", {}), "cases", "expected list"),
    ],
)
def test_malformed_files_name_the_file_and_the_field(
    corpus_dir: Path, tmp_path: Path, mutate: Any, field: str, problem: str
) -> None:
    bad = _edit(corpus_dir, tmp_path / "bad", mutate)
    with pytest.raises(VectorFormatError, match=problem) as info:
        load_vectors(bad)
    assert info.value.file.endswith("adam.json")
    assert info.value.field == field


def test_truncated_edited_or_missing_files_are_rejected(corpus_dir: Path, tmp_path: Path) -> None:
    import shutil

    trunc = tmp_path / "trunc"
    shutil.copytree(corpus_dir, trunc)
    raw = (trunc / "momentum.json").read_bytes()
    (trunc / "momentum.json").write_bytes(raw[:-500])
    with pytest.raises(VectorFormatError, match="momentum.json: field '<file>': not valid JSON"):
        load_vectors(trunc)

    edited = _edit(
        corpus_dir,
        tmp_path / "edited",
        lambda d: d["cases"][0]["expected"][0].__setitem__(0, 0.5),
        fix_index=False,
    )
    with pytest.raises(VectorFormatError, match="sha256 differs"):
        load_vectors(edited)

    nan = tmp_path / "nan"
    shutil.copytree(corpus_dir, nan)
    (nan / "index.json").write_text((nan / "index.json").read_text().replace('"seed": 0', '"seed": NaN'))
    with pytest.raises(VectorFormatError, match="index.json: field '<file>': non-finite number NaN"):
        load_vectors(nan)

    gone = tmp_path / "gone"
    shutil.copytree(corpus_dir, gone)
    (gone / "sgd.json").unlink()
    with pytest.raises(VectorFormatError, match="sgd.json: field '<file>': listed in index.json but missing"):
        load_vectors(gone)

    with pytest.raises(VectorFormatError, match="not a directory"):
        load_vectors(tmp_path / "nowhere")

    escape = tmp_path / "escape"
    shutil.copytree(corpus_dir, escape)
    index = json.loads((escape / "index.json").read_text())
    index["files"][0]["path"] = "../x.json"
    (escape / "index.json").write_text(json.dumps(index))
    with pytest.raises(VectorFormatError, match=r"files\[0\].path.*plain file name"):
        load_vectors(escape)


def test_export_rejects_unknown_algorithms_and_lists_gradient_methods(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="'adamx' is not registered"):
        export_vectors(tmp_path, algorithms=["adamx"])
    algos = exportable_algorithms()
    assert {"sgd", "adam", "momentum"} <= set(algos)
    assert "lbfgs" not in algos  # a Method (oracle input), not a gradient-stream optimizer


def test_non_finite_reference_cases_are_left_out(tmp_path: Path) -> None:
    # eps = 0 on a stream whose first gradient is zero is 0/0: such cases are not exported.
    export_vectors(tmp_path, algorithms=["adam"], n_steps=4, dim=2)
    ids = {c.id for c in load_vectors(tmp_path).cases}
    assert "adam/default+no_eps/normal" in ids
    assert "adam/default+no_eps/zero_steps" not in ids
    assert all(np.isfinite(c.expected).all() for c in load_vectors(tmp_path).cases)

"""Every registered algorithm's hyperparameters come from one record (reference/_hyper.py), and the
bad-input cases are generated from the records' ranges: each value outside a field's range makes the
factory raise a one-line TypeError or ValueError that names the algorithm and the argument."""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
import pytest

import reference as ref
from reference._hyper import Factory, FieldInfo, Hyperparams


def _valid(name: str) -> dict[str, Any]:
    """The required fields of ``name`` set to a value inside their range."""
    return {f.name: f.range.example() for f in ref.entry(name).fields() if f.required}


def _cases() -> list[tuple[str, str, object]]:
    out = []
    for name in ref.ALGORITHMS:
        factory = ref.entry(name).factory
        if not isinstance(factory, Factory):
            continue
        for f in factory.record.fields():
            for bad in f.range.bad_values():
                out.append((name, f.name, bad))
    return out


@pytest.mark.parametrize("name", ref.ALGORITHMS)
def test_every_algorithm_has_a_record(name: str) -> None:
    factory = ref.entry(name).factory
    assert isinstance(factory, Factory), f"ref.{name} is not built from a hyperparameter record"
    assert issubclass(factory.record, Hyperparams)
    assert factory.record.ALGORITHM == name
    for f in factory.record.fields():
        assert f.doc.strip(), f"{name}.{f.name} has no doc"
        assert f.range.describe(), f"{name}.{f.name} has no range description"


@pytest.mark.parametrize("name", ref.ALGORITHMS)
def test_defaults_are_inside_their_ranges_and_bound(name: str) -> None:
    factory = ref.entry(name).factory
    if not isinstance(factory, Factory):
        pytest.fail(f"ref.{name} has no record")
    opt = factory(**_valid(name))
    record = opt.record
    assert isinstance(record, factory.record)
    # the bound hyperparameters are the record's values, every field once, in the record's order
    assert list(opt.hyperparams) == [f.name for f in factory.record.fields()]
    for f in factory.record.fields():
        if not f.required:
            assert opt.hyperparams[f.name] is f.default or opt.hyperparams[f.name] == f.default
    # the factory's signature is the record's
    assert list(inspect.signature(factory).parameters) == [f.name for f in factory.record.fields()]


@pytest.mark.parametrize("name, field, bad", _cases(), ids=lambda v: repr(v)[:40])
def test_bad_values_are_refused_naming_the_argument(name: str, field: str, bad: object) -> None:
    kwargs = {**_valid(name), field: bad}
    with pytest.raises((TypeError, ValueError)) as info:
        ref.make(name, **kwargs)
    message = str(info.value)
    assert "\n" not in message, message
    assert f"{name}: {field}" in message, f"message does not name {name}: {field}: {message}"


@pytest.mark.parametrize("name", ref.ALGORITHMS)
def test_unknown_keyword_names_the_valid_ones(name: str) -> None:
    with pytest.raises(TypeError, match=rf"{name}: unknown hyperparameter 'no_such_knob'"):
        ref.make(name, **_valid(name), no_such_knob=1)


def test_flags_refuse_numbers_everywhere() -> None:
    """One rule for every flag: 1 and 0.0 are not booleans (they were accepted by some factories)."""
    seen = 0
    for name in ref.ALGORITHMS:
        for f in ref.entry(name).fields():
            if isinstance(f.default, bool):
                seen += 1
                for bad in (1, 0.0):
                    with pytest.raises(TypeError, match=f"{name}: {f.name} must be True or False"):
                        ref.make(name, **{**_valid(name), f.name: bad})
    assert seen >= 5


def test_numpy_bools_and_integers_are_accepted() -> None:
    opt = ref.adam(amsgrad=np.bool_(True), beta1=np.float64(0.8))  # type: ignore[arg-type]
    assert opt.hyperparams["amsgrad"]


def test_field_info_of_a_pilot() -> None:
    f = ref.adam.record.field("beta1")
    assert f == FieldInfo("beta1", 0.9, f.range, f.doc)
    assert f.range.describe() == "in [0, 1)"
    assert ref.gd.record.field("lr").required

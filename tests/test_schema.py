"""Tests of `speck schema`: Draft-07 JSON Schema of the spec format that every example spec
satisfies and a broken one does not, with descriptions and each layer's arguments."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import SPECS
from jsonschema import Draft7Validator
from typer.testing import CliRunner

from speck.cli import app
from speck.load import load_file, load_text
from speck.schema import DRAFT_07, spec_schema


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return spec_schema()


@pytest.fixture(scope="module")
def validator(schema: dict[str, Any]) -> Draft7Validator:
    Draft7Validator.check_schema(schema)
    return Draft7Validator(schema)


def test_the_schema_is_draft_07(schema: dict[str, Any]) -> None:
    assert schema["$schema"] == DRAFT_07 == "http://json-schema.org/draft-07/schema#"
    text = json.dumps(schema)
    assert ("$defs" not in text and '"const"' not in text) or '"enum"' in text


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.name)
def test_every_example_spec_satisfies_the_schema(validator: Draft7Validator, path: Path) -> None:
    errors = [e.message for e in validator.iter_errors(load_file(path).data)]
    assert errors == []


SPEC = """\
speck: 1
name: s
model:
  input: [28, 28, 1]
  layers:
    - Conv2D: {filters: 8, kernel_size: 3, padding: same}
    - Flatten
    - Dense: {units: 10, activation: softmax}
compile: {optimizer: adam, loss: sparse_categorical_crossentropy, metrics: [accuracy]}
"""


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("padding: same}", "padding: same, paddin: same}"),  # an unknown argument
        ("padding: same}", "padding: sme}"),  # a value outside a closed set
        ("- Flatten", "- Flaten"),  # an unknown layer
        ("filters: 8", "filters: eight"),  # a wrong type
        ("optimizer: adam", "optimizer: adom"),  # an unknown optimizer
        ("speck: 1", "speck: 2"),  # an unknown format version
        ("name: s\n", "name: s\nseeed: 3\n"),  # an unknown section
    ],
)
def test_a_broken_spec_fails_the_schema(validator: Draft7Validator, old: str, new: str) -> None:
    assert list(validator.iter_errors(load_text(SPEC).data)) == []
    broken = load_text(SPEC.replace(old, new, 1)).data
    assert list(validator.iter_errors(broken)) != []


def test_layers_have_their_arguments_described(schema: dict[str, Any]) -> None:
    conv = schema["definitions"]["layers.Conv2D"]
    assert conv["description"]
    assert conv["required"] == ["filters", "kernel_size"]
    assert conv["properties"]["padding"]["enum"] == ["valid", "same"]
    assert conv["properties"]["padding"]["description"]
    assert conv["additionalProperties"] is False
    dense = schema["definitions"]["layers.Dense"]["properties"]
    assert "relu" in dense["activation"]["anyOf"][0]["enum"]
    assert schema["properties"]["model"]["description"]


def test_refused_layers_are_not_in_the_schema(schema: dict[str, Any]) -> None:
    assert "layers.Lambda" not in schema["definitions"]
    assert "layers.Dense" in schema["definitions"]


def test_speck_schema_prints_it(runner: CliRunner, schema: dict[str, Any]) -> None:
    result = runner.invoke(app, ["schema"])
    assert result.exit_code == 0
    assert json.loads(result.stdout) == schema


def test_speck_schema_output_file(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "speck.schema.json"
    result = runner.invoke(app, ["schema", "--output", str(out)])
    assert result.exit_code == 0 and str(out) in result.stdout
    assert json.loads(out.read_text(encoding="utf-8"))["$schema"] == DRAFT_07

"""Tests of `speck schema`: Draft-07 JSON Schema of the spec format that every example spec
satisfies and a broken one does not, with descriptions and each layer's arguments."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, SPECS
from jsonschema import Draft7Validator
from typer.testing import CliRunner

from speck.cli import app
from speck.front.json_schema import DRAFT_07, SCHEMA_FILE, schema_text, spec_schema
from speck.front.load import load_file, load_text


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
    assert dense["activation"]["anyOf"][0] == {"$ref": "#/definitions/activations"}
    assert "relu" in schema["definitions"]["activations"]["enum"]
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


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = schema["definitions"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def test_every_property_has_a_type(schema: dict[str, Any]) -> None:
    """yaml-language-server completes an untyped property as a bare word, without `: `,
    and leaves it out of the snippet of the object that requires it."""
    untyped = []
    for where, node in [("(top)", schema), *schema["definitions"].items()]:
        for key, prop in node.get("properties", {}).items():
            prop = _resolve(schema, prop)
            if not any(k in prop for k in ("type", "anyOf", "properties")):
                untyped.append(f"{where}.{key}")
    assert untyped == []
    conv = schema["definitions"]["layers.Conv2D"]["properties"]
    assert conv["kernel_size"]["anyOf"][0] == {"type": "integer"}
    assert schema["properties"]["model"]["type"] == "object"


LEGACY = """\
speck: 1
name: s
model:
  layers:
    - Dense: {units: 64, input_dim: 784}
    - Activation: softmax
    - Convolution2D: {filters: 8, kernel_size: 3}
compile:
  optimizer: {SGD: {lr: 0.02, decay: 0.001}}
  loss: categorical_crossentropy
fit: {nb_epoch: 3}
callbacks:
  - ModelCheckpoint: {filepath: m.keras, period: 2}
"""


def test_legacy_spellings_are_accepted_and_deprecated(
    schema: dict[str, Any], validator: Draft7Validator
) -> None:
    """What speck reads with a warning is no error for an editor, only marked deprecated (and
    so not offered in completion)."""
    assert [e.message for e in validator.iter_errors(load_text(LEGACY).data)] == []
    defs = schema["definitions"]
    deprecated = [
        _resolve(schema, defs["layers.Dense"]["properties"]["input_dim"]),
        defs["optimizers.SGD"]["properties"]["lr"],
        defs["optimizers.SGD"]["properties"]["decay"],
        defs["FitSpec"]["properties"]["nb_epoch"],
        defs["callbacks.ModelCheckpoint"]["properties"]["period"],
        defs["layers.Activation"]["else"],
    ]
    for prop in deprecated:
        assert "Keras 2" in prop["deprecationMessage"], prop
        assert "default" not in prop  # an editor would insert it into every snippet
    assert "lr" in defs["optimizers.SGD"]["properties"]["lr"]["deprecationMessage"]
    embedding = defs["layers.Embedding"]["properties"]["input_dim"]
    assert "deprecationMessage" not in embedding  # its own argument, not the legacy one


def test_unknown_names_have_one_message(schema: dict[str, Any]) -> None:
    layer = schema["definitions"]["LayerSpec"]["anyOf"]
    assert [o["type"] for o in layer] == ["string", "object"]
    assert all(o["errorMessage"].startswith("not a layer speck knows") for o in layer)
    assert "MaxPool2D" in layer[0]["enum"] and "MaxPool2D" in layer[1]["properties"]


def test_the_schema_file_in_the_repository_is_current() -> None:
    assert SCHEMA_FILE == ROOT / "compiler" / "speck.schema.json"
    assert SCHEMA_FILE.read_text(encoding="utf-8") == schema_text(), (
        "stale: run speck schema --output compiler/speck.schema.json"
    )


def test_speck_schema_check(runner: CliRunner, tmp_path: Path) -> None:
    assert runner.invoke(app, ["schema", "--check"]).exit_code == 0
    stale = tmp_path / "speck.schema.json"
    stale.write_text(schema_text().replace('"Conv2D"', '"Conv2d"', 1), encoding="utf-8")
    result = runner.invoke(app, ["schema", "--check", "--output", str(stale)])
    assert result.exit_code == 1
    assert re.search(r'^- +"Conv2d",$', result.stdout, re.MULTILINE)
    assert re.search(r'^\+ +"Conv2D",$', result.stdout, re.MULTILINE)
    assert "is stale" in result.stderr
    assert stale.read_text(encoding="utf-8") != schema_text()  # --check writes nothing

"""Tests of `speck build`: the live Keras model of each example spec. For the tutorial's three
models a test builds the same model by hand, as the tutorial writes it in Keras 3, and compares
`get_config()` as JSON that keeps tuples distinct from lists. TensorFlow is imported once, for
the whole module."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import SPECS, SPECS_DIR
from same_model import config_json, tagged
from typer.testing import CliRunner

from speck.cli import app
from speck.front.load import load_text
from speck.front.validate import validate
from speck.ir.resolve import resolve
from speck.pipeline import resolve_file

pytestmark = pytest.mark.tf


@pytest.fixture(scope="module")
def keras() -> Any:
    from speck.backends.build import keras_module

    return keras_module()


def build(path: Path) -> Any:
    from speck.backends.build import build_model, compile_model

    resolved = resolve_file(path)
    model = build_model(resolved.graph)
    compile_model(model, resolved.plan)
    return model


def fresh(keras: Any) -> None:
    """Start Keras' automatic names afresh (`dense`, `dense_1`), as in a new script."""
    keras.backend.clear_session()


# --- the tutorial's models, written by hand --------------------------------------------------


def tutorial_sequential_mlp(keras: Any, name: str = "sequential-mlp") -> Any:
    """7.4.1: Dense(units=64, input_dim=784), Activation('softmax'), SGD with Nesterov."""
    from keras.layers import Activation, Dense
    from keras.models import Sequential

    fresh(keras)
    model = Sequential(name=name)
    model.add(keras.Input(shape=(784,), name="inputs"))
    model.add(Dense(units=64))
    model.add(Activation("softmax"))
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=0.02, momentum=0.8, nesterov=True),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def tutorial_functional_mlp(keras: Any) -> Any:
    """7.4.2: Input(784) -> Dense(64, relu) -> Dense(32, relu) -> Dense(10, softmax)."""
    from keras.layers import Dense, Input
    from keras.models import Model

    fresh(keras)
    inputs = Input(shape=(784,), name="pixels")
    x = Dense(64, activation="relu", name="h1")(inputs)
    x = Dense(32, activation="relu", name="h2")(x)
    outputs = Dense(10, activation="softmax", name="probs")(x)
    model = Model(inputs=inputs, outputs=outputs, name="functional-mlp")
    model.compile(optimizer="sgd", loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def tutorial_autoencoder(keras: Any) -> Any:
    """7.4.3: the denoising convolutional autoencoder."""
    from keras.layers import Conv2D, MaxPooling2D, UpSampling2D
    from keras.models import Sequential

    fresh(keras)
    model = Sequential(name="cifar10-denoising-autoencoder")
    model.add(keras.Input(shape=(32, 32, 3), name="inputs"))
    # encoder
    model.add(Conv2D(32, 3, activation="relu", padding="same"))
    model.add(MaxPooling2D(2, padding="same"))
    model.add(Conv2D(32, 3, activation="relu", padding="same"))
    # decoder
    model.add(UpSampling2D(2))
    model.add(Conv2D(3, 3, activation="sigmoid", padding="same"))
    # Keras 2.1's Adadelta (the tutorial's 'adadelta') ran at learning rate 1.0.
    model.compile(
        optimizer=keras.optimizers.Adadelta(learning_rate=1.0), loss="binary_crossentropy"
    )
    return model


TUTORIAL = [
    ("sequential_mlp.yaml", tutorial_sequential_mlp, 50_240),
    ("functional_mlp.yaml", tutorial_functional_mlp, 52_650),
    ("autoencoder.yaml", tutorial_autoencoder, 11_011),
]


@pytest.mark.parametrize(("spec", "by_hand", "params"), TUTORIAL, ids=[t[0] for t in TUTORIAL])
def test_the_tutorials_models_are_built_as_written_by_hand(
    keras: Any, spec: str, by_hand: Any, params: int
) -> None:
    expected = by_hand(keras)
    fresh(keras)
    built = build(SPECS_DIR / spec)
    assert built.count_params() == expected.count_params() == params
    assert config_json(built) == config_json(expected)
    assert json.dumps(tagged(built.get_compile_config()), sort_keys=True) == json.dumps(
        tagged(expected.get_compile_config()), sort_keys=True
    )


def test_tuples_stay_distinct_from_lists_in_the_comparison() -> None:
    assert json.dumps(tagged({"a": (3, 3)})) != json.dumps(tagged({"a": [3, 3]}))


def test_the_tutorials_own_spelling_builds_the_same_model(keras: Any) -> None:
    text = (
        "speck: 1\nname: sequential-mlp\nmodel:\n  layers:\n"
        "    - Dense: {units: 64, input_dim: 784}\n"
        "    - Activation: softmax\n"
        "compile:\n  optimizer: {SGD: {lr: 0.02, momentum: 0.8, nesterov: true}}\n"
        "  loss: categorical_crossentropy\n  metrics: [accuracy]\n"
    )
    from speck.backends.build import build_model, compile_model

    resolved = resolve(validate(load_text(text, "tutorial.yaml")))
    assert {d.severity for d in resolved.diagnostics} == {"warning"}
    fresh(keras)
    model = build_model(resolved.graph)
    compile_model(model, resolved.plan)
    assert model.count_params() == 50_240
    expected = tutorial_sequential_mlp(keras)
    assert config_json(model) == config_json(expected)
    assert model.get_compile_config() == expected.get_compile_config()


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.name)
def test_every_example_spec_builds(keras: Any, path: Path) -> None:
    fresh(keras)
    model = build(path)
    assert model.count_params() > 0
    assert model.compiled


# --- the command -----------------------------------------------------------------------------


@pytest.mark.parametrize(("spec", "params"), [(t[0], t[2]) for t in TUTORIAL])
def test_speck_build_reports_the_parameter_count(
    keras: Any, runner: CliRunner, spec: str, params: int
) -> None:
    result = runner.invoke(app, ["build", str(SPECS_DIR / spec)])
    assert result.exit_code == 0, result.output
    assert result.stdout.rstrip().endswith(f": {params:,} parameters")


def test_speck_build_json(keras: Any, runner: CliRunner) -> None:
    result = runner.invoke(app, ["build", "--json", str(SPECS_DIR / "functional_mlp.yaml")])
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["params"] == info["trainable_params"] == 52_650
    assert info["name"] == "functional-mlp"
    assert [(layer["name"], layer["params"]) for layer in info["layers"]] == [
        ("pixels", 0),
        ("h1", 50_240),
        ("h2", 2_080),
        ("probs", 330),
    ]
    assert info["inputs"] == [[None, 784]] and info["outputs"] == [[None, 10]]


def test_speck_build_save_and_force(keras: Any, runner: CliRunner, tmp_path: Path) -> None:
    target = tmp_path / "model.keras"
    spec = str(SPECS_DIR / "autoencoder.yaml")
    first = runner.invoke(app, ["build", spec, "--save", str(target)])
    assert first.exit_code == 0, first.output
    assert f"saved {target}" in first.stdout
    loaded = keras.saving.load_model(target)
    assert loaded.count_params() == 11_011
    assert [p.name for p in tmp_path.iterdir()] == ["model.keras"]  # no temporary left over

    again = runner.invoke(app, ["build", spec, "--save", str(target)])
    assert again.exit_code == 1 and "--force" in again.stderr
    forced = runner.invoke(app, ["build", spec, "--save", str(target), "--force"])
    assert forced.exit_code == 0, forced.output


@pytest.mark.parametrize("name", ["digits_mlp", "multi_io"])
def test_build_piped_prints_the_whole_summary_table(runner: CliRunner, name: str) -> None:
    """CliRunner's output is not a terminal: rich used to cut the table at 80 columns."""
    result = runner.invoke(app, ["build", str(SPECS_DIR / f"{name}.yaml")])
    assert result.exit_code == 0, result.output
    table = [line for line in result.stdout.splitlines() if line and line[0] in "┏┃┡│├└"]
    assert table and "Param #" in table[1]
    assert all(line[-1] in "┓┃┩│┤┘" for line in table), table
    assert len({len(line) for line in table}) == 1  # every row as wide as the header

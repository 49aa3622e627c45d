"""Models that Keras users write every day, as specs: each is held to the same model written by
hand in Keras (configs compared as JSON that keeps tuples apart from lists), built by
`speck build`, by the emitted script, and imported back from a saved `.keras` file."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from same_model import config_json, load_script

from speck.diagnostics import SpecError
from speck.front.load import load_text
from speck.front.validate import validate
from speck.ir.resolve import resolve


def resolve_text(text: str, file: str = "spec.yaml") -> Any:
    return resolve(validate(load_text(text, file)))


def errors(text: str) -> list[str]:
    with pytest.raises(SpecError) as caught:
        resolve_text(text)
    return [d.format() for d in caught.value.diagnostics if d.severity == "error"]


@pytest.fixture(scope="module")
def keras() -> Any:
    from speck.backends.build import keras_module

    return keras_module()


def built(text: str) -> Any:
    from speck.backends.build import build_model, compile_model

    resolved = resolve_text(text)
    model = build_model(resolved.graph)
    compile_model(model, resolved.plan)
    return model


def emitted(text: str, folder: Path) -> Any:
    from speck.backends.emit.program import emit_script

    script = load_script(emit_script(resolve_text(text), script_dir=folder), folder)
    model = script.build_model()
    if resolve_text(text).plan.compiled:  # a script has compile_model only when the spec compiles
        script.compile_model(model)
    return model


def imported(model: Any, folder: Path) -> str:
    """The spec `speck import` makes of the model saved with its config only (no weights)."""
    from keras.src.saving.serialization_lib import serialize_keras_object

    from speck.importers.keras import import_model

    path = folder / "model.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", json.dumps(serialize_keras_object(model)))
    return import_model(path).text


# --- dict outputs ------------------------------------------------------------------------------

TICKETS = """\
speck: 1
name: ticket-classifier
model:
  inputs: {title: [null], body: [null], tags: [12]}
  layers:
    - {name: title_words, Embedding: {input_dim: 1000, output_dim: 64}, from: title}
    - {name: body_words, Embedding: {input_dim: 1000, output_dim: 64}, from: body}
    - {name: title_features, LSTM: {units: 128}, from: title_words}
    - {name: body_features, LSTM: {units: 32}, from: body_words}
    - {name: features, Concatenate: {}, from: [title_features, body_features, tags]}
    - {name: priority_score, Dense: {units: 1}, from: features}
    - {name: department_logits, Dense: {units: 4}, from: features}
  outputs: {priority: priority_score, department: department_logits}
compile:
  optimizer: {RMSprop: {learning_rate: 0.001}}
  loss:
    priority: {BinaryCrossentropy: {from_logits: true}}
    department: {CategoricalCrossentropy: {from_logits: true}}
  loss_weights: {priority: 1.0, department: 0.2}
"""


def tickets_by_hand(keras: Any) -> Any:
    """The multi-input, multi-output model of Keras' functional API guide, outputs as a dict."""
    from keras import layers

    keras.backend.clear_session()
    title = keras.Input(shape=(None,), name="title")
    body = keras.Input(shape=(None,), name="body")
    tags = keras.Input(shape=(12,), name="tags")
    title_words = layers.Embedding(1000, 64, name="title_words")(title)
    body_words = layers.Embedding(1000, 64, name="body_words")(body)
    title_features = layers.LSTM(128, name="title_features")(title_words)
    body_features = layers.LSTM(32, name="body_features")(body_words)
    features = layers.Concatenate(name="features")([title_features, body_features, tags])
    priority = layers.Dense(1, name="priority_score")(features)
    department = layers.Dense(4, name="department_logits")(features)
    model = keras.Model(
        inputs=[title, body, tags],
        outputs={"priority": priority, "department": department},
        name="ticket-classifier",
    )
    model.compile(
        optimizer=keras.optimizers.RMSprop(1e-3),
        loss={
            "priority": keras.losses.BinaryCrossentropy(from_logits=True),
            "department": keras.losses.CategoricalCrossentropy(from_logits=True),
        },
        loss_weights={"priority": 1.0, "department": 0.2},
    )
    return model


@pytest.mark.tf
def test_dict_outputs_build_emit_and_import_like_the_guide(keras: Any, tmp_path: Path) -> None:
    by_hand = tickets_by_hand(keras)
    keras.backend.clear_session()
    for model in (built(TICKETS), emitted(TICKETS, tmp_path)):
        assert config_json(model) == config_json(by_hand)
        assert model.count_params() == by_hand.count_params()
        assert json.dumps(model.get_compile_config()["loss"], sort_keys=True) == json.dumps(
            by_hand.get_compile_config()["loss"], sort_keys=True
        )
    text = imported(by_hand, tmp_path)
    assert "  outputs: {priority: priority_score, department: department_logits}" in text
    assert config_json(built(text)) == config_json(by_hand)


def test_a_wrong_output_name_is_the_one_error() -> None:
    typo = TICKETS.replace("    priority: {Binary", "    priorty: {Binary")
    assert errors(typo) == [
        "spec.yaml:17:5: compile.loss.priorty: 'priorty' is not an output of the model "
        "(did you mean 'priority'?)"
    ]
    wrong_node = TICKETS.replace("{priority: priority_score,", "{priority: priority_scor,")
    assert errors(wrong_node) == [
        "spec.yaml:13:23: model.outputs.priority: 'priority_scor' is not a node of this "
        "model (did you mean 'priority_score'?)"
    ]


# --- argument types from Keras' documentation ---------------------------------------------------

LEAKY = """\
speck: 1
name: leaky
model:
  input: [32, 32, 3]
  layers:
    - Normalization: {axis: [3]}
    - Conv2D: {filters: 8, kernel_size: 3, activation: {LeakyReLU: {negative_slope: 0.1}}}
    - LayerNormalization: {axis: [1, 2, 3]}
    - GlobalAveragePooling2D: {}
    - Dense: {units: 10, activation: {ReLU: {max_value: 6.0}}}
"""


def leaky_by_hand(keras: Any) -> Any:
    from keras import layers

    keras.backend.clear_session()
    return keras.Sequential(
        [
            keras.Input(shape=(32, 32, 3), name="inputs"),
            layers.Normalization(axis=[3]),
            layers.Conv2D(8, 3, activation=layers.LeakyReLU(negative_slope=0.1)),
            layers.LayerNormalization(axis=[1, 2, 3]),
            layers.GlobalAveragePooling2D(),
            layers.Dense(10, activation=layers.ReLU(max_value=6.0)),
        ],
        name="leaky",
    )


def test_documented_argument_types_validate() -> None:
    resolved = resolve_text(LEAKY)
    assert resolved.graph.layers[0].args == {"axis": [3]}
    assert resolve_text(LEAKY.replace("axis: [3]", "axis: null")).graph.layers[0].args == {
        "axis": None
    }
    assert errors(LEAKY.replace("LeakyReLU: {negative_slope", "LeakyReLU: {negative_slop")) == [
        "spec.yaml:7:69: model.layers[1].Conv2D.activation.LeakyReLU.negative_slop: LeakyReLU "
        "has no argument 'negative_slop' (did you mean 'negative_slope'?)"
    ]
    assert errors(LEAKY.replace("{LeakyReLU:", "{Dense:"))[0].startswith(
        "spec.yaml:7:56: model.layers[1].Conv2D.activation: an activation is a name like"
    )


@pytest.mark.tf
def test_layer_activations_and_axis_lists_build_like_keras(keras: Any, tmp_path: Path) -> None:
    by_hand = leaky_by_hand(keras)
    for make in (lambda: built(LEAKY), lambda: emitted(LEAKY, tmp_path)):
        keras.backend.clear_session()
        model = make()
        assert config_json(model) == config_json(by_hand)
        assert model.count_params() == by_hand.count_params()
    text = imported(by_hand, tmp_path)
    assert "    - Conv2D: {filters: 8, kernel_size: [3, 3], activation: {LeakyReLU: " in text
    assert "    - Normalization: {axis: [3]}" in text
    keras.backend.clear_session()
    assert config_json(built(text)) == config_json(by_hand)


# --- operation nodes ---------------------------------------------------------------------------

OPS = """\
speck: 1
name: gating
model:
  inputs: {a: [4], b: [4]}
  layers:
    - {name: d, Dense: {units: 4}, from: a}
    - {name: summed, ops.add: {}, from: [d, b]}
    - {name: gated, ops.multiply: {}, from: [summed, d]}
    - {name: pooled, ops.mean: {axis: 1, keepdims: true}, from: gated}
  outputs: [pooled]
"""


def ops_by_hand(keras: Any) -> Any:
    keras.backend.clear_session()
    a = keras.Input((4,), name="a")
    b = keras.Input((4,), name="b")
    d = keras.layers.Dense(4, name="d")(a)
    gated = (d + b) * d
    pooled = keras.ops.mean(gated, axis=1, keepdims=True)
    return keras.Model([a, b], pooled, name="gating")


def op_names_as_keras_gives_them(config: str) -> str:
    """Scripts call `keras.ops.add(...)`, whose nodes Keras names itself (`add`, `multiply`)."""
    for spec_name, keras_name in (("summed", "add"), ("gated", "multiply"), ("pooled", "mean")):
        config = config.replace(f'"{spec_name}"', f'"{keras_name}"')
    return config


@pytest.mark.tf
def test_operation_nodes_build_emit_and_import(keras: Any, tmp_path: Path) -> None:
    by_hand = ops_by_hand(keras)
    keras.backend.clear_session()
    model = built(OPS)
    assert op_names_as_keras_gives_them(config_json(model)) == config_json(by_hand)
    assert model.count_params() == by_hand.count_params() == 20
    keras.backend.clear_session()
    script_model = emitted(OPS, tmp_path)
    assert config_json(script_model) == config_json(by_hand)
    text = imported(by_hand, tmp_path)
    assert "    - {name: add, ops.add: {}, from: [d, b]}" in text
    assert "    - {name: mean, ops.mean: {axis: 1, keepdims: true}, from: multiply}" in text
    assert config_json(built(text)) == config_json(by_hand)


def test_operation_nodes_are_checked() -> None:
    assert errors(OPS.replace("ops.mean: {axis", "ops.mean: {axes")) == [
        "spec.yaml:9:33: model.layers[3].ops.mean.axes: mean has no argument 'axes' "
        "(did you mean 'axis'?)"
    ]
    assert errors(OPS.replace("ops.multiply:", "ops.multipy:"))[0].endswith(
        "unknown operation 'ops.multipy' (did you mean 'ops.multiply'?)"
    )
    sequential = "speck: 1\nname: s\nmodel:\n  input: [4]\n  layers:\n    - ops.relu: {}\n"
    assert errors(sequential) == [
        "spec.yaml:6:7: model.layers[0].ops.relu: ops.relu is an operation on tensors, not a "
        "layer a Sequential model can hold (write a functional model (inputs/outputs) and say "
        "what it reads in `from`)"
    ]


@pytest.mark.tf
def test_an_operation_on_a_constant_is_refused_where_it_is(keras: Any, tmp_path: Path) -> None:
    from speck.importers.keras import ImportProblem

    x = keras.Input((4,), name="x")
    model = keras.Model(x, keras.layers.Dense(2, name="d")(x) + 1.0, name="shifted")
    with pytest.raises(ImportProblem, match=r"config.layers\[2\].inbound_nodes\[0\]: .*constant"):
        imported(model, tmp_path)


# --- sub-models ------------------------------------------------------------------------------

PARTS = """\
speck: 1
name: autoencoder-with-parts
models:
  encoder:
    inputs: {image: [28, 28, 1]}
    layers:
      - {name: flat, Flatten: {}, from: image}
      - {name: code, Dense: {units: 16, activation: relu}, from: flat}
    outputs: [code]
  decoder:
    input: [16]
    input_name: code_in
    layers:
      - Dense: {units: 784, activation: sigmoid}
      - Reshape: {target_shape: [28, 28, 1]}
model:
  inputs: {image: [28, 28, 1]}
  layers:
    - encoder: {}
    - decoder: {}
  outputs: [decoder]
compile: {optimizer: adam, loss: mse}
"""


def parts_by_hand(keras: Any) -> Any:
    """An encoder (functional) and a decoder (Sequential) used as layers of an autoencoder."""
    from keras import layers

    keras.backend.clear_session()
    image = keras.Input(shape=(28, 28, 1), name="image")
    flat = layers.Flatten(name="flat")(image)
    code = layers.Dense(16, activation="relu", name="code")(flat)
    encoder = keras.Model(image, code, name="encoder")
    decoder = keras.Sequential(
        [
            keras.Input(shape=(16,), name="code_in"),
            layers.Dense(784, activation="sigmoid", name="dense"),
            layers.Reshape((28, 28, 1), name="reshape"),
        ],
        name="decoder",
    )
    pixels = keras.Input(shape=(28, 28, 1), name="image")
    model = keras.Model(pixels, decoder(encoder(pixels)), name="autoencoder-with-parts")
    model.compile(optimizer="adam", loss="mse")
    return model


def test_sub_models_validate_with_their_shapes() -> None:
    from speck.checks.training import check

    resolved = resolve_text(PARTS)
    assert set(resolved.graph.submodels) == {"encoder", "decoder"}
    assert [n.name for n in resolved.graph.layers] == ["encoder", "decoder"]
    shapes, _ = check(resolved)
    assert shapes["decoder"].outputs == ((28, 28, 1),)
    assert (shapes["encoder"].params, shapes["decoder"].params) == (12_560, 13_328)
    wrong = PARTS.replace("units: 784", "units: 780")
    _, found = check(resolve_text(wrong))
    assert [d.format() for d in found if d.severity == "error"] == [
        "spec.yaml:15:33: models.decoder.layers[1].Reshape.target_shape: `Reshape` cannot turn "
        "780 values into target_shape [28, 28, 1] (784 values): the total size must be "
        "unchanged. Received: target_shape=[28, 28, 1], input shape (None, 780) (pick "
        "dimensions that multiply to 780, or write -1 for one of them)"
    ]
    assert errors(PARTS.replace("    - encoder: {}", "    - encoder: {units: 3}")) == [
        "spec.yaml:19:7: model.layers[0].encoder: encoder is a model of this spec; it takes no "
        "arguments (write `{}`, and change the model itself under `models:`)"
    ]
    assert errors(PARTS.replace("  decoder:\n", "  Dense:\n").replace("decoder", "Dense"))[
        0
    ].startswith("spec.yaml:10:3: models.Dense: 'Dense' is a Keras layer")


@pytest.mark.tf
def test_sub_models_build_emit_and_import(keras: Any, tmp_path: Path) -> None:
    by_hand = parts_by_hand(keras)
    for make in (lambda: built(PARTS), lambda: emitted(PARTS, tmp_path)):
        keras.backend.clear_session()
        model = make()
        assert config_json(model) == config_json(by_hand)
        assert model.count_params() == by_hand.count_params() == 25_888
    text = imported(by_hand, tmp_path)
    assert "models:\n  encoder:\n    inputs: {image: [28, 28, 1]}\n" in text
    assert "    - {encoder: {}, from: image}\n    - {decoder: {}, from: encoder}\n" in text
    keras.backend.clear_session()
    assert config_json(built(text)) == config_json(by_hand)


@pytest.mark.tf
def test_a_sequential_block_in_a_sequential_model_round_trips(keras: Any, tmp_path: Path) -> None:
    """Keras' own input names (`input_layer`, `input_layer_1`) are kept, so the config built
    again is the saved one."""
    from keras import layers

    keras.backend.clear_session()
    block = keras.Sequential(
        [keras.Input((8,)), layers.Dense(8, activation="relu"), layers.Dropout(0.1)],
        name="block",
    )
    model = keras.Sequential([keras.Input((8,)), block, layers.Dense(2)], name="outer")
    text = imported(model, tmp_path)
    assert "models:\n  block:\n    input: [8]\n    input_name: input_layer\n" in text
    assert "    - block: {}\n    - {name: dense_1, Dense: {units: 2}}\n" in text
    keras.backend.clear_session()
    assert config_json(built(text)) == config_json(model)


@pytest.mark.tf
@pytest.mark.slow
def test_a_run_saves_each_sub_model_usable_on_its_own(keras: Any, tmp_path: Path) -> None:
    """`encoder.keras` and `decoder.keras` beside `model.keras`: each loads alone and computes
    what that part of the trained model computes."""
    import numpy as np

    from speck.backends.run.train import train_spec

    rng = np.random.default_rng(0)
    np.savez(tmp_path / "images.npz", x=rng.random((40, 28, 28, 1), dtype=np.float32))
    text = PARTS + "data: {source: {npz: images.npz}, task: reconstruct}\n"
    text += "fit: {epochs: 1, batch_size: 8, verbose: 0}\n"
    (tmp_path / "parts.yaml").write_text(text)
    from speck.pipeline import resolve_file

    out = tmp_path / "run"
    train_spec(resolve_file(tmp_path / "parts.yaml"), out)
    model = keras.saving.load_model(out / "model.keras")
    images = rng.random((5, 28, 28, 1), dtype=np.float32)
    for name in ("encoder", "decoder"):
        part = keras.saving.load_model(out / f"{name}.keras")
        inputs = (
            images if name == "encoder" else model.get_layer("encoder").predict(images, verbose=0)
        )
        expected = model.get_layer(name).predict(inputs, verbose=0)
        np.testing.assert_allclose(part.predict(inputs, verbose=0), expected, atol=1e-6)
    marker = (out / ".speck-run.json").read_text()
    assert "encoder.keras" in marker and "decoder.keras" in marker  # --force may remove them

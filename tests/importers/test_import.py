"""`speck import`: saved Keras models back into specs, held to the model they came from.

The round trip: every example spec is built, saved as `.keras`, imported, and the imported spec
is built again; both models must have the same config (compared as JSON) and parameter count.
Models that refuse to become specs (Lambda bytecode, custom classes) must fail cleanly.
"""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import SPECS  # the example specs that train (search specs are tune's)
from hypothesis import given, settings
from hypothesis import strategies as st
from same_model import config_json

from speck.front.write import flow
from speck.importers.keras import ImportProblem, _short_float, import_model

keras: Any = None  # Keras and its layers, imported by `_keras` for the tests marked `tf`
L: Any = None  # (not when the module is collected: the rendering tests need neither)


@pytest.fixture(autouse=True)
def _keras(request: pytest.FixtureRequest) -> None:
    global L, keras
    if keras is None and request.node.get_closest_marker("tf") is not None:
        keras = pytest.importorskip("keras")
        pytest.importorskip("tensorflow")
        L = keras.layers


def resolve_text(text: str, file: str = "imported.yaml") -> Any:
    from speck.front.load import load_text
    from speck.front.validate import validate
    from speck.ir.resolve import resolve

    return resolve(validate(load_text(text, file)))


def build_text(text: str) -> Any:
    from speck.backends.build import build_model, compile_model

    resolved = resolve_text(text)
    model = build_model(resolved.graph)
    compile_model(model, resolved.plan)
    return model


def compile_json(path: Path) -> str:
    """The saved compile config, with Keras' numbered optimizer name left out."""
    import zipfile

    with zipfile.ZipFile(path) as archive:
        compiled = json.loads(archive.read("config.json")).get("compile_config")
    if compiled and isinstance(compiled.get("optimizer"), dict):
        compiled["optimizer"]["config"].pop("name", None)
    return json.dumps(compiled, sort_keys=True)


def layer_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("    - ")]


# --- the round trip over every example spec -------------------------------------------------


@pytest.mark.tf
@pytest.mark.parametrize("spec", SPECS, ids=[p.stem for p in SPECS])
def test_example_spec_round_trips(spec: Path, tmp_path: Path) -> None:
    from speck.backends.build import build_model, compile_model
    from speck.pipeline import resolve_file

    resolved = resolve_file(spec)
    original = build_model(resolved.graph)
    compile_model(original, resolved.plan)
    saved = tmp_path / "original.keras"
    original.save(saved)

    imported = import_model(saved)
    rebuilt = build_text(imported.text)

    assert config_json(rebuilt) == config_json(original)
    assert rebuilt.count_params() == original.count_params()
    assert len(layer_lines(imported.text)) == len(resolved.graph.layers)
    if resolved.plan.compiled:
        assert "compile:" in imported.text
        again = tmp_path / "rebuilt.keras"
        rebuilt.save(again)
        assert compile_json(again) == compile_json(saved)
    else:
        assert "compile:" not in imported.text


# --- models written directly in Keras --------------------------------------------------------


def save(model: Any, path: Path) -> Path:
    model.save(path)
    return path


@pytest.mark.tf
def test_functional_model_with_shared_layers_and_multiple_outputs(tmp_path: Path) -> None:
    image = keras.Input(shape=(16,), name="image")
    tokens = keras.Input(shape=(6, 8), name="tokens")
    shared = L.Dense(16, activation="tanh", kernel_initializer="he_normal", name="shared")
    first = shared(image)
    second = shared(first)  # the same layer (and weights) at a deeper point
    seq = L.Reshape((2, 8), name="seq")(second)
    attended = L.MultiHeadAttention(num_heads=2, key_dim=4, name="attention")(tokens, tokens)
    states = L.LSTM(
        4,
        return_state=True,
        kernel_regularizer=keras.regularizers.L2(0.05),
        name="lstm",
    )(seq)
    pooled = L.GlobalAveragePooling1D(name="pooled")(attended)
    joined = L.Concatenate(name="joined")([states[1], pooled])
    out = L.Dense(3, activation="softmax", name="out")(joined)
    model = keras.Model([image, tokens], [out, states[2]], name="shared-multi")
    path = save(model, tmp_path / "model.keras")

    imported = import_model(path)
    text = imported.text
    assert "- {name: shared_1, shares: shared, from: shared}" in text
    assert "from: ['lstm[1]', pooled]" in text
    assert "outputs: [out, 'lstm[2]']" in text
    assert "from: [tokens, tokens]" in text
    assert "kernel_initializer: he_normal" in text
    assert "kernel_regularizer: {L2: {l2: 0.05}}" in text
    rebuilt = build_text(text)
    assert config_json(rebuilt) == config_json(model)
    assert rebuilt.count_params() == model.count_params()


@pytest.mark.tf
def test_sequential_drops_auto_names_and_keeps_chosen_ones(tmp_path: Path) -> None:
    model = keras.Sequential(
        [
            keras.Input(shape=(4,), name="inputs"),
            L.Dense(8, name="dense"),
            L.Dense(8, name="encoder"),
            L.Dense(2, name="dense_1"),
        ],
        name="names",
    )
    imported = import_model(save(model, tmp_path / "names.keras"))
    assert layer_lines(imported.text) == [
        "    - Dense: {units: 8}",
        "    - {name: encoder, Dense: {units: 8}}",
        "    - Dense: {units: 2}",
    ]
    assert config_json(build_text(imported.text)) == config_json(model)


@pytest.mark.tf
def test_output_style_one_line_per_layer_without_defaults(tmp_path: Path) -> None:
    model = keras.Sequential(
        [
            keras.Input(shape=(8, 8, 1), name="inputs"),
            L.Conv2D(4, 3, padding="valid", activation="relu", name="conv2d"),
            L.MaxPooling2D(2, name="max_pooling2d"),
            L.Flatten(name="flatten"),
            L.Dense(10, activation="softmax", name="dense"),
        ],
        name="style",
    )
    text = import_model(save(model, tmp_path / "style.keras")).text
    lines = text.splitlines()
    assert lines[0].startswith("# Imported from style.keras")
    assert lines[lines.index("speck: 1") + 1] == "name: style"
    assert layer_lines(text) == [
        "    - Conv2D: {filters: 4, kernel_size: [3, 3], activation: relu}",
        "    - MaxPooling2D: {}",
        "    - Flatten: {}",
        "    - Dense: {units: 10, activation: softmax}",
    ]
    for absent in ("padding: valid", "trainable", "dtype", "GlorotUniform", "use_bias", "strides"):
        assert absent not in text
    assert "compile:" not in text  # saved uncompiled


@pytest.mark.tf
def test_compile_section_keeps_only_non_default_arguments(tmp_path: Path) -> None:
    model = keras.Sequential(
        [keras.Input(shape=(3,), name="inputs"), L.Dense(1, name="dense")], name="compiled"
    )
    model.compile(
        optimizer=keras.optimizers.RMSprop(learning_rate=0.01, rho=0.8),
        loss=keras.losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.1),
        metrics=["mae"],
    )
    text = import_model(save(model, tmp_path / "compiled.keras")).text
    assert "  optimizer: {RMSprop: {learning_rate: 0.01, rho: 0.8}}" in text
    assert "  loss: {BinaryCrossentropy: {from_logits: true, label_smoothing: 0.1}}" in text
    assert "  metrics: [mae]" in text
    resolved = resolve_text(text)
    assert resolved.plan.optimizer.args == {"learning_rate": 0.01, "rho": 0.8}


@pytest.mark.tf
def test_name_option_and_invalid_model_names(tmp_path: Path) -> None:
    model = keras.Sequential(
        [keras.Input(shape=(2,), name="inputs"), L.Dense(1, name="dense")], name="my model!"
    )
    path = save(model, tmp_path / "odd.keras")
    assert "\nname: my-model\n" in import_model(path).text
    assert "\nname: renamed\n" in import_model(path, name="renamed").text
    with pytest.raises(ImportProblem, match="not a valid spec name"):
        import_model(path, name="no spaces allowed")


# --- models that cannot become specs --------------------------------------------------------


def lambda_model(path: Path, marker: Path) -> Path:
    def touch_and_double(x: Any) -> Any:
        marker.write_text("ran")
        return x * 2

    model = keras.Sequential(
        [keras.Input(shape=(3,), name="inputs"), L.Lambda(touch_and_double, name="double")],
        name="with-lambda",
    )
    model.save(path)
    marker.unlink()
    return path


@pytest.mark.tf
def test_lambda_is_refused_and_never_run(tmp_path: Path) -> None:
    marker = tmp_path / "ran.txt"
    path = lambda_model(tmp_path / "lambda.keras", marker)
    with pytest.raises(ImportProblem, match=r"config.layers\[1\]: a Lambda carries Python code"):
        import_model(path)
    assert not marker.exists()


@pytest.mark.tf
def test_custom_layer_is_named_in_the_error(tmp_path: Path) -> None:
    @keras.saving.register_keras_serializable(package="speck_tests")
    class Scale(L.Layer):
        def call(self, x: Any) -> Any:
            return x * 3

    model = keras.Sequential([keras.Input(shape=(3,), name="inputs"), Scale(name="scale")])
    path = save(model, tmp_path / "custom.keras")
    with pytest.raises(ImportProblem, match=r"config.layers\[1\]: .*Scale is not a Keras object"):
        import_model(path)


def test_not_a_keras_file(tmp_path: Path) -> None:
    bogus = tmp_path / "model.keras"
    bogus.write_text("not a zip")
    with pytest.raises(ImportProblem, match="not a Keras 3 model file"):
        import_model(bogus)
    with pytest.raises(ImportProblem, match="no such file"):
        import_model(tmp_path / "missing.keras")


# --- the command ------------------------------------------------------------------------------


@pytest.mark.tf
def test_cli_import(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from speck.cli import app

    model = keras.Sequential(
        [keras.Input(shape=(5,), name="inputs"), L.Dense(2, name="dense")], name="cli-model"
    )
    path = save(model, tmp_path / "cli.keras")
    runner = CliRunner()

    printed = runner.invoke(app, ["import", str(path)])
    assert printed.exit_code == 0, printed.output
    assert "    - Dense: {units: 2}" in printed.stdout
    dash = runner.invoke(app, ["import", str(path), "--out", "-"])  # as `speck emit --out -`
    assert dash.exit_code == 0 and dash.stdout == printed.stdout and not Path("-").exists()

    out = tmp_path / "cli.yaml"
    written = runner.invoke(app, ["import", str(path), "--out", str(out), "--name", "from-cli"])
    assert written.exit_code == 0, written.output
    assert "\nname: from-cli\n" in out.read_text()

    again = runner.invoke(app, ["import", str(path), "--out", str(out)])
    assert again.exit_code == 1
    assert "--force" in again.output
    forced = runner.invoke(app, ["import", str(path), "--out", str(out), "--force"])
    assert forced.exit_code == 0, forced.output

    refused = runner.invoke(
        app, ["import", str(lambda_model(tmp_path / "l.keras", tmp_path / "m.txt"))]
    )
    assert refused.exit_code == 2
    assert "Lambda" in refused.output
    assert "Traceback" not in refused.output
    assert not (tmp_path / "m.txt").exists()


# --- rendering properties (no Keras needed) ---------------------------------------------------


def containers_of(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    # A function, not a lambda over several lines: Hypothesis reads the source of `extend` to
    # check that it uses its argument, and cannot parse such a lambda's lines on their own.
    return st.lists(inner, max_size=4) | st.dictionaries(
        st.text(min_size=1, max_size=8), inner, max_size=4
    )


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False)
    | st.text(max_size=12),
    containers_of,
    max_leaves=12,
)


@given(json_values)
@settings(max_examples=200, deadline=None)
def test_flow_values_load_back_unchanged(value: Any) -> None:
    text = flow(value)
    assert "\n" not in text
    assert yaml.safe_load(text) == value


@given(st.floats(width=32, allow_nan=False, allow_infinity=False))
def test_short_float_is_the_same_float32(value: float) -> None:
    short = _short_float(value)
    assert struct.unpack("f", struct.pack("f", short))[0] == value
    assert len(repr(short)) <= len(repr(value))


def test_short_float_reads_back_learning_rates() -> None:
    assert _short_float(0.019999999552965164) == 0.02
    assert _short_float(0.0010000000474974513) == 0.001
    assert _short_float(0.1) == 0.1  # not a float32 value: left as it is
    assert math.isinf(_short_float(math.inf))

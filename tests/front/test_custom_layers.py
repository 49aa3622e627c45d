"""Custom layers come in only through the spec's `custom_layers:` import paths, and their code
runs only where the user opts in with `--allow-custom-layers`: validation never imports them,
build/train/emit refuse without the flag (exit 2, naming the spec line), and with it both back
ends make the same model of the imported class."""

from __future__ import annotations

import json
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from same_model import load_script, tagged
from typer.testing import CliRunner

from speck.backends.build import CustomLayersNotAllowed
from speck.backends.emit.program import emit_script
from speck.cli import app
from speck.front.format import IMPORT_PATH_PATTERN
from speck.front.json_schema import spec_schema
from speck.pipeline import analyze, resolve_file

MODULE = "speck_test_custom_pkg"
"""The package each test writes into its tmp_path; a name no other test uses."""

LAYER_MODULE = textwrap.dedent(
    """
    import keras


    class ScaledDense(keras.layers.Layer):
        def __init__(self, units, scale=1.0, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.scale = scale
            self.dense = keras.layers.Dense(units)

        def build(self, input_shape):
            self.dense.build(input_shape)

        def call(self, x):
            return self.dense(x) * self.scale

        def get_config(self):
            return {**super().get_config(), "units": self.units, "scale": self.scale}


    class NotALayer:
        pass
    """
)

SPEC = """\
speck: 1
name: custom-mlp
custom_layers:
  ScaledDense: {path}
model:
  input: [8]
  layers:
    - ScaledDense: {{units: 4, scale: 0.5}}
    - Dense: {{units: 2}}
compile: {{optimizer: adam, loss: mse}}
"""

PARAMS = (8 * 4 + 4) + (4 * 2 + 2)
"""ScaledDense's inner Dense (8 -> 4) and the Dense (4 -> 2)."""


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A package with a custom layer in tmp_path/lib, on sys.path, not yet imported."""
    lib = tmp_path / "lib"
    (lib / MODULE).mkdir(parents=True)
    (lib / MODULE / "__init__.py").write_text("", encoding="utf-8")
    (lib / MODULE / "layers.py").write_text(LAYER_MODULE, encoding="utf-8")
    for name in (MODULE, f"{MODULE}.layers"):
        sys.modules.pop(name, None)
    monkeypatch.syspath_prepend(str(lib))
    yield lib
    for name in (MODULE, f"{MODULE}.layers"):
        sys.modules.pop(name, None)


def write_spec(folder: Path, path: str = f"{MODULE}.layers:ScaledDense") -> Path:
    spec = folder / "custom.yaml"
    spec.write_text(SPEC.format(path=json.dumps(path)), encoding="utf-8")
    return spec


@pytest.fixture(scope="module")
def keras() -> ModuleType:
    return pytest.importorskip("keras")


def errors(spec: Path) -> list[str]:
    return [d.format() for d in analyze(spec).diagnostics if d.severity == "error"]


# --- validation: nothing is imported ---------------------------------------------------------


def test_validate_accepts_custom_layers_without_importing_them(
    package: Path, tmp_path: Path, runner: CliRunner
) -> None:
    spec = write_spec(tmp_path)
    result = runner.invoke(app, ["validate", str(spec)])
    assert result.exit_code == 0, result.output
    assert MODULE not in sys.modules and f"{MODULE}.layers" not in sys.modules
    notes = [d for d in analyze(spec).diagnostics if d.severity == "note"]
    assert any("shape not checked" in d.message for d in notes)
    assert resolve_file(spec).graph.custom_layers == {"ScaledDense": f"{MODULE}.layers:ScaledDense"}


@pytest.mark.parametrize(
    "path",
    [
        f"{MODULE}.layers.ScaledDense",  # no colon
        f"{MODULE}/layers:ScaledDense",  # a file path
        f"{MODULE}.layers:Scaled:Dense",  # two colons
        f"{MODULE}.layers:ScaledDense\n",  # a trailing newline
        "os.system('rm'):X",  # code
        "import.layers:X",  # a keyword
        ":ScaledDense",  # no module
        f"{MODULE}.layers:",  # no class
    ],
)
def test_an_import_path_is_module_colon_class(tmp_path: Path, path: str) -> None:
    spec = write_spec(tmp_path, path)
    (message,) = errors(spec)
    assert message.startswith(f"{spec}:4:16: custom_layers.ScaledDense: ")
    assert "is not an import path: write `module.path:ClassName`" in message


def test_an_import_path_error_exits_2_from_the_command(tmp_path: Path, runner: CliRunner) -> None:
    spec = write_spec(tmp_path, "mypackage.layers.ScaledDense")
    result = runner.invoke(app, ["validate", str(spec)])
    assert result.exit_code == 2
    assert f"{spec}:4:16: error: custom_layers.ScaledDense: " in result.stderr


def test_a_custom_layer_may_not_shadow_a_keras_layer(tmp_path: Path) -> None:
    spec = tmp_path / "shadow.yaml"
    spec.write_text(
        SPEC.format(path=f"{MODULE}.layers:ScaledDense").replace("ScaledDense:", "Dense:"),
        encoding="utf-8",
    )
    messages = errors(spec)
    assert f"{spec}:4:3: custom_layers.Dense: 'Dense' is a Keras layer" in messages[0]
    assert "rename it" in messages[0]


def test_custom_layer_arguments_are_plain_and_named_like_python(tmp_path: Path) -> None:
    spec = write_spec(tmp_path)
    text = spec.read_text(encoding="utf-8").replace(
        "{units: 4, scale: 0.5}", "{units: 4, bad-name: 1, name: x}"
    )
    spec.write_text(text, encoding="utf-8")
    messages = errors(spec)
    assert any(
        "ScaledDense.bad-name: ScaledDense arguments are Python names" in m for m in messages
    )
    assert any(
        "ScaledDense.name: the layer's name is the entry's `name:` key" in m for m in messages
    )


def test_a_declared_but_unused_custom_layer_is_a_warning(tmp_path: Path) -> None:
    spec = write_spec(tmp_path)
    spec.write_text(
        spec.read_text(encoding="utf-8").replace(
            "- ScaledDense: {units: 4, scale: 0.5}", "- Dense: {units: 4}"
        ),
        encoding="utf-8",
    )
    analysis = analyze(spec)
    assert analysis.ok
    assert any("declared but no layer uses it" in d.message for d in analysis.diagnostics)
    assert analysis.resolved is not None and analysis.resolved.graph.custom_layers == {}


def test_the_schema_describes_custom_layers() -> None:
    prop = spec_schema()["properties"]["custom_layers"]
    assert "--allow-custom-layers" in prop["description"]
    mapping = next(option for option in prop["anyOf"] if option.get("type") == "object")
    assert mapping["additionalProperties"]["pattern"] == IMPORT_PATH_PATTERN


# --- the opt-in --------------------------------------------------------------------------------


@pytest.mark.parametrize("command", [["build"], ["train"], ["emit", "-o", "-"]])
def test_commands_refuse_custom_layers_without_the_flag(
    package: Path, tmp_path: Path, runner: CliRunner, command: list[str]
) -> None:
    spec = write_spec(tmp_path)
    result = runner.invoke(app, [*command, str(spec)])
    assert result.exit_code == 2, result.output
    assert f"{spec}:3:1: error: custom_layers: this spec uses custom layers" in result.stderr
    assert "--allow-custom-layers" in result.stderr
    assert MODULE not in sys.modules
    assert "import ScaledDense" not in result.stdout


def test_library_back_ends_refuse_custom_layers_unless_allowed(
    package: Path, tmp_path: Path
) -> None:
    resolved = resolve_file(write_spec(tmp_path))
    with pytest.raises(CustomLayersNotAllowed, match="--allow-custom-layers"):
        emit_script(resolved)
    from speck.backends.run.train import train_spec

    with pytest.raises(CustomLayersNotAllowed):
        train_spec(resolved, tmp_path / "run")
    assert MODULE not in sys.modules and not (tmp_path / "run").exists()


@pytest.mark.tf
def test_build_with_the_flag_imports_and_builds(
    keras: ModuleType, package: Path, tmp_path: Path, runner: CliRunner
) -> None:
    spec = write_spec(tmp_path)
    saved = tmp_path / "model.keras"
    args = ["build", str(spec), "--allow-custom-layers", "--json", "--save", str(saved)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["params"] == PARAMS
    assert [layer["class"] for layer in info["layers"]] == ["ScaledDense", "Dense"]
    assert saved.is_file()
    custom_objects = {"ScaledDense": sys.modules[f"{MODULE}.layers"].ScaledDense}
    loaded = keras.saving.load_model(saved, custom_objects=custom_objects)
    assert loaded.count_params() == PARAMS


@pytest.mark.tf
def test_a_class_that_is_not_a_layer_is_refused(
    keras: ModuleType, package: Path, tmp_path: Path, runner: CliRunner
) -> None:
    spec = write_spec(tmp_path, f"{MODULE}.layers:NotALayer")
    result = runner.invoke(app, ["build", str(spec), "--allow-custom-layers"])
    assert result.exit_code == 2, result.output
    assert f"{spec}:4:3: error: custom_layers.ScaledDense: " in result.stderr
    assert "is not a Keras layer class (a subclass of keras.layers.Layer)" in result.stderr


@pytest.mark.tf
def test_a_module_that_cannot_be_imported_is_refused(
    keras: ModuleType, tmp_path: Path, runner: CliRunner
) -> None:
    spec = write_spec(tmp_path, "speck_test_no_such_module.layers:ScaledDense")
    result = runner.invoke(app, ["build", str(spec), "--allow-custom-layers"])
    assert result.exit_code == 2, result.output
    assert "cannot import 'speck_test_no_such_module.layers'" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.tf
def test_the_emitted_script_imports_the_class_and_builds_the_same_model(
    keras: ModuleType, package: Path, tmp_path: Path
) -> None:
    from speck.backends.build import build_model

    resolved = resolve_file(write_spec(tmp_path))
    text = emit_script(resolved, script_dir=tmp_path, allow_custom_layers=True)
    assert f"from {MODULE}.layers import ScaledDense\n" in text
    assert "ScaledDense(units=4, scale=0.5, name=" in text
    script = load_script(text, tmp_path)
    live, emitted = build_model(resolved.graph, allow_custom_layers=True), script.build_model()
    assert json.dumps(tagged(emitted.get_config())) == json.dumps(tagged(live.get_config()))
    assert emitted.count_params() == live.count_params() == PARAMS


@pytest.mark.tf
def test_emit_writes_the_script_with_the_flag(
    package: Path, tmp_path: Path, runner: CliRunner
) -> None:
    spec = write_spec(tmp_path)
    out = tmp_path / "custom.py"
    result = runner.invoke(app, ["emit", str(spec), "-o", str(out), "--allow-custom-layers"])
    assert result.exit_code == 0, result.output
    assert f"from {MODULE}.layers import ScaledDense" in out.read_text(encoding="utf-8")
    assert f"{MODULE}.layers" in sys.modules  # imported to check it is a Keras layer


@pytest.mark.tf
def test_emit_refuses_a_class_that_is_not_a_keras_layer(
    package: Path, tmp_path: Path, runner: CliRunner
) -> None:
    spec = write_spec(tmp_path, f"{MODULE}.layers:NotALayer")
    out = tmp_path / "custom.py"
    result = runner.invoke(app, ["emit", str(spec), "-o", str(out), "--allow-custom-layers"])
    assert result.exit_code == 2, result.output
    errors = [line for line in result.stderr.splitlines() if ": error: " in line]
    assert errors == [
        f"{spec}:4:3: error: custom_layers.ScaledDense: {MODULE}.layers:NotALayer is not a "
        "Keras layer class (a subclass of keras.layers.Layer). Received: "
        f"<class '{MODULE}.layers.NotALayer'>"
    ]
    assert not out.exists()


def test_a_custom_class_name_that_clashes_is_imported_under_another_name(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, f"{MODULE}.layers:Path")
    text = emit_script(resolve_file(spec), script_dir=tmp_path, allow_custom_layers=True)
    assert f"from {MODULE}.layers import Path as Path_\n" in text
    assert "Path_(units=4, scale=0.5, name=" in text

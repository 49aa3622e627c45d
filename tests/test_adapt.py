"""Tests of `adapt: true` on a preprocessing layer of the model: where `validate` allows it (and
says why not, at the `adapt` key, with the fix), the program's adapt step on the training split,
the static output shapes of the preprocessing layers against Keras' own, and no leakage: the
adapted statistics and vocabularies are those of the training rows alone, in `speck train` and
in the emitted script run on its own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from speck.backends.emit.program import emit_script
from speck.checks.shapes import infer_layer
from speck.cli import app
from speck.pipeline import resolve_file

ROOT = Path(__file__).resolve().parents[1]
WINE = ROOT / "specs" / "wine_adapted.yaml"


def wine(change: Any = None) -> dict[str, Any]:
    spec = yaml.safe_load(WINE.read_text())
    if change is not None:
        change(spec)
    return spec


def write(folder: Path, spec: dict[str, Any], name: str = "spec.yaml") -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def validate(path: Path) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["validate", "-q", str(path)])
    return result.exit_code, result.output


def line_of(path: Path, text: str, nth: int = 0) -> int:
    return [n for n, line in enumerate(path.read_text().splitlines(), 1) if text in line][nth]


TEXT_MODEL = {
    "inputs": {"review": {"shape": [], "dtype": "string"}},
    "layers": [
        {
            "name": "words",
            "TextVectorization": {"output_sequence_length": 6},
            "adapt": True,
            "from": "review",
        },
        {"Embedding": {"input_dim": 400, "output_dim": 4}},
        {"GlobalAveragePooling1D": {}},
        {"Dense": {"units": 1, "activation": "sigmoid"}},
    ],
    "outputs": ["dense"],
}


def text_spec(model: dict[str, Any] = TEXT_MODEL) -> dict[str, Any]:
    """A spec of reviews from an npz file of strings into `model` (the file need not exist to
    validate)."""
    spec = wine(lambda s: s.update(model=model))
    spec["data"] = {
        "source": {"npz": "t.npz"},
        "validation": {"split": 0.2},
        "test": {"split": 0.2},
    }
    spec["compile"] = {"optimizer": "adam", "loss": "binary_crossentropy", "metrics": ["accuracy"]}
    return spec


def layers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return spec["model"]["layers"]


# --- validate --------------------------------------------------------------------------------


def _dense(spec: dict[str, Any]) -> None:
    layers(spec)[1]["adapt"] = True


def _not_first(spec: dict[str, Any]) -> None:
    layers(spec).insert(0, {"Dense": {"units": 13}})


def _shared(spec: dict[str, Any]) -> None:
    layers(spec).insert(1, {"shares": "standardize", "adapt": True})


def _no_bins(spec: dict[str, Any]) -> None:
    layers(spec)[0] = {"Discretization": {}, "adapt": True}


def _given(spec: dict[str, Any]) -> None:
    layers(spec)[0] = {"Normalization": {"mean": 0.0, "variance": 1.0}, "adapt": True}


def _sub_model(spec: dict[str, Any]) -> None:
    spec["models"] = {"block": {"input": [13], "layers": [{"Normalization": {}, "adapt": True}]}}
    layers(spec)[0] = {"block": {}}


def _typed_columns(spec: dict[str, Any]) -> None:
    csv = str(ROOT / "specs" / "data" / "churn.csv")
    spec["data"] = {
        "source": {"csv": csv, "label": "churned", "columns": {"support_calls": "float"}}
    }
    del spec["model"]["input"]


def _tuned(spec: dict[str, Any]) -> None:
    spec["tune"] = {"max_trials": 2}


@pytest.mark.parametrize(
    ("change", "message", "fix"),  # the error is at the spec's last `adapt: true`
    [
        (_dense, "Dense learns nothing from data; `adapt` is for Normalization", "remove `adapt`"),
        (_not_first, "reads a model input directly; this one reads dense", "make it the first"),
        (_shared, "entry reuses the layer of 'standardize'", "remove `adapt` here"),
        (_no_bins, "it has no num_bins", "give num_bins: N"),
        (_given, "is given its mean and variance in the spec", "remove `adapt`, or its mean"),
        (_sub_model, "only the layers of `model:` are adapted", "move the layer into `model:`"),
        (_typed_columns, "the table's encoded columns", "declare the column's kind"),
        (_tuned, "`speck tune` does not adapt layers yet", "tune a copy of the spec"),
    ],
    ids=lambda v: getattr(v, "__name__", "")[1:] or None,
)
def test_wrong_adapt_is_an_error_at_its_key(
    tmp_path: Path, change: Any, message: str, fix: str
) -> None:
    path = write(tmp_path, wine(change))
    code, out = validate(path)
    assert code == 2, out
    at = line_of(path, "adapt: true", -1)
    error = next(line for line in out.splitlines() if message in line)
    assert error.startswith(f"{path}:{at}:") and f"({fix}" in error
    assert "Traceback" not in out and "internal error" not in out


def test_adapt_takes_only_true_or_false(tmp_path: Path) -> None:
    path = write(tmp_path, wine(lambda s: layers(s)[0].update(adapt="yes")))
    code, out = validate(path)
    assert code == 2 and f"{path}:{line_of(path, 'adapt: ')}:" in out and "boolean" in out


def test_the_example_is_valid_and_adapt_round_trips() -> None:
    from speck.front.format.model import LayerSpec

    assert validate(WINE)[0] == 0
    entry = {"name": "standardize", "Normalization": {}, "adapt": True}
    assert LayerSpec.model_validate(entry).model_dump() == entry
    assert "adapt" not in LayerSpec.model_validate({"Dense": {"units": 1}}).model_dump()


def test_a_layer_nothing_adapts_is_told_to_adapt_where_it_could(tmp_path: Path) -> None:
    plain = write(tmp_path, wine(lambda s: layers(s)[0].pop("adapt")), "plain.yaml")
    code, out = validate(plain)
    assert code == 2 and "nothing adapts it" in out and "write `adapt: true` beside it" in out
    later = wine(lambda s: (layers(s)[0].pop("adapt"), _not_first(s)))
    code, out = validate(write(tmp_path, later, "later.yaml"))
    assert code == 2 and "nothing adapts it" in out and "adapt: true" not in out


def test_adapt_without_data_is_a_warning(tmp_path: Path) -> None:
    code, out = validate(write(tmp_path, wine(lambda s: s.pop("data"))))
    assert code == 0 and "warning: model.layers[0].adapt: the spec has no `data:`" in out


# --- static shapes ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "args", "shape", "expected"),
    [
        ("TextVectorization", {"output_sequence_length": 12}, (), (12,)),
        ("TextVectorization", {}, (), (None,)),  # the longest text decides
        ("TextVectorization", {"output_mode": "multi_hot"}, (), (None,)),  # the vocabulary's
        (
            "TextVectorization",
            {"output_mode": "tf_idf", "max_tokens": 50, "pad_to_max_tokens": True},
            (),
            (50,),
        ),
        ("StringLookup", {}, (3,), (3,)),
        ("StringLookup", {"output_mode": "one_hot", "vocabulary": ["a", "b"]}, (1,), (3,)),
        ("IntegerLookup", {"output_mode": "multi_hot", "vocabulary": [4, 5]}, (2,), (3,)),
        ("Discretization", {"num_bins": 4, "output_mode": "one_hot"}, (3,), (3, 4)),
        ("Discretization", {"bin_boundaries": [0.0, 1.0]}, (3,), (3,)),
    ],
)
def test_preprocessing_output_shapes(
    kind: str, args: dict[str, Any], shape: tuple[int, ...], expected: tuple[int | None, ...]
) -> None:
    result = infer_layer(kind, args, [shape])
    assert result is not None and result.outputs == (expected,) and result.params == 0


def test_a_vocabulary_file_is_not_guessed() -> None:
    assert (
        infer_layer("StringLookup", {"vocabulary": "v.txt", "output_mode": "one_hot"}, [(1,)])
        is None
    )


def test_shapes_show_the_adapted_layers_output(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["validate", "--shapes", str(write(tmp_path, text_spec()))])
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if "TextVectorization" in line)
    assert "(None, 6)" in row


def test_a_width_adapt_decides_needs_pad_to_max_tokens(tmp_path: Path) -> None:
    model = json.loads(json.dumps(TEXT_MODEL))
    model["layers"][0]["TextVectorization"] = {"output_mode": "multi_hot", "max_tokens": 50}
    del model["layers"][1:3]
    path = write(tmp_path, text_spec(model))
    code, out = validate(path)
    assert code == 2, out
    error = next(line for line in out.splitlines() if "vocabulary adapt learns" in line)
    assert error.startswith(f"{path}:{line_of(path, 'TextVectorization:')}:")
    assert "pad_to_max_tokens: true" in error
    model["layers"][0]["TextVectorization"]["pad_to_max_tokens"] = True
    assert validate(write(tmp_path, text_spec(model)))[0] == 0


def test_ids_of_unknown_length_are_not_a_width_problem(tmp_path: Path) -> None:
    model = {
        "inputs": {"tags": {"shape": [None], "dtype": "string"}},
        "layers": [
            {"name": "ids", "StringLookup": {}, "adapt": True, "from": "tags"},
            {"Embedding": {"input_dim": 50, "output_dim": 4}},
            {"GlobalAveragePooling1D": {}},
            {"Dense": {"units": 1, "activation": "sigmoid"}},
        ],
        "outputs": ["dense"],
    }
    code, out = validate(write(tmp_path, text_spec(model)))
    assert code == 0, out


# --- the program -----------------------------------------------------------------------------


def test_the_program_adapts_on_the_training_inputs_before_fit(tmp_path: Path) -> None:
    text = emit_script(resolve_file(WINE), script_dir=tmp_path)
    step = '    model.get_layer("standardize").adapt(x)  # on the training split\n'
    assert text.count(".adapt(") == 1 and step in text
    assert text.index("compile_model(model)\n") < text.index(step) < text.index("model.fit(")
    spec = text_spec()
    spec["data"]["source"]["x"] = {"review": "x"}
    text = emit_script(resolve_file(write(tmp_path, spec, "named.yaml")), script_dir=tmp_path)
    assert 'model.get_layer("words").adapt(x["review"])' in text


@pytest.mark.tf
@pytest.mark.slow
def test_static_shapes_equal_keras_for_preprocessing_layers() -> None:
    """Every case the rule models gives the shape Keras' symbolic call gives (batch added)."""
    import keras

    cases: list[tuple[str, dict[str, Any], tuple[int, ...], str]] = []
    for kind, dtype, vocabulary in (
        ("StringLookup", "string", ["a", "b", "c"]),
        ("IntegerLookup", "int64", [1, 2, 3]),
    ):
        for mode in ("int", "one_hot", "multi_hot", "count"):
            for extra in (
                {},
                {"vocabulary": vocabulary},
                {"max_tokens": 9, "pad_to_max_tokens": True},
                {"vocabulary": vocabulary, "num_oov_indices": 2},
            ):
                for shape in ((), (1,), (3,), (2, 1), (2, 3)):
                    cases.append((kind, {"output_mode": mode, **extra}, shape, dtype))
    for mode in ("int", "multi_hot", "count"):
        for extra in (
            {},
            {"vocabulary": ["a", "b", "c"]},
            {"max_tokens": 9, "pad_to_max_tokens": True},
            {"split": None, "vocabulary": ["a", "b"]},
        ):
            for shape in ((), (1,), (2,)):
                cases.append(("TextVectorization", {"output_mode": mode, **extra}, shape, "string"))
    for mode in ("int", "one_hot", "multi_hot", "count"):
        for extra in ({"num_bins": 4}, {"bin_boundaries": [0.0, 1.0]}):
            for shape in ((), (1,), (3,), (2, 1), (2, 3)):
                cases.append(("Discretization", {"output_mode": mode, **extra}, shape, "float32"))
    checked = 0
    for kind, args, shape, dtype in cases:
        ours = infer_layer(kind, args, [shape])
        if ours is None:
            continue
        layer = getattr(keras.layers, kind)(**args)
        theirs = tuple(layer(keras.Input(shape=shape, dtype=dtype)).shape)
        assert (None, *ours.outputs[0]) == theirs, (kind, args, shape)
        checked += 1
    assert checked > 200


# --- no leakage ------------------------------------------------------------------------------


@pytest.mark.tf
@pytest.mark.slow
def test_normalization_learns_the_training_rows_alone(tmp_path: Path) -> None:
    import keras
    from same_model import load_script

    from speck.backends.run.train import train_spec
    from speck.front.overrides import parse_override

    resolved = resolve_file(WINE, [parse_override("fit.epochs=1")])
    train_spec(resolved, tmp_path / "run")
    script = load_script(emit_script(resolved, script_dir=tmp_path), tmp_path)
    (x, _), (x_val, _), (x_test, _), *_ = script.load_data()
    layer = keras.models.load_model(tmp_path / "run" / "model.keras").get_layer("standardize")
    mean, variance = (np.ravel(v) for v in (layer.mean, layer.variance))
    assert np.allclose(mean, x.mean(0), rtol=1e-5)
    assert np.allclose(variance, x.var(0), rtol=1e-4)
    every_row = np.concatenate([x, x_val, x_test])
    assert not np.allclose(mean, every_row.mean(0), rtol=1e-3)


@pytest.mark.tf
@pytest.mark.slow
def test_text_vocabulary_comes_from_the_training_rows_in_train_and_in_the_script(
    tmp_path: Path,
) -> None:
    """Each review has a word of its own: the vocabulary holds exactly the training reviews'
    words, in `speck train`'s model and in the one the emitted script trains on its own."""
    import keras
    from same_model import load_script

    from speck.backends.run.train import train_spec

    rng = np.random.default_rng(0)
    words = ["good", "bad", "fine", "poor", "great", "awful"]
    texts = np.array([f"{rng.choice(words)} {rng.choice(words)} own{i}" for i in range(120)])
    np.savez(tmp_path / "t.npz", x=texts, y=(rng.random(120) > 0.5).astype(np.int64))
    spec = wine(lambda s: s.update(model=TEXT_MODEL))
    spec["data"] = {
        "source": {"npz": "t.npz"},
        "validation": {"split": 0.2},
        "test": {"split": 0.2},
    }
    spec["compile"] = {"optimizer": "adam", "loss": "binary_crossentropy", "metrics": ["accuracy"]}
    spec["fit"] = {"epochs": 1, "batch_size": 16}
    resolved = resolve_file(write(tmp_path, spec))
    live = train_spec(resolved, tmp_path / "train-run").metrics
    script_path = tmp_path / "text.py"
    script_path.write_text(emit_script(resolved, script_dir=tmp_path))
    result = subprocess.run(
        [sys.executable, str(script_path), "--out", str(tmp_path / "script-run")],
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    emitted = json.loads((tmp_path / "script-run" / "metrics.json").read_text())
    for split, values in live["final"].items():
        assert emitted["final"][split] == pytest.approx(values, abs=1e-5)

    (x, _), (x_val, _), (x_test, _), *_ = load_script(script_path.read_text(), tmp_path).load_data()
    training_words = {w for text in x for w in text.split()}
    held_out = {w for text in (*x_val, *x_test) for w in text.split()} - training_words
    assert len(held_out) >= 40  # every held-out review's own word
    for run in ("train-run", "script-run"):
        model = keras.models.load_model(tmp_path / run / "model.keras")
        vocabulary = model.get_layer("words").get_vocabulary()
        assert set(vocabulary) - {"", "[UNK]"} == training_words, run


def test_a_long_adapted_layer_name_is_laid_out(tmp_path: Path) -> None:
    """A layer name too long for one line splits as a string does elsewhere in the program,
    rather than stopping `speck emit` (a mutant the fuzz test found)."""
    name = "n" * 300
    spec = tmp_path / "long.yaml"
    spec.write_text(WINE.read_text().replace("name: standardize", f"name: {name}"))
    text = emit_script(resolve_file(spec), str(spec), tmp_path)
    assert max(len(line) for line in text.splitlines()) <= 100
    assert "    layer.adapt(x)  # on the training split\n" in text
    program: dict[str, Any] = {}
    exec(compile(text, "long.py", "exec"), program)  # it is Python, and defines run()
    assert callable(program["run"])

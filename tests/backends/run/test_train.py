"""Tests of `speck train`: `--set` overrides, run-folder rules, callbacks made from the plan,
and real (tiny) training runs that check the run folder, metrics.json and the callbacks' files.

TensorFlow is imported once, by the first test that trains; one test runs the `speck train`
command in a subprocess end to end.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from speck.backends.run.folder import RunFolderError, backup_dir_for
from speck.backends.run.train import default_run_dir
from speck.cli import app
from speck.diagnostics import SpecError
from speck.front.overrides import (
    Override,
    OverrideError,
    apply_overrides,
    format_diagnostic,
    parse_override,
    parse_path,
)
from speck.pipeline import resolve_file

ROOT = Path(__file__).resolve().parents[3]


def write_spec(folder: Path, spec: dict[str, Any], name: str = "spec.yaml") -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def classifier_spec(**changes: Any) -> dict[str, Any]:
    """A 3-class MLP on 60 random rows of 4 features from a .npz next to the spec."""
    spec: dict[str, Any] = {
        "speck": 1,
        "name": "tiny-classifier",
        "seed": 3,
        "data": {
            "source": {"npz": "tiny.npz"},
            "validation": {"split": 0.2},
            "test": {"split": 0.2},
        },
        "model": {
            "input": [4],
            "layers": [
                {"Dense": {"units": 8, "activation": "relu"}},
                {"Dense": {"units": 3, "activation": "softmax"}},
            ],
        },
        "compile": {
            "optimizer": {
                "Adam": {
                    "learning_rate": {
                        "ExponentialDecay": {
                            "initial_learning_rate": 0.01,
                            "decay_steps": 10,
                            "decay_rate": 0.9,
                        }
                    }
                }
            },
            "loss": "sparse_categorical_crossentropy",
            "metrics": ["accuracy"],
        },
        "fit": {"epochs": 2, "batch_size": 16},
    }
    spec.update(changes)
    return spec


@pytest.fixture
def tiny_data(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 1).astype(np.int64)
    np.savez(tmp_path / "tiny.npz", x=x, y=y)
    images = rng.random((40, 8, 8, 1)).astype(np.float32)
    np.savez(tmp_path / "images.npz", x=images)
    return tmp_path


# --- --set overrides (no TensorFlow) ---------------------------------------------------------


def test_parse_path_reads_dots_and_indices() -> None:
    assert parse_path("fit.epochs") == ("fit", "epochs")
    assert parse_path("callbacks[0].EarlyStopping.patience") == (
        "callbacks",
        0,
        "EarlyStopping",
        "patience",
    )
    assert parse_path("model.layers.2.Dense.units") == ("model", "layers", 2, "Dense", "units")
    for bad in ("", "fit..epochs", "fit.epochs]", "a[x]"):
        with pytest.raises(ValueError):
            parse_path(bad)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("3", 3),
        ("0.5", 0.5),
        ("true", True),
        ("adam", "adam"),
        ("'3'", "3"),
        ("[32, 32, 3]", [32, 32, 3]),
        ("{Adam: {learning_rate: 0.01}}", {"Adam": {"learning_rate": 0.01}}),
        ("", None),
        ("1/255", "1/255"),
    ],
)
def test_override_values_are_yaml(text: str, value: Any) -> None:
    override = parse_override(f"a.b={text}")
    assert override.path == ("a", "b")
    assert override.value == value
    assert type(override.value) is type(value)


def test_override_values_refuse_tags() -> None:
    with pytest.raises(OverrideError, match=r"--set a=!!python/object:os.system x"):
        parse_override("a=!!python/object:os.system x")


def test_override_needs_equals_sign() -> None:
    with pytest.raises(OverrideError, match=r"^--set fit\.epochs: write key\.path=value"):
        parse_override("fit.epochs")


@given(st.integers(min_value=-(10**6), max_value=10**6))
def test_integer_overrides_round_trip(n: int) -> None:
    data: dict[str, Any] = {"fit": {"epochs": 1}}
    apply_overrides(data, [parse_override(f"fit.epochs={n}")])
    assert data == {"fit": {"epochs": n}}


def test_apply_overrides_creates_sections_and_indexes_lists() -> None:
    data: dict[str, Any] = {"callbacks": [{"EarlyStopping": {"patience": 2}}]}
    apply_overrides(
        data,
        [
            parse_override("fit.batch_size=8"),
            parse_override("callbacks[0].EarlyStopping.patience=5"),
            parse_override("fit.batch_size=16"),
        ],
    )
    assert data == {
        "callbacks": [{"EarlyStopping": {"patience": 5}}],
        "fit": {"batch_size": 16},
    }


@pytest.mark.parametrize(
    ("flag", "message"),
    [
        ("callbacks[3].x=1", "index out of range"),
        ("callbacks.x=1", "is a list"),
        ("name.x=1", "is a str"),
        ("fit[0]=1", "is a mapping, not a list"),
    ],
)
def test_apply_override_errors_name_the_flag(flag: str, message: str) -> None:
    data = {"name": "m", "callbacks": [{"EarlyStopping": {}}], "fit": {}}
    with pytest.raises(OverrideError) as info:
        apply_overrides(data, [parse_override(flag)])
    assert str(info.value).startswith(f"--set {flag}: ")
    assert message in str(info.value)


def test_overrides_are_typed_and_validated_like_the_file(tiny_data: Path) -> None:
    path = write_spec(tiny_data, classifier_spec())
    resolved = resolve_file(
        path, [parse_override("fit.epochs=7"), parse_override("fit.shuffle=false")]
    )
    assert resolved.plan.epochs == 7
    assert resolved.plan.shuffle is False
    assert resolved.spec.dump()["fit"]["epochs"] == 7

    overrides = [parse_override("fit.epochs=x")]
    with pytest.raises(SpecError) as info:
        resolve_file(path, overrides)
    lines = [format_diagnostic(d, overrides) for d in info.value.diagnostics]
    assert any(line.startswith("--set fit.epochs=x: fit.epochs: ") for line in lines), lines


def test_unknown_key_from_override_is_reported_under_the_flag(tiny_data: Path) -> None:
    path = write_spec(tiny_data, classifier_spec())
    overrides = [parse_override("fit.epoch=3")]
    with pytest.raises(SpecError) as info:
        resolve_file(path, overrides)
    lines = [format_diagnostic(d, overrides) for d in info.value.diagnostics]
    assert any(line.startswith("--set fit.epoch=3: ") and "epochs" in line for line in lines)


def test_format_diagnostic_leaves_other_problems_with_their_position() -> None:
    from speck.diagnostics import Diagnostic, Location

    d = Diagnostic("bad", ("model", "layers", 0), Location("s.yaml", 3, 5))
    assert format_diagnostic(d, [Override(("fit", "epochs"), 1, "fit.epochs=1")]) == (
        "s.yaml:3:5: error: model.layers[0]: bad"
    )


def test_cli_reports_bad_set_with_exit_2(tiny_data: Path) -> None:
    path = write_spec(tiny_data, classifier_spec())
    runner = CliRunner()
    result = runner.invoke(app, ["train", str(path), "--set", "fit.epochs=x"])
    assert result.exit_code == 2
    assert "--set fit.epochs=x: fit.epochs: " in result.output
    assert "Traceback" not in result.output
    result = runner.invoke(app, ["train", str(path), "--set", "fit.epochs"])
    assert result.exit_code == 2
    assert "--set fit.epochs: write key.path=value" in result.output
    result = runner.invoke(app, ["train", str(path), "--epochs", "0"])
    assert result.exit_code == 2
    assert "--set fit.epochs=0: fit.epochs: " in result.output


# --- run folders and callbacks (no TensorFlow) -----------------------------------------------


def test_default_run_dir_is_named_after_the_spec() -> None:
    assert default_run_dir("digits-mlp") == Path("runs/digits-mlp")


def program_callbacks(folder: Path, spec: dict[str, Any], out: Path, steps: int) -> list[Any]:
    """The callbacks the spec's program makes (its own, then the run folder's)."""
    from speck.backends.run.train import load_program

    resolved = resolve_file(write_spec(folder, spec), [])
    return load_program(resolved).make_callbacks(out, steps, False)


@pytest.mark.tf
def test_callback_paths_go_under_the_run_folder(tmp_path: Path) -> None:
    callbacks = [
        {"TensorBoard": {"log_dir": "logs/run"}},
        {"CSVLogger": {"filename": "logs/train.csv"}},
        {"BackupAndRestore": {"backup_dir": "state"}},
    ]
    out = tmp_path / "run"
    board, log, *_, backup = program_callbacks(  # BackupAndRestore last, after the epoch log
        tmp_path, classifier_spec(callbacks=callbacks), out, 10
    )
    assert board.log_dir == str(out / "logs/run")
    assert log.filename == str(out / "logs/train.csv")
    assert (out / "logs").is_dir()  # CSVLogger opens its file without making the folder
    assert backup.backup_dir == str(out / "state")


@pytest.mark.tf
def test_every_epochs_becomes_save_freq(tmp_path: Path) -> None:
    callbacks = [{"ModelCheckpoint": {"filepath": "c/{epoch}.keras", "every_epochs": 3}}]
    out = tmp_path / "run"
    (checkpoint, *_) = program_callbacks(tmp_path, classifier_spec(callbacks=callbacks), out, 7)
    assert checkpoint.filepath == str(out / "c/{epoch}.keras")
    assert checkpoint.save_freq == 21


@pytest.mark.tf
def test_tutorial_callbacks_translate_for_keras_3(tmp_path: Path) -> None:
    """The tutorial's ModelCheckpoint(period=2) to a path without `.keras`, and its TensorBoard:
    legacy spellings are translated, then placed in the run folder."""
    spec = classifier_spec(
        callbacks=[
            {"TensorBoard": {"log_dir": "./logs/autoencoder", "write_images": True}},
            {"ModelCheckpoint": {"filepath": "./model/autoencoder_model", "period": 2}},
            {"BackupAndRestore": {"backup_dir": "state"}},
        ]
    )
    out = tmp_path / "run"
    board, checkpoint, *_ = program_callbacks(tmp_path, spec, out, 5)
    assert Path(board.log_dir) == out / "logs/autoencoder"
    assert board.write_images is True
    assert Path(checkpoint.filepath) == out / "model/autoencoder_model.keras"
    assert checkpoint.save_freq == 10
    resolved = resolve_file(tmp_path / "spec.yaml", [])
    assert backup_dir_for(resolved.plan, out) == out / "state"
    assert backup_dir_for(classifier_spec_plan(tmp_path), out) == out / "backup"


def classifier_spec_plan(folder: Path) -> Any:
    return resolve_file(write_spec(folder, classifier_spec(), "plain.yaml"), []).plan


def test_cli_refuses_to_overwrite_before_importing_tensorflow(tiny_data: Path) -> None:
    path = write_spec(tiny_data, classifier_spec())
    out = tiny_data / "run"
    out.mkdir()
    (out / "model.keras").write_text("old")
    result = CliRunner().invoke(app, ["train", str(path), "--out", str(out)])
    assert result.exit_code == 1
    assert "--force" in result.output
    assert (out / "model.keras").read_text() == "old"


# --- training (TensorFlow, tiny) -------------------------------------------------------------


def read_history(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def train_file(spec_path: Path, out: Path, **kwargs: Any) -> Any:
    from speck.backends.run.train import train_spec
    from speck.pipeline import resolve_file

    return train_spec(resolve_file(spec_path), out, **kwargs)


@pytest.mark.tf
def test_classifier_run_folder(tiny_data: Path) -> None:
    spec = classifier_spec(
        callbacks=[
            {"ModelCheckpoint": {"filepath": "ckpt/e{epoch}.keras", "every_epochs": 2}},
            {"CSVLogger": {"filename": "logs/own_log.csv"}},  # its folder is made
            {"EarlyStopping": {"monitor": "val_loss", "patience": 10}},
            {"ReduceLROnPlateau": {"monitor": "val_loss", "patience": 1, "factor": 0.5}},
            "TerminateOnNaN",
            {"TensorBoard": {"log_dir": "tb"}},
        ],
        fit={"epochs": 4, "batch_size": 16},
        # ReduceLROnPlateau needs a learning rate it may set, not a schedule's.
        compile={
            "optimizer": {"Adam": {"learning_rate": 0.01}},
            "loss": "sparse_categorical_crossentropy",
            "metrics": ["accuracy"],
        },
    )
    path = write_spec(tiny_data, spec)
    out = tiny_data / "run"
    result = train_file(path, out)

    names = {p.name for p in out.iterdir()}
    assert {
        "spec.yaml",
        "model.keras",
        "history.csv",
        "metrics.json",
        "confusion_matrix.png",
        "ckpt",
        "logs",
        "tb",
    } <= names
    assert "backup" not in names  # removed once training finished
    assert "reconstructions.png" not in names and "history.png" not in names
    assert not [name for name in names if ".partial-" in name]
    # every_epochs: 2 over 4 epochs: checkpoints after epochs 2 and 4 only
    assert sorted(p.name for p in (out / "ckpt").iterdir()) == ["e2.keras", "e4.keras"]
    assert any((out / "tb" / "train").iterdir())

    rows = read_history(out / "history.csv")
    assert [r["epoch"] for r in rows] == ["1", "2", "3", "4"]  # as the progress log counts
    assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(rows[0])
    assert len(read_history(out / "logs" / "own_log.csv")) == 4

    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics == result.metrics
    assert metrics["name"] == "tiny-classifier"
    assert metrics["epochs"] == 4
    # final weights: validation from fit's last epoch, test evaluated; train as fit logged it
    assert set(metrics["final"]) == {"validation", "test"}
    assert metrics["validated_on"] == "validation"
    for split in metrics["final"].values():
        assert set(split) == {"loss", "accuracy"}
        assert 0 <= split["accuracy"] <= 1
    last = rows[-1]
    assert metrics["final"]["validation"]["loss"] == pytest.approx(float(last["val_loss"]))
    assert metrics["train_last_epoch"]["loss"] == pytest.approx(float(last["loss"]))
    # 20% of 60 rows held out for test, then 20% of the other 48 for validation
    assert metrics["samples"] == {"train": 38, "validation": 10, "test": 12}
    assert metrics["wall_time_s"] > 0
    assert metrics["samples_per_second"] > 0
    assert set(metrics["versions"]) == {"tensorflow", "keras", "numpy"}
    assert metrics["plots"] == {"confusion_matrix": "confusion_matrix.png"}
    assert metrics["files"]["tensorboard"] == "tb"
    matrix = np.array(metrics["confusion_matrix"])
    assert matrix.shape == (3, 3)
    assert matrix.sum() == 12  # the test split

    saved = yaml.safe_load((out / "spec.yaml").read_text())
    assert saved["fit"] == {
        "epochs": 4,
        "batch_size": 16,
        "shuffle": True,
        "validation_freq": 1,
        "verbose": "auto",
    }
    import keras

    model = keras.models.load_model(out / "model.keras")
    x = np.load(tiny_data / "tiny.npz")["x"][:5]
    assert model.predict(x, verbose=0).shape == (5, 3)

    # a second run into the same folder is refused, --force trains again
    with pytest.raises(RunFolderError):
        train_file(path, out)
    before = (out / "metrics.json").stat().st_mtime_ns
    train_file(path, out, force=True)
    assert (out / "metrics.json").stat().st_mtime_ns != before
    assert len(read_history(out / "history.csv")) == 4


@pytest.mark.tf
def test_denoising_autoencoder_draws_reconstructions(tiny_data: Path) -> None:
    spec = {
        "speck": 1,
        "name": "tiny-denoiser",
        "seed": 1,
        "data": {
            "source": {"npz": "images.npz"},
            "task": {"denoise": {"noise": {"normal": {"stddev": 0.2}}, "clip": [0, 1]}},
            "validation": {"split": 0.25},
        },
        "model": {
            "input": [8, 8, 1],
            "layers": [
                {
                    "Conv2D": {
                        "filters": 4,
                        "kernel_size": 3,
                        "padding": "same",
                        "activation": "relu",
                    }
                },
                {
                    "Conv2D": {
                        "filters": 1,
                        "kernel_size": 3,
                        "padding": "same",
                        "activation": "sigmoid",
                    }
                },
            ],
        },
        "compile": {"optimizer": "adam", "loss": "binary_crossentropy"},
        "fit": {"epochs": 1, "batch_size": 8},
        "callbacks": [{"BackupAndRestore": {"backup_dir": "state"}}],
    }
    out = tiny_data / "run"
    result = train_file(write_spec(tiny_data, spec), out)
    assert (out / "reconstructions.png").stat().st_size > 0
    assert not (out / "confusion_matrix.png").exists()
    assert not (out / "backup").exists() and not (out / "state").exists()
    assert result.metrics["plots"]["reconstructions"] == "reconstructions.png"
    assert set(result.metrics["final"]) == {"validation"}


@pytest.mark.tf
def test_mirrored_strategy_trains(tiny_data: Path) -> None:
    path = write_spec(tiny_data, classifier_spec(distribute="mirrored"))
    result = train_file(path, tiny_data / "run")
    assert result.metrics["epochs"] == 2


@pytest.mark.tf
@pytest.mark.slow
def test_speck_train_command_end_to_end(tiny_data: Path) -> None:
    path = write_spec(tiny_data, classifier_spec())
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run(
        [sys.executable, "-m", "speck", "train", str(path), "--set", "fit.epochs=3", "--seed", "5"],
        cwd=tiny_data,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    out = tiny_data / "runs" / "tiny-classifier"
    assert "Epoch 3/3" in proc.stdout
    assert "trained tiny-classifier: 3 epochs" in proc.stdout
    assert f"run folder: {Path('runs') / 'tiny-classifier'}/" in proc.stdout
    assert "confusion_matrix.png" in proc.stdout
    saved = yaml.safe_load((out / "spec.yaml").read_text())
    assert saved["seed"] == 5 and saved["fit"]["epochs"] == 3
    assert len(read_history(out / "history.csv")) == 3


@pytest.mark.tf
def test_data_the_model_cannot_take_is_reported_at_the_source(tiny_data: Path) -> None:
    spec = classifier_spec()
    spec["model"]["input"] = [5]  # the file's rows have 4 features
    path = write_spec(tiny_data, spec)
    result = CliRunner().invoke(app, ["train", str(path), "--out", str(tiny_data / "run")])
    assert result.exit_code == 2, result.output
    line = next(n for n, text in enumerate(path.read_text().splitlines(), 1) if "source" in text)
    assert f"{path}:{line}:" in result.output and "error: data.source:" in result.output
    assert "(60, 4)" not in result.output  # the training split's shape, after the splits:
    assert "shape (38, 4)" in result.output and "takes (None, 5)" in result.output
    assert "internal error" not in result.output


@pytest.mark.tf
def test_a_failure_while_loading_data_is_reported_at_the_source(tiny_data: Path) -> None:
    """The program's own failure while loading, past the checks `speck train` makes first (here
    an array that is not there, which the command's check would have named already)."""
    from speck.backends.run.train import DataError, train_spec

    spec = classifier_spec()
    spec["data"]["source"] = {"npz": "tiny.npz", "x": "features"}  # no such array
    path = write_spec(tiny_data, spec)
    with pytest.raises(DataError, match=r"loading the data failed.*'features'") as caught:
        train_spec(resolve_file(path, []), tiny_data / "run")
    line = next(n for n, text in enumerate(path.read_text().splitlines(), 1) if "source" in text)
    assert caught.value.location is not None and caught.value.location.line == line
    result = CliRunner().invoke(app, ["train", str(path), "--out", str(tiny_data / "run2")])
    assert result.exit_code == 2, result.output
    assert f"{path}:" in result.output and "'features'" in result.output  # at source's npz
    assert "internal error" not in result.output


@pytest.mark.tf
def test_an_offline_keras_dataset_says_where_its_files_go(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fake_keras_datasets import offline_keras_cache

    datasets = offline_keras_cache(tmp_path, monkeypatch)
    spec = classifier_spec(data={"source": "keras/mnist", "reshape": [784]})
    spec["model"]["input"] = [784]
    spec["model"]["layers"][-1]["Dense"]["units"] = 10
    path = write_spec(tmp_path, spec)
    result = CliRunner().invoke(app, ["train", str(path), "--out", str(tmp_path / "run")])
    assert result.exit_code == 2, result.output
    assert "error: data.source: loading the data failed" in result.output
    assert f"put the dataset at {datasets / 'mnist.npz'}" in result.output


@pytest.mark.tf
def test_a_spec_without_held_out_splits_trains(tiny_data: Path) -> None:
    """With only a training split, `load_data()` gives that split's `(x, y)` alone; the shape
    check before `fit` reads its inputs, not its first row."""
    spec = classifier_spec(data={"source": {"npz": "tiny.npz"}}, fit={"epochs": 1})
    result = train_file(write_spec(tiny_data, spec), tiny_data / "run")
    assert list(result.metrics["final"]) == ["train"]
    assert result.metrics["samples"] == {"train": 60}

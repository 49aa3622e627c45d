"""Every form of callback output path, through `speck train`: nothing appears or disappears
outside the run folder.

A sandbox folder holds the spec, its data, a sentinel file, another run's folder and a home
folder (HOME for `~`); the run folder is `runs/tiny/` in it. Each path form runs with no flag,
`--force` and `--resume`, and the sandbox outside the run folder must be the same afterwards,
file for file. Paths that leave the run folder are refused at the callback's line (exit 2,
before TensorFlow); relative nested paths train, with their parent folders made.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from conftest import run_speck
from typer.testing import CliRunner

from speck.cli import app

ARGS = {
    "CSVLogger": "filename",
    "ModelCheckpoint": "filepath",
    "TensorBoard": "log_dir",
    "BackupAndRestore": "backup_dir",
}


def snapshot(root: Path, skip: Path) -> dict[str, Any]:
    """Every entry under `root` but `skip` and what is in it: path -> (kind, content)."""
    out: dict[str, Any] = {}
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        dirs[:] = [d for d in dirs if here / d != skip]
        for name in dirs:
            out[(here / name).relative_to(root).as_posix()] = ("dir",)
        for name in files:
            path = here / name
            out[path.relative_to(root).as_posix()] = ("file", path.read_bytes())
    return out


@pytest.fixture
def sandbox(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 3)).astype(np.float32)
    np.savez(tmp_path / "tiny.npz", x=x, y=(x[:, 0] > 0).astype(np.int64))
    (tmp_path / "sentinel.txt").write_text("must stay")
    other = tmp_path / "runs" / "other"
    other.mkdir(parents=True)
    (other / "model.keras").write_text("another run's model")
    (other / "state").mkdir()
    (other / "state" / "weights").write_text("another run's backup")
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "notes").write_text("the user's")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    caches = tmp_path_factory.mktemp("caches")  # what Keras and matplotlib keep in a home
    monkeypatch.setenv("KERAS_HOME", str(caches / "keras"))
    monkeypatch.setenv("MPLCONFIGDIR", str(caches / "matplotlib"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def spec_with(folder: Path, callback: str, value: str) -> Path:
    key = ARGS[callback]
    callbacks: list[Any] = [{callback: {key: value}}]
    spec = {
        "speck": 1,
        "name": "tiny",
        "seed": 1,
        "data": {"source": {"npz": "tiny.npz"}},
        "model": {"input": [3], "layers": [{"Dense": {"units": 2, "activation": "softmax"}}]},
        "compile": {"optimizer": "adam", "loss": "sparse_categorical_crossentropy"},
        "fit": {"epochs": 1, "batch_size": 8, "verbose": 0},
        "callbacks": callbacks,
    }
    path = folder / "spec.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def refused_forms(sandbox: Path) -> list[str]:
    return [
        str(sandbox / "sentinel.txt"),  # absolute: a file outside
        str(sandbox / "runs" / "other"),  # absolute: another run's folder
        str(sandbox / "runs" / "other" / "state"),
        "..",  # the folder of every run
        "../other",
        "../../sentinel.txt",
        "a/../../..",
        "~",
        "~/notes",
        "",
        ".",
        "./",
        "a\0b",
        "x" * 300,
    ]


@pytest.mark.parametrize(
    "callback",
    [
        "CSVLogger",
        "TensorBoard",
        "BackupAndRestore",
        # a checkpoint path gets `.keras` added, so `..` becomes the file `...keras`, inside
        # the run folder: those forms train
        pytest.param("ModelCheckpoint", marks=[pytest.mark.tf, pytest.mark.slow]),
    ],
)
def test_paths_that_leave_the_run_folder_change_nothing_outside_it(
    sandbox: Path, callback: str
) -> None:
    run = sandbox / "runs" / "tiny"
    for value in refused_forms(sandbox):
        shutil.rmtree(run, ignore_errors=True)  # a form that trained left a finished run
        spec = spec_with(sandbox, callback, value)
        for flags in ([], ["--force"], ["--resume"]):
            before = snapshot(sandbox, run)
            result = CliRunner().invoke(app, ["train", str(spec), *flags])
            assert snapshot(sandbox, run) == before, (value, flags)
            assert result.exception is None or isinstance(result.exception, SystemExit)
            assert "internal error" not in result.output, (value, flags, result.output)
            if result.exit_code == 0 or "nothing to resume" in result.output:
                assert callback == "ModelCheckpoint", (value, flags, result.output)
                continue
            assert result.exit_code == 2, (value, flags, result.output)
            at = rf"^{re.escape(str(spec))}:\d+:\d+: error: callbacks\[0\]\.{callback}\."
            assert re.search(at, result.output, re.MULTILINE), (value, result.output)


@pytest.mark.tf
@pytest.mark.slow
def test_nested_relative_paths_train_inside_the_run_folder(sandbox: Path) -> None:
    run = sandbox / "runs" / "tiny"
    spec = spec_with(sandbox, "CSVLogger", "logs/csv/train.csv")
    data = yaml.safe_load(spec.read_text())
    data["callbacks"] += [
        {"ModelCheckpoint": {"filepath": "ckpt/deep/e{epoch}.keras"}},
        {"TensorBoard": {"log_dir": "tb/deep"}},
        {"BackupAndRestore": {"backup_dir": "state/deep"}},
    ]
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    before = snapshot(sandbox, run)
    for flags in ([], ["--force"]):
        proc = run_speck(["train", str(spec), *flags], cwd=sandbox, timeout=300)
        assert proc.returncode == 0, proc.stderr
        assert snapshot(sandbox, run) == before
        assert (run / "logs" / "csv" / "train.csv").is_file()
        assert (run / "ckpt" / "deep" / "e1.keras").is_file()
        assert (run / "tb" / "deep").is_dir()
        assert not (run / "state" / "deep").exists()  # the backup goes once training ends


def test_every_output_path_argument_is_placed_and_checked(sandbox: Path) -> None:
    """One list of the callback arguments that name files (`speck.ir.graph.OUTPUT_PATH_ARGS`):
    validation, the run-folder check and the emitted program agree, Orbax's `directory` too."""
    from speck.backends.emit.program import emit_script
    from speck.backends.run.folder import callback_paths, check_callback_paths
    from speck.diagnostics import SpecError
    from speck.ir.graph import OUTPUT_PATH_ARGS
    from speck.pipeline import resolve_file

    assert {**ARGS, "OrbaxCheckpoint": "directory"} == OUTPUT_PATH_ARGS
    spec = spec_with(sandbox, "CSVLogger", "log.csv")
    data = yaml.safe_load(spec.read_text())
    data["callbacks"] = [{"OrbaxCheckpoint": {"directory": "ckpt"}}]
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    resolved = resolve_file(spec)
    assert [(p.class_name, p.key) for p in callback_paths(resolved.plan)] == [
        ("OrbaxCheckpoint", "directory")
    ]
    assert 'directory=str(out_dir / "ckpt")' in emit_script(resolved)
    data["callbacks"] = [{"OrbaxCheckpoint": {"directory": "../ckpt"}}]
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(SpecError, match="directory"):
        check_callback_paths(resolve_file(spec), sandbox / "runs" / "tiny")

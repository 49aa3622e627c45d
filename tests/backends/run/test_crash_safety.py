"""A run killed at any moment leaves a folder that `--resume` finishes without retraining what
was done: killed in the middle of `fit`, after `fit` before anything is saved, in the middle of
saving model.keras, between model.keras and metrics.json, and after metrics.json before the
backup is removed.

Each kill is a real SIGKILL of a `speck train` child process: the child loads the program as
`speck train` does and wraps one of its functions so that it kills its own process at the chosen
moment (the program itself has no hook for this). The resumed run happens in this process.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

pytestmark = [pytest.mark.tf, pytest.mark.slow]

EPOCHS = 3

CHILD = """
import importlib, os, shutil, signal, sys
from pathlib import Path
from speck.pipeline import resolve_file

train = importlib.import_module("speck.backends.run.train")  # the module (`speck.train` is the API function)

spec, out, stage = sys.argv[1], Path(sys.argv[2]), sys.argv[3]


def die(*args):
    os.kill(os.getpid(), signal.SIGKILL)


def install(program):
    write = program.write_atomically

    def write_atomically(path, fn):
        if path.name == "model.keras" and stage == "before-save":
            die()
        if path.name == "model.keras" and stage == "during-save":
            return write(path, lambda tmp: (fn(tmp), die()))
        if path.name == "metrics.json" and stage == "before-metrics":
            die()
        return write(path, fn)

    class Shutil:
        @staticmethod
        def rmtree(path, ignore_errors=False):
            if stage == "after-metrics" and (out / "metrics.json").exists():
                die()
            shutil.rmtree(path, ignore_errors=ignore_errors)

    make_callbacks = program.make_callbacks

    def callbacks(*args):
        import keras

        made = make_callbacks(*args)
        if stage == "mid-fit":  # after the second epoch is logged and backed up
            made.append(keras.callbacks.LambdaCallback(on_epoch_end=lambda e, logs: e and die()))
        return made

    program.write_atomically, program.shutil = write_atomically, Shutil()
    program.make_callbacks = callbacks


load_program = train.load_program


def loaded(*args, **kwargs):
    program = load_program(*args, **kwargs)
    install(program)
    return program


train.load_program = loaded
train.train_spec(resolve_file(spec), out)
"""


def spec() -> dict[str, Any]:
    return {
        "speck": 1,
        "name": "killable",
        "seed": 5,
        "data": {"source": {"npz": "rows.npz"}, "validation": {"split": 0.2}},
        "model": {
            "input": [8],
            "layers": [
                {"Dense": {"units": 16, "activation": "relu"}},
                {"Dense": {"units": 3, "activation": "softmax"}},
            ],
        },
        "compile": {
            "optimizer": "adam",
            "loss": "sparse_categorical_crossentropy",
            "metrics": ["accuracy"],
        },
        "fit": {"epochs": EPOCHS, "batch_size": 16, "verbose": 0},
    }


def files_of(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def epochs_in(history: Path) -> list[int]:
    with open(history, newline="") as f:
        return [int(row["epoch"]) for row in csv.DictReader(f)]


@pytest.fixture(scope="module")
def spec_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("killable")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 8)).astype(np.float32)
    np.savez(folder / "rows.npz", x=x, y=(x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 1))
    path = folder / "spec.yaml"
    path.write_text(yaml.safe_dump(spec(), sort_keys=False))
    return path


@pytest.fixture(scope="module")
def uninterrupted(spec_file: Path) -> dict[str, Any]:
    from speck.backends.run.train import train_spec
    from speck.pipeline import resolve_file

    out = spec_file.parent / "fresh"
    metrics = train_spec(resolve_file(spec_file), out).metrics
    return {"metrics": metrics, "files": files_of(out)}


@pytest.mark.parametrize(
    ("stage", "done"),
    [
        ("mid-fit", 2),
        ("before-save", EPOCHS),
        ("during-save", EPOCHS),
        ("before-metrics", EPOCHS),
        ("after-metrics", EPOCHS),
    ],
)
def test_a_killed_run_resumes_without_retraining(
    spec_file: Path, uninterrupted: dict[str, Any], stage: str, done: int
) -> None:
    from speck.backends.run.folder import RunFolderError
    from speck.backends.run.train import train_spec
    from speck.pipeline import resolve_file

    out = spec_file.parent / stage
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(spec_file), str(out), stage],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert child.returncode == -9, child.stderr[-3000:]  # killed, at the chosen moment
    if stage == "during-save":
        assert [p.name for p in out.glob(".model.keras.partial-*")]  # the half-written model

    resolved = resolve_file(spec_file)
    with pytest.raises(RunFolderError, match=r"--resume|--force"):
        train_spec(resolved, out)  # a plain run does not mix into the interrupted one
    resumed = train_spec(resolved, out, resume=True).metrics
    assert resumed["resumed_from_epoch"] == done  # nothing done is trained again
    assert resumed["epochs"] == EPOCHS
    assert epochs_in(out / "history.csv") == list(range(1, EPOCHS + 1))  # as the log counts
    assert files_of(out) == uninterrupted["files"]  # no backup, no temporary file left
    assert json.loads((out / "metrics.json").read_text()) == resumed
    if done == EPOCHS:  # trained as far as the uninterrupted run: the same final weights
        for split, values in uninterrupted["metrics"]["final"].items():
            assert resumed["final"][split] == pytest.approx(values, abs=1e-5)

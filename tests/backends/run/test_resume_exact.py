"""A run killed with SIGKILL and continued with `--resume` ends as an uninterrupted run does:
the same history.csv rows (losses and learning rate), ReduceLROnPlateau halving the rate after
the same epochs, EarlyStopping stopping after the same epoch and restoring the same best
weights. Keras' BackupAndRestore keeps the model, the optimizer and the epoch; the program
keeps the watching callbacks' counters beside it (`keep_callback_states`).

The spec trains without shuffling and without dropout: a resumed run starts its random
generators afresh, so shuffled batches or dropout masks after the resume would differ from the
uninterrupted run's whatever the callbacks do. Its monitors never improve by `min_delta`, so
the callbacks act on a schedule: the rate halves after epochs 3 and 5, and training stops
after epoch 6, of 8. The run is killed after epoch 2, when both callbacks have counted one
epoch without improvement: once all is saved, and once between the save of the callbacks'
states and Keras' backup (it resumes after epoch 1 then).
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

KILLED_AFTER = 2

CHILD = """
import importlib, os, signal, sys
from pathlib import Path
train = importlib.import_module("speck.backends.run.train")
from speck.pipeline import resolve_file

spec, out, after, where = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
load_program = train.load_program


def die(*args):
    os.kill(os.getpid(), signal.SIGKILL)


def loaded(*args, **kwargs):
    import keras

    program = load_program(*args, **kwargs)
    keep, write = program.keep_callback_states, program.write_atomically

    def write_or_die(path, fn):  # after = 0: killed when training is over, before any save
        if path.name == "model.keras" and not after:
            die()
        return write(path, fn)

    def keep_then_die(*args):
        made = keep(*args)
        killer = keras.callbacks.LambdaCallback(
            on_epoch_end=lambda epoch, logs: epoch + 1 == after and die()
        )
        if where == "end":  # everything of the epoch saved
            made.append(killer)
        else:  # the callbacks' states saved, the model and the epoch not yet
            made.insert(len(made) - 2, killer)
        return made

    program.keep_callback_states, program.write_atomically = keep_then_die, write_or_die
    return program


train.load_program = loaded
train.train_spec(resolve_file(spec), out)
"""


def spec() -> dict[str, Any]:
    never_better = 10**9  # no epoch improves on the first by this much
    return {
        "speck": 1,
        "name": "exact",
        "seed": 3,
        "data": {"source": {"npz": "rows.npz"}, "validation": {"split": 0.25}},
        "model": {
            "input": [4],
            "layers": [{"Dense": {"units": 8, "activation": "tanh"}}, {"Dense": {"units": 1}}],
        },
        "compile": {"optimizer": {"SGD": {"learning_rate": 0.1}}, "loss": "mse"},
        "fit": {"epochs": 8, "batch_size": 32, "shuffle": False, "verbose": 0},
        "callbacks": [
            {
                "ReduceLROnPlateau": {
                    "monitor": "loss",
                    "factor": 0.5,
                    "patience": 2,
                    "min_delta": never_better,
                }
            },
            {
                "EarlyStopping": {
                    "monitor": "val_loss",
                    "patience": 5,
                    "min_delta": never_better,
                    "restore_best_weights": True,
                }
            },
        ],
    }


def history(out: Path) -> list[dict[str, float]]:
    with open(out / "history.csv", newline="") as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


def halved_after(rows: list[dict[str, float]]) -> list[int]:
    """The epochs after which the rate was halved (a row logs the rate its epoch trained
    with)."""
    rates = [row["learning_rate"] for row in rows]
    return [int(rows[i]["epoch"]) for i in range(len(rows) - 1) if rates[i + 1] < rates[i] / 1.5]


def killed_and_resumed(
    folder: Path,
    out: Path,
    drop_states: bool = False,
    after: int = KILLED_AFTER,
    where: str = "end",
) -> dict[str, Any]:
    """Train in a child process killed after epoch `after` (0: once training is over; `where`
    `before-backup`: between the save of the callbacks' states and Keras' backup), and resume
    here."""
    from speck.backends.run.train import train_spec
    from speck.pipeline import resolve_file

    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(folder / "spec.yaml"), str(out), str(after), where],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert child.returncode == -9, child.stderr[-3000:]
    backed_up = json.loads((out / "backup" / "training_metadata.json").read_text())["epoch"]
    assert backed_up == (after or 6) - (where == "before-backup")
    if drop_states:  # what a resume was before the program kept them
        for path in (out / "backup").glob("callbacks-*.npz"):
            path.unlink()
    return train_spec(resolve_file(folder / "spec.yaml"), out, resume=True).metrics


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("exact")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(160, 4)).astype(np.float32)
    np.savez(folder / "rows.npz", x=x, y=(x @ [0.5, -1.0, 2.0, 0.0]).astype(np.float32))
    (folder / "spec.yaml").write_text(yaml.safe_dump(spec(), sort_keys=False))
    return folder


@pytest.fixture(scope="module")
def uninterrupted(folder: Path) -> dict[str, Any]:
    from speck.backends.run.train import train_spec
    from speck.pipeline import resolve_file

    out = folder / "uninterrupted"
    metrics = train_spec(resolve_file(folder / "spec.yaml"), out).metrics
    return {"metrics": metrics, "history": history(out)}


def test_the_uninterrupted_run_acts_on_its_schedule(uninterrupted: dict[str, Any]) -> None:
    rows = uninterrupted["history"]
    assert [int(row["epoch"]) for row in rows] == [1, 2, 3, 4, 5, 6]  # stopped after epoch 6
    assert halved_after(rows) == [3, 5]
    assert [row["learning_rate"] for row in rows] == pytest.approx([0.1] * 3 + [0.05] * 2 + [0.025])
    assert uninterrupted["metrics"]["epochs"] == 6


@pytest.mark.parametrize("where", ["end", "before-backup"])
def test_a_resumed_run_ends_as_the_uninterrupted_one(
    folder: Path, uninterrupted: dict[str, Any], where: str
) -> None:
    out = folder / f"resumed-{where}"
    metrics = killed_and_resumed(folder, out, where=where)
    rows = history(out)
    assert halved_after(rows) == halved_after(uninterrupted["history"])
    assert len(rows) == len(uninterrupted["history"])
    for got, want in zip(rows, uninterrupted["history"], strict=True):
        assert got == pytest.approx(want, abs=1e-5)
    resumed_from = KILLED_AFTER - (where == "before-backup")
    assert metrics["epochs"] == 6 and metrics["resumed_from_epoch"] == resumed_from
    for split, values in uninterrupted["metrics"]["final"].items():  # the same best weights
        assert metrics["final"][split] == pytest.approx(values, abs=1e-5)
    assert not (out / "backup").exists()


def test_without_the_kept_states_the_schedule_drifts(
    folder: Path, uninterrupted: dict[str, Any]
) -> None:
    """The same kill, resumed without the callbacks' states: what the test above guards
    against (the counters start over, so the rate halves and training stops later)."""
    out = folder / "forgetful"
    metrics = killed_and_resumed(folder, out, drop_states=True)
    rows = history(out)
    assert halved_after(rows) == [5, 7]
    assert [int(row["epoch"]) for row in rows] == [1, 2, 3, 4, 5, 6, 7, 8]
    assert metrics["epochs"] == 8


def test_a_run_killed_after_it_stopped_early_trains_no_further(
    folder: Path, uninterrupted: dict[str, Any]
) -> None:
    """Killed after EarlyStopping ended training, before the model was saved: the resumed run
    saves the same best weights without training another epoch."""
    out = folder / "stopped"
    metrics = killed_and_resumed(folder, out, after=0)
    assert metrics["epochs"] == 6 and metrics["resumed_from_epoch"] == 6
    assert [int(row["epoch"]) for row in history(out)] == [1, 2, 3, 4, 5, 6]
    for split, values in uninterrupted["metrics"]["final"].items():
        assert metrics["final"][split] == pytest.approx(values, abs=1e-5)

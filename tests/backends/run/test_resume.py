"""An interrupted `speck train` resumes: a training process killed with SIGKILL in the middle
of an epoch is continued with `--resume`; it loses at most the epoch it was in and ends with the
same files as a run that was never interrupted (history.csv has each epoch once).

The run that gets killed is a `speck train` subprocess; the resumed run and the uninterrupted
one run in this test process.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

EPOCHS = 4


def spec() -> dict[str, Any]:
    """About a second or two per epoch on a small CPU: long enough to be killed mid-epoch."""
    return {
        "speck": 1,
        "name": "resumable",
        "seed": 11,
        "data": {"source": {"npz": "rows.npz"}, "validation": {"split": 0.1}},
        "model": {
            "input": [16],
            "layers": [
                {"Dense": {"units": 32, "activation": "relu"}},
                {"Dense": {"units": 2, "activation": "softmax"}},
            ],
        },
        "compile": {"optimizer": "adam", "loss": "sparse_categorical_crossentropy"},
        "fit": {"epochs": EPOCHS, "batch_size": 4, "verbose": 0},
        "callbacks": [
            {"ModelCheckpoint": {"filepath": "ckpt/e{epoch}.keras", "every_epochs": 2}},
        ],
    }


def files_of(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def epochs_in(history: Path) -> list[int]:
    with open(history, newline="") as f:
        return [int(row["epoch"]) for row in csv.DictReader(f)]


def completed(out: Path) -> int:
    try:
        return int(json.loads((out / "backup" / "training_metadata.json").read_text())["epoch"])
    except (OSError, ValueError, KeyError):
        return 0


@pytest.mark.tf
@pytest.mark.slow
def test_killed_run_resumes_and_matches_an_uninterrupted_one(tmp_path: Path) -> None:
    from speck.backends.run.folder import RunFolderError
    from speck.backends.run.train import train_spec
    from speck.pipeline import resolve_file

    rng = np.random.default_rng(0)
    x = rng.normal(size=(3000, 16)).astype(np.float32)
    np.savez(tmp_path / "rows.npz", x=x, y=(x.sum(axis=1) > 0).astype(np.int64))
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec(), sort_keys=False))
    out = tmp_path / "killed"

    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    command = [sys.executable, "-m", "speck", "train", str(path), "--out", str(out)]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 600
        while completed(out) < 2 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert proc.poll() is None, "the run ended before it could be killed"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    done_before_kill = completed(out)
    assert 2 <= done_before_kill < EPOCHS
    assert not (out / "metrics.json").exists()

    # a plain run into the interrupted folder is refused; --resume continues it
    resolved = resolve_file(path)
    with pytest.raises(RunFolderError, match="--resume"):
        train_spec(resolved, out)
    resumed = train_spec(resolved, out, resume=True)
    assert resumed.metrics["resumed_from_epoch"] == done_before_kill
    assert (
        resumed.metrics["epochs"] - resumed.metrics["resumed_from_epoch"]
        == EPOCHS - done_before_kill
    )
    assert resumed.metrics["epochs"] == EPOCHS
    assert epochs_in(out / "history.csv") == list(range(1, EPOCHS + 1))  # as the log counts

    fresh = tmp_path / "fresh"
    train_spec(resolve_file(path), fresh)
    assert files_of(out) == files_of(fresh)
    assert "ckpt/e2.keras" in files_of(out) and "ckpt/e4.keras" in files_of(out)
    assert not (out / "backup").exists()

    # a finished run has nothing to resume
    with pytest.raises(RunFolderError, match="nothing to resume"):
        train_spec(resolved, out, resume=True)

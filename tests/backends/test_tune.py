"""`speck tune`: a KerasTuner search of a spec's spaces into a run folder (trials.csv,
trials.png, best.yaml, best.keras), resumed when interrupted, and KerasTuner's own chief/worker
mode with a chief and two workers on this machine. Tiny trials: one epoch of sklearn's digits."""

from __future__ import annotations

import csv
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT

from speck.front.load import load_file
from speck.pipeline import analyze
from speck.search import find_spaces

SPEC = ROOT / "specs" / "digits_mlp_tune.yaml"
NAMES = [
    "model.layers[0].Dense.units",
    "model.layers[1].Dropout.rate",
    "compile.optimizer.Adam.learning_rate",
]
TINY = ["--set", "fit.epochs=1"]

pytestmark = [pytest.mark.tf, pytest.mark.slow]


def speck(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None):
    return subprocess.run(
        [sys.executable, "-m", "speck", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})},
        cwd=cwd,
        timeout=300,
    )


def rows(out: Path) -> list[dict[str, str]]:
    with (out / "trials.csv").open(newline="") as f:
        return list(csv.DictReader(f))


def test_a_search_leaves_trials_a_plot_the_best_spec_and_model(tmp_path: Path) -> None:
    out = tmp_path / "run"
    done = speck("tune", str(SPEC), "--out", str(out), "--max-trials", "2", *TINY)
    assert done.returncode == 0, done.stderr[-3000:]
    table = rows(out)
    assert [r["trial"] for r in table] == ["0", "1"]
    assert list(table[0]) == [
        "trial",
        "status",
        *NAMES,
        "val_accuracy",
        "epochs",
        "seconds",
        "error",
    ]
    assert all(r["status"] == "COMPLETED" and r["epochs"] == "1" and not r["error"] for r in table)
    assert (out / "trials.png").read_bytes()[:4] == b"\x89PNG"
    best = max(table, key=lambda r: float(r["val_accuracy"]))
    assert f"best val_accuracy {float(best['val_accuracy']):.4g}" in done.stdout

    # best.yaml: the spec's text with the winner's values; it validates and emits like any spec
    text = (out / "best.yaml").read_text(encoding="utf-8")
    assert text.startswith("# The digits MLP of digits_mlp.yaml")  # comments kept
    assert f"Dense: {{units: {best[NAMES[0]]}, activation: relu}}" in text
    assert f"Dropout: {{rate: {best[NAMES[1]]}}}" in text
    assert find_spaces(load_file(out / "best.yaml")).spaces == []
    assert analyze(out / "best.yaml").ok
    import keras

    model = keras.saving.load_model(out / "best.keras")
    assert model.get_layer("dense").units == int(best[NAMES[0]])

    again = speck("tune", str(SPEC), "--out", str(out), "--max-trials", "2", *TINY)
    assert again.returncode == 1 and "already holds a finished search" in again.stderr
    trained = speck("train", str(out / "best.yaml"), "--out", str(tmp_path / "t"), "--epochs", "1")
    assert trained.returncode == 0, trained.stderr[-3000:]


def test_resume_continues_the_trials_already_run(tmp_path: Path) -> None:
    out = tmp_path / "run"
    first = speck("tune", str(SPEC), "--out", str(out), "--max-trials", "1", *TINY)
    assert first.returncode == 0, first.stderr[-3000:]
    (out / "best.keras").unlink()  # as if it stopped after the first trial
    refused = speck("tune", str(SPEC), "--out", str(out), "--max-trials", "2", *TINY)
    assert refused.returncode == 1 and "--resume" in refused.stderr
    resumed = speck("tune", str(SPEC), "--out", str(out), "--max-trials", "2", "--resume", *TINY)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert [r["trial"] for r in rows(out)] == ["0", "1"]
    assert resumed.stdout.count("Running Trial") == 1  # only the second one ran


def test_a_spec_without_spaces_or_with_bad_ones_is_refused(tmp_path: Path) -> None:
    plain = speck("tune", str(ROOT / "specs" / "digits_mlp.yaml"), "--out", str(tmp_path / "a"))
    assert plain.returncode == 2 and "has no search spaces" in plain.stderr
    bad = speck("tune", str(SPEC), "--out", str(tmp_path / "b"), "--set", "fit.epochs=0")
    assert bad.returncode == 2 and "--set fit.epochs=0: fit.epochs:" in bad.stderr
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_chief_and_two_workers_search_together(tmp_path: Path) -> None:
    out = tmp_path / "run"
    base = {
        **os.environ,
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "KERASTUNER_ORACLE_IP": "127.0.0.1",
        "KERASTUNER_ORACLE_PORT": str(free_port()),
    }
    command = [sys.executable, "-m", "speck", "tune", str(SPEC), "--out", str(out), *TINY]
    procs: list[subprocess.Popen[str]] = []

    def start(tuner_id: str, *extra: str) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [*command, *extra],
            env={**base, "KERASTUNER_TUNER_ID": tuner_id},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        procs.append(proc)
        return proc

    try:
        chief = start("chief", "--max-trials", "3")
        deadline = time.monotonic() + 120
        while not (out / ".speck-run.json").exists():
            assert chief.poll() is None, chief.communicate()[0][-3000:]
            assert time.monotonic() < deadline, "the chief did not make its run folder"
            time.sleep(0.5)
        workers = [start("tuner1"), start("tuner2")]
        for proc in [*workers, chief]:
            output = proc.communicate(timeout=300)[0]
            assert proc.returncode == 0, output[-3000:]
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
    table = rows(out)
    assert len(table) == 3 and all(r["status"] == "COMPLETED" for r in table)
    assert {"tuner1.json", "tuner2.json"} <= {p.name for p in (out / "search").iterdir()}
    assert (out / "best.keras").is_file() and (out / "best.yaml").is_file()


def test_a_candidate_inside_a_range_that_breaks_fails_its_trial_not_the_search(
    tmp_path: Path,
) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text(
        "speck: 1\nname: s\nseed: 1\n"
        "data: {source: sklearn/digits, validation: {split: 0.2}}\n"
        "model:\n  input: [64]\n  layers:\n"
        "    - Dense: {units: {tune: {int: [16, 64], step: 3}}}\n"
        "    - Reshape: {target_shape: [-1, 4]}\n"
        "    - Flatten\n"
        "    - Dense: {units: 10, activation: softmax}\n"
        "compile: {loss: sparse_categorical_crossentropy}\nfit: {epochs: 1}\n"
        "tune: {max_trials: 4}\n",
        encoding="utf-8",
    )
    assert analyze(spec).ok  # 16 and 64 (the corners) are divisible by 4
    done = speck("tune", str(spec), "--out", str(tmp_path / "run"))
    table = rows(tmp_path / "run")
    failed = [r for r in table if r["status"] == "FAILED"]
    assert failed and all(int(r[NAMES[0]]) % 4 for r in failed)
    assert all("Reshape" in r["error"] and "Traceback" not in r["error"] for r in failed)
    assert "Traceback" not in done.stdout + done.stderr

"""Ctrl-C during `speck train`: one line that says how to resume, and exit status 130."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import ROOT, speck_command


@pytest.mark.tf
@pytest.mark.slow
def test_ctrl_c_during_training_says_how_to_resume(tmp_path: Path) -> None:
    out = tmp_path / "run"
    spec = ROOT / "specs" / "digits_mlp.yaml"
    env = {k: v for k, v in os.environ.items() if k != "SPECK_DEBUG"}
    args = ["train", str(spec), "--out", str(out), "--set", "fit.epochs=500"]
    args += ["--set", "callbacks=[]"]  # no early stop: it trains until interrupted
    proc = subprocess.Popen(
        [*speck_command(), *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 240
        while not (out / "history.csv").exists() and not (out / "checkpoint").exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "training did not start"
            time.sleep(0.5)
        time.sleep(1)  # well into an epoch
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    last = stderr.strip().splitlines()[-1]
    prefix = "interrupted; to continue from the last saved epoch: "
    assert last.startswith(prefix), stderr
    assert shlex.split(last.removeprefix(prefix)) == [
        "speck",
        "train",
        str(spec),
        "--out",
        str(out),
        "--set",
        "fit.epochs=500",
        "--set",
        "callbacks=[]",
        "--resume",
    ]

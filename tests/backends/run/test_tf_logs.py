"""TensorFlow's start-up log lines stay out of speck's output unless the user asks for them."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import ROOT

from speck.backends.run.tf_logs import start_up_noise

# As TensorFlow 2.21 writes them on a machine without a GPU (shortened).
BANNER = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
ONEDNN = "I0000 00:00:1796094447.108063   12561 port.cc:153] oneDNN custom operations are on."
CUDA = "I0000 00:00:1796094447.109422   12561 cudart_stub.cc:31] Could not find cuda drivers"
CUINIT = "E0000 00:00:1796094451.479054   12561 cuda_platform.cc:52] failed call to cuInit"


def test_start_up_noise_is_absl_info_and_its_banner() -> None:
    assert all(start_up_noise(line) for line in (BANNER, ONEDNN, CUDA))
    for kept in (CUINIT, "Traceback (most recent call last):", "error: x", ""):
        assert not start_up_noise(kept)


@pytest.mark.slow
@pytest.mark.tf
def test_speck_build_prints_no_start_up_lines() -> None:
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    spec = str(ROOT / "specs" / "digits_mlp.yaml")
    code = f"import speck, sys; speck.build({spec!r}); print('built', file=sys.stderr)"
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    assert [line for line in proc.stderr.splitlines() if start_up_noise(line)] == []
    assert "built" in proc.stderr  # what is not start-up noise still comes through

"""Training on tf.distribute: multi-worker clusters (`distribute: multi_worker_mirrored`,
`speck train --workers N`, TF_CONFIG), MirroredStrategy, and mixed precision.

The slow tests run real clusters of localhost workers, each its own process group with bounded
timeouts, on a tiny digits MLP: two workers end where one process ends (same global batch and
seed), MirroredStrategy over two logical CPUs likewise, and a cluster that loses a worker to
SIGKILL continues from its last completed epoch when restarted with `--resume`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import ROOT, run_speck

from speck.backends.emit.program import emit_script
from speck.backends.run import cluster
from speck.pipeline import resolve_file

TOLERANCE = 2e-3
"""Relative difference allowed between a cluster's losses and one process's. Equal global
batches give the same gradients, but Keras means a partial last batch per replica and then
across replicas, which weighs its rows a little differently (~4e-4 here, 1298 rows in batches
of 64); with full batches only, the losses agree to float32 rounding."""


def digits_spec(folder: Path, distribute: str = "default", epochs: int = 2, **extra: Any) -> Path:
    """A tiny digits MLP (no dropout: its masks are drawn per replica) with a test split."""
    spec = {
        "speck": 1,
        "name": "digits-cluster",
        "seed": 7,
        "data": {"source": "sklearn/digits", "scale": "1/16", "test": {"split": 0.15}},
        "model": {
            "input": [64],
            "layers": [
                {"Dense": {"units": 32, "activation": "relu"}},
                {"Dense": {"units": 10, "activation": "softmax"}},
            ],
        },
        "compile": {
            "optimizer": {"SGD": {"learning_rate": 0.1}},
            "loss": "sparse_categorical_crossentropy",
            "metrics": ["accuracy"],
        },
        "fit": {"epochs": epochs, "batch_size": 64, "verbose": 2},
        "distribute": distribute,
    }
    spec.update(extra)
    path = folder / f"digits-{distribute}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def losses(run: Path) -> list[float]:
    """The training loss of every epoch, from the run's history.csv."""
    lines = (run / "history.csv").read_text().splitlines()
    column = lines[0].split(",").index("loss")
    return [float(line.split(",")[column]) for line in lines[1:]]


WORKERS_TMP = Path(tempfile.gettempdir())
"""The temporary folder of the worker processes (tests may change this process's)."""


def worker_folders(run: Path) -> list[Path]:
    """The folders of their own that workers other than the chief left for a run folder."""
    run_hash = hashlib.sha256(str(run.resolve()).encode()).hexdigest()[:12]
    return list(WORKERS_TMP.glob(f"speck-worker-*-{run_hash}"))


# --- the cluster's description, without TensorFlow -------------------------------------------


@pytest.mark.parametrize(
    ("config", "chief", "workers"),
    [
        ("", True, 1),
        (
            '{"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 0}}',
            True,
            2,
        ),
        (
            '{"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 1}}',
            False,
            2,
        ),
        (
            '{"cluster": {"chief": ["c:1"], "worker": ["a:1"]}, "task": {"type": "worker", '
            '"index": 0}}',
            False,
            2,
        ),
        ('{"cluster": {"chief": ["c:1"], "worker": ["a:1"]}, "task": {"type": "chief"}}', True, 2),
    ],
)
def test_the_chief_is_read_from_tf_config(config: str, chief: bool, workers: int) -> None:
    role = cluster.role({"TF_CONFIG": config})
    assert (role.chief, role.workers) == (chief, workers)


def test_generated_tf_configs_name_one_cluster_on_distinct_ports() -> None:
    configs = [json.loads(text) for text in cluster.tf_configs(3)]
    (addresses,) = {tuple(c["cluster"]["worker"]) for c in configs}
    assert len(set(addresses)) == 3 and all(a.startswith("localhost:") for a in addresses)
    assert [c["task"] for c in configs] == [{"type": "worker", "index": i} for i in range(3)]


def test_launch_stops_the_cluster_when_a_worker_fails(
    capfd: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Worker 1 fails at once; worker 0 would wait forever: it is stopped after the grace."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where the workers' logs stay
    code = (
        "import json, os, sys, time\n"
        "index = json.loads(os.environ['TF_CONFIG'])['task']['index']\n"
        "print('worker', index, 'up', flush=True)\n"
        "sys.exit(3) if index == 1 else time.sleep(600)\n"
    )
    started = time.monotonic()
    assert cluster.launch([sys.executable, "-c", code], 2, grace=1.0) == 3
    assert time.monotonic() - started < 30
    out, err = capfd.readouterr()
    assert "worker 0 up" in out  # the chief's output is streamed
    assert "worker 1 of 2 exited with status 3" in err and "worker 1 up" in err
    assert "--resume" in err


def test_workers_need_a_multi_worker_spec(tmp_path: Path) -> None:
    done = run_speck(
        ["train", str(digits_spec(tmp_path)), "--workers", "2"], block_tf=True, tmp_path=tmp_path
    )
    assert done.returncode == 2
    assert "distribute: multi_worker_mirrored" in done.stderr


# --- the emitted program ---------------------------------------------------------------------


def test_only_multi_worker_programs_carry_the_cluster_code(tmp_path: Path) -> None:
    one = emit_script(resolve_file(digits_spec(tmp_path)))
    many = emit_script(resolve_file(digits_spec(tmp_path, "multi_worker_mirrored")))
    for name in ("fix_keras_multi_worker", "cluster_role", "worker_folder", "TF_CONFIG"):
        assert name not in one
    assert "def fix_keras_multi_worker() -> None:" in many
    assert many.index("strategy = tf.distribute.MultiWorkerMirroredStrategy()") < many.index(
        "load_data()\n"
    )  # before any TensorFlow op
    assert "AutoShardPolicy.DATA" in many and "if not chief:" in many
    for script in (ROOT / "generated").glob("*.py"):
        assert "fix_keras_multi_worker" not in script.read_text()


# --- real clusters ---------------------------------------------------------------------------


def train(args: list[str], timeout: float = 240) -> subprocess.CompletedProcess[str]:
    done = run_speck(["train", *args], timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


@pytest.mark.slow
@pytest.mark.tf
def test_two_workers_end_where_one_process_ends(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """The emitted script, run by two workers like any Keras script (it reads TF_CONFIG), ends
    where `speck train` in one process ends."""
    one, two = tmp_path / "one", tmp_path / "two"
    train([str(digits_spec(tmp_path)), "--out", str(one)])
    script = tmp_path / "cluster.py"
    resolved = resolve_file(digits_spec(tmp_path, "multi_worker_mirrored"))
    script.write_text(emit_script(resolved, script_dir=tmp_path))
    assert cluster.launch([sys.executable, str(script), "--out", str(two)], 2) == 0
    assert '"test": {' in capfd.readouterr().out  # the chief's final metrics, streamed
    metrics = json.loads((two / "metrics.json").read_text())
    assert metrics["distribute"] == {
        "strategy": "MultiWorkerMirroredStrategy",
        "workers": 2,
        "replicas": 2,
    }
    assert losses(two) == pytest.approx(losses(one), rel=TOLERANCE)
    alone = json.loads((one / "metrics.json").read_text())
    assert metrics["final"]["test"]["loss"] == pytest.approx(
        alone["final"]["test"]["loss"], rel=TOLERANCE
    )
    assert sum(map(sum, metrics["confusion_matrix"])) == metrics["samples"]["test"]
    assert not worker_folders(two)  # worker 1's own folder is removed at the end


MIRRORED = """\
import sys
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
Mirrored = tf.distribute.MirroredStrategy
tf.distribute.MirroredStrategy = lambda: Mirrored(["/cpu:0", "/cpu:1"])  # both logical CPUs

from speck.pipeline import resolve_file
from speck.backends.run.train import train_spec

from pathlib import Path

train_spec(resolve_file(sys.argv[1]), Path(sys.argv[2]))
"""


@pytest.mark.slow
@pytest.mark.tf
def test_mirrored_over_two_cpus_ends_where_one_process_ends(tmp_path: Path) -> None:
    """Without shuffling: under MirroredStrategy, Keras 3 draws one batch before `fit` starts
    (the first of the two bugs `fix_keras_multi_worker` works around, which only multi-worker
    programs carry), so a reshuffling dataset is one shuffle ahead of one process's."""
    one, two = tmp_path / "one", tmp_path / "two"
    train([str(digits_spec(tmp_path)), "--out", str(one), "--set", "fit.shuffle=false"])
    spec = digits_spec(tmp_path, "mirrored", fit={"epochs": 2, "batch_size": 64, "shuffle": False})
    done = subprocess.run(
        [sys.executable, "-c", MIRRORED, str(spec), str(two)],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    metrics = json.loads((two / "metrics.json").read_text())
    assert metrics["distribute"] == {"strategy": "MirroredStrategy", "workers": 1, "replicas": 2}
    assert losses(two) == pytest.approx(losses(one), rel=TOLERANCE)


@pytest.mark.slow
@pytest.mark.tf
def test_a_cluster_that_lost_a_worker_resumes_from_its_last_epoch(tmp_path: Path) -> None:
    """Worker 1 is killed (SIGKILL) once the cluster has finished an epoch; the chief then
    fails too. The same cluster restarted with --resume runs only the epochs left."""
    epochs = 8
    spec = digits_spec(tmp_path, "multi_worker_mirrored", epochs=epochs)
    run = tmp_path / "run"
    command = [*map(str, [sys.executable, "-m", "speck", "train", spec, "--out", run])]
    procs = []
    try:
        for config in cluster.tf_configs(2):
            env = {**os.environ, "TF_CONFIG": config}
            procs.append(
                subprocess.Popen(
                    command,
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                )
            )
        done = run / "backup" / "training_metadata.json"
        deadline = time.monotonic() + 180
        while not done.exists() and time.monotonic() < deadline and procs[0].poll() is None:
            time.sleep(0.05)
        assert done.exists(), "the cluster finished no epoch in time"
        os.killpg(procs[1].pid, signal.SIGKILL)
        assert procs[0].wait(timeout=120) != 0  # the chief notices the lost worker and fails
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
    completed = json.loads(done.read_text())["epoch"]
    assert 0 < completed < epochs and not (run / "metrics.json").exists()

    done = train([str(spec), "--out", str(run), "--workers", "2", "--resume"], timeout=300)
    assert f"({epochs} in all, resumed after epoch {completed})" in done.stdout  # the chief's
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["resumed_from_epoch"] == completed
    assert metrics["epochs"] == epochs and len(losses(run)) == epochs
    assert not (run / "backup").exists()


# --- mixed precision -------------------------------------------------------------------------


def validate_text(text: str) -> list[str]:
    from speck.front.load import load_text
    from speck.front.validate import validate

    return [
        d.format(with_severity=True) for d in validate(load_text(text, "spec.yaml")).diagnostics
    ]


MIXED = (
    "speck: 1\nname: m\nprecision: {}\nmodel:\n  input: [4]\n  layers:\n    - Dense: {{units: 2}}\n"
)


@pytest.mark.parametrize(
    ("precision", "gpu", "bf16_cpu", "warned"),
    [
        ("float32", False, False, False),
        ("mixed_float16", False, True, True),  # float16 on a CPU: many times slower
        ("mixed_float16", True, False, False),
        ("mixed_bfloat16", False, False, True),
        ("mixed_bfloat16", False, True, False),  # AVX512-BF16 or AMX
    ],
)
def test_mixed_precision_warns_without_a_device_for_it(
    monkeypatch: pytest.MonkeyPatch, precision: str, gpu: bool, bf16_cpu: bool, warned: bool
) -> None:
    from speck import devices

    monkeypatch.setattr(devices, "has_nvidia_gpu", lambda: gpu)
    monkeypatch.setattr(devices, "cpu_has_bfloat16", lambda: bf16_cpu)
    found = [d for d in validate_text(MIXED.format(precision)) if "precision" in d]
    assert bool(found) == warned, found
    if warned:
        assert found[0].startswith("spec.yaml:3:1: warning: precision: ")


@pytest.mark.tf
@pytest.mark.parametrize("precision", ["mixed_bfloat16", "mixed_float16"])
def test_precision_is_the_same_in_build_and_the_emitted_script(
    tmp_path: Path, precision: str
) -> None:
    """Hidden layers compute in 16 bits, the output layer in float32, weights stay float32, the
    global policy is restored after building (speck runs in-process), and mixed_float16's
    optimizer scales the loss, in the live model and the script's alike."""
    import keras
    from same_model import config_json, load_script

    from speck.backends.build import build_model, compile_model

    resolved = resolve_file(digits_spec(tmp_path, precision=precision))
    script = load_script(emit_script(resolved, script_dir=tmp_path), tmp_path)
    live, emitted = build_model(resolved.graph), script.build_model()
    assert keras.config.dtype_policy().name == "float32"
    assert config_json(emitted) == config_json(live)
    for model in (live, emitted):
        hidden, output = model.layers[0], model.layers[-1]
        assert hidden.dtype_policy.name == precision and hidden.kernel.dtype == "float32"
        assert output.dtype_policy.name == "float32"
    compile_model(live, resolved.plan)
    script.compile_model(emitted)
    scaled = precision == "mixed_float16"
    for model in (live, emitted):
        assert (type(model.optimizer).__name__ == "LossScaleOptimizer") == scaled


@pytest.mark.slow
@pytest.mark.tf
def test_keras_still_needs_the_multi_worker_fix(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without `fix_keras_multi_worker`, two workers fail inside Keras' `fit` (keras-team/keras
    #20585). When this test fails, Keras has fixed it: the fix can go."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where the workers' logs stay
    resolved = resolve_file(digits_spec(tmp_path, "multi_worker_mirrored"))
    text = emit_script(resolved, script_dir=tmp_path)
    assert text.count("    fix_keras_multi_worker()\n") == 1
    script = tmp_path / "unfixed.py"
    script.write_text(text.replace("    fix_keras_multi_worker()\n", "    pass\n"))
    run = tmp_path / "run"
    try:
        assert cluster.launch([sys.executable, str(script), "--out", str(run)], 2) != 0
    finally:
        for folder in worker_folders(run):  # a failed worker leaves its folder
            shutil.rmtree(folder)
    out, err = capfd.readouterr()
    assert "PerReplica" in out + err or "Invalid reduction dimension" in out + err

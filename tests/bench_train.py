"""Benchmark: training throughput of `speck train` against the tutorial's `model.fit` on NumPy
arrays, and against the emitted script (a script, not a test).

The model is the tutorial's denoising autoencoder (section 7.4.3), trained on random 32x32x3
images with Gaussian noise, batch 64. Every path trains two epochs, and what counts is the
second (the first one traces and warms up): samples per second over its training steps alone,
measured the same way for each path (`runtime.training.epoch_timer`), and the CPU seconds
the process spent in them (all threads), which other programs on the machine disturb less.

  numpy-fit   the tutorial's style: model.fit(x_noisy, x_clean, batch_size=64, shuffle=True),
              on the same float32 arrays speck prepares
  numpy-fit-f64  the same with the tutorial's float64 noisy inputs (`x + 0.5 * np.random.normal`
              is float64 in NumPy), which is what its code really feeds Keras
  speck       `speck train`'s path: runtime.training.train (tf.data from make_dataset: cache,
              shuffle, batch, prefetch), in this process
  speck+...   the same with a settings variant (jit_compile, steps_per_execution), if asked for
  emitted     the script `speck emit` writes for the same spec, run as its own process

The paths run interleaved, `--rounds` times each, and the medians are compared.

    python tests/bench_train.py [--samples 5000] [--rounds 3] [--variants jit,spe8] [--no-emit]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
BATCH = 64
VARIANTS = {
    "jit": {"jit_compile": True},
    "spe8": {"steps_per_execution": 8},
    "jit+spe8": {"jit_compile": True, "steps_per_execution": 8},
}


def conv(filters: int, activation: str) -> dict[str, Any]:
    args = {"filters": filters, "kernel_size": 3, "activation": activation, "padding": "same"}
    return {"Conv2D": args}


def spec(samples: int) -> dict[str, Any]:
    return {
        "speck": 1,
        "name": "bench-autoencoder",
        "seed": 7,
        "data": {
            "source": {"npz": "images.npz"},
            "task": {"denoise": {"noise": {"normal": {"stddev": 0.2}}, "clip": [0, 1]}},
            "limit": {"train": samples},
        },
        "model": {
            "input": [32, 32, 3],
            "layers": [
                conv(32, "relu"),
                {"MaxPooling2D": {"pool_size": 2, "padding": "same"}},
                conv(32, "relu"),
                {"UpSampling2D": {"size": 2}},
                conv(3, "sigmoid"),
            ],
        },
        "compile": {"optimizer": "adadelta", "loss": "binary_crossentropy"},
        "fit": {"epochs": 2, "batch_size": BATCH, "shuffle": True, "verbose": 0},
    }


def cpu_timer(cpu: list[float]) -> Any:
    """A callback that appends the process's CPU seconds (all threads) spent in each epoch's
    training steps: less disturbed than wall time when other programs share the machine."""
    import keras

    marks: dict[str, float] = {}

    def begin(epoch: int, logs: Any = None) -> None:
        marks["begin"] = marks["last"] = time.process_time()

    def batch_end(batch: int, logs: Any = None) -> None:
        marks["last"] = time.process_time()

    def end(epoch: int, logs: Any = None) -> None:
        cpu.append(marks["last"] - marks["begin"])

    return keras.callbacks.LambdaCallback(
        on_epoch_begin=begin, on_train_batch_end=batch_end, on_epoch_end=end
    )


def numpy_fit(resolved: Any, x_noisy: np.ndarray, x_clean: np.ndarray, cpu: list[float]) -> float:
    """The tutorial's way: fit on NumPy arrays; samples/s of the second epoch's steps."""
    import keras

    from speck.build import build_model, compile_model
    from speck.runtime.training import epoch_timer

    keras.utils.set_random_seed(7)
    model = build_model(resolved.graph)
    compile_model(model, resolved.plan)
    timings: dict[str, list[float]] = {"epoch": [], "train": []}
    model.fit(
        x_noisy,
        x_clean,
        epochs=2,
        batch_size=BATCH,
        shuffle=True,
        verbose=0,
        callbacks=[epoch_timer(timings), cpu_timer(cpu)],
    )
    return len(x_noisy) / timings["train"][1]


def speck_path(resolved: Any, out: Path, extra: dict[str, Any], cpu: list[float]) -> float:
    """`speck train`'s path through runtime.training.train; samples/s of the second epoch."""
    from speck.build import build_model, compile_model
    from speck.runtime.training import train
    from speck.train import callbacks_maker, settings_for

    make_callbacks = callbacks_maker(resolved.plan)
    metrics = train(
        lambda: build_model(resolved.graph),
        lambda model: compile_model(model, resolved.plan),
        lambda out_dir, steps: [*make_callbacks(out_dir, steps), cpu_timer(cpu)],
        resolved.plan.data,
        {**settings_for(resolved), **extra},
        out,
    )
    return float(metrics["samples_per_second"])


def emitted(resolved: Any, folder: Path, out: Path) -> float | None:
    """The emitted script of the spec, run as a process; None when emit is not available."""
    try:
        from speck.emit import emit_script
    except ImportError:
        return None
    script = folder / "bench_autoencoder.py"
    script.write_text(emit_script(resolved, "bench.yaml", folder))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    subprocess.run(
        [sys.executable, str(script), "--out", str(out)],
        check=True,
        cwd=folder,
        env=env,
        stdout=subprocess.DEVNULL,
        timeout=3600,
    )
    return float(json.loads((out / "metrics.json").read_text())["samples_per_second"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--variants", default="", help=f"comma-separated: {', '.join(VARIANTS)}")
    parser.add_argument("--no-emit", action="store_true", help="skip the emitted script")
    args = parser.parse_args()
    variants = [v for v in args.variants.split(",") if v]

    from speck.pipeline import resolve_file

    rng = np.random.default_rng(0)
    images = rng.random((args.samples, 32, 32, 3), dtype=np.float32)
    results: dict[str, list[float]] = {"numpy-fit": [], "numpy-fit-f64": [], "speck": []}
    results.update({f"speck+{v}": [] for v in variants})
    cpu: dict[str, list[float]] = {name: [] for name in results}
    if not args.no_emit:
        results["emitted"] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        np.savez(folder / "images.npz", x=images)
        path = folder / "bench.yaml"
        path.write_text(yaml.safe_dump(spec(args.samples), sort_keys=False))
        resolved = resolve_file(path)
        from speck.runtime.data import prepare_data

        splits = prepare_data(resolved.plan.data, 7, str(folder))  # the same noisy inputs
        for r in range(args.rounds):
            x, y = splits.x_train, splits.y_train
            results["numpy-fit"].append(numpy_fit(resolved, x, y, cpu["numpy-fit"]))
            x64 = x.astype(np.float64)
            results["numpy-fit-f64"].append(numpy_fit(resolved, x64, y, cpu["numpy-fit-f64"]))
            results["speck"].append(speck_path(resolved, folder / f"run{r}", {}, cpu["speck"]))
            for v in variants:
                name, out = f"speck+{v}", folder / f"run{r}{v}"
                results[name].append(speck_path(resolved, out, VARIANTS[v], cpu[name]))
            if "emitted" in results:
                value = emitted(resolved, folder, folder / f"emitted{r}")
                if value is None:
                    del results["emitted"]
                else:
                    results["emitted"].append(value)
            print(
                f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:.0f}" for k, v in results.items() if v),
                flush=True,
            )

    import platform

    import keras
    import tensorflow as tf

    base = statistics.median(results["numpy-fit"])
    print(
        f"\n{args.samples} images 32x32x3, batch {BATCH}, second epoch; "
        f"TensorFlow {tf.__version__}, Keras {keras.__version__}, {os.cpu_count()} CPUs, "
        f"{platform.machine()}, GPUs: {len(tf.config.list_physical_devices('GPU'))}"
    )
    print(f"{'path':<18}{'samples/s (median)':>20}{'vs numpy-fit':>14}   all rounds")
    for name, values in results.items():
        median = statistics.median(values)
        rounds = ", ".join(f"{v:.0f}" for v in values)
        print(f"{name:<18}{median:>20.0f}{median / base:>13.2f}x   {rounds}")
    # CPU seconds of the second epoch (every path's list holds epochs 1, 2 of each round)
    cpu_base = statistics.median(cpu["numpy-fit"][1::2])
    print(f"\n{'path':<18}{'CPU s/epoch (median)':>20}{'numpy-fit / it':>15}")
    for name, values in cpu.items():
        median = statistics.median(values[1::2])
        print(f"{name:<18}{median:>20.2f}{cpu_base / median:>14.2f}x")
    if "emitted" not in results:
        print("emitted: not measured (--no-emit, or speck.emit is not available)")
    ratio = statistics.median(results["speck"]) / base
    print(f"\nspeck / numpy-fit = {ratio:.2f}x (target >= 1.6x)")


if __name__ == "__main__":
    main()

"""Benchmark: speck's training throughput against a careful hand-written tf.data program, on a
GPU when there is one (a script, not a test).

Two models, each in float32 and in mixed precision (`mixed_float16` on a GPU, `mixed_bfloat16`
on a CPU, where float16 is many times slower), each trained three ways as whole processes:

  speck     `speck train SPEC` (the program `speck emit` writes, run in-process)
  script    that emitted program run as `python script.py`
  by hand   a program written here the way a careful Keras user would: arrays cast once,
            tf.data with cache, shuffle, batch and prefetch, the policy set before the model,
            the output layer in float32

The models are the tutorial's denoising convolutional autoencoder (section 7.4.3; 32x32x3
images, batch 64) and ResNet-20 (the CIFAR ResNet of He et al.: 3 stages of 3 residual blocks,
16/32/64 filters, batch normalization; 0.27M parameters, batch 128), on random images written
to a temporary `.npz`, so that nothing is downloaded. Each path reports samples per second of
`fit` over all its epochs (training rows times epochs over the seconds `fit` took, as speck's
`metrics.json` does). Rounds are interleaved and the script prints medians side by side.

Without a GPU it says so and runs the same comparison on the CPU with fewer images.

    python tests/benchmarks/bench_gpu.py [--rounds 3] [--epochs 3] [--images N]
        [--only autoencoder|resnet]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import yaml

BY_HAND = """\
import json
import sys
import time

import keras
import numpy as np
import tensorflow as tf
from keras import layers

npz, model_name, precision, epochs, batch_size, out = sys.argv[1:7]
epochs, batch_size = int(epochs), int(batch_size)
keras.utils.set_random_seed(7)
keras.config.set_dtype_policy(precision)  # before any layer is made


def resnet20(inputs):
    x = layers.Conv2D(16, 3, padding="same", use_bias=False)(inputs)
    x = layers.ReLU()(layers.BatchNormalization()(x))
    for stage, filters in enumerate((16, 32, 64)):
        for block in range(3):
            strides = 2 if stage > 0 and block == 0 else 1
            y = layers.Conv2D(filters, 3, strides=strides, padding="same", use_bias=False)(x)
            y = layers.ReLU()(layers.BatchNormalization()(y))
            y = layers.Conv2D(filters, 3, padding="same", use_bias=False)(y)
            y = layers.BatchNormalization()(y)
            if strides != 1:
                x = layers.Conv2D(filters, 1, strides=strides, use_bias=False)(x)
                x = layers.BatchNormalization()(x)
            x = layers.ReLU()(layers.Add()([x, y]))
    x = layers.GlobalAveragePooling2D()(x)
    return layers.Dense(10, activation="softmax", dtype="float32")(x)  # float32 out


with np.load(npz) as data:
    x = data["x"].astype("float32") / 255.0
    labels = data["y"]
if model_name == "autoencoder":
    rng = np.random.default_rng(7)
    inputs = np.clip(x + rng.normal(0.0, 0.2, x.shape), 0.0, 1.0).astype("float32")
    targets = x
    model = keras.Sequential([
        keras.Input(shape=(32, 32, 3)),
        layers.Conv2D(32, 3, activation="relu", padding="same"),
        layers.MaxPooling2D(2, padding="same"),
        layers.Conv2D(32, 3, activation="relu", padding="same"),
        layers.UpSampling2D(2),
        layers.Conv2D(3, 3, activation="sigmoid", padding="same", dtype="float32"),
    ])
    model.compile(optimizer=keras.optimizers.Adadelta(learning_rate=1.0),
                  loss="binary_crossentropy")
else:
    inputs, targets = x, labels
    image = keras.Input(shape=(32, 32, 3))
    model = keras.Model(image, resnet20(image))
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1, momentum=0.9),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])

dataset = (
    tf.data.Dataset.from_tensor_slices((inputs, targets))
    .cache()
    .shuffle(len(inputs), seed=7)
    .batch(batch_size)
    .prefetch(tf.data.AUTOTUNE)
)
started = time.perf_counter()
model.fit(dataset, epochs=epochs, verbose=2)
seconds = time.perf_counter() - started
with open(out, "w") as f:
    json.dump({"samples_per_second": len(inputs) * epochs / seconds,
               "parameters": model.count_params()}, f)
"""

BATCH = {"autoencoder": 64, "resnet": 128}


def conv(filters: int, kernel: int = 3, strides: int = 1, **more: Any) -> dict[str, Any]:
    args = {"filters": filters, "kernel_size": kernel, "padding": "same", "use_bias": False}
    return {"Conv2D": {**args, **({"strides": strides} if strides != 1 else {}), **more}}


def resnet20_layers() -> list[dict[str, Any]]:
    """ResNet-20 as spec layers, node for node the `resnet20` of the hand-written program."""
    out: list[dict[str, Any]] = []

    def add(name: str, layer: dict[str, Any], inputs: str | list[str]) -> str:
        out.append({"name": name, **layer, "from": inputs})
        return name

    x = add("stem", conv(16), "image")
    x = add("stem_relu", {"ReLU": {}}, add("stem_norm", {"BatchNormalization": {}}, x))
    for stage, filters in enumerate((16, 32, 64)):
        for block in range(3):
            strides = 2 if stage > 0 and block == 0 else 1
            n = f"s{stage}b{block}"
            y = add(f"{n}_conv1", conv(filters, strides=strides), x)
            y = add(f"{n}_relu1", {"ReLU": {}}, add(f"{n}_norm1", {"BatchNormalization": {}}, y))
            y = add(f"{n}_norm2", {"BatchNormalization": {}}, add(f"{n}_conv2", conv(filters), y))
            if strides != 1:
                x = add(f"{n}_project", conv(filters, 1, strides, padding="valid"), x)
                x = add(f"{n}_project_norm", {"BatchNormalization": {}}, x)
            x = add(f"{n}_relu", {"ReLU": {}}, add(f"{n}_add", {"Add": {}}, [x, y]))
    x = add("pool", {"GlobalAveragePooling2D": {}}, x)
    add("classes", {"Dense": {"units": 10, "activation": "softmax"}}, x)
    return out


def spec(model_name: str, precision: str, epochs: int) -> dict[str, Any]:
    fit = {"epochs": epochs, "batch_size": BATCH[model_name], "shuffle": True, "verbose": 2}
    common = {"speck": 1, "seed": 7, "precision": precision, "fit": fit}
    if model_name == "autoencoder":
        return {
            **common,
            "name": "bench-autoencoder",
            "data": {
                "source": {"npz": "images.npz", "x": "x"},
                "scale": "1/255",
                "task": {"denoise": {"noise": {"normal": {"stddev": 0.2}}, "clip": [0, 1]}},
            },
            "model": {
                "input": [32, 32, 3],
                "layers": [
                    {
                        "Conv2D": {
                            "filters": 32,
                            "kernel_size": 3,
                            "activation": "relu",
                            "padding": "same",
                        }
                    },
                    {"MaxPooling2D": {"pool_size": 2, "padding": "same"}},
                    {
                        "Conv2D": {
                            "filters": 32,
                            "kernel_size": 3,
                            "activation": "relu",
                            "padding": "same",
                        }
                    },
                    {"UpSampling2D": {"size": 2}},
                    {
                        "Conv2D": {
                            "filters": 3,
                            "kernel_size": 3,
                            "activation": "sigmoid",
                            "padding": "same",
                        }
                    },
                ],
            },
            "compile": {
                "optimizer": {"Adadelta": {"learning_rate": 1.0}},
                "loss": "binary_crossentropy",
            },
        }
    return {
        **common,
        "name": "bench-resnet20",
        "data": {"source": {"npz": "images.npz", "x": "x", "y": "y"}, "scale": "1/255"},
        "model": {
            "inputs": {"image": [32, 32, 3]},
            "layers": resnet20_layers(),
            "outputs": ["classes"],
        },
        "compile": {
            "optimizer": {"SGD": {"learning_rate": 0.1, "momentum": 0.9}},
            "loss": "sparse_categorical_crossentropy",
            "metrics": ["accuracy"],
        },
    }


def has_gpu(env: dict[str, str]) -> bool:
    probe = "import tensorflow as tf; print(len(tf.config.list_physical_devices('GPU')))"
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True)
    return done.returncode == 0 and done.stdout.strip().splitlines()[-1] != "0"


def run(command: list[str], env: dict[str, str], result: Path) -> dict[str, Any]:
    result.unlink(missing_ok=True)
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(result.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--images", type=int, help="training images (GPU 20000, CPU 1000)")
    parser.add_argument("--only", choices=sorted(BATCH), help="one model only")
    args = parser.parse_args()

    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "MPLBACKEND": "Agg"}
    gpu = has_gpu(env)
    mixed = "mixed_float16" if gpu else "mixed_bfloat16"
    images = args.images or (20000 if gpu else 1000)
    if not gpu:
        print("No GPU here: running the CPU comparison instead (mixed_bfloat16, fewer images).")
    work = Path(tempfile.mkdtemp(prefix="speck-bench-gpu-"))
    rng = np.random.default_rng(0)
    np.savez(
        work / "images.npz",
        x=rng.integers(0, 256, (images, 32, 32, 3), dtype=np.uint8),
        y=rng.integers(0, 10, images),
    )
    (work / "by_hand.py").write_text(BY_HAND)
    speck = [sys.executable, "-m", "speck"]
    rows = []
    for model_name in [args.only] if args.only else list(BATCH):
        for precision in ("float32", mixed):
            stem = f"{model_name}-{precision}"
            spec_path = work / f"{stem}.yaml"
            spec_path.write_text(yaml.safe_dump(spec(model_name, precision, args.epochs)))
            script = work / f"{stem}.py"
            subprocess.run([*speck, "emit", str(spec_path), "-o", str(script)], env=env, check=True)
            out = {name: work / f"{stem}-{name}" for name in ("speck", "script", "by hand")}
            paths = {
                "speck": [*speck, "train", str(spec_path), "--out", str(out["speck"]), "--force"],
                "script": [sys.executable, str(script), "--out", str(out["script"])],
                "by hand": [
                    *(sys.executable, str(work / "by_hand.py"), str(work / "images.npz")),
                    *(model_name, precision, str(args.epochs), str(BATCH[model_name])),
                    str(work / f"{stem}-by-hand.json"),
                ],
            }
            results = {
                "speck": out["speck"] / "metrics.json",
                "script": out["script"] / "metrics.json",
                "by hand": work / f"{stem}-by-hand.json",
            }
            rates: dict[str, list[float]] = {name: [] for name in paths}
            params = {}
            for _ in range(args.rounds):
                for name, command in paths.items():
                    got = run(command, env, results[name])
                    rates[name].append(float(got["samples_per_second"]))
                    params[name] = got["parameters"]
            medians = {name: statistics.median(r) for name, r in rates.items()}
            rows.append((model_name, precision, medians, params))
            print(
                f"{model_name:<12} {precision:<15} "
                + "  ".join(f"{name} {rate:8.0f}" for name, rate in medians.items())
                + f"  speck/by hand {medians['speck'] / medians['by hand']:.3f}"
                + f"  parameters {sorted(set(params.values()))}",
                flush=True,
            )
    print(
        f"\nsamples per second, median of {args.rounds} "
        f"({'GPU' if gpu else 'CPU'}, {images} images)"
    )
    print(
        f"{'model':<12} {'precision':<15} {'speck':>9} {'script':>9} {'by hand':>9} "
        f"{'speck/by hand':>14}"
    )
    for model_name, precision, medians, _ in rows:
        print(
            f"{model_name:<12} {precision:<15} {medians['speck']:9.0f} {medians['script']:9.0f} "
            f"{medians['by hand']:9.0f} {medians['speck'] / medians['by hand']:14.3f}"
        )


if __name__ == "__main__":
    main()

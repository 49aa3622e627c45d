"""Benchmark: the whole `speck train` process against the tutorial's own program (a script,
not a test).

The tutorial's section 7.4.3 trains a denoising autoencoder on CIFAR-10's automobiles: NumPy
arrays into `fit` with the noisy test images as validation data, then `predict` and a figure of
noisy inputs over reconstructions, then the model saved. `TUTORIAL` below is that program as
its readers write it today (Keras 3 spellings, the figure saved instead of shown). The spec
`SPEC` asks speck for the same job on the same file: the same arrays, scale, noise, model,
optimizer, loss, epochs and batch size.

Both run as whole processes on 5,000 + 1,000 random 32x32x3 images (an `.npz` written to a
temporary folder, so no download), interleaved A B A B ..., and the script prints for each the
median wall time and CPU seconds (user + system of the process and its threads), and the
ratio speck / tutorial pair by pair (median, min, max). On a machine with two cores the
convolutions dominate, so compare the CPU seconds too before believing a wall-time ratio.

    python tests/benchmarks/bench_tutorial.py [--rounds 3] [--epochs 3] [--train 5000] [--test 1000]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

TUTORIAL = """\
import sys

import keras
import matplotlib
import numpy as np
from keras import layers

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

out = sys.argv[2]
with np.load(sys.argv[1]) as data:
    x_train, x_test = data["x_train"], data["x_test"]
x_train = x_train.astype("float32") / 255.0
x_test = x_test.astype("float32") / 255.0
x_train_n = np.clip(x_train + np.random.normal(0.0, 0.2, size=x_train.shape), 0.0, 1.0)
x_test_n = np.clip(x_test + np.random.normal(0.0, 0.2, size=x_test.shape), 0.0, 1.0)

model = keras.Sequential([
    keras.Input(shape=(32, 32, 3)),
    layers.Conv2D(32, 3, activation="relu", padding="same"),
    layers.MaxPooling2D(2, padding="same"),
    layers.Conv2D(32, 3, activation="relu", padding="same"),
    layers.UpSampling2D(2),
    layers.Conv2D(3, 3, activation="sigmoid", padding="same"),
])
model.compile(optimizer=keras.optimizers.Adadelta(learning_rate=1.0), loss="binary_crossentropy")
model.fit(x_train_n, x_train, epochs=int(sys.argv[3]), batch_size=64, shuffle=True,
          validation_data=(x_test_n, x_test), verbose=2)

n = 10
decoded = model.predict(x_test_n[:n], verbose=0)
fig, axes = plt.subplots(2, n, figsize=(20, 5))
for i in range(n):
    for ax, image in ((axes[0, i], x_test_n[i]), (axes[1, i], decoded[i])):
        ax.imshow(image)
        ax.set_axis_off()
fig.tight_layout()
fig.savefig(f"{out}/reconstructions.png")
model.save(f"{out}/model.keras")
"""

SPEC = """\
speck: 1
name: bench-tutorial-autoencoder
seed: 7
data:
  source: {{npz: cars.npz, x: x_train, x_test: x_test}}
  scale: 1/255
  task:
    denoise: {{noise: {{normal: {{stddev: 0.2}}}}, clip: [0, 1]}}
  validation: test
model:
  input: [32, 32, 3]
  layers:
    - Conv2D: {{filters: 32, kernel_size: 3, activation: relu, padding: same}}
    - MaxPooling2D: {{pool_size: 2, padding: same}}
    - Conv2D: {{filters: 32, kernel_size: 3, activation: relu, padding: same}}
    - UpSampling2D: {{size: 2}}
    - Conv2D: {{filters: 3, kernel_size: 3, activation: sigmoid, padding: same}}
compile: {{optimizer: {{Adadelta: {{learning_rate: 1.0}}}}, loss: binary_crossentropy}}
fit: {{epochs: {epochs}, batch_size: 64, shuffle: true, verbose: 2}}
"""


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system, all threads) of one whole process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--train", type=int, default=5000)
    parser.add_argument("--test", type=int, default=1000)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="speck-bench-"))
    rng = np.random.default_rng(0)
    np.savez(
        work / "cars.npz",
        x_train=rng.integers(0, 256, (args.train, 32, 32, 3), dtype=np.uint8),
        x_test=rng.integers(0, 256, (args.test, 32, 32, 3), dtype=np.uint8),
    )
    (work / "tutorial.py").write_text(TUTORIAL)
    (work / "spec.yaml").write_text(SPEC.format(epochs=args.epochs))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "MPLBACKEND": "Agg"}
    tutorial_out = work / "tutorial-run"
    tutorial_out.mkdir()
    commands = {
        "tutorial": [
            sys.executable,
            str(work / "tutorial.py"),
            str(work / "cars.npz"),
            str(tutorial_out),
            str(args.epochs),
        ],
        "speck": [
            sys.executable,
            "-m",
            "speck",
            "train",
            str(work / "spec.yaml"),
            "--out",
            str(work / "speck-run"),
            "--force",
        ],
    }
    print(
        f"{args.train} + {args.test} images, {args.epochs} epochs, {args.rounds} rounds "
        f"interleaved, in {work}"
    )
    timed(commands["tutorial"], env)  # warm the file cache and bytecode, not counted
    timed(commands["speck"], env)
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    for round_ in range(args.rounds):
        for name, command in commands.items():
            results[name].append(timed(command, env))
            wall, cpu = results[name][-1]
            print(f"  round {round_ + 1} {name:<9} wall {wall:6.2f} s  cpu {cpu:6.2f} s")
    for name, rows in results.items():
        walls, cpus = zip(*rows, strict=True)
        print(
            f"{name:<9} median wall {statistics.median(walls):6.2f} s "
            f"(min {min(walls):.2f}, max {max(walls):.2f}), "
            f"median cpu {statistics.median(cpus):6.2f} s"
        )
    pairs = list(zip(results["speck"], results["tutorial"], strict=True))
    wall_ratios = [s[0] / t[0] for s, t in pairs]
    cpu_ratios = [s[1] / t[1] for s, t in pairs]
    print(
        f"speck / tutorial: wall {statistics.median(wall_ratios):.3f} "
        f"(min {min(wall_ratios):.3f}, max {max(wall_ratios):.3f}), "
        f"cpu {statistics.median(cpu_ratios):.3f} "
        f"(min {min(cpu_ratios):.3f}, max {max(cpu_ratios):.3f})"
    )


if __name__ == "__main__":
    main()

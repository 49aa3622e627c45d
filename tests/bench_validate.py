"""Benchmark: how fast `speck validate` is, measured side by side (a script, not a test).

Prints, for the same machine in one run:
  1. the whole `speck validate specs/*` process against `python -c "import tensorflow"`
     (interleaved runs, medians and their ratio; the issue asks for at most 1/20);
  2. a ResNet-152 written as a spec (about 500 layers): the whole process and the in-process
     pipeline (load -> validate -> resolve -> check) time (the issue asks for under 1 s).

    python tests/bench_validate.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def resnet152_spec() -> dict:
    """ResNet-152 (bottleneck blocks 3-8-36-3) as a functional speck spec."""
    layers: list[dict] = []

    def add(name: str, kind: str, args: dict, src: str | list[str]) -> str:
        layers.append({"name": name, kind: args, "from": src})
        return name

    x = add(
        "stem_conv",
        "Conv2D",
        {"filters": 64, "kernel_size": 7, "strides": 2, "padding": "same"},
        "image",
    )
    x = add("stem_bn", "BatchNormalization", {}, x)
    x = add("stem_relu", "Activation", {"activation": "relu"}, x)
    x = add("stem_pool", "MaxPooling2D", {"pool_size": 3, "strides": 2, "padding": "same"}, x)
    for stage, (blocks, width) in enumerate(zip((3, 8, 36, 3), (64, 128, 256, 512), strict=True)):
        for block in range(blocks):
            p = f"s{stage + 1}b{block + 1}"
            strides = 2 if block == 0 and stage > 0 else 1
            y = add(
                f"{p}_conv1", "Conv2D", {"filters": width, "kernel_size": 1, "strides": strides}, x
            )
            y = add(f"{p}_bn1", "BatchNormalization", {}, y)
            y = add(f"{p}_relu1", "Activation", {"activation": "relu"}, y)
            y = add(
                f"{p}_conv2", "Conv2D", {"filters": width, "kernel_size": 3, "padding": "same"}, y
            )
            y = add(f"{p}_bn2", "BatchNormalization", {}, y)
            y = add(f"{p}_relu2", "Activation", {"activation": "relu"}, y)
            y = add(f"{p}_conv3", "Conv2D", {"filters": 4 * width, "kernel_size": 1}, y)
            y = add(f"{p}_bn3", "BatchNormalization", {}, y)
            shortcut = x
            if block == 0:
                shortcut = add(
                    f"{p}_proj",
                    "Conv2D",
                    {"filters": 4 * width, "kernel_size": 1, "strides": strides},
                    x,
                )
                shortcut = add(f"{p}_proj_bn", "BatchNormalization", {}, shortcut)
            y = add(f"{p}_add", "Add", {}, [shortcut, y])
            x = add(f"{p}_out", "Activation", {"activation": "relu"}, y)
    x = add("pool", "GlobalAveragePooling2D", {}, x)
    add("probs", "Dense", {"units": 1000, "activation": "softmax"}, x)
    return {
        "speck": 1,
        "name": "resnet152",
        "model": {"inputs": {"image": [224, 224, 3]}, "layers": layers, "outputs": ["probs"]},
        "compile": {"optimizer": "adam", "loss": "sparse_categorical_crossentropy"},
    }


ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
"""Both commands run as a user's would: with Python's bytecode cache (the warm-up writes it)."""


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    result = subprocess.run(cmd, cwd=ROOT, env=ENV, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if result.returncode not in (0,):
        sys.exit(f"failed: {' '.join(cmd)}\n{result.stdout}{result.stderr}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    specs = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "specs").glob("*.y*ml"))
    speck = [sys.executable, "-m", "speck", "validate", "--quiet", *specs]
    tf = [sys.executable, "-c", "import tensorflow"]
    timed(speck), timed(tf)  # warm the file cache
    validate_s, tf_s = [], []
    for _ in range(runs):
        validate_s.append(timed(speck))
        tf_s.append(timed(tf))
    v, t = statistics.median(validate_s), statistics.median(tf_s)
    print(f"speck validate ({len(specs)} specs), whole process: median {v:.3f} s")
    print(f"python -c 'import tensorflow':              median {t:.3f} s")
    print(f"ratio validate / import tensorflow: 1/{t / v:.1f}  (target: at most 1/20)")

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "resnet152.yaml"
        spec = resnet152_spec()
        path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
        n_layers = len(spec["model"]["layers"])
        cli = [sys.executable, "-m", "speck", "validate", "--quiet", str(path)]
        timed(cli)
        process = statistics.median(timed(cli) for _ in range(runs))
        from speck.pipeline import analyze

        analyze(path)
        in_process = []
        for _ in range(runs):
            start = time.perf_counter()
            analysis = analyze(path)
            in_process.append(time.perf_counter() - start)
        assert analysis.ok, [d.format() for d in analysis.diagnostics]
        from speck.shapes import total_params

        assert analysis.shapes is not None and analysis.resolved is not None
        params = total_params(analysis.shapes, analysis.resolved.graph)
        print(f"ResNet-152 spec ({n_layers} layers, {params:,} parameters statically):")
        print(f"  whole `speck validate` process: median {process:.3f} s  (target: under 1 s)")
        print(f"  pipeline in-process:            median {statistics.median(in_process):.3f} s")


if __name__ == "__main__":
    main()

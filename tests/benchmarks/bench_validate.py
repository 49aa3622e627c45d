"""Benchmark: how fast `speck validate` is, measured side by side (a script, not a test).

Prints, for the same machine in one run:
  1. the whole `speck validate specs/*` process, and one spec's, against
     `python -c "import tensorflow"`
     (interleaved runs; medians of wall-clock and of CPU time, which a busy machine disturbs
     less, and their ratios; the issue asks for at most 1/20);
  2. a ResNet-152 written as a spec (about 500 layers): the whole process and the in-process
     pipeline (load -> validate -> resolve -> check) time (the issue asks for under 1 s);
  3. functional specs of 1,000, 5,000 and 10,000 nodes (residual blocks), interleaved: the
     whole process and the in-process pipeline, and the 10,000 / 1,000 ratio (the issue asks
     for at most 12).

    python tests/benchmarks/bench_validate.py [--runs 5] [--skip-tf]
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

ROOT = Path(__file__).resolve().parents[2]


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


def timed_cpu(cmd: list[str]) -> tuple[float, float]:
    """Wall-clock seconds and CPU seconds (user + system) of one run of `cmd`."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    stderr = proc.stderr.read().decode() if proc.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{stderr}")
    return elapsed, usage.ru_utime + usage.ru_stime


def timed(cmd: list[str]) -> float:
    return timed_cpu(cmd)[0]


def residual_spec(nodes: int) -> dict:
    """A functional spec of `nodes` nodes: residual blocks of Dense + Add."""
    sys.path.insert(0, str(ROOT / "tests" / "front"))  # the scaling test's spec, beside it
    from test_scaling import residual_spec as blocks_spec

    return blocks_spec((nodes - 2) // 2)


def scaling(runs: int) -> None:
    """The sizes interleaved (1,000, 5,000, 10,000, 1,000, ...), so that a change in how busy
    the machine is touches every size alike; medians of CPU seconds."""
    from speck.pipeline import analyze

    sizes = (1000, 5000, 10000)
    process: dict[int, list[float]] = {n: [] for n in sizes}
    in_process: dict[int, list[float]] = {n: [] for n in sizes}
    with tempfile.TemporaryDirectory() as tmp:
        paths = {n: Path(tmp) / f"residual{n}.yaml" for n in sizes}
        for nodes, path in paths.items():
            spec = residual_spec(nodes)
            path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
            assert analyze(path).ok  # warm: the catalog, the models' validators
        for _ in range(runs):
            for nodes, path in paths.items():
                cli = [sys.executable, "-m", "speck", "validate", "--quiet", str(path)]
                process[nodes].append(timed_cpu(cli)[1])
                start = time.process_time()
                assert analyze(path).ok
                in_process[nodes].append(time.process_time() - start)
    whole = {n: statistics.median(v) for n, v in process.items()}
    pipeline = {n: statistics.median(v) for n, v in in_process.items()}
    for nodes in sizes:
        print(
            f"{nodes + 1:6,} nodes: whole process {whole[nodes]:.3f} s CPU, "
            f"pipeline in-process {pipeline[nodes]:.3f} s CPU"
        )
    print(
        f"10,000 / 1,000 nodes: whole process {whole[10000] / whole[1000]:.1f}x, "
        f"pipeline {pipeline[10000] / pipeline[1000]:.1f}x  (target: at most 12x)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--skip-tf", action="store_true", help="skip the TensorFlow comparison")
    args = parser.parse_args()
    runs = args.runs
    if not args.skip_tf:
        compare_with_tensorflow(runs)
    resnet(runs)
    scaling(runs)


def compare_with_tensorflow(runs: int) -> None:
    specs = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "specs").glob("*.y*ml"))
    one = "specs/digits_mlp.yaml"
    commands = {
        f"speck validate ({len(specs)} specs)": [
            sys.executable,
            "-m",
            "speck",
            "validate",
            "--quiet",
            *specs,
        ],
        f"speck validate {one}": [sys.executable, "-m", "speck", "validate", "--quiet", one],
        "python -c 'import tensorflow'": [sys.executable, "-c", "import tensorflow"],
    }
    for command in commands.values():
        timed(command)  # warm the file cache and the bytecode
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    for _ in range(runs):  # interleaved: A B C A B C ...
        for name, command in commands.items():
            times[name].append(timed_cpu(command))
    medians = {
        name: (statistics.median(w for w, _ in rows), statistics.median(c for _, c in rows))
        for name, rows in times.items()
    }
    *validates, tf = medians
    t, tc = medians[tf]
    for name in validates:
        v, vc = medians[name]
        print(f"{name}, whole process: median {v:.3f} s, {vc:.3f} s CPU")
        print(f"  ratio to import tensorflow: 1/{t / v:.1f} wall-clock, 1/{tc / vc:.1f} CPU")
    print(f"{tf}: median {t:.3f} s, {tc:.3f} s CPU  (target: validate at most 1/20 of it)")


def resnet(runs: int) -> None:

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
        from speck.checks.shapes import total_params

        assert analysis.shapes is not None and analysis.resolved is not None
        params = total_params(analysis.shapes, analysis.resolved.graph)
        print(f"ResNet-152 spec ({n_layers} layers, {params:,} parameters statically):")
        print(f"  whole `speck validate` process: median {process:.3f} s  (target: under 1 s)")
        print(f"  pipeline in-process:            median {statistics.median(in_process):.3f} s")


if __name__ == "__main__":
    main()

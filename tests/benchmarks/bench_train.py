"""Benchmark: `speck train SPEC` against `python generated/<spec>.py`, the same program run on its
own (a script, not a test).

`speck train` renders the program `speck emit` writes and runs it in-process, inside the run
folder's rules (validation, data pre-flight, the spec kept as `spec.yaml`). Both paths run as
whole processes, interleaved A B A B ... for `--rounds` rounds after one warm-up run of each, and
the script prints for each the median training throughput in samples per second (from the run's
`metrics.json`: training rows times epochs over the seconds `fit` took), the median wall time of
the whole process and its CPU seconds (user + system, all threads), and the ratio speck /
script pair by pair. On a machine with two shared cores compare the CPU seconds too before
believing a wall-time ratio.

The script is `generated/<stem>.py` for a spec in `specs/`, else one `speck emit` writes to a
temporary folder. The default spec is the tutorial's denoising autoencoder on photo patches.

    python tests/benchmarks/bench_train.py [SPEC] [--rounds 3] [--epochs 2]
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

from bench_tutorial import timed

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SPEC = ROOT / "specs" / "photo_autoencoder.yaml"


def script_for(spec: Path, work: Path, env: dict[str, str]) -> Path:
    """`generated/<stem>.py` when the spec is one of `specs/`, else a fresh `speck emit`."""
    generated = ROOT / "generated" / f"{spec.stem}.py"
    if spec.resolve().parent == ROOT / "specs" and generated.exists():
        return generated
    target = work / f"{spec.stem}.py"
    emit = [sys.executable, "-m", "speck", "emit", str(spec), "-o", str(target)]
    subprocess.run(emit, env=env, check=True, capture_output=True, timeout=120)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("spec", nargs="?", type=Path, default=DEFAULT_SPEC)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="speck-bench-train-"))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "MPLBACKEND": "Agg"}
    script = script_for(args.spec, work, env)
    runs = {"speck": work / "speck-run", "script": work / "script-run"}
    commands = {
        "speck": [
            *(sys.executable, "-m", "speck", "train", str(args.spec)),
            *("--out", str(runs["speck"]), "--force", "--set", f"fit.epochs={args.epochs}"),
        ],
        "script": [
            *(sys.executable, str(script)),
            *("--out", str(runs["script"]), "--epochs", str(args.epochs)),
        ],
    }
    print(f"{args.spec} vs {script}: {args.epochs} epochs, {args.rounds} rounds interleaved")
    for command in commands.values():  # warm the file cache and bytecode, not counted
        timed(command, env)
    results: dict[str, list[tuple[float, float, float]]] = {name: [] for name in commands}
    for round_ in range(args.rounds):
        for name, command in commands.items():
            wall, cpu = timed(command, env)
            metrics = json.loads((runs[name] / "metrics.json").read_text())
            rate = float(metrics["samples_per_second"])
            results[name].append((rate, wall, cpu))
            print(
                f"  round {round_ + 1} {name:<7} {rate:8.0f} samples/s  "
                f"wall {wall:6.2f} s  cpu {cpu:6.2f} s"
            )
    for name, rows in results.items():
        rates, walls, cpus = zip(*rows, strict=True)
        print(
            f"{name:<7} median {statistics.median(rates):8.0f} samples/s "
            f"(min {min(rates):.0f}, max {max(rates):.0f}), "
            f"wall {statistics.median(walls):6.2f} s, cpu {statistics.median(cpus):6.2f} s"
        )
    pairs = list(zip(results["speck"], results["script"], strict=True))
    for label, index in (("samples/s", 0), ("wall", 1), ("cpu", 2)):
        ratios = [s[index] / t[index] for s, t in pairs]
        print(
            f"speck / script {label:<9} {statistics.median(ratios):.3f} "
            f"(min {min(ratios):.3f}, max {max(ratios):.3f})"
        )


if __name__ == "__main__":
    main()

"""How long `speck emit` takes for every spec in specs/ (a benchmark to run by hand, not a test).

    python tests/bench_emit.py

Prints the time of one cold `speck emit --check` process (start-up and imports included) and of
emitting every spec in one warm process (load, validate, resolve, check, render).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def cold() -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "speck", "emit", "--check"],
        cwd=ROOT,
        capture_output=True,
        check=False,
    )
    return time.perf_counter() - start


def warm(rounds: int = 5) -> tuple[int, float]:
    from speck.backends.emit.program import all_specs, emit_script
    from speck.pipeline import resolve_file

    specs = all_specs(ROOT / "specs")
    for spec in specs:  # first round: imports, catalog, template and runtime source cached
        emit_script(resolve_file(spec), spec.name, ROOT / "generated")
    start = time.perf_counter()
    for _ in range(rounds):
        for spec in specs:
            emit_script(resolve_file(spec), spec.name, ROOT / "generated")
    return len(specs), (time.perf_counter() - start) / rounds


def main() -> None:
    seconds = cold()
    print(f"cold `speck emit --check` process, every spec: {seconds:.3f} s")
    count, seconds = warm()
    print(
        f"warm, {count} specs: {seconds * 1000:.1f} ms ({seconds * 1000 / count:.1f} ms per spec)"
    )


if __name__ == "__main__":
    main()

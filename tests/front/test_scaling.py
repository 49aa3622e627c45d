"""The cost of checking a spec grows linearly with its size.

Counted in function calls (Python functions and the C functions they call) rather than timed,
so the test is deterministic: a function that scans every node called once per node, or a
sort or a suggestion search per node, shows up as calls growing with the square of the spec's
size. Work done inside one C call (`name in a_list`) makes no calls of its own and shows only
in the times, which `tests/bench_validate.py` measures (1,000 / 5,000 / 10,000 nodes).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

from speck.pipeline import analyze


def residual_spec(blocks: int) -> dict:
    """A functional model of `blocks` residual blocks (Dense + Add), 2 nodes per block."""
    layers: list[dict] = [{"name": "d0", "Dense": {"units": 8}, "from": "x"}]
    previous = "d0"
    for i in range(1, blocks + 1):
        layers.append(
            {"name": f"a{i}", "Dense": {"units": 8, "activation": "relu"}, "from": previous}
        )
        layers.append({"name": f"r{i}", "Add": {}, "from": [previous, f"a{i}"]})
        previous = f"r{i}"
    layers.append({"name": "out", "Dense": {"units": 1}, "from": previous})
    return {
        "speck": 1,
        "name": f"residual{blocks}",
        "model": {"inputs": {"x": [8]}, "layers": layers, "outputs": ["out"]},
        "compile": {"optimizer": "adam", "loss": "mse"},
    }


def calls_to_analyze(path: Path) -> int:
    calls = 0

    def count(frame: object, event: str, arg: object) -> None:
        nonlocal calls
        if event in ("call", "c_call"):
            calls += 1

    sys.setprofile(count)
    try:
        analysis = analyze(path)
    finally:
        sys.setprofile(None)
    assert analysis.ok, [d.format() for d in analysis.diagnostics]
    return calls


@pytest.mark.slow
def test_checking_a_spec_four_times_as_long_takes_about_four_times_the_calls(
    tmp_path: Path,
) -> None:
    sizes = (150, 600)
    paths = []
    for blocks in sizes:
        path = tmp_path / f"residual{blocks}.yaml"
        path.write_text(yaml.safe_dump(residual_spec(blocks), sort_keys=False), encoding="utf-8")
        paths.append(path)
    analyze(paths[0])  # the first analysis builds the validators: not part of the count
    small, large = (calls_to_analyze(p) for p in paths)
    # Linear: 4x the nodes, 4x the calls (plus a fixed part). Quadratic would be about 16x.
    assert large < 4.3 * small, (small, large)


@pytest.mark.slow
def test_a_long_spec_without_aliases_is_not_taken_for_a_billion_laughs() -> None:
    """The bound on values applies to what aliases expand to; what is written out is bounded
    by the file's size alone (a 10,000-layer spec has over 100,000 values)."""
    from speck.front.load import MAX_NODES, load_text

    values = MAX_NODES + 1
    text = "weights: [" + ", ".join(["0"] * values) + "]\n"
    assert len(load_text(text, "long.yaml").data["weights"]) == values

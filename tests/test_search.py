"""Search spaces (`{tune: ...}`): found before validation, every corner checked through the
normal pipeline at the value's own line, and the spec's text written back with values in place
of the spaces. No TensorFlow."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from conftest import TUNE_SPECS, run_speck
from hypothesis import given, settings
from hypothesis import strategies as st

from speck.diagnostics import SpecError
from speck.front.load import load_file, load_text
from speck.pipeline import analyze, resolve_file
from speck.search import MAX_CANDIDATES, best_text, corner_sample, examine, find_spaces

HEAD = "speck: 1\nname: t\n"
EXAMPLE = Path(__file__).resolve().parents[1] / "specs" / "digits_mlp_tune.yaml"


def spec(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(HEAD + textwrap.dedent(body), encoding="utf-8")
    return path


def errors(tmp_path: Path, body: str) -> list[str]:
    analysis = analyze(spec(tmp_path, body))
    return [d.format() for d in analysis.diagnostics if d.severity == "error"]


def test_the_example_has_three_spaces_and_all_twelve_corners_are_valid() -> None:
    analysis = analyze(EXAMPLE)
    assert analysis.ok, analysis.diagnostics
    assert analysis.search is not None and analysis.examined is not None
    names = [s.name for s in analysis.search.spaces]
    assert names == [
        "model.layers[0].Dense.units",
        "model.layers[1].Dropout.rate",
        "compile.optimizer.Adam.learning_rate",
    ]
    # 2 ends of the int range x 3 choices x 2 ends of the float range
    assert analysis.examined.candidates == 12
    assert EXAMPLE in TUNE_SPECS


def test_a_bad_choice_value_is_an_error_at_its_own_line(tmp_path: Path) -> None:
    body = """\
    model:
      input: [8]
      layers:
        - Dense:
            units:
              tune:
                choice:
                  - 16
                  - -4
    """
    (line,) = errors(tmp_path, body)
    assert line.startswith(f"{tmp_path / 's.yaml'}:11:17: model.layers[0].Dense.units: ")
    assert "Received: units=-4" in line


def test_both_ends_of_a_range_are_checked(tmp_path: Path) -> None:
    body = """\
    model:
      input: [8]
      layers:
        - Dropout: {rate: {tune: {float: [0.2, 1.5]}}}
    """
    (line,) = errors(tmp_path, body)
    assert ":6:44: model.layers[0].Dropout.rate: " in line and "1.5" in line


def test_a_shape_problem_of_some_candidates_names_the_candidate(tmp_path: Path) -> None:
    body = """\
    model:
      input: [8]
      layers:
        - Dense: {units: {tune: {choice: [16, 32]}}}
        - Reshape: {target_shape: [4, 4]}
    """
    (line,) = errors(tmp_path, body)
    assert ":7:31: model.layers[1].Reshape.target_shape: " in line
    assert "(in the candidate model.layers[0].Dense.units=32)" in line


def test_a_problem_of_every_candidate_is_reported_once_without_one(tmp_path: Path) -> None:
    body = """\
    model:
      input: [8]
      layers:
        - Dense: {units: {tune: {choice: [16, 32]}}, activation: relux}
    """
    (line,) = errors(tmp_path, body)
    assert "relux" in line and "candidate" not in line


@pytest.mark.parametrize(
    ("space", "message"),
    [
        ("{tune: {choice: []}}", "choice takes a list of values"),
        ("{tune: {choice: [1, 2.5]}}", "all of one type"),
        ("{tune: {choice: [1, 1]}}", "1 is in the choice twice"),
        ("{tune: {int: [8, 4]}}", "must be above its low end"),
        ("{tune: {int: [0, 4], sampling: log}}", "log sampling needs a range above 0"),
        ("{tune: {int: [1, 4], step: 0}}", "step is a positive integer"),
        ("{tune: {int: [1, 4.5]}}", "ends are integers"),
        ("{tune: {int: [1, 4], float: [1, 2]}}", "exactly one of"),
        ("{tune: {choice: [1, 2], step: 2}}", "step belongs to int and float ranges"),
        ("{tune: {boolean: false}}", "write boolean: true"),
        ("{tune: {range: [1, 2]}}", "unknown key 'range'"),
        ("{tune: {int: [1, 2]}, other: 1}", "nothing else beside it"),
    ],
)
def test_spaces_written_wrong(tmp_path: Path, space: str, message: str) -> None:
    body = f"model:\n  input: [8]\n  layers:\n    - Dense: {{units: {space}}}\n"
    found = errors(tmp_path, body)
    assert any(message in line and ":6:" in line for line in found), found


def test_a_space_outside_model_compile_and_fit_is_refused(tmp_path: Path) -> None:
    body = """\
    data: {source: sklearn/digits, validation: {split: {tune: {choice: [0.1, 0.2]}}}}
    model: {input: [64], layers: [Dense: {units: 10}]}
    """
    (line,) = errors(tmp_path, body)
    assert "data.validation.split: a search space may stand only in model, compile, fit" in line


def test_an_objective_training_does_not_log_is_refused(tmp_path: Path) -> None:
    body = """\
    model: {input: [8], layers: [Dense: {units: {tune: {choice: [1, 2]}}}]}
    compile: {loss: mse, metrics: [mae]}
    tune: {objective: val_mae}
    """
    (line,) = errors(tmp_path, body)
    assert "tune.objective: training does not log 'val_mae'" in line
    assert "did you mean 'mae'?" in line


def test_commands_that_train_refuse_a_search_space(tmp_path: Path) -> None:
    path = spec(tmp_path, "model: {input: [8], layers: [Dense: {units: {tune: {int: [1, 4]}}}]}\n")
    with pytest.raises(SpecError) as info:
        resolve_file(path)
    (d,) = info.value.diagnostics
    assert d.path == ("model", "layers", 0, "Dense", "units") and "speck tune" in d.message


def test_large_spaces_are_sampled_so_that_every_value_is_checked(tmp_path: Path) -> None:
    layers = "".join("    - Dense: {units: {tune: {choice: [1, 2, 3]}}}\n" for _ in range(5))
    loaded = load_text(HEAD + "model:\n  input: [8]\n  layers:\n" + layers, "s.yaml")
    search = find_spaces(loaded)
    chosen, how = corner_sample(search.spaces)
    assert MAX_CANDIDATES < 3**5 and "sample" in how
    # all first, all last, and each of the 2 other values of each of the 5 spaces alone
    assert len(chosen) == 2 + 5 * 2
    for space in search.spaces:
        assert {c[space.name] for c in chosen} == {1, 2, 3}
    assert examine(search).candidates == len(chosen)


def test_best_text_keeps_comments_and_layout_and_validates() -> None:
    search = find_spaces(load_file(EXAMPLE))
    values = {
        "model.layers[0].Dense.units": 48,
        "model.layers[1].Dropout.rate": 0.1,
        "compile.optimizer.Adam.learning_rate": 0.0012,
    }
    text = best_text(search, values)
    old = EXAMPLE.read_text(encoding="utf-8").splitlines()
    new = text.splitlines()
    assert len(old) == len(new)
    changed = [(a, b) for a, b in zip(old, new, strict=True) if a != b]
    assert changed == [
        (
            "    - Dense: {units: {tune: {int: [16, 128], step: 16}}, activation: relu}",
            "    - Dense: {units: 48, activation: relu}",
        ),
        (
            "    - Dropout: {rate: {tune: {choice: [0.0, 0.1, 0.3]}}}",
            "    - Dropout: {rate: 0.1}",
        ),
        (
            "    Adam: {learning_rate: {tune: {float: [1.0e-4, 1.0e-2], sampling: log}}}",
            "    Adam: {learning_rate: 0.0012}",
        ),
    ]
    loaded = load_text(text, "best.yaml")
    assert find_spaces(loaded).spaces == []


def test_best_text_of_a_block_style_space(tmp_path: Path) -> None:
    body = """\
    model:
      input: [8]
      layers:
        - Dense:
            units:   # the width
              tune:
                choice:
                  - 16
                  - 32
            activation: relu  # kept
    """
    path = spec(tmp_path, body)
    text = best_text(find_spaces(load_file(path)), {"model.layers[0].Dense.units": 32})
    assert "        units: 32\n        activation: relu  # kept\n" in text
    assert load_text(text, "b.yaml").data["model"]["layers"][0]["Dense"]["units"] == 32


@settings(max_examples=40, deadline=None)
@given(
    units=st.integers(1, 8).map(lambda k: 16 * k),
    rate=st.sampled_from([0.0, 0.1, 0.3]),
    lr=st.floats(1e-4, 1e-2, allow_nan=False),
)
def test_best_text_reads_back_as_the_values(units: int, rate: float, lr: float) -> None:
    search = find_spaces(load_file(EXAMPLE))
    names = [s.name for s in search.spaces]
    text = best_text(search, dict(zip(names, [units, rate, lr], strict=True)))
    data = load_text(text, "best.yaml").data
    assert data["model"]["layers"][0]["Dense"]["units"] == units
    assert data["model"]["layers"][1]["Dropout"]["rate"] == rate
    assert data["compile"]["optimizer"]["Adam"]["learning_rate"] == lr


@pytest.mark.slow
def test_validate_checks_a_search_without_tensorflow_and_says_how_much(tmp_path: Path) -> None:
    proc = run_speck(["validate", str(EXAMPLE)], block_tf=True, tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        f"{EXAMPLE}: 3 search spaces: 12 candidates checked "
        "(every combination of the corner values)",
        "1 spec valid",
    ]
    emitted = run_speck(["emit", str(EXAMPLE), "--out", "-"], block_tf=True, tmp_path=tmp_path)
    assert emitted.returncode == 0 and "hp.Int(" in emitted.stdout, emitted.stderr


# --- optional layers ----------------------------------------------------------------------

OPTIONAL = """\
data: {source: sklearn/digits, validation: {split: 0.2}}
model:
  input: [64]
  layers:
    - Dense: {units: 32, activation: relu}
    - {tune: {optional: {Dropout: {rate: 0.2}}}}   # with or without dropout
    - tune:
        optional:
          Dense: {units: 16, activation: relu}
    - Dense: {units: 10, activation: softmax}
compile: {loss: sparse_categorical_crossentropy}
"""


def test_an_optional_layer_is_there_or_not_in_each_candidate(tmp_path: Path) -> None:
    search = find_spaces(load_file(spec(tmp_path, OPTIONAL)))
    names = [s.name for s in search.spaces]
    assert names == ["model.layers[1].optional", "model.layers[2].optional"]
    without = search.candidate({names[0]: False, names[1]: True})
    kinds = [next(iter(layer)) for layer in without.data["model"]["layers"]]
    assert kinds == ["Dense", "Dense", "Dense"]
    # the layer that moved up keeps its place in the file
    assert without.source.locate(("model", "layers", 1, "Dense", "units")).line == 11
    assert examine(search).candidates == 4


def test_best_text_writes_or_drops_an_optional_layer(tmp_path: Path) -> None:
    search = find_spaces(load_file(spec(tmp_path, OPTIONAL)))
    names = [s.name for s in search.spaces]
    text = best_text(search, {names[0]: True, names[1]: False})
    assert "    - Dropout: {rate: 0.2}   # with or without dropout\n" in text
    assert "units: 16" not in text and "tune" not in text
    layers = load_text(text, "b.yaml").data["model"]["layers"]
    assert layers == [
        {"Dense": {"units": 32, "activation": "relu"}},
        {"Dropout": {"rate": 0.2}},
        {"Dense": {"units": 10, "activation": "softmax"}},
    ]
    flow = spec(
        tmp_path,
        "model: {input: [4], layers: [{tune: {optional: {Dropout: {rate: 0.5}}}}, "
        "Dense: {units: 2}]}\n",
    )
    dropped = best_text(find_spaces(load_file(flow)), {"model.layers[0].optional": False})
    assert "model: {input: [4], layers: [Dense: {units: 2}]}" in dropped


def test_a_layer_that_fits_only_with_the_optional_one_names_the_candidate(tmp_path: Path) -> None:
    body = """\
    model:
      input: [8]
      layers:
        - {tune: {optional: {Dense: {units: 16}}}}
        - Reshape: {target_shape: [4, 4]}
    """
    (line,) = errors(tmp_path, body)
    assert "Reshape" in line and "(in the candidate model.layers[0].optional=False)" in line


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "model:\n  inputs: {x: [4]}\n  layers:\n"
            "    - {tune: {optional: {name: d, Dense: {units: 2}, from: x}}}\n  outputs: [d]\n",
            "an optional layer needs a Sequential model",
        ),
        (
            "model:\n  input: [4]\n  layers:\n"
            "    - {tune: {optional: {Dense: {units: {tune: {int: [1, 4]}}}}}}\n",
            "a search space inside an optional layer is not supported",
        ),
        (
            "model:\n  input: [4]\n  layers:\n    - Dense: {units: {tune: {optional: 3}}}\n",
            "optional stands for a whole layer",
        ),
    ],
)
def test_optional_layers_written_wrong(tmp_path: Path, body: str, message: str) -> None:
    found = errors(tmp_path, body)
    assert any(message in line for line in found), found


def test_a_high_end_that_the_steps_do_not_reach_is_a_warning_and_not_a_corner(
    tmp_path: Path,
) -> None:
    body = (
        "model:\n  input: [8]\n  layers:\n    - Dense: {units: {tune: {int: [16, 64], step: 5}}}\n"
    )
    analysis = analyze(spec(tmp_path, body))
    assert analysis.ok
    (warning,) = analysis.diagnostics
    assert warning.severity == "warning" and warning.location.line == 6  # type: ignore[union-attr]
    assert "the range's top value is 61, not 64 (steps of 5 from 16)" in warning.message
    assert analysis.search.spaces[0].values == (16, 61)  # type: ignore[union-attr]

"""The emitted search script of a spec with search spaces: fresh in generated/, ruff-clean,
deterministic, short, each space an `hp.*` named after its spec path; and it runs a search."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import ROOT, TUNE_SPECS

from speck.backends.emit.tuner import tuner_script
from speck.diagnostics import SpecError
from speck.pipeline import analyze

RUFF = shutil.which("ruff")


def script_of(spec: Path, script_dir: Path = ROOT / "generated") -> str:
    analysis = analyze(spec)
    assert analysis.ok and analysis.search is not None
    return tuner_script(
        analysis.search, analysis.resolved, spec.relative_to(ROOT).as_posix(), script_dir
    )


@pytest.mark.parametrize("spec", TUNE_SPECS, ids=lambda p: p.stem)
def test_generated_holds_the_fresh_search_script(spec: Path) -> None:
    current = (ROOT / "generated" / f"{spec.stem}.py").read_text(encoding="utf-8")
    assert current == script_of(spec), f"generated/{spec.stem}.py is stale: run speck emit"
    assert len(current.splitlines()) <= 250


@pytest.mark.parametrize("spec", TUNE_SPECS, ids=lambda p: p.stem)
def test_each_space_is_an_hp_call_named_after_its_path(spec: Path) -> None:
    tree = ast.parse(script_of(spec))
    calls = {
        node.args[0].value: node.func.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "hp"
        and node.args
        and isinstance(node.args[0], ast.Constant)
    }
    spaces = analyze(spec).search.spaces  # type: ignore[union-attr]
    kinds = {"choice": "Choice", "int": "Int", "float": "Float", "boolean": "Boolean"}
    assert calls == {s.name: kinds[s.kind] for s in spaces}


@pytest.mark.skipif(RUFF is None, reason="ruff is not installed")
def test_search_scripts_of_other_spaces_are_ruff_clean(tmp_path: Path) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text(
        textwrap.dedent(
            """\
            speck: 1
            name: s
            data: {source: sklearn/digits, validation: {split: 0.2}}
            model:
              input: [64]
              layers:
                - Dense:
                    units: {tune: {choice: [8, 16]}}
                    activation: {tune: {choice: [relu, tanh]}}
                - BatchNormalization: {center: {tune: {boolean: true}}}
                - Dense: {units: 10, activation: softmax}
            compile:
              optimizer: {tune: {choice: [adam, rmsprop]}}
              loss: sparse_categorical_crossentropy
            fit: {epochs: {tune: {int: [1, 3]}}, batch_size: {tune: {choice: [16, 64]}}}
            tune: {tuner: hyperband}
            """
        ),
        encoding="utf-8",
    )
    analysis = analyze(spec)
    assert analysis.ok, analysis.diagnostics
    text = tuner_script(analysis.search, analysis.resolved, "s.yaml", tmp_path)  # type: ignore[arg-type]
    assert 'hp.Choice("model.layers[0].Dense.activation", ["relu", "tanh"])' in text
    assert 'hp.Boolean("model.layers[1].BatchNormalization.center")' in text
    assert "optimizer=optimizer" in text and "keras_tuner.Hyperband(" in text
    assert 'batch_size = hp.Choice("fit.batch_size", [16, 64])' in text
    script = tmp_path / "search.py"
    script.write_text(text, encoding="utf-8")
    for args in (["check", str(script)], ["format", "--check", "--diff", str(script)]):
        result = subprocess.run(
            [RUFF, *args], capture_output=True, text=True, cwd=ROOT, timeout=120
        )
        assert result.returncode == 0, result.stdout + result.stderr


def test_a_space_the_script_cannot_draw_is_an_error_at_it(tmp_path: Path) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text(
        "speck: 1\nname: s\ndata: {source: sklearn/digits}\n"
        "model: {input: [{tune: {choice: [64]}}], layers: [Dense: {units: 10}]}\n"
        "compile: {loss: mse}\n",
        encoding="utf-8",
    )
    analysis = analyze(spec)
    assert analysis.ok, analysis.diagnostics
    with pytest.raises(SpecError) as info:
        tuner_script(analysis.search, analysis.resolved, "s.yaml", tmp_path)  # type: ignore[arg-type]
    (d,) = info.value.diagnostics
    assert d.path == ("model", "input", 0) and "cannot draw" in d.message


@pytest.mark.tf
@pytest.mark.slow
def test_the_generated_search_script_runs_a_one_trial_search(tmp_path: Path) -> None:
    spec = TUNE_SPECS[0]
    script = ROOT / "generated" / f"{spec.stem}.py"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(
        [sys.executable, str(script), "--out", str(tmp_path / "run"), "--max-trials", "1"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "run" / "best.keras").is_file()
    assert (tmp_path / "run" / "search" / "trial_0" / "trial.json").is_file()
    assert '"model.layers[0].Dense.units": ' in result.stdout


@pytest.mark.skipif(RUFF is None, reason="ruff is not installed")
def test_an_optional_layer_is_added_under_its_flag(tmp_path: Path) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text(
        "speck: 1\nname: s\ndata: {source: sklearn/digits}\n"
        "model:\n  input: [64]\n  layers:\n"
        "    - Dense: {units: 32, activation: relu}\n"
        "    - {tune: {optional: {Dropout: {rate: 0.2}}}}\n"
        "    - Dense: {units: 10, activation: softmax}\n"
        "compile: {loss: sparse_categorical_crossentropy}\n",
        encoding="utf-8",
    )
    analysis = analyze(spec)
    assert analysis.ok, analysis.diagnostics
    text = tuner_script(analysis.search, analysis.resolved, "s.yaml", tmp_path)  # type: ignore[arg-type]
    assert (
        '    with_dropout = hp.Boolean("model.layers[1].optional", default=True)\n'
        '    model = keras.Sequential(name="s")\n'
    ) in text
    assert (
        "    if with_dropout:\n"
        '        model.add(layers.Dropout(0.2, name="dropout"))\n'
        '    model.add(layers.Dense(10, activation="softmax", name="dense_1"))\n'
    ) in text
    script = tmp_path / "search.py"
    script.write_text(text, encoding="utf-8")
    for args in (["check", str(script)], ["format", "--check", "--diff", str(script)]):
        result = subprocess.run(
            [RUFF, *args], capture_output=True, text=True, cwd=ROOT, timeout=120
        )
        assert result.returncode == 0, result.stdout + result.stderr

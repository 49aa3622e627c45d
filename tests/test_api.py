"""Tests of `import speck` as a library: the functions behave like the commands (the same
diagnostics, the same located text, the same script, the same model and run folder), invalid
input raises `speck.InvalidSpec`, and importing and validating pull in no TensorFlow."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from conftest import ALL_SPECS, BROKEN_DIR, ROOT, SITECUSTOMIZE
from typer.testing import CliRunner

import speck
from speck.cli import app
from speck.diagnostics import SpecError

BAD = BROKEN_DIR / "padding_sme.yaml"
GOOD = ROOT / "specs" / "functional_mlp.yaml"

TINY = """\
speck: 1
name: tiny
seed: 3
data:
  source: {npz: tiny.npz}
  validation: {split: 0.25}
model:
  input: [4]
  layers:
    - Dense: {units: 8, activation: relu}
    - Dense: {units: 3, activation: softmax}
compile:
  optimizer: {SGD: {learning_rate: 0.05}}
  loss: sparse_categorical_crossentropy
  metrics: [accuracy]
fit: {epochs: 2, batch_size: 16}
"""


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    """A small classifier spec and its data."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 4)).astype(np.float32)
    np.savez(tmp_path / "tiny.npz", x=x, y=(x[:, 0] > 0).astype(np.int64))
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY, encoding="utf-8")
    return path


def test_the_api_names_are_functions_even_after_their_modules_load() -> None:
    import speck.backends.build
    import speck.backends.emit.program
    from speck.backends.build import build_model  # the modules stay importable by their full name

    for name in ("validate", "load", "build", "emit", "train"):
        assert callable(getattr(speck, name)) and getattr(speck, name).__doc__, name
    assert sys.modules["speck.backends.build"].build_model is build_model
    assert issubclass(speck.InvalidSpec, SpecError)


def test_validate_returns_what_speck_validate_reports(runner: CliRunner) -> None:
    assert speck.validate(GOOD) == []
    diagnostics = speck.validate(BAD)
    result = runner.invoke(app, ["validate", "--format", "json", str(BAD)])
    assert [d.as_dict() for d in diagnostics] == json.loads(result.stdout)
    assert [d.severity for d in diagnostics] == ["error"]
    assert len(speck.validate(ROOT / "specs")) == 0  # a folder: its spec files


def test_invalid_spec_reads_like_the_command(runner: CliRunner) -> None:
    with pytest.raises(speck.InvalidSpec) as caught:
        speck.build(BAD)
    result = runner.invoke(app, ["build", str(BAD)])
    assert result.exit_code == 2
    assert str(caught.value) + "\n" == result.stderr
    assert str(caught.value).startswith(f"{BAD}:7:53: error: model.layers[0].Conv2D.padding: ")
    assert caught.value.diagnostics == speck.validate(BAD)
    for call in (speck.load, speck.emit, speck.train):
        with pytest.raises(speck.InvalidSpec):
            call(BAD)


@pytest.mark.parametrize("flag", ["fit.epochs=x", "fit.epochs", "fit..epochs=3"])
def test_bad_overrides_read_like_the_set_flag(runner: CliRunner, tiny: Path, flag: str) -> None:
    with pytest.raises(speck.InvalidSpec) as caught:
        speck.load(tiny, [flag])
    result = runner.invoke(app, ["train", str(tiny), "--set", flag])
    assert result.exit_code == 2
    assert str(caught.value) + "\n" == result.stderr


def test_overrides_change_the_spec_like_set(tiny: Path) -> None:
    resolved = speck.load(tiny, ["fit.epochs=7", "fit.batch_size=4"])
    assert (resolved.plan.epochs, resolved.plan.batch_size) == (7, 4)
    assert speck.load(tiny, "fit.epochs=5").plan.epochs == 5  # one flag as a plain string


def test_warnings_are_python_warnings_with_the_command_text(tiny: Path) -> None:
    tiny.write_text(TINY.replace("learning_rate:", "lr:"), encoding="utf-8")
    with pytest.warns(speck.SpecWarning) as caught:
        speck.load(tiny)
    assert caught[0].filename == __file__  # it points at the caller's line
    assert [str(w.message) for w in caught] == [
        d.format(with_severity=True) for d in speck.validate(tiny) if d.severity == "warning"
    ]
    assert "lr" in str(caught[0].message)


def test_emit_is_the_text_speck_emit_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    for spec in ALL_SPECS:  # a spec with search spaces: the KerasTuner script `speck emit` writes
        relative = spec.relative_to(ROOT)
        expected = (ROOT / "generated" / f"{spec.stem}.py").read_text(encoding="utf-8")
        assert speck.emit(relative) == expected, spec.name


def test_emit_to_stdout_matches_the_command(runner: CliRunner) -> None:
    result = runner.invoke(app, ["emit", str(GOOD), "--out", "-"])
    assert result.exit_code == 0
    assert speck.emit(GOOD, out="-") == result.stdout


def test_a_train_spec_without_data_is_invalid(tmp_path: Path) -> None:
    path = tmp_path / "nodata.yaml"
    path.write_text(TINY.split("data:")[0] + "model:" + TINY.split("model:")[1])
    with pytest.raises(speck.InvalidSpec, match="no data: section"):
        speck.train(path, out=tmp_path / "run")
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_import_speck_and_validate_load_emit_without_tensorflow(tmp_path: Path) -> None:
    site = tmp_path / "blocker"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    code = textwrap.dedent(
        f"""
        import sys
        import speck
        assert speck.validate({str(GOOD)!r}) == []
        assert speck.load({str(GOOD)!r}).graph.name
        assert speck.emit({str(GOOD)!r}).startswith("# ")
        try:
            speck.build({str(GOOD)!r})
        except RuntimeError as exc:
            print(exc)
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras"))
        print("loaded:", loaded)
        """
    )
    env = {"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env
    )
    assert proc.returncode == 0, proc.stderr
    assert 'pip install -e ".[tf]"' in proc.stdout
    assert "loaded: []" in proc.stdout


@pytest.mark.tf
def test_build_is_the_model_speck_build_makes(runner: CliRunner) -> None:
    model = speck.build(GOOD)
    info = json.loads(runner.invoke(app, ["build", str(GOOD), "--json"]).stdout)
    assert model.name == info["name"]
    assert model.count_params() == info["params"]
    assert [layer.name for layer in model.layers] == [layer["name"] for layer in info["layers"]]
    assert model.optimizer is not None and model.loss == "categorical_crossentropy"


@pytest.mark.tf
@pytest.mark.slow
def test_train_returns_the_run_metrics(tiny: Path) -> None:
    out = tiny.parent / "run"
    metrics = speck.train(tiny, out=out, overrides=["fit.epochs=1"])
    assert metrics == json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["epochs"] == 1
    with pytest.raises(speck.RunFolderError, match="pass force=True to overwrite it") as refused:
        speck.train(tiny, out=out)
    assert "--" not in str(refused.value)  # the advice in Python's words, not the command's

"""Tests of the `speck` command line without TensorFlow: exit statuses, output formats, no
traceback ever, `speck validate` importing neither TensorFlow nor Keras, and what a command
that needs TensorFlow says when it is missing."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ALL_SPECS, BROKEN_DIR, ROOT, SITECUSTOMIZE, SPECS, run_speck
from typer.testing import CliRunner

from speck.cli import app

BAD = BROKEN_DIR / "padding_sme.yaml"
GOOD = ROOT / "specs" / "functional_mlp.yaml"


def test_the_import_blocker_blocks(tmp_path: Path) -> None:
    """The control for the tests below: under the blocker, importing Keras fails."""
    site = tmp_path / "blocker"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(site)}
    proc = subprocess.run(
        [sys.executable, "-c", "import keras"], capture_output=True, text=True, env=env
    )
    assert proc.returncode != 0 and "blocked by the test" in proc.stderr


def test_validate_never_imports_tensorflow_or_keras(tmp_path: Path) -> None:
    proc = run_speck(["validate", *map(str, SPECS)], block_tf=True, tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"{len(SPECS)} specs valid"
    assert "Traceback" not in proc.stderr and "blocked" not in proc.stderr


def test_build_without_tensorflow_says_how_to_install_it(tmp_path: Path) -> None:
    proc = run_speck(["build", str(GOOD)], block_tf=True, tmp_path=tmp_path)
    assert proc.returncode == 1
    assert 'pip install -e ".[tf]"' in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


def test_validate_exit_statuses(runner: CliRunner) -> None:
    assert runner.invoke(app, ["validate", str(GOOD)]).exit_code == 0
    mixed = runner.invoke(app, ["validate", str(GOOD), str(BAD)])
    assert mixed.exit_code == 2
    assert mixed.stderr.rstrip().endswith("1 of 2 specs invalid")


def test_validate_takes_folders_of_specs(runner: CliRunner, tmp_path: Path) -> None:
    whole = runner.invoke(app, ["validate", str(ROOT / "specs")])
    assert whole.exit_code == 0, whole.output
    assert whole.stdout.strip().splitlines()[-1] == f"{len(ALL_SPECS)} specs valid"
    (tmp_path / "notes.txt").write_text("not a spec", encoding="utf-8")
    empty = runner.invoke(app, ["validate", str(tmp_path)])
    assert empty.exit_code == 2
    assert "no spec files (*.yaml, *.yml, *.json) in" in empty.stderr


def test_validate_reports_warnings_without_failing(runner: CliRunner, tmp_path: Path) -> None:
    spec = tmp_path / "legacy.yaml"
    spec.write_text(
        "speck: 1\nname: legacy\nmodel:\n  layers:\n    - Dense: {units: 3, input_dim: 4}\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["validate", str(spec)])
    assert result.exit_code == 0
    assert f"{spec}:5:25: warning: model.layers[0].Dense.input_dim: " in result.stderr


def test_validate_json_output(runner: CliRunner) -> None:
    result = runner.invoke(app, ["validate", "--format", "json", str(BAD)])
    assert result.exit_code == 2
    (problem,) = json.loads(result.stdout)
    assert problem == {
        "file": str(BAD),
        "line": 7,
        "column": 53,
        "severity": "error",
        "path": "model.layers[0].Conv2D.padding",
        "message": "must be one of 'valid', 'same'. Received: padding='sme'",
        "suggestion": "did you mean 'same'?",
    }


def test_validate_github_annotations(runner: CliRunner) -> None:
    result = runner.invoke(app, ["validate", "--format", "github", str(BAD)])
    assert result.exit_code == 2
    assert result.stdout.startswith(f"::error file={BAD},line=7,col=53::model.layers[0]")


def test_an_unreadable_file_is_invalid_input(runner: CliRunner, tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    result = runner.invoke(app, ["validate", str(missing)])
    assert result.exit_code == 2
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.stderr.startswith(
        f"{missing}:1:1: error: (top level): the spec file does not exist (check the path"
    )
    result = runner.invoke(app, ["validate", "--format", "json", str(missing)])
    assert [d["file"] for d in json.loads(result.stdout)] == [str(missing)]


def test_build_refuses_bad_specs_before_tensorflow(runner: CliRunner) -> None:
    result = runner.invoke(app, ["build", str(BAD)])
    assert result.exit_code == 2
    assert "did you mean 'same'?" in result.stderr


def test_build_save_must_be_a_keras_file(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["build", str(GOOD), "--save", str(tmp_path / "m.h5")])
    assert result.exit_code == 2 and "--save must end in .keras" in result.stderr


def test_build_save_refuses_to_overwrite(runner: CliRunner, tmp_path: Path) -> None:
    target = tmp_path / "m.keras"
    target.write_bytes(b"precious")
    result = runner.invoke(app, ["build", str(GOOD), "--save", str(target)])
    assert result.exit_code == 1 and "pass --force to overwrite it" in result.stderr
    assert target.read_bytes() == b"precious"


def test_no_arguments_prints_help(runner: CliRunner) -> None:
    result = runner.invoke(app, [])
    assert "validate" in result.output and "schema" in result.output


def test_version(runner: CliRunner) -> None:
    from importlib.metadata import version

    import speck

    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout == f"speck {speck.__version__}\n"
    assert speck.__version__ == version("speck")  # the package's metadata (pyproject.toml)


TYPE_LABEL = re.compile(r"<(bool|path|str|int|float|list\[\w+\]|\w+)>|\{\w+\}")


@pytest.mark.parametrize(
    ("command", "usage"),
    [
        ([], "Usage: speck [OPTIONS] COMMAND [ARGS]..."),
        (["validate"], "Usage: speck validate [OPTIONS] FILES..."),
        (["build"], "Usage: speck build [OPTIONS] SPEC"),
        (["train"], "Usage: speck train [OPTIONS] SPEC"),
        (["emit"], "Usage: speck emit [OPTIONS] [SPECS]..."),
        (["schema"], "Usage: speck schema [OPTIONS]"),
        (["import"], "Usage: speck import [OPTIONS] MODEL"),
    ],
)
def test_help_shows_flags_without_type_labels(
    runner: CliRunner, command: list[str], usage: str
) -> None:
    result = runner.invoke(app, [*command, "--help"], terminal_width=120)
    assert result.exit_code == 0
    text = result.stdout
    assert usage in text
    assert TYPE_LABEL.findall(text) == [], text
    assert re.search(r"--help +Show this message", text)


def test_help_names_option_values(runner: CliRunner) -> None:
    text = runner.invoke(app, ["train", "--help"], terminal_width=120).stdout
    assert re.search(r"--force +Start over", text)  # a flag alone
    assert re.search(r"--epochs +EPOCHS +Same as", text)  # an option with its value
    assert re.search(r"\* +SPEC +The spec file", text)
    text = runner.invoke(app, ["build", "--help"], terminal_width=120).stdout
    assert re.search(r"--save +FILE +Save the model", text)


@pytest.mark.parametrize(
    "args",
    [
        ["validate", "--format", "json", *map(str, sorted(BROKEN_DIR.glob("*.yaml")))],
        ["schema"],
    ],
    ids=["validate", "schema"],
)
def test_a_reader_that_goes_away_is_no_error(args: list[str]) -> None:
    """`speck ... | head`: when the reader closes the pipe, speck stops quietly (no "internal
    error"), with status 1 as click's commands do, or its own where all was written."""
    process = subprocess.Popen(
        [sys.executable, "-m", "speck", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # the reader is gone before speck writes
    err = process.stderr.read().decode()
    code = process.wait(timeout=60)
    assert "internal error" not in err and "Traceback" not in err, err
    assert code in (1, 2 if args[0] == "validate" else 0), (code, err)


@pytest.mark.parametrize("command", ["train", "predict"])
def test_train_and_predict_on_the_core_install_say_how_to_install_the_rest(
    tmp_path: Path, command: str
) -> None:
    """Without the `tf` extra (no TensorFlow, Keras or NumPy: what the pre-commit hook
    installs), `train` and `predict` say how to install it, as `build` does."""
    site = tmp_path / "core"
    site.mkdir()
    blocker = SITECUSTOMIZE.replace("BLOCKED = (", "BLOCKED = ('numpy', ")
    (site / "sitecustomize.py").write_text(blocker, encoding="utf-8")
    run = tmp_path / "run"
    args = {
        "train": ["train", str(ROOT / "specs" / "digits_mlp.yaml"), "--out", str(run)],
        "predict": ["predict", str(run), str(tmp_path / "rows.npy"), "--out", str(run / "p.csv")],
    }[command]
    env = {k: v for k, v in os.environ.items() if k not in ("SPECK_DEBUG", "PYTHONPATH")}
    proc = subprocess.run(
        [sys.executable, "-m", "speck", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**env, "PYTHONPATH": str(site)},
        timeout=120,
    )
    assert proc.returncode == 1, proc.stderr
    assert 'pip install -e ".[tf]"' in proc.stderr and "internal error" not in proc.stderr
    assert not run.exists()  # refused before anything is written

"""The multi-input, multi-output example end to end: `specs/multi_io.yaml` (three named inputs,
two named outputs, a shared layer) validates, trains with `speck train` on its committed named
arrays, and its emitted script trains the same way; named arrays that do not name the model's
inputs and outputs are caught when validating.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from same_model import load_script
from typer.testing import CliRunner

from speck.backends.emit.program import emit_script
from speck.cli import app
from speck.pipeline import resolve_file

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "specs" / "multi_io.yaml"
DATA = ROOT / "specs" / "data" / "digits_multi_io.npz"
OUTPUTS = ("digit", "even")

runner = CliRunner()


def test_the_committed_data_is_small_and_matches_the_models_names() -> None:
    assert DATA.stat().st_size < 300_000
    with np.load(DATA) as f:
        arrays = {k: f[k] for k in f.files}
    assert {k: v.shape for k, v in arrays.items()} == {
        "image": (1797, 64),
        "mirror": (1797, 64),
        "profile": (1797, 16),
        "digit": (1797,),
        "even": (1797,),
    }
    image = arrays["image"].astype(np.float32).reshape(-1, 8, 8)
    np.testing.assert_array_equal(arrays["mirror"].reshape(-1, 8, 8), image[:, :, ::-1])
    sums = np.concatenate([image.sum(axis=2), image.sum(axis=1)], axis=1) * 16 / 128
    np.testing.assert_allclose(arrays["profile"], sums, atol=1e-6)
    np.testing.assert_array_equal(arrays["even"], arrays["digit"] % 2 == 0)


def test_the_spec_validates() -> None:
    result = runner.invoke(app, ["validate", str(SPEC)])
    assert result.exit_code == 0, result.output


def edited_spec(tmp_path: Path, x: dict[str, str], y: dict[str, str]) -> Path:
    spec = yaml.safe_load(SPEC.read_text())
    spec["data"]["source"].update(npz=str(DATA), x=x, y=y)
    path = tmp_path / "multi_io.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def test_named_arrays_must_name_the_models_inputs_and_outputs(tmp_path: Path) -> None:
    inputs = {"image": "image", "mirrror": "mirror", "profile": "profile"}
    typo = runner.invoke(app, ["validate", str(edited_spec(tmp_path, inputs, {"digit": "digit"}))])
    assert typo.exit_code == 2
    assert "the data's x names 'mirrror', which is not one of the model's inputs" in typo.output
    assert "did you mean 'mirror'?" in typo.output
    assert "the data's y gives no array for the model's output 'even'" in typo.output


@pytest.mark.tf
def test_speck_train_reports_every_output(tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = runner.invoke(app, ["train", str(SPEC), "--epochs", "2", "--out", str(out)])
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    # 1797 rows: 20% held out as test, then 10% of the rest as validation.
    assert metrics["samples"] == {"train": 1294, "validation": 144, "test": 359}
    for split in ("validation", "test"):
        final = metrics["final"][split]
        for name in OUTPUTS:
            per_output = metrics["outputs"][name][split]
            assert per_output == {
                "loss": final[f"{name}_loss"],
                "accuracy": final[f"{name}_accuracy"],
            }
            assert math.isfinite(per_output["loss"]) and 0 <= per_output["accuracy"] <= 1
    with open(out / "history.csv", newline="") as f:
        losses = [float(row["loss"]) for row in csv.DictReader(f)]
    assert len(losses) == 2 and losses[1] < losses[0]
    # The digit output is a 10-class classifier: its confusion matrix counts the test rows.
    matrix = np.array(metrics["confusion_matrix"]["digit"])
    assert matrix.shape == (10, 10) and matrix.sum() == 359
    assert metrics["plots"]["confusion_matrix"] == "confusion_matrix.png"
    assert (out / "confusion_matrix.png").stat().st_size > 0
    assert "reconstructions" not in metrics["plots"]


@pytest.mark.tf
def test_the_emitted_script_trains_like_speck_train(tmp_path: Path) -> None:
    from speck.backends.run.train import train_spec
    from speck.front.overrides import parse_override

    text = emit_script(resolve_file(SPEC), script_dir=tmp_path)
    assert "allow_pickle=False) as archive:" in text  # one archive holds every named array:
    assert 'x = {"image": archive["image"], "mirror": archive["mirror"]' in text
    assert "load_npz" not in text
    script = load_script(text, tmp_path)
    emitted = script.run(tmp_path / "script-run", epochs=1)
    one_epoch = resolve_file(SPEC, [parse_override("fit.epochs=1")])
    live = train_spec(one_epoch, tmp_path / "train-run").metrics
    assert set(emitted["outputs"]) == set(OUTPUTS)
    for split, values in live["final"].items():
        assert emitted["final"][split] == pytest.approx(values, abs=1e-5)

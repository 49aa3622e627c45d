"""What a run tells its user and keeps: the summary `speck train` prints counts the epochs the
run trained, not those it resumed after (its time is theirs); the reconstruction figure names
the split its images come from, as the confusion matrix does; a program keeps the counters of
ReduceLROnPlateau and EarlyStopping for `--resume` exactly when its spec has them."""

from __future__ import annotations

from pathlib import Path

from conftest import ROOT

import speck
from speck.backends.run.train import RunResult, summary_lines


def metrics(resumed: int | None) -> dict[str, object]:
    return {
        "name": "n",
        "epochs": 8,
        "resumed_from_epoch": resumed,
        "wall_time_s": 3.25,
        "final": {"validation": {"loss": 0.5}},
        "plots": {},
    }


def test_a_fresh_run_counts_all_its_epochs() -> None:
    assert summary_lines(RunResult(Path("r"), metrics(None)))[0] == "trained n: 8 epochs in 3.2 s"


def test_a_resumed_run_counts_the_epochs_it_trained() -> None:
    first = summary_lines(RunResult(Path("r"), metrics(2)))[0]
    assert first == "trained n: 6 more epochs (8 in all, resumed after epoch 2) in 3.2 s"


def test_the_reconstruction_figure_names_its_split() -> None:
    script = speck.emit(ROOT / "specs" / "autoencoder.yaml")  # validates on the test split
    call = script[script.index("    plot_reconstructions(") :].split("\n\n")[0]
    assert 'f"{NAME}: test split"' in call


def test_only_programs_with_watching_callbacks_keep_their_counters() -> None:
    kept = {
        spec.stem: "keep_callback_states(" in speck.emit(spec)
        for spec in sorted((ROOT / "specs").glob("*.yaml"))
        if "tune" not in spec.stem
    }
    watching = {
        stem
        for stem in kept
        if any(
            name in (ROOT / "specs" / f"{stem}.yaml").read_text()
            for name in ("ReduceLROnPlateau:", "EarlyStopping:")
        )
    }
    assert watching == {
        "digits_mlp",
        "imdb_lstm",
        "photo_autoencoder",
        "residual_cnn",
        "sequential_mlp",
    }
    assert {stem for stem, has in kept.items() if has} == watching

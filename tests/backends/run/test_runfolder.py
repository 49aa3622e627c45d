"""The run folder's rules (`speck.backends.run.folder`): output paths stay inside it, speck deletes
only what its marker says it created, a folder speck did not make is left alone, a live run's lock
keeps out a second run, and bad places for a run folder are refused before TensorFlow loads.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import run_speck
from hypothesis import given
from hypothesis import strategies as st

from speck.backends.run.folder import (
    LOCK,
    MARKER,
    BadOutputLocation,
    OutsideRunFolder,
    RunFolder,
    RunFolderError,
    check_location,
    check_run_folder,
    inside,
    open_run_folder,
    path_problem,
    plan_run_folder,
    read_marker,
)
from speck.ir.graph import KerasObject, TrainingPlan
from speck.ir.resolve import backup_dir_of

SPEC = "name: a\nfit: {epochs: 4, batch_size: 8}\n"


def plan_with(*callbacks: tuple[str, dict[str, Any]]) -> TrainingPlan:
    made = tuple(KerasObject("callbacks", c, None, a) for c, a in callbacks)
    return TrainingPlan(None, None, callbacks=made, backup_dir=backup_dir_of(made))


def tree(folder: Path) -> dict[str, str]:
    """Every entry under `folder`: relative path -> file content (or `<dir>`, `-> target`)."""
    out = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.is_symlink():
            out[rel] = f"-> {os.readlink(path)}"
        elif path.is_dir():
            out[rel] = "<dir>"
        else:
            out[rel] = path.read_text(errors="replace")
    return out


def take(folder: RunFolder, text: str = SPEC, **flags: bool) -> None:
    """Take and at once release the run folder, as a run that writes nothing else would."""
    with open_run_folder(folder, text, force=flags.get("force", False), resume=False):
        pass


# --- output paths ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("", "empty"),
        (".", "run folder itself"),
        ("./", "run folder itself"),
        ("a/..", "run folder itself"),
        ("..", "leaves the run folder"),
        ("../x", "leaves the run folder"),
        ("a/../../x", "leaves the run folder"),
        ("/tmp/x", "absolute"),
        ("~", "starts with ~"),
        ("~/x", "starts with ~"),
        ("a\0b", "NUL"),
        ("x" * 256, "longer than 255 bytes"),
        (None, "not a path"),
    ],
)
def test_paths_outside_the_run_folder_are_named(value: Any, problem: str) -> None:
    assert problem in (path_problem(value) or "")


@pytest.mark.parametrize("value", ["logs/train.csv", "a", "./a", "a/../b", "ckpt/e{epoch}.keras"])
def test_paths_inside_the_run_folder_pass(tmp_path: Path, value: str) -> None:
    assert path_problem(value) is None
    assert inside(tmp_path, value).parent.is_relative_to(tmp_path)


@given(st.text(alphabet="ab./~\\\0", max_size=12))
def test_inside_never_gives_the_folder_or_a_place_outside(value: str) -> None:
    out = Path("/run/folder")
    try:
        path = inside(out, value)
    except OutsideRunFolder:
        return
    assert path != out and path.is_relative_to(out)


def test_a_symbolic_link_out_of_the_run_folder_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "run"
    out.mkdir()
    (out / "link").symlink_to(tmp_path)
    with pytest.raises(OutsideRunFolder, match="symbolic link"):
        inside(out, "link/x.csv")


def test_plan_lists_outputs_and_placeholder_patterns(tmp_path: Path) -> None:
    plan = plan_with(
        ("CSVLogger", {"filename": "logs/train.csv"}),
        ("ModelCheckpoint", {"filepath": "ckpt/e{epoch:02d}.keras"}),
        ("ModelCheckpoint", {"filepath": "w{epoch}.keras"}),
        ("BackupAndRestore", {"backup_dir": "./state/"}),
    )
    folder = plan_run_folder(plan, tmp_path)
    assert folder.backup == "state"
    assert {"logs/train.csv", "ckpt", "state", "spec.yaml", MARKER, LOCK} <= set(folder.outputs)
    assert folder.patterns == ["ckpt/e*.keras", "w*.keras"]


# --- a folder speck did not make --------------------------------------------------------------


def test_a_folder_speck_did_not_make_is_refused_without_force(tmp_path: Path) -> None:
    (tmp_path / "history.csv").write_text("mine")
    folder = plan_run_folder(plan_with(), tmp_path)
    with pytest.raises(RunFolderError, match=r"not empty \(history.csv\).*no \.speck-run\.json"):
        check_run_folder(folder, SPEC, force=False, resume=False)
    with pytest.raises(RunFolderError, match="not empty"):
        check_run_folder(folder, SPEC, force=False, resume=True)
    before = tree(tmp_path)
    take(folder, force=True)  # --force trains into it, deleting nothing
    after = tree(tmp_path)
    assert {k: v for k, v in after.items() if k not in (MARKER, LOCK, "spec.yaml")} == before
    assert "history.csv" not in read_marker(tmp_path)  # not speck's: never deleted
    take(folder, force=True)
    assert (tmp_path / "history.csv").read_text() == "mine"


def test_empty_and_missing_folders_are_fine(tmp_path: Path) -> None:
    check_run_folder(plan_run_folder(plan_with(), tmp_path), SPEC, force=False, resume=False)
    missing = tmp_path / "new" / "run"
    with open_run_folder(plan_run_folder(plan_with(), missing), SPEC, force=False, resume=False):
        assert (missing / "spec.yaml").read_text() == SPEC
        marker = json.loads((missing / MARKER).read_text())  # what the run will create
        assert {"spec.yaml", "model.keras", "backup", MARKER, LOCK} <= set(marker["created"])
    # once it ends, what it did create
    assert json.loads((missing / MARKER).read_text())["created"] == [MARKER, LOCK, "spec.yaml"]


# --- --force deletes only what speck created ---------------------------------------------------


def test_force_deletes_what_speck_created_and_nothing_else(tmp_path: Path) -> None:
    plan = plan_with(
        ("CSVLogger", {"filename": "logs/train.csv"}),
        ("ModelCheckpoint", {"filepath": "e{epoch}.keras"}),
    )
    folder = plan_run_folder(plan, tmp_path)
    with open_run_folder(folder, SPEC, force=False, resume=False):
        for name in ("metrics.json", "history.csv", "e1.keras", "e2.keras"):
            (tmp_path / name).write_text("run")
        (tmp_path / "logs").mkdir()
        (tmp_path / "logs" / "train.csv").write_text("run")
        (tmp_path / "backup").mkdir()
    claimed = read_marker(tmp_path)
    assert {"metrics.json", "logs", "e1.keras", "e2.keras", "backup"} <= claimed
    (tmp_path / "notes.txt").write_text("the user's")
    (tmp_path / "logs" / "notes.txt").write_text("in speck's folder")

    with pytest.raises(RunFolderError, match="already holds a run"):
        check_run_folder(folder, SPEC, force=False, resume=False)
    take(folder, force=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == [MARKER, LOCK, "notes.txt", "spec.yaml"]


def test_force_into_a_folder_the_run_would_write_over(tmp_path: Path) -> None:
    folder = plan_run_folder(plan_with(("CSVLogger", {"filename": "data.csv"})), tmp_path)
    take(folder)
    (tmp_path / "data.csv").write_text("the user's")
    with pytest.raises(RunFolderError, match=r"data\.csv exists and speck did not create it"):
        check_run_folder(folder, SPEC, force=False, resume=False)
    take(folder, force=True)
    assert (tmp_path / "data.csv").read_text() == "the user's"


def test_a_backup_folder_speck_did_not_create_is_never_used(tmp_path: Path) -> None:
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "precious").write_text("keep")
    folder = plan_run_folder(plan_with(("BackupAndRestore", {"backup_dir": "state"})), tmp_path)
    with pytest.raises(RunFolderError, match="speck did not create it"):
        check_run_folder(folder, SPEC, force=True, resume=False)
    (tmp_path / MARKER).write_text(json.dumps({"created": [MARKER]}))  # speck's folder now
    for flags in ({"force": True, "resume": False}, {"force": False, "resume": True}):
        with pytest.raises(RunFolderError, match="speck did not create it"):
            check_run_folder(folder, SPEC, **flags)
    assert (tmp_path / "state" / "precious").read_text() == "keep"


def test_a_forged_marker_cannot_make_speck_delete_outside(tmp_path: Path) -> None:
    out = tmp_path / "run"
    out.mkdir()
    (tmp_path / "sentinel").write_text("keep")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "file").write_text("keep")
    (out / "link").symlink_to(outside)
    entries = ["..", "../sentinel", str(tmp_path / "sentinel"), "link", "link/file", "."]
    (out / MARKER).write_text(json.dumps({"created": entries}))
    take(plan_run_folder(plan_with(), out), force=True)
    assert (tmp_path / "sentinel").read_text() == "keep"
    assert (outside / "file").read_text() == "keep"
    assert not (out / "link").is_symlink()  # the link was speck's; what it points to was not


def test_finished_and_interrupted_runs_need_force_or_resume(tmp_path: Path) -> None:
    folder = plan_run_folder(plan_with(), tmp_path)
    with open_run_folder(folder, SPEC, force=False, resume=False):
        (tmp_path / "backup").mkdir()  # killed in training: its backup is left
    with pytest.raises(RunFolderError, match="interrupted run; pass --resume"):
        check_run_folder(folder, SPEC, force=False, resume=False)
    with pytest.raises(RunFolderError, match="differs"):
        check_run_folder(folder, SPEC.replace("8", "16"), force=False, resume=True)
    check_run_folder(folder, SPEC.replace("4", "9"), force=False, resume=True)  # more epochs
    with pytest.raises(RunFolderError, match="one of them"):
        check_run_folder(folder, SPEC, force=True, resume=True)

    with open_run_folder(folder, SPEC, force=True, resume=False):
        (tmp_path / "metrics.json").write_text("{}")  # a finished run
    with pytest.raises(RunFolderError, match=r"already holds a run.*--force"):
        check_run_folder(folder, SPEC, force=False, resume=False)
    with pytest.raises(RunFolderError, match="nothing to resume"):
        check_run_folder(folder, SPEC, force=False, resume=True)
    take(folder, force=True)
    assert not (tmp_path / "metrics.json").exists()


# --- the lock --------------------------------------------------------------------------------


def test_a_live_run_keeps_out_a_second_one(tmp_path: Path) -> None:
    folder = plan_run_folder(plan_with(), tmp_path)
    with open_run_folder(folder, SPEC, force=False, resume=False):
        assert (tmp_path / LOCK).read_text().strip() == str(os.getpid())
        for force in (False, True):
            with pytest.raises(RunFolderError, match=f"process {os.getpid()}"):
                check_run_folder(folder, SPEC, force=force, resume=False)
            with pytest.raises(RunFolderError, match=f"process {os.getpid()}"):
                take(folder, force=force)
    take(folder, force=True)  # released when the run ended


def test_a_dead_processs_lock_does_not_block(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        text=True,
        capture_output=True,
        check=True,
    )
    (tmp_path / LOCK).write_text(proc.stdout)
    (tmp_path / MARKER).write_text(json.dumps({"created": [LOCK, MARKER]}))
    take(plan_run_folder(plan_with(), tmp_path))


# --- where a run folder may be ----------------------------------------------------------------


def test_bad_locations(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(BadOutputLocation, match="is a file"):
        check_location(tmp_path / "file")
    with pytest.raises(BadOutputLocation, match=r"is under .*file, which is a file"):
        check_location(tmp_path / "file" / "run")
    with pytest.raises(BadOutputLocation, match="is not a folder"):
        check_location(Path("/dev/null"))
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    with pytest.raises(BadOutputLocation):
        check_location(tmp_path / "loop" / "run")
    check_location(tmp_path / "new" / "run")


# --- through `speck train`, with TensorFlow unimportable -------------------------------------


def tiny_spec(folder: Path, **changes: Any) -> Path:
    import numpy as np

    np.savez(folder / "tiny.npz", x=np.zeros((8, 2), np.float32), y=np.zeros(8, np.int64))
    spec = {
        "speck": 1,
        "name": "tiny",
        "data": {"source": {"npz": "tiny.npz"}},
        "model": {"input": [2], "layers": [{"Dense": {"units": 2}}]},
        "compile": {"optimizer": "adam", "loss": "sparse_categorical_crossentropy"},
        "fit": {"epochs": 1},
        **changes,
    }
    path = folder / "spec.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


@pytest.mark.slow
def test_bad_out_locations_exit_2_before_tensorflow(tmp_path: Path) -> None:
    spec = tiny_spec(tmp_path)
    (tmp_path / "file").write_text("x")
    cases = {
        str(tmp_path / "file"): "is a file",
        str(tmp_path / "file" / "run"): "which is a file",
        "/dev/null": "is not a folder",
    }
    for out, message in cases.items():
        proc = run_speck(["train", str(spec), "--out", out], block_tf=True, tmp_path=tmp_path)
        assert proc.returncode == 2, proc.stderr
        assert message in proc.stderr and "Traceback" not in proc.stderr
    assert (tmp_path / "file").read_text() == "x"


@pytest.mark.slow
def test_read_only_folder_exits_2_before_tensorflow(tmp_path: Path) -> None:
    """A folder made read-only (root writes in those anyway), and sysfs, where nobody may
    create a file."""
    spec = tiny_spec(tmp_path)
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    outs = [Path("/sys/speck-run")] if Path("/sys/kernel").is_dir() else []
    if os.geteuid() != 0:
        outs += [locked, locked / "run"]
    if not outs:
        pytest.skip("no read-only folder here")
    try:
        for out in outs:
            args = ["train", str(spec), "--out", str(out)]
            proc = run_speck(args, block_tf=True, tmp_path=tmp_path)
            assert proc.returncode == 2, proc.stderr
            assert f"cannot write in the run folder {out}" in proc.stderr
    finally:
        locked.chmod(0o755)


LOCK_HOLDER = textwrap.dedent(
    """
    import fcntl, os, sys, time
    fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    os.write(fd, str(os.getpid()).encode())
    print("locked", flush=True)
    time.sleep(60)
    """
)


@pytest.mark.slow
def test_a_second_train_into_a_live_runs_folder_is_refused(tmp_path: Path) -> None:
    spec = tiny_spec(tmp_path)
    out = tmp_path / "run"
    out.mkdir()
    (out / MARKER).write_text(json.dumps({"created": [LOCK, MARKER]}))
    holder = subprocess.Popen(
        [sys.executable, "-c", LOCK_HOLDER, str(out / LOCK)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        for flags in ([], ["--force"], ["--resume"]):
            args = ["train", str(spec), "--out", str(out), *flags]
            proc = run_speck(args, block_tf=True, tmp_path=tmp_path)
            assert proc.returncode == 1, proc.stderr
            assert f"in use by a running speck train (process {holder.pid})" in proc.stderr
    finally:
        holder.kill()
        holder.wait()
    fd = os.open(out / LOCK, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # the dead holder's lock is gone
    finally:
        os.close(fd)

"""The pre-flight check of data files (`speck.checks.data`) that `speck train` runs before it
imports TensorFlow: every bad file is an error at its `data.source` line, saying what is wrong
and what to do, and no array of Python objects is ever unpickled."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import run_speck

from speck.backends.emit.runtime import data as rt
from speck.checks.data import check_data_files
from speck.pipeline import resolve_file


class MakesAFolder:
    """Unpickling this creates the folder it names: proof that something was unpickled."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (os.mkdir, (self.path,))


def write_spec(folder: Path, source: str, task: str = "classify", shape: str = "[2]") -> Path:
    """A spec whose `data.source` (line 4) is `source`, a YAML flow mapping."""
    path = folder / "spec.yaml"
    path.write_text(
        textwrap.dedent(
            f"""\
            speck: 1
            name: files
            data:
              source: {source}
              task: {task}
            model:
              input: {shape}
              layers: [Flatten, {{Dense: {{units: 2}}}}]
            compile: {{optimizer: adam, loss: mse}}
            """
        )
    )
    return path


def problems(folder: Path, source: str, task: str = "classify") -> list[str]:
    shape = "[2, 2, 1]" if "images" in source else "[2]"
    if "images" in source:
        source = source.replace("}", ", image_size: [2, 2], color_mode: grayscale}")
    spec = write_spec(folder, source, task, shape)
    return [d.format() for d in check_data_files(resolve_file(spec))]


@pytest.fixture
def files(tmp_path: Path) -> Path:
    """Good and bad data files, and the folder an unpickled object would create."""
    np.savez(tmp_path / "good.npz", x=np.zeros((4, 2), np.float32), y=np.zeros(4, np.int64))
    np.save(tmp_path / "good.npy", np.zeros((4, 2), np.float32))
    evil = np.array([MakesAFolder(tmp_path / "pwned")], dtype=object)
    np.save(tmp_path / "objects.npy", evil, allow_pickle=True)
    np.savez(tmp_path / "objects.npz", x=evil, y=np.zeros(1, np.int64))
    (tmp_path / "good.csv").write_text("a,b,label\n1,2,0\n3,4,1\n")
    (tmp_path / "nul.csv").write_bytes(b"a,b,label\n1,2,x\n3,\x004,y\n")
    (tmp_path / "latin1.csv").write_bytes("a,b,label\n1,2,caf\xe9\n".encode("latin-1"))
    (tmp_path / "long.csv").write_text('a,b,label\n1,2,"' + "x" * 200_000 + "\n")
    (tmp_path / "short.csv").write_text("a,b,label\n1,2,0\n3,4\n")
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "folder").mkdir()
    (tmp_path / "loop.csv").symlink_to(tmp_path / "loop.csv")
    return tmp_path


def test_good_files_pass(files: Path) -> None:
    assert problems(files, "{npz: good.npz}") == []
    assert problems(files, "{npy: {x: good.npy, y: good.npy}}") == []
    assert problems(files, "{csv: good.csv, label: label, test_csv: good.csv}") == []


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{npy: {x: objects.npy}}", "objects.npy holds Python objects (dtype object)"),
        ("{npz: objects.npz}", "objects.npz array 'x' holds Python objects (dtype object)"),
        ("{npz: /etc/passwd}", "passwd is not a .npz archive"),
        ("{npy: {x: /etc/passwd}}", "passwd is not a NumPy array file"),
        ("{npz: /dev/zero}", "/dev/zero is not a regular file"),
        ("{npy: {x: /dev/zero}}", "/dev/zero is not a regular file"),
        ("{npz: good.npz, x: features}", "has no array 'features'; it has ['x', 'y']"),
        ("{csv: /dev/zero}", "/dev/zero is not a regular file"),
        ("{csv: nul.csv}", "holds binary data (byte 0x00 on line 3)"),
        ("{csv: latin1.csv}", "is not UTF-8 text (line 2)"),
        ("{csv: long.csv}", "a field is longer than 131,072 characters"),
        ("{csv: short.csv}", "line 3 has 2 fields; the header has 3"),
        ("{csv: empty.csv}", "is empty; it needs a header row"),
        ("{csv: good.csv, label: y}", "has no column 'y'; its columns are a, b, label"),
        ("{csv: folder}", "is a folder, not a file"),
        ("{csv: ''}", "the path is empty"),
        ("{csv: loop.csv}", "is a loop of symbolic links"),
        ("{csv: missing.csv}", "there is no file"),
        ("{csv: good.csv, test_csv: folder}", "is a folder, not a file"),
        ("{images: good.csv}", "is not a folder"),
        ("{images: folder}", "has no class subfolders"),
    ],
)
def test_bad_files_are_errors_at_the_source_line(files: Path, source: str, message: str) -> None:
    found = problems(files, source)
    assert len(found) == 1, found
    assert found[0].startswith(f"{files / 'spec.yaml'}:4:"), found
    assert ": data.source." in found[0]
    assert message in found[0]
    assert found[0].endswith(")")  # a suggestion
    assert not (files / "pwned").exists()


def test_unlabelled_tasks_do_not_need_targets(files: Path) -> None:
    np.savez(files / "x_only.npz", x=np.zeros((4, 2), np.float32))
    assert problems(files, "{npz: x_only.npz}", task="reconstruct") == []
    assert "no array 'y'" in problems(files, "{npz: x_only.npz}")[0]


# --- the loaders themselves ------------------------------------------------------------------


def test_loaders_refuse_objects_without_unpickling(files: Path) -> None:
    with pytest.raises(ValueError, match="cannot be loaded safely"):
        rt.load_npy(str(files / "objects.npy"))
    with pytest.raises(ValueError, match="array 'x' cannot be loaded safely"):
        rt.load_npz(str(files / "objects.npz"))
    assert not (files / "pwned").exists()


@pytest.mark.parametrize("path", ["/etc/passwd", "/dev/zero"])
def test_loaders_refuse_files_that_are_not_arrays(path: str) -> None:
    with pytest.raises(ValueError, match=r"is not a \.npz archive"):
        rt.load_npz(path)
    with pytest.raises(ValueError, match=r"is not a \.npy file"):
        rt.load_npy(path)


def test_csv_loader_errors_are_clear(files: Path) -> None:
    cases = {
        "long.csv": "line 2: field larger than field limit",
        "short.csv": "row 3 has 2 fields; the header has 3",
        "latin1.csv": "is not UTF-8 text",
        "empty.csv": "is empty",
        "folder": "is not a CSV file",
    }
    for name, message in cases.items():
        with pytest.raises(ValueError, match=message):
            rt.load_csv(str(files / name), "label")


def test_csv_loader_maps_a_wide_header_by_name(tmp_path: Path) -> None:
    """40,000 columns (quadratic before: 19 s), the first of a repeated name wins as before."""
    n = 40_000
    names = [f"c{i}" for i in range(n)]
    path = tmp_path / "wide.csv"
    path.write_text(
        ",".join([*names, "c0", "label"]) + "\n" + ",".join([*map(str, range(n)), "-1", "a"]) + "\n"
    )
    x, y, classes = rt.load_csv(str(path), "label", features=["c39999", "c0", "c7"])
    assert x.tolist() == [[39999.0, 0.0, 7.0]]
    assert y.tolist() == [0] and classes == ["a"]
    x, _, _ = rt.load_csv(str(path), "label")
    assert x.shape == (1, n + 1)


def test_csv_text_labels_use_given_class_names(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("a,label\n1,b\n2,a\n3,b\n")
    _, y, classes = rt.load_csv(str(path), "label", class_names=["b", "a"])
    assert y.tolist() == [0, 1, 0] and classes == ["b", "a"]


# --- through `speck train`, with TensorFlow unimportable -------------------------------------


@pytest.mark.slow
def test_speck_train_refuses_bad_data_files_before_tensorflow(files: Path) -> None:
    for source, message in (
        ("{npz: objects.npz}", "holds Python objects"),
        ("{csv: nul.csv}", "holds binary data"),
        ("{npz: /dev/zero}", "is not a regular file"),
    ):
        spec = write_spec(files, source)
        proc = run_speck(
            ["train", str(spec), "--out", str(files / "run")], block_tf=True, tmp_path=files
        )
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.startswith(f"{spec}:4:"), proc.stderr
        assert message in proc.stderr and "Traceback" not in proc.stderr
    assert not (files / "pwned").exists()
    assert not (files / "run").exists()

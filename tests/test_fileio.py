"""Files speck writes follow the umask like any other tool's (0644 under umask 022), though each
is written under a private temporary name first."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ROOT
from typer.testing import CliRunner

from speck.cli import app
from speck.fileio import atomic_folder, atomic_path, write_json, write_text


@pytest.fixture(params=[0o022, 0o077, 0o002])
def mask(request: pytest.FixtureRequest) -> Iterator[int]:
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_written_files_have_the_umask_mode(tmp_path: Path, mask: int) -> None:
    write_text(tmp_path / "a.py", "x = 1\n")
    write_json(tmp_path / "sub" / "b.json", {"a": 1})
    assert mode(tmp_path / "a.py") == 0o666 & ~mask
    assert mode(tmp_path / "sub" / "b.json") == 0o666 & ~mask
    assert (tmp_path / "a.py").read_text() == "x = 1\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.py", "sub"]  # nothing left over


def test_a_written_folder_has_the_modes_mkdir_and_open_give(tmp_path: Path, mask: int) -> None:
    target = tmp_path / "model"
    (target / "old").mkdir(parents=True)
    with atomic_folder(target, replace=True) as tmp:
        (tmp / "variables").mkdir(parents=True)
        (tmp / "variables" / "v.bin").write_bytes(b"1")
        (tmp / "saved_model.pb").write_bytes(b"2")
        os.chmod(tmp, 0o700)  # as tempfile.mkdtemp would make it
    assert sorted(p.name for p in target.iterdir()) == ["saved_model.pb", "variables"]
    assert mode(target) == mode(target / "variables") == 0o777 & ~mask
    assert mode(target / "saved_model.pb") == mode(target / "variables" / "v.bin") == 0o666 & ~mask
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_a_failed_write_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), atomic_path(tmp_path / "m.keras") as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("the writer failed")
    assert list(tmp_path.iterdir()) == []


def test_emit_and_schema_write_files_under_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        runner = CliRunner()
        script = tmp_path / "mlp.py"
        spec = ROOT / "specs" / "functional_mlp.yaml"
        assert runner.invoke(app, ["emit", str(spec), "--out", str(script)]).exit_code == 0
        schema = tmp_path / "speck.schema.json"
        assert runner.invoke(app, ["schema", "--output", str(schema)]).exit_code == 0
    finally:
        os.umask(old)
    assert mode(script) == mode(schema) == 0o644

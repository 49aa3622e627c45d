"""Every broken spec under tests/broken/ is refused with exit status 2, at the right line and
column, with the path of the offending key and a message (and suggestion) a person can act on,
and never with a traceback.

Each text file says what it expects on its first lines, as comments:

    # expect: LINE:COLUMN PATH: MESSAGE FRAGMENT

(several `# expect:` lines for a file with several problems; lines count from the top of the
file, comment lines included). Files that cannot carry a comment (binary, empty, a control
character, JSON) have their expectation in `SIDECAR` below.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import BROKEN_DIR, run_speck
from typer.testing import CliRunner

from speck.cli import app

EXPECT = re.compile(r"^# expect: (\d+):(\d+) (.+?): (.+)$")
MIN_BROKEN_SPECS = 40


@dataclass(frozen=True)
class Expected:
    line: int
    column: int
    path: str
    fragment: str


SIDECAR: dict[str, list[Expected]] = {
    # An image renamed to .yaml: its first byte, 0x89, is not UTF-8.
    "png_bytes.yaml": [Expected(1, 1, "(top level)", "not UTF-8 text: byte 0x89")],
    # "name: café" saved as Latin-1: é (0xe9) is the 10th character of line 2.
    "latin1.yaml": [Expected(2, 10, "(top level)", "not UTF-8 text: byte 0xe9")],
    "empty.yaml": [Expected(1, 1, "(top level)", "the file is empty")],
    # "name: a<NUL>b": the NUL is the 8th character of line 2.
    "nul_byte.yaml": [Expected(2, 8, "(top level)", "character U+0000 is not allowed")],
    # JSON has no comments. The comma after the one layer's `}}`, the 40th character of line 6.
    "json_trailing_comma.json": [Expected(6, 40, "(top level)", "not valid JSON: a trailing")],
    # `NaN`, which Python's JSON parser (and YAML) reads, is the 54th character of line 5.
    "json_nan.json": [
        Expected(5, 54, "compile.optimizer.SGD.learning_rate", "NaN is not a JSON number")
    ],
}


def broken_files() -> list[Path]:
    return sorted(p for p in BROKEN_DIR.iterdir() if p.is_file())


def expectations(path: Path) -> list[Expected]:
    if path.name in SIDECAR:
        return SIDECAR[path.name]
    found = []
    for line in path.read_text(encoding="utf-8").splitlines():
        match = EXPECT.match(line)
        if not match:
            break
        found.append(Expected(int(match[1]), int(match[2]), match[3], match[4]))
    assert found, f"{path.name}: no `# expect:` first line and no SIDECAR entry"
    return found


def test_there_are_enough_broken_specs() -> None:
    assert len(broken_files()) >= MIN_BROKEN_SPECS


@pytest.mark.parametrize("path", broken_files(), ids=lambda p: p.name)
def test_broken_spec_is_reported_at_its_place(runner: CliRunner, path: Path) -> None:
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2, result.output
    # A clean exit: typer.Exit, not an exception escaping the command.
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if ": error: " in line]
    for want in expectations(path):
        prefix = f"{path}:{want.line}:{want.column}: error: {want.path}: "
        matching = [line for line in errors if line.startswith(prefix)]
        assert matching, f"no error starting {prefix!r}; got:\n" + "\n".join(errors)
        assert any(want.fragment in line[len(prefix) :] for line in matching), (
            f"{want.fragment!r} not in:\n" + "\n".join(matching)
        )
    assert result.stderr.rstrip().endswith("1 of 1 spec invalid")


def test_every_expectation_points_inside_its_file() -> None:
    """A guard on the expectations themselves: each names a line and column that exist
    (or 1:1, where the file is empty)."""
    for path in broken_files():
        raw = path.read_bytes()
        lines = raw.split(b"\n")
        for want in expectations(path):
            if not raw:
                assert (want.line, want.column) == (1, 1)
                continue
            assert 1 <= want.line <= len(lines), path.name
            assert 1 <= want.column <= len(lines[want.line - 1]) + 1, path.name


def test_validate_all_broken_specs_in_one_real_process(tmp_path: Path) -> None:
    """The installed command, as a person runs it: exit 2, every file reported, no traceback."""
    files = broken_files()
    proc = run_speck(["validate", *map(str, files)], timeout=300)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    assert "internal error" not in proc.stderr
    reported = {line.split(":", 1)[0] for line in proc.stderr.splitlines() if ": error: " in line}
    assert reported == {str(p) for p in files}
    assert proc.stderr.rstrip().endswith(f"{len(files)} of {len(files)} specs invalid")

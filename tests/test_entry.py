"""`speck validate`'s quick start (`speck.entry`): the same output and exit status as the full
command line, without importing typer, rich or Jinja2."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
from conftest import BROKEN_DIR, ROOT
from typer.testing import CliRunner

from speck import entry
from speck.cli import app

GOOD = ROOT / "specs" / "functional_mlp.yaml"
BAD = BROKEN_DIR / "padding_sme.yaml"


def quick(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """`speck ARGS` through the entry point, in this process."""
    parsed = entry._parse_validate(args[1:])
    assert args[0] == "validate" and parsed is not None, "the quick path should take these"
    code = entry.run_validate(**parsed)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    "args",
    [
        ["validate", str(GOOD)],
        ["validate", str(GOOD), str(BAD)],
        ["validate", "-q", str(ROOT / "specs")],
        ["validate", str(BAD), "--format", "json"],
        ["validate", "--format=github", str(BAD)],
        ["validate", "-fjson", str(GOOD)],
        ["validate", "--shapes", str(GOOD)],
        ["validate", str(ROOT / "tests")],  # no spec files: exit 2
        ["validate", str(ROOT / "nope.yaml")],
    ],
)
def test_the_quick_path_prints_what_the_full_command_prints(
    args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = quick(args, capsys)
    full = CliRunner().invoke(app, args)
    assert (code, out, err) == (full.exit_code, full.stdout, full.stderr)
    if "json" in " ".join(args):
        json.loads(out)


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["-h", "x.yaml"],
        [],  # a missing argument: the full command line's message
        ["--formt", "json", "x.yaml"],  # a misspelt option: its "did you mean"
        ["--qui", "x.yaml"],  # an abbreviation, which the full command line refuses
        ["-f", "xml", "x.yaml"],
        ["--", "-odd-name.yaml"],
    ],
)
def test_what_the_quick_path_does_not_take_goes_to_the_full_command_line(args: list[str]) -> None:
    assert entry._parse_validate(args) is None


BLOCK = textwrap.dedent(
    """
    import sys

    class Blocker:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("typer", "click", "rich", "jinja2", "tensorflow", "keras"):
                raise ImportError(f"{name} blocked by the test")

    sys.meta_path.insert(0, Blocker())
    sys.argv = ["speck", *sys.argv[1:]]
    from speck.entry import main

    main()
    """
)


@pytest.mark.slow
def test_validate_runs_without_typer_rich_jinja2_or_tensorflow() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", BLOCK, "validate", "--format", "github", str(BAD), str(GOOD)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout.startswith(f"::error file={BAD}"), proc.stdout
    assert "blocked" not in proc.stderr and "Traceback" not in proc.stderr


def test_the_validation_path_loads_without_asyncio_and_leaves_it_importable() -> None:
    """pydantic loads with stand-ins for asyncio (its `deprecated` marks only ask whether a
    function is a coroutine function); afterwards neither stand-in is left, and asyncio
    imports and runs as usual."""
    code = textwrap.dedent(
        """
        import sys
        from speck import entry
        entry._load_the_validation_path()
        import pydantic
        assert "asyncio" not in sys.modules and "asyncio.coroutines" not in sys.modules
        import asyncio
        assert asyncio.run(asyncio.sleep(0, "ran")) == "ran"
        print("ok")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0 and result.stdout == "ok\n", result.stderr

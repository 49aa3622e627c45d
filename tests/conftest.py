"""Shared test helpers: the repository's folders, the example specs, running the `speck` command
(through typer's CliRunner, or as a real process), and a Python that cannot import TensorFlow.

The import blocker is a `sitecustomize` module on `PYTHONPATH` that installs a meta-path finder
raising `ImportError` for `tensorflow` and `keras` (and their submodules), so a subprocess run
under it proves a command never imports them, or shows what it says when they are missing.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

import pytest
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]
SPECS_DIR = ROOT / "specs"
ALL_SPECS = sorted(p for p in SPECS_DIR.iterdir() if p.suffix in (".yaml", ".yml", ".json"))
TUNE_SPECS = [p for p in ALL_SPECS if "tune" in p.stem]
"""Example specs with search spaces (`speck tune`); they do not build or train as they are."""
SPECS = [p for p in ALL_SPECS if p not in TUNE_SPECS]
BROKEN_DIR = Path(__file__).resolve().parent / "broken"

BLOCKED_MODULES = ("tensorflow", "keras", "tf_keras")

SITECUSTOMIZE = textwrap.dedent(
    f"""
    import sys

    BLOCKED = {BLOCKED_MODULES!r}


    class _Blocker:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ImportError(f"No module named {{name!r}} (blocked by the test)")
            return None


    sys.meta_path.insert(0, _Blocker())
    """
)


def speck_command() -> list[str]:
    """The `speck` command of this interpreter (the entry point, or `python -m speck`)."""
    return [sys.executable, "-m", "speck"]


def run_speck(
    args: Sequence[str],
    *,
    block_tf: bool = False,
    tmp_path: Path | None = None,
    cwd: Path = ROOT,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Run `speck ARGS` as a real process; with `block_tf`, TensorFlow and Keras cannot load."""
    env = {k: v for k, v in os.environ.items() if k not in ("SPECK_DEBUG", "PYTHONPATH")}
    if block_tf:
        assert tmp_path is not None, "block_tf needs a folder for sitecustomize.py"
        site = tmp_path / "blocker"
        site.mkdir(exist_ok=True)
        (site / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
        env["PYTHONPATH"] = str(site)
    return subprocess.run(
        [*speck_command(), *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=timeout,
    )


@pytest.fixture(scope="session")
def runner() -> CliRunner:
    return CliRunner()

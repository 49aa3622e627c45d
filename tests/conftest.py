"""Shared test helpers: the repository's folders, the example specs, running the `speck` command
(through typer's CliRunner, or as a real process), and a Python that cannot import TensorFlow.

The import blocker is a `sitecustomize` module on `PYTHONPATH` that installs a meta-path finder
raising `ImportError` for `tensorflow` and `keras` (and their submodules), so a subprocess run
under it proves a command never imports them, or shows what it says when they are missing.

The marks mean what they say: `TensorFlowGuard` fails a test not marked `tf` that imports
TensorFlow in this process, and a test module that imports it when collected (which every run
would pay for, `-m "not tf"` too). So `python -m pytest -m "not slow and not tf"`, the inner
loop, never loads TensorFlow.

Hypothesis profiles: `ci` draws the same examples on every run (derandomized, no example
database, no deadline on a shared machine); it is loaded when the `CI` environment variable is
set, or with `--hypothesis-profile ci`.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
import typer.testing
from hypothesis import settings
from typer.testing import CliRunner

pytest_plugins = ["pytester"]  # the guard's own tests run small pytest sessions

settings.register_profile("ci", derandomize=True, database=None, deadline=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")  # `--hypothesis-profile NAME` still chooses another

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


# typer's CliRunner builds the click command from every command function's signature on each
# `invoke` (tens of milliseconds, more than most commands take under test); the app does not
# change during a test run, so each app's command is built once. A process that runs `speck`
# builds it once too.
typer.testing._get_command = functools.cache(typer.testing._get_command)


def run_files(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under `folder` with its size and modification time."""
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="session")
def digits_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The run folder of `specs/digits_mlp.yaml` trained for one epoch: trained once for the whole
    test run and shared by every test that reads a trained run (so each is marked `tf` and
    `slow`). Read only: a test that changes it copies it first (`shutil.copytree`)."""
    import speck

    run = tmp_path_factory.mktemp("digits") / "run"
    speck.train(SPECS_DIR / "digits_mlp.yaml", out=run, overrides=["fit.epochs=1"])
    files = run_files(run)
    yield run
    assert run_files(run) == files, (
        f"a test changed the shared digits run in {run}; copy it before changing it"
    )


# --- marks that mean what they say -----------------------------------------------------------

TENSORFLOW = "tensorflow"
_LOADED_BEFORE = pytest.StashKey[bool]()


def tensorflow_loaded() -> bool:
    return TENSORFLOW in sys.modules


class TensorFlowGuard:
    """Fails a test that imports TensorFlow without the `tf` mark, and a test module that
    imports it when collected. Once TensorFlow is loaded in a process it stays, so a test is
    checked only while it has not been loaded yet: always, in a run that leaves out `tf`."""

    @pytest.hookimpl(wrapper=True)
    def pytest_make_collect_report(self, collector: pytest.Collector) -> pytest.CollectReport:
        before = tensorflow_loaded()
        report: pytest.CollectReport = yield
        if isinstance(collector, pytest.Module) and not before and tensorflow_loaded():
            report.outcome = "failed"
            report.longrepr = (
                f"{collector.nodeid} imports TensorFlow when it is collected, so every run "
                'pays for it, `-m "not tf"` too: import it inside the tests (or a fixture) '
                "that are marked `tf`"
            )
        return report

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        item.stash[_LOADED_BEFORE] = tensorflow_loaded()
        yield
        self.check(item, "its fixtures import")

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> None:
        yield
        self.check(item, "it imports")

    @staticmethod
    def check(item: pytest.Item, what: str) -> None:
        if item.stash.get(_LOADED_BEFORE, True) or not tensorflow_loaded():
            return
        item.stash[_LOADED_BEFORE] = True  # reported once
        if item.get_closest_marker("tf") is None:
            pytest.fail(
                f"{item.nodeid} is not marked `tf` but {what} TensorFlow: mark it "
                "`@pytest.mark.tf` (and `slow` if it takes over 2 s), or keep TensorFlow out",
                pytrace=False,
            )

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        items = getattr(session, "items", [])
        if items and tensorflow_loaded() and not any(i.get_closest_marker("tf") for i in items):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
            reporter = session.config.pluginmanager.get_plugin("terminalreporter")
            if reporter is not None:
                reporter.write_line(
                    "error: TensorFlow was imported in a run of tests none of which is marked `tf`",
                    red=True,
                )


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(TensorFlowGuard(), "tensorflow-guard")

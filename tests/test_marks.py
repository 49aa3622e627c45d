"""The marks mean what they say: a test that imports TensorFlow without the `tf` mark fails, and
so does a test module that imports it when collected, so the inner loop
(`python -m pytest -m "not slow and not tf"`) never loads TensorFlow.

The guard's own tests run small pytest sessions in this process, with a stand-in `tensorflow`
module put into `sys.modules` (the real one is never imported here)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, SITECUSTOMIZE, TENSORFLOW, TensorFlowGuard
from hypothesis import settings

LOADS_TENSORFLOW = f"""
import sys, types

def load_tensorflow():
    sys.modules[{TENSORFLOW!r}] = types.ModuleType({TENSORFLOW!r})
"""


@pytest.fixture
def guarded(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A pytest session with the guard, in a process where TensorFlow is not loaded yet."""
    monkeypatch.delitem(sys.modules, TENSORFLOW, raising=False)
    pytester.makeini("[pytest]\nmarkers =\n    tf: imports TensorFlow\n    slow: over 2 s\n")
    return pytester


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_inprocess(
        *args, "-p", "no:cacheprovider", plugins=[TensorFlowGuard()]
    )


def test_an_unmarked_test_that_imports_tensorflow_fails(guarded: pytest.Pytester) -> None:
    guarded.makepyfile(
        LOADS_TENSORFLOW
        + "\ndef test_quiet():\n    pass\n"
        + "\ndef test_loads():\n    load_tensorflow()\n"
        + "\ndef test_after():\n    pass\n"
    )
    result = run(guarded)
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        ["*test_loads is not marked `tf` but it imports TensorFlow: mark it `@pytest.mark.tf`*"]
    )


def test_an_unmarked_fixture_that_imports_tensorflow_fails(guarded: pytest.Pytester) -> None:
    guarded.makepyfile(
        LOADS_TENSORFLOW
        + "\nimport pytest\n"
        + "\n@pytest.fixture\ndef model():\n    load_tensorflow()\n"
        + "\ndef test_uses(model):\n    pass\n"
    )
    result = run(guarded)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*test_uses is not marked `tf` but its fixtures import*"])


def test_a_marked_test_may_import_tensorflow(guarded: pytest.Pytester) -> None:
    guarded.makepyfile(
        LOADS_TENSORFLOW
        + "\nimport pytest\n"
        + "\n@pytest.mark.tf\ndef test_loads():\n    load_tensorflow()\n"
        + "\ndef test_after():\n    pass\n"
    )
    run(guarded).assert_outcomes(passed=2)


def test_a_module_that_imports_tensorflow_when_collected_is_an_error(
    guarded: pytest.Pytester,
) -> None:
    guarded.makepyfile(
        LOADS_TENSORFLOW
        + "\nimport pytest\n"
        + "\nload_tensorflow()\n"
        + "\n@pytest.mark.tf\ndef test_loads():\n    pass\n"
    )
    result = run(guarded, "-m", "not tf")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*imports TensorFlow when it is collected, so every run pays*"])


def test_a_run_without_tf_tests_that_loads_tensorflow_fails_at_the_end(
    guarded: pytest.Pytester,
) -> None:
    """What the per-test checks cannot place (here a session fixture's teardown) still fails
    the run."""
    guarded.makeconftest(
        LOADS_TENSORFLOW
        + "\nimport pytest\n"
        + "\n@pytest.fixture(scope='session', autouse=True)\ndef late():\n"
        + "    yield\n    load_tensorflow()\n"
    )
    guarded.makepyfile("def test_quiet():\n    pass\n")
    result = run(guarded)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*TensorFlow was imported in a run of tests none of which*"])


@pytest.mark.slow
def test_the_inner_loop_collects_every_module_without_tensorflow(tmp_path: Path) -> None:
    """Every test module is collected (and the inner loop's tests selected) in a process where
    TensorFlow and Keras cannot be imported."""
    site = tmp_path / "blocker"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-m", "not slow and not tf"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(site)},
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert " tests collected (" in proc.stdout.splitlines()[-1], proc.stdout[-3000:]


def test_the_ci_profile_draws_the_same_examples_on_every_run() -> None:
    ci = settings.get_profile("ci")
    assert ci.derandomize and ci.database is None and ci.deadline is None

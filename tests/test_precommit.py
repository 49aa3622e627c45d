"""The pre-commit hook, run by the real `pre-commit` tool against a temporary repository.

`pre-commit try-repo` installs this checkout into a fresh virtualenv the way users' hooks do
(core dependencies only, no TensorFlow) and runs `speck-validate` on the repository's files.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("pre-commit") is None, reason="pre-commit is not installed"),
]

GOOD = """\
speck: 1
name: tiny
model:
  input: [4]
  layers:
    - Dense: {units: 2, activation: softmax}
compile: {optimizer: adam, loss: categorical_crossentropy}
"""

BAD = GOOD.replace("units: 2", "unit: 2")


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


@pytest.fixture(scope="module")
def hook_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One pre-commit cache for the module: the hook's environment is built once."""
    return tmp_path_factory.mktemp("pre-commit-home")


def try_repo(repo: Path, home: Path, *files: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PRE_COMMIT_HOME": str(home), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    cmd = ["pre-commit", "try-repo", str(ROOT), "speck-validate", "--files", *files]
    return subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True, check=False)


def make_repo(path: Path, files: dict[str, str]) -> Path:
    path.mkdir()
    git(path, "init", "-q")
    git(path, "config", "user.email", "ci@example.com")
    git(path, "config", "user.name", "ci")
    for name, text in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text, encoding="utf-8")
    git(path, "add", ".")
    return path


def test_hook_fails_on_a_bad_spec_with_its_location(tmp_path: Path, hook_home: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"specs/bad.yaml": BAD})
    result = try_repo(repo, hook_home, "specs/bad.yaml")
    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    assert "specs/bad.yaml:6:15: error: model.layers[0].Dense.unit:" in out
    assert "did you mean 'units'?" in out
    assert "Traceback" not in out


def test_hook_passes_on_a_good_spec(tmp_path: Path, hook_home: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"specs/good.yaml": GOOD, "notes.yaml": "not: [a spec"})
    result = try_repo(repo, hook_home, "specs/good.yaml", "notes.yaml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Passed" in result.stdout

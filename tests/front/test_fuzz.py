"""Mutation fuzzing over the example specs: every mutant is either accepted (exit 0) or refused
(exit 2) with every diagnostic placed in the file, never a traceback or "internal error"; and
what is accepted emits a script that `ruff check` and `ruff format --check` pass.

A mutant is an example spec from `specs/` with one to three changes: a value swapped for another
type or an extreme (2**63, -1, 0, NaN, 1e308, 10**32, unicode, paths out of the run folder), a key
dropped or duplicated, a node renamed everywhere (very long names, names the script uses
itself), two places sharing one value (written as a YAML anchor and alias), a
scalar replaced by a YAML oddity (`010`, `1:30`, tags, undefined aliases, block scalars), or the
document wrapped in directives. It is written as YAML or, sometimes, as JSON. Hypothesis draws
the mutants derandomized, so every run examines the same ones.
"""

from __future__ import annotations

import contextlib
import copy
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import SPECS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from speck.cli import app
from speck.front.load import load_file

SEEDS = [(path.stem, load_file(path).data) for path in SPECS]

EXTREMES: list[Any] = [
    2**63,
    -(2**63) - 1,
    10**32,
    2**31,
    2**32,
    -1,
    0,
    1,
    float("nan"),
    float("inf"),
    float("-inf"),
    1e308,
    -1e-308,
    0.5,
    "",
    " ",
    "x" * 300,
    "é漢字🙂\u202e",
    "\x00",
    "..",
    "/tmp/speck-fuzz",
    "~/speck-fuzz",
    ".",
    "a/../../b",
    None,
    True,
    False,
    [],
    {},
    [None],
    {"Dense": None},
]

ODD = "ZQODDQZ"
"""A placeholder scalar, replaced in the YAML text by one of `ODDITIES`."""
ODDITIES = [
    "010",
    "1:30",
    "0b11",
    "0x10",
    "1_0",
    "0o17",
    "09",
    ".NaN",
    "-.inf",
    "1e400",
    "1" + "0" * 5000,
    "&anchor 5",
    "*undefined",
    "!!python/object/apply:os.system ['true']",
    "!!binary aGk=",
    "!custom 3",
    "!!str 5",
    "!!int '7'",
    "yes",
    "~",
    "2024-01-02",
    "'quoted'",
    '"\\ud83d"',
    "[1, 2",
    "{a: 1, a: 2}",
    "|\n  a block\n",
    "? complex\n",
    "@reserved",
]
DOCUMENT_WRAPS = [
    ("%YAML 1.1\n---\n", ""),
    ("--- !!map\n", ""),
    ("\ufeff", ""),
    ("", "...\n---\nextra: 1\n"),
    ("# comment\n", "\n# trailing\n"),
]

Path_ = tuple[Any, ...]


def paths(node: Any, prefix: Path_ = ()) -> Iterator[Path_]:
    """Every place in a spec's data, its top included."""
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from paths(value, (*prefix, i))


def get(node: Any, path: Path_) -> Any:
    for part in path:
        node = node[part]
    return node


NAMES = ["x" * 300, "n" * 1500, "layers", "keras", "print", "model", "_1", "Input", "é"]
"""New names for a node, given everywhere the spec names it."""


def renamed(node: Any, old: str, new: str) -> Any:
    """The data with every string `old` (a value or a key) written `new`."""
    if isinstance(node, dict):
        return {(new if k == old else k): renamed(v, old, new) for k, v in node.items()}
    if isinstance(node, list):
        return [renamed(v, old, new) for v in node]
    return new if node == old else node


def node_names(data: Any) -> list[str]:
    """The names of a spec's model nodes: its inputs' and its named layers'."""
    model = data.get("model") if isinstance(data, dict) else None
    if not isinstance(model, dict):
        return []
    names = list(model["inputs"]) if isinstance(model.get("inputs"), dict) else []
    names += [model["input_name"]] if isinstance(model.get("input_name"), str) else []
    layers = model.get("layers")
    for layer in layers if isinstance(layers, list) else []:
        if isinstance(layer, dict) and isinstance(layer.get("name"), str):
            names.append(layer["name"])
    return sorted({n for n in names if isinstance(n, str)})


def swapped(value: Any) -> list[Any]:
    """The same value as other types."""
    out: list[Any] = [str(value), [value], {"x": value}]
    if isinstance(value, bool):
        out += [int(value), "true" if value else "no"]
    elif isinstance(value, int | float):
        out += [float(value), value * 1000, -value]
    elif isinstance(value, str):
        out += [len(value), value.upper(), value + value]
    elif isinstance(value, list):
        out += [dict(enumerate(value)), value[:1], value * 2]
    elif isinstance(value, dict):
        out += [list(value.values()), list(value), {**value, "extra": 1}]
    return out


@st.composite
def mutants(draw: st.DrawFn) -> tuple[str, str]:
    """(file suffix, text) of one mutant."""
    _, original = draw(st.sampled_from(SEEDS))
    data = copy.deepcopy(original)
    odd = False
    for _ in range(draw(st.integers(1, 3))):
        places = list(paths(data))
        path = draw(st.sampled_from(places))
        parent, key = (get(data, path[:-1]), path[-1]) if path else (None, None)
        op = draw(st.sampled_from(["extreme", "swap", "drop", "share", "odd", "rename"]))
        if op == "rename" and node_names(data):
            old = draw(st.sampled_from(node_names(data)))
            data = renamed(data, old, draw(st.sampled_from(NAMES)))
            continue
        if parent is None:
            continue  # the top itself: changes to it are the document wraps below
        if op == "extreme":
            parent[key] = copy.deepcopy(draw(st.sampled_from(EXTREMES)))
        elif op == "swap":
            parent[key] = draw(st.sampled_from(swapped(parent[key])))
        elif op == "drop":
            del parent[key]
        elif op == "share":  # the same object twice: the YAML dump writes &id001 / *id001
            other = draw(st.sampled_from(places))
            if other and other[: len(path)] != path and path[: len(other)] != other:
                parent[key] = get(data, other)
        elif op == "odd" and not odd:
            parent[key] = ODD
            odd = True
    if not odd and draw(st.integers(0, 3)) == 0:
        # As JSON (Python's json writes NaN and Infinity, which a JSON spec must refuse);
        # a node shared into itself is a cycle JSON cannot write (YAML writes it as an alias).
        with contextlib.suppress(ValueError):
            return ".json", json.dumps(data, indent=2, ensure_ascii=draw(st.booleans()))
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=None)
    if odd:
        text = text.replace(ODD, draw(st.sampled_from(ODDITIES)), 1)
    lines = text.splitlines(keepends=True)
    if draw(st.integers(0, 4)) == 0 and lines:  # a line written twice: a duplicate key
        i = draw(st.integers(0, len(lines) - 1))
        lines.insert(i, lines[i])
    if draw(st.integers(0, 6)) == 0:
        before, after = draw(st.sampled_from(DOCUMENT_WRAPS))
        lines = [before, *lines, after]
    return ".yaml", "".join(lines)


def examine(runner: CliRunner, folder: Path, n: int, suffix: str, text: str) -> Path | None:
    """Validate one mutant as `speck validate --format json` does; returns the script emitted
    for an accepted one. Fails the test on a traceback, an internal error, an exit status
    other than 0 or 2, or a diagnostic without its place in the file."""
    spec = folder / f"mutant_{n}{suffix}"
    spec.write_text(text, encoding="utf-8", errors="surrogatepass")
    result = runner.invoke(app, ["validate", "--format", "json", str(spec)])
    assert result.exit_code in (0, 2), f"exit {result.exit_code}:\n{text}\n{result.output}"
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"{result.exception!r} on:\n{text}"
    )
    assert "Traceback" not in result.output and "internal error" not in result.output
    diagnostics = json.loads(result.stdout)
    n_lines = text.count("\n") + 1
    for d in diagnostics:
        assert d["file"] == str(spec), d
        assert 1 <= d["line"] <= n_lines and d["column"] >= 1, (d, text)
        assert d["message"], d
    errors = [d for d in diagnostics if d["severity"] == "error"]
    assert (result.exit_code == 2) == bool(errors), (result.exit_code, errors)
    if errors:
        return None
    script = folder / f"mutant_{n}.py"
    result = runner.invoke(app, ["emit", str(spec), "--out", str(script)])
    assert result.exit_code in (0, 2), f"emit exit {result.exit_code}:\n{text}\n{result.output}"
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"emit: {result.exception!r} on:\n{text}"
    )
    return script if result.exit_code == 0 else None


COUNT = {"examined": 0, "accepted": 0}


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mutants")


@settings(
    max_examples=300,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(mutant=mutants())
def test_every_mutant_is_accepted_or_refused_at_its_place(
    runner: CliRunner, folder: Path, mutant: tuple[str, str]
) -> None:
    COUNT["examined"] += 1
    if examine(runner, folder, COUNT["examined"], *mutant) is not None:
        COUNT["accepted"] += 1


RUFF = shutil.which("ruff")


@pytest.mark.slow
@pytest.mark.skipif(RUFF is None, reason="ruff is not installed")
@settings(
    max_examples=6,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)
@given(batch=st.lists(mutants(), min_size=30, max_size=30))
def test_accepted_mutants_emit_ruff_clean_scripts(
    runner: CliRunner, tmp_path: Path, batch: list[tuple[str, str]]
) -> None:
    folder = tmp_path / f"batch_{len(list(tmp_path.iterdir()))}"
    folder.mkdir()
    scripts = [s for i, m in enumerate(batch) if (s := examine(runner, folder, i, *m))]
    if not scripts:
        return
    root = Path(__file__).resolve().parents[2]
    config = ["--config", str(root / "pyproject.toml")]
    names = [str(s) for s in scripts]
    for command in (["check", "--no-cache"], ["format", "--check", "--no-cache"]):
        proc = subprocess.run(
            [str(RUFF), *command, *config, *names], capture_output=True, text=True, timeout=120
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr

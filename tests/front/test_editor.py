"""Editors, tried with the real yaml-language-server (the server behind VS Code's YAML extension
and most editors' YAML support), driven over LSP on stdio with the schema in the repository
(`compiler/speck.schema.json`) named by each spec's modeline:

- every example spec opens without a diagnostic (and the schema is really applied to it);
- broken variants are flagged at their line, the line speck's own validation names;
- completion inserts valid text: a layer's snippet with its required arguments, validating once
  its blanks are filled, and every argument as `key: ` rather than a bare word.

The server's npm package is installed into pytest's cache folder on first use; without node and
npm the tests are skipped, saying so.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, SPECS
from lsp_client import LanguageServer

from speck.front.json_schema import SCHEMA_FILE
from speck.pipeline import analyze

pytestmark = pytest.mark.slow

PACKAGE = "yaml-language-server@2"
MODELINE = "# yaml-language-server: $schema=../compiler/speck.schema.json"
SETTINGS = {
    "yaml": {
        "validate": True,
        "completion": True,
        "hover": True,
        "format": {"enable": False},
        "schemaStore": {"enable": False},
    }
}

PROPERTY = 10  # CompletionItemKind.Property


@pytest.fixture(scope="module")
def server_js(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("needs node and npm to run yaml-language-server (apt-get install nodejs npm)")
    cache = getattr(request.config, "cache", None)
    folder = Path(cache.mkdir("yaml-language-server")) if cache else tmp_path_factory.mktemp("yls")
    package = folder / "node_modules" / "yaml-language-server"
    if not (package / "package.json").is_file():
        proc = subprocess.run(
            [npm, "install", "--no-save", "--no-audit", "--no-fund", PACKAGE],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if proc.returncode != 0 or not (package / "package.json").is_file():
            pytest.skip(f"npm could not install {PACKAGE}: {proc.stderr.strip()[-300:]}")
    version = json.loads((package / "package.json").read_text(encoding="utf-8"))["version"]
    assert version.startswith("2."), version
    return package / "bin" / "yaml-language-server"


@pytest.fixture(scope="module")
def server(server_js: Path) -> Iterator[LanguageServer]:
    node = shutil.which("node")
    assert node is not None
    lsp = LanguageServer([node, str(server_js), "--stdio"], SETTINGS)
    try:
        lsp.initialize(ROOT.as_uri())
        yield lsp
    finally:
        lsp.close()


def here(text: str) -> str:
    """A spec written outside the repository: its modeline names the schema file by URI."""
    return text.replace(MODELINE, f"# yaml-language-server: $schema={SCHEMA_FILE.as_uri()}")


def lines_of(diagnostics: list[dict[str, Any]]) -> set[int]:
    """1-based lines, as speck numbers them."""
    return {d["range"]["start"]["line"] + 1 for d in diagnostics}


def speck_lines(path: Path) -> set[int]:
    return {d.location.line for d in analyze(path).diagnostics if d.location is not None}


def test_every_example_spec_is_clean_in_the_editor(server: LanguageServer) -> None:
    for spec in SPECS:
        text = spec.read_text(encoding="utf-8")
        assert text.splitlines()[0] == MODELINE, spec.name
        assert server.diagnostics(spec.as_uri(), text) == [], spec.name
        # the control: the schema is applied (a wrong version in the same folder is flagged)
        probe = spec.with_name(f"{spec.stem}-probe.yaml").as_uri()
        broken = server.diagnostics(probe, text.replace("speck: 1", "speck: 2", 1))
        assert lines_of(broken) == {text.splitlines().index("speck: 1") + 1}, spec.name


SPEC = f"""\
{MODELINE}
speck: 1
name: s
model:
  input: [28, 28, 1]
  layers:
    - Conv2D: {{filters: 8, kernel_size: 3, padding: same}}
    - Flatten
    - Dense: {{units: 10, activation: softmax}}
compile: {{optimizer: adam, loss: sparse_categorical_crossentropy, metrics: [accuracy]}}
"""


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("- Flatten", "- Flaten", "not a layer speck knows"),
        ("- Conv2D:", "- Conv2d:", "not a layer speck knows"),
        ("padding: same}", "padding: sme}", 'Valid values: "valid", "same"'),
        ("padding: same}", "padding: same, paddin: same}", "Property paddin is not allowed"),
        ("filters: 8", "filters: eight", 'Expected "integer"'),
        ("filters: 8", "filters: -8", "Value is below the exclusive minimum"),
        ("kernel_size: 3", "kernel_size: x", "Incorrect type"),
        ("optimizer: adam", "optimizer: adom", "not an optimizer speck knows"),
        ("speck: 1", "speck: 2", "Value must be 1"),
        ("name: s\n", "name: s\nseeed: 3\n", "Property seeed is not allowed"),
        # legacy spellings speck reads with a warning: deprecated, with the modern form
        ("optimizer: adam", "optimizer: {SGD: {lr: 0.1}}", "'lr' is a Keras 2 spelling"),
        ("units: 10,", "units: 10, input_dim: 5,", "'input_dim' is a Keras 2 spelling"),
        ("- Flatten", "- Activation: relu", "first argument by position"),
    ],
)
def test_broken_variants_are_flagged_at_their_line(
    server: LanguageServer, tmp_path: Path, old: str, new: str, message: str
) -> None:
    good = here(SPEC)
    assert server.diagnostics((tmp_path / "good.yaml").as_uri(), good) == []
    text = good.replace(old, new, 1)
    assert text != good
    path = tmp_path / "broken.yaml"
    path.write_text(text, encoding="utf-8")
    found = server.diagnostics(path.as_uri(), text)
    pairs = zip(text.splitlines(), good.splitlines(), strict=False)
    line = next(i for i, (a, b) in enumerate(pairs, 1) if a != b)
    assert lines_of(found) == {line}, found
    assert any(message in d["message"] for d in found), [d["message"] for d in found]
    assert speck_lines(path) == {line}  # speck names the same line


def expand(snippet: str, fill: dict[str, str]) -> str:
    """What an editor leaves after inserting a snippet and the user filling its blanks:
    `${1:default}` becomes its default, a bare `$1` the value `fill` gives for its key."""

    def blank(match: re.Match[str]) -> str:
        key = match.group(1)
        return f"{key}: {fill[key]}"

    text = re.sub(r"\$\{\d+:([^}]*)\}", r"\1", snippet)
    text = re.sub(r"([A-Za-z_]+): \$\d+", blank, text)
    return re.sub(r"([A-Za-z_]+): $", blank, text)  # the last blank, where the cursor stops


def insert(text: str, line: int, column: int, snippet: str) -> str:
    """Insert a multi-line snippet as editors do: later lines indented like the cursor's line."""
    lines = text.split("\n")
    indent = re.match(r"\s*", lines[line]).group(0)  # type: ignore[union-attr]
    body = snippet.replace("\n", "\n" + indent)
    lines[line] = lines[line][:column] + body + lines[line][column:]
    return "\n".join(lines)


def layer_completions(server: LanguageServer, tmp_path: Path) -> tuple[str, int, int, list]:
    text = here(SPEC.replace("    - Flatten\n", "    - \n"))
    line = text.split("\n").index("    - ")
    items = server.completion((tmp_path / "c.yaml").as_uri(), text, line, 6)
    return text, line, 6, items


def test_a_layer_completion_validates_once_inserted(server: LanguageServer, tmp_path: Path) -> None:
    text, line, column, items = layer_completions(server, tmp_path)
    snippets = {i["label"]: i["insertText"] for i in items if i["kind"] == PROPERTY}
    conv = snippets["Conv2D"]
    assert conv.startswith("Conv2D:\n") and "kernel_size: $" in conv and "filters: $" in conv
    for label, fill in [
        ("Conv2D", {"filters": "8", "kernel_size": "3"}),
        ("Dense", {"units": "10"}),
    ]:
        done = insert(text, line, column, expand(snippets[label], fill))
        path = tmp_path / f"{label}.yaml"
        path.write_text(done, encoding="utf-8")
        assert server.diagnostics(path.as_uri(), done) == [], done
        assert [d.format() for d in analyze(path).diagnostics] == [], done


def test_every_layer_snippet_inserts_valid_defaults(server: LanguageServer, tmp_path: Path) -> None:
    """Inserted as they are, every layer's snippet is valid text: problems can only be where
    the user has to fill a blank (here filled with 3, right or wrong for the argument)."""
    text, line, column, items = layer_completions(server, tmp_path)
    schema = json.loads(SCHEMA_FILE.read_text("utf-8"))
    names = set(schema["definitions"]["LayerSpec"]["anyOf"][0]["enum"])
    snippets = {i["label"]: i["insertText"] for i in items if i["kind"] == PROPERTY}
    assert names <= set(snippets), sorted(names - set(snippets))[:5]
    problems = {}
    for i, name in enumerate(sorted(names)):
        snippet = re.sub(r"\$\{\d+:([^}]*)\}", r"\1", snippets[name])
        snippet = re.sub(r"\$\d+|(?<=: )$", "3  # blank", snippet)
        done = insert(text, line, column, snippet)
        blanks = {n for n, row in enumerate(done.split("\n"), 1) if row.endswith("# blank")}
        found = server.diagnostics((tmp_path / f"s{i}.yaml").as_uri(), done)
        bad = [d["message"] for d in found if d["range"]["start"]["line"] + 1 not in blanks]
        if bad:
            problems[name] = bad
    assert problems == {}, json.dumps(problems, indent=1)


def test_properties_complete_with_a_colon_and_legacy_ones_are_not_offered(
    server: LanguageServer, tmp_path: Path
) -> None:
    header = here(f"{MODELINE}\nspeck: 1\nname: s\n")
    cases = [
        ("", ["model", "compile", "data", "fit", "seed"]),
        (
            "model:\n  input: [8, 8, 1]\n  layers:\n    - Conv2D:\n        filters: 8\n        ",
            ["kernel_size", "dtype", "name", "strides", "padding", "activation"],
        ),
        ("compile:\n  optimizer:\n    SGD:\n      ", ["learning_rate", "momentum"]),
    ]
    for i, (body, expected) in enumerate(cases):
        text = header + body
        lines = text.split("\n")
        items = server.completion(
            (tmp_path / f"p{i}.yaml").as_uri(), text, len(lines) - 1, len(lines[-1])
        )
        inserted = {it["label"]: it["insertText"] for it in items if it["kind"] == PROPERTY}
        for key in expected:
            assert inserted[key].startswith(f"{key}:"), (key, inserted[key])
        bare = [label for label, t in inserted.items() if ":" not in t]
        assert bare == []
        for legacy in ("lr", "decay", "input_dim", "input_shape", "batch_input_shape", "nb_epoch"):
            assert legacy not in inserted

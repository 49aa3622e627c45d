"""Tests of `speck emit` without TensorFlow: the literal renderer, the layout against `ruff
format`, copying runtime functions, naming, safety against hostile spec text, determinism,
the command line, and the committed `generated/` scripts."""

from __future__ import annotations

import ast
import functools
import importlib
import json
import math
import os
import random
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from speck.backends.emit import render
from speck.backends.emit.render import (
    Atom,
    Bracket,
    Chain,
    Code,
    Item,
    call,
    literal,
    statement,
    string,
)
from speck.cli import app
from speck.ir.graph import KerasObject
from speck.pipeline import resolve_file

# `speck.emit` is the library function; the module goes by its full name
emit = importlib.import_module("speck.backends.emit.program")

ROOT = Path(__file__).resolve().parents[3]
ALL_SPECS = sorted(p for p in (ROOT / "specs").iterdir() if p.suffix in (".yaml", ".yml", ".json"))
SPECS = [p for p in ALL_SPECS if "tune" not in p.stem]
"""The specs of training programs (those with search spaces have search scripts instead)."""
TUNE_SPECS = [p for p in ALL_SPECS if p not in SPECS]
RUFF = shutil.which("ruff")
needs_ruff = pytest.mark.skipif(RUFF is None, reason="ruff is not installed")


def ruff(*args: str, text: str | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    assert RUFF is not None
    return subprocess.run(
        [RUFF, *args], input=text, capture_output=True, text=True, cwd=cwd, timeout=120
    )


def script_of(spec: Path) -> str:
    return emit.emit_script(
        resolve_file(spec), spec.relative_to(ROOT).as_posix(), ROOT / "generated"
    )


# --- the literal renderer --------------------------------------------------------------------

plain = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(),
)
values = st.recursive(
    plain,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=4).map(tuple),
        st.dictionaries(st.text(max_size=8), inner, max_size=4),
    ),
    max_leaves=12,
)


def same(a: Any, b: Any) -> bool:
    """Equal, with types kept apart (True is not 1, a tuple is not a list)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return a == b


@given(values)
def test_literal_round_trips_with_types_kept(value: Any) -> None:
    text = literal(value, sort_keys=False).flat()
    assert same(ast.literal_eval(text), value)


@given(values)
def test_laid_out_literal_round_trips(value: Any) -> None:
    text = statement("x = ", literal(value, sort_keys=False), indent=0)
    namespace: dict[str, Any] = {}
    exec(compile(text, "<literal>", "exec"), {"__builtins__": {}}, namespace)
    assert same(namespace["x"], value)


@given(st.text())
def test_string_literal_is_one_line_and_exact(text: str) -> None:
    code = string(text)
    assert "\n" not in code and "\r" not in code
    assert code.isprintable()
    assert ast.literal_eval(code) == text


def test_special_floats_are_spelled_as_calls() -> None:
    assert literal(math.inf).flat() == 'float("inf")'
    assert literal(-math.inf).flat() == 'float("-inf")'
    assert literal(math.nan).flat() == 'float("nan")'
    assert literal(1e-05).flat() == "1e-05"


def test_mappings_are_sorted_unless_told_not_to() -> None:
    assert literal({"b": 1, "a": 2}).flat() == '{"a": 2, "b": 1}'
    assert literal({"b": 1, "a": 2}, sort_keys=False).flat() == '{"b": 1, "a": 2}'


@pytest.mark.parametrize("value", [{1, 2}, b"bytes", object(), 1j, {(1, 2): 3}, {True: 1}])
def test_literal_refuses_what_is_not_allow_listed(value: Any) -> None:
    with pytest.raises(TypeError):
        literal(value)


@pytest.mark.parametrize("name", ["", "1x", "a-b", "class", "a b", "x;y", "ñ", "__import__('os')"])
def test_identifier_refuses_what_is_not_a_plain_name(name: str) -> None:
    with pytest.raises(ValueError):
        render.identifier(name)


def test_keras_object_renders_classes_aliases_and_nested_objects() -> None:
    schedule = KerasObject(
        "schedules",
        "ExponentialDecay",
        args={"initial_learning_rate": 0.1, "decay_steps": 100, "decay_rate": 0.9},
    )
    adam = KerasObject("optimizers", "Adam", args={"learning_rate": schedule})
    assert literal(adam).flat() == (
        "keras.optimizers.Adam(learning_rate=keras.optimizers.schedules.ExponentialDecay("
        "initial_learning_rate=0.1, decay_steps=100, decay_rate=0.9))"
    )
    assert literal(KerasObject("losses", alias="mse")).flat() == '"mse"'


def test_keras_object_leaves_out_defaults_and_orders_by_signature() -> None:
    dense = KerasObject(
        "layers",
        "Dense",
        args={
            "activation": "relu",
            "use_bias": True,
            "kernel_initializer": "glorot_uniform",
            "units": 64,
            "name": "h1",
        },
    )
    assert literal(dense).flat() == 'layers.Dense(64, activation="relu", name="h1")'
    # A value of another type than the default stays: 1 is not True, 0 is not 0.0.
    assert (
        "use_bias=1"
        in literal(KerasObject("layers", "Dense", args={"units": 1, "use_bias": 1})).flat()
    )
    # Path arguments stay even when they equal the default.
    board = KerasObject("callbacks", "TensorBoard", args={"log_dir": "logs"})
    assert "log_dir" in literal(board).flat()


# --- layout: the same text `ruff format` writes -----------------------------------------------


def random_expr(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.choice(
        ["atom", "atom", "text", "call", "list", "dict", "tuple"] if depth < 3 else ["atom"]
    )
    if kind == "atom":
        return Atom(rng.choice(["x", "inputs", "steps_per_epoch" * 3, "1", "0.5", "None", "a[1]"]))
    if kind == "text":
        words = [
            rng.choice(["a", "bb", "quite", "long words", "x" * 30])
            for _ in range(rng.randint(1, 12))
        ]
        return literal(" ".join(words))
    items = [random_expr(rng, depth + 1) for _ in range(rng.randint(0, 6))]
    if kind == "call":
        kwargs = [(f"arg{i}", random_expr(rng, depth + 1)) for i in range(rng.randint(0, 4))]
        return call(rng.choice(["f", "layers.Dense", "keras.optimizers.SGD"]), items, kwargs)
    if kind == "list":
        return Bracket("", "[", tuple(Item(i) for i in items), "]")
    if kind == "tuple":
        return Bracket("", "(", tuple(Item(i) for i in items), ")", is_tuple=True)
    return Bracket("", "{", tuple(Item(v, f'"k{i}": ') for i, v in enumerate(items)), "}")


@needs_ruff
def test_layout_is_what_ruff_format_writes() -> None:
    rng = random.Random(20240501)
    statements = []
    for i in range(400):
        expr = random_expr(rng)
        if rng.random() < 0.3 and isinstance(expr, Bracket) and expr.head:
            expr = Chain(expr, Bracket("", "(", (Item(random_expr(rng, 2)),), ")", is_args=True))
        statements.append(statement(f"{'v' * rng.randint(1, 30)}_{i} = ", expr))
    text = "def f():\n" + "\n".join(statements) + "\n"
    result = ruff("format", "--diff", "--stdin-filename", "generated/layout.py", "-", text=text)
    assert result.returncode == 0, result.stdout[:4000]


def long_value(rng: random.Random, depth: int = 0) -> Any:
    """Plain data with long words and long mapping keys, as spec names can make them."""
    word = rng.choice(["a", "x" * 60, "n" * 150, "path/" * 40, "é" * 120, "q'\"" * 30])
    kind = rng.choice(["str", "str", "list", "dict"] if depth < 3 else ["str"])
    if kind == "str":
        return " ".join([word] * rng.randint(1, 3)) if rng.random() < 0.3 else word
    if kind == "list":
        return [long_value(rng, depth + 1) for _ in range(rng.randint(1, 3))]
    return {
        rng.choice(["k", "k" * 45, "m" * 300]) + str(i): long_value(rng, depth + 1)
        for i in range(3)
    }


@needs_ruff
def test_long_strings_and_keys_are_laid_out_as_ruff_format_writes_them(tmp_path: Path) -> None:
    rng = random.Random(20261201)
    statements = [statement(f"v{i} = ", literal(long_value(rng)), 0) for i in range(150)]
    statements += [
        statement(f"w{i} = ", call("f", kwargs=[("name", literal(long_value(rng, 3)))]), 0)
        for i in range(50)
    ]
    text = "\n".join(statements) + "\n"
    result = ruff("format", "--diff", "--stdin-filename", "generated/layout.py", "-", text=text)
    assert result.returncode == 0, result.stdout[:4000]
    path = tmp_path / "layout.py"
    path.write_text("def f(**kwargs):\n    pass\n\n\n" + text, encoding="utf-8")
    result = ruff("check", "--no-cache", str(path))
    assert result.returncode == 0, result.stdout[:4000]


# --- copying runtime functions ----------------------------------------------------------------

DATA_SOURCE = '''\
"""A data module."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Callable

LIMIT = 3
"""How many."""

UNUSED = 4


def helper(x: Any) -> Any:
    return np.asarray(x)[:LIMIT]


def prepare(x: Any, hook: Callable[[], None]) -> Any:
    @decorate
    def inner() -> None:
        pass

    return helper(x)


def decorate(f: Any) -> Any:
    return f


def lonely() -> str:
    return os.sep
'''

TRAINING_SOURCE = """\
import json

from .data import prepare


def run(x):
    return json.dumps(prepare(x, None).tolist())
"""


def test_copy_takes_what_is_used_transitively_with_its_imports() -> None:
    copied = emit.copy_definitions(
        {"data": DATA_SOURCE, "training": TRAINING_SOURCE}, [("training", "run")]
    )
    assert copied.names == {"run", "prepare", "helper", "decorate", "LIMIT"}
    assert {i.bound for i in copied.imports} == {"json", "np", "Any", "Callable"}
    text = "\n\n".join(copied.blocks)
    assert text.index("LIMIT = 3") < text.index("def helper") < text.index("def run")
    assert '"""How many."""' in text  # an attribute docstring comes with its constant
    assert "UNUSED" not in text and "lonely" not in text and "from .data" not in text


def test_copied_code_runs_on_its_own() -> None:
    copied = emit.copy_definitions(
        {
            "data": DATA_SOURCE.replace("import numpy as np", "").replace(
                "np.asarray(x)", "list(x)"
            ),
            "training": TRAINING_SOURCE.replace(".tolist()", ""),
        },
        [("training", "run")],
    )
    source = emit.import_block(copied.imports) + "\n\n" + "\n\n".join(copied.blocks)
    namespace: dict[str, Any] = {}
    exec(compile(source, "<copied>", "exec"), namespace)
    assert namespace["run"]([5, 6, 7, 8]) == "[5, 6, 7]"


def test_copy_reports_what_it_cannot_do() -> None:
    with pytest.raises(emit.CopyError, match="defines no"):
        emit.copy_definitions({"data": DATA_SOURCE}, [("data", "missing")])
    twice = {
        "data": DATA_SOURCE,
        "training": (
            "from .data import helper\n\ndef helper2():\n    return helper\n\n"
            "def LIMIT():\n    return helper2()\n"
        ),
    }
    with pytest.raises(emit.CopyError, match="defined in both"):
        emit.copy_definitions(twice, [("training", "LIMIT"), ("data", "helper")])
    with pytest.raises(emit.CopyError, match="by name"):
        emit.copy_definitions(
            {"training": "from speck import x\n\ndef f():\n    return x\n"}, [("training", "f")]
        )


def test_every_runtime_function_is_copyable_without_speck_imports() -> None:
    wanted = [(module, name) for name, module in emit.runtime_definitions().items()]
    copied = emit.copy_definitions(emit.runtime_sources(), wanted)
    assert {"make_dataset", "split", "write_atomically", "plot_confusion_matrix"} <= copied.names
    assert not any(i.module.startswith(("speck", "runtime:", ".")) for i in copied.imports)


def test_import_block_is_sorted_as_ruff_wants(tmp_path: Path) -> None:
    imports = [
        emit.Import("keras", "layers"),
        emit.Import("typing", "Any"),
        emit.Import("numpy", None, "np"),
        emit.Import("os"),
        emit.Import("typing", "TYPE_CHECKING"),
        emit.Import("collections.abc", "Callable"),
        emit.Import("__future__", "annotations"),
        emit.Import("keras"),
    ]
    assert emit.import_block(imports) == textwrap.dedent(
        """\
        from __future__ import annotations

        import os
        from collections.abc import Callable
        from typing import TYPE_CHECKING, Any

        import keras
        import numpy as np
        from keras import layers"""
    )


# --- naming ------------------------------------------------------------------------------------


def write_spec(folder: Path, spec: dict[str, Any], name: str = "spec.json") -> Path:
    path = folder / name
    path.write_text(json.dumps(spec), encoding="utf-8")
    return path


def functional(
    layers: list[dict[str, Any]], inputs: dict[str, Any], outputs: list[str], **extra: Any
) -> dict[str, Any]:
    return {
        "speck": 1,
        "name": "t",
        "model": {"inputs": inputs, "layers": layers, "outputs": outputs},
        **extra,
    }


def test_node_names_that_clash_with_the_script_get_a_suffix(tmp_path: Path) -> None:
    spec = functional(
        [
            {"name": "layers", "Dense": {"units": 4}, "from": "keras"},
            {"name": "run", "Dense": {"units": 4}, "from": "layers"},
            {"name": "sum", "Dense": {"units": 4}, "from": "run"},
            {"name": "layers_", "Dense": {"units": 3, "activation": "softmax"}, "from": "sum"},
        ],
        {"keras": [4]},
        ["layers_"],
        data={"source": "sklearn/iris"},
        compile={"loss": "sparse_categorical_crossentropy"},
    )
    text = emit.emit_script(resolve_file(write_spec(tmp_path, spec)))
    compile(text, "<script>", "exec")
    assert 'keras_ = keras.Input(shape=(4,), name="keras")' in text
    assert 'layers_ = layers.Dense(4, name="layers")(keras_)' in text
    assert 'run_ = layers.Dense(4, name="run")(layers_)' in text
    assert 'layers_2 = layers.Dense(3, activation="softmax", name="layers_")(sum_)' in text
    assert "outputs=layers_2" in text


def test_shared_layers_multi_outputs_and_positional_inputs(tmp_path: Path) -> None:
    spec = functional(
        [
            {"name": "trunk", "Dense": {"units": 8}, "from": "a"},
            {"name": "trunk_again", "shares": "trunk", "from": "b"},
            {
                "name": "seq",
                "LSTM": {"units": 4, "return_sequences": True, "return_state": True},
                "from": "s",
            },
            {
                "name": "attn",
                "MultiHeadAttention": {"num_heads": 2, "key_dim": 4},
                "from": ["seq[0]", "s"],
            },
            {"name": "joined", "Concatenate": {}, "from": ["trunk", "trunk_again", "seq[1]"]},
        ],
        {"a": [8], "b": [8], "s": [5, 4]},
        ["joined", "attn"],
    )
    text = emit.emit_script(resolve_file(write_spec(tmp_path, spec)))
    assert 'trunk_layer = layers.Dense(8, name="trunk")' in text
    assert "trunk = trunk_layer(a)" in text
    assert "trunk_again = trunk_layer(b)" in text
    assert "(seq[0], s)" in text
    assert "([trunk, trunk_again, seq[1]])" in text


# --- safety: hostile spec text stays inside string constants -------------------------------------

hostile = st.one_of(
    st.sampled_from(
        [
            "'''",
            '"""',
            "\\",
            "\n__import__('os').system('echo pwned')\n",
            "{{ 7 * 7 }}{% for x in y %}{# c #}",
            "\x00",
            "\u2028\u2029\x85\x0b\x0c\r",
            "é漢字🙂",
            '"); import os; os.system("x"); ("',
            "# comment\n",
        ]
    ),
    st.text(min_size=1, max_size=30),
)


def hostile_spec(text: str) -> dict[str, Any]:
    path = "p" + without_nul(text)  # validation refuses a NUL in an output path
    return functional(
        [{"name": "out", "Dense": {"units": 2}, "from": "x"}],
        {"x": [4]},
        ["out"],
        description=text,
        data={"source": {"npz": "p" + text}},
        compile={"loss": "mse"},
        callbacks=[
            {"TensorBoard": {"log_dir": path}},
            {"ModelCheckpoint": {"filepath": path + ".keras"}},
            {"CSVLogger": {"filename": path}},
            {"BackupAndRestore": {"backup_dir": path}},
        ],
    )


def without_nul(text: str) -> str:
    return text.replace("\x00", "")


def skeleton(tree: ast.AST) -> str:
    """The tree with every string constant emptied (in place): what is code rather than text."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            node.value = ""
    return ast.dump(tree)


@functools.cache
def benign_script(folder: str) -> tuple[str, frozenset[str]]:
    tree = ast.parse(
        emit.emit_script(
            resolve_file(write_spec(Path(folder), hostile_spec("benign"), "benign.json"))
        )
    )
    found = frozenset(calls(tree))
    return skeleton(tree), found


def calls(tree: ast.AST) -> set[str]:
    return {ast.unparse(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}


FORBIDDEN_CALLS = {"eval", "exec", "__import__", "compile", "os.system", "os.popen", "breakpoint"}


@pytest.mark.slow
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=hostile, file_text=hostile)
def test_hostile_spec_text_only_ever_becomes_string_constants(
    tmp_path: Path, text: str, file_text: str
) -> None:
    file_name = "".join(c for c in file_text if c not in "/\x00") or "x"
    hostile_path = write_spec(tmp_path, hostile_spec(text), f"spec {file_name[:40]}.json")
    script = emit.emit_script(resolve_file(hostile_path))
    tree = ast.parse(script)
    compile(tree, "<hostile>", "exec")
    benign_skeleton, benign_calls = benign_script(str(tmp_path))
    assert calls(tree) == benign_calls and not calls(tree) & FORBIDDEN_CALLS
    constants = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)}
    assert text in constants and "p" + without_nul(text) + ".keras" in constants
    assert skeleton(tree) == benign_skeleton  # the same code; only the text differs


def test_template_prints_bare_names_only() -> None:
    """No filters, calls or expressions in the template: each `{{ }}` prints one context value,
    and `finalize` makes sure that value is rendered code."""
    source = (emit.TEMPLATES_DIR / "script.py.j2").read_text(encoding="utf-8")
    printed = re.findall(r"{{(.*?)}}", source, flags=re.S)
    assert printed and all(p.strip().isidentifier() for p in printed)


def test_template_prints_only_rendered_code() -> None:
    assert emit.only_code(Code("x")) == "x"
    with pytest.raises(TypeError):
        emit.only_code("raw spec text")
    template = emit._template()
    with pytest.raises(TypeError):
        template.render(header="# raw", imports=Code(""), trainable=False)


# --- determinism -------------------------------------------------------------------------------


@pytest.mark.slow
def test_same_bytes_under_different_hash_seeds() -> None:
    code = (
        "import hashlib, sys\n"
        "from pathlib import Path\n"
        "from speck.backends.emit.program import emit_script\n"
        "from speck.pipeline import resolve_file\n"
        "for p in [p for p in sorted(Path('specs').glob('*.yaml')) if 'tune' not in p.stem]:\n"
        "    text = emit_script(resolve_file(p), p.as_posix(), 'generated')\n"
        "    print(p.name, hashlib.sha256(text.encode()).hexdigest())\n"
    )
    outputs = set()
    for seed in ("0", "1", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        result = subprocess.run(
            [sys.executable, "-c", code],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        outputs.add(result.stdout)
    assert len(outputs) == 1 and len(next(iter(outputs)).splitlines()) == len(SPECS)


def shuffled(value: Any, rng: random.Random, path: tuple[str, ...] = ()) -> Any:
    """Mapping keys in another order, except where order means something (model inputs)."""
    if isinstance(value, dict):
        keys = list(value)
        if path[-2:] != ("model", "inputs"):
            rng.shuffle(keys)
        return {k: shuffled(value[k], rng, (*path, str(k))) for k in keys}
    if isinstance(value, list):
        return [shuffled(v, rng, path) for v in value]
    return value


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
def test_same_script_after_reordering_keys(spec: Path, tmp_path: Path) -> None:
    data = yaml.safe_load(spec.read_text(encoding="utf-8"))
    for seed in (1, 2):
        other = shuffled(data, random.Random(seed))
        assert other != data or json.dumps(other) != json.dumps(data)
        original = write_spec(tmp_path, data, "original.json")
        reordered = write_spec(tmp_path, other, "reordered.json")
        a = emit.emit_script(resolve_file(original), "spec", tmp_path)
        b = emit.emit_script(resolve_file(reordered), "spec", tmp_path)
        drop_hash = [line for line in b.splitlines() if not line.startswith("# Spec sha256")]
        assert [
            line for line in a.splitlines() if not line.startswith("# Spec sha256")
        ] == drop_hash


# --- the command line ----------------------------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "specs").mkdir()
    for name in ("functional_mlp.yaml", "sequential_mlp.yaml"):
        shutil.copy(ROOT / "specs" / name, tmp_path / "specs" / name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


runner = CliRunner()


def test_emit_writes_generated_stem_and_reports(project: Path) -> None:
    result = runner.invoke(app, ["emit", "specs/functional_mlp.yaml"])
    assert result.exit_code == 0, result.output
    written = project / "generated" / "functional_mlp.py"
    assert written.read_text().startswith(
        "# Generated by speck from specs/functional_mlp.yaml -- do not edit by hand.\n"
    )
    assert [p.name for p in written.parent.iterdir()] == ["functional_mlp.py"]  # no temp files
    again = runner.invoke(app, ["emit", "specs/functional_mlp.yaml"])
    assert again.exit_code == 0 and "up to date" in again.output


def test_emit_overwrites_only_its_own_script_without_force(project: Path) -> None:
    target = project / "generated" / "functional_mlp.py"
    target.parent.mkdir()
    target.write_text("print('mine')\n")
    refused = runner.invoke(app, ["emit", "specs/functional_mlp.yaml"])
    assert refused.exit_code == 1 and "--force" in refused.output
    assert target.read_text() == "print('mine')\n"
    assert runner.invoke(app, ["emit", "specs/functional_mlp.yaml", "--force"]).exit_code == 0
    target.write_text(target.read_text().replace("h1", "hidden_1"))  # stale, but speck's own
    assert runner.invoke(app, ["emit", "specs/functional_mlp.yaml"]).exit_code == 0
    assert "hidden_1" not in target.read_text()
    other = project / "generated" / "sequential_mlp.py"
    other.write_text(target.read_text())  # speck's, but for another spec
    assert runner.invoke(app, ["emit", "specs/sequential_mlp.yaml"]).exit_code == 1


def test_emit_out_file_and_stdout(project: Path) -> None:
    result = runner.invoke(app, ["emit", "specs/sequential_mlp.yaml", "--out", "-"])
    assert result.exit_code == 0
    assert result.stdout.startswith("# Generated by speck from specs/sequential_mlp.yaml")
    assert '"base_dir": ' not in result.stdout  # MNIST reads no file: the script works anywhere
    out = runner.invoke(app, ["emit", "specs/sequential_mlp.yaml", "--out", "elsewhere/mlp.py"])
    assert out.exit_code == 0
    assert (project / "elsewhere" / "mlp.py").read_text() == result.stdout


def test_a_script_finds_its_data_files_from_where_it_is_written(project: Path) -> None:
    shutil.copy(ROOT / "specs" / "multi_io.yaml", project / "specs" / "multi_io.yaml")
    here = runner.invoke(app, ["emit", "specs/multi_io.yaml", "--out", "-"])
    assert here.exit_code == 0, here.output
    assert 'DATA_DIR = Path(__file__).parent / "specs"' in here.stdout  # from where it is written
    out = runner.invoke(app, ["emit", "specs/multi_io.yaml", "--out", "elsewhere/multi_io.py"])
    assert out.exit_code == 0, out.output
    elsewhere = (project / "elsewhere" / "multi_io.py").read_text()
    assert 'DATA_DIR = Path(__file__).parent / "../specs"' in elsewhere
    both = runner.invoke(
        app, ["emit", "specs/sequential_mlp.yaml", "specs/functional_mlp.yaml", "-o", "x.py"]
    )
    assert both.exit_code == 2


def test_emit_check_reports_stale_scripts_with_a_diff(project: Path) -> None:
    stale = runner.invoke(app, ["emit", "--check"])
    assert stale.exit_code == 1 and "+++ generated/functional_mlp.py (speck emit)" in stale.output
    assert not (project / "generated").exists()  # --check writes nothing
    assert (
        runner.invoke(
            app, ["emit", "specs/functional_mlp.yaml", "specs/sequential_mlp.yaml"]
        ).exit_code
        == 0
    )
    fresh = runner.invoke(app, ["emit", "--check"])
    assert fresh.exit_code == 0 and "2 generated scripts are up to date" in fresh.output
    spec = project / "specs" / "sequential_mlp.yaml"
    spec.write_text(spec.read_text().replace("epochs: 10", "epochs: 11"), encoding="utf-8")
    changed = runner.invoke(app, ["emit", "--check", "specs/sequential_mlp.yaml"])
    assert changed.exit_code == 1
    assert "-EPOCHS = 10" in changed.output and "+EPOCHS = 11" in changed.output


def test_emit_of_an_invalid_spec_exits_2(project: Path) -> None:
    bad = project / "specs" / "bad.yaml"
    bad.write_text("speck: 1\nname: bad\nmodel: {input: [4], layers: [{Dense: {unitz: 3}}]}\n")
    result = runner.invoke(app, ["emit", str(bad)])
    assert result.exit_code == 2 and "bad.yaml:3" in result.output
    assert not (project / "generated").exists()


def test_emit_imports_no_tensorflow() -> None:
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from speck.cli import app\n"
        "from pathlib import Path\n"
        "for spec in sorted(Path('specs').glob('*.yaml')):\n"
        "    r = CliRunner().invoke(app, ['emit', str(spec), '--out', '-'])\n"
        "    assert r.exit_code == 0 and 'def build_model' in r.output, r.output\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'keras', 'tensorflow', 'numpy'}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


# --- the committed generated/ scripts ------------------------------------------------------------


def test_generated_holds_the_fresh_script_of_every_spec() -> None:
    expected = {f"{p.stem}.py" for p in ALL_SPECS}
    assert {p.name for p in (ROOT / "generated").glob("*.py")} == expected
    for spec in SPECS:
        current = (ROOT / "generated" / f"{spec.stem}.py").read_text(encoding="utf-8")
        assert current == script_of(spec), f"generated/{spec.stem}.py is stale: run speck emit"


@needs_ruff
def test_generated_scripts_pass_ruff_check_and_format() -> None:
    check = ruff("check", "generated")
    assert check.returncode == 0, check.stdout
    formatted = ruff("format", "--check", "--diff", "generated")
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr


def test_generated_scripts_import_no_speck_and_read_well() -> None:
    for spec in SPECS:
        text = (ROOT / "generated" / f"{spec.stem}.py").read_text(encoding="utf-8")
        tree = ast.parse(text)
        modules = {
            alias.name if isinstance(node, ast.Import) else node.module or ""
            for node in ast.walk(tree)
            if isinstance(node, ast.Import | ast.ImportFrom)
            for alias in node.names
        }
        assert not any(m.split(".")[0] == "speck" for m in modules), spec
        assert "keras" in modules
        first = text.splitlines()[:3]
        assert first[1].startswith("# Spec sha256: ") and "speck emit specs/" in first[2]
        assert "tf.keras" not in text and "lr=" not in text and "period=" not in text


# --- long paths and names fit in the line ---------------------------------------------------


def test_a_long_spec_path_is_named_by_its_file_name_in_the_header(tmp_path: Path) -> None:
    deep = "/".join(["folder" * 10] * 3) + "/" + "spec" * 30 + ".yaml"
    text = emit.header(deep, "0" * 64)
    assert max(len(line) for line in text.splitlines()) <= 100
    # 100 - len("# Generated by speck from ") - len(" -- do not edit by hand.") = 50
    # characters: 24 of the name's start, "...", 23 of its end.
    cut = "spec" * 6 + "..." + "ec" + "spec" * 4 + ".yaml"
    assert text.splitlines()[0] == f"# Generated by speck from {cut} -- do not edit by hand."
    assert text.splitlines()[2] == f"# Regenerate with: speck emit {cut}"
    script = tmp_path / "script.py"
    script.write_text(text + "\n", encoding="utf-8")
    assert emit.is_own_output(script, deep)
    assert not emit.is_own_output(script, "spec" * 30 + "x.yaml")
    short = "folder" * 10 + "/" + "spec.yaml"  # too long whole, but its file name fits
    assert emit.header(short, "0" * 64).splitlines()[2] == "# Regenerate with: speck emit spec.yaml"


def test_long_node_names_make_short_variables(tmp_path: Path) -> None:
    long = "n" * 5000
    spec = functional(
        [{"name": long + "_out", "Dense": {"units": 3}, "from": long}],
        {long: [4]},
        [long + "_out"],
    )
    text = emit.emit_script(resolve_file(write_spec(tmp_path, spec)))
    assert f"{'n' * 40} = keras.Input(" in text
    assert f"{'n' * 40}_ = layers.Dense(" in text  # the cut name is taken: a suffix
    constants = {n.value for n in ast.walk(ast.parse(text)) if isinstance(n, ast.Constant)}
    assert {long, long + "_out"} <= constants  # the layers keep their names
    assert max(len(line) for line in text.splitlines()) <= 100


# --- one program: short, only what the spec uses --------------------------------------------

MAX_SCRIPT_LINES = 250


def test_generated_scripts_are_short() -> None:
    lengths = {
        spec.stem: len((ROOT / "generated" / f"{spec.stem}.py").read_text().splitlines())
        for spec in SPECS
    }
    over = {k: n for k, n in lengths.items() if n > MAX_SCRIPT_LINES}
    assert not over, over


def top_level_names(tree: ast.Module) -> dict[str, ast.stmt]:
    out: dict[str, ast.stmt] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            out[node.name] = node
        elif isinstance(node, ast.Assign):
            out.update({t.id: node for t in node.targets if isinstance(t, ast.Name)})
    return out


def test_generated_scripts_define_and_import_only_what_they_use() -> None:
    for spec in SPECS:
        tree = ast.parse((ROOT / "generated" / f"{spec.stem}.py").read_text(encoding="utf-8"))
        defined = top_level_names(tree)
        for name, node in defined.items():
            others = [n for n in tree.body if n is not node]
            read = {
                n.id
                for stmt in others
                for n in ast.walk(stmt)
                if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
            }
            assert name in read or name == "main", f"{spec.stem}: {name} is never used"
        read_anywhere = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        attributes = {ast.unparse(n.value) for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
        for node in tree.body:
            if (
                isinstance(node, ast.Import | ast.ImportFrom)
                and getattr(node, "module", "") != "__future__"
            ):
                for alias in node.names:
                    bound = alias.asname or alias.name.split(".")[0]
                    assert bound in read_anywhere | attributes, f"{spec.stem}: unused {bound}"


def test_a_cifar_script_names_no_other_source() -> None:
    text = (ROOT / "generated" / "autoencoder.py").read_text(encoding="utf-8")
    tree = ast.parse(text)
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    names |= {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    names |= {
        a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names
    }
    unused = {"csv", "sklearn", "load_csv", "load_npz", "load_npy", "read_csv", "column"}
    unused |= {"image_dataset_from_directory", "FeatureSpace"}
    unused |= {"tpu_strategy", "TPUStrategy", "MirroredStrategy", "one_hot", "split"}
    assert not names & unused, names & unused
    assert "keras.datasets.cifar10.load_data()" in text
    assert "Needs TensorFlow, NumPy and matplotlib." in text


def test_the_docstring_names_what_the_script_imports() -> None:
    digits = (ROOT / "generated" / "digits_mlp.py").read_text(encoding="utf-8")
    assert "Needs TensorFlow, NumPy, scikit-learn and matplotlib." in digits
    assert "import sklearn.datasets" in digits


@pytest.mark.slow
def test_help_answers_without_tensorflow(tmp_path: Path) -> None:
    """`--help` parses arguments before anything imports TensorFlow or Keras: with both made
    unimportable, it still answers."""
    blocker = tmp_path / "blocked"
    for name in ("tensorflow", "keras"):
        (blocker / name).mkdir(parents=True)
        (blocker / name / "__init__.py").write_text(f"raise ImportError('no {name} here')\n")
    for spec in SPECS:
        result = subprocess.run(
            [sys.executable, str(ROOT / "generated" / f"{spec.stem}.py"), "--help"],
            env={**os.environ, "PYTHONPATH": str(blocker)},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        assert "--epochs" in result.stdout and "--resume" in result.stdout
    (blocker / "keras_tuner").mkdir()  # a search script imports KerasTuner after its arguments
    (blocker / "keras_tuner" / "__init__.py").write_text("raise ImportError('no tuner here')\n")
    for spec in TUNE_SPECS:
        result = subprocess.run(
            [sys.executable, str(ROOT / "generated" / f"{spec.stem}.py"), "--help"],
            env={**os.environ, "PYTHONPATH": str(blocker)},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0 and "--max-trials" in result.stdout, result.stderr

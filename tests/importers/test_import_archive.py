"""`speck import` reads a `.keras` file as data: bounded, screened, and without TensorFlow.

The archives here are written with `zipfile` by hand, as an attacker would write them: a
member whose header lies about its size, a config nested 200,000 levels deep, objects from
other modules than Keras' (`os.system`) in the compile section or deep inside a layer's
config. Each must be refused with exit status 2 and a message naming its place in the file.
Nothing here imports TensorFlow; one test proves `speck import` never does.
"""

from __future__ import annotations

import contextlib
import copy
import json
import struct
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from conftest import run_speck
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from speck.cli import app
from speck.importers.keras import MAX_DEPTH, ImportProblem, import_model, screen, spec_from_config


def initializer(cls: str = "GlorotUniform", module: str = "keras.initializers") -> dict[str, Any]:
    config = {} if cls == "Zeros" else {"seed": None}
    return {"module": module, "class_name": cls, "config": config, "registered_name": None}


def dense(**config: Any) -> dict[str, Any]:
    """A Dense layer as Keras 3.15 writes it into config.json."""
    return {
        "module": "keras.layers",
        "class_name": "Dense",
        "config": {
            "name": "dense",
            "trainable": True,
            "dtype": {
                "module": "keras",
                "class_name": "DTypePolicy",
                "config": {"name": "float32"},
                "registered_name": None,
            },
            "units": 2,
            "activation": "relu",
            "use_bias": True,
            "kernel_initializer": initializer(),
            "bias_initializer": initializer("Zeros"),
            "kernel_regularizer": None,
            "bias_regularizer": None,
            "kernel_constraint": None,
            "bias_constraint": None,
            "quantization_config": None,
            **config,
        },
        "registered_name": None,
        "build_config": {"input_shape": [None, 4]},
    }


def sequential(*layers: dict[str, Any], compile_config: Any = None) -> dict[str, Any]:
    saved: dict[str, Any] = {
        "module": "keras",
        "class_name": "Sequential",
        "config": {
            "name": "tiny",
            "trainable": True,
            "layers": [
                {
                    "module": "keras.layers",
                    "class_name": "InputLayer",
                    "config": {
                        "batch_shape": [None, 4],
                        "dtype": "float32",
                        "sparse": False,
                        "ragged": False,
                        "name": "input_layer",
                        "optional": False,
                    },
                    "registered_name": None,
                },
                *layers,
            ],
        },
        "registered_name": None,
    }
    if compile_config is not None:
        saved["compile_config"] = compile_config
    return saved


def archive(path: Path, config: bytes | dict[str, Any], **members: bytes) -> Path:
    data = config if isinstance(config, bytes) else json.dumps(config).encode()
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("metadata.json", json.dumps({"keras_version": "3.15.1"}))
        zf.writestr("config.json", data)
        for name, content in members.items():
            zf.writestr(name, content)
    return path


def refused(path: Path) -> str:
    with pytest.raises(ImportProblem) as caught:
        import_model(path)
    return str(caught.value)


def test_a_hand_written_archive_imports_without_tensorflow(tmp_path: Path) -> None:
    path = archive(tmp_path / "tiny.keras", sequential(dense()))
    text = import_model(path).text
    assert "    - Dense: {units: 2, activation: relu}" in text
    assert "saved by Keras 3.15.1" in text


def lie_about_size(path: Path, member: str, size: int) -> None:
    """Rewrite the uncompressed size of `member` in its local and central headers."""
    raw = bytearray(path.read_bytes())
    name = member.encode()
    start = 0
    while (at := raw.find(b"PK\x03\x04", start)) >= 0:
        (name_len,) = struct.unpack_from("<H", raw, at + 26)
        if raw[at + 30 : at + 30 + name_len] == name:
            struct.pack_into("<I", raw, at + 22, size)
        start = at + 4
    start = 0
    while (at := raw.find(b"PK\x01\x02", start)) >= 0:
        (name_len,) = struct.unpack_from("<H", raw, at + 28)
        if raw[at + 46 : at + 46 + name_len] == name:
            struct.pack_into("<I", raw, at + 24, size)
        start = at + 4
    path.write_bytes(bytes(raw))


def test_a_member_larger_than_its_header_says_is_refused(tmp_path: Path) -> None:
    body = json.dumps(sequential(dense())).encode()
    bomb = body[:-1] + b" " * 20_000_000 + b"}"  # 20 MB that deflate to a few kB
    path = archive(tmp_path / "bomb.keras", bomb)
    lie_about_size(path, "config.json", len(body))
    message = refused(path)
    assert message.startswith("bomb.keras:config.json: ")
    assert "header lies about its size" in message


def test_a_member_whose_header_claims_too_much_is_refused_unread(tmp_path: Path) -> None:
    path = archive(tmp_path / "big.keras", sequential(dense()))
    lie_about_size(path, "config.json", 3_000_000_000)
    assert "too large (3000000000 bytes" in refused(path)


def test_deep_nesting_is_refused(tmp_path: Path) -> None:
    deep = archive(tmp_path / "deep.keras", b"[" * 200_000 + b"]" * 200_000)
    assert (
        refused(deep) == f"deep.keras:config.json: nested too deeply (at most {MAX_DEPTH} levels)"
    )
    nested: Any = 1
    for _ in range(MAX_DEPTH + 5):
        nested = {"a": nested}
    saved = sequential(dense(units=nested))
    message = refused(archive(tmp_path / "nested.keras", saved))
    assert message.startswith("nested.keras:config.json: nested ")
    assert f"(at most {MAX_DEPTH})" in message


OS_SYSTEM = {"module": "os", "class_name": "function", "config": "system", "registered_name": None}


def test_a_compile_section_naming_os_system_is_refused(tmp_path: Path) -> None:
    saved = sequential(dense(), compile_config={"optimizer": "adam", "loss": OS_SYSTEM})
    message = refused(archive(tmp_path / "compiled.keras", saved))
    assert message == (
        "compiled.keras:config.json:compile_config.loss: os.system is not a Keras object; "
        "speck reads only objects Keras ships"
    )


@pytest.mark.parametrize(
    ("key", "value", "says"),
    [
        (
            "kernel_initializer",
            initializer("Evil", module="evil.module"),
            "evil.module.Evil is not",
        ),
        (
            "kernel_initializer",
            {**initializer(), "registered_name": "mine>GlorotUniform"},
            "registered as 'mine>GlorotUniform': a custom class",
        ),
        ("activation", OS_SYSTEM, "os.system is not a Keras object"),
        (
            "kernel_regularizer",
            {
                "module": "keras.regularizers",
                "class_name": "L1L2",
                "config": {"l1": initializer("Popen", module="subprocess")},
                "registered_name": None,
            },
            "subprocess.Popen is not a Keras object",
        ),
        ("activation", "os.system", "'os.system' is not an activation Keras ships"),
    ],
)
def test_foreign_objects_deep_in_a_layer_are_named_with_the_layer_and_key(
    tmp_path: Path, key: str, value: Any, says: str
) -> None:
    saved = sequential(dense(), dense(name="head", **{key: value}))
    message = refused(archive(tmp_path / "model.keras", saved))
    assert message.startswith(f"model.keras:config.json:config.layers[2].config.{key}")
    assert "layer 'head' (Dense): " in message
    assert says in message


def test_refusals_exit_2_without_a_traceback(tmp_path: Path, runner: CliRunner) -> None:
    saved = sequential(dense(kernel_initializer=initializer("Evil", module="evil")))
    path = archive(tmp_path / "model.keras", saved)
    result = runner.invoke(app, ["import", str(path)])
    assert result.exit_code == 2
    assert "config.layers[1].config.kernel_initializer" in result.output
    assert "Traceback" not in result.output and "internal error" not in result.output


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmHWM from /proc")
def test_import_never_loads_tensorflow_and_stays_small(tmp_path: Path) -> None:
    """`speck import` of a file with a 40 MB weights member: TensorFlow cannot even load (the
    blocker), and the weights are never read."""
    path = archive(
        tmp_path / "tiny.keras", sequential(dense()), **{"model.weights.h5": bytes(40_000_000)}
    )
    result = run_speck(["import", str(path)], block_tf=True, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "- Dense: {units: 2, activation: relu}" in result.stdout
    peak = subprocess.run(
        [sys.executable, "-c", PEAK_MEMORY, str(path)], capture_output=True, text=True, check=True
    )
    assert int(peak.stdout) < 300 * 1024  # kB: far below TensorFlow's own 700 MB


PEAK_MEMORY = """
import re, sys
from pathlib import Path
from speck.importers.keras import import_model
import_model(sys.argv[1])
# VmHWM: this process's peak resident memory (ru_maxrss would include the forking parent's)
print(re.search(r"VmHWM:\\s+(\\d+) kB", Path("/proc/self/status").read_text()).group(1))
"""


def tensor(layer: str, node: int = 0, index: int = 0) -> dict[str, Any]:
    return {
        "class_name": "__keras_tensor__",
        "config": {"shape": [None, 4], "dtype": "float32", "keras_history": [layer, node, index]},
    }


def functional() -> dict[str, Any]:
    """Two inputs, a Dense layer and an operation node (`x + b`), as Keras 3.15 saves them."""

    def input_layer(name: str) -> dict[str, Any]:
        layer = sequential()["config"]["layers"][0]
        return {**layer, "config": {**layer["config"], "name": name}, "name": name}

    hidden = {**dense(units=4), "name": "dense", "inbound_nodes": [{"args": [tensor("a")]}]}
    added = {
        "module": "keras.src.ops.numpy",
        "class_name": "Add",
        "config": {"name": "add"},
        "registered_name": "Add",
        "name": "add",
        "inbound_nodes": [{"args": [tensor("dense"), tensor("b")], "kwargs": {}}],
    }
    return {
        "module": "keras.src.models.functional",
        "class_name": "Functional",
        "config": {
            "name": "summed",
            "trainable": True,
            "layers": [input_layer("a"), input_layer("b"), hidden, added],
            "input_layers": [["a", 0, 0], ["b", 0, 0]],
            "output_layers": [["add", 0, 0]],
        },
        "registered_name": "Functional",
    }


def test_a_hand_written_functional_archive_imports(tmp_path: Path) -> None:
    text = import_model(archive(tmp_path / "summed.keras", functional())).text
    assert "    - {name: dense, Dense: {units: 4, activation: relu}, from: a}" in text
    assert "    - {name: add, ops.add: {}, from: [dense, b]}" in text


def places(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(value, dict):
        found += [p for k, v in value.items() for p in places(v, (*path, k))]
    elif isinstance(value, list):
        found += [p for i, v in enumerate(value) for p in places(v, (*path, i))]
    return found


ODD_VALUES = st.sampled_from(
    [None, True, 0, -1, 2.5, "", "x", [], {}, [1, 2, 3], ["a", 0, 9], {"class_name": "Dense"}]
)


@given(st.data())
@settings(max_examples=300, deadline=None)
def test_any_damaged_config_is_refused_cleanly(data: st.DataObject) -> None:
    """Whatever part of a saved config is changed or removed, import gives a spec or says what
    is wrong (ImportProblem); nothing else escapes."""
    saved = functional()
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(places(saved)[1:]))
        parent: Any = saved
        for key in path[:-1]:
            parent = parent[key] if isinstance(parent, dict | list) else None
        if not isinstance(parent, dict | list):
            continue
        with contextlib.suppress(KeyError, IndexError, TypeError):
            if isinstance(parent, dict) and data.draw(st.booleans()):
                del parent[path[-1]]
            else:
                parent[path[-1]] = copy.deepcopy(data.draw(ODD_VALUES))
    with contextlib.suppress(ImportProblem):
        screen(saved, "model.keras:config.json")
        spec_from_config(saved, source="model.keras")

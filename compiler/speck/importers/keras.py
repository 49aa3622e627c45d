"""Import: an existing Keras model file (`.keras`) -> a readable spec, the reverse of build.

Import reads the architecture only: `config.json` (and `metadata.json`) out of the zip, with
bounded sizes and nesting depth, as data. Nothing in the file is deserialized, no weights are
read and no model is built, so no TensorFlow is imported and nothing in the file can run.
Before anything is translated, every serialized object anywhere in the config (layers, their
initializers, activations, regularizers, the compile section) must be an object Keras ships;
anything else is refused with its place in the file (`model.keras:config.json:config.layers[3]
.config.kernel_initializer: ...`).

The config becomes the spec format: one line per layer, only the arguments that differ from
Keras' defaults (the catalog's), Keras objects as `{ClassName: {...}}` or a name Keras knows,
auto-style layer names dropped from Sequential models and kept in functional ones (they are
the wiring), shared layers as `shares`, multi-output references as `name[i]`, and a `compile:`
section when the file was saved compiled. The tests hold the result to Keras: the spec built
again has the very config the file holds.
"""

from __future__ import annotations

import json
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from speck.catalog.lookup import Catalog, load_catalog
from speck.front.write import spec_text
from speck.ir.graph import OP_PREFIX
from speck.ir.resolve import snake_case

POSITIONAL_INPUT_LAYERS = frozenset({"MultiHeadAttention", "GroupedQueryAttention"})
"""Layers called as `layer(query, value, ...)` (the same set as `speck.build`'s)."""

MAX_CONFIG_BYTES = 64_000_000
"""The largest `config.json` inside a `.keras` file that import reads."""
MAX_METADATA_BYTES = 100_000
"""The largest `metadata.json` import reads."""
MAX_DEPTH = 100
"""The deepest nesting of lists and mappings import reads (Keras Applications stay under 20)."""

WRAPPED_LAYERS = ("Bidirectional", "TimeDistributed")
WRAPPED_LAYER_ARGS = ("layer", "backward_layer")
WRAPPER_SETS = {"zero_output_for_mask": False}
"""Config keys of recurrent layers that Bidirectional sets on the layer it wraps (-> their
value elsewhere); the RNN base class takes them, the catalog's layer signatures do not."""
MODEL_CLASSES = frozenset({"Functional", "Sequential", "Model"})
_TENSOR = "__keras_tensor__"
_KERAS_MODULE = re.compile(r"^keras(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_MODULE_CATEGORIES = (
    ("keras.optimizers.schedules", "schedules"),
    ("keras.src.optimizers.schedules", "schedules"),
    ("keras.optimizers", "optimizers"),
    ("keras.losses", "losses"),
    ("keras.metrics", "metrics"),
    ("keras.initializers", "initializers"),
    ("keras.regularizers", "regularizers"),
    ("keras.constraints", "constraints"),
    ("keras.layers", "layers"),
)
"""Where a serialized Keras object's `module` says it lives -> its catalog category."""

_APPLICATIONS = "keras.src.applications."
"""Where the layers of Keras' applications live (ConvNeXt's `LayerScale`)."""
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SPEC_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class ImportProblem(Exception):
    """The model cannot become a spec; the message says why and where (the CLI exits with 2)."""


@dataclass
class ImportedSpec:
    """The spec made from a model: its YAML text, the same as data, and notes for the reader."""

    text: str
    data: dict[str, Any]
    notes: list[str] = field(default_factory=list)


# --- entry points ----------------------------------------------------------------------------


def import_model(path: str | Path, name: str | None = None) -> ImportedSpec:
    """The spec of the model saved at `path` (a `.keras` file), read as data only."""
    path = Path(path)
    saved, metadata = read_archive(path)
    where = f"{path.name}:config.json"
    screen(saved, where)
    version = metadata.get("keras_version") if isinstance(metadata, dict) else None
    return spec_from_config(saved, name=name, source=path.name, keras_version=str(version or "3"))


def read_archive(path: Path) -> tuple[dict[str, Any], Any]:
    """`config.json` and `metadata.json` of a `.keras` file, bounded in size and depth."""
    if not path.exists():
        raise ImportProblem(f"{path}: no such file")
    if path.suffix != ".keras" or not path.is_file() or not zipfile.is_zipfile(path):
        raise ImportProblem(
            f"{path}: not a Keras 3 model file (.keras); re-save the model with "
            "`model.save('model.keras')`"
        )
    try:
        with zipfile.ZipFile(path) as archive:
            config = _read_member(archive, path.name, "config.json", MAX_CONFIG_BYTES)
            metadata = _read_member(archive, path.name, "metadata.json", MAX_METADATA_BYTES)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ImportProblem(f"{path.name}: a damaged zip archive ({exc})") from None
    if config is None:
        raise ImportProblem(f"{path.name}: the archive has no config.json")
    saved = _parse_json(config, f"{path.name}:config.json")
    if not isinstance(saved, dict):
        raise ImportProblem(f"{path.name}:config.json: does not describe a model")
    meta = _parse_json(metadata, f"{path.name}:metadata.json") if metadata is not None else {}
    return saved, meta


def _read_member(archive: zipfile.ZipFile, source: str, member: str, limit: int) -> bytes | None:
    """One member's bytes, never more than `limit` of them, whatever its header says."""
    try:
        info = archive.getinfo(member)
    except KeyError:
        return None
    where = f"{source}:{member}"
    if info.file_size > limit:
        raise ImportProblem(f"{where}: too large ({info.file_size} bytes; at most {limit})")
    try:
        with archive.open(info) as stream:
            data = stream.read(limit + 1)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError) as exc:
        raise ImportProblem(
            f"{where}: the archive member is damaged or its header lies about its size ({exc})"
        ) from None
    except RuntimeError as exc:  # an encrypted member
        raise ImportProblem(f"{where}: cannot be read ({exc})") from None
    if len(data) > limit:
        raise ImportProblem(f"{where}: larger than its header says; refused")
    return data


def _parse_json(data: bytes, where: str) -> Any:
    try:
        value = json.loads(data.decode("utf-8"))
    except RecursionError:
        raise ImportProblem(f"{where}: nested too deeply (at most {MAX_DEPTH} levels)") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ImportProblem(f"{where}: not valid JSON ({exc})") from None
    depth = _depth(value)
    if depth > MAX_DEPTH:
        raise ImportProblem(f"{where}: nested {depth} levels deep (at most {MAX_DEPTH})")
    return value


def _depth(value: Any) -> int:
    """The nesting depth of lists and mappings, counted without recursion."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            children = item.values() if isinstance(item, dict) else item
            stack += [(child, level + 1) for child in children if isinstance(child, dict | list)]
    return deepest


# --- screening: only objects Keras ships -----------------------------------------------------


def screen(saved: dict[str, Any], where: str) -> None:
    """Refuse every serialized object in the config that is not one Keras ships, wherever it
    sits (a layer, an initializer inside a layer, the compile section), naming its place."""
    problems: list[str] = []
    stack: list[tuple[Any, str, str]] = [(saved, "", "")]
    while stack:
        value, path, owner = stack.pop()
        if isinstance(value, dict):
            if "class_name" in value:
                problem = _foreign(value)
                if problem:
                    problems.append(f"{where}:{path or '$'}: {owner}{problem}")
                    continue
                owner = _owner(value, path) or owner
            children = [(v, f"{path}.{k}" if path else str(k)) for k, v in value.items()]
        elif isinstance(value, list):
            children = [(v, f"{path}[{i}]") for i, v in enumerate(value)]
        else:
            continue
        stack += [(v, p, owner) for v, p in reversed(children) if isinstance(v, dict | list)]
    if problems:
        raise ImportProblem("\n".join(problems[:20]))


def _owner(value: dict[str, Any], path: str) -> str | None:
    """`layer 'conv1' (Conv2D): ` for a layer (or model) object, to name what holds a key."""
    config = value.get("config")
    if not path or not isinstance(config, dict) or not isinstance(config.get("name"), str):
        return None
    if "inbound_nodes" in value or re.search(r"\.layers\[\d+\]$|\.layer$", path):
        return f"layer {config['name']!r} ({value.get('class_name')}): "
    return None


def _foreign(value: dict[str, Any]) -> str | None:
    """Why a serialized object is not one Keras ships, or None when it is."""
    cls = value.get("class_name")
    module = value.get("module")
    registered = value.get("registered_name")
    if cls == _TENSOR and module is None:
        return None
    if cls in ("__lambda__", "Lambda"):
        return "a Lambda carries Python code (bytecode); speck refuses it and never runs it"
    if not isinstance(cls, str) or not isinstance(module, str):
        return f"{cls!r} names no Keras module; speck reads only objects Keras ships"
    shown = f"{module}.{value.get('config')}" if cls == "function" else f"{module}.{cls}"
    if not _KERAS_MODULE.match(module):
        return f"{shown} is not a Keras object; speck reads only objects Keras ships"
    if cls == "function":
        if registered is not None and registered != value.get("config"):
            return f"{shown} is registered as {registered!r}, a custom function, not Keras'"
        return None
    if registered is not None and registered != cls:
        return f"{cls} is registered as {registered!r}: a custom class, not one Keras ships"
    return None


def spec_from_config(
    saved: dict[str, Any],
    name: str | None = None,
    source: str | None = None,
    keras_version: str = "3",
) -> ImportedSpec:
    """The spec of a saved model config (what `config.json` holds): Sequential or functional.

    Call `screen` on configs from untrusted files first; this only translates."""
    where = f"{source or 'model'}:config.json"
    kind = saved.get("class_name")
    config = saved.get("config")
    if kind not in ("Sequential", "Functional") or not isinstance(config, dict):
        raise ImportProblem(
            f"{where}: a {kind or 'subclassed'} model cannot become a spec; only Sequential "
            "and functional models can (their architecture is data, not code)"
        )
    importer = _Importer(load_catalog(), where)
    spec_name = name or _spec_name(str(config.get("name") or ""), source)
    if not _SPEC_NAME.match(spec_name):
        raise ImportProblem(f"{spec_name!r} is not a valid spec name (letters, digits, _ . -)")
    try:
        if kind == "Sequential":
            model_section = importer.sequential(config, "config")
        else:
            model_section = importer.functional(config, "config")
    except (_Unreadable, _Stuck, KeyError, TypeError, ValueError, AttributeError) as exc:
        # A config Keras did not write: no place to name beyond the model.
        raise ImportProblem(f"{where}: not a model config Keras writes ({exc})") from None
    data: dict[str, Any] = {"speck": 1, "name": spec_name}
    if importer.custom:
        data["custom_layers"] = importer.custom
    if importer.models:
        data["models"] = importer.models
    data["model"] = model_section
    compile_config = saved.get("compile_config")
    if isinstance(compile_config, dict) and compile_config:
        compile_section = importer.compile_section(compile_config, model_section)
        if compile_section:
            data["compile"] = compile_section
    text = render_spec(data, source, keras_version, importer.notes)
    _check_spec(text, source)
    return ImportedSpec(text, data, importer.notes)


# --- rendering ------------------------------------------------------------------------------------


def render_spec(
    data: dict[str, Any], source: str | None, keras_version: str, notes: list[str]
) -> str:
    """The spec as YAML in the project's style: sections in blocks, one line per layer."""
    origin = f"from {source} " if source else ""
    header = [
        f"Imported {origin}by `speck import` (saved by Keras {keras_version}).",
        "The architecture and training setup only: trained weights stay in the model file.",
        *(f"note: {n}" for n in notes),
    ]
    return spec_text(data, header)


def _check_spec(text: str, source: str | None) -> None:
    """The imported spec must pass speck's own validation; anything else is a bug here."""
    from speck.diagnostics import SpecError
    from speck.front.load import load_text
    from speck.front.validate import validate
    from speck.ir.resolve import resolve

    try:
        resolve(validate(load_text(text, source or "<imported>")))
    except SpecError as exc:
        problems = "\n  ".join(d.format() for d in exc.diagnostics if d.severity == "error")
        if problems:
            raise ImportProblem(
                f"the spec made from {source or 'the model'} does not validate:\n  {problems}"
            ) from None


# --- the importer ----------------------------------------------------------------------------


class _Importer:
    def __init__(self, catalog: Catalog, where: str) -> None:
        self.catalog = catalog
        self.where = where
        self.notes: list[str] = []
        self.node_names: dict[tuple[str, int], str] = {}
        """(layer name, call index) -> the spec's node name for that call."""
        self.multi: set[tuple[str, int]] = set()
        """Layer calls with several outputs, referenced as `name[i]`."""
        self.models: dict[str, Any] = {}
        """The models used as layers, by name: the spec's `models:` (shared by sub-importers)."""
        self.custom: dict[str, str] = {}
        """Layers of Keras' applications that keras.layers does not export: `custom_layers`."""

    def problem(self, at: str, message: str) -> ImportProblem:
        return ImportProblem(f"{self.where}:{at}: {message}")

    # -- model sections -------------------------------------------------------------------------

    def sequential(self, config: dict[str, Any], at: str) -> dict[str, Any]:
        """A Sequential model's section. Its input keeps its name (Keras' own `input_layer_N`
        too): the config built again names it alike."""
        layers = self.layer_list(config, at, named=False)
        section: dict[str, Any] = {}
        start = 0
        if layers and _kind(layers[0]) == "InputLayer":
            first = _config(layers[0])
            section["input"] = self.input_spec(first, f"{at}.layers[0].config")
            input_name = str(first.get("name", "inputs"))
            if input_name != "inputs":
                section["input_name"] = self.identifier(input_name)
            start = 1
        elif isinstance(config.get("build_input_shape"), list):
            section["input"] = list(config["build_input_shape"][1:])
        else:
            raise self.problem(
                at,
                "the Sequential model has no input shape; build it (e.g. start it with "
                "keras.Input(shape=...)) before saving",
            )
        entries = []
        names = [str(_config(layer).get("name", "")) for layer in layers]
        auto = _AutoNames({str(section.get("input_name", "inputs")), *names})
        for i in range(start, len(layers)):
            layer, where = layers[i], f"{at}.layers[{i}]"
            kind = _kind(layer)
            if kind in MODEL_CLASSES:
                kind = self.submodel(layer, where)
                args = {}
            else:
                args = self.some_layer_args(layer, kind, where)
            if auto.take(kind, names[i]):
                entries.append({kind: args})
            else:
                entries.append({"name": self.identifier(names[i]), kind: args})
        if not entries:
            raise self.problem(at, "the model has no layers")
        section["layers"] = entries
        return section

    def layer_list(self, config: dict[str, Any], at: str, named: bool) -> list[dict[str, Any]]:
        """The config's layers, each a serialized object (with a name, in a functional one)."""
        listed = _list(config.get("layers"))
        for i, layer in enumerate(listed):
            if not _is_object(layer) or not isinstance(layer.get("config"), dict):
                raise self.problem(f"{at}.layers[{i}]", f"not a layer: {_short(layer)}")
            if named and not isinstance(layer.get("name"), str):
                raise self.problem(
                    f"{at}.layers[{i}].name", "a functional model's layer needs a name"
                )
        return listed

    def functional(self, config: dict[str, Any], at: str) -> dict[str, Any]:
        listed = self.layer_list(config, at, named=True)
        layers = {str(layer.get("name")): layer for layer in listed}
        index = {str(layer.get("name")): i for i, layer in enumerate(listed)}
        input_refs = self.leaves(config.get("input_layers"), f"{at}.input_layers")
        output_refs = self.leaves(config.get("output_layers"), f"{at}.output_layers")
        taken = {self.identifier(n) for n in layers}
        inputs: dict[str, Any] = {}
        for layer_name, _, _ in input_refs:
            layer = layers.get(layer_name)
            where = f"{at}.layers[{index.get(layer_name, '?')}]"
            if layer is None or _kind(layer) != "InputLayer":
                raise self.problem(where, f"model input {layer_name!r} is not an Input")
            node = self.identifier(layer_name)
            inputs[node] = self.input_spec(_config(layer), f"{where}.config")
            self.node_names[(layer_name, 0)] = node
        self.multi = _multi_output_nodes(listed, output_refs)
        entries: list[dict[str, Any]] = []
        for layer_name, call, node_data in self.call_order(listed, set(inputs), at):
            layer = layers[layer_name]
            kind = _kind(layer)
            where = f"{at}.layers[{index[layer_name]}]"
            if kind == "InputLayer":
                continue
            if kind in MODEL_CLASSES and call == 0:
                kind = self.submodel(layer, where)
                refs = self.call_inputs(kind, layer_name, node_data, f"{where}.inbound_nodes[0]")
                node = self.identifier(layer_name)
                self.node_names[(layer_name, 0)] = node
                named = {} if node == kind == snake_case(kind) else {"name": node}
                entries.append({**named, kind: {}, "from": refs})
                continue
            op = self.catalog.op_for_class(str(layer.get("module")), kind)
            if op is not None:
                kind = f"{OP_PREFIX}{op}"
            refs = self.call_inputs(kind, layer_name, node_data, f"{where}.inbound_nodes[{call}]")
            if op is not None:
                node = self.identifier(layer_name if call == 0 else f"{layer_name}_{call}")
                self.node_names[(layer_name, call)] = node
                args = self.op_args(op, _config(layer), where)
                entries.append({"name": node, kind: args, "from": refs})
                continue
            if call == 0:
                node = self.identifier(layer_name)
                self.node_names[(layer_name, 0)] = node
                args = self.some_layer_args(layer, kind, where)
                entries.append({"name": node, kind: args, "from": refs})
            else:
                node = _unique(f"{self.identifier(layer_name)}_{call}", taken)
                taken.add(node)
                self.node_names[(layer_name, call)] = node
                shared = self.node_names[(layer_name, 0)]
                entries.append({"name": node, "shares": shared, "from": refs})
        outputs: Any = [self.ref(*leaf) for leaf in output_refs]
        named = config.get("output_layers")
        if isinstance(named, dict):
            if len(named) != len(outputs):
                raise self.problem(f"{at}.output_layers", "one node per named output expected")
            for key in named:
                if not (isinstance(key, str) and _IDENT.match(key) and not _is_keyword(key)):
                    raise self.problem(
                        f"{at}.output_layers", f"output name {key!r} is not an identifier"
                    )
            outputs = dict(zip(named, outputs, strict=True))
        return {"inputs": inputs, "layers": entries, "outputs": outputs}

    def submodel(self, layer: dict[str, Any], at: str) -> str:
        """A model used as a layer becomes a model of the spec's `models:`, named as in Keras;
        the layer type that names it is returned."""
        config = _config(layer)
        name = _unique(self.identifier(str(config.get("name") or "model")), set(self.models))
        inner = _Importer(self.catalog, self.where)
        inner.notes, inner.models, inner.custom = self.notes, self.models, self.custom
        if _kind(layer) == "Sequential":
            section = inner.sequential(config, f"{at}.config")
        else:
            section = inner.functional(config, f"{at}.config")
        self.models[name] = section
        return name

    def leaves(self, value: Any, at: str) -> list[tuple[str, int, int]]:
        try:
            return _leaves(value)
        except (TypeError, ValueError):
            raise self.problem(at, f"unreadable model inputs/outputs: {_short(value)}") from None

    def call_order(
        self, layers: list[Any], inputs: set[str], at: str
    ) -> list[tuple[str, int, dict[str, Any]]]:
        try:
            return _call_order(layers, inputs)
        except (KeyError, TypeError, IndexError, ValueError):
            raise self.problem(at, "the layers' inbound nodes cannot be read") from None
        except _Stuck as exc:
            raise self.problem(
                at, f"the model's graph cannot be replayed (stuck at {exc})"
            ) from None

    def input_spec(self, config: dict[str, Any], at: str) -> Any:
        for flag in ("sparse", "ragged", "optional"):
            if config.get(flag):
                raise self.problem(
                    at, f"input {config.get('name')!r} is {flag}; a spec's inputs are dense tensors"
                )
        shape = config.get("batch_shape") or config.get("batch_input_shape")
        if not isinstance(shape, list) or not shape:
            raise self.problem(at, f"input {config.get('name')!r} has no shape")
        dims = list(shape[1:])
        if not all(d is None or (isinstance(d, int) and not isinstance(d, bool)) for d in dims):
            raise self.problem(f"{at}.batch_shape", f"not a shape: {_short(shape)}")
        dtype = config.get("dtype") or "float32"
        if _is_object(dtype):
            dtype = _config(dtype).get("name", "float32")
        return dims if dtype == "float32" else {"shape": dims, "dtype": dtype}

    def call_inputs(self, kind: str, layer_name: str, node_data: Any, at: str) -> str | list[str]:
        if not isinstance(node_data, dict):
            raise self.problem(
                at, f"layer {layer_name!r}: a legacy (Keras 2) node format; re-save with Keras 3"
            )
        args = _list(node_data.get("args"))
        if _tensors(node_data.get("kwargs", {})):
            raise self.problem(
                at,
                f"layer {layer_name!r} is called with tensors as keyword arguments (e.g. a "
                "mask); a spec wires layers through `from` only",
            )
        if len(args) == 1 and isinstance(args[0], list):
            tensors = args[0]
        elif len(args) > 1 and kind not in POSITIONAL_INPUT_LAYERS and OP_PREFIX not in kind:
            raise self.problem(
                at,
                f"layer {layer_name!r} ({kind}) is called with several positional arguments; "
                "a spec passes a layer one tensor or one list of tensors",
            )
        else:
            tensors = args
        refs = []
        for tensor in tensors:
            if not _is_tensor(tensor):
                raise self.problem(
                    at,
                    f"layer {layer_name!r} is called with a constant ({_short(tensor)}); "
                    "a spec passes layers only tensors",
                )
            refs.append(self.ref(*_history(tensor)))
        if not refs:
            raise self.problem(at, f"layer {layer_name!r} reads no tensor")
        return refs[0] if len(refs) == 1 else refs

    def ref(self, layer_name: str, node_index: int, tensor_index: int) -> str:
        node = self.node_names.get((layer_name, node_index))
        if node is None:
            raise ImportProblem(
                f"{self.where}: a reference to an unknown node: {layer_name}[{node_index}]"
            )
        if (layer_name, node_index) in self.multi:
            return f"{node}[{tensor_index}]"
        return node

    def identifier(self, name: str) -> str:
        if _IDENT.match(name) and not _is_keyword(name):
            return name
        fixed = re.sub(r"\W", "_", name)
        fixed = fixed if _IDENT.match(fixed) and not _is_keyword(fixed) else f"n_{fixed}"
        note = f"layer name {name!r} is not an identifier; it is {fixed!r} in the spec"
        if note not in self.notes:
            self.notes.append(note)
        return fixed

    # -- layer arguments ----------------------------------------------------------------------

    def layer_args(
        self, kind: str, config: dict[str, Any], at: str, inner_name: str | None = None
    ) -> dict[str, Any]:
        """The arguments of one layer that differ from Keras' defaults (the catalog's).

        `inner_name`: for a layer inside another (wrapped by Bidirectional, an activation
        layer), the name it gets when the spec names none; any other name is kept."""
        entry = self.catalog.get("layers", kind)
        if entry is None:
            reason = self.catalog.excluded("layers").get(kind)
            if kind in MODEL_CLASSES:
                reason = "a nested model; import the inner model separately"
            raise self.problem(
                at, f"layer {config.get('name')!r}: {reason or f'{kind} is not a Keras layer'}"
            )
        at = f"{at}.config"
        label = f"layer {config.get('name')!r} ({kind})"
        required = {a.name for a in entry.args.values() if a.required}
        args: dict[str, Any] = {}
        for key, value in config.items():
            where = f"{at}.{key}"
            if _carried_by_every_layer(key, value, args):
                continue
            arg = entry.args.get(key)
            if key in WRAPPER_SETS and (inner_name is not None or value == WRAPPER_SETS[key]):
                continue
            if arg is None:
                if value is None:
                    continue  # a config key Keras writes for a feature left unused
                raise self.problem(
                    where, f"{label}: the argument {key!r} cannot be written in a spec"
                )
            if kind in WRAPPED_LAYERS and key in WRAPPED_LAYER_ARGS:
                item = self.wrapped(kind, key, value, config, where)
                if item is not None:
                    args[key] = item
                continue
            item = self.value(key, value, where, label)
            if key == "strides" and arg.default is None and value == config.get("pool_size"):
                continue  # pooling: no strides means strides of the pool's size
            if key in required or not _is_default(key, item, arg.default):
                args[key] = item
        if inner_name is not None and config.get("name", inner_name) != inner_name:
            args["name"] = str(config["name"])
        order = list(entry.args)
        return dict(
            sorted(
                args.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order)
            )
        )

    def some_layer_args(self, layer: dict[str, Any], kind: str, at: str) -> dict[str, Any]:
        """A layer's arguments: a Keras layer's, or those of a layer that Keras' applications
        define without exporting it (ConvNeXt's `LayerScale`), named under `custom_layers`."""
        module = str(layer.get("module") or "")
        if self.catalog.get("layers", kind) is not None or not module.startswith(_APPLICATIONS):
            return self.layer_args(kind, _config(layer), at)
        path = f"{module}:{kind}"
        if not (_IDENT.match(kind) and re.fullmatch(r"[\w.]+:\w+", path)):
            raise self.problem(at, f"{kind} is not a layer a spec can name")
        if kind not in self.custom:
            self.custom[kind] = path
            self.notes.append(
                f"{kind} is a layer of Keras' applications that keras.layers does not export; "
                "the spec names it under custom_layers, so build, train and emit need "
                "--allow-custom-layers"
            )
        args: dict[str, Any] = {}
        for key, value in _config(layer).items():
            if _carried_by_every_layer(key, value, args):
                continue
            if _is_object(value):
                raise self.problem(
                    f"{at}.config.{key}", f"{kind}: a Keras object here cannot be written"
                )
            args[key] = _plain(value)
        return args

    def op_args(self, op: str, config: dict[str, Any], at: str) -> dict[str, Any]:
        """The arguments of an operation node (`keras.ops.mean(x, axis=1)`) that differ from
        the defaults of its operation class."""
        entry = self.catalog.op(op)
        assert entry is not None
        args: dict[str, Any] = {}
        for key, value in config.items():
            arg = entry.args.get(key)
            if key == "name":
                continue
            if arg is None:
                raise self.problem(
                    f"{at}.config.{key}",
                    f"operation {config.get('name')!r} ({OP_PREFIX}{op}): the argument {key!r} "
                    "cannot be written in a spec",
                )
            item = _plain(value)
            if arg.required or not _same(item, arg.default):
                args[key] = item
        return args

    def wrapped(
        self, kind: str, key: str, value: Any, config: dict[str, Any], at: str
    ) -> dict[str, Any] | None:
        """The layer a wrapper holds, `{Type: {arguments}}`; None for Bidirectional's backward
        layer when it is the one Keras makes itself from the forward one."""
        if not _is_object(value):
            raise self.problem(at, f"expected a layer. Received: {_short(value)}")
        inner = dict(_config(value))
        inner_kind = _kind(value)
        outer = str(config.get("name", ""))
        if kind == "Bidirectional":
            if key == "backward_layer":
                forward = config.get("layer")
                if _is_object(forward):
                    made = dict(_config(forward))
                    made["go_backwards"] = not made.get("go_backwards", False)
                    made["name"] = "backward_" + _strip(made.get("name"), "forward_")
                    if _kind(forward) == inner_kind and made == inner:
                        return None
                return {inner_kind: self.layer_args(inner_kind, inner, at, inner_name="")}
            inner["name"] = _strip(inner.get("name"), "forward_")
        named = f"{outer}_{snake_case(inner_kind)}"
        return {inner_kind: self.layer_args(inner_kind, inner, at, inner_name=named)}

    def value(self, key: str, value: Any, at: str, label: str) -> Any:
        """One saved argument value as the spec writes it."""
        if _is_object(value):
            return self.keras_object(value, at, label)
        activation = key in ("activation", "recurrent_activation") and isinstance(value, str)
        if activation and not self.catalog.is_alias("activations", value):
            raise self.problem(at, f"{label}: {value!r} is not an activation Keras ships")
        return _plain(value)

    def keras_object(self, value: dict[str, Any], at: str, label: str = "") -> Any:
        """A serialized Keras object as the spec writes it: a name, or `{ClassName: {args}}`."""
        cls = str(value.get("class_name"))
        category = _category(value)
        prefix = f"{label}: " if label else ""
        if category is None:
            raise self.problem(
                at, f"{prefix}{cls} ({value.get('module')}) is not an object a spec can name"
            )
        if category == "layers":
            named = snake_case(cls)  # Keras' name for an activation layer made in a script
            return {cls: self.layer_args(cls, dict(_config(value)), at, inner_name=named)}
        entry = self.catalog.get(category, cls)
        if entry is None:
            raise self.problem(
                at, f"{prefix}{cls} is not a Keras {category.rstrip('s')} a spec can name"
            )
        args: dict[str, Any] = {}
        for key, item in _config(value).items():
            where = f"{at}.config.{key}"
            item = self.keras_object(item, where, label) if _is_object(item) else _plain(item)
            if category in ("optimizers", "schedules"):
                item = _short_float(item)
            arg = entry.args.get(key)
            if (key == "name" and _auto_name(cls, item)) or (
                arg is not None and _is_default(key, item, arg.default)
            ):
                continue
            if arg is None and key != "name":
                raise self.problem(
                    where, f"{prefix}{cls}: the argument {key!r} cannot be written in a spec"
                )
            args[key] = item
        if not args:
            return self.object_name(category, cls)
        return {cls: args}

    def object_name(self, category: str, cls: str) -> str:
        """The name Keras itself accepts for a class: `glorot_uniform`, `adam`; else the class."""
        aliases = self.catalog.aliases(category)
        for alias in (snake_case(cls), cls.lower()):
            if alias != cls and aliases.get(alias) == cls:
                return alias
        return cls

    # -- compile ------------------------------------------------------------------------------

    def compile_section(self, config: dict[str, Any], model: dict[str, Any]) -> dict[str, Any]:
        outputs = [re.sub(r"\[\d+\]$", "", o) for o in _output_list(model.get("outputs"))]
        section: dict[str, Any] = {}
        at = "compile_config"
        try:
            optimizer = config.get("optimizer")
            if optimizer is not None:
                section["optimizer"] = self.compile_object(
                    "optimizers", optimizer, f"{at}.optimizer"
                )
            loss = config.get("loss")
            if loss is None:
                return {}
            section["loss"] = self.per_output("losses", loss, outputs, f"{at}.loss")
            metrics = config.get("metrics")
            if metrics:
                section["metrics"] = self.metrics(metrics, outputs, f"{at}.metrics")
            weights = config.get("loss_weights")
            if weights is not None:
                section["loss_weights"] = weights
        except ImportProblem as exc:
            self.notes.append(f"compile section left out: {exc}")
            return {}
        if config.get("weighted_metrics"):
            self.notes.append("weighted_metrics are not part of a spec; left out")
        return section

    def compile_object(self, category: str, value: Any, at: str) -> Any:
        if isinstance(value, str):
            return value
        if _is_object(value):
            return self.keras_object(value, at)
        raise self.problem(at, f"cannot write {_short(value)} as a Keras {category.rstrip('s')}")

    def per_output(self, category: str, value: Any, outputs: list[str], at: str) -> Any:
        if isinstance(value, dict) and not _is_object(value):
            return {k: self.compile_object(category, v, f"{at}.{k}") for k, v in value.items()}
        if isinstance(value, list):
            if len(value) == 1:
                return self.compile_object(category, value[0], f"{at}[0]")
            if len(value) != len(outputs):
                raise self.problem(at, f"{len(value)} {category} for {len(outputs)} outputs")
            return {
                o: self.compile_object(category, v, f"{at}[{i}]")
                for i, (o, v) in enumerate(zip(outputs, value, strict=True))
            }
        return self.compile_object(category, value, at)

    def metrics(self, value: Any, outputs: list[str], at: str) -> Any:
        if isinstance(value, dict):
            return {k: self.metric_list(v, f"{at}.{k}") for k, v in value.items()}
        if isinstance(value, list) and value and all(isinstance(v, list) for v in value):
            if len(value) != len(outputs):
                raise self.problem(at, f"{len(value)} metric lists for {len(outputs)} outputs")
            return {
                o: self.metric_list(v, f"{at}[{i}]")
                for i, (o, v) in enumerate(zip(outputs, value, strict=True))
            }
        return self.metric_list(value, at)

    def metric_list(self, value: Any, at: str) -> list[Any]:
        items = value if isinstance(value, list) else [value]
        return [
            self.compile_object("metrics", v, f"{at}[{i}]")
            for i, v in enumerate(items)
            if v is not None
        ]


# --- helpers ---------------------------------------------------------------------------------


class _AutoNames:
    """The names `speck build` gives unnamed layers (`dense`, `dense_1`, skipping names taken),
    so that import leaves out exactly the names build would give again."""

    def __init__(self, taken: set[str]) -> None:
        self.taken = taken
        self.counts: dict[str, int] = {}

    def take(self, kind: str, name: str) -> bool:
        base = snake_case(kind) or "layer"
        counts = dict(self.counts)
        while True:
            n = counts.get(base, 0)
            counts[base] = n + 1
            candidate = base if n == 0 else f"{base}_{n}"
            if candidate == name or candidate not in self.taken:
                break
        if candidate != name:
            return False
        self.counts = counts
        return True


class _Unreadable(ValueError):
    """A part of the config is not in the form Keras writes."""


class _Stuck(Exception):
    """The layers' calls cannot be ordered: some wait on nodes that never exist."""


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _kind(layer: Any) -> str:
    return str(layer.get("class_name")) if isinstance(layer, dict) else ""


def _config(value: Any) -> dict[str, Any]:
    config = value.get("config") if isinstance(value, dict) else None
    return config if isinstance(config, dict) else {}


def _strip(name: Any, prefix: str) -> str:
    text = str(name or "")
    return text[len(prefix) :] if text.startswith(prefix) else text


def _output_list(outputs: Any) -> list[str]:
    if isinstance(outputs, dict):
        return [str(k) for k in outputs]
    if isinstance(outputs, list):
        return [str(o) for o in outputs]
    return []


def _is_object(value: Any) -> bool:
    return isinstance(value, dict) and "class_name" in value and "config" in value


def _category(value: dict[str, Any]) -> str | None:
    module = str(value.get("module") or "")
    for prefix, category in _MODULE_CATEGORIES:
        if module == prefix or module.startswith(prefix + "."):
            return category
    return None


def _is_tensor(value: Any) -> bool:
    return isinstance(value, dict) and value.get("class_name") == _TENSOR


def _history(tensor: dict[str, Any]) -> tuple[str, int, int]:
    history = _config(tensor).get("keras_history")
    if not (
        isinstance(history, list)
        and len(history) == 3
        and isinstance(history[0], str)
        and all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in history[1:])
    ):
        raise _Unreadable(f"a tensor's keras_history is not [layer, node, index]: {history!r}")
    return history[0], history[1], history[2]


def _tensors(value: Any) -> list[Any]:
    if _is_tensor(value):
        return [value]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _tensors(v)]
    if isinstance(value, list | tuple):
        return [t for v in value for t in _tensors(v)]
    return []


def _leaves(value: Any) -> list[tuple[str, int, int]]:
    """Functional `input_layers`/`output_layers`: one `[name, node, tensor]` or a structure."""
    if isinstance(value, list) and len(value) == 3 and isinstance(value[0], str):
        return [(value[0], int(value[1]), int(value[2]))]
    if isinstance(value, dict):
        return [leaf for v in value.values() for leaf in _leaves(v)]
    if isinstance(value, list) and value:
        return [leaf for v in value for leaf in _leaves(v)]
    raise ValueError(value)


def _call_order(
    layers: list[dict[str, Any]], inputs: set[str]
) -> list[tuple[str, int, dict[str, Any]]]:
    """Every layer call in an order where each comes after what it reads, as Keras replays them.

    This is `functional_from_config`'s loop: passes over the layers in config order, each
    layer's calls in node order, a call waiting until the nodes it reads exist.
    """
    made: set[tuple[str, int]] = {(name, 0) for name in inputs}
    pending = {
        str(layer["name"]): list(layer.get("inbound_nodes") or [])
        for layer in layers
        if layer["name"] not in inputs
    }
    done_count: dict[str, int] = dict.fromkeys(pending, 0)
    order: list[tuple[str, int, dict[str, Any]]] = []
    while any(pending.values()):
        progressed = False
        for layer in layers:
            name = str(layer["name"])
            queue = pending.get(name)
            while queue:
                node = queue[0]
                reads = [_history(t)[:2] for t in _tensors(node)]
                if not all(r in made for r in reads):
                    break
                queue.pop(0)
                index = done_count[name]
                done_count[name] += 1
                made.add((name, index))
                order.append((name, index, node))
                progressed = True
        if not progressed:
            raise _Stuck([n for n, q in pending.items() if q][:5])
    return order


def _multi_output_nodes(
    layers: list[Any], outputs: list[tuple[str, int, int]]
) -> set[tuple[str, int]]:
    """Layer calls that return several tensors (their references need `[index]`): those read
    at an index past 0, and recurrent layers that return their states."""
    multi: set[tuple[str, int]] = set()
    leaves = list(outputs)
    for layer in layers:
        if not isinstance(layer, dict):
            continue
        if _config(layer).get("return_state") is True:
            multi |= {
                (str(layer.get("name")), i) for i in range(len(_list(layer.get("inbound_nodes"))))
            }
        for node in _list(layer.get("inbound_nodes")):
            leaves += [_history(t) for t in _tensors(node)]
    multi |= {(name, node) for name, node, tensor in leaves if tensor > 0}
    return multi


_NONE_MEANS = {("activation", "linear"), ("data_format", "channels_last"), ("dtype", "float32")}
"""What Keras stores for an argument left at `None`: no activation is `linear`, no data format
the global one (`channels_last` unless a config file says otherwise), no dtype (of a metric,
say) the global policy's `float32`."""


def _is_default(key: str, value: Any, default: Any) -> bool:
    """Whether a saved value is what Keras makes of the argument left out."""
    if default is None and isinstance(value, str) and (key, value) in _NONE_MEANS:
        return True
    return _same(value, default)


def _plain(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _same(value: Any, default: Any) -> bool:
    if isinstance(value, list | tuple) and isinstance(default, list | tuple):
        return len(value) == len(default) and all(
            _same(a, b) for a, b in zip(value, default, strict=True)
        )
    if isinstance(value, bool) or isinstance(default, bool):
        return value is default
    return value == default and type(value) is not dict


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _short_float(value: Any) -> Any:
    """`0.019999999552965164` (a float32 learning rate read back) -> `0.02`."""
    if not isinstance(value, float) or value != value:
        return value
    import struct

    single = struct.unpack("f", struct.pack("f", value))[0] if abs(value) < 3.4e38 else value
    if single != value:
        return value
    for digits in range(1, 18):
        short = float(f"{value:.{digits}g}")
        if struct.unpack("f", struct.pack("f", short))[0] == value:
            return short
    return value


def _auto_name(cls: str, name: Any) -> bool:
    """Keras' own naming of an object: `adam`, `adam_2`, `SGD`, `mean_squared_error`."""
    if not isinstance(name, str):
        return False
    base = re.sub(r"_\d+$", "", name).lower()
    return base in (cls.lower(), snake_case(cls))


def _spec_name(model_name: str, source: str | None) -> str:
    for candidate in (model_name, Path(source or "").stem):
        fixed = re.sub(r"[^A-Za-z0-9_.-]+", "-", candidate).strip("-._")
        if fixed and _SPEC_NAME.match(fixed):
            return fixed[:100]
    return "imported-model"


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 1
    while candidate in taken:
        candidate = f"{name}_{n}"
        n += 1
    return candidate


def _is_keyword(name: str) -> bool:
    import keyword

    return keyword.iskeyword(name)


def _carried_by_every_layer(key: str, value: Any, args: dict[str, Any]) -> bool:
    """Whether `key` is one every layer's config carries (its name, `trainable: true`, its
    dtype policy), which a spec leaves out; a policy other than float32 goes into `args`."""
    if key == "name" or (key == "trainable" and value is True):
        return True
    if key != "dtype":
        return False
    policy = _config(value).get("name") if _is_object(value) else value
    if policy not in (None, "float32"):
        args["dtype"] = policy
    return True

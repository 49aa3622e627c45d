"""Import: an existing Keras model file (`.keras`) -> a readable spec, the reverse of build.

The model is loaded with Keras' safe mode (a `Lambda` carrying Python bytecode is refused before
Keras is even asked, and never run), and its config is turned into the spec format: one line per
layer, only the arguments that differ from Keras' defaults, Keras objects as `{ClassName: {...}}`
or a name Keras knows, auto-style layer names dropped from Sequential models and kept in
functional ones (they are the wiring), shared layers as `shares`, multi-output references as
`name[i]`, and a `compile:` section when the file was saved compiled.

Whether an argument is a default is first judged against the catalog, then proved: each layer
is rebuilt from its spec arguments the way `speck build` would build it, and an argument is only
left out when the rebuilt layer's config stays identical to the saved one. TensorFlow/Keras are
imported lazily, inside the functions that need them.
"""

from __future__ import annotations

import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from speck.build import POSITIONAL_INPUT_LAYERS
from speck.catalog import Catalog, load_catalog
from speck.graph import KerasObject
from speck.resolve import snake_case
from speck.spec_text import spec_text

MAX_CONFIG_BYTES = 64_000_000
"""The largest `config.json` inside a `.keras` file that import reads."""

WRAPPED_LAYERS = ("Bidirectional", "TimeDistributed")
WRAPPED_LAYER_ARGS = ("layer", "backward_layer")
MODEL_CLASSES = frozenset({"Functional", "Sequential", "Model"})
_TENSOR = "__keras_tensor__"
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

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SPEC_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class ImportProblem(Exception):
    """The model cannot become a spec; the message says why (the CLI exits with status 2)."""


@dataclass
class ImportedSpec:
    """The spec made from a model: its YAML text, the same as data, and notes for the reader."""

    text: str
    data: dict[str, Any]
    notes: list[str] = field(default_factory=list)


# --- entry points ----------------------------------------------------------------------------


def import_model(path: str | Path, name: str | None = None) -> ImportedSpec:
    """The spec of the model saved at `path` (a `.keras` file), never running code from it."""
    path = Path(path)
    saved = read_saved_config(path)
    refuse_unsupported(saved, path.name)
    model = load_safely(path)
    return spec_from_model(
        model,
        name=name,
        source=path.name,
        compile_config=saved.get("compile_config") or None,
    )


def read_saved_config(path: Path) -> dict[str, Any]:
    """The `config.json` of a `.keras` file, read as data (nothing is deserialized)."""
    if not path.exists():
        raise ImportProblem(f"{path}: no such file")
    if path.suffix != ".keras" or not zipfile.is_zipfile(path):
        raise ImportProblem(
            f"{path}: not a Keras 3 model file (.keras); re-save the model with "
            "`model.save('model.keras')`"
        )
    with zipfile.ZipFile(path) as archive:
        try:
            info = archive.getinfo("config.json")
        except KeyError:
            raise ImportProblem(f"{path}: the archive has no config.json") from None
        if info.file_size > MAX_CONFIG_BYTES:
            raise ImportProblem(f"{path}: config.json is too large ({info.file_size} bytes)")
        try:
            saved = json.loads(archive.read(info).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ImportProblem(f"{path}: config.json is not valid JSON ({exc})") from None
    if not isinstance(saved, dict):
        raise ImportProblem(f"{path}: config.json does not describe a model")
    return saved


def refuse_unsupported(saved: dict[str, Any], source: str) -> None:
    """Name every layer of the saved config that a spec cannot hold (before loading anything)."""
    kind = saved.get("class_name")
    if kind not in ("Sequential", "Functional"):
        raise ImportProblem(
            f"{source}: a {kind or 'subclassed'} model cannot become a spec; only Sequential "
            "and functional models can (their architecture is data, not code)"
        )
    catalog = load_catalog()
    problems: list[str] = []
    for layer in _saved_layers(saved.get("config", {})):
        cls = str(layer.get("class_name"))
        layer_name = (layer.get("config") or {}).get("name")
        label = f"{cls} {layer_name!r}" if layer_name else cls
        if cls == "InputLayer":
            continue
        if cls == "Lambda":
            problems.append(
                f"{label}: a Lambda layer carries Python code (bytecode); speck refuses it "
                "and never runs it"
            )
        elif cls in MODEL_CLASSES:
            problems.append(f"{label}: a nested model; import the inner model separately")
        elif _is_custom(layer):
            problems.append(f"{label}: a custom class ({_custom_name(layer)}), not a Keras layer")
        elif catalog.get("layers", cls) is None:
            reason = catalog.excluded("layers").get(cls, "not a layer a spec can name")
            problems.append(f"{label}: {reason}")
    if problems:
        raise ImportProblem(
            f"{source}: unsupported layer(s):\n  " + "\n  ".join(dict.fromkeys(problems))
        )


def load_safely(path: Path) -> Any:
    """`keras.saving.load_model` in safe mode and uncompiled; load errors become `ImportProblem`."""
    from speck.build import keras_module

    keras = keras_module()
    try:
        return keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "safe_mode" in str(exc) or "Lambda" in str(exc):
            raise ImportProblem(
                f"{path.name}: refused: the model holds Python code (e.g. a Lambda layer), which "
                "speck never runs"
            ) from None
        raise ImportProblem(f"{path.name}: Keras could not load it: {text}") from None


def spec_from_model(
    model: Any,
    name: str | None = None,
    source: str | None = None,
    compile_config: dict[str, Any] | None = None,
) -> ImportedSpec:
    """The spec of a live Sequential or functional Keras model (and its compile config)."""
    from speck.build import keras_module

    keras = keras_module()
    importer = _Importer(load_catalog(), keras)
    spec_name = name or _spec_name(getattr(model, "name", "") or "", source)
    if not _SPEC_NAME.match(spec_name):
        raise ImportProblem(f"{spec_name!r} is not a valid spec name (letters, digits, _ . -)")
    config = model.get_config()
    if isinstance(model, keras.Sequential):
        model_section = importer.sequential(config)
    elif type(model).__name__ == "Functional" or "input_layers" in config:
        model_section = importer.functional(config, model)
    else:
        raise ImportProblem(
            f"a {type(model).__name__} (subclassed) model cannot become a spec; only Sequential "
            "and functional models can"
        )
    data: dict[str, Any] = {"speck": 1, "name": spec_name, "model": model_section}
    if compile_config:
        compile_section = importer.compile_section(compile_config, model_section)
        if compile_section:
            data["compile"] = compile_section
    text = render_spec(data, source, keras.__version__, importer.notes)
    _check_spec(text, source)
    return ImportedSpec(text, data, importer.notes)


# --- rendering ------------------------------------------------------------------------------------


def render_spec(
    data: dict[str, Any], source: str | None, keras_version: str, notes: list[str]
) -> str:
    """The spec as YAML in the project's style: sections in blocks, one line per layer."""
    origin = f"from {source} " if source else ""
    header = [
        f"Imported {origin}by `speck import` (Keras {keras_version}).",
        "The architecture and training setup only: trained weights stay in the model file.",
        *(f"note: {n}" for n in notes),
    ]
    return spec_text(data, header)


def _check_spec(text: str, source: str | None) -> None:
    """The imported spec must pass speck's own validation; anything else is a bug here."""
    from speck.diagnostics import SpecError
    from speck.load import load_text
    from speck.resolve import resolve
    from speck.validate import validate

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
    def __init__(self, catalog: Catalog, keras: Any) -> None:
        self.catalog = catalog
        self.keras = keras
        self.notes: list[str] = []
        self.node_names: dict[tuple[str, int], str] = {}
        """(layer name, call index) -> the spec's node name for that call."""
        self.multi: set[tuple[str, int]] = set()
        """Layer calls with several outputs, referenced as `name[i]`."""

    # -- model sections -------------------------------------------------------------------------

    def sequential(self, config: dict[str, Any]) -> dict[str, Any]:
        layers = list(config.get("layers", []))
        section: dict[str, Any] = {}
        if layers and layers[0].get("class_name") == "InputLayer":
            first = layers.pop(0)["config"]
            section["input"] = self.input_spec(first)
            input_name = first.get("name", "inputs")
            if input_name != "inputs" and not re.fullmatch(r"input_layer(_\d+)?", input_name):
                section["input_name"] = self.identifier(input_name)
        elif config.get("build_input_shape"):
            section["input"] = list(config["build_input_shape"][1:])
        else:
            raise ImportProblem(
                "the Sequential model has no input shape; build it (e.g. start it with "
                "keras.Input(shape=...)) before saving"
            )
        entries = []
        for layer in layers:
            kind = layer["class_name"]
            layer_name = layer["config"].get("name", "")
            args = self.layer_args(kind, layer["config"])
            auto = re.fullmatch(rf"{re.escape(snake_case(kind))}(_\d+)?", layer_name)
            if auto:
                entries.append({kind: args})
            else:
                entries.append({"name": self.identifier(layer_name), kind: args})
        if not entries:
            raise ImportProblem("the model has no layers")
        section["layers"] = entries
        return section

    def functional(self, config: dict[str, Any], model: Any) -> dict[str, Any]:
        layers = {layer["name"]: layer for layer in config["layers"]}
        input_refs = _leaves(config["input_layers"])
        output_refs = _leaves(config["output_layers"])
        taken = {self.identifier(n) for n in layers}
        inputs: dict[str, Any] = {}
        for layer_name, _, _ in input_refs:
            layer = layers[layer_name]
            if layer["class_name"] != "InputLayer":
                raise ImportProblem(f"model input {layer_name!r} is not an Input")
            node = self.identifier(layer_name)
            inputs[node] = self.input_spec(layer["config"])
            self.node_names[(layer_name, 0)] = node
        self.multi = _multi_output_nodes(config, model)
        entries: list[dict[str, Any]] = []
        for layer_name, index, node_data in _call_order(config["layers"], set(inputs)):
            layer = layers[layer_name]
            kind = layer["class_name"]
            if kind == "InputLayer":
                continue
            refs = self.call_inputs(kind, layer_name, node_data)
            if index == 0:
                node = self.identifier(layer_name)
                self.node_names[(layer_name, 0)] = node
                args = self.layer_args(kind, layer["config"])
                entries.append({"name": node, kind: args, "from": refs})
            else:
                node = _unique(f"{self.identifier(layer_name)}_{index}", taken)
                taken.add(node)
                self.node_names[(layer_name, index)] = node
                shared = self.node_names[(layer_name, 0)]
                entries.append({"name": node, "shares": shared, "from": refs})
        outputs = [self.ref(*leaf) for leaf in output_refs]
        return {
            "inputs": inputs,
            "layers": entries,
            "outputs": outputs,
        }

    def input_spec(self, config: dict[str, Any]) -> Any:
        for flag in ("sparse", "ragged", "optional"):
            if config.get(flag):
                raise ImportProblem(
                    f"input {config.get('name')!r} is {flag}; a spec's inputs are dense tensors"
                )
        shape = config.get("batch_shape") or config.get("batch_input_shape")
        if not shape:
            raise ImportProblem(f"input {config.get('name')!r} has no shape")
        dims = list(shape[1:])
        dtype = config.get("dtype") or "float32"
        if isinstance(dtype, dict):
            dtype = dtype.get("config", {}).get("name", "float32")
        return dims if dtype == "float32" else {"shape": dims, "dtype": dtype}

    def call_inputs(self, kind: str, layer_name: str, node_data: Any) -> str | list[str]:
        if not isinstance(node_data, dict):
            raise ImportProblem(
                f"layer {layer_name!r}: a legacy (Keras 2) node format; re-save with Keras 3"
            )
        args = node_data.get("args", [])
        if _tensors(node_data.get("kwargs", {})):
            raise ImportProblem(
                f"layer {layer_name!r} is called with tensors as keyword arguments (e.g. a mask); "
                "a spec wires layers through `from` only"
            )
        if len(args) == 1 and isinstance(args[0], list):
            tensors = args[0]
        elif len(args) > 1 and kind not in POSITIONAL_INPUT_LAYERS:
            raise ImportProblem(
                f"layer {layer_name!r} ({kind}) is called with several positional arguments; "
                "a spec passes a layer one tensor or one list of tensors"
            )
        else:
            tensors = args
        refs = []
        for tensor in tensors:
            if not _is_tensor(tensor):
                raise ImportProblem(
                    f"layer {layer_name!r} is called with a constant ({tensor!r}); "
                    "a spec passes layers only tensors"
                )
            refs.append(self.ref(*tensor["config"]["keras_history"]))
        if not refs:
            raise ImportProblem(f"layer {layer_name!r} reads no tensor")
        return refs[0] if len(refs) == 1 else refs

    def ref(self, layer_name: str, node_index: int, tensor_index: int) -> str:
        node = self.node_names.get((layer_name, node_index))
        if node is None:
            raise ImportProblem(f"a reference to an unknown node: {layer_name}[{node_index}]")
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
        self, kind: str, config: dict[str, Any], wrapped: bool = False
    ) -> dict[str, Any]:
        """The arguments of one layer that differ from Keras' defaults, proved by rebuilding.

        `wrapped`: the layer sits inside a wrapper (Bidirectional), which sets some of its
        arguments itself; the wrapper's own rebuild then decides what stays.
        """
        entry = self.catalog.get("layers", kind)
        if entry is None:
            raise ImportProblem(f"unsupported layer {kind} {config.get('name')!r}")
        name = str(config.get("name", snake_case(kind)))
        target = _canonical(config)
        variants: dict[str, list[Any]] = {}
        for key, value in config.items():
            if key == "name":
                continue
            variants[key] = self.value_variants(kind, key, value)
        required = {a.name for a in entry.args.values() if a.required}
        args = {key: options[0] for key, options in variants.items()}

        def rebuilds(candidate: dict[str, Any]) -> bool:
            return self.rebuilt_config(kind, candidate, name) == target

        if not rebuilds(args):
            # Try the other spellings of each argument (e.g. a wrapped layer's name kept).
            for key, options in variants.items():
                for option in options[1:]:
                    trial = {**args, key: option}
                    if rebuilds(trial):
                        args = trial
                        break
                if rebuilds(args):
                    break
        exact = rebuilds(args)
        if not exact and not wrapped:
            self.notes.append(
                f"layer {name!r} ({kind}): its saved config could not be reproduced exactly; "
                "arguments equal to the catalog's defaults were left out without proof"
            )
        defaults = [k for k in args if k not in required and self.is_default(entry, k, args[k])]
        if exact:
            trial = {k: v for k, v in args.items() if k not in defaults}
            if rebuilds(trial):
                args = trial
            for key in list(args):
                if key in required:
                    continue
                trial = {k: v for k, v in args.items() if k != key}
                if rebuilds(trial):
                    args = trial
            args = self.prune_wrapped(kind, args, rebuilds)
        else:
            args = {k: v for k, v in args.items() if k not in defaults}
        order = list(entry.args)
        args = dict(
            sorted(
                args.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order)
            )
        )
        if wrapped:
            return args
        for key in WRAPPED_LAYER_ARGS:
            value = args.get(key)
            if kind in WRAPPED_LAYERS and isinstance(value, dict) and len(value) == 1:
                ((inner_kind, inner_args),) = value.items()
                inner_entry = self.catalog.get("layers", inner_kind)
                extra = [k for k in inner_args if inner_entry is None or k not in inner_entry.args]
                if extra:
                    raise ImportProblem(
                        f"layer {name!r} ({kind}): argument(s) {', '.join(extra)} of its "
                        f"{inner_kind} cannot be written in a spec"
                    )
        unknown = [k for k in args if k not in entry.args]
        if unknown:
            raise ImportProblem(
                f"layer {name!r} ({kind}): argument(s) {', '.join(unknown)} cannot be written "
                "in a spec"
            )
        return args

    def prune_wrapped(self, kind: str, args: dict[str, Any], rebuilds: Any) -> dict[str, Any]:
        """Leave out a wrapped layer's arguments that the wrapper sets (or defaults) itself."""
        if kind not in WRAPPED_LAYERS:
            return args
        for key in WRAPPED_LAYER_ARGS:
            value = args.get(key)
            if not (isinstance(value, dict) and len(value) == 1):
                continue
            ((inner_kind, inner_args),) = value.items()
            inner_entry = self.catalog.get("layers", inner_kind)
            required = (
                {a.name for a in inner_entry.args.values() if a.required} if inner_entry else set()
            )
            for inner_key in list(inner_args):
                if inner_key in required:
                    continue
                smaller = {k: v for k, v in inner_args.items() if k != inner_key}
                trial = {**args, key: {inner_kind: smaller}}
                if rebuilds(trial):
                    args, inner_args = trial, smaller
        return args

    def rebuilt_config(self, kind: str, args: dict[str, Any], name: str) -> str | None:
        """The config of the layer `speck build` makes from these spec arguments."""
        from speck.build import make_layer
        from speck.resolve import convert_arg, named_inner

        try:
            converted = {k: convert_arg("layers", k, v) for k, v in args.items()}
            if kind in WRAPPED_LAYERS and isinstance(converted.get("layer"), KerasObject):
                converted["layer"] = named_inner(converted["layer"], name)
            return _canonical(make_layer(kind, converted, name).get_config())
        except Exception:  # a candidate Keras rejects is simply not the saved layer
            return None

    def value_variants(self, kind: str, key: str, value: Any) -> list[Any]:
        """Spec spellings of one saved argument value, the most readable first."""
        if key == "dtype" and _is_object(value):
            policy = value.get("config", {}).get("name")
            return [policy] if isinstance(policy, str) else [value]
        if key in ("layer", "backward_layer") and kind in WRAPPED_LAYERS and _is_object(value):
            inner_kind = value["class_name"]
            inner = dict(value.get("config", {}))
            inner_name = str(inner.get("name", ""))
            args = self.layer_args(inner_kind, inner, wrapped=True)
            stripped = re.sub(r"^(forward|backward)_", "", inner_name)
            options = [{inner_kind: args}, {inner_kind: {**args, "name": stripped}}]
            if stripped != inner_name:
                options.append({inner_kind: {**args, "name": inner_name}})
            return options
        if _is_object(value):
            return [self.keras_object(value), self.keras_object(value, simplify=False)]
        return [_plain(value)]

    def keras_object(self, value: dict[str, Any], simplify: bool = True) -> Any:
        """A serialized Keras object as the spec writes it: a name, or `{ClassName: {args}}`."""
        cls = str(value.get("class_name"))
        category = _category(value)
        if category is None or _is_custom(value):
            raise ImportProblem(
                f"{cls} ({value.get('module')}) is a custom or unknown object; a spec names only "
                "objects Keras ships"
            )
        if category == "layers":
            inner = dict(value.get("config", {}))
            return {cls: self.layer_args(cls, inner)}
        entry = self.catalog.get(category, cls)
        if entry is None:
            raise ImportProblem(f"{cls} is not a Keras {category.rstrip('s')} a spec can name")
        config = value.get("config") or {}
        args: dict[str, Any] = {}
        for key, item in config.items():
            item = self.keras_object(item, simplify) if _is_object(item) else _plain(item)
            if category in ("optimizers", "schedules"):
                item = _short_float(item)
            if simplify and (
                self.is_default(entry, key, item) or (key == "name" and _auto_name(cls, item))
            ):
                continue
            args[key] = item
        if simplify and not args:
            return self.object_name(category, cls)
        return {cls: args}

    def object_name(self, category: str, cls: str) -> str:
        """The name Keras itself accepts for a class: `glorot_uniform`, `adam`; else the class."""
        aliases = self.catalog.aliases(category)
        for alias in (snake_case(cls), cls.lower()):
            if alias != cls and aliases.get(alias) == cls:
                return alias
        return cls

    @staticmethod
    def is_default(entry: Any, key: str, value: Any) -> bool:
        arg = entry.args.get(key)
        if arg is None:
            return False
        return _same(value, arg.default)

    # -- compile ------------------------------------------------------------------------------

    def compile_section(self, config: dict[str, Any], model: dict[str, Any]) -> dict[str, Any]:
        outputs = [re.sub(r"\[\d+\]$", "", o) for o in model.get("outputs", [])]
        section: dict[str, Any] = {}
        try:
            optimizer = config.get("optimizer")
            if optimizer is not None:
                section["optimizer"] = self.compile_object("optimizers", optimizer)
            loss = config.get("loss")
            if loss is None:
                return {}
            section["loss"] = self.per_output("losses", loss, outputs)
            metrics = config.get("metrics")
            if metrics:
                section["metrics"] = self.metrics(metrics, outputs)
            weights = config.get("loss_weights")
            if weights is not None:
                section["loss_weights"] = weights
        except ImportProblem as exc:
            self.notes.append(f"compile section left out: {exc}")
            return {}
        if config.get("weighted_metrics"):
            self.notes.append("weighted_metrics are not part of a spec; left out")
        return section

    def compile_object(self, category: str, value: Any) -> Any:
        if isinstance(value, str):
            return value
        if _is_object(value):
            return self.keras_object(value)
        raise ImportProblem(f"cannot write {value!r} as a Keras {category.rstrip('s')}")

    def per_output(self, category: str, value: Any, outputs: list[str]) -> Any:
        if isinstance(value, dict) and not _is_object(value):
            return {k: self.compile_object(category, v) for k, v in value.items()}
        if isinstance(value, list):
            if len(value) == 1:
                return self.compile_object(category, value[0])
            if len(value) != len(outputs):
                raise ImportProblem(f"{len(value)} {category} for {len(outputs)} outputs")
            return {
                o: self.compile_object(category, v) for o, v in zip(outputs, value, strict=True)
            }
        return self.compile_object(category, value)

    def metrics(self, value: Any, outputs: list[str]) -> Any:
        if isinstance(value, dict):
            return {k: self.metric_list(v) for k, v in value.items()}
        if isinstance(value, list) and value and all(isinstance(v, list) for v in value):
            if len(value) != len(outputs):
                raise ImportProblem(f"{len(value)} metric lists for {len(outputs)} outputs")
            return {o: self.metric_list(v) for o, v in zip(outputs, value, strict=True)}
        return self.metric_list(value)

    def metric_list(self, value: Any) -> list[Any]:
        items = value if isinstance(value, list) else [value]
        return [self.compile_object("metrics", v) for v in items if v is not None]


# --- helpers ---------------------------------------------------------------------------------


def _saved_layers(config: dict[str, Any]) -> list[dict[str, Any]]:
    """Every layer in a saved model config: nested models' and wrapped layers' too."""
    found: list[dict[str, Any]] = []
    stack = list(config.get("layers", []))
    while stack:
        layer = stack.pop(0)
        if not isinstance(layer, dict):
            continue
        found.append(layer)
        inner = layer.get("config", {})
        if isinstance(inner, dict):
            stack += [
                v for k, v in inner.items() if k in ("layer", "backward_layer") and _is_object(v)
            ]
            if layer.get("class_name") in MODEL_CLASSES:
                stack += list(inner.get("layers", []))
    return found


def _is_object(value: Any) -> bool:
    return isinstance(value, dict) and "class_name" in value and "config" in value


def _is_custom(value: dict[str, Any]) -> bool:
    module = str(value.get("module") or "keras")
    return bool(value.get("registered_name")) or module.split(".")[0] != "keras"


def _custom_name(value: dict[str, Any]) -> str:
    return str(value.get("registered_name") or f"{value.get('module')}.{value.get('class_name')}")


def _category(value: dict[str, Any]) -> str | None:
    module = str(value.get("module") or "")
    for prefix, category in _MODULE_CATEGORIES:
        if module == prefix or module.startswith(prefix + "."):
            return category
    return None


def _is_tensor(value: Any) -> bool:
    return isinstance(value, dict) and value.get("class_name") == _TENSOR


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
    if isinstance(value, list | tuple):
        return [leaf for v in value for leaf in _leaves(v)]
    raise ImportProblem(f"unreadable model inputs/outputs: {value!r}")


def _call_order(
    layers: list[dict[str, Any]], inputs: set[str]
) -> list[tuple[str, int, dict[str, Any]]]:
    """Every layer call in an order where each comes after what it reads, as Keras replays them.

    This is `functional_from_config`'s loop: passes over the layers in config order, each
    layer's calls in node order, a call waiting until the nodes it reads exist.
    """
    made: set[tuple[str, int]] = {(name, 0) for name in inputs}
    pending = {
        layer["name"]: list(layer.get("inbound_nodes") or [])
        for layer in layers
        if layer["name"] not in inputs
    }
    done_count: dict[str, int] = dict.fromkeys(pending, 0)
    order: list[tuple[str, int, dict[str, Any]]] = []
    while any(pending.values()):
        progressed = False
        for layer in layers:
            name = layer["name"]
            queue = pending.get(name)
            while queue:
                node = queue[0]
                reads = [tuple(t["config"]["keras_history"][:2]) for t in _tensors(node)]
                if not all(r in made for r in reads):
                    break
                queue.pop(0)
                index = done_count[name]
                done_count[name] += 1
                made.add((name, index))
                order.append((name, index, node))
                progressed = True
        if not progressed:
            stuck = [n for n, q in pending.items() if q]
            raise ImportProblem(f"the model's graph cannot be replayed (stuck at {stuck})")
    return order


def _multi_output_nodes(config: dict[str, Any], model: Any) -> set[tuple[str, int]]:
    """Layer calls that return several tensors (their references need `[index]`)."""
    multi: set[tuple[str, int]] = set()
    leaves = _leaves(config["output_layers"])
    for layer in config["layers"]:
        for node in layer.get("inbound_nodes") or []:
            leaves += [tuple(t["config"]["keras_history"]) for t in _tensors(node)]
    for name, node_index, tensor_index in leaves:
        if tensor_index > 0:
            multi.add((name, node_index))
    for layer in getattr(model, "layers", []):
        for i, node in enumerate(getattr(layer, "_inbound_nodes", [])):
            outputs = getattr(node, "output_tensors", None)
            if isinstance(outputs, list | tuple) and len(outputs) > 1:
                multi.add((layer.name, i))
    return multi


def _canonical(config: Any) -> str:
    """A config as comparable JSON, without the build state a built layer's config carries."""
    return json.dumps(_architecture(config), sort_keys=True, default=repr)


def _architecture(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: _architecture(v)
            for k, v in value.items()
            if k not in ("build_config", "compile_config")
        }
    if isinstance(value, list | tuple):
        return [_architecture(v) for v in value]
    return value


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

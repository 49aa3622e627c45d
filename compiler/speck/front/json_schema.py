"""The spec format as JSON Schema (Draft-07), for editors (yaml-language-server) and tools.

The outline comes from the pydantic models; layers, optimizers, losses, metrics and callbacks
come from the Keras catalog, one definition per class with its arguments, types, defaults and
the first line of Keras' own docs, so an editor completes `Conv2D:` and its `padding:` values.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from speck.catalog.lookup import Arg, Catalog, Entry, load_catalog
from speck.front import legacy
from speck.front.format import Spec
from speck.front.format.model import LAYER_ENTRY_KEYS
from speck.front.validate import (
    _SINGULAR,
    ACTIVATION_ARGS,
    ACTIVATION_LAYERS,
    SPECK_CALLBACK_ARGS,
    WRAPPED_LAYER_ARGS,
    loose_number,
    object_category,
)

DRAFT_07 = "http://json-schema.org/draft-07/schema#"
SCHEMA_ID = "https://speck.dev/schema/spec-v1.json"
SCHEMA_FILE = Path(__file__).resolve().parents[2] / "speck.schema.json"
"""The schema as a file in the repository, beside the package (`compiler/speck.schema.json`), for
editors to point at; `speck schema --check` tells when it is stale."""

ANY_VALUE: dict[str, Any] = {"type": ["string", "number", "boolean", "array", "object", "null"]}
"""An argument Keras types loosely: any plain value, typed so that editors complete `key: `."""

INT_OR_LIST = {"anyOf": [{"type": "integer"}, {"type": "array", "items": {"type": "integer"}}]}
SHAPE = {"type": "array", "items": {"type": ["integer", "null"]}}
KNOWN_ARGS: dict[str, dict[str, Any]] = {
    "kernel_size": INT_OR_LIST,
    "pool_size": INT_OR_LIST,
    "strides": INT_OR_LIST,
    "dilation_rate": INT_OR_LIST,
    "output_padding": INT_OR_LIST,
    "output_size": INT_OR_LIST,
    "axis": INT_OR_LIST,
    "name": {"type": "string"},
    "seed": {"type": "integer"},
    "dtype": {
        "type": "string",
        "examples": ["float32", "float16", "bfloat16", "mixed_float16", "mixed_bfloat16"],
    },
    "input_shape": SHAPE,
    "batch_input_shape": SHAPE,
    "target_shape": SHAPE,
    "input_dim": {"type": "integer"},
}
"""Arguments the catalog types loosely (`any`) that many layers share, with the JSON types
Keras takes for them (null is added where the argument may be null)."""

UNKNOWN_LAYER = (
    "not a layer speck knows: write a Keras layer class as `Type` or `Type: {arguments}` "
    "(`speck validate` names the closest one)"
)


def spec_schema() -> dict[str, Any]:
    """The whole schema: pydantic's outline with the catalog's Keras objects filled in."""
    catalog = load_catalog()
    schema = Spec.model_json_schema(by_alias=True, ref_template="#/definitions/{model}")
    schema = _draft07(schema)
    defs = schema.setdefault("definitions", {})
    defs["LayerSpec"] = _layer_entry(catalog, defs)
    for category in ("schedules", "optimizers", "losses", "metrics", "callbacks"):
        defs[f"{category}.object"] = _object_schema(catalog, category, defs)
    _shorthands(defs)
    _legacy_fit(defs)
    props = schema["properties"]
    props["callbacks"] = {
        "description": props.get("callbacks", {}).get("description", "Keras callbacks."),
        "type": "array",
        "items": {"$ref": "#/definitions/callbacks.object"},
    }
    compile_ = defs.get("CompileSpec", {}).get("properties", {})
    if compile_:
        compile_["optimizer"] = _ref_with_doc(compile_["optimizer"], "optimizers.object")
        per_output_loss = {"type": "object", "additionalProperties": _ref("losses.object")}
        compile_["loss"] = {
            "description": compile_["loss"].get("description", ""),
            "anyOf": [_ref("losses.object"), per_output_loss],
        }
        metric_list = {"type": "array", "items": _ref("metrics.object")}
        compile_["metrics"] = {
            "description": compile_["metrics"].get("description", ""),
            "anyOf": [metric_list, {"type": "object", "additionalProperties": metric_list}],
        }
    _section_types(schema)
    schema["$schema"] = DRAFT_07
    schema["$id"] = SCHEMA_ID
    schema["title"] = "speck spec"
    return schema


def schema_text() -> str:
    """The schema as `speck schema` prints it and `SCHEMA_FILE` holds it."""
    return json.dumps(spec_schema(), indent=2) + "\n"


def deprecated(schema: dict[str, Any], old: str, modern: str) -> dict[str, Any]:
    """A legacy spelling speck reads with a warning: accepted by the schema, shown by editors as
    deprecated (yaml-language-server's `deprecationMessage`) and not offered in completion."""
    schema = {k: v for k, v in schema.items() if k != "default"}  # editors insert defaults
    return {
        **schema,
        "deprecationMessage": f"{old!r} is a Keras 2 spelling; speck translates it "
        f"(write {modern})",
    }


def _legacy_fit(defs: dict[str, Any]) -> None:
    fit = defs.get("FitSpec", {}).get("properties")
    if fit is None:
        return
    for old, new in legacy.FIT_RENAMES.items():
        fit[old] = deprecated({"type": "integer", "minimum": 1}, old, repr(new))


JSON_TYPES = ("string", "integer", "number", "boolean", "object", "array", "null")
"""In the order an editor should prefer: yaml-language-server completes a property by the first
of its types (`kernel_size: 3` rather than a list, `optimizer: adam` rather than a mapping)."""


def _section_types(schema: dict[str, Any]) -> None:
    """A type on the properties pydantic leaves untyped (a union of models, an optional model,
    a mixed enum), so that an editor completes `model:` and `compile:` with a colon and a new
    line, not a bare word or `null`."""
    defs = schema.get("definitions", {})

    def types(node: dict[str, Any], depth: int = 0) -> set[str]:
        """The JSON types a schema node admits (empty: not known)."""
        if depth > 8:
            return set()
        if "$ref" in node:
            return types(defs.get(node["$ref"].rsplit("/", 1)[-1], {}), depth + 1)
        if "type" in node:
            kind = node["type"]
            return set(kind) if isinstance(kind, list) else {kind}
        if "properties" in node:
            return {"object"}
        if "enum" in node:
            return {_json_type(v) for v in node["enum"]}
        options = node.get("anyOf") or node.get("oneOf") or node.get("allOf") or []
        found = [types(o, depth + 1) for o in options]
        return set().union(*found) if found and all(found) else set()

    for node in [schema, *defs.values()]:
        for prop in node.get("properties", {}).values():
            if not isinstance(prop, dict) or "type" in prop or "$ref" in prop:
                continue  # (a reference is typed where it points)
            found = types(prop)
            if not found:
                continue
            ordered = [t for t in JSON_TYPES if t in found]
            if "integer" in found and "number" in found:
                ordered.remove("integer")
            prop["type"] = ordered[0] if len(ordered) == 1 else ordered
            if "object" in found and prop.get("default", 0) is None:
                del prop["default"]  # an editor would insert `compile: null`


def _shorthands(defs: dict[str, Any]) -> None:
    """What the spec models accept besides their full form (their `mode="before"` validators):
    an input as its bare shape, one output as a bare name."""
    if "InputSpec" in defs:
        full = defs["InputSpec"]
        defs["InputSpec"] = {
            "description": full.get("description", ""),
            "anyOf": [full["properties"]["shape"], full],
        }
    outputs = defs.get("FunctionalModel", {}).get("properties", {}).get("outputs")
    if outputs is not None:
        description = outputs.pop("description", "")
        defs["FunctionalModel"]["properties"]["outputs"] = {
            "description": description,
            "anyOf": [{"type": "string"}, outputs],
        }


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/definitions/{name}"}


def _ref_with_doc(old: dict[str, Any], name: str) -> dict[str, Any]:
    # Draft-07 ignores siblings of $ref, so the description goes around it.
    return {"description": old.get("description", ""), "allOf": [_ref(name)]}


def _draft07(schema: dict[str, Any]) -> dict[str, Any]:
    """pydantic writes 2020-12 (`$defs`); yaml-language-server reads Draft-07 (`definitions`)."""
    text = json.dumps(schema).replace('"#/$defs/', '"#/definitions/')
    out = json.loads(text)
    if "$defs" in out:
        out["definitions"] = out.pop("$defs")
    return _fix_keywords(out)


def _fix_keywords(node: Any) -> Any:
    if isinstance(node, dict):
        node = {k: _fix_keywords(v) for k, v in node.items()}
        if "const" in node and "enum" not in node:
            node["enum"] = [node["const"]]  # const is Draft-06+, enum reads everywhere
        node.pop("discriminator", None)
        return node
    if isinstance(node, list):
        return [_fix_keywords(v) for v in node]
    return node


def arg_schema(catalog: Catalog, entry: Entry, arg: Arg, defs: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if arg.doc:
        out["description"] = arg.doc
    if arg.default is not None and not arg.required and not isinstance(arg.default, list | dict):
        out["default"] = arg.default  # (an editor inserts a list default as `1,1`, a string)
    category = object_category(arg.name)
    if category:
        out.pop("default", None)  # an editor would insert every initializer into a snippet
        if category not in defs:  # once per category: a name, or {ClassName: {arguments}}
            names = sorted({*catalog.aliases(category), *catalog.names(category)})
            classes = {n: {"type": ["object", "null"]} for n in catalog.names(category)}
            defs[category] = {
                "anyOf": [
                    {"type": "string", "enum": names},
                    {
                        "type": "object",
                        "properties": classes,
                        "minProperties": 1,
                        "maxProperties": 1,
                    },
                ]
            }
        out["type"] = ["string", "object", "null"]
        out["anyOf"] = [_ref(category), {"type": "null"}]
        return out
    if arg.name in ACTIVATION_ARGS:
        if "activations" not in defs:
            defs["activations"] = {
                "type": "string",
                "enum": sorted(catalog.aliases("activations")),
            }
        layers = {n: {"type": ["object", "null"]} for n in ACTIVATION_LAYERS}
        out["type"] = ["string", "object", "null"]
        out["anyOf"] = [
            _ref("activations"),
            {"type": "object", "properties": layers, "minProperties": 1, "maxProperties": 1},
            {"type": "null"},
        ]
        return out
    if entry.category == "layers" and arg.name in WRAPPED_LAYER_ARGS:
        out["description"] = (
            out.get("description", "") + " A layer as {Type: {arguments}}."
        ).strip()
        out["type"] = "object"
        out["allOf"] = [_ref("LayerSpec")]
        return out
    if arg.name == "learning_rate" and entry.category == "optimizers":
        number: dict[str, Any] = {"type": "number"}
        if arg.minimum is not None:
            number["exclusiveMinimum" if arg.exclusive_minimum else "minimum"] = arg.minimum
        out["anyOf"] = [number, _ref("schedules.object")]  # a schedule given as data
        return out
    if arg.choices:
        out["enum"] = list(arg.choices)
        if arg.nullable or (arg.default is None and not arg.required):
            out["enum"].append(None)
        out["type"] = sorted({_json_type(c) for c in out["enum"]})
        if len(out["type"]) == 1:
            out["type"] = out["type"][0]
        return out
    simple = {
        "int": {"type": "integer"},
        "float": {"type": "number"},
        "bool": {"type": "boolean"},
        "str": {"type": ["string", "null"] if arg.default is None or arg.nullable else "string"},
        "tuple": {"anyOf": [{"type": "number"}, {"type": "array"}, {"type": "null"}]},
    }.get(arg.kind, {})
    loose = loose_number(arg)
    if loose is not None:
        simple = {"type": loose} if arg.required else {"type": [loose, "null"]}
    if not simple:
        simple = _loose_type(arg)
    out.update(simple)
    numeric = out.get("type") in ("integer", "number") or loose is not None
    if arg.minimum is not None and numeric:
        key = "exclusiveMinimum" if arg.exclusive_minimum else "minimum"
        out[key] = arg.minimum
    if arg.maximum is not None and numeric:
        key = "exclusiveMaximum" if arg.exclusive_maximum else "maximum"
        out[key] = arg.maximum
    return out


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return "string"


def _loose_type(arg: Arg) -> dict[str, Any]:
    """The JSON type of an argument the catalog types loosely (`any` or `none`): the known
    one for a common argument, else any plain value (speck checks it; Keras decides)."""
    known = KNOWN_ARGS.get(arg.name)
    if known is None:
        return dict(ANY_VALUE)
    if arg.required and not arg.nullable:
        return dict(known)
    if "anyOf" in known:
        return {"anyOf": [*known["anyOf"], {"type": "null"}]}
    return {**known, "type": [known["type"], "null"]}


def entry_args_schema(catalog: Catalog, entry: Entry, defs: dict[str, Any]) -> dict[str, Any]:
    base = _base_keys(catalog) if entry.category == "layers" else set()
    props: dict[str, Any] = {}
    for name, arg in entry.args.items():
        if _key(arg) in base:  # an argument every layer takes: one definition for all
            defs.setdefault(f"layer.{name}", arg_schema(catalog, entry, arg, defs))
            props[name] = _ref(f"layer.{name}")
        else:
            props[name] = arg_schema(catalog, entry, arg, defs)
    _legacy_args(catalog, entry, props, defs)
    out: dict[str, Any] = {
        "type": ["object", "null"],
        "properties": props,
        "additionalProperties": False,
    }
    if entry.doc:
        out["description"] = entry.doc
    required = [a.name for a in entry.args.values() if a.required]
    if required:
        out["required"] = required
        out["type"] = "object"
    return out


def _key(arg: Arg) -> tuple[str, bool, str, str]:
    return (arg.name, arg.required, repr(arg.default), arg.kind)


def _base_keys(catalog: Catalog) -> set[tuple[str, bool, str, str]]:
    """The base-layer arguments, as a layer that takes them through **kwargs lists them."""
    return {_key(a) for a in catalog.layer_base_args()}


def _legacy_args(
    catalog: Catalog, entry: Entry, props: dict[str, Any], defs: dict[str, Any]
) -> None:
    """The legacy spellings `speck.front.legacy` translates, as deprecated properties of the
    entry."""
    renames: dict[str, str] = {}
    removed: tuple[str, ...] = ()
    if entry.category == "layers":
        base = _base_keys(catalog)
        for name in legacy.INPUT_ARGS:
            arg = entry.args.get(name)
            if arg is None or _key(arg) in base:
                where = "the shape as the model's `input`"
                defs[f"layer.{name}"] = deprecated(KNOWN_ARGS[name], name, where)
                props[name] = _ref(f"layer.{name}")
        renames = dict(legacy.LAYER_ARG_RENAMES)
        if entry.name == "Dropout":
            renames["p"] = "rate"
    elif entry.category == "optimizers":
        renames = dict(legacy.OPTIMIZER_ARG_RENAMES)
        if "learning_rate" in props:
            props["decay"] = deprecated(
                {"type": "number", "minimum": 0}, "decay", "a learning-rate schedule"
            )
    elif entry.category == "callbacks":
        renames = dict(legacy.CALLBACK_ARG_RENAMES.get(entry.name, {}))
        removed = legacy.CALLBACK_ARGS_REMOVED.get(entry.name, ())
    for old, new in renames.items():
        if old not in entry.args and new in entry.args:
            props[old] = deprecated(props[new], old, repr(new))
    for old in removed:
        props[old] = {
            **ANY_VALUE,
            "deprecationMessage": f"{old!r} was removed from {entry.name} in Keras 3; "
            "speck ignores it (remove it)",
        }


def _layer_entry(catalog: Catalog, defs: dict[str, Any]) -> dict[str, Any]:
    """A layer entry: a layer name, or one object holding the layer (each layer a property, so
    that an editor completes its name with its required arguments) and name/from/shares."""
    entry_keys = {
        "name": {"type": "string", "description": "Node name (a Python identifier)."},
        "from": {
            "description": "Node(s) this layer reads (functional models).",
            "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
        },
        "shares": {"type": "string", "description": "Reuse this earlier layer and its weights."},
    }
    assert set(entry_keys) == set(LAYER_ENTRY_KEYS)
    layers: dict[str, Any] = {}
    for name in catalog.names("layers"):
        entry = catalog.get("layers", name)
        assert entry is not None
        defs[f"layers.{name}"] = args = entry_args_schema(catalog, entry, defs)
        _positional(catalog, entry, args, defs)
        layers[name] = _ref(f"layers.{name}")
    for alias in sorted(catalog.aliases("layers")):  # MaxPool2D for MaxPooling2D, ...
        canonical = catalog.resolve("layers", alias)
        if canonical in layers and alias not in layers:
            layers[alias] = _ref(f"layers.{canonical}")
    for old, new in legacy.LAYER_RENAMES.items():
        if catalog.get("layers", old) is None and new in layers:
            layers[old] = {
                "type": "object",
                "allOf": [_ref(f"layers.{new}")],
                "deprecationMessage": f"{old} is the Keras 1 name; speck reads it as {new} "
                f"(write {new})",
            }
    return {
        "description": "A layer: {Type: {arguments}}, with optional name/from/shares.",
        "anyOf": [
            {
                "type": "string",
                "enum": [*catalog.names("layers"), *sorted(catalog.aliases("layers"))],
                "errorMessage": UNKNOWN_LAYER,
            },
            {
                "type": "object",
                "properties": {**entry_keys, **layers},
                "additionalProperties": False,
                "minProperties": 1,
                "errorMessage": UNKNOWN_LAYER,
            },
        ],
    }


def _positional(catalog: Catalog, entry: Entry, args: dict[str, Any], defs: dict[str, Any]) -> None:
    """`Activation: softmax`, the first argument by position as Keras 2 code wrote it: speck
    reads it with a warning, so the schema takes it as deprecated."""
    first = next(iter(entry.args.values()), None)
    if first is None or not first.required:
        return
    value = arg_schema(catalog, entry, first, defs)
    args["type"] = ["object", "string", "number", "boolean", "array"]
    args["if"] = {"type": "object"}
    args["else"] = {
        **value,
        "deprecationMessage": f"the first argument by position, as Keras 2 code wrote "
        f"`{entry.name}(value)`; speck reads it as {first.name} "
        f"(write `{entry.name}: {{{first.name}: value}}`)",
    }


def _object_schema(catalog: Catalog, category: str, defs: dict[str, Any]) -> dict[str, Any]:
    """A Keras object: a name, or `{ClassName: {arguments}}` (each class a property)."""
    names = catalog.names(category)
    classes: dict[str, Any] = {}
    for name in names:
        entry = catalog.get(category, name)
        assert entry is not None
        args = entry_args_schema(catalog, entry, defs)
        for extra in SPECK_CALLBACK_ARGS.get(name, {}) if category == "callbacks" else {}:
            args["properties"][extra] = {
                "type": "integer",
                "minimum": 1,
                "description": "speck: save every N epochs (Keras 3 has no `period`).",
            }
            args["properties"]["period"] = deprecated(
                args["properties"][extra], "period", repr(extra)
            )
        defs[f"{category}.{name}"] = args
        classes[name] = _ref(f"{category}.{name}")
    what = _SINGULAR.get(category, category)
    article = "an" if what[0] in "aeiou" else "a"
    unknown = (
        f"not {article} {what} speck knows: write a Keras name or `ClassName: {{arguments}}` "
        "(`speck validate` names the closest one)"
    )
    return {
        "anyOf": [
            {
                "type": "string",
                "enum": sorted({*catalog.aliases(category), *names}),
                "errorMessage": unknown,
            },
            {
                "type": "object",
                "properties": classes,
                "additionalProperties": False,
                "minProperties": 1,
                "maxProperties": 1,
                "errorMessage": unknown,
            },
        ]
    }

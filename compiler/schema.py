"""The spec format as JSON Schema (Draft-07), for editors (yaml-language-server) and tools.

The outline comes from the pydantic models; layers, optimizers, losses, metrics and callbacks
come from the Keras catalog, one definition per class with its arguments, types, defaults and
the first line of Keras' own docs, so an editor completes `Conv2D:` and its `padding:` values.
"""

from __future__ import annotations

import json
from typing import Any

from speck.catalog import Arg, Catalog, Entry, load_catalog
from speck.spec import Spec
from speck.spec.model import LAYER_ENTRY_KEYS
from speck.validate import (
    ACTIVATION_ARGS,
    ACTIVATION_LAYERS,
    SPECK_CALLBACK_ARGS,
    WRAPPED_LAYER_ARGS,
    loose_number,
    object_category,
)

DRAFT_07 = "http://json-schema.org/draft-07/schema#"
SCHEMA_ID = "https://speck.dev/schema/spec-v1.json"


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
    schema["$schema"] = DRAFT_07
    schema["$id"] = SCHEMA_ID
    schema["title"] = "speck spec"
    return schema


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
    if arg.default is not None and not arg.required:
        out["default"] = arg.default
    category = object_category(arg.name)
    if category:
        names = sorted({*catalog.aliases(category), *catalog.names(category)})
        classes = {n: {"type": ["object", "null"]} for n in catalog.names(category)}
        out["anyOf"] = [
            {"type": "string", "enum": names},
            {"type": "object", "properties": classes, "minProperties": 1, "maxProperties": 1},
            {"type": "null"},
        ]
        return out
    if arg.name in ACTIVATION_ARGS:
        layers = {n: {"type": ["object", "null"]} for n in ACTIVATION_LAYERS}
        out["anyOf"] = [
            {"type": "string", "enum": sorted(catalog.aliases("activations"))},
            {"type": "object", "properties": layers, "minProperties": 1, "maxProperties": 1},
            {"type": "null"},
        ]
        return out
    if entry.category == "layers" and arg.name in WRAPPED_LAYER_ARGS:
        out["$comment"] = "a layer as {Type: {arguments}}"
        out["type"] = "object"
        return out
    if arg.name == "learning_rate" and entry.category == "optimizers":
        number: dict[str, Any] = {"type": "number"}
        if arg.minimum is not None:
            number["exclusiveMinimum" if arg.exclusive_minimum else "minimum"] = arg.minimum
        out["anyOf"] = [number, _ref("schedules.object")]  # a schedule given as data
        return out
    if arg.choices:
        out["enum"] = list(arg.choices)
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
    out.update(simple)
    numeric = out.get("type") in ("integer", "number") or loose is not None
    if arg.minimum is not None and numeric:
        key = "exclusiveMinimum" if arg.exclusive_minimum else "minimum"
        out[key] = arg.minimum
    if arg.maximum is not None and numeric:
        key = "exclusiveMaximum" if arg.exclusive_maximum else "maximum"
        out[key] = arg.maximum
    return out


def entry_args_schema(catalog: Catalog, entry: Entry, defs: dict[str, Any]) -> dict[str, Any]:
    props = {name: arg_schema(catalog, entry, arg, defs) for name, arg in entry.args.items()}
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


def _layer_entry(catalog: Catalog, defs: dict[str, Any]) -> dict[str, Any]:
    entry_keys = {
        "name": {"type": "string", "description": "Node name (a Python identifier)."},
        "from": {
            "description": "Node(s) this layer reads (functional models).",
            "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
        },
        "shares": {"type": "string", "description": "Reuse this earlier layer and its weights."},
    }
    assert set(entry_keys) == set(LAYER_ENTRY_KEYS)
    options: list[dict[str, Any]] = [
        {"type": "string", "enum": list(catalog.names("layers"))},
        {
            "type": "object",
            "required": ["shares"],
            "properties": entry_keys,
            "additionalProperties": False,
        },
    ]
    for name in catalog.names("layers"):
        entry = catalog.get("layers", name)
        assert entry is not None
        defs[f"layers.{name}"] = entry_args_schema(catalog, entry, defs)
        options.append(
            {
                "type": "object",
                "required": [name],
                "properties": {**entry_keys, name: _ref(f"layers.{name}")},
                "additionalProperties": False,
            }
        )
    return {
        "description": "A layer: {Type: {arguments}}, with optional name/from/shares.",
        "anyOf": options,
    }


def _object_schema(catalog: Catalog, category: str, defs: dict[str, Any]) -> dict[str, Any]:
    names = catalog.names(category)
    options: list[dict[str, Any]] = [
        {"type": "string", "enum": sorted({*catalog.aliases(category), *names})}
    ]
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
        defs[f"{category}.{name}"] = args
        options.append(
            {
                "type": "object",
                "required": [name],
                "properties": {name: _ref(f"{category}.{name}")},
                "additionalProperties": False,
            }
        )
    return {"anyOf": options}

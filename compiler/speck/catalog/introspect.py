"""Introspect the installed Keras into the committed catalog of what a spec can ask for.

This is the only module that reads Keras to learn its API. It walks the public namespaces
(`keras.layers`, `keras.optimizers`, ...), records every public class with its constructor
arguments (name, default, kind, one-line doc), and discovers the plain strings each category's
`keras.<category>.get()` accepts, verifying every candidate by calling `get()`. The result is a
deterministic JSON file, `catalog.json`, that `speck.catalog.lookup` reads without importing Keras.

    python -m speck.catalog.introspect           # rewrite catalog.json from the installed Keras
    python -m speck.catalog.introspect --check   # exit 1 with a short summary when it is stale

Keras is imported lazily, inside the functions that need it.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import inspect
import json
import re
import sys
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from speck.catalog.lookup import KERAS_NAMESPACES

CATALOG_PATH = Path(__file__).with_name("catalog.json")

CATEGORIES: tuple[str, ...] = (
    "layers",
    "optimizers",
    "schedules",
    "losses",
    "metrics",
    "activations",
    "initializers",
    "regularizers",
    "constraints",
    "callbacks",
)

# Public namespace, base class, `get()` and the keras.src module holding ALL_OBJECTS_DICT.
_MODULES = KERAS_NAMESPACES
_BASES: dict[str, str] = {
    "layers": "Layer",
    "optimizers": "Optimizer",
    "schedules": "LearningRateSchedule",
    "losses": "Loss",
    "metrics": "Metric",
    "initializers": "Initializer",
    "regularizers": "Regularizer",
    "constraints": "Constraint",
    "callbacks": "Callback",
}
_GETTERS: tuple[str, ...] = (
    "optimizers",
    "losses",
    "metrics",
    "activations",
    "initializers",
    "regularizers",
    "constraints",
)
_SOURCE_MODULES: dict[str, str] = {c: f"keras.src.{c}" for c in _GETTERS}

_BASE = "abstract base class"
# Classes Keras exports that a spec may not name, with the reason shown to the user.
EXCLUDED: dict[str, dict[str, str]] = {
    "layers": {
        "Layer": _BASE,
        "Wrapper": _BASE,
        "InputSpec": "not a layer: describes a layer's expected input",
        "InputLayer": "declare model inputs with the spec's `input`/`inputs`",
        "Lambda": "refused: carries Python code",
        "FlaxLayer": "refused: wraps a Flax module (Python code, JAX backend only)",
        "JaxLayer": "refused: wraps JAX functions (Python code, JAX backend only)",
        "TorchModuleWrapper": "refused: wraps a PyTorch module (Python code, torch backend)",
        "TFSMLayer": "refused: loads an external SavedModel with its own graph",
    },
    "optimizers": {"Optimizer": _BASE},
    "schedules": {"LearningRateSchedule": _BASE},
    "losses": {"Loss": _BASE},
    "metrics": {
        "Metric": _BASE,
        "MeanMetricWrapper": "refused: wraps a Python function",
    },
    "initializers": {"Initializer": _BASE},
    "regularizers": {"Regularizer": _BASE},
    "constraints": {"Constraint": _BASE},
    "callbacks": {
        "Callback": _BASE,
        "CallbackList": "internal container of callbacks",
        "LambdaCallback": "refused: carries Python code",
    },
}

_DOC_MAX = 200
_ARG_HEADERS = ("Args:", "Arguments:")


# --------------------------------------------------------------------------- docstrings


def first_sentence(doc: str | None) -> str:
    """The first sentence of a docstring's first paragraph, on one line."""
    if not doc:
        return ""
    paragraph = inspect.cleandoc(doc).split("\n\n", 1)[0]
    text = " ".join(line.strip() for line in paragraph.splitlines()).strip()
    match = re.match(r"(.+?[.!?])(\s|$)", text)
    return _clip(match.group(1) if match else text)


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _DOC_MAX else text[: _DOC_MAX - 3].rstrip() + "..."


def parse_args_section(doc: str | None) -> dict[str, str]:
    """Argument name -> one-line description from a Google-style `Args:` section."""
    if not doc:
        return {}
    lines = inspect.cleandoc(doc).splitlines()
    out: dict[str, str] = {}
    i = 0
    while i < len(lines):
        if lines[i].strip() not in _ARG_HEADERS:
            i += 1
            continue
        header_indent = len(lines[i]) - len(lines[i].lstrip())
        i += 1
        arg_indent: int | None = None
        current: str | None = None
        parts: list[str] = []
        while i < len(lines):
            line = lines[i]
            stripped = line.strip()
            indent = len(line) - len(line.lstrip())
            if stripped and indent <= header_indent:
                break  # the next section
            if stripped:
                if arg_indent is None:
                    arg_indent = indent
                match = re.match(r"\**([A-Za-z_][A-Za-z0-9_]*)\s*(\([^)]*\))?\s*:\s*(.*)", stripped)
                if indent == arg_indent and match:
                    if current is not None:
                        out.setdefault(current, _clip(" ".join(parts)))
                    current, parts = match.group(1), [match.group(3)]
                elif current is not None:
                    parts.append(stripped)
            i += 1
        if current is not None:
            out.setdefault(current, _clip(" ".join(parts)))
    return out


# --------------------------------------------------------------------------- arguments


def _to_json(value: Any) -> tuple[bool, Any]:
    """(ok, JSON value) for a default value; tuples become lists."""
    if value is None or isinstance(value, (bool, str)):
        return True, value
    if isinstance(value, int):
        return True, int(value)
    if isinstance(value, float):
        return (value == value and value not in (float("inf"), float("-inf"))), float(value)
    if isinstance(value, (tuple, list)):
        items = [_to_json(v) for v in value]
        return all(ok for ok, _ in items), [v for _, v in items]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        items2 = {k: _to_json(v) for k, v in value.items()}
        return all(ok for ok, _ in items2.values()), {k: v for k, (_, v) in items2.items()}
    return False, None


def _kind(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    if isinstance(value, (tuple, list)):
        return "tuple"
    return "object"


_DOC_SEVERAL = re.compile(r"\b(tuple|list)s?\b", re.IGNORECASE)
_DOC_NONE = re.compile(r"\bor `?None`?\b")


def documented_kind(kind: str, doc: str) -> tuple[str, bool]:
    """(kind, nullable) as Keras' own docs give them, where the default's type says less.

    A default of `-1` makes `axis` look like an int, but `Normalization` documents "Integer,
    tuple of integers, or None": a number whose docs also name a tuple or list takes a number
    or a list (`tuple`), and one documented "or None" takes `None` too.
    """
    if kind in ("int", "float") and _DOC_SEVERAL.search(doc):
        kind = "tuple"
    return kind, kind != "none" and bool(_DOC_NONE.search(doc))


def arg_record(name: str, default: Any, docs: dict[str, str]) -> dict[str, Any]:
    """One argument as stored in the catalog."""
    record: dict[str, Any] = {"name": name}
    doc = docs.get(name, "")
    if default is inspect.Parameter.empty:
        record.update(required=True, default=None, kind="any")
    else:
        ok, value = _to_json(default)
        if ok:
            kind, nullable = documented_kind(_kind(default), doc)
            record.update(required=False, default=value, kind=kind)
            if nullable and value is not None:
                record["nullable"] = True
        else:
            record.update(
                required=False, default=None, kind="object", default_repr=_clip(repr(default))
            )
    record["doc"] = doc
    return record


def class_record(cls: type) -> dict[str, Any]:
    """The catalog record of one class: doc, ordered args, whether it takes **kwargs."""
    docs = parse_args_section(inspect.getdoc(cls))
    for key, value in parse_args_section(inspect.getdoc(cls.__init__)).items():
        docs.setdefault(key, value)
    signature = inspect.signature(cls.__init__)
    args: list[dict[str, Any]] = []
    var_kwargs = False
    for index, param in enumerate(signature.parameters.values()):
        if index == 0 and param.name in ("self", "cls"):
            continue
        if param.kind is inspect.Parameter.VAR_KEYWORD:
            var_kwargs = True
            continue
        if param.kind is inspect.Parameter.VAR_POSITIONAL:
            continue
        args.append(arg_record(param.name, param.default, docs))
    if var_kwargs:
        args += [arg_record(name, default, docs) for name, default in config_kwargs(cls, args)]
    return {"doc": first_sentence(inspect.getdoc(cls)), "args": args, "var_kwargs": var_kwargs}


def config_kwargs(cls: type, named: list[dict[str, Any]]) -> list[tuple[str, Any]]:
    """Arguments a class takes through `**kwargs` (`kwargs.pop("rms_scaling", False)`) and
    writes into its config: saved models carry them, so a spec must be able to say them."""
    try:
        init, config = inspect.getsource(cls.__init__), inspect.getsource(cls.get_config)
    except (OSError, TypeError, AttributeError):
        return []
    taken = {a["name"] for a in named}
    found = []
    for name, default in re.findall(r"kwargs\.pop\(\s*[\"'](\w+)[\"']\s*,\s*([^()]*?)\)", init):
        if name in taken or f'"{name}"' not in config:
            continue
        try:
            found.append((name, ast.literal_eval(default)))
        except (ValueError, SyntaxError):
            continue
    return found


def layer_base_args() -> list[dict[str, Any]]:
    """Keyword arguments the base `Layer.__init__` accepts (named, and popped from **kwargs)."""
    from keras.layers import Layer

    docs = parse_args_section(inspect.getdoc(Layer))
    docs.setdefault(
        "activity_regularizer", "Regularizer function applied to the output of the layer."
    )
    docs.setdefault("autocast", "Whether to cast inputs to the layer's compute dtype.")
    docs.setdefault("input_shape", "Legacy: the input shape; prefer the model's input.")
    docs.setdefault("input_dim", "Legacy: the input size of a 1D input; prefer the model's input.")
    records: list[dict[str, Any]] = []
    for param in inspect.signature(Layer.__init__).parameters.values():
        if param.name == "self" or param.kind in (
            inspect.Parameter.VAR_KEYWORD,
            inspect.Parameter.VAR_POSITIONAL,
        ):
            continue
        records.append(arg_record(param.name, param.default, docs))
    # Layer.__init__ pops a few legacy names from **kwargs and refuses everything else.
    source = inspect.getsource(Layer.__init__)
    for name in dict.fromkeys(re.findall(r"kwargs\.pop\(\s*[\"'](\w+)[\"']", source)):
        records.append(arg_record(name, None, docs))
    return records


# --------------------------------------------------------------------------- aliases


def _quiet(fn: Callable[[], Any]) -> tuple[bool, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return True, fn()
        except Exception:
            return False, None


def _canonical(obj: Any) -> str:
    if inspect.isfunction(obj) or inspect.isclass(obj):
        return obj.__name__
    return type(obj).__name__


def _to_snake(name: str) -> str:
    from keras.src.utils.naming import to_snake_case

    return to_snake_case(name)


def discover_get_aliases(category: str, class_names: Iterable[str]) -> dict[str, str]:
    """Every candidate string `keras.<category>.get()` accepts -> the canonical name it gives.

    Candidates: the keys of keras.src's ALL_OBJECTS_DICT, the public names of the namespace,
    and the lower- and snake-case spellings of class names; each is kept only when `get()`
    resolves it.
    """
    namespace = importlib.import_module(_MODULES[category])
    source = importlib.import_module(_SOURCE_MODULES[category])
    getter = namespace.get
    candidates: set[str] = set(getattr(source, "ALL_OBJECTS_DICT", {}))
    candidates.update(n for n in dir(namespace) if not n.startswith("_"))
    for name in class_names:
        candidates.update({name, name.lower(), _to_snake(name)})
    candidates -= {"get", "serialize", "deserialize"}
    excluded = EXCLUDED.get(category, {})
    out: dict[str, str] = {}
    for name in sorted(candidates):
        ok, obj = _quiet(lambda name=name: getter(name))
        if not ok or obj is None:
            continue
        canonical = _canonical(obj)
        if canonical in excluded:
            continue
        out[name] = canonical
    return out


def discover_compile_aliases() -> dict[str, dict[str, list[str]]]:
    """Strings `Model.compile()` resolves by the shapes of targets and predictions.

    `compile(metrics=["acc"])` and `compile(loss="ce")` are not `get()` names: compile picks
    binary, categorical or sparse categorical by shapes. Read the names and the choices from
    the source of keras.src.trainers.compile_utils.
    """
    from keras.src.trainers import compile_utils

    found: dict[str, dict[str, list[str]]] = {}
    for category, fn, module in (
        ("metrics", compile_utils.get_metric, "metrics_module"),
        ("losses", compile_utils.get_loss, "losses_module"),
    ):
        source = inspect.getsource(fn)
        match = re.search(r"\.lower\(\)\s+not\s+in\s+(\[[^\]]*\])", source)
        if not match:
            continue
        names = [str(n) for n in ast.literal_eval(match.group(1))]
        choices = [
            c
            for c in dict.fromkeys(re.findall(rf"{module}\.(\w+)", source))
            if c not in ("get", "Metric", "Loss", "MeanMetricWrapper", "LossFunctionWrapper")
        ]
        found[category] = {name: choices for name in names}
    return found


# --------------------------------------------------------------------------- the catalog


def _public_classes(category: str) -> tuple[dict[str, type], dict[str, str], dict[str, str]]:
    """(canonical name -> class, exported alias -> canonical, excluded name -> reason)."""
    namespace = importlib.import_module(_MODULES[category])
    base_name = _BASES.get(category)
    base = getattr(namespace, base_name) if base_name else None
    by_class: dict[type, list[str]] = {}
    for name in sorted(dir(namespace)):
        if name.startswith("_"):
            continue
        obj = getattr(namespace, name)
        if inspect.isclass(obj):
            by_class.setdefault(obj, []).append(name)
    hand = EXCLUDED.get(category, {})
    classes: dict[str, type] = {}
    aliases: dict[str, str] = {}
    excluded: dict[str, str] = {}
    for cls, exported in by_class.items():
        canonical = cls.__name__ if cls.__name__ in exported else exported[0]
        reason = next((hand[n] for n in exported if n in hand), None)
        if reason is None and (base is None or not issubclass(cls, base)):
            reason = f"not a keras {category} class (no {base_name} subclass)"
        if reason is None and inspect.isabstract(cls):
            reason = _BASE
        if reason is not None:
            for name in exported:
                excluded[name] = reason
            continue
        classes[canonical] = cls
        for name in exported:
            if name != canonical:
                aliases[name] = canonical
    return classes, aliases, excluded


OPS_MODULES = (
    "keras.src.ops.numpy",
    "keras.src.ops.nn",
    "keras.src.ops.math",
    "keras.src.ops.core",
    "keras.src.ops.linalg",
    "keras.src.ops.image",
)
"""Where Keras defines the operation classes behind `keras.ops` (what `x + y` saves as)."""


def discover_ops() -> dict[str, dict[str, Any]]:
    """`keras.ops` functions -> the operation class a functional model saves for their call
    (`add` -> `keras.src.ops.numpy.Add`), with the class's constructor arguments."""
    import keras
    from keras.src.ops.operation import Operation

    classes: dict[str, str] = {}
    for module_name in OPS_MODULES:
        module = importlib.import_module(module_name)
        for name, obj in sorted(vars(module).items()):
            if (
                inspect.isclass(obj)
                and issubclass(obj, Operation)
                and obj.__module__ == module_name
            ):
                classes.setdefault(name, module_name)
    ops: dict[str, dict[str, Any]] = {}
    for function in sorted(dir(keras.ops)):
        fn = getattr(keras.ops, function)
        if function.startswith("_") or not inspect.isfunction(fn):
            continue
        match = [
            c for c in classes if _to_snake(c) == function or c.lower() == function.replace("_", "")
        ]
        if not match:
            continue
        cls = getattr(importlib.import_module(classes[match[0]]), match[0])
        docs = parse_args_section(inspect.getdoc(fn))
        args = [
            arg_record(p.name, p.default, docs)
            for p in inspect.signature(cls.__init__).parameters.values()
            if p.name not in ("self", "name")
            and p.kind not in (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL)
        ]
        ops[function] = {
            "module": classes[match[0]],
            "class": match[0],
            "doc": first_sentence(inspect.getdoc(fn)),
            "args": args,
        }
    return ops


def build_catalog() -> dict[str, Any]:
    """The whole catalog as a JSON-ready dict (imports Keras)."""
    import keras

    categories: dict[str, Any] = {}
    excluded_all: dict[str, dict[str, str]] = {}
    compile_aliases = discover_compile_aliases()
    for category in CATEGORIES:
        namespace = importlib.import_module(_MODULES[category])
        classes, aliases, excluded = _public_classes(category)
        records = {name: class_record(cls) for name, cls in sorted(classes.items())}
        # Other names Keras exports a class under (`Convolution2D`, `he_normal`, `l1_l2`).
        class_aliases = dict(aliases)
        if category in _GETTERS:
            # Only what get() really resolves: `keras.regularizers.l1_l2` is exported, but
            # get("l1_l2") fails; so does get("constant") (Constant.from_config needs a value).
            aliases = discover_get_aliases(category, classes)
        specials = compile_aliases.get(category, {})
        for name in specials:
            aliases[name] = next(iter(specials))
        functions = {
            target: first_sentence(inspect.getdoc(getattr(namespace, target)))
            for target in sorted(set(aliases.values()))
            if target not in records and inspect.isfunction(getattr(namespace, target, None))
        }
        body: dict[str, Any] = {
            "classes": records,
            "aliases": aliases,
            "class_aliases": class_aliases,
            "functions": functions,
        }
        if specials:
            body["compile_aliases"] = specials
        categories[category] = body
        excluded_all[category] = excluded
    return {
        "keras_version": keras.__version__,
        "layer_base_args": layer_base_args(),
        "categories": categories,
        "excluded": excluded_all,
        "ops": discover_ops(),
    }


def render(catalog: dict[str, Any]) -> str:
    """Deterministic text of the catalog: sorted keys, indent 1, trailing newline."""
    return json.dumps(catalog, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def summarize_diff(old: dict[str, Any], new: dict[str, Any], limit: int = 20) -> list[str]:
    """Short, human-readable differences between two catalogs."""
    lines: list[str] = []
    if old.get("keras_version") != new.get("keras_version"):
        lines.append(f"keras_version: {old.get('keras_version')} -> {new.get('keras_version')}")
    if old.get("layer_base_args") != new.get("layer_base_args"):
        lines.append("layer_base_args changed")
    old_cats, new_cats = old.get("categories", {}), new.get("categories", {})
    for category in sorted(set(old_cats) | set(new_cats)):
        a, b = old_cats.get(category, {}), new_cats.get(category, {})
        for section in sorted(set(a) | set(b)):
            sa, sb = a.get(section, {}), b.get(section, {})
            for name in sorted(set(sa) - set(sb)):
                lines.append(f"{category}.{section}: removed {name}")
            for name in sorted(set(sb) - set(sa)):
                lines.append(f"{category}.{section}: added {name}")
            for name in sorted(set(sa) & set(sb)):
                if sa[name] != sb[name]:
                    lines.append(f"{category}.{section}: changed {name}")
    if old.get("excluded") != new.get("excluded"):
        lines.append("excluded changed")
    if len(lines) > limit:
        lines = [*lines[:limit], f"... and {len(lines) - limit} more"]
    return lines


def main(argv: list[str] | None = None) -> int:
    """Command line: rewrite the catalog, or `--check` it against the installed Keras."""
    parser = argparse.ArgumentParser(prog="python -m speck.catalog.introspect", description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if the catalog is stale")
    parser.add_argument("--output", type=Path, default=CATALOG_PATH, help="catalog file")
    options = parser.parse_args(argv)
    text = render(build_catalog())
    path: Path = options.output
    if options.check:
        current = path.read_text(encoding="utf-8") if path.exists() else "{}"
        if current == text:
            print(f"{path.name} is up to date")
            return 0
        print(f"{path.name} is stale; run `python -m speck.catalog.introspect` to rewrite it:")
        for line in summarize_diff(json.loads(current), json.loads(text)) or ["formatting"]:
            print(f"  {line}")
        return 1
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    print(f"wrote {path.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The catalog of what Keras can be asked for, read from the committed `catalog.json`.

`speck.catalog.introspect` writes `catalog.json` from the installed Keras; this module reads it
without importing TensorFlow or Keras, and adds the hand-written closed sets and ranges of
`speck.catalog.rules`. Other stages code against this API:

    cat = load_catalog()
    cat.get("layers", "Conv2D").args["padding"].choices   # ('valid', 'same')
    cat.aliases("optimizers")["adam"]                      # 'Adam'
    suggest("Conv2d", cat.names("layers"))                 # 'Conv2D'

Aliases, per category, are the plain strings Keras resolves: for optimizers, losses, metrics,
activations, initializers, regularizers and constraints every string `keras.<category>.get()`
accepts (class names included; `"acc"`/`"accuracy"` and `"ce"`/`"crossentropy"` are the strings
`Model.compile()` resolves by shape, see `compile_aliases`); for layers, schedules and callbacks,
which have no `get()`, the other names Keras exports a class under (`Convolution2D` ->
`Conv2D`). An alias maps to a class name or, for losses and activations, to a function name
(`"mse"` -> `"mean_squared_error"`). `class_aliases` are the other exported names of classes in
every category; some are not strings `get()` accepts (`keras.regularizers.l1_l2` exists, but
`get("l1_l2")` fails: Keras resolves `"l1l2"`).
"""

from __future__ import annotations

import difflib
import functools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from speck.catalog.rules import Rule, rules_for

KERAS_NAMESPACES: dict[str, str] = {
    "layers": "keras.layers",
    "optimizers": "keras.optimizers",
    "schedules": "keras.optimizers.schedules",
    "losses": "keras.losses",
    "metrics": "keras.metrics",
    "activations": "keras.activations",
    "initializers": "keras.initializers",
    "regularizers": "keras.regularizers",
    "constraints": "keras.constraints",
    "callbacks": "keras.callbacks",
}
"""Where Keras exports each catalog category: introspected there, built and emitted from there."""


@dataclass(frozen=True)
class Arg:
    """One constructor argument of a Keras class."""

    name: str
    required: bool
    default: Any  # JSON value (tuples as lists)
    kind: str  # int|float|bool|str|tuple|none|object|any
    doc: str = ""
    choices: tuple[str, ...] | None = None  # from catalog_rules
    minimum: float | None = None  # from catalog_rules
    maximum: float | None = None
    exclusive_minimum: bool = False
    exclusive_maximum: bool = False
    nullable: bool = False  # None is accepted (the default is None, or a rule says so)
    note: str = ""  # from catalog_rules: what Keras does outside the rule, and why


@dataclass(frozen=True)
class Entry:
    """One Keras class a spec may name."""

    name: str  # Keras class name, e.g. "Conv2D"
    category: str  # "layers", "optimizers", ...
    args: dict[str, Arg]  # signature order; for layers with **kwargs, base layer args after
    var_kwargs: bool
    doc: str


def _arg(raw: Mapping[str, Any], rule: Rule | None) -> Arg:
    default = raw.get("default")
    nullable = (
        (not raw["required"] and default is None)
        or bool(raw.get("nullable"))
        or bool(rule and rule.nullable)
    )
    if rule is None:
        return Arg(
            name=raw["name"],
            required=raw["required"],
            default=default,
            kind=raw["kind"],
            doc=raw.get("doc", ""),
            nullable=nullable,
        )
    return Arg(
        name=raw["name"],
        required=raw["required"],
        default=default,
        kind=raw["kind"],
        doc=raw.get("doc", ""),
        choices=rule.choices,
        minimum=rule.minimum,
        maximum=rule.maximum,
        exclusive_minimum=rule.exclusive_minimum,
        exclusive_maximum=rule.exclusive_maximum,
        nullable=nullable,
        note=rule.note,
    )


class Catalog:
    """Read-only view of `catalog.json`; entries are built on first use."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self._data = data
        self._categories: Mapping[str, Any] = data["categories"]
        self._excluded: Mapping[str, Mapping[str, str]] = data.get("excluded", {})
        self._entries: dict[tuple[str, str], Entry | None] = {}
        self.keras_version: str = data["keras_version"]

    def categories(self) -> tuple[str, ...]:
        """Category names, sorted."""
        return tuple(sorted(self._categories))

    def names(self, category: str) -> tuple[str, ...]:
        """Class names of a category, sorted (empty for an unknown category)."""
        return tuple(sorted(self._section(category, "classes")))

    def get(self, category: str, name: str) -> Entry | None:
        """The entry of a class, by class name or by an alias of one; None if unknown."""
        key = (category, name)
        if key not in self._entries:
            self._entries[key] = self._build(category, name)
        return self._entries[key]

    def resolve(self, category: str, name: str) -> str | None:
        """The canonical class or function name of a class name or alias, or None."""
        if name in self._section(category, "classes"):
            return name
        found = self._section(category, "class_aliases").get(name)
        return found if found is not None else self._section(category, "aliases").get(name)

    def aliases(self, category: str) -> dict[str, str]:
        """String alias -> canonical class or function name."""
        return dict(self._section(category, "aliases"))

    def class_aliases(self, category: str) -> dict[str, str]:
        """Other names Keras exports a class under -> the class name (`Convolution2D`)."""
        return dict(self._section(category, "class_aliases"))

    def is_alias(self, category: str, name: str) -> bool:
        """Whether `name` is a string Keras resolves in this category."""
        return name in self._section(category, "aliases")

    def compile_aliases(self, category: str) -> dict[str, tuple[str, ...]]:
        """Strings compile() resolves by shapes -> the classes or functions it may choose."""
        return {k: tuple(v) for k, v in self._section(category, "compile_aliases").items()}

    def functions(self, category: str) -> dict[str, str]:
        """Functions that aliases name (losses, activations) -> one-line doc."""
        return dict(self._section(category, "functions"))

    def excluded(self, category: str) -> dict[str, str]:
        """Names Keras exports that a spec may not use -> the reason."""
        return dict(self._excluded.get(category, {}))

    def op(self, name: str) -> Entry | None:
        """The `keras.ops` function `name` as an operation node takes it (`add`, `mean`)."""
        raw = self._data.get("ops", {}).get(name)
        if raw is None:
            return None
        args = {a["name"]: _arg(a, None) for a in raw["args"]}
        return Entry(name=name, category="ops", args=args, var_kwargs=False, doc=raw["doc"])

    def op_names(self) -> tuple[str, ...]:
        return tuple(sorted(self._data.get("ops", {})))

    def op_class(self, name: str) -> tuple[str, str] | None:
        """(module, class) of the operation a `keras.ops` function makes."""
        raw = self._data.get("ops", {}).get(name)
        return None if raw is None else (raw["module"], raw["class"])

    def op_for_class(self, module: str, cls: str) -> str | None:
        """The `keras.ops` function whose operation is `module.cls`, as a saved config names it."""
        for name, raw in self._data.get("ops", {}).items():
            if raw["module"] == module and raw["class"] == cls:
                return name
        return None

    def layer_base_args(self) -> tuple[Arg, ...]:
        """Keyword arguments every layer accepts through the base `Layer`."""
        return tuple(_arg(raw, None) for raw in self._data.get("layer_base_args", ()))

    def _section(self, category: str, section: str) -> Mapping[str, Any]:
        return self._categories.get(category, {}).get(section, {})

    def _build(self, category: str, name: str) -> Entry | None:
        classes = self._section(category, "classes")
        canonical = self.resolve(category, name)
        if canonical is None or canonical not in classes:
            return None
        if canonical != name:
            return self.get(category, canonical)
        raw = classes[name]
        rules = rules_for(category, name)
        args = {a["name"]: _arg(a, rules.get(a["name"])) for a in raw["args"]}
        if category == "layers" and raw["var_kwargs"]:
            for base in self._data.get("layer_base_args", ()):
                if base["name"] not in args:
                    args[base["name"]] = _arg(base, rules.get(base["name"]))
        return Entry(
            name=name, category=category, args=args, var_kwargs=raw["var_kwargs"], doc=raw["doc"]
        )


@functools.cache
def load_catalog() -> Catalog:
    """The catalog shipped with speck (read once per process; imports no Keras)."""
    text = Path(__file__).with_name("catalog.json").read_text(encoding="utf-8")
    return Catalog(json.loads(text))


def suggest(word: str, candidates: Iterable[str]) -> str | None:
    """The best "did you mean" for `word`: a case-insensitive match, else the closest spelling."""
    by_lower: dict[str, str] = {}
    for candidate in candidates:
        by_lower.setdefault(candidate.lower(), candidate)
    lowered = word.lower()
    if lowered in by_lower:
        return by_lower[lowered]
    close = difflib.get_close_matches(lowered, list(by_lower), n=1, cutoff=0.6)
    return by_lower[close[0]] if close else None

"""Stage 2, validate: a loaded mapping -> a typed `Spec`, every problem with its position.

Three passes over the same raw mapping, all reported together: legacy spellings are translated
(warnings), pydantic types the outline (errors mapped from pydantic's `loc` back to the line
and column of the key), and every Keras name and argument is checked against the catalog
(unknown names get a "did you mean"). No TensorFlow is imported.
"""

from __future__ import annotations

import keyword
import math
import re
import types
import typing
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from speck.catalog.lookup import Arg, Catalog, Entry, load_catalog, suggest
from speck.diagnostics import Diagnostic, SpecError, SpecPath, did_you_mean, has_errors
from speck.front import legacy
from speck.front.format import Spec
from speck.front.format.model import INT64_MAX, LAYER_ENTRY_KEYS, LIMIT_REASONS
from speck.front.load import LoadedSpec, SourceMap
from speck.ir.graph import OP_PREFIX, OUTPUT_PATH_ARGS

OBJECT_ARG_CATEGORIES = {
    "_initializer": "initializers",
    "_regularizer": "regularizers",
    "_constraint": "constraints",
}
ACTIVATION_ARGS = ("activation", "recurrent_activation")
ACTIVATION_LAYERS = ("ELU", "LeakyReLU", "PReLU", "ReLU", "Softmax")
"""The layers of `keras.layers`' activations that a layer takes as its activation, as Keras
does (`Dense(2, activation=LeakyReLU(negative_slope=0.1))`): a callable on one tensor."""


def object_category(arg_name: str) -> str | None:
    """The catalog category a layer argument names an object of, by Keras' naming:
    `kernel_initializer` -> initializers, `activity_regularizer` -> regularizers, ..."""
    return next((c for s, c in OBJECT_ARG_CATEGORIES.items() if arg_name.endswith(s)), None)


MAX_PATH_BYTES = 4096
"""PATH_MAX on Linux; a longer path cannot be opened."""
MAX_NAME_BYTES = 255
"""NAME_MAX of common file systems (ext4, APFS, NTFS): the longest one file or folder name."""

WRAPPED_LAYER_ARGS = ("layer", "backward_layer")
SPECK_CALLBACK_ARGS = {"ModelCheckpoint": {legacy.CHECKPOINT_EVERY: "int"}}
"""Arguments speck adds to Keras callbacks (and translates for Keras)."""


_SINGULAR = {
    "layers": "layer",
    "optimizers": "optimizer",
    "schedules": "learning-rate schedule",
    "losses": "loss",
    "metrics": "metric",
    "activations": "activation",
    "initializers": "initializer",
    "regularizers": "regularizer",
    "constraints": "constraint",
    "callbacks": "callback",
}


@dataclass
class ValidatedSpec:
    loaded: LoadedSpec
    spec: Spec
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def source(self) -> SourceMap:
        return self.loaded.source


def validate(loaded: LoadedSpec) -> ValidatedSpec:
    """Type and check a loaded spec; raises `SpecError` carrying every problem found."""
    source = loaded.source
    data = loaded.data
    if not isinstance(data, dict):
        kind = type(data).__name__
        raise SpecError(
            [
                Diagnostic(
                    f"a spec is a mapping of sections (speck, name, model, ...); received a {kind}",
                    (),
                    source.locate(()),
                    suggestion="start from an example in specs/",
                )
            ]
        )
    catalog = load_catalog()
    diagnostics = legacy.translate(data, source, catalog)
    spec: Spec | None = None
    try:
        spec = Spec.model_validate(data)
    except ValidationError as exc:
        diagnostics += pydantic_diagnostics(exc, data, source, Spec)
    keras = CatalogChecker(catalog, source).check(data)
    # Where both speak of one value, the catalog knows the Keras words for it.
    checked = {d.path for d in keras}
    diagnostics = [d for d in diagnostics if d.severity != "error" or d.path not in checked]
    diagnostics += keras
    if has_errors(diagnostics) or spec is None:
        raise SpecError(sorted_diagnostics(diagnostics))
    diagnostics += precision_warnings(spec, source)
    return ValidatedSpec(loaded, spec, sorted_diagnostics(diagnostics))


def precision_warnings(spec: Spec, source: SourceMap) -> list[Diagnostic]:
    """A warning when no device on this machine runs the spec's mixed precision well."""
    from speck.devices import mixed_precision_problem

    problem = mixed_precision_problem(spec.precision)
    if problem is None:
        return []
    hint = "use precision: float32 here, or mixed_bfloat16 on a CPU that has AVX512-BF16 or AMX"
    return [Diagnostic(problem, ("precision",), source.locate(("precision",)), "warning", hint)]


def sorted_diagnostics(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    def key(d: Diagnostic) -> tuple[int, int]:
        return (d.location.line, d.location.column) if d.location else (0, 0)

    unique: dict[tuple[Any, ...], Diagnostic] = {}
    for d in diagnostics:
        unique.setdefault((d.location, d.path, d.message), d)
    return sorted(unique.values(), key=key)


# --- pydantic errors -> positioned diagnostics ------------------------------------------------


def raw_path(loc: tuple[int | str, ...], data: Any) -> SpecPath:
    """Follow pydantic's `loc` through the raw data, dropping union tags and model artifacts."""
    path: list[str | int] = []
    node = data
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        after = None if last else loc[i + 1]
        tag_and_key = isinstance(node, dict) and part in node and after in node
        if tag_and_key and after != part and not isinstance(node[part], dict | list):
            continue  # a union tag that is also a key: the source {csv: ...} is tagged csv
        if (isinstance(node, dict) and part in node) or (
            isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        ):
            path.append(part)
            node = node[part]
        elif isinstance(node, dict) and part == "args" and len(path) >= 2:
            kind = [k for k in node if k not in LAYER_ENTRY_KEYS]
            if len(kind) == 1:
                path.append(kind[0])
                node = node[kind[0]]
        elif isinstance(node, dict) and part == "from_" and "from" in node:
            path.append("from")
            node = node["from"]
        elif last and isinstance(node, dict) and isinstance(part, str) and not _is_tag(part):
            path.append(part)  # a missing key: point at it under its parent
            node = None
    return tuple(path)


def _is_tag(part: str) -> bool:
    return part in {"sequential", "functional", "str", "dict[str,nullable[dict[str,any]]]"} or (
        "[" in part or part.startswith("function-") or part.endswith("]")
    )


def _model_classes(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models an annotation can hold (through Annotated, unions, lists, dicts)."""
    origin = typing.get_origin(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _model_classes(args[0])
    if origin in (typing.Union, types.UnionType):
        return [m for a in args for m in _model_classes(a)]
    if origin in (list, dict):
        return _model_classes(args[-1]) if args else []
    return []


def allowed_keys(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    """The keys the model accepts at the mapping `loc` points into."""
    current = [model]
    for part in loc:
        if isinstance(part, int):
            continue
        nxt: list[type[BaseModel]] = []
        for cls in current:
            for name, info in cls.model_fields.items():
                if part in (name, info.alias):
                    nxt += _model_classes(info.annotation)
        is_field = any(part in (n, i.alias) for c in current for n, i in c.model_fields.items())
        if not nxt and (part in {"sequential", "functional"} or not is_field):
            continue  # a union tag or a dict key: stay at the same models
        current = nxt or current
    return sorted(
        {info.alias or name for cls in current for name, info in cls.model_fields.items()}
    )


_TYPE_WORDS = {
    "string_type": "a string",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "list_type": "a list",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
}
"""pydantic's type errors, in words; a union's members each report one, merged into one line."""


def pydantic_diagnostics(
    exc: ValidationError, data: Any, source: SourceMap, model: type[BaseModel]
) -> list[Diagnostic]:
    errors = exc.errors()
    paths = [raw_path(tuple(err["loc"]), data) for err in errors]
    by_path: dict[SpecPath, list[dict[str, Any]]] = {}
    for err, path in zip(errors, paths, strict=True):
        by_path.setdefault(path, []).append(dict(err))
    out = []
    done: set[SpecPath] = set()
    # A number that is not finite fits one member of a union (`float | str`, `dict | list`);
    # the other members' type errors at or above it say nothing more.
    not_finite = [p for e, p in zip(errors, paths, strict=True) if e["type"] == "finite_number"]
    for err, path in zip(errors, paths, strict=True):
        loc = tuple(err["loc"])
        kind = err["type"]
        if kind in _TYPE_WORDS and any(p[: len(path)] == path for p in not_finite):
            continue
        same = by_path[path]
        if len(same) > 1 and all(e["type"] in _TYPE_WORDS for e in same):
            if path in done:
                continue  # one line for every member of a union
            done.add(path)
            words = list(dict.fromkeys(_TYPE_WORDS[e["type"]] for e in same))
            message = f"expected {' or '.join(words)}. Received: {_short(err['input'])}"
            out.append(Diagnostic(message, path, source.locate(path, prefer="value")))
            continue
        message = str(err["msg"]).removeprefix("Value error, ")
        message = re.sub(r" or instance of \w+", "", message)
        if kind == "model_type" and err.get("ctx", {}).get("class_name") == "LayerSpec":
            message = "expected a layer, e.g. `- Dense: {units: 10}`"
        hint = None
        at = "value"
        if kind == "extra_forbidden":
            key = path[-1] if path else loc[-1]
            allowed = allowed_keys(model, loc[:-1])
            message = f"unknown key {key!r}"
            if "args" in allowed and "kind" in allowed:
                allowed = list(LAYER_ENTRY_KEYS)
            hint = did_you_mean(suggest(str(key), allowed)) or (
                f"allowed here: {', '.join(allowed)}" if allowed else None
            )
            at = "key"
        elif kind == "missing":
            if _misspelled(path, data, model, loc):
                continue  # the unknown key beside it says so, with "did you mean"
            message = f"missing required key {path[-1]!r}" if path else "missing required key"
            if path == ("speck",):
                hint = "add `speck: 1` as the first line"
            location = source.locate(path[:-1], prefer="key")
            out.append(Diagnostic(message, path, location, suggestion=hint))
            continue
        elif kind == "literal_error" and path == ("speck",):
            message = f"unsupported format version {err['input']!r}; this speck reads version 1"
        elif kind == "literal_error":
            expected = re.findall(r"'([^']*)'", str(err.get("ctx", {}).get("expected", "")))
            if isinstance(err["input"], str):
                hint = did_you_mean(suggest(err["input"], expected))
            message = f"{message}. Received: {_short(err['input'])}"
        elif kind in ("less_than_equal", "greater_than_equal") and _limit(err) is not None:
            limit = _limit(err)
            reason = LIMIT_REASONS[-limit - 1 if limit < 0 else limit]
            message = f"{message} ({reason}). Received: {_short(err['input'])}"
            hint = f"write at {'most' if kind == 'less_than_equal' else 'least'} {limit:,}"
        elif kind == "finite_number":
            message = f"{message}. Received: {_short(err['input'])}"
            hint = "write a finite number; Keras would compute NaN with it"
        elif "input" in err and kind not in ("value_error", "assertion_error"):
            message = f"{message}. Received: {_short(err['input'])}"
        if loc and loc[-1] == "[key]":
            at = "key"  # a mapping key itself is wrong (a bad node name)
        out.append(Diagnostic(message, path, source.locate(path, prefer=at), suggestion=hint))
    return out


def _limit(err: Any) -> int | None:
    """The bound an error names, where it is one of TensorFlow's (`LIMIT_REASONS`)."""
    ctx = err.get("ctx") or {}
    limit = ctx.get("le", ctx.get("ge"))
    if not isinstance(limit, int) or (-limit - 1 if limit < 0 else limit) not in LIMIT_REASONS:
        return None
    return limit


def _misspelled(
    path: SpecPath, data: Any, model: type[BaseModel], loc: tuple[int | str, ...]
) -> bool:
    """Whether a missing key is given beside it under a near spelling (`sorce` for `source`)."""
    if not path:
        return False
    parent: Any = data
    for part in path[:-1]:
        try:
            parent = parent[part]
        except (KeyError, IndexError, TypeError):
            return False
    if not isinstance(parent, dict):
        return False
    allowed = allowed_keys(model, loc[:-1])
    unknown = [str(k) for k in parent if k not in allowed]
    return suggest(str(path[-1]), unknown) is not None


def suggest_like(word: str, candidates: Iterable[str]) -> str | None:
    """`suggest`, preferring candidates written in the same case as `word` (`acuracy` ->
    `accuracy`, not the class `Accuracy`)."""
    ordered = sorted(candidates, key=lambda c: c.islower() != word.islower())
    return suggest(word, ordered)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# --- catalog checks: Keras names and arguments ---------------------------------------------


class CatalogChecker:
    """Checks every Keras name and argument in the raw mapping against the catalog."""

    def __init__(self, catalog: Catalog, source: SourceMap) -> None:
        self.catalog = catalog
        self.source = source
        self.out: list[Diagnostic] = []
        self.custom: set[str] = set()
        self.models: set[str] = set()

    def error(self, path: SpecPath, message: str, hint: str | None = None, at: str = "key") -> None:
        self.out.append(Diagnostic(message, path, self.source.locate(path, at), suggestion=hint))

    def check(self, data: dict[str, Any]) -> list[Diagnostic]:
        custom = data.get("custom_layers")
        if isinstance(custom, dict):
            self.custom_layers(custom)
        models = data.get("models")
        if isinstance(models, dict):
            self.model_names(models)
            for name, sub in models.items():
                self.model_layers(sub, ("models", name))
        model = data.get("model")
        self.model_layers(model, ("model",))
        compile_ = data.get("compile")
        if isinstance(compile_, dict):
            self.compile_section(compile_, model)
        callbacks = data.get("callbacks")
        if isinstance(callbacks, list):
            for i, cb in enumerate(callbacks):
                self.obj("callbacks", cb, ("callbacks", i))
        return self.out

    def custom_layers(self, custom: dict[Any, Any]) -> None:
        """Names of the spec's own layer classes: never a Keras layer's name (nothing is
        imported here; the import paths' form is checked by the spec model)."""
        keras_names = {
            *self.catalog.names("layers"),
            *self.catalog.excluded("layers"),
            *legacy.LAYER_RENAMES,
        }
        for name in custom:
            if name in keras_names:
                self.error(
                    ("custom_layers", name),
                    f"{name!r} is a Keras layer; a custom layer needs a type name of its own",
                    f"rename it, e.g. 'My{name}'",
                )
            elif isinstance(name, str):
                self.custom.add(name)

    def model_names(self, models: dict[Any, Any]) -> None:
        """Names of the spec's sub-models are layer types: never a Keras or custom layer's."""
        keras_names = {*self.catalog.names("layers"), *self.catalog.excluded("layers")}
        for name in models:
            if name in keras_names or name in self.custom:
                what = "a Keras layer" if name in keras_names else "a custom layer"
                self.error(
                    ("models", name),
                    f"{name!r} is {what}; a model used as a layer needs a name of its own",
                    f"rename it, e.g. '{str(name).lower()}_block'",
                )
            elif isinstance(name, str):
                self.models.add(name)

    def model_layers(self, model: Any, path: SpecPath) -> None:
        if isinstance(model, dict) and isinstance(model.get("layers"), list):
            for i, entry in enumerate(model["layers"]):
                self.layer_entry(entry, (*path, "layers", i))

    def custom_arguments(self, kind: str, args: dict[str, Any], path: SpecPath) -> None:
        """A custom layer's arguments cannot be checked against the catalog: any names that
        are Python identifiers, with plain values."""
        for key, value in args.items():
            apath = (*path, key)
            if not (isinstance(key, str) and key.isascii() and key.isidentifier()) or (
                keyword.iskeyword(key)
            ):
                self.error(apath, f"{kind} arguments are Python names; received {key!r}")
            elif key == "name":
                self.error(apath, "the layer's name is the entry's `name:` key", "move it there")
            elif not _is_plain(value):
                self.error(
                    apath,
                    "a custom layer's arguments are plain values (numbers, strings, true/false, "
                    f"null, and lists or mappings of them). Received: {_short(value)}",
                    at="value",
                )

    def layer_entry(self, entry: Any, path: SpecPath) -> None:
        if isinstance(entry, str):
            if entry in self.custom or entry in self.models:
                return
            self.layer(entry, {}, path, path)
        elif isinstance(entry, dict):
            kinds = [k for k in entry if k not in LAYER_ENTRY_KEYS]
            if len(kinds) == 1:
                args = entry[kinds[0]]
                if args is None or isinstance(args, dict):
                    if "shares" in entry and args:
                        self.error(
                            (*path, kinds[0]),
                            "a shared layer reuses the arguments of the layer it shares",
                            "remove the arguments, or drop `shares` for a new layer",
                        )
                        return
                    if kinds[0] in self.custom:
                        self.custom_arguments(kinds[0], args or {}, (*path, kinds[0]))
                        return
                    if kinds[0] in self.models:
                        if args:
                            self.error(
                                (*path, kinds[0]),
                                f"{kinds[0]} is a model of this spec; it takes no arguments",
                                "write `{}`, and change the model itself under `models:`",
                            )
                        return
                    self.layer(str(kinds[0]), args or {}, (*path, kinds[0]), path)

    def layer(self, kind: str, args: dict[str, Any], path: SpecPath, entry_path: SpecPath) -> None:
        if kind.startswith(OP_PREFIX):
            op = self.catalog.op(kind.removeprefix(OP_PREFIX))
            if op is None:
                names = [f"{OP_PREFIX}{n}" for n in self.catalog.op_names()]
                hint = did_you_mean(suggest(kind, names)) or "see `keras.ops` for the operations"
                self.error(path, f"unknown operation {kind!r}", hint)
            else:
                self.arguments(op, args, path)
            return
        entry = self.known("layers", kind, path)
        if entry is not None:
            self.arguments(entry, args, path)

    def known(self, category: str, name: str, path: SpecPath) -> Entry | None:
        entry = self.catalog.get(category, name)
        if entry is not None:
            return entry
        what = _SINGULAR.get(category, category)
        excluded = self.catalog.excluded(category)
        if name in excluded:
            self.error(path, f"{name} is not allowed in a spec: {excluded[name]}")
            return None
        candidates = [*self.catalog.names(category), *self.catalog.aliases(category)]
        hint = did_you_mean(suggest_like(name, candidates))
        self.error(
            path, f"unknown {what} {name!r}", hint or f"see `speck schema` for the {category}"
        )
        return None

    def arguments(self, entry: Entry, args: dict[str, Any], path: SpecPath) -> None:
        extra = SPECK_CALLBACK_ARGS.get(entry.name, {}) if entry.category == "callbacks" else {}
        for key, value in args.items():
            apath = (*path, key)
            if key in extra:
                if not _is_int(value) or not 1 <= value <= INT64_MAX:
                    problem = (
                        "a positive integer"
                        if not _is_int(value) or value < 1
                        else ("at most 2**63 - 1, the largest integer TensorFlow holds")
                    )
                    self.error(
                        apath,
                        f"must be {problem}. Received: {_short(value)}",
                        f"write a number from 1 to {INT64_MAX:,}" if _is_int(value) else None,
                        at="value",
                    )
                continue
            arg = entry.args.get(key)
            if arg is None:
                hint = did_you_mean(suggest(str(key), [*entry.args, *extra]))
                self.error(apath, f"{entry.name} has no argument {key!r}", hint)
                continue
            self.value(entry, arg, value, apath)
        unknown = [str(k) for k in args if k not in entry.args and k not in extra]
        for arg in entry.args.values():
            if arg.required and arg.name not in args and not suggest(arg.name, unknown):
                # (a misspelt `kernel_sizes` beside it is reported, with "did you mean")
                self.error(path, f"{entry.name} needs the argument {arg.name!r}")

    def value(self, entry: Entry, arg: Arg, value: Any, path: SpecPath) -> None:
        name = arg.name
        category = object_category(name)
        if category and value is not None:
            self.obj(category, value, path)
            return
        if name in ACTIVATION_ARGS and value is not None:
            self.activation(value, path)
            return
        if entry.category == "layers" and name in WRAPPED_LAYER_ARGS and value is not None:
            if isinstance(value, dict) and len(value) == 1:
                ((kind, inner),) = value.items()
                if inner is None or isinstance(inner, dict):
                    self.layer(str(kind), inner or {}, (*path, kind), path)
                    return
            self.error(path, f"expected a layer as {{Type: {{arguments}}}}. Received: {value!r}")
            return
        if name == "learning_rate" and isinstance(value, dict):
            self.obj("schedules", value, path)
            return
        if entry.category == "callbacks" and OUTPUT_PATH_ARGS.get(entry.name) == name:
            problem = check_output_path(name, value, arg.default)
        else:
            problem = check_extremes(name, value) or check_value(arg, value)
        if problem:
            message, hint = problem
            self.error(path, message, hint, at="value")

    def activation(self, value: Any, path: SpecPath) -> None:
        if isinstance(value, dict) and len(value) == 1:
            ((kind, args),) = value.items()
            if kind in ACTIVATION_LAYERS and (args is None or isinstance(args, dict)):
                self.layer(str(kind), args or {}, (*path, kind), path)
                return
        if not isinstance(value, str):
            layers = ", ".join(ACTIVATION_LAYERS)
            self.error(
                path,
                "an activation is a name like 'relu', or an activation layer "
                f"({layers}) as {{LeakyReLU: {{negative_slope: 0.1}}}}. Received: {value!r}",
                at="value",
            )
            return
        if not self.catalog.is_alias("activations", value):
            hint = did_you_mean(suggest_like(value, self.catalog.aliases("activations")))
            self.error(path, f"unknown activation {value!r}", hint, at="value")

    def obj(self, category: str, value: Any, path: SpecPath) -> None:
        """A Keras object given as a name or as {ClassName: {arguments}}."""
        what = _SINGULAR.get(category, category)
        if isinstance(value, str):
            if self.catalog.is_alias(category, value) or self.catalog.get(category, value):
                return
            candidates = [*self.catalog.aliases(category), *self.catalog.names(category)]
            hint = did_you_mean(suggest_like(value, candidates))
            self.error(path, f"unknown {what} {value!r}", hint, at="value")
            return
        if isinstance(value, dict) and len(value) == 1:
            ((name, args),) = value.items()
            if args is None or isinstance(args, dict):
                entry = self.known(category, str(name), (*path, name))
                if entry is not None:
                    self.arguments(entry, args or {}, (*path, name))
                return
        self.error(
            path,
            f"expected a {what} name or {{ClassName: {{arguments}}}}. Received: {_short(value)}",
            at="value",
        )

    def compile_section(self, compile_: dict[str, Any], model: Any) -> None:
        if "optimizer" in compile_:
            self.obj("optimizers", compile_["optimizer"], ("compile", "optimizer"))
        outputs = _output_names(model)
        loss = compile_.get("loss")
        if loss == {}:
            self.error(
                ("compile", "loss"),
                "expected a loss, or a mapping of output name to loss. Received: {}",
                "e.g. `loss: mse`",
                at="value",
            )
        elif isinstance(loss, dict) and not self._is_object("losses", loss):
            for out, item in loss.items():
                self.output_key(out, outputs, ("compile", "loss", out))
                self.obj("losses", item, ("compile", "loss", out))
        elif loss is not None:
            self.obj("losses", loss, ("compile", "loss"))
        metrics = compile_.get("metrics")
        if isinstance(metrics, dict):
            for out, items in metrics.items():
                self.output_key(out, outputs, ("compile", "metrics", out))
                for i, item in enumerate(items if isinstance(items, list) else []):
                    self.obj("metrics", item, ("compile", "metrics", out, i))
        elif isinstance(metrics, list):
            for i, item in enumerate(metrics):
                self.obj("metrics", item, ("compile", "metrics", i))
        weights = compile_.get("loss_weights")
        if isinstance(weights, dict):
            for out in weights:
                self.output_key(out, outputs, ("compile", "loss_weights", out))

    def _is_object(self, category: str, value: dict[str, Any]) -> bool:
        if len(value) != 1:
            return False
        name = next(iter(value))
        return self.catalog.get(category, str(name)) is not None or (
            str(name)[:1].isupper() and isinstance(value[name], dict | None)
        )

    def output_key(self, name: Any, outputs: list[str] | None, path: SpecPath) -> None:
        if outputs is not None and name not in outputs:
            hint = did_you_mean(suggest(str(name), outputs)) or f"outputs are: {', '.join(outputs)}"
            self.error(path, f"{name!r} is not an output of the model", hint)


def _output_names(model: Any) -> list[str] | None:
    if not isinstance(model, dict):
        return None
    outputs = model.get("outputs")
    if isinstance(outputs, str):
        return [outputs]
    if isinstance(outputs, dict):
        return [str(k) for k in outputs]
    if isinstance(outputs, list):
        return [str(o).split("[")[0] for o in outputs]
    layers = model.get("layers")
    if isinstance(layers, list) and layers and isinstance(layers[-1], dict):
        name = layers[-1].get("name")
        return [name] if isinstance(name, str) else None
    return None


def _is_plain(value: Any) -> bool:
    """Data a spec may pass to a custom layer: what YAML and JSON hold, and nothing else."""
    if value is None or isinstance(value, bool | int | float | str):
        return True
    if isinstance(value, list):
        return all(_is_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_plain(v) for k, v in value.items())
    return False


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_value(arg: Arg, value: Any) -> tuple[str, str | None] | None:
    """Whether `value` suits the catalog argument; returns (message, hint) when it does not."""
    if value is None:
        if arg.kind == "none" or arg.default is None or arg.nullable:
            return None
        if not arg.required and arg.kind == "any":
            return None
        return (f"{arg.name} cannot be null", None)
    if arg.choices is not None and (isinstance(value, str) or arg.minimum is None):
        if value in arg.choices:
            return None
        hint = did_you_mean(suggest(str(value), arg.choices)) if isinstance(value, str) else None
        choices = ", ".join(repr(c) for c in arg.choices)
        return (f"must be one of {choices}. Received: {arg.name}={value!r}", hint)
    kind = arg.kind
    if arg.choices is not None and _is_number(value):
        return _check_number(arg, value)  # e.g. save_freq: "epoch" or a number of batches
    if kind in ("any", "none") and (arg.minimum is not None or arg.maximum is not None):
        return _check_number(arg, value)
    expected = {
        "int": _is_int,
        "float": _is_number,
        "bool": lambda v: isinstance(v, bool),
        "str": lambda v: isinstance(v, str),
        "tuple": lambda v: _is_int(v) or _is_number(v) or isinstance(v, list),
    }.get(kind)
    if expected is not None and not expected(value):
        if kind == "int" and isinstance(value, float) and value.is_integer():
            return (f"must be an integer. Received: {arg.name}={value!r}", f"write {int(value)}")
        word = {"int": "an integer", "float": "a number", "bool": "true or false"}.get(
            kind, "a string" if kind == "str" else "a number or a list"
        )
        if kind == "str" and arg.default is None:
            return None
        return (f"must be {word}. Received: {arg.name}={value!r}", None)
    if _is_number(value):
        return _check_range(arg, value)
    if isinstance(value, list) and (arg.minimum is not None):
        for item in value:
            if _is_number(item) and (problem := _check_range(arg, item)):
                return problem
    return None


_INTEGER_DOC = re.compile(r"^(positive )?int(eger)?\b", re.IGNORECASE)


def loose_number(arg: Arg) -> str | None:
    """The JSON type of an argument the catalog types loosely (`any`) but gives a range:
    `integer` where Keras' own docs say so (`units: Positive integer, ...`), else `number`."""
    if arg.kind not in ("any", "none") or (arg.minimum is None and arg.maximum is None):
        return None
    return "integer" if _INTEGER_DOC.match(arg.doc) else "number"


def _check_number(arg: Arg, value: Any) -> tuple[str, str | None] | None:
    """A number within the argument's range (an integer where `loose_number` says so)."""
    integer = loose_number(arg) == "integer" or (arg.kind == "int")
    if integer and isinstance(value, float) and value.is_integer():
        return (f"must be an integer. Received: {arg.name}={value!r}", f"write {int(value)}")
    if not (_is_int(value) if integer else _is_number(value)):
        word = "an integer" if integer else "a number"
        return (f"must be {word}. Received: {arg.name}={value!r}", None)
    return _check_range(arg, value)


def _check_range(arg: Arg, value: float) -> tuple[str, str | None] | None:
    low, high = arg.minimum, arg.maximum
    if low is not None and (value < low or (arg.exclusive_minimum and value == low)):
        op = ">" if arg.exclusive_minimum else ">="
        return (f"must be {op} {low:g}. Received: {arg.name}={value!r}", None)
    if high is not None and (value > high or (arg.exclusive_maximum and value == high)):
        op = "<" if arg.exclusive_maximum else "<="
        return (f"must be {op} {high:g}. Received: {arg.name}={value!r}", None)
    return None


def check_output_path(name: str, value: Any, default: Any) -> tuple[str, str | None] | None:
    """A path a callback writes to: a relative path that stays inside the run folder, where
    speck places it. Returns (message, hint) when it does not."""
    example = default if isinstance(default, str) and default else _PATH_EXAMPLES.get(name, "out")
    placed = "relative paths are placed in the run folder"
    if not isinstance(value, str):
        return (
            f"{name} is a path relative to the run folder. Received: {_short(value)}",
            f"write e.g. {example}; {placed}",
        )
    parts = re.split(r"[/\\]", value)
    kept = [p for p in parts if p not in ("", ".", "..")]
    relative = "/".join(kept) if kept and not value.startswith("~") else example
    hint = f"write {relative}; {placed}"
    problem = None
    if value == "":
        problem = "is empty"
    elif "\0" in value:
        problem = "holds a NUL character, which no file name may"
        hint = f"write {value.replace(chr(0), '')}; {placed}"
    elif value.startswith("~"):
        problem = "starts with ~, which is not your home folder here but a folder named '~'"
        relative = "/".join(kept[1:]) or example
        hint = f"write {relative}; {placed}"
    elif value.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:[/\\]", value):
        problem = "is an absolute path, outside the run folder"
        hint = f"write {kept[-1] if kept else example}; {placed}"
    elif ".." in parts:
        problem = "goes up out of the run folder with '..'"
    elif not kept:
        problem = "names the run folder itself, which speck manages"
        hint = f"write a folder or file inside it, e.g. {example}"
    elif len(value.encode("utf-8", "surrogatepass")) > MAX_PATH_BYTES:
        size = len(value.encode("utf-8", "surrogatepass"))
        problem = f"is {size:,} bytes long; a path may be at most {MAX_PATH_BYTES:,}"
        hint = "write a shorter path"
    else:
        long = next(
            (p for p in kept if len(p.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES), None
        )
        if long is not None:
            size = len(long.encode("utf-8", "surrogatepass"))
            problem = f"has a name of {size:,} bytes; a file name may be at most {MAX_NAME_BYTES}"
            hint = "write a shorter name"
    if problem is None:
        return None
    return (f"{name} {problem}. Received: {name}={_short(value)}", hint)


_PATH_EXAMPLES = {
    "backup_dir": "backup",
    "filename": "logs/train.csv",
    "filepath": "checkpoints/model.keras",
    "directory": "checkpoints",
    "log_dir": "logs",
}


INFINITY_ALLOWED = frozenset(
    {
        "baseline",  # EarlyStopping: no baseline to beat
        "initial_value_threshold",  # ModelCheckpoint: save the first model
        "max_value",  # MaxNorm, MinMaxNorm, ReLU: no ceiling
        "clipnorm",  # optimizers: no clipping
        "clipvalue",
        "global_clipnorm",
        "boundaries",  # PiecewiseConstantDecay, Discretization: open-ended bins
        "bin_boundaries",
    }
)
"""Float arguments where an infinite value means "no bound" rather than a broken number."""


def check_extremes(name: str, value: Any) -> tuple[str, str | None] | None:
    """Numbers no Keras argument can take: NaN, infinity (except where it means no bound, see
    `INFINITY_ALLOWED`) and integers beyond TensorFlow's int64, in a value or in any list or
    mapping inside it."""
    if isinstance(value, float):
        if math.isnan(value):
            return (
                f"{name} is NaN (not a number). Received: {name}={value!r}",
                "write a number; with NaN, Keras computes NaN",
            )
        if math.isinf(value) and name not in INFINITY_ALLOWED:
            return (
                f"{name} must be finite. Received: {name}={value!r}",
                "write a finite number; Keras would compute NaN or infinity with it",
            )
    elif isinstance(value, int) and not isinstance(value, bool):
        if not -INT64_MAX - 1 <= value <= INT64_MAX:
            return (
                f"{name} is beyond the 64-bit integers TensorFlow holds. Received: "
                f"{name}={_short(value)}",
                f"write a number from {-INT64_MAX - 1:,} to {INT64_MAX:,}",
            )
    elif isinstance(value, list | tuple):
        return next(filter(None, (check_extremes(name, v) for v in value)), None)
    elif isinstance(value, dict):
        return next(filter(None, (check_extremes(name, v) for v in value.values())), None)
    return None

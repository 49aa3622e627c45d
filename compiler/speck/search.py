"""Search spaces: `{tune: ...}` where a value would be, found and checked without TensorFlow.

Any scalar in a spec's `model`, `compile` or `fit` section may be a search space instead of a
value:

    units: {tune: {choice: [32, 64, 128]}}
    units: {tune: {int: [16, 256], step: 16}}          # sampling: linear (default) or log
    learning_rate: {tune: {float: [1.0e-4, 1.0e-2], sampling: log}}
    center: {tune: {boolean: true}}

`find_spaces` takes them out of the loaded mapping (with their positions) before validation.
A *candidate* is the mapping with every space replaced by one of its values; it goes through
the normal pipeline (validate -> resolve -> static checks), with the replaced value's source
position being that of the value in the space, so `units: {tune: {choice: [16, -4]}}` is an
error at the `-4`. `examine` checks the corners of the space: every combination of each
space's corner values (every choice, both ends of a range, both booleans) when there are at
most `MAX_CANDIDATES` of them, else the stated sample `corner_sample` makes. A problem found in
some candidates only (a Reshape that fits only some widths) names the first candidate it was
found in. `best_text` writes the spec's own text with each space replaced by a value, comments
kept. Nothing here imports TensorFlow.
"""

from __future__ import annotations

import copy
import itertools
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import yaml

from speck.diagnostics import Diagnostic, Location, SpecError, SpecPath, format_path, has_errors
from speck.front.load import LoadedSpec, SourceMap

TUNE = "tune"
SECTIONS = ("model", "compile", "fit")
"""The sections whose values may be search spaces."""
KINDS = ("choice", "int", "float", "boolean", "optional")
LAYERS = ("model", "layers")
SAMPLINGS = ("linear", "log", "reverse_log")
MAX_CANDIDATES = 64
"""At most this many corner combinations are all checked; more are sampled (`corner_sample`)."""
HINT = "write e.g. {tune: {choice: [32, 64]}}, {tune: {int: [16, 256], step: 16}}, "
HINT += "{tune: {float: [1.0e-4, 1.0e-2], sampling: log}} or {tune: {boolean: true}}"


@dataclass(frozen=True)
class Space:
    """One search space: where it stands (`path`), its kind and its values.

    `values` are a choice's values, a range's two ends, or `(False, True)`; `value_paths` are
    where each of them is written in the loaded mapping (both booleans at `boolean:`)."""

    path: SpecPath
    kind: str
    values: tuple[Any, ...]
    value_paths: tuple[SpecPath, ...]
    step: int | float | None = None
    sampling: str = "linear"

    @property
    def name(self) -> str:
        """The hyperparameter's name: the spec path, e.g. `model.layers[0].Dense.units`;
        an optional layer's is `model.layers[2].optional` (true: the layer is there)."""
        return format_path(self.path) + (".optional" if self.kind == "optional" else "")


@dataclass
class Search:
    """A loaded spec with search spaces: the mapping (spaces still in it) and the spaces."""

    loaded: LoadedSpec
    spaces: list[Space]
    notes: list[Diagnostic] = field(default_factory=list)
    """Warnings about the spaces (a range's high end that its steps do not reach)."""

    def candidate(self, values: Mapping[str, Any]) -> LoadedSpec:
        """The loaded spec with each space replaced by `values[space.name]` (a space not named
        takes its first value); the replaced value is placed where the space is written."""
        data = copy.deepcopy(self.loaded.data)
        source = self.loaded.source
        keys, locations = dict(source.keys), dict(source.values)
        removed: list[int] = []
        for space in self.spaces:
            value = values.get(space.name, space.values[0])
            if space.kind == "optional":  # the layer as written inside, or no layer
                if value:
                    inner = (*space.path, TUNE, "optional")
                    _set(data, space.path, _get(data, inner))
                    for table in (keys, locations):
                        for path, loc in list(table.items()):
                            if path[: len(inner)] == inner:
                                table[(*space.path, *path[len(inner) :])] = loc
                else:
                    removed.append(int(space.path[2]))
                continue
            _set(data, space.path, value)
            where = _value_location(space, value, source)
            keys[space.path] = locations[space.path] = where
        for index in sorted(removed, reverse=True):
            del data["model"]["layers"][index]
            keys, locations = _shifted(keys, index), _shifted(locations, index)
        return LoadedSpec(
            self.loaded.file, self.loaded.text, data, SourceMap(source.file, keys, locations)
        )


def _get(data: Any, path: SpecPath) -> Any:
    for part in path:
        data = data[part]
    return data


def _shifted(table: dict[SpecPath, Location], index: int) -> dict[SpecPath, Location]:
    """Positions after the layer at `index` was taken out: later layers move up by one."""
    out: dict[SpecPath, Location] = {}
    for path, loc in table.items():
        if path[:2] == LAYERS and len(path) > 2 and isinstance(path[2], int):
            if path[2] == index:
                continue
            if path[2] > index:
                path = (*LAYERS, path[2] - 1, *path[3:])
        out[path] = loc
    return out


@dataclass
class Examined:
    """What `examine` found: the diagnostics, how many candidates, and how they were chosen."""

    diagnostics: list[Diagnostic]
    candidates: int
    how: str
    first: Any = None
    """The first candidate's `ResolvedSpec` (for `--shapes`), None when it did not resolve."""
    shapes: Any = None

    def summary(self, spaces: int) -> str:
        word = "space" if spaces == 1 else "spaces"
        return f"{spaces} search {word}: {self.candidates} candidates checked ({self.how})"


def _set(data: Any, path: SpecPath, value: Any) -> None:
    node = data
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value


def _value_location(space: Space, value: Any, source: SourceMap) -> Location:
    index = _index_of(space, value)
    path = space.value_paths[index] if index is not None else space.path
    return source.locate(path, "value")


def _index_of(space: Space, value: Any) -> int | None:
    for i, v in enumerate(space.values):
        if type(v) is type(value) and v == value:
            return i
    return None


# --- finding the spaces ----------------------------------------------------------------------


def find_spaces(loaded: LoadedSpec) -> Search:
    """The search spaces of a loaded spec; raises `SpecError` for a space written wrong or
    standing where spaces may not be. A spec without spaces gives an empty list."""
    spaces: list[Space] = []
    problems: list[Diagnostic] = []
    notes: list[Diagnostic] = []
    data = loaded.data
    if isinstance(data, dict):
        for key, value in data.items():
            if key == TUNE:
                continue
            for path, node in _tune_nodes(value, (key,)):
                if key not in SECTIONS:
                    problems.append(
                        _diag(
                            loaded,
                            path,
                            f"a search space may stand only in {', '.join(SECTIONS)}",
                            "give this value plainly",
                        )
                    )
                    continue
                space = _space(loaded, path, node, problems, notes)
                if space is not None:
                    spaces.append(space)
    if problems:
        raise SpecError(problems)
    return Search(loaded, spaces, notes)


def _tune_nodes(value: Any, path: SpecPath) -> Iterator[tuple[SpecPath, dict[str, Any]]]:
    if isinstance(value, dict):
        if TUNE in value:
            yield path, value
            return
        for key, item in value.items():
            yield from _tune_nodes(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _tune_nodes(item, (*path, i))


def _diag(loaded: LoadedSpec, path: SpecPath, message: str, hint: str | None = HINT) -> Diagnostic:
    return Diagnostic(message, path, loaded.source.locate(path), suggestion=hint)


def _scalar(value: Any) -> bool:
    return isinstance(value, bool | int | float | str)


def _space(
    loaded: LoadedSpec,
    path: SpecPath,
    node: dict[str, Any],
    problems: list[Diagnostic],
    notes: list[Diagnostic],
) -> Space | None:
    """The space `{tune: {...}}` at `path`, or None after adding its problems."""
    before = len(problems)
    here = (*path, TUNE)

    def bad(where: SpecPath, message: str, hint: str | None = HINT) -> None:
        problems.append(_diag(loaded, where, message, hint))

    extra = [k for k in node if k != TUNE]
    if extra:
        bad((*path, extra[0]), "a search space is {tune: {...}} and nothing else beside it")
        return None
    body = node[TUNE]
    if not isinstance(body, dict):
        bad(here, f"tune: takes a mapping; received {body!r}")
        return None
    kinds = [k for k in KINDS if k in body]
    unknown = [k for k in body if k not in (*KINDS, "step", "sampling")]
    for key in unknown:
        bad(
            (*here, key),
            f"unknown key {key!r} in a search space (known: {', '.join(KINDS)}, step, sampling)",
        )
    if len(kinds) != 1:
        what = "none" if not kinds else ", ".join(kinds)
        bad(here, f"a search space names exactly one of {', '.join(KINDS)}; it names {what}")
        return None
    kind = kinds[0]
    raw = body[kind]
    step = body.get("step")
    sampling = body.get("sampling", "linear")
    if kind in ("choice", "boolean", "optional") and ("step" in body or "sampling" in body):
        key = "step" if "step" in body else "sampling"
        bad((*here, key), f"{key} belongs to int and float ranges, not to {kind}")
    if sampling not in SAMPLINGS:
        bad(
            (*here, "sampling"),
            f"sampling is one of {', '.join(SAMPLINGS)}; received {sampling!r}",
            None,
        )
    where = (*here, kind)
    if kind == "choice":
        if not isinstance(raw, list) or not raw:
            bad(where, "choice takes a list of values, e.g. [32, 64, 128]")
            return None
        for i, value in enumerate(raw):
            if not _scalar(value):
                bad(
                    (*where, i),
                    f"a choice is a number, string or boolean; received {value!r}",
                    None,
                )
        types = {_kind_of(v) for v in raw if _scalar(v)}
        if len(types) > 1:
            bad(
                where,
                "a choice's values are all of one type (all integers, all floats, all "
                "strings or all booleans)",
                "write 1.0 rather than 1 among floats",
            )
        seen: list[Any] = []
        for i, value in enumerate(raw):
            if value in seen and _scalar(value):
                bad((*where, i), f"{value!r} is in the choice twice", None)
            seen.append(value)
        if len(problems) > before:
            return None
        return Space(path, kind, tuple(raw), tuple((*where, i) for i in range(len(raw))))
    if kind == "optional":
        return _optional(loaded, path, raw, where, bad) if len(problems) == before else None
    if kind == "boolean":
        if raw is not True:
            bad(where, "write boolean: true (the value is chosen from false and true)", None)
            return None
        return Space(path, kind, (False, True), (where, where))
    # int or float: [low, high]
    number = int if kind == "int" else float
    if not (isinstance(raw, list) and len(raw) == 2):
        bad(where, f"{kind} takes [low, high]; received {raw!r}")
        return None
    ends: list[Any] = []
    ends_are = "integers" if kind == "int" else "finite numbers"
    for i, value in enumerate(raw):
        ok = isinstance(value, int) if kind == "int" else isinstance(value, int | float)
        finite = not isinstance(value, float) or math.isfinite(value)
        if isinstance(value, bool) or not ok or not finite:
            bad((*where, i), f"an {kind} range's ends are {ends_are}; received {value!r}", None)
        else:
            ends.append(number(value))
    if len(ends) == 2 and ends[0] >= ends[1]:
        bad(
            (*where, 1),
            f"the range's high end ({raw[1]!r}) must be above its low end ({raw[0]!r})",
            None,
        )
    if len(ends) == 2 and sampling in ("log", "reverse_log") and ends[0] <= 0:
        bad(
            (*where, 0), f"{sampling} sampling needs a range above 0; it starts at {raw[0]!r}", None
        )
    if step is not None:
        good = isinstance(step, int) if kind == "int" else isinstance(step, int | float)
        if isinstance(step, bool) or not good or step <= 0:
            bad(
                (*here, "step"),
                f"step is a positive {'integer' if kind == 'int' else 'number'}; received {step!r}",
                None,
            )
        elif sampling != "linear" and step <= 1:
            bad((*here, "step"), f"under {sampling} sampling a step multiplies; it must be above 1")
    if len(problems) > before:
        return None
    paths = ((*where, 0), (*where, 1))
    low, high = ends
    top = high if step is None else _top(low, high, step, sampling, kind)
    if top != high:
        message = f"the range's top value is {top!r}, not {high!r} (steps of {step!r} from {low!r})"
        hint = f"write {top!r} as the high end"
        notes.append(
            Diagnostic(message, (*where, 1), loaded.source.locate((*where, 1)), "warning", hint)
        )
    return Space(path, kind, (low, top), paths, step, sampling)


def _top(low: Any, high: Any, step: Any, sampling: str, kind: str) -> Any:
    """The highest value a range with a step reaches (KerasTuner's reading: added steps, or
    multiplied ones under log sampling)."""
    if sampling == "linear":
        steps = math.floor((high - low) / step + 1e-9)
        top = low + steps * step
    else:
        steps = math.floor(math.log(high / low) / math.log(step) + 1e-9)
        top = low * step**steps
    return round(top) if kind == "int" else round(float(top), 12)


def _optional(loaded: LoadedSpec, path: SpecPath, raw: Any, where: SpecPath, bad: Any) -> Any:
    """`- {tune: {optional: {Dropout: {rate: 0.2}}}}`: a layer of a Sequential model that a
    candidate has or has not."""
    model = loaded.data.get("model") if isinstance(loaded.data, dict) else None
    if len(path) != 3 or path[:2] != LAYERS or not isinstance(path[2], int):
        bad(where, "optional stands for a whole layer: - {tune: {optional: {Dropout: {...}}}}")
        return None
    if not isinstance(model, dict) or "inputs" in model:
        bad(where, "an optional layer needs a Sequential model (input + layers)", None)
        return None
    if not isinstance(raw, dict):
        bad(where, f"optional takes a layer, e.g. {{Dropout: {{rate: 0.2}}}}; received {raw!r}")
        return None
    for inner, _ in _tune_nodes(raw, where):
        bad(inner, "a search space inside an optional layer is not supported", None)
        return None
    return Space(path, "optional", (True, False), (where, where))


def _kind_of(value: Any) -> type:
    return type(value)


# --- the candidates --------------------------------------------------------------------------


def corner_sample(spaces: Sequence[Space]) -> tuple[list[dict[str, Any]], str]:
    """The candidates `examine` checks, and how they were chosen, in a fixed order.

    Every combination of the spaces' corner values when there are at most `MAX_CANDIDATES`;
    otherwise every space at its first value, every space at its last, and each corner value of
    each space with the others at their first (so every value a space can take is checked)."""
    names = [s.name for s in spaces]
    total = math.prod(len(s.values) for s in spaces)
    if total <= MAX_CANDIDATES:
        combos = [
            dict(zip(names, c, strict=True)) for c in itertools.product(*(s.values for s in spaces))
        ]
        return combos, "every combination of the corner values"
    first = {s.name: s.values[0] for s in spaces}
    chosen = [first, {s.name: s.values[-1] for s in spaces}]
    for s in spaces:
        for value in s.values[1:]:
            chosen.append({**first, s.name: value})
    unique: list[dict[str, Any]] = []
    for c in chosen:
        if c not in unique:
            unique.append(c)
    how = (
        f"a sample of the {total} corner combinations: all first values, all last values, "
        "and each value with the others at their first"
    )
    return unique, how


def describe(values: Mapping[str, Any]) -> str:
    return ", ".join(f"{name}={value!r}" for name, value in values.items())


def examine(search: Search) -> Examined:
    """Check the corners of the space through the normal pipeline; every problem once."""
    from speck.checks.training import check
    from speck.front.validate import sorted_diagnostics, validate
    from speck.ir.resolve import resolve

    candidates, how = corner_sample(search.spaces)
    found: dict[Diagnostic, dict[str, Any]] = {}
    counts: dict[Diagnostic, int] = {}
    own_places: dict[Diagnostic, bool] = {}
    first: Any = None
    shapes: Any = None
    for values in candidates:
        loaded = search.candidate(values)
        places = {loaded.source.values[s.path] for s in search.spaces if s.kind != "optional"}
        try:
            resolved = resolve(validate(loaded))
            shaped, problems = check(resolved)
            diagnostics = [*resolved.diagnostics, *problems]
            if first is None:
                first, shapes = resolved, shaped
        except SpecError as exc:
            diagnostics = exc.diagnostics
        for d in dict.fromkeys(diagnostics):
            counts[d] = counts.get(d, 0) + 1
            found.setdefault(d, values)
            own_places.setdefault(d, d.location in places)
    out = []
    for d, values in found.items():
        if counts[d] < len(candidates) and not own_places[d] and len(search.spaces):
            d = replace(d, message=f"{d.message} (in the candidate {describe(values)})")
        out.append(d)
    out += objective_problems(search, first)
    out += search.notes
    return Examined(sorted_diagnostics(out), len(candidates), how, first, shapes)


def objective_problems(search: Search, resolved: Any) -> list[Diagnostic]:
    """An objective that the training would not log (checked against the first candidate)."""
    settings = search.loaded.data.get(TUNE) if isinstance(search.loaded.data, dict) else None
    if resolved is None or not isinstance(settings, dict):
        return []
    objective = settings.get("objective")
    if not isinstance(objective, str):
        return []
    known = logged_metrics(resolved)
    if objective in known:
        return []
    from speck.front.validate import suggest_like

    path = (TUNE, "objective")
    guess = suggest_like(objective, known)
    hint = f"did you mean {guess!r}?" if guess else "one of " + ", ".join(sorted(known))
    return [_diag(search.loaded, path, f"training does not log {objective!r}", hint)]


def logged_metrics(resolved: Any) -> list[str]:
    """The names Keras logs for this spec's training (`loss`, `accuracy`, `val_...`)."""
    from speck.ir.resolve import snake_case

    plan = resolved.plan
    metrics = plan.metrics
    flat = [m for ms in metrics.values() for m in ms] if isinstance(metrics, dict) else metrics
    names = ["loss"]
    for m in flat:
        name = m.alias if m.alias is not None else snake_case(str(m.class_name))
        names.append(str(m.args.get("name", name)))
    if plan.data is not None and plan.data.validate_on is not None:
        names += [f"val_{n}" for n in names]
    return names


def default_objective(resolved: Any) -> str:
    plan = resolved.plan
    return "val_loss" if plan.data is not None and plan.data.validate_on else "loss"


# --- the spec's text with values in place of spaces ------------------------------------------


def best_text(search: Search, values: Mapping[str, Any]) -> str:
    """The spec file's own text, each search space written in it replaced by its value in
    `values` (comments and layout kept elsewhere). A space that is not in the text (one set by
    `--set`) is left out; `SpecError` if the text cannot be found again."""
    text = search.loaded.text
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    edits: list[tuple[int, int, str]] = []
    for space in search.spaces:
        if space.name not in values:
            continue
        found = _node_at(root, space.path)
        if found is None:
            continue
        key, node = found
        if not (isinstance(node, yaml.MappingNode) and _node_at(node, (TUNE,)) is not None):
            continue
        start = node.start_mark.index
        end = max(n.end_mark.index for n in _leaves(node))
        if space.kind == "optional":
            if values[space.name]:
                layer = _get(search.loaded.data, (*space.path, TUNE, "optional"))
                shown = flow_text(layer)
                line_start = text.rfind("\n", 0, start) + 1
                if text[line_start:start].strip() == "-" and len(layer) == 1:
                    shown = shown[1:-1]  # - Dropout: {rate: 0.2}, one line a layer
                edits.append((start, end, shown))
            else:
                edits.append(_without_item(text, start, end))
            continue
        if not node.flow_style and key is not None:  # block style: `units:` + lines below
            colon = text.index(":", key.end_mark.index)
            start, shown = colon + 1, " " + scalar_text(values[space.name])
        else:
            shown = scalar_text(values[space.name])
        edits.append((start, end, shown))
    for start, end, shown in sorted(edits, reverse=True):
        text = text[:start] + shown + text[end:]
    return text


def _without_item(text: str, start: int, end: int) -> tuple[int, int, str]:
    """The edit that takes a sequence item out: its lines in a block sequence (`- ...`), the
    item and its comma in a flow one (`[a, b]`)."""
    line_start = text.rfind("\n", 0, start) + 1
    if text[line_start:start].strip() == "-":
        line_end = text.find("\n", end)
        return line_start, len(text) if line_end < 0 else line_end + 1, ""
    after = text[end:]
    comma = len(after) - len(after.lstrip(" ,"))
    if "," in after[:comma]:
        return start, end + comma, ""
    before = text[:start]
    comma = len(before) - len(before.rstrip(" ,"))
    return start - comma, end, ""


def flow_text(value: Any) -> str:
    """Plain data as one line of YAML flow style: `{Dropout: {rate: 0.2}}`."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{scalar_text(k)}: {flow_text(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(flow_text(v) for v in value) + "]"
    if value is None:
        return "null"
    return scalar_text(value)


def _node_at(node: Any, path: SpecPath) -> tuple[Any, Any] | None:
    key_node = None
    for part in path:
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            for k, v in node.value:
                if isinstance(k, yaml.ScalarNode) and k.value == part:
                    key_node, node = k, v
                    break
            else:
                return None
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if not 0 <= part < len(node.value):
                return None
            key_node, node = None, node.value[part]
        else:
            return None
    return key_node, node


def _leaves(node: Any) -> Iterator[Any]:
    if isinstance(node, yaml.ScalarNode) or getattr(node, "flow_style", False):
        yield node
    elif isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            yield k
            yield from _leaves(v)
    elif isinstance(node, yaml.SequenceNode):
        for v in node.value:
            yield from _leaves(v)


def scalar_text(value: Any) -> str:
    """A value as YAML (and JSON) reads it back the same: `64`, `0.001`, `true`, `"relu"`."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        text = repr(value)
        if "e" in text and "." not in text.split("e")[0]:  # 1e-05 -> 1.0e-05 (YAML 1.1 too)
            mantissa, exponent = text.split("e")
            text = f"{mantissa}.0e{exponent}"
        return text
    text = str(value)
    dumped = yaml.safe_dump(text, default_flow_style=True, width=10_000).strip()
    dumped = dumped.removesuffix("...").strip()
    return dumped if dumped == text and not text.startswith(("{", "[")) else _json(text)


def _json(text: str) -> str:
    import json

    return json.dumps(text)


def has_spaces(loaded: LoadedSpec) -> bool:
    return bool(find_spaces(loaded).spaces)


def assert_valid(examined: Examined) -> None:
    if has_errors(examined.diagnostics):
        raise SpecError(examined.diagnostics)


__all__ = [
    "MAX_CANDIDATES",
    "Examined",
    "Search",
    "Space",
    "best_text",
    "corner_sample",
    "examine",
    "find_spaces",
]

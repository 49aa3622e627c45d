"""Command-line overrides of a spec: `--set key.path=value`, applied before validation.

An override names a place in the spec's raw mapping with dots and list indices
(`fit.epochs`, `callbacks[0].EarlyStopping.patience`, `model.layers.2.Dense.units`) and gives a
value written as YAML (`3`, `0.5`, `true`, `[32, 32, 3]`, `{Adam: {learning_rate: 0.01}}`).
Overrides are applied to the loaded mapping before validation, so an overridden value is typed
and checked exactly like one written in the file; a problem with it is reported under the flag
that set it (`--set fit.epochs=x: fit.epochs: ...`). Nothing here imports TensorFlow.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from speck.diagnostics import Diagnostic, PathPart, SpecError, SpecPath, format_path

_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")
_INDEX = re.compile(r"^\d+$")


class OverrideError(ValueError):
    """A `--set` flag that cannot be parsed or applied; the message names the flag."""

    def __init__(self, flag: str, message: str) -> None:
        self.flag = flag
        self.message = message
        super().__init__(f"--set {flag}: {message}")


@dataclass(frozen=True)
class Override:
    """One `--set` flag: the path it names, the value it gives, and the flag as typed."""

    path: SpecPath
    value: Any
    flag: str


def parse_path(text: str) -> SpecPath:
    """`callbacks[0].EarlyStopping.patience` -> `("callbacks", 0, "EarlyStopping", "patience")`.

    A part made only of digits (`layers.2`) is a list index too; raises `ValueError`.
    """
    text = text.strip()
    if not text:
        raise ValueError("the key path is empty; write e.g. fit.epochs=5")
    parts: list[PathPart] = []
    for segment in text.split("."):
        if not segment:
            raise ValueError(f"empty part in key path {text!r}")
        pos = 0
        for match in _PART.finditer(segment):
            if match.start() != pos:
                break
            name, index = match.groups()
            if index is not None:
                parts.append(int(index))
            elif _INDEX.match(name) and pos == 0:
                parts.append(int(name))
            else:
                parts.append(name)
            pos = match.end()
        if pos != len(segment):
            raise ValueError(f"cannot read key path {text!r} near {segment[pos:]!r}")
    return tuple(parts)


def parse_value(text: str) -> Any:
    """A value written as YAML: a scalar (`3`, `0.5`, `true`, `adam`) or flow (`[1, 2]`, `{a: 1}`).

    It is read by the same safe loader as spec files (no tags, bounded aliases); an empty value
    is YAML's null. Raises `ValueError` with the loader's message.
    """
    from speck.front.load import load_text

    if not text.strip():
        return None
    try:
        return load_text(text, "<--set>").data
    except SpecError as exc:
        raise ValueError("; ".join(d.message for d in exc.diagnostics)) from None


def parse_override(flag: str) -> Override:
    """`key.path=value` as an `Override`; raises `OverrideError` naming the flag."""
    key, sep, value = flag.partition("=")
    if not sep:
        raise OverrideError(flag, "write key.path=value, e.g. --set fit.epochs=5")
    try:
        path = parse_path(key)
        parsed = parse_value(value)
    except ValueError as exc:
        raise OverrideError(flag, str(exc)) from None
    return Override(path, parsed, flag)


def apply_override(data: dict[str, Any], override: Override) -> None:
    """Set `override.value` at `override.path` in `data`, in place; missing mappings on the
    way are created. Raises `OverrideError` when the path runs through something else."""
    node: Any = data
    path = override.path
    for i, part in enumerate(path):
        last = i == len(path) - 1
        where = format_path(path[: i + 1])
        if isinstance(node, dict):
            if isinstance(part, int):
                raise OverrideError(
                    override.flag, f"{format_path(path[:i])} is a mapping, not a list"
                )
            if last:
                node[part] = override.value
                return
            if node.get(part) is None:
                node[part] = {}
            node = node[part]
        elif isinstance(node, list):
            if not isinstance(part, int):
                raise OverrideError(
                    override.flag,
                    f"{format_path(path[:i]) or 'the spec'} is a list; index it like "
                    f"{format_path((*path[:i], 0))}",
                )
            if not -len(node) <= part < len(node):
                raise OverrideError(
                    override.flag,
                    f"{where}: index out of range; {format_path(path[:i])} has {len(node)} items",
                )
            if last:
                node[part] = override.value
                return
            node = node[part]
        else:
            raise OverrideError(
                override.flag,
                f"{format_path(path[:i])} is a {type(node).__name__} ({node!r}), "
                f"so it has no {format_path(path[i:])}",
            )


def apply_overrides(data: Any, overrides: list[Override]) -> None:
    """Apply each override in order (a later one wins) to a loaded spec mapping, in place."""
    if not overrides:
        return
    if not isinstance(data, dict):
        raise OverrideError(overrides[0].flag, "the spec is not a mapping of sections")
    for override in overrides:
        apply_override(data, override)


def override_for(diagnostic: Diagnostic, overrides: list[Override]) -> Override | None:
    """The last override whose path contains (or is inside) the diagnostic's path."""
    for override in reversed(overrides):
        n = min(len(override.path), len(diagnostic.path))
        if n and tuple(override.path[:n]) == tuple(diagnostic.path[:n]):
            return override
    return None


def format_diagnostic(diagnostic: Diagnostic, overrides: list[Override]) -> str:
    """A diagnostic as one line; one about an overridden value names the flag, not the file."""
    override = override_for(diagnostic, overrides)
    if override is None:
        return diagnostic.format(with_severity=True)
    severity = "" if diagnostic.severity == "error" else f"{diagnostic.severity}: "
    text = f"--set {override.flag}: {severity}{format_path(diagnostic.path)}: {diagnostic.message}"
    if diagnostic.suggestion:
        text += f" ({diagnostic.suggestion})"
    return text

"""Spec text: a spec written as YAML in the project's style.

Sections are blocks, their settings one per line, and each layer one line in flow style
(`- Conv2D: {filters: 32, kernel_size: 3}`), the way the example specs are written. `speck import`
writes specs this way, and `speck train` keeps the resolved spec in the run folder this way.
Every value is written so that `speck.load` reads it back unchanged.
"""

from __future__ import annotations

import math
import re
from typing import Any

import yaml

SECTION_ORDER = (
    "speck",
    "name",
    "description",
    "seed",
    "distribute",
    "data",
    "custom_layers",
    "models",
    "model",
    "compile",
    "fit",
    "callbacks",
)


def spec_text(data: dict[str, Any], header: list[str] | None = None) -> str:
    """The whole spec: `header` lines as comments, then the sections in the usual order."""
    lines = [f"# {line}" if line else "#" for line in header or []]
    keys = [k for k in SECTION_ORDER if k in data] + [k for k in data if k not in SECTION_ORDER]
    for key in keys:
        value = data[key]
        if not isinstance(value, dict | list) or not value:
            lines.append(f"{key}: {flow(value)}")
            continue
        lines += ["", f"{key}:"]
        if isinstance(value, list):
            lines += [f"  - {_entry(item)}" for item in value]
        elif key == "models":
            for name, model in value.items():
                lines.append(f"  {flow(name)}:")
                lines += _section(model, "    ")
        else:
            lines += _section(value, "  ")
    return "\n".join(lines) + "\n"


def _section(value: dict[str, Any], indent: str) -> list[str]:
    """A section's settings one per line, a model's layers one per line below `layers:`."""
    lines = []
    for sub, item in value.items():
        if sub == "layers" and isinstance(item, list):
            lines.append(f"{indent}layers:")
            lines += [f"{indent}  - {_entry(entry)}" for entry in item]
        elif sub == "inputs" and isinstance(item, dict) and len(item) > 1:
            lines.append(f"{indent}inputs:")
            lines += [f"{indent}  {flow(k)}: {flow(v)}" for k, v in item.items()]
        else:
            lines.append(f"{indent}{flow(sub)}: {flow(item)}")
    return lines


def flow(value: Any) -> str:
    """One YAML flow-style value (`{units: 64, activation: relu}`) on one line, as the loader
    reads it back: plain words where YAML keeps them strings, double-quoted text otherwise."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{flow(k)}: {flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(flow(v) for v in value) + "]"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float(value)
    text = str(value)
    if _PLAIN.match(text) and yaml.safe_load(text) == text:
        return text
    if all(_PRINTABLE.match(char) for char in text):
        return "'" + text.replace("'", "''") + "'"
    return _quoted(text)


_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_./+-]*$")
_PRINTABLE = re.compile("[\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _float(value: float) -> str:
    if math.isnan(value):
        return ".nan"
    if math.isinf(value):
        return ".inf" if value > 0 else "-.inf"
    text = repr(value)
    mantissa, e, exponent = text.partition("e")
    if e and "." not in mantissa:
        text = f"{mantissa}.0e{exponent}"  # YAML 1.1 reads `1e-07` as a string
    return text


def _quoted(text: str) -> str:
    out = []
    for char in text:
        if char in ('"', "\\"):
            out.append("\\" + char)
        elif _PRINTABLE.match(char):
            out.append(char)
        elif ord(char) < 0x10000:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    return '"' + "".join(out) + '"'


def _entry(entry: dict[str, Any]) -> str:
    """`Conv2D: {filters: 32}` for a bare layer, `{name: h1, Dense: {...}, from: x}` otherwise."""
    if len(entry) == 1:
        ((kind, args),) = entry.items()
        return f"{flow(kind)}: {flow(args)}"
    return flow(entry)

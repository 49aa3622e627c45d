"""Diagnostics: every problem speck reports, with its place in the spec file.

A `Diagnostic` carries a location (`file:line:column`), the spec path of the offending key
(`model.layers[3].Conv2D.kernel_size`), a message and, where one fits, a suggestion. All stages
collect diagnostics instead of raising on the first problem, so a file's problems are reported
at once; `SpecError` carries them out of a stage that cannot go on.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

PathPart = str | int
SpecPath = tuple[PathPart, ...]
Severity = Literal["error", "warning", "note"]


def format_path(path: Sequence[PathPart]) -> str:
    """`("model", "layers", 3, "Conv2D")` -> `model.layers[3].Conv2D`."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


@dataclass(frozen=True)
class Diagnostic:
    message: str
    path: SpecPath = ()
    location: Location | None = None
    severity: Severity = "error"
    suggestion: str | None = None

    def format(self, with_severity: bool = False) -> str:
        where = str(self.location) if self.location else "<spec>"
        sev = f"{self.severity}: " if with_severity else ""
        text = f"{where}: {sev}{format_path(self.path)}: {self.message}"
        if self.suggestion:
            text += f" ({self.suggestion})"
        return text

    def as_dict(self) -> dict[str, object]:
        loc = self.location
        return {
            "file": loc.file if loc else None,
            "line": loc.line if loc else None,
            "column": loc.column if loc else None,
            "severity": self.severity,
            "path": format_path(self.path),
            "message": self.message,
            "suggestion": self.suggestion,
        }

    def format_github(self) -> str:
        """A GitHub Actions workflow annotation."""
        kind = {"error": "error", "warning": "warning", "note": "notice"}[self.severity]
        loc = self.location
        props = f" file={loc.file},line={loc.line},col={loc.column}" if loc else ""
        body = f"{format_path(self.path)}: {self.message}"
        if self.suggestion:
            body += f" ({self.suggestion})"
        body = body.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
        return f"::{kind}{props}::{body}"


def did_you_mean(suggestion: str | None) -> str | None:
    return f"did you mean {suggestion!r}?" if suggestion else None


@dataclass(frozen=True, slots=True)
class Location:
    """Where something came from in a spec file (1-based line and column). Slotted: a loaded
    spec keeps one for every key and value it holds (over 100,000 for a 10,000-layer model),
    and without a `__dict__` each takes a sixth of the memory."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


class SpecError(Exception):
    """A spec cannot go on to the next stage; carries every problem found so far."""

    def __init__(self, diagnostics: Iterable[Diagnostic]) -> None:
        self.diagnostics = list(diagnostics)
        super().__init__("\n".join(d.format() for d in self.diagnostics))

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]


def has_errors(diagnostics: Iterable[Diagnostic]) -> bool:
    return any(d.severity == "error" for d in diagnostics)


def to_json(diagnostics: Iterable[Diagnostic]) -> str:
    return json.dumps([d.as_dict() for d in diagnostics], indent=2)

"""Stage 1, load: a spec file's text -> a plain mapping with the source position of every key.

YAML (and JSON, which the same safe composer reads) is parsed to a node tree and turned into
plain Python values by hand, so that nothing but the YAML core types can appear: Python tags
and every other explicit tag are refused, alias expansion and nesting depth are bounded (a
billion-laughs file fails fast), duplicate keys are errors, and the text must be UTF-8.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from speck.diagnostics import Diagnostic, SpecError, SpecPath
from speck.graph import Location

MAX_BYTES = 2_000_000
MAX_NODES = 100_000
"""Nodes visited while expanding the document, aliases counted each time they are used."""
MAX_DEPTH = 64

_CORE_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:map",
    "tag:yaml.org,2002:seq",
}


@dataclass
class SourceMap:
    """Positions of a loaded document: for each path, where its key and its value start."""

    file: str
    keys: dict[SpecPath, Location] = field(default_factory=dict)
    values: dict[SpecPath, Location] = field(default_factory=dict)

    def locate(self, path: SpecPath, prefer: str = "key") -> Location:
        """The closest known position for `path`, walking up to its parents if needed."""
        first, second = (self.keys, self.values) if prefer == "key" else (self.values, self.keys)
        p = tuple(path)
        while True:
            if p in first:
                return first[p]
            if p in second:
                return second[p]
            if not p:
                return Location(self.file, 1, 1)
            p = p[:-1]

    def alias(self, new: SpecPath, old: SpecPath) -> None:
        """Make `new` (a path a translation created) point where `old` was written."""
        for table in (self.keys, self.values):
            for path, loc in list(table.items()):
                if path[: len(old)] == old:
                    table.setdefault(new + path[len(old) :], loc)


@dataclass
class LoadedSpec:
    file: str
    text: str
    data: Any
    source: SourceMap

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()


def load_file(path: str | Path) -> LoadedSpec:
    """Read and load one spec file; raises `SpecError` with positions on any problem."""
    name = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise SpecError([Diagnostic(f"cannot read file: {exc.strerror}", (), None)]) from None
    return load_bytes(raw, name)


def load_bytes(raw: bytes, file: str) -> LoadedSpec:
    if len(raw) > MAX_BYTES:
        msg = f"file is {len(raw):,} bytes; a spec may be at most {MAX_BYTES:,}"
        raise SpecError([Diagnostic(msg, (), Location(file, 1, 1))])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        column = exc.start - (before.rfind(b"\n") + 1) + 1
        msg = f"not UTF-8 text: byte 0x{raw[exc.start]:02x} cannot be decoded"
        hint = "save the file as UTF-8"
        raise SpecError(
            [Diagnostic(msg, (), Location(file, line, column), suggestion=hint)]
        ) from None
    return load_text(text, file)


def load_text(text: str, file: str = "<string>") -> LoadedSpec:
    text = text.removeprefix("\ufeff")
    if not text.strip() or all(
        not line.strip() or line.lstrip().startswith("#") for line in text.splitlines()
    ):
        hint = "start from an example in specs/, or run `speck schema`"
        raise SpecError(
            [Diagnostic("the file is empty", (), Location(file, 1, 1), suggestion=hint)]
        )
    try:
        documents = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        loc = Location(file, mark.line + 1, mark.column + 1) if mark else Location(file, 1, 1)
        problem = exc.problem or "invalid YAML"
        if exc.context:
            problem = f"{exc.context}: {problem}" if "while" not in exc.context else problem
        raise SpecError([Diagnostic(f"YAML syntax error: {problem}", (), loc)]) from None
    except yaml.YAMLError as exc:
        raise SpecError([Diagnostic(f"YAML error: {exc}", (), Location(file, 1, 1))]) from None
    documents = [d for d in documents if d is not None]
    if len(documents) != 1:
        loc = _loc(file, documents[1]) if len(documents) > 1 else Location(file, 1, 1)
        msg = "expected one YAML document" if documents else "the file is empty"
        raise SpecError([Diagnostic(msg, (), loc)])
    builder = _Builder(file)
    data = builder.build(documents[0], (), 0)
    if builder.problems:
        raise SpecError(builder.problems)
    return LoadedSpec(file=file, text=text, data=data, source=builder.source)


def _loc(file: str, node: yaml.Node) -> Location:
    return Location(file, node.start_mark.line + 1, node.start_mark.column + 1)


class _Builder:
    """Turns a composed YAML node tree into plain values, recording positions."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.source = SourceMap(file)
        self.problems: list[Diagnostic] = []
        self.visited = 0
        self._scalars = yaml.SafeLoader("")

    def build(self, node: yaml.Node, path: SpecPath, depth: int) -> Any:
        self.visited += 1
        if self.visited > MAX_NODES:
            msg = (
                f"the document expands to more than {MAX_NODES:,} values "
                "(aliases nested inside aliases, as in a 'billion laughs' file)"
            )
            self._fail(msg, path, node, "write the values out instead of nesting aliases")
        if depth > MAX_DEPTH:
            self._fail(f"nesting deeper than {MAX_DEPTH} levels", path, node, None)
        self.source.values.setdefault(path, _loc(self.file, node))
        if node.tag == "tag:yaml.org,2002:timestamp" and isinstance(node, yaml.ScalarNode):
            return node.value  # a date-looking word is just text in a spec
        if node.tag not in _CORE_TAGS:
            self._refuse_tag(node, path)
            return None
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path, depth)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
        try:
            return self._scalars.construct_object(node, deep=True)
        except yaml.YAMLError as exc:  # e.g. an int the resolver matched but cannot convert
            self.problems.append(Diagnostic(f"bad scalar: {exc}", path, _loc(self.file, node)))
            return None

    def _mapping(self, node: yaml.MappingNode, path: SpecPath, depth: int) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        first_seen: dict[Any, yaml.Node] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                self.problems.append(
                    Diagnostic(
                        "merge keys (<<) are not supported",
                        path,
                        _loc(self.file, key_node),
                        suggestion="write the keys out",
                    )
                )
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                msg = "a mapping key must be a plain name, not a list or mapping"
                self.problems.append(Diagnostic(msg, path, _loc(self.file, key_node)))
                continue
            key = self.build(key_node, (*path, "<key>"), depth + 1)
            if isinstance(key, bool) or key is None:
                key = key_node.value  # `on:`/`null:` as keys mean the word, not a value
            if key in first_seen:
                earlier = first_seen[key].start_mark.line + 1
                self.problems.append(
                    Diagnostic(
                        f"duplicate key {key!r} (first given on line {earlier})",
                        (*path, key),
                        _loc(self.file, key_node),
                        suggestion="keep one of them",
                    )
                )
                continue
            first_seen[key] = key_node
            self.source.keys[(*path, key)] = _loc(self.file, key_node)
            out[key] = self.build(value_node, (*path, key), depth + 1)
        return out

    def _refuse_tag(self, node: yaml.Node, path: SpecPath) -> None:
        tag = node.tag
        if tag.startswith("tag:yaml.org,2002:python/"):
            msg = f"Python tags are refused: !!{tag.removeprefix('tag:yaml.org,2002:')}"
            hint = "a spec holds data only; name Keras objects as {ClassName: {args}}"
        else:
            msg = f"unsupported YAML tag {tag!r}"
            hint = "remove the tag; specs use plain strings, numbers, lists and mappings"
        self.problems.append(Diagnostic(msg, path, _loc(self.file, node), suggestion=hint))

    def _fail(self, msg: str, path: SpecPath, node: yaml.Node, hint: str | None) -> None:
        self.problems.append(Diagnostic(msg, path, _loc(self.file, node), suggestion=hint))
        raise SpecError(self.problems)

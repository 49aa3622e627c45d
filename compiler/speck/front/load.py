"""Stage 1, load: a spec file's text -> a plain mapping with the source position of every key.

YAML (and JSON, which the same safe composer reads) is parsed to a node tree and turned into
plain Python values by hand, so that nothing but the YAML core types can appear: Python tags
and every other explicit tag are refused, alias expansion and nesting depth are bounded (a
billion-laughs file fails fast), duplicate keys are errors, and the text must be UTF-8.
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from speck.diagnostics import Diagnostic, Location, SpecError, SpecPath

MAX_BYTES = 2_000_000
MAX_NODES = 100_000
"""Values built from aliases (`*name`), counted each time an alias is used. What is written
out is bounded by `MAX_BYTES` alone, so a long spec (10,000 layers) is not refused."""
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
        import hashlib  # for the run folder; validation has no use for it

        return hashlib.sha256(self.text.encode()).hexdigest()


def load_file(path: str | Path) -> LoadedSpec:
    """Read and load one spec file; raises `SpecError` with positions on any problem."""
    name = str(path)
    return load_bytes(read_spec_bytes(name), name)


def read_spec_bytes(file: str) -> bytes:
    """The bytes of a spec file, which must be a regular file of at most `MAX_BYTES`. A FIFO,
    a device (`/dev/zero`) or a folder is refused before anything is read (opening does not
    wait for a FIFO's writer), and at most one byte past the limit is ever read."""
    where = Location(file, 1, 1)
    try:
        fd = os.open(file, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError as exc:
        raise SpecError([_unreadable(file, exc)]) from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = _FILE_KINDS.get(stat.S_IFMT(mode), "not a regular file")
            msg = f"this is {kind}; a spec is a regular file"
            hint = "name a .yaml, .yml or .json file"
            raise SpecError([Diagnostic(msg, (), where, suggestion=hint)])
        chunks = []
        left = MAX_BYTES + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    except OSError as exc:
        raise SpecError([_unreadable(file, exc)]) from None
    finally:
        os.close(fd)
    return b"".join(chunks)


_FILE_KINDS = {
    stat.S_IFDIR: "a folder",
    stat.S_IFIFO: "a named pipe (FIFO)",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}


def _unreadable(file: str, exc: OSError) -> Diagnostic:
    where = Location(file, 1, 1)
    if isinstance(exc, FileNotFoundError):
        hint = "check the path; `speck validate FOLDER` checks every spec in a folder"
        return Diagnostic("the spec file does not exist", (), where, suggestion=hint)
    if isinstance(exc, IsADirectoryError):
        return Diagnostic("this is a folder; a spec is a regular file", (), where)
    reason = (exc.strerror or str(exc)).lower()
    return Diagnostic(f"cannot read the file: {reason}", (), where)


def load_bytes(raw: bytes, file: str) -> LoadedSpec:
    if len(raw) > MAX_BYTES:
        msg = f"file is larger than {MAX_BYTES:,} bytes; a spec may be at most {MAX_BYTES:,}"
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
    json_data = _strict_json(text, file) if is_json(file) else _NOT_JSON
    try:
        documents, alias_marks = _compose_all(text)
    except _TooDeep as exc:
        loc = Location(file, exc.mark.line + 1, exc.mark.column + 1)
        msg = f"nesting deeper than {MAX_DEPTH} levels"
        raise SpecError([Diagnostic(msg, (), loc, suggestion=_FLATTER)]) from None
    except yaml.MarkedYAMLError as exc:
        if json_data is not _NOT_JSON:
            # JSON the YAML reader cannot follow (a key over YAML's 1,024 characters): the
            # JSON parser's values stand, placed at the top of the file.
            source = SourceMap(file)
            problems = _json_constants(json_data, source)
            if problems:
                raise SpecError(problems) from None
            return LoadedSpec(file=file, text=text, data=json_data, source=source)
        raise SpecError([_syntax_error(exc, file)]) from None
    except yaml.reader.ReaderError as exc:  # a control character; its place is an offset
        before = text[: exc.position]
        line = before.count("\n") + 1
        column = exc.position - (before.rfind("\n") + 1) + 1
        msg = f"character U+{exc.character:04X} is not allowed in YAML"
        hint = "remove it; a spec is plain text"
        raise SpecError(
            [Diagnostic(msg, (), Location(file, line, column), suggestion=hint)]
        ) from None
    except yaml.YAMLError as exc:
        raise SpecError([Diagnostic(f"YAML error: {exc}", (), Location(file, 1, 1))]) from None
    documents = [d for d in documents if d is not None]
    if len(documents) != 1:
        loc = _loc(file, documents[1]) if len(documents) > 1 else Location(file, 1, 1)
        msg = "expected one YAML document" if documents else "the file is empty"
        raise SpecError([Diagnostic(msg, (), loc)])
    builder = _Builder(file, alias_marks)
    data = builder.build(documents[0], (), 0)
    if json_data is not _NOT_JSON:
        builder.problems += _json_constants(json_data, builder.source)
        data = json_data  # the JSON parser's values; the YAML tree gave the positions
    if builder.problems:
        raise SpecError(builder.problems)
    return LoadedSpec(file=file, text=text, data=data, source=builder.source)


def is_json(file: str) -> bool:
    return file.lower().endswith(".json")


_NOT_JSON = object()


@dataclass(frozen=True)
class _Constant:
    """`NaN`, `Infinity` or `-Infinity`: Python's JSON parser reads them; JSON has none."""

    text: str


def _strict_json(text: str, file: str) -> Any:
    """A `.json` spec parsed by a JSON parser, so that what YAML would forgive (comments,
    trailing commas, single quotes) is an error at its place. Returns `_NOT_JSON` for a
    document too deep for the parser, which the YAML reader's own bound then reports."""
    try:
        return json.loads(text, parse_constant=_Constant)
    except RecursionError:
        return _NOT_JSON
    except json.JSONDecodeError as exc:
        raise SpecError([_json_error(exc, text, file)]) from None
    except ValueError as exc:  # e.g. an integer of more digits than Python converts
        raise SpecError([Diagnostic(f"not valid JSON: {exc}", (), Location(file, 1, 1))]) from None


def _json_error(exc: json.JSONDecodeError, text: str, file: str) -> Diagnostic:
    pos, line, column = exc.pos, exc.lineno, exc.colno
    here = text[pos : pos + 1]
    before = text[:pos].rstrip()
    hint = "a .json spec must be strict JSON; or write it as YAML in a .yaml file"
    message = f"not valid JSON: {exc.msg}"
    if here in ("}", "]") and before.endswith(","):
        pos = len(before) - 1
        line = text.count("\n", 0, pos) + 1
        column = pos - (text.rfind("\n", 0, pos) + 1) + 1
        message = "not valid JSON: a trailing comma"
        hint = "remove the ','; JSON allows no comma before a closing bracket"
    elif here in ("/", "#"):
        message = "not valid JSON: a comment"
        hint = "JSON has no comments; remove it, or write the spec as YAML in a .yaml file"
    elif here == "'":
        message = "not valid JSON: a single-quoted string"
        hint = 'JSON strings are in double quotes: "..."'
    return Diagnostic(message, (), Location(file, line, column), suggestion=hint)


def _json_constants(data: Any, source: SourceMap, path: SpecPath = ()) -> list[Diagnostic]:
    """Where a JSON document holds `NaN` or `Infinity`, which JSON does not have."""
    if isinstance(data, _Constant):
        msg = f"not valid JSON: {data.text} is not a JSON number"
        hint = "write a finite number"
        return [Diagnostic(msg, path, source.locate(path, prefer="value"), suggestion=hint)]
    if isinstance(data, dict):
        return [d for k, v in data.items() for d in _json_constants(v, source, (*path, k))]
    if isinstance(data, list):
        return [d for i, v in enumerate(data) for d in _json_constants(v, source, (*path, i))]
    return []


_FLATTER = "a spec needs only a few levels; write it flatter"
_OPENERS = {"while parsing a flow sequence": "'['", "while parsing a flow mapping": "'{'"}


class _TooDeep(Exception):
    def __init__(self, mark: yaml.Mark) -> None:
        super().__init__("too deep")
        self.mark = mark


class _Bounds(yaml.composer.Composer):
    """The safe composer with a bound on nesting, checked before it recurses (a deeply nested
    document would otherwise exhaust Python's stack before any check of ours could run)."""

    def _init_bounds(self) -> None:
        self._depth = 0
        self.alias_marks: dict[tuple[int, int], yaml.Mark] = {}
        """Where each alias (`*name`) was written, by (id of its parent node, its index there)."""

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH + 1:  # the document's top node is at depth 1
                raise _TooDeep(self.peek_event().start_mark)
            alias = self.peek_event() if self.check_event(yaml.AliasEvent) else None
            node = super().compose_node(parent, index)
            if alias is not None and parent is not None and index is not None:
                self.alias_marks[_child_key(parent, index)] = alias.start_mark
            return node  # type: ignore[no-any-return]
        finally:
            self._depth -= 1


class _BoundedLoader(_Bounds, yaml.SafeLoader):  # type: ignore[misc]
    def __init__(self, stream: str) -> None:
        yaml.SafeLoader.__init__(self, stream)
        self._init_bounds()


def _child_key(parent: yaml.Node, index: Any) -> tuple[int, int]:
    """A sequence item by its position, a mapping value by its key node."""
    return (id(parent), index if isinstance(index, int) else id(index))


if getattr(yaml, "__with_libyaml__", False):
    from yaml._yaml import CParser

    class _FastBoundedLoader(  # type: ignore[misc]
        _Bounds, yaml.constructor.SafeConstructor, yaml.resolver.Resolver, CParser
    ):
        """The same composer reading libyaml's events: about 7x faster on large specs. Only
        the scanner and parser are C; composing (with its bounds) stays the Python above."""

        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            yaml.constructor.SafeConstructor.__init__(self)
            yaml.resolver.Resolver.__init__(self)
            yaml.composer.Composer.__init__(self)
            self._init_bounds()

    _LOADERS: tuple[type, ...] = (_FastBoundedLoader, _BoundedLoader)
else:  # pragma: no cover - PyYAML without libyaml
    _LOADERS = (_BoundedLoader,)


def _compose_all(text: str) -> tuple[list[yaml.Node | None], dict[tuple[int, int], yaml.Mark]]:
    """Compose with the fastest loader; on a syntax error, ask the pure-Python parser again,
    whose messages (and hints about tabs and unclosed brackets) read better."""
    for i, cls in enumerate(_LOADERS):
        try:
            return _compose_with(cls, text)
        except yaml.YAMLError:
            if i == len(_LOADERS) - 1:
                raise
    raise AssertionError("unreachable")


def _compose_with(
    cls: type, text: str
) -> tuple[list[yaml.Node | None], dict[tuple[int, int], yaml.Mark]]:
    loader = cls(text)
    try:
        documents = []
        while loader.check_node():
            documents.append(loader.get_node())
        return documents, loader.alias_marks
    finally:
        loader.dispose()


def _syntax_error(exc: yaml.MarkedYAMLError, file: str) -> Diagnostic:
    """A YAML syntax error at the place to look, with what was left open where it says so."""
    mark = exc.problem_mark or exc.context_mark
    problem = exc.problem or "invalid YAML"
    context, start = exc.context, exc.context_mark
    hint = None
    if problem.startswith("found character '\\t'"):
        hint = "indent with spaces; YAML does not allow tabs here"
    if context and start is not None:
        where = f"line {start.line + 1}, column {start.column + 1}"
        if context in _OPENERS:
            hint = f"is the {_OPENERS[context]} on {where} closed?"
        elif "quoted scalar" in context:
            mark = start  # the end of the file is no place to look for an unclosed quote
            problem = f"a quoted string is not closed ({problem})"
        else:
            hint = f"{context.removeprefix('while ')} that starts on {where}"
    elif context and not context.startswith("while"):
        problem = f"{context}: {problem}"
    loc = Location(file, mark.line + 1, mark.column + 1) if mark else Location(file, 1, 1)
    return Diagnostic(f"YAML syntax error: {problem}", (), loc, suggestion=hint)


def _loc(file: str, node: yaml.Node) -> Location:
    return _mark(file, node.start_mark)


def _mark(file: str, mark: yaml.Mark) -> Location:
    return Location(file, mark.line + 1, mark.column + 1)


_SURROGATE = re.compile("[\ud800-\udfff]")
_STR_TAG = "tag:yaml.org,2002:str"
_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"
_NUMBER_TAGS = (_STR_TAG, _INT_TAG, _FLOAT_TAG)
_BAD = object()
"""A number too long to convert (Python's bound on integer digits)."""

_CORE_INT = re.compile(r"[-+]?[0-9]+")
_CORE_OCT = re.compile(r"0o[0-7]+")
_CORE_HEX = re.compile(r"0x[0-9a-fA-F]+")
_CORE_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
_CORE_INF = re.compile(r"[-+]?\.(?:inf|Inf|INF)")
_CORE_NAN = re.compile(r"\.(?:nan|NaN|NAN)")
_NUMBERISH = re.compile(r"[-+]?\.?[0-9]")
"""What every YAML 1.1 or 1.2 number starts with, save `.inf` and `.nan`."""


def yaml12_number(text: str) -> Any:
    """The number a plain scalar is in YAML 1.2's core schema, or None if it is not one
    (`_BAD` if it has more digits than Python converts)."""
    try:
        if _CORE_INT.fullmatch(text):
            return int(text)
        if _CORE_OCT.fullmatch(text):
            return int(text[2:], 8)
        if _CORE_HEX.fullmatch(text):
            return int(text[2:], 16)
    except ValueError:
        return _BAD
    if _CORE_FLOAT.fullmatch(text):
        return float(text)
    if _CORE_INF.fullmatch(text):
        return -math.inf if text.startswith("-") else math.inf
    if _CORE_NAN.fullmatch(text):
        return math.nan
    return None


class _Scalars(yaml.constructor.SafeConstructor):
    """PyYAML's safe constructor, one scalar at a time. Not a loader: a loader's parser refers
    to itself, a cycle that kept every scalar node read (and its marks) alive until the next
    full collection; nor does it keep the nodes it has read."""

    def value(self, node: yaml.ScalarNode) -> Any:
        if node.tag == _STR_TAG:
            return node.value  # what `construct_yaml_str` returns, without the dispatch
        try:
            return self.construct_object(node, deep=True)
        finally:
            self.constructed_objects.pop(node, None)
            self.recursive_objects.pop(node, None)


def _yaml11_value(node: yaml.ScalarNode, scalars: _Scalars) -> Any:
    """What PyYAML's YAML 1.1 resolver makes of a plain scalar: a number, or its text."""
    if node.tag == _STR_TAG:
        return node.value
    try:
        return scalars.value(node)
    except ValueError:
        return _BAD


def _same_number(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b


class _Builder:
    """Turns a composed YAML node tree into plain values, recording positions."""

    def __init__(self, file: str, alias_marks: dict[tuple[int, int], yaml.Mark]) -> None:
        self.file = file
        self.source = SourceMap(file)
        self.problems: list[Diagnostic] = []
        self.visited = 0
        self._scalars = _Scalars()
        self._alias_marks = alias_marks
        self._aliases: list[tuple[SpecPath, Location]] = []  # being expanded, outermost first

    def build(
        self, node: yaml.Node, path: SpecPath, depth: int, at: yaml.Mark | None = None
    ) -> Any:
        """`at` is where an alias standing for `node` was written; positions point there."""
        loc = _mark(self.file, at) if at is not None else _loc(self.file, node)
        if at is not None:
            self._aliases.append((path, loc))
        try:
            return self._build(node, path, depth, loc)
        finally:
            if at is not None:
                self._aliases.pop()

    def _build(self, node: yaml.Node, path: SpecPath, depth: int, loc: Location) -> Any:
        if self._aliases:
            self.visited += 1
        if self.visited > MAX_NODES:
            msg = (
                f"the document expands to more than {MAX_NODES:,} values "
                "(aliases nested inside aliases, as in a 'billion laughs' file)"
            )
            # Point at the outermost alias being expanded: the one that asked for it all.
            where, at = self._aliases[0] if self._aliases else (path, loc)
            self.problems.append(
                Diagnostic(msg, where, at, suggestion="write the values out instead")
            )
            raise SpecError(self.problems)
        if depth > MAX_DEPTH:
            self.problems.append(
                Diagnostic(f"nesting deeper than {MAX_DEPTH} levels", path, loc, None)
            )
            raise SpecError(self.problems)
        self.source.values.setdefault(path, loc)
        if node.tag == "tag:yaml.org,2002:timestamp" and isinstance(node, yaml.ScalarNode):
            return node.value  # a date-looking word is just text in a spec
        if (
            isinstance(node, yaml.ScalarNode)
            and not node.style  # plain, not quoted
            and node.tag in _NUMBER_TAGS
            and (node.tag != _STR_TAG or _NUMBERISH.match(node.value))
        ):
            return self._number(node, path, loc)
        if node.tag not in _CORE_TAGS:
            self._refuse_tag(node, path, loc)
            return None
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path, depth)
        if isinstance(node, yaml.SequenceNode):
            return [
                self.build(item, (*path, i), depth + 1, self._alias_marks.get((id(node), i)))
                for i, item in enumerate(node.value)
            ]
        try:
            value = self._scalars.value(node)
        except (yaml.YAMLError, ValueError) as exc:  # e.g. an int of too many digits
            self.problems.append(Diagnostic(f"bad scalar: {exc}", path, loc))
            return None
        if isinstance(value, str) and _SURROGATE.search(value):
            # JSON writes a character beyond U+FFFF as two escapes ("\ud83d\ude42"), which
            # YAML reads as two halves; put the pairs back together.
            try:
                value = value.encode("utf-16", "surrogatepass").decode("utf-16")
            except UnicodeDecodeError:
                msg = "a string holds half of a UTF-16 surrogate pair (a broken \\u escape)"
                self.problems.append(Diagnostic(msg, path, loc))
                return None
        return value

    def _number(self, node: yaml.ScalarNode, path: SpecPath, loc: Location) -> Any:
        """A plain scalar read as YAML 1.2's core schema (the schema of JSON) reads it. Where
        YAML 1.1 (PyYAML's resolver, and older tools) reads the same text otherwise, as with
        `010` (8 in 1.1), `1:30` (90), `0b11`, `1_000` or `0o10` (text in 1.1), the form is
        refused at its place: a number never changes silently."""
        text = node.value
        old = _yaml11_value(node, self._scalars)
        new = yaml12_number(text)
        if new is None and node.tag == _STR_TAG:
            return text  # text in both
        if old is _BAD or new is _BAD:
            message = f"a number of {len(text):,} characters is too long to read"
            self.problems.append(Diagnostic(message, path, loc, suggestion="write a smaller one"))
            return None
        if _same_number(old, new) or (isinstance(new, float) and "e" in text.lower()):
            return new  # (`1e-3` is text to YAML 1.1's resolver, but no one means that)
        if new is None:
            message = f"{text} is the number {old!r} in YAML 1.1 but the text {text!r} in YAML 1.2"
            hint = f"write {old!r}, or quote '{text}' if you mean the text"
        elif isinstance(old, str):
            message = f"{text} is the number {new!r} in YAML 1.2 but the text {text!r} in YAML 1.1"
            hint = f"write {new!r}, or quote '{text}' if you mean the text"
        else:
            message = f"{text} is {old!r} in YAML 1.1 and {new!r} in YAML 1.2"
            hint = f"write {old!r} or {new!r}"
        self.problems.append(Diagnostic(message, path, loc, suggestion=hint))
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
            at = self._alias_marks.get((id(node), id(key_node)))
            out[key] = self.build(value_node, (*path, key), depth + 1, at)
        return out

    def _refuse_tag(self, node: yaml.Node, path: SpecPath, loc: Location) -> None:
        tag = node.tag
        if tag.startswith("tag:yaml.org,2002:python/"):
            msg = f"Python tags are refused: !!{tag.removeprefix('tag:yaml.org,2002:')}"
            hint = "a spec holds data only; name Keras objects as {ClassName: {args}}"
        else:
            msg = f"unsupported YAML tag {tag!r}"
            hint = "remove the tag; specs use plain strings, numbers, lists and mappings"
        self.problems.append(Diagnostic(msg, path, loc, suggestion=hint))

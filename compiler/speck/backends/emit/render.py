"""The one literal renderer: values from a spec -> Python source text for emitted scripts.

Every value that reaches generated code goes through `literal` (an allow-list of types: None,
bool, int, float, str, list, tuple, dict and `KerasObject`, which becomes a constructor call) or
through `identifier` (a checked Python name). Nothing else makes `Code`, and the emitter's
template refuses to print anything that is not `Code`, so spec text can never become code.

Rendering is two steps: values become small layout trees (`Atom`, `Bracket`, `BinOp`), and
`statement` lays a tree out the way `ruff format` would (line length 100: one line if it fits,
else the contents on one indented line, else one item per line with a trailing comma), so the
emitted text is formatted already and the emitter needs no formatter at run time.
"""

from __future__ import annotations

import keyword
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from speck.catalog import lookup as catalog
from speck.ir.graph import PATH_ARGS, KerasObject

LINE_LENGTH = 100
INDENT = "    "

KERAS_NAMESPACES = {**catalog.KERAS_NAMESPACES, "layers": "layers"}
"""Where a script finds each catalog category (it imports keras and `from keras import layers`)."""

POSITIONAL_FIRST = frozenset({"units", "filters", "rate", "activation", "layer"})
"""A class's first argument is written positionally when it is one of these (`Dense(64)`)."""


class Code(str):
    """Python source text made by this module (or by the emitter from pieces made here)."""

    __slots__ = ()


# --- layout trees ----------------------------------------------------------------------------


class Expr:
    """A piece of an expression that knows its one-line form and how to split over lines."""

    def flat(self) -> str:
        raise NotImplementedError

    def lines(self, indent: int, prefix: str = "", suffix: str = "") -> list[str]:
        """The expression laid out at `indent` levels, after `prefix` and before `suffix`."""
        return [INDENT * indent + prefix + self.flat() + suffix]


@dataclass(frozen=True)
class Atom(Expr):
    """Text that never splits: a name, a number, a string literal, `x[1]`."""

    text: str

    def flat(self) -> str:
        return self.text


@dataclass(frozen=True)
class Text(Expr):
    """A string literal. Too long for its line, it goes in parentheses on a line of its own, and
    if still too long there, in pieces broken after spaces (implicit concatenation)."""

    value: str

    def flat(self) -> str:
        return string(self.value)

    def lines(self, indent: int, prefix: str = "", suffix: str = "") -> list[str]:
        one = INDENT * indent + prefix + self.flat() + suffix
        if len(one) <= LINE_LENGTH:
            return [one]
        inner = INDENT * (indent + 1)
        pieces = [self.flat()]
        if len(inner + pieces[0]) > LINE_LENGTH:
            pieces = [string(p) for p in _pieces(self.value, LINE_LENGTH - len(inner))]
        if len(pieces) == 1 and not prefix:
            return [one]  # nothing to gain from parentheses
        return [
            INDENT * indent + prefix + "(",
            *(inner + p for p in pieces),
            INDENT * indent + ")" + suffix,
        ]


def _pieces(text: str, width: int) -> list[str]:
    """`text` cut after spaces into pieces whose literals fit in `width`; a word too long for
    one piece (a path, a 5,000-character name) is cut wherever it must be."""
    words = re.findall(r"\S*\s*", text)
    pieces: list[str] = []
    for word in (w for w in words if w):
        if pieces and len(string(pieces[-1] + word)) <= width:
            pieces[-1] += word
        elif len(string(word)) <= width:
            pieces.append(word)
        else:
            pieces += _cut(word, width)
    return pieces or [text]


def _cut(word: str, width: int) -> list[str]:
    """`word` in pieces whose literals fit in `width` (at least one character each)."""
    out: list[str] = []
    piece = ""
    for ch in word:
        if piece and len(string(piece + ch)) > width:
            out.append(piece)
            piece = ""
        piece += ch
    return [*out, piece] if piece else out


@dataclass(frozen=True)
class Keyed(Expr):
    """`key: value` in a mapping, where the key is a string literal too long to share its
    line: the key splits in parentheses as a long string does, and the value follows it."""

    key: Text
    value: Expr

    def flat(self) -> str:
        return f"{self.key.flat()}: {self.value.flat()}"

    def lines(self, indent: int, prefix: str = "", suffix: str = "") -> list[str]:
        one = INDENT * indent + prefix + self.flat() + suffix
        if len(one) <= LINE_LENGTH:
            return [one]
        *head, last = self.key.lines(indent, prefix, ": ")
        return [*head, *self.value.lines(indent, last.lstrip(), suffix)]


LONG_KEY = 40
"""A string key longer than this is laid out by `Keyed`, which can split it."""


def mapping_item(key: str | int, value: Expr) -> Item:
    """One `key: value` of a mapping literal."""
    if isinstance(key, str) and len(key) > LONG_KEY:
        return Item(Keyed(Text(key), value))
    return Item(value, f"{literal(key).flat()}: ")


@dataclass(frozen=True)
class Item:
    """One element of a bracket: `value`, `name=value` or `"key": value`."""

    value: Expr
    prefix: str = ""

    def flat(self) -> str:
        return self.prefix + self.value.flat()


@dataclass(frozen=True)
class Bracket(Expr):
    """`head(items)`, `[items]`, `(items)` or `{items}`: a call or a collection."""

    head: str
    open: str
    items: tuple[Item, ...]
    close: str
    is_tuple: bool = False
    is_args: bool = False  # the arguments of a call whose callee is not in `head` (a Chain's)

    def flat(self) -> str:
        body = ", ".join(i.flat() for i in self.items)
        if self.is_tuple and len(self.items) == 1:
            body += ","  # a one-element tuple
        return f"{self.head}{self.open}{body}{self.close}"

    def lines(self, indent: int, prefix: str = "", suffix: str = "") -> list[str]:
        one = INDENT * indent + prefix + self.flat() + suffix
        if len(one) <= LINE_LENGTH or not self.items:
            return [one]
        return self.split(indent, prefix, suffix)

    def split(self, indent: int, prefix: str = "", suffix: str = "") -> list[str]:
        """The bracket over several lines (its contents on one line if they fit there)."""
        first = INDENT * indent + prefix + self.head + self.open
        last = INDENT * indent + self.close + suffix
        body = ", ".join(i.flat() for i in self.items)
        if self.is_tuple and len(self.items) == 1:
            body += ","
        # A collection (not a call) with a comma in it goes one element per line.
        collection = not (self.head or self.is_args)
        if len(INDENT * (indent + 1) + body) <= LINE_LENGTH and not (collection and "," in body):
            return [first, INDENT * (indent + 1) + body, last]
        if len(self.items) == 1 and not self.is_tuple:
            # A single element has no comma to split at: its own brackets split instead.
            (item,) = self.items
            return [first, *item.value.lines(indent + 1, item.prefix), last]
        out = [first]
        for item in self.items:
            out += item.value.lines(indent + 1, item.prefix, ",")
        return [*out, last]


@dataclass(frozen=True)
class Chain(Expr):
    """`first(...)(...)`: a call of what a call returns, such as a layer applied to tensors."""

    first: Bracket
    then: Bracket

    def flat(self) -> str:
        return self.first.flat() + self.then.flat()

    def lines(self, indent: int, prefix: str = "", suffix: str = "") -> list[str]:
        one = INDENT * indent + prefix + self.flat() + suffix
        if len(one) <= LINE_LENGTH:
            return [one]
        # As `ruff format` does: split the last call if what comes before it fits on the line,
        # else split the first call, and the last one too if its closing line is too long.
        last = self.then.lines(indent, prefix + self.first.flat(), suffix)
        if len(last[0]) <= LINE_LENGTH:
            return last
        *lines, close = self.first.split(indent, prefix)
        return [*lines, *self.then.lines(indent, close.lstrip(), suffix)]


@dataclass(frozen=True)
class BinOp(Expr):
    """`left op right`, split before the operator when it is too long."""

    left: Expr
    op: str
    right: Expr

    def flat(self) -> str:
        return f"{self.left.flat()} {self.op} {self.right.flat()}"

    def lines(self, indent: int, prefix: str = "", suffix: str = "") -> list[str]:
        one = INDENT * indent + prefix + self.flat() + suffix
        if len(one) <= LINE_LENGTH or prefix or suffix:
            return [one]
        return [
            *self.left.lines(indent, prefix),
            *self.right.lines(indent, f"{self.op} ", suffix),
        ]


def call(func: str, args: Sequence[Expr] = (), kwargs: Sequence[tuple[str, Expr]] = ()) -> Bracket:
    """`func(args..., name=value...)`; `func` and every keyword are checked names."""
    dotted(func)
    items = [Item(a) for a in args] + [Item(v, f"{identifier(k)}=") for k, v in kwargs]
    return Bracket(func, "(", tuple(items), ")")


def statement(prefix: str, expr: Expr, indent: int = 1) -> Code:
    """One statement, `prefix` (e.g. `x = ` or `return `) and then `expr`, formatted."""
    return Code("\n".join(expr.lines(indent, prefix)))


# --- literals --------------------------------------------------------------------------------


def identifier(name: str) -> Code:
    """`name` as code, once it is checked to be a plain ASCII Python name and not a keyword."""
    if not (isinstance(name, str) and name.isascii() and name.isidentifier()):
        raise ValueError(f"not a Python identifier: {name!r}")
    if keyword.iskeyword(name):
        raise ValueError(f"a Python keyword cannot be a name: {name!r}")
    return Code(name)


def dotted(name: str) -> Code:
    """A dotted name such as `keras.optimizers.SGD`, each part checked."""
    for part in name.split("."):
        identifier(part)
    return Code(name)


def string(text: str) -> Code:
    """A string literal as `ruff format` writes it: double quotes unless single ones need fewer
    escapes; every character that is not printable is escaped, so it never spans lines."""
    quote = "'" if text.count('"') > text.count("'") else '"'
    out = []
    for ch in text:
        if ch == "\\":
            out.append("\\\\")
        elif ch == quote:
            out.append("\\" + ch)
        elif ch.isprintable():
            out.append(ch)
        else:
            out.append(repr(ch)[1:-1])
    return Code(quote + "".join(out) + quote)


def number(value: int | float) -> Code:
    if isinstance(value, bool):
        raise TypeError("a bool is not a number here")
    if isinstance(value, int):
        return Code(str(value))
    if math.isnan(value):
        return Code('float("nan")')
    if math.isinf(value):
        return Code('float("inf")' if value > 0 else 'float("-inf")')
    return Code(repr(value))


ObjectRenderer = Callable[[KerasObject], Expr]


def literal(value: Any, objects: ObjectRenderer | None = None, sort_keys: bool = True) -> Expr:
    """`value` as a layout tree. Only the allow-listed types pass; anything else is an error.

    Mappings are written with their keys sorted (where their order carries no meaning, which is
    every mapping a spec holds as a value) unless `sort_keys` is false. `objects` renders
    `KerasObject`s; by default `keras_object` does.
    """
    render = objects or keras_object
    if value is None or isinstance(value, bool):
        return Atom(repr(value))
    if isinstance(value, int | float):
        return Atom(number(value))
    if isinstance(value, str):
        return Text(value)
    if isinstance(value, KerasObject):
        return render(value)
    if isinstance(value, list | tuple):
        items = tuple(Item(literal(v, objects, sort_keys)) for v in value)
        if isinstance(value, list):
            return Bracket("", "[", items, "]")
        return Bracket("", "(", items, ")", is_tuple=True)
    if isinstance(value, dict):
        keys = list(value)
        for key in keys:
            if isinstance(key, bool) or not isinstance(key, str | int):
                raise TypeError(f"cannot render a mapping key of type {type(key).__name__}")
        if sort_keys:
            keys.sort(key=lambda k: (isinstance(k, str), k))
        items = tuple(mapping_item(k, literal(value[k], objects, sort_keys)) for k in keys)
        return Bracket("", "{", items, "}")
    raise TypeError(f"cannot render a value of type {type(value).__name__} into a script")


def code(value: Any) -> Code:
    """A value's one-line literal text."""
    return Code(literal(value).flat())


# --- Keras objects ---------------------------------------------------------------------------


def keras_object(obj: KerasObject, arg: Callable[[str, Any], Expr] | None = None) -> Expr:
    """A `KerasObject` as code: an alias is its string, a class is a constructor call.

    Arguments are written in the order of the class' signature (then any others by name, then
    `name`), arguments equal to their Keras default are left out, and the first argument is
    written positionally where that reads naturally (`layers.Dense(64, ...)`). `arg` renders one
    argument's value (the emitter uses it for paths and speck's own arguments).
    """
    if obj.alias is not None:
        return Atom(string(obj.alias))
    namespace = KERAS_NAMESPACES[obj.category]
    name = identifier(str(obj.class_name))
    signature = _signature(obj.category, name)
    order = {n: i for i, n in enumerate(signature)}
    names = sorted(obj.args, key=lambda n: (n == "name", n not in order, order.get(n, 0), n))
    positional: list[Expr] = []
    keywords: list[tuple[str, Expr]] = []
    render = arg or (lambda _name, value: literal(value))
    for n in names:
        value = obj.args[n]
        if n != "name" and _is_default(obj.category, name, n, value):
            continue
        expr = render(n, value)
        if not keywords and not positional and signature[:1] == [n] and n in POSITIONAL_FIRST:
            positional.append(expr)
        else:
            keywords.append((n, expr))
    return call(f"{namespace}.{name}", positional, keywords)


def _signature(category: str, name: str) -> list[str]:
    from speck.catalog.lookup import load_catalog

    entry = load_catalog().get(category, name)
    return [] if entry is None else list(entry.args)


def _is_default(category: str, cls: str, name: str, value: Any) -> bool:
    """Whether `value` is exactly (type included) the catalog's default for the argument.

    Only scalars are compared: a spec's list is not a Keras default tuple, and leaving either out
    could change a config. Path arguments always stay, since they are placed under the run folder.
    """
    if name in PATH_ARGS or not (value is None or isinstance(value, bool | int | float | str)):
        return False
    from speck.catalog.lookup import load_catalog

    entry = load_catalog().get(category, cls)
    spec = None if entry is None else entry.args.get(name)
    if spec is None or spec.required:
        return False
    default = spec.default
    return type(default) is type(value) and default == value

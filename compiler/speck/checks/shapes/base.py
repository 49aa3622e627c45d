"""What every shape rule file shares: the rule registry with its `@rule` decorator, the
result and error types, argument readers (mirroring keras.src.utils.argument_validation) and
dimension helpers. Imports nothing heavier than the IR (`speck.ir.graph`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from speck.ir.graph import KerasObject, Shape


class ShapeError(Exception):
    """A layer cannot accept its inputs.

    `arg` names the offending constructor argument when one is to blame (`pool_size`,
    `target_shape`), else None. `fix` is a short suggestion, when there is one.
    """

    def __init__(self, message: str, arg: str | None = None, fix: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.arg = arg
        self.fix = fix

    def __str__(self) -> str:
        return self.message if self.fix is None else f"{self.message} Fix: {self.fix}"


@dataclass(frozen=True)
class LayerShapes:
    """What one layer call produces: one shape per output tensor, and its weight count."""

    outputs: tuple[Shape, ...]
    params: int


def format_shape(shape: Shape) -> str:
    """A batchless shape as Keras prints it, batch first: `(None, 28, 28, 1)`."""
    return repr((None, *shape))


# --------------------------------------------------------------------------------------------
# Argument helpers (mirroring keras.src.utils.argument_validation)


_MISSING = object()


class Args:
    """Read a layer's spec arguments with Keras defaults; wrong values raise ShapeError."""

    def __init__(self, kind: str, args: dict[str, Any]) -> None:
        self.kind = kind
        self.args = args

    def get(self, name: str, default: Any = None) -> Any:
        value = self.args.get(name, default)
        return default if isinstance(value, KerasObject) else value

    def required(self, name: str) -> Any:
        value = self.args.get(name, _MISSING)
        if value is _MISSING or value is None:
            raise ShapeError(
                f"`{self.kind}` needs the argument `{name}`. Received: no {name}.",
                arg=name,
                fix=f"give {self.kind} a `{name}`",
            )
        return value

    def positive_int(self, name: str, default: Any = _MISSING) -> int:
        value = self.required(name) if default is _MISSING else self.get(name, default)
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ShapeError(
                f"`{self.kind}` expects `{name}` to be a positive integer. "
                f"Received: {name}={value!r}",
                arg=name,
            )
        return value

    def flag(self, name: str, default: bool) -> bool:
        return bool(self.get(name, default))

    def int_tuple(
        self, name: str, n: int, default: Any = _MISSING, allow_zero: bool = False
    ) -> tuple[int, ...]:
        value = self.required(name) if default is _MISSING else self.get(name, default)
        return int_tuple(self.kind, name, value, n, allow_zero)

    def data_format(self) -> str:
        value = self.get("data_format")
        if value is None:
            return "channels_last"
        fmt = str(value).lower()
        if fmt not in ("channels_last", "channels_first"):
            raise ShapeError(
                "The `data_format` argument must be one of 'channels_first', "
                f"'channels_last'. Received: data_format={value!r}",
                arg="data_format",
            )
        return fmt

    def padding(self, allowed: Sequence[str], lower: bool = True) -> str:
        value = self.get("padding", "valid")
        if not isinstance(value, str):
            raise ShapeError(
                f"`{self.kind}` expects `padding` to be one of {list(allowed)}. "
                f"Received: padding={value!r}",
                arg="padding",
            )
        padding = value.lower() if lower else value
        if padding not in allowed:
            fix = f"write padding: {value.lower()}" if value.lower() in allowed else None
            raise ShapeError(
                f"`{self.kind}` expects `padding` to be one of {list(allowed)}. "
                f"Received: padding={value!r}",
                arg="padding",
                fix=fix,
            )
        return padding


def int_tuple(kind: str, name: str, value: Any, n: int, allow_zero: bool) -> tuple[int, ...]:
    """keras' `standardize_tuple`: an int or n ints, each > 0 (or >= 0)."""
    message = f"`{kind}` expects `{name}` to be an integer or a list of {n} integers"
    if isinstance(value, int) and not isinstance(value, bool):
        values: tuple[int, ...] = (value,) * n
    elif isinstance(value, (list, tuple)) and len(value) == n:
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            raise ShapeError(f"{message}. Received: {name}={value!r}", arg=name)
        values = tuple(value)
    else:
        raise ShapeError(f"{message}. Received: {name}={value!r}", arg=name)
    bad = [v for v in values if v < 0 or (v == 0 and not allow_zero)]
    if bad:
        bound = ">= 0" if allow_zero else "> 0"
        raise ShapeError(
            f"`{kind}` expects every value of `{name}` to be {bound}. Received: {name}={value!r}",
            arg=name,
        )
    return values


def pairs(kind: str, name: str, value: Any, n: int) -> tuple[tuple[int, int], ...]:
    """Cropping/padding amounts: an int, n ints (symmetric) or n pairs, all >= 0."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise ShapeError(f"`{name}` cannot be negative. Received: {name}={value}", arg=name)
        return ((value, value),) * n
    if not isinstance(value, (list, tuple)) or len(value) != n:
        raise ShapeError(
            f"`{kind}` expects `{name}` to be an integer, {n} integers or {n} pairs of "
            f"integers. Received: {name}={value!r}",
            arg=name,
        )
    out: list[tuple[int, int]] = []
    for entry in value:
        a, b = int_tuple(kind, name, entry, 2, allow_zero=True)
        out.append((a, b))
    return tuple(out)


# --------------------------------------------------------------------------------------------
# Small shape helpers


def one_input(a: Args, inputs: list[Shape]) -> Shape:
    if len(inputs) != 1:
        raise ShapeError(
            f"`{a.kind}` takes one input. Received: {len(inputs)} inputs "
            f"{[format_shape(s) for s in inputs]}.",
            fix="give the layer a single `from`",
        )
    return inputs[0]


def expect_rank(a: Args, shape: Shape, rank: int, what: str) -> None:
    """`rank` counts the batch dimension, as Keras' InputSpec(ndim=...) does."""
    if len(shape) + 1 != rank:
        raise ShapeError(
            f"Input 0 of layer `{a.kind}` is incompatible with the layer: expected ndim={rank} "
            f"({what}), found ndim={len(shape) + 1}. Received: input shape {format_shape(shape)}",
        )


def known_dim(a: Args, shape: Shape, index: int, what: str) -> int:
    """A dimension (batchless index, may be negative) that must be known to build weights."""
    dim = shape[index]
    if dim is None:
        raise ShapeError(
            f"`{a.kind}` needs the {what} of its input to be known to create its weights. "
            f"Received: input shape {format_shape(shape)}",
        )
    return dim


def full_axis(a: Args, axis: Any, rank: int, name: str = "axis") -> int:
    """Normalise a Keras axis (counting the batch dimension) for a tensor of `rank` with batch."""
    if not isinstance(axis, int) or isinstance(axis, bool) or not -rank <= axis < rank:
        raise ShapeError(
            f"`{a.kind}`: {name} {axis!r} is out of bounds for an input of rank {rank} "
            f"(batch included). Received: {name}={axis!r}",
            arg=name,
        )
    return axis % rank


def single(shape: Shape, params: int = 0) -> LayerShapes:
    """The result of a layer with one output."""
    return LayerShapes((tuple(shape),), params)


def split_channels(x: Shape, fmt: str) -> tuple[Shape, int | None]:
    """Split a batchless shape into spatial dims and the channel dim."""
    if fmt == "channels_last":
        return x[:-1], x[-1]
    return x[1:], x[0]


def join_channels(spatial: Sequence[int | None], channels: int | None, fmt: str) -> Shape:
    """The inverse of `split_channels`."""
    if fmt == "channels_last":
        return (*spatial, channels)
    return (channels, *spatial)


def need_inputs(a: Args, inputs: list[Shape], least: int, most: int | None = None) -> None:
    """A layer on several inputs takes `least` to `most` (None: any number) of them."""
    if len(inputs) < least or (most is not None and len(inputs) > most):
        want = str(least) if most == least else f"at least {least}"
        if most is not None and most != least:
            want = f"{least} to {most}"
        raise ShapeError(
            f"`{a.kind}` takes {want} inputs. Received: {len(inputs)} input"
            f"{'' if len(inputs) == 1 else 's'}.",
        )


# --------------------------------------------------------------------------------------------
# The registry

Rule = Callable[[Args, list[Shape]], "LayerShapes | None"]
"""A shape rule: the layer's arguments and its batchless input shapes in, its outputs out
(None where it wraps a layer without a rule). Raises ShapeError where Keras would refuse."""

RULES: dict[str, Rule] = {}
"""Every layer kind (Keras class name, or `ops.<name>`) with a rule, filled by `@rule`."""

CustomRule = Callable[[dict[str, Any], Shape], LayerShapes]

KERAS_CUSTOM_RULES: dict[str, CustomRule] = {}
"""Shape rules of layers Keras' applications define without exporting them, by import path
(a spec names them under `custom_layers`, by a type name of its choosing); filled by
`@custom_rule`."""

InputFreeRule = Callable[[Args], "LayerShapes | None"]

INPUT_FREE_RULES: dict[str, InputFreeRule] = {}
"""Rules for the outputs a layer has whatever its input (a `Reshape` with no -1), used where
the input's shape is unknown; filled by `@input_free`. None where the outputs do depend on it."""

F = TypeVar("F", bound=Callable[..., Any])


def rule(*kinds: str, **params: Any) -> Callable[[F], F]:
    """Register the decorated function as the shape rule of `kinds`.

    Keyword `params` are passed to the function on every call, so one function serves a
    family (`@rule("Conv2D", "Convolution2D", rank=2)`); stack decorators for each member.
    The function is returned unchanged. A kind registered twice is a programming error.
    """

    def register(fn: F) -> F:
        bound: Rule = functools.partial(fn, **params) if params else fn
        for kind in kinds:
            if kind in RULES:
                raise ValueError(f"two shape rules for {kind!r}")
            RULES[kind] = bound
        return fn

    return register


def custom_rule(path: str) -> Callable[[CustomRule], CustomRule]:
    """Register a rule for a layer that Keras' applications define at `module:Class`."""

    def register(fn: CustomRule) -> CustomRule:
        if path in KERAS_CUSTOM_RULES:
            raise ValueError(f"two shape rules for {path!r}")
        KERAS_CUSTOM_RULES[path] = fn
        return fn

    return register


def input_free(*kinds: str) -> Callable[[InputFreeRule], InputFreeRule]:
    """Register the outputs of `kinds` that do not depend on the input's shape."""

    def register(fn: InputFreeRule) -> InputFreeRule:
        for kind in kinds:
            INPUT_FREE_RULES[kind] = fn
        return fn

    return register


def supported_kinds() -> frozenset[str]:
    """The layer class names that have a shape rule."""
    return frozenset(RULES)


def infer_layer(kind: str, args: dict[str, Any], inputs: list[Shape]) -> LayerShapes | None:
    """Output shapes and parameter count of Keras layer `kind` built with `args` on `inputs`.

    `args` holds only the arguments the spec gave (Keras 3 defaults fill in the rest); `inputs`
    are batchless shapes. Returns None when there is no rule for `kind`. Raises ShapeError when
    Keras would reject the layer on these inputs.
    """
    found = RULES.get(kind)
    if found is None:
        return None
    return found(Args(kind, args), [tuple(s) for s in inputs])

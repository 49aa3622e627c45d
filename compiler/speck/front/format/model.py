"""The `model:` section of a spec: a Sequential layer list or a functional graph.

A layer is one line: `- Conv2D: {filters: 32, kernel_size: 3}`, optionally with `name`, `from`
(what it reads; functional models) and `shares` (reuse another layer's weights). Layer types
and their arguments are checked against the Keras catalog in `speck.validate`, not here, so
that every layer Keras has is usable without a hand-written model.
"""

from __future__ import annotations

import keyword
import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_serializer,
    model_validator,
)
from pydantic_core import PydanticCustomError

LAYER_ENTRY_KEYS = ("name", "from", "shares")
"""Keys of a layer entry besides its one layer-type key."""

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_REF = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(?:\[(\d+)\])?$")
DTYPES = ("float32", "float16", "bfloat16", "float64", "int32", "int64", "uint8", "bool", "string")


def check_identifier(value: str) -> str:
    """Node names become Python variable names in emitted scripts, so they must be identifiers."""
    if not _IDENT.match(value):
        raise ValueError(
            f"{value!r} is not a valid node name: use letters, digits and underscores, "
            "starting with a letter (e.g. 'conv_1')"
        )
    if keyword.iskeyword(value):
        raise ValueError(f"{value!r} is a Python keyword; choose another node name")
    return value


def check_reference(value: str) -> str:
    if not _REF.match(value):
        raise ValueError(f"{value!r} is not a node reference: write a node name, or name[index]")
    return value


Identifier = Annotated[str, AfterValidator(check_identifier)]
Reference = Annotated[str, AfterValidator(check_reference)]


def parse_reference(value: str) -> tuple[str, int | None]:
    match = _REF.match(value)
    if not match:
        raise ValueError(value)
    name, index = match.groups()
    return name, None if index is None else int(index)


INT32_MAX = 2**31 - 1
"""The largest size TensorFlow takes in a 32-bit shape: a batch of 2**31 fails with "Invalid
value in tensor used for shape", and its GPU kernels index tensors with 32-bit integers."""
INT64_MAX = 2**63 - 1
"""The largest integer TensorFlow holds: a larger one fails to convert to a tensor ("out-of-range
integer"), and Keras counts training steps in an int64 (`optimizer.iterations`)."""
SEED_MAX = 2**32 - 1
"""`keras.utils.set_random_seed` and NumPy's `RandomState` take seeds from 0 to 2**32 - 1."""

LIMIT_REASONS = {
    INT32_MAX: "TensorFlow takes sizes as 32-bit integers",
    INT64_MAX: "TensorFlow's integers are 64-bit",
    SEED_MAX: "seeds are 32-bit unsigned integers",
}
"""Why each bound is where it is, for the messages of values past it."""


def _check_int64(value: Any) -> None:
    if isinstance(value, int) and not isinstance(value, bool):
        if value > INT64_MAX:
            raise PydanticCustomError(
                "less_than_equal", "Input should be less than or equal to {le}", {"le": INT64_MAX}
            )
        if value < -INT64_MAX - 1:
            raise PydanticCustomError(
                "greater_than_equal",
                "Input should be greater than or equal to {ge}",
                {"ge": -INT64_MAX - 1},
            )
    elif isinstance(value, list | tuple):
        for item in value:
            _check_int64(item)


class StrictModel(BaseModel):
    """Unknown keys are errors; numbers are finite, and integers fit in TensorFlow's int64."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True, allow_inf_nan=False)

    @field_validator("*")
    @classmethod
    def _int64(cls, value: Any) -> Any:
        _check_int64(value)
        return value


class InputSpec(StrictModel):
    """An input tensor: its shape without the batch dimension (`null` for any size)."""

    shape: list[Annotated[int, Field(ge=1, le=INT32_MAX)] | None] = Field(
        description="Shape without the batch dimension, e.g. [28, 28, 1]; null for any size."
    )
    dtype: Literal[DTYPES] = Field("float32", description="Element type.")  # type: ignore[valid-type]

    @model_validator(mode="before")
    @classmethod
    def _shape_shorthand(cls, value: Any) -> Any:
        return {"shape": value} if isinstance(value, list) else value


class LayerSpec(StrictModel):
    """One layer: `{LayerType: {arguments}}` plus optional `name`, `from` and `shares`."""

    kind: str = Field(description="The Keras layer class, e.g. Dense or Conv2D.")
    args: dict[str, Any] = Field(default_factory=dict)
    name: Identifier | None = Field(None, description="Node name; defaults to the Keras style.")
    from_: list[Reference] | None = Field(
        None,
        alias="from",
        description="Node(s) this layer reads (functional models); defaults to the previous one.",
    )
    shares: Identifier | None = Field(
        None, description="Reuse the layer (and weights) of this earlier node; give no arguments."
    )

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, defer_build=True)

    @model_validator(mode="before")
    @classmethod
    def _from_entry(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"kind": value, "args": {}}
        if not isinstance(value, dict) or "kind" in value:
            return value
        entry = {k: v for k, v in value.items() if k in LAYER_ENTRY_KEYS}
        if isinstance(entry.get("from"), str):
            entry["from"] = [entry["from"]]
        kinds = [k for k in value if k not in LAYER_ENTRY_KEYS]
        if "shares" in value and not kinds:
            entry["kind"] = ""
            return entry
        if not kinds:
            raise ValueError("a layer entry needs a layer type, e.g. `- Dense: {units: 10}`")
        if len(kinds) > 1:
            typed = [k for k in kinds if str(k)[:1].isupper()]
            if len(typed) == 1:
                stray = [k for k in kinds if k != typed[0]]
                raise ValueError(
                    f"unknown key(s) {', '.join(map(repr, stray))} beside {typed[0]}: "
                    f"arguments go inside `{typed[0]}: {{...}}`, entries may also have "
                    f"{', '.join(LAYER_ENTRY_KEYS)}"
                )
            raise ValueError(
                f"one layer per entry: found {', '.join(map(repr, kinds))}; "
                "put each layer in its own list item"
            )
        kind = kinds[0]
        args = value[kind]
        if args is None:
            args = {}
        if not isinstance(args, dict):
            raise ValueError(
                f"the arguments of {kind} must be a mapping, e.g. `{kind}: {{...}}`; "
                f"received: {args!r}"
            )
        return {**entry, "kind": str(kind), "args": args}

    @model_serializer(mode="plain")
    def _as_entry(self) -> dict[str, Any]:
        """Written back as the spec writes it: `{name, Type: {arguments}, from, shares}`."""
        entry: dict[str, Any] = {}
        if self.name is not None:
            entry["name"] = self.name
        if self.kind:
            entry[self.kind] = dict(self.args)
        if self.from_ is not None:
            entry["from"] = self.from_[0] if len(self.from_) == 1 else list(self.from_)
        if self.shares is not None:
            entry["shares"] = self.shares
        return entry


class SequentialModel(StrictModel):
    """A stack of layers, each reading the one before."""

    input: InputSpec | None = Field(
        None, description="Input shape without batch dimension, e.g. [784] or [32, 32, 3]."
    )
    input_name: Identifier = Field("inputs", description="Name of the input node.")
    layers: list[LayerSpec] = Field(min_length=1, description="Layers, one per line, in order.")


class FunctionalModel(StrictModel):
    """A graph of named nodes: inputs by name, layers that say what they read, outputs."""

    inputs: dict[Identifier, InputSpec] = Field(
        min_length=1, description="Input nodes by name, each a shape or {shape, dtype}."
    )
    layers: list[LayerSpec] = Field(min_length=1, description="Layers in order.")
    outputs: list[Reference] | dict[Identifier, Reference] = Field(
        min_length=1,
        description="Node(s) whose outputs are the model's outputs: a list, or a mapping of "
        "output name to node (`{priority: p, department: d}`), as `keras.Model` takes them.",
    )

    @model_validator(mode="before")
    @classmethod
    def _one_output(cls, value: Any) -> Any:
        if isinstance(value, dict) and isinstance(value.get("outputs"), str):
            return {**value, "outputs": [value["outputs"]]}
        return value


def _model_style(value: Any) -> str:
    if isinstance(value, dict) and ("inputs" in value or "outputs" in value):
        return "functional"
    if isinstance(value, FunctionalModel):
        return "functional"
    return "sequential"


ModelSpec = Annotated[
    Annotated[SequentialModel, Tag("sequential")] | Annotated[FunctionalModel, Tag("functional")],
    Discriminator(_model_style),
]

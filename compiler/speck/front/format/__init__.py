"""The typed spec: pydantic models of the whole spec format (stage 2's target).

`Spec` is the top level; the sections live beside it (`model`, `training`, `data`). These models
check the outline of a spec; `speck.validate` adds the checks that need the Keras catalog and
maps every problem back to its line and column.
"""

from __future__ import annotations

import keyword
import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field

from speck.front.format.data import DataSpec
from speck.front.format.model import (
    SEED_MAX,
    FunctionalModel,
    Identifier,
    InputSpec,
    LayerSpec,
    ModelSpec,
    SequentialModel,
    StrictModel,
)
from speck.front.format.training import (
    CompileSpec,
    DistributeStrategy,
    FitSpec,
    ObjectSpec,
    Precision,
)
from speck.front.format.tune import TuneSpec

FORMAT_VERSION = 1
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
IMPORT_PATH_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*$"
"""`module.path:ClassName`: dotted Python names, one colon, nothing else."""
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

__all__ = [
    "FORMAT_VERSION",
    "IMPORT_PATH_PATTERN",
    "CompileSpec",
    "DataSpec",
    "FitSpec",
    "FunctionalModel",
    "InputSpec",
    "LayerSpec",
    "SequentialModel",
    "Spec",
]


def check_import_path(value: str) -> str:
    """A custom layer's import path: `module.path:ClassName`, every part a Python name."""
    parts = re.split(r"[.:]", value)
    if not re.fullmatch(IMPORT_PATH_PATTERN, value) or any(keyword.iskeyword(p) for p in parts):
        raise ValueError(
            f"{value!r} is not an import path: write `module.path:ClassName` "
            "(dotted Python names, one colon before the class)"
        )
    return value


def check_layer_type_name(value: str) -> str:
    """A custom layer's type name is used as a name in emitted code, so it is an identifier."""
    if keyword.iskeyword(value):
        raise ValueError(f"{value!r} is a Python keyword; choose another layer type name")
    if not _IDENT.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a layer type name: use letters, digits and underscores, "
            "starting with a letter (e.g. 'ScaledDense')"
        )
    return value


ImportPath = Annotated[
    str,
    AfterValidator(check_import_path),
    Field(json_schema_extra={"pattern": IMPORT_PATH_PATTERN}),
]
LayerTypeName = Annotated[str, AfterValidator(check_layer_type_name)]


class Spec(StrictModel):
    """A speck spec: a model and how to train it."""

    speck: Literal[1] = Field(description="The spec format version; write `speck: 1`.")
    name: str = Field(
        pattern=NAME_PATTERN,
        max_length=100,
        description="The model's name; also names its run folder and emitted script.",
    )
    description: str = Field("", description="What this spec is for, in a sentence.")
    seed: int | None = Field(
        None,
        ge=0,
        le=SEED_MAX,
        description="Random seed for weights, shuffling and noise; unset: not seeded.",
    )
    data: DataSpec | None = Field(
        None, description="Where the data comes from and how to shape it."
    )
    custom_layers: dict[LayerTypeName, ImportPath] | None = Field(
        None,
        description="Layer classes of your own, by the type name layers use: "
        "{ScaledDense: 'mypackage.layers:ScaledDense'}. Validation never imports them; "
        "build, train and emit do so only with --allow-custom-layers.",
    )
    models: dict[Identifier, ModelSpec] | None = Field(
        None,
        description="Models used as layers of `model` (or of models after them), by the layer "
        "type that names them: an encoder, a backbone, a Sequential block.",
    )
    model: ModelSpec = Field(description="The model: `input` + `layers`, or `inputs`/`outputs`.")
    compile: CompileSpec | None = Field(None, description="Optimizer, loss and metrics.")
    fit: FitSpec = Field(default_factory=FitSpec, description="Epochs, batch size, shuffling.")
    callbacks: list[ObjectSpec] = Field(
        default_factory=list, description="Keras callbacks as {ClassName: {arguments}}."
    )
    distribute: DistributeStrategy = Field(
        "default", description="A tf.distribute strategy to build and train under."
    )
    precision: Precision = Field(
        "float32",
        description="Keras dtype policy: mixed_float16 (GPUs) or mixed_bfloat16 (TPUs, recent "
        "CPUs and GPUs) compute in 16 bits with float32 weights and outputs.",
    )
    tune: TuneSpec | None = Field(
        None, description="How `speck tune` searches the spec's search spaces ({tune: ...})."
    )

    def dump(self) -> dict[str, Any]:
        """The spec with every default filled in, as plain data (the run folder keeps it)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)

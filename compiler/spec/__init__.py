"""The typed spec: pydantic models of the whole spec format (stage 2's target).

`Spec` is the top level; the sections live beside it (`model`, `training`, `data`). These models
check the outline of a spec; `speck.validate` adds the checks that need the Keras catalog and
maps every problem back to its line and column.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from speck.spec.data import DataSpec
from speck.spec.model import (
    FunctionalModel,
    InputSpec,
    LayerSpec,
    ModelSpec,
    SequentialModel,
    StrictModel,
)
from speck.spec.training import CompileSpec, DistributeStrategy, FitSpec, ObjectSpec

FORMAT_VERSION = 1
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"

__all__ = [
    "FORMAT_VERSION",
    "CompileSpec",
    "DataSpec",
    "FitSpec",
    "FunctionalModel",
    "InputSpec",
    "LayerSpec",
    "SequentialModel",
    "Spec",
]


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
        None, ge=0, description="Random seed for weights, shuffling and noise; unset: not seeded."
    )
    data: DataSpec | None = Field(
        None, description="Where the data comes from and how to shape it."
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

    def dump(self) -> dict[str, Any]:
        """The spec with every default filled in, as plain data (the run folder keeps it)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)

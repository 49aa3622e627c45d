"""The training sections of a spec: `compile:`, `fit:` and `callbacks:`.

Keras objects are given as data: a string Keras knows (`adam`, `mse`, `accuracy`) or a one-key
mapping `{ClassName: {arguments}}`. Their names and arguments are checked against the catalog
in `speck.validate`; here only the outline is typed.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from speck.front.format.model import INT32_MAX, StrictModel

ObjectSpec = Annotated[
    str | dict[str, dict[str, Any] | None],
    Field(description="A name Keras knows (`adam`) or `{ClassName: {arguments}}`."),
]


class CompileSpec(StrictModel):
    """What `model.compile` receives."""

    optimizer: ObjectSpec = Field(
        "adam", description="`adam`, or e.g. {SGD: {learning_rate: 0.02, momentum: 0.8}}."
    )
    loss: ObjectSpec | dict[str, ObjectSpec] = Field(
        description="A loss, or a mapping of output name to loss for several outputs."
    )
    metrics: list[ObjectSpec] | dict[str, list[ObjectSpec]] = Field(
        default_factory=list, description="Metrics, or a mapping of output name to metrics."
    )
    loss_weights: dict[str, float] | list[float] | None = Field(
        None, description="Weights of each output's loss (multi-output models)."
    )


class FitSpec(StrictModel):
    """What `model.fit` receives (the data comes from the `data:` section)."""

    epochs: int = Field(1, ge=1, description="Number of passes over the training data.")
    batch_size: int = Field(32, ge=1, le=INT32_MAX, description="Samples per gradient step.")
    shuffle: bool = Field(True, description="Shuffle the training data every epoch.")
    validation_freq: int = Field(1, ge=1, description="Validate every N epochs.")
    steps_per_epoch: int | None = Field(None, ge=1, description="Cap the steps of each epoch.")
    verbose: Literal["auto", 0, 1, 2] = Field("auto", description="Keras progress output.")


DistributeStrategy = Literal["default", "mirrored", "multi_worker_mirrored", "tpu"]
Precision = Literal["float32", "mixed_float16", "mixed_bfloat16"]
"""Keras dtype policies a spec may train under: `mixed_*` computes in 16 bits, keeps weights
(and the model's outputs) in float32."""

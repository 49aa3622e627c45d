"""The `tune:` section of a spec: how `speck tune` searches the spec's search spaces.

The spaces themselves (`{tune: {choice: [...]}}` and the like) stand where the values are, in
`model`, `compile` and `fit`; `speck.search` finds them. This section says what the search
optimizes and how long it runs.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from speck.front.format.model import StrictModel

TunerKind = Literal["random", "bayesian", "hyperband"]


class TuneSpec(StrictModel):
    """How `speck tune` searches: the objective, the tuner, the number of trials."""

    objective: str | None = Field(
        None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="The metric to optimize, as Keras logs it (`val_accuracy`); "
        "default: `val_loss`, or `loss` when nothing is validated.",
    )
    direction: Literal["min", "max"] | None = Field(
        None, description="`min` or `max`; default: what the metric's name implies."
    )
    tuner: TunerKind = Field("random", description="`random`, `bayesian` or `hyperband`.")
    max_trials: int = Field(10, ge=1, le=100_000, description="Trials to run at most.")
    executions_per_trial: int = Field(
        1, ge=1, le=100, description="Trainings per trial; the objective is their mean."
    )

"""Lowering the `data:` section into the IR: an ordered list of `DataStep`s and the decisions the
run makes about its splits (which one validates, which figure to draw).

Every choice a run would otherwise make by looking at its data is made here, once:
which splits exist after each step, which arrays a step applies to, whether labels need
flattening or floats widening. The steps and their order are those of the spec's `DataSpec`
docstring, and the random draws (one NumPy generator from the seed) come in the same order:
source sampling, the test split, the validation split, then noise on train, test, validation.
Nothing here imports TensorFlow or NumPy.
"""

from __future__ import annotations

import re
from typing import Any

from speck.diagnostics import Location
from speck.front.format.data import (
    _RATIO,
    RAW_DTYPE,
    CsvSource,
    DataSpec,
    DenoiseTask,
    ImagesSource,
    NpySource,
    NpzSource,
    SplitSpec,
    has_test_split,
)
from speck.ir.graph import DataPlan, DataStep, KerasObject

TEXT_SOURCES = ("keras/imdb", "keras/reuters")
"""Named sources of word-index sequences of varying length, padded after loading."""

COLUMN_LABELS = ("keras/cifar10", "keras/cifar100")
"""Named sources whose labels come as a column, shape (n, 1): flattened after loading."""


def scale_factor(value: float | str) -> tuple[float, tuple[float, float] | None]:
    """The factor, and `(numerator, denominator)` when the spec wrote a fraction like `1/255`."""
    if isinstance(value, int | float):
        return float(value), None
    match = _RATIO.match(value)
    assert match is not None  # validated
    numerator, denominator = match.groups()
    if denominator is None:
        return float(numerator), None
    fraction = (_number(numerator), _number(denominator))
    return float(numerator) / float(denominator), fraction


def _number(text: str) -> float:
    value = float(text)
    return (
        int(value) if value.is_integer() and "." not in text and "e" not in text.lower() else value
    )


def lower_data(
    data: DataSpec,
    *,
    data_dir: str,
    output_names: tuple[str, ...],
    loss: Any,
    input_shape: tuple[int | None, ...] | None,
    location: Location | None = None,
) -> DataPlan:
    """The `DataPlan` of a validated data section. `output_names` and `loss` (a `KerasObject`
    or a dict of them by output) decide which outputs get a confusion matrix; `input_shape` (of
    a model with one input) whether a reconstruct or denoise task draws images."""
    task = data.task_kind
    labelled = task in ("classify", "regress")
    steps: list[DataStep] = []
    source = data.source
    has_test = has_test_split(data)
    reads_files = not isinstance(source, str)
    steps.append(_load_step(data, labelled))

    has_y = labelled or isinstance(source, str)  # named sources always give their labels
    train_arrays = ["x", "y"] if has_y else ["x"]
    test_arrays = ["x_test", "y_test"] if has_y else ["x_test"]
    loaded = [*train_arrays, *test_arrays] if has_test else list(train_arrays)
    table = isinstance(source, CsvSource) and source.typed_columns is not None
    images = isinstance(source, ImagesSource)  # float32 images and flat int64 labels already
    if reads_files and not table and not images:
        steps.append(DataStep("widen", {"arrays": tuple(loaded)}))
    if has_y and not table and not images and (reads_files or source in COLUMN_LABELS):
        labels = tuple(a for a in loaded if a.startswith("y"))
        op = "flatten_labels" if reads_files else "flatten_columns"
        steps.append(DataStep(op, {"arrays": labels}))
    splits_now = ["train", "test"] if has_test else ["train"]

    if data.keep is not None:
        steps.append(DataStep("keep", {"labels": data.keep.labels, "splits": tuple(splits_now)}))
    if data.limit is not None:
        if data.limit.train is not None:
            steps.append(DataStep("limit", {"split": "train", "rows": data.limit.train}))
        if data.limit.test is not None and has_test:
            steps.append(DataStep("limit", {"split": "test", "rows": data.limit.test}))
    if source in TEXT_SOURCES:
        steps.append(DataStep("pad", {"length": data.sequence_length, "splits": tuple(splits_now)}))
    if data.reshape is not None:
        steps.append(
            DataStep("reshape", {"shape": tuple(data.reshape), "splits": tuple(splits_now)})
        )
    if data.scale is not None:
        factor, fraction = scale_factor(data.scale)
        steps.append(
            DataStep("scale", {"factor": factor, "fraction": fraction, "splits": tuple(splits_now)})
        )

    test = data.test if data.test is not None else ("test" if has_test else "none")
    validation = data.validation
    carry_y = has_y
    if isinstance(test, SplitSpec):
        steps.append(DataStep("split", {"held": "test", "fraction": test.split, "y": carry_y}))
        splits_now = ["train", "test"]
    validate_on: str | None = None
    if isinstance(validation, SplitSpec):
        steps.append(
            DataStep("split", {"held": "validation", "fraction": validation.split, "y": carry_y})
        )
        splits_now = [*splits_now, "validation"]
        validate_on = "validation"
    elif validation == "test":
        validate_on = "test"
    if test == "none" and "test" in splits_now:
        if validation == "test":  # the test split serves as validation only
            steps.append(DataStep("rename", {"from": "test", "to": "validation", "y": has_y}))
            splits_now = [s for s in splits_now if s != "test"] + ["validation"]
            validate_on = "validation"
        else:
            steps.append(DataStep("drop", {"split": "test"}))
            splits_now = [s for s in splits_now if s != "test"]
    order = [s for s in ("train", "test", "validation") if s in splits_now]

    extras: list[str] = []
    if table:
        assert isinstance(source, CsvSource)
        typed = source.typed_columns or {}
        rules = {
            name: (rule.impute or "fill", rule.fill, rule.indicator, RAW_DTYPE[typed[name][0]])
            for name, rule in sorted((source.missing or {}).items())
            if rule.impute != "drop"
        }
        if rules:
            steps.append(DataStep("impute", {"rules": rules, "splits": tuple(order)}))
        steps.append(DataStep("features", {"columns": _feature_columns(source)}))
        extras.append("features")
    if labelled and isinstance(source, CsvSource | ImagesSource):
        extras.append("class_names")
    if data.standardize:
        steps.append(DataStep("standardize", {"splits": tuple(order)}))
    if isinstance(data.task, DenoiseTask):
        spec = data.task.denoise
        noise = spec.noise.normal
        clip = None if spec.clip is None else (float(spec.clip[0]), float(spec.clip[1]))
        args = {"stddev": noise.stddev, "mean": noise.mean, "clip": clip, "splits": tuple(order)}
        steps.append(DataStep("denoise", args))
    elif task == "reconstruct":
        steps.append(DataStep("reconstruct", {"splits": tuple(order)}))
    if data.one_hot is not False and task == "classify":
        classes = None if data.one_hot is True else int(data.one_hot)
        steps.append(DataStep("one_hot", {"classes": classes, "splits": tuple(order)}))

    splits = tuple(s for s in ("train", "validation", "test") if s in splits_now)
    figure, class_outputs = _figure(task, output_names, loss, input_shape)
    return DataPlan(
        steps=tuple(steps),
        splits=splits,
        validate_on=validate_on,
        task=task,
        figure=figure,
        class_outputs=class_outputs,
        data_dir=data_dir if reads_files else None,
        cache=data.cache,
        shuffle_buffer=data.shuffle_buffer,
        location=location,
        extras=tuple(extras),
    )


def _feature_columns(source: CsvSource) -> dict[str, tuple[str, dict[str, Any]]]:
    """The `FeatureSpace` features by name (the order `FeatureSpace` concatenates them in):
    each typed column, and a `float` 0/1 column `<name>_missing` after each column whose
    missing-value rule asks for an indicator."""
    out: dict[str, tuple[str, dict[str, Any]]] = {}
    typed = source.typed_columns or {}
    for name, column in sorted(typed.items()):
        out[name] = column
        rule = (source.missing or {}).get(name)
        if rule is not None and rule.indicator:
            out[f"{name}_missing"] = ("float", {})
    return out


def _load_step(data: DataSpec, labelled: bool) -> DataStep:
    source = data.source
    if isinstance(source, str):
        kind, name = source.split("/", 1)
        if kind == "keras":
            return DataStep("keras", {"name": name, "options": dict(data.options)})
        if name == "sample_patches":
            return DataStep("patches", {"options": dict(data.options)})
        return DataStep("sklearn", {"name": name})
    if isinstance(source, NpzSource):
        return DataStep(
            "npz",
            {
                "path": source.npz,
                "x": source.x,
                "y": source.y if labelled else None,
                "x_test": source.x_test,
                "y_test": source.y_test if labelled else None,
            },
        )
    if isinstance(source, NpySource):
        files = source.npy
        return DataStep(
            "npy",
            {
                "x": files.x,
                "y": files.y if labelled else None,
                "x_test": files.x_test,
                "y_test": files.y_test if labelled else None,
            },
        )
    if isinstance(source, CsvSource) and source.typed_columns is not None:
        missing = source.missing or {}
        return DataStep(
            "table",
            {
                "path": source.csv,
                "label": source.label if labelled else None,
                "columns": {n: RAW_DTYPE[k] for n, (k, _) in sorted(source.typed_columns.items())},
                "classes": source.classes,
                "allowed": tuple(sorted(n for n, r in missing.items() if r.impute != "drop")),
                "drop": tuple(sorted(n for n, r in missing.items() if r.impute == "drop")),
                "delimiter": source.delimiter,
                "test_path": source.test_csv,
            },
        )
    if isinstance(source, CsvSource):
        return DataStep(
            "csv",
            {
                "path": source.csv,
                "label": source.label if labelled else None,
                "features": source.features,
                "delimiter": source.delimiter,
                "test_path": source.test_csv,
            },
        )
    assert isinstance(source, ImagesSource)
    return DataStep(
        "images",
        {
            "path": source.images,
            "image_size": tuple(source.image_size),
            "color_mode": source.color_mode,
            "test_path": source.test_images,
        },
    )


def _figure(
    task: str, outputs: tuple[str, ...], loss: Any, input_shape: tuple[int | None, ...] | None
) -> tuple[str | None, tuple[str, ...]]:
    if task in ("reconstruct", "denoise"):
        image = input_shape is not None and (
            len(input_shape) == 2 or (len(input_shape) == 3 and input_shape[-1] in (1, 3, 4))
        )
        return ("reconstructions" if image else None), ()
    if task != "classify":
        return None, ()
    losses = loss if isinstance(loss, dict) else dict.fromkeys(outputs, loss)
    classes = tuple(
        (name, kind) for name in outputs if (kind := class_encoding(losses.get(name))) is not None
    )
    return ("confusion_matrix" if classes else None), classes


def class_encoding(loss: Any) -> str | None:
    """How the targets of an output trained with `loss` name classes: `sparse` (ids),
    `one_hot` (rows), `binary` (0 or 1; `binary_logits` when the loss takes logits), or None
    when they are not classes."""
    if not isinstance(loss, KerasObject):
        return None
    name = snake(loss.alias or loss.class_name or "")
    if name.startswith("sparse_categorical"):
        return "sparse"
    if name.startswith("categorical"):
        return "one_hot"
    if name.startswith("binary"):
        return "binary_logits" if loss.args.get("from_logits") else "binary"
    return None


def snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()

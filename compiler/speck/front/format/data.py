"""The `data:` section of a spec: where the examples come from and how they are shaped.

One idea per line, e.g. the tutorial's denoising autoencoder:

    data:
      source: keras/cifar10        # the real keras.datasets loader
      keep: {label: 1}             # automobiles only
      scale: 1/255
      task:
        denoise: {noise: {normal: {stddev: 0.2}}, clip: [0, 1]}   # noisy inputs, clean targets
      validation: test

These models only check the section's outline and its internal consistency; `speck.ir.lower`
turns the section into the ordered data steps that an emitted program's `load_data()` carries
out. `known_source_shapes` tells static checks what the section will feed a model, without
loading anything. No TensorFlow or NumPy here.
"""

from __future__ import annotations

import difflib
import re
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import (
    BaseModel,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from speck.front.format.model import SEED_MAX, StrictModel

KERAS_SOURCES = (
    "mnist",
    "fashion_mnist",
    "cifar10",
    "cifar100",
    "imdb",
    "reuters",
    "boston_housing",
)
SKLEARN_SOURCES = ("digits", "iris", "wine", "breast_cancer", "diabetes", "sample_patches")
NAMED_SOURCES = tuple(f"keras/{n}" for n in KERAS_SOURCES) + tuple(
    f"sklearn/{n}" for n in SKLEARN_SOURCES
)
TEXT_SOURCES = ("keras/imdb", "keras/reuters")
"""Sources that yield word-index sequences of varying length."""

REGRESSION_SOURCES = ("keras/boston_housing", "sklearn/diabetes")

LabelEncoding = Literal["sparse", "one_hot", "inputs", "values", "unknown"]
"""What the targets are: class ids, one-hot rows, the inputs themselves, real values, or not
known statically (several named target arrays, each for its own output)."""

NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
"""A model input or output name, as a mapping of named arrays uses it."""

TaskKind = Literal["classify", "regress", "reconstruct", "denoise"]

_KNOWN: dict[str, tuple[tuple[int, ...] | None, int | None]] = {
    "keras/mnist": ((28, 28), 10),
    "keras/fashion_mnist": ((28, 28), 10),
    "keras/cifar10": ((32, 32, 3), 10),
    "keras/cifar100": ((32, 32, 3), 100),
    "keras/imdb": (None, 2),
    "keras/reuters": (None, 46),
    "keras/boston_housing": ((13,), None),
    "sklearn/digits": ((64,), 10),
    "sklearn/iris": ((4,), 3),
    "sklearn/wine": ((13,), 3),
    "sklearn/breast_cancer": ((30,), 2),
    "sklearn/diabetes": ((10,), None),
    "sklearn/sample_patches": (None, 2),
}
"""Per-example input shape and number of classes of each named source (None: not fixed)."""

_CHANNELS = {"grayscale": 1, "rgb": 3, "rgba": 4}


# --- loader options --------------------------------------------------------------------------


class _SequenceOptions(StrictModel):
    num_words: int | None = Field(None, ge=1, description="Keep the most frequent N words.")
    skip_top: int = Field(0, ge=0, description="Drop the N most frequent words (become oov).")
    maxlen: int | None = Field(
        None, ge=1, description="Keras drops sequences longer than this (see sequence_length)."
    )
    seed: int = Field(113, ge=0, le=SEED_MAX, description="Seed of Keras' own shuffle of the file.")
    start_char: int | None = Field(1, description="Index that marks a sequence's start.")
    oov_char: int | None = Field(2, description="Index of out-of-vocabulary words.")
    index_from: int = Field(3, ge=0, description="Offset added to word indices.")


class _ReutersOptions(_SequenceOptions):
    test_split: float = Field(0.2, ge=0, lt=1, description="Fraction Keras holds out as test.")


class _Cifar100Options(StrictModel):
    label_mode: Literal["fine", "coarse"] = Field(
        "fine", description="100 fine classes or 20 coarse superclasses."
    )


class _BostonOptions(StrictModel):
    test_split: float = Field(0.2, ge=0, lt=1, description="Fraction Keras holds out as test.")
    seed: int = Field(
        113, ge=0, le=SEED_MAX, description="Seed of Keras' own shuffle before splitting."
    )


class _PatchOptions(StrictModel):
    size: int = Field(32, ge=2, le=427, description="Side of the square patches, in pixels.")
    count: int = Field(2000, ge=2, description="How many patches, half from each photo.")


class _NoOptions(StrictModel):
    pass


SOURCE_OPTIONS: dict[str, type[StrictModel]] = {
    "keras/cifar100": _Cifar100Options,
    "keras/imdb": _SequenceOptions,
    "keras/reuters": _ReutersOptions,
    "keras/boston_housing": _BostonOptions,
    "sklearn/sample_patches": _PatchOptions,
}
"""Which `options` each named source takes (all others take none)."""


# --- sources ---------------------------------------------------------------------------------


Arrays = str | dict[str, str]
"""One array (a key or a path), or several: model input or output name -> key or path."""


def _check_named_arrays(owner: str, **fields: Arrays | None) -> None:
    """A mapping names at least one array, and a test field has the same form and names as
    its training field (`x_test` as `x`, `y_test` as `y`)."""
    for key, value in fields.items():
        if isinstance(value, dict) and not value:
            raise ValueError(f"{owner}: {key} maps no names to arrays; name at least one")
        bad = [n for n in value or () if isinstance(value, dict) and not re.match(NAME_PATTERN, n)]
        if bad:
            raise ValueError(
                f"{owner}: {key} maps model input or output names to arrays; {bad[0]!r} is not "
                "a name (letters, digits and _, not starting with a digit)"
            )
    for train, test in (("x", "x_test"), ("y", "y_test")):
        a, b = fields.get(train), fields.get(test)
        if a is None or b is None:
            continue
        if isinstance(a, dict) != isinstance(b, dict) or (
            isinstance(a, dict) and isinstance(b, dict) and sorted(a) != sorted(b)
        ):
            names = sorted(a) if isinstance(a, dict) else "one array"
            raise ValueError(
                f"{owner}: {test} must name the same arrays as {train} ({names}). Received: {b}"
            )


class NpzSource(StrictModel):
    """Arrays from one `.npz` archive, by key. A model with several inputs or outputs takes a
    mapping from its input (or output) names to keys: `x: {image: image, profile: profile}`."""

    npz: str = Field(description="Path of the .npz file, relative to the spec file.")
    x: Arrays = Field(
        "x", description="Key of the training inputs, or a mapping: model input name -> key."
    )
    y: Arrays = Field(
        "y",
        description="Key of the training targets, or a mapping: model output name -> key "
        "(unused by reconstruct/denoise).",
    )
    x_test: Arrays | None = Field(
        None, description="Key (or mapping, as x) of the test inputs, if the file has them."
    )
    y_test: Arrays | None = Field(None, description="Key (or mapping, as y) of the test targets.")

    @model_validator(mode="after")
    def _same_names(self) -> NpzSource:
        _check_named_arrays("npz", x=self.x, y=self.y, x_test=self.x_test, y_test=self.y_test)
        return self


class NpyFiles(StrictModel):
    """Paths of `.npy` files; each may instead be a mapping from model input (or output)
    names to paths, for a model with several inputs or outputs."""

    x: Arrays = Field(description="Path of the .npy file of training inputs (or a mapping).")
    y: Arrays | None = Field(
        None, description="Path of the .npy file of training targets (or a mapping)."
    )
    x_test: Arrays | None = Field(None, description="Path of the .npy file of test inputs.")
    y_test: Arrays | None = Field(None, description="Path of the .npy file of test targets.")

    @model_validator(mode="after")
    def _same_names(self) -> NpyFiles:
        _check_named_arrays("npy", x=self.x, y=self.y, x_test=self.x_test, y_test=self.y_test)
        return self


class NpySource(StrictModel):
    """Arrays from separate `.npy` files."""

    npy: NpyFiles = Field(description="Paths of the .npy files, relative to the spec file.")


COLUMN_KINDS = (
    "float",
    "float_normalized",
    "float_rescaled",
    "float_discretized",
    "integer_categorical",
    "string_categorical",
    "integer_hashed",
    "string_hashed",
    "text",
)
"""What a typed column is: `keras.utils.FeatureSpace`'s feature types, and `text` (a
`TextVectorization` bag of words)."""

COLUMN_OPTIONS: dict[str, dict[str, Any]] = {
    "float": {},
    "float_normalized": {},
    "float_rescaled": {"scale": float, "offset": float},
    "float_discretized": {"num_bins": int, "bin_boundaries": list},
    "integer_categorical": {"max_tokens": int, "num_oov_indices": int},
    "string_categorical": {"max_tokens": int, "num_oov_indices": int},
    "integer_hashed": {"num_bins": int},
    "string_hashed": {"num_bins": int},
    "text": {"max_tokens": int, "output_mode": ("multi_hot", "count", "tf_idf"), "ngrams": int},
}
"""The arguments each kind takes (those of its `FeatureSpace` constructor or layer)."""

NEEDS_BINS = ("float_discretized", "integer_hashed", "string_hashed")
"""Kinds whose `FeatureSpace` constructor requires `num_bins`."""

RAW_DTYPE = {kind: "float" for kind in COLUMN_KINDS if kind.startswith("float")}
RAW_DTYPE.update(
    integer_categorical="int",
    integer_hashed="int",
    string_categorical="string",
    string_hashed="string",
    text="string",
)
"""How each kind's cells are read: numbers, integers or text."""

IMPUTE = ("mean", "median", "most_frequent", "drop")


def _column(value: Any) -> tuple[str, dict[str, Any]]:
    """A column's kind and options from `kind` or `{kind: {options}}`."""
    if isinstance(value, str):
        kind, options = value, {}
    elif isinstance(value, dict) and len(value) == 1:
        ((kind, options),) = value.items()
        options = {} if options is None else options
        if not isinstance(options, dict):
            raise ValueError(f"the options of {kind} are a mapping. Received: {options!r}")
    else:
        raise ValueError(
            f"a column is a kind such as float_normalized, or {{kind: {{options}}}}. "
            f"Received: {value!r}"
        )
    if kind not in COLUMN_KINDS:
        close = difflib.get_close_matches(str(kind), COLUMN_KINDS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"unknown column kind {kind!r}{hint}; kinds: {', '.join(COLUMN_KINDS)}")
    allowed = COLUMN_OPTIONS[kind]
    for key, val in options.items():
        if key not in allowed:
            known = ", ".join(allowed) or "none"
            raise ValueError(f"{kind} takes no option {key!r}; its options: {known}")
        want = allowed[key]
        if isinstance(want, tuple):
            if val not in want:
                raise ValueError(f"{kind} {key} is one of {', '.join(want)}. Received: {val!r}")
        elif want is int and (isinstance(val, bool) or not isinstance(val, int) or val < 0):
            raise ValueError(f"{kind} {key} is a whole number >= 0. Received: {val!r}")
        elif want is float and (isinstance(val, bool) or not isinstance(val, int | float)):
            raise ValueError(f"{kind} {key} is a number. Received: {val!r}")
        elif want is list and not (
            isinstance(val, list) and all(isinstance(v, int | float) for v in val)
        ):
            raise ValueError(f"{kind} {key} is a list of numbers. Received: {val!r}")
    if kind in NEEDS_BINS and "num_bins" not in options:
        raise ValueError(f"{kind} needs num_bins, e.g. {{{kind}: {{num_bins: 10}}}}")
    return kind, dict(options)


class MissingRule(StrictModel):
    """What to do with a column's empty cells: fill them with a statistic of the training split
    (`mean`, `median`, `most_frequent`) or a `fill` value, optionally adding a 0/1 column
    `<name>_missing`; or `drop` the rows."""

    impute: Literal["mean", "median", "most_frequent", "drop"] | None = None
    fill: float | str | None = Field(None, description="A constant to fill empty cells with.")
    indicator: bool = Field(False, description="Add a 0/1 column <name>_missing.")

    @model_validator(mode="before")
    @classmethod
    def _short(cls, value: Any) -> Any:
        return {"impute": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _one_rule(self) -> MissingRule:
        if (self.impute is None) == (self.fill is None):
            raise ValueError("give one of impute (mean, median, most_frequent, drop) or fill")
        if self.impute == "drop" and self.indicator:
            raise ValueError("dropped rows leave nothing to indicate; remove indicator")
        return self


class CsvSource(StrictModel):
    """A CSV file with a header row. Without `columns`, the features are numbers; with
    `columns`, each column has a kind (`keras.utils.FeatureSpace`'s feature types, or `text`),
    and the model takes raw rows: the preprocessing, adapted on the training split, is part of
    the model."""

    csv: str = Field(description="Path of the CSV file, relative to the spec file.")
    label: str | None = Field(None, description="Column of the targets (text labels become ids).")
    features: list[str] | None = Field(
        None, min_length=1, description="Columns of the inputs; default: all but the label."
    )
    columns: dict[str, Any] | None = Field(
        None,
        min_length=1,
        json_schema_extra={
            "additionalProperties": {
                "anyOf": [
                    {"enum": list(COLUMN_KINDS)},
                    {
                        "type": "object",
                        "propertyNames": {"enum": list(COLUMN_KINDS)},
                        "minProperties": 1,
                        "maxProperties": 1,
                    },
                ]
            }
        },
        description="Typed feature columns: name -> kind (float, float_normalized, "
        "float_rescaled, float_discretized, integer_categorical, string_categorical, "
        "integer_hashed, string_hashed, text) or {kind: {options}}.",
    )
    classes: list[str] | None = Field(
        None, min_length=2, description="The label's classes in id order (default: sorted)."
    )
    missing: dict[str, MissingRule] | None = Field(
        None,
        description="Per column: mean, median, most_frequent, drop, {fill: value}, "
        "or {impute: ..., indicator: true}. Without a rule an empty cell is an error.",
    )
    test_csv: str | None = Field(None, description="A second CSV with the same columns, as test.")
    delimiter: str = Field(",", min_length=1, max_length=1, description="Field separator.")

    @field_validator("columns")
    @classmethod
    def _kinds(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        for name, column in (value or {}).items():
            try:
                _column(column)
            except ValueError as err:
                raise ValueError(f"column {name!r}: {err}") from None
        return value

    @model_validator(mode="after")
    def _columns_fit(self) -> CsvSource:
        columns = self.typed_columns
        if columns is not None and self.features is not None:
            raise ValueError("columns already name the features; remove features")
        if columns is not None and self.label in columns:
            raise ValueError(f"the label {self.label!r} is a column of the inputs too")
        if self.classes is not None:
            if self.label is None:
                raise ValueError("classes name the label's values; name the label column")
            if len(set(self.classes)) != len(self.classes):
                raise ValueError(f"classes are listed twice: {self.classes}")
        for name, rule in (self.missing or {}).items():
            if columns is None:
                raise ValueError("missing-value rules need typed columns (columns: ...)")
            if name == self.label:
                if rule.impute != "drop":
                    raise ValueError(f"rows without a label can only be dropped ({name}: drop)")
                continue
            if name not in columns:
                close = difflib.get_close_matches(name, list(columns), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise ValueError(f"missing names {name!r}, which is not a column{hint}")
            raw = RAW_DTYPE[columns[name][0]]
            if rule.impute in ("mean", "median") and raw != "float":
                raise ValueError(
                    f"{name} is a {columns[name][0]} column; its {rule.impute} means nothing "
                    "(use most_frequent, fill or drop)"
                )
            if rule.fill is not None and (raw == "string") != isinstance(rule.fill, str):
                raise ValueError(f"{name} is a {columns[name][0]} column; fill it with a {raw}")
        return self

    @property
    def typed_columns(self) -> dict[str, tuple[str, dict[str, Any]]] | None:
        """Each column's kind and options, in spec order (None: untyped numeric features)."""
        if self.columns is None:
            return None
        return {name: _column(value) for name, value in self.columns.items()}


class ImagesSource(StrictModel):
    """A folder of class subfolders of images, read by Keras' image_dataset_from_directory."""

    images: str = Field(description="Folder of class subfolders, relative to the spec file.")
    image_size: list[Annotated[int, Field(ge=1)]] = Field(
        [256, 256], min_length=2, max_length=2, description="Resize every image to [height, width]."
    )
    color_mode: Literal["grayscale", "rgb", "rgba"] = Field("rgb", description="Channels to keep.")
    test_images: str | None = Field(
        None, description="A second folder of the same classes, as test."
    )


FILE_SOURCE_KEYS = ("npz", "npy", "csv", "images")


def _source_kind(value: Any) -> str | None:
    if isinstance(value, str):
        return "named"
    if isinstance(value, dict):
        return next((k for k in FILE_SOURCE_KEYS if k in value), None)
    if isinstance(value, BaseModel):
        return next((k for k in FILE_SOURCE_KEYS if k in type(value).model_fields), None)
    return None


Source = Annotated[
    Annotated[Literal[NAMED_SOURCES], Tag("named")]  # type: ignore[valid-type]
    | Annotated[NpzSource, Tag("npz")]
    | Annotated[NpySource, Tag("npy")]
    | Annotated[CsvSource, Tag("csv")]
    | Annotated[ImagesSource, Tag("images")],
    Discriminator(
        _source_kind,
        custom_error_type="invalid_source",
        custom_error_message=(
            "a source is a name such as 'keras/mnist', or a mapping with one of the keys "
            "npz, npy, csv, images"
        ),
    ),
]


# --- steps -----------------------------------------------------------------------------------


class KeepSpec(StrictModel):
    """Keep only some rows."""

    label: int | list[int] = Field(description="Keep rows whose label is this (or one of these).")

    @field_validator("label")
    @classmethod
    def _not_empty(cls, value: int | list[int]) -> int | list[int]:
        if isinstance(value, list) and not value:
            raise ValueError("list at least one label to keep")
        return value

    @property
    def labels(self) -> list[int]:
        return [self.label] if isinstance(self.label, int) else list(self.label)


class LimitSpec(StrictModel):
    """Use only the first rows of each split the source gives (after `keep`)."""

    train: int | None = Field(None, ge=1, description="Rows of the training split to use.")
    test: int | None = Field(None, ge=1, description="Rows of the test split to use.")


class SplitSpec(StrictModel):
    """Hold out a random fraction of the training rows (seeded by the spec's seed)."""

    split: float = Field(gt=0, lt=1, description="Fraction of the training rows to hold out.")


def _holdout_kind(value: Any) -> str:
    return "name" if isinstance(value, str) else "split"


Holdout = Annotated[
    Annotated[Literal["test", "none"], Tag("name")] | Annotated[SplitSpec, Tag("split")],
    Discriminator(_holdout_kind),
]


class NormalNoise(StrictModel):
    mean: float = Field(0.0, description="Mean of the Gaussian noise.")
    stddev: float = Field(gt=0, description="Standard deviation of the Gaussian noise.")


class NoiseSpec(StrictModel):
    normal: NormalNoise = Field(description="Additive Gaussian noise.")


class DenoiseSpec(StrictModel):
    noise: NoiseSpec = Field(
        description="The noise added to the inputs, e.g. {normal: {stddev: 0.2}}."
    )
    clip: list[float] | None = Field(
        None, min_length=2, max_length=2, description="Clip the noisy inputs to [low, high]."
    )

    @field_validator("clip")
    @classmethod
    def _ordered(cls, value: list[float] | None) -> list[float] | None:
        if value is not None and not value[0] < value[1]:
            raise ValueError(f"clip needs low < high. Received: clip={value}")
        return value


class DenoiseTask(StrictModel):
    """Inputs are the examples with noise added; targets are the clean examples."""

    denoise: DenoiseSpec


def _task_kind(value: Any) -> str:
    return "name" if isinstance(value, str) else "denoise"


Task = Annotated[
    Annotated[Literal["classify", "regress", "reconstruct"], Tag("name")]
    | Annotated[DenoiseTask, Tag("denoise")],
    Discriminator(_task_kind),
]

_RATIO = re.compile(r"^\s*(-?\d+(?:\.\d*)?(?:[eE]-?\d+)?)\s*(?:/\s*(\d+(?:\.\d*)?)\s*)?$")


def parse_ratio(value: float | str) -> float:
    """`0.5`, `"0.5"` or `"1/255"` as a float."""
    if isinstance(value, int | float):
        return float(value)
    match = _RATIO.match(value)
    if not match:
        raise ValueError(f"write a number or a fraction like '1/255'. Received: {value!r}")
    numerator, denominator = match.groups()
    if denominator is not None and float(denominator) == 0:
        raise ValueError(f"division by zero. Received: {value!r}")
    return float(numerator) / (float(denominator) if denominator is not None else 1.0)


# --- the section -----------------------------------------------------------------------------


class DataSpec(StrictModel):
    """Where the examples come from and the steps that shape them, applied in a fixed order:
    load, keep, limit, pad sequences, reshape, scale, hold out test and validation rows,
    standardize, make the task's targets, one-hot encode.

    A file source may name several input or target arrays (`x: {image: ..., profile: ...}`),
    for a model with several inputs or outputs. `limit` and the held-out test and validation
    rows then take the same rows of every array; `scale` and `standardize` apply to every
    input array; `reshape`, `keep`, `one_hot` and the reconstruct and denoise tasks, which read
    one array, are refused."""

    source: Source = Field(
        description=(
            "keras/{mnist,fashion_mnist,cifar10,cifar100,imdb,reuters,boston_housing}, "
            "sklearn/{digits,iris,wine,breast_cancer,diabetes,sample_patches}, "
            "or {npz: ...}, {npy: ...}, {csv: ...}, {images: ...}."
        )
    )
    options: dict[str, Any] = Field(
        default_factory=dict,
        description=(
            "Arguments of the named source's loader: imdb/reuters num_words, maxlen, ...; "
            "cifar100 label_mode; boston_housing test_split; sample_patches size, count."
        ),
    )
    keep: KeepSpec | None = Field(None, description="Keep only rows with these labels.")
    limit: LimitSpec | None = Field(None, description="Use only the first N rows of a split.")
    sequence_length: int | None = Field(
        None, ge=1, description="Pad or cut word-index sequences (imdb, reuters) to this length."
    )
    reshape: list[int] | None = Field(
        None, min_length=1, description="New shape of each example; one entry may be -1."
    )
    scale: float | str | None = Field(
        None,
        description="Multiply inputs (every input array) by this (a number or a fraction "
        "like 1/255).",
    )
    standardize: bool = Field(
        False, description="Subtract the per-feature mean and divide by the std of the train split."
    )
    one_hot: bool | int = Field(
        False, description="One-hot encode labels: the number of classes, or true to infer it."
    )
    task: Task | None = Field(
        None,
        description=(
            "What the targets are: classify or regress (the labels as given; default by source), "
            "reconstruct (targets are the inputs), or {denoise: {noise: ..., clip: ...}}."
        ),
    )
    validation: Holdout = Field(
        "none", description="Validation data: test (the test split), {split: 0.1}, or none."
    )
    test: Holdout | None = Field(
        None,
        description="Test data: test (the source's test split; the default when it has one), "
        "{split: 0.1}, or none.",
    )
    shuffle_buffer: int | None = Field(
        None, ge=1, description="Shuffle buffer of the input pipeline; default: the whole split."
    )
    cache: bool = Field(True, description="Cache the input pipeline in memory.")

    @field_validator("scale")
    @classmethod
    def _scale_is_ratio(cls, value: float | str | None) -> float | str | None:
        if value is not None and parse_ratio(value) == 0:
            raise ValueError("scale 0 would erase the inputs")
        return value

    @field_validator("one_hot", mode="before")
    @classmethod
    def _classes_or_true(cls, value: Any) -> Any:
        if isinstance(value, bool) or (isinstance(value, int) and value >= 2):
            return value
        raise ValueError(f"write the number of classes (>= 2) or true. Received: one_hot={value!r}")

    @field_validator("reshape")
    @classmethod
    def _one_unknown(cls, value: list[int] | None) -> list[int] | None:
        if value is None:
            return value
        if value.count(-1) > 1 or any(d == 0 or d < -1 for d in value):
            raise ValueError(f"sizes must be >= 1, with at most one -1. Received: {value}")
        return value

    @field_validator("options")
    @classmethod
    def _options_fit_source(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        source = info.data.get("source")
        if source is None or not value:
            return value
        if not isinstance(source, str):
            raise ValueError(
                "options are for named sources; a file source takes its settings inline"
            )
        model = SOURCE_OPTIONS.get(source, _NoOptions)
        try:
            model.model_validate(value)
        except ValidationError as err:
            raise ValueError(_options_message(source, model, err)) from None
        return value

    @model_validator(mode="after")
    def _consistent(self) -> DataSpec:
        source = self.source
        name = source if isinstance(source, str) else None
        if self.sequence_length is not None and name not in TEXT_SOURCES:
            raise ValueError(
                "sequence_length is for word-index sources (keras/imdb, keras/reuters)"
            )
        for key in ("validation", "test"):
            if getattr(self, key) == "test" and not has_test_split(self):
                raise ValueError(
                    f"{key}: test, but this source has no test split; write {key}: {{split: 0.2}}"
                )
        if isinstance(self.validation, SplitSpec) and isinstance(self.test, SplitSpec):
            total = self.validation.split + self.test.split
            if total >= 1:
                raise ValueError(f"validation and test splits together hold out {total:g} >= 1")
        kind = self.task_kind
        if self.one_hot is not False and kind != "classify":
            raise ValueError(f"one_hot encodes class labels; the task is {kind}")
        if self.keep is not None and name in REGRESSION_SOURCES:
            raise ValueError(f"keep selects rows by class label; {name} has real-valued targets")
        n_classes = source_classes(self)
        if n_classes is not None:
            if self.keep is not None:
                bad = [lab for lab in self.keep.labels if not 0 <= lab < n_classes]
                if bad:
                    raise ValueError(f"keep: {name} labels are 0..{n_classes - 1}. Received: {bad}")
            if self.one_hot is not True and self.one_hot is not False and self.one_hot < n_classes:
                raise ValueError(
                    f"one_hot: {self.one_hot} is fewer than the {n_classes} classes of {name}"
                )
        base = source_input_shape(self)
        if self.reshape is not None and base is not None:
            _check_reshape(base, self.reshape)
        self._named_arrays_fit_steps()
        return self

    def _named_arrays_fit_steps(self) -> None:
        """Steps that read one input array or one label array refuse named arrays."""
        inputs, targets = named_inputs(self), named_targets(self)
        if inputs is not None:
            if self.reshape is not None:
                raise ValueError(
                    f"reshape gives every example one shape, but the inputs are several named "
                    f"arrays ({', '.join(inputs)}); store each array in the shape its model "
                    "input takes"
                )
            if self.task_kind in ("reconstruct", "denoise"):
                raise ValueError(
                    f"task {self.task_kind} makes the inputs the targets, which needs one input "
                    f"array; the inputs are several named arrays ({', '.join(inputs)})"
                )
        if targets is not None:
            if self.keep is not None:
                raise ValueError(
                    f"keep selects rows by one label array, but the targets are several named "
                    f"arrays ({', '.join(targets)}); keep the rows you want in the file"
                )
            if self.one_hot is not False:
                raise ValueError(
                    f"one_hot encodes one label array, but the targets are several named "
                    f"arrays ({', '.join(targets)}); store one-hot rows in the file, or use a "
                    "sparse loss"
                )

    @property
    def task_kind(self) -> TaskKind:
        """The task, with the default filled in: regress for real-valued sources, else classify."""
        if isinstance(self.task, DenoiseTask):
            return "denoise"
        if self.task is not None:
            return self.task
        return "regress" if self.source in REGRESSION_SOURCES else "classify"

    @property
    def scale_factor(self) -> float | None:
        return None if self.scale is None else parse_ratio(self.scale)


def _options_message(source: str, model: type[StrictModel], err: ValidationError) -> str:
    choices = sorted(model.model_fields)
    lines = []
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"])
        if e["type"] == "extra_forbidden":
            if not choices:
                lines.append(f"{source} takes no options. Received: {key}")
                continue
            close = difflib.get_close_matches(key, choices, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            lines.append(
                f"unknown option {key!r} for {source}{hint}; options: {', '.join(choices)}"
            )
        else:
            lines.append(f"option {key}: {e['msg']}")
    return "; ".join(lines)


def _check_reshape(base: tuple[int, ...], new: list[int]) -> None:
    size = 1
    for d in base:
        size *= d
    known = 1
    for d in new:
        known *= d if d != -1 else 1
    fits = size % known == 0 if -1 in new else size == known
    if not fits:
        raise ValueError(f"reshape: cannot reshape examples of shape {list(base)} into {new}")


# --- facts for static checks ----------------------------------------------------------------


def has_test_split(data: DataSpec) -> bool:
    """Whether the source itself provides a test split."""
    source = data.source
    if isinstance(source, str):
        return source.startswith("keras/")
    if isinstance(source, NpzSource):
        return source.x_test is not None
    if isinstance(source, NpySource):
        return source.npy.x_test is not None
    if isinstance(source, CsvSource):
        return source.test_csv is not None
    return source.test_images is not None


def source_input_shape(data: DataSpec) -> tuple[int, ...] | None:
    """The shape of one example as the source gives it (before `reshape`), if known."""
    source = data.source
    if isinstance(source, str):
        if source in TEXT_SOURCES:
            return None if data.sequence_length is None else (data.sequence_length,)
        if source == "sklearn/sample_patches":
            size = int(data.options.get("size", 32))
            return (size, size, 3)
        return _KNOWN[source][0]
    if named_inputs(data) is not None:
        return None
    if isinstance(source, CsvSource) and source.features is not None:
        return (len(source.features),)
    if isinstance(source, ImagesSource):
        return (*source.image_size, _CHANNELS[source.color_mode])
    return None


def _arrays_field(data: DataSpec, key: str) -> Any:
    source = data.source
    if isinstance(source, NpzSource):
        return getattr(source, key)
    if isinstance(source, NpySource):
        return getattr(source.npy, key)
    return None


def named_inputs(data: DataSpec) -> list[str] | None:
    """The model input names a source's `x` mapping feeds (None: one input array)."""
    x = _arrays_field(data, "x")
    return list(x) if isinstance(x, dict) else None


def named_targets(data: DataSpec) -> list[str] | None:
    """The model output names a source's `y` mapping feeds (None: one target array, or none)."""
    y = _arrays_field(data, "y")
    return list(y) if isinstance(y, dict) else None


def source_classes(data: DataSpec) -> int | None:
    """The number of label classes the source has, if known."""
    source = data.source
    if isinstance(source, CsvSource) and source.classes is not None:
        return len(source.classes)
    if not isinstance(source, str):
        return None
    if source == "keras/cifar100" and data.options.get("label_mode") == "coarse":
        return 20
    return _KNOWN[source][1]


class SourceFacts(NamedTuple):
    """What the data section feeds a model: the shape of one input example (no batch
    dimension), the number of classes, and how targets are encoded. None (or "unknown"): not
    known statically, as for a source of several named input or target arrays."""

    x_shape: tuple[int, ...] | None
    n_classes: int | None
    label_encoding: LabelEncoding


def known_source_shapes(data: DataSpec) -> SourceFacts:
    """The input shape, class count and target encoding that `data` yields, after its steps."""
    shape = source_input_shape(data)
    if data.reshape is not None:
        if -1 not in data.reshape:
            shape = tuple(data.reshape)
        elif shape is not None:
            size = 1
            for d in shape:
                size *= d
            known = -1
            for d in data.reshape:
                known *= d
            shape = tuple(size // known if d == -1 else d for d in data.reshape)
    kind = data.task_kind
    if kind in ("reconstruct", "denoise"):
        return SourceFacts(shape, None, "inputs")
    if named_targets(data) is not None:
        return SourceFacts(shape, None, "unknown")
    if kind == "regress":
        return SourceFacts(shape, None, "values")
    n_classes = data.one_hot if not isinstance(data.one_hot, bool) else source_classes(data)
    return SourceFacts(shape, n_classes, "one_hot" if data.one_hot is not False else "sparse")

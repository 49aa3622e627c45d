"""Hand-written refinements of the introspected catalog: closed sets and ranges of arguments.

Introspection tells us which arguments a Keras class takes and their defaults, not which
values Keras accepts. The rules below add that, for the arguments where a precise check helps a
person (`padding: sme` -> did you mean `same`?). They refine; they never gate what exists: an
argument without a rule is still accepted as the catalog describes it.

Every rule says what Keras itself does with a value outside it (`raises`, `warns` and falls
back, or `accepts`), and the catalog tests prove each claim against the installed Keras:
every allowed value constructs (and, for call-time checks, runs), every value outside does
what the rule says. `choices` constrain string values, the bounds constrain numbers; an
argument may have both (`save_freq`: `"epoch"` or a positive int). `nullable` says `None`
is accepted too. Choices are spelled as Keras stores them (lower case); Keras lower-cases
some (conv `padding`) but not others (pooling `padding` in a functional model).

No TensorFlow or Keras import here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Outcome = Literal["raises", "warns", "accepts"]


@dataclass(frozen=True)
class Rule:
    """A closed set and/or range for one argument of some classes in one category."""

    category: str
    classes: tuple[str, ...]
    arg: str
    choices: tuple[str, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    exclusive_maximum: bool = False
    nullable: bool = False
    on_bad_choice: Outcome = "raises"
    on_below: Outcome = "raises"
    on_above: Outcome = "raises"
    at_call: bool = False  # Keras checks the value only when the layer runs
    note: str = ""


# ----------------------------------------------------------------------------- class groups

CONV = (
    "Conv1D",
    "Conv2D",
    "Conv3D",
    "Conv1DTranspose",
    "Conv2DTranspose",
    "Conv3DTranspose",
    "SeparableConv1D",
    "SeparableConv2D",
    "DepthwiseConv1D",
    "DepthwiseConv2D",
    "ConvLSTM1D",
    "ConvLSTM2D",
    "ConvLSTM3D",
)
# ConvLSTM layers take `filters=0` without complaint, so they get no rule for it.
CONV_WITH_FILTERS = tuple(c for c in CONV if not c.startswith(("Depthwise", "ConvLSTM")))
POOLING = (
    "MaxPooling1D",
    "MaxPooling2D",
    "MaxPooling3D",
    "AveragePooling1D",
    "AveragePooling2D",
    "AveragePooling3D",
)
GLOBAL_POOLING = (
    "GlobalMaxPooling1D",
    "GlobalMaxPooling2D",
    "GlobalMaxPooling3D",
    "GlobalAveragePooling1D",
    "GlobalAveragePooling2D",
    "GlobalAveragePooling3D",
)
DATA_FORMAT = (
    *CONV,
    *POOLING,
    *GLOBAL_POOLING,
    "UpSampling2D",
    "UpSampling3D",
    "ZeroPadding2D",
    "ZeroPadding3D",
    "Cropping2D",
    "Cropping3D",
    "Flatten",
)
DROPOUT = (
    "Dropout",
    "SpatialDropout1D",
    "SpatialDropout2D",
    "SpatialDropout3D",
    "GaussianDropout",
    "AlphaDropout",
)
UNITS = ("Dense", "SimpleRNN", "GRU", "LSTM", "SimpleRNNCell", "GRUCell", "LSTMCell")
RESIZE_INTERPOLATIONS = ("area", "bicubic", "bilinear", "lanczos3", "lanczos5", "nearest")
AFFINE_LAYERS = ("RandomRotation", "RandomTranslation", "RandomZoom")
MONITORS = ("EarlyStopping", "ModelCheckpoint", "ReduceLROnPlateau")
OPTIMIZERS_WITH_LR = (
    "Adadelta",
    "Adafactor",
    "Adagrad",
    "Adam",
    "AdamW",
    "Adamax",
    "Ftrl",
    "Lamb",
    "Lion",
    "Nadam",
    "RMSprop",
    "SGD",
)
ADAM_FAMILY = ("Adam", "AdamW", "Adamax", "Nadam")
LOSSES_WITH_REDUCTION = (
    "BinaryCrossentropy",
    "BinaryFocalCrossentropy",
    "CategoricalCrossentropy",
    "CategoricalFocalCrossentropy",
    "CategoricalHinge",
    "CosineSimilarity",
    "Hinge",
    "Huber",
    "KLDivergence",
    "LogCosh",
    "MeanAbsoluteError",
    "MeanAbsolutePercentageError",
    "MeanSquaredError",
    "MeanSquaredLogarithmicError",
    "Poisson",
    "SparseCategoricalCrossentropy",
    "SquaredHinge",
)

_POSITIVE = {"minimum": 0, "exclusive_minimum": True}
_UNIT_INTERVAL = {"minimum": 0, "maximum": 1}

RULES: tuple[Rule, ...] = (
    # ---- layers: closed sets
    Rule("layers", ("Conv1D",), "padding", choices=("valid", "same", "causal")),
    Rule("layers", tuple(c for c in CONV if c != "Conv1D"), "padding", choices=("valid", "same")),
    Rule(
        "layers",
        POOLING,
        "padding",
        choices=("valid", "same"),
        at_call=True,
        note="checked when the layer runs; case-sensitive in a functional model",
    ),
    Rule("layers", DATA_FORMAT, "data_format", choices=("channels_last", "channels_first")),
    Rule(
        "layers",
        ("UpSampling2D", "Resizing"),
        "interpolation",
        choices=RESIZE_INTERPOLATIONS,
        at_call=True,
        note="TensorFlow's resize methods; checked when the layer runs on real tensors",
    ),
    Rule("layers", AFFINE_LAYERS, "interpolation", choices=("bilinear", "nearest")),
    Rule("layers", AFFINE_LAYERS, "fill_mode", choices=("constant", "nearest", "reflect", "wrap")),
    Rule(
        "layers",
        ("Bidirectional",),
        "merge_mode",
        choices=("ave", "concat", "mul", "sum"),
        nullable=True,
    ),
    Rule("layers", ("Attention",), "score_mode", choices=("concat", "dot")),
    Rule(
        "layers",
        ("RandomFlip",),
        "mode",
        choices=("horizontal", "vertical", "horizontal_and_vertical"),
        on_bad_choice="accepts",
        note="Keras does not check; any other mode silently never flips",
    ),
    # ---- layers: ranges
    Rule("layers", UNITS, "units", **_POSITIVE),
    Rule("layers", CONV_WITH_FILTERS, "filters", **_POSITIVE),
    Rule("layers", ("Embedding",), "input_dim", **_POSITIVE),
    Rule("layers", ("Embedding",), "output_dim", **_POSITIVE),
    Rule("layers", ("MultiHeadAttention",), "num_heads", **_POSITIVE),
    Rule("layers", DROPOUT, "rate", **_UNIT_INTERVAL),
    Rule("layers", ("GaussianNoise",), "stddev", **_UNIT_INTERVAL),
    Rule("layers", ("ReLU",), "max_value", minimum=0, nullable=True),
    Rule("layers", ("ReLU", "LeakyReLU"), "negative_slope", minimum=0),
    Rule("layers", ("ReLU",), "threshold", minimum=0),
    Rule(
        "layers",
        ("BatchNormalization",),
        "momentum",
        **_UNIT_INTERVAL,
        on_below="accepts",
        on_above="accepts",
        note="Keras does not check; outside [0, 1] the moving statistics diverge",
    ),
    Rule(
        "layers",
        ("BatchNormalization", "LayerNormalization"),
        "epsilon",
        **_POSITIVE,
        on_below="accepts",
        note="Keras does not check; a non-positive epsilon can divide by zero",
    ),
    # ---- optimizers
    Rule(
        "optimizers",
        OPTIMIZERS_WITH_LR,
        "learning_rate",
        **_POSITIVE,
        on_below="accepts",
        note="Keras does not check; a non-positive rate does not descend",
    ),
    Rule(
        "optimizers",
        ("SGD",),
        "momentum",
        **_UNIT_INTERVAL,
        note="Keras requires a float: write 0.0 or 1.0, not 0 or 1",
    ),
    Rule(
        "optimizers",
        ADAM_FAMILY,
        "epsilon",
        **_POSITIVE,
        on_below="accepts",
        note="Keras does not check; a non-positive epsilon can divide by zero",
    ),
    Rule(
        "optimizers",
        ADAM_FAMILY,
        "beta_1",
        minimum=0,
        maximum=1,
        exclusive_maximum=True,
        on_below="accepts",
        on_above="accepts",
        note="Keras does not check; a decay rate is in [0, 1)",
    ),
    Rule(
        "optimizers",
        ADAM_FAMILY,
        "beta_2",
        minimum=0,
        maximum=1,
        exclusive_maximum=True,
        on_below="accepts",
        on_above="accepts",
        note="Keras does not check; a decay rate is in [0, 1)",
    ),
    # ---- losses, metrics, initializers, regularizers
    Rule(
        "losses",
        LOSSES_WITH_REDUCTION,
        "reduction",
        choices=("mean", "mean_with_sample_weight", "none", "sum", "sum_over_batch_size"),
        nullable=True,
    ),
    Rule("metrics", ("AUC",), "curve", choices=("PR", "PRGAIN", "ROC")),
    Rule(
        "metrics", ("AUC",), "summation_method", choices=("interpolation", "majoring", "minoring")
    ),
    Rule("initializers", ("VarianceScaling",), "mode", choices=("fan_avg", "fan_in", "fan_out")),
    Rule(
        "initializers",
        ("VarianceScaling",),
        "distribution",
        choices=("normal", "truncated_normal", "uniform", "untruncated_normal"),
        note="`normal` means `truncated_normal`",
    ),
    Rule("initializers", ("VarianceScaling",), "scale", **_POSITIVE),
    Rule("regularizers", ("L1", "L1L2"), "l1", minimum=0),
    Rule("regularizers", ("L2", "L1L2"), "l2", minimum=0),
    # ---- callbacks
    Rule(
        "callbacks",
        MONITORS,
        "mode",
        choices=("auto", "max", "min"),
        on_bad_choice="warns",
        note="Keras warns and falls back to `auto` for anything else",
    ),
    Rule(
        "callbacks",
        ("ModelCheckpoint",),
        "save_freq",
        choices=("epoch",),
        minimum=1,
        on_below="accepts",
        note='`"epoch"` or a number of batches; Keras does not check that the number is positive',
    ),
    Rule(
        "callbacks",
        ("ReduceLROnPlateau",),
        "factor",
        minimum=0,
        maximum=1,
        exclusive_minimum=True,
        exclusive_maximum=True,
        on_below="accepts",
        note="Keras refuses a factor >= 1 but not one <= 0",
    ),
)


def rules_for(category: str, name: str) -> dict[str, Rule]:
    """The rules that apply to one class, by argument name (later rules win)."""
    found: dict[str, Rule] = {}
    for rule in RULES:
        if rule.category == category and name in rule.classes:
            found[rule.arg] = rule
    return found

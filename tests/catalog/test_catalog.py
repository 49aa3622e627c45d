"""Tests of the Keras catalog: staleness, the rules against Keras itself, lookups and suggest()."""

from __future__ import annotations

import inspect
import json
import re
import subprocess
import sys
import warnings
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from speck.catalog import introspect
from speck.catalog.lookup import Catalog, load_catalog, suggest
from speck.catalog.rules import RULES, Rule, rules_for

# ----------------------------------------------------------------------------- no Keras needed


def test_load_catalog_imports_no_keras_or_tensorflow() -> None:
    code = (
        "import sys\n"
        "from speck.catalog.lookup import load_catalog\n"
        "c = load_catalog()\n"
        "assert c.get('layers', 'Dense') is not None\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'keras', 'tensorflow'}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"


def test_load_catalog_is_cached() -> None:
    assert load_catalog() is load_catalog()


def test_spot_checks() -> None:
    cat = load_catalog()
    assert set(cat.categories()) == set(introspect.CATEGORIES)
    dense = cat.get("layers", "Dense")
    assert dense is not None
    assert dense.args["units"].required
    assert next(iter(dense.args)) == "units"
    assert not dense.args["activation"].required
    conv = cat.get("layers", "Conv2D")
    assert conv is not None
    assert conv.args["padding"].choices == ("valid", "same")
    assert conv.args["padding"].default == "valid"
    assert conv.args["strides"].kind == "tuple" and conv.args["strides"].default == [1, 1]
    assert "causal" in cat.get("layers", "Conv1D").args["padding"].choices
    assert cat.aliases("optimizers")["adam"] == "Adam"
    assert cat.is_alias("optimizers", "adadelta")
    assert cat.aliases("losses")["mse"] == "mean_squared_error"
    assert cat.is_alias("losses", "binary_crossentropy")
    assert cat.is_alias("activations", "relu")
    assert cat.aliases("activations")["swish"] == "silu"
    assert cat.is_alias("metrics", "acc") and cat.is_alias("metrics", "accuracy")
    assert cat.is_alias("initializers", "he_normal")
    assert cat.is_alias("regularizers", "l1l2")
    assert not cat.is_alias("regularizers", "l1_l2")  # exported, but get() refuses it
    assert cat.class_aliases("regularizers")["l1_l2"] == "L1L2"
    assert cat.get("regularizers", "l1_l2") is not None
    assert cat.is_alias("constraints", "max_norm")
    assert not cat.is_alias("activations", "Conv2D")
    assert "Lambda" in cat.excluded("layers")
    assert "Lambda" not in cat.names("layers")
    assert cat.get("layers", "Lambda") is None
    assert "LambdaCallback" in cat.excluded("callbacks")
    assert cat.get("layers", "NoSuchLayer") is None
    assert cat.names("no-such-category") == ()
    assert cat.names("layers") == tuple(sorted(cat.names("layers")))
    assert cat.compile_aliases("metrics")["acc"] == cat.compile_aliases("metrics")["accuracy"]


def test_layer_base_args_are_merged_after_the_signature() -> None:
    cat = load_catalog()
    base = [a.name for a in cat.layer_base_args()]
    assert {"name", "dtype", "trainable", "input_shape", "input_dim"} <= set(base)
    assert "batch_size" not in base  # Keras 3 refuses it
    flatten = cat.get("layers", "Flatten")
    assert flatten is not None and flatten.var_kwargs
    names = list(flatten.args)
    assert names[: names.index("data_format") + 1] == ["data_format"]
    assert names[-len(base) :] == base
    dense = cat.get("layers", "Dense")
    assert dense is not None
    assert list(dense.args).count("activity_regularizer") == 1


def test_aliases_of_classes_resolve_to_the_entry() -> None:
    cat = load_catalog()
    entry = cat.get("layers", "Convolution2D")
    assert entry is not None and entry.name == "Conv2D"
    assert cat.resolve("layers", "MaxPool2D") == "MaxPooling2D"
    he = cat.get("initializers", "he_normal")
    assert he is not None and he.name == "HeNormal"
    assert cat.get("losses", "mse") is None  # a function, not a class
    assert "mean_squared_error" in cat.functions("losses")


def test_arg_kinds_match_their_defaults() -> None:
    expected: dict[str, Callable[[Any], bool]] = {
        "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "float": lambda v: isinstance(v, float),
        "bool": lambda v: isinstance(v, bool),
        "str": lambda v: isinstance(v, str),
        # a number whose docs say "integer or tuple" (`axis: -1`) takes a list too
        "tuple": lambda v: isinstance(v, list | int | float) and not isinstance(v, bool),
        "none": lambda v: v is None,
        "any": lambda v: v is None,
        "object": lambda v: v is None,
    }
    cat = load_catalog()
    for category in cat.categories():
        for name in cat.names(category):
            entry = cat.get(category, name)
            assert entry is not None
            for arg in entry.args.values():
                assert expected[arg.kind](arg.default), (category, name, arg)
                if arg.kind == "tuple" and not isinstance(arg.default, list):
                    assert re.search(r"tuple|list", arg.doc, re.IGNORECASE), (name, arg)
                assert arg.required == (arg.kind == "any"), (category, name, arg)
                assert len(arg.doc) <= 200 and "\n" not in arg.doc


def test_every_rule_names_a_catalogued_argument() -> None:
    cat = load_catalog()
    for rule in RULES:
        for name in rule.classes:
            entry = cat.get(rule.category, name)
            assert entry is not None, (rule.category, name)
            assert entry.name == name, "rules name canonical classes"
            assert rule.arg in entry.args, (name, rule.arg)
            arg = entry.args[rule.arg]
            assert arg.choices == rule.choices and arg.minimum == rule.minimum


def test_rules_for_later_rules_win() -> None:
    assert rules_for("layers", "Conv1D")["padding"].choices == ("valid", "same", "causal")
    assert rules_for("layers", "Conv2D")["padding"].choices == ("valid", "same")
    assert rules_for("layers", "Nope") == {}


@pytest.mark.parametrize(
    ("word", "candidates", "expected"),
    [
        ("Conv2d", load_catalog().names("layers"), "Conv2D"),
        ("activaton", ["activation", "padding", "use_bias"], "activation"),
        ("Adom", load_catalog().names("optimizers"), "Adam"),
        ("relu", load_catalog().aliases("activations"), "relu"),
        ("qwxzvbnm", load_catalog().names("layers"), None),
        ("zzzzzz", ["activation", "padding"], None),
        ("anything", [], None),
    ],
)
def test_suggest(word: str, candidates: Any, expected: str | None) -> None:
    assert suggest(word, candidates) == expected


@given(st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=8), st.text(max_size=12))
def test_suggest_returns_a_candidate_or_none(candidates: list[str], word: str) -> None:
    got = suggest(word, candidates)
    assert got is None or got in candidates


@given(st.sampled_from(load_catalog().names("layers")))
def test_suggest_recovers_any_layer_from_its_case(name: str) -> None:
    assert suggest(name.swapcase(), load_catalog().names("layers")) == name


def test_parse_args_section() -> None:
    doc = """Does a thing.

    More words.

    Args:
        units: Positive integer,
            dimensionality of the output space.
        activation: Activation function. If `None`,
            no activation.
        **kwargs: Base layer keyword arguments.

    Returns:
        something: not an argument.
    """
    parsed = introspect.parse_args_section(doc)
    assert parsed["units"] == "Positive integer, dimensionality of the output space."
    assert parsed["activation"] == "Activation function. If `None`, no activation."
    assert parsed["kwargs"] == "Base layer keyword arguments."
    assert "something" not in parsed
    assert introspect.first_sentence(doc) == "Does a thing."
    assert introspect.parse_args_section(None) == {}


def test_arg_record_kinds() -> None:
    rec = introspect.arg_record
    assert rec("s", (1, (2, 3)), {})["default"] == [1, [2, 3]]
    assert rec("s", (1, 2), {})["kind"] == "tuple"
    assert rec("b", True, {})["kind"] == "bool"
    assert rec("i", 3, {})["kind"] == "int"
    assert rec("f", 0.5, {})["kind"] == "float"
    assert rec("n", None, {})["kind"] == "none"
    weird = rec("o", object, {"o": "an object"})
    assert weird["kind"] == "object" and weird["default"] is None and "default_repr" in weird
    assert weird["doc"] == "an object"
    inf = rec("x", float("inf"), {})
    assert inf["kind"] == "object" and inf["default_repr"] == "inf"


def test_summarize_diff_names_what_changed() -> None:
    old = {"keras_version": "3.0", "categories": {"layers": {"classes": {"A": 1, "B": 1}}}}
    new = {"keras_version": "3.1", "categories": {"layers": {"classes": {"B": 2, "C": 1}}}}
    lines = introspect.summarize_diff(old, new)
    assert "keras_version: 3.0 -> 3.1" in lines
    assert "layers.classes: removed A" in lines
    assert "layers.classes: added C" in lines
    assert "layers.classes: changed B" in lines


def test_catalog_from_minimal_data() -> None:
    data = {
        "keras_version": "x",
        "layer_base_args": [{"name": "name", "required": False, "default": None, "kind": "none"}],
        "categories": {
            "layers": {
                "classes": {
                    "Dense": {
                        "doc": "d",
                        "var_kwargs": True,
                        "args": [
                            {"name": "units", "required": True, "default": None, "kind": "any"}
                        ],
                    }
                },
                "aliases": {},
            }
        },
    }
    cat = Catalog(data)
    entry = cat.get("layers", "Dense")
    assert entry is not None
    assert list(entry.args) == ["units", "name"]
    assert entry.args["units"].minimum == 0 and entry.args["units"].exclusive_minimum
    assert entry.args["name"].nullable and not entry.args["units"].nullable


# ----------------------------------------------------------------------------- against Keras


@pytest.fixture(scope="module")
def keras() -> Any:
    return pytest.importorskip("keras")


@pytest.fixture(scope="module")
def fresh_catalog(keras: Any) -> dict[str, Any]:
    return introspect.build_catalog()


@pytest.mark.tf
def test_committed_catalog_matches_installed_keras(fresh_catalog: dict[str, Any]) -> None:
    committed = introspect.CATALOG_PATH.read_text(encoding="utf-8")
    fresh = introspect.render(fresh_catalog)
    diff = introspect.summarize_diff(json.loads(committed), fresh_catalog)
    assert committed == fresh, (
        "catalog.json is stale; run `python -m speck.catalog.introspect`: " + ("; ".join(diff))
    )


@pytest.mark.tf
def test_check_mode_reports_staleness(
    fresh_catalog: dict[str, Any],
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(introspect, "build_catalog", lambda: fresh_catalog)
    path = tmp_path / "catalog.json"
    assert introspect.main(["--output", str(path)]) == 0
    assert introspect.main(["--check", "--output", str(path)]) == 0
    stale = json.loads(path.read_text())
    del stale["categories"]["layers"]["classes"]["Dense"]
    path.write_text(json.dumps(stale))
    assert introspect.main(["--check", "--output", str(path)]) == 1
    assert "layers.classes: added Dense" in capsys.readouterr().out


@pytest.mark.tf
def test_aliases_resolve_in_keras(keras: Any) -> None:
    cat = load_catalog()
    getters = {
        "optimizers": keras.optimizers.get,
        "losses": keras.losses.get,
        "activations": keras.activations.get,
        "initializers": keras.initializers.get,
        "regularizers": keras.regularizers.get,
        "constraints": keras.constraints.get,
    }
    for category, get in getters.items():
        for alias, canonical in cat.aliases(category).items():
            if alias in cat.compile_aliases(category):
                continue  # resolved by Model.compile(), not by get()
            obj = get(alias)
            got = obj.__name__ if inspect.isfunction(obj) else type(obj).__name__
            assert got == canonical, (category, alias)


@pytest.mark.tf
def test_compile_aliases_pick_by_shape(keras: Any) -> None:
    from keras.src.trainers import compile_utils

    cat = load_catalog()
    y_true, y_pred = keras.ops.zeros((4, 1)), keras.ops.zeros((4, 1))
    for alias, choices in cat.compile_aliases("metrics").items():
        metric = compile_utils.get_metric(alias, y_true, y_pred)
        assert type(metric).__name__ in choices
    for alias, choices in cat.compile_aliases("losses").items():
        loss = compile_utils.get_loss(alias, y_true, y_pred)
        assert loss.fn.__name__ in choices


# How to make each class a rule names: other required arguments, and an input shape to call
# a layer on (batch first; square so that channels_first shapes are valid too).
_S1, _S2, _S3 = (1, 6, 6), (1, 6, 6, 6), (1, 4, 4, 4, 4)
FACTORIES: dict[str, tuple[dict[str, Any], tuple[int, ...] | None]] = {
    "Conv1D": ({"filters": 2, "kernel_size": 3}, _S1),
    "Conv2D": ({"filters": 2, "kernel_size": 3}, _S2),
    "Conv3D": ({"filters": 2, "kernel_size": 3}, _S3),
    "Conv1DTranspose": ({"filters": 2, "kernel_size": 3}, _S1),
    "Conv2DTranspose": ({"filters": 2, "kernel_size": 3}, _S2),
    "Conv3DTranspose": ({"filters": 2, "kernel_size": 3}, _S3),
    "SeparableConv1D": ({"filters": 2, "kernel_size": 3}, _S1),
    "SeparableConv2D": ({"filters": 2, "kernel_size": 3}, _S2),
    "DepthwiseConv1D": ({"kernel_size": 3}, _S1),
    "DepthwiseConv2D": ({"kernel_size": 3}, _S2),
    "ConvLSTM1D": ({"filters": 2, "kernel_size": 3}, (1, 2, 6, 6)),
    "ConvLSTM2D": ({"filters": 2, "kernel_size": 3}, (1, 2, 6, 6, 6)),
    "ConvLSTM3D": ({"filters": 2, "kernel_size": 3}, (1, 2, 4, 4, 4, 4)),
    "MaxPooling1D": ({"pool_size": 2}, _S1),
    "MaxPooling2D": ({"pool_size": 2}, _S2),
    "MaxPooling3D": ({"pool_size": 2}, _S3),
    "AveragePooling1D": ({"pool_size": 2}, _S1),
    "AveragePooling2D": ({"pool_size": 2}, _S2),
    "AveragePooling3D": ({"pool_size": 2}, _S3),
    "GlobalMaxPooling1D": ({}, _S1),
    "GlobalMaxPooling2D": ({}, _S2),
    "GlobalMaxPooling3D": ({}, _S3),
    "GlobalAveragePooling1D": ({}, _S1),
    "GlobalAveragePooling2D": ({}, _S2),
    "GlobalAveragePooling3D": ({}, _S3),
    "UpSampling2D": ({}, _S2),
    "UpSampling3D": ({}, _S3),
    "ZeroPadding2D": ({}, _S2),
    "ZeroPadding3D": ({}, _S3),
    "Cropping2D": ({}, _S2),
    "Cropping3D": ({}, _S3),
    "Flatten": ({}, _S2),
    "Resizing": ({"height": 4, "width": 4}, _S2),
    "RandomRotation": ({"factor": 0.1}, _S2),
    "RandomTranslation": ({"height_factor": 0.1, "width_factor": 0.1}, _S2),
    "RandomZoom": ({"height_factor": 0.1}, _S2),
    "Attention": ({}, None),
    "Dense": ({"units": 2}, (1, 3)),
    "SimpleRNN": ({"units": 2}, (1, 2, 3)),
    "GRU": ({"units": 2}, (1, 2, 3)),
    "LSTM": ({"units": 2}, (1, 2, 3)),
    "SimpleRNNCell": ({"units": 2}, None),
    "GRUCell": ({"units": 2}, None),
    "LSTMCell": ({"units": 2}, None),
    "Embedding": ({"input_dim": 5, "output_dim": 2}, None),
    "MultiHeadAttention": ({"num_heads": 2, "key_dim": 2}, None),
    "Dropout": ({"rate": 0.5}, (1, 3)),
    "SpatialDropout1D": ({"rate": 0.5}, _S1),
    "SpatialDropout2D": ({"rate": 0.5}, _S2),
    "SpatialDropout3D": ({"rate": 0.5}, _S3),
    "GaussianDropout": ({"rate": 0.5}, (1, 3)),
    "AlphaDropout": ({"rate": 0.5}, (1, 3)),
    "GaussianNoise": ({"stddev": 0.1}, (1, 3)),
    "ReLU": ({}, (1, 3)),
    "LeakyReLU": ({}, (1, 3)),
    "BatchNormalization": ({}, (1, 3)),
    "LayerNormalization": ({}, (1, 3)),
    "Bidirectional": ({}, (1, 2, 3)),  # the wrapped layer is added in _make
    "ModelCheckpoint": ({"filepath": "model.keras"}, None),
}
_INT_ARGS = {"units", "filters", "input_dim", "output_dim", "num_heads", "save_freq"}


def _cases() -> list[tuple[Rule, str]]:
    return [(rule, name) for rule in RULES for name in rule.classes]


def _make(keras: Any, rule: Rule, name: str, value: Any, *, call: bool) -> Any:
    namespace = {
        "layers": keras.layers,
        "optimizers": keras.optimizers,
        "losses": keras.losses,
        "metrics": keras.metrics,
        "initializers": keras.initializers,
        "regularizers": keras.regularizers,
        "callbacks": keras.callbacks,
    }[rule.category]
    kwargs, shape = FACTORIES.get(name, ({}, None))
    kwargs = {**kwargs, rule.arg: value}
    if name == "Bidirectional":
        kwargs["layer"] = keras.layers.LSTM(2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        obj = getattr(namespace, name)(**kwargs)
    if call and rule.category == "layers" and shape is not None:
        obj(keras.Input(shape[1:], batch_size=shape[0]))  # builds, infers shapes
        if rule.at_call:
            obj(keras.ops.ones(shape))  # runs the backend op
    return obj


def _expect(keras: Any, rule: Rule, name: str, value: Any, outcome: str) -> None:
    if outcome == "raises":
        with pytest.raises((ValueError, TypeError, NotImplementedError)):
            _make(keras, rule, name, value, call=True)
    elif outcome == "warns":
        with pytest.warns(UserWarning):
            _make(keras, rule, name, value, call=True)
    else:
        _make(keras, rule, name, value, call=True)


def _numbers(rule: Rule) -> list[tuple[Any, str]]:
    """(value, expected outcome) pairs at and around each bound."""
    step: float = 1 if rule.arg in _INT_ARGS else 0.001
    pairs: list[tuple[Any, str]] = []
    if rule.minimum is not None:
        low: float = rule.minimum
        if rule.exclusive_minimum:
            pairs += [(low + step, "accepts"), (low, rule.on_below)]
        else:
            pairs += [(low, "accepts"), (low - step, rule.on_below)]
    if rule.maximum is not None:
        high: float = rule.maximum
        if rule.exclusive_maximum:
            pairs += [(high - step, "accepts"), (high, rule.on_above)]
        else:
            pairs += [(high, "accepts"), (high + step, rule.on_above)]
    if rule.arg in _INT_ARGS:
        return [(int(v), o) for v, o in pairs]
    return [(float(v), o) for v, o in pairs]


@pytest.mark.tf
@pytest.mark.parametrize(
    ("rule", "name"), _cases(), ids=[f"{r.category}.{n}.{r.arg}" for r, n in _cases()]
)
def test_rule_matches_keras(keras: Any, rule: Rule, name: str) -> None:
    if rule.choices is not None:
        for value in rule.choices:
            _make(keras, rule, name, value, call=True)
        _expect(keras, rule, name, "not_a_choice", rule.on_bad_choice)
    for value, outcome in _numbers(rule):
        _expect(keras, rule, name, value, outcome)
    if rule.nullable:
        _make(keras, rule, name, None, call=True)

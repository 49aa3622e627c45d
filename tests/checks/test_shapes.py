"""Tests for static shape inference (`speck.checks.shapes`).

Hand-checked cases first (no TensorFlow), then a property test that holds every rule to real
Keras: the same layer on the same symbolic inputs must give the same output shapes and
parameter count, and must fail exactly when Keras fails.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from speck.checks.shapes import (
    LayerShapes,
    ShapeError,
    infer_graph,
    infer_layer,
    supported_kinds,
    total_params,
)
from speck.ir.graph import InputNode, KerasObject, LayerNode, ModelGraph, Ref

sys.path.insert(0, str(Path(__file__).parent))
from shape_strategies import KINDS, Case, cases_for


def out(kind: str, args: dict[str, Any], *inputs: tuple[int | None, ...]) -> LayerShapes:
    result = infer_layer(kind, args, list(inputs))
    assert result is not None
    return result


# --------------------------------------------------------------------------------------------
# Hand-checked layers


def test_dense_applies_to_the_last_axis_of_any_rank() -> None:
    assert out("Dense", {"units": 10}, (4, 5, 6)) == LayerShapes(((4, 5, 10),), 6 * 10 + 10)
    assert out("Dense", {"units": 3, "use_bias": False}, (7,)).params == 21


def test_dense_needs_a_known_feature_axis() -> None:
    with pytest.raises(ShapeError, match="last dimension"):
        infer_layer("Dense", {"units": 3}, [(None,)])
    with pytest.raises(ShapeError, match="min_ndim=2"):
        infer_layer("Dense", {"units": 3}, [()])


def test_dense_rejects_missing_or_bad_units_by_name() -> None:
    with pytest.raises(ShapeError) as err:
        infer_layer("Dense", {}, [(3,)])
    assert err.value.arg == "units"
    with pytest.raises(ShapeError) as err:
        infer_layer("Dense", {"units": -3}, [(3,)])
    assert err.value.arg == "units"
    assert "Received: units=-3" in err.value.message


def test_conv2d_same_valid_and_strides() -> None:
    args = {"filters": 32, "kernel_size": 3}
    assert out("Conv2D", {**args, "padding": "same"}, (32, 32, 3)).outputs == ((32, 32, 32),)
    assert out("Conv2D", args, (32, 32, 3)) == LayerShapes(((30, 30, 32),), 3 * 3 * 3 * 32 + 32)
    assert out("Conv2D", {**args, "strides": 2}, (32, 32, 3)).outputs == ((15, 15, 32),)
    assert out("Conv2D", {**args, "strides": 2, "padding": "same"}, (7, 7, 3)).outputs == (
        (4, 4, 32),
    )
    assert out("Conv2D", {**args, "data_format": "channels_first"}, (3, 9, 9)).outputs == (
        (32, 7, 7),
    )


def test_conv_kernel_larger_than_input_names_kernel_size() -> None:
    with pytest.raises(ShapeError) as err:
        infer_layer("Conv2D", {"filters": 4, "kernel_size": 5}, [(3, 3, 1)])
    assert err.value.arg == "kernel_size"
    assert err.value.fix is not None and "padding: same" in err.value.fix
    assert "Received: kernel_size=5" in err.value.message


def test_conv_transpose_output_padding_and_dilation() -> None:
    args = {"filters": 8, "kernel_size": 3, "strides": 2, "padding": "same"}
    assert out("Conv2DTranspose", args, (5, 5, 4)).outputs == ((10, 10, 8),)
    with_pad = out("Conv2DTranspose", {**args, "output_padding": 1}, (5, 5, 4))
    assert with_pad.outputs == ((10, 10, 8),)
    assert with_pad.params == 3 * 3 * 8 * 4 + 8
    dilated = {"filters": 1, "kernel_size": 3, "dilation_rate": 2}
    assert out("Conv1DTranspose", dilated, (4, 2)).outputs == ((8, 1),)
    with pytest.raises(ShapeError) as err:
        infer_layer("Conv2DTranspose", {**args, "output_padding": 2}, [(5, 5, 4)])
    assert err.value.arg == "output_padding"


def test_separable_and_depthwise_params() -> None:
    sep = out("SeparableConv2D", {"filters": 8, "kernel_size": 3, "depth_multiplier": 2}, (9, 9, 4))
    assert sep == LayerShapes(((7, 7, 8),), 3 * 3 * 4 * 2 + 4 * 2 * 8 + 8)
    dw = out("DepthwiseConv2D", {"kernel_size": 3, "depth_multiplier": 2}, (9, 9, 4))
    assert dw == LayerShapes(((7, 7, 8),), 3 * 3 * 4 * 2 + 8)


def test_pooling_below_one_pixel_raises_with_arg_and_fix() -> None:
    with pytest.raises(ShapeError) as err:
        infer_layer("MaxPooling2D", {"pool_size": 3}, [(2, 2, 8)])
    assert err.value.arg == "pool_size"
    assert err.value.fix is not None and "padding: same" in err.value.fix
    assert out("MaxPooling2D", {"pool_size": 3, "padding": "same"}, (2, 2, 8)).outputs == (
        (1, 1, 8),
    )
    assert out("MaxPooling1D", {}, (7, 3)).outputs == ((3, 3),)
    with pytest.raises(ShapeError) as err:  # Keras 3 has no default window for averaging
        infer_layer("AveragePooling1D", {}, [(7, 3)])
    assert err.value.arg == "pool_size"


def test_pooling_padding_is_case_sensitive_as_in_keras() -> None:
    with pytest.raises(ShapeError) as err:
        infer_layer("MaxPooling2D", {"padding": "SAME"}, [(4, 4, 1)])
    assert err.value.arg == "padding"
    assert err.value.fix == "write padding: same"


def test_global_pooling_keepdims() -> None:
    assert out("GlobalAveragePooling2D", {}, (7, 7, 5)).outputs == ((5,),)
    assert out("GlobalMaxPooling2D", {"keepdims": True}, (7, 7, 5)).outputs == ((1, 1, 5),)


def test_reshape_infers_minus_one_and_rejects_impossible_sizes() -> None:
    assert out("Reshape", {"target_shape": [-1, 4]}, (2, 6)).outputs == ((3, 4),)
    assert out("Reshape", {"target_shape": [-1, 4]}, (None, 6)).outputs == ((None, 4),)
    with pytest.raises(ShapeError) as err:
        infer_layer("Reshape", {"target_shape": [5, 5]}, [(2, 6)])
    assert err.value.arg == "target_shape"
    assert "12" in err.value.message
    with pytest.raises(ShapeError) as err:
        infer_layer("Reshape", {"target_shape": [-1, 5]}, [(2, 6)])
    assert err.value.arg == "target_shape"


def test_flatten_permute_repeat() -> None:
    assert out("Flatten", {}, (3, 4, 5)).outputs == ((60,),)
    assert out("Flatten", {}, (3, None)).outputs == ((None,),)
    assert out("Permute", {"dims": [2, 1]}, (3, 4)).outputs == ((4, 3),)
    assert out("RepeatVector", {"n": 5}, (3,)).outputs == ((5, 3),)


def test_concatenate_sums_the_axis_and_rejects_mismatch() -> None:
    assert out("Concatenate", {}, (4, 3), (4, 5)).outputs == ((4, 8),)
    assert out("Concatenate", {"axis": 1}, (4, 3), (2, 3)).outputs == ((6, 3),)
    with pytest.raises(ShapeError, match="matching shapes"):
        infer_layer("Concatenate", {}, [(4, 3), (5, 3)])


def test_elementwise_merges_broadcast_like_keras() -> None:
    assert out("Add", {}, (4, 1), (4, 3)).outputs == ((4, 3),)
    assert out("Multiply", {}, (2, 4, 3), (4, 3)).outputs == ((2, 4, 3),)
    with pytest.raises(ShapeError, match="incompatible"):
        infer_layer("Add", {}, [(4,), (5,)])
    with pytest.raises(ShapeError, match="2 inputs"):
        infer_layer("Subtract", {}, [(4,), (4,), (4,)])


def test_lstm_return_state_adds_state_outputs() -> None:
    result = out("LSTM", {"units": 8, "return_state": True}, (10, 4))
    assert result.outputs == ((8,), (8,), (8,))
    assert result.params == 4 * 8 * (4 + 8) + 4 * 8
    seq = out("GRU", {"units": 8, "return_sequences": True, "return_state": True}, (10, 4))
    assert seq.outputs == ((10, 8), (8,))
    assert seq.params == 3 * 8 * (4 + 8) + 2 * 3 * 8  # reset_after doubles the bias
    assert out("GRU", {"units": 8, "reset_after": False}, (10, 4)).params == 3 * 8 * 12 + 24


def test_bidirectional_concat_and_merge_none() -> None:
    lstm = {"kind": "LSTM", "args": {"units": 8, "return_sequences": True}}
    result = out("Bidirectional", {"layer": lstm}, (10, 4))
    assert result.outputs == ((10, 16),)
    assert result.params == 2 * (4 * 8 * 12 + 32)
    states = {"kind": "LSTM", "args": {"units": 8, "return_state": True}}
    split = out("Bidirectional", {"layer": states, "merge_mode": None}, (10, 4))
    assert split.outputs == ((8,),) * 6


def test_time_distributed_wraps_the_inner_rule() -> None:
    conv = {"kind": "Conv2D", "args": {"filters": 2, "kernel_size": 3}}
    assert out("TimeDistributed", {"layer": conv}, (5, 8, 8, 3)).outputs == ((5, 6, 6, 2),)
    with pytest.raises(ShapeError, match="In the wrapped Conv2D"):
        infer_layer("TimeDistributed", {"layer": conv}, [(5, 2, 2, 3)])
    assert infer_layer("TimeDistributed", {"layer": {"kind": "Mystery"}}, [(5, 3)]) is None
    lstm = {"kind": "LSTM", "args": {"units": 2}}
    assert out("TimeDistributed", {"layer": lstm}, (5, 7, 3)).outputs == ((5, 2),)
    with pytest.raises(ShapeError, match="expected ndim=3"):  # Keras only fails when it runs
        infer_layer("TimeDistributed", {"layer": lstm}, [(5, 7, 3, 1)])


def test_multi_head_attention() -> None:
    args = {"num_heads": 2, "key_dim": 4}
    result = out("MultiHeadAttention", args, (10, 16), (12, 8))
    assert result.outputs == ((10, 16),)
    q = 16 * 2 * 4 + 2 * 4
    k = v = 8 * 2 * 4 + 2 * 4
    o = 2 * 4 * 16 + 16
    assert result.params == q + k + v + o
    shaped = out("MultiHeadAttention", {**args, "output_shape": 5}, (10, 16), (12, 8))
    assert shaped.outputs == ((10, 5),)
    with pytest.raises(ShapeError, match="except the last one"):
        infer_layer("MultiHeadAttention", args, [(10, 16), (12, 8), (11, 8)])


def test_attention_checks_what_keras_only_finds_at_run_time() -> None:
    assert out("Attention", {}, (5, 4), (7, 4)).outputs == ((5, 4),)
    assert out("AdditiveAttention", {}, (5, 4), (7, 4)).params == 4
    with pytest.raises(ShapeError, match="last dimensions must be equal"):
        infer_layer("Attention", {}, [(5, 4), (7, 3)])


def test_embedding_any_rank() -> None:
    assert out("Embedding", {"input_dim": 1000, "output_dim": 64}, (20,)) == LayerShapes(
        ((20, 64),), 64000
    )
    assert out("Embedding", {"input_dim": 10, "output_dim": 3}, (4, 5)).outputs == ((4, 5, 3),)
    assert out("Embedding", {"input_dim": 10, "output_dim": 3}, ()).outputs == ((3,),)


def test_normalization_layers_params() -> None:
    assert out("BatchNormalization", {}, (8, 8, 16)).params == 4 * 16
    assert out("BatchNormalization", {"axis": 1}, (8, 4)).params == 4 * 8
    assert out("BatchNormalization", {"center": False}, (5,)).params == 3 * 5
    assert out("LayerNormalization", {"scale": False}, (3, 6)).params == 6
    plain = {"scale": False, "center": False, "axis": 1}  # no weights: unknown sizes are fine
    assert out("LayerNormalization", plain, (None, 6)).params == 0
    assert out("GroupNormalization", {"groups": 2}, (4,)).params == 8
    assert out("Normalization", {}, (3, 6)).params == 6 + 6 + 1
    assert out("Normalization", {"mean": 0.5, "variance": 2.0}, (3, 6)).params == 0
    with pytest.raises(ShapeError) as err:
        infer_layer("BatchNormalization", {"axis": 4}, [(8, 8, 16)])
    assert err.value.arg == "axis"


def test_cropping_and_padding() -> None:
    assert out("Cropping2D", {"cropping": [[1, 1], [2, 0]]}, (10, 10, 3)).outputs == ((8, 8, 3),)
    assert out("ZeroPadding2D", {}, (10, 10, 3)).outputs == ((12, 12, 3),)
    assert out("Cropping1D", {}, (4, 2)).outputs == ((2, 2),)
    with pytest.raises(ShapeError) as err:
        infer_layer("Cropping1D", {"cropping": [2, 2]}, [(4, 2)])
    assert err.value.arg == "cropping"


def test_object_valued_args_never_matter() -> None:
    init = KerasObject(category="initializers", alias="he_normal")
    args = {"units": 4, "kernel_initializer": init, "activation": KerasObject("activations")}
    assert out("Dense", args, (3,)).params == 16


def test_unknown_kind_is_not_checked() -> None:
    assert infer_layer("SomeCustomLayer", {}, [(3,)]) is None


def test_single_input_layers_refuse_several_inputs() -> None:
    with pytest.raises(ShapeError, match="takes one input"):
        infer_layer("Dense", {"units": 2}, [(3,), (3,)])


def test_module_imports_no_numerics() -> None:
    source = Path(sys.modules[ShapeError.__module__].__file__ or "").read_text()
    imported: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert "speck" in imported
    assert not imported & {"tensorflow", "keras", "numpy"}


# --------------------------------------------------------------------------------------------
# Whole graphs


def _functional(layers: list[LayerNode], inputs: dict[str, tuple[int, ...]]) -> ModelGraph:
    return ModelGraph(
        name="m",
        style="functional",
        inputs=tuple(InputNode(n, s) for n, s in inputs.items()),
        layers=tuple(layers),
        outputs=(Ref(layers[-1].name),),
    )


def test_graph_mlp_counts_params_like_the_tutorial() -> None:
    graph = _functional(
        [
            LayerNode("h1", "Dense", {"units": 64, "activation": "relu"}, (Ref("pixels"),)),
            LayerNode("h2", "Dense", {"units": 32, "activation": "relu"}, (Ref("h1"),)),
            LayerNode("probs", "Dense", {"units": 10}, (Ref("h2"),)),
        ],
        {"pixels": (784,)},
    )
    shapes, problems = infer_graph(graph)
    assert problems == []
    assert shapes["probs"].outputs == ((10,),)
    assert total_params(shapes, graph) == 784 * 64 + 64 + 64 * 32 + 32 + 32 * 10 + 10


def test_graph_error_names_node_and_arg() -> None:
    graph = _functional(
        [
            LayerNode("pool", "MaxPooling2D", {"pool_size": 4}, (Ref("img"),)),
            LayerNode("flat", "Flatten", {}, (Ref("pool"),)),
        ],
        {"img": (2, 2, 3)},
    )
    shapes, problems = infer_graph(graph)
    assert [(p.node, p.arg, p.severity) for p in problems] == [("pool", "pool_size", "error")]
    assert shapes["flat"].outputs is None
    assert total_params(shapes, graph) is None


def test_graph_unknown_layer_is_a_note_and_checking_resumes() -> None:
    graph = _functional(
        [
            LayerNode("odd", "MyLayer", {}, (Ref("x"),)),
            LayerNode("after", "Dense", {"units": 3}, (Ref("odd"),)),
            LayerNode("fixed", "Reshape", {"target_shape": [2, 3]}, (Ref("after"),)),
            LayerNode("side", "Dense", {"units": 3}, (Ref("x"),)),
            LayerNode("bad", "Concatenate", {"axis": 1}, (Ref("fixed"), Ref("side"))),
        ],
        {"x": (4,)},
    )
    shapes, problems = infer_graph(graph)
    assert problems[0].severity == "note" and problems[0].node == "odd"
    assert not shapes["odd"].checked and shapes["after"].checked
    assert shapes["after"].outputs is None
    assert shapes["fixed"].outputs == ((2, 3),)
    assert [(p.node, p.severity) for p in problems[1:]] == [("bad", "error")]


def test_graph_multi_output_refs() -> None:
    lstm = {"units": 5, "return_state": True}
    layers = [
        LayerNode("rnn", "LSTM", lstm, (Ref("seq"),)),
        LayerNode("state", "Dense", {"units": 2}, (Ref("rnn", 2),)),
        LayerNode("bad_index", "Dense", {"units": 2}, (Ref("rnn", 3),)),
        LayerNode("no_index", "Dense", {"units": 2}, (Ref("rnn"),)),
    ]
    shapes, problems = infer_graph(_functional(layers, {"seq": (7, 3)}))
    assert shapes["state"].outputs == ((2,),)
    assert [p.node for p in problems] == ["bad_index", "no_index"]


def test_graph_shared_layer_counts_once_and_must_fit() -> None:
    layers = [
        LayerNode("enc_a", "Dense", {"units": 4}, (Ref("a"),)),
        LayerNode("enc_b", "Dense", {"units": 4}, (Ref("b"),), shares="enc_a"),
        LayerNode("sum", "Add", {}, (Ref("enc_a"), Ref("enc_b"))),
    ]
    graph = _functional(layers, {"a": (6,), "b": (6,)})
    shapes, problems = infer_graph(graph)
    assert problems == []
    assert total_params(shapes, graph) == 6 * 4 + 4
    misfit = _functional(layers, {"a": (6,), "b": (5,)})
    _, problems = infer_graph(misfit)
    assert [(p.node, p.severity) for p in problems] == [("enc_b", "error")]


# --------------------------------------------------------------------------------------------
# Held to real Keras


_MULTI_INPUT = {
    "Add",
    "Subtract",
    "Multiply",
    "Average",
    "Maximum",
    "Minimum",
    "Concatenate",
    "Dot",
    "Attention",
    "AdditiveAttention",
}


def _keras_result(keras: Any, case: Case) -> tuple[tuple[tuple[int | None, ...], ...], int]:
    kind, args, inputs = case
    args = dict(args)
    if kind in ("Bidirectional", "TimeDistributed"):
        inner = args["layer"]
        args["layer"] = getattr(keras.layers, inner["kind"])(**inner["args"])
    layer = getattr(keras.layers, kind)(**args)
    tensors = [keras.Input(shape) for shape in inputs]
    if kind == "MultiHeadAttention":
        y = layer(*tensors)
    elif kind in _MULTI_INPUT:
        y = layer(tensors)
    else:
        y = layer(*tensors)
    ys = list(y) if isinstance(y, (list, tuple)) else [y]
    return tuple(tuple(t.shape)[1:] for t in ys), layer.count_params()


@pytest.fixture(scope="module")
def keras() -> Any:
    return pytest.importorskip("keras")


@pytest.mark.tf
@pytest.mark.parametrize("kind", KINDS)
@settings(
    max_examples=6,
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_rules_agree_with_keras(keras: Any, kind: str, data: st.DataObject) -> None:
    case = data.draw(cases_for(kind), label="case")
    kind, args, inputs = case
    try:
        expected: Any = _keras_result(keras, case)
    except Exception as exc:  # Keras raises ValueError, TypeError or IndexError
        expected = f"error: {type(exc).__name__}: {exc}"
    try:
        result = infer_layer(kind, args, inputs)
        got: Any = None if result is None else (result.outputs, result.params)
    except ShapeError as err:
        got = f"error: {err}"
    assert got is not None, f"no rule for {kind}"
    if isinstance(expected, str) or isinstance(got, str):
        assert isinstance(expected, str) == isinstance(got, str), (
            f"{kind}({args}) on {inputs}: keras gave {expected}, speck gave {got}"
        )
    else:
        assert got == expected, f"{kind}({args}) on {inputs}"


def test_every_rule_is_drawn() -> None:
    """The property test reaches every kind that has a rule, aliases and a few trivial
    identity layers aside."""
    aliases = {k for k in supported_kinds() if "Pool" in k and "Pooling" not in k}
    aliases |= {"Convolution1D", "Convolution2D", "Convolution3D"}
    aliases |= {k for k in supported_kinds() if k.startswith("ops.")}  # the merge layers' rule
    undrawn = {
        "Identity",
        "Masking",
        "UnitNormalization",
        "RandomRotation",
        "RandomZoom",
        "RandomTranslation",
        "RandomContrast",
        "RandomBrightness",
    }
    assert supported_kinds() - aliases - undrawn == set(KINDS)

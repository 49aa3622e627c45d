"""Tests of legacy spellings: Keras 1/2-era names (the tutorial's) are translated to Keras 3,
each with a warning naming its line and the modern form; a name the installed Keras still
takes is left alone."""

from __future__ import annotations

import textwrap
from typing import Any

import pytest

from speck.diagnostics import Diagnostic, SpecError, format_path
from speck.front.load import load_text
from speck.front.validate import validate
from speck.ir.graph import KerasObject
from speck.ir.resolve import ResolvedSpec, resolve

HEAD = "speck: 1\nname: t\n"

TUTORIAL_741 = """\
# The tutorial's 7.4.1, as its code was written (TF 1.8 Keras):
#   model.add(Dense(units=64, input_dim=784)); model.add(Activation('softmax'))
#   SGD(lr=0.02, momentum=0.8, nesterov=True); EarlyStopping(...); TensorBoard(...)
speck: 1
name: tutorial-741
model:
  layers:
    - Dense: {units: 64, input_dim: 784}
    - Activation: softmax
compile:
  optimizer: {SGD: {lr: 0.02, momentum: 0.8, nesterov: true}}
  loss: categorical_crossentropy
  metrics: [accuracy]
fit: {nb_epoch: 10, batch_size: 64}
callbacks:
  - TensorBoard: {log_dir: ./models/autoencoder}
  - EarlyStopping: {monitor: loss, min_delta: 0, patience: 10, verbose: 0, mode: auto}
"""
"""`monitor: loss`: the tutorial's `val_loss` needs validation data, which 7.4.1 never gave."""


def resolved(text: str) -> ResolvedSpec:
    return resolve(validate(load_text(text, "s.yaml")))


def warnings_of(text: str) -> dict[str, Diagnostic]:
    diags = resolved(text).diagnostics
    assert all(d.severity == "warning" for d in diags), [d.format() for d in diags]
    return {format_path(d.path): d for d in diags}


def test_the_tutorials_741_spec_validates_with_a_warning_per_translation() -> None:
    got = {
        path: (d.location.line, d.location.column) for path, d in warnings_of(TUTORIAL_741).items()
    }
    assert got == {
        "model.layers[0].Dense.input_dim": (8, 26),
        "model.layers[1].Activation": (9, 19),
        "compile.optimizer.SGD.lr": (11, 21),
        "fit.nb_epoch": (14, 7),
    }


def test_the_tutorials_741_spec_means_the_keras_3_model() -> None:
    spec = resolved(TUTORIAL_741)
    graph, plan = spec.graph, spec.plan
    assert graph.style == "sequential"
    assert graph.inputs[0].shape == (784,)
    assert [(n.kind, n.args) for n in graph.layers] == [
        ("Dense", {"units": 64}),
        ("Activation", {"activation": "softmax"}),
    ]
    assert plan.optimizer == KerasObject(
        "optimizers", "SGD", None, {"learning_rate": 0.02, "momentum": 0.8, "nesterov": True}
    )
    assert plan.epochs == 10 and plan.batch_size == 64


def test_warnings_name_the_modern_form() -> None:
    w = warnings_of(TUTORIAL_741)
    assert w["compile.optimizer.SGD.lr"].suggestion == "write 'learning_rate'"
    assert w["fit.nb_epoch"].suggestion == "write 'epochs'"
    assert w["model.layers[0].Dense.input_dim"].suggestion == "write `model: {input: [784]}`"
    assert w["model.layers[1].Activation"].suggestion == (
        "write `Activation: {activation: softmax}`"
    )
    line = w["compile.optimizer.SGD.lr"].format(with_severity=True)
    assert line.startswith("s.yaml:11:21: warning: compile.optimizer.SGD.lr: 'lr' is a Keras 2")


def spec_with(model: str = "", compile_: str = "", callbacks: str = "", fit: str = "") -> str:
    model = model or "model:\n  input: [4]\n  layers:\n    - Dense: {units: 2}\n"
    compile_ = compile_ or "compile: {loss: mse}\n"
    return HEAD + model + compile_ + (fit or "") + (callbacks or "")


def one_warning(text: str) -> tuple[Diagnostic, ResolvedSpec]:
    spec = resolved(text)
    (warning,) = spec.diagnostics
    assert warning.severity == "warning"
    return warning, spec


def test_input_shape_on_the_first_layer_becomes_the_models_input() -> None:
    text = spec_with(model="model:\n  layers:\n    - Dense: {units: 2, input_shape: [28, 28]}\n")
    warning, spec = one_warning(text)
    assert warning.location.line == 5 and "moved to the model's input" in warning.message
    assert spec.graph.inputs[0].shape == (28, 28)
    assert spec.graph.layers[0].args == {"units": 2}


def test_batch_input_shape_drops_the_batch_dimension() -> None:
    text = spec_with(
        model="model:\n  layers:\n    - Dense: {units: 2, batch_input_shape: [null, 7]}\n"
    )
    _, spec = one_warning(text)
    assert spec.graph.inputs[0].shape == (7,)


@pytest.mark.parametrize(
    ("model", "fragment"),
    [
        (
            "model:\n  input: [4]\n  layers:\n    - Dense: {units: 2, input_dim: 4}\n",
            "'input_dim' repeats the model's input",
        ),
        (
            "model:\n  layers:\n    - Dense: {units: 2}\n    - Dense: {units: 2, input_dim: 4}\n",
            "'input_dim' belongs to the model's input, not to a layer",
        ),
    ],
)
def test_input_args_that_cannot_move_are_errors(model: str, fragment: str) -> None:
    with pytest.raises(SpecError) as info:
        resolved(spec_with(model=model))
    assert any(fragment in d.message and d.severity == "error" for d in info.value.diagnostics)


def test_an_embeddings_input_dim_is_its_own_argument() -> None:
    model = (
        "model:\n  input: {shape: [10], dtype: int32}\n  layers:\n"
        "    - Embedding: {input_dim: 100, output_dim: 8}\n"
    )
    spec = resolved(spec_with(model=model))
    assert spec.diagnostics == []
    assert spec.graph.layers[0].args == {"input_dim": 100, "output_dim": 8}


@pytest.mark.parametrize(
    ("old", "new", "value"),
    [
        ("output_dim", "units", 3),
        ("init", "kernel_initializer", "he_normal"),
        ("W_regularizer", "kernel_regularizer", "l2"),
        ("bias", "use_bias", False),
    ],
)
def test_keras_1_dense_arguments(old: str, new: str, value: Any) -> None:
    value_text = {False: "false"}.get(value, value) if isinstance(value, bool) else value
    model = f"model:\n  input: [4]\n  layers:\n    - Dense: {{{old}: {value_text}"
    model += ", units: 2}\n" if new != "units" else "}\n"
    warning, spec = one_warning(spec_with(model=model))
    assert warning.suggestion == f"write {new!r}"
    assert spec.graph.layers[0].args[new] == value


def test_keras_1_convolution_arguments_and_data_format_values() -> None:
    model = (
        "model:\n  input: [8, 8, 1]\n  layers:\n"
        "    - Conv2D: {nb_filter: 4, kernel_size: 3, border_mode: same, subsample: [2, 2],"
        " dim_ordering: tf}\n"
    )
    spec = resolved(spec_with(model=model))
    assert len(spec.diagnostics) == 4
    assert spec.graph.layers[0].args == {
        "filters": 4,
        "kernel_size": 3,
        "padding": "same",
        "strides": [2, 2],
        "data_format": "channels_last",
    }


def test_dropout_p() -> None:
    model = "model:\n  input: [4]\n  layers:\n    - Dropout: {p: 0.5}\n"
    _, spec = one_warning(spec_with(model=model))
    assert spec.graph.layers[0].args == {"rate": 0.5}


def test_decay_becomes_the_schedule_it_computed() -> None:
    compile_ = "compile:\n  optimizer: {SGD: {lr: 0.1, decay: 0.01}}\n  loss: mse\n"
    spec = resolved(spec_with(compile_=compile_))
    assert len(spec.diagnostics) == 2
    assert spec.plan.optimizer.args == {
        "learning_rate": KerasObject(
            "schedules",
            "InverseTimeDecay",
            None,
            {"initial_learning_rate": 0.1, "decay_steps": 1, "decay_rate": 0.01},
        )
    }


def test_model_checkpoint_period_and_path() -> None:
    callbacks = (
        "callbacks:\n"
        "  - ModelCheckpoint: {filepath: ./model/autoencoder/autoencoder_model, verbose: 0,"
        " period: 2}\n"
    )
    spec = resolved(spec_with(callbacks=callbacks))
    w = {format_path(d.path): d for d in spec.diagnostics}
    assert set(w) == {
        "callbacks[0].ModelCheckpoint.filepath",
        "callbacks[0].ModelCheckpoint.period",
    }
    assert w["callbacks[0].ModelCheckpoint.period"].suggestion == "write 'every_epochs'"
    assert "'.keras'" in w["callbacks[0].ModelCheckpoint.filepath"].message
    assert spec.plan.callbacks[0].args == {
        "filepath": "./model/autoencoder/autoencoder_model.keras",
        "verbose": 0,
        "every_epochs": 2,
    }


def test_weights_only_checkpoints_get_their_own_suffix() -> None:
    callbacks = "callbacks:\n  - ModelCheckpoint: {filepath: ckpt/w, save_weights_only: true}\n"
    _, spec = one_warning(spec_with(callbacks=callbacks))
    assert spec.plan.callbacks[0].args["filepath"] == "ckpt/w.weights.h5"


def test_removed_tensorboard_and_renamed_plateau_arguments() -> None:
    callbacks = (
        "callbacks:\n"
        "  - TensorBoard: {log_dir: logs, batch_size: 32, write_grads: true}\n"
        "  - ReduceLROnPlateau: {monitor: loss, epsilon: 0.001}\n"
    )
    spec = resolved(spec_with(callbacks=callbacks))
    assert len(spec.diagnostics) == 3
    assert spec.plan.callbacks[0].args == {"log_dir": "logs"}
    assert spec.plan.callbacks[1].args == {"monitor": "loss", "min_delta": 0.001}


def test_nb_epoch() -> None:
    _, spec = one_warning(spec_with(fit="fit: {nb_epoch: 3}\n"))
    assert spec.plan.epochs == 3


def test_legacy_and_modern_together_is_one_error() -> None:
    with pytest.raises(SpecError) as info:
        resolved(spec_with(fit="fit: {nb_epoch: 3, epochs: 4}\n"))
    (error,) = info.value.errors
    assert error.message == "both 'nb_epoch' (legacy) and 'epochs' are given"


def test_a_positional_argument_needs_a_required_first_argument() -> None:
    model = "model:\n  input: [4]\n  layers:\n    - Flatten: 3\n"
    with pytest.raises(SpecError) as info:
        resolved(spec_with(model=model))
    assert "the arguments of Flatten must be a mapping" in info.value.errors[0].message


def test_translated_values_are_still_checked_at_their_place() -> None:
    text = spec_with(compile_="compile:\n  optimizer: {SGD: {lr: -1}}\n  loss: mse\n")
    with pytest.raises(SpecError) as info:
        resolved(text)
    (error,) = info.value.errors
    assert format_path(error.path) == "compile.optimizer.SGD.learning_rate"
    assert (error.location.line, error.location.column) == (8, 25)
    assert textwrap.shorten(error.message, 40).startswith("must be")

"""Tests of stage 2, validate (and the wiring checks of resolve): pydantic's error locations
mapped back to spec paths and positions, every problem of a file at once, suggestions, and the
catalog checks of Keras names, arguments and values. No TensorFlow."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from conftest import SPECS
from pydantic import ValidationError

from speck.catalog.lookup import load_catalog
from speck.diagnostics import Diagnostic, SpecError, format_path
from speck.front.format import Spec
from speck.front.load import load_text
from speck.front.validate import (
    allowed_keys,
    check_value,
    pydantic_diagnostics,
    raw_path,
    suggest_like,
    validate,
)
from speck.ir.resolve import resolve
from speck.pipeline import analyze

HEAD = "speck: 1\nname: t\n"
ONE = "model: {input: [4], layers: [Dense: {units: 1}]}\n"


def problems(body: str, head: str = HEAD) -> list[Diagnostic]:
    """The diagnostics of load + validate + resolve (stage 4's checks are not run here)."""
    text = head + textwrap.dedent(body)
    with pytest.raises(SpecError) as info:
        resolve(validate(load_text(text, "s.yaml")))
    return info.value.diagnostics


def lines(body: str) -> list[str]:
    return [d.format() for d in problems(body) if d.severity == "error"]


def ok(body: str) -> list[Diagnostic]:
    resolved = resolve(validate(load_text(HEAD + textwrap.dedent(body), "s.yaml")))
    return resolved.diagnostics


def test_every_example_spec_validates_and_resolves() -> None:
    from speck.front.load import load_file

    for path in SPECS:
        resolve(validate(load_file(path)))


# --- pydantic's loc -> the spec's path -------------------------------------------------------


def loc_errors(data: dict) -> list[tuple[tuple, tuple]]:
    with pytest.raises(ValidationError) as info:
        Spec.model_validate(data)
    return [(tuple(e["loc"]), raw_path(tuple(e["loc"]), data)) for e in info.value.errors()]


def test_raw_path_drops_union_tags_and_model_artifacts() -> None:
    data = {
        "speck": 1,
        "name": "t",
        "model": {"inputs": {"x": {"shape": [0]}}, "layers": [{"Dense": {}}], "outputs": ["x"]},
    }
    ((loc, path),) = loc_errors(data)
    assert loc[:3] == ("model", "functional", "inputs")
    assert path == ("model", "inputs", "x", "shape", 0)


def test_raw_path_maps_from_and_missing_keys() -> None:
    assert raw_path(
        ("model", "sequential", "layers", 0, "from_", 0),
        {"model": {"layers": [{"Dense": {}, "from": ["a"]}]}},
    ) == ("model", "layers", 0, "from", 0)
    # A missing key is placed under its parent, by the name it would have.
    assert raw_path(("model", "sequential", "layers"), {"model": {}}) == ("model", "layers")
    # A dict key's own error ("[key]") stops at the key.
    data = {"model": {"inputs": {"2d": [1]}}}
    assert raw_path(("model", "functional", "inputs", "2d", "[key]"), data) == (
        "model",
        "inputs",
        "2d",
    )


def test_allowed_keys_follow_the_models_through_unions() -> None:
    assert "epochs" in allowed_keys(Spec, ("fit",))
    assert "source" in allowed_keys(Spec, ("data",))
    assert set(allowed_keys(Spec, ("model", "functional"))) >= {"inputs", "layers", "outputs"}
    assert "speck" in allowed_keys(Spec, ())


def test_pydantic_diagnostics_place_each_error() -> None:
    text = HEAD + "seed: -1\nfit: {epochs: 0, batchsize: 3}\nmodel: {input: [4], layers: [Dense]}\n"
    loaded = load_text(text, "s.yaml")
    with pytest.raises(ValidationError) as info:
        Spec.model_validate(loaded.data)
    diags = pydantic_diagnostics(info.value, loaded.data, loaded.source, Spec)
    got = {format_path(d.path): (d.location.line, d.location.column) for d in diags}
    assert got == {"seed": (3, 7), "fit.epochs": (4, 15), "fit.batchsize": (4, 18)}


# --- all problems at once, at their places ---------------------------------------------------


def test_all_problems_of_a_file_are_reported_at_once_in_order() -> None:
    got = lines(
        """\
        seed: -1
        model:
          input: [28, 28, 1]
          layers:
            - Conv2d: {filters: 8, kernel_size: 3}
            - Conv2D: {filters: 8, kernel_size: 3, paddin: same}
            - Dense: {units: 10, activation: sofmax}
        compile: {optimizer: Adom, loss: mse}
        fit: {epoch: 3}
        """
    )
    assert got == [
        "s.yaml:3:7: seed: Input should be greater than or equal to 0. Received: -1",
        "s.yaml:7:7: model.layers[0].Conv2d: unknown layer 'Conv2d' (did you mean 'Conv2D'?)",
        "s.yaml:8:44: model.layers[1].Conv2D.paddin: Conv2D has no argument 'paddin'"
        " (did you mean 'padding'?)",
        "s.yaml:9:38: model.layers[2].Dense.activation: unknown activation 'sofmax'"
        " (did you mean 'softmax'?)",
        "s.yaml:10:22: compile.optimizer: unknown optimizer 'Adom' (did you mean 'Adam'?)",
        "s.yaml:11:7: fit.epoch: unknown key 'epoch' (did you mean 'epochs'?)",
    ]


def test_a_union_mismatch_is_one_error() -> None:
    got = lines("model: {input: [4], layers: [Dense: {units: 1}]}\ncompile: {loss: [mse]}\n")
    assert got == [
        "s.yaml:4:17: compile.loss: expected a loss name or {ClassName: {arguments}}."
        " Received: ['mse']"
    ]


def test_a_misspelt_required_key_is_reported_once() -> None:
    got = lines("data: {sorce: keras/mnist}\nmodel: {input: [4], layers: [Dense: {units: 1}]}\n")
    assert got == ["s.yaml:3:8: data.sorce: unknown key 'sorce' (did you mean 'source'?)"]
    got = lines("model: {input: [4], layers: [Conv1D: {filters: 2, kernel_sise: 3}]}\n")
    assert len(got) == 1 and "did you mean 'kernel_size'?" in got[0]


def test_a_required_argument_really_missing_is_reported() -> None:
    got = lines("model: {input: [4], layers: [Dense: {activation: relu}]}\n")
    assert got == ["s.yaml:3:30: model.layers[0].Dense: Dense needs the argument 'units'"]


# --- suggestions -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "suggestion"),
    [
        ("model: {input: [4], layers: [Dense2: {units: 1}]}\n", "did you mean 'Dense'?"),
        ("model: {input: [4], layers: [dense: {units: 1}]}\n", "did you mean 'Dense'?"),
        (
            ONE + "compile: {loss: mse, metrics: [acc, meen_absolute_error]}\n",
            "did you mean 'mean_absolute_error'?",
        ),
        (
            "model: {input: [4], layers: [Dense: {units: 1}]}\ncompile: {loss: MeanSquaredEror}\n",
            "did you mean 'MeanSquaredError'?",
        ),
        (
            "model: {input: [4], layers: [Dense: {units: 1, kernel_initializer: glorot_unifom}]}\n",
            "did you mean 'glorot_uniform'?",
        ),
        (
            "model: {input: [4], layers: [Dense: {units: 1, kernel_regularizer: l2x}]}\n",
            "did you mean 'l2'?",
        ),
        (
            "model: {input: [4, 1], layers: [Conv1D: {filters: 1, kernel_size: 1, padding: sam}]}",
            "did you mean 'same'?",
        ),
    ],
)
def test_suggestions(body: str, suggestion: str) -> None:
    got = lines(body)
    assert len(got) == 1 and got[0].endswith(f"({suggestion})"), got


def test_suggest_like_prefers_the_writers_case() -> None:
    assert suggest_like("acuracy", ["Accuracy", "accuracy"]) == "accuracy"
    assert suggest_like("Acuracy", ["accuracy", "Accuracy"]) == "Accuracy"
    assert suggest_like("zzz", ["accuracy"]) is None


# --- catalog values --------------------------------------------------------------------------


def arg(layer: str, name: str):  # type: ignore[no-untyped-def]
    entry = load_catalog().get("layers", layer)
    assert entry is not None
    return entry.args[name]


@pytest.mark.parametrize(
    ("layer", "name", "value", "fragment"),
    [
        ("Dense", "units", "64", "must be an integer"),
        ("Dense", "units", True, "must be an integer"),
        ("Dense", "units", 0, "must be > 0"),
        ("Dense", "units", 64.0, "must be an integer"),
        ("Dropout", "rate", "0.5", "must be a number"),
        ("Dropout", "rate", 1.5, "must be <= 1"),
        ("Dense", "use_bias", "yes", "must be true or false"),
        ("Conv2D", "padding", "sme", "must be one of 'valid', 'same'"),
        ("Conv2D", "padding", "SAME", "must be one of 'valid', 'same'"),
        ("Conv2D", "strides", "2", "must be a number or a list"),
    ],
)
def test_check_value_refuses(layer: str, name: str, value: object, fragment: str) -> None:
    problem = check_value(arg(layer, name), value)
    assert problem is not None and fragment in problem[0]


@pytest.mark.parametrize(
    ("layer", "name", "value"),
    [
        ("Dense", "units", 64),
        ("Dropout", "rate", 0.5),
        ("Dropout", "rate", 0),
        ("Conv2D", "padding", "same"),
        ("Conv2D", "strides", [2, 2]),
        ("Conv2D", "strides", 2),
        ("Dense", "use_bias", False),
    ],
)
def test_check_value_accepts(layer: str, name: str, value: object) -> None:
    assert check_value(arg(layer, name), value) is None


def test_a_whole_float_for_an_integer_says_what_to_write() -> None:
    got = lines("model: {input: [4], layers: [Dense: {units: 64.0}]}\n")
    assert got == [
        "s.yaml:3:45: model.layers[0].Dense.units: must be an integer. Received: units=64.0"
        " (write 64)"
    ]


# --- safety: nothing runs code ---------------------------------------------------------------


@pytest.mark.parametrize("layer", ["Lambda", "TFSMLayer", "TorchModuleWrapper", "InputLayer"])
def test_refused_layers(layer: str) -> None:
    got = lines(f"model: {{input: [4], layers: [{layer}: {{}}]}}\n")
    assert len(got) == 1 and f"{layer} is not allowed in a spec" in got[0]


@pytest.mark.parametrize(
    "name", ["keras.layers.Dense", "os.system", "my_module.MyLayer", "__import__"]
)
def test_module_paths_are_unknown_names(name: str) -> None:
    got = lines(f"model: {{input: [4], layers: ['{name}': {{}}]}}\n")
    assert len(got) == 1 and f"unknown layer {name!r}" in got[0]


def test_a_wrapped_layer_is_checked_like_any_other() -> None:
    got = lines("model: {input: [5, 3], layers: [Bidirectional: {layer: {LSTN: {units: 2}}}]}\n")
    assert len(got) == 1 and "unknown layer 'LSTN' (did you mean 'LSTM'?)" in got[0]


# --- wiring (resolve) ------------------------------------------------------------------------

FUNCTIONAL = """\
model:
  inputs: {a: [4], b: [4]}
  layers:
{layers}
  outputs: {outputs}
"""


def functional(layers: str, outputs: str) -> str:
    return FUNCTIONAL.replace("{layers}", layers.rstrip("\n")).replace("{outputs}", outputs)


def wiring(layers: str, outputs: str = "[out]") -> list[str]:
    body = functional(textwrap.indent(textwrap.dedent(layers), "    "), outputs)
    return lines(body)


def test_unknown_from_is_placed_at_the_name_and_suggests() -> None:
    got = wiring("""\
        - {name: out, Dense: {units: 1}, from: [a, bb]}
        - {name: other, Dense: {units: 1}, from: b}
        """)
    assert got == [
        "s.yaml:6:48: model.layers[0].from[1]: 'bb' is not a node of this model (did you mean 'b'?)"
    ]


def test_a_typo_in_from_gives_no_cascade_of_unused_nodes() -> None:
    diags = problems(
        functional(
            "    - {name: h, Dense: {units: 1}, from: aa}\n"
            "    - {name: out, Concatenate: {}, from: [h, b]}",
            "[out]",
        )
    )
    assert len(diags) == 1 and "'aa' is not a node" in diags[0].message


def test_unused_input_and_layer() -> None:
    diags = problems(
        functional(
            "    - {name: out, Dense: {units: 1}, from: a}\n"
            "    - {name: spare, Dense: {units: 1}, from: a}",
            "[out]",
        )
    )
    got = {(d.severity, format_path(d.path)): d.message for d in diags}
    assert got == {
        ("error", "model.inputs.b"): "input 'b' does not reach any output",
        ("warning", "model.layers[1]"): "layer 'spare' does not reach any output",
    }


def test_sharing_weights_does_not_use_the_shared_nodes_output() -> None:
    # `twin` reuses `first`'s Dense on b; nothing reads `first` itself, so a reaches nothing.
    diags = problems(
        functional(
            "    - {name: first, Dense: {units: 1}, from: a}\n"
            "    - {name: twin, shares: first, from: b}\n"
            "    - {name: out, Dense: {units: 1}, from: twin}",
            "[out]",
        )
    )
    got = {(d.severity, format_path(d.path)): d.message for d in diags}
    assert got == {
        ("error", "model.inputs.a"): "input 'a' does not reach any output",
        ("warning", "model.layers[0]"): "layer 'first' does not reach any output",
    }


def test_cycles_duplicates_and_shares() -> None:
    got = wiring("""\
        - {name: x, Dense: {units: 4}, from: [a, y]}
        - {name: y, Dense: {units: 4}, from: x}
        - {name: x, Dense: {units: 4}, from: b}
        - {name: s, shares: nope, from: b}
        - {name: out, Concatenate: {}, from: [y, s]}
        """)
    assert any("the layers form a cycle: x -> y -> x" in g for g in got)
    assert any(
        g.startswith("s.yaml:8:14: model.layers[2].name: duplicate node name 'x'") for g in got
    )
    assert any(
        g.startswith("s.yaml:9:25: model.layers[3].shares: 'nope' is not an earlier") for g in got
    )


def test_a_shared_layer_takes_no_arguments() -> None:
    got = wiring("""\
        - {name: e, Dense: {units: 4}, from: a}
        - {name: f, shares: e, Dense: {units: 4}, from: b}
        - {name: out, Concatenate: {}, from: [e, f]}
        """)
    assert len(got) == 1 and "a shared layer reuses the arguments" in got[0]


def test_per_output_losses_must_name_outputs() -> None:
    body = (
        functional(
            "    - {name: out, Dense: {units: 1}, from: [a]}\n"
            "    - {name: out2, Dense: {units: 1}, from: b}",
            "[out, out2]",
        )
        + "compile:\n  loss: {out: mse, ou2: mse}\n  loss_weights: {out: 1.0, zz: 2.0}\n"
    )
    got = lines(body)
    assert got == [
        "s.yaml:10:20: compile.loss.ou2: 'ou2' is not an output of the model"
        " (did you mean 'out2'?)",
        "s.yaml:11:28: compile.loss_weights.zz: 'zz' is not an output of the model"
        " (outputs are: out, out2)",
    ]


def test_warnings_alone_do_not_fail() -> None:
    diags = ok(ONE + "compile: {optimizer: {SGD: {lr: 0.1}}, loss: mse}\n")
    assert [d.severity for d in diags] == ["warning"]


# --- paths a callback writes stay in the run folder ------------------------------------------


def callback_errors(callback: str) -> list[str]:
    return [
        d.message + (f" ({d.suggestion})" if d.suggestion else "")
        for d in problems(ONE + f"callbacks:\n  - {callback}\n")
        if d.severity == "error"
    ]


@pytest.mark.parametrize(
    ("callback", "message"),
    [
        (
            "CSVLogger: {filename: /tmp/logs/train.csv}",
            "filename is an absolute path, outside the run folder. Received: "
            "filename='/tmp/logs/train.csv' (write train.csv; relative paths are placed in "
            "the run folder)",
        ),
        (
            "BackupAndRestore: {backup_dir: ..}",
            "backup_dir goes up out of the run folder with '..'. Received: backup_dir='..' "
            "(write backup; relative paths are placed in the run folder)",
        ),
        (
            "CSVLogger: {filename: logs/../../train.csv}",
            "filename goes up out of the run folder with '..'. Received: "
            "filename='logs/../../train.csv' (write logs/train.csv; relative paths are placed "
            "in the run folder)",
        ),
        (
            "TensorBoard: {log_dir: ~/logs}",
            "log_dir starts with ~, which is not your home folder here but a folder named '~'. "
            "Received: log_dir='~/logs' (write logs; relative paths are placed in the run "
            "folder)",
        ),
        (
            'BackupAndRestore: {backup_dir: ""}',
            "backup_dir is empty. Received: backup_dir='' (write backup; relative paths are "
            "placed in the run folder)",
        ),
        (
            "BackupAndRestore: {backup_dir: .}",
            "backup_dir names the run folder itself, which speck manages. Received: "
            "backup_dir='.' (write a folder or file inside it, e.g. backup)",
        ),
        (
            "TensorBoard: {log_dir: ./}",
            "log_dir names the run folder itself, which speck manages. Received: "
            "log_dir='./' (write a folder or file inside it, e.g. logs)",
        ),
        (
            'CSVLogger: {filename: "a\\0b.csv"}',
            "filename holds a NUL character, which no file name may. Received: "
            "filename='a\\x00b.csv' (write ab.csv; relative paths are placed in the run folder)",
        ),
        (
            "CSVLogger: {filename: null}",
            "filename is a path relative to the run folder. Received: None (write e.g. "
            "logs/train.csv; relative paths are placed in the run folder)",
        ),
        (
            "CSVLogger: {filename: {a: 1}}",
            "filename is a path relative to the run folder. Received: {'a': 1} (write e.g. "
            "logs/train.csv; relative paths are placed in the run folder)",
        ),
        (
            f"CSVLogger: {{filename: logs/{'x' * 256}.csv}}",
            "filename has a name of 260 bytes; a file name may be at most 255. Received: "
            f"filename='logs/{'x' * 51}... "  # the value is cut at 60 characters
            "(write a shorter name)",
        ),
        (
            f"TensorBoard: {{log_dir: {'/'.join(['d' * 200] * 21)}}}",
            "log_dir is 4,220 bytes long; a path may be at most 4,096. Received: "
            f"log_dir='{'d' * 56}... "
            "(write a shorter path)",
        ),
    ],
)
def test_callback_paths_stay_inside_the_run_folder(callback: str, message: str) -> None:
    assert callback_errors(callback) == [message]


def test_a_callback_path_error_is_at_its_value() -> None:
    (diag,) = problems(ONE + "callbacks:\n  - CSVLogger: {filename: /etc/passwd}\n")
    assert diag.format() == (
        "s.yaml:5:27: callbacks[0].CSVLogger.filename: filename is an absolute path, outside "
        "the run folder. Received: filename='/etc/passwd' (write passwd; relative paths are "
        "placed in the run folder)"
    )


@pytest.mark.parametrize(
    "callback",
    [
        "CSVLogger: {filename: logs/train.csv}",
        "ModelCheckpoint: {filepath: 'checkpoints/{epoch:02d}.keras'}",
        "TensorBoard: {log_dir: logs/run.1}",
        "BackupAndRestore: {backup_dir: backup}",
        "TensorBoard: {}",
    ],
)
def test_relative_callback_paths_are_fine(callback: str) -> None:
    ok(ONE + f"callbacks:\n  - {callback}\n")


def test_every_callback_argument_that_names_a_path_is_checked() -> None:
    from speck.front.validate import OUTPUT_PATH_ARGS

    catalog = load_catalog()
    words = {"dir", "path", "file", "filename", "filepath", "directory"}
    named = {
        (cls, arg)
        for cls in catalog.names("callbacks")
        for arg in catalog.get("callbacks", cls).args  # type: ignore[union-attr]
        if words & set(arg.split("_"))
    }
    not_files = {("RemoteMonitor", "path")}  # the URL path on the monitoring server
    assert named - not_files == set(OUTPUT_PATH_ARGS.items())


# --- values Keras cannot take ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "line"),
    [
        (
            "seed: 4294967296\n" + ONE,
            "s.yaml:3:7: seed: Input should be less than or equal to 4294967295 (seeds are "
            "32-bit unsigned integers). Received: 4294967296 (write at most 4,294,967,295)",
        ),
        (
            "model: {input: [2147483648], layers: [Dense: {units: 1}]}\n",
            "s.yaml:3:17: model.input[0]: Input should be less than or equal to 2147483647 "
            "(TensorFlow takes sizes as 32-bit integers). Received: 2147483648 "
            "(write at most 2,147,483,647)",
        ),
        (
            ONE + "fit: {batch_size: 9223372036854775808}\n",
            "s.yaml:4:19: fit.batch_size: Input should be less than or equal to 2147483647 "
            "(TensorFlow takes sizes as 32-bit integers). Received: 9223372036854775808 "
            "(write at most 2,147,483,647)",
        ),
        (
            ONE + "fit: {epochs: 100000000000000000000000000000000}\n",
            "s.yaml:4:15: fit.epochs: Input should be less than or equal to "
            "9223372036854775807 (TensorFlow's integers are 64-bit). Received: "
            "100000000000000000000000000000000 (write at most 9,223,372,036,854,775,807)",
        ),
        (
            "model: {input: [4], layers: [Dense: {units: 9223372036854775808}]}\n",
            "s.yaml:3:45: model.layers[0].Dense.units: units is beyond the 64-bit integers "
            "TensorFlow holds. Received: units=9223372036854775808 (write a number from "
            "-9,223,372,036,854,775,808 to 9,223,372,036,854,775,807)",
        ),
        (
            ONE + "compile: {loss: mse, optimizer: {SGD: {learning_rate: .nan}}}\n",
            "s.yaml:4:55: compile.optimizer.SGD.learning_rate: learning_rate is NaN (not a "
            "number). Received: learning_rate=nan (write a number; with NaN, Keras computes NaN)",
        ),
        (
            ONE + "compile: {loss: mse, optimizer: {Adam: {beta_1: -.inf}}}\n",
            "s.yaml:4:49: compile.optimizer.Adam.beta_1: beta_1 must be finite. Received: "
            "beta_1=-inf (write a finite number; Keras would compute NaN or infinity with it)",
        ),
        (
            ONE + "compile: {loss: mse, loss_weights: {dense: .inf}}\n",
            "s.yaml:4:44: compile.loss_weights.dense: Input should be a finite number. "
            "Received: inf (write a finite number; Keras would compute NaN with it)",
        ),
    ],
)
def test_values_keras_cannot_take_are_refused(body: str, line: str) -> None:
    assert line in lines(body)


def test_a_number_that_is_not_finite_is_one_error_even_in_a_union() -> None:
    body = (
        ONE
        + "data: {source: sklearn/iris, scale: .nan}\ncompile: {loss: mse, loss_weights: [.inf]}\n"
    )
    assert lines(body) == [
        "s.yaml:4:37: data.scale: Input should be a finite number. Received: nan (write a "
        "finite number; Keras would compute NaN with it)",
        "s.yaml:5:37: compile.loss_weights[0]: Input should be a finite number. Received: inf "
        "(write a finite number; Keras would compute NaN with it)",
    ]


def test_infinity_where_it_means_no_bound_is_fine() -> None:
    ok(
        "model: {input: [4], layers: [Dense: {units: 1}]}\n"
        "compile: {loss: mse, optimizer: {SGD: {clipnorm: .inf}}}\n"
        "callbacks: [EarlyStopping: {monitor: loss, baseline: .inf}]\n"
    )


def test_the_largest_values_keras_takes_are_fine() -> None:
    ok(
        "seed: 4294967295\n"
        "model: {input: [2147483647], layers: [Dropout: {rate: 0.5, seed: 9223372036854775807}]}\n"
        "fit: {epochs: 9223372036854775807, batch_size: 2147483647}\n"
    )


# --- the model's size ------------------------------------------------------------------------


def analyzed(body: str, tmp_path: Path) -> list[str]:
    path = tmp_path / "s.yaml"
    path.write_text(HEAD + body, encoding="utf-8")
    return [d.format(with_severity=True) for d in analyze(path).diagnostics]


def test_a_model_too_large_to_build_is_an_error_at_its_largest_layer(tmp_path: Path) -> None:
    body = "model: {input: [100000], layers: [Dense: {units: 1000}, Dense: {units: 100000}]}\n"
    # 100000 * 1000 + 1000 = 100,001,000; 1000 * 100000 + 100000 = 100,100,000;
    # 200,101,000 in all. Ten times the second layer's units: past 10**10 parameters.
    assert analyzed(body, tmp_path) == [
        f"{tmp_path / 's.yaml'}:3:57: warning: model.layers[1].Dense: the model has "
        "200,101,000 parameters (800.4 MB as float32); layer 'dense_1' alone has 100,100,000 "
        "(400.4 MB) (training needs several times that in memory, for gradients and optimizer "
        "state)"
    ]
    body = "model: {input: [100000], layers: [Dense: {units: 1000}, Dense: {units: 10000000}]}\n"
    # 1000 * 10**7 + 10**7 = 10,010,000,000 in the second; 10,110,001,000 in all.
    assert analyzed(body, tmp_path) == [
        f"{tmp_path / 's.yaml'}:3:57: error: model.layers[1].Dense: the model has "
        "10,110,001,000 parameters (40.4 GB as float32); layer 'dense_1' alone has "
        "10,010,000,000 (40.0 GB): past the 10,000,000,000 parameters (40.0 GB) speck builds "
        "(make the layer smaller: fewer units or filters, or a smaller input)"
    ]


def test_a_model_of_ordinary_size_gets_no_word(tmp_path: Path) -> None:
    assert analyzed("model: {input: [10000], layers: [Dense: {units: 9999}]}\n", tmp_path) == []


def test_speck_own_callback_arguments_have_bounds_too() -> None:
    body = (
        ONE
        + "callbacks: [ModelCheckpoint: {filepath: m.keras, every_epochs: 10000000000000000000}]\n"
    )
    assert lines(body) == [
        "s.yaml:4:64: callbacks[0].ModelCheckpoint.every_epochs: must be at most 2**63 - 1, the "
        "largest integer TensorFlow holds. Received: 10000000000000000000 (write a number from "
        "1 to 9,223,372,036,854,775,807)"
    ]

"""Tests of stage 2, validate (and the wiring checks of resolve): pydantic's error locations
mapped back to spec paths and positions, every problem of a file at once, suggestions, and the
catalog checks of Keras names, arguments and values. No TensorFlow."""

from __future__ import annotations

import textwrap

import pytest
from conftest import SPECS
from pydantic import ValidationError

from speck.catalog import load_catalog
from speck.diagnostics import Diagnostic, SpecError, format_path
from speck.load import load_text
from speck.resolve import resolve
from speck.spec import Spec
from speck.validate import (
    allowed_keys,
    check_value,
    pydantic_diagnostics,
    raw_path,
    suggest_like,
    validate,
)

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
    from speck.load import load_file

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

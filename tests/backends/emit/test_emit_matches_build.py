"""The emitted script is held to the live model: for every example spec and for generated ones,
the model its `build_model()` makes has the very config and parameter count of the model
`speck.build` makes, and it compiles and makes callbacks alike."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import SPECS  # the example specs that train (search specs are tune's)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from same_model import callback_args, load_script, tagged

from speck.backends.emit.program import emit_script
from speck.pipeline import resolve_file

keras = pytest.importorskip("keras")
pytestmark = pytest.mark.tf

from speck.backends.build import build_model, compile_model  # noqa: E402  (after the Keras check)

ROOT = Path(__file__).resolve().parents[3]


def as_json(value: Any, sort_keys: bool = False) -> str:
    return json.dumps(tagged(value), indent=1, default=repr, sort_keys=sort_keys)


def assert_same_model(spec_path: Path, folder: Path) -> None:
    resolved = resolve_file(spec_path)
    script = load_script(emit_script(resolved, script_dir=folder), folder)
    data = resolved.plan.data
    if data is not None and "features" in data.extras:  # a table's typed columns
        features = script.load_data()[data.extras.index("features") - len(data.extras)]
        keras.utils.clear_session()  # the inner Sequential's input is named per session
        live = build_model(resolved.graph, features=features)
        keras.utils.clear_session()
        emitted = script.build_model(features)
    else:
        live, emitted = build_model(resolved.graph), script.build_model()
    assert as_json(emitted.get_config()) == as_json(live.get_config())
    assert emitted.count_params() == live.count_params()
    if resolved.plan.compiled:
        compile_model(live, resolved.plan)
        script.compile_model(emitted)
        # Per-output mappings are written in output order; their order means nothing to Keras.
        assert as_json(compiled(emitted), sort_keys=True) == as_json(compiled(live), sort_keys=True)


def compiled(model: Any) -> dict[str, Any]:
    """The model's compile config, less the optimizer's name (Keras numbers them per process)."""
    config = model.get_compile_config()
    optimizer = config.get("optimizer")
    if isinstance(optimizer, dict):
        optimizer.get("config", {}).pop("name", None)
    return config


def callback_state(callbacks: list[Any]) -> list[tuple[str, dict[str, Any]]]:
    simple = (str, int, float, bool, type(None))
    return [
        (type(cb).__name__, {k: v for k, v in vars(cb).items() if isinstance(v, simple)})
        for cb in callbacks
    ]


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
def test_emitted_model_matches_the_live_model(spec: Path, tmp_path: Path) -> None:
    assert_same_model(spec, tmp_path)


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
def test_emitted_callbacks_are_the_specs_and_the_run_folders(spec: Path, tmp_path: Path) -> None:
    from speck.backends.build import make_object

    resolved = resolve_file(spec)
    script = load_script(emit_script(resolved, script_dir=tmp_path), tmp_path)
    out = tmp_path / "run"
    made = script.make_callbacks(out, 7, False)
    own = [
        make_object(type(cb)(cb.category, cb.class_name, None, callback_args(cb, out, 7)))
        for cb in resolved.plan.callbacks
    ]
    assert callback_state(made[: len(own)]) == callback_state(own)
    log = made[len(own)]  # Keras' CSVLogger, counting epochs from 1
    assert isinstance(log, keras.callbacks.CSVLogger) and log.filename == str(out / "history.csv")


def test_nested_keras_objects_match(tmp_path: Path) -> None:
    spec = {
        "speck": 1,
        "name": "nested",
        "model": {
            "inputs": {"a": [6], "b": [6]},
            "layers": [
                {
                    "name": "h",
                    "Dense": {
                        "units": 4,
                        "kernel_initializer": {"HeNormal": {"seed": 3}},
                        "kernel_regularizer": {"L2": {"l2": 0.01}},
                    },
                    "from": "a",
                },
                {"name": "h_b", "shares": "h", "from": "b"},
                {"name": "sum", "Add": {}, "from": ["h", "h_b"]},
                {"name": "p", "Dense": {"units": 3, "activation": "softmax"}, "from": "sum"},
                {"name": "r", "Dense": {"units": 1}, "from": "sum"},
            ],
            "outputs": ["p", "r"],
        },
        "compile": {
            "optimizer": {
                "Adam": {
                    "learning_rate": {
                        "ExponentialDecay": {
                            "initial_learning_rate": 0.01,
                            "decay_steps": 10,
                            "decay_rate": 0.5,
                        }
                    }
                }
            },
            "loss": {"r": "mse", "p": {"SparseCategoricalCrossentropy": {"from_logits": False}}},
            "metrics": {"p": ["accuracy"], "r": [{"MeanAbsoluteError": {}}]},
            "loss_weights": {"r": 0.5, "p": 1.0},
        },
    }
    path = tmp_path / "nested.json"
    path.write_text(json.dumps(spec), encoding="utf-8")
    assert_same_model(path, tmp_path)


@pytest.mark.slow
def test_emitted_script_trains_like_speck_train(tmp_path: Path) -> None:
    """`python generated/digits_mlp.py` in its own process and `speck train` give the same
    final metrics: one program, the same seed, the same draws."""
    from speck.backends.run.train import train_spec
    from speck.front.overrides import parse_override

    spec = ROOT / "specs" / "digits_mlp.yaml"
    script = ROOT / "generated" / "digits_mlp.py"
    result = subprocess.run(
        [sys.executable, str(script), "--epochs", "1", "--out", str(tmp_path / "script-run")],
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    emitted = json.loads((tmp_path / "script-run" / "metrics.json").read_text())
    one_epoch = resolve_file(spec, [parse_override("fit.epochs=1")])
    live = train_spec(one_epoch, tmp_path / "train-run").metrics
    assert set(emitted["final"]) == set(live["final"]) == {"validation", "test"}
    for split, values in live["final"].items():
        assert emitted["final"][split] == pytest.approx(values, abs=1e-5)
    assert emitted["samples"] == live["samples"]


# --- generated specs -------------------------------------------------------------------------

activations = st.sampled_from([None, "relu", "tanh", "sigmoid", "linear"])


def dense(units: st.SearchStrategy[int] | None = None) -> st.SearchStrategy[dict[str, Any]]:
    args = st.fixed_dictionaries(
        {"units": units if units is not None else st.integers(1, 24)},
        optional={"activation": activations, "use_bias": st.booleans()},
    )
    return args.map(lambda a: {"Dense": a})


def conv() -> st.SearchStrategy[dict[str, Any]]:
    args = st.fixed_dictionaries(
        {
            "filters": st.integers(1, 6),
            "kernel_size": st.integers(1, 3),
            "padding": st.just("same"),
        },
        optional={"activation": activations, "strides": st.just(1)},
    )
    return args.map(lambda a: {"Conv2D": a})


extras = st.one_of(
    st.floats(0.05, 0.5).map(lambda r: {"Dropout": {"rate": round(r, 2)}}),
    st.sampled_from([{}, {"momentum": 0.9}, {"epsilon": 0.01}]).map(
        lambda a: {"BatchNormalization": a}
    ),
)
pooling = st.sampled_from(["MaxPooling2D", "AveragePooling2D"]).map(
    lambda kind: {kind: {"pool_size": 2, "padding": "same"}}
)


@st.composite
def sequential_specs(draw: st.DrawFn) -> dict[str, Any]:
    if draw(st.booleans()):
        model = {
            "input": [draw(st.integers(1, 16))],
            "layers": draw(st.lists(st.one_of(dense(), extras), min_size=1, max_size=4)),
        }
        model["layers"].append(draw(dense()))
    else:
        side = draw(st.integers(4, 10))
        body = draw(st.lists(st.one_of(conv(), pooling, extras), min_size=1, max_size=4))
        head = draw(st.sampled_from([{"Flatten": {}}, {"GlobalAveragePooling2D": {}}]))
        model = {
            "input": [side, side, draw(st.integers(1, 3))],
            "layers": [draw(conv()), *body, head, draw(dense())],
        }
    return {"speck": 1, "name": "sequential-drawn", "model": model}


@st.composite
def functional_specs(draw: st.DrawFn) -> dict[str, Any]:
    images = draw(st.booleans())
    width = draw(st.integers(1, 8))
    same_width = st.just(width)
    layers: list[dict[str, Any]] = []
    ends = []
    for b in range(draw(st.integers(1, 3))):
        previous = "x"
        for depth in range(draw(st.integers(1, 2))):
            name = f"b{b}_{depth}"
            if images:
                entry = draw(conv())
                entry["Conv2D"]["filters"] = width
            else:
                entry = draw(dense(same_width))
            layers.append({"name": name, **entry, "from": previous})
            previous = name
        ends.append(previous)
    join = draw(st.sampled_from(["Concatenate", "Add"])) if len(ends) > 1 else None
    last = ends[0]
    if join is not None:
        layers.append({"name": "joined", join: {}, "from": ends})
        last = "joined"
    if images:
        layers.append({"name": "pooled", "GlobalAveragePooling2D": {}, "from": last})
        last = "pooled"
    layers.append({"name": "out", **draw(dense()), "from": last})
    side = draw(st.integers(3, 8))
    shape = [side, side, draw(st.integers(1, 3))] if images else [draw(st.integers(1, 16))]
    model = {"inputs": {"x": shape}, "layers": layers, "outputs": ["out"]}
    return {"speck": 1, "name": "functional-drawn", "model": model}


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(spec=st.one_of(sequential_specs(), functional_specs()))
def test_emitted_model_matches_for_drawn_specs(spec: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "drawn.json"
    path.write_text(json.dumps(spec), encoding="utf-8")
    assert_same_model(path, tmp_path)


# --- the script runs on its own ---------------------------------------------------------------


@pytest.mark.slow
def test_generated_script_prints_its_summary_standalone(tmp_path: Path) -> None:
    script = ROOT / "generated" / "functional_mlp.py"
    result = subprocess.run(
        [sys.executable, str(script), "--summary"],
        cwd=tmp_path,  # not the project: the script needs nothing of it
        env={"PATH": "", "KERAS_HOME": str(tmp_path / "keras"), "TF_CPP_MIN_LOG_LEVEL": "3"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    live = build_model(resolve_file(ROOT / "specs" / "functional_mlp.yaml").graph)
    assert f"Total params: {live.count_params():,}" in result.stdout
    assert not (tmp_path / "keras" / "datasets").exists()  # no data was touched


UNUSED_NODES = """\
speck: 1
name: unused-nodes
model:
  inputs: {a: [4], b: [4]}
  layers:
    - {name: proto, Dense: {units: 4}, from: a}          # read by no one; its layer is shared
    - {name: twin, shares: proto, from: b}
    - {name: joined, Concatenate: {}, from: [a, twin]}
    - {name: spare, Dense: {units: 2}, from: joined}     # read by no one,
    - {name: spare_2, Dense: {units: 2}, from: spare}    # nor is what reads it
    - {name: out, Dense: {units: 1}, from: joined}
  outputs: [out]
"""


def test_nodes_nothing_reads_are_left_out_of_the_script(tmp_path: Path) -> None:
    """A valid spec with layers that reach no output (speck warns) emits no unused variable
    (ruff F841): such a node is not in the model Keras builds, so the script leaves its call
    out; a layer another node shares is still made. The model is the live one all the same."""
    spec = tmp_path / "unused.yaml"
    spec.write_text(UNUSED_NODES)
    text = emit_script(resolve_file(spec), script_dir=tmp_path)
    (tmp_path / "script.py").write_text(text)
    lint = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--select", "F", "script.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert lint.returncode == 0, lint.stdout
    assert 'proto_layer = layers.Dense(4, name="proto")' in text
    assert "twin = proto_layer(b)" in text and "spare_2 =" not in text
    assert "# spare: nothing reads it" in text
    assert_same_model(spec, tmp_path)

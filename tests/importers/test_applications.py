"""The eight Keras Applications (`weights=None`, nothing downloaded) round-trip through speck:
the saved config imports to a spec, the spec validates with the static parameter count Keras
gives, builds to a model whose config.json is the original's (`shared_object_id`, Keras'
object ids, aside) with the same parameters, and emits a script whose model has them too.

One test per application: each builds the model twice and takes some seconds."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from same_model import load_script

pytestmark = [pytest.mark.tf, pytest.mark.slow]

APPLICATIONS = (
    "ResNet50",
    "MobileNetV2",
    "EfficientNetB0",
    "DenseNet121",
    "InceptionV3",
    "NASNetMobile",
    "ConvNeXtTiny",
    "Xception",
)


def saved_config(model: Any) -> dict[str, Any]:
    """What `model.save` writes into config.json, as JSON data, without Keras' object ids."""
    from keras.src.saving.serialization_lib import serialize_keras_object

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k != "shared_object_id"}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return strip(json.loads(json.dumps(serialize_keras_object(model))))


@pytest.mark.parametrize("application", APPLICATIONS)
def test_application_round_trips(application: str, tmp_path: Path) -> None:
    from speck.backends.build import build_model, keras_module, summary_text
    from speck.backends.emit.program import emit_script
    from speck.checks.shapes import total_params
    from speck.checks.training import check
    from speck.front.load import load_text
    from speck.front.validate import validate
    from speck.importers.keras import import_model
    from speck.ir.resolve import resolve

    keras = keras_module()
    keras.backend.clear_session()
    original = getattr(keras.applications, application)(weights=None)
    config = saved_config(original)
    path = tmp_path / f"{application}.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", json.dumps(config))

    text = import_model(path).text
    resolved = resolve(validate(load_text(text, f"{application}.yaml")))
    shapes, diagnostics = check(resolved)
    assert [d.format() for d in diagnostics if d.severity == "error"] == []
    assert total_params(shapes, resolved.graph) == original.count_params()

    custom = bool(resolved.graph.custom_layers)  # ConvNeXt's LayerScale
    keras.backend.clear_session()
    rebuilt = build_model(resolved.graph, allow_custom_layers=custom)
    assert saved_config(rebuilt) == config
    assert rebuilt.count_params() == original.count_params()

    script = load_script(
        emit_script(resolved, script_dir=tmp_path, allow_custom_layers=custom), tmp_path
    )
    keras.backend.clear_session()
    emitted = script.build_model()
    assert emitted.count_params() == original.count_params()
    total = next(line for line in summary_text(original).splitlines() if "Total params" in line)
    assert total in summary_text(emitted)

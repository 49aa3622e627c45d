"""Helpers for holding two models to each other: Keras configs as comparable JSON, and an
emitted script loaded as a module in this process."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from speck.ir.graph import PATH_ARGS


def callback_args(obj: Any, out_dir: Path, steps_per_epoch: int) -> dict[str, Any]:
    """What a spec's callback should be made with, written out independently of the emitter:
    relative paths under `out_dir`, and speck's `every_epochs: N` on ModelCheckpoint as
    `save_freq=N * steps_per_epoch`. Tests hold the program's callbacks to it."""
    args = dict(obj.args)
    for key in PATH_ARGS:
        if isinstance(args.get(key), str):
            args[key] = str(out_dir / args[key])
    if obj.class_name == "ModelCheckpoint" and "every_epochs" in args:
        args["save_freq"] = int(args.pop("every_epochs")) * steps_per_epoch
    return args


def tagged(value: Any) -> Any:
    """Plain JSON data in which a tuple stays apart from a list: `(3, 3)` is not `[3, 3]`."""
    if isinstance(value, tuple):
        return {"__tuple__": [tagged(v) for v in value]}
    if isinstance(value, list):
        return [tagged(v) for v in value]
    if isinstance(value, dict):
        return {str(k): tagged(v) for k, v in value.items()}
    return value


def config_json(model: Any) -> str:
    """A model's `get_config()` as JSON that keeps tuples distinct from lists."""
    return json.dumps(tagged(model.get_config()), sort_keys=True, indent=1)


def load_script(text: str, folder: Path, name: str = "emitted") -> ModuleType:
    """Write a generated script into `folder` and import it as a module (not as `__main__`)."""
    path = folder / f"{name}.py"
    path.write_text(text, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(f"speck_test_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses and NamedTuples look their module up
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module

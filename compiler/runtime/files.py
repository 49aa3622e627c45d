"""Atomic writes of run-folder artifacts: text, JSON, saved Keras models and figures.

Each file is written to a temporary name in its own folder and then renamed over the target,
so a reader (or a run killed half-way) never sees a half-written file. A temporary file is named
`.<name>.partial-<process id><suffix>`; one left behind by a killed run is removed by
`remove_partial_files` when the next run starts. Like the rest of `speck.runtime`, these are
plain top-level functions that `speck emit` copies into the programs that use them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def write_atomically(path: Path, write: Any) -> Path:
    """`write(temporary path)` beside `path`, then a rename over `path`: never half a file."""
    tmp = path.with_name(f".{path.name}.partial-{os.getpid()}{path.suffix}")
    try:
        write(str(tmp))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def remove_partial_files(folder: Path) -> None:
    """Remove the temporary files of atomic writes that a killed run left in `folder`."""
    for leftover in folder.glob(".*.partial-*"):
        leftover.unlink(missing_ok=True)


def write_text_atomically(path: str | Path, text: str) -> Path:
    """Write `text` (UTF-8) to `path` through a temporary file and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_atomically(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def write_json_atomically(path: str | Path, data: Any) -> Path:
    """Write `data` as indented JSON (keys in the order given) to `path`, atomically."""
    return write_text_atomically(path, json.dumps(data, indent=2, allow_nan=True) + "\n")


def save_model_atomically(model: Any, path: str | Path) -> Path:
    """`model.save(path)` through a temporary `.keras` file in the same folder and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_atomically(path, model.save)

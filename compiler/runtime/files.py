"""Atomic writes of run-folder artifacts: text, JSON and saved Keras models.

Each file is written to a temporary name in its own folder and then renamed over the target,
so a reader (or a run killed half-way) never sees a half-written file. Like the rest of
`speck.runtime`, these are plain top-level functions that `speck emit` copies into scripts.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def write_text_atomically(path: str | Path, text: str) -> Path:
    """Write `text` (UTF-8) to `path` through a temporary file and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_json_atomically(path: str | Path, data: Any) -> Path:
    """Write `data` as indented JSON (keys in the order given) to `path`, atomically."""
    return write_text_atomically(path, json.dumps(data, indent=2, allow_nan=True) + "\n")


def save_model_atomically(model: Any, path: str | Path) -> Path:
    """`model.save(path)` through a temporary `.keras` file in the same folder and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".keras", dir=path.parent)
    os.close(fd)
    try:
        model.save(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def save_figure_atomically(figure: Any, path: str | Path, dpi: int = 100) -> Path:
    """`figure.savefig(path)` (format from the suffix) through a temporary file and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        figure.savefig(tmp, dpi=dpi, bbox_inches="tight")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path

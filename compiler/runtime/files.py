"""Atomic writes of run-folder artifacts: text, JSON, saved Keras models and figures.

Each file is written to a temporary name in its own folder and then renamed over the target,
so a reader (or a run killed half-way) never sees a half-written file. A temporary file is named
`.<name>.partial-<random><suffix>`; the program removes any that a killed run left behind when
the next run starts. Like the rest of `speck.runtime`, these are
plain top-level functions that `speck emit` copies into the programs that use them.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any


def write_atomically(path: Path, write: Any) -> Path:
    """`write(temporary path)` beside `path`, then a rename over `path`: never half a file.
    `write` creates the file, so it gets the mode the umask gives, as any other file would."""
    tmp = path.with_name(f".{path.name}.partial-{secrets.token_hex(6)}{path.suffix}")
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path

"""Atomic writes of run-folder artifacts: text, JSON, saved Keras models and figures.

Each file is written to a temporary name in its own folder and then renamed over the target, so a
reader (or a run killed half-way) never sees a half-written file. A temporary file is named
`.<name>.partial-<process id><suffix>`; the program removes any a killed run left when the next run
starts. The writer creates the file, so it gets the mode the umask gives, like any other. Like the
rest of `speck.backends.emit.runtime`, this is a plain top-level function that `speck emit` copies
into the programs that use it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def write_atomically(path: Path, write: Any) -> None:
    """`write(temporary path)` beside `path`, then a rename over `path`: never half a file."""
    tmp = path.with_name(f".{path.name}.partial-{os.getpid()}{path.suffix}")
    try:
        write(str(tmp))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)

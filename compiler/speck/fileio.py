"""Atomic writes of the files speck itself writes: emitted scripts, imported specs, the schema,
models saved with `--save`, the run folder's marker, exported models.

Each file is written under a temporary name in its own folder and renamed over the target, so
no reader sees half a file. A temporary file is made private (`tempfile.mkstemp` creates it
0600); before the rename it gets the mode any other tool's new file has under the user's umask
(0644 under umask 022), and a folder the mode of `mkdir` (0755).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def umask() -> int:
    """The process's umask: from `/proc/self/status` where Linux gives it, else by setting it
    and straight back (which another thread creating a file at that moment could notice)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def follow_umask(path: str | Path) -> None:
    """Give a file the mode a new file gets under the umask (0666 less the umask), a folder
    and what it holds the modes `mkdir` and `open` give (0777 and 0666 less the umask)."""
    mask = umask()
    path = Path(path)
    if path.is_dir() and not path.is_symlink():
        for folder, _, files in os.walk(path):
            os.chmod(folder, 0o777 & ~mask)
            for name in files:
                os.chmod(os.path.join(folder, name), 0o666 & ~mask)
    else:
        os.chmod(path, 0o666 & ~mask)


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary file name in `path`'s folder (with `path`'s suffix, which some writers
    require) to write to; once the block ends without an error, the file follows the umask
    and is renamed to `path`. On an error the temporary file is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        follow_umask(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextmanager
def atomic_folder(path: str | Path, *, replace: bool = False) -> Iterator[Path]:
    """A temporary folder name beside `path` (not yet existing) for a writer that makes a
    folder (a SavedModel); once the block ends, the folder follows the umask and takes
    `path`'s place. `replace`: a folder or file already at `path` is removed first."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    holder = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    tmp = holder / path.name
    try:
        yield tmp
        follow_umask(tmp)
        if replace and (path.exists() or path.is_symlink()):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
        os.replace(tmp, path)
    finally:
        shutil.rmtree(holder, ignore_errors=True)


def write_text(path: str | Path, text: str) -> Path:
    """Write `text` (UTF-8, `\\n` line ends) to `path` atomically."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    return Path(path)


def write_json(path: str | Path, data: Any) -> Path:
    """Write `data` as indented JSON (keys in the order given) to `path`, atomically."""
    return write_text(path, json.dumps(data, indent=2, allow_nan=True) + "\n")


def save_model(model: Any, path: str | Path) -> Path:
    """`model.save(path)` (a `.keras` file) atomically."""
    with atomic_path(path) as tmp:
        model.save(tmp)
    return Path(path)

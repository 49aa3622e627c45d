"""The run folder's rules: where a run may write, what speck may delete, and who may write.

A run folder is speck's when it holds speck's marker, `.speck-run.json`, which names every
file and folder a run of speck created there. speck deletes only what its marker names
(`--force` starts over by deleting exactly those), never a file or folder it merely found.
A folder that is not empty and has no marker is someone else's: training into it needs
`--force`, and even then nothing in it is deleted (files with the names a run writes are
overwritten). A live run holds `.speck-run.lock` (an `flock`, with its process id written in
the file): a second run into the same folder is refused while the first lives; the lock of a
process that died does not count.

Every output path a spec names (callback files and folders) must lie inside the run folder,
strictly: not absolute, not `~`, no `..` that leaves it, not the folder itself, no NUL.
Validation refuses such paths at their line; the checks here hold at run time whatever got
through. Nothing here imports TensorFlow.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from speck.diagnostics import Diagnostic, SpecError
from speck.ir.graph import OUTPUT_PATH_ARGS, TrainingPlan

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: runs are not locked
    fcntl = None  # type: ignore[assignment]

MARKER = ".speck-run.json"
LOCK = ".speck-run.lock"
SPEC_FILE = "spec.yaml"
BACKUP_DIR = "backup"
FINISHED_MARKERS = ("metrics.json", "model.keras")
"""Files whose presence means a run folder holds a finished (or saved) run."""
RUN_ARTIFACTS = (
    SPEC_FILE,
    "model.keras",
    "history.csv",
    "metrics.json",
    "preprocessing.json",
    "history.png",
    "reconstructions.png",
    "confusion_matrix.png",
)
"""The files every run writes at the top of its folder."""
MAX_NAME_BYTES = 255
"""The longest file or folder name common file systems take."""
PATH_HINT = "write a relative path inside the run folder, e.g. logs/train.csv"


class RunFolderError(RuntimeError):
    """The run folder cannot be used as asked; the message says what to do instead."""


class BadOutputLocation(RunFolderError):
    """The run folder cannot be a folder speck writes in (a file, under a file, read-only)."""


class OutsideRunFolder(ValueError):
    """An output path does not name something strictly inside the run folder."""


# --- output paths ----------------------------------------------------------------------------


def path_problem(value: Any) -> str | None:
    """Why `value` does not name a place strictly inside a run folder (None: it does)."""
    if not isinstance(value, str):
        return f"{value!r} is not a path"
    if value == "":
        return "the path is empty"
    if "\0" in value:
        return "the path contains a NUL character"
    if value.startswith("~"):
        return f"{value!r} starts with ~, which speck does not expand to a home folder"
    if PurePosixPath(value).is_absolute() or os.path.isabs(value):
        return f"{value!r} is absolute; it would write outside the run folder"
    depth = 0
    for part in PurePosixPath(value).parts:
        if len(part.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
            return f"a name in the path is longer than {MAX_NAME_BYTES} bytes"
        if part == "..":
            depth -= 1
            if depth < 0:
                return f"{value!r} leaves the run folder (..)"
        elif part != ".":
            depth += 1
    if depth == 0:
        return f"{value!r} names the run folder itself, not something in it"
    return None


def inside(out_dir: Path, value: Any) -> Path:
    """`out_dir / value`, after making sure it is strictly inside `out_dir`, also once symbolic
    links are followed; raises `OutsideRunFolder` otherwise."""
    problem = path_problem(value)
    if problem:
        raise OutsideRunFolder(problem)
    path = out_dir / value
    root = os.path.realpath(out_dir)
    real = os.path.realpath(path)
    if os.path.commonpath([root, real]) != root or real == root:
        raise OutsideRunFolder(f"{value!r} leads out of the run folder through a symbolic link")
    return Path(os.path.normpath(path))


def relative(out_dir: Path, value: str) -> str:
    """The normalized relative form (`a/b`) of an output path inside `out_dir`."""
    return inside(out_dir, value).relative_to(os.path.normpath(out_dir)).as_posix()


@dataclass(frozen=True)
class CallbackPath:
    """One output path a spec's callback names: where it is in the spec, and its value."""

    index: int
    class_name: str
    key: str
    value: Any

    @property
    def spec_path(self) -> tuple[str | int, ...]:
        return ("callbacks", self.index, self.class_name, self.key)


def callback_paths(plan: TrainingPlan) -> list[CallbackPath]:
    """Every file or folder argument of the plan's callbacks (`callbacks[i]` is the spec's)."""
    return [
        CallbackPath(i, cb.class_name, key, cb.args[key])
        for i, cb in enumerate(plan.callbacks)
        if cb.class_name is not None
        and (key := OUTPUT_PATH_ARGS.get(cb.class_name)) is not None
        and key in cb.args
    ]


def check_callback_paths(resolved: Any, out_dir: Path) -> None:
    """Raise `SpecError`, at each offending callback argument's line, for output paths that
    are not strictly inside the run folder."""
    problems = []
    for cb in callback_paths(resolved.plan):
        if not isinstance(cb.value, str):
            message = f"{cb.key} must be a path (text); received {cb.value!r}"
        else:
            try:
                inside(out_dir, cb.value)
                continue
            except OutsideRunFolder as exc:
                message = f"{exc}; every file speck writes lives in the run folder"
        where = resolved.validated.source.locate(cb.spec_path)
        problems.append(Diagnostic(message, cb.spec_path, where, suggestion=PATH_HINT))
    if problems:
        raise SpecError(problems)


def backup_dir_for(plan: TrainingPlan, out_dir: Path) -> Path:
    """Where the run keeps its resumable state: the spec's own BackupAndRestore folder (in the
    run folder), else `out_dir/backup`."""
    return inside(out_dir, plan.backup_dir)


# --- where the folder is ---------------------------------------------------------------------


def check_location(out_dir: Path) -> None:
    """Raise `BadOutputLocation` if `out_dir` is not a folder, or lies under a file; changes
    nothing."""
    where = f"the run folder {out_dir}"
    hint = "pass --out with a folder speck may write in"
    if "\0" in str(out_dir):
        raise BadOutputLocation(f"{where} contains a NUL character ({hint})")
    for folder in (out_dir, *out_dir.parents):
        try:
            mode = os.stat(folder).st_mode
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.ENOTDIR):
                continue
            raise BadOutputLocation(f"{where} cannot be used: {exc.strerror} ({hint})") from None
        if stat.S_ISDIR(mode):
            return
        what = "a file" if stat.S_ISREG(mode) else "not a folder"
        if folder == out_dir:
            raise BadOutputLocation(f"{where} is {what}; a run folder is a folder ({hint})")
        raise BadOutputLocation(f"{where} is under {folder}, which is {what} ({hint})")


def make_folder(out_dir: Path) -> None:
    """Create `out_dir` (and its parents) and make sure speck can write in it, leaving no file
    behind; raises `BadOutputLocation` when it cannot."""
    check_location(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out_dir):
            pass
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise BadOutputLocation(
            f"cannot write in the run folder {out_dir}: {reason} "
            "(pass --out with a folder speck may write in)"
        ) from None


# --- the marker and the lock -----------------------------------------------------------------


def read_marker(out_dir: Path) -> set[str] | None:
    """What speck's marker says a run created in `out_dir` (None: no marker, or one that is not
    speck's). Entries that do not name something strictly inside the folder are dropped."""
    try:
        data = json.loads((out_dir / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("created"), list):
        return None
    created = set()
    for entry in data["created"]:
        if isinstance(entry, str) and path_problem(entry) is None:
            created.add(PurePosixPath(os.path.normpath(entry)).as_posix())
    return created


def write_marker(out_dir: Path, created: set[str]) -> None:
    from speck.fileio import write_json

    write_json(
        out_dir / MARKER,
        {
            "speck": "run folder",
            "note": "what speck created here; speck train --force deletes only these",
            "created": sorted(created),
        },
    )


def is_claimed(created: set[str], rel: str) -> bool:
    """Whether `rel` or a folder it is in is one the marker names."""
    parts = PurePosixPath(rel).parts
    return any(PurePosixPath(*parts[:n]).as_posix() in created for n in range(1, len(parts) + 1))


def lock_holder(out_dir: Path) -> int | None:
    """The process id of a live run holding `out_dir`'s lock (None: nobody holds it). Takes
    and at once releases the lock to find out; writes nothing."""
    if fcntl is None:
        return None
    try:
        fd = os.open(out_dir / LOCK, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return _pid_in(fd)
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _pid_in(fd: int) -> int:
    try:
        return int(os.pread(fd, 32, 0).decode("ascii").strip() or 0)
    except (OSError, ValueError):
        return 0


def _in_use(out_dir: Path, pid: int) -> RunFolderError:
    who = f"process {pid}" if pid else "another process"
    return RunFolderError(
        f"{out_dir} is in use by a running speck train ({who}); wait for it to finish, "
        "or pass --out to train into another folder"
    )


# --- the rules -------------------------------------------------------------------------------


@dataclass
class RunFolder:
    """A run folder and what a run will write there (paths relative to it)."""

    path: Path
    backup: str = BACKUP_DIR
    outputs: list[str] = field(default_factory=list)
    """Files and folders the run writes: its own files, its backup, the callbacks' paths
    (up to the first name with a `{placeholder}`)."""
    patterns: list[str] = field(default_factory=list)
    """Paths with placeholders (`ckpt_{epoch}.keras`), as globs, claimed once written."""


def plan_run_folder(plan: TrainingPlan, out_dir: Path) -> RunFolder:
    """What a run of `plan` writes in `out_dir`; raises `OutsideRunFolder` for a callback path
    outside it (call `check_callback_paths` first for located errors)."""
    backup = relative(out_dir, plan.backup_dir)
    outputs = [*RUN_ARTIFACTS, backup, LOCK, MARKER]
    outputs += [relative(out_dir, f"{name}.keras") for name in plan.saved_submodels]
    patterns = []
    for cb in callback_paths(plan):
        if not isinstance(cb.value, str):
            continue
        rel = relative(out_dir, cb.value)
        parts = PurePosixPath(rel).parts
        templated = [i for i, part in enumerate(parts) if "{" in part]
        if not templated:
            outputs.append(rel)
            continue
        patterns.append(_glob(rel))
        if templated[0]:
            outputs.append(PurePosixPath(*parts[: templated[0]]).as_posix())
    return RunFolder(out_dir, backup, list(dict.fromkeys(outputs)), patterns)


def _glob(template: str) -> str:
    """`ckpt/e{epoch:02d}.keras` -> `ckpt/e*.keras`."""
    out, depth = "", 0
    for ch in template:
        if ch == "{":
            if depth == 0:
                out += "*"
            depth += 1
        elif ch == "}" and depth:
            depth -= 1
        elif depth == 0:
            out += "[[]" if ch == "[" else ch
    return out


def check_run_folder(
    folder: RunFolder, text: str, *, force: bool, resume: bool, locked: bool = False
) -> None:
    """Raise `RunFolderError` unless the run folder may be used as asked; changes nothing.

    - `force` and `resume` exclude each other; a live run's folder is refused either way
      (`locked`: this process holds the lock).
    - A folder that is not empty and has no marker needs `force` (speck did not make it).
    - A backup folder speck did not create is refused (Keras deletes it when training ends).
    - A finished run (`metrics.json` or `model.keras`) needs `force`; an interrupted one (a
      backup) needs `resume` or `force`; `resume` needs the same spec as the run it continues
      (`text`, the new `spec.yaml`), except for the number of epochs.
    - In speck's folder, a file the run would write over that speck did not create needs
      `force`.
    """
    out_dir = folder.path
    check_location(out_dir)
    if force and resume:
        raise RunFolderError("--force starts over and --resume continues; pass one of them")
    if not out_dir.is_dir():
        return
    holder = None if locked else lock_holder(out_dir)
    if holder is not None:
        raise _in_use(out_dir, holder)
    created = read_marker(out_dir)
    backup = out_dir / folder.backup
    interrupted = backup.exists()
    finished = [m for m in FINISHED_MARKERS if (out_dir / m).exists()]
    if created is None:
        try:
            found = sorted(p.name for p in out_dir.iterdir() if p.name != LOCK)
        except OSError as exc:
            raise BadOutputLocation(
                f"the run folder {out_dir} cannot be read: {exc.strerror} (pass --out with a "
                "folder speck may write in)"
            ) from None
        if found and not force:
            shown = ", ".join(found[:5]) + (", ..." if len(found) > 5 else "")
            raise RunFolderError(
                f"{out_dir} is not empty ({shown}) and speck did not make it (it has no "
                f"{MARKER}); pass --out to train into another folder, or --force to train "
                "into this one anyway (speck deletes nothing in it, but overwrites the files "
                "a run writes)"
            )
        created = set()
    if interrupted and not is_claimed(created, folder.backup):
        raise RunFolderError(
            f"{backup} exists and speck did not create it; the run's BackupAndRestore deletes "
            "its folder when training ends, so name another backup_dir or move that folder"
        )
    if resume:
        if finished and not interrupted:
            raise RunFolderError(
                f"{out_dir} holds a finished run ({finished[0]}); there is nothing to resume "
                "(pass --force to train it again)"
            )
        old = out_dir / SPEC_FILE
        if old.exists() and _without_epochs(old.read_text()) != _without_epochs(text):
            raise RunFolderError(
                f"the spec differs from the one the run in {out_dir} started with "
                f"({old}); resume it with that spec, or pass --force to start over"
            )
        return
    if force:
        return
    if finished:
        raise RunFolderError(
            f"{out_dir} already holds a run ({finished[0]}); pass --force to overwrite it, "
            "or --out to train into another folder"
        )
    if interrupted:
        raise RunFolderError(
            f"{out_dir} holds an interrupted run; pass --resume to continue it "
            "or --force to start over"
        )
    foreign = [
        rel
        for rel in folder.outputs
        if rel not in (LOCK, MARKER)
        and os.path.lexists(out_dir / rel)
        and not is_claimed(created, rel)
    ]
    if foreign:
        raise RunFolderError(
            f"{out_dir / foreign[0]} exists and speck did not create it; the run would write "
            "over it (pass --force to let it, or name another path)"
        )


def _without_epochs(text: str) -> Any:
    data = yaml.safe_load(text) or {}
    if isinstance(data.get("fit"), dict):
        data["fit"].pop("epochs", None)
    return data


def remove_created(out_dir: Path, created: set[str]) -> None:
    """Delete what the marker names (but the lock and the marker itself): each entry only if
    it lies in the run folder, and a symbolic link as a link, never what it points to."""
    root = os.path.realpath(out_dir)
    for rel in sorted(created):
        if rel in (LOCK, MARKER) or path_problem(rel):
            continue
        path = out_dir / rel
        parent = os.path.realpath(path.parent)
        if os.path.commonpath([root, parent]) != root:
            continue
        if path.is_symlink() or path.is_file():
            path.unlink()
        elif path.is_dir():
            shutil.rmtree(path)


def _first_missing(out_dir: Path, rel: str) -> str | None:
    """The outermost folder (or the file) of `rel` that does not exist yet."""
    parts = PurePosixPath(rel).parts
    for n in range(1, len(parts) + 1):
        candidate = PurePosixPath(*parts[:n]).as_posix()
        if not os.path.lexists(out_dir / candidate):
            return candidate
    return None


def _matches(out_dir: Path, patterns: list[str]) -> set[str]:
    return {
        p.relative_to(out_dir).as_posix()
        for pattern in patterns
        for p in out_dir.glob(pattern)
        if not p.is_symlink()
    }


@contextmanager
def open_run_folder(
    folder: RunFolder, text: str, *, force: bool, resume: bool
) -> Iterator[RunFolder]:
    """Take the run folder for one run: create it, lock it, check it (`check_run_folder`), for
    `force` delete what an earlier run created, record in the marker what this run will
    create, and write `spec.yaml` (the resolved spec `text`). The lock is held until the
    `with` block ends; then the marker keeps what the run did create, and claims the files the
    callbacks wrote under placeholder names."""
    from speck.fileio import write_text

    out_dir = folder.path
    check_run_folder(folder, text, force=force, resume=resume)
    make_folder(out_dir)
    fd = _lock(out_dir)
    try:
        check_run_folder(folder, text, force=force, resume=resume, locked=True)
        created = read_marker(out_dir) or set()
        if force:
            remove_created(out_dir, created)
        created = {rel for rel in created if os.path.lexists(out_dir / rel)}
        created |= {LOCK, MARKER}
        for rel in folder.outputs:
            first = _first_missing(out_dir, rel)
            if first is not None:
                created.add(first)
        before = _matches(out_dir, folder.patterns)
        write_marker(out_dir, created)
        write_text(out_dir / SPEC_FILE, text)
        try:
            yield folder
        finally:  # what the run did create, and files named by a placeholder it wrote
            made = {rel for rel in created if os.path.lexists(out_dir / rel)}
            write_marker(
                out_dir, made | {LOCK, MARKER} | _matches(out_dir, folder.patterns) - before
            )
    finally:
        _unlock(fd)


def _lock(out_dir: Path) -> int | None:
    if fcntl is None:
        return None
    fd = os.open(out_dir / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        pid = _pid_in(fd)
        os.close(fd)
        raise _in_use(out_dir, pid) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
    return fd


def _unlock(fd: int | None) -> None:
    if fd is None or fcntl is None:
        return
    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)

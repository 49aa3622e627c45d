"""A pre-flight check of a spec's data files, before `speck train` imports TensorFlow.

Each file a `data.source` names must be something the loaders can read safely: a regular file
(a folder for `images`), not a device, FIFO or symbolic-link loop. Array files are checked by
their headers alone, read with NumPy's format functions, so an array of Python objects (which
loading would unpickle, running whatever the file says) is refused without unpickling it. A
CSV file is read once, in linear time: UTF-8 text without binary bytes, fields within the csv
module's limit, a header that has the columns the spec names, rows as long as the header.
Problems are diagnostics at the `data.source` line, with what is wrong and the fix.
"""

from __future__ import annotations

import codecs
import csv
import errno
import os
import re
import stat
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np

from speck.diagnostics import Diagnostic, SpecPath
from speck.front.format.data import CsvSource, ImagesSource, NpySource, NpzSource

CHUNK = 1 << 20
BINARY = re.compile(rb"[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f]")
"""Control bytes no text file holds (tab, newlines, form feed and escape are allowed)."""


class DataFileProblem(ValueError):
    """A data file cannot be read as the spec says; the message says what is wrong."""

    def __init__(
        self, message: str, suggestion: str | None = None, at: SpecPath | None = None
    ) -> None:
        super().__init__(message)
        self.suggestion, self.at = suggestion, at


def check_data_files(resolved: Any) -> list[Diagnostic]:
    """Every problem of the files the spec's `data.source` names (none for a named source)."""
    data = resolved.spec.data
    if data is None or isinstance(data.source, str):
        return []
    base = Path(resolved.file).parent
    labelled = data.task_kind in ("classify", "regress")
    problems = []
    for spec_path, check in _checks(data.source, labelled):
        value = _value_at(data.source, spec_path[2:])
        try:
            check(_full_path(base, value))
        except DataFileProblem as exc:
            at = exc.at or spec_path  # where the problem is: the path, or a column's kind
            where = resolved.validated.source.locate(at)
            problems.append(Diagnostic(str(exc), at, where, suggestion=exc.suggestion))
    return problems


def _value_at(source: Any, path: tuple[Any, ...]) -> Any:
    value = source
    for key in path:
        value = value[key] if isinstance(value, dict) else getattr(value, key)
    return value


def _full_path(base: Path, value: str) -> str:
    if value == "":
        raise DataFileProblem("the path is empty", "name the file, relative to the spec file")
    if "\0" in value:
        raise DataFileProblem("the path contains a NUL character")
    return os.path.join(base, os.path.expanduser(value))


def _checks(source: Any, labelled: bool) -> Iterator[tuple[SpecPath, Any]]:
    """(spec path of a file's path, the check of that file) for each file the source reads."""
    root: SpecPath = ("data", "source")
    if isinstance(source, NpzSource) and source.typed_columns is not None:
        label = [source.label_column] if labelled and source.label_column else []
        yield (*root, "npz"), lambda path: check_npz(path, [*source.typed_columns, *label])
        for name, (kind, _) in source.typed_columns.items():
            yield (*root, "npz"), lambda path, n=name, k=kind: check_npz_column(path, n, k)
    elif isinstance(source, NpzSource):
        keys = [source.x, *([source.y] if labelled else [])]
        if source.x_test is not None:
            keys.append(source.x_test)
            if labelled and source.y_test is not None:
                keys.append(source.y_test)
        wanted = [k for key in keys for k in (key.values() if isinstance(key, dict) else [key])]
        yield (*root, "npz"), lambda path: check_npz(path, wanted)
    elif isinstance(source, NpySource):
        for field in ("x", "y", "x_test", "y_test"):
            value = getattr(source.npy, field)
            if value is None or (field.startswith("y") and not labelled):
                continue
            if isinstance(value, dict):
                for name in value:
                    yield (*root, "npy", field, name), check_npy
            else:
                yield (*root, "npy", field), check_npy
    elif isinstance(source, CsvSource):
        columns = [*(source.features or []), *([source.label] if source.label else [])]
        for field in ("csv", "test_csv"):
            if getattr(source, field) is not None:
                yield (
                    (*root, field),
                    lambda path: check_csv(
                        path, columns, source.delimiter, source.label, source.classes
                    ),
                )
    elif isinstance(source, ImagesSource):
        for field in ("images", "test_images"):
            if getattr(source, field) is not None:
                yield (*root, field), check_image_folder


def _stat(path: str) -> os.stat_result:
    try:
        return os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise DataFileProblem(
                f"{path} is a loop of symbolic links", "point the link at the real file"
            ) from None
        if exc.errno == errno.ENOENT:
            raise DataFileProblem(
                f"there is no file {path}", "paths are relative to the spec file's folder"
            ) from None
        raise DataFileProblem(f"{path} cannot be read: {exc.strerror}") from None


def regular_file(path: str) -> os.stat_result:
    """`path`'s status, if it is a regular file; `DataFileProblem` if not."""
    info = _stat(path)
    if stat.S_ISDIR(info.st_mode):
        raise DataFileProblem(f"{path} is a folder, not a file", "name the data file itself")
    if not stat.S_ISREG(info.st_mode):
        raise DataFileProblem(
            f"{path} is not a regular file (a device, FIFO or socket)", "name a data file"
        )
    return info


def _open(path: str) -> IO[bytes]:
    try:
        return open(path, "rb")
    except OSError as exc:
        raise DataFileProblem(f"{path} cannot be read: {exc.strerror}") from None


# --- arrays ----------------------------------------------------------------------------------

NO_OBJECTS = (
    "save numeric arrays, e.g. np.save(path, array.astype('float32')); speck never unpickles "
    "data, since unpickling can run code"
)


def array_header(f: IO[bytes], what: str) -> tuple[tuple[int, ...], np.dtype[Any]]:
    """The shape and dtype in a `.npy` header, read with NumPy's format functions without
    loading the array; `DataFileProblem` if it is not one or holds Python objects."""
    fmt = np.lib.format
    try:
        version = fmt.read_magic(f)
        if version == (1, 0):
            shape, _, dtype = fmt.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, _, dtype = fmt.read_array_header_2_0(f)
        else:
            raise DataFileProblem(
                f"{what} is a .npy file of format {version[0]}.{version[1]}, which speck does "
                "not read",
                "save it with numpy.save of numeric arrays",
            )
    except (ValueError, EOFError) as exc:
        if isinstance(exc, DataFileProblem):
            raise
        raise DataFileProblem(
            f"{what} is not a NumPy array file (no valid .npy header)",
            "write it with numpy.save, or numpy.savez for a .npz",
        ) from None
    if dtype.hasobject:
        raise DataFileProblem(f"{what} holds Python objects (dtype {dtype})", NO_OBJECTS)
    return shape, dtype


def check_npy(path: str) -> None:
    regular_file(path)
    with _open(path) as f:
        array_header(f, path)


def check_npz(path: str, keys: list[str]) -> None:
    """A zip of `.npy` members with the arrays `keys` names, none of Python objects."""
    regular_file(path)
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        raise DataFileProblem(
            f"{path} is not a .npz archive (a zip of .npy files)",
            "write it with numpy.savez",
        ) from None
    with archive:
        members = {name.removesuffix(".npy"): name for name in archive.namelist()}
        for key in dict.fromkeys(keys):
            if key not in members:
                raise DataFileProblem(
                    f"{path} has no array {key!r}; it has {sorted(members)}",
                    "use one of its arrays as x, y, x_test or y_test",
                )
            try:
                with archive.open(members[key]) as f:
                    array_header(f, f"{path} array {key!r}")
            except (zipfile.BadZipFile, OSError, RuntimeError) as exc:
                raise DataFileProblem(f"{path} array {key!r} cannot be read: {exc}") from None


def check_npz_column(path: str, name: str, kind: str) -> None:
    """An archive's array read as a column of `kind`: one value a row, numbers for a numeric
    kind (an archive `check_npz` refused is not read again)."""
    try:
        with zipfile.ZipFile(path) as archive, archive.open(f"{name}.npy") as f:
            shape, dtype = array_header(f, f"{path} array {name!r}")
    except (zipfile.BadZipFile, KeyError, OSError, RuntimeError, DataFileProblem):
        return
    if len(shape) != 1:
        raise DataFileProblem(
            f"{path} array {name!r} has shape {list(shape)}; a column has one value a row",
            f"save {name!r} as a 1-D array",
            ("data", "source", "columns", name),
        )
    if kind.startswith(("float", "integer")) and dtype.kind in "USb":
        raise DataFileProblem(
            f"{path} array {name!r} holds {'text' if dtype.kind != 'b' else 'booleans'} "
            f"(dtype {dtype}), but {kind} reads numbers",
            "declare it string_categorical (a category) or text (words)",
            ("data", "source", "columns", name),
        )


# --- CSV -------------------------------------------------------------------------------------


def check_csv(
    path: str,
    columns: list[str],
    delimiter: str = ",",
    label: str | None = None,
    classes: list[str] | None = None,
) -> None:
    """UTF-8 text without binary bytes, fields within csv's limit, a header with `columns`,
    no row shorter than the header, and (given `classes`) every `label` cell one of them;
    reads the file twice, in linear time."""
    regular_file(path)
    _check_text(path)
    limit = csv.field_size_limit()
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f, delimiter=delimiter)
        try:
            header = next(reader, None)
            if not header:
                raise DataFileProblem(
                    f"{path} is empty; it needs a header row of column names",
                    "write the column names on the first line",
                )
            known = set(header)
            missing = [name for name in columns if name not in known]
            if missing:
                shown = ", ".join(header[:10]) + (", ..." if len(header) > 10 else "")
                raise DataFileProblem(
                    f"{path} has no column {missing[0]!r}; its columns are {shown}",
                    f"check the names and the delimiter ({delimiter!r})",
                )
            at = header.index(label) if classes and label in known else None
            unknown: dict[str, int] = {}  # a label not among the classes: its first line
            for row in reader:
                if row and len(row) < len(header):
                    raise DataFileProblem(
                        f"{path} line {reader.line_num} has {len(row)} fields; the header has "
                        f"{len(header)}",
                        "give every row a value for each column",
                    )
                if at is not None and row and row[at] and row[at] not in classes:
                    unknown.setdefault(row[at], reader.line_num)
        except csv.Error as exc:
            if "field larger than field limit" in str(exc):
                raise DataFileProblem(
                    f"{path} line {reader.line_num}: a field is longer than {limit:,} "
                    "characters, the csv module's limit",
                    "look for a quote left open there, or a wrong delimiter",
                ) from None
            raise DataFileProblem(f"{path} line {reader.line_num}: {exc}") from None
    if unknown:
        shown = ", ".join(f"{value!r} (line {line})" for value, line in list(unknown.items())[:5])
        raise DataFileProblem(
            f"{path}: column {label!r} holds labels that are not among the classes: {shown}"
            + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""),
            "add them to `classes`, or correct those rows",
            at=("data", "source", "classes"),
        )


def _check_text(path: str) -> None:
    """UTF-8 throughout, no control bytes; `DataFileProblem` names the line of the first bad
    byte."""
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    line = 1
    with _open(path) as f:
        while chunk := f.read(CHUNK):
            bad = BINARY.search(chunk)
            end = bad.start() if bad else len(chunk)
            try:
                decoder.decode(chunk[:end])
            except UnicodeDecodeError as exc:
                at = line + chunk.count(b"\n", 0, max(0, exc.start))
                raise DataFileProblem(
                    f"{path} is not UTF-8 text (line {at})", "save the CSV file as UTF-8"
                ) from None
            if bad:
                at = line + chunk.count(b"\n", 0, bad.start())
                raise DataFileProblem(
                    f"{path} holds binary data (byte 0x{chunk[bad.start()]:02x} on line {at}), "
                    "not CSV text",
                    "name a CSV text file",
                )
            line += chunk.count(b"\n")
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise DataFileProblem(
                f"{path} is not UTF-8 text (it ends in the middle of a character)",
                "save the CSV file as UTF-8",
            ) from None


# --- images ----------------------------------------------------------------------------------


def check_image_folder(path: str) -> None:
    info = _stat(path)
    if not stat.S_ISDIR(info.st_mode):
        raise DataFileProblem(
            f"{path} is not a folder", "name a folder of class subfolders of images"
        )
    try:
        classes = [entry for entry in os.scandir(path) if entry.is_dir()]
    except OSError as exc:
        raise DataFileProblem(f"{path} cannot be read: {exc.strerror}") from None
    if not classes:
        raise DataFileProblem(
            f"{path} has no class subfolders", "put each class's images in <folder>/<class>/"
        )

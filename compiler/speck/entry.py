"""The `speck` command's entry point: `speck validate` without the command-line framework.

`speck validate` runs as a pre-commit hook, where start-up time is most of its time. Its usual
forms (files and folders, `--format`, `--quiet`, `--shapes`, `--deep`) are read here with
argparse and run by `run_validate`, which the framework's `validate` command (`speck.cli`)
calls too, so both print the same and exit the same. Everything else (`--help`, a misspelt
option, a missing argument, the other commands) goes to `speck.cli`, which imports typer and
rich only then.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

EXIT_INVALID = 2
FORMATS = ("text", "json", "github")


def main() -> None:
    args = sys.argv[1:]
    if args[:1] == ["validate"]:
        parsed = _parse_validate(args[1:])
        if parsed is not None:
            _load_the_validation_path()
            try:
                code = run_validate(**parsed)
            except KeyboardInterrupt:
                _err("interrupted")
                code = 130
            except BrokenPipeError:
                code = closed_pipe()
            except Exception as exc:  # as `speck.cli.main` does
                if os.environ.get("SPECK_DEBUG"):
                    raise
                _err(f"internal error: {type(exc).__name__}: {exc} (set SPECK_DEBUG=1 for details)")
                code = 1
            _exit_now(code)
    from speck.cli import main as cli_main

    cli_main()


def _exit_now(code: int) -> None:
    """Exit once the output is out, skipping the interpreter's teardown: freeing every module
    and object one by one costs a pre-commit hook's run more than some of its checks, and
    nothing on the validation path waits for an exit handler. Where the output cannot be
    written (a closed pipe), the ordinary exit reports it as it always has."""
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:
        code = closed_pipe()
    except OSError:
        sys.exit(code)
    os._exit(code)


CLOSED_PIPE_STATUS = 1
"""The status of a command whose reader went away, as the other commands (click) exit."""


def closed_pipe() -> int:
    """The reader of standard output is gone (`speck validate ... | head`): stop quietly, as
    the other commands do, with what is left of the output sent nowhere."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return CLOSED_PIPE_STATUS


def _load_the_validation_path() -> None:
    """Import what validation needs with the cycle collector paused, and leave what the imports
    made out of later collections (`gc.freeze`): module objects live as long as the process.
    pydantic is told not to look for plugins (a scan of every installed package's entry
    points): speck's own validation has no use for them."""
    from speck.memory import collector_paused

    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    with collector_paused(freeze=True):
        stand_ins = _coroutine_check_without_asyncio()
        try:
            import speck.pipeline  # noqa: F401
        finally:
            for name, module in stand_ins.items():
                if sys.modules.get(name) is module:
                    del sys.modules[name]  # a later `import asyncio` gets the real one


def _coroutine_check_without_asyncio() -> dict[str, ModuleType]:
    """Stand-ins for `asyncio` and `asyncio.coroutines` while pydantic loads. pydantic-core marks
    functions with `typing_extensions.deprecated`, which imports asyncio (sockets, SSL,
    subprocesses: about a quarter of validate's start-up) only to ask
    `asyncio.coroutines.iscoroutinefunction`; `inspect` answers the same question for the
    functions it marks. The stand-ins are removed once the imports are done."""
    import inspect  # pydantic imports it too

    if "asyncio" in sys.modules:
        return {}
    package = ModuleType("asyncio")
    coroutines = ModuleType("asyncio.coroutines")
    coroutines.iscoroutinefunction = inspect.iscoroutinefunction  # type: ignore[attr-defined]
    package.coroutines = coroutines  # type: ignore[attr-defined]
    stand_ins = {"asyncio": package, "asyncio.coroutines": coroutines}
    sys.modules.update(stand_ins)
    return stand_ins


class _NotHere(Exception):
    """The arguments are for the full command line to read (or to refuse, in its words)."""


def _parse_validate(args: Sequence[str]) -> dict[str, Any] | None:
    """`speck validate`'s arguments, or None where `speck.cli` should read them."""
    if not args or "--" in args or any(a in ("-h", "--help") for a in args):
        return None
    import argparse

    class Parser(argparse.ArgumentParser):
        def error(self, message: str) -> None:  # type: ignore[override]
            raise _NotHere(message)

    parser = Parser(prog="speck validate", add_help=False, allow_abbrev=False)
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--format", "-f", dest="fmt", choices=FORMATS, default="text")
    parser.add_argument("--shapes", action="store_true")
    parser.add_argument("--deep", action="store_true")
    parser.add_argument("--quiet", "-q", action="store_true")
    try:
        namespace = parser.parse_intermixed_args(args)
    except _NotHere:
        return None
    return vars(namespace)


def _out(text: str) -> None:
    print(text, flush=True)


def _err(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def run_validate(
    files: Sequence[Path],
    fmt: str = "text",
    shapes: bool = False,
    deep: bool = False,
    quiet: bool = False,
) -> int:
    """`speck validate`: print every file's problems; the exit status (0, 1 or 2)."""
    from speck.diagnostics import to_json
    from speck.pipeline import analyze, spec_files

    paths = spec_files(files)
    if not paths:
        _err(f"error: no spec files (*.yaml, *.yml, *.json) in {', '.join(map(str, files))}")
        return EXIT_INVALID
    analyses = [analyze(f) for f in paths]
    if deep:
        from speck.backends.build import MissingTensorFlow, keras_module

        try:
            keras_module()
        except MissingTensorFlow as exc:
            _err(f"error: {exc}")
            return 1
        from speck.checks.deep import deep_check

        for a in analyses:
            if a.ok and a.resolved is not None:
                a.diagnostics += deep_check(a.resolved, a.shapes)
    diagnostics = [d for a in analyses for d in a.diagnostics]
    if fmt == "json":
        _out(to_json(diagnostics))
    else:
        for d in diagnostics:
            if fmt == "github":
                _out(d.format_github())
            else:
                _err(d.format(with_severity=True))
        if shapes:
            from speck.checks.report import shapes_table

            for a in analyses:
                if a.resolved is not None and a.shapes is not None:
                    _out(shapes_table(a.file, a.resolved.graph, a.shapes))
        if not quiet and fmt == "text":
            for a in analyses:
                if a.search is not None and a.examined is not None:
                    _out(f"{a.file}: {a.examined.summary(len(a.search.spaces))}")
            bad = sum(not a.ok for a in analyses)
            word = "spec" if len(analyses) == 1 else "specs"
            if bad:
                _err(f"{bad} of {len(analyses)} {word} invalid")
            else:
                _out(f"{len(analyses)} {word} valid")
    return EXIT_INVALID if any(not a.ok for a in analyses) else 0

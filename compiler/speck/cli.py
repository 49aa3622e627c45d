"""The `speck` command: validate, build, emit, train, tune, schema, export, predict, import.

Each command calls the pipeline (`speck.pipeline`) and one back end. Invalid input is printed as
`file:line:column: severity: path: message (suggestion)` and exits with status 2, never with a
traceback. Commands that need TensorFlow import it only when they run.
"""

from __future__ import annotations

import json
import os
import sys
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
import typer.core

from speck.diagnostics import Diagnostic, SpecError

if TYPE_CHECKING:
    from speck.front.overrides import Override
    from speck.ir.resolve import ResolvedSpec


class _Argument(typer.core.TyperArgument):
    """An argument shown by its name alone: `SPEC`, `[SPECS]...`."""

    def display_type_rich(self, ctx: Any) -> str | None:
        return None

    def get_usage_pieces(self, ctx: Any) -> list[str]:
        name = self.display_name_raw if self.required else f"[{self.display_name_raw}]"
        return [name + ("..." if self.nargs != 1 else "")]


def _plain(params: list[Any]) -> list[Any]:
    """Help in the usual notation, not typer's type labels (`--force <bool>`, `{spec}`): a flag
    alone (`--force`), an option with its value named after it (`--out OUT`), an argument by
    its name (`SPEC`)."""
    for param in params:
        if isinstance(param, typer.core.TyperOption) and param.metavar is None:
            long = next((o for o in param.opts if o.startswith("--")), param.name or "value")
            param.metavar = "" if param.is_flag else long.lstrip("-").upper().replace("-", "_")
        elif type(param) is typer.core.TyperArgument:
            param.__class__ = _Argument  # the same parameter, only shown differently
            if param.metavar is None:
                param.metavar = (param.name or "arg").upper()
    return params


class _Command(typer.core.TyperCommand):
    def get_params(self, ctx: Any) -> list[Any]:
        return _plain(super().get_params(ctx))


class _Group(typer.core.TyperGroup):
    def get_params(self, ctx: Any) -> list[Any]:
        return _plain(super().get_params(ctx))


class _App(typer.Typer):
    """Every command shows its help in the plain notation (`_plain`)."""

    def command(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("cls", _Command)
        return super().command(*args, **kwargs)


app = _App(
    name="speck",
    help="A declarative model-spec compiler for TensorFlow/Keras.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=_Group,
)


def _print_version(value: bool) -> None:
    if value:
        from speck import __version__

        typer.echo(f"speck {__version__}")
        raise typer.Exit()


@app.callback()
def _speck(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Print speck's version and exit.",
            callback=_print_version,
            is_eager=True,
        ),
    ] = False,
) -> None:
    """A declarative model-spec compiler for TensorFlow/Keras."""


EXIT_INVALID = 2
EXIT_INTERRUPTED = 130
"""128 + SIGINT, as shells report a command stopped by Ctrl-C."""


class OutputFormat(str, Enum):
    text = "text"
    json = "json"
    github = "github"


def echo_err(text: str) -> None:
    typer.echo(text, err=True)


def print_diagnostics(diagnostics: list[Diagnostic], fmt: OutputFormat = OutputFormat.text) -> None:
    for d in diagnostics:
        if fmt is OutputFormat.github:
            typer.echo(d.format_github())
        else:
            echo_err(d.format(with_severity=True))


def fail_invalid(exc: SpecError) -> NoReturn:
    print_diagnostics(exc.diagnostics)
    raise typer.Exit(code=EXIT_INVALID)


def fail(message: str, code: int = 1) -> NoReturn:
    echo_err(f"error: {message}")
    raise typer.Exit(code=code)


def resolve_or_exit(spec: Path):
    from speck.pipeline import resolve_file

    try:
        resolved = resolve_file(spec)
    except SpecError as exc:
        fail_invalid(exc)
    print_diagnostics([d for d in resolved.diagnostics if d.severity != "error"])
    return resolved


AllowCustomLayers = Annotated[
    bool,
    typer.Option(
        "--allow-custom-layers",
        help="Import the custom layer classes the spec's custom_layers names (runs their code).",
    ),
]


def overrides_or_exit(
    set_: list[str] | None, *, seed: int | None = None, epochs: int | None = None
) -> tuple[list[str], list[Override]]:
    """The `--set` flags, with `--seed` and `--epochs` as the flags they stand for, and their
    parsed overrides; exit 2 for a malformed one."""
    from speck.front.overrides import OverrideError, parse_override

    flags = list(set_ or [])
    if seed is not None:
        flags.append(f"seed={seed}")
    if epochs is not None:
        flags.append(f"fit.epochs={epochs}")
    try:
        return flags, [parse_override(flag) for flag in flags]
    except OverrideError as exc:
        fail(str(exc), EXIT_INVALID)


def custom_layers_or_exit(resolved: ResolvedSpec, allowed: bool, what: str = "build") -> None:
    """Exit 2, naming the spec's `custom_layers` line and the flag, unless the user allowed
    importing the custom layers the model uses (nothing to allow when it uses none)."""
    from speck.api import check_custom_layers

    try:
        check_custom_layers(resolved, allowed, what)
    except SpecError as exc:
        fail_invalid(exc)


def custom_layer_failed(resolved: ResolvedSpec, exc: Exception) -> NoReturn:
    """A custom layer could not be imported or is not a Keras layer: say where it is named."""
    from speck import api

    fail_invalid(api.custom_layer_failed(resolved, exc))


def custom_layers_are_layers_or_exit(resolved: ResolvedSpec) -> None:
    """Import the custom layers (the user allowed it) and check each is a Keras layer, as
    build does, so that no script imports what it cannot use."""
    keras_or_exit()
    from speck.backends.build import CustomLayerError, import_custom_layers

    try:
        import_custom_layers(resolved.graph.custom_layers)
    except CustomLayerError as exc:
        custom_layer_failed(resolved, exc)


def keras_or_exit() -> None:
    from speck.backends.build import MissingTensorFlow, keras_module

    try:
        keras_module()
    except MissingTensorFlow as exc:
        fail(str(exc))


@app.command()
def validate(
    files: Annotated[
        list[Path],
        typer.Argument(help="Spec files (YAML or JSON), or folders of them.", show_default=False),
    ],
    fmt: Annotated[
        OutputFormat, typer.Option("--format", "-f", help="text, json or github annotations.")
    ] = OutputFormat.text,
    shapes: Annotated[
        bool, typer.Option("--shapes", help="Print every node's shape and parameters.")
    ] = False,
    deep: Annotated[
        bool, typer.Option("--deep", help="Also build each model with Keras (slow).")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print problems only.")] = False,
) -> None:
    """Check spec files without TensorFlow: syntax, types, Keras names, wiring, shapes."""
    from speck.entry import run_validate

    code = run_validate(files, fmt.value, shapes=shapes, deep=deep, quiet=quiet)
    if code:
        raise typer.Exit(code=code)


@app.command()
def build(
    spec: Annotated[Path, typer.Argument(help="The spec file.", show_default=False)],
    save: Annotated[
        Path | None, typer.Option("--save", metavar="FILE", help="Save the model (.keras).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite an existing --save file.")
    ] = False,
    allow_custom_layers: AllowCustomLayers = False,
) -> None:
    """Build the live Keras model: its summary and parameter count."""
    resolved = resolve_or_exit(spec)
    custom_layers_or_exit(resolved, allow_custom_layers)
    data = resolved.plan.data
    if data is not None and "features" in data.extras:  # typed table columns
        fail(
            f"{resolved.graph.name} starts from its table's typed columns, encoded as the "
            "training split says (vocabularies decide the width), so it is built with its data: "
            f"`speck emit {spec}` then `python <script> --summary`, or `speck train`"
        )
    if save is not None:
        if save.suffix != ".keras":
            fail(f"--save must end in .keras (Keras 3's format); received {save}", EXIT_INVALID)
        if save.exists() and not force:
            fail(f"{save} exists; pass --force to overwrite it")
    keras_or_exit()
    from speck.backends.build import CustomLayerError, build_model, compile_model, summary_text

    try:
        model = build_model(resolved.graph, allow_custom_layers=allow_custom_layers)
    except CustomLayerError as exc:
        custom_layer_failed(resolved, exc)
    compile_model(model, resolved.plan)
    if save is not None:
        from speck.fileio import save_model

        save_model(model, save)
    params = int(model.count_params())
    if as_json:
        info = {
            "spec": str(spec),
            "name": model.name,
            "params": params,
            "trainable_params": int(sum(w.numpy().size for w in model.trainable_weights)),
            "layers": [
                {
                    "name": layer.name,
                    "class": type(layer).__name__,
                    "params": int(layer.count_params()),
                }
                for layer in model.layers
            ],
            "inputs": [list(t.shape) for t in model.inputs],
            "outputs": [list(t.shape) for t in model.outputs],
            "saved": str(save) if save else None,
        }
        typer.echo(json.dumps(info, indent=2))
        return
    typer.echo(summary_text(model))
    typer.echo(f"{model.name}: {params:,} parameters")
    if save is not None:
        typer.echo(f"saved {save}")


def resume_command(spec: Path, run_dir: Path, flags: list[str], allow_custom_layers: bool) -> str:
    """The `speck train` command line that resumes this run: the same spec, overrides and run
    folder (a resumed run must train the same resolved spec), and `--resume`."""
    import shlex

    words = ["speck", "train", str(spec), "--out", str(run_dir)]
    for flag in flags:
        words += ["--set", flag]
    if allow_custom_layers:
        words.append("--allow-custom-layers")
    return shlex.join([*words, "--resume"])


@app.command()
def train(
    spec: Annotated[Path, typer.Argument(help="The spec file.", show_default=False)],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Run folder (default: runs/<spec name>/).")
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="Override a spec value before validation, e.g. --set fit.batch_size=64 "
            "(repeatable; the value is YAML).",
            show_default=False,
        ),
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Same as --set seed=N.")] = None,
    epochs: Annotated[
        int | None, typer.Option("--epochs", help="Same as --set fit.epochs=N.")
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue an interrupted run in the run folder.")
    ] = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Start over: delete what earlier runs in the run folder created."
        ),
    ] = False,
    allow_custom_layers: AllowCustomLayers = False,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=2,
            help="Train on N local worker processes joined into one cluster (TF_CONFIG on "
            "free localhost ports); the spec needs distribute: multi_worker_mirrored.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Train end to end: data -> model -> fit -> evaluate -> run folder with plots."""
    from speck.front.overrides import format_diagnostic
    from speck.pipeline import resolve_file

    flags, overrides = overrides_or_exit(set_, seed=seed, epochs=epochs)
    try:
        resolved = resolve_file(spec, overrides)
    except SpecError as exc:
        for d in exc.diagnostics:
            echo_err(format_diagnostic(d, overrides))
        raise typer.Exit(code=EXIT_INVALID) from None
    for d in resolved.diagnostics:
        if d.severity != "error":
            echo_err(format_diagnostic(d, overrides))
    custom_layers_or_exit(resolved, allow_custom_layers)
    place = cluster_role_or_exit(resolved, workers)
    from speck.backends.build import MissingTensorFlow
    from speck.backends.run.folder import BadOutputLocation, RunFolderError
    from speck.backends.run.train import DataError, NotTrainable, preflight, summary_lines

    try:  # refuse early, before the slow TensorFlow import
        run_dir = preflight(resolved, out, force=force, resume=resume, chief=place.chief)
    except MissingTensorFlow as exc:
        fail(str(exc))
    except SpecError as exc:
        fail_invalid(exc)
    except BadOutputLocation as exc:
        fail(str(exc), EXIT_INVALID)
    except RunFolderError as exc:
        fail(str(exc))
    except NotTrainable as exc:
        fail(str(exc), EXIT_INVALID)
    if workers:
        from speck.backends.run.cluster import launch

        command = [sys.executable, "-m", "speck", "train", str(spec), "--out", str(run_dir)]
        command += [f"--set={flag}" for flag in flags]
        command += ["--resume"] * resume + ["--force"] * force
        command += ["--allow-custom-layers"] * allow_custom_layers
        raise typer.Exit(code=launch(command, workers))
    keras_or_exit()
    from speck.backends.build import CustomLayerError, import_custom_layers
    from speck.backends.run.train import train_spec

    try:  # before the run folder is touched
        import_custom_layers(resolved.graph.custom_layers)
    except CustomLayerError as exc:
        custom_layer_failed(resolved, exc)
    try:
        result = train_spec(
            resolved, out, force=force, resume=resume, allow_custom_layers=allow_custom_layers
        )
    except KeyboardInterrupt:
        again = resume_command(spec, run_dir, flags, allow_custom_layers)
        echo_err(f"interrupted; to continue from the last saved epoch: {again}")
        raise typer.Exit(code=EXIT_INTERRUPTED) from None
    except BadOutputLocation as exc:
        fail(str(exc), EXIT_INVALID)
    except RunFolderError as exc:
        fail(str(exc))
    except NotTrainable as exc:
        fail(str(exc), EXIT_INVALID)
    except DataError as exc:
        where = str(exc.location) if exc.location else str(spec)
        fail(f"{where}: error: data.source: {exc}", EXIT_INVALID)
    for line in summary_lines(result):
        typer.echo(line)


class TunerKind(str, Enum):
    random = "random"
    bayesian = "bayesian"
    hyperband = "hyperband"


@app.command()
def tune(
    spec: Annotated[Path, typer.Argument(help="The spec file.", show_default=False)],
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Run folder (default: runs/<spec name>-tune/)."),
    ] = None,
    tuner: Annotated[
        TunerKind | None,
        typer.Option("--tuner", help="random, bayesian or hyperband (default: the spec's tune:)."),
    ] = None,
    max_trials: Annotated[
        int | None, typer.Option("--max-trials", min=1, help="Trials to run at most.")
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="Override a spec value before validation, e.g. --set fit.epochs=3 "
            "(repeatable; the value is YAML).",
            show_default=False,
        ),
    ] = None,
    seed: Annotated[
        int | None, typer.Option("--seed", help="Same as --set seed=N (also seeds the search).")
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue an interrupted search in the run folder.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Start over: delete what an earlier search created.")
    ] = False,
    allow_custom_layers: AllowCustomLayers = False,
) -> None:
    """Search the spec's search spaces ({tune: ...}) with KerasTuner; leaves trials.csv,
    trials.png, best.yaml (the spec with the winning values) and best.keras."""
    from speck.front.overrides import format_diagnostic
    from speck.pipeline import analyze

    _, overrides = overrides_or_exit(set_, seed=seed)
    analysis = analyze(spec, overrides)
    for d in analysis.diagnostics:
        echo_err(format_diagnostic(d, overrides))
    if not analysis.ok or analysis.resolved is None:
        raise typer.Exit(code=EXIT_INVALID)
    if analysis.search is None:
        fail(f"{spec} has no search spaces ({{tune: ...}}); speck train trains it", EXIT_INVALID)
    first = analysis.resolved
    custom_layers_or_exit(first, allow_custom_layers)
    from speck.backends.run.folder import RunFolderError
    from speck.backends.run.train import DataError, NotTrainable, check_data, check_trainable

    try:
        check_trainable(first)
        check_data(first)
    except NotTrainable as exc:
        fail(str(exc), EXIT_INVALID)
    except SpecError as exc:
        fail_invalid(exc)
    run_dir = out if out is not None else Path("runs") / f"{first.spec.name}-tune"
    settings = first.spec.tune
    kind = tuner.value if tuner else settings.tuner if settings else "random"
    if kind == "hyperband" and max_trials is not None:
        echo_err(
            "note: hyperband runs the trials its rounds need (up to fit.epochs each); "
            "--max-trials does not bound it"
        )
    keras_or_exit()
    from speck.backends.tune import TuneError, summary_lines, tune_search

    try:
        result = tune_search(
            analysis.search,
            first,
            run_dir,
            tuner=tuner.value if tuner else None,
            max_trials=max_trials,
            resume=resume,
            force=force,
        )
    except SpecError as exc:
        fail_invalid(exc)
    except (RunFolderError, TuneError) as exc:
        fail(str(exc))
    except DataError as exc:
        where = str(exc.location) if exc.location else str(spec)
        fail(f"{where}: error: data.source: {exc}", EXIT_INVALID)
    for line in summary_lines(result):
        typer.echo(line)


def search_script_or_none(spec: Path, target: Path | None) -> str | None:
    """The KerasTuner script of a spec with search spaces (None for a spec without); exits 2
    when the spec is invalid."""
    from speck.backends.emit.tuner import search_script_for

    try:
        found = search_script_for(spec, Path.cwd() if target is None else target.parent)
    except SpecError as exc:
        fail_invalid(exc)
    if found is None:
        return None
    text, diagnostics = found
    print_diagnostics(diagnostics)
    return text


def cluster_role_or_exit(resolved: Any, workers: int | None) -> Any:
    """This process's place in the cluster `TF_CONFIG` describes; exit 2 when a cluster is asked
    for (`--workers`, or `TF_CONFIG` naming several workers) but the spec does not train on one."""
    from speck.backends.run.cluster import role

    try:
        place = role()
    except ValueError as exc:
        fail(str(exc), EXIT_INVALID)
    if workers and os.environ.get("TF_CONFIG"):
        fail("--workers makes a cluster of its own; unset TF_CONFIG to use it", EXIT_INVALID)
    if (workers or place.workers > 1) and resolved.plan.distribute != "multi_worker_mirrored":
        asked = "--workers" if workers else "TF_CONFIG describes a cluster"
        fail(
            f"{resolved.file}: {asked}, but the spec does not train on one (every worker would "
            "train alone into the same run folder); add distribute: multi_worker_mirrored, "
            "or --set distribute=multi_worker_mirrored",
            EXIT_INVALID,
        )
    return place


@app.command()
def emit(
    specs: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Spec files (with --check, default: every spec in specs/).", show_default=False
        ),
    ] = None,
    out: Annotated[
        str | None,
        typer.Option(
            "--out", "-o", help="Write here instead of generated/<spec stem>.py; - for stdout."
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite a file speck did not emit from this spec.")
    ] = False,
    check: Annotated[
        bool,
        typer.Option("--check", help="Write nothing; exit 1 with a diff if any script is stale."),
    ] = False,
    allow_custom_layers: Annotated[
        bool,
        typer.Option(
            "--allow-custom-layers",
            help="Write scripts that import the spec's custom layer classes.",
        ),
    ] = False,
) -> None:
    """Write a standalone, readable training script for each spec (no TensorFlow needed)."""
    from speck.backends.emit.program import (
        all_specs,
        is_own_output,
        script_for,
        stale_diff,
        target_of,
    )
    from speck.fileio import write_text

    if not specs:
        if not check:
            fail("give the spec file(s) to emit", EXIT_INVALID)
        specs = all_specs()
    if out is not None and len(specs) > 1:
        fail("--out names one file; give one spec with it", EXIT_INVALID)
    if check and out == "-":
        fail("--check compares files; it cannot check standard output", EXIT_INVALID)
    stale = 0
    for spec in specs:
        target = target_of(spec, out)
        searched = search_script_or_none(spec, target)
        if searched is not None:  # a spec with search spaces: its KerasTuner script
            text = searched
        else:
            resolved = resolve_or_exit(spec)
            if not check:  # --check writes nothing, so there is no script to allow
                custom_layers_or_exit(resolved, allow_custom_layers, "emit")
                if resolved.graph.custom_layers:
                    custom_layers_are_layers_or_exit(resolved)
            text = script_for(resolved, spec, target, allow_custom_layers or check)
        if target is None:
            typer.echo(text, nl=False)
            continue
        current = target.read_text(encoding="utf-8") if target.is_file() else None
        if check:
            diff = stale_diff(current, text, str(target))
            if diff:
                typer.echo(diff, nl=False)
                stale += 1
            continue
        if current == text:
            typer.echo(f"{target} is up to date")
            continue
        if target.exists() and not force and not is_own_output(target, spec):
            fail(f"{target} exists and speck did not emit it from {spec}; --force overwrites it")
        write_text(target, text)
        typer.echo(f"wrote {target}")
    if check:
        if stale:
            echo_err(f"{stale} of {len(specs)} generated scripts are stale; run speck emit on them")
            raise typer.Exit(code=1)
        typer.echo(f"{len(specs)} generated scripts are up to date")


@app.command()
def schema(
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", metavar="FILE", help="Write to this file (- for standard output)."
        ),
    ] = None,
    check: Annotated[
        bool,
        typer.Option("--check", help="Write nothing; exit 1 with a diff if the file is stale."),
    ] = False,
) -> None:
    """Write the JSON Schema (Draft-07) of the spec format, for editors and other tools.

    Without --output it prints the schema; compiler/speck.schema.json in the repository is
    this schema, for editors to point at (speck schema -o compiler/speck.schema.json).
    """
    from speck.fileio import write_text
    from speck.front.json_schema import schema_text

    text = schema_text()
    if check:
        import difflib

        from speck.backends.emit.program import display_path
        from speck.front.json_schema import SCHEMA_FILE

        target = Path(display_path(output or SCHEMA_FILE))
        current = target.read_text(encoding="utf-8") if target.is_file() else ""
        diff = "".join(
            difflib.unified_diff(
                current.splitlines(keepends=True),
                text.splitlines(keepends=True),
                fromfile=str(target),
                tofile=f"{target} (speck schema)",
            )
        )
        if diff:
            typer.echo(diff, nl=False)
            echo_err(f"{target} is stale; run speck schema --output {target}")
            raise typer.Exit(code=1)
        typer.echo(f"{target} is up to date")
        return
    if output is None or str(output) == "-":
        typer.echo(text, nl=False)
        return
    write_text(output, text)
    typer.echo(f"wrote {output}")


@app.command("export")
def export_command(
    run_dir: Annotated[
        Path, typer.Argument(help="A run folder that `speck train` finished.", show_default=False)
    ],
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            "-o",
            help="Where to write it: a folder (saved_model) or a file.",
            show_default=False,
        ),
    ],
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="saved_model (a folder), tflite or onnx.")
    ] = "saved_model",
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing --out.")] = False,
) -> None:
    """Export a trained run's model for serving: SavedModel, TFLite or ONNX (Keras' exporters)."""
    from speck.backends.export import ExportError, check_request, export_run

    try:
        check_request(run_dir, fmt, out, force)  # before TensorFlow loads
        keras_or_exit()
        export_run(run_dir, fmt, out, force)
    except ExportError as exc:
        fail(str(exc), EXIT_INVALID)
    typer.echo(f"wrote {out}")


@app.command("predict")
def predict_command(
    run_dir: Annotated[
        Path, typer.Argument(help="A run folder that `speck train` finished.", show_default=False)
    ],
    inputs: Annotated[
        Path,
        typer.Argument(
            metavar="INPUT",
            help="A .npy, .npz or .csv file, or a folder of images.",
            show_default=False,
        ),
    ],
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            "-o",
            help="A .npy (raw outputs), .npz (several outputs) or .csv (class and probability).",
            show_default=False,
        ),
    ],
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing --out.")] = False,
) -> None:
    """Run a trained model on new inputs, prepared as the run prepared its training inputs."""
    from speck.backends.build import MissingTensorFlow
    from speck.backends.predict import PredictError, predict_run

    try:  # every check that can be made is made before TensorFlow loads
        outputs = predict_run(run_dir, inputs, out, force)
    except PredictError as exc:
        fail(str(exc), EXIT_INVALID)
    except MissingTensorFlow as exc:
        fail(str(exc))
    rows = len(next(iter(outputs.values())))
    typer.echo(f"wrote {out} ({rows} rows)")


@app.command("import")
def import_model_command(
    model: Annotated[
        Path, typer.Argument(help="A Keras 3 model file (.keras).", show_default=False)
    ],
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Write the spec here (default, or -: print it)."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite an existing --out file.")
    ] = False,
    name: Annotated[
        str | None, typer.Option("--name", help="The spec's name (default: the model's name).")
    ] = None,
) -> None:
    """Turn a saved Keras model back into a readable spec: its architecture is read as data
    (no weights, no TensorFlow), and nothing in the file is run."""
    if out is not None and str(out) == "-":  # standard output, as for `speck emit --out -`
        out = None
    if out is not None and out.exists() and not force:
        fail(f"{out} exists; pass --force to overwrite it")
    from speck.importers.keras import ImportProblem, import_model

    try:
        imported = import_model(model, name=name)
    except ImportProblem as exc:
        fail(str(exc), EXIT_INVALID)
    if out is None:
        typer.echo(imported.text, nl=False)
        return
    from speck.fileio import write_text

    write_text(out, imported.text)
    for note in imported.notes:
        echo_err(f"note: {note}")
    typer.echo(f"wrote {out}")


def main() -> None:
    """Entry point: run the app, turning stray errors into one line unless SPECK_DEBUG is set."""
    try:
        app()
    except KeyboardInterrupt:
        echo_err("interrupted")
        sys.exit(130)
    except BrokenPipeError:
        from speck.entry import closed_pipe

        sys.exit(closed_pipe())
    except Exception as exc:
        if os.environ.get("SPECK_DEBUG"):
            raise
        echo_err(f"internal error: {type(exc).__name__}: {exc} (set SPECK_DEBUG=1 for details)")
        sys.exit(1)

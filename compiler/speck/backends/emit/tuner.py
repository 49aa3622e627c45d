"""Back end 2b, emit a search: a spec with search spaces -> a standalone KerasTuner script.

The script runs the search `speck tune` runs: the program's `load_data()` (the same data
steps), `build_model(hp)` and `compile_model(model, hp)` with each search space drawn from `hp`
(`hp.Int`, `hp.Float`, `hp.Choice`, `hp.Boolean`, named after the space's spec path, e.g.
`model.layers[0].Dense.units`), a `HyperModel` whose `fit` trains as the spec's `fit:` says, and
the spec's tuner, objective and number of trials. It is rendered from the IR of the spec's first
candidate (every space at its first value): where a space stands, the IR holds the name of a
variable that `build_model` (or `compile_model`, or `fit`) binds to the space's `hp.*` call.
The variable goes in as a string literal exactly as long as its name (so the renderer lays the
line out as it will read) and the quotes are taken off afterwards. Nothing here imports
TensorFlow.
"""

from __future__ import annotations

import os
import re
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any

from speck.backends.emit.data import load_data_body, load_data_params
from speck.backends.emit.program import (
    GLUE_IMPORTS,
    SCRIPT_NAMES,
    TEMPLATES_DIR,
    Names,
    _used_globals,
    build_body,
    callback_expr,
    compile_body,
    copy_definitions,
    header,
    import_block,
    input_expr,
    layer_expr,
    libraries_needed,
    only_code,
    runtime_definitions,
    runtime_sources,
)
from speck.backends.emit.render import (
    Atom,
    BinOp,
    Bracket,
    Code,
    Expr,
    Item,
    call,
    literal,
    statement,
)
from speck.backends.tune import FILE_CALLBACKS
from speck.diagnostics import Diagnostic, SpecError, SpecPath
from speck.ir.graph import KerasObject
from speck.search import Search, Space, default_objective

TUNER_CLASSES = {
    "random": "keras_tuner.RandomSearch",
    "bayesian": "keras_tuner.BayesianOptimization",
    "hyperband": "keras_tuner.Hyperband",
}
OWN_NAMES = frozenset(
    {"SpecHyperModel", "make_hypermodel", "MAX_TRIALS", "keras_tuner", "hp", "model", "splits"}
)


class NotEmittable(SpecError):
    """A search space where the search script cannot draw it from `hp` (yet)."""


def _variable(space: Space, first: Any, names: Names) -> str:
    """A readable name for the space's value: the layer's name and the argument's."""
    tail = [p for p in space.path[1:] if isinstance(p, str) and p[:1].islower()]
    base = tail[-1] if tail else "value"
    if space.kind == "optional":
        node = _layer(first, space.path)
        base = f"with_{node.name}" if node is not None else "with_layer"
    elif space.path[:2] == ("model", "layers"):
        node = _layer(first, space.path)
        base = f"{node.name}_{base}" if node is not None else base
    base = re.sub(r"\W+", "_", base.lower()).strip("_") or "value"
    if base[0].isdigit():
        base = "v_" + base
    return base


def _layer(first: Any, path: SpecPath, graph: Any = None) -> Any:
    where = first.validated.loaded.source.locate(path[:3])
    return next((n for n in (graph or first.graph).layers if n.location == where), None)


def _put(value: Any, parts: SpecPath, new: str, space: Space, first: Any) -> Any:
    """`value` with the place `parts` names inside it (through Keras objects' arguments)
    replaced by `new`."""
    if not parts:
        return new
    if (
        isinstance(value, KerasObject)
        and value.class_name == parts[0]
        and len(parts) >= 2
        and parts[1] in value.args
    ):
        inner = _put(value.args[parts[1]], parts[2:], new, space, first)
        return replace(value, args={**value.args, parts[1]: inner})
    raise _cannot(space, first)


def _cannot(space: Space, first: Any) -> NotEmittable:
    where = first.validated.loaded.source.locate(space.path)
    message = "speck emit cannot draw a search space here from hp yet (speck tune can search it)"
    hint = "search layer arguments, the optimizer or loss, fit.batch_size or fit.epochs"
    return NotEmittable([Diagnostic(message, space.path, where, suggestion=hint)])


def _placed(search: Search, first: Any, variables: dict[str, str]) -> tuple[Any, Any, set[str]]:
    """The first candidate's graph and plan with each space's place holding its variable's
    name (as a string); and the spaces `fit` draws itself."""
    graph, plan = first.graph, first.plan
    in_fit: set[str] = set()
    for space in search.spaces:
        name, path = variables[space.name], space.path
        if space.kind == "optional":
            continue  # build_model adds the layer or not (`_sequential`)
        if path[:2] == ("model", "layers") and len(path) >= 5:
            node = _layer(first, path, graph)
            if node is None or node.kind != path[3] or path[4] not in node.args:
                raise _cannot(space, first)
            args = {**node.args, path[4]: _put(node.args[path[4]], path[5:], name, space, first)}
            layers = tuple(replace(n, args=args) if n is node else n for n in graph.layers)
            graph = replace(graph, layers=layers)
        elif path[:2] in (("compile", "optimizer"), ("compile", "loss")) and not isinstance(
            getattr(plan, str(path[1])), dict
        ):
            current = getattr(plan, str(path[1]))
            if len(path) == 2:
                new = KerasObject(current.category, alias=name)
            else:
                new = _put(current, path[2:], name, space, first)
            plan = replace(plan, **{str(path[1]): new})
        elif path in (("fit", "batch_size"), ("fit", "epochs")):
            in_fit.add(space.name)
        else:
            raise _cannot(space, first)
    return graph, plan, in_fit


def _sequential(graph: Any, optional: dict[Any, str]) -> list[Code]:
    """A Sequential model layer by layer, the optional ones added under their flag."""
    (inp,) = graph.inputs
    lines = [
        statement("model = ", call("keras.Sequential", kwargs=[("name", literal(graph.name))])),
        statement("", call("model.add", [input_expr(inp.shape, inp.dtype, inp.name)])),
    ]
    for node in graph.layers:
        added = call("model.add", [layer_expr(node.kind, node.args, node.name)])
        flag = optional.get(node.location)
        if flag is None:
            lines.append(statement("", added))
        else:
            lines += [Code(f"    if {flag}:"), statement("", added, indent=2)]
    return [*lines, Code("    return model")]


def hp_call(space: Space) -> Expr:
    """`hp.Int("model.layers[0].Dense.units", 16, 128, step=16)` and the like."""
    name = literal(space.name)
    if space.kind == "choice":
        return call("hp.Choice", [name, literal(list(space.values))])
    if space.kind == "boolean":
        return call("hp.Boolean", [name])
    if space.kind == "optional":
        return call("hp.Boolean", [name], [("default", Atom("True"))])
    low, high = space.values
    kwargs: list[tuple[str, Expr]] = []
    if space.step is not None:
        kwargs.append(("step", literal(space.step)))
    if space.sampling != "linear":
        kwargs.append(("sampling", literal(space.sampling)))
    method = "hp.Int" if space.kind == "int" else "hp.Float"
    return call(method, [name, literal(low), literal(high)], kwargs)


def _unquote(lines: list[Code], variables: dict[str, str]) -> list[Code]:
    out = []
    for line in lines:
        for name in variables.values():
            line = Code(line.replace(f'"{name}"', name))
        out.append(line)
    return out


def _claim(names: Names, wanted: str, taken_text: str) -> str:
    """A variable name the script does not use, not found quoted in the rendered code, and long
    enough to be written as a string literal of the same length (3 or more characters)."""
    name = names.claim(wanted if len(wanted) >= 3 else f"{wanted}_hp")
    while f'"{name}"' in taken_text:
        name = names.claim(name + "_")
    return name


@cache
def _template() -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=only_code,
    )
    return env.get_template("tuner.py.j2")


def tuner_script(
    search: Search,
    first: Any,
    spec_path: str | None = None,
    script_dir: str | Path | None = None,
) -> str:
    """The standalone KerasTuner script of a spec with search spaces; `first` is its first
    candidate, resolved; `script_dir` is where the script goes (relative data paths start at
    the spec's folder, found from there). Raises `NotEmittable` for a space it cannot draw
    from `hp`."""
    plan0, graph0 = first.plan, first.graph
    if first.graph.custom_layers:
        raise _cannot(search.spaces[0], first)
    if plan0.data is None or not plan0.compiled:
        where = first.validated.loaded.source.locate(())
        message = "a search needs a data: and a compile: section"
        raise NotEmittable([Diagnostic(message, (), where)])
    runtime = runtime_definitions()
    names = Names(SCRIPT_NAMES | OWN_NAMES | set(runtime))
    plain = "\n".join([*build_body(graph0, Names(())), *compile_body(plan0, graph0)])
    variables = {s.name: _claim(names, _variable(s, first, names), plain) for s in search.spaces}
    graph, plan, in_fit = _placed(search, first, variables)
    declared = {s.name: statement(f"{variables[s.name]} = ", hp_call(s)) for s in search.spaces}
    model_spaces = [s for s in search.spaces if s.path[0] == "model"]
    compile_spaces = [s for s in search.spaces if s.path[0] == "compile"]

    optional = {
        _layer(first, s.path).location: variables[s.name]
        for s in search.spaces
        if s.kind == "optional"
    }
    body = _sequential(graph, optional) if optional else build_body(graph, names)
    build = _unquote(body, variables)
    head = [Code("    import keras")]
    if any("layers." in line for line in build):
        head.append(Code("    from keras import layers"))
    build_lines = [*head, Code(""), *[declared[s.name] for s in model_spaces], *build]
    compile_lines = _unquote(compile_body(plan, graph), variables)
    compile_head = (
        [Code("    import keras"), Code("")] if any("keras." in x for x in compile_lines) else []
    )
    compile_lines = [*compile_head, *[declared[s.name] for s in compile_spaces], *compile_lines]

    data = plan0.data
    fit: list[Code] = []
    for field, constant in (("batch_size", "BATCH_SIZE"), ("epochs", "EPOCHS")):
        space = next((s for s in search.spaces if s.path == ("fit", field)), None)
        if space is not None and space.name in in_fit:
            fit.append(statement(f"{field} = ", hp_call(space), indent=3))
        else:
            fit.append(Code(f"            {field} = {constant}"))
    fit.append(Code("            x, y = splits[0]"))
    train = "make_dataset(x, y, batch_size"
    train += ", shuffle=True, seed=SEED)" if plan0.shuffle else ")"
    fit.append(Code(f"            train_data = {train}"))
    fit_args = [Item(Atom("train_data"))]
    if data.validate_on is not None:
        index = list(data.splits).index(data.validate_on)
        fit.append(Code(f"            x_val, y_val = splits[{index}]"))
        fit.append(Code("            val_data = make_dataset(x_val, y_val, batch_size)"))
        fit_args.append(Item(Atom("val_data"), "validation_data="))
    fit.append(Code('            kwargs.setdefault("epochs", epochs)'))
    fit_args += [Item(Atom("0"), "verbose="), Item(Atom("False"), "shuffle=")]
    fit_args.append(Item(Atom("**kwargs")))
    fit.append(statement("return ", Bracket("model.fit", "(", tuple(fit_args), ")"), indent=3))

    callbacks = [cb for cb in plan0.callbacks if cb.class_name not in FILE_CALLBACKS]
    if callbacks:
        listed = Bracket("", "[", tuple(Item(callback_expr(cb)) for cb in callbacks), "]")
        callbacks_body = [Code("    import keras"), Code(""), statement("return ", listed)]
    else:
        callbacks_body = [Code("    return []")]

    settings = first.spec.tune
    kind = settings.tuner if settings else "random"
    objective = (settings.objective if settings else None) or default_objective(first)
    direction = (settings.direction if settings else None) or _direction(objective)
    kwargs: list[tuple[str, Expr]] = [
        ("objective", call("keras_tuner.Objective", [literal(objective), literal(direction)]))
    ]
    if kind == "hyperband":
        kwargs.append(("max_epochs", Atom("max(EPOCHS, 2)")))
    else:
        kwargs.append(("max_trials", Atom("args.max_trials")))
    if settings and settings.executions_per_trial != 1:
        kwargs.append(("executions_per_trial", literal(settings.executions_per_trial)))
    if plan0.seed is not None:
        kwargs.append(("seed", Atom("SEED")))
    kwargs += [
        ("directory", Atom("str(args.out)")),
        ("project_name", literal("search")),
        ("overwrite", Atom("not args.resume")),
    ]
    tuner = call(TUNER_CLASSES[kind], [Atom("make_hypermodel()")], kwargs)

    constants = [
        statement("NAME = ", literal(plan0.name), indent=0),
        statement("SEED = ", literal(plan0.seed), indent=0),
        statement("EPOCHS = ", literal(plan0.epochs), indent=0),
        statement("BATCH_SIZE = ", literal(plan0.batch_size), indent=0),
        statement("MAX_TRIALS = ", literal(settings.max_trials if settings else 10), indent=0),
    ]
    if data.data_dir is not None:
        relative = os.path.relpath(data.data_dir, script_dir or Path.cwd())
        constants.append(
            statement(
                "DATA_DIR = ",
                BinOp(Atom("Path(__file__).parent"), "/", literal(Path(relative).as_posix())),
                indent=0,
            )
        )
    context: dict[str, Any] = {
        "header": header(spec_path or plan0.spec_file, plan0.spec_sha256),
        "constants": _lines(constants),
        "load_data_params": Code(load_data_params(data)),
        "load_data_body": _lines(load_data_body(data)),
        "build_body": _lines(build_lines),
        "compile_body": _lines(compile_lines),
        "fit_body": _lines(fit),
        "callbacks_body": _lines(callbacks_body),
        "tuner": statement("tuner = ", tuner),
        "runtime": [],
        "parser": statement(
            "parser = ",
            call(
                "argparse.ArgumentParser",
                kwargs=[("description", literal(f"Search the hyperparameters of {plan0.name}."))],
            ),
        ),
        "imports": Code(""),
        "needs": Code(""),
        "seeded": plan0.seed is not None,
    }
    glue = _template().render(**context)
    used = _used_globals(glue)
    wanted = [(runtime[n], n) for n in sorted(used) if n in runtime]
    copied = copy_definitions(runtime_sources(), wanted)
    own = {imp for n, imp in GLUE_IMPORTS.items() if n in used}  # keras_tuner: where used
    context["imports"] = import_block({*own, *copied.imports})
    context["runtime"] = [Code(block) for block in copied.blocks]
    context["needs"] = Code(libraries_needed("\n".join([context["imports"], glue, *copied.blocks])))
    return _template().render(**context)


def _direction(objective: str) -> str:
    name = objective.removeprefix("val_")
    return "min" if "loss" in name or "error" in name else "max"


def _lines(statements: list[Code]) -> Code:
    return Code("\n".join(statements))


def search_script_for(spec: str | Path, script_dir: Path) -> tuple[str, list[Diagnostic]] | None:
    """The KerasTuner script `speck emit` writes for a spec with search spaces, with the spec's
    warnings; None for a spec without spaces. Raises `SpecError` (every diagnostic) when the
    spec is invalid."""
    from speck.backends.emit.program import display_path
    from speck.front.load import load_file
    from speck.pipeline import analyze
    from speck.search import find_spaces

    try:
        if not find_spaces(load_file(spec)).spaces:
            return None
    except SpecError:
        return None  # not a search; the caller's own pipeline reports the problem
    analysis = analyze(spec)
    if not analysis.ok or analysis.search is None or analysis.resolved is None:
        raise SpecError(analysis.diagnostics)
    text = tuner_script(analysis.search, analysis.resolved, display_path(spec), script_dir)
    return text, analysis.diagnostics

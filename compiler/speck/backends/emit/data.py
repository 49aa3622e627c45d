"""The body of an emitted program's `load_data()`: a `DataPlan`'s steps as straight-line code.

Each step becomes one or a few statements over the arrays `x`, `y` (training), `x_val`, `y_val`
(validation) and `x_test`, `y_test` (test), calling the `speck.backends.emit.runtime.data` functions
the emitter then copies into the program. Values reach the code only through
`speck.backends.emit.render`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from speck.backends.emit.render import (
    LINE_LENGTH,
    Atom,
    BinOp,
    Code,
    Expr,
    call,
    identifier,
    literal,
)
from speck.ir.graph import DataPlan, DataStep

ARRAYS = {"train": ("x", "y"), "validation": ("x_val", "y_val"), "test": ("x_test", "y_test")}
"""The variables that hold each split's inputs and targets."""

RANDOM_STEPS = frozenset({"patches", "split", "denoise"})
PLAIN_SOURCES = frozenset({"keras", "sklearn", "patches", "npz", "npy"})
"""Sources that load one NumPy array of inputs and one of targets (npz and npy unless named)."""
"""The steps that draw from the program's one random generator."""


def _line(target: str, expr: Expr, suffix: str = "") -> Code:
    return Code("\n".join(expr.lines(1, target, suffix)))


def _path(relative: Any) -> Expr:
    """A data path from the spec: relative ones start at `DATA_DIR` (the spec's folder)."""
    if isinstance(relative, dict):
        return _literal({k: _Raw(_path(v)) for k, v in relative.items()})
    if relative.startswith("~"):
        return call("os.path.expanduser", [literal(relative)])
    if relative.startswith("/"):
        return literal(relative)
    return call("str", [BinOp(Atom("DATA_DIR"), "/", literal(relative))])


class _Raw:
    """An already rendered expression inside a literal mapping (see `_path`)."""

    def __init__(self, expr: Expr) -> None:
        self.expr = expr


def _literal(value: Any) -> Expr:
    if isinstance(value, _Raw):
        return value.expr
    if isinstance(value, dict):
        from speck.backends.emit.render import Bracket, Item

        items = tuple(Item(_literal(v), f"{literal(k).flat()}: ") for k, v in sorted(value.items()))
        return Bracket("", "{", items, "}")
    return literal(value)


def _load(step: DataStep) -> list[Code]:
    a = step.args
    op = step.op
    if op == "keras":
        options = [(k, literal(v)) for k, v in sorted(a["options"].items())]
        loaded = call(f"keras.datasets.{identifier(a['name'])}.load_data", kwargs=options)
        return [Code("    import keras"), Code(""), _line("(x, y), (x_test, y_test) = ", loaded)]
    if op == "sklearn":
        loader = call(
            f"sklearn.datasets.load_{identifier(a['name'])}",
            kwargs=[("return_X_y", Atom("True"))],
        )
        return [Code("    import sklearn.datasets"), Code(""), _line("x, y = ", loader)]
    if op == "patches":
        return _patches(int(a["options"].get("size", 32)), int(a["options"].get("count", 2000)))
    if is_named(step):
        return _named_arrays(step)
    if op in ("npz", "npy"):
        lines = []
        for split, (x_name, y_name) in (("", ("x", "y")), ("_test", ("x_test", "y_test"))):
            x_key = a["x" + split]
            if x_key is None:
                continue
            y_key = a["y" + split]
            target = f"{x_name}, {y_name if y_key is not None else '_'} = "
            if op == "npz":
                args = [_path(a["path"]), _literal(x_key), _literal(y_key)]
                lines.append(_line(target, call("load_npz", args)))
            else:
                args = [_literal_path(x_key)] + (
                    [_literal_path(y_key)] if y_key is not None else []
                )
                lines.append(_line(target, call("load_npy", args)))
        return lines
    if op == "table":
        return _table(a)
    if op == "csv":
        kwargs = [("label", literal(a["label"]))] if a["label"] is not None else []
        if a["features"] is not None:
            kwargs.append(("features", literal(a["features"])))
        if a["delimiter"] != ",":
            kwargs.append(("delimiter", literal(a["delimiter"])))
        y_name = "y" if a["label"] is not None else "_"
        names = "class_names" if a["label"] is not None else "_"
        lines = [_line(f"x, {y_name}, {names} = ", call("load_csv", [_path(a["path"])], kwargs))]
        if a["test_path"] is not None:
            test_kwargs = [*kwargs, ("class_names", Atom("class_names"))]
            y_test = "y_test" if a["label"] is not None else "_"
            loaded = call("load_csv", [_path(a["test_path"])], test_kwargs)
            lines.append(_line(f"x_test, {y_test}, _ = ", loaded))
        return lines
    assert op == "images"
    return _images(a)


def _images(a: dict[str, Any]) -> list[Code]:
    """Keras' `image_dataset_from_directory` of the folder (and of the test folder, with the
    training folder's classes), one image at a time, gathered into arrays."""
    kwargs = [("batch_size", Atom("None")), ("image_size", literal(tuple(a["image_size"])))]
    if a["color_mode"] != "rgb":
        kwargs.append(("color_mode", literal(a["color_mode"])))
    kwargs.append(("shuffle", Atom("False")))
    lines = [Code("    import keras"), Code("")]
    for split, path in (("", a["path"]), ("test_", a["test_path"])):
        if path is None:
            continue
        more = [("class_names", Atom("class_names"))] if split else []
        found = call("keras.utils.image_dataset_from_directory", [_path(path)], kwargs + more)
        lines += [
            _line(f"{split}images = ", found),
            Code(
                f"    x{'_test' if split else ''}, y{'_test' if split else ''} = "
                f"map(np.stack, zip(*{split}images.as_numpy_iterator(), strict=True))"
            ),
        ]
        if not split:
            lines.append(Code("    class_names = images.class_names"))
    return lines


def _table(a: dict[str, Any]) -> list[Code]:
    """A table's typed columns, each an array: from a CSV file's text cells or an npz archive's
    arrays (and from the test file, with the training file's classes)."""
    if a["format"] == "npz":
        archive = call("np.load", [_path(a["path"])], [("allow_pickle", Atom("False"))])
        return [_line("with ", archive, " as table:"), *_columns(a, "table", "", 2)]
    args = [literal(a["delimiter"])] if a["delimiter"] != "," else []
    lines = [_line("table = ", call("read_csv", [_path(a["path"]), *args]))]
    lines += _columns(a, "table", "", 1)
    if a["test_path"] is not None:
        lines.append(_line("test_table = ", call("read_csv", [_path(a["test_path"]), *args])))
        lines += _columns(a, "test_table", "_test", 1)
    return lines


def _columns(a: dict[str, Any], table: str, split: str, indent: int) -> list[Code]:
    """`x` (or `x_test`): each column of `table` as its kind reads it; `y` the label's ids."""

    def line(target: str, expr: Expr) -> Code:
        return Code("\n".join(expr.lines(indent, target)))

    lines = []
    if a["drop"]:
        lines.append(
            line(f"{table} = ", call("drop_empty", [Atom(table), literal(list(a["drop"]))]))
        )
    dtypes = {"float": "np.float32", "int": "np.int32"}
    columns = {}
    for name, kind in a["columns"].items():
        args: list[Expr] = [Atom(table), literal(name)]
        if kind != "string":
            args.append(Atom("np.float32" if name in a["allowed"] else dtypes[kind]))
        missing = [("missing", Atom("True"))] if name in a["allowed"] else []
        columns[name] = _Raw(call("column", args, missing))
    lines.append(line(f"x{split} = ", _ordered(columns)))
    if a["label"] is None:
        return lines
    labels = call("column", [Atom(table), literal(a["label"])])
    if a["classes"] is not None:  # text labels, ids in the spec's order
        if not split:
            lines.append(line("class_names = ", literal(list(a["classes"]))))
        ids = f"[class_names.index(label) for label in {labels.flat()}.tolist()]"
        return [*lines, line(f"y{split} = ", call("np.array", [Atom(ids)]))]
    if split:  # as the training file's labels: numbers, or ids of its classes
        return [*lines, line("y_test, _ = ", call("label_column", [labels, Atom("class_names")]))]
    return [*lines, line("y, class_names = ", call("label_column", [labels]))]


STATISTIC = {"mean": "np.nanmean", "median": "np.nanmedian", "most_frequent": "most_frequent"}


def _fill(rules: dict[str, Any], splits: list[str]) -> list[Code]:
    """Empty cells filled with a statistic of the training split `x` (or a given value), the
    same in every split, after a 0/1 column `<name>_missing` where a rule asks for one."""
    fills = {
        name: _Raw(
            literal(fill)
            if how == "fill"
            else call(STATISTIC[how], [Atom(f"x[{literal(name).flat()}]")])
        )
        for name, (how, fill, _, _) in rules.items()
    }
    lines = [
        Code("    # Empty cells are filled with statistics of the training split (x) alone."),
        _line("fills = ", _ordered(fills)),
        Code(f"    for rows in ({', '.join(splits)}{',' if len(splits) == 1 else ''}):"),
    ]
    for name, (_, _, indicator, kind) in rules.items():
        cells = Atom(f"rows[{literal(name).flat()}]")
        fill = Atom(f"fills[{literal(name).flat()}]")
        if indicator:
            empty = (
                call("np.equal", [cells, literal("")])
                if kind == "string"
                else call("np.isnan", [cells])
            )
            target = f"rows[{literal(name + '_missing').flat()}] = "
            lines.append(Code("\n".join(empty.lines(2, target, ".astype(np.float32)"))))
        # text: a new array (its cells are as wide as the fill); numbers: NaN cells set in place
        in_place = f"        {cells.flat()}[np.isnan({cells.flat()})] = {fill.flat()}"
        if kind != "string" and len(in_place) <= LINE_LENGTH:
            lines.append(Code(in_place))
        else:
            blank = BinOp(cells, "==", literal(""))
            empty = blank if kind == "string" else call("np.isnan", [cells])
            filled = call("np.where", [empty, fill, cells])
            suffix = "" if kind == "string" else ".astype(np.float32)"
            lines.append(Code("\n".join(filled.lines(2, f"{cells.flat()} = ", suffix))))
        if kind == "int":  # read as float32, for the NaN of its empty cells
            lines.append(Code(f"        {cells.flat()} = {cells.flat()}.astype(np.int32)"))
    return lines


def _feature(kind: str, options: dict[str, Any]) -> Expr:
    """One `FeatureSpace` feature: its type name, a constructor call with options, or (text) a
    custom feature of a `TextVectorization` bag of words (tf-idf unless told)."""
    if kind == "text":
        args = {"output_mode": "tf_idf", "max_tokens": 2000, **options}
        layer = call(
            "keras.layers.TextVectorization",
            kwargs=[(k, literal(v)) for k, v in sorted(args.items())],
        )
        return call(
            "keras.utils.FeatureSpace.feature", [literal("string"), layer, literal("float")]
        )
    if "embedding" in options:  # its index, which `embedded_columns` embeds in the model
        options = {**{k: v for k, v in options.items() if k != "embedding"}, "output_mode": "int"}
    if not options:
        return literal(kind)
    kwargs = [(k, literal(v)) for k, v in sorted(options.items())]
    return call(f"keras.utils.FeatureSpace.{identifier(kind)}", kwargs=kwargs)


def embeddings(plan: DataPlan | None) -> dict[str, int]:
    """The typed columns that the model embeds: name -> size of the `Embedding`."""
    step = next((s for s in plan.steps if s.op == "features"), None) if plan else None
    columns = step.args["columns"] if step is not None else {}
    return {n: o["embedding"] for n, (_, o) in columns.items() if "embedding" in o}


def encoded_row(plan: DataPlan | None) -> Expr | None:
    """What a model over typed columns starts from: the adapted `FeatureSpace`'s encoding, with
    the embedded columns' indices through their `Embedding`s (None: no typed columns)."""
    if plan is None or "features" not in plan.extras:
        return None
    sizes = embeddings(plan)
    if not sizes:
        return Atom("features.get_encoded_features()")
    return call("embedded_columns", [Atom("features"), _ordered(dict(sorted(sizes.items())))])


def _features(a: dict[str, Any]) -> list[Code]:
    columns = {
        name: _Raw(_feature(kind, options)) for name, (kind, options) in a["columns"].items()
    }
    embedded = any("embedding" in options for _, options in a["columns"].values())
    mode = [("output_mode", literal("dict"))] if embedded else []  # dict: the model embeds some
    space = call("keras.utils.FeatureSpace", [_ordered(columns)], mode)  # (default: concat)
    adapt = call("features.adapt", [Atom("x")])
    texts = [name for name, (kind, _) in a["columns"].items() if kind == "text"]
    whole = [  # TextVectorization shapes a (batch, 1) input's output wrongly: (batch, 1, tokens)
        _line(
            f"features.inputs[{literal(name).flat()}] = ",
            call(
                "keras.Input",
                kwargs=[
                    ("shape", Atom("()")),
                    ("dtype", literal("string")),
                    ("name", literal(name)),
                ],
            ),
        )
        for name in texts
    ]
    return [
        _line("features = ", space),
        *([Code("    # A text column is one string a row.")] if texts else []),
        *whole,
        Code("    # Every statistic and vocabulary is learned from the training split only."),
        _line("", adapt),
    ]


def _ordered(value: dict[str, Any]) -> Expr:
    from speck.backends.emit.render import Bracket, Item

    items = tuple(Item(_literal(v), f"{literal(k).flat()}: ") for k, v in value.items())
    return Bracket("", "{", items, "}")


def _literal_path(value: Any) -> Expr:
    return _path(value)


def _patches(size: int, count: int) -> list[Code]:
    """Random `size`x`size` patches of scikit-learn's two sample photos, half from each, in
    random order, as straight-line code; `y` says which photo (0: china.jpg, 1: flower.jpg).
    The draws (rows, then columns, per photo; then the order) are the seed's first."""
    low, high = count // 2, count - count // 2
    lines = [
        Code("    from sklearn.datasets import load_sample_images"),
        Code(""),
        Code("    patches = []"),
    ]
    counts = f"({low}, {high})"
    if low == high:
        lines.append(Code("    for photo in load_sample_images().images:  # y 0: china, 1: flower"))
        n = str(low)
    else:
        lines += [
            Code("    photos = load_sample_images().images"),
            Code(f"    for photo, n in zip(photos, {counts}, strict=True):  # y 0: china"),
        ]
        n = "n"
    lines += [
        Code(
            f"        rows, cols = (rng.integers(0, side - {size - 1}, size={n}) "
            "for side in photo.shape[:2])"
        ),
        Code(
            f"        patches += [photo[r : r + {size}, c : c + {size}] "
            "for r, c in zip(rows, cols, strict=True)]"
        ),
        Code(f"    order = rng.permutation({count})"),
        Code(f"    x, y = np.stack(patches)[order], np.repeat(np.arange(2), {counts})[order]"),
    ]
    return lines


def _named_arrays(step: DataStep) -> list[Code]:
    """Named arrays (a dict from model input or output names to keys or files) as straight-line
    code: `np.load(..., allow_pickle=False)`, which refuses arrays of Python objects. speck
    checks the files before a run (`speck.checks.data`); here NumPy's own errors suffice."""
    a = step.args
    sides = [(name, a[name]) for name in ("x", "y", "x_test", "y_test") if a[name] is not None]
    if step.op == "npz":
        archive = call("np.load", [_path(a["path"])], [("allow_pickle", Atom("False"))])
        lines = [_line("with ", archive, " as archive:")]
        for name, keys in sides:
            value = (
                _literal({k: _Raw(Atom(f"archive[{literal(v).flat()}]")) for k, v in keys.items()})
                if isinstance(keys, dict)
                else Atom(f"archive[{literal(keys).flat()}]")
            )
            lines.append(Code("\n".join(value.lines(2, f"{name} = "))))
        return lines

    def load(path: Any) -> Expr:
        return call("np.load", [_path(path)], [("allow_pickle", Atom("False"))])

    out = []
    for name, files in sides:
        value = (
            _literal({k: _Raw(load(v)) for k, v in files.items()})
            if isinstance(files, dict)
            else load(files)
        )
        out.append(_line(f"{name} = ", value))
    return out


def _each(arrays: Any, make: Callable[[str], Expr]) -> list[Code]:
    """`a, b = f(a), f(b)` when it fits on a line, else a line per array."""
    arrays = list(arrays)
    exprs = [make(name) for name in arrays]
    together = f"    {', '.join(arrays)} = {', '.join(e.flat() for e in exprs)}"
    if len(arrays) > 1 and len(together) <= LINE_LENGTH:
        return [Code(together)]
    return [_line(f"{name} = ", expr) for name, expr in zip(arrays, exprs, strict=True)]


def _scale_expr(factor: float, fraction: tuple[Any, Any] | None) -> Expr:
    if fraction is None:
        return literal(factor)
    return BinOp(literal(fraction[0]), "/", literal(fraction[1]))


_WIDEN = "a.astype(np.float32) if a.dtype == np.float16 else a"  # as `widen`, for one array
_FLATTEN = "a.reshape(-1) if a.shape[1:] == (1,) else a"  # as `flatten_labels`, for one array


def step_lines(
    step: DataStep, named: frozenset[str] = frozenset(), plain: bool = False, table: bool = False
) -> list[Code]:
    """The statements of one data step; `named` are the arrays that are dicts of named arrays;
    `plain`: every array is one NumPy array (no table's columns, no named arrays); `table`: the
    inputs are a table's columns (a dict) and the targets one array of labels."""
    a, op = step.args, step.op
    if op in ("keras", "sklearn", "patches", "npz", "npy", "csv", "table", "images"):
        return _load(step)
    if op in ("widen", "flatten_labels") and set(a["arrays"]) & named:
        # dicts of named arrays, each array as the plain arrays' functions would give it
        each = _WIDEN if op == "widen" else _FLATTEN
        return [
            Code(f"    {n} = {{k: {each} for k, a in {n}.items()}}")
            if n in named
            else _line(f"{n} = ", call(op, [Atom(n)]))
            for n in a["arrays"]
        ]
    if op == "widen":
        return _each(a["arrays"], lambda n: call("widen", [Atom(n)]))
    if op == "flatten_columns":  # labels that come as a column, shape (n, 1)
        names = ", ".join(a["arrays"])
        flat = ", ".join(f"{n}.reshape(-1)" for n in a["arrays"])
        return [Code(f"    {names} = {flat}")]
    if op == "flatten_labels":
        return _each(a["arrays"], lambda n: call("flatten_labels", [Atom(n)]))
    if op == "keep":
        labels = literal(list(a["labels"]))
        pairs = [ARRAYS[s] for s in a["splits"]]
        kept = [call("keep_labels", [Atom(x), Atom(y), labels]) for x, y in pairs]
        together = f"    {', '.join(f'({x}, {y})' for x, y in pairs)} = "
        together += ", ".join(k.flat() for k in kept)
        if len(pairs) > 1 and len(together) <= LINE_LENGTH:
            return [Code(together)]
        return [_line(f"{x}, {y} = ", k) for (x, y), k in zip(pairs, kept, strict=True)]
    if op == "limit":
        x, y = ARRAYS[a["split"]]
        return [_line(f"{x}, {y} = ", call("first_rows", [Atom(x), Atom(y), literal(a["rows"])]))]
    if op == "pad":
        out = []
        for split in a["splits"]:
            x = ARRAYS[split][0]
            length = a["length"]
            if length is None and split != "train":
                args: list[Expr] = [Atom(x), Atom("x.shape[1]")]
            else:
                args = [Atom(x)] + ([literal(length)] if length is not None else [])
            out.append(_line(f"{x} = ", call("pad_sequences", args)))
        return out
    if op == "reshape":
        dims = ", ".join(literal(int(d)).flat() for d in a["shape"])
        return _each(
            [ARRAYS[s][0] for s in a["splits"]], lambda n: Atom(f"{n}.reshape((len({n}), {dims}))")
        )
    if op == "scale":
        factor = _scale_expr(a["factor"], a["fraction"])
        if plain:  # as `scale` does for one array
            as_float = call("np.float32", [factor])
            return _each(
                [ARRAYS[s][0] for s in a["splits"]],
                lambda n: BinOp(Atom(f"{n}.astype(np.float32)"), "*", as_float),
            )
        return _each(
            [ARRAYS[s][0] for s in a["splits"]], lambda n: call("scale", [Atom(n), factor])
        )
    if op == "split":
        x, y = ARRAYS[a["held"]]
        fraction = literal(a["fraction"])
        if a["y"]:
            # plain: no dicts of arrays; a table: a dict of columns and an array of labels
            held_out = "split_arrays" if plain else "split_columns" if table else "split"
            return [
                _line(
                    f"(x, y), ({x}, {y}) = ",
                    call(held_out, [Atom("x"), Atom("y"), fraction, Atom("rng")]),
                )
            ]
        return [
            _line(
                f"(x, _), ({x}, _) = ",
                call("split", [Atom("x"), Atom("None"), fraction, Atom("rng")]),
            )
        ]
    if op == "rename":
        (x_from, y_from), (x_to, y_to) = ARRAYS[a["from"]], ARRAYS[a["to"]]
        if not a["y"]:
            return [Code(f"    {x_to} = {x_from}")]
        return [Code(f"    {x_to}, {y_to} = {x_from}, {y_from}")]
    if op == "drop":
        return []
    if op == "impute":
        return _fill(a["rules"], [ARRAYS[s][0] for s in a["splits"]])
    if op == "features":
        return _features(a)
    if op == "standardize":
        out = [
            Code("    mean, std = fit_standardizer(x)"),
            Code("    if out_dir is not None:  # the training statistics, for `speck predict`"),
            Code('        save_statistics(out_dir / "preprocessing.json", mean, std)'),
        ]
        return out + _each(
            [ARRAYS[s][0] for s in a["splits"]],
            lambda n: call("standardize", [Atom(n), Atom("mean"), Atom("std")]),
        )
    if op == "denoise":
        kwargs: list[tuple[str, Expr]] = []
        if a["mean"] != 0:
            kwargs.append(("mean", literal(a["mean"])))
        if a["clip"] is not None:
            kwargs.append(("clip", literal(tuple(a["clip"]))))
        kwargs.append(("rng", Atom("rng")))
        out = []
        for split in a["splits"]:
            x, y = ARRAYS[split]
            noisy = call("add_gaussian_noise", [Atom(x), literal(a["stddev"])], kwargs)
            out.append(_line(f"{x}, {y} = ", noisy, f", {x}"))
        return out
    if op == "reconstruct":
        pairs = [ARRAYS[s] for s in a["splits"]]
        ys, xs = ", ".join(p[1] for p in pairs), ", ".join(p[0] for p in pairs)
        return [Code(f"    {ys} = {xs}")]
    if op == "one_hot":
        ys = [ARRAYS[s][1] for s in a["splits"]]
        out = []
        classes: Expr
        if a["classes"] is None:
            known = ", ".join(ys) + ("," if len(ys) == 1 else "")
            out.append(Code(f"    classes = max(int(a.max()) for a in ({known})) + 1"))
            classes = Atom("classes")
        else:
            classes = literal(a["classes"])
        return out + _each(ys, lambda n: call("one_hot", [Atom(n), classes]))
    raise ValueError(f"unknown data step {op!r}")


def load_data_body(plan: DataPlan) -> list[Code]:
    """The statements of `load_data()`, ending with the splits it returns."""
    lines = step_lines(plan.steps[0])
    if any(step.op == "features" for step in plan.steps):
        lines[:0] = [Code("    import keras"), Code("")]
    if any(step.op in RANDOM_STEPS for step in plan.steps):
        imported = (
            plan.steps[0].op in ("keras", "sklearn", "patches") or lines[0] == "    import keras"
        )
        lines.insert(2 if imported else 0, Code("    rng = np.random.default_rng(SEED)"))
    named = named_arrays(plan.steps[0])
    plain = plan.steps[0].op in PLAIN_SOURCES and not named
    table = plan.steps[0].op == "table"
    for step in plan.steps[1:]:
        lines += step_lines(step, named, plain, table)
    lines.append(Code(f"    return {split_targets(plan)}"))
    return lines


def load_data_params(plan: DataPlan) -> str:
    """`load_data`'s parameters: a run folder to save the training statistics in, when the
    inputs are standardized with them."""
    if any(step.op == "standardize" for step in plan.steps):
        return "out_dir: Path | None = None"
    return ""


def named_arrays(load: DataStep) -> frozenset[str]:
    """The arrays (`x`, `y`, `x_test`, `y_test`) that a load step reads as dicts of named
    arrays (an npz or npy source that maps model input or output names to keys or files)."""
    if load.op not in ("npz", "npy"):
        return frozenset()
    return frozenset(k for k in ("x", "y", "x_test", "y_test") if isinstance(load.args[k], dict))


def is_named(load: DataStep) -> bool:
    """Whether a load step reads any named arrays."""
    return bool(named_arrays(load))


def split_targets(plan: DataPlan) -> str:
    """What `run` unpacks `load_data()` into: `(x, y), (x_val, y_val), ...`, then the extras
    (`features`, `class_names`)."""
    splits = [f"({x}, {y})" for x, y in (ARRAYS[s] for s in plan.splits)]
    return ", ".join([*splits, *plan.extras])

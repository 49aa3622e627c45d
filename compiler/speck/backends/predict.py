"""`speck predict`: a trained run's model on new inputs, prepared as its training inputs were.

The run folder says how: its `spec.yaml` (the resolved spec it trained) is resolved again and the
data steps that change inputs are applied to the new ones, in the run's order, with the same
`speck.backends.emit.runtime.data` functions the program used: `widen` (narrow floats), `pad` (word
sequences, to the model's length), `reshape`, `scale`, and `standardize` with the training split's
mean and standard deviation that the program saved in `preprocessing.json`. Steps that choose rows
(keep, limit, split), make targets (one_hot, reconstruct) or add training noise (denoise) do not
apply to new inputs; a step predict does not know is refused, never skipped.

    INPUT   .npy           one array: the rows of the model's one input
            .npz           one array, or one per model input named by the input's name
            .csv           a header row; the run's feature columns (a training CSV's label
                           column is left out), else every column; a typed table's raw
                           columns (also as .npz arrays), with its `fill` rules and
                           indicators applied (an empty cell whose rule is a statistic of the
                           training split, which the run does not keep, is refused)
            a folder       images (any depth, sorted by path), sized as the run's images were
    --out   .npy           the model's raw outputs, one array
            .npz           the raw outputs by output name (a model with several outputs)
            .csv           one row per input: the input (row number or image file), then for
                           each output that predicts classes the class (its name where the
                           run recorded class names) and its probability, else the values

Every mistake that can be seen before TensorFlow loads (no model, an unknown suffix, an
existing --out, inputs of the wrong shape) raises `PredictError` first.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from speck.backends.export import MODEL_FILE

PREPROCESSING_FILE = "preprocessing.json"
"""What a program that standardizes its inputs saves in the run folder for predict."""
INPUT_SUFFIXES = (".npy", ".npz", ".csv")
OUTPUT_SUFFIXES = (".npy", ".npz", ".csv")
INPUT_STEPS = ("widen", "pad", "reshape", "scale", "standardize", "impute")
"""Data steps that change the model's inputs, and so are applied to new ones."""
OTHER_STEPS = (
    *("keras", "sklearn", "patches", "npz", "npy", "csv", "images", "table"),  # loading
    "features",  # a table's encoding, which the saved model holds
    *("flatten_columns", "flatten_labels", "one_hot", "reconstruct"),  # targets only
    *("keep", "limit", "split", "rename", "drop"),  # which rows train, validate, test
    "denoise",  # noise added to training inputs; new inputs come as they are
)


class PredictError(Exception):
    """A prediction that cannot be made as asked; the message says what to change (exit 2)."""


@dataclass
class Inputs:
    """New inputs as the model takes them, and how each row is named in a .csv."""

    x: Any
    names: list[str]


def check_request(run_dir: Path, out: Path | None, force: bool = False) -> Any:
    """The run's resolved spec, once the run folder and `out` are known to make sense;
    `PredictError` otherwise. Imports nothing heavy."""
    if not run_dir.is_dir():
        raise PredictError(f"{run_dir} is not a folder: give the run folder `speck train` wrote")
    if not (run_dir / MODEL_FILE).is_file():
        raise PredictError(
            f"{run_dir} has no {MODEL_FILE}: predict takes a run folder of a finished "
            "`speck train` run (finish it with `speck train SPEC --out DIR --resume`)"
        )
    if out is not None:
        if out.suffix.lower() not in OUTPUT_SUFFIXES:
            raise PredictError(f"{out}: predictions go to a .npy, .npz or .csv file")
        if (out.exists() or out.is_symlink()) and not force:
            raise PredictError(f"{out} exists; pass --force to overwrite it")
        if out.is_dir():
            raise PredictError(f"{out} is a folder; name a file for the predictions")
    spec = run_dir / "spec.yaml"
    if not spec.is_file():
        raise PredictError(f"{run_dir} has no spec.yaml, which says how its inputs were prepared")
    from speck.diagnostics import SpecError
    from speck.pipeline import resolve_file

    try:
        resolved = resolve_file(spec)
    except SpecError as exc:
        first = exc.diagnostics[0]
        raise PredictError(f"{spec} no longer reads as a spec: {first.message}") from None
    if resolved.plan.data is None:
        raise PredictError(f"{spec} has no data: section, so it says nothing of the inputs")
    outputs = resolved.graph.output_names
    if out is not None and out.suffix.lower() == ".npy" and len(outputs) > 1:
        raise PredictError(
            f"the model has {len(outputs)} outputs ({', '.join(outputs)}); write them to a "
            f".npz ({out.with_suffix('.npz')}), one array each"
        )
    unknown = [s.op for s in resolved.plan.data.steps if s.op not in INPUT_STEPS + OTHER_STEPS]
    if unknown:
        raise PredictError(
            f"the run's data step {unknown[0]!r} is not one predict can apply to new inputs "
            "yet; prepare them as the program's load_data() does and call the model directly"
        )
    return resolved


# --- reading new inputs ----------------------------------------------------------------------


def read_inputs(path: Path, resolved: Any) -> Inputs:
    """The rows of INPUT, as loaded (before the run's preprocessing)."""
    import numpy as np

    graph = resolved.graph
    names = [node.name for node in graph.inputs]
    if path.is_dir():
        return _images(path, resolved)
    if not path.is_file():
        raise PredictError(f"{path} does not exist: give a .npy, .npz or .csv file or a folder")
    suffix = path.suffix.lower()
    if suffix not in INPUT_SUFFIXES:
        raise PredictError(
            f"{path}: inputs come as a .npy, .npz or .csv file or a folder of images, "
            f"not {suffix or 'a file without a suffix'}"
        )
    from speck.backends.emit.runtime.data import load_npy

    load = resolved.plan.data.steps[0]
    try:
        if load.op == "table":
            return _table(path, suffix, load.args)
        if suffix == ".npy":
            x, _ = load_npy(str(path))
        elif suffix == ".npz":
            x = _npz(path, names)
        else:
            x = _csv(path, resolved)
    except (ValueError, KeyError) as exc:
        raise PredictError(str(exc).strip("\"'")) from None
    if len(names) > 1 and not isinstance(x, dict):
        raise PredictError(
            f"{path}: the model has {len(names)} inputs ({', '.join(names)}); give a .npz "
            "with an array named after each"
        )
    if isinstance(x, np.ndarray) and x.ndim == 0:
        raise PredictError(f"{path} holds a single value, not rows of inputs")
    rows = len(next(iter(x.values()))) if isinstance(x, dict) else len(x)
    return Inputs(x, [str(i) for i in range(rows)])


def _table(path: Path, suffix: str, a: dict[str, Any]) -> Inputs:
    """A typed table's raw columns, read as the program reads them (the label, if there, left
    out); empty cells stay empty ("" or NaN) for the run's missing-value rules."""
    import numpy as np

    from speck.backends.emit.runtime.data import column, read_csv

    if suffix == ".npy":
        raise PredictError(f"{path}: the model takes a table's columns; give a .csv or .npz")
    if suffix == ".csv":
        table: Any = read_csv(str(path), a["delimiter"])
    else:
        table = dict(np.load(path, allow_pickle=False))
    dtypes = {"float": np.float32, "int": np.float32, "string": str}  # ints: NaN until filled
    x = {name: column(table, name, dtypes[kind], True) for name, kind in a["columns"].items()}
    x = {n: v.astype(object) if v.dtype.kind == "U" else v for n, v in x.items()}
    return Inputs(x, [str(i) for i in range(len(next(iter(x.values()))))])


def _filled(x: dict[str, Any], a: dict[str, Any], source: Path) -> dict[str, Any]:
    """New rows with the run's missing-value rules applied: a `fill` value, a 0/1 indicator
    column; an empty cell whose rule is a statistic of the training split (which the run does
    not keep) or that has no rule is refused. Integer columns become integers."""
    import numpy as np

    out = dict(x)
    for name, cells in x.items():
        empty = cells == "" if cells.dtype == object else np.isnan(cells)
        how, fill, indicator, kind = a["rules"].get(name, (None, None, False, None))
        if empty.any() and how != "fill":
            rule = f"its rule is the training split's {how}" if how else "it has no missing rule"
            raise PredictError(
                f"{source}: column {name!r} has {int(empty.sum())} empty cells and {rule}, "
                "which predict cannot repeat; fill them in"
            )
        if indicator:
            out[f"{name}_missing"] = empty.astype(np.float32)
        if how == "fill":  # as the program fills the column (text stays an object array)
            out[name] = np.where(empty, fill, cells)
            out[name] = out[name] if kind == "string" else out[name].astype(np.float32)
    return out


def _npz(path: Path, names: list[str]) -> Any:
    import zipfile

    import numpy as np

    if not zipfile.is_zipfile(path):
        raise PredictError(f"{path} is not a .npz archive (a zip of .npy files)")
    with np.load(path, allow_pickle=False) as archive:
        keys = list(archive.files)
        if len(names) == 1:
            key = names[0] if names[0] in keys else "x" if "x" in keys else None
            if key is None and len(keys) == 1:
                key = keys[0]
            if key is None:
                raise PredictError(
                    f"{path} has arrays {keys}: name the inputs {names[0]!r} or 'x', or keep "
                    "one array"
                )
            return archive[key]
        missing = [n for n in names if n not in keys]
        if missing:
            raise PredictError(f"{path} has no array {missing[0]!r} (one per input); it has {keys}")
        return {name: archive[name] for name in names}


def _csv(path: Path, resolved: Any) -> Any:
    from speck.backends.emit.runtime.data import load_csv

    load = resolved.plan.data.steps[0]
    features = None
    if load.op == "csv":
        features = load.args["features"]
        if features is None and load.args["label"] is not None:
            with open(path, encoding="utf-8-sig", newline="") as f:
                header = next(csv.reader(f, delimiter=load.args["delimiter"]), [])
            features = [name for name in header if name != load.args["label"]]
    delimiter = load.args["delimiter"] if load.op == "csv" else ","
    x, _, _ = load_csv(str(path), None, features, delimiter)
    return x


def _images(folder: Path, resolved: Any) -> Inputs:
    """Every image under `folder`, sized and coloured as the run's images were (or as the
    model's input says, for a run that trained on arrays)."""
    import numpy as np

    load = resolved.plan.data.steps[0]
    if load.op == "images":
        size, mode = tuple(load.args["image_size"]), load.args["color_mode"]
    else:
        shape = resolved.graph.inputs[0].shape
        if len(resolved.graph.inputs) != 1 or len(shape) != 3 or shape[-1] not in (1, 3, 4):
            raise PredictError(
                f"{folder} is a folder, but the model does not take images (its input is "
                f"{_shape(shape)}); give a .npy, .npz or .csv file"
            )
        size, mode = (shape[0], shape[1]), {1: "grayscale", 3: "rgb", 4: "rgba"}[shape[-1]]
    from speck.backends.build import keras_module

    keras = keras_module()
    try:
        dataset = keras.utils.image_dataset_from_directory(
            str(folder),
            labels=None,
            color_mode=mode,
            batch_size=None,
            image_size=size,
            shuffle=False,
            verbose=False,
        )
    except ValueError as exc:
        raise PredictError(f"{folder}: {exc}") from None
    files = [str(Path(p).relative_to(folder).as_posix()) for p in dataset.file_paths]
    return Inputs(np.stack(list(dataset.as_numpy_iterator())), files)


# --- the run's preprocessing -----------------------------------------------------------------


def prepare(inputs: Inputs, resolved: Any, run_dir: Path, source: Path) -> Inputs:
    """Apply the run's input steps to `inputs`, then check their shape against the model's."""
    from speck.backends.emit.runtime import data as runtime

    x = inputs.x
    graph = resolved.graph
    for step in resolved.plan.data.steps:
        a = step.args
        try:
            if step.op == "widen":
                x = runtime.widen(x)
            elif step.op == "pad":
                length = a["length"] or graph.inputs[0].shape[0]
                x = runtime.pad_sequences(x, length)
            elif step.op == "reshape":
                x = _each(x, lambda v, a=a: v.reshape((len(v), *a["shape"])))
            elif step.op == "scale":
                x = runtime.scale(x, a["factor"])
            elif step.op == "standardize":
                mean, std = training_statistics(run_dir)
                x = runtime.standardize(x, mean, std)
            elif step.op == "impute":
                x = _filled(x, a, source)
        except ValueError as exc:
            raise PredictError(
                f"{source}: the run's {step.op} step cannot take it: {exc}"
            ) from None
    load = resolved.plan.data.steps[0]
    if load.op == "table":  # raw columns, one value a row, into the model's own encoding
        if not any(step.op == "impute" for step in resolved.plan.data.steps):
            x = _filled(x, {"rules": {}}, source)  # no rules: no empty cell
        ints = [name for name, kind in load.args["columns"].items() if kind == "int"]
        return Inputs(
            {n: v.astype("int32") if n in ints else v for n, v in x.items()}, inputs.names
        )
    check_shapes(x, graph, source)
    return Inputs(x, inputs.names)


def _each(x: Any, fn: Any) -> Any:
    return {k: fn(v) for k, v in x.items()} if isinstance(x, dict) else fn(x)


def training_statistics(run_dir: Path) -> tuple[Any, Any]:
    """The training split's per-feature mean and standard deviation, as the program saved
    them (a dict of each for named inputs)."""
    import numpy as np

    path = run_dir / PREPROCESSING_FILE
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))["standardize"]
    except (OSError, ValueError, KeyError):
        raise PredictError(
            f"{path} is missing or unreadable: the run standardized its inputs, and predict "
            "needs the training statistics it saved there (train the run again)"
        ) from None

    def arrays(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: np.asarray(v, dtype=np.float32) for k, v in value.items()}
        return np.asarray(value, dtype=np.float32)

    return arrays(saved["mean"]), arrays(saved["std"])


def _shape(shape: Any) -> str:
    """A shape as Python writes a tuple, None for any size: `(64,)`, `(None, 28)`."""
    items = ["None" if d is None else str(d) for d in shape]
    return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"


def check_shapes(x: Any, graph: Any, source: Path) -> None:
    """Every input array's rows have the shape the model input takes (None: any size)."""
    import numpy as np

    arrays = x if isinstance(x, dict) else {graph.inputs[0].name: x}
    for node in graph.inputs:
        array = arrays.get(node.name)
        if array is None:
            continue
        rows = tuple(np.shape(array)[1:])
        wanted = tuple(node.shape)
        fits = len(rows) == len(wanted) and all(
            w in (None, r) for w, r in zip(wanted, rows, strict=True)
        )
        if not fits:
            raise PredictError(
                f"{source}: each input row has shape {_shape(rows)} after the run's "
                f"preprocessing, but the model's input {node.name!r} takes {_shape(wanted)}"
            )


# --- predicting and writing ------------------------------------------------------------------


def outputs_by_name(model: Any, x: Any, graph: Any) -> dict[str, Any]:
    """`model.predict(x)` as a dict from output name to array, in the model's output order."""
    import numpy as np

    predicted = model.predict(x, verbose=0)
    names = list(graph.output_names)
    if isinstance(predicted, dict):
        return {name: np.asarray(predicted[name]) for name in (graph.output_keys or names)}
    if not isinstance(predicted, list | tuple):
        predicted = [predicted]
    return {name: np.asarray(p) for name, p in zip(names, predicted, strict=True)}


def class_names_of(run_dir: Path) -> Any:
    """The class names the run recorded in metrics.json (`class_names`, a list, or a dict by
    output), if any."""
    try:
        return json.loads((run_dir / "metrics.json").read_text(encoding="utf-8")).get("class_names")
    except (OSError, ValueError, AttributeError):
        return None


def csv_text(
    outputs: dict[str, Any], names: list[str], class_outputs: dict[str, str], labels: Any
) -> str:
    """One row per input: its name, then each output's class and probability (classifiers)
    or values."""
    several = len(outputs) > 1
    header, columns = ["input"], []
    for output, scores in outputs.items():
        prefix = f"{output}_" if several else ""
        kind = class_outputs.get(output)
        if kind is not None:
            ids, probability = _classes(scores, kind)
            own = labels.get(output) if isinstance(labels, dict) else labels
            shown = [own[i] if own and i < len(own) else i for i in ids.tolist()]
            header += [f"{prefix}class", f"{prefix}probability"]
            columns += [shown, probability.tolist()]
            continue
        if scores.ndim > 2:
            raise PredictError(
                f"the output {output!r} has shape {_shape(scores.shape[1:])} per input, too much "
                "for a row of a .csv: write the predictions to a .npy or .npz"
            )
        flat = scores.reshape(len(scores), -1)
        if flat.shape[1] == 1:
            header.append(output if several else "value")
        else:
            header += [f"{prefix}{i}" for i in range(flat.shape[1])]
        columns += list(flat.T.tolist())
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(zip(names, *columns, strict=True))
    return buffer.getvalue()


def _classes(scores: Any, kind: str) -> tuple[Any, Any]:
    """Predicted class ids and their probability, as the loss reads the scores."""
    import numpy as np

    if kind in ("binary", "binary_logits"):
        p = scores.reshape(len(scores), -1)[:, 0].astype(np.float64)
        if kind == "binary_logits":
            p = 1 / (1 + np.exp(-p))
        ids = (p > 0.5).astype(np.int64)
        return ids, np.where(ids == 1, p, 1 - p)
    scores = scores.astype(np.float64)
    ids = scores.argmax(-1)
    if kind.endswith("_logits"):
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        scores /= scores.sum(-1, keepdims=True)
    return ids, np.take_along_axis(scores, ids[:, None], -1)[:, 0]


def class_kinds(resolved: Any) -> dict[str, str]:
    """Each classifier output's encoding (`sparse`, `one_hot`, `binary`, with `_logits` when
    its loss takes logits)."""
    plan = resolved.plan
    losses = plan.loss if isinstance(plan.loss, dict) else {}
    kinds = {}
    for output, kind in plan.data.class_outputs:
        loss = losses.get(output, plan.loss)
        logits = bool(getattr(loss, "args", {}).get("from_logits"))
        kinds[output] = kind if kind.endswith("_logits") or not logits else f"{kind}_logits"
    return kinds


def write_predictions(out: Path, outputs: dict[str, Any], text: str | None) -> None:
    import numpy as np

    from speck.fileio import atomic_path

    suffix = out.suffix.lower()
    with atomic_path(out) as tmp:
        if suffix == ".csv":
            tmp.write_text(text or "", encoding="utf-8")
        elif suffix == ".npy":
            with open(tmp, "wb") as f:
                np.save(f, next(iter(outputs.values())), allow_pickle=False)
        else:
            with open(tmp, "wb") as f:
                np.savez(f, **outputs)


def predict_run(
    run_dir: str | Path, source: str | Path, out: str | Path | None = None, force: bool = False
) -> dict[str, Any]:
    """The model of `run_dir` on the inputs in `source`, after the run's preprocessing: raw
    outputs by output name; written to `out` (.npy, .npz or .csv) when given."""
    from speck.backends.build import keras_module, require_numpy

    require_numpy()  # the inputs are read as arrays before TensorFlow loads
    run_dir, source = Path(run_dir), Path(source)
    out = None if out is None else Path(out)
    resolved = check_request(run_dir, out, force)
    inputs = prepare(read_inputs(source, resolved), resolved, run_dir, source)
    keras = keras_module()
    try:
        model = keras.models.load_model(run_dir / MODEL_FILE, compile=False)
    except Exception as exc:  # a damaged file, or a custom layer not importable here
        message = f"cannot load {run_dir / MODEL_FILE}: {type(exc).__name__}: {exc}"
        raise PredictError(message) from None
    outputs = outputs_by_name(model, inputs.x, resolved.graph)
    if out is not None:
        text = None
        if out.suffix.lower() == ".csv":
            kinds = class_kinds(resolved)
            text = csv_text(outputs, inputs.names, kinds, class_names_of(run_dir))
        write_predictions(out, outputs, text)
    return outputs

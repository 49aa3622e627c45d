"""Legacy spellings: Keras 1/2-era names a spec may still use, translated to Keras 3.

The tutorial speck grew from was written for TF 1.8; its `SGD(lr=...)`, `Dense(input_dim=...)`,
`ModelCheckpoint(period=2)` and extension-less checkpoint paths fail or warn on Keras 3. Specs
may keep them: `translate` rewrites the raw mapping in place (before typing) and returns one
warning per translation naming its line and the modern form.
"""

from __future__ import annotations

from typing import Any

from speck.catalog.lookup import Catalog
from speck.diagnostics import Diagnostic, SpecPath
from speck.front.load import SourceMap

LAYER_RENAMES = {
    "Convolution1D": "Conv1D",
    "Convolution2D": "Conv2D",
    "Convolution3D": "Conv3D",
    "Deconvolution2D": "Conv2DTranspose",
    "Deconvolution3D": "Conv3DTranspose",
}
"""Keras 1 layer class names (only used when the installed Keras no longer has them)."""

LAYER_ARG_RENAMES = {
    "output_dim": "units",
    "nb_filter": "filters",
    "border_mode": "padding",
    "subsample": "strides",
    "dim_ordering": "data_format",
    "init": "kernel_initializer",
    "W_regularizer": "kernel_regularizer",
    "b_regularizer": "bias_regularizer",
    "W_constraint": "kernel_constraint",
    "b_constraint": "bias_constraint",
    "bias": "use_bias",
}
DATA_FORMAT_VALUES = {"tf": "channels_last", "th": "channels_first"}
INPUT_ARGS = ("input_dim", "input_shape", "batch_input_shape")

OPTIMIZER_ARG_RENAMES = {"lr": "learning_rate"}
CALLBACK_ARG_RENAMES = {"ReduceLROnPlateau": {"epsilon": "min_delta"}}
CALLBACK_ARGS_REMOVED = {
    "TensorBoard": ("batch_size", "write_grads", "embeddings_layer_names", "embeddings_data"),
}
FIT_RENAMES = {"nb_epoch": "epochs"}
CHECKPOINT_EVERY = "every_epochs"
"""speck's own ModelCheckpoint argument: save every N epochs (Keras 3 has no `period`)."""


def translate(data: dict[str, Any], source: SourceMap, catalog: Catalog) -> list[Diagnostic]:
    """Rewrite legacy spellings in `data` in place. A name the installed Keras still accepts
    (an Embedding's `input_dim`, say) is never translated."""
    return _Translator(source, catalog).run(data)


class _Translator:
    def __init__(self, source: SourceMap, catalog: Catalog) -> None:
        self.source = source
        self.catalog = catalog
        self.base_args = {
            (a.name, a.required, repr(a.default), a.kind) for a in catalog.layer_base_args()
        }
        """Base-layer arguments, as a layer that takes them through **kwargs lists them."""
        self.notes: list[Diagnostic] = []

    def warn(self, path: SpecPath, message: str, modern: str) -> None:
        self.notes.append(
            Diagnostic(
                message,
                path,
                self.source.locate(path),
                severity="warning",
                suggestion=f"write {modern}",
            )
        )

    def rename(self, mapping: dict[str, Any], path: SpecPath, old: str, new: str) -> bool:
        if old not in mapping:
            return False
        if new in mapping:
            self.notes.append(
                Diagnostic(
                    f"both {old!r} (legacy) and {new!r} are given",
                    (*path, old),
                    self.source.locate((*path, old)),
                    suggestion=f"remove {old!r}",
                )
            )
            del mapping[old]  # reported here; the catalog check need not report it again
            return False
        items = [(new if k == old else k, v) for k, v in mapping.items()]
        mapping.clear()
        mapping.update(items)
        self.source.alias((*path, new), (*path, old))
        self.warn((*path, old), f"{old!r} is a Keras 2 spelling, translated", f"{new!r}")
        return True

    def run(self, data: dict[str, Any]) -> list[Diagnostic]:
        model = data.get("model")
        if isinstance(model, dict) and isinstance(model.get("layers"), list):
            for i, entry in enumerate(model["layers"]):
                if isinstance(entry, dict):
                    self.layer(model, entry, ("model", "layers", i), first=i == 0)
        compile_ = data.get("compile")
        if isinstance(compile_, dict):
            self.optimizer(compile_.get("optimizer"), ("compile", "optimizer"))
        callbacks = data.get("callbacks")
        if isinstance(callbacks, list):
            for i, cb in enumerate(callbacks):
                if isinstance(cb, dict) and len(cb) == 1:
                    ((name, args),) = cb.items()
                    if isinstance(args, dict):
                        self.callback(str(name), args, ("callbacks", i, name))
        fit = data.get("fit")
        if isinstance(fit, dict):
            for old, new in FIT_RENAMES.items():
                self.rename(fit, ("fit",), old, new)
        return self.notes

    def layer(
        self, model: dict[str, Any], entry: dict[str, Any], path: SpecPath, first: bool
    ) -> None:
        kinds = [k for k in entry if k not in ("name", "from", "shares")]
        if len(kinds) != 1:
            return
        kind = kinds[0]
        if kind in LAYER_RENAMES and self.catalog.get("layers", kind) is None:
            new_kind = LAYER_RENAMES[kind]
            self.rename(entry, path, kind, new_kind)
            kind = new_kind
        if self.positional(entry, kind, path):
            return
        args = entry[kind]
        if not isinstance(args, dict):
            return
        # The layer's own arguments: not the base-layer ones it takes through **kwargs.
        entry = self.catalog.get("layers", kind)
        base = self.base_args
        current = {
            name
            for name, a in (entry.args.items() if entry else ())
            if (name, a.required, repr(a.default), a.kind) not in base
        }
        apath = (*path, kind)
        for old, new in LAYER_ARG_RENAMES.items():
            if old in current or old not in args:
                continue
            if self.rename(args, apath, old, new) and new == "data_format":
                args[new] = DATA_FORMAT_VALUES.get(args[new], args[new])
        if kind == "Dropout":
            self.rename(args, apath, "p", "rate")
        for key in INPUT_ARGS:
            if key in args and key not in current:
                self.input_arg(model, args, apath, key, first)

    def positional(self, entry: dict[str, Any], kind: str, path: SpecPath) -> bool:
        """`- Activation: softmax`, as Keras code writes `Activation('softmax')`: the value is
        the layer's first argument when that one is required. True when translated."""
        value = entry[kind]
        known = self.catalog.get("layers", kind)
        if value is None or isinstance(value, dict) or known is None or not known.args:
            return False
        first = next(iter(known.args.values()))
        if not first.required:
            return False
        entry[kind] = {first.name: value}
        where = self.source.locate((*path, kind), prefer="value")
        self.source.keys[(*path, kind, first.name)] = where
        self.source.values[(*path, kind, first.name)] = where
        self.notes.append(
            Diagnostic(
                f"{kind} is given its first argument by position, as Keras 2 code wrote "
                f"`{kind}({value!r})`; read as {first.name}={value!r}",
                (*path, kind),
                where,
                severity="warning",
                suggestion=f"write `{kind}: {{{first.name}: {_yaml_scalar(value)}}}`",
            )
        )
        return True

    def input_arg(
        self, model: dict[str, Any], args: dict[str, Any], path: SpecPath, key: str, first: bool
    ) -> None:
        value = args[key]
        if key == "input_dim" and isinstance(value, int):
            shape: Any = [value]
        elif isinstance(value, list):
            shape = value[1:] if key == "batch_input_shape" else value
        else:
            return  # leave it: the catalog check reports the bad value
        if not first or "inputs" in model:
            self.notes.append(
                Diagnostic(
                    f"{key!r} belongs to the model's input, not to a layer",
                    (*path, key),
                    self.source.locate((*path, key)),
                    suggestion=(
                        "give the shape as `model.input`"
                        if "inputs" not in model
                        else "give the shape under `model.inputs`"
                    ),
                )
            )
            return
        if "input" in model:
            self.notes.append(
                Diagnostic(
                    f"{key!r} repeats the model's input",
                    (*path, key),
                    self.source.locate((*path, key)),
                    suggestion="remove it and keep `model.input`",
                )
            )
            return
        del args[key]
        model["input"] = shape
        self.source.alias(("model", "input"), (*path, key))
        self.warn(
            (*path, key),
            f"{key!r} on a layer is a Keras 2 spelling, moved to the model's input",
            f"`model: {{input: {shape}}}`",
        )

    def optimizer(self, value: Any, path: SpecPath) -> None:
        if not (isinstance(value, dict) and len(value) == 1):
            return
        ((name, args),) = value.items()
        if not isinstance(args, dict):
            return
        apath = (*path, name)
        for old, new in OPTIMIZER_ARG_RENAMES.items():
            self.rename(args, apath, old, new)
        decay = args.get("decay")
        if isinstance(decay, int | float) and not isinstance(decay, bool) and decay > 0:
            lr = args.get("learning_rate", 0.001)
            items = [(k, v) for k, v in args.items() if k not in ("decay", "learning_rate")]
            schedule = {
                "InverseTimeDecay": {
                    "initial_learning_rate": lr,
                    "decay_steps": 1,
                    "decay_rate": decay,
                }
            }
            args.clear()
            args.update([("learning_rate", schedule), *items])
            self.source.alias((*apath, "learning_rate"), (*apath, "decay"))
            self.warn(
                (*apath, "decay"),
                "'decay' was removed in Keras 3; translated to the schedule it computed",
                f"`learning_rate: {{InverseTimeDecay: {{initial_learning_rate: {lr}, "
                f"decay_steps: 1, decay_rate: {decay}}}}}`",
            )

    def callback(self, name: str, args: dict[str, Any], path: SpecPath) -> None:
        for old, new in CALLBACK_ARG_RENAMES.get(name, {}).items():
            self.rename(args, path, old, new)
        for old in CALLBACK_ARGS_REMOVED.get(name, ()):
            if old in args:
                self.warn((*path, old), f"{old!r} was removed from {name} in Keras 3", "nothing")
                del args[old]
        if name != "ModelCheckpoint":
            return
        if "period" in args:
            self.rename(args, path, "period", CHECKPOINT_EVERY)
        filepath = args.get("filepath")
        last = filepath.replace("\\", "/").split("/")[-1] if isinstance(filepath, str) else ""
        if last not in ("", ".", ".."):  # a file name to complete, not a folder to refuse
            weights_only = args.get("save_weights_only") is True
            suffix = ".weights.h5" if weights_only else ".keras"
            if not filepath.endswith(suffix):
                fixed = filepath + suffix
                args["filepath"] = fixed
                self.warn(
                    (*path, "filepath"),
                    f"Keras 3 needs checkpoint paths ending in {suffix!r}; using {fixed!r}",
                    repr(fixed),
                )


def _yaml_scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_yaml_scalar(v) for v in value) + "]"
    return str(value)

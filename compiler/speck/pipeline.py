"""The pipeline in one place: load -> validate -> resolve -> check, for the commands to call.

`analyze` never raises on bad input: it returns every diagnostic of a file, which is what
`speck validate` prints. `resolve_file` is for the commands that go on to build, emit or train:
it raises `SpecError` when the spec has errors. Nothing here imports TensorFlow.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from speck.checks.training import NodeShape, check
from speck.diagnostics import Diagnostic, SpecError, has_errors
from speck.front.load import load_file
from speck.front.validate import sorted_diagnostics, validate
from speck.ir.resolve import ResolvedSpec, resolve
from speck.memory import collector_paused
from speck.search import Examined, Search, examine, find_spaces

if TYPE_CHECKING:
    from speck.front.overrides import Override


SPEC_SUFFIXES = (".yaml", ".yml", ".json")


def spec_files(paths: Sequence[str | Path]) -> list[Path]:
    """Files as given; a folder stands for the spec files directly in it, sorted."""
    out: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            out += sorted(p for p in path.iterdir() if p.suffix in SPEC_SUFFIXES and p.is_file())
        else:
            out.append(path)
    return out


@dataclass
class Analysis:
    file: str
    diagnostics: list[Diagnostic] = field(default_factory=list)
    resolved: ResolvedSpec | None = None
    shapes: dict[str, NodeShape] | None = None
    search: Search | None = None
    """The spec's search spaces, when it has some (`speck.search`); then `resolved` is the
    first candidate's, and `examined` says how many candidates were checked."""
    examined: Examined | None = None

    @property
    def ok(self) -> bool:
        return not has_errors(self.diagnostics)


def analyze(path: str | Path, overrides: Sequence[Override] = ()) -> Analysis:
    """Every problem of one spec file, from YAML syntax to shapes and training checks.
    `overrides` (`speck train --set`) change the loaded mapping before it is validated."""
    with collector_paused():  # the loaded spec all stays alive: 10,000 layers took 14x the
        return _analyze(path, overrides)  # time of 1,000 with the collector running, 8x paused


def _analyze(path: str | Path, overrides: Sequence[Override]) -> Analysis:
    analysis = Analysis(str(path))
    try:
        loaded = load_file(path)
        if overrides:
            from speck.front.overrides import apply_overrides

            apply_overrides(loaded.data, list(overrides))
        search = find_spaces(loaded)
        if search.spaces:
            return _analyze_search(analysis, search)
        resolved = resolve(validate(loaded))
    except SpecError as exc:
        analysis.diagnostics = sorted_diagnostics(exc.diagnostics)
        return analysis
    analysis.resolved = resolved
    shapes, problems = check(resolved)
    analysis.shapes = shapes
    analysis.diagnostics = sorted_diagnostics([*resolved.diagnostics, *problems])
    return analysis


def _analyze_search(analysis: Analysis, search: Search) -> Analysis:
    """A spec with search spaces: the corners of its space, each through the pipeline."""
    examined = examine(search)
    analysis.search, analysis.examined = search, examined
    analysis.resolved, analysis.shapes = examined.first, examined.shapes
    analysis.diagnostics = examined.diagnostics
    return analysis


def resolve_file(path: str | Path, overrides: Sequence[Override] = ()) -> ResolvedSpec:
    """The resolved spec, or `SpecError` with every problem when it has errors."""
    analysis = analyze(path, overrides)
    if not analysis.ok or analysis.resolved is None:
        raise SpecError(analysis.diagnostics)
    if analysis.search is not None:
        space = analysis.search.spaces[0]
        where = analysis.search.loaded.source.locate(space.path)
        message = "this is a search space: `speck tune` searches it; training needs a value"
        hint = f"run speck tune, or give it a value: --set {space.name}=..."
        raise SpecError([Diagnostic(message, space.path, where, suggestion=hint)])
    analysis.resolved.diagnostics = analysis.diagnostics
    return analysis.resolved

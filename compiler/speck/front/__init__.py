"""Front end: a spec file -> a typed, checked spec, with every problem at its line.

load (YAML/JSON with positions), legacy spellings, `--set` overrides, validate (the `format`
models, pydantic), search spaces, and the reverse: `write` (a spec as YAML), `json_schema`.
"""

"""Emit: the IR -> a standalone training program, the one `speck train` executes.

`program` writes the outline (Jinja2 `templates/`), `data` the body of `load_data()`, `tuner`
the search script, `render` every literal; `runtime/` holds the helpers programs copy.
"""

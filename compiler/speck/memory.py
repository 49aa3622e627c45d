"""The cycle collector, paused while speck makes large graphs of objects that all stay alive.

Importing pydantic or TensorFlow and loading a large spec allocate many objects, and every
full collection in between walks all of them again. Paused, the work is done once.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused(freeze: bool = False) -> Iterator[None]:
    """Pause the collector for the block. With `freeze`, what the block made (imported modules,
    which live as long as the process) is left out of later collections (`gc.freeze`);
    without, it is collected as usual when the collector resumes."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if freeze:
            gc.freeze()
        if enabled:
            gc.enable()

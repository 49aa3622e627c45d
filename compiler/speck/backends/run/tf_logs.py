"""TensorFlow's start-up log lines, kept out of speck's output unless the user asks for them.

`TF_CPP_MIN_LOG_LEVEL=2` holds back TensorFlow's informational C++ logging, but a few lines
(oneDNN's notice, the CUDA driver probe) are written before absl logging is initialised, where
no setting reaches them. `quiet_start_up` sets the level if the user has not, and while
TensorFlow loads keeps what is written to file descriptor 2, passing on all but those
informational lines. A user who set `TF_CPP_MIN_LOG_LEVEL` sees everything, as set.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from collections.abc import Iterator

LEVEL = "TF_CPP_MIN_LOG_LEVEL"

START_UP_LINE = re.compile(
    r"(WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|[IW]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [\w.]+:\d+\] )"
)
"""absl's informational (I) and warning (W) lines, and its banner before initialisation."""


def start_up_noise(line: str) -> bool:
    return START_UP_LINE.match(line) is not None


@contextlib.contextmanager
def quiet_start_up() -> Iterator[None]:
    """Around the first import of TensorFlow: hold back its start-up log lines (see above)."""
    if LEVEL in os.environ or "tensorflow" in sys.modules:
        yield
        return
    os.environ[LEVEL] = "2"
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no file descriptor 2 to redirect
        yield
        return
    with tempfile.TemporaryFile() as kept:
        os.dup2(kept.fileno(), 2)
        try:
            yield
        finally:
            with contextlib.suppress(OSError, ValueError):
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            kept.seek(0)
            text = kept.read().decode("utf-8", errors="replace")
            rest = [line for line in text.splitlines(keepends=True) if not start_up_noise(line)]
            if rest:
                sys.stderr.write("".join(rest))
                sys.stderr.flush()

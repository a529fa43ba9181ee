"""Native libraries that write on stderr themselves, past Python's logging and any variable that would turn
them off: LiteRT's C++ announces its XNNPACK delegate, TensorFlow's absl its oneDNN operations on import."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()  # one redirection at a time, or a second one would save and restore /dev/null


@contextmanager
def muted_stderr(mute: bool = True) -> Iterator[None]:
    """File descriptor 2 to /dev/null for the block (`mute`), where C and C++ code write directly. What
    other threads write to stderr meanwhile is lost too: keep the block short, at start-up."""
    if not mute:
        yield
        return
    with _lock:
        sys.stderr.flush()
        saved, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, 2)
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(null)

"""Ctrl-C taken at a safe point: after a training batch, after a frame is written.

A KeyboardInterrupt raised wherever the signal lands can hit TensorFlow mid-way through tracing a graph (there
it is swallowed, or turns into a SystemError), or `detect` between two outputs of one frame (its JSON Lines
record lost while later frames are written). So the first Ctrl-C only sets a flag that `check()` turns into
KeyboardInterrupt at the next safe point; a second one aborts at once.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)


class DeferredInterrupt:
    """Holds a first SIGINT until `check()` is called from a safe point."""

    def __init__(self, until: str) -> None:
        self.requested, self.until = False, until

    def _handle(self, signum, frame) -> None:
        self.requested = True
        signal.signal(signal.SIGINT, signal.default_int_handler)
        log.warning("stopping after this %s (Ctrl-C again to stop at once)", self.until)

    def check(self) -> None:
        if self.requested:
            raise KeyboardInterrupt

    def callback(self):
        """A Keras callback that calls `check()` after every training and validation batch."""
        import keras

        check = self.check

        class StopAtBatchEnd(keras.callbacks.Callback):
            def on_train_batch_end(self, batch, logs=None):
                check()

            def on_test_batch_end(self, batch, logs=None):
                check()

        return StopAtBatchEnd()


@contextmanager
def deferred_interrupt(until: str = "batch") -> Iterator[DeferredInterrupt]:
    """Install the deferring SIGINT handler for the block (main thread only; elsewhere Python never
    delivers signals, so there is nothing to defer) and put the previous one back after it. `until` names the
    safe point in the message a first Ctrl-C logs."""
    interrupt = DeferredInterrupt(until)
    if threading.current_thread() is not threading.main_thread():
        yield interrupt
        return
    previous = signal.signal(signal.SIGINT, interrupt._handle)
    try:
        yield interrupt
    finally:
        signal.signal(signal.SIGINT, previous)

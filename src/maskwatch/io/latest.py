"""The newest frame of a live source, read in a thread: a worker slower than its camera skips frames (and
counts them) instead of falling ever further behind the present."""

from __future__ import annotations

import threading
from collections.abc import Iterator

from maskwatch.core.frame import Frame
from maskwatch.io.sources import Source


class LatestFrame:
    """`get()` returns the newest frame not yet taken; frames replaced before being taken are `dropped`."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.dropped = 0
        self.ended = False  # the source gave up (its failures say why) or was closed
        self.error: BaseException | None = None
        self._frame: Frame | None = None
        self._ready = threading.Condition()
        self._thread = threading.Thread(target=self._read, name="maskwatch-grab", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        frames: Iterator[Frame] = iter(self.source)
        try:
            for frame in frames:
                with self._ready:
                    self.dropped += self._frame is not None
                    self._frame = frame
                    self._ready.notify()
        except Exception as error:  # handed to the reader, who raises it
            self.error = error
        finally:
            with self._ready:
                self.ended = True
                self._ready.notify()

    def get(self, timeout: float) -> Frame | None:
        """The newest frame, waiting up to `timeout` s for one; None if none came or the source ended."""
        with self._ready:
            self._ready.wait_for(lambda: self._frame is not None or self.ended, timeout)
            frame, self._frame = self._frame, None
            return frame

    def close(self) -> None:
        self.source.close()
        self._thread.join(timeout=15)

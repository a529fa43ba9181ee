"""Writing video that browsers play: H.264 in MP4, encoded by libx264 inside PyAV (a dependency already,
through `supervision`).

OpenCV's pip wheels write MPEG-4 Part 2 (`mp4v`), which no browser plays, and cannot write H.264; they do
write VP8/VP9 WebM, but at 15 fps for 1280x720 on one core. libx264's `superfast` preset encoded the same
frames at 92 fps (mp4v: 160 fps) into a file half the size of mp4v's (docs/video.md has the table).
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

CODEC = "libx264"
PRESET = "superfast"
CRF = "23"  # libx264's default quality


class VideoFileWriter:
    """RGB frames of one size into an H.264 MP4 (yuv420p, `faststart` so a browser can play it while it
    loads). H.264 in 4:2:0 needs even sides: an odd last row or column is repeated."""

    def __init__(self, path: str | Path, fps: float, size: tuple[int, int]) -> None:
        self.size = size
        width, height = size
        self._pad = (height % 2, width % 2)
        try:
            self._container = av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"})
        except (OSError, av.FFmpegError) as error:
            raise OSError(f"{path}: cannot write a video here ({error})") from error
        stream = self._container.add_stream(CODEC, rate=Fraction(fps).limit_denominator(1001))
        stream.width, stream.height = width + self._pad[1], height + self._pad[0]
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": PRESET, "crf": CRF}
        stream.codec_context.thread_count = 1  # one core for detection, whatever else runs
        self._stream = stream

    def write(self, image: np.ndarray) -> None:
        """One RGB frame; a frame of another size (a reconnected stream) is resized to the first one's."""
        if image.shape[1::-1] != self.size:
            image = cv2.resize(image, self.size)
        if any(self._pad):
            image = cv2.copyMakeBorder(image, 0, self._pad[0], 0, self._pad[1], cv2.BORDER_REPLICATE)
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
        for packet in self._stream.encode(frame):
            self._container.mux(packet)

    def close(self) -> None:
        """Flush the encoder and write the index: after this the file plays. Safe to call twice."""
        if self._container is None:
            return
        try:
            for packet in self._stream.encode():
                self._container.mux(packet)
        finally:
            self._container.close()
            self._container = None

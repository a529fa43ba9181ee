"""Which browser-playable video can this machine write, and how fast: the numbers behind `io/video.py`.

Encodes the same frames of a clip, side by side in one run, with OpenCV (mp4v, which browsers do not play,
and VP8 WebM) and with PyAV's libx264 at three presets, one thread each, and prints fps and size.

    python benchmarks/video_codecs.py ../shared/clips/woman_cuts_720p.mp4 --frames 120
"""

from __future__ import annotations

import argparse
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

FPS = 25


def read_frames(clip: Path, count: int) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(clip))
    frames = []
    while len(frames) < count and (read := capture.read())[0]:
        frames.append(read[1])
    capture.release()
    if not frames:
        raise SystemExit(f"{clip}: no readable frames")
    return frames


def with_opencv(frames: list[np.ndarray], path: Path, fourcc: str) -> None:
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), FPS, (width, height))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write {fourcc}")
    for frame in frames:
        writer.write(frame)
    writer.release()


def with_libx264(frames: list[np.ndarray], path: Path, preset: str) -> None:
    height, width = frames[0].shape[:2]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(FPS))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": preset, "crf": "23"}
        stream.codec_context.thread_count = 1
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="bgr24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("clip", type=Path)
    parser.add_argument("--frames", type=int, default=120)
    args = parser.parse_args()
    frames = read_frames(args.clip, args.frames)
    cases = [("OpenCV mp4v (MPEG-4 Part 2)", ".mp4", lambda f, p: with_opencv(f, p, "mp4v")),
             ("OpenCV VP8 WebM", ".webm", lambda f, p: with_opencv(f, p, "VP80"))]
    cases += [(f"PyAV libx264 {preset}", ".mp4", lambda f, p, preset=preset: with_libx264(f, p, preset))
              for preset in ("ultrafast", "superfast", "veryfast")]
    height, width = frames[0].shape[:2]
    print(f"{len(frames)} frames of {width}x{height} from {args.clip.name}")
    print("| writer | plays in browsers | fps | size |\n| --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as folder:
        for name, suffix, write in cases:
            path = Path(folder) / f"out{suffix}"
            start = time.perf_counter()
            write(frames, path)
            fps = len(frames) / (time.perf_counter() - start)
            plays = "no" if "mp4v" in name else "yes"
            print(f"| {name} | {plays} | {fps:.0f} | {path.stat().st_size / 1024:.0f} KB |")


if __name__ == "__main__":
    main()

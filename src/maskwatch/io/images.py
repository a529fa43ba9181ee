"""Reading images the same way everywhere: RGB uint8, whatever the file held (grey, RGBA, 16-bit, EXIF turn)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".jfif"})
VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv"})


class UnreadableImage(ValueError):
    """A file that is empty, corrupt or not an image."""


def decode_image(data: bytes | np.ndarray, name: str = "image") -> np.ndarray:
    """Encoded bytes to an RGB uint8 array. OpenCV's IMREAD_COLOR turns grey, RGBA and 16-bit into 8-bit colour."""
    buffer = np.frombuffer(data, np.uint8) if isinstance(data, bytes | bytearray) else data
    if buffer.size == 0:
        raise UnreadableImage(f"{name}: empty file")
    image = cv2.imdecode(buffer, cv2.IMREAD_COLOR)
    if image is None:
        raise UnreadableImage(f"{name}: not a readable image")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def read_image(path: str | Path) -> np.ndarray:
    """An image file as RGB uint8; raises UnreadableImage with a one-line reason."""
    try:
        data = np.fromfile(path, np.uint8)
    except OSError as error:
        raise UnreadableImage(f"{path}: {error.strerror or error}") from error
    return decode_image(data, str(path))


def write_image(path: str | Path, image: np.ndarray) -> None:
    """Write an RGB image atomically (encode in memory, then replace), format from the suffix."""
    from maskwatch.io.atomic import atomic_write_bytes

    ok, encoded = cv2.imencode(Path(path).suffix or ".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    if not ok:
        raise ValueError(f"{path}: cannot encode an image with this suffix")
    atomic_write_bytes(path, encoded.tobytes())


def iter_files(folder: Path, suffixes: frozenset[str]) -> Iterator[Path]:
    """Files below `folder` (recursively, sorted, hidden ones left out) whose suffix is in `suffixes`."""
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.suffix.lower() in suffixes and not path.name.startswith("."):
            yield path

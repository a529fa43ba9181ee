"""Reading images the same way everywhere: RGB uint8, whatever the file held (grey, RGBA, 16-bit, EXIF turn)."""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from maskwatch.core.errors import InvalidInput

# A few hundred KB of PNG can declare gigapixels, which OpenCV would decode into gigabytes (or refuse with an
# exception): the header is checked first. 64 MP covers phone and camera photos.
MAX_PIXELS = 64_000_000
# Pillow warns on stderr about images over its own limit; the check here is stricter and says it in one line.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".jfif"})
VIDEO_SUFFIXES = frozenset({".mp4", ".gif", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv"})


class UnreadableImage(InvalidInput):
    """A file that is empty, corrupt or not an image."""


class TooManyPixels(UnreadableImage):
    """An image whose header declares more than MAX_PIXELS."""


def check_pixels(buffer: np.ndarray, name: str) -> None:
    """Refuse an image of more than MAX_PIXELS by its header, before anything is decoded. A format Pillow
    does not know is left to OpenCV (which has a limit of its own, 2**30 pixels)."""
    try:
        with Image.open(io.BytesIO(buffer)) as header:
            width, height = header.size
    except Image.DecompressionBombError as error:
        raise TooManyPixels(f"{name}: more pixels than the limit of {MAX_PIXELS}") from error
    except (OSError, ValueError, SyntaxError):
        return
    if width * height > MAX_PIXELS:
        raise TooManyPixels(f"{name}: {width}x{height} pixels is more than the limit of {MAX_PIXELS}")


def decode_image(data: bytes | np.ndarray, name: str = "image") -> np.ndarray:
    """Encoded bytes to an RGB uint8 array. OpenCV's IMREAD_COLOR turns grey, RGBA and 16-bit into 8-bit colour."""
    buffer = np.frombuffer(data, np.uint8) if isinstance(data, bytes | bytearray) else data
    if buffer.size == 0:
        raise UnreadableImage(f"{name}: empty file")
    check_pixels(buffer, name)
    try:
        image = cv2.imdecode(buffer, cv2.IMREAD_COLOR)
    except cv2.error as error:
        raise UnreadableImage(f"{name}: not a readable image (OpenCV: {' '.join(error.err.split())})") from None
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
        raise InvalidInput(f"{path}: cannot encode an image with this suffix")
    atomic_write_bytes(path, encoded.tobytes())


def iter_files(folder: Path, suffixes: frozenset[str],
               unreadable: Callable[[str], None] | None = None) -> Iterator[Path]:
    """Files below `folder` (recursively, sorted, hidden ones left out) whose suffix is in `suffixes`.
    A folder that cannot be listed goes to `unreadable` as a one-line message, or raises without it:
    never skipped without a word, as `Path.rglob` would."""

    def failed(error: OSError) -> None:
        if unreadable is None:
            raise error
        unreadable(f"{error.filename}: cannot read this folder ({error.strerror})")

    found = []
    for parent, _, names in os.walk(folder, onerror=failed):
        for name in names:
            path = Path(parent, name)
            if path.suffix.lower() in suffixes and not name.startswith(".") and path.is_file():
                found.append(path)
    yield from sorted(found)

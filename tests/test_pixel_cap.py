"""Images whose header declares gigapixels: `detect` refuses each in one line, by the header, and goes on
with the rest of the folder, in bounded memory (as `serve` does, with the same check)."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import cv2
import pytest
from skimage import data

from maskwatch.io.images import MAX_PIXELS, UnreadableImage, decode_image

MEMORY_LIMIT_KB = 1024 * 1024  # /proc's VmHWM is in KiB


def bomb_png(path: Path, side: int) -> Path:
    """A valid black 1-bit PNG of side x side pixels, a few hundred KB however large: written row by row."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    compressor, row = zlib.compressobj(9), bytes(1 + (side + 7) // 8)  # filter byte, then 8 pixels a byte
    pixels = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0))
                     + chunk(b"IDAT", pixels) + chunk(b"IEND", b""))
    return path


def test_a_folder_with_pixel_bombs_refuses_them_and_processes_the_rest(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    # 10000 x 10000 is over the limit here but under Pillow's (which warns); 20000 and 40000 are over both
    large, big, huge = (bomb_png(folder / f"{name}.png", side) for name, side in
                        (("large", 10_000), ("big", 20_000), ("huge", 40_000)))
    assert huge.stat().st_size < 1_000_000
    cv2.imwrite(str(folder / "photo.jpg"), cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR))
    summary, stderr, peak = tmp_path / "summary.json", tmp_path / "stderr.txt", tmp_path / "peak_kb.txt"
    # The child's own peak (VmHWM, which starts again at exec), written as it exits: ru_maxrss would count
    # the pages it shared with this test process between fork and exec (GBs after the training tests).
    report_peak = (f"import atexit, re, sys; atexit.register(lambda: open({str(peak)!r}, 'w').write(re.search("
                   "r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read())[1])); "
                   "from maskwatch.commands import main; sys.exit(main(sys.argv[1:]))")
    with stderr.open("w") as errors:
        process = subprocess.run([sys.executable, "-c", report_peak, "detect", str(folder), "--summary",
                                  str(summary)], stdout=subprocess.DEVNULL, stderr=errors, timeout=300)
    lines = stderr.read_text().splitlines()
    assert process.returncode == 1, lines
    failed = [line for line in lines if line.startswith("failed: ")]
    assert failed == [f"failed: {big}: more pixels than the limit of {MAX_PIXELS}",
                      f"failed: {huge}: more pixels than the limit of {MAX_PIXELS}",
                      f"failed: {large}: 10000x10000 pixels is more than the limit of {MAX_PIXELS}"]
    assert "Traceback" not in stderr.read_text() and "Warning" not in stderr.read_text()
    result = json.loads(summary.read_text())
    assert result["images"] == 1 and result["faces"] == 1
    peak_kb = int(peak.read_text())
    assert peak_kb < MEMORY_LIMIT_KB, f"peak memory {peak_kb / 1024:.0f} MB"


def test_an_image_opencv_refuses_is_unreadable_not_a_crash() -> None:
    # Radiance HDR, a format Pillow does not know, declaring more pixels than OpenCV's own limit of 2**30
    header = b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 40000 +X 40000\n" + bytes(1000)
    with pytest.raises(UnreadableImage, match=r"^scan\.hdr: not a readable image \(OpenCV: .*\)$"):
        decode_image(header, "scan.hdr")

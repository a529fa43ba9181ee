"""`Frame`: one picture of a source, the unit that sources yield and every wing above them takes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass
class Frame:
    """One image to run detection on, with what the sinks need to name and time its results."""

    image: np.ndarray
    source: str
    index: int
    time: float
    relative: Path
    fps: float | None
    is_video: bool
    take: int = 0  # the pass over the source: a looped file counts its loops, and each begins a new picture

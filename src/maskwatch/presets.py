"""Detection presets: speed against small faces.

Cameras and streams usually show a few large faces (`fast`); photos of scenes hold many small ones, which
CenterFace finds far better on a 2x upscaled image (`accurate`). The values were chosen by measurement on
the mask-detect scenes (see README).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Preset:
    scale: float  # detector input scale: 2.0 upsamples so that 10-20 px faces become findable
    max_side: int  # cap on the detector input's long side, bounding the cost of big frames
    face_threshold: float


PRESETS = {
    "fast": Preset(scale=1.0, max_side=320, face_threshold=0.5),
    "accurate": Preset(scale=2.5, max_side=2048, face_threshold=0.3),
}

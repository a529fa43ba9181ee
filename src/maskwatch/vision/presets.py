"""Detection presets: speed against small faces.

Cameras and streams need every frame done in a few milliseconds, yet an entrance camera shows faces of
20-40 px (`fast`: a 480 px detector input on every 2nd frame, persons carried between, and the 88 px
classifier); photos of scenes hold many small faces, which CenterFace finds far better on an upscaled
image, and the 128 px classifier labels better (`accurate`). The values were chosen by measurement
(`benchmarks/live_preset.py`, `benchmarks/detector_settings.py`, `maskwatch bench`; see README).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Preset:
    scale: float  # detector input scale: 2.0 upsamples so that 10-20 px faces become findable
    max_side: int  # cap on the detector input's long side, bounding the cost of big frames
    face_threshold: float
    model: str  # the shipped classifier it uses (in maskwatch/models) unless --model says otherwise
    detect_every: int  # on video, run the detector on every Nth frame; the tracker carries faces between


PRESETS = {
    "fast": Preset(scale=1.0, max_side=480, face_threshold=0.3, model="mask_classifier_fast.tflite", detect_every=2),
    "accurate": Preset(scale=2.5, max_side=2048, face_threshold=0.3, model="mask_classifier.tflite", detect_every=2),
}

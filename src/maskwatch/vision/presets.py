"""Detection presets: speed against small faces.

Cameras and streams need every frame done in a few milliseconds, yet an entrance camera shows faces of
20-40 px (`fast`: a 480 px detector input on every 2nd frame, persons carried between, and the 88 px
classifier); photos of scenes hold many small faces, which CenterFace finds far better on an upscaled
image, and the 128 px classifier labels better (`accurate`). The values were chosen by measurement
(docs/decisions/2026-11-fast-preset.md, `maskwatch bench`; docs/results.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

LARGE_FRAME = 1280 * 720  # pixels from which `accurate` detects on fewer frames (see detect_every_for)
INCORRECT_MODEL = "incorrect"  # `--model incorrect`: the opt-in three-class model (masks worn wrong; MODEL_CARD.md)


@dataclass(frozen=True)
class Preset:
    scale: float  # detector input scale: 2.0 upsamples so that 10-20 px faces become findable
    max_side: int  # cap on the detector input's long side, bounding the cost of big frames
    face_threshold: float
    model: str  # the shipped classifier it uses (in maskwatch/models) unless --model says otherwise
    detect_every: int  # on video, run the detector on every Nth frame; the tracker carries faces between
    detect_every_large: int  # the same on frames of LARGE_FRAME pixels or more
    incorrect_model: str  # the three-class classifier that `--model incorrect` selects with this preset
    coarse_side: int | None = None  # a second detector pass on the picture at most this long, for large faces
    # the face score from which faces are kept when the classifier can say not_a_face: what a lower threshold
    # lets in (hands, hair, the backs of heads) is then judged unknown, not masked
    reject_face_threshold: float | None = None


PRESETS = {
    "fast": Preset(scale=1.0, max_side=480, face_threshold=0.3, model="mask_classifier_fast.tflite", detect_every=2,
                   detect_every_large=2,
                   incorrect_model="mask_classifier_incorrect_fast.tflite"),
    "accurate": Preset(scale=2.5, max_side=2048, face_threshold=0.3, model="mask_classifier.tflite", detect_every=2,
                       detect_every_large=8,
                       incorrect_model="mask_classifier_incorrect.tflite", coarse_side=320,
                       reject_face_threshold=0.15),
}


def preset_for(live: bool) -> str:
    """The preset a run takes unless told: `fast` for cameras and streams, `accurate` for files and folders."""
    return "fast" if live else "accurate"


def detect_every_for(preset: Preset, height: int, width: int) -> int:
    """Detection every Nth frame of a video of this size. `accurate` caps its detector input at 2048 px, so
    from 1280x720 on one detection costs about 120 ms (2 cores) and every 2nd frame runs at 10-15 fps;
    detection on every 8th keeps 97-100% of the faces of 720p bench and clip workloads at 27-44 fps
    (`maskwatch bench`, docs/results-2026-12-05.md "Speed"). `fast` detects on a 480 px input: cheap at any size."""
    return preset.detect_every_large if height * width >= LARGE_FRAME else preset.detect_every


def detection_schedule(every: int | None, preset: Preset) -> str:
    """How often faces are detected on video, in words (for logs)."""
    if every:
        return "every frame" if every == 1 else f"1 frame in {every}"
    if preset.detect_every_large == preset.detect_every:
        return f"1 frame in {preset.detect_every}"
    return f"1 frame in {preset.detect_every} (1 in {preset.detect_every_large} from 1280x720 on)"


def classifier_path(model: str | Path | None, preset: str) -> Path:
    """The classifier file to load: `model` as given, the preset's shipped model when it is None, or the
    preset's version of a shipped model named by `model` (`incorrect`)."""
    from maskwatch.vision.classifier import default_model_path

    if model is None:
        return default_model_path(PRESETS[preset].model)
    if str(model) == INCORRECT_MODEL:
        return default_model_path(PRESETS[preset].incorrect_model)
    return Path(model)

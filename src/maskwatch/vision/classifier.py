"""Mask classification at run time with LiteRT (or OpenVINO in bfloat16 where measured faster, `vision/runtimes.py`):
no TensorFlow import, a few ms a face on a CPU core.

A model is a `.tflite` file plus the `labels.json` beside it (class names in output order). The shipped
default lives in the package; `maskwatch train` writes both files for a model of your own.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import lru_cache
from importlib.resources import files
from pathlib import Path

import numpy as np

from maskwatch.core.errors import InvalidInput
from maskwatch.core.faces import Face
from maskwatch.vision.crops import face_crop
from maskwatch.vision.native_stderr import muted_stderr
from maskwatch.vision.runtimes import Choice, OpenVinoModel, choose, read_openvino

log = logging.getLogger(__name__)
MAX_BATCH = 16  # more faces than this in one frame are classified in several batches


DEFAULT_MODEL = "mask_classifier.tflite"
_first_allocation = threading.Lock()
_allocated = False  # in this process: LiteRT's XNNPACK line comes with the first allocation only


def _allocate(interpreter) -> None:
    """allocate_tensors. The first in a process makes LiteRT's C++ print "INFO: Created TensorFlow Lite
    XNNPACK delegate for CPU." on stderr (no option or variable turns it off), even where the classifier will
    run on OpenVINO (LiteRT reads the model's shape and is timed against it): it shows only with -v."""
    global _allocated
    with _first_allocation:
        first, _allocated = not _allocated, True
        with muted_stderr(first and not log.isEnabledFor(logging.DEBUG)):
            interpreter.allocate_tensors()


def default_model_path(name: str = DEFAULT_MODEL) -> Path:
    """A model shipped in the package (see MODEL_CARD.md): `mask_classifier.tflite` for photos, or
    `mask_classifier_fast.tflite`, smaller and faster, for live video."""
    return Path(str(files("maskwatch") / "models" / name))


@dataclass(frozen=True)
class Labels:
    """A model's classes in output order, and operating points: a class with a threshold is said exactly where
    its probability reaches it, above the argmax where a class must be sure (a mask worn wrong, whose precision
    is low on faces unlike its training set: `benchmarks/third_class_point.py`) or below it where a rare class
    is ranked well but seldom first."""

    names: list[str]
    thresholds: dict[str, float] = field(default_factory=dict)

    def decide(self, probs: np.ndarray) -> np.ndarray:
        """The class index for each row of probabilities (N x classes): the most probable class that has a
        threshold and reaches it, else the most probable of the classes without one."""
        probs = np.atleast_2d(probs)
        gated = np.array([name in self.thresholds for name in self.names])
        if not gated.any():
            return probs.argmax(1)
        limits = np.array([self.thresholds.get(name, np.inf) for name in self.names])
        passing = np.where(gated & (probs >= limits), probs, -1.0)
        rest = np.where(gated, -1.0, probs)
        return np.where(passing.max(1) >= 0, passing.argmax(1), rest.argmax(1))


def read_labels(model_path: Path) -> Labels:
    """Class names (and operating points) from labels.json beside the model (or MODEL.labels.json): a JSON
    list of names, or {"labels": [...], "thresholds": {"name": p, ...}}."""
    for candidate in (model_path.with_suffix(".labels.json"), model_path.parent / "labels.json"):
        if candidate.is_file():
            data = json.loads(candidate.read_text())
            named = isinstance(data, dict)
            names, thresholds = (data.get("labels"), data.get("thresholds", {})) if named else (data, {})
            if (isinstance(names, list) and len(names) >= 2 and all(isinstance(x, str) for x in names)
                    and isinstance(thresholds, dict) and set(thresholds) <= set(names)
                    and all(isinstance(v, int | float) and 0 <= v <= 1 for v in thresholds.values())):
                return Labels(names, {k: float(v) for k, v in thresholds.items()})
            raise InvalidInput(f"{candidate}: expected a JSON list of at least 2 class names, or {{\"labels\": [...], "
                             f"\"thresholds\": {{name: probability}}}}")
    raise FileNotFoundError(f"no labels.json beside {model_path}")


def trained_when(model_path: Path) -> str:
    """When a model was trained: its labels.json's "trained" (what `train --from-store` writes), else the
    model file's own time."""
    for candidate in (model_path.with_suffix(".labels.json"), model_path.parent / "labels.json"):
        with suppress(OSError, ValueError, KeyError, TypeError):
            return str(json.loads(candidate.read_text())["trained"])
    return datetime.fromtimestamp(model_path.stat().st_mtime).astimezone().isoformat(timespec="seconds")


@lru_cache(maxsize=8)
def runtime_choice(path: str) -> Choice:
    """Where a classifier runs on this machine (`runtimes.choose`): LiteRT or OpenVINO in bfloat16, timed on a
    batch of 4 faces, as a frame of a small crowd brings them."""
    def timers() -> dict:
        runs = {runtime: MaskClassifier(path, runtime=runtime) for runtime in ("litert", "openvino")}
        size = runs["litert"].image_size
        crops = np.random.default_rng(0).integers(0, 256, (4, size, size, 3), np.uint8)
        return {runtime: (lambda c=classifier: c.predict(crops)) for runtime, classifier in runs.items()}

    return choose(Path(path), "litert", timers)


class MaskClassifier:
    """Runs a LiteRT classifier on batches of face crops."""

    def __init__(self, model_path: str | Path | None = None, threads: int | None = None, runtime: str | None = None):
        """`runtime`: "litert" or "openvino" (bfloat16); by default OpenVINO where the CPU computes in bfloat16."""
        self.path = Path(model_path) if model_path else default_model_path()
        if not self.path.is_file():
            raise FileNotFoundError(f"model not found: {self.path}")
        self.operating = read_labels(self.path)
        self.labels = self.operating.names
        self._threads = threads or os.cpu_count() or 1
        self._interpreters: dict[int, object] = {}
        self._compiled: dict[int, OpenVinoModel] = {}
        self.image_size = int(self._interpreter(1).get_input_details()[0]["shape"][1])
        outputs = int(self._interpreter(1).get_output_details()[0]["shape"][-1])
        if outputs != len(self.labels):
            raise InvalidInput(f"{self.path}: labels.json names {len(self.labels)} classes, but the model has "
                             f"{outputs} outputs (is it the labels.json of another model?)")
        if runtime not in (None, "litert", "openvino"):
            raise InvalidInput(f"runtime must be litert or openvino, got {runtime!r}")
        self.choice = Choice(runtime, "asked for") if runtime else runtime_choice(str(self.path.resolve()))
        self.runtime = self.choice.runtime
        log.info("mask classifier %s (%s, %dpx) on %s: %s", self.path, ", ".join(self.labels), self.image_size,
                 "OpenVINO" if self.runtime == "openvino" else "LiteRT", self.choice.why)

    def _interpreter(self, batch: int):
        """One interpreter per batch size: resizing one interpreter re-plans its memory on every change,
        which costs more than the inference when the number of faces varies from frame to frame."""
        if batch not in self._interpreters:
            from ai_edge_litert.interpreter import Interpreter

            try:
                interpreter = Interpreter(model_path=str(self.path), num_threads=self._threads)
            except (ValueError, RuntimeError) as error:
                raise InvalidInput(f"{self.path}: not a LiteRT model ({error})") from error
            shape = interpreter.get_input_details()[0]["shape"]
            interpreter.resize_tensor_input(interpreter.get_input_details()[0]["index"], [batch, *shape[1:]])
            _allocate(interpreter)
            self._interpreters[batch] = interpreter
        return self._interpreters[batch]

    def _openvino(self, batch: int) -> OpenVinoModel:
        """One compiled model per batch size too: one compiled for any batch size re-plans at each change
        (1.20 ms a face against 0.94 on crowd-like batches of 1-5)."""
        if batch not in self._compiled:
            model = read_openvino(self.path)
            model.reshape({model.inputs[0]: [batch, self.image_size, self.image_size, 3]})
            # One thread, whatever `threads` says: OpenVINO's two-thread kernels round the fast model differently
            # (up to 5e-4), and `detect --ray` and watch's workers, one thread each, must label as `detect` does.
            # A thread costs little here (0.5-1 ms a face either way, batches of 3-8).
            self._compiled[batch] = OpenVinoModel(model, 1)
        return self._compiled[batch]

    def predict(self, crops: np.ndarray) -> np.ndarray:
        """Class probabilities (N x classes) for N RGB uint8 crops of image_size x image_size."""
        if len(crops) > MAX_BATCH:
            return np.concatenate([self.predict(crops[i:i + MAX_BATCH]) for i in range(0, len(crops), MAX_BATCH)])
        if len(crops) == 0:
            return np.zeros((0, len(self.labels)), np.float32)
        if self.runtime == "openvino":
            return self._openvino(len(crops))(np.asarray(crops, np.float32))[0].copy()
        interpreter = self._interpreter(len(crops))
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], np.asarray(crops, np.float32))
        interpreter.invoke()
        return interpreter.get_tensor(interpreter.get_output_details()[0]["index"]).copy()

    def classify(self, image: np.ndarray, faces: Sequence[Face]) -> list[Face]:
        """The faces of one image with label, confidence and probabilities filled in (one batch)."""
        crops = np.stack([face_crop(image, f.box, self.image_size) for f in faces]) if faces else np.zeros(0)
        return [self.labelled(face, p) for face, p in zip(faces, self.predict(crops), strict=True)]

    def labelled(self, face: Face, probs: np.ndarray) -> Face:
        """The face with the label, confidence and probabilities these class probabilities give."""
        best = int(self.operating.decide(probs)[0])
        return replace(face, label=self.labels[best], confidence=float(probs[best]),
                       probs=dict(zip(self.labels, map(float, probs), strict=True)))

"""Shared fixtures: real photos from scikit-image, and the shared datasets when they are present."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest
import skimage.data

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "datasets"
needs_shared = pytest.mark.skipif(not (SHARED / "mask-classify").is_dir(),
                                  reason=f"shared datasets not found at {SHARED}")


def masked(face: np.ndarray) -> np.ndarray:
    """The face with a light-blue surgical-style mask drawn over nose, mouth and chin."""
    out = face.copy()
    h, w = out.shape[:2]
    pts = np.array([[0.18 * w, 0.55 * h], [0.82 * w, 0.55 * h], [0.75 * w, 0.92 * h], [0.25 * w, 0.92 * h]],
                   np.int32)
    cv2.fillPoly(out, [pts], (170, 205, 230))
    return out


@pytest.fixture(scope="session")
def astronaut_face() -> np.ndarray:
    """Eileen Collins' face from skimage's astronaut photo, as a tight RGB crop."""
    return np.ascontiguousarray(skimage.data.astronaut()[20:150, 135:235])


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory, astronaut_face) -> Path:
    """20 + 20 jittered face crops, with and without a drawn mask: enough to run training end to end."""
    root = tmp_path_factory.mktemp("tiny")
    rng = np.random.default_rng(0)
    for label in ("with_mask", "without_mask"):
        (root / label).mkdir()
        for i in range(20):
            face = np.clip(astronaut_face * rng.uniform(0.7, 1.3), 0, 255).astype(np.uint8)
            dx, dy = rng.integers(0, 12, 2)
            face = face[dy:dy + 110, dx:dx + 85]
            if i % 2:
                face = face[:, ::-1]
            image = masked(face) if label == "with_mask" else face
            cv2.imwrite(str(root / label / f"{i:02d}.jpg"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    return root

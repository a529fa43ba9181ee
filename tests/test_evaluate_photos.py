"""`maskwatch evaluate DATA_DIR --photos`: photos of one person each, as a new user first tries maskwatch."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
from skimage import data

from maskwatch.commands import main


def _photo(path: Path, scale: float, crop: tuple[int, int, int, int]) -> None:
    y0, y1, x0, x1 = crop
    image = cv2.resize(data.astronaut(), None, fx=scale, fy=scale)[y0:y1, x0:x1]
    cv2.imwrite(str(path), cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2BGR))


def test_photos_are_scored_by_their_largest_face(tmp_path: Path, capsys) -> None:
    (tmp_path / "without_mask").mkdir()  # one class folder is enough: photos of bare faces only
    _photo(tmp_path / "without_mask" / "selfie.jpg", 4.0, (100, 800, 560, 1220))  # the face fills the photo
    _photo(tmp_path / "without_mask" / "portrait.jpg", 1.0, (0, 512, 0, 512))
    _photo(tmp_path / "without_mask" / "small.jpg", 0.5, (0, 256, 0, 256))  # under --min-side
    assert main(["evaluate", str(tmp_path), "--photos", "--min-side", "400", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["photos"] == 2 and result["face_found"] == 1.0 and result["largest_right"] == 1.0
    assert result["photos_with_boxes_inside_the_face"] == 0
    assert result["per_class"] == {"without_mask": {"photos": 2, "found": 2, "right": 2, "unknown": 0}}
    assert main(["evaluate", str(tmp_path), "--photos"]) == 0
    assert "3 photos" in capsys.readouterr().out
    assert main(["evaluate", "--scenes", str(tmp_path), "--photos"]) == 2
    assert "--photos and --min-side go with DATA_DIR" in capsys.readouterr().err

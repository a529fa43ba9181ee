"""`maskwatch evaluate --errors SHEET`: the misclassified faces drawn on one contact sheet, and listed."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from maskwatch.commands import main

from .conftest import masked


@pytest.fixture
def mislabelled(tmp_path: Path, astronaut_face: np.ndarray) -> Path:
    """A folder set in which two bare faces were filed under with_mask by mistake."""
    faces = {"with_mask": [masked(astronaut_face), masked(astronaut_face[:, ::-1]), astronaut_face,
                           astronaut_face[:, ::-1]],
             "without_mask": [astronaut_face, astronaut_face[:, ::-1]]}
    for label, images in faces.items():
        (tmp_path / "data" / label).mkdir(parents=True)
        for i, image in enumerate(images):
            cv2.imwrite(str(tmp_path / "data" / label / f"{i}.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    return tmp_path / "data"


def test_the_mistakes_are_drawn_and_listed(mislabelled: Path, tmp_path: Path, capsys) -> None:
    sheet = tmp_path / "out" / "errors.jpg"
    assert main(["evaluate", str(mislabelled), "--errors", str(sheet), "--json"]) == 0
    errors = json.loads(capsys.readouterr().out)["errors"]
    wrong = {(e["name"], e["truth"], e["predicted"]) for e in errors["listed"]}
    assert {("2.png", "with_mask", "without_mask"), ("3.png", "with_mask", "without_mask")} <= wrong
    assert errors["mistakes"] == errors["shown"] == len(errors["listed"])
    image = cv2.imread(str(sheet))
    assert image is not None and image.shape[1] == 10 * 128 and image.shape[0] % (128 + 30) == 0
    assert not [p for p in sheet.parent.iterdir() if p != sheet]  # no temporary file left beside it
    assert main(["evaluate", str(mislabelled), "--errors", str(tmp_path / "e.png")]) == 0
    assert "mistakes," in capsys.readouterr().out


@pytest.mark.parametrize(("end_to_end", "sheet", "message"), [
    (True, "errors.jpg", "--errors needs DATA_DIR or --scenes with --gt-crops"),
    (False, "errors.txt", "give a .jpg or .png file"),
])
def test_errors_refuses_end_to_end_and_formats_that_are_not_images(mislabelled: Path, tmp_path: Path, capsys,
                                                                    end_to_end, sheet, message) -> None:
    where = ["--scenes", str(tmp_path)] if end_to_end else [str(mislabelled)]
    assert main(["evaluate", *where, "--errors", str(tmp_path / sheet)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
    assert not (tmp_path / sheet).exists()

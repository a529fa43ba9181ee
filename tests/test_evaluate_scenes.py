"""`maskwatch evaluate --scenes` end to end on a scene written here: AP as before, plus the unknown rate."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
from skimage import data

from maskwatch.commands import main

XML = """<annotation><filename>{name}</filename><object><name>without_mask</name>
<bndbox><xmin>{x1}</xmin><ymin>{y1}</ymin><xmax>{x2}</xmax><ymax>{y2}</ymax></bndbox></object></annotation>"""


def test_scene_evaluation_reports_map_and_the_unknown_rate(tmp_path: Path, capsys) -> None:
    (tmp_path / "images").mkdir()
    (tmp_path / "annotations").mkdir()
    for name, size in (("big", 512), ("small", 96)):  # her face is ~95 px, then ~18 px wide
        photo = cv2.resize(data.astronaut(), (size, size), interpolation=cv2.INTER_AREA)
        cv2.imwrite(str(tmp_path / "images" / f"{name}.jpg"), cv2.cvtColor(photo, cv2.COLOR_RGB2BGR))
        f = size / 512
        box = dict(x1=round(178 * f), y1=round(60 * f), x2=round(272 * f), y2=round(178 * f))
        (tmp_path / "annotations" / f"{name}.xml").write_text(XML.format(name=f"{name}.jpg", **box))
    assert main(["evaluate", "--scenes", str(tmp_path), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["scenes"] == 2
    assert result["incorrect_ignored"]["face_recall"] == 1.0
    assert result["incorrect_ignored"]["per_class"]["without_mask"]["ap50"] == 1.0
    assert 0 <= result["unknown_rate"] <= 0.5  # the 18 px face may be judged or not: the big one is
    assert result["unknown_rate_48px_and_up"] == 0.0
    assert main(["evaluate", "--scenes", str(tmp_path)]) == 0
    assert "faces judged unknown" in capsys.readouterr().out

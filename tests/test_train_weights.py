"""`train --balance-sources`: within a class, each source weighs alike (a few real faces against many
synthetic ones), and classes still weigh alike."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
from skimage import data

from maskwatch.commands import main
from maskwatch.training.train import class_weights, source_balanced_weights

XML = """<annotation><filename>{name}</filename><object><name>{label}</name>
<bndbox><xmin>178</xmin><ymin>60</ymin><xmax>272</xmax><ymax>178</ymax></bndbox></object></annotation>"""


def test_each_source_of_a_class_weighs_alike_and_classes_weigh_alike() -> None:
    labels = np.array([0] * 90 + [0] * 10 + [1] * 40 + [2] * 5)
    origins = np.array(["synthetic"] * 90 + ["scenes"] * 10 + ["folder"] * 40 + ["folder"] * 5)
    weights = source_balanced_weights(labels, origins, 3)
    assert np.isclose(weights[:90].sum(), weights[90:100].sum())  # 10 real faces count as much as 90 synthetic
    totals = [weights[labels == c].sum() for c in range(3)]
    assert np.allclose(totals, totals[0])
    plain = class_weights(labels, 3)  # one source per class: the same as class weights
    assert np.allclose(weights[100:], [plain[int(c)] for c in labels[100:]])


def test_training_with_balanced_sources_runs_end_to_end(tiny_dataset: Path, tmp_path: Path) -> None:
    scenes = tmp_path / "scenes"
    (scenes / "images").mkdir(parents=True)
    (scenes / "annotations").mkdir()
    photo = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    for i in range(6):
        name = f"s{i}.jpg"
        cv2.imwrite(str(scenes / "images" / name), np.roll(photo, 3 * i, axis=0))
        (scenes / "annotations" / f"s{i}.xml").write_text(XML.format(name=name, label="without_mask"))
    out = tmp_path / "run"
    assert main(["-q", "train", str(tiny_dataset), "--scenes", str(scenes), "--balance-sources", "--out", str(out),
                 "--epochs", "1", "--fine-tune-epochs", "0", "--image-size", "96", "--blocks", "13",
                 "--batch-size", "8"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["config"]["balance_sources"] is True
    assert report["sources"][str(scenes)]["without_mask"] >= 1

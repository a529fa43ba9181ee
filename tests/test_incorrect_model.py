"""`--model incorrect`: the opt-in three-class model, selected by name in detect, evaluate, serve and watch,
in the preset's version (the 88 px one with `fast`)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest
from skimage import data

from maskwatch.commands import main
from maskwatch.core.classes import INCORRECT, WITH_MASK, WITHOUT_MASK
from maskwatch.monitor.config import ConfigError, load
from maskwatch.vision.pipeline import MaskDetector
from maskwatch.web.serve import factory_for
from tests.conftest import SHARED, needs_shared

THREE = {INCORRECT, WITH_MASK, WITHOUT_MASK}


@pytest.mark.parametrize(("preset", "file"), [("accurate", "mask_classifier_incorrect.tflite"),
                                              ("fast", "mask_classifier_incorrect_fast.tflite")])
def test_detect_with_the_three_class_model(preset: str, file: str, tmp_path: Path,
                                           caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO")
    out = tmp_path / "faces.jsonl"
    assert main(["detect", "sample:astronaut", "--preset", preset, "--model", "incorrect", "--json", str(out)]) == 0
    [record] = [json.loads(line) for line in out.read_text().splitlines()]
    [face] = record["faces"]
    assert set(face["probs"]) == THREE and face["label"] == WITHOUT_MASK  # her face is bare
    assert file in caplog.text  # the log says which file was loaded


def test_evaluate_serve_and_watch_take_it_by_name(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    face = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)[30:230, 150:300]
    for label in sorted(THREE):  # a set with the classes the model names
        (tmp_path / "set" / label).mkdir(parents=True)
        cv2.imwrite(str(tmp_path / "set" / label / "astronaut.jpg"), face)
    assert main(["evaluate", str(tmp_path / "set"), "--model", "incorrect", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["model"].endswith("mask_classifier_incorrect.tflite") and report["n"] == 3
    assert set(factory_for("fast", "incorrect")(1).classifier.labels) == THREE
    config = tmp_path / "site.toml"
    config.write_text('store = "e.db"\nmodel = "incorrect"\n[[camera]]\nname = "door"\nsource = "0"\n')
    assert set(MaskDetector("fast", load(config).model).classifier.labels) == THREE
    config.write_text('store = "e.db"\nmodel = "incorect"\n[[camera]]\nname = "door"\nsource = "0"\n')
    with pytest.raises(ConfigError, match="'model': no such file"):
        load(config)


def test_a_misspelled_model_name_is_a_one_line_error(capsys: pytest.CaptureFixture) -> None:
    assert main(["detect", "sample:astronaut", "--model", "incorect"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "model not found: incorect" in err


@needs_shared
def test_it_tells_a_mask_worn_wrong_from_one_worn_right() -> None:
    """A sanity check on crops of the synthetic set (most of them were in its training split)."""
    detector = MaskDetector("accurate", "incorrect")
    for label in (INCORRECT, WITH_MASK):
        paths = sorted((SHARED / "mask-incorrect" / label).glob("*.jpg"))[:20]
        crops = [cv2.resize(cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB), (128, 128)) for p in paths]
        labels = [detector.classifier.labels[i] for i in detector.classifier.predict(crops).argmax(1)]
        assert labels.count(label) >= 16, (label, labels)

"""A labels.json that does not match the model's outputs is a clear one-line error, not a wrong answer."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import maskwatch.commands
from maskwatch.vision.classifier import MaskClassifier, default_model_path


def test_labels_that_do_not_match_the_outputs_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    model = tmp_path / "model.tflite"
    shutil.copy(default_model_path("mask_classifier_fast.tflite"), model)
    (tmp_path / "labels.json").write_text(json.dumps(["with_mask", "without_mask"]))
    with pytest.raises(ValueError, match=r"labels\.json names 2 classes, but the model has 3 outputs"):
        MaskClassifier(model)
    assert maskwatch.commands.main(["detect", "sample:astronaut", "--model", str(model)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "names 2 classes, but the model has 3 outputs" in err[0]

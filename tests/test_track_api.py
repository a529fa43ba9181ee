"""`maskwatch.track` and `to_detections`, the Python API for video: the README's example runs as written, and
the records are those of `maskwatch detect --json` on the same file."""

from __future__ import annotations

import io
import json
import re
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np
import pytest
import supervision as sv

import maskwatch
from maskwatch.commands import main
from maskwatch.core.classes import STATES
from maskwatch.core.errors import InvalidInput
from maskwatch.io.sources import SourceError
from tests.services import door_clip

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.fixture(scope="module")
def entrance(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return door_clip(tmp_path_factory.mktemp("clip") / "entrance.mp4", seconds_in=2.0, seconds_out=1.5)


def test_the_readme_example_runs_and_prints_the_events(entrance: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = README.read_text(encoding="utf-8")
    example = re.search(r"```python\n(import maskwatch\n.*?)```", text, re.S).group(1)
    monkeypatch.chdir(entrance.parent)
    printed = io.StringIO()
    with redirect_stdout(printed):
        exec(compile(example, "README.md", "exec"), {})
    lines = [line.split() for line in printed.getvalue().splitlines()]
    assert [(kind, person) for _, kind, person, _ in lines] == [("person_appeared", "1"), ("person_left", "1")]
    assert lines[0][3] == "without_mask"


def test_track_gives_the_records_of_detect_json(entrance: Path, tmp_path: Path) -> None:
    steps = list(maskwatch.track(entrance))
    assert main(["-q", "detect", str(entrance), "--json", str(tmp_path / "faces.jsonl")]) == 0
    written = [json.loads(line) for line in (tmp_path / "faces.jsonl").read_text().splitlines()]
    ours = [step.to_json() for step in steps]
    for record in (*written, *ours):  # wall-clock times of the events differ between the two runs
        for event in record["events"]:
            event.pop("wall_time")
    assert ours == written
    with_person = next(step for step in steps if step.persons)
    (person, face), = with_person.persons.items()
    assert person == 1 and face.state in STATES


def test_faces_and_frames_become_supervision_detections(entrance: Path) -> None:
    step = next(s for s in maskwatch.track(entrance) if s.persons)
    detections = step.to_detections()
    assert isinstance(detections, sv.Detections) and len(detections) == len(step.faces)
    assert list(detections.tracker_id) == [f.person if f.person is not None else -1 for f in step.faces]
    assert list(detections.data["state"]) == [f.state for f in step.faces]
    assert [STATES[i] for i in detections.class_id] == [f.state for f in step.faces]
    assert np.allclose(detections.xyxy, [f.box for f in step.faces])
    faces = maskwatch.MaskDetector()(step.frame.image)  # a single image: no person ids
    still = maskwatch.to_detections(faces)
    assert list(still.tracker_id) == [-1] * len(faces) and len(maskwatch.to_detections([])) == 0


def test_a_source_that_cannot_be_read_raises(tmp_path: Path) -> None:
    """A 0-byte or corrupt video and a stream nobody answers raise SourceError instead of giving no steps."""
    empty, corrupt = tmp_path / "empty.mp4", tmp_path / "corrupt.mp4"
    empty.write_bytes(b"")
    corrupt.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8)
    for source in (empty, corrupt, "rtsp://127.0.0.1:9/none"):
        with pytest.raises(SourceError, match=re.escape(str(source).rsplit("/", 1)[-1])):
            list(maskwatch.track(source))
    with pytest.raises(SourceError, match="an empty SOURCE"):
        list(maskwatch.track(""))


def test_a_wrong_preset_is_a_one_line_error_not_a_key_error() -> None:
    with pytest.raises(InvalidInput, match="preset 'bogus': use one of accurate, fast"):
        maskwatch.MaskDetector("bogus")


def test_no_faces_still_filter_as_the_readme_does() -> None:
    """`detections[detections.data["state"] == "without_mask"]` works on a frame without faces too."""
    detections = maskwatch.to_detections([])
    assert len(detections) == 0 and list(detections.tracker_id) == [] and detections.xyxy.shape == (0, 4)
    assert len(detections[detections.data["state"] == "without_mask"]) == 0


def test_an_image_is_rgb_pixels_or_a_path(entrance: Path, tmp_path: Path) -> None:
    from maskwatch.io.images import read_image, write_image

    step = next(s for s in maskwatch.track(entrance) if s.persons)
    write_image(tmp_path / "frame.png", step.frame.image)
    detector = maskwatch.MaskDetector()
    by_path = detector(str(tmp_path / "frame.png"))
    assert [f.box for f in by_path] == [f.box for f in detector(tmp_path / "frame.png")]
    pixels = detector(read_image(tmp_path / "frame.png"))
    assert by_path and [(f.box, f.state) for f in by_path] == [(f.box, f.state) for f in pixels]

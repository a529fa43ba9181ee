"""Per-camera model, detector and thresholds in a `watch` config: checked by `--check`, and used by the
camera's worker (its real loop over a file, recording in a real store)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

import maskwatch.commands
from maskwatch.monitor.config import load
from maskwatch.monitor.worker import WorkerSettings, watch_camera
from maskwatch.store import EventStore
from tests.services import door_clip

CAMERAS = """
store = "events.db"
[[camera]]
name = "door"
source = "door.mp4"
[[camera]]
name = "hall"
source = "door.mp4"
model = "incorrect"
detector = "centerface"
face_threshold = 0.5
min_face_px = 400
"""


def test_each_camera_takes_its_own_model_detector_and_thresholds(tmp_path: Path) -> None:
    door_clip(tmp_path / "door.mp4")
    (tmp_path / "site.toml").write_text(CAMERAS)
    door, hall = load(tmp_path / "site.toml").cameras
    assert (door.model, door.detector, door.face_threshold, door.min_face_px) == (None, "maskwatch", None, 16.0)
    assert (str(hall.model), hall.detector, hall.face_threshold, hall.min_face_px) == ("incorrect", "centerface",
                                                                                        0.5, 400.0)


@pytest.mark.parametrize(("lines", "problem"), [
    ('detector = "retina"', "'detector' must be maskwatch, centerface or a .onnx file, got 'retina'"),
    ('detector = "gone.onnx"', "'detector': no such file"),
    ("face_threshold = 0", "'face_threshold' must be between 0.01 and 1, got 0"),
    ("min_face_px = 0", "'min_face_px' must be between 1 and 10000, got 0"),
    ('model = "nowhere.tflite"', "'model': no such file"),
])
def test_check_names_a_bad_camera_setting(tmp_path: Path, capsys, lines: str, problem: str) -> None:
    door_clip(tmp_path / "door.mp4")
    (tmp_path / "site.toml").write_text(f'store = "events.db"\n[[camera]]\nname = "door"\nsource = "door.mp4"\n'
                                        f"{lines}\n")
    assert maskwatch.commands.main(["watch", str(tmp_path / "site.toml"), "--check"]) == 2
    err = capsys.readouterr().err
    assert f"camera 'door': {problem}" in err


def _watch_once(camera, store: Path) -> list:
    """The camera's worker over its file once (not looped), recording in `store`; its events."""
    watch_camera(WorkerSettings(camera, store=store), lambda message: None, threading.Event())
    with EventStore(store) as events:
        return events.events()


def test_the_worker_judges_with_the_cameras_own_settings(tmp_path: Path) -> None:
    door_clip(tmp_path / "door.mp4", seconds_in=3.0)
    (tmp_path / "site.toml").write_text(CAMERAS)
    door, hall = load(tmp_path / "site.toml").cameras
    seen = _watch_once(door, tmp_path / "door.db")
    assert [e.kind for e in seen] == ["person_appeared", "person_left"] and seen[0].state == "without_mask"
    # the hall camera's size floor (400 px) is larger than the face: a face never that large is not judged,
    # and a track that never reaches the floor is not a person
    assert _watch_once(hall, tmp_path / "hall.db") == []

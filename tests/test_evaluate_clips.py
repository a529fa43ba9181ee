"""`maskwatch evaluate --clips`: truth files, their one-line errors, and scoring by person and face-frame."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage import data

from maskwatch.commands import main
from maskwatch.data.truth import BARE, MASKED, NOBODY, TruthError, read_truth
from maskwatch.evaluation.clips import SeenEvent, SeenFace, score_clip

MASK_ON = """video = "clip.mp4"
tolerance = 5
[[person]]
name = "the visitor"
frames = [0, 99]
states = [[0, 49, "without_mask"], [50, 59, "unclear"], [60, 99, "with_mask"]]
"""


def _truth(tmp_path: Path, text: str = MASK_ON):
    (tmp_path / "clip.truth.toml").write_text(text)
    return read_truth(tmp_path / "clip.truth.toml")


def test_a_truth_file_says_what_each_frame_shows(tmp_path: Path) -> None:
    truth = _truth(tmp_path)
    assert truth.video == tmp_path / "clip.mp4" and truth.people == 1
    assert truth.shows(10) == BARE and truth.shows(49) == BARE
    assert truth.shows(55) is None  # unclear
    assert truth.shows(62) is None and truth.shows(65) is None  # the state may lag the change by 5 frames
    assert truth.shows(66) == MASKED
    assert truth.shows(103) is None  # leaving: the notes' frames are approximate
    assert truth.shows(120) == NOBODY
    one_line = _truth(tmp_path, 'video = "clip.mp4"\nnobody_masked = true\n')
    assert one_line.people is None and one_line.shows(0) == one_line.shows(10_000) == BARE


def _run(frames: range, person: int | None, state, side: float = 40.0) -> list[SeenFace]:
    return [SeenFace(f, person, state(f) if callable(state) else state, side) for f in frames]


def test_a_run_is_scored_by_person_face_frame_and_event(tmp_path: Path) -> None:
    truth = _truth(tmp_path)
    right = _run(range(100), 1, lambda f: "with_mask" if f >= 63 else "without_mask")
    events = [SeenEvent("person_appeared", 1, 3, "without_mask"), SeenEvent("mask_on", 1, 63, "with_mask"),
              SeenEvent("person_left", 1, 99, "with_mask")]
    result = score_clip(truth, right, events)
    assert result["people"] == {"truth": 1, "found": 1, "matched": 1, "missed": 0, "extra": 0}
    assert result["people_called_masked_wrongly"] == result["people_called_bare_wrongly"] == 0
    assert result["with_mask_on_bare_or_no_face"]["face_frames"] == 50
    assert result["with_mask_on_bare_or_no_face"]["wrong"] == 0
    assert result["bare_on_masked_faces"]["face_frames"] == 34  # frames 66-99
    assert result["events"] == {"expected": 1, "on_time": 1, "spurious": 0, "found": ["f63 mask_on"]}

    # masked too early, a false face where nobody is, and the mask_on too late
    wrong = _run(range(100), 1, lambda f: "with_mask" if f >= 40 else "without_mask")
    wrong += _run(range(120, 125), 2, "with_mask", side=12.0)
    events = [SeenEvent("mask_on", 1, 40, "with_mask"), SeenEvent("mask_on", 2, 120, "with_mask")]
    result = score_clip(truth, wrong, events)
    assert result["people_called_masked_wrongly"] == 2 and result["people"]["extra"] == 1
    tally = result["with_mask_on_bare_or_no_face"]
    assert (tally["face_frames"], tally["wrong"]) == (55, 15)  # frames 40-49, and 5 on no face
    assert tally["by_size"] == {"0-16 px": {"face_frames": 5, "wrong": 5}, "32-64 px": {"face_frames": 50, "wrong": 10}}
    assert result["face_frames_where_nobody_is"] == 5
    assert result["events"]["on_time"] == 0 and result["events"]["spurious"] == 2


def test_people_seen_only_from_behind_are_neither_missed_nor_extra(tmp_path: Path) -> None:
    truth = _truth(tmp_path, 'video = "clip.mp4"\nnobody_masked = true\n[[person]]\nframes = [0, 50]\n'
                             'state = "hidden"\n')
    assert truth.people == 0
    result = score_clip(truth, _run(range(10, 40), 1, "unknown"), [])
    assert result["people"] == {"truth": 0, "found": 1, "matched": 0, "missed": 0, "extra": 0}
    result = score_clip(truth, _run(range(10, 40), 1, "with_mask"), [])
    assert result["people_called_masked_wrongly"] == 1  # nobody is masked: a back of a head is not


@pytest.mark.parametrize(("text", "message"), [
    ("nobody_masked = true\n", "video = \"FILE\" is missing"),
    ('video = "clip.mp4"\n', "says nothing"),
    ('video = "clip.mp4"\nnobody_masked = "yes"\n', "nobody_masked must be true or false"),
    ('video = "clip.mp4"\ncolour = 1\n', "unknown key 'colour'"),
    ('video = "clip.mp4"\n[[person]]\nframes = [9, 3]\nstate = "with_mask"\n', "first <= last"),
    ('video = "clip.mp4"\n[[person]]\nframes = [0, 9]\nstate = "masked"\n', "state must be one of"),
    ('video = "clip.mp4"\n[[person]]\nframes = [0, 9]\n', "either state"),
    ('video = "clip.mp4"\n[[person]]\nframes = [0, 9]\nstates = [[0, 5, "with_mask"], [5, 9, "unclear"]]\n',
     "overlap at frames 5-5"),
    ('video = "clip.mp4"\n[[person]]\nframes = [0, 9]\nstates = [[0, 12, "with_mask"]]\n', "outside its frames"),
    ('video = "clip.mp4"\nnobody_masked = true\n[[person]]\nframes = [0, 9]\nstate = "with_mask"\n',
     "with_mask in a clip that says nobody_masked"),
    ('video = "clip.mp4"\n[[person\n', "not TOML"),
])
def test_a_bad_truth_file_is_a_one_line_error(tmp_path: Path, capsys, text: str, message: str) -> None:
    (tmp_path / "clip.mp4").write_bytes(b"")
    (tmp_path / "clip.truth.toml").write_text(text)
    with pytest.raises(TruthError, match=message):
        read_truth(tmp_path / "clip.truth.toml")
    assert main(["evaluate", "--clips", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert message.split("'")[0].split('"')[0] in err and "clip.truth.toml" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_missing_videos_truths_and_folders_are_one_line_errors(tmp_path: Path, capsys) -> None:
    assert main(["evaluate", "--clips", str(tmp_path)]) == 2
    assert "no truth files" in capsys.readouterr().err
    (tmp_path / "gone.truth.toml").write_text('video = "gone.mp4"\nnobody_masked = true\n')
    assert main(["evaluate", "--clips", str(tmp_path)]) == 2
    assert "its video" in capsys.readouterr().err
    assert main(["evaluate", "--clips", str(tmp_path / "nowhere")]) == 2
    assert "not a folder" in capsys.readouterr().err
    assert main(["evaluate", "--scenes", str(tmp_path), "--clips", str(tmp_path)]) == 2
    assert "give one of" in capsys.readouterr().err


def _bare_walk(path: Path, frames: int = 40) -> None:
    """A bare face (skimage's astronaut) crossing a still grey picture."""
    head = cv2.resize(data.astronaut()[0:260, 90:330], (120, 130), interpolation=cv2.INTER_AREA)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 20.0, (480, 320))
    for i in range(frames):
        frame = np.full((320, 480, 3), 110, np.uint8)
        x = 20 + 8 * i
        frame[90:220, x:x + 120] = head
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()


def test_evaluate_clips_runs_each_video_as_detect_does_and_scores_it(tmp_path: Path, capsys) -> None:
    clips, truths = tmp_path / "clips", tmp_path / "truth"
    clips.mkdir()
    truths.mkdir()
    _bare_walk(clips / "walk.mp4")
    (truths / "walk.truth.toml").write_text('video = "walk.mp4"\nnobody_masked = true\n[[person]]\n'
                                            'frames = [0, 39]\nstate = "without_mask"\n')
    assert main(["evaluate", "--clips", str(clips), "--truth", str(truths), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    [result] = report["clips"]
    assert result["video"] == "walk.mp4" and result["people"]["truth"] == 1
    assert result["people"]["found"] == 1 and result["people_called_masked_wrongly"] == 0
    assert result["with_mask_on_bare_or_no_face"]["face_frames"] >= 30
    assert report["total"]["people_called_masked_wrongly"] == 0
    assert main(["evaluate", "--clips", str(clips), "--truth", str(truths / "walk.truth.toml")]) == 0
    table = capsys.readouterr().out
    assert "| walk.mp4 | 1 / 1 / 0 |" in table and "**all 1**" in table

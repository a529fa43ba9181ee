"""Result sinks and annotation, on real files written and read back with OpenCV."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from skimage import data

from maskwatch.core.events import Event
from maskwatch.core.faces import Face
from maskwatch.core.frame import Frame
from maskwatch.io.annotate import COLOURS, draw, tag_text
from maskwatch.io.images import read_image
from maskwatch.io.sinks import AnnotatedSaver, JsonLinesWriter, Summary, Window

FACE = Face((180.0, 60.0, 270.0, 175.0), 0.93, "with_mask", 0.97, {"with_mask": 0.97, "without_mask": 0.03})


def image_frame(relative: str, shape: tuple[int, int] = (48, 64)) -> Frame:
    image = np.full((*shape, 3), 100, np.uint8)
    return Frame(image, f"in/{relative}", 0, 0.0, Path(relative), None, False)


def video_frames(relative: str, n: int, fps: float = 12.0) -> list[Frame]:
    base = cv2.resize(data.astronaut(), (160, 120))
    return [Frame(base, f"in/{relative}", i, i / fps, Path(relative), fps, True) for i in range(n)]


def leftovers(folder: Path) -> list[Path]:
    """Temporary files of the atomic writes (hidden, ".part") that should be gone."""
    return [p for p in folder.rglob("*") if ".part" in p.name or p.name.startswith(".")]


def test_json_lines_file(tmp_path: Path) -> None:
    target = tmp_path / "out" / "faces.jsonl"
    with JsonLinesWriter(str(target)) as writer:
        writer.write(image_frame("a.jpg"), [FACE])
        for frame in video_frames("clip.mp4", 2):
            writer.write(frame, [])
        assert not target.exists()  # appears complete or not at all
    records = [json.loads(line) for line in target.read_text().splitlines()]
    assert [(r["source"], r["frame"], r["time"]) for r in records] == [
        ("in/a.jpg", 0, 0.0),
        ("in/clip.mp4", 0, 0.0),
        ("in/clip.mp4", 1, pytest.approx(1 / 12, abs=1e-3)),
    ]
    assert records[0]["faces"] == [FACE.to_json()] and records[1]["faces"] == []
    assert leftovers(tmp_path) == []


def test_json_lines_interrupted_still_valid(tmp_path: Path) -> None:
    target = tmp_path / "faces.jsonl"
    with pytest.raises(KeyboardInterrupt), JsonLinesWriter(str(target)) as writer:
        writer.write(image_frame("a.jpg"), [FACE])
        raise KeyboardInterrupt
    assert [json.loads(line)["faces"][0]["label"] for line in target.read_text().splitlines()] == [
        "with_mask"
    ]
    assert leftovers(tmp_path) == []


def test_json_lines_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    with JsonLinesWriter("-") as writer:
        writer.write(image_frame("a.jpg"), [FACE])
    assert json.loads(capsys.readouterr().out)["faces"][0]["box"] == [180.0, 60.0, 270.0, 175.0]
    assert not sys.stdout.closed


def test_saver_images_and_video(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with AnnotatedSaver(out) as saver:
        saver.write(image_frame("a.png"), image_frame("a.png").image)
        for frame in video_frames("clip.mp4", 15):
            saver.write(frame, draw(frame.image, [FACE]))
        assert not (out / "clip.mp4").exists()  # still being written
        saver.write(image_frame("sub/b.jpg", (30, 40)), image_frame("sub/b.jpg", (30, 40)).image)
        assert (out / "clip.mp4").exists()  # another source came: the video was finished
        for frame in video_frames("more/clip.webm", 3):  # saved as H.264 MP4: .mp4 is appended
            saver.write(frame, frame.image)
    assert read_image(out / "a.png").shape == (48, 64, 3)
    assert read_image(out / "sub" / "b.jpg").shape == (30, 40, 3)
    capture = cv2.VideoCapture(str(out / "clip.mp4"))
    assert capture.get(cv2.CAP_PROP_FPS) == pytest.approx(12)
    assert (capture.get(cv2.CAP_PROP_FRAME_WIDTH), capture.get(cv2.CAP_PROP_FRAME_HEIGHT)) == (160, 120)
    count = 0
    while capture.read()[0]:
        count += 1
    assert count == 15
    assert cv2.VideoCapture(str(out / "more" / "clip.webm.mp4")).get(cv2.CAP_PROP_FRAME_COUNT) == 3
    assert [codec(out / name) for name in ("clip.mp4", "more/clip.webm.mp4")] == [("h264", "yuv420p")] * 2
    assert leftovers(out) == []


def codec(path: Path) -> tuple[str, str]:
    """The codec and pixel format of a video's first stream, as a browser's decoder would see them."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return stream.codec_context.name, stream.codec_context.pix_fmt


def test_saved_video_of_odd_size_plays_as_h264_and_avi_gets_mp4_appended(tmp_path: Path) -> None:
    frames = [Frame(np.full((121, 161, 3), 40 * i, np.uint8), "cam.avi", i, i / 10, Path("cam.avi"), 10.0, True)
              for i in range(5)]
    with AnnotatedSaver(tmp_path) as saver:
        for frame in frames:
            saver.write(frame, frame.image)
    saved = tmp_path / "cam.avi.mp4"
    assert codec(saved) == ("h264", "yuv420p")
    capture = cv2.VideoCapture(str(saved))
    assert (capture.get(cv2.CAP_PROP_FRAME_WIDTH), capture.get(cv2.CAP_PROP_FRAME_HEIGHT)) == (162, 122)
    means = []
    while (read := capture.read())[0]:
        means.append(float(read[1][:121, :161].mean()))
    assert means == pytest.approx([40 * i for i in range(5)], abs=3)
    assert leftovers(tmp_path) == []


def test_saver_interrupted_video_plays(tmp_path: Path) -> None:
    with pytest.raises(KeyboardInterrupt), AnnotatedSaver(tmp_path) as saver:
        for frame in video_frames("cam.mp4", 6):
            saver.write(frame, frame.image)
        raise KeyboardInterrupt
    capture = cv2.VideoCapture(str(tmp_path / "cam.mp4"))
    assert capture.isOpened() and capture.get(cv2.CAP_PROP_FRAME_COUNT) == 6
    assert leftovers(tmp_path) == []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the display check is for Linux")
def test_window_without_display(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(RuntimeError, match="display"):
        Window()


def _event(kind: str, person: int, state: str, source: str = "v.mp4") -> Event:
    return Event(kind, person, source, 0, 0.0, "2026-11-26T10:00:00+00:00", state, (0, 0, 1, 1), None)


def test_summary_counts_faces_and_people_by_state() -> None:
    summary = Summary()
    states = ["with_mask", "with_mask", "without_mask", "unknown", None, "with_mask"]
    faces = [Face((0, 0, 1, 1), 0.9, state and "with_mask", state=state) for state in states]
    summary.add(image_frame("a.jpg"), faces[:2])
    summary.add(image_frame("b.jpg"), [])
    events = [[_event("person_appeared", 1, "with_mask"), _event("person_appeared", 2, "unknown")],
              [_event("mask_off", 1, "without_mask"), _event("person_appeared", 3, "with_mask")],
              [_event("mask_on", 1, "with_mask"), _event("person_appeared", 1, "with_mask", "w.mp4")],
              [_event("person_left", 1, "with_mask"), _event("person_left", 2, "unknown")]]
    for frame, face, happened in zip(video_frames("v.mp4", 4), faces[2:], events, strict=True):
        summary.add(frame, [face], happened)
    assert summary.as_dict(2.0) == {
        "images": 2,
        "frames": 4,
        "faces": 6,
        "per_state": {"unknown": 1, "unlabelled": 1, "with_mask": 3, "without_mask": 1},
        "without_mask_share": 0.25,  # 1 of the 4 judged faces
        "people": 4,  # persons 1, 2, 3 of v.mp4 and person 1 of w.mp4
        # person 1 of v.mp4 took the mask off and put it on again: with_mask when last seen, once non-compliant
        "people_by_last_state": {"with_mask": 3, "without_mask": 0, "mask_weared_incorrect": 0, "unknown": 1},
        "people_ever_non_compliant": 1,
        "compliant_at_last_sighting": 1.0,
        "seconds": 2.0,
        "fps": 3.0,
    }
    text = summary.format(2.0)
    assert "2 images" in text and "4 video frames" in text and "6 faces" in text and "25%" in text
    assert ("4 people: by last state with_mask 3, without_mask 0, unknown 1; compliant at last sighting 100%; "
            "1 ever non-compliant") in text
    empty = Summary().as_dict(0.0)
    assert empty["without_mask_share"] is None and empty["fps"] is None and empty["per_state"] == {}
    assert "people" not in Summary().format(1.0)


def test_draw_boxes_and_tags() -> None:
    image = data.astronaut()
    before = image.copy()
    faces = [FACE, Face((300, 0, 400, 90), 0.8, "without_mask", 0.6), Face((10, 300, 60, 350), 0.7),
             Face((400, 300, 450, 350), 0.7, "with_mask", 0.6, {"with_mask": 0.6}, state="unknown", person=3)]
    out = draw(image, faces, fps=12.5)
    assert out.shape == image.shape and out.dtype == np.uint8
    assert np.array_equal(image, before)  # the input is left alone
    assert not np.array_equal(out[60:176, 180:271], image[60:176, 180:271])
    assert tuple(out[120, 180]) == COLOURS["with_mask"]  # left edge of the box
    assert tuple(out[45, 300]) == COLOURS["without_mask"]
    assert tuple(out[325, 10]) == COLOURS[None]  # unlabelled: grey
    assert tuple(out[325, 400]) == COLOURS["unknown"]  # a person whose state is unknown: grey too
    assert not np.array_equal(out[:15, :60], image[:15, :60])  # fps top left
    assert np.array_equal(out[400:, 300:], image[400:, 300:])  # far from every face: untouched
    assert tag_text(faces[3]) == "#3 unknown"
    assert tag_text(Face((0, 0, 9, 9), 0.7, "without_mask", 0.9, {"without_mask": 0.9, "with_mask": 0.1},
                          state="with_mask", person=2)) == "#2 with_mask 10%"  # this frame's evidence for it


@pytest.mark.parametrize("shape", [(240, 320, 3), (2160, 3840, 3)])
def test_draw_tags_scale_with_the_image(shape: tuple[int, int, int]) -> None:
    image = np.zeros(shape, np.uint8)
    height, width = shape[:2]
    face = Face((width * 0.4, height * 0.4, width * 0.6, height * 0.6), 0.9, "with_mask", 0.97)
    out = draw(image, [face])
    rows = np.flatnonzero(
        (out[: int(height * 0.4), int(width * 0.4) : int(width * 0.6)] > 0).any(axis=(1, 2))
    )
    tag_height = rows.max() - rows.min() + 1
    assert 0.04 * height < tag_height < 0.15 * height  # readable, yet not covering the face


def test_the_summary_reads_as_english() -> None:
    """One image, one face, one video frame: no '1 images'; no judged person: 'none judged', not '-'."""
    summary = Summary()
    summary.add(image_frame("a.jpg"), [Face((0, 0, 1, 1), 0.9, "with_mask", state="with_mask")])
    summary.add(video_frames("v.mp4", 1)[0], [], [_event("person_appeared", 1, "unknown"),
                                                  _event("person_left", 1, "unknown")])
    text = summary.format(1.0)
    assert text.startswith("1 image and 1 video frame in 1.0 s") and "\n1 face: with_mask 1" in text
    assert "compliant at last sighting none judged;" in text and "1 person:" in text
    summary.add(image_frame("b.jpg"), [])
    assert summary.format(1.0).startswith("2 images and 1 video frame")


def test_small_faces_get_short_tags() -> None:
    """A crowd's 20 px face gets a short, smaller tag ("no mask 91%", as the serve page shows) where the full
    one ("#3 without_mask 91%") would run over three of its neighbours; a large face keeps the full tag."""
    probs = {"without_mask": 0.91, "with_mask": 0.09}
    small = Face((100, 100, 120, 124), 0.8, "without_mask", 0.91, probs, state="without_mask", person=3)
    assert tag_text(small, short=True) == "no mask 91%" and tag_text(small) == "#3 without_mask 91%"
    image = np.full((480, 640, 3), 90, np.uint8)

    def tag_width(face: Face) -> int:
        top = int(face.box[1])
        drawn = draw(image, [face])[max(0, top - 30):top - 2]
        return int((np.abs(drawn.astype(int) - COLOURS["without_mask"]).sum(axis=2) < 10).any(axis=0).sum())

    full = cv2.getTextSize("#3 without_mask 91%", cv2.FONT_HERSHEY_SIMPLEX, 0.6, 1)[0][0]
    assert tag_width(small) < 0.6 * full
    large = Face((100, 100, 300, 340), 0.8, "without_mask", 0.91, probs, state="without_mask", person=3)
    assert tag_width(large) >= full

"""`maskwatch detect` and `maskwatch events` on inputs that are partly or wholly unreadable: a video cut in
half, a folder or subfolder the user may not read, a number too large for a camera, an event store in a
read-only folder. Each is said in one line, with the exit code the run deserves. Permission cases run as
user nobody (tests/nobody.py), since root reads everything."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from skimage import data

from maskwatch.core.events import Event
from maskwatch.store import EventStore
from tests.nobody import maskwatch_as_nobody, nobody_folder

FRAMES = 60


@pytest.fixture
def folder() -> Iterator[Path]:
    with nobody_folder() as folder:
        yield folder


def faststart_mp4(path: Path) -> Path:
    """An MP4 with its index (moov) first, as cameras and phones write them: half of it still plays."""
    face = cv2.resize(data.astronaut(), (320, 240))
    with av.open(str(path), "w", options={"movflags": "faststart"}) as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        for i in range(FRAMES):
            frame = av.VideoFrame.from_ndarray(cv2.add(face, np.full_like(face, i)), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


def run_detect(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "maskwatch", "detect", *args], capture_output=True, text=True,
                          timeout=300, cwd=cwd)


def failed_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("failed: ")]


def frames_in(video: Path) -> int:
    capture = cv2.VideoCapture(str(video))
    count = 0
    while capture.read()[0]:
        count += 1
    capture.release()
    return count


def variable_rate_mkv(path: Path, frames: int = 27) -> Path:
    """H.264 frames mostly 50 ms apart, every third 17 ms: its container lists 60 fps, so OpenCV counts
    duration x 60 = 61 frames where 27 cover the whole video."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=60)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        stream.time_base = Fraction(1, 1000)
        pts = 0
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(np.full((240, 320, 3), i * 9 % 255, np.uint8), format="rgb24")
            frame.pts, frame.time_base = pts, stream.time_base
            container.mux(stream.encode(frame))
            pts += 17 if i % 3 == 0 else 50
        container.mux(stream.encode())
    return path


def test_a_variable_rate_video_read_to_its_end_is_no_failure(tmp_path: Path) -> None:
    """Fewer frames than the container counts, but reaching its duration: whole, not 'cut short'."""
    video = variable_rate_mkv(tmp_path / "vfr.mkv")
    assert cv2.VideoCapture(str(video)).get(cv2.CAP_PROP_FRAME_COUNT) > 2 * frames_in(video)  # the miscount
    result = run_detect(str(video), "--json", str(tmp_path / "faces.jsonl"), "--no-track")
    assert result.returncode == 0 and failed_lines(result.stderr) == [], result.stderr
    assert len((tmp_path / "faces.jsonl").read_text().splitlines()) == 27


def test_a_video_cut_in_half_is_a_failure_and_keeps_its_frames(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    whole = faststart_mp4(folder / "whole.mp4")
    cut = folder / "cut.mp4"
    content = whole.read_bytes()
    cut.write_bytes(content[: len(content) // 2])
    out = tmp_path / "out"
    result = run_detect(str(folder), "--json", str(out / "faces.jsonl"), "--save", str(out),
                        "--summary", str(out / "summary.json"), "--no-track")
    assert result.returncode == 1, result.stderr
    [line] = failed_lines(result.stderr)  # the whole video is no failure
    records = [json.loads(line) for line in (out / "faces.jsonl").read_text().splitlines()]
    kept = [r for r in records if r["source"] == str(cut)]
    assert 0 < len(kept) < FRAMES and len(records) == len(kept) + FRAMES
    assert line == f"failed: {cut}: video ended after {len(kept)} of its {FRAMES} frames (cut short or damaged)"
    assert json.loads((out / "summary.json").read_text())["failures"] == [line.removeprefix("failed: ")]
    [saved] = out.glob("cut.mp4*")
    assert frames_in(saved) == len(kept)


def test_a_number_too_large_for_a_camera_is_a_one_line_error(tmp_path: Path) -> None:
    result = run_detect("99999999999999999999", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == ["maskwatch detect: error: 99999999999999999999: too large for a camera "
                                          "index, and no such file or folder"]


def photo_folder(root: Path) -> Path:
    """root/photos with one photo, and root/photos/private, which only root may read."""
    photos = root / "photos"
    (photos / "private").mkdir(parents=True)
    photo = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    cv2.imwrite(str(photos / "a.jpg"), photo)
    cv2.imwrite(str(photos / "private" / "b.jpg"), photo)
    photos.chmod(0o755)
    (photos / "private").chmod(0o700)
    return photos


def test_an_unreadable_subfolder_is_a_failure_the_rest_is_processed(folder: Path) -> None:
    photos = photo_folder(folder)
    summary = folder / "home" / "summary.json"
    result = maskwatch_as_nobody(folder, "detect", str(photos), "--summary", str(summary))
    assert result.returncode == 1, result.stderr
    assert failed_lines(result.stderr) == [f"failed: {photos / 'private'}: cannot read this folder (Permission "
                                           "denied)"]
    assert json.loads(summary.read_text())["images"] == 1


def test_an_unreadable_source_folder_says_so(folder: Path) -> None:
    photos = photo_folder(folder)
    result = maskwatch_as_nobody(folder, "detect", str(photos / "private"))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [f"maskwatch detect: error: {photos / 'private'}: cannot read this folder "
                                          "(Permission denied)"]


def add_events(store: EventStore, count: int) -> None:
    for person in range(count):
        store.add(Event("person_appeared", person, "door", person, float(person), "2024-05-01T10:00:00+00:00",
                        "without_mask", (0.0, 0.0, 10.0, 10.0), 0.9))


def read_only_store(folder: Path) -> Path:
    """folder/site/events.db, nobody's file in a folder only root may write."""
    site = folder / "site"
    site.mkdir(mode=0o755)
    path = site / "events.db"
    with EventStore(path, snapshots=False) as store:
        add_events(store, 3)
    os.chown(path, *nobody_ids())
    return path


def nobody_ids() -> tuple[int, int]:
    import pwd

    entry = pwd.getpwnam("nobody")
    return entry.pw_uid, entry.pw_gid


def listed_people(result: subprocess.CompletedProcess) -> list[int]:
    assert result.returncode == 0, result.stderr
    return [json.loads(line)["person"] for line in result.stdout.splitlines()]


def test_events_of_a_store_in_a_read_only_folder_can_be_read(folder: Path) -> None:
    path = read_only_store(folder)
    assert not Path(f"{path}-wal").exists()  # closed: everything is in the file
    assert listed_people(maskwatch_as_nobody(folder, "events", str(path), "--json")) == [0, 1, 2]
    assert sorted(p.name for p in path.parent.iterdir()) == ["events.db"]
    with EventStore(path, snapshots=False) as writer:  # root writes on; SQLite gives nobody its -wal and -shm
        add_events(writer, 2)
        assert Path(f"{path}-wal").stat().st_size > 0  # not checkpointed into the file while it is open
        assert listed_people(maskwatch_as_nobody(folder, "events", str(path), "--json")) == [0, 1, 2, 0, 1]


def test_a_wal_that_cannot_be_read_is_said_not_left_out(folder: Path) -> None:
    path = read_only_store(folder)
    copy = folder / "copy"
    copy.mkdir(mode=0o755)
    with EventStore(path, snapshots=False) as writer:
        add_events(writer, 2)
        for name in ("events.db", "events.db-wal"):  # a copy that left out the -shm: 2 events only in its -wal
            shutil.copy(path.parent / name, copy / name)
            os.chown(copy / name, *nobody_ids())
    result = maskwatch_as_nobody(folder, "events", str(copy / "events.db"))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"maskwatch events: error: {copy / 'events.db'}: events.db-wal holds events not yet in the file, and in "
        "this read-only folder they cannot be read without events.db-shm: copy the store with events.db-wal to a "
        "folder you can write"]

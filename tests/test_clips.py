"""Event clips of `watch`: an alert names its clip at once, the clip (seconds before and after) is written as
H.264 MP4 that decodes, its faces are blurred where the site blurs snapshots, retention deletes it with its
event, the page's API serves it, and `--check` refuses clips on a site that keeps no faces."""

from __future__ import annotations

import re
import threading
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import av
import numpy as np

import maskwatch.commands
from maskwatch.core.events import Event
from maskwatch.core.faces import Face
from maskwatch.core.frame import Frame
from maskwatch.monitor.config import load
from maskwatch.monitor.worker import WorkerSettings, watch_camera
from maskwatch.store import EventStore
from maskwatch.video.analysis import Step
from maskwatch.video.clips import ClipRecorder, ClipSettings
from tests.services import Watch, door_clip, free_port, wait_until

SITE = """store = "events.db"
{top}
[[camera]]
name = "door"
source = "door.mp4"
[[alert]]
state = "without_mask"
after_s = 1.0
[clips]
enabled = true
before_s = 1.0
after_s = 1.0
"""


def _watch(folder: Path, top: str = "") -> list:
    """The door camera's worker once over its clip, with clips on; the stored events."""
    folder.mkdir(exist_ok=True)
    door_clip(folder / "door.mp4", seconds_in=4.0)
    (folder / "site.toml").write_text(SITE.format(top=top))
    config = load(folder / "site.toml")
    settings = WorkerSettings(config.cameras[0], config.rules_for("door"), store=config.store,
                              blur_snapshots=config.blur_snapshots, clips=config.clips)
    watch_camera(settings, lambda message: None, threading.Event())
    with EventStore(config.store) as store:
        return store.events()


def _frames(path: Path) -> tuple[str, list[np.ndarray], float]:
    with av.open(str(path)) as video:
        stream = video.streams.video[0]
        frames = [frame.to_ndarray(format="rgb24") for frame in video.decode(stream)]
        return stream.codec_context.name, frames, float(stream.duration * stream.time_base)


def test_an_alert_gets_a_clip_of_the_seconds_around_it(tmp_path: Path) -> None:
    events = _watch(tmp_path)
    alert = next(e for e in events if e.kind == "alert")
    assert [e.clip for e in events if e.kind != "alert"] == [None, None]  # only alerts, by default
    clip = Path(alert.clip)
    assert clip.parent == tmp_path / "events.clips"
    assert re.fullmatch(rf"door-\d{{17}}-p1-f{alert.frame}-alert\.mp4", clip.name), clip.name  # wall clock, ms
    assert clip.is_file() and oct(clip.stat().st_mode & 0o777) == "0o600"
    codec, frames, seconds = _frames(clip)
    assert codec == "h264" and len(frames) >= 10 and 1.5 <= seconds <= 2.5  # 1 s before, 1 s after
    # boxes drawn: the frame has the state's colour (without_mask: red) where the face is
    red = (np.abs(frames[len(frames) // 2].astype(int) - (220, 38, 38)).sum(axis=2) < 90).sum()
    assert red > 200


def test_faces_in_clips_are_blurred_where_snapshots_are(tmp_path: Path) -> None:
    plain = _frames(Path(next(e for e in _watch(tmp_path / "plain") if e.kind == "alert").clip))[1]
    blurred = _frames(Path(next(e for e in _watch(tmp_path / "blurred", "blur_snapshots = true")
                                if e.kind == "alert").clip))[1]
    face = (slice(115, 175), slice(275, 320))  # inside the face box: the astronaut's face, 70 px wide

    def detail(frame: np.ndarray) -> float:
        return float(np.abs(np.diff(frame[face].astype(int), axis=1)).mean())

    assert detail(blurred[len(blurred) // 2]) < 0.5 * detail(plain[len(plain) // 2])


def test_retention_deletes_a_clip_with_its_event(tmp_path: Path) -> None:
    events = _watch(tmp_path)
    clip = Path(next(e for e in events if e.kind == "alert").clip)
    with EventStore(tmp_path / "events.db") as store:
        deleted = store.delete_older_than(datetime.now().astimezone() + timedelta(seconds=1))
    assert deleted.events == len(events) and not clip.exists()


def test_check_refuses_clips_where_no_face_is_kept(tmp_path: Path, capsys) -> None:
    door_clip(tmp_path / "door.mp4")
    (tmp_path / "site.toml").write_text(SITE.format(top="snapshots = false") + 'on = ["alert", "waved"]\n')
    assert maskwatch.commands.main(["watch", str(tmp_path / "site.toml"), "--check"]) == 2
    err = capsys.readouterr().err
    assert "clips: clips show faces, and this site keeps none" in err and "clips: 'on' must list some of" in err


def test_the_page_api_serves_the_clip_of_an_alert(tmp_path: Path) -> None:
    door_clip(tmp_path / "door.mp4")
    port = free_port()
    (tmp_path / "site.toml").write_text(
        f'store = "events.db"\n[http]\nport = {port}\n[[camera]]\nname = "door"\nsource = "door.mp4"\nloop = true\n'
        '[[alert]]\nstate = "without_mask"\nafter_s = 0.5\n[clips]\nenabled = true\nbefore_s = 0.5\nafter_s = 0.5\n')
    site = Watch(tmp_path / "site.toml", port=port)
    try:
        site.wait_running()

        def served() -> dict | None:
            alerts = [e for e in site.get("/api/events").json() if e["kind"] == "alert" and e["clip_url"]]
            return alerts[0] if alerts and site.get(alerts[0]["clip_url"]).status_code == 200 else None

        alert = wait_until(served, 60, "an alert's clip on the API")
        answer = site.get(alert["clip_url"])
        assert answer.headers["content-type"] == "video/mp4" and answer.content[4:8] == b"ftyp"
        assert site.get("/api/clips/events.db").status_code == 404
    finally:
        site.stop()


def test_a_restarted_worker_never_reuses_a_clip_name(tmp_path: Path) -> None:
    """A worker killed before it wrote a clip leaves no file; the next run numbers persons and frames from 1
    again, and its clip still gets a name of its own, so no event plays another's video."""
    settings = ClipSettings(before_s=1.0, after_s=1.0, kinds=("alert",), boxes=False, blur_faces=False)
    names = []
    for wall_time in ("2026-12-06T10:00:00.000+00:00", "2026-12-06T10:05:00.000+00:00"):  # two runs
        recorder = ClipRecorder(tmp_path / "events.clips", settings)  # the first is killed: never closed
        frame = Frame(np.zeros((48, 64, 3), np.uint8), "door", 14, 1.4, Path("door"), 10.0, True)
        alert = Event("alert", 1, "door", 14, 1.4, wall_time, "without_mask", (1.0, 1.0, 9.0, 9.0), 0.9)
        recorder.push(Step(frame, [], [alert]))
        names.append(alert.clip)
    assert names[0] != names[1] and not any((tmp_path / "events.clips").iterdir())


def test_retention_keeps_a_clip_another_kept_event_names(tmp_path: Path) -> None:
    events = _watch(tmp_path)
    alert = next(e for e in events if e.kind == "alert")
    later = replace(alert, id=None, wall_time=(datetime.now().astimezone() + timedelta(days=1)).isoformat(),
                    clip=str(Path(alert.clip).relative_to(tmp_path)))  # as a worker names it
    with EventStore(tmp_path / "events.db") as store:
        store.add(later)
        deleted = store.delete_older_than(datetime.now().astimezone() + timedelta(seconds=1))
        assert deleted.events == len(events) and [e.clip for e in store.events()] == [alert.clip]
    assert Path(alert.clip).is_file()


def test_frames_the_motion_gate_skipped_keep_the_faces_blurred(tmp_path: Path) -> None:
    """A still frame (not looked at) carries no faces of its own: the faces of the frame before are blurred."""
    settings = ClipSettings(before_s=1.0, after_s=0.5, kinds=("alert",), boxes=False, blur_faces=True)
    recorder = ClipRecorder(tmp_path / "events.clips", settings)
    picture = np.random.default_rng(0).integers(0, 255, (240, 320, 3), np.uint8)
    face = Face((100.0, 60.0, 180.0, 160.0), 0.9)
    alert = Event("alert", 1, "door", 0, 0.0, "2026-12-06T10:00:00.000+00:00", "without_mask", face.box, 0.9)
    for index in range(8):
        frame = Frame(picture, "door", index, index / 10, Path("door"), 10.0, True)
        recorder.push(Step(frame, [face], [alert]) if index == 0 else Step(frame, [], [], still=True))
    recorder.close()
    frames = _frames(Path(tmp_path / alert.clip))[1]
    inside, outside = (slice(75, 145), slice(115, 165)), (slice(180, 230), slice(220, 300))

    def detail(image: np.ndarray, region) -> float:
        return float(np.abs(np.diff(image[region].astype(int), axis=1)).mean())

    assert len(frames) >= 5
    assert all(detail(f, inside) < 0.3 * detail(f, outside) for f in frames)

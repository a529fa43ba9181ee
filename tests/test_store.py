"""The SQLite event store and `maskwatch events`, on real files: round trips, filters, summary, snapshots,
retention, refusing foreign or damaged files, and surviving kill -9."""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import redirect_stderr, redirect_stdout
from datetime import datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest

import maskwatch.commands
from maskwatch.commands import events as events_command
from maskwatch.core.errors import InvalidInput
from maskwatch.core.events import Event
from maskwatch.store import SCHEMA_VERSION, EventStore, EventStoreError

T0 = datetime.fromisoformat("2024-05-01T10:15:00+02:00")


def event(kind: str = "person_appeared", person: int = 1, at: datetime = T0, state: str = "with_mask",
          source: str = "cam", **extra) -> Event:
    return Event(kind, person, source, extra.pop("frame", 7), extra.pop("time", 0.28),
                 at.isoformat(timespec="milliseconds"), state, (10.5, 20.25, 110.0, 150.75),
                 extra.pop("confidence", 0.93), **extra)


def cli(*argv: str) -> tuple[int, str, str]:
    """`maskwatch events ARGV` through its own parser: exit code (2 for bad options), stdout, stderr."""
    parser = argparse.ArgumentParser(prog="maskwatch")
    events_command.add_parser(parser.add_subparsers(dest="command", required=True))
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = events_command.run(parser.parse_args(["events", *argv]))
        except SystemExit as exit_:
            code = exit_.code
    return code, out.getvalue(), err.getvalue()


def sharpness(path: Path | np.ndarray) -> float:
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE) if isinstance(path, Path) else path
    return float(cv2.Laplacian(image, cv2.CV_64F).var())


def test_round_trip_of_every_field(tmp_path: Path, astronaut_face: np.ndarray) -> None:
    full = event("person_left", 3, state="without_mask", previous_state="with_mask", frames_seen=42,
                 masked_share=0.375, face_image=astronaut_face.copy())
    bare = event("mask_on", 4, confidence=None, frame=0, time=0.0)
    with EventStore(tmp_path / "EVENTS.db") as store:
        added = [store.add(full), store.add(bare)]
    assert [e.id for e in added] == [1, 2]
    assert added[0].snapshot == str(tmp_path / "EVENTS.snapshots" / "run1-p3-f7.jpg")
    assert added[1].snapshot is None
    with EventStore.open_existing(tmp_path / "EVENTS.db") as store:
        back = store.events_with_run()
    assert [e for _, e in back] == added  # every field but face_image, which is never stored
    assert [run for run, _ in back] == [1, 1]
    assert back[0][1].box == (10.5, 20.25, 110.0, 150.75) and back[0][1].masked_share == 0.375
    assert back[0][1].face_image is None


def test_numpy_numbers_are_stored_as_python_numbers(tmp_path: Path) -> None:
    with EventStore(tmp_path / "e.db") as store:
        store.add(event(person=np.int64(5), frame=np.int64(12), time=np.float32(0.5), confidence=np.float32(0.75),
                        masked_share=np.float64(0.5), frames_seen=np.int32(8)))
        (back,) = store.events()
    assert (back.person, back.frame, back.time, back.confidence, back.masked_share, back.frames_seen) == (
        5, 12, 0.5, 0.75, 0.5, 8)
    assert type(back.person) is int and type(back.confidence) is float


def test_wal_ids_and_runs(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "EVENTS.db"  # parent folders are made
    for _ in range(2):
        with EventStore(path, snapshots=False) as store:
            ids = [store.add(event(person=p)).id for p in (1, 2)]
        assert ids == sorted(ids)
    with EventStore.open_existing(path, readonly=False):  # maintenance opening: no run taken
        pass
    with EventStore(path) as store:
        store.add(event())
        assert store.run == 3
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("SELECT id, run, person FROM events ORDER BY id").fetchall() == [
        (1, 1, 1), (2, 1, 2), (3, 2, 1), (4, 2, 2), (5, 3, 1)]
    db.close()


def test_filters(tmp_path: Path) -> None:
    with EventStore(tmp_path / "e.db", snapshots=False) as store:
        for i, (kind, source) in enumerate([("person_appeared", "a"), ("mask_off", "a"), ("mask_on", "b"),
                                            ("person_left", "b"), ("mask_off", "b")]):
            store.add(event(kind, i, T0 + timedelta(minutes=10 * i), source=source))
        people = lambda **f: [e.person for e in store.events(**f)]  # noqa: E731
        assert people() == [0, 1, 2, 3, 4]
        assert people(kind="mask_off") == [1, 4]
        assert people(kind=["mask_off", "mask_on"], source="b") == [2, 4]
        assert people(since=T0 + timedelta(minutes=10), until=T0 + timedelta(minutes=30)) == [1, 2]
        utc = T0.astimezone(datetime.now().astimezone().tzinfo)  # the same instant, another offset
        assert people(since=utc + timedelta(minutes=35)) == [4]
        _, out, _ = cli(str(tmp_path / "e.db"), "--kind", "mask_off", "--kind", "mask_on", "--since",
                        (T0 + timedelta(minutes=15)).isoformat(), "--json")
        assert [json.loads(line)["person"] for line in out.splitlines()] == [2, 4]


def test_review_search_leaves_out_visits_never_judged(tmp_path: Path) -> None:
    """A person seen too briefly to judge leaves an `unknown` arrival and departure: nothing to review."""
    with EventStore(tmp_path / "e.db", snapshots=False) as store:
        store.add(event("person_appeared", 1, state="unknown"))
        store.add(event("person_left", 1, state="unknown"))
        store.add(event("person_appeared", 2, state="unknown"))  # judged later: its unknown arrival stays
        store.add(event("mask_off", 2, state="without_mask", previous_state="unknown"))
        store.add(event("person_appeared", 1, state="unknown", source="other"))  # the same id on another camera
        store.add(event("mask_on", 1, state="with_mask", source="other", previous_state="unknown"))
        persons = lambda **f: [(e.source, e.person, e.kind) for _, e in store.search(**f)[1]]  # noqa: E731
        assert len(persons()) == 6
        assert persons(unjudged=False) == [("other", 1, "mask_on"), ("other", 1, "person_appeared"),
                                           ("cam", 2, "mask_off"), ("cam", 2, "person_appeared")]
        assert store.search(unjudged=False)[0] == 4


def test_cli_table_json_and_csv(tmp_path: Path, astronaut_face: np.ndarray) -> None:
    db = tmp_path / "EVENTS.db"
    with EventStore(db) as store:
        store.add(event(face_image=astronaut_face))
        store.add(event("person_left", 1, state="with_mask", frames_seen=9, masked_share=1.0, confidence=None,
                        source="cam 2"))
    code, out, _ = cli(str(db))
    lines = out.splitlines()
    assert code == 0 and len(lines) == 3 and lines[0].split() == ["id", "wall_time", "video_time", "source",
                                                                 "person", "kind", "state", "corrected",
                                                                 "confidence", "snapshot"]
    assert lines[1].split()[2] == "0:00.3"  # 0.28 s into the video, not only when the run processed it
    assert lines[1].index("person_appeared") == lines[2].index("person_left")  # aligned columns
    assert "0.93" in lines[1] and "EVENTS.snapshots/run1-p1-f7.jpg" in lines[1]

    _, out, _ = cli(str(db), "--json")
    records = [json.loads(line) for line in out.splitlines()]
    assert records[0] == {**event(face_image=None).to_json(), "id": 1, "run": 1,
                          "snapshot": str(tmp_path / "EVENTS.snapshots" / "run1-p1-f7.jpg")}
    assert records[1]["masked_share"] == 1.0 and records[1]["source"] == "cam 2"

    code, out, err = cli(str(db), "--csv", str(tmp_path / "out" / "events.csv"), "--source", "cam 2")
    assert code == 0 and out == "" and "wrote 1 event" in err
    rows = list(csv.DictReader((tmp_path / "out" / "events.csv").open(newline="")))
    assert rows == [{"id": "2", "run": "1", "kind": "person_left", "person": "1", "source": "cam 2", "frame": "7",
                     "time": "0.28", "wall_time": "2024-05-01T10:15:00.000+02:00", "state": "with_mask",
                     "x1": "10.5", "y1": "20.2", "x2": "110.0", "y2": "150.8", "confidence": "",
                     "previous_state": "", "frames_seen": "9", "masked_share": "1.0", "snapshot": "",
                     "duration_s": "", "zones": "", "clip": "", "corrected": ""}]
    assert not [p for p in (tmp_path / "out").iterdir() if p.name != "events.csv"]  # no temporary file left
    _, out, _ = cli(str(db), "--csv", "-")
    assert len(list(csv.DictReader(io.StringIO(out)))) == 2


def test_corrections_are_stored_shown_counted_and_exported(tmp_path: Path) -> None:
    """A reviewer's correction of one event, then of a person's whole visit, by the CLI: stored with who and
    when beside the model's verdict; the table, the CSV and the summary show the corrected verdicts."""
    db = tmp_path / "EVENTS.db"
    with EventStore(db, snapshots=False) as store:
        store.add(event("person_appeared", 1, state="without_mask"))
        store.add(event("alert", 1, state="without_mask", duration_s=3.0))
        store.add(event("person_left", 1, state="without_mask"))
        store.add(event("person_appeared", 2, state="with_mask"))
    code, _, err = cli(str(db), "--correct", "4", "--as", "not_a_face")
    assert code == 0 and "corrected 1 event(s) to not_a_face: 4" in err
    code, _, err = cli(str(db), "--correct", "2", "--as", "with_mask", "--person", "--by", "alice")
    assert code == 0 and "corrected 3 event(s) to with_mask: 1, 2, 3" in err
    with EventStore.open_existing(db) as store:
        fixed = store.corrections([1, 2, 3, 4])
        assert store.correction_counts() == [
            {"camera": "cam", "model": "with_mask", "corrected": "not_a_face", "events": 1},
            {"camera": "cam", "model": "without_mask", "corrected": "with_mask", "events": 3}]
    assert {i: (c["state"], c["corrector"]) for i, c in fixed.items()} == {
        1: ("with_mask", "alice"), 2: ("with_mask", "alice"), 3: ("with_mask", "alice"), 4: ("not_a_face", None)}
    assert all(datetime.fromisoformat(c["corrected"]) for c in fixed.values())
    _, out, _ = cli(str(db))
    table = [line.split() for line in out.splitlines()]
    assert [(row[6], row[7]) for row in table[1:]] == [("without_mask", "with_mask")] * 3 + [("with_mask",
                                                                                              "not_a_face")]
    _, out, _ = cli(str(db), "--csv", "-")
    assert [row["corrected"] for row in csv.DictReader(io.StringIO(out))] == ["with_mask"] * 3 + ["not_a_face"]
    _, out, _ = cli(str(db), "--summary", "--json")
    summary = json.loads(out)
    assert summary["corrected"] == 4  # person 1 was masked after all; person 2 was no face that could be judged
    assert summary["total"]["people_by_last_state"] == {"with_mask": 1, "without_mask": 0,
                                                        "mask_weared_incorrect": 0, "unknown": 1}
    assert summary["total"]["people_ever_non_compliant"] == 0
    # bad use: one-line errors
    for argv, said in ((["--correct", "99", "--as", "with_mask"], "no event 99"),
                       (["--correct", "1"], "go together"), (["--person"], "go with --correct")):
        with pytest.raises(InvalidInput, match=said):
            cli(str(db), *argv)
    assert cli(str(db), "--correct", "1", "--as", "masked")[0] == 2  # argparse: not a choice


def summary_store(path: Path) -> None:
    """Two runs over one camera (person ids start at 1 in each), and a second camera."""
    hour = timedelta(hours=1)
    with EventStore(path, snapshots=False) as store:
        store.add(event("person_appeared", 1, T0))  # with, then off: without_mask
        store.add(event("mask_off", 1, T0 + timedelta(minutes=5), "without_mask", previous_state="with_mask"))
        store.add(event("person_appeared", 2, T0))  # with_mask, left an hour later: counted at 10:00
        store.add(event("person_left", 2, T0 + hour, frames_seen=50, masked_share=1.0))
        store.add(event("person_appeared", 3, T0, "unknown"))  # never judged
        store.add(event("person_left", 3, T0 + timedelta(minutes=1), "unknown", frames_seen=3))
    with EventStore(path, snapshots=False) as store:
        store.add(event("person_appeared", 1, T0 + hour))  # the same id in another run: another person
        store.add(event("person_appeared", 2, T0 + hour, "without_mask", source="door"))
        store.add(event("mask_on", 2, T0 + hour, "with_mask", previous_state="without_mask", source="door"))
        store.add(event("person_appeared", 3, T0 + hour, source="door"))


def summary_row(people: int, with_mask: int = 0, without_mask: int = 0, unknown: int = 0, ever: int = 0,
           compliant: float | None = None, incorrect: int = 0) -> dict:
    """A row of the summary: people by last state, ever non-compliant, compliant at last sighting."""
    return {"people": people, "people_by_last_state": {"with_mask": with_mask, "without_mask": without_mask,
                                                       "mask_weared_incorrect": incorrect, "unknown": unknown},
            "people_ever_non_compliant": ever, "compliant_at_last_sighting": compliant}


def test_summary_counts_people_by_last_state_and_ever_non_compliant(tmp_path: Path) -> None:
    summary_store(tmp_path / "e.db")
    with EventStore.open_existing(tmp_path / "e.db") as store:
        summary = store.summary()
        assert summary["hours"] == [
            {"hour": "2024-05-01 10:00",
             **summary_row(3, with_mask=1, without_mask=1, unknown=1, ever=1, compliant=0.5)},
            # door's person 2 came without a mask and put it on: with_mask at last sighting, once non-compliant
            {"hour": "2024-05-01 11:00", **summary_row(3, with_mask=3, ever=1, compliant=1.0)}]
        assert summary["total"] == summary_row(6, with_mask=4, without_mask=1, unknown=1, ever=2, compliant=0.8)
        assert summary["events"] == 10
        assert store.summary(source="door")["total"] == summary_row(2, with_mask=2, ever=1, compliant=1.0)
        unknown_only = store.summary(source="cam", until=T0 + timedelta(minutes=1))
        assert unknown_only["total"] == summary_row(3, with_mask=2, unknown=1, compliant=1.0)  # unknown: not judged
        assert store.summary(kind="person_left", until=T0 + timedelta(minutes=30))["total"] == summary_row(1, unknown=1)
    _, out, _ = cli(str(tmp_path / "e.db"), "--summary")
    lines = out.splitlines()
    assert lines[0].split() == ["hour", "people", "last_with_mask", "last_without_mask", "last_unknown",
                                "compliant_at_last", "ever_non_compliant"]
    assert lines[1].split() == ["2024-05-01", "10:00", "3", "1", "1", "1", "50.0%", "1"]
    assert lines[3].split() == ["total", "6", "4", "1", "1", "80.0%", "2"]
    _, out, _ = cli(str(tmp_path / "e.db"), "--summary", "--json", "--source", "door")
    assert json.loads(out)["total"]["people"] == 2


def test_snapshots_reused_private_and_blurred(tmp_path: Path, astronaut_face: np.ndarray) -> None:
    face = astronaut_face.copy()
    with EventStore(tmp_path / "EVENTS.db") as store:
        first = store.add(event(face_image=face))
        same = store.add(event("mask_off", state="without_mask", frame=30, face_image=face))
        clearer = store.add(event("mask_on", frame=60, face_image=face.copy()))  # a new array: a new face
        other_video = store.add(event(source="clip2.mp4", face_image=face))  # same person id and frame
        off = store.add(event(person=2, face_image=None))
    with EventStore(tmp_path / "EVENTS.db", blur_snapshots=True) as store:
        blurred = store.add(event(face_image=face))
    folder = tmp_path / "EVENTS.snapshots"
    assert same.snapshot == first.snapshot != clearer.snapshot
    assert len({first.snapshot, clearer.snapshot, other_video.snapshot, blurred.snapshot}) == 4
    assert off.snapshot is None
    assert sorted(p.name for p in folder.iterdir()) == ["run1-p1-f60.jpg", "run1-p1-f7-2.jpg", "run1-p1-f7.jpg",
                                                        "run2-p1-f7.jpg"]
    assert os.stat(tmp_path / "EVENTS.db").st_mode & 0o777 == 0o600
    assert os.stat(folder).st_mode & 0o777 == 0o700
    assert {os.stat(p).st_mode & 0o777 for p in folder.iterdir()} == {0o600}
    stored = cv2.cvtColor(cv2.imread(first.snapshot), cv2.COLOR_BGR2RGB)
    assert stored.shape == face.shape and np.abs(stored.astype(int) - face).mean() < 8  # the face, as JPEG
    original, hidden = sharpness(Path(first.snapshot)), sharpness(Path(blurred.snapshot))
    assert hidden < 0.02 * original, (hidden, original)
    assert np.abs(cv2.imread(blurred.snapshot).astype(int) - cv2.imread(first.snapshot)).mean() > 15


def test_wal_files_are_private_too(tmp_path: Path) -> None:
    with EventStore(tmp_path / "e.db") as store:
        store.add(event())
        assert os.stat(tmp_path / "e.db-wal").st_mode & 0o777 == 0o600


def test_retention(tmp_path: Path, astronaut_face: np.ndarray) -> None:
    now = datetime.now().astimezone()
    old, recent = now - timedelta(days=40), now - timedelta(days=1)
    staying = astronaut_face.copy()  # person 2's face, unchanged from an old event to a recent one
    with EventStore(tmp_path / "EVENTS.db") as store:
        gone = store.add(event(person=1, at=old, face_image=astronaut_face.copy()))
        store.add(event("person_left", person=1, at=old, face_image=None))
        kept_file = store.add(event(person=2, at=old, face_image=staying)).snapshot
        store.add(event("mask_off", person=2, at=recent, state="without_mask", face_image=staying))
    assert Path(gone.snapshot).exists()
    with EventStore.open_existing(tmp_path / "EVENTS.db", readonly=False) as store:
        assert store.delete_older_than(now - timedelta(days=30)) == (3, 1)  # events, snapshot files
        assert [(e.kind, e.person, e.snapshot) for e in store.events()] == [("mask_off", 2, kept_file)]
    assert not Path(gone.snapshot).exists() and Path(kept_file).exists()
    code, out, err = cli(str(tmp_path / "EVENTS.db"), "--retain-days", "0.5", "--json")
    assert code == 0 and out == "" and "deleted 1 event(s) older than 0.5 days" in err
    assert "and 1 snapshot file(s) no kept event uses" in err
    assert not Path(kept_file).exists()


@pytest.mark.parametrize("damage", ["garbage", "truncated", "overwritten", "foreign", "directory", "empty"])
def test_refuses_what_is_not_an_event_store(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "EVENTS.db"
    if damage in ("truncated", "overwritten"):
        with EventStore(path, snapshots=False) as store:
            for i in range(60):
                store.add(event(person=i, source=f"{i}" * 1000))
        sqlite3.connect(path).execute("PRAGMA wal_checkpoint(TRUNCATE)").close()
        data = path.read_bytes()
        if damage == "truncated":
            path.write_bytes(data[: len(data) // 2])
        else:
            path.write_bytes(data[:8192] + np.random.default_rng(0).bytes(len(data) - 16384) + data[-8192:])
    elif damage == "garbage":
        path.write_bytes(np.random.default_rng(1).bytes(5000))
    elif damage == "foreign":
        db = sqlite3.connect(path)
        db.execute("CREATE TABLE users (name TEXT)")
        db.commit()
        db.close()
    elif damage == "directory":
        path.mkdir()
    else:
        path.touch()
    before = path.read_bytes() if path.is_file() else None
    for open_store in (EventStore.open_existing, EventStore):
        if damage == "empty" and open_store is EventStore:
            continue  # an empty file is a new store when writing
        with pytest.raises(EventStoreError) as caught, open_store(path) as store:
            store.events()
        message = str(caught.value)
        assert message.startswith(f"{path}: ") and "\n" not in message
        assert "not a maskwatch event store" in message or "cannot use the event store" in message
    if damage == "foreign":
        assert "another application" in message and "users" in message
        assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # untouched
    if before is not None and damage != "empty":
        assert path.read_bytes() == before


def test_missing_store(tmp_path: Path) -> None:
    with pytest.raises(EventStoreError, match="no such event store"):
        EventStore.open_existing(tmp_path / "none.db")
    assert not (tmp_path / "none.db").exists()


def test_cli_rejects_bad_options(tmp_path: Path) -> None:
    summary_store(tmp_path / "e.db")
    for bad in (["--since", "yesterday"], ["--until", "2024-13-01"], ["--retain-days", "0"],
                ["--retain-days", "nan"], ["--kind", "sneezed"]):
        code, out, err = cli(str(tmp_path / "e.db"), *bad)
        assert code == 2 and out == ""
        assert err.strip().splitlines()[-1].startswith("maskwatch events: error: argument"), err
    with pytest.raises(InvalidInput, match="--csv -"):
        cli(str(tmp_path / "e.db"), "--csv", "-", "--summary")
    _, out, _ = cli(str(tmp_path / "e.db"), "--since", "2024-05-01T09:15+01:00", "--until", "2024-05-01 11:00+02:00")
    assert len(out.splitlines()) == 1 + 5  # the 10:15-10:20 events, offsets in both forms


@pytest.mark.parametrize("damage", ["missing", "garbage", "foreign"])
def test_main_cli_one_line_error(tmp_path: Path, damage: str, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "EVENTS.db"
    if damage == "garbage":
        path.write_bytes(b"\x00\xffnot sqlite" * 100)
    elif damage == "foreign":
        sqlite3.connect(path).execute("CREATE TABLE t (x)").close()
    assert maskwatch.commands.main(["events", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"maskwatch events: error: {path}: ") and "\n" not in err and "Traceback" not in err


def test_main_cli_lists(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    summary_store(tmp_path / "e.db")
    assert maskwatch.commands.main(["events", str(tmp_path / "e.db"), "--summary", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["total"]["people"] == 6


WRITER = """
import sys, time
import numpy as np
from maskwatch.core.events import Event
from maskwatch.store import EventStore

face = np.full((64, 48, 3), 120, np.uint8)
store = EventStore(sys.argv[1])
for i in range(1, 100000):
    event = Event("person_appeared", i, "cam", i, i / 25, "2024-05-01T10:15:00.000+02:00", "with_mask",
                  (0.0, 0.0, 10.0, 10.0), 0.9, face_image=face if i % 3 == 0 else None)
    print(store.add(event).id, flush=True)
    time.sleep(0.002)
"""


def test_kill_9_loses_nothing_committed(tmp_path: Path) -> None:
    path = tmp_path / "EVENTS.db"
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert writer.poll() is None, "the writer died on its own"
            assert time.monotonic() < deadline, "the writer stored fewer than 5 events in 60 s"
            try:
                with EventStore.open_existing(path) as store:
                    if len(store.events()) >= 5:
                        break
            except EventStoreError:  # not created yet
                pass
            time.sleep(0.05)
        time.sleep(0.05)
        writer.send_signal(signal.SIGKILL)
        printed = [int(line) for line in writer.communicate(timeout=30)[0].split()]
    finally:
        writer.kill()
        writer.wait()
    assert writer.returncode == -signal.SIGKILL
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()
    with EventStore(path) as store:  # a new run appends after the last committed event
        events = store.events()
        ids = [e.id for e in events]
        assert len(ids) >= 5 and ids == list(range(1, len(ids) + 1))
        assert set(printed) <= set(ids)  # every add() that returned is there
        assert all(Path(e.snapshot).is_file() for e in events if e.snapshot)
        assert store.add(event()).id == len(ids) + 1


V1_EVENTS = """CREATE TABLE runs (run INTEGER PRIMARY KEY AUTOINCREMENT, started TEXT NOT NULL);
CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, run INTEGER NOT NULL, kind TEXT NOT NULL,
    person INTEGER NOT NULL, source TEXT NOT NULL, frame INTEGER NOT NULL, time REAL NOT NULL, wall_time TEXT NOT NULL,
    epoch REAL NOT NULL, state TEXT NOT NULL, x1 REAL NOT NULL, y1 REAL NOT NULL, x2 REAL NOT NULL, y2 REAL NOT NULL,
    confidence REAL, previous_state TEXT, frames_seen INTEGER, masked_share REAL, snapshot TEXT);
INSERT INTO runs (started) VALUES ('2024-05-01T10:00:00+02:00');
INSERT INTO events VALUES (1, 1, 'person_appeared', 1, 'cam', 7, 0.28, '2024-05-01T10:15:00.000+02:00', 1714551300,
    'with_mask', 10.5, 20.25, 110, 150.75, 0.93, NULL, NULL, NULL, NULL);
PRAGMA application_id = 1297304407; PRAGMA user_version = 1;"""


def test_a_store_of_schema_1_is_read_as_it_is_and_migrated_when_written(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    with sqlite3.connect(db) as raw:
        raw.executescript(V1_EVENTS)
    with EventStore.open_existing(db) as store:  # read-only: left at schema 1
        assert [(e.kind, e.duration_s) for e in store.events()] == [("person_appeared", None)]
    assert sqlite3.connect(db).execute("PRAGMA user_version").fetchone()[0] == 1
    with EventStore(db) as store:
        store.add(event("alert", state="without_mask", duration_s=3.25))
        assert [(e.id, e.kind, e.duration_s) for e in store.events()] == [(1, "person_appeared", None),
                                                                         (2, "alert", 3.25)]
    assert sqlite3.connect(db).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_outbox_cursors(tmp_path: Path) -> None:
    with EventStore(tmp_path / "events.db") as store:
        store.add(event(source="a"))
        assert store.cursor("mqtt:a") == 1 and store.pending("mqtt:a") == []  # a new target starts at the end
        for source in ("a", "b", "a"):
            store.add(event(source=source))
        assert [e.id for _, e in store.pending("mqtt:a", "a")] == [2, 4]
        assert [e.id for _, e in store.pending("web", limit=2)] == []  # created now: after event 4
        assert store.backlog("mqtt:a", "a") == 2 and store.backlog("mqtt:a") == 3
        store.acknowledge("mqtt:a", 2)
        store.acknowledge("mqtt:a", 1)  # an old acknowledgement never moves the cursor back
        assert [e.id for _, e in store.pending("mqtt:a", "a")] == [4]
    with EventStore(tmp_path / "events.db") as store:  # the cursor survives a restart
        assert store.cursor("mqtt:a") == 2 and [(run, e.id) for run, e in store.latest(2)] == [(1, 4), (1, 3)]


def test_a_third_class_counts_as_non_compliant(tmp_path: Path) -> None:
    db = tmp_path / "events.db"
    with EventStore(db) as store:
        store.add(event("person_appeared", 1, state="with_mask"))
        store.add(event("mask_off", 1, state="mask_weared_incorrect", previous_state="with_mask"))
        store.add(event("person_appeared", 2, state="with_mask"))
        store.add(event("person_appeared", 3, state="mask_weared_incorrect"))
        store.add(event("mask_off", 3, state="without_mask", previous_state="mask_weared_incorrect"))
        total = store.summary()["total"]
    assert total == summary_row(3, with_mask=1, without_mask=1, incorrect=1, ever=2, compliant=0.3333)
    code, out, _ = cli(str(db), "--summary")
    assert code == 0 and out.splitlines()[0].split() == [
        "hour", "people", "last_with_mask", "last_without_mask", "last_mask_weared_incorrect", "last_unknown",
        "compliant_at_last", "ever_non_compliant"]

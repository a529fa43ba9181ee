"""Nothing lost when `watch` or a camera worker is killed with SIGKILL: workers commit their own events, so
none waits in a pipe, and the persons a dead run left in view get their person_left when the camera's
worker starts again. Real watch processes, worker processes, SQLite files and a webhook receiver on
loopback; every wait bounded."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

from maskwatch.core.events import Event
from maskwatch.store import EventStore, process_identity
from tests.services import Watch, WebhookReceiver, door_clip, free_port, wait_until

WRITER = """
import sys, time
from maskwatch.core.events import Event
from maskwatch.store import EventStore

store = EventStore(sys.argv[1])
store.add(Event("person_appeared", 1, "cam", 5, 0.5, "2025-03-01T10:00:00.000+00:00", "without_mask", (1, 2, 30, 40),
                0.97))
print(store.run, flush=True)
time.sleep(60)
"""


def persons(store: Path) -> dict[tuple[int, str, int], list[str]]:
    """(run, camera, person) -> the kinds of their events, in order."""
    found = defaultdict(list)
    with EventStore.open_existing(store) as events:
        for run, event in events.events_with_run():
            found[(run, event.source, event.person)].append(event.kind)
    return dict(found)


def stored_ids(store: Path) -> list[int]:
    with EventStore.open_existing(store) as events:
        return [event.id for event in events.events()]


def open_runs(store: Path) -> list[int]:
    with sqlite3.connect(store) as db:
        return [row[0] for row in db.execute("SELECT run FROM runs WHERE closed IS NULL")]


def first_seen(events: list[dict]) -> list[int]:
    return list(dict.fromkeys(event["id"] for event in events))


def gone(pid: int) -> bool:
    return process_identity(pid) is None


def site(folder: Path, cameras: tuple[str, ...], hook: WebhookReceiver) -> tuple[Path, int]:
    clip = door_clip(folder / "door.mp4")  # 2 s of a bare face, then 1.5 s of nobody, looped
    port = free_port()
    config = folder / "site.toml"
    config.write_text(f'store = "events.db"\n[http]\nport = {port}\n'
                      + "".join(f'[[camera]]\nname = "{c}"\nsource = "{clip.name}"\nloop = true\n' for c in cameras)
                      + f'[[alert]]\nstate = "without_mask"\nafter_s = 0.5\n[[webhook]]\nurl = "{hook.url}"\n')
    return config, port


def test_a_dead_writers_open_persons_are_closed_once_a_live_writers_never(tmp_path: Path) -> None:
    db = tmp_path / "events.db"
    with EventStore(db) as store:  # a run that closed cleanly, with someone never seen leaving: left alone
        store.add(Event("person_appeared", 1, "cam", 1, 0.1, "2025-03-01T09:00:00+00:00", "with_mask", (0, 0, 9, 9),
                        0.9))
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(db)], stdout=subprocess.PIPE, text=True)
    try:
        run = int(writer.stdout.readline())
        with EventStore(db) as store:
            assert store.close_abandoned("cam") == []  # its writer runs: it records its own person_left
    finally:
        writer.kill()
        writer.wait(10)
    with sqlite3.connect(db) as raw:
        for pid, start in ((None, None), (os.getpid(), "other-boot/1")):  # a run from before schema 3, which
            # says nothing of its writer: left alone; and one whose pid is ours but not its start: a reused pid
            raw.execute("INSERT INTO runs (started, writer_pid, writer_start) VALUES ('2025-03-01', ?, ?)",
                        (pid, start))
            raw.execute("INSERT INTO events (run, kind, person, source, frame, time, wall_time, epoch, state, x1, "
                        "y1, x2, y2) SELECT MAX(run), 'alert', 4, 'cam', 9, 0.9, '2025-03-01T11:00:00.000+00:00', 0, "
                        "'without_mask', 0, 0, 1, 1 FROM runs")
    with EventStore(db) as store:
        closed = store.close_abandoned("cam")
        assert store.close_abandoned("cam") == []
    assert [(e.kind, e.person, e.state, e.box, e.wall_time) for e in closed] == [
        ("person_left", 1, "without_mask", (1, 2, 30, 40), "2025-03-01T10:00:00.000+00:00"),
        ("person_left", 4, "without_mask", (0, 0, 1, 1), "2025-03-01T11:00:00.000+00:00")]
    assert persons(db)[(run, "cam", 1)] == ["person_appeared", "person_left"]
    assert persons(db)[(1, "cam", 1)] == ["person_appeared"]
    assert persons(db)[(run + 1, "cam", 4)] == ["alert"]
    assert open_runs(db) == [run + 1]


def test_kill_9_of_watch_again_and_again_every_person_leaves_once_and_all_is_delivered(tmp_path: Path) -> None:
    hook = WebhookReceiver()
    config, port = site(tmp_path, ("door", "hall"), hook)
    store, workers = tmp_path / "events.db", []
    try:
        for _ in range(3):  # killed while someone is in view of every camera; started again at once
            watch = Watch(config, port=port)
            try:
                watch.wait_running()
                cameras = wait_until(lambda w=watch: (c := w.cameras()) and all(v["in_view"] for v in c.values()) and c,
                                     20, "someone in view of every camera")
                workers += [c["pid"] for c in cameras.values()]
            finally:
                killed = watch.stop(signal.SIGKILL)
            assert killed == -signal.SIGKILL
        watch = Watch(config, port=port)
        try:
            watch.wait_running()
            wait_until(lambda: all(gone(pid) for pid in workers), 30, "the orphaned workers to finish")
            wait_until(lambda: stored_ids(store) == first_seen(hook.events()), 30, "every event delivered")
            assert watch.stop() == 0
        finally:
            if watch.process.poll() is None:
                watch.stop(signal.SIGKILL)
        assert first_seen(hook.events()) == stored_ids(store)  # all of them, in order
    finally:
        hook.close()
    people = persons(store)
    for key, kinds in people.items():
        assert kinds[0] == "person_appeared" and kinds.count("person_appeared") == 1, (key, kinds)
        assert kinds[-1] == "person_left" and kinds.count("person_left") == 1, (key, kinds)
    assert len({run for run, _, _ in people}) >= 6  # a run each of 2 cameras per watch (the last's may have none)
    assert open_runs(store) == []


def test_persons_of_a_sigkilled_worker_get_their_person_left_when_it_restarts(tmp_path: Path) -> None:
    hook = WebhookReceiver()
    config, port = site(tmp_path, ("door",), hook)
    store = tmp_path / "events.db"
    watch = Watch(config, port=port)
    try:
        watch.wait_running()
        pid = watch.cameras()["door"]["pid"]
        in_view = wait_until(lambda: [k for k, kinds in persons(store).items() if "person_left" not in kinds], 20,
                             "a person in view, recorded")
        os.kill(pid, signal.SIGKILL)
        wait_until(lambda: watch.cameras()["door"]["restarts"] == 1, 20, "the worker to restart")
        wait_until(lambda: persons(store)[in_view[0]][-1] == "person_left", 20, "the person_left of the killed run")
        kinds = persons(store)[in_view[0]]
        assert kinds.count("person_appeared") == 1 and kinds.count("person_left") == 1, kinds
        assert "recorded the person_left of 1 person(s) a dead run left in view" in watch.text()
        assert in_view[0][0] not in open_runs(store)
        wait_until(lambda: stored_ids(store) == first_seen(hook.events()), 30, "every event delivered")
        time.sleep(0.5)
        assert watch.stop() == 0
    finally:
        if watch.process.poll() is None:
            watch.stop(signal.SIGKILL)
        hook.close()
    assert first_seen(hook.events()) == stored_ids(store)

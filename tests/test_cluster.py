"""`detect --ray` on a real two-node Ray cluster on this machine: the same outputs as one process, a killed
worker's file done again, a rerun that skips finished files, and no Ray at all without --ray."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import pytest
from skimage import data

import maskwatch.commands
from maskwatch.store import EventStore
from tests.services import door_clip, wait_until

ray = pytest.importorskip("ray", reason="ray is not installed (pip install -e '.[cluster]')")
MiB = 2**20


@pytest.fixture(scope="session")
def cluster() -> Iterator[str]:
    """Two Ray nodes of one CPU each, started once for the session; yields the address to join."""
    from ray.cluster_utils import Cluster

    nodes = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "object_store_memory": 256 * MiB})
    nodes.add_node(num_cpus=1, object_store_memory=256 * MiB)
    nodes.wait_for_nodes()
    ray.init(address=nodes.address, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        yield nodes.address
    finally:
        ray.shutdown()
        nodes.shutdown()


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four short videos of a door (a bare face passes), a photo, and a file that is not an image."""
    root = tmp_path_factory.mktemp("archive")
    for i, seconds in enumerate((2.0, 3.0, 2.5, 3.5)):
        door_clip(root / f"cam{i}.mp4", fps=10.0, seconds_in=seconds, seconds_out=1.5, size=(480, 360))
    cv2.imwrite(str(root / "photo.jpg"), cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR))
    (root / "notes.jpg").write_text("not an image")
    return root


def detect(archive: Path, out: Path, *extra: str) -> int:
    return maskwatch.commands.main(["-q", "detect", str(archive), "--preset", "fast", "--json",
                                    str(out / "faces.jsonl"), "--events", str(out / "events.db"), "--summary",
                                    str(out / "summary.json"), *extra])


def outputs(out: Path) -> tuple[list, list, dict]:
    """What must match between runs: records (events without wall-clock times and file names of
    snapshots), stored events, and the summary without timings."""
    records = []
    for line in (out / "faces.jsonl").read_text().splitlines():
        record = json.loads(line)
        for event in record["events"]:
            event.pop("wall_time")
            event["snapshot"] = event["snapshot"] is not None  # a path below each run's own output folder
        records.append(record)
    with EventStore.open_existing(out / "events.db") as store:
        events = [(e.kind, e.person, e.source, e.frame, e.state, e.snapshot is not None) for e in store.events()]
    summary = json.loads((out / "summary.json").read_text())
    for timing in ("seconds", "fps"):
        summary.pop(timing)
    return records, events, summary


@pytest.fixture(scope="module")
def reference(archive: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple:
    out = tmp_path_factory.mktemp("single")
    assert detect(archive, out) == 1  # notes.jpg is reported, the rest is done
    return outputs(out)


def test_outputs_equal_a_single_process_run(cluster: str, archive: Path, reference: tuple, tmp_path: Path,
                                            capsys: pytest.CaptureFixture) -> None:
    assert detect(archive, tmp_path, "--ray", cluster) == 1
    assert "failed: " in capsys.readouterr().err
    records, events, summary = outputs(tmp_path)
    assert [(r["source"], r["frame"]) for r in records] == [(r["source"], r["frame"]) for r in reference[0]]
    assert (records, events, summary) == reference
    assert summary["failures"] == [f"{archive / 'notes.jpg'}: not a readable image"]
    assert any(kind == "person_appeared" for kind, *_ in events)


def _actor_pids(name: bytes) -> list[int]:
    """Processes whose command line (Ray sets it to ray::Class.method) contains `name`."""
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and name in (proc / "cmdline").read_bytes():
                pids.append(int(proc.name))
        except OSError:
            continue
    return pids


def test_a_killed_worker_is_retried_and_the_outputs_are_complete(cluster: str, archive: Path, reference: tuple,
                                                                 tmp_path: Path) -> None:
    killed: list[int] = []

    def kill_one() -> None:
        pids = wait_until(lambda: _actor_pids(b"ray::FileWorker.run"), 60, "a Ray worker running a file")
        os.kill(pids[0], signal.SIGKILL)
        killed.append(pids[0])

    killer = threading.Thread(target=kill_one, daemon=True)
    killer.start()
    assert detect(archive, tmp_path, "--ray", cluster) == 1
    killer.join(5)
    assert killed, "no worker was killed"
    assert outputs(tmp_path) == reference


@contextmanager
def held_at_open(path: Path) -> Iterator[Callable[[], bool]]:
    """Make every other process that opens `path` wait in open() until the block ends (a Linux write
    lease); yields a check that is true once someone is waiting. Needs no other process to have it open."""
    previous = signal.signal(signal.SIGIO, signal.SIG_IGN)  # the kernel tells the holder by SIGIO
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_WRLCK)
        yield lambda: fcntl.fcntl(fd, fcntl.F_GETLEASE) != fcntl.F_WRLCK  # a break is pending
    finally:
        os.close(fd)
        signal.signal(signal.SIGIO, previous)


def test_a_rerun_after_a_crash_skips_finished_files(cluster: str, archive: Path, reference: tuple,
                                                    tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    manifest = tmp_path / "faces.jsonl.manifest"
    command = [sys.executable, "-m", "maskwatch", "-q", "detect", str(archive), "--preset", "fast", "--json",
               str(tmp_path / "faces.jsonl"), "--events", str(tmp_path / "events.db"), "--summary",
               str(tmp_path / "summary.json"), "--ray", cluster]

    def finished() -> list[str]:
        return [json.loads(line)["file"] for line in manifest.read_text().splitlines() if '"kind": "file"' in line]

    driver = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # The crash lands mid-run for sure: the third file stays unopened until the driver is killed, so
        # the two before it finish and nothing after it can (outputs are written in order).
        wait_until(lambda: manifest.exists() and '"kind": "run"' in manifest.read_text(), 120,
                   "the driver to check its files and start")
        with held_at_open(archive / "cam2.mp4") as waiting:
            wait_until(lambda: waiting() and len(finished()) == 2, 120, "cam0 and cam1 done, cam2 waiting")
            driver.send_signal(signal.SIGKILL)
            driver.wait(30)
    finally:
        if driver.poll() is None:
            driver.kill()
    assert finished() == [str(archive / "cam0.mp4"), str(archive / "cam1.mp4")]
    started = time.monotonic()
    assert detect(archive, tmp_path, "--ray", cluster) == 1
    assert outputs(tmp_path) == reference  # nothing lost, nothing twice
    lines = [json.loads(line) for line in manifest.read_text().splitlines()]
    assert sorted(line["file"] for line in lines if line["kind"] == "file") == sorted(
        str(p) for p in archive.iterdir())
    assert time.monotonic() - started < 600
    # and once more: everything is finished, nothing is run again, the outputs stay
    assert maskwatch.commands.main(["detect", str(archive), "--json", str(tmp_path / "faces.jsonl"), "--events",
                               str(tmp_path / "events.db"), "--summary", str(tmp_path / "summary.json"),
                               "--ray", cluster]) == 1
    assert outputs(tmp_path) == reference


def test_detect_without_ray_never_imports_ray(tmp_path: Path) -> None:
    image = tmp_path / "a.jpg"
    cv2.imwrite(str(image), cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR))
    code = ("import sys; from maskwatch.commands import main; "
            f"code = main(['-q', 'detect', {str(image)!r}, '--json', {str(tmp_path / 'f.jsonl')!r}]); "
            "assert code == 0 and 'ray' not in sys.modules, sorted(m for m in sys.modules if 'ray' in m)")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_ray_refuses_cameras_and_show(cluster: str, capsys: pytest.CaptureFixture) -> None:
    assert maskwatch.commands.main(["detect", "http://127.0.0.1:9/live.mjpg", "--ray", cluster]) == 2
    assert "--ray runs folders and files" in capsys.readouterr().err


def test_watch_runs_cameras_as_ray_actors_restarted_when_killed(cluster: str, tmp_path: Path) -> None:
    from tests.services import Watch, WebhookReceiver, free_port

    clip = door_clip(tmp_path / "door.mp4")
    hook, port = WebhookReceiver(), free_port()
    config = tmp_path / "site.toml"
    config.write_text(f'store = "events.db"\n[http]\nport = {port}\n'
                      + "".join(f'[[camera]]\nname = "{n}"\nsource = "{clip.name}"\nloop = true\n' for n in ("a", "b"))
                      + f'[[webhook]]\nurl = "{hook.url}"\n')
    watch = Watch(config, port=port, extra=["--ray", cluster])
    try:
        watch.wait_running(120)
        before = watch.cameras()
        assert all(c["node"] for c in before.values())
        os.kill(before["a"]["pid"], signal.SIGKILL)
        after = wait_until(lambda: (c := watch.cameras())["a"]["restarts"] == 1 and c["a"]["state"] == "running"
                           and c["a"]["frames"] > before["a"]["frames"] and c, 120, "Ray to restart camera a")
        assert after["a"]["pid"] != before["a"]["pid"] and after["b"]["pid"] == before["b"]["pid"]
        wait_until(lambda: {"person_appeared", "person_left"} <= {e["kind"] for e in hook.events()}, 60,
                   "events from the actors, through the store, to the webhook")
        assert watch.stop() == 0
        with EventStore.open_existing(tmp_path / "events.db") as store:
            recorded = [e.id for e in store.events()]
        wait_until(lambda: len({e["id"] for e in hook.events()}) == len(recorded), 20, "every event delivered")
        assert [e["id"] for e in hook.events()] == recorded
    finally:
        if watch.process.poll() is None:
            watch.stop(signal.SIGKILL)
        hook.close()


@pytest.mark.parametrize(("address", "message"), [
    ("127.0.0.1:1", "--ray 127.0.0.1:1: no Ray cluster answers there"),
    ("nonsense", "--ray nonsense: give auto, HOST:PORT"),
])
def test_a_bad_cluster_address_is_a_one_line_error_at_once(archive: Path, tmp_path: Path, address: str,
                                                           message: str) -> None:
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "maskwatch", "detect", str(archive), "--json",
                             str(tmp_path / "faces.jsonl"), "--ray", address], capture_output=True, text=True,
                            timeout=120)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and lines[0].startswith(f"maskwatch detect: error: {message}")
    assert time.monotonic() - started < 60 and not list(tmp_path.iterdir())  # nothing written

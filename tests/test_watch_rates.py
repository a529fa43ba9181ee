"""What `watch` says about a camera: its frame rate (/metrics, the page's /api/cameras and the retained MQTT
status read frames over a time window, not an average of 1/dt that one near-zero gap sends into the
hundreds), the compliance of the people in view (no sample rather than NaN when nobody is judged), and the
people in view, which are those the live view draws. Real watch, broker, worker processes and store."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
from prometheus_client import generate_latest

from maskwatch.io import rate
from maskwatch.io.annotate import COLOURS
from maskwatch.io.rate import WINDOW_S, RateMeter
from maskwatch.monitor import worker
from maskwatch.monitor.config import load
from maskwatch.monitor.prometheus import registry
from maskwatch.monitor.supervisor import ProcessSupervisor, Supervisor
from tests.services import MOSQUITTO, Mosquitto, Subscriber, Watch, door_clip, free_port, wait_until

BACKGROUND = 90  # door_clip's grey: a view with nobody in it is this
DRAWN_PIXELS = 1000  # a box and its tag are 2,600 pixels or more of the state's colour; noise is under 100


def samples(text: str, name: str) -> dict[str, float]:
    """camera -> value of a metric's samples, as Prometheus prints them."""
    found = {}
    for line in text.splitlines():
        if line.startswith(f"{name}{{"):
            labels, value = line.rsplit(" ", 1)
            found[labels.split('camera="', 1)[1].split('"', 1)[0]] = float(value)
    return found


@pytest.mark.skipif(MOSQUITTO is None, reason="mosquitto is not installed (./install.sh --dev installs it)")
def test_a_15_fps_camera_reads_15_fps_on_metrics_the_page_and_mqtt(tmp_path: Path) -> None:
    # 384x288 with the accurate preset, detecting every 8th frame: a detection takes longer than a frame's time
    # (90 ms here), so the next frame waits and is taken at once: the near-zero gaps that made 15 fps read 30-840.
    clip = door_clip(tmp_path / "door15.mp4", fps=15.0, size=(384, 288))
    assert cv2.VideoCapture(str(clip)).get(cv2.CAP_PROP_FPS) == 15
    broker = Mosquitto(tmp_path / "broker")
    broker.start()
    subscriber = Subscriber(broker.port, "rates-subscriber")
    port = free_port()
    config = tmp_path / "site.toml"
    config.write_text(f'store = "events.db"\n[http]\nport = {port}\n[[camera]]\nname = "door"\nsource = "{clip.name}"'
                      f'\nloop = true\npreset = "accurate"\ndetect_every = 8\n[mqtt]\nport = {broker.port}\n')
    watch = Watch(config, port=port)
    try:
        watch.wait_running()
        time.sleep(3)  # past the first detections (slower while the model warms up)
        before = watch.cameras()["door"]
        time.sleep(WINDOW_S + 1)  # then every reading's window (and the worker's last status) is of frames after it
        metrics, page, warm = [], [], len(subscriber.messages)
        started = time.monotonic()
        while time.monotonic() - started < 11:  # two or three retained statuses, every 5 s
            metrics.append(samples(watch.get("/metrics").text, "maskwatch_frames_per_second")["door"])
            page.append(watch.cameras()["door"]["fps"])
            time.sleep(0.5)
        statuses = [p["fps"] for t, p in list(subscriber.messages)[warm:] if t == "maskwatch/door/status"]
        after = watch.cameras()["door"]
        assert watch.stop() == 0
    finally:
        if watch.process.poll() is None:
            watch.stop()
        subscriber.close()
        broker.stop()
    readings = {"/metrics": metrics, "/api/cameras": page, "MQTT status": statuses}
    assert len(statuses) >= 2
    for where, values in readings.items():  # never more than the camera gives, however busy the machine
        assert all(0 < fps <= 17 for fps in values), (where, values)
    assert after["frames"] - before["frames"] > 100
    # how much a worker that keeps up (or does not) reads, whatever this machine's load: the next test


class Clock:
    """time.monotonic for the worker and its rate meter, moved by the test."""

    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now


def paced_camera(clock: Clock, report, seconds: float, fps: float, work: Callable[[int], float]) -> list[dict]:
    """The worker's status messages for `seconds` of a camera giving a frame every 1/fps s, from now on, to a
    worker that takes the newest frame whenever it is free (those replaced meanwhile are dropped) and spends
    work(i) s on its i-th; each with the time it was sent and whether a whole window of frames is behind it."""
    start, taken, dropped, done, messages = clock.now, -1, 0, 0, []
    next_status = start
    while True:
        newest = max(int((clock.now - start) * fps + 1e-9), taken + 1)  # or wait for the next one
        if newest / fps > seconds:
            return messages
        clock.now = max(clock.now, start + newest / fps)
        dropped, taken = dropped + newest - taken - 1, newest
        clock.now += work(done)
        done += 1
        report.step(SimpleNamespace(still=False, events=[]))
        if clock.now >= next_status:
            next_status = clock.now + worker.STATUS_EVERY_S
            messages.append({**report.message(grab(dropped)), "warm": clock.now - start > WINDOW_S + 1})


def grab(dropped: int) -> SimpleNamespace:
    """What the worker's status reads of its LatestFrame."""
    return SimpleNamespace(dropped=dropped, source=SimpleNamespace(reconnected=0, gap_s=0.0))


def test_the_worker_reads_the_frames_it_processed_a_second_on_metrics_and_the_page(tmp_path, monkeypatch) -> None:
    clock = Clock()
    monkeypatch.setattr(worker, "time", clock)  # the worker's clock and its rate meter's
    monkeypatch.setattr(rate, "time", clock)
    config = tmp_path / "site.toml"
    config.write_text('store = "events.db"\n[[camera]]\nname = "door"\nsource = "rtsp://cam/door"\n')
    supervisor = Supervisor(load(config))

    def shown(messages: list[dict]) -> list[tuple[float, float, float]]:
        """Each warm status as the worker sent it, on /metrics and on /api/cameras (as the retained MQTT status)."""
        readings = []
        for message in messages:
            supervisor.handle("door", {k: v for k, v in message.items() if k != "warm"})
            if message["warm"]:
                metric = samples(generate_latest(registry(supervisor, [])).decode(), "maskwatch_frames_per_second")
                readings.append((message["fps"], metric["door"], supervisor.status["door"].to_json()["fps"]))
        return readings

    try:
        # 15 fps; detection every 8th frame takes 90 ms, longer than a frame's time, so the frame after it is
        # taken at once (the 5 ms gaps that sent an average of 1/dt into the hundreds): nothing is skipped
        report = worker._Report()
        kept_up = paced_camera(clock, report, 30, 15.0, lambda i: 0.090 if i % 8 == 0 else 0.005)
        assert sum(m["counts"].get("dropped", 0) for m in kept_up) == 0
        readings = shown(kept_up)
        assert len(readings) >= 20
        assert all(14.5 <= fps <= 15.5 and fps == metric == page for fps, metric, page in readings), readings
        # a busy worker, 100 ms a frame: it processes 10 of the camera's 15 a second, skips the rest, reads 10
        busy = paced_camera(clock, report, 30, 15.0, lambda i: 0.100)
        dropped = sum(m["counts"].get("dropped", 0) for m in busy)
        frames = sum(m["counts"].get("frames", 0) for m in busy)
        assert 0.3 <= dropped / (frames + dropped) <= 0.37, (dropped, frames)
        readings = shown(busy)
        assert len(readings) >= 20
        assert all(9.5 <= fps <= 10.5 and fps == metric == page for fps, metric, page in readings), readings
        # a source that stops: after NO_FRAMES_S without a frame, 0 and "no frames", not its last rate
        clock.now += worker.NO_FRAMES_S - 0.5
        assert report.message(grab(0))["fps"] > 0
        clock.now += 1
        supervisor.handle("door", report.message(grab(0)))
        assert (supervisor.status["door"].state, supervisor.status["door"].fps) == ("no frames", 0.0)
        assert samples(generate_latest(registry(supervisor, [])).decode(), "maskwatch_frames_per_second") == {"door": 0}
    finally:
        supervisor.store.close()


def test_compliance_ratio_has_no_sample_for_a_camera_with_nobody_judged_in_view(tmp_path: Path) -> None:
    config = tmp_path / "site.toml"
    config.write_text('store = "events.db"\n' + "".join(f'[[camera]]\nname = "{name}"\nsource = "rtsp://cam/{name}"\n'
                                                        for name in ("hall", "empty", "unsure")))
    supervisor = Supervisor(load(config))
    try:
        supervisor.status["hall"].in_view = {"with_mask": 1, "without_mask": 3}
        supervisor.status["unsure"].in_view = {"unknown": 2}  # in view, but no one judged yet
        text = generate_latest(registry(supervisor, [])).decode()
    finally:
        supervisor.store.close()
    assert samples(text, "maskwatch_compliance_ratio") == {"hall": 0.25}
    assert "NaN" not in text
    assert samples(text, "maskwatch_people_in_view")  # the cameras themselves are still there
    assert "no sample" in text  # the HELP line says so


class ViewRecorder(ProcessSupervisor):
    """The real supervisor, noting after each message what the page would show: the view and the people
    in view."""

    shown: list[tuple[bytes | None, dict[str, int]]]

    def handle(self, name: str, message: dict) -> None:
        super().handle(name, message)
        status = self.status[name]
        self.shown.append((status.jpeg, dict(status.in_view)))


def rgb(image_bgr: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB)


def state_pixels(image: np.ndarray) -> dict[str, int]:
    """Pixels of each state's box colour."""
    return {state: int(np.all(np.abs(image.astype(int) - colour) <= 20, axis=2).sum())
            for state, colour in COLOURS.items() if state}


def drawn_states(jpeg: bytes, frames: dict[bool, dict[str, int]]) -> set[str]:
    """The states whose boxes and tags a view of the door clip draws: their colours beyond what the clip's
    own frame (with the face or without) holds of them."""
    image = rgb(cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR))
    face = float(np.mean(np.abs(image.astype(int) - BACKGROUND).max(axis=2) > 30)) > 0.2
    return {state for state, n in state_pixels(image).items() if n - frames[face][state] > DRAWN_PIXELS}


def test_people_in_view_are_those_the_live_view_draws(tmp_path: Path) -> None:
    clip = door_clip(tmp_path / "door.mp4")  # 2 s of a bare face, 1.5 s of nobody, looped
    capture = cv2.VideoCapture(str(clip))
    first = last = rgb(capture.read()[1])
    while (frame := capture.read())[0]:
        last = rgb(frame[1])
    frames = {True: state_pixels(first), False: state_pixels(last)}
    config = tmp_path / "site.toml"
    config.write_text(f'store = "events.db"\n[[camera]]\nname = "door"\nsource = "{clip.name}"\nloop = true\n')
    supervisor = ViewRecorder(load(config))
    supervisor.shown = []
    supervisor.start()
    try:
        wait_until(lambda: supervisor.status["door"].counts["frames"] > 0, 60, "the worker to process frames")
        time.sleep(10)  # about 3 passes: 6 times someone comes or goes
    finally:
        supervisor.stop()
    views = [(jpeg, in_view) for jpeg, in_view in supervisor.shown if jpeg is not None]
    # views of the empty doorway are alike to the byte (the live view draws no fps of its own)
    assert len(views) >= 15 and len({jpeg for jpeg, _ in views}) >= 5
    drawn = [drawn_states(jpeg, frames) for jpeg, _ in views]
    assert {"without_mask"} in drawn and set() in drawn  # the astronaut, bare-faced, comes and goes
    disagree = [(in_view, states) for (_, in_view), states in zip(views, drawn, strict=True) if set(in_view) != states]
    assert not disagree, f"{len(disagree)} of {len(views)} times the page's people in view were not what its view drew"


def test_the_rate_meter_reads_frames_over_its_window_whatever_the_gaps() -> None:
    meter = RateMeter(window_s=3.0)
    for i in range(150):  # 15 fps on average, in pairs 1 ms apart: the gaps that sent an average of 1/dt to 500
        meter.tick(i // 2 * 2 / 15 + (i % 2) * 0.001)
    assert 14.5 <= meter.rate(10.0) <= 15.5
    assert meter.rate(20.0) == 0.0  # a source that stopped reads 0 once the window has passed

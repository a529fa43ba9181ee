"""How many 640x480 cameras at 15 fps one machine sustains with `maskwatch watch` (`fast` preset), and
whether motion gating misses an alert.

Each camera replays its own 20 s clip at 15 fps, as a camera delivers frames: a still, noisy corridor
where a bare face walks across for 2 s (people in view 10% of the time), at a moment of the loop that
differs from camera to camera, so visits do not all come at once. An alert rule (without_mask for 0.5 s)
should fire once per visit. For each camera count, after a warm-up, the script measures each camera's
processed frames per second, the frames it skipped and those it found still (not looked at), from
watch's own /api/cameras, and counts the alerts in the store against the visits the window held.
A camera keeps up when it processes >= 95% of its frames.

    python benchmarks/watch_cameras.py --counts 8 16 24 --seconds 60
    python benchmarks/watch_cameras.py --counts 4 8 --no-gate        # detection as before, for comparison
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import cv2
import numpy as np
from skimage import data

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' helpers for real services

from maskwatch.store import EventStore
from tests.services import Watch, free_port

FPS = 15.0
LOOP_S = 20.0
VISIT_S = 2.0  # 10% of the loop
KEEPS_UP = 0.95


def corridor_clip(path: Path, start_s: float) -> Path:
    """LOOP_S of a noisy still corridor; the astronaut's head walks across from `start_s` for VISIT_S."""
    rng = np.random.default_rng(int(start_s * 1000))
    wall = cv2.cvtColor(cv2.GaussianBlur(cv2.resize(data.coffee(), (640, 480)), (0, 0), 6), cv2.COLOR_RGB2BGR)
    head = cv2.cvtColor(cv2.resize(data.astronaut()[0:260, 90:330], (150, 162), interpolation=cv2.INTER_AREA),
                        cv2.COLOR_RGB2BGR)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (640, 480))
    first, frames = round(start_s * FPS), round(VISIT_S * FPS)
    for i in range(round(LOOP_S * FPS)):
        frame = np.clip(wall.astype(np.int16) + rng.normal(0, 2.0, wall.shape), 0, 255).astype(np.uint8)
        if first <= i < first + frames:
            x = 40 + (i - first) * (440 // frames)
            frame[150:312, x:x + 150] = head
        writer.write(frame)
    writer.release()
    return path


def measure(folder: Path, count: int, seconds: float, warmup: float, gate: bool) -> dict:
    port = free_port()
    cameras = ""
    for i in range(count):
        clip = corridor_clip(folder / f"corridor{i}.mp4", (i * 7.3) % (LOOP_S - VISIT_S))
        cameras += (f'[[camera]]\nname = "cam{i}"\nsource = "{clip.name}"\nloop = true\npreset = "fast"\n'
                    f"motion_gate = {str(gate).lower()}\n")
    store = folder / f"cameras{count}{'' if gate else '-ungated'}.db"
    config = folder / f"{store.stem}.toml"
    config.write_text(f'store = "{store.name}"\n[http]\nport = {port}\n{cameras}'
                      '[[alert]]\nstate = "without_mask"\nafter_s = 0.5\ncooldown_s = 60\n')
    watch = Watch(config, port=port)
    try:
        watch.wait_running(300)
        time.sleep(warmup)
        start, t0, since = watch.cameras(), time.monotonic(), datetime.now().astimezone()
        time.sleep(seconds)
        end, t1, until = watch.cameras(), time.monotonic(), datetime.now().astimezone()
    finally:
        watch.stop()
    with EventStore(store) as events:
        alerts = events.events_with_run(kind="alert", since=since, until=until)
        seen = events.events_with_run(kind="person_appeared", since=since, until=until)
    per_camera = []
    for name in sorted(end):
        frames = end[name]["frames"] - start[name]["frames"]
        dropped = end[name]["dropped"] - start[name]["dropped"]
        still = end[name]["still"] - start[name]["still"]
        per_camera.append({"camera": name, "fps": frames / (t1 - t0), "dropped": dropped,
                           "dropped_share": dropped / max(frames + dropped, 1), "still_share": still / max(frames, 1),
                           "alerts": sum(e.source == name for _, e in alerts),
                           "visits_seen": sum(e.source == name for _, e in seen)})
    visits = int((t1 - t0) // LOOP_S) * count  # whole loops in the window: at least this many visits
    worst = min(c["fps"] for c in per_camera)
    total_alerts = sum(c["alerts"] for c in per_camera)
    return {"cameras": count, "gate": gate, "seconds": round(t1 - t0, 1), "min_fps": worst,
            "mean_fps": sum(c["fps"] for c in per_camera) / count,
            "dropped_share": max(c["dropped_share"] for c in per_camera),
            "still_share": sum(c["still_share"] for c in per_camera) / count,
            "keeps_up": worst >= KEEPS_UP * FPS, "alerts": total_alerts, "visits_at_least": visits,
            "missed_alerts": max(0, visits - total_alerts), "per_camera": per_camera}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--counts", type=int, nargs="+", default=[8, 16, 24])
    parser.add_argument("--seconds", type=float, default=60.0, help="measured window per count")
    parser.add_argument("--warmup", type=float, default=15.0)
    parser.add_argument("--no-gate", dest="gate", action="store_false", help="detection without motion gating")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="maskwatch-cameras-") as tmp:
        results = []
        for count in args.counts:
            results.append(measure(Path(tmp), count, args.seconds, args.warmup, args.gate))
            r = results[-1]
            print(f"{count} camera(s){'' if args.gate else ' without gating'}: {r['min_fps']:.1f}-"
                  f"{max(c['fps'] for c in r['per_camera']):.1f} fps each (source {FPS:g}), dropped up to "
                  f"{100 * r['dropped_share']:.1f}%, still {100 * r['still_share']:.0f}% of frames; "
                  f"{r['alerts']} alerts for at least {r['visits_at_least']} visits -> "
                  f"{'keeps up' if r['keeps_up'] else 'falls behind'}", file=sys.stderr, flush=True)
    sustained = max((r["cameras"] for r in results if r["keeps_up"] and not r["missed_alerts"]), default=0)
    if args.json:
        print(json.dumps({"source_fps": FPS, "sustained": sustained, "results": results}))
    else:
        print(f"sustained: {sustained} camera(s) of 640x480 at {FPS:g} fps, people in view 10% of the time, fast "
              f"preset{'' if args.gate else ', no motion gating'} (each processing >= {100 * KEEPS_UP:.0f}% of its "
              "frames, no alert missed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

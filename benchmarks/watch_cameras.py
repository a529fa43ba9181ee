"""How many 640x480 cameras at 15 fps one machine sustains with `maskwatch watch` and the `fast` preset.

For each camera count N, runs `maskwatch watch` with N file cameras that replay a 15 fps clip of a door
(a bare face walks in for 2 s, then nobody for 1.5 s) at its own rate, as a camera delivers frames; after
a warm-up, measures each camera's processed frames per second and the frames it had to skip, from the
watch's own /api/cameras, over the same window. A camera keeps up when it processes >= 95% of the frames.

    python benchmarks/watch_cameras.py --counts 1 2 3 4 6 --seconds 30
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' helpers for real services

from tests.services import Watch, door_clip, free_port

FPS = 15.0
KEEPS_UP = 0.95


def measure(folder: Path, clip: Path, count: int, seconds: float, warmup: float) -> dict:
    port = free_port()
    config = folder / f"cameras{count}.toml"
    cameras = "".join(f'[[camera]]\nname = "cam{i}"\nsource = "{clip}"\nloop = true\npreset = "fast"\n'
                      for i in range(count))
    config.write_text(f'store = "cameras{count}.db"\n[http]\nport = {port}\n{cameras}')
    watch = Watch(config, port=port)
    try:
        watch.wait_running(120)
        time.sleep(warmup)
        start, t0 = watch.cameras(), time.monotonic()
        time.sleep(seconds)
        end, t1 = watch.cameras(), time.monotonic()
    finally:
        watch.stop()
    per_camera = []
    for name in sorted(end):
        frames = end[name]["frames"] - start[name]["frames"]
        dropped = end[name]["dropped"] - start[name]["dropped"]
        per_camera.append({"camera": name, "fps": frames / (t1 - t0), "dropped": dropped,
                           "dropped_share": dropped / max(frames + dropped, 1)})
    worst = min(c["fps"] for c in per_camera)
    return {"cameras": count, "min_fps": worst, "mean_fps": sum(c["fps"] for c in per_camera) / count,
            "dropped_share": max(c["dropped_share"] for c in per_camera), "keeps_up": worst >= KEEPS_UP * FPS,
            "per_camera": per_camera}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--counts", type=int, nargs="+", default=[1, 2, 3, 4, 6])
    parser.add_argument("--seconds", type=float, default=30.0, help="measured window per count")
    parser.add_argument("--warmup", type=float, default=10.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="maskwatch-cameras-") as tmp:
        folder = Path(tmp)
        clip = door_clip(folder / "door15.mp4", fps=FPS)
        results = []
        for count in args.counts:
            results.append(measure(folder, clip, count, args.seconds, args.warmup))
            r = results[-1]
            print(f"{count} camera(s): {r['min_fps']:.1f}-{max(c['fps'] for c in r['per_camera']):.1f} fps each "
                  f"(source {FPS:g}), dropped up to {100 * r['dropped_share']:.1f}% -> "
                  f"{'keeps up' if r['keeps_up'] else 'falls behind'}", file=sys.stderr, flush=True)
    sustained = max((r["cameras"] for r in results if r["keeps_up"]), default=0)
    if args.json:
        print(json.dumps({"source_fps": FPS, "sustained": sustained, "results": results}))
    else:
        print(f"sustained: {sustained} camera(s) of 640x480 at {FPS:g} fps with the fast preset "
              f"(each processing >= {100 * KEEPS_UP:.0f}% of its frames)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

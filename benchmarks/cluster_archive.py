"""`detect --ray` against one process on the same folder of videos, in one run, and a model of scaling out.

Measures, on this machine:
  (a) `maskwatch detect FOLDER` in one process, and (b) `maskwatch detect FOLDER --ray` on a Ray cluster
  of 2 local nodes x 1 CPU: wall time, frames per second, and their ratio;
  start-up overhead: the same two commands on a folder of one small image;
  the driver's capacity: how many frames per second the driver can write (JSON Lines and events into the
  store), since every result passes through it;
and from these, a model of N machines: throughput(N) = min(N x cores x per-core fps, driver capacity),
plus the fixed start-up, and the cluster size at which adding machines stops helping.

    python benchmarks/cluster_archive.py --videos 8 --seconds 20
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
from skimage import data

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' helpers

from tests.services import door_clip

MiB = 2**20
TINY = 40  # small images, for the cost of a task beyond its work


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def frames_in(jsonl: Path) -> int:
    return sum(1 for _ in jsonl.open())


def driver_capacity(jsonl: Path, folder: Path) -> tuple[float, float]:
    """(records per second, events per second) the driver writes: the run's records re-encoded to JSON
    Lines, and its events re-created with a snapshot-sized face and committed to a fresh store, each as
    the driver does it (one synced commit per event)."""
    import numpy as np

    from maskwatch.core.events import Event
    from maskwatch.monitor.store import EventStore

    records = [json.loads(line) for line in jsonl.open()]
    face = np.random.default_rng(0).integers(0, 255, (128, 128, 3), np.uint8)
    started = time.perf_counter()
    with (folder / "capacity.jsonl").open("w") as out:
        for record in records:
            out.write(json.dumps(record) + "\n")
    records_s = time.perf_counter() - started
    events = [e for record in records for e in record["events"]]
    started = time.perf_counter()
    with EventStore(folder / "capacity.db") as store:
        for e in events:
            store.add(Event(e["kind"], e["person"], e["source"], e["frame"], e["time"], e["wall_time"], e["state"],
                            tuple(e["box"]), e["confidence"], face_image=face.copy()))
    return len(records) / records_s, len(events) / (time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each video (10 fps, 640x480)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    import ray
    from ray.cluster_utils import Cluster

    with tempfile.TemporaryDirectory(prefix="maskwatch-cluster-") as tmp:
        folder = Path(tmp)
        videos, tiny = folder / "videos", folder / "tiny"
        videos.mkdir()
        tiny.mkdir()
        for i in range(args.videos):
            door_clip(videos / f"cam{i:02d}.mp4", fps=10.0, seconds_in=args.seconds * 0.6,
                      seconds_out=args.seconds * 0.4)
        image = cv2.cvtColor(cv2.resize(data.astronaut(), (160, 160)), cv2.COLOR_RGB2BGR)
        for i in range(TINY):
            cv2.imwrite(str(tiny / f"{i:02d}.jpg"), image)
        one = folder / "one"
        one.mkdir()
        cv2.imwrite(str(one / "a.jpg"), image)
        maskwatch = [sys.executable, "-m", "maskwatch", "-q", "detect", "--preset", "fast"]

        def runs(*ray_args: str) -> tuple[float, float, float]:
            """Seconds for the videos, for one image (start-up), and for the tiny images (per-task cost)."""
            name = "ray" if ray_args else "single"
            return (timed([*maskwatch, str(videos), "--json", str(folder / f"{name}.jsonl"), *ray_args]),
                    timed([*maskwatch, str(one), "--json", str(folder / f"{name}-one.jsonl"), *ray_args]),
                    timed([*maskwatch, str(tiny), "--json", str(folder / f"{name}-tiny.jsonl"), *ray_args]))

        single, single_start, single_tiny = runs()
        started = time.perf_counter()
        cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "object_store_memory": 256 * MiB})
        cluster.add_node(num_cpus=1, object_store_memory=256 * MiB)
        cluster.wait_for_nodes()
        cluster_start = time.perf_counter() - started
        try:
            on_ray, ray_start, ray_tiny = runs("--ray", cluster.address)
        finally:
            ray.shutdown()
            cluster.shutdown()
        frames = frames_in(folder / "single.jsonl")
        assert frames_in(folder / "ray.jsonl") == frames, "the Ray run wrote other records"
        records_fps, events_per_s = driver_capacity(folder / "ray.jsonl", folder)
        events_per_frame = sum(len(json.loads(line)["events"]) for line in (folder / "ray.jsonl").open()) / frames
    cores = 2  # this machine; both runs use both
    per_file = (single - single_start) / args.videos
    per_core_fps = frames / ((single - single_start) * cores)
    overhead = ray_start - single_start
    # CPU-seconds per tiny file on Ray minus in one process: what a task costs beyond its work
    per_task = ((ray_tiny - ray_start) - (single_tiny - single_start)) * cores / (TINY - 1)
    driver_fps = min(records_fps, events_per_s / events_per_frame if events_per_frame else math.inf)
    stops_at = driver_fps / per_core_fps  # cores at which the driver, not the workers, sets the pace
    report = {"videos": args.videos, "frames": frames, "single_s": single, "ray_s": on_ray,
              "single_fps": frames / single, "ray_fps": frames / on_ray, "ray_vs_single": single / on_ray,
              "cluster_start_s": cluster_start, "single_startup_s": single_start, "ray_startup_s": ray_start,
              "ray_overhead_s": overhead, "per_file_s": per_file, "per_task_overhead_s": per_task,
              "per_core_fps": per_core_fps, "driver_records_per_s": records_fps, "driver_events_per_s": events_per_s,
              "events_per_frame": events_per_frame, "driver_fps": driver_fps, "scaling_stops_at_cores": stops_at}
    if args.json:
        print(json.dumps(report))
        return 0
    print(f"{args.videos} videos, {frames} frames, fast preset")
    print(f"  one process          {single:6.1f} s  {frames / single:6.1f} frames/s")
    print(f"  --ray, 2 nodes x 1   {on_ray:6.1f} s  {frames / on_ray:6.1f} frames/s  "
          f"(throughput ratio {single / on_ray:.2f}x)")
    print(f"start-up: one process {single_start:.1f} s, --ray {ray_start:.1f} s on a running cluster "
          f"(+{overhead:.1f} s); starting the 2-node cluster itself {cluster_start:.1f} s")
    print(f"model: {per_file:.2f} s of compute per file, {per_task:.2f} CPU-s overhead per task, "
          f"{per_core_fps:.1f} frames/s per core")
    print(f"  the driver writes {records_fps:.0f} records/s and commits {events_per_s:.0f} events/s with snapshots; "
          f"at {events_per_frame:.3f} events a frame that is {driver_fps:.0f} frames/s")
    print(f"  throughput(N cores) = min(N x {per_core_fps:.1f}, {driver_fps:.0f}) frames/s: adding machines stops "
          f"helping at about {stops_at:.0f} cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())

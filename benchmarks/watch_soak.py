"""Soak test of `maskwatch watch`: 3 looping file cameras and an MQTT subscriber for 10 minutes.

Reports the resident memory and open file descriptors of the watch process and of each camera worker,
after a warm-up and at the end (growth per hour, extrapolated), and compares the events recorded in the
store with those the subscriber received (unique by id, and duplicates). Needs Debian's mosquitto.

    python benchmarks/watch_soak.py --minutes 10
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' helpers for real services

from maskwatch.monitor.store import EventStore
from tests.services import Mosquitto, Subscriber, Watch, door_clip, free_port, wait_until

WARMUP_S = 60.0
SAMPLE_S = 30.0


def usage(pid: int) -> tuple[float, int]:
    """(resident MiB, open file descriptors) of a process."""
    status = Path(f"/proc/{pid}/status").read_text()
    rss_kib = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
    return rss_kib / 1024, len(list(Path(f"/proc/{pid}/fd").iterdir()))


def snapshot(watch: Watch) -> dict[str, tuple[float, int]]:
    pids = {"watch": watch.process.pid, **{name: c["pid"] for name, c in watch.cameras().items()}}
    return {name: usage(pid) for name, pid in pids.items() if pid}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="maskwatch-soak-") as tmp:
        folder = Path(tmp)
        clip = door_clip(folder / "door.mp4")
        broker = Mosquitto(folder / "broker")
        broker.start()
        subscriber = Subscriber(broker.port, "soak-subscriber")
        port = free_port()
        cameras = "".join(f'[[camera]]\nname = "cam{i}"\nsource = "{clip.name}"\nloop = true\n' for i in range(3))
        config = folder / "soak.toml"
        config.write_text(f'store = "soak.db"\n[http]\nport = {port}\n{cameras}[[alert]]\nstate = "without_mask"\n'
                          f'after_s = 0.5\n[mqtt]\nport = {broker.port}\n')
        watch = Watch(config, port=port)
        samples = []
        try:
            watch.wait_running(120)
            time.sleep(WARMUP_S)
            started = time.monotonic()
            first = snapshot(watch)
            samples.append(first)
            while time.monotonic() - started < args.minutes * 60 - WARMUP_S:
                time.sleep(SAMPLE_S)
                samples.append(snapshot(watch))
                total = sum(rss for rss, _ in samples[-1].values())
                print(f"{(time.monotonic() - started) / 60 + WARMUP_S / 60:5.1f} min: {total:.0f} MiB in all",
                      file=sys.stderr, flush=True)
            last, hours = samples[-1], (time.monotonic() - started) / 3600
            cameras_after = watch.cameras()
        finally:
            code = watch.stop()
        with EventStore.open_existing(folder / "soak.db") as store:
            recorded = [e.id for e in store.events()]
        wait_until(lambda: len({e["id"] for e in subscriber.events()}) >= len(recorded), 30, "the last events")
        received = [e["id"] for e in subscriber.events()]
        subscriber.close()
        broker.stop()
    report = {
        "minutes": args.minutes, "exit_code": code,
        "processes": {name: {"rss_mib_start": first[name][0], "rss_mib_end": last[name][0],
                             "rss_mib_per_hour": (last[name][0] - first[name][0]) / hours,
                             "fds_start": first[name][1], "fds_end": last[name][1]}
                      for name in first if name in last},
        "frames": {name: c["frames"] for name, c in cameras_after.items()},
        "dropped": {name: c["dropped"] for name, c in cameras_after.items()},
        "restarts": {name: c["restarts"] for name, c in cameras_after.items()},
        "events_recorded": len(recorded), "events_received_unique": len(set(received)),
        "duplicates": len(received) - len(set(received)), "missing": len(set(recorded) - set(received)),
    }
    if args.json:
        print(json.dumps(report))
    else:
        for name, p in report["processes"].items():
            print(f"{name:6s} RSS {p['rss_mib_start']:.0f} -> {p['rss_mib_end']:.0f} MiB "
                  f"({p['rss_mib_per_hour']:+.1f} MiB/h), fds {p['fds_start']} -> {p['fds_end']}")
        print(f"events recorded {report['events_recorded']}, received over MQTT {report['events_received_unique']} "
              f"unique ({report['duplicates']} duplicates, {report['missing']} missing); restarts "
              f"{sum(report['restarts'].values())}; exit code {code}")
    return 0 if report["missing"] == 0 and code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

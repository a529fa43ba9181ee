"""What `kill -9` of `maskwatch watch` loses: watch with looping file cameras and a webhook is killed N times
at random moments (seeded; about half of them with someone in view) and started again at once, then
stopped cleanly once everything is delivered. Counted in the store: persons who appeared and never got
their person_left, persons with a missing person id between stored ones (all their events lost), and
persons with an event twice; and the events stored but never delivered to the webhook.

    python benchmarks/watch_kills.py --kills 20 --cameras 2
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' helpers for real services

from maskwatch.store import EventStore
from tests.services import Watch, WebhookReceiver, door_clip, free_port, wait_until

PASS_S = 3.5  # door_clip: 2 s of a bare face, then 1.5 s of nobody


def alive(pid: int) -> bool:
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def count(store: Path) -> dict:
    """Persons without person_left, persons missing between ids, persons with an event twice."""
    people: dict[tuple[int, str, int], list[str]] = defaultdict(list)
    with EventStore.open_existing(store) as events:
        stored = events.events_with_run()
    for run, event in stored:
        people[(run, event.source, event.person)].append(event.kind)
    ids: dict[tuple[int, str], set[int]] = defaultdict(set)
    for run, source, person in people:
        ids[(run, source)].add(person)
    return {"events": len(stored), "persons": len(people),
            "never_left": sum("person_left" not in kinds for kinds in people.values()),
            "missing_persons": sum(max(found) - len(found) for found in ids.values()),
            "twice": sum(kinds.count("person_left") > 1 or kinds.count("person_appeared") > 1
                         for kinds in people.values()),
            "ids": [event.id for _, event in stored]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--cameras", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    pause = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="maskwatch-kills-") as tmp:
        folder = Path(tmp)
        clip = door_clip(folder / "door.mp4")
        hook = WebhookReceiver()
        port = free_port()
        cameras = "".join(f'[[camera]]\nname = "cam{i}"\nsource = "{clip.name}"\nloop = true\n'
                          for i in range(args.cameras))
        config = folder / "site.toml"
        config.write_text(f'store = "kills.db"\n[http]\nport = {port}\n{cameras}[[alert]]\nstate = "without_mask"\n'
                          f'after_s = 0.5\n[[webhook]]\nurl = "{hook.url}"\n')
        workers, in_view = [], 0
        started = time.monotonic()
        for kill in range(args.kills):
            watch = Watch(config, port=port)
            try:
                watch.wait_running(120)
                time.sleep(pause.uniform(0, 2 * PASS_S))
                cameras_now = watch.cameras()
                workers += [c["pid"] for c in cameras_now.values() if c["pid"]]
                in_view += any(c["in_view"] for c in cameras_now.values())
            finally:
                watch.stop(signal.SIGKILL)
            print(f"kill {kill + 1}/{args.kills}", file=sys.stderr, flush=True)
        watch = Watch(config, port=port)
        try:
            watch.wait_running(120)
            wait_until(lambda: not any(alive(pid) for pid in workers), 60, "the orphaned workers to finish")
            wait_until(lambda: set(count(folder / "kills.db")["ids"]) <= {e["id"] for e in hook.events()}, 120,
                       "every event delivered")
            code = watch.stop()
        finally:
            if watch.process.poll() is None:
                watch.stop(signal.SIGKILL)
        found = count(folder / "kills.db")
        delivered = [e["id"] for e in hook.events()]
        hook.close()
    report = {"kills": args.kills, "cameras": args.cameras, "killed_with_someone_in_view": in_view,
              "minutes": round((time.monotonic() - started) / 60, 1), "exit_code": code,
              **{k: v for k, v in found.items() if k != "ids"},
              "undelivered": len(set(found["ids"]) - set(delivered)),
              "lost_per_kill": round((found["never_left"] + found["missing_persons"]) / args.kills, 2)}
    if args.json:
        print(json.dumps(report))
    else:
        print(f"{args.kills} kills of watch with {args.cameras} cameras ({in_view} with someone in view): "
              f"{found['events']} events of {found['persons']} persons stored; {found['never_left']} never left, "
              f"{found['missing_persons']} missing, {found['twice']} with an event twice; "
              f"{report['undelivered']} undelivered; {report['lost_per_kill']} lost per kill; exit code {code}")
    return 0 if report["lost_per_kill"] == 0 and report["undelivered"] == 0 and code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

"""Learning from a site's corrections, end to end on real footage (issue 31): `watch` with [learning] on
watches clips where the shipped fast model is wrong (masked people in dark masks on grainy hallway video,
judged "not a face", so `unknown`), clips where it is right (a bare man and a masked one, whose verdicts
are confirmed), backs of heads (`unknown` by person, but `with_mask` on most of their faces), which the
reviewer marks "not a judgeable face", and a crowd at a crossing, where half the people (labelled in
crosswalk_persons.json) are corrected or confirmed and the other half held back; the wrong persons are
corrected through the API as a reviewer would. `train --from-store` retrains the head on every camera's
corrections, and on the crossing's alone (`--camera crossing`); then the shipped and the tuned models run
what nobody corrected, side by side: the held-back masked person of the hallway (another clip), clips
where the shipped model is right (must stay right), clips with nobody in them, and the crossing's
held-back people.

    .venv/bin/python benchmarks/learning_e2e.py [--out runs/learning-e2e] [--not-faces runs/mined]

Needs ../shared/clips, ../shared/datasets/mask-classify and not_a_face crops (the base data: `--not-faces`,
made by the `maskwatch mine` command in MODEL_CARD.md); about 6 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import httpx

CLIPS = Path("../shared/clips")
CORRECTED = {"hall3": "hallway_3.avi", "office": "office_cctv_masked.mp4"}  # masked, judged unknown
CROWD = {"crossing": "crosswalk_phone.mp4"}  # dozens of passers-by: half of them corrected, half held back
# The reviewer's labels of the crossing's people (from looking at each person's faces), by where a person
# first appears: frame and face centre; every other person of each kind ("note") is held back
CROWD_LABELS = Path(__file__).with_name("crosswalk_persons.json")
MATCH_FRAMES, MATCH_PX = 3, 25  # a person appearing this close to a label is the labelled one
CONFIRMED = {"pose": "man_head_pose.gif", "hall1": "hallway_1.avi"}  # judged right: bare, and masked
NOT_FACES = {"backs": "backs_one_by_one.mp4"}  # backs of heads, with_mask on most faces: marked not_a_face
LOOPED = {"office", "hall3"}  # played for WATCH_S while the others play once: each pass a person
WATCH_S = 30
HELD_BACK = {  # nobody corrected these: clip -> what its people are (the clips' notes)
    "hallway_4_mask_on.avi": "with_mask (the same failure, another clip)",
    "hallway_1.avi": "with_mask (right already)",
    "woman_mask_on_lowres.mp4": "without_mask, then with_mask (right already)",
    "backs_one_by_one.mp4": "backs of heads (unknown; watched at the site, marked not_a_face)",
    "hallway_2_no_face.avi": "nobody: the corrected hallway, empty",
    "room_door_fisheye.gif": "nobody",
    "classroom_four.gif": "without_mask (right already)",
    "corridor_pair_walking.gif": "without_mask (right already)",
}
TOKEN = "reviewer-token-0123456789"


def maskwatch(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "maskwatch", *args], check=True, text=True, capture_output=True,
                          **kwargs)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def crowd_labels() -> list[dict]:
    """The reviewer's labels of the crossing's people, each marked held back or not: every other person of
    each kind (a black mask, another mask, bare), in the order they appear."""
    labels, seen = json.loads(CROWD_LABELS.read_text()), Counter()
    for label in labels:
        label["held_back"] = seen[label["note"]] % 2 == 1
        seen[label["note"]] += 1
    return labels


def distance(box: list[float], label: dict) -> float:
    """How far a face box's centre is from a label's place, in pixels (the larger of x and y)."""
    x1, y1, x2, y2 = box
    return max(abs((x1 + x2) / 2 - label["x"]), abs((y1 + y2) / 2 - label["y"]))


def labelled(events: list[dict], labels: list[dict]) -> dict[int, dict]:
    """Person -> their label: the person who appears nearest a label's place, within MATCH_FRAMES and
    MATCH_PX. `watch` drops frames when behind, so some of its people appear elsewhere and are not found."""
    found = {}
    for label in labels:
        near = [(distance(e["box"], label), e["person"]) for e in events if e["kind"] == "person_appeared"
                and abs(e["frame"] - label["frame"]) <= MATCH_FRAMES and distance(e["box"], label) <= MATCH_PX]
        if near:
            found[min(near)[1]] = label
    return found


def watch_and_correct(site: Path) -> dict:
    """Watch every clip once with [learning] on; correct the wrong persons and confirm the right ones as a
    reviewer does on the review page (the same API)."""
    port = free_port()
    cameras = "".join(f'[[camera]]\nname = "{name}"\nsource = "{(CLIPS / clip).resolve()}"\n'
                      f'loop = {"true" if name in LOOPED else "false"}\n'
                      for name, clip in {**CORRECTED, **CONFIRMED, **NOT_FACES, **CROWD}.items())
    (site / "site.toml").write_text(f'store = "site.db"\n[http]\nport = {port}\nusers_env = "SITE_USERS"\n'
                                    f'[learning]\nenabled = true\n{cameras}')
    with (site / "watch.log").open("w") as log:
        watch = subprocess.Popen([sys.executable, "-m", "maskwatch", "watch", "site.toml"], cwd=site, stdout=log,
                                 stderr=log, env={**os.environ, "SITE_USERS": f"alice={TOKEN}"})
    http = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {TOKEN}"})
    try:
        started, deadline = time.monotonic(), time.monotonic() + 300
        while time.monotonic() < deadline:
            try:
                cameras = http.get("/api/cameras").json()
                if time.monotonic() - started >= WATCH_S and all(c["state"] == "ended" for c in cameras
                                                                 if c["name"] not in LOOPED):
                    break
            except httpx.HTTPError:
                pass
            time.sleep(1)
        events, page, pages = [], 1, 1
        while page <= pages:
            found = http.get("/api/review", params={"per_page": 200, "page": page, "unjudged": True}).json()
            events, page, pages = events + found["events"], page + 1, found["pages"]
        kept = len(list((site / "site.learning").glob("*.jpg")))
        done = {"corrected_persons": 0, "confirmed_events": 0, "kept_faces": kept}
        crowd = [e for e in events if e["source"] in CROWD]
        taught = {person: label["truth"] for person, label in labelled(crowd, crowd_labels()).items()
                  if not label["held_back"]}
        done["crowd_labelled"] = f"{len(taught)} of {sum(not label['held_back'] for label in crowd_labels())}"
        right = {p for p, truth in taught.items() if {e["state"] for e in crowd if e["person"] == p} == {truth}}
        persons = {(e["source"], e["person"]): e["id"] for e in events}
        for (camera, person), event_id in sorted(persons.items()):
            state = ("with_mask" if camera in CORRECTED else "not_a_face" if camera in NOT_FACES
                     else taught.get(person) if camera in CROWD and person not in right else None)
            if state:
                http.post(f"/api/events/{event_id}/correction", json={"state": state, "person": True}
                          ).raise_for_status()
                done["corrected_persons"] += 1
        for event in events:
            if ((event["source"] in CONFIRMED and event["state"] != "unknown")
                    or (event["source"] in CROWD and event["person"] in right)):
                http.post(f"/api/events/{event['id']}/review", json={"reviewed": True}).raise_for_status()
                done["confirmed_events"] += 1
        return done
    finally:
        watch.send_signal(signal.SIGTERM)
        watch.wait(60)


def persons(clip: Path, model: Path | None, work: Path, name: str) -> tuple[dict[int, list[str]], str, list[dict]]:
    """Each person of `detect --preset fast` on the clip (`name`: which model, for the file names): the
    states their events name, in order; how many of the faces found on its frames the classifier called
    with_mask; and its frames' records (--json)."""
    db, records = (work / f"{clip.stem}-{name}{suffix}" for suffix in (".db", ".jsonl"))
    db.unlink(missing_ok=True)
    maskwatch("-q", "detect", str(clip), "--preset", "fast", "--events", str(db), "--no-show", "--json",
              str(records), *(["--model", str(model)] if model else []))
    frames = [json.loads(line) for line in records.read_text().splitlines()]
    labels = [face["label"] for frame in frames for face in frame["faces"]]
    states: dict[int, list[str]] = defaultdict(list)
    for line in maskwatch("events", str(db), "--json").stdout.splitlines():
        event = json.loads(line)
        if not states[event["person"]] or states[event["person"]][-1] != event["state"]:
            states[event["person"]].append(event["state"])
    return dict(states), f"{labels.count('with_mask')}/{len(labels)}", frames


def person_at(frames: list[dict], label: dict) -> int | None:
    """The person whose face is nearest the label's place, within MATCH_FRAMES and MATCH_PX, in a run's
    records (faces the tracker gave no person to are no one's)."""
    near = []
    for frame in frames:
        for face in frame["faces"] if abs(frame["frame"] - label["frame"]) <= MATCH_FRAMES else ():
            if face["person"] is not None and distance(face["box"], label) <= MATCH_PX:
                near.append((distance(face["box"], label), face["person"]))
    return min(near)[1] if near else None


def verdict(states: list[str], truth: str) -> str:
    """A person's verdicts against the truth: right (every judged state the truth), wrong (any other), or
    unknown (never judged)."""
    judged = set(states) - {"unknown"}
    return "unknown" if not judged else "right" if judged == {truth} else "wrong"


def held_back_crowd(models: dict[str, Path | None], work: Path) -> None:
    """The crossing's held-back people (nobody corrected them), by each model: their states, and how many
    of their faces the classifier called what they are."""
    held = [label for label in crowd_labels() if label["held_back"]]
    print(f"\ncrosswalk_phone.mp4: the {len(held)} people held back (nobody corrected them), by kind")
    print(f"first seen | kind | truth | {' | '.join(models)}")
    tally: dict[tuple[str, str], Counter] = defaultdict(Counter)
    runs = {name: persons(CLIPS / CROWD["crossing"], model, work, name) for name, model in models.items()}
    for label in held:
        row = []
        for name, (states, _, frames) in runs.items():
            person = person_at(frames, label)
            faces = [face["label"] for frame in frames for face in frame["faces"]
                     if person is not None and face["person"] == person]
            said = ["no person"] if person is None else states.get(person, ["unknown"])
            tally[name, label["note"]][verdict(said, label["truth"]) if person is not None else "no person"] += 1
            row.append(f"{'>'.join(said)} ({faces.count(label['truth'])}/{len(faces)})")
        place = f"f{label['frame']} ({label['x']}, {label['y']})"
        print(f"{place} | {label['note']} | {label['truth']} | {' | '.join(row)}")
    for note in dict.fromkeys(label["note"] for label in held):
        print(f"{note}: " + "; ".join(f"{name} " + ", ".join(f"{k} {n}" for k, n in sorted(tally[name, note].items()))
                                      for name in runs))


def train(site: Path, not_faces: Path, out: str, *cameras: str) -> Path:
    """`train --from-store` on the site's corrections (of these cameras only, if any); prints its report."""
    trained = maskwatch("train", "--from-store", str(site / "site.db"), str(CLIPS.parent / "datasets/mask-classify"),
                        str(not_faces.resolve()), "--confirmed", "--out", str(site / out),
                        *(arg for camera in cameras for arg in ("--camera", camera)))
    print(trained.stdout.strip())
    return site / out / "model.tflite"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("runs/learning-e2e"))
    parser.add_argument("--not-faces", type=Path, default=Path("runs/mined"),
                        help="a folder holding a not_a_face folder of crops (as MODEL_CARD.md makes runs/mined)")
    args = parser.parse_args()
    if not (args.not_faces / "not_a_face").is_dir():
        sys.exit(f"{args.not_faces}/not_a_face: no such folder (make it with MODEL_CARD.md's `maskwatch mine`)")
    site = args.out.resolve()
    site.mkdir(parents=True, exist_ok=True)
    (site / "site.db").unlink(missing_ok=True)
    started = time.time()
    print("review:", watch_and_correct(site))
    model = train(site, args.not_faces, "model")
    print("\nclip | truth | shipped: persons | faces called with_mask | tuned: persons | faces called with_mask")
    for clip, truth in HELD_BACK.items():
        (before, masked_before, _), (after, masked_after, _) = (persons(CLIPS / clip, m, site, name)
                                                                for name, m in (("shipped", None), ("tuned", model)))
        show = lambda found: "; ".join(f"p{p} " + ">".join(s) for p, s in found.items()) or "no person"  # noqa: E731
        print(f"{clip} | {truth} | {show(before)} | {masked_before} | {show(after)} | {masked_after}")
    print("\nthe crossing's own model (`--camera crossing`, for that camera alone):")
    crossing = train(site, args.not_faces, "crossing-model", *CROWD)
    held_back_crowd({"shipped": None, "tuned": model, "tuned for the crossing": crossing}, site)
    print(f"\n{time.time() - started:.0f} s in all")


if __name__ == "__main__":
    main()

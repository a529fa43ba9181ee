"""`maskwatch detect` with its defaults on the real clips of ../shared/clips: persons, events, speed.

For each clip it prints the persons found (with their verdicts and frames seen), every event with its frame,
and frames per second, next to what the clip's README says happens, so the result can be checked by eye
against the frame-by-frame notes.

    .venv/bin/python benchmarks/real_clips.py                 # defaults (files run `accurate`)
    .venv/bin/python benchmarks/real_clips.py --preset fast   # as a camera would run
    .venv/bin/python benchmarks/real_clips.py --detector runs/detector/face_detector_int8.onnx
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import cv2

from maskwatch.cli import main as maskwatch

EXPECTED = {
    "woman_mask_on_lowres.mp4": "1 person: unmasked f0-14, raising the mask f12-18, masked from ~f20",
    "hallway_1.avi": "1 person, masked throughout (far away until ~f110)",
    "hallway_2_no_face.avi": "no face ever visible: no person",
    "hallway_3.avi": "1 person, masked throughout, head down",
    "hallway_4_mask_on.avi": "1 person: mask at the chin f0-20, hands at the ears f20-100, masked f104-145",
    "office_cctv_masked.mp4": "1 person, masked throughout, leaves ~f28",
    "woman_cuts_720p.mp4": "cuts at f48, f121, f166: mask held in front f0-47, unmasked f48-120, no face "
                           "f121-165, masked f166-267",
    "crosswalk_phone.mp4": "a crowd, most masked; one unmasked dancer throughout",
}


def run(clip: Path, extra: list[str]) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "f.jsonl"
        started = time.perf_counter()
        code = maskwatch(["-q", "detect", str(clip), "--json", str(out), *extra])
        seconds = time.perf_counter() - started
        records = [json.loads(line) for line in out.read_text().splitlines()]
    events = [e for r in records for e in r["events"]]
    frames = int(cv2.VideoCapture(str(clip)).get(cv2.CAP_PROP_FRAME_COUNT))
    return {"code": code, "fps": round(len(records) / seconds, 1), "frames": frames, "events": events,
            "persons": [e for e in events if e["kind"] == "person_left"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=Path, default=Path("../shared/clips"))
    parser.add_argument("--preset", choices=("fast", "accurate"))
    parser.add_argument("--only", action="append", default=[], help="only this clip (repeatable)")
    parser.add_argument("--detector", help="centerface, or a CenterFace-format .onnx (default: detect's default)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    extra = ["--preset", args.preset] if args.preset else []
    extra += ["--detector", args.detector] if args.detector else []
    report = {}
    for name, expected in EXPECTED.items():
        if args.only and name not in args.only:
            continue
        result = run(args.clips / name, extra)
        report[name] = result
        if args.json:
            continue
        persons = ", ".join(f"p{p['person']} {p['state']} ({p['frames_seen']} frames)" for p in result["persons"])
        changes = [e for e in result["events"] if e["kind"] != "person_left"]
        print(f"{name}: {result['frames']} frames, {result['fps']} fps; {len(result['persons'])} persons"
              + (f": {persons}" if persons else ""))
        print(f"  expected: {expected}")
        print("  events: " + (", ".join(f"f{e['frame']} {e['kind']} p{e['person']} -> {e['state']}"
                                        for e in changes) or "none"))
    if args.json:
        print(json.dumps(report))


if __name__ == "__main__":
    main()

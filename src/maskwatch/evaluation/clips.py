"""`maskwatch evaluate --clips`: what a site manager would see on real footage, scored against a truth file.

Scene metrics count boxes on photos; a camera's user sees people and their verdicts. A truth file says, for
one video, who is in view over which frames and in what state (a few lines from watching it once; "nobody
is masked" is one line), and the run is scored by person and by face-frame:
- people: how many a correct system reports, and how many it reported;
- people called masked while bare (the costliest error: a violation never reported), and the reverse;
- mask_on / mask_off events within `tolerance` frames of the change the truth file names;
- face-frames labelled `with_mask` where nobody in view is masked (bare faces, backs of heads, things
  that are not faces), by face size; face-frames labelled bare where everyone in view is masked.

No boxes are needed: a frame is scored only where the truth says the same of everyone in view (all bare,
all masked, or nobody there), away from any state change by `tolerance` frames. Frames a truth file
calls `unclear` (a mask being put on, a hand over the face) are never scored.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise

from maskwatch.core.classes import JUDGED, NON_COMPLIANT, WITH_MASK
from maskwatch.data.truth import BARE, FACELESS, MASKED, NOBODY, ClipTruth
from maskwatch.io.progress import progress

SIZES = ((0, 16), (16, 32), (32, 64), (64, None))  # face-frames by the long side of the face box, px


@dataclass(frozen=True)
class SeenFace:
    """A face as maskwatch reported it on one frame: whose, in what state, how big."""

    frame: int
    person: int | None
    state: str | None
    side: float


@dataclass(frozen=True)
class SeenEvent:
    kind: str
    person: int | None
    frame: int
    state: str | None


def _size_band(side: float) -> str:
    for low, high in SIZES:
        if high is None or side < high:
            return f"{low}+ px" if high is None else f"{low}-{high} px"
    raise AssertionError


@dataclass
class _Tally:
    faces: int = 0
    wrong: int = 0
    by_size: dict[str, list[int]] = field(default_factory=dict)

    def add(self, face: SeenFace, wrong: bool) -> None:
        self.faces += 1
        self.wrong += wrong
        band = self.by_size.setdefault(_size_band(face.side), [0, 0])
        band[0] += 1
        band[1] += wrong

    def as_dict(self) -> dict:
        return {"face_frames": self.faces, "wrong": self.wrong,
                "share": round(self.wrong / self.faces, 4) if self.faces else None,
                "by_size": {band: {"face_frames": n, "wrong": k} for band, (n, k) in sorted(
                    self.by_size.items(), key=lambda item: int(item[0].split("-")[0].rstrip("+ px")))}}


def _expected_changes(truth: ClipTruth) -> list[tuple[str, int, int]]:
    """(kind, earliest, latest frame) of every mask_on / mask_off the truth implies: a change between two
    judged states of one person, anywhere in the unclear stretch between them, give or take the tolerance."""
    changes = []
    for person in truth.persons:
        judged = [s for s in person.segments if s.state in JUDGED]
        for a, b in pairwise(judged):
            if (a.state == WITH_MASK) != (b.state == WITH_MASK):
                kind = "mask_on" if b.state == WITH_MASK else "mask_off"
                changes.append((kind, a.last + 1 - truth.tolerance, b.first + truth.tolerance))
    return changes


def score_clip(truth: ClipTruth, faces: Iterable[SeenFace], events: Iterable[SeenEvent]) -> dict:
    """The site manager's view of one run against the truth (see the module's docstring)."""
    low, high = truth.covers or (0, float("inf"))
    faces = [f for f in faces if low <= f.frame <= high]  # the rest of the video is not what the truth speaks of
    events = [e for e in events if low <= e.frame <= high]
    masked_wrongly, bare_wrongly = _Tally(), _Tally()  # with_mask on bare/no faces; bare on masked faces
    nobody_faces = 0  # face-frames where the truth says no one is in view
    judged_faceless = 0  # face-frames judged where the only person in view shows no face
    spans: dict[int, list[int]] = {}
    verdicts: dict[int, set[str]] = {}
    wrong_people: dict[str, set[int]] = {"masked": set(), "bare": set()}
    for face in faces:
        if face.person is not None:
            span = spans.setdefault(face.person, [face.frame, face.frame])
            span[1] = max(span[1], face.frame)
            if face.state in JUDGED:
                verdicts.setdefault(face.person, set()).add(face.state)
        shows = truth.shows(face.frame)
        if shows in (BARE, NOBODY):
            wrong = face.state == WITH_MASK
            masked_wrongly.add(face, wrong)
            nobody_faces += shows == NOBODY
            if wrong and face.person is not None:
                wrong_people["masked"].add(face.person)
        elif shows == MASKED:
            wrong = face.state in NON_COMPLIANT
            bare_wrongly.add(face, wrong)
            if wrong and face.person is not None:
                wrong_people["bare"].add(face.person)
        elif shows == FACELESS:
            judged_faceless += face.state in JUDGED
    found = sorted({e.person for e in events if e.person is not None} | set(spans))
    result = {
        "video": truth.video.name,
        "people": {"truth": truth.people, "found": len(found), **_match_people(truth, spans)},
        "people_called_masked_wrongly": len(wrong_people["masked"]),
        "people_called_bare_wrongly": len(wrong_people["bare"]),
        "people_judged": sum(1 for p in found if verdicts.get(p)),
        "people_unknown": sum(1 for p in found if not verdicts.get(p)),
        "with_mask_on_bare_or_no_face": masked_wrongly.as_dict(),
        "bare_on_masked_faces": bare_wrongly.as_dict(),
        "face_frames_where_nobody_is": nobody_faces,
        "judged_faces_where_none_shows": judged_faceless,
        "events": _score_events(truth, events),
        "tolerance": truth.tolerance,
    }
    return result


def _match_people(truth: ClipTruth, spans: dict[int, list[int]]) -> dict:
    """Found persons paired one to one with the truth's people by most frames in common: how many of the
    people with a visible face were found, and how many found persons are extra (split or not a person).
    A found person who is someone seen only from behind is neither found nor extra."""
    if not truth.persons:
        return {"matched": None, "missed": None, "extra": None}
    pairs = sorted(((min(t.last, s[1]) - max(t.first, s[0]) + 1, i, p)
                    for i, t in enumerate(truth.persons) for p, s in spans.items()), reverse=True)
    taken_truth, taken_found = set(), set()
    for overlap, i, p in pairs:
        if overlap > 0 and i not in taken_truth and p not in taken_found:
            taken_truth.add(i)
            taken_found.add(p)
    faces = {i for i, t in enumerate(truth.persons) if t.has_face}
    matched = len(taken_truth & faces)
    faceless_overlap = {p for p, s in spans.items() if p not in taken_found and any(
        not t.has_face and t.first <= s[1] and s[0] <= t.last for t in truth.persons)}
    return {"matched": matched, "missed": len(faces) - matched,
            "extra": len(spans) - len(taken_found) - len(faceless_overlap)}


def _score_events(truth: ClipTruth, events: Sequence[SeenEvent]) -> dict:
    expected = _expected_changes(truth)
    changes = [e for e in events if e.kind in ("mask_on", "mask_off")]
    used = set()
    on_time = 0
    for kind, earliest, latest in expected:
        hit = next((k for k, e in enumerate(changes)
                    if k not in used and e.kind == kind and earliest <= e.frame <= latest), None)
        if hit is not None:
            used.add(hit)
            on_time += 1
    scored = bool(truth.persons) or truth.nobody_masked
    spurious = (sum(k not in used and truth.shows(e.frame) is not None for k, e in enumerate(changes))
                if scored else None)
    return {"expected": len(expected), "on_time": on_time, "spurious": spurious,
            "found": [f"f{e.frame} {e.kind}" for e in changes]}


def total(results: Sequence[dict]) -> dict:
    """The clips' results added up."""
    def tally(key: str) -> dict:
        summed = _Tally()
        for r in results:
            summed.faces += r[key]["face_frames"]
            summed.wrong += r[key]["wrong"]
            for band, counts in r[key]["by_size"].items():
                acc = summed.by_size.setdefault(band, [0, 0])
                acc[0] += counts["face_frames"]
                acc[1] += counts["wrong"]
        return summed.as_dict()

    known = [r for r in results if r["people"]["truth"] is not None]
    return {
        "clips": len(results),
        "people": {"truth": sum(r["people"]["truth"] for r in known),
                   "found": sum(r["people"]["found"] for r in known),
                   "matched": sum(r["people"]["matched"] or 0 for r in known),
                   "extra": sum(r["people"]["extra"] or 0 for r in known)},
        "people_called_masked_wrongly": sum(r["people_called_masked_wrongly"] for r in results),
        "people_called_bare_wrongly": sum(r["people_called_bare_wrongly"] for r in results),
        "with_mask_on_bare_or_no_face": tally("with_mask_on_bare_or_no_face"),
        "bare_on_masked_faces": tally("bare_on_masked_faces"),
        "events": {"expected": sum(r["events"]["expected"] for r in results),
                   "on_time": sum(r["events"]["on_time"] for r in results),
                   "spurious": sum(r["events"]["spurious"] or 0 for r in results)},
    }


def _share(tally: dict) -> str:
    if not tally["face_frames"]:
        return "-"
    return f"{tally['wrong']}/{tally['face_frames']} ({tally['wrong'] / tally['face_frames']:.1%})"


def format_clips(report: dict) -> str:
    """One line per clip and a total, as `evaluate --clips` prints them."""
    header = ("| clip | people (truth / found / extra) | called masked, bare | unknown | with_mask on bare or no "
              "face | bare on masked | mask on/off on time, spurious |")
    lines = [header, "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in report["clips"]:
        people = r["people"]
        truth = "?" if people["truth"] is None else people["truth"]
        extra = "" if people["extra"] is None else f" / {people['extra']}"
        events = r["events"]
        spurious = "-" if events["spurious"] is None else events["spurious"]
        lines.append(f"| {r['video']} | {truth} / {people['found']}{extra} | {r['people_called_masked_wrongly']}, "
                     f"{r['people_called_bare_wrongly']} | {r['people_unknown']} | "
                     f"{_share(r['with_mask_on_bare_or_no_face'])} | {_share(r['bare_on_masked_faces'])} | "
                     f"{events['on_time']}/{events['expected']}, {spurious} |")
    t = report["total"]
    lines.append(f"| **all {t['clips']}** | {t['people']['truth']} / {t['people']['found']} / {t['people']['extra']} "
                 f"({t['people']['matched']} matched) | "
                 f"**{t['people_called_masked_wrongly']}**, {t['people_called_bare_wrongly']} | | "
                 f"**{_share(t['with_mask_on_bare_or_no_face'])}** | {_share(t['bare_on_masked_faces'])} | "
                 f"{t['events']['on_time']}/{t['events']['expected']}, {t['events']['spurious']} |")
    sizes = t["with_mask_on_bare_or_no_face"]["by_size"]
    if sizes:
        lines.append("with_mask on bare or no face, by face size: " + ", ".join(
            f"{band} {_share(counts)}" for band, counts in sizes.items()))
    return "\n".join(lines)


def evaluate_clips(truths: Sequence[ClipTruth], pipeline, detect_every: int | None = None) -> dict:
    """Run each truth's video as `maskwatch detect` runs a file (persons, states, events) with `pipeline`
    (a `MaskDetector`), and score it."""

    from maskwatch.video.track import track

    results = []
    for truth in progress(truths, desc="Clips", unit="clip"):
        faces, events = [], []
        for step in track(truth.video, detect_every=detect_every, pipeline=pipeline):
            faces += [SeenFace(step.frame.index, f.person, f.state, f.side) for f in step.faces]
            events += [SeenEvent(e.kind, e.person, e.frame, e.state) for e in step.events]
        results.append(score_clip(truth, faces, events))
    return {"clips": results, "total": total(results)}

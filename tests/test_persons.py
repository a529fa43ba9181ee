"""Persons and events on scripted clips (tests/clipmaker.py): real face photos that walk, swap a mask on and
cross each other over a still background, run through `maskwatch detect --json --events` as a user runs it.

The truth of every frame is known (who is where, with or without a mask), so these tests check what a user
sees: one stable id per person, states that follow the truth after the hysteresis, exactly the events that
happened (and no spurious mask_off), and the same events in the JSON Lines and in the event store.
"""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import cv2
import pytest

from maskwatch.commands import main
from maskwatch.vision.presets import PRESETS
from tests.clipmaker import Clip, iou, make_clips
from tests.conftest import SHARED, needs_shared

pytestmark = needs_shared

SCRIPTS = ("walk", "mask_on", "crossing", "empty")
CONFIRM = 2  # a new face may have no person id on its first frames in view (track not confirmed yet)
SETTLE = 5  # frames after a person comes into view (or changes masks) before its state must be the truth
STATE_AGREEMENT = 0.95
STATE_CHANGES = ("mask_off", "mask_on")
JPEG_MAGIC = b"\xff\xd8\xff"


@dataclass
class Run:
    """One `maskwatch detect` run over a clip: its JSON Lines, and the events `maskwatch events` lists."""

    clip: Clip
    every: int  # --detect-every
    records: list[dict]
    db: Path

    @cached_property
    def stored(self) -> list[dict]:
        """The events that `maskwatch events DB --json` lists."""
        listing = io.StringIO()
        with redirect_stdout(listing):
            assert main(["-q", "events", str(self.db), "--json"]) == 0
        return [json.loads(line) for line in listing.getvalue().splitlines()]

    @property
    def events(self) -> list[dict]:
        """The events of the JSON Lines, in order."""
        return [event for record in self.records for event in record["events"]]

    def ids(self) -> set[int]:
        return {face["person"] for record in self.records for face in record["faces"] if face["person"] is not None}

    def matched(self) -> dict[str, dict[int, dict]]:
        """For each scripted person, its face in each frame where one overlaps its true box (IoU >= 0.5)."""
        out: dict[str, dict[int, dict]] = {key: {} for key in self.clip.people()}
        for i, (record, truths) in enumerate(zip(self.records, self.clip.frames, strict=True)):
            free = list(record["faces"])
            for truth in truths:
                best = max(free, key=lambda face, box=truth.box: iou(face["box"], box), default=None)
                if best is not None and iou(best["box"], truth.box) >= 0.5:
                    out[truth.key][i] = best
                    free.remove(best)
        return out

    def person_of(self, key: str) -> int:
        """The id that the scripted person got (its most common non-null id)."""
        ids = [face["person"] for face in self.matched()[key].values() if face["person"] is not None]
        assert ids, f"{self.clip.name}: {key} never got a person id"
        return max(set(ids), key=ids.count)


@pytest.fixture(scope="session")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Clip]:
    """The scripted clips, made once per test session."""
    return make_clips(SHARED / "mask-classify", tmp_path_factory.mktemp("clips"))


def _detect(clip: Clip, out: Path, *options: str) -> Run:
    db = out / "events.db"
    code = main(["-q", "detect", str(clip.path), "--json", str(out / "faces.jsonl"), "--events", str(db), *options])
    assert code == 0
    records = [json.loads(line) for line in (out / "faces.jsonl").read_text().splitlines()]
    every = (int(options[options.index("--detect-every") + 1]) if "--detect-every" in options
             else PRESETS["accurate"].detect_every)  # a video file's default
    return Run(clip, every, records, db)


@pytest.fixture(scope="module")
def runner(clips: dict[str, Clip], tmp_path_factory: pytest.TempPathFactory):
    """`runner(script, *options)`: the run of `detect` on that clip with these options, made once per module
    (a run that failed fails the other tests that need it at once, without running again)."""
    done: dict[tuple[str, ...], Run | str] = {}

    def run(script: str, *options: str) -> Run:
        key = (script, *options)
        if key not in done:
            try:
                done[key] = _detect(clips[script], tmp_path_factory.mktemp(script), *options)
            except (Exception, SystemExit) as error:
                done[key] = f"detect {' '.join(key)} failed: {error!r}"
                raise
        if isinstance(done[key], str):
            pytest.fail(done[key])
        return done[key]

    return run


# The runs that the tests share: every script with defaults, and the crossing with --detect-every 3.
RUNS = [pytest.param(script, (), id=script) for script in SCRIPTS] + [
    pytest.param("crossing", ("--detect-every", "3"), id="crossing-every3")]
MOVING_RUNS = [p for p in RUNS if p.values[0] != "empty"]


@pytest.mark.parametrize(("script", "options"), RUNS)
def test_one_record_per_frame_and_no_face_without_a_person(runner, script, options):
    run = runner(script, *options)
    assert [r["frame"] for r in run.records] == list(range(len(run.clip.frames)))
    assert all(r["source"] == str(run.clip.path) for r in run.records)
    matched = run.matched()
    taken = {(i, id(face)) for faces in matched.values() for i, face in faces.items()}
    # Between detections a person who just left is carried on for at most every - 1 frames.
    last_seen = max((frames[-1] for key in run.clip.people() if (frames := run.clip.in_view(key))), default=-1)
    phantoms = [(i, face["box"]) for i, record in enumerate(run.records) for face in record["faces"]
                if (i, id(face)) not in taken and not last_seen < i < last_seen + run.every]
    assert phantoms == [], "faces where no scripted person is"


@pytest.mark.parametrize(("script", "options"), MOVING_RUNS)
def test_each_person_keeps_one_id_and_persons_get_different_ids(runner, script, options):
    run = runner(script, *options)
    grace = CONFIRM * run.every  # frames of a new person that may lack a face or an id
    matched = run.matched()
    chosen = {}
    for key in run.clip.people():
        frames = run.clip.in_view(key)
        settled = frames[grace:]
        missing = [i for i in settled if i not in matched[key]]
        assert len(missing) <= 0.05 * len(settled), f"{key}: no face at frames {missing}"
        ids = {matched[key][i]["person"] for i in frames if i in matched[key]} - {None}
        assert len(ids) == 1, f"{key} had ids {ids}"
        unconfirmed = [i for i in settled if i in matched[key] and matched[key][i]["person"] is None]
        assert unconfirmed == [], f"{key}: no person id at frames {unconfirmed}"
        chosen[key] = ids.pop()
    assert len(set(chosen.values())) == len(chosen), f"scripted persons share ids: {chosen}"


@pytest.mark.parametrize(("script", "options"), RUNS)
def test_as_many_persons_as_scripted(runner, script, options):
    run = runner(script, *options)
    assert len(run.ids()) == run.clip.persons
    appeared = [e["person"] for e in run.events if e["kind"] == "person_appeared"]
    assert sorted(appeared) == sorted(run.ids())


def test_an_empty_clip_has_no_face_no_person_no_event(runner):
    run = runner("empty")
    assert all(r["faces"] == [] and r["events"] == [] for r in run.records)
    assert run.stored == []
    assert not run.db.with_suffix(".snapshots").exists() or not any(run.db.with_suffix(".snapshots").iterdir())


def _kinds(run: Run, person: int) -> list[str]:
    return [e["kind"] for e in run.events if e["person"] == person]


@pytest.mark.parametrize(("script", "options"), MOVING_RUNS)
def test_events_of_each_person(runner, script, options):
    """One person_appeared with the first true state, soon after the person came into view; one person_left
    last, dated at the last frame they were seen; mask_on exactly where the script swaps the crop; nothing else."""
    run = runner(script, *options)
    clip, late = run.clip, SETTLE + run.every
    for key in clip.people():
        person, frames = run.person_of(key), clip.in_view(key)
        switch = clip.switches.get(key)
        expected = ["person_appeared", "mask_on", "person_left"] if switch is not None else [
            "person_appeared", "person_left"]
        assert _kinds(run, person) == expected, key
        events = {e["kind"]: e for e in run.events if e["person"] == person}
        appeared, left = events["person_appeared"], events["person_left"]
        assert frames[0] <= appeared["frame"] <= frames[0] + late
        assert appeared["state"] == clip.truth(key, frames[0]).state
        assert abs(left["frame"] - frames[-1]) <= run.every
        assert left["state"] == clip.label(key)
        if switch is not None:
            change = events["mask_on"]
            assert switch <= change["frame"] <= switch + late
            assert (change["previous_state"], change["state"]) == ("without_mask", "with_mask")
    changes = [(e["kind"], e["person"], e["frame"]) for e in run.events if e["kind"] in STATE_CHANGES]
    assert len(changes) == len(clip.switches), f"state changes: {changes}"


@pytest.mark.parametrize(("script", "options"), MOVING_RUNS)
def test_events_come_at_their_frame_with_the_state_shown(runner, script, options):
    """An event is in the record of its frame (person_left: of its frame or later, once the person is known to
    have gone), and the person's face in that record shows the event's state."""
    run = runner(script, *options)
    for i, record in enumerate(run.records):
        for event in record["events"]:
            if event["kind"] == "person_left":
                assert event["frame"] <= i
                continue
            assert event["frame"] == i
            [face] = [f for f in record["faces"] if f["person"] == event["person"]]
            assert face["state"] == event["state"]


@pytest.mark.parametrize(("script", "options"), MOVING_RUNS)
def test_person_left_counts_frames_and_masked_share(runner, script, options):
    run = runner(script, *options)
    for key in run.clip.people():
        frames = run.clip.in_view(key)
        [left] = [e for e in run.events if e["kind"] == "person_left" and e["person"] == run.person_of(key)]
        assert len(frames) - CONFIRM * run.every <= left["frames_seen"] <= len(frames)
        masked = sum(run.clip.truth(key, i).state == "with_mask" for i in frames) / len(frames)
        assert left["masked_share"] == pytest.approx(masked, abs=0.1), key


@pytest.mark.parametrize(("script", "options"), MOVING_RUNS)
def test_states_follow_the_truth_once_settled(runner, script, options):
    run = runner(script, *options)
    matched = run.matched()
    for key in run.clip.people():
        frames = run.clip.in_view(key)
        settling = set(frames[:SETTLE + run.every])
        if key in run.clip.switches:
            settling |= set(range(run.clip.switches[key], run.clip.switches[key] + SETTLE + run.every))
        judged = [i for i in frames if i not in settling]
        right = [i for i in judged if i in matched[key] and matched[key][i]["state"] == run.clip.truth(key, i).state]
        assert len(right) >= STATE_AGREEMENT * len(judged), (
            f"{key}: state wrong or missing at frames {sorted(set(judged) - set(right))}")


def _summary(event: dict) -> tuple:
    return tuple(event.get(k) for k in ("id", "kind", "person", "source", "frame", "state", "previous_state",
                                        "frames_seen", "masked_share", "snapshot"))


@pytest.mark.parametrize(("script", "options"), RUNS)
def test_the_store_holds_the_events_of_the_json_lines(runner, script, options):
    run = runner(script, *options)
    assert [_summary(e) for e in run.stored] == [_summary(e) for e in run.events]
    ids = [e["id"] for e in run.stored]
    assert all(isinstance(i, int) for i in ids) and ids == sorted(set(ids))
    for event in run.stored:
        snapshot = Path(event["snapshot"])
        assert snapshot.parent == run.db.with_suffix(".snapshots")
        assert snapshot.read_bytes()[:3] == JPEG_MAGIC


# The privacy runs use the fast preset (a second each instead of ten): only the snapshots are checked there.
def _has_events(run: Run) -> bool:
    return {"person_appeared", "person_left"} <= {e["kind"] for e in run.events}


def test_no_snapshots(runner):
    run = runner("walk", "--no-snapshots", "--preset", "fast")
    assert _has_events(run)
    assert all(e["snapshot"] is None for e in run.events + run.stored)
    folder = run.db.with_suffix(".snapshots")
    assert not folder.exists() or not any(folder.iterdir())


def _faces_in(path: str) -> int:
    from maskwatch.vision.pipeline import MaskDetector

    image = cv2.cvtColor(cv2.imread(path), cv2.COLOR_BGR2RGB)
    return len(MaskDetector("accurate").detector.detect(image))


def test_blurred_snapshots_exist_and_show_no_face(runner):
    run = runner("walk", "--blur-snapshots", "--preset", "fast")
    sharp = runner("walk")
    assert _has_events(run)
    assert run.stored and all(Path(e["snapshot"]).read_bytes()[:3] == JPEG_MAGIC for e in run.stored)
    assert _faces_in(sharp.stored[0]["snapshot"]) == 1
    assert all(_faces_in(e["snapshot"]) == 0 for e in run.stored)

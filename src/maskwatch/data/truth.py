"""Truth files: what a video shows, person by person and frame by frame, as a few lines of TOML.

Written from watching a clip once (docs/evaluate-clips.md): who is in view over which frames and in what
state; "nobody is masked" is one line. `evaluate --clips` scores a run against it, and `mine` takes the
things a detector finds where the truth says no face shows as examples of what is not a face.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

from maskwatch.core.classes import INCORRECT, NON_COMPLIANT, WITH_MASK, WITHOUT_MASK
from maskwatch.core.errors import InvalidInput

UNCLEAR = "unclear"  # the truth cannot say (a mask being put on, a hand over the face): never scored
HIDDEN = "hidden"  # in view but the face is not (seen from behind, from above): there is no verdict to give
TRUTH_STATES = (WITH_MASK, WITHOUT_MASK, INCORRECT, UNCLEAR, HIDDEN)
TRUTH_SUFFIX = ".truth.toml"
DEFAULT_TOLERANCE = 15  # frames: half a second at 30 fps

# What a frame shows, as far as the truth can say of everyone in view
BARE, MASKED, NOBODY, FACELESS = "bare", "masked", "nobody", "faceless"


class TruthError(InvalidInput):
    """A truth file that cannot be used; the message is one line naming the file."""


@dataclass(frozen=True)
class Segment:
    first: int
    last: int
    state: str


@dataclass(frozen=True)
class TruthPerson:
    name: str
    first: int
    last: int
    segments: tuple[Segment, ...]

    def state(self, frame: int) -> str:
        """The person's state at a frame they are in view (frames no segment covers are unclear)."""
        return next((s.state for s in self.segments if s.first <= frame <= s.last), UNCLEAR)

    def near_change(self, frame: int, tolerance: int) -> bool:
        """Whether `frame` follows a change of state by at most `tolerance` frames (a person's state follows
        their face a few frames late; after an unclear stretch it may say anything)."""
        return any(a.state != b.state and a.last < frame <= b.first + tolerance
                   for a, b in pairwise(self.segments))

    @property
    def has_face(self) -> bool:
        return any(s.state != HIDDEN for s in self.segments)


@dataclass(frozen=True)
class ClipTruth:
    path: Path  # the truth file
    video: Path
    persons: tuple[TruthPerson, ...]
    nobody_masked: bool
    people: int | None  # how many people a correct system reports; None: not known (a crowd)
    tolerance: int
    note: str = ""
    covers: tuple[int, int] | None = None  # the frames the truth speaks of (None: all); the rest is not scored

    def shows(self, frame: int) -> str | None:
        """BARE, MASKED, NOBODY or FACELESS where the truth says the same of everyone in view at `frame`,
        away from any state change; None where it cannot say."""
        if self.covers and not self.covers[0] <= frame <= self.covers[1]:
            return None
        if not self.persons:
            return BARE if self.nobody_masked else None
        in_view = [p for p in self.persons if p.first <= frame <= p.last]
        if any(p.first - self.tolerance <= frame <= p.last + self.tolerance for p in self.persons
               if p not in in_view):
            return None  # a person coming or going: the notes' frames are approximate
        if not in_view:
            return NOBODY
        if any(p.near_change(frame, self.tolerance) for p in in_view):
            return None
        kinds = {self._kind(p.state(frame)) for p in in_view}
        return kinds.pop() if len(kinds) == 1 else None

    def no_face(self, frame: int) -> bool:
        """Whether no face shows at `frame`: everyone in view is seen only from behind, or no one is in view
        (and no one comes or goes within `tolerance` frames): whatever a detector finds there is not a face."""
        if not self.persons or (self.covers and not self.covers[0] <= frame <= self.covers[1]):
            return False
        in_view = [p for p in self.persons if p.first <= frame <= p.last]
        if in_view:
            return all(p.state(frame) == HIDDEN for p in in_view)
        return not any(p.first - self.tolerance <= frame <= p.last + self.tolerance for p in self.persons)

    def _kind(self, state: str) -> str | None:
        if state == WITH_MASK:
            return MASKED
        if state in NON_COMPLIANT or (state == HIDDEN and self.nobody_masked):
            return BARE
        return FACELESS if state == HIDDEN else None


def _frames(value: object, where: str) -> tuple[int, int]:
    if (not isinstance(value, list) or len(value) != 2 or not all(isinstance(v, int) and v >= 0 for v in value)
            or value[0] > value[1]):
        raise TruthError(f"{where}: frames must be [first, last], whole numbers from 0 with first <= last, "
                         f"got {value!r}")
    return value[0], value[1]


def _state(value: object, where: str) -> str:
    if value not in TRUTH_STATES:
        raise TruthError(f"{where}: state must be one of {', '.join(TRUTH_STATES)}, got {value!r}")
    return str(value)


def _person(table: object, index: int, where: str, nobody_masked: bool) -> TruthPerson:
    where = f"{where}: person {index + 1}"
    if not isinstance(table, dict):
        raise TruthError(f"{where}: expected a [[person]] table")
    unknown = set(table) - {"name", "frames", "state", "states"}
    if unknown:
        raise TruthError(f"{where}: unknown key {sorted(unknown)[0]!r} (name, frames, state, states)")
    first, last = _frames(table.get("frames"), where)
    if ("state" in table) == ("states" in table):
        raise TruthError(f"{where}: give either state = \"...\" (all its frames) or states = [[first, last, "
                         f"\"state\"], ...]")
    if "state" in table:
        segments = [Segment(first, last, _state(table["state"], where))]
    else:
        rows = table["states"]
        if not isinstance(rows, list) or not rows:
            raise TruthError(f"{where}: states must be a list of [first, last, \"state\"]")
        segments = []
        for row in rows:
            if not isinstance(row, list) or len(row) != 3:
                raise TruthError(f"{where}: each of states is [first, last, \"state\"], got {row!r}")
            a, b = _frames(row[:2], where)
            segments.append(Segment(a, b, _state(row[2], where)))
        segments.sort(key=lambda s: s.first)
        for a, b in pairwise(segments):
            if b.first <= a.last:
                raise TruthError(f"{where}: states overlap at frames {b.first}-{a.last}")
        if segments[0].first < first or segments[-1].last > last:
            raise TruthError(f"{where}: states reach outside its frames {first}-{last}")
    if nobody_masked and any(s.state == WITH_MASK for s in segments):
        raise TruthError(f"{where}: with_mask in a clip that says nobody_masked = true")
    return TruthPerson(str(table.get("name", f"person {index + 1}")), first, last, tuple(segments))


def read_truth(path: Path, videos: Path | None = None) -> ClipTruth:
    """A truth file (TOML). `video` names the clip, relative to `videos` (default: the truth file's folder)."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise TruthError(f"{path}: cannot be read ({error.strerror})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise TruthError(f"{path}: not TOML ({error})") from None
    where = str(path)
    unknown = set(data) - {"video", "frames", "nobody_masked", "crowd", "people", "tolerance", "note", "person"}
    if unknown:
        raise TruthError(f"{where}: unknown key {sorted(unknown)[0]!r} (video, frames, nobody_masked, crowd, people, "
                         "tolerance, note, [[person]])")
    covers = _frames(data["frames"], where) if "frames" in data else None
    if not isinstance(data.get("video"), str) or not data["video"]:
        raise TruthError(f"{where}: video = \"FILE\" is missing (the clip this truth is about)")
    nobody_masked = data.get("nobody_masked", False)
    if not isinstance(nobody_masked, bool):
        raise TruthError(f"{where}: nobody_masked must be true or false")
    tolerance = data.get("tolerance", DEFAULT_TOLERANCE)
    if not isinstance(tolerance, int) or tolerance < 0:
        raise TruthError(f"{where}: tolerance must be a whole number of frames, got {tolerance!r}")
    tables = data.get("person", [])
    if not isinstance(tables, list):
        raise TruthError(f"{where}: person must be [[person]] tables")
    persons = tuple(_person(t, i, where, nobody_masked) for i, t in enumerate(tables))
    if not persons and not nobody_masked and "people" not in data and data.get("crowd") is not True:
        raise TruthError(f"{where}: says nothing: give [[person]] tables, nobody_masked = true, people = N, or "
                         "crowd = true (reported, not scored)")
    people = data.get("people", sum(p.has_face for p in persons) if persons else None)
    if people is not None and (not isinstance(people, int) or people < 0):
        raise TruthError(f"{where}: people must be a whole number, got {people!r}")
    video = (Path(videos) if videos is not None else path.parent) / data["video"]
    return ClipTruth(path, video, persons, nobody_masked, people, tolerance, str(data.get("note", "")), covers)


def find_truths(truth: Path, videos: Path) -> list[ClipTruth]:
    """The truth file `truth`, or every `*.truth.toml` in the folder `truth`, each with its video in `videos`;
    every video must be there."""
    truth, videos = Path(truth), Path(videos)
    if not videos.is_dir():
        raise TruthError(f"{videos}: not a folder of videos")
    if truth.is_file():
        truths = [read_truth(truth, videos)]
    elif truth.is_dir():
        truths = [read_truth(p, videos) for p in sorted(truth.glob(f"*{TRUTH_SUFFIX}"))]
        if not truths:
            raise TruthError(f"{truth}: no truth files (*{TRUTH_SUFFIX}); the format: docs/evaluate-clips.md")
    else:
        raise TruthError(f"{truth}: no such truth file or folder")
    missing = [t for t in truths if not t.video.is_file()]
    if missing:
        raise TruthError(f"{missing[0].path}: its video {missing[0].video} is not there")
    return truths

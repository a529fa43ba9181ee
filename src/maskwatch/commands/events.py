"""`maskwatch events`: list, export, summarise and prune the events that a run stored."""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from datetime import datetime, timedelta

from maskwatch.core.classes import INCORRECT
from maskwatch.core.errors import InvalidInput
from maskwatch.core.events import EVENT_KINDS, Event
from maskwatch.store.learning import CORRECTIONS

DESCRIPTION = """\
List the events that `maskwatch detect --events EVENTS.db` stored, oldest first.

kinds:
  person_appeared  a person was confirmed in view, with their first state (with_mask, without_mask
                   or unknown: never judged surely enough)
  mask_off         the person's state changed to a non-compliant one: without_mask, or with a three-class
                   model mask_weared_incorrect (previous_state and state name them)
  mask_on          the person's state changed to with_mask
  alert            the person stayed in a state an alert rule of `maskwatch watch` names
  person_left      the person was not seen for a while (or the video ended), with the frames seen
                   and the share of judged frames with a mask

--summary counts people per hour: the hour of their first event, on the clock where it was recorded.
A person is one person id of one run over one source. Each hour and the total give:
  last_STATE             people by their last state: the state they were in when last seen (their last
                         event, usually person_left)
  compliant_at_last      compliant at last sighting = last state with_mask / people whose last state was
                         judged (with_mask, without_mask, mask_weared_incorrect); unknown people are
                         counted but left out of it
  ever_non_compliant     people who were without_mask or mask_weared_incorrect at any time, even if they
                         put the mask on later
With --json the same as one object: people, people_by_last_state, compliant_at_last_sighting (0 to 1),
people_ever_non_compliant, per hour ("hours") and in "total".

--correct ID --as STATE records a reviewer's correction of an event's verdict (with --person, of every
event of its person): with_mask, without_mask, mask_weared_incorrect, or not_a_face (no judgeable face).
The table, CSV and --summary show corrected verdicts ("corrected": how many); `maskwatch train
--from-store` learns from them.

Snapshots of the faces are JPEGs in EVENTS.snapshots/ beside the file; --retain-days deletes them with
their events, and also the JPEGs there older than N days that no event uses (left by a crash).

Times (--since, --until) are ISO 8601 dates or datetimes: 2024-05-01, 2024-05-01T14:30,
2024-05-01T14:30+02:00; without an offset they are local time. --since is inclusive, --until not.
"""

EXAMPLES = """\
examples:
  maskwatch events out/EVENTS.db                               every event, as a table
  maskwatch events out/EVENTS.db --kind mask_off --since 2024-05-01 --json
  maskwatch events out/EVENTS.db --summary --source cam1       people per hour: last state, compliance
  maskwatch events out/EVENTS.db --retain-days 30 --csv last30.csv   prune, then export
  maskwatch events site.db --correct 42 --as with_mask --person --by alice   the model was wrong on person 42's visit
"""


def _when(text: str) -> datetime:
    """An argparse type: an ISO 8601 date or datetime, local time unless it has an offset."""
    try:
        return datetime.fromisoformat(text).astimezone()
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 date or datetime: {text!r}") from None


def parse_days(text: str) -> float:
    """An argparse type: a positive, finite number of days."""
    try:
        days = float(text)
    except ValueError:
        days = math.nan
    if not 0 < days < math.inf:
        raise argparse.ArgumentTypeError(f"must be a positive number of days, got {text!r}")
    return days


def add_parser(sub) -> argparse.ArgumentParser:
    """Add `events` to the subparsers of the maskwatch command."""
    p = sub.add_parser("events", help="list, summarise, export and prune stored events",
                       description=DESCRIPTION, epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("db", metavar="EVENTS.db", help="the event store")
    p.add_argument("--json", action="store_true", help="JSON Lines, one event per line (with --summary: one object)")
    p.add_argument("--kind", action="append", choices=EVENT_KINDS, metavar="KIND",
                   help=f"only this kind of event, repeatable: {', '.join(EVENT_KINDS)}")
    p.add_argument("--source", help="only events of this source: the input as given to detect, its file name, or "
                   "the camera's name")
    p.add_argument("--since", type=_when, metavar="T", help="only events at or after T")
    p.add_argument("--until", type=_when, metavar="T", help="only events before T")
    p.add_argument("--csv", metavar="FILE", help="write the events as CSV to FILE instead of listing them "
                   "('-' = stdout)")
    p.add_argument("--summary", action="store_true", help="people per hour and in total by last state, compliant at "
                   "last sighting, ever non-compliant (below), instead of the list")
    p.add_argument("--retain-days", type=parse_days, metavar="N", help="first delete events older than N days, and "
                   "their snapshots, from the store")
    p.add_argument("--correct", type=int, metavar="ID", help="correct the verdict of event ID (with --as)")
    p.add_argument("--as", dest="correct_as", choices=CORRECTIONS, metavar="STATE",
                   help=f"what it should have been: {', '.join(CORRECTIONS)}")
    p.add_argument("--person", action="store_true", help="with --correct: every event of that event's person")
    p.add_argument("--by", metavar="NAME", help="with --correct: who corrects (stored with the correction)")
    return p


WALL_CLOCK_FROM = 10**8  # seconds: 1973 as a clock, three years into a video


def video_time(event: Event) -> str | None:
    """Where in its video a file's event happened ("1:02.4"); None for a camera's, whose time is the clock's.
    A file's events carry the seconds into it, a camera's the epoch seconds of the wall clock."""
    if event.time >= WALL_CLOCK_FROM:
        return None
    minutes, seconds = divmod(event.time, 60)
    return f"{int(minutes)}:{seconds:04.1f}"


def _cell(value: object) -> str:
    return "-" if value is None else f"{value:.2f}" if isinstance(value, float) else str(value)


def _table(header: Sequence[str], rows: Sequence[Sequence[object]], numeric: set[int]) -> str:
    """Columns padded to their widest cell; numbers right-aligned."""
    cells = [list(header)] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return "\n".join("  ".join(c.rjust(w) if i in numeric else c.ljust(w) for i, (c, w) in
                               enumerate(zip(row, widths, strict=True))).rstrip() for row in cells)


def _no_such_source(wanted: str, sources: Sequence[str], shown: int = 10) -> str:
    """What to say when --source matches no stored source: the ones there are, the first `shown` of them."""
    if not sources:
        return f"no source matches {wanted!r}: the store has no events"
    more = f" and {len(sources) - shown} more" if len(sources) > shown else ""
    return (f"no source matches {wanted!r} (give a source as stored, or its file name); the store has "
            f"{len(sources)} source(s): {', '.join(map(repr, sources[:shown]))}{more}")


def format_summary(summary: dict) -> str:
    """The per-hour table of `EventStore.summary`, then the totals (a last_mask_weared_incorrect column only
    when someone's last state was so: two-class stores read as they always did)."""
    states = ["with_mask", "without_mask", *([INCORRECT] if summary["total"]["people_by_last_state"][INCORRECT]
                                             else []), "unknown"]
    header = ("hour", "people", *(f"last_{state}" for state in states), "compliant_at_last", "ever_non_compliant")
    rows = [[row.get("hour", "total"), row["people"], *(row["people_by_last_state"][state] for state in states),
             None if row["compliant_at_last_sighting"] is None else f"{100 * row['compliant_at_last_sighting']:.1f}%",
             row["people_ever_non_compliant"]]
            for row in [*summary["hours"], summary["total"]]]
    return _table(header, rows, numeric=set(range(1, len(header))))


def run(args: argparse.Namespace) -> int:
    from maskwatch.core.records import event_record
    from maskwatch.io.atomic import atomic_path
    from maskwatch.store import EventStore, write_csv

    if args.csv == "-" and (args.json or args.summary):
        raise InvalidInput("--csv - writes CSV on stdout: leave out --json and --summary there")
    if (args.correct is None) != (args.correct_as is None):
        raise InvalidInput("--correct ID and --as STATE go together")
    if args.correct is None and (args.person or args.by):
        raise InvalidInput("--person and --by go with --correct")
    writes = args.retain_days is not None or args.correct is not None
    with EventStore.open_existing(args.db, readonly=not writes) as store:
        if args.correct is not None:
            try:
                ids = store.correct(args.correct, args.correct_as, args.by, args.person)
            except KeyError:
                raise InvalidInput(f"no event {args.correct} in {args.db}") from None
            print(f"corrected {len(ids)} event(s) to {args.correct_as}: {', '.join(map(str, ids))}", file=sys.stderr)
        if args.retain_days is not None:
            cutoff = datetime.now().astimezone() - timedelta(days=args.retain_days)
            deleted = store.delete_older_than(cutoff)
            print(f"deleted {deleted.events} event(s) older than {args.retain_days:g} days (before "
                  f"{cutoff.isoformat(timespec='seconds')}) and {deleted.snapshots} snapshot file(s) no kept "
                  "event uses", file=sys.stderr)
        events = store.events_with_run(args.kind, args.source, args.since, args.until)
        if args.source is not None and not events and not store.sources(args.source):
            print(_no_such_source(args.source, store.sources()), file=sys.stderr)
        corrections = store.corrections([event.id for _, event in events])
        summary = store.summarise(events) if args.summary else None
    if args.csv == "-":
        write_csv(sys.stdout, events, corrections)
    elif args.csv:
        with atomic_path(args.csv) as tmp, tmp.open("w", newline="", encoding="utf-8") as file:
            write_csv(file, events, corrections)
        print(f"wrote {len(events)} event(s) to {args.csv}", file=sys.stderr)
    if summary is not None:
        print(json.dumps(summary) if args.json else format_summary(summary))
    elif args.json and not args.csv:
        for run_number, event in events:
            print(json.dumps(event_record(run_number, event)))
    elif not args.csv:
        if not events:
            print("no events", file=sys.stderr)
            return 0
        header = ("id", "wall_time", "video_time", "source", "person", "kind", "state", "corrected", "confidence",
                  "snapshot")
        print(_table(header, [(e.id, e.wall_time, video_time(e), e.source, e.person, e.kind, e.state,
                               corrections.get(e.id, {}).get("state"), e.confidence, e.snapshot)
                              for _, e in events], numeric={0, 2, 4, 8}))
    return 0

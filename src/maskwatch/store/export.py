"""Events as CSV, for `maskwatch events --csv` and the dashboard's download."""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from typing import TextIO

from maskwatch.core.events import Event
from maskwatch.core.records import event_record

CSV_COLUMNS = ("id", "run", "kind", "person", "source", "frame", "time", "wall_time", "state", "x1", "y1", "x2",
               "y2", "confidence", "previous_state", "frames_seen", "masked_share", "snapshot", "duration_s", "zones",
               "clip", "corrected")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # what makes a spreadsheet read a cell as a formula


def _csv_cell(value: object) -> object:
    """Empty for None; text a spreadsheet would run as a formula (a source named `=HYPERLINK(...).mp4`)
    gets a leading single quote, as OWASP advises; numbers stay numbers."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return f"'{value}"
    return value


def write_csv(file: TextIO, events: Sequence[tuple[int, Event]], corrections: Mapping[int, dict] | None = None) -> None:
    """The events with the columns CSV_COLUMNS, numbers rounded as `--json` rounds them; `corrected`: what a
    reviewer corrected the verdict to (`EventStore.corrections`), if anything."""
    writer = csv.writer(file)
    writer.writerow(CSV_COLUMNS)
    for run, event in events:
        record = event_record(run, event)
        record.update(zip(("x1", "y1", "x2", "y2"), record.pop("box"), strict=True))
        record["zones"] = None if record["zones"] is None else " ".join(record["zones"])
        record["corrected"] = (corrections or {}).get(event.id, {}).get("state")
        writer.writerow([_csv_cell(record[column]) for column in CSV_COLUMNS])
